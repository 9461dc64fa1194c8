#include "nn/linear.h"

#include <cblas.h>
#include <stddef.h>
#include <omp.h>

#include "nn/activation.h"
#include "nn/gemm_kernel.h"
#include "nn/parallel.h"

void matmul_forward(float *y, int ldy, const float *x, int ldx, const float *w, int rows, int in,
                    int out, float beta) {
  if (rows == 0 || out == 0) return;
  if (gemm_kernel_nn(y, ldy, x, ldx, w, rows, in, out, beta)) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, out, in, 1.0f, x, ldx, w, out, beta,
              y, ldy);
}

void matmul_backward_input(float *dx, int lddx, const float *dy, const float *w, int rows, int in,
                           int out, float beta) {
  if (rows == 0 || in == 0) return;
  if (gemm_kernel_nt(dx, lddx, dy, out, w, rows, out, in, beta)) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, in, out, 1.0f, dy, out, w, out, beta,
              dx, lddx);
}

void matmul_backward_weight(float *dw, const float *x, int ldx, const float *dy, int rows, int in,
                            int out) {
  if (rows == 0) return;
  if (gemm_kernel_tn_acc(dw, x, ldx, dy, rows, in, out)) return;
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, in, out, rows, 1.0f, x, ldx, dy, out, 1.0f,
              dw, out);
}

void bias_act_forward(float *y, const float *b, int rows, int dim, bool leaky) {
  NN_PARALLEL_FOR((long)rows * dim, 16384, int r = 0; r < rows; r++, {
    float *row = y + (size_t)r * dim;
    if (b)
      _Pragma("omp simd")
      for (int c = 0; c < dim; c++) row[c] += b[c];
    if (leaky)
      _Pragma("omp simd")
      for (int c = 0; c < dim; c++) row[c] = leaky_relu(row[c]);
  });
}

void bias_backward(float *db, const float *dy, int rows, int dim) {
  /* Columns are split between threads so that no two threads add to the same db. */
  NN_PARALLEL_REGION((long)rows * dim, 16384,
    int nt = nn_threads, t = nn_thread;
    int c0 = (int)((long)dim * t / nt), c1 = (int)((long)dim * (t + 1) / nt);
    for (int r = 0; r < rows; r++) {
      const float *row = dy + (size_t)r * dim;
      _Pragma("omp simd")
      for (int c = c0; c < c1; c++) db[c] += row[c];
    }
  );
}

void leaky_bias_backward(float *dy, const float *y, float *db, int rows, int dim) {
  NN_PARALLEL_REGION((long)rows * dim, 16384,
    int nt = nn_threads, t = nn_thread;
    int c0 = (int)((long)dim * t / nt), c1 = (int)((long)dim * (t + 1) / nt);
    for (int r = 0; r < rows; r++) {
      float *d = dy + (size_t)r * dim;
      const float *o = y + (size_t)r * dim;
      _Pragma("omp simd")
      for (int c = c0; c < c1; c++) {
        float g = o[c] > 0.0f ? d[c] : LEAKY_RELU_ALPHA * d[c];
        d[c] = g;
        db[c] += g;
      }
    }
  );
}
