#include "nn/gemm_kernel.h"

#include <omp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

/* One tile: y[R rows x NV*16 columns] = Σ_k x(i,k)·w[k][...] (+ y), x(i,k)
 * at x[i*xs_i + k*xs_k] (so x may be read transposed), w rows ldw apart.
 * Inlined with constant R (1-6) and NV (1-4): the accumulators live in
 * registers. */
__attribute__((target("avx512f"), always_inline)) static inline void tile(float *y, int ldy, const float *x,
                                                                            size_t xs_i, size_t xs_k,
                                                                            const float *w, size_t ldw, int K,
                                                                            float beta, const int R,
                                                                            const int NV) {
  __m512 acc[6][4];
  _Pragma("GCC unroll 6")
  for (int i = 0; i < R; i++)
    _Pragma("GCC unroll 6")
    for (int j = 0; j < NV; j++) acc[i][j] = _mm512_setzero_ps();
  for (int k = 0; k < K; k++) {
    const float *wk = w + (size_t)k * ldw;
    __m512 wv[4];
    _Pragma("GCC unroll 6")
    for (int j = 0; j < NV; j++) {
      wv[j] = _mm512_loadu_ps(wk + 16 * j);
      __asm__("" : "+v"(wv[j])); /* keep W in a register: folding the load into every FMA costs R loads */
    }
    _Pragma("GCC unroll 6")
    for (int i = 0; i < R; i++) {
      __m512 xb = _mm512_set1_ps(x[(size_t)i * xs_i + (size_t)k * xs_k]);
      _Pragma("GCC unroll 6")
      for (int j = 0; j < NV; j++) acc[i][j] = _mm512_fmadd_ps(xb, wv[j], acc[i][j]);
    }
  }
  _Pragma("GCC unroll 6")
  for (int i = 0; i < R; i++)
    _Pragma("GCC unroll 6")
    for (int j = 0; j < NV; j++) {
      float *p = y + (size_t)i * ldy + 16 * j;
      __m512 v = beta != 0.0f ? _mm512_add_ps(acc[i][j], _mm512_loadu_ps(p)) : acc[i][j];
      _mm512_storeu_ps(p, v);
    }
}

#define TILE_CASE(R, NV) \
  case (R)*8 + (NV): tile(y, ldy, x, xs_i, xs_k, w, ldw, K, beta, R, NV); break;

