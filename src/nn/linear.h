/* Dense layers y = x·W + b over all rows of a batch (spec §4.1: W is [in, out]).
 * Every matmul is one cblas_sgemm; bias and activation are fused into one pass
 * after it. Backward functions accumulate into their gradient buffers. */
#ifndef GRANITE_NN_LINEAR_H
#define GRANITE_NN_LINEAR_H

#include <stdbool.h>

/* y[rows×out] = x[rows×in]·W[in×out] + beta·y. ldx/ldy are row strides. */
void matmul_forward(float *y, int ldy, const float *x, int ldx, const float *w, int rows, int in,
                    int out, float beta);
/* dx[rows×in] = dy[rows×out]·Wᵀ + beta·dx (beta 1 accumulates). */
void matmul_backward_input(float *dx, int lddx, const float *dy, const float *w, int rows, int in,
                           int out, float beta);
/* dW[in×out] += xᵀ·dy. */
void matmul_backward_weight(float *dw, const float *x, int ldx, const float *dy, int rows, int in,
                            int out);

/* y += b per row, then leaky ReLU (spec §4.1, alpha 0.1) if leaky. b may be NULL. */
void bias_act_forward(float *y, const float *b, int rows, int dim, bool leaky);
/* db[dim] += column sums of dy[rows×dim]. */
void bias_backward(float *db, const float *dy, int rows, int dim);
/* Fused backward of y = leaky(x·W + b) up to the pre-activation: dy is
 * turned in place into d(pre-activation) using the stored output y, and its
 * column sums are added to db. One pass instead of two. */
void leaky_bias_backward(float *dy, const float *y, float *db, int rows, int dim);

#endif
