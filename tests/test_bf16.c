/* BF16 matmuls (nn/gemm_bf16.h) and the model in BF16 (granite_set_bf16):
 * the kernels against a double-precision reference of the BF16-rounded
 * operands (exact products, so only FP32 summation differs); the model's
 * outputs and gradients against the FP32 path within the BF16 tolerance
 * stated below, all finite; replicas and inference-only mode agree. Skipped
 * (77) on a CPU without AVX512_BF16, after checking the FP32 fallback. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "nn/gemm_bf16.h"
#include "nn/linear.h"
#include "random_graph.h"
#include "testing.h"
#include "util/rng.h"

/* The tolerance of the BF16 path against FP32, as the norm of the
 * difference over the norm of the FP32 result: operands carry 8 bits of
 * mantissa (relative rounding 2^-9 = 0.2%); through 8 message-passing
 * iterations and the backward pass errors add up to about 1% here. */
#define BF16_MODEL_TOLERANCE 0.03

static Rng rng;

static float uniform(void) { return (float)(2.0 * rng_uniform(&rng) - 1.0); }
static double round16(float f) { return bf16_to_float(bf16_round(f)); }

static void check_rounding(void) {
  CHECK(bf16_round(1.0f) == 0x3f80);
  CHECK(bf16_to_float(bf16_round(1.0f + 1.0f / 256)) == 1.0f);            /* halfway: to even (down) */
  CHECK(bf16_to_float(bf16_round(1.0f + 3.0f / 256)) == 1.0f + 1.0f / 64); /* halfway: to even (up) */
  CHECK(bf16_to_float(bf16_round(-2.5f)) == -2.5f);
  CHECK(isnan(bf16_to_float(bf16_round(NAN))));
  CHECK(isinf(bf16_to_float(bf16_round(INFINITY))));
}

/* y = x·W (+ y) and dx = dy·Wᵀ through the packed kernels, odd inner sizes. */
static void check_kernels(void) {
  const int rows = 37, in = 83, out = 48, ldx = 90;
  float *x = malloc(sizeof(float) * rows * ldx), *w = malloc(sizeof(float) * in * out);
  float *y = malloc(sizeof(float) * rows * out), *dx = malloc(sizeof(float) * rows * in);
  float *dw = calloc((size_t)in * out, sizeof(float));
  uint32_t *wp = malloc(sizeof(uint32_t) * ((in + 1) / 2) * out), *wt = malloc(sizeof(uint32_t) * (out / 2) * in);
  for (int i = 0; i < rows * ldx; i++) x[i] = uniform();
  for (int i = 0; i < in * out; i++) w[i] = uniform();
  bf16_pack_pairs(wp, w, in, out);
  bf16_pack_pairs_transposed(wt, w, in, out);
  for (int i = 0; i < rows * out; i++) y[i] = 1.0f;
  CHECK(gemm_bf16_nn(y, out, x, ldx, wp, rows, in, out, 1.0f, NULL));
  double worst = 0;
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < out; c++) {
      double ref = 1.0, mag = 0;
      for (int k = 0; k < in; k++) {
        ref += round16(x[r * ldx + k]) * round16(w[k * out + c]);
        mag += fabs(round16(x[r * ldx + k]) * round16(w[k * out + c]));
      }
      worst = fmax(worst, fabs(y[r * out + c] - ref) / (mag + 1));
    }
  CHECK_MSG(worst < 1e-6, "y = x.W: worst error %g of the magnitude", worst);
  /* dx = y·Wᵀ: y as the gradient [rows x out], W [in x out] */
  CHECK(gemm_bf16_nn(dx, in, y, out, wt, rows, out, in, 0.0f, NULL) == (in % 16 == 0));
  /* in = 83 is no multiple of 16: the kernel declines; 80 rows of W work */
  uint32_t *wt80 = malloc(sizeof(uint32_t) * (out / 2) * 80);
  bf16_pack_pairs_transposed(wt80, w, 80, out);
  CHECK(gemm_bf16_nn(dx, 80, y, out, wt80, rows, out, 80, 0.0f, NULL));
  worst = 0;
  for (int r = 0; r < rows; r++)
    for (int i = 0; i < 80; i++) {
      double ref = 0, mag = 0;
      for (int c = 0; c < out; c++) {
        ref += round16(y[r * out + c]) * round16(w[i * out + c]);
        mag += fabs(round16(y[r * out + c]) * round16(w[i * out + c]));
      }
      worst = fmax(worst, fabs(dx[r * 80 + i] - ref) / (mag + 1));
    }
  CHECK_MSG(worst < 1e-6, "dx = dy.W^T: worst error %g", worst);
  /* dW += xᵀ·y, odd row count */
  CHECK(gemm_bf16_tn_acc(dw, x, ldx, y, rows, in, out));
  worst = 0;
  for (int i = 0; i < in; i++)
    for (int c = 0; c < out; c++) {
      double ref = 0, mag = 0;
      for (int r = 0; r < rows; r++) {
        ref += round16(x[r * ldx + i]) * round16(y[r * out + c]);
        mag += fabs(round16(x[r * ldx + i]) * round16(y[r * out + c]));
      }
      worst = fmax(worst, fabs(dw[i * out + c] - ref) / (mag + 1));
    }
  CHECK_MSG(worst < 1e-6, "dW += x^T.dy: worst error %g", worst);
  free(x), free(w), free(y), free(dx), free(dw), free(wp), free(wt), free(wt80);
}

