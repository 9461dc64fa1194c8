/* Leaky ReLU, f(x) = x for x > 0 and 0.1·x otherwise (spec §4.1). */
#ifndef GRANITE_NN_ACTIVATION_H
#define GRANITE_NN_ACTIVATION_H

#include <stdint.h>
#include <string.h>

#define LEAKY_RELU_ALPHA 0.1f

/* x > 0 ? x : 0.1·x as a select of bits: GCC keeps the plain form a branch
 * (it will not compute the multiply on both sides, for its FP exceptions),
 * which left every leaky ReLU loop scalar with a mispredicted branch per
 * value; this one it vectorizes (vcmpps, vpblendvb). Same bits. */
static inline float leaky_relu(float x) {
  float p = LEAKY_RELU_ALPHA * x;
  uint32_t ux, up, keep = -(uint32_t)(x > 0.0f);
  memcpy(&ux, &x, sizeof ux);
  memcpy(&up, &p, sizeof up);
  ux = (ux & keep) | (up & ~keep);
  memcpy(&x, &ux, sizeof x);
  return x;
}

/* The gradient through it, y > 0 ? d : 0.1·d, as the same select (y is the
 * stored output; y > 0 iff x > 0). */
static inline float leaky_relu_grad(float d, float y) {
  float p = LEAKY_RELU_ALPHA * d;
  uint32_t ud, up, keep = -(uint32_t)(y > 0.0f);
  memcpy(&ud, &d, sizeof ud);
  memcpy(&up, &p, sizeof up);
  ud = (ud & keep) | (up & ~keep);
  memcpy(&d, &ud, sizeof d);
  return d;
}

/* In place y = f(x) over n values. */
void leaky_relu_forward(float *x, long n);
/* d[i] *= f'(.) where y = f(x) is the stored output (y > 0 iff x > 0). */
void leaky_relu_backward(float *d, const float *y, long n);

#endif
