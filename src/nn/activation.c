#include "nn/activation.h"

#include "nn/parallel.h"

void leaky_relu_forward(float *x, long n) {
  NN_PARALLEL_FOR(n, 65536, long i = 0; i < n; i++, x[i] = leaky_relu(x[i]););
}

void leaky_relu_backward(float *d, const float *y, long n) {
  NN_PARALLEL_FOR(n, 65536, long i = 0; i < n; i++, d[i] = leaky_relu_grad(d[i], y[i]););
}
