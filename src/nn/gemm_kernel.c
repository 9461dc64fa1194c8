#include "nn/small_gemm.h"

#include <stddef.h>

#if defined(__x86_64__)
#include <immintrin.h>

/* One tile: R rows (1-4) x NV*16 columns (NV 1-4). Inlined with constant R
 * and NV, so the accumulators live in registers. */
__attribute__((target("avx512f"), always_inline)) static inline void tile(float *y, int ldy, const float *x,
                                                                            int ldx, const float *w, int in,
                                                                            int out, float beta, const int R,
                                                                            const int NV) {
  __m512 acc[4][4];
  _Pragma("GCC unroll 4")
  for (int i = 0; i < R; i++)
    _Pragma("GCC unroll 4")
    for (int j = 0; j < NV; j++) acc[i][j] = _mm512_setzero_ps();
  for (int k = 0; k < in; k++) {
    const float *wk = w + (size_t)k * out;
    __m512 wv[4];
    _Pragma("GCC unroll 4")
    for (int j = 0; j < NV; j++) wv[j] = _mm512_loadu_ps(wk + 16 * j);
    _Pragma("GCC unroll 4")
    for (int i = 0; i < R; i++) {
      __m512 xb = _mm512_set1_ps(x[(size_t)i * ldx + k]);
      _Pragma("GCC unroll 4")
      for (int j = 0; j < NV; j++) acc[i][j] = _mm512_fmadd_ps(xb, wv[j], acc[i][j]);
    }
  }
  _Pragma("GCC unroll 4")
  for (int i = 0; i < R; i++)
    _Pragma("GCC unroll 4")
    for (int j = 0; j < NV; j++) {
      float *p = y + (size_t)i * ldy + 16 * j;
      __m512 v = beta != 0.0f ? _mm512_add_ps(acc[i][j], _mm512_loadu_ps(p)) : acc[i][j];
      _mm512_storeu_ps(p, v);
    }
}

#define TILE_CASE(R, NV) \
  case (R)*8 + (NV): tile(y, ldy, x, ldx, w, in, out, beta, R, NV); break;

__attribute__((target("avx512f"))) static void tile_any(float *y, int ldy, const float *x, int ldx,
                                                         const float *w, int in, int out, float beta, int r,
                                                         int nv) {
  switch (r * 8 + nv) {
    TILE_CASE(1, 1) TILE_CASE(1, 2) TILE_CASE(1, 3) TILE_CASE(1, 4)
    TILE_CASE(2, 1) TILE_CASE(2, 2) TILE_CASE(2, 3) TILE_CASE(2, 4)
    TILE_CASE(3, 1) TILE_CASE(3, 2) TILE_CASE(3, 3) TILE_CASE(3, 4)
    TILE_CASE(4, 1) TILE_CASE(4, 2) TILE_CASE(4, 3) TILE_CASE(4, 4)
  default: break;
  }
}

bool small_gemm(float *y, int ldy, const float *x, int ldx, const float *w, int rows, int in, int out,
                float beta) {
  static int have_avx512 = -1;
  if (have_avx512 < 0) have_avx512 = __builtin_cpu_supports("avx512f") ? 1 : 0;
  if (!have_avx512 || rows > SMALL_GEMM_MAX_ROWS || rows <= 0 || out <= 0 || out % 16 != 0 ||
      (beta != 0.0f && beta != 1.0f))
    return false;
  /* columns outer: one 64-wide slice of W (in x 64 floats) stays in L1/L2
   * while every row block passes over it */
  for (int c = 0; c < out; c += 64) {
    int nv = (out - c) >= 64 ? 4 : (out - c) / 16;
    for (int r = 0; r < rows; r += 4) {
      int rr = rows - r >= 4 ? 4 : rows - r;
      tile_any(y + (size_t)r * ldy + c, ldy, x + (size_t)r * ldx, ldx, w + c, in, out, beta, rr, nv);
    }
  }
  return true;
}

#else
bool small_gemm(float *y, int ldy, const float *x, int ldx, const float *w, int rows, int in, int out,
                float beta) {
  (void)y, (void)ldy, (void)x, (void)ldx, (void)w, (void)rows, (void)in, (void)out, (void)beta;
  return false;
}
#endif