__attribute__((target("avx512f"))) static void tile_any(float *y, int ldy, const float *x, size_t xs_i,
                                                         size_t xs_k, const float *w, size_t ldw, int K,
                                                         float beta, int r, int nv) {
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

/* Chosen at run time, as OpenBLAS does: the library is built for AVX2 and
 * only these functions use AVX-512. GRANITE_NO_AVX512=1 forces the BLAS path
 * (to test what an AVX2-only CPU runs). */
static int have_avx512(void) {
  static int have = -1;
  if (have < 0) {
    const char *off = getenv("GRANITE_NO_AVX512");
    have = __builtin_cpu_supports("avx512f") && !(off && *off && strcmp(off, "0")) ? 1 : 0;
  }
  return have;
}

/* Rows per chunk: one chunk of x (ROW_CHUNK x in floats) stays in L2 while
 * every 64-column slice of W passes over it; chunks go to different threads. */
#define ROW_CHUNK 96

bool gemm_kernel_nn(float *y, int ldy, const float *x, int ldx, const float *w, int rows, int in, int out,
                    float beta) {
  if (!have_avx512() || rows <= 0 || in <= 0 || out <= 0 || out % 16 != 0 || (beta != 0.0f && beta != 1.0f))
    return false;
  int chunks = (rows + ROW_CHUNK - 1) / ROW_CHUNK;
#pragma omp parallel for schedule(static) if (chunks > 2)
  for (int ch = 0; ch < chunks; ch++) {
    int r0 = ch * ROW_CHUNK, r1 = r0 + ROW_CHUNK < rows ? r0 + ROW_CHUNK : rows;
    for (int c = 0; c < out; c += 64) {
      int nv = (out - c) >= 64 ? 4 : (out - c) / 16;
      for (int r = r0; r < r1; r += 6) {
        int rr = r1 - r >= 6 ? 6 : r1 - r;
        tile_any(y + (size_t)r * ldy + c, ldy, x + (size_t)r * ldx, (size_t)ldx, 1, w + c, (size_t)out, in, beta,
                 rr, nv);
      }
    }
  }
  return true;
}

bool gemm_kernel_nt(float *y, int ldy, const float *x, int ldx, const float *w, int rows, int in, int out,
                    float beta) {
  if (!have_avx512() || rows <= 0 || in <= 0 || out <= 0 || out % 16 != 0 || (beta != 0.0f && beta != 1.0f))
    return false;
  /* W is [out x in]; its transpose [in x out] is what the kernel streams.
   * The copy costs in*out floats against rows*in*out multiply-adds. */
  static _Thread_local float *wt = NULL;
  static _Thread_local size_t cap = 0;
  size_t need = (size_t)in * out;
  if (need > cap) {
    free(wt);
    wt = malloc(need * sizeof(float));
    if (!wt) {
      cap = 0;
      return false;
    }
    cap = need;
  }
  /* in 16x16 blocks, so that both sides stay in a few cache lines */
  for (int i0 = 0; i0 < out; i0 += 16)
    for (int k0 = 0; k0 < in; k0 += 16) {
      int i1 = i0 + 16 < out ? i0 + 16 : out, k1 = k0 + 16 < in ? k0 + 16 : in;
      for (int i = i0; i < i1; i++)
        for (int k = k0; k < k1; k++) wt[(size_t)k * out + i] = w[(size_t)i * in + k];
    }
  return gemm_kernel_nn(y, ldy, x, ldx, wt, rows, in, out, beta);
}

bool gemm_kernel_tn_acc(float *dw, const float *x, int ldx, const float *dy, int rows, int in, int out) {
  if (!have_avx512() || rows <= 0 || in <= 0 || out <= 0 || out % 16 != 0) return false;
  /* dW tile (6 rows of in x 64 columns of out) += Σ_r x[r][i] ⊗ dy[r][c]:
   * the same tile reading x transposed; threads own disjoint dW rows */
  int tiles = (in + 5) / 6;
  const int KC = 128; /* rows per pass: a 128 x 64 slice of dy (32 KB) stays in L1 */
#pragma omp parallel if ((long)rows * in * out > (1L << 20))
  {
    int nt = omp_get_num_threads(), th = omp_get_thread_num();
    int t0 = (int)((long)tiles * th / nt), t1 = (int)((long)tiles * (th + 1) / nt);
    for (int k0 = 0; k0 < rows; k0 += KC) {
      int kb = rows - k0 < KC ? rows - k0 : KC;
      for (int c = 0; c < out; c += 64) {
        int nv = (out - c) >= 64 ? 4 : (out - c) / 16;
        for (int t = t0; t < t1; t++) {
          int i = t * 6, rr = in - i >= 6 ? 6 : in - i;
          tile_any(dw + (size_t)i * out + c, out, x + (size_t)k0 * ldx + i, 1, (size_t)ldx,
                   dy + (size_t)k0 * out + c, (size_t)out, kb, 1.0f, rr, nv);
        }
      }
    }
  }
  return true;
}

#else
bool gemm_kernel_nn(float *y, int ldy, const float *x, int ldx, const float *w, int rows, int in, int out,
                    float beta) {
  (void)y, (void)ldy, (void)x, (void)ldx, (void)w, (void)rows, (void)in, (void)out, (void)beta;
  return false;
}
bool gemm_kernel_nt(float *y, int ldy, const float *x, int ldx, const float *w, int rows, int in, int out,
                    float beta) {
  (void)y, (void)ldy, (void)x, (void)ldx, (void)w, (void)rows, (void)in, (void)out, (void)beta;
  return false;
}
bool gemm_kernel_tn_acc(float *dw, const float *x, int ldx, const float *dy, int rows, int in, int out) {
  (void)dw, (void)x, (void)ldx, (void)dy, (void)rows, (void)in, (void)out;
  return false;
}
#endif
