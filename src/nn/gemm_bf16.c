#include "nn/gemm_bf16.h"

#include <stddef.h>
#include <stdlib.h>

#include "nn/gemm_tiles.h"
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

/* gemm_kernel.c's AVX-512 tile with one vdpbf16ps doing two k steps: a
 * and b hold BF16 pairs along k, a's pair broadcast to every lane. */
#define TILE_FN tile_bf16
#define TILE_TARGET "avx512f,avx512bf16"
#define VEC __m512
#define BVEC __m512i
#define ELEM uint32_t
#define LANES 16
#define MAX_NV 4
#define ZERO() _mm512_setzero_ps()
#define LOAD_B(p) _mm512_loadu_si512(p)
#define BCAST(e) _mm512_set1_epi32((int)(e))
#define MADD(acc, u, v) _mm512_dpbf16_ps(acc, (__m512bh)(u), (__m512bh)(v))
#define ADD(u, v) _mm512_add_ps(u, v)
#define LOAD_Y(p) _mm512_loadu_ps(p)
#define STORE_Y(p, v) _mm512_storeu_ps(p, v)
#include "nn/gemm_tile_template.h"

/* 64 row pairs per pass of the weight gradient: a 64 x 64 slice of dy's
 * pairs (16 KB) stays in L1 */
static const GemmTiles tiles_bf16 = {tile_bf16, 16, 4, 4, sizeof(uint32_t), 64};

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

/* Rows per chunk of x: a chunk is packed into this thread's buffer and
 * multiplied at once, so its BF16 pairs stay in L2 (packing every row first
 * sent them to memory and back), and its output rows are still in L2 for
 * the epilogue. */
#define PACK_CHUNK 96

bool gemm_bf16_nn(float *y, int ldy, const float *x, int ldx, const uint32_t *w_packed, int rows, int in,
                  int out, float beta, const RowEpilogue *ep) {
  if (!gemm_bf16_supported() || rows <= 0 || in <= 0 || out <= 0 || out % 16 != 0 ||
      (beta != 0.0f && beta != 1.0f))
    return false;
  int kp = (in + 1) / 2, chunks = (rows + PACK_CHUNK - 1) / PACK_CHUNK;
  size_t slot = (size_t)PACK_CHUNK * kp;
  int slots = nn_parallel(chunks, 2) ? omp_get_max_threads() : 1;
  uint32_t *xp = scratch(0, (size_t)slots * slot);
  if (!xp) return false;
  NN_PARALLEL_REGION(chunks, 2,
    uint32_t *mine = xp + (size_t)nn_thread * slot;
    int c0 = (int)((long)chunks * nn_thread / nn_threads), c1 = (int)((long)chunks * (nn_thread + 1) / nn_threads);
    for (int ch = c0; ch < c1; ch++) {
      int r0 = ch * PACK_CHUNK, n = rows - r0 < PACK_CHUNK ? rows - r0 : PACK_CHUNK;
      pack_rows_bf16(mine, x + (size_t)r0 * ldx, ldx, n, in);
      gemm_tiles_nn(&tiles_bf16, y + (size_t)r0 * ldy, ldy, mine, (size_t)kp, w_packed, n, kp, out, beta);
      if (ep) ep->fn(ep->ctx, y, ldy, out, r0, r0 + n);
    }
  );
  return true;
}

bool gemm_bf16_tn_acc(float *dw, const float *x, int ldx, const float *dy, int rows, int in, int out) {
  if (!gemm_bf16_supported() || rows <= 0 || in <= 0 || out <= 0 || out % 16 != 0) return false;
  int kp = (rows + 1) / 2;
  uint32_t *xp = scratch(0, (size_t)kp * in), *dp = scratch(1, (size_t)kp * out);
  if (!xp || !dp) return false;
  pack_row_pairs_bf16(xp, x, ldx, rows, in);
  pack_row_pairs_bf16(dp, dy, out, rows, out);
  gemm_tiles_tn_acc(&tiles_bf16, dw, xp, (size_t)in, dp, kp, in, out);
  return true;
}

#else
bool gemm_bf16_supported(void) { return false; }
bool gemm_bf16_nn(float *y, int ldy, const float *x, int ldx, const uint32_t *w_packed, int rows, int in,
                  int out, float beta, const RowEpilogue *ep) {
  (void)y, (void)ldy, (void)x, (void)ldx, (void)w_packed, (void)rows, (void)in, (void)out, (void)beta, (void)ep;
  return false;
}
bool gemm_bf16_tn_acc(float *dw, const float *x, int ldx, const float *dy, int rows, int in, int out) {
  (void)dw, (void)x, (void)ldx, (void)dy, (void)rows, (void)in, (void)out;
  return false;
}
#endif
