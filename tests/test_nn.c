/* The nn/ kernels against plain double-precision loops, and their backward
 * passes against finite differences. Sizes are large enough that the
 * OpenMP-parallel branches run. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/activation.h"
#include "nn/embedding.h"
#include "nn/layernorm.h"
#include "nn/linear.h"
#include "nn/segment.h"
#include "testing.h"
#include "util/rng.h"

static Rng rng;

static float *randv(size_t n, float scale) {
  float *p = malloc(sizeof(float) * n);
  for (size_t i = 0; i < n; i++) p[i] = (float)((2 * rng_uniform(&rng) - 1) * scale);
  return p;
}

static int32_t *randi(size_t n, int below) {
  int32_t *p = malloc(sizeof(int32_t) * n);
  for (size_t i = 0; i < n; i++) p[i] = (int32_t)rng_below(&rng, below);
  return p;
}

static double max_rel(const float *a, const double *b, size_t n) {
  double scale = 1e-6, worst = 0;
  for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(b[i]));
  for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(a[i] - b[i]) / scale);
  return worst;
}

static void test_matmul(void) {
  int rows = 301, in = 70, out = 90;
  float *x = randv((size_t)rows * in, 1), *w = randv((size_t)in * out, 1), *b = randv(out, 1);
  float *y = malloc(sizeof(float) * rows * out);
  double *ref = calloc((size_t)rows * out, sizeof(double));
  BiasAct ba = {b, true};
  matmul_forward_then(y, out, x, in, w, rows, in, out, &(RowEpilogue){bias_act_rows, &ba});
  for (int r = 0; r < rows; r++)
    for (int o = 0; o < out; o++) {
      double s = b[o];
      for (int k = 0; k < in; k++) s += (double)x[r * in + k] * w[k * out + o];
      ref[r * out + o] = s > 0 ? s : 0.1 * s;
    }
  CHECK(max_rel(y, ref, (size_t)rows * out) < 1e-5);

  /* backward: dx = dy·Wᵀ (accumulated onto 1), dW += xᵀ·dy, db += Σ dy */
  float *dy = randv((size_t)rows * out, 1), *dx = malloc(sizeof(float) * rows * in);
  float *dw = calloc((size_t)in * out, sizeof(float)), *db = calloc(out, sizeof(float));
  for (int i = 0; i < rows * in; i++) dx[i] = 1.0f;
  matmul_backward_input(dx, in, dy, w, rows, in, out, 1.0f);
  matmul_backward_weight(dw, x, in, dy, rows, in, out);
  bias_backward(db, dy, rows, out);
  double *rdx = malloc(sizeof(double) * rows * in), *rdw = calloc((size_t)in * out, sizeof(double));
  double *rdb = calloc(out, sizeof(double));
  for (int r = 0; r < rows; r++)
    for (int k = 0; k < in; k++) {
      double s = 1.0;
      for (int o = 0; o < out; o++) s += (double)dy[r * out + o] * w[k * out + o];
      rdx[r * in + k] = s;
    }
  for (int r = 0; r < rows; r++)
    for (int o = 0; o < out; o++) {
      rdb[o] += dy[r * out + o];
      for (int k = 0; k < in; k++) rdw[k * out + o] += (double)x[r * in + k] * dy[r * out + o];
    }
  CHECK(max_rel(dx, rdx, (size_t)rows * in) < 1e-5);
  CHECK(max_rel(dw, rdw, (size_t)in * out) < 1e-5);
  CHECK(max_rel(db, rdb, out) < 1e-5);
  free(x); free(w); free(b); free(y); free(ref); free(dy); free(dx); free(dw); free(db);
  free(rdx); free(rdw); free(rdb);
}

