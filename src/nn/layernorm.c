#include "nn/layernorm.h"

#include <math.h>
#include <stdbool.h>
#include <omp.h>
#include <stddef.h>

#include "nn/parallel.h"

bool layernorm_generic;

#if defined(__x86_64__)
#include <immintrin.h>

/* One row with dim a multiple of 16, in AVX-512 registers: gcc's code for
 * the generic loop below spent most of its time in the two reductions'
 * horizontal sums (a tenth of a single-block prediction). Same two-pass
 * formula; the sums are taken in a different order. */
__attribute__((target("avx512f"))) static void row_avx512(float *y, float *mean, float *rstd, const float *x,
                                                          const float *gamma, const float *beta, int dim) {
  __m512 acc = _mm512_setzero_ps();
  for (int c = 0; c < dim; c += 16) acc = _mm512_add_ps(acc, _mm512_loadu_ps(x + c));
  float mu = _mm512_reduce_add_ps(acc) / dim;
  __m512 vmu = _mm512_set1_ps(mu), var = _mm512_setzero_ps();
  for (int c = 0; c < dim; c += 16) {
    __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + c), vmu);
    var = _mm512_fmadd_ps(d, d, var);
  }
  float s = 1.0f / sqrtf(_mm512_reduce_add_ps(var) / dim + LAYERNORM_EPS);
  __m512 vs = _mm512_set1_ps(s);
  for (int c = 0; c < dim; c += 16) {
    __m512 xh = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + c), vmu), vs);
    _mm512_storeu_ps(y + c, _mm512_fmadd_ps(xh, _mm512_loadu_ps(gamma + c), _mm512_loadu_ps(beta + c)));
  }
  *mean = mu;
  *rstd = s;
}

/* The 8 lanes of a sum added in order to 0, as gcc combines an omp simd
 * reduction's lanes. */
__attribute__((target("avx2"), always_inline)) static inline float lane_sum(__m256 v) {
  float l[8], s = 0.0f;
  _mm256_storeu_ps(l, v);
  for (int j = 0; j < 8; j++) s += l[j];
  return s;
}

/* R rows with dim a multiple of 8 in AVX2 registers: per row the same
 * operations in the same order as gcc's code for the generic loop below at
 * -march=x86-64-v3 (one 8-lane accumulator per sum, its lanes then added in
 * order; y = fma((x − μ)·rstd, γ, β)), so the same bits; rows side by side
 * overlap the sums' dependency chains, which bound a row alone (about 200
 * cycles for 128 floats, 5% of a single-block prediction). */
__attribute__((target("avx2,fma"), always_inline)) static inline void rows_avx2(
    float *y, float *mean, float *rstd, const float *x, const float *gamma, const float *beta, int dim, const int R) {
  __m256 acc[4], var[4], vmu[4], vs[4];
  float mu[4], s[4];
  _Pragma("GCC unroll 4")
  for (int i = 0; i < R; i++) acc[i] = var[i] = _mm256_setzero_ps();
  for (int c = 0; c < dim; c += 8)
    _Pragma("GCC unroll 4")
    for (int i = 0; i < R; i++) acc[i] = _mm256_add_ps(acc[i], _mm256_loadu_ps(x + (size_t)i * dim + c));
  _Pragma("GCC unroll 4")
  for (int i = 0; i < R; i++) {
    mu[i] = lane_sum(acc[i]) / dim;
    vmu[i] = _mm256_set1_ps(mu[i]);
  }
  for (int c = 0; c < dim; c += 8)
    _Pragma("GCC unroll 4")
    for (int i = 0; i < R; i++) {
      __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + (size_t)i * dim + c), vmu[i]);
      var[i] = _mm256_fmadd_ps(d, d, var[i]);
    }
  _Pragma("GCC unroll 4")
  for (int i = 0; i < R; i++) {
    s[i] = 1.0f / sqrtf(lane_sum(var[i]) / dim + LAYERNORM_EPS);
    vs[i] = _mm256_set1_ps(s[i]);
    mean[i] = mu[i];
    rstd[i] = s[i];
  }
  for (int c = 0; c < dim; c += 8) {
    __m256 g = _mm256_loadu_ps(gamma + c), b = _mm256_loadu_ps(beta + c);
    _Pragma("GCC unroll 4")
    for (int i = 0; i < R; i++) {
      __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + (size_t)i * dim + c), vmu[i]), vs[i]);
      _mm256_storeu_ps(y + (size_t)i * dim + c, _mm256_fmadd_ps(xh, g, b));
    }
  }
}

/* Rows r0.. of a group of up to 4 (the last group may be shorter). */
__attribute__((target("avx2,fma"))) static void group_avx2(float *out, float *mean, float *rstd, const float *in,
                                                           const float *gamma, const float *beta, int rows, int dim,
                                                           int r0) {
  size_t o = (size_t)r0 * dim;
  switch (rows - r0 < 4 ? rows - r0 : 4) {
  case 4: rows_avx2(out + o, mean + r0, rstd + r0, in + o, gamma, beta, dim, 4); break;
  case 3: rows_avx2(out + o, mean + r0, rstd + r0, in + o, gamma, beta, dim, 3); break;
  case 2: rows_avx2(out + o, mean + r0, rstd + r0, in + o, gamma, beta, dim, 2); break;
  default: rows_avx2(out + o, mean + r0, rstd + r0, in + o, gamma, beta, dim, 1); break;
  }
}

