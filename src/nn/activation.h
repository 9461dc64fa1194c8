/* Leaky ReLU, f(x) = x for x > 0 and 0.1·x otherwise (spec §4.1). */
#ifndef GRANITE_NN_ACTIVATION_H
#define GRANITE_NN_ACTIVATION_H

#define LEAKY_RELU_ALPHA 0.1f

static inline float leaky_relu(float x) { return x > 0.0f ? x : LEAKY_RELU_ALPHA * x; }

/* In place y = f(x) over n values. */
void leaky_relu_forward(float *x, long n);
/* d[i] *= f'(.) where y = f(x) is the stored output (y > 0 iff x > 0). */
void leaky_relu_backward(float *d, const float *y, long n);

#endif
