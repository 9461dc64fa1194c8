/* Our own AVX-512 matmul for the shapes of this model: y = x·W (+ y), with
 * W of 128-1024 rows and a multiple of 16 columns. Register tiles of 6 rows
 * x 64 columns (24 accumulators, W kept in registers, x broadcast), rows in
 * chunks that stay in cache and are shared out to OpenMP threads. On this
 * Zen 5 it runs at ~90% of a core's FP32 peak on 20-3000-row inputs, where
 * OpenBLAS 0.3.21 reaches ~45% with its AVX2 kernels (what it uses on a CPU
 * it does not know) and ~85% with its AVX-512 ones, and it needs no packing,
 * which dominates a single block's tiny matrices. */
#ifndef GRANITE_NN_GEMM_KERNEL_H
#define GRANITE_NN_GEMM_KERNEL_H

#include <stdbool.h>

/* y[rows×out] = x[rows×in]·W[in×out] + beta·y (row-major; row strides
 * ldy/ldx; W dense). Returns false without touching y when it does not
 * apply (no AVX-512 at run time, out not a multiple of 16, beta not 0/1):
 * the caller then uses BLAS. */
bool gemm_kernel_nn(float *y, int ldy, const float *x, int ldx, const float *w, int rows, int in, int out,
                    float beta);

/* y[rows×out] = x[rows×in]·Wᵀ + beta·y with W stored [out×in] (the input
 * gradient of a dense layer); same conditions. */
bool gemm_kernel_nt(float *y, int ldy, const float *x, int ldx, const float *w, int rows, int in, int out,
                    float beta);

/* dW[in×out] += xᵀ·dy, x[rows×in] (row stride ldx), dy[rows×out] dense
 * (the weight gradient of a dense layer); out a multiple of 16. */
bool gemm_kernel_tn_acc(float *dw, const float *x, int ldx, const float *dy, int rows, int in, int out);

#endif
