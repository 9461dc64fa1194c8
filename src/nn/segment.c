#include "nn/segment.h"

#include <omp.h>
#include <string.h>

#include "nn/parallel.h"

void csr_build(int32_t *offsets, int32_t *items, const int32_t *segment_of, int n,
               int num_segments) {
  memset(offsets, 0, sizeof(int32_t) * (size_t)(num_segments + 1));
  for (int i = 0; i < n; i++) offsets[segment_of[i] + 1]++;
  for (int s = 0; s < num_segments; s++) offsets[s + 1] += offsets[s];
  /* fill using offsets[s] as a cursor, then shift back */
  for (int i = 0; i < n; i++) items[offsets[segment_of[i]]++] = i;
  for (int s = num_segments; s > 0; s--) offsets[s] = offsets[s - 1];
  offsets[0] = 0;
}

void segment_sum_csr(float *out, int ldo, const float *in, int ldi, const int32_t *offsets,
                     const int32_t *items, int num_segments, int dim) {
  NN_PARALLEL_FOR((long)num_segments * dim, PAR_MIN, int s = 0; s < num_segments; s++, {
    float *o = out + (size_t)s * ldo;
    _Pragma("omp simd")
    for (int c = 0; c < dim; c++) o[c] = 0.0f;
    for (int j = offsets[s]; j < offsets[s + 1]; j++) {
      const float *x = in + (size_t)items[j] * ldi;
      _Pragma("omp simd")
      for (int c = 0; c < dim; c++) o[c] += x[c];
    }
  });
}

void segment_sum_ranges(float *out, int ldo, const float *in, int ldi, const int32_t *offsets,
                        int num_segments, int dim) {
  NN_PARALLEL_FOR((long)offsets[num_segments] * dim, PAR_MIN, int s = 0; s < num_segments; s++, {
    float *o = out + (size_t)s * ldo;
    _Pragma("omp simd")
    for (int c = 0; c < dim; c++) o[c] = 0.0f;
    for (int i = offsets[s]; i < offsets[s + 1]; i++) {
      const float *x = in + (size_t)i * ldi;
      _Pragma("omp simd")
      for (int c = 0; c < dim; c++) o[c] += x[c];
    }
  });
}

void gather_rows_add(float *out, int ldo, const float *table, int ldt, const int32_t *idx, int n,
                     int dim) {
  NN_PARALLEL_FOR((long)n * dim, PAR_MIN, int i = 0; i < n; i++, {
    float *o = out + (size_t)i * ldo;
    const float *x = table + (size_t)idx[i] * ldt;
    _Pragma("omp simd")
    for (int c = 0; c < dim; c++) o[c] += x[c];
  });
}

void gather_rows(float *out, int ldo, const float *table, int ldt, const int32_t *idx, int n,
                 int dim) {
  NN_PARALLEL_FOR((long)n * dim, PAR_MIN, int i = 0; i < n; i++, memcpy(out + (size_t)i * ldo, table + (size_t)idx[i] * ldt, sizeof(float) * (size_t)dim););
}

void scatter_add_rows(float *table, int ldt, const float *in, int ldi, const int32_t *idx, int n,
                      int dim) {
  NN_PARALLEL_REGION((long)n * dim, PAR_MIN,
    int nt = nn_threads, t = nn_thread;
    int c0 = (int)((long)dim * t / nt), c1 = (int)((long)dim * (t + 1) / nt);
    for (int i = 0; i < n; i++) {
      float *o = table + (size_t)idx[i] * ldt;
      const float *x = in + (size_t)i * ldi;
      _Pragma("omp simd")
      for (int c = c0; c < c1; c++) o[c] += x[c];
    }
  );
}

void add_rows(float *out, int ldo, const float *in, int ldi, int rows, int dim) {
  NN_PARALLEL_FOR((long)rows * dim, PAR_MIN, int r = 0; r < rows; r++, {
    float *o = out + (size_t)r * ldo;
    const float *x = in + (size_t)r * ldi;
    _Pragma("omp simd")
    for (int c = 0; c < dim; c++) o[c] += x[c];
  });
}

void copy_rows(float *out, int ldo, const float *in, int ldi, int rows, int dim) {
  NN_PARALLEL_FOR((long)rows * dim, PAR_MIN, int r = 0; r < rows; r++, memcpy(out + (size_t)r * ldo, in + (size_t)r * ldi, sizeof(float) * (size_t)dim););
}
