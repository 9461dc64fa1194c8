/* Dense layers y = x·W + b over all rows of a batch (spec §4.1: W is [in, out]).
 * Every matmul is one call of our own kernel (BLAS for shapes it does not
 * take); bias and activation are one epilogue (matmul_forward_then): a pass
 * after the matmul in FP32, run on each chunk of rows inside it in BF16.
 * Backward functions accumulate into their gradient buffers. */
#ifndef GRANITE_NN_LINEAR_H
#define GRANITE_NN_LINEAR_H

#include <stdbool.h>
#include <stdint.h>

#include "nn/row_epilogue.h"

/* Precision of the matmuls this thread runs next (a model pass sets it
 * before it starts): bf16 = operands rounded to BF16, FP32 accumulation
 * (nn/gemm_bf16.h), where the shapes allow it (the output width a multiple
 * of 16) and the CPU has AVX512_BF16; FP32 otherwise. The BF16 copies of
 * the weights are kept per thread, keyed by pointer and shape, and made
 * again when weights_generation differs from the one they were made under:
 * a pass takes a new generation (linear_new_weights_generation) whenever
 * the weights may have changed. */
void linear_set_precision(bool bf16, uint64_t weights_generation);
/* A generation number no pass has used yet (process-wide). */
uint64_t linear_new_weights_generation(void);

/* y[rows×out] = x[rows×in]·W[in×out] + beta·y. ldx/ldy are row strides. */
void matmul_forward(float *y, int ldy, const float *x, int ldx, const float *w, int rows, int in,
                    int out, float beta);
/* y[rows×out] = x[rows×in]·W[in×out], then ep on every row of y: in BF16 on
 * each chunk of rows as soon as it is computed (still in cache), in FP32
 * after the whole matmul. */
void matmul_forward_then(float *y, int ldy, const float *x, int ldx, const float *w, int rows, int in, int out,
                         const RowEpilogue *ep);
/* dx[rows×in] = dy[rows×out]·Wᵀ + beta·dx (beta 1 accumulates). */
void matmul_backward_input(float *dx, int lddx, const float *dy, const float *w, int rows, int in,
                           int out, float beta);
/* dW[in×out] += xᵀ·dy. */
void matmul_backward_weight(float *dw, const float *x, int ldx, const float *dy, int rows, int in,
                            int out);

/* ep on rows [0, rows) of y, shared out to threads. */
void row_epilogue_run(const RowEpilogue *ep, float *y, int ldy, int rows, int cols);

/* A dense layer's epilogue (bias_act_rows, a RowEpilogueFn): y += b per row
 * (b may be NULL), then leaky ReLU (spec §4.1, alpha 0.1) if leaky. */
typedef struct {
  const float *b;
  bool leaky;
} BiasAct;
void bias_act_rows(const void *bias_act, float *y, int ldy, int cols, int r0, int r1);
/* db[dim] += column sums of dy[rows×dim]. */
void bias_backward(float *db, const float *dy, int rows, int dim);
/* Fused backward of y = leaky(x·W + b) up to the pre-activation: dy is
 * turned in place into d(pre-activation) using the stored output y, and its
 * column sums are added to db. One pass instead of two. */
void leaky_bias_backward(float *dy, const float *y, float *db, int rows, int dim);

#endif
