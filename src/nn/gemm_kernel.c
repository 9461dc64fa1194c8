#include "nn/gemm_kernel.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "nn/gemm_tiles.h"

#if defined(__x86_64__)
#include <immintrin.h>

/* AVX-512: tiles of 6 rows x 64 columns (24 accumulators of 32 registers) */
#define TILE_FN tile_avx512
#define TILE_TARGET "avx512f"
#define VEC __m512
#define BVEC __m512
#define ELEM float
#define LANES 16
#define MAX_NV 4
#define ZERO() _mm512_setzero_ps()
#define LOAD_B(p) _mm512_loadu_ps(p)
#define BCAST(e) _mm512_set1_ps(e)
#define MADD(acc, u, v) _mm512_fmadd_ps(u, v, acc)
#define ADD(u, v) _mm512_add_ps(u, v)
#define LOAD_Y(p) _mm512_loadu_ps(p)
#define STORE_Y(p, v) _mm512_storeu_ps(p, v)
#define MASK __mmask16
#define MAKE_MASK(n) ((__mmask16)((1u << (n)) - 1))
#define LOAD_B_MASKED(p, m) _mm512_maskz_loadu_ps(m, p)
#define LOAD_Y_MASKED(p, m) _mm512_maskz_loadu_ps(m, p)
#define STORE_Y_MASKED(p, v, m) _mm512_mask_storeu_ps(p, m, v)
#include "nn/gemm_tile_template.h"

/* AVX2+FMA: tiles of 6 rows x 16 columns (12 accumulators of 16 registers);
 * 1 row x 64 and 2 rows x 32 (8 accumulators: Zen 3's 2 FMA pipes x 4
 * cycles of latency) */
#define TILE_FN tile_avx2
#define TILE_TARGET "avx2,fma"
#define VEC __m256
#define BVEC __m256
#define ELEM float
#define LANES 8
#define MAX_NV 2
#define MAX_NV_SMALL 8
#define ZERO() _mm256_setzero_ps()
#define LOAD_B(p) _mm256_loadu_ps(p)
#define BCAST(e) _mm256_set1_ps(e)
#define MADD(acc, u, v) _mm256_fmadd_ps(u, v, acc)
#define ADD(u, v) _mm256_add_ps(u, v)
#define LOAD_Y(p) _mm256_loadu_ps(p)
#define STORE_Y(p, v) _mm256_storeu_ps(p, v)
#define MASK __m256i
#define MAKE_MASK(n) _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define LOAD_B_MASKED(p, m) _mm256_maskload_ps(p, m)
#define LOAD_Y_MASKED(p, m) _mm256_maskload_ps(p, m)
#define STORE_Y_MASKED(p, v, m) _mm256_maskstore_ps(p, m, v)
#include "nn/gemm_tile_template.h"

static const GemmTiles tiles_avx512 = {tile_avx512, 16, 4, 4, sizeof(float), 128};
static const GemmTiles tiles_avx2 = {tile_avx2, 8, 2, 8, sizeof(float), 128};

static bool env_set(const char *name) {
  const char *v = getenv(name);
  return v && *v && strcmp(v, "0");
}

/* Chosen at run time, as OpenBLAS does: the widest the CPU has, unless
 * GRANITE_NO_AVX512=1 (then AVX2) or GRANITE_NO_AVX2=1 (then BLAS; a CPU
 * without AVX2 has no AVX-512 either), to test what other CPUs run. */
static const GemmTiles *tiles(void) {
  static const GemmTiles *chosen;
  static bool done;
  if (!done) {
    bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && !env_set("GRANITE_NO_AVX2");
    chosen = avx2 && __builtin_cpu_supports("avx512f") && !env_set("GRANITE_NO_AVX512") ? &tiles_avx512
             : avx2                                                                 ? &tiles_avx2
                                                                                    : NULL;
    done = true;
  }
  return chosen;
}

const char *gemm_kernel_isa(void) {
  const GemmTiles *t = tiles();
  return t == &tiles_avx512 ? "AVX-512" : t == &tiles_avx2 ? "AVX2+FMA" : NULL;
}

static bool applies(const GemmTiles *t, int rows, int in, int out, float beta) {
  return t && rows > 0 && in > 0 && out > 0 && (beta == 0.0f || beta == 1.0f);
}

bool gemm_kernel_nn(float *y, int ldy, const float *x, int ldx, const float *w, int rows, int in, int out,
                    float beta) {
  const GemmTiles *t = tiles();
  if (!applies(t, rows, in, out, beta)) return false;
  gemm_tiles_nn(t, y, ldy, x, (size_t)ldx, w, rows, in, out, beta);
  return true;
}

bool gemm_kernel_nt(float *y, int ldy, const float *x, int ldx, const float *w, int rows, int in, int out,
                    float beta) {
  const GemmTiles *t = tiles();
  if (!applies(t, rows, in, out, beta)) return false;
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
  gemm_tiles_nn(t, y, ldy, x, (size_t)ldx, wt, rows, in, out, beta);
  return true;
}

bool gemm_kernel_tn_acc(float *dw, const float *x, int ldx, const float *dy, int rows, int in, int out) {
  const GemmTiles *t = tiles();
  if (!applies(t, rows, in, out, 1.0f)) return false;
  gemm_tiles_tn_acc(t, dw, x, (size_t)ldx, dy, rows, in, out);
  return true;
}

#else
const char *gemm_kernel_isa(void) { return NULL; }
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
