/* Our matmul kernels (nn/gemm_kernel.h) on whichever path this CPU and the
 * environment choose (CTest also runs this with GRANITE_NO_AVX512=1 and
 * GRANITE_NO_AVX2=1): against a double-precision triple loop within
 * rounding, and bit for bit against the same FMA chain written in scalar C
 * (so a row's result cannot depend on the other rows); every tile shape
 * (1-6 rows, full and partial column vectors), row chunks (threads),
 * strides, beta 0/1, the transposed-W form and the weight gradient. */
#include <omp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "nn/gemm_kernel.h"
#include "testing.h"

static float frand(unsigned *s) {
  *s = *s * 1103515245u + 12345u;
  return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float *rand_floats(size_t n, unsigned *seed) {
  float *v = malloc(sizeof(float) * (n ? n : 1));
  for (size_t i = 0; i < n; i++) v[i] = frand(seed);
  return v;
}

static void check_case(int rows, int in, int out, float beta, unsigned seed, bool transposed) {
  int ldx = in + 3, ldy = out + 5;
  float *x = rand_floats((size_t)rows * ldx, &seed), *w = rand_floats((size_t)in * out, &seed);
  float *y0 = rand_floats((size_t)rows * ldy, &seed), *y = malloc(sizeof(float) * (size_t)rows * ldy);
  memcpy(y, y0, sizeof(float) * (size_t)rows * ldy);
  /* transposed: W is stored [out x in] and used as its transpose */
  float *wt = malloc(sizeof(float) * (size_t)in * out);
  for (int k = 0; k < in; k++)
    for (int c = 0; c < out; c++) wt[(size_t)c * in + k] = w[(size_t)k * out + c];
  bool ok = transposed ? gemm_kernel_nt(y, ldy, x, ldx, wt, rows, in, out, beta)
                       : gemm_kernel_nn(y, ldy, x, ldx, w, rows, in, out, beta);
  free(wt);
  CHECK_MSG(ok, "rows %d in %d out %d beta %g transposed %d declined", rows, in, out, beta, transposed);
  double worst = 0;
  long inexact = 0;
  for (int r = 0; ok && r < rows; r++) {
    for (int c = 0; c < out; c++) {
      double ref = beta * y0[(size_t)r * ldy + c];
      float chain = 0.0f; /* the kernel's order: k ascending, one FMA each, then + y */
      for (int k = 0; k < in; k++) {
        ref += (double)x[(size_t)r * ldx + k] * w[(size_t)k * out + c];
        chain = fmaf(x[(size_t)r * ldx + k], w[(size_t)k * out + c], chain);
      }
      if (beta != 0.0f) chain += y0[(size_t)r * ldy + c];
      float got = y[(size_t)r * ldy + c];
      worst = fmax(worst, fabs(got - ref) / (1.0 + fabs(ref)));
      inexact += memcmp(&got, &chain, sizeof got) != 0;
    }
    /* padding between rows untouched */
    for (int c = out; c < ldy; c++) CHECK(y[(size_t)r * ldy + c] == y0[(size_t)r * ldy + c]);
  }
  CHECK_MSG(worst < 1e-6 + 1e-7 * in, "rows %d in %d out %d beta %g transposed %d: relative error %g", rows, in, out,
            beta, transposed, worst);
  CHECK_MSG(inexact == 0, "rows %d in %d out %d beta %g transposed %d: %ld values differ from the scalar FMA chain",
            rows, in, out, beta, transposed, inexact);
  free(x), free(w), free(y), free(y0);
}

/* dW[in×out] += xᵀ·dy against a plain loop */
static void check_weight_grad(int rows, int in, int out, unsigned seed) {
  int ldx = in + 2;
  float *x = rand_floats((size_t)rows * ldx, &seed), *dy = rand_floats((size_t)rows * out, &seed);
  float *dw0 = rand_floats((size_t)in * out, &seed), *dw = malloc(sizeof(float) * (size_t)in * out);
  memcpy(dw, dw0, sizeof(float) * (size_t)in * out);
  bool ok = gemm_kernel_tn_acc(dw, x, ldx, dy, rows, in, out);
  CHECK_MSG(ok, "weight grad rows %d in %d out %d declined", rows, in, out);
  double worst = 0;
  for (int i = 0; ok && i < in; i++)
    for (int c = 0; c < out; c++) {
      double ref = dw0[(size_t)i * out + c];
      for (int r = 0; r < rows; r++) ref += (double)x[(size_t)r * ldx + i] * dy[(size_t)r * out + c];
      worst = fmax(worst, fabs(dw[(size_t)i * out + c] - ref) / (1.0 + fabs(ref)));
    }
  CHECK_MSG(worst < 1e-6 + 1e-7 * rows, "weight grad rows %d in %d out %d: relative error %g", rows, in, out, worst);
  free(x), free(dy), free(dw), free(dw0);
}

/* A row's result is the same bits alone, in a batch of 333 (several row
 * chunks, other tile shapes), at another position, on 1 or 2 threads. */
static void check_row_independence(int in, int out) {
  const int rows = 333;
  unsigned seed = 7;
  float *x = rand_floats((size_t)rows * in, &seed), *w = rand_floats((size_t)in * out, &seed);
  float *all1 = malloc(sizeof(float) * (size_t)rows * out), *all2 = malloc(sizeof(float) * (size_t)rows * out);
  float *one = malloc(sizeof(float) * out), *tail = malloc(sizeof(float) * (size_t)5 * out);
  int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  CHECK(gemm_kernel_nn(all1, out, x, in, w, rows, in, out, 0.0f));
  omp_set_num_threads(2);
  CHECK(gemm_kernel_nn(all2, out, x, in, w, rows, in, out, 0.0f));
  omp_set_num_threads(saved);
  CHECK_MSG(memcmp(all1, all2, sizeof(float) * (size_t)rows * out) == 0, "in %d out %d: 1 and 2 threads differ", in,
            out);
  int differ = 0;
  for (int r = 0; r < rows; r += 37) {
    CHECK(gemm_kernel_nn(one, out, x + (size_t)r * in, in, w, 1, in, out, 0.0f));
    differ += memcmp(one, all1 + (size_t)r * out, sizeof(float) * out) != 0;
  }
  /* rows 100-104: in the middle of a 6-row tile of the batch, a 5-row tile here */
  CHECK(gemm_kernel_nn(tail, out, x + (size_t)100 * in, in, w, 5, in, out, 0.0f));
  differ += memcmp(tail, all1 + (size_t)100 * out, sizeof(float) * 5 * out) != 0;
  CHECK_MSG(differ == 0, "in %d out %d: %d rows differ alone from in the batch", in, out, differ);
  free(x), free(w), free(all1), free(all2), free(one), free(tail);
}

static bool env_set(const char *name) {
  const char *v = getenv(name);
  return v && *v && strcmp(v, "0");
}

int main(void) {
  const char *isa = gemm_kernel_isa();
  printf("test_gemm_kernel: kernels %s\n", isa ? isa : "none (BLAS)");
  /* the switches choose the path they say */
  if (env_set("GRANITE_NO_AVX2")) CHECK(isa == NULL);
  if (env_set("GRANITE_NO_AVX512") && isa) CHECK(!strcmp(isa, "AVX2+FMA"));
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && !env_set("GRANITE_NO_AVX2"))
    CHECK(isa != NULL);
  float x[4] = {1, 2, 3, 4}, w[64] = {0}, y[64] = {7};
  if (!isa) { /* every call declines, leaving y alone */
    CHECK(!gemm_kernel_nn(y, 16, x, 4, w, 1, 4, 16, 0.0f));
    CHECK(!gemm_kernel_nt(y, 16, x, 4, w, 1, 4, 16, 0.0f));
    CHECK(!gemm_kernel_tn_acc(y, x, 4, w, 1, 4, 16));
    CHECK(y[0] == 7);
    return test_summary("test_gemm_kernel");
  }
  /* The sweep on one thread (on a loaded machine every parallel region
   * waits for a descheduled thread); the threaded split below. */
  int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const int wg_rows[] = {1, 5, 40, 333};
  const int wg_ins[] = {1, 6, 7, 128, 130};
  const int wg_outs[] = {1, 7, 16, 64, 80, 128, 131};
  unsigned wseed = 99;
  for (size_t a = 0; a < sizeof wg_rows / sizeof *wg_rows; a++)
    for (size_t b = 0; b < sizeof wg_ins / sizeof *wg_ins; b++)
      for (size_t c = 0; c < sizeof wg_outs / sizeof *wg_outs; c++)
        check_weight_grad(wg_rows[a], wg_ins[b], wg_outs[c], wseed++);
  const int rows[] = {1, 2, 3, 4, 5, 6, 7, 13, 64, 97, 300};
  const int ins[] = {1, 17, 128, 300};
  /* full vectors of both widths, and partial ones (masked lanes) */
  const int outs[] = {1, 3, 8, 9, 16, 24, 32, 48, 63, 64, 80, 100, 128, 256};
  unsigned seed = 1;
  for (size_t a = 0; a < sizeof rows / sizeof *rows; a++)
    for (size_t b = 0; b < sizeof ins / sizeof *ins; b++)
      for (size_t c = 0; c < sizeof outs / sizeof *outs; c++) {
        check_case(rows[a], ins[b], outs[c], 0.0f, seed++, false);
        check_case(rows[a], ins[b], outs[c], 1.0f, seed++, false);
        check_case(rows[a], ins[b], outs[c], 0.0f, seed++, true);
        check_case(rows[a], ins[b], outs[c], 1.0f, seed++, true);
      }
  omp_set_num_threads(threads > 1 ? threads : 2); /* chunks and dW rows shared out to threads */
  check_weight_grad(333, 130, 131, wseed++);
  check_case(300, 128, 100, 1.0f, seed++, false);
  check_case(300, 128, 100, 0.0f, seed++, true);
  check_row_independence(256, 256);
  check_row_independence(97, 1); /* the model's last layer: one column */
  check_row_independence(33, 45);
  /* cases it must decline, leaving y alone */
  CHECK(!gemm_kernel_nn(y, 16, x, 4, w, 1, 4, 16, 0.5f)); /* beta neither 0 nor 1 */
  CHECK(!gemm_kernel_nt(y, 16, x, 4, w, 1, 4, 16, 0.5f));
  CHECK(!gemm_kernel_nn(y, 16, x, 4, w, 0, 4, 16, 0.0f)); /* empty */
  CHECK(!gemm_kernel_nn(y, 16, x, 4, w, 1, 0, 16, 0.0f));
  CHECK(y[0] == 7);
  return test_summary("test_gemm_kernel");
}