static void test_leaky(void) {
  float x[6] = {-2, -0.5f, 0, 0.5f, 3, -1e-3f}, d[6] = {1, 1, 1, 1, 1, 2};
  leaky_relu_forward(x, 6);
  CHECK_NEAR(x[0], -0.2, 1e-6, 1e-7);
  CHECK_NEAR(x[4], 3.0, 1e-6, 1e-7);
  CHECK(x[2] == 0.0f);
  leaky_relu_backward(d, x, 6);
  CHECK_NEAR(d[0], 0.1, 1e-6, 0);
  CHECK_NEAR(d[2], 0.1, 1e-6, 0); /* TF: f'(0) = alpha */
  CHECK_NEAR(d[3], 1.0, 1e-6, 0);
  CHECK_NEAR(d[5], 0.2, 1e-6, 0);

  /* fused mask + bias gradient = the two separate passes */
  int rows = 400, dim = 50;
  float *y = randv((size_t)rows * dim, 1), *g1 = randv((size_t)rows * dim, 1);
  float *g2 = malloc(sizeof(float) * rows * dim), *b1 = calloc(dim, sizeof(float)), *b2 = calloc(dim, sizeof(float));
  memcpy(g2, g1, sizeof(float) * rows * dim);
  leaky_bias_backward(g1, y, b1, rows, dim);
  leaky_relu_backward(g2, y, (long)rows * dim);
  bias_backward(b2, g2, rows, dim);
  CHECK(memcmp(g1, g2, sizeof(float) * rows * dim) == 0);
  CHECK(memcmp(b1, b2, sizeof(float) * dim) == 0);
  free(y); free(g1); free(g2); free(b1); free(b2);
}

/* scalar L = Σ c·LN(x) for the FD check */
static double ln_loss(const float *x, const float *g, const float *b, const float *c, int rows,
                      int dim) {
  double L = 0;
  for (int r = 0; r < rows; r++) {
    double mu = 0, var = 0;
    for (int k = 0; k < dim; k++) mu += x[r * dim + k];
    mu /= dim;
    for (int k = 0; k < dim; k++) var += (x[r * dim + k] - mu) * (x[r * dim + k] - mu);
    var /= dim;
    for (int k = 0; k < dim; k++)
      L += c[r * dim + k] * ((x[r * dim + k] - mu) / sqrt(var + 1e-3) * g[k] + b[k]);
  }
  return L;
}

/* Whether a and b agree: bit for bit when gcc built the generic loop (the
 * AVX2 rows repeat the order of gcc's vectorised reductions); within 1e-5
 * relative under other compilers (clang, the sanitized build), whose
 * vectoriser adds the lanes in another order. */
static bool same_floats(const float *a, const float *b, size_t n) {
#if defined(__GNUC__) && !defined(__clang__)
  return !memcmp(a, b, sizeof(float) * n);
#else
  for (size_t i = 0; i < n; i++)
    if (!(fabsf(a[i] - b[i]) <= 1e-5f * fmaxf(1.0f, fabsf(a[i])))) return false;
  return true;
#endif
}

/* The AVX2 rows (4 side by side) give the generic loop's bits: outputs,
 * means and rstd, every group size, dims that are multiples of 8. */
static void test_layernorm_rows_exact(void) {
  const int dims[] = {8, 16, 24, 128, 136, 256};
  const int rows_list[] = {1, 2, 3, 4, 5, 7, 9, 37};
  for (size_t a = 0; a < sizeof dims / sizeof *dims; a++)
    for (size_t r = 0; r < sizeof rows_list / sizeof *rows_list; r++) {
      int dim = dims[a], rows = rows_list[r];
      size_t n = (size_t)rows * dim;
      float *x = randv(n, 3), *g = randv(dim, 1), *b = randv(dim, 1);
      x[0] += 50.0f; /* a large mean */
      float *y1 = malloc(sizeof(float) * n), *y2 = malloc(sizeof(float) * n);
      float *m1 = malloc(sizeof(float) * rows), *m2 = malloc(sizeof(float) * rows);
      float *s1 = malloc(sizeof(float) * rows), *s2 = malloc(sizeof(float) * rows);
      layernorm_generic = false;
      layernorm_forward(y1, m1, s1, x, g, b, rows, dim);
      layernorm_generic = true;
      layernorm_forward(y2, m2, s2, x, g, b, rows, dim);
      layernorm_generic = false;
      CHECK_MSG(same_floats(y1, y2, n) && same_floats(m1, m2, rows) && same_floats(s1, s2, rows),
                "layernorm rows %d dim %d: the vector rows differ from the generic loop", rows, dim);
      free(x), free(g), free(b), free(y1), free(y2), free(m1), free(m2), free(s1), free(s2);
    }
}

