/* Metrics over masked rows (spec §5.3): hand-made vectors, "nearest"
 * percentiles with half-to-even rounding, Kendall tau-b with ties against an
 * O(n²) reference, Pearson, JSON/table output. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include "testing.h"
#include "train/metrics.h"
#include "util/common.h"
#include "util/rng.h"

static void test_percentile_nearest(void) {
  const double v5[] = {0.1, 0.2, 0.3, 0.4, 0.5};
  CHECK(percentile_nearest(v5, 5, 50) == 0.3);  /* index 2 */
  CHECK(percentile_nearest(v5, 5, 90) == 0.5);  /* 3.6 → 4 */
  CHECK(percentile_nearest(v5, 5, 60) == 0.3);  /* 2.4 → 2 */
  CHECK(percentile_nearest(v5, 5, 0) == 0.1);
  CHECK(percentile_nearest(v5, 5, 100) == 0.5);
  const double v2[] = {1, 2};
  CHECK(percentile_nearest(v2, 2, 50) == 1);    /* 0.5 → 0 (half to even) */
  const double v4[] = {1, 2, 3, 4};
  CHECK(percentile_nearest(v4, 4, 50) == 3);    /* 1.5 → 2 */
  const double v6[] = {1, 2, 3, 4, 5, 6};
  CHECK(percentile_nearest(v6, 6, 50) == 3);    /* 2.5 → 2 */
  CHECK(percentile_nearest(v6, 6, 70) == 5);    /* 3.5 → 4 */
  CHECK(isnan(percentile_nearest(v6, 0, 50)));
}

static void test_ranks_parse(void) {
  PercentileRanks p;
  CHECK(percentile_ranks_parse(&p, "50,90, 99.5") == 0 && p.num_ranks == 3 && p.ranks[2] == 99.5);
  CHECK(percentile_ranks_parse(&p, "50,x") == -1);
  CHECK(percentile_ranks_parse(&p, "101") == -1);
  percentile_ranks_default(&p);
  CHECK(p.num_ranks == 4 && p.ranks[0] == 50 && p.ranks[3] == 99);
}

/* Two tasks, row-major. Task 0 has rows 0-3 valid and row 4 masked (its
 * label 0 would make relative errors infinite); task 1 only row 1. */
static void test_compute_small(void) {
  const float pred[10] = {1.1f, 9, 2.0f, 3, 3.0f, 9, 5.0f, 9, 7.0f, 9};
  const float label[10] = {1.0f, 9, 2.5f, 2, 3.0f, 9, 4.0f, 9, 0.0f, 9};
  const uint8_t mask[10] = {1, 0, 1, 1, 1, 0, 1, 0, 0, 0};
  Metrics m;
  PercentileRanks r;
  percentile_ranks_default(&r);
  CHECK(metrics_compute(&m, pred, label, mask, 5, 2, &r, true) == 0);
  const TaskMetrics *t = &m.task[0];
  CHECK(t->count == 4);
  CHECK_NEAR(t->absolute_mse, 0.315, 1e-6, 0);
  CHECK_NEAR(t->relative_mae, 0.1375, 1e-6, 0);
  CHECK_NEAR(t->relative_mse, 0.028125, 1e-6, 0);
  CHECK_NEAR(t->mae, 0.4, 1e-6, 0);
  CHECK_NEAR(t->rmse, sqrt(0.315), 1e-6, 0);
  CHECK_NEAR(t->mape, 13.75, 1e-6, 0);
  /* sorted a = 0, 0.1, 0.5, 1: 50% → index round(1.5) = 2; 90%..99% → 3 */
  CHECK_NEAR(t->absolute_error_percentiles[0], 0.5, 1e-6, 0);
  CHECK_NEAR(t->absolute_error_percentiles[1], 1.0, 1e-6, 0);
  CHECK_NEAR(t->absolute_error_percentiles[3], 1.0, 1e-6, 0);
  CHECK_NEAR(t->relative_error_percentiles[0], 0.2, 1e-6, 0);
  CHECK_NEAR(t->relative_error_percentiles[1], 0.25, 1e-6, 0);
  CHECK_NEAR(t->kendall_tau, 1.0, 1e-12, 0);
  CHECK(t->pearson > 0.9 && t->pearson < 1.0);
  const TaskMetrics *u = &m.task[1];
  CHECK(u->count == 1);
  CHECK_NEAR(u->absolute_mse, 1.0, 1e-9, 0);
  CHECK_NEAR(u->relative_mae, 0.5, 1e-9, 0);
  CHECK(isnan(u->kendall_tau) && isnan(u->pearson)); /* one row: undefined */
  /* without eval extras those stay NaN */
  CHECK(metrics_compute(&m, pred, label, mask, 5, 2, &r, false) == 0);
  CHECK(isnan(m.task[0].mape) && isnan(m.task[0].kendall_tau));
  CHECK_NEAR(m.task[0].relative_mae, 0.1375, 1e-6, 0);
  /* a task with no rows at all */
  const uint8_t none[10] = {0};
  CHECK(metrics_compute(&m, pred, label, none, 5, 2, &r, true) == 0);
  CHECK(m.task[0].count == 0 && isnan(m.task[0].relative_mae) && isnan(m.task[0].absolute_error_percentiles[0]));
  CHECK(metrics_compute(&m, pred, label, mask, 5, 0, &r, true) == -1);
}