static bool have_avx512(void) {
  static int have = -1;
  if (have < 0) have = __builtin_cpu_supports("avx512f") ? 1 : 0;
  return have;
}
static bool have_avx2(void) {
  static int have = -1;
  if (have < 0) have = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1 : 0;
  return have;
}
#else
static bool have_avx512(void) { return false; }
static bool have_avx2(void) { return false; }
static void row_avx512(float *y, float *mean, float *rstd, const float *x, const float *gamma, const float *beta,
                       int dim) {
  (void)y, (void)mean, (void)rstd, (void)x, (void)gamma, (void)beta, (void)dim;
}
static void group_avx2(float *out, float *mean, float *rstd, const float *in, const float *gamma, const float *beta,
                       int rows, int dim, int r0) {
  (void)out, (void)mean, (void)rstd, (void)in, (void)gamma, (void)beta, (void)rows, (void)dim, (void)r0;
}
#endif

void layernorm_forward(float *out, float *mean, float *rstd, const float *in, const float *gamma,
                       const float *beta, int rows, int dim) {
  if (dim % 16 == 0 && have_avx512()) {
    NN_PARALLEL_FOR((long)rows * dim, 16384, int r = 0; r < rows; r++,
                    row_avx512(out + (size_t)r * dim, mean + r, rstd + r, in + (size_t)r * dim, gamma, beta, dim););
    return;
  }
  if (dim % 8 == 0 && have_avx2() && !layernorm_generic) {
    int groups = (rows + 3) / 4;
    NN_PARALLEL_FOR((long)rows * dim, 16384, int gi = 0; gi < groups; gi++,
                    group_avx2(out, mean, rstd, in, gamma, beta, rows, dim, 4 * gi););
    return;
  }
  NN_PARALLEL_FOR((long)rows * dim, 16384, int r = 0; r < rows; r++, {
    const float *x = in + (size_t)r * dim;
    float *y = out + (size_t)r * dim;
    float sum = 0.0f;
    _Pragma("omp simd reduction(+ : sum)")
    for (int c = 0; c < dim; c++) sum += x[c];
    float mu = sum / dim;
    float var = 0.0f; /* two passes: the row is in L1, and it is exact for large means */
    _Pragma("omp simd reduction(+ : var)")
    for (int c = 0; c < dim; c++) {
      float d = x[c] - mu;
      var += d * d;
    }
    float s = 1.0f / sqrtf(var / dim + LAYERNORM_EPS);
    _Pragma("omp simd")
    for (int c = 0; c < dim; c++) y[c] = (x[c] - mu) * s * gamma[c] + beta[c];
    mean[r] = mu;
    rstd[r] = s;
  });
}

void layernorm_backward(float *d_in, float *d_gamma, float *d_beta, const float *d_out,
                        const float *in, const float *mean, const float *rstd, const float *gamma,
                        int rows, int dim) {
  if (d_in) {
    NN_PARALLEL_FOR((long)rows * dim, 16384, int r = 0; r < rows; r++, {
      const float *x = in + (size_t)r * dim, *dy = d_out + (size_t)r * dim;
      float *dx = d_in + (size_t)r * dim;
      float mu = mean[r], s = rstd[r];
      float mean_g = 0.0f, mean_gx = 0.0f; /* means of γ·dy and γ·dy·x̂ */
      _Pragma("omp simd reduction(+ : mean_g, mean_gx)")
      for (int c = 0; c < dim; c++) {
        float g = gamma[c] * dy[c];
        mean_g += g;
        mean_gx += g * (x[c] - mu) * s;
      }
      mean_g /= dim;
      mean_gx /= dim;
      _Pragma("omp simd")
      for (int c = 0; c < dim; c++) {
        float xhat = (x[c] - mu) * s;
        dx[c] += s * (gamma[c] * dy[c] - mean_g - xhat * mean_gx);
      }
    });
  }
  /* γ/β gradients: columns split between threads, so no two threads share a sum. */
  NN_PARALLEL_REGION((long)rows * dim, 16384,
    int nt = nn_threads, t = nn_thread;
    int c0 = (int)((long)dim * t / nt), c1 = (int)((long)dim * (t + 1) / nt);
    for (int r = 0; r < rows; r++) {
      const float *x = in + (size_t)r * dim, *dy = d_out + (size_t)r * dim;
      float mu = mean[r], s = rstd[r];
      _Pragma("omp simd")
      for (int c = c0; c < c1; c++) {
        d_gamma[c] += dy[c] * (x[c] - mu) * s;
        d_beta[c] += dy[c];
      }
    }
  );
}