static void test_layernorm(void) {
  int rows = 260, dim = 70;
  float *x = randv((size_t)rows * dim, 1), *g = randv(dim, 1), *b = randv(dim, 1);
  float *c = randv((size_t)rows * dim, 1);
  x[5] += 100.0f; /* a large mean in one row */
  float *y = malloc(sizeof(float) * rows * dim), *mean = malloc(sizeof(float) * rows);
  float *rstd = malloc(sizeof(float) * rows);
  layernorm_forward(y, mean, rstd, x, g, b, rows, dim);
  /* forward against double: Σ c·y */
  double Ly = 0;
  for (int i = 0; i < rows * dim; i++) Ly += (double)c[i] * y[i];
  double Lref = ln_loss(x, g, b, c, rows, dim);
  CHECK_NEAR(Ly, Lref, 1e-5, 1e-4);
  /* eps is 1e-3: a constant row gives beta exactly and a tiny-variance row is damped */
  float cx[4] = {2, 2, 2, 2}, cg[4] = {1, 1, 1, 1}, cb[4] = {0.5f, 0, 0, 0}, cy[4], cm, cr;
  layernorm_forward(cy, &cm, &cr, cx, cg, cb, 1, 4);
  CHECK_NEAR(cy[0], 0.5, 0, 1e-7);
  CHECK_NEAR(cr, 1.0 / sqrt(1e-3), 1e-5, 0);

  float *dx = calloc((size_t)rows * dim, sizeof(float)), *dg = calloc(dim, sizeof(float));
  float *dbeta = calloc(dim, sizeof(float));
  layernorm_backward(dx, dg, dbeta, c, x, mean, rstd, g, rows, dim);
  /* central differences in double on a few coordinates */
  double worst = 0;
  int probes[][2] = {{0, 0}, {0, 5}, {3, 17}, {100, 69}, {259, 1}};
  for (int p = 0; p < 5; p++) {
    int i = probes[p][0] * dim + probes[p][1];
    float save = x[i], h = 1e-2f;
    x[i] = save + h;
    double Lp = ln_loss(x, g, b, c, rows, dim);
    x[i] = save - h;
    double Lm = ln_loss(x, g, b, c, rows, dim);
    x[i] = save;
    double fd = (Lp - Lm) / (2.0 * h);
    worst = fmax(worst, fabs(fd - dx[i]) / fmax(fabs(fd), 1e-2));
  }
  for (int k = 0; k < dim; k += 13) {
    float save = g[k], h = 1e-2f;
    g[k] = save + h;
    double Lp = ln_loss(x, g, b, c, rows, dim);
    g[k] = save - h;
    double Lm = ln_loss(x, g, b, c, rows, dim);
    g[k] = save;
    worst = fmax(worst, fabs((Lp - Lm) / (2 * h) - dg[k]) / fmax(fabs(dg[k]), 1e-2));
    double sb = 0;
    for (int r = 0; r < rows; r++) sb += c[r * dim + k];
    worst = fmax(worst, fabs(sb - dbeta[k]) / fmax(fabs(sb), 1e-2));
  }
  printf("layernorm backward worst rel err %.3g\n", worst);
  fflush(stdout);
  CHECK(worst < 2e-3);
  free(x); free(g); free(b); free(c); free(y); free(mean); free(rstd); free(dx); free(dg); free(dbeta);
}

