/* BF16 matmuls with FP32 accumulation (AVX512_BF16 vdpbf16ps: 32 multiply-
 * adds per instruction, twice an FP32 FMA's 16). Operands are rounded to
 * BF16 (round to nearest even) and packed in pairs along the summed
 * dimension k: a uint32 holds (v[k], v[k+1]) as two BF16 halves, low half
 * first; an odd k count is padded with a zero. Products of BF16 numbers are
 * exact in FP32, so the only error is the rounding of the operands (2^-9
 * relative) and FP32 summation. Runtime-dispatched: without AVX512_BF16
 * every function returns false and the caller stays in FP32. */
#ifndef GRANITE_NN_GEMM_BF16_H
#define GRANITE_NN_GEMM_BF16_H

#include <stdbool.h>
#include <stdint.h>

#include "nn/row_epilogue.h"

/* The CPU (and OS) can run the BF16 kernels. */
bool gemm_bf16_supported(void);

/* FP32 -> BF16 bits, round to nearest even (NaN stays NaN). */
static inline uint16_t bf16_round(float f) {
  union {
    float f;
    uint32_t u;
  } v = {f};
  if ((v.u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((v.u >> 16) | 0x40);
  return (uint16_t)((v.u + 0x7fffu + ((v.u >> 16) & 1u)) >> 16);
}
static inline float bf16_to_float(uint16_t h) {
  union {
    uint32_t u;
    float f;
  } v = {(uint32_t)h << 16};
  return v.f;
}

/* Pairs of W[in×out] along in: packed[p*out + j] = (W[2p][j], W[2p+1][j]),
 * (in+1)/2 rows of out. For y = x·W. */
void bf16_pack_pairs(uint32_t *packed, const float *w, int in, int out);
/* Pairs of Wᵀ for W[in×out] along out: packed[p*in + i] = (W[i][2p],
 * W[i][2p+1]), (out+1)/2 rows of in. For dx = dy·Wᵀ. */
void bf16_pack_pairs_transposed(uint32_t *packed, const float *w, int in, int out);

/* y[rows×out] = x[rows×in]·W + beta·y with W packed by bf16_pack_pairs,
 * then ep (if not NULL) on every row, chunk by chunk as they are computed;
 * out a multiple of 16, beta 0 or 1. false (y untouched) when it does not
 * apply. */
bool gemm_bf16_nn(float *y, int ldy, const float *x, int ldx, const uint32_t *w_packed, int rows, int in,
                  int out, float beta, const RowEpilogue *ep);
/* dW[in×out] += xᵀ·dy, x[rows×in] (row stride ldx), dy[rows×out] dense;
 * out a multiple of 16. */
bool gemm_bf16_tn_acc(float *dw, const float *x, int ldx, const float *dy, int rows, int in, int out);

#endif