static void test_kendall_small(void) {
  const double x[] = {1, 2, 3, 4, 5}, y[] = {5, 4, 3, 2, 1};
  CHECK_NEAR(kendall_tau_b(x, y, 5), -1.0, 1e-12, 0);
  CHECK_NEAR(kendall_tau_b(x, x, 5), 1.0, 1e-12, 0);
  /* x tie in one pair: tau_b = 5 / sqrt(5·6) */
  const double a[] = {1, 2, 2, 3}, b[] = {1, 3, 2, 4};
  CHECK_NEAR(kendall_tau_b(a, b, 4), 5.0 / sqrt(30.0), 1e-12, 0);
  const double c[] = {7, 7, 7};
  CHECK(isnan(kendall_tau_b(c, x, 3))); /* constant side */
  CHECK(isnan(kendall_tau_b(x, y, 1)));
}

static double kendall_reference(const double *x, const double *y, int n) {
  double conc = 0, disc = 0, tx = 0, ty = 0;
  for (int i = 0; i < n; i++) {
    for (int j = i + 1; j < n; j++) {
      double dx = x[i] - x[j], dy = y[i] - y[j];
      if (dx == 0 && dy == 0) continue;
      if (dx == 0) tx++;
      else if (dy == 0) ty++;
      else if ((dx > 0) == (dy > 0)) conc++;
      else disc++;
    }
  }
  return (conc - disc) / sqrt((conc + disc + tx) * (conc + disc + ty));
}

static void test_kendall_random(void) {
  enum { N = 2000 };
  double *x = xmalloc(N * sizeof *x), *y = xmalloc(N * sizeof *y);
  Rng rng;
  rng_seed(&rng, 7);
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < N; i++) {
      double u = (double)(rng_next(&rng) >> 11) / 9007199254740992.0;
      double w = (double)(rng_next(&rng) >> 11) / 9007199254740992.0;
      if (round == 0) { /* many ties on both sides, correlated */
        x[i] = floor(u * 10);
        y[i] = floor((u + 0.5 * w) * 7);
      } else if (round == 1) { /* continuous */
        x[i] = u;
        y[i] = u - 2 * w;
      } else { /* ties on x only */
        x[i] = floor(u * 3);
        y[i] = w;
      }
    }
    double fast = kendall_tau_b(x, y, N), slow = kendall_reference(x, y, N);
    CHECK_MSG(fabs(fast - slow) < 1e-12, "round %d: %.15g vs %.15g", round, fast, slow);
  }
  free(x);
  free(y);
}

static void test_kendall_speed(void) {
  enum { N = 130000 }; /* an eval set's size */
  double *x = xmalloc(N * sizeof *x), *y = xmalloc(N * sizeof *y);
  Rng rng;
  rng_seed(&rng, 9);
  for (int i = 0; i < N; i++) {
    x[i] = (double)(rng_next(&rng) % 5000);
    y[i] = x[i] + (double)(rng_next(&rng) % 1000);
  }
  /* CPU time, not wall time: on a shared machine the wall clock measures the load */
  clock_t t0 = clock();
  double tau = kendall_tau_b(x, y, N);
  double dt = (double)(clock() - t0) / CLOCKS_PER_SEC;
  printf("kendall_tau_b over %d points: %.3f CPU s (tau %.4f)\n", N, dt, tau);
  CHECK(dt < 2.0);
  CHECK(tau > 0.5 && tau < 1.0);
  free(x);
  free(y);
}

static void test_pearson(void) {
  const double x[] = {1, 2, 3, 4}, y[] = {2, 4, 6, 8.5}, z[] = {8, 6, 4, 2}, c[] = {1, 1, 1, 1};
  CHECK_NEAR(pearson_correlation(x, y, 4), 0.99838143945703, 1e-12, 0);
  CHECK_NEAR(pearson_correlation(x, z, 4), -1.0, 1e-12, 0);
  CHECK(isnan(pearson_correlation(x, c, 4)));
}

static void test_output(void) {
  const float pred[4] = {1, 2, 3, 4}, label[4] = {1, 2, 2, 5};
  const uint8_t mask[4] = {1, 1, 1, 0};
  Metrics m;
  CHECK(metrics_compute(&m, pred, label, mask, 2, 2, NULL, true) == 0);
  const char *names[2] = {"skl", "hsw \"q\""};
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  metrics_write_json(f, &m, names);
  fclose(f);
  CHECK(strncmp(buf, "{\"tasks\": [{\"name\": \"skl\"", 25) == 0);
  CHECK(strstr(buf, "\"hsw \\\"q\\\"\"") != NULL); /* quotes escaped */
  CHECK(strstr(buf, "\"kendall_tau\": null") != NULL); /* task 2 has one row: NaN → null */
  CHECK(strstr(buf, "nan") == NULL);
  CHECK(strstr(buf, "\"50\": ") != NULL);
  free(buf);
  buf = NULL;
  f = open_memstream(&buf, &len);
  metrics_print_table(f, &m, NULL);
  fclose(f);
  CHECK(strstr(buf, "MAPE%") && strstr(buf, "task_1") && strstr(buf, "task_2"));
  free(buf);
}

int main(void) {
  test_percentile_nearest();
  test_ranks_parse();
  test_compute_small();
  test_kendall_small();
  test_kendall_random();
  test_kendall_speed();
  test_pearson();
  test_output();
  return test_summary("test_metrics");
}
