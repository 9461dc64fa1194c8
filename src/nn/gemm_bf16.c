#include "nn/gemm_bf16.h"

#include <stddef.h>
#include <stdlib.h>

#include "nn/parallel.h"

static void pack_row_pairs_bf16(uint32_t *dst, const float *m, int ld, int rows, int cols);

void bf16_pack_pairs(uint32_t *packed, const float *w, int in, int out) {
  if (gemm_bf16_supported()) { /* W's pairs along in are pairs of rows */
    pack_row_pairs_bf16(packed, w, out, in, out);
    return;
  }
  for (int p = 0; p < (in + 1) / 2; p++) {
    const float *r0 = w + (size_t)2 * p * out, *r1 = 2 * p + 1 < in ? r0 + out : NULL;
    uint32_t *d = packed + (size_t)p * out;
    if (r1) {
#pragma omp simd
      for (int j = 0; j < out; j++) d[j] = bf16_round(r0[j]) | (uint32_t)bf16_round(r1[j]) << 16;
    } else {
      for (int j = 0; j < out; j++) d[j] = bf16_round(r0[j]);
    }
  }
}

void bf16_pack_pairs_transposed(uint32_t *packed, const float *w, int in, int out) {
  int pairs = (out + 1) / 2;
  for (int i = 0; i < in; i++) {
    const float *row = w + (size_t)i * out;
    for (int p = 0; p < pairs; p++) {
      uint32_t hi = 2 * p + 1 < out ? bf16_round(row[2 * p + 1]) : 0;
      packed[(size_t)p * in + i] = bf16_round(row[2 * p]) | hi << 16;
    }
  }
}

/* Rows of x rounded to BF16 pairs: dst[r*kp + p] = (x[r][2p], x[r][2p+1]). */
static void pack_rows_scalar(uint32_t *dst, const float *x, int ldx, int rows, int in) {
  int kp = (in + 1) / 2, full = in / 2;
  for (int r = 0; r < rows; r++) {
    const float *s = x + (size_t)r * ldx;
    uint32_t *d = dst + (size_t)r * kp;
#pragma omp simd
    for (int p = 0; p < full; p++) d[p] = bf16_round(s[2 * p]) | (uint32_t)bf16_round(s[2 * p + 1]) << 16;
    if (kp > full) d[full] = bf16_round(s[in - 1]);
  }
}

/* Pairs along rows: dst[p*cols + c] = (m[2p][c], m[2p+1][c]). */
static void pack_row_pairs_scalar(uint32_t *dst, const float *m, int ld, int rows, int cols) {
  for (int p = 0; p < (rows + 1) / 2; p++) {
    const float *r0 = m + (size_t)2 * p * ld, *r1 = 2 * p + 1 < rows ? r0 + ld : NULL;
    uint32_t *d = dst + (size_t)p * cols;
    if (r1) {
#pragma omp simd
      for (int c = 0; c < cols; c++) d[c] = bf16_round(r0[c]) | (uint32_t)bf16_round(r1[c]) << 16;
    } else {
      for (int c = 0; c < cols; c++) d[c] = bf16_round(r0[c]);
    }
  }
}

/* Scratch for the packed activations, one per thread, grown as needed. */
static uint32_t *scratch(int which, size_t count) {
  static _Thread_local uint32_t *buf[2];
  static _Thread_local size_t cap[2];
  if (count > cap[which]) {
    free(buf[which]);
    buf[which] = malloc(count * sizeof(uint32_t));
    cap[which] = buf[which] ? count : 0;
  }
  return buf[which];
}

#if defined(__x86_64__)
#include <immintrin.h>

bool gemm_bf16_supported(void) {
  static int have = -1;
  if (have < 0) have = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
  return have;
}

/* As gemm_kernel.c's tile, with one vdpbf16ps doing two k steps: y[R rows
 * x NV*16 columns] = Σ_p a(i,p)·b[p][...] (+ y), a(i,p) the BF16 pair at
 * a[i*as_i + p*as_p] broadcast to every lane, b rows ldb apart. */