static double norm_diff(const float *a, const float *b, size_t n, int *nonfinite) {
  double d = 0, s = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(a[i])) (*nonfinite)++;
    d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    s += (double)b[i] * b[i];
  }
  return sqrt(d / (s + 1e-30));
}

/* Rows in several chunks of the kernel, with an epilogue run chunk by chunk:
 * the same bits as the matmul over all rows followed by the epilogue. */
static void check_chunks_and_epilogue(void) {
  const int rows = 230, in = 64, out = 48;
  float *x = malloc(sizeof(float) * rows * in), *w = malloc(sizeof(float) * in * out), b[48];
  float *y = malloc(sizeof(float) * rows * out), *ref = malloc(sizeof(float) * rows * out);
  uint32_t *wp = malloc(sizeof(uint32_t) * (in / 2) * out);
  for (int i = 0; i < rows * in; i++) x[i] = uniform();
  for (int i = 0; i < in * out; i++) w[i] = uniform();
  for (int i = 0; i < out; i++) b[i] = uniform();
  bf16_pack_pairs(wp, w, in, out);
  BiasAct ba = {b, true};
  RowEpilogue ep = {bias_act_rows, &ba};
  CHECK(gemm_bf16_nn(ref, out, x, in, wp, rows, in, out, 0.0f, NULL));
  bias_act_rows(&ba, ref, out, out, 0, rows);
  CHECK(gemm_bf16_nn(y, out, x, in, wp, rows, in, out, 0.0f, &ep));
  CHECK_MSG(memcmp(y, ref, sizeof(float) * rows * out) == 0, "the chunked epilogue changed the result");
  free(x), free(w), free(y), free(ref), free(wp);
}

