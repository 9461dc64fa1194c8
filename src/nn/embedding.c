#include "nn/embedding.h"

#include <omp.h>
#include <stddef.h>

#include "nn/parallel.h"

#include "nn/linear.h"
#include "nn/segment.h"

void embedding_forward(float *out, const float *table, const int32_t *ids, int n, int dim) {
  gather_rows(out, dim, table, dim, ids, n, dim);
}

void embedding_backward(float *d_table, const float *d_out, const int32_t *ids, int n, int dim) {
  scatter_add_rows(d_table, dim, d_out, dim, ids, n, dim);
}

void embedding_bag_forward(float *out, const float *table, const float *bias, const int32_t *ids,
                           const int32_t *offsets, int num_segments, int dim) {
  NN_PARALLEL_FOR((long)offsets[num_segments] * dim, 16384, int s = 0; s < num_segments; s++, {
    float *o = out + (size_t)s * dim;
    _Pragma("omp simd")
    for (int c = 0; c < dim; c++) o[c] = bias[c];
    for (int i = offsets[s]; i < offsets[s + 1]; i++) {
      const float *x = table + (size_t)ids[i] * dim;
      _Pragma("omp simd")
      for (int c = 0; c < dim; c++) o[c] += x[c];
    }
  });
}

void embedding_bag_backward(float *d_table, float *d_bias, const float *d_out, const int32_t *ids,
                            const int32_t *offsets, int num_segments, int dim) {
  NN_PARALLEL_REGION((long)offsets[num_segments] * dim, 16384,
    int nt = nn_threads, t = nn_thread;
    int c0 = (int)((long)dim * t / nt), c1 = (int)((long)dim * (t + 1) / nt);
    for (int s = 0; s < num_segments; s++) {
      const float *d = d_out + (size_t)s * dim;
      _Pragma("omp simd")
      for (int c = c0; c < c1; c++) d_bias[c] += d[c];
      for (int i = offsets[s]; i < offsets[s + 1]; i++) {
        float *o = d_table + (size_t)ids[i] * dim;
        _Pragma("omp simd")
        for (int c = c0; c < c1; c++) o[c] += d[c];
      }
    }
  );
}