__attribute__((target("avx512f,avx512bf16"), always_inline)) static inline void tile(
    float *y, int ldy, const uint32_t *a, size_t as_i, size_t as_p, const uint32_t *b, size_t ldb, int kp,
    float beta, const int R, const int NV) {
  __m512 acc[6][4];
  _Pragma("GCC unroll 6")
  for (int i = 0; i < R; i++)
    _Pragma("GCC unroll 6")
    for (int j = 0; j < NV; j++) acc[i][j] = _mm512_setzero_ps();
  for (int p = 0; p < kp; p++) {
    const uint32_t *bp = b + (size_t)p * ldb;
    __m512i wv[4];
    _Pragma("GCC unroll 6")
    for (int j = 0; j < NV; j++) {
      wv[j] = _mm512_loadu_si512(bp + 16 * j);
      __asm__("" : "+v"(wv[j])); /* keep W in a register (gemm_kernel.c says why) */
    }
    _Pragma("GCC unroll 6")
    for (int i = 0; i < R; i++) {
      __m512i xb = _mm512_set1_epi32((int)a[(size_t)i * as_i + (size_t)p * as_p]);
      _Pragma("GCC unroll 6")
      for (int j = 0; j < NV; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], (__m512bh)xb, (__m512bh)wv[j]);
    }
  }
  _Pragma("GCC unroll 6")
  for (int i = 0; i < R; i++)
    _Pragma("GCC unroll 6")
    for (int j = 0; j < NV; j++) {
      float *q = y + (size_t)i * ldy + 16 * j;
      __m512 v = beta != 0.0f ? _mm512_add_ps(acc[i][j], _mm512_loadu_ps(q)) : acc[i][j];
      _mm512_storeu_ps(q, v);
    }
}

#define TILE_CASE(R, NV) \
  case (R)*8 + (NV): tile(y, ldy, a, as_i, as_p, b, ldb, kp, beta, R, NV); break;

__attribute__((target("avx512f,avx512bf16"))) static void tile_any(float *y, int ldy, const uint32_t *a,
                                                                     size_t as_i, size_t as_p, const uint32_t *b,
                                                                     size_t ldb, int kp, float beta, int r, int nv) {
  switch (r * 8 + nv) {
    TILE_CASE(1, 1) TILE_CASE(1, 2) TILE_CASE(1, 3) TILE_CASE(1, 4)
    TILE_CASE(2, 1) TILE_CASE(2, 2) TILE_CASE(2, 3) TILE_CASE(2, 4)
    TILE_CASE(3, 1) TILE_CASE(3, 2) TILE_CASE(3, 3) TILE_CASE(3, 4)
    TILE_CASE(4, 1) TILE_CASE(4, 2) TILE_CASE(4, 3) TILE_CASE(4, 4)
    TILE_CASE(5, 1) TILE_CASE(5, 2) TILE_CASE(5, 3) TILE_CASE(5, 4)
    TILE_CASE(6, 1) TILE_CASE(6, 2) TILE_CASE(6, 3) TILE_CASE(6, 4)
  default: break;
  }
}

/* pack_row_pairs_bf16, 16 pairs at a time: both rows rounded by vcvtneps2bf16,
 * widened to 32-bit lanes and merged */
__attribute__((target("avx512f,avx512bf16"))) static void pack_row_pairs_bf16(uint32_t *dst, const float *m, int ld,
                                                                           int rows, int cols) {
  if (cols % 16 != 0) {
    pack_row_pairs_scalar(dst, m, ld, rows, cols);
    return;
  }
  for (int p = 0; p < (rows + 1) / 2; p++) {
    const float *r0 = m + (size_t)2 * p * ld, *r1 = 2 * p + 1 < rows ? r0 + ld : NULL;
    uint32_t *d = dst + (size_t)p * cols;
    for (int c = 0; c < cols; c += 16) {
      __m512i lo = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(r0 + c)));
      __m512i hi = r1 ? _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(r1 + c)))
                      : _mm512_setzero_si512();
      _mm512_storeu_si512(d + c, _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
    }
  }
}

/* pack_rows_bf16, 32 values per instruction (vcvtne2ps2bf16 rounds to nearest
 * even, as bf16_round, and keeps the order: pairs come out as they lie) */
