/* The AVX-512 matmul kernel (nn/gemm_kernel.h) against a plain triple loop:
 * every tile shape (1-6 rows, 1-4 column vectors), several row chunks
 * (threads), strides, beta 0/1, and the transposed-W form. */
#include <stdbool.h>
#include <stdlib.h>

#include "nn/gemm_kernel.h"
#include "testing.h"

static float frand(unsigned *s) {
  *s = *s * 1103515245u + 12345u;
  return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static void check_case(int rows, int in, int out, float beta, unsigned seed, bool transposed) {
  int ldx = in + 3, ldy = out + 5;
  float *x = malloc(sizeof(float) * (size_t)rows * ldx), *w = malloc(sizeof(float) * (size_t)in * out);
  float *y = malloc(sizeof(float) * (size_t)rows * ldy), *y0 = malloc(sizeof(float) * (size_t)rows * ldy);
  for (int i = 0; i < rows * ldx; i++) x[i] = frand(&seed);
  for (int i = 0; i < in * out; i++) w[i] = frand(&seed);
  for (int i = 0; i < rows * ldy; i++) y[i] = y0[i] = frand(&seed);
  /* transposed: W is stored [out x in] and used as its transpose */
  float *wt = malloc(sizeof(float) * (size_t)in * out);
  for (int k = 0; k < in; k++)
    for (int c = 0; c < out; c++) wt[(size_t)c * in + k] = w[(size_t)k * out + c];
  bool ok = transposed ? gemm_kernel_nt(y, ldy, x, ldx, wt, rows, in, out, beta)
                       : gemm_kernel_nn(y, ldy, x, ldx, w, rows, in, out, beta);
  free(wt);
  if (!ok) {
    free(x), free(w), free(y), free(y0);
    return; /* no AVX-512 here: nothing to compare */
  }
  double worst = 0;
  for (int r = 0; r < rows; r++) {
    for (int c = 0; c < out; c++) {
      double ref = beta * y0[(size_t)r * ldy + c];
      for (int k = 0; k < in; k++) ref += (double)x[(size_t)r * ldx + k] * w[(size_t)k * out + c];
      double err = fabs(y[(size_t)r * ldy + c] - ref) / (1.0 + fabs(ref));
      if (err > worst) worst = err;
    }
    /* padding between rows untouched */
    for (int c = out; c < ldy; c++) CHECK(y[(size_t)r * ldy + c] == y0[(size_t)r * ldy + c]);
  }
  CHECK_MSG(worst < 1e-6 + 1e-7 * in, "rows %d in %d out %d beta %g transposed %d: relative error %g", rows, in, out, beta,
            transposed, worst);
  free(x), free(w), free(y), free(y0);
}

/* dW[in×out] += xᵀ·dy against a plain loop */
static void check_weight_grad(int rows, int in, int out, unsigned seed) {
  int ldx = in + 2;
  float *x = malloc(sizeof(float) * (size_t)rows * ldx), *dy = malloc(sizeof(float) * (size_t)rows * out);
  float *dw = malloc(sizeof(float) * (size_t)in * out), *dw0 = malloc(sizeof(float) * (size_t)in * out);
  for (int i = 0; i < rows * ldx; i++) x[i] = frand(&seed);
  for (int i = 0; i < rows * out; i++) dy[i] = frand(&seed);
  for (int i = 0; i < in * out; i++) dw[i] = dw0[i] = frand(&seed);
  if (gemm_kernel_tn_acc(dw, x, ldx, dy, rows, in, out)) {
    double worst = 0;
    for (int i = 0; i < in; i++)
      for (int c = 0; c < out; c++) {
        double ref = dw0[(size_t)i * out + c];
        for (int r = 0; r < rows; r++) ref += (double)x[(size_t)r * ldx + i] * dy[(size_t)r * out + c];
        worst = fmax(worst, fabs(dw[(size_t)i * out + c] - ref) / (1.0 + fabs(ref)));
      }
    CHECK_MSG(worst < 1e-6 + 1e-7 * rows, "weight grad rows %d in %d out %d: relative error %g", rows, in, out,
              worst);
  }
  free(x), free(dy), free(dw), free(dw0);
}

int main(void) {
  const int wg_rows[] = {1, 5, 40, 333};
  const int wg_ins[] = {1, 6, 7, 128, 130};
  const int wg_outs[] = {16, 64, 80, 128};
  unsigned wseed = 99;
  for (size_t a = 0; a < 4; a++)
    for (size_t b = 0; b < 5; b++)
      for (size_t c = 0; c < 4; c++) check_weight_grad(wg_rows[a], wg_ins[b], wg_outs[c], wseed++);
  CHECK(!gemm_kernel_tn_acc(NULL, NULL, 1, NULL, 1, 1, 10)); /* out not a multiple of 16 */
  const int rows[] = {1, 2, 3, 4, 5, 6, 7, 13, 64, 97, 300};
  const int ins[] = {1, 17, 128, 300};
  const int outs[] = {16, 32, 48, 64, 80, 128, 256};
  unsigned seed = 1;
  for (size_t a = 0; a < sizeof rows / sizeof *rows; a++)
    for (size_t b = 0; b < sizeof ins / sizeof *ins; b++)
      for (size_t c = 0; c < sizeof outs / sizeof *outs; c++) {
        check_case(rows[a], ins[b], outs[c], 0.0f, seed++, false);
        check_case(rows[a], ins[b], outs[c], 1.0f, seed++, false);
        check_case(rows[a], ins[b], outs[c], 0.0f, seed++, true);
      }
  /* cases it must decline, leaving y alone */
  float x[4] = {1, 2, 3, 4}, w[40] = {0}, y[40] = {7};
  CHECK(!gemm_kernel_nn(y, 10, x, 4, w, 1, 4, 10, 0.0f)); /* out not a multiple of 16 */
  CHECK(!gemm_kernel_nt(y, 10, x, 4, w, 1, 4, 10, 0.0f));
  CHECK(!gemm_kernel_nn(y, 16, x, 4, w, 1, 4, 16, 0.5f));
  CHECK(y[0] == 7);
  return test_summary("test_gemm_kernel");
}