/* Forward and gradients, FP32 and BF16, of the same model and batch. */
static void check_model(void) {
  const int V = 40, BLOCKS = 24;
  GraniteConfig cfg;
  granite_config_default(&cfg);
  cfg.vocab_size = V;
  cfg.node_embedding_size = cfg.edge_embedding_size = cfg.global_embedding_size = 64;
  GraniteModel m;
  CHECK(granite_model_create(&m, &cfg) == 0);
  granite_model_init_params(&m, 7);
  Batch b;
  batch_init(&b, 1);
  BlockGraph g[24];
  float label = 1.0f;
  uint8_t mask = 1;
  for (int k = 0; k < BLOCKS; k++) {
    random_graph(&g[k], 6 + (int)rng_below(&rng, 20), V, granite_num_edge_types(&cfg), &rng);
    batch_add(&b, &g[k], &label, &mask, NULL, NULL);
  }
  size_t P = m.num_params;
  float out32[24], pred32[24], out16[24], pred16[24], d[24];
  float *grad32 = malloc(sizeof(float) * P), *grad16 = malloc(sizeof(float) * P);
  for (int k = 0; k < BLOCKS; k++) d[k] = uniform();

  granite_forward(&m, &b, out32, pred32);
  memset(m.grads, 0, sizeof(float) * P);
  granite_backward(&m, &b, d);
  memcpy(grad32, m.grads, sizeof(float) * P);

  CHECK(granite_set_bf16(&m, true) && granite_bf16(&m));
  granite_forward(&m, &b, out16, pred16);
  memset(m.grads, 0, sizeof(float) * P);
  granite_backward(&m, &b, d);
  memcpy(grad16, m.grads, sizeof(float) * P);
  int bad = 0;
  double e_out = norm_diff(pred16, pred32, BLOCKS, &bad), e_grad = norm_diff(grad16, grad32, P, &bad);
  fprintf(stderr, "BF16 vs FP32: predictions %.4f, gradients %.4f (relative norm of the difference)\n", e_out,
          e_grad);
  CHECK_MSG(bad == 0, "%d non-finite values", bad);
  CHECK_MSG(e_out > 0 && e_out < BF16_MODEL_TOLERANCE, "predictions differ by %g", e_out);
  CHECK_MSG(e_grad > 0 && e_grad < BF16_MODEL_TOLERANCE, "gradients differ by %g", e_grad);
  /* every tensor's gradient, not just the whole: no layer left behind */
  for (int t = 0; t < m.num_tensors; t++) {
    const ParamTensor *pt = &m.tensors[t];
    size_t n = (size_t)pt->rows * pt->cols;
    double e = norm_diff(grad16 + pt->offset, grad32 + pt->offset, n, &bad);
    CHECK_MSG(e < 0.1, "%s: gradient differs by %g", pt->name, e);
  }

  /* the weights are rounded again after the parameters change (training) */
  for (size_t i = 0; i < P; i++) m.params[i] *= 0.5f;
  float again[24];
  granite_forward(&m, &b, again, pred16);
  granite_set_bf16(&m, false);
  granite_forward(&m, &b, again, pred32);
  CHECK_MSG(norm_diff(pred16, pred32, BLOCKS, &bad) < BF16_MODEL_TOLERANCE, "stale BF16 weights after an update");

  /* inference-only and 2 replicas: the same BF16 predictions */
  granite_set_bf16(&m, true);
  granite_forward(&m, &b, again, pred32);
  granite_set_inference_only(&m, true);
  granite_set_data_parallel(&m, 2);
  granite_forward(&m, &b, again, pred16);
  CHECK_MSG(norm_diff(pred16, pred32, BLOCKS, &bad) < 1e-5, "replicas differ from one pass in BF16");
  /* inference-only rounds once: a change needs granite_set_bf16 again */
  for (size_t i = 0; i < P; i++) m.params[i] *= 2.0f;
  granite_set_bf16(&m, true);
  granite_forward(&m, &b, again, pred16);
  granite_set_bf16(&m, false);
  granite_forward(&m, &b, again, pred32);
  CHECK_MSG(norm_diff(pred16, pred32, BLOCKS, &bad) < BF16_MODEL_TOLERANCE, "inference weights not rounded again");

  for (int k = 0; k < BLOCKS; k++) block_graph_free(&g[k]);
  batch_free(&b);
  free(grad32), free(grad16);
  granite_model_destroy(&m);
}

int main(void) {
  rng_seed(&rng, 99);
  check_rounding();
  if (!gemm_bf16_supported()) {
    /* the fallback: the model says no and stays FP32 */
    GraniteConfig cfg;
    granite_config_default(&cfg);
    cfg.vocab_size = 10;
    GraniteModel m;
    CHECK(granite_model_create(&m, &cfg) == 0);
    CHECK(!granite_set_bf16(&m, true) && !granite_bf16(&m));
    uint32_t wp[16] = {0};
    float y[16], x[2] = {1, 1};
    CHECK(!gemm_bf16_nn(y, 16, x, 2, wp, 1, 2, 16, 0.0f, NULL));
    granite_model_destroy(&m);
    test_summary("test_bf16");
    return test_failures ? 1 : TEST_SKIPPED;
  }
  check_kernels();
  check_model();
  check_chunks_and_epilogue(); /* after the model: the same random numbers as before for it */
  return test_summary("test_bf16");
}
