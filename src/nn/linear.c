#include "nn/linear.h"

#include <cblas.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#include "nn/activation.h"
#include "nn/gemm_bf16.h"
#include "nn/gemm_kernel.h"
#include "nn/parallel.h"

/* ---- precision: set per thread by the model pass running on it ---- */

static _Thread_local bool use_bf16;
static _Thread_local uint64_t current_generation;
static uint64_t last_generation;

uint64_t linear_new_weights_generation(void) {
  return __atomic_add_fetch(&last_generation, 1, __ATOMIC_RELAXED);
}

void linear_set_precision(bool bf16, uint64_t weights_generation) {
  use_bf16 = bf16 && gemm_bf16_supported();
  current_generation = weights_generation;
}

/* BF16 packings of the weights this thread has used, by (pointer, shape,
 * orientation); an entry packed under an older generation is packed again. */
typedef struct {
  const float *w;
  int in, out;
  bool transposed;
  uint64_t generation;
  uint32_t *packed;
  size_t cap;
} PackedWeights;

#define MAX_PACKED 256 /* more than a model has; beyond it (many models came and went) start over */
static _Thread_local PackedWeights packed[MAX_PACKED];
static _Thread_local int num_packed;

static const uint32_t *packed_weights(const float *w, int in, int out, bool transposed) {
  PackedWeights *e = NULL;
  for (int i = 0; i < num_packed && !e; i++)
    if (packed[i].w == w && packed[i].in == in && packed[i].out == out && packed[i].transposed == transposed)
      e = &packed[i];
  if (!e) {
    if (num_packed == MAX_PACKED) {
      for (int i = 0; i < num_packed; i++) free(packed[i].packed);
      memset(packed, 0, sizeof packed);
      num_packed = 0;
    }
    e = &packed[num_packed++];
    *e = (PackedWeights){w, in, out, transposed, 0, NULL, 0};
  }
  if (e->packed && e->generation == current_generation) return e->packed;
  size_t need = transposed ? (size_t)((out + 1) / 2) * in : (size_t)((in + 1) / 2) * out;
  if (need > e->cap) {
    free(e->packed);
    e->packed = malloc(need * sizeof(uint32_t));
    e->cap = e->packed ? need : 0;
    if (!e->packed) return NULL;
  }
  if (transposed)
    bf16_pack_pairs_transposed(e->packed, w, in, out);
  else
    bf16_pack_pairs(e->packed, w, in, out);
  e->generation = current_generation;
  return e->packed;
}

/* ---- matmuls ---- */

static void forward(float *y, int ldy, const float *x, int ldx, const float *w, int rows, int in, int out,
                    float beta, const RowEpilogue *ep) {
  if (rows == 0 || out == 0) return;
  if (use_bf16 && out % 16 == 0) {
    const uint32_t *wp = packed_weights(w, in, out, false);
    if (wp && gemm_bf16_nn(y, ldy, x, ldx, wp, rows, in, out, beta, ep)) return;
  }
  if (!gemm_kernel_nn(y, ldy, x, ldx, w, rows, in, out, beta))
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, out, in, 1.0f, x, ldx, w, out, beta, y, ldy);
  if (ep) row_epilogue_run(ep, y, ldy, rows, out);
}

void matmul_forward(float *y, int ldy, const float *x, int ldx, const float *w, int rows, int in,
                    int out, float beta) {
  forward(y, ldy, x, ldx, w, rows, in, out, beta, NULL);
}

void matmul_forward_then(float *y, int ldy, const float *x, int ldx, const float *w, int rows, int in, int out,
                         const RowEpilogue *ep) {
  forward(y, ldy, x, ldx, w, rows, in, out, 0.0f, ep);
}

void matmul_backward_input(float *dx, int lddx, const float *dy, const float *w, int rows, int in,
                           int out, float beta) {
  if (rows == 0 || in == 0) return;
  if (use_bf16 && in % 16 == 0) {
    const uint32_t *wp = packed_weights(w, in, out, true);
    if (wp && gemm_bf16_nn(dx, lddx, dy, out, wp, rows, out, in, beta, NULL)) return;
  }
  if (gemm_kernel_nt(dx, lddx, dy, out, w, rows, out, in, beta)) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, in, out, 1.0f, dy, out, w, out, beta,
              dx, lddx);
}

void matmul_backward_weight(float *dw, const float *x, int ldx, const float *dy, int rows, int in,
                            int out) {
  if (rows == 0) return;
  if (use_bf16 && gemm_bf16_tn_acc(dw, x, ldx, dy, rows, in, out)) return;
  if (gemm_kernel_tn_acc(dw, x, ldx, dy, rows, in, out)) return;
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, in, out, rows, 1.0f, x, ldx, dy, out, 1.0f,
              dw, out);
}

void row_epilogue_run(const RowEpilogue *ep, float *y, int ldy, int rows, int cols) {
  NN_PARALLEL_REGION((long)rows * cols, 16384,
    int r0 = (int)((long)rows * nn_thread / nn_threads), r1 = (int)((long)rows * (nn_thread + 1) / nn_threads);
    ep->fn(ep->ctx, y, ldy, cols, r0, r1);
  );
}

void bias_act_rows(const void *ctx, float *y, int ldy, int cols, int r0, int r1) {
  const BiasAct *ba = ctx;
  for (int r = r0; r < r1; r++) {
    float *row = y + (size_t)r * ldy;
    if (ba->b)
      _Pragma("omp simd")
      for (int c = 0; c < cols; c++) row[c] += ba->b[c];
    if (ba->leaky)
      _Pragma("omp simd")
      for (int c = 0; c < cols; c++) row[c] = leaky_relu(row[c]);
  }
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
        float g = leaky_relu_grad(d[c], o[c]);
        d[c] = g;
        db[c] += g;
      }
    }
  );
}
