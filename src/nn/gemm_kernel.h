/* Our own matmuls for the shapes of this model: y = x·W (+ y). Register
 * tiles (W kept in registers, x broadcast; nn/gemm_tiles.h) at the widest
 * vector width the CPU has: AVX-512 (6 rows x 64 columns) or AVX2+FMA (6
 * rows x 16 columns). On a Zen 5 the AVX-512 tiles run at ~90% of a core's
 * FP32 peak on 20-3000-row inputs, where OpenBLAS 0.3.21 reaches ~45% with
 * its AVX2 kernels (what it uses on a CPU it does not know) and ~85% with
 * its AVX-512 ones; they need no packing, which dominates a single block's
 * tiny matrices; and a row's result does not depend on the other rows of
 * the call (OpenBLAS's does). */
#ifndef GRANITE_NN_GEMM_KERNEL_H
#define GRANITE_NN_GEMM_KERNEL_H

#include <stdbool.h>

/* "AVX-512" or "AVX2+FMA": the kernels the functions below run; NULL when
 * they all return false (CPU without AVX2 and FMA, or GRANITE_NO_AVX2=1).
 * GRANITE_NO_AVX512=1 chooses AVX2+FMA on an AVX-512 CPU. */
const char *gemm_kernel_isa(void);

/* y[rows×out] = x[rows×in]·W[in×out] + beta·y (row-major; row strides
 * ldy/ldx; W dense). Returns false without touching y when it does not
 * apply (no kernel for this CPU, beta not 0/1, an empty shape): the caller
 * then uses BLAS. Each row of y is computed alone: the same bits whatever
 * the other rows, their number and the thread count. */
bool gemm_kernel_nn(float *y, int ldy, const float *x, int ldx, const float *w, int rows, int in, int out,
                    float beta);

/* y[rows×out] = x[rows×in]·Wᵀ + beta·y with W stored [out×in] (the input
 * gradient of a dense layer); same conditions. */
bool gemm_kernel_nt(float *y, int ldy, const float *x, int ldx, const float *w, int rows, int in, int out,
                    float beta);

/* dW[in×out] += xᵀ·dy, x[rows×in] (row stride ldx), dy[rows×out] dense
 * (the weight gradient of a dense layer). */
bool gemm_kernel_tn_acc(float *dw, const float *x, int ldx, const float *dy, int rows, int in, int out);

#endif