__attribute__((target("avx512f,avx512bf16"))) static void pack_rows_bf16(uint32_t *dst, const float *x, int ldx,
                                                                      int rows, int in) {
  if (in % 32 != 0) {
    pack_rows_scalar(dst, x, ldx, rows, in);
    return;
  }
  int kp = in / 2;
  for (int r = 0; r < rows; r++) {
    const float *s = x + (size_t)r * ldx;
    uint32_t *d = dst + (size_t)r * kp;
    for (int k = 0; k < in; k += 32) {
      __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(s + k + 16), _mm512_loadu_ps(s + k));
      _mm512_storeu_si512(d + k / 2, (__m512i)v);
    }
  }
}

#define ROW_CHUNK 96 /* as gemm_kernel.c */

bool gemm_bf16_nn(float *y, int ldy, const float *x, int ldx, const uint32_t *w_packed, int rows, int in,
                  int out, float beta) {
  if (!gemm_bf16_supported() || rows <= 0 || in <= 0 || out <= 0 || out % 16 != 0 ||
      (beta != 0.0f && beta != 1.0f))
    return false;
  int kp = (in + 1) / 2;
  uint32_t *xp = scratch(0, (size_t)rows * kp);
  if (!xp) return false;
  pack_rows_bf16(xp, x, ldx, rows, in);
  int chunks = (rows + ROW_CHUNK - 1) / ROW_CHUNK;
  NN_PARALLEL_FOR(chunks, 2, int ch = 0; ch < chunks; ch++, {
    int r0 = ch * ROW_CHUNK, r1 = r0 + ROW_CHUNK < rows ? r0 + ROW_CHUNK : rows;
    for (int c = 0; c < out; c += 64) {
      int nv = (out - c) >= 64 ? 4 : (out - c) / 16;
      for (int r = r0; r < r1; r += 6) {
        int rr = r1 - r >= 6 ? 6 : r1 - r;
        tile_any(y + (size_t)r * ldy + c, ldy, xp + (size_t)r * kp, (size_t)kp, 1, w_packed + c, (size_t)out, kp,
                 beta, rr, nv);
      }
    }
  });
  return true;
}

bool gemm_bf16_tn_acc(float *dw, const float *x, int ldx, const float *dy, int rows, int in, int out) {
  if (!gemm_bf16_supported() || rows <= 0 || in <= 0 || out <= 0 || out % 16 != 0) return false;
  int kp = (rows + 1) / 2;
  uint32_t *xp = scratch(0, (size_t)kp * in), *dp = scratch(1, (size_t)kp * out);
  if (!xp || !dp) return false;
  pack_row_pairs_bf16(xp, x, ldx, rows, in);
  pack_row_pairs_bf16(dp, dy, out, rows, out);
  /* dW tile (6 rows of in x 64 columns of out) += Σ_p xp[p][i] · dp[p][c];
   * threads own disjoint dW rows */
  int tiles = (in + 5) / 6;
  const int KC = 64; /* row pairs per pass: a 64 x 64 slice of dp (16 KB) stays in L1 */
  NN_PARALLEL_REGION((long)rows * in * out, 1L << 20,
    int nt = nn_threads, th = nn_thread;
    int t0 = (int)((long)tiles * th / nt), t1 = (int)((long)tiles * (th + 1) / nt);
    for (int p0 = 0; p0 < kp; p0 += KC) {
      int pb = kp - p0 < KC ? kp - p0 : KC;
      for (int c = 0; c < out; c += 64) {
        int nv = (out - c) >= 64 ? 4 : (out - c) / 16;
        for (int t = t0; t < t1; t++) {
          int i = t * 6, rr = in - i >= 6 ? 6 : in - i;
          tile_any(dw + (size_t)i * out + c, out, xp + (size_t)p0 * in + i, 1, (size_t)in,
                   dp + (size_t)p0 * out + c, (size_t)out, pb, 1.0f, rr, nv);
        }
      }
    }
  );
  return true;
}

#else
bool gemm_bf16_supported(void) { return false; }
bool gemm_bf16_nn(float *y, int ldy, const float *x, int ldx, const uint32_t *w_packed, int rows, int in,
                  int out, float beta) {
  (void)y, (void)ldy, (void)x, (void)ldx, (void)w_packed, (void)rows, (void)in, (void)out, (void)beta;
  return false;
}
bool gemm_bf16_tn_acc(float *dw, const float *x, int ldx, const float *dy, int rows, int in, int out) {
  (void)dw, (void)x, (void)ldx, (void)dy, (void)rows, (void)in, (void)out;
  return false;
}
#endif
