/* y = x·W + beta·y for a few rows (a single block's graph: ~20-30 rows), where
 * a BLAS library spends more time packing W than multiplying. AVX-512
 * register-blocked kernel: 4 rows x 64 columns of accumulators, W streamed
 * from cache once per 4 rows. */
#ifndef GRANITE_NN_SMALL_GEMM_H
#define GRANITE_NN_SMALL_GEMM_H

#include <stdbool.h>

/* Rows up to which matmul_forward prefers small_gemm. */
#define SMALL_GEMM_MAX_ROWS 64

/* Computes y[rows×out] = x[rows×in]·W[in×out] + beta·y (row-major, row
 * strides ldy/ldx, W dense) and returns true; returns false without
 * touching y when it does not apply (no AVX-512 at run time, out not a
 * multiple of 16, rows > SMALL_GEMM_MAX_ROWS, beta not 0 or 1). */
bool small_gemm(float *y, int ldy, const float *x, int ldx, const float *w, int rows, int in, int out,
                float beta);

#endif
