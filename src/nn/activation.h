/* Leaky ReLU, f(x) = x for x > 0 and 0.1·x otherwise (spec §4.1). */
#ifndef GRANITE_NN_ACTIVATION_H
#define GRANITE_NN_ACTIVATION_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define LEAKY_RELU_ALPHA 0.1f

/* keep ? a : b as a select of bits. GCC keeps the plain conditional a
 * branch (it will not compute the multiply on both sides, for its FP
 * exceptions), which left every leaky ReLU loop scalar with a mispredicted
 * branch per value; this form it vectorizes (vcmpps, vpblendvb). Same bits. */
static inline float select_bits(bool keep, float a, float b) {
  uint32_t ua, ub, mask = -(uint32_t)keep;
  memcpy(&ua, &a, sizeof ua);
  memcpy(&ub, &b, sizeof ub);
  ua = (ua & mask) | (ub & ~mask);
  memcpy(&a, &ua, sizeof a);
  return a;
}

/* x > 0 ? x : 0.1·x */
static inline float leaky_relu(float x) { return select_bits(x > 0.0f, x, LEAKY_RELU_ALPHA * x); }

/* The gradient through it, y > 0 ? d : 0.1·d (y is the stored output;
 * y > 0 iff x > 0). */
static inline float leaky_relu_grad(float d, float y) { return select_bits(y > 0.0f, d, LEAKY_RELU_ALPHA * d); }

/* In place y = f(x) over n values. */
void leaky_relu_forward(float *x, long n);
/* d[i] *= f'(.) where y = f(x) is the stored output (y > 0 iff x > 0). */
void leaky_relu_backward(float *d, const float *y, long n);

#endif