static void test_segments(void) {
  int n = 3000, segs = 700, dim = 40, ld = 50;
  int32_t *seg = randi(n, segs), *off = malloc(sizeof(int32_t) * (segs + 1)), *items = malloc(sizeof(int32_t) * n);
  csr_build(off, items, seg, n, segs);
  CHECK(off[0] == 0 && off[segs] == n);
  int ordered = 1;
  for (int s = 0; s < segs; s++)
    for (int j = off[s]; j < off[s + 1]; j++) {
      ordered &= seg[items[j]] == s;
      if (j > off[s]) ordered &= items[j] > items[j - 1];
    }
  CHECK(ordered);
  float *in = randv((size_t)n * ld, 1), *out = malloc(sizeof(float) * segs * ld);
  double *ref = calloc((size_t)segs * dim, sizeof(double));
  segment_sum_csr(out, ld, in, ld, off, items, segs, dim); /* strided in and out */
  for (int i = 0; i < n; i++)
    for (int k = 0; k < dim; k++) ref[seg[i] * dim + k] += in[i * ld + k];
  double worst = 0;
  for (int s = 0; s < segs; s++)
    for (int k = 0; k < dim; k++) worst = fmax(worst, fabs(out[s * ld + k] - ref[s * dim + k]));
  CHECK(worst < 1e-5);

  /* scatter_add_rows with repeated indices = the same sums */
  float *table = calloc((size_t)segs * dim, sizeof(float));
  scatter_add_rows(table, dim, in, ld, seg, n, dim);
  CHECK(max_rel(table, ref, (size_t)segs * dim) < 1e-6);

  /* contiguous ranges */
  int32_t ranges[4] = {0, 5, 5, 9};
  float small_in[9 * 2], small_out[3 * 2];
  for (int i = 0; i < 18; i++) small_in[i] = (float)i;
  segment_sum_ranges(small_out, 2, small_in, 2, ranges, 3, 2);
  CHECK(small_out[0] == 0 + 2 + 4 + 6 + 8 && small_out[2] == 0.0f && small_out[5] == 11 + 13 + 15 + 17);

  /* gathers */
  float *g = malloc(sizeof(float) * n * dim);
  gather_rows(g, dim, table, dim, seg, n, dim);
  CHECK(memcmp(g + 7 * dim, table + seg[7] * dim, sizeof(float) * dim) == 0);
  gather_rows_add(g, dim, table, dim, seg, n, dim);
  CHECK(g[11 * dim + 3] == 2 * table[seg[11] * dim + 3]);

  /* embedding bag = bias + Σ rows; backward scatters into the table and the bias */
  int V = 30, G = 8, B = 3;
  int32_t ids[7] = {1, 4, 1, 29, 0, 4, 4}, bag_off[4] = {0, 3, 3, 7};
  float *W = randv((size_t)V * G, 1), *bias = randv(G, 1), u[3 * 8];
  embedding_bag_forward(u, W, bias, ids, bag_off, B, G);
  CHECK_NEAR(u[0 * G + 2], bias[2] + 2 * W[1 * G + 2] + W[4 * G + 2], 1e-6, 1e-6);
  CHECK_NEAR(u[1 * G + 5], bias[5], 0, 0);
  CHECK_NEAR(u[2 * G + 1], bias[1] + W[29 * G + 1] + W[0 * G + 1] + 2 * W[4 * G + 1], 1e-6, 1e-6);
  float du[3 * 8], *dW = calloc((size_t)V * G, sizeof(float)), dbias[8] = {0};
  for (int i = 0; i < B * G; i++) du[i] = (float)(i + 1);
  embedding_bag_backward(dW, dbias, du, ids, bag_off, B, G);
  CHECK_NEAR(dW[4 * G + 0], du[0] + 2 * du[2 * G], 0, 1e-6);
  CHECK_NEAR(dW[1 * G + 7], 2 * du[7], 0, 1e-6);
  CHECK_NEAR(dbias[3], du[3] + du[G + 3] + du[2 * G + 3], 0, 1e-6);
  free(seg); free(off); free(items); free(in); free(out); free(ref); free(table); free(g); free(W);
  free(bias); free(dW);
}

int main(void) {
  rng_seed(&rng, 42);
  test_matmul();
  test_leaky();
  test_layernorm();
  test_layernorm_rows_exact();
  test_segments();
  return test_summary("test_nn");
}
