/* Error metrics per task over masked rows (spec §5.3) and evaluation extras. */
#include "train/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/common.h"

void percentile_ranks_default(PercentileRanks *p) {
  static const double defaults[] = {50, 90, 95, 99};
  p->num_ranks = 4;
  memcpy(p->ranks, defaults, sizeof defaults);
}

int percentile_ranks_parse(PercentileRanks *p, const char *text) {
  p->num_ranks = 0;
  const char *c = text;
  while (*c) {
    char *end;
    double q = strtod(c, &end);
    if (end == c || !(q >= 0 && q <= 100)) {
      gr_error("--gematria_collected_percentile_ranks: '%s' is not a list of numbers in [0, 100]",
               text);
      return -1;
    }
    if (p->num_ranks == METRICS_MAX_PERCENTILES) {
      gr_error("--gematria_collected_percentile_ranks: at most %d ranks", METRICS_MAX_PERCENTILES);
      return -1;
    }
    p->ranks[p->num_ranks++] = q;
    while (*end == ' ') end++;
    if (*end == ',') end++;
    else if (*end) {
      gr_error("--gematria_collected_percentile_ranks: unexpected '%c' in '%s'", *end, text);
      return -1;
    }
    c = end;
  }
  return 0;
}

static int compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* spec §5.3: "nearest" index round_half_even((n−1)·q/100), as TF rounds */
double percentile_nearest(const double *sorted, int64_t n, double q) {
  if (n <= 0) return NAN;
  double idx = nearbyint((double)(n - 1) * q / 100.0); /* default mode: half to even */
  if (idx < 0) idx = 0;
  if (idx > (double)(n - 1)) idx = (double)(n - 1);
  return sorted[(int64_t)idx];
}

/* --- Kendall's tau-b, Knight (1966): sort by (x, y), count pairs tied in x
 * and in (x, y); merge-sort by y counting swaps (discordant pairs); count
 * ties in y. tau_b = (n0 − n1 − n2 + n3 − 2·swaps) / sqrt((n0 − n1)(n0 − n2)). */
typedef struct {
  double x, y;
} Pair;

static int compare_pair_xy(const void *a, const void *b) {
  const Pair *p = a, *q = b;
  if (p->x != q->x) return p->x < q->x ? -1 : 1;
  return (p->y > q->y) - (p->y < q->y);
}

/* Sorts v[0..n) ascending (stable merge) and returns the number of swaps
 * an insertion sort would make = pairs with i < j and v[i] > v[j]. */
static int64_t merge_count(double *v, double *tmp, int64_t n) {
  if (n < 2) return 0;
  int64_t half = n / 2;
  int64_t swaps = merge_count(v, tmp, half) + merge_count(v + half, tmp, n - half);
  int64_t i = 0, j = half, k = 0;
  while (i < half && j < n) {
    if (v[j] < v[i]) {
      swaps += half - i;
      tmp[k++] = v[j++];
    } else {
      tmp[k++] = v[i++];
    }
  }
  while (i < half) tmp[k++] = v[i++];
  while (j < n) tmp[k++] = v[j++];
  memcpy(v, tmp, (size_t)n * sizeof *v);
  return swaps;
}

double kendall_tau_b(const double *x, const double *y, int64_t n) {
  if (n < 2) return NAN;
  Pair *p = xmalloc((size_t)n * sizeof *p);
  for (int64_t i = 0; i < n; i++) p[i] = (Pair){x[i], y[i]};
  qsort(p, (size_t)n, sizeof *p, compare_pair_xy);
  double n0 = (double)n * (double)(n - 1) / 2.0, n1 = 0, n3 = 0, n2 = 0;
  for (int64_t i = 0; i < n;) {
    int64_t j = i + 1;
    while (j < n && p[j].x == p[i].x) j++;
    n1 += (double)(j - i) * (double)(j - i - 1) / 2.0;
    for (int64_t a = i; a < j;) { /* runs of equal y inside the x-tie */
      int64_t b = a + 1;
      while (b < j && p[b].y == p[a].y) b++;
      n3 += (double)(b - a) * (double)(b - a - 1) / 2.0;
      a = b;
    }
    i = j;
  }
  double *ys = xmalloc((size_t)n * sizeof *ys), *tmp = xmalloc((size_t)n * sizeof *tmp);
  for (int64_t i = 0; i < n; i++) ys[i] = p[i].y;
  double swaps = (double)merge_count(ys, tmp, n);
  for (int64_t i = 0; i < n;) {
    int64_t j = i + 1;
    while (j < n && ys[j] == ys[i]) j++;
    n2 += (double)(j - i) * (double)(j - i - 1) / 2.0;
    i = j;
  }
  free(p);
  free(ys);
  free(tmp);
  double denom = sqrt((n0 - n1) * (n0 - n2));
  if (!(denom > 0)) return NAN;
  return (n0 - n1 - n2 + n3 - 2.0 * swaps) / denom;
}

double pearson_correlation(const double *x, const double *y, int64_t n) {
  if (n < 2) return NAN;
  double mx = 0, my = 0;
  for (int64_t i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= (double)n;
  my /= (double)n;
  double sxy = 0, sxx = 0, syy = 0;
  for (int64_t i = 0; i < n; i++) {
    double dx = x[i] - mx, dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (!(sxx > 0 && syy > 0)) return NAN;
  return sxy / sqrt(sxx * syy);
}

static void task_metrics_nan(TaskMetrics *t, int num_ranks) {
  t->absolute_mse = t->relative_mae = t->relative_mse = NAN;
  t->mae = t->rmse = t->mape = t->kendall_tau = t->pearson = NAN;
  for (int q = 0; q < num_ranks; q++)
    t->absolute_error_percentiles[q] = t->relative_error_percentiles[q] = NAN;
}

int metrics_compute(Metrics *out, const float *predictions, const float *labels,
                    const uint8_t *mask, int64_t rows, int num_tasks,
                    const PercentileRanks *ranks, bool with_eval) {
  memset(out, 0, sizeof *out);
  if (num_tasks < 1 || num_tasks > METRICS_MAX_TASKS) {
    gr_error("metrics: %d tasks (supported: 1..%d)", num_tasks, METRICS_MAX_TASKS);
    return -1;
  }
  out->num_tasks = num_tasks;
  if (ranks) out->ranks = *ranks;
  else percentile_ranks_default(&out->ranks);
  const int nq = out->ranks.num_ranks;
  double *abs_err = xmalloc((size_t)(rows > 0 ? rows : 1) * sizeof(double));
  double *rel_err = xmalloc((size_t)(rows > 0 ? rows : 1) * sizeof(double));
  double *pred = NULL, *label = NULL;
  if (with_eval) {
    pred = xmalloc((size_t)(rows > 0 ? rows : 1) * sizeof(double));
    label = xmalloc((size_t)(rows > 0 ? rows : 1) * sizeof(double));
  }
  for (int task = 0; task < num_tasks; task++) {
    TaskMetrics *t = &out->task[task];
    task_metrics_nan(t, nq);
    int64_t n = 0;
    double sum_a = 0, sum_a2 = 0, sum_r = 0, sum_r2 = 0;
    for (int64_t r = 0; r < rows; r++) {
      size_t i = (size_t)r * (size_t)num_tasks + (size_t)task;
      if (mask && !mask[i]) continue;
      double yhat = predictions[i], y = labels[i];
      double a = fabs(yhat - y), rel = a / y; /* spec §5.3: a/Y, Y not |Y| */
      abs_err[n] = a;
      rel_err[n] = rel;
      if (with_eval) {
        pred[n] = yhat;
        label[n] = y;
      }
      sum_a += a;
      sum_a2 += a * a;
      sum_r += rel;
      sum_r2 += rel * rel;
      n++;
    }
    t->count = n;
    if (n == 0) continue;
    t->absolute_mse = sum_a2 / (double)n;
    t->relative_mae = sum_r / (double)n;
    t->relative_mse = sum_r2 / (double)n;
    qsort(abs_err, (size_t)n, sizeof(double), compare_double);
    qsort(rel_err, (size_t)n, sizeof(double), compare_double);
    for (int q = 0; q < nq; q++) {
      t->absolute_error_percentiles[q] = percentile_nearest(abs_err, n, out->ranks.ranks[q]);
      t->relative_error_percentiles[q] = percentile_nearest(rel_err, n, out->ranks.ranks[q]);
    }
    if (with_eval) {
      t->mae = sum_a / (double)n;
      t->rmse = sqrt(t->absolute_mse);
      t->mape = 100.0 * t->relative_mae;
      t->kendall_tau = kendall_tau_b(pred, label, n);
      t->pearson = pearson_correlation(pred, label, n);
    }
  }
  free(abs_err);
  free(rel_err);
  free(pred);
  free(label);
  return 0;
}

static const char *task_name(const char *const *names, int i, char *buf, size_t cap) {
  if (names && names[i]) return names[i];
  snprintf(buf, cap, "task_%d", i + 1);
  return buf;
}

void metrics_print_table(FILE *f, const Metrics *m, const char *const *task_names) {
  char buf[32];
  fprintf(f, "%-16s %10s %9s %9s %9s %9s %8s %8s", "task", "count", "MAPE%", "MAE", "RMSE",
          "rel_mse", "tau_b", "pearson");
  for (int q = 0; q < m->ranks.num_ranks; q++) fprintf(f, "  APE%g%%", m->ranks.ranks[q]);
  fputc('\n', f);
  for (int i = 0; i < m->num_tasks; i++) {
    const TaskMetrics *t = &m->task[i];
    double mape = isnan(t->mape) ? 100.0 * t->relative_mae : t->mape;
    double mae = t->mae;
    double rmse = isnan(t->rmse) ? sqrt(t->absolute_mse) : t->rmse;
    fprintf(f, "%-16s %10lld %9.3f %9.4g %9.4g %9.4g %8.4f %8.4f",
            task_name(task_names, i, buf, sizeof buf), (long long)t->count, mape, mae, rmse,
            t->relative_mse, t->kendall_tau, t->pearson);
    for (int q = 0; q < m->ranks.num_ranks; q++)
      fprintf(f, " %7.2f", 100.0 * t->relative_error_percentiles[q]);
    fputc('\n', f);
  }
}

static void json_number(FILE *f, double x) {
  if (isfinite(x)) fprintf(f, "%.9g", x);
  else fputs("null", f);
}

static void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c < 0x20) fprintf(f, "\\u%04x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

static void json_percentiles(FILE *f, const char *key, const PercentileRanks *r,
                             const double *values) {
  fprintf(f, ", \"%s\": {", key);
  for (int q = 0; q < r->num_ranks; q++) {
    fprintf(f, "%s\"%g\": ", q ? ", " : "", r->ranks[q]);
    json_number(f, values[q]);
  }
  fputc('}', f);
}

void metrics_write_json(FILE *f, const Metrics *m, const char *const *task_names) {
  metrics_write_json_open(f, m, task_names);
  fputs("}\n", f);
}

void metrics_write_json_open(FILE *f, const Metrics *m, const char *const *task_names) {
  char buf[32];
  fputs("{\"tasks\": [", f);
  for (int i = 0; i < m->num_tasks; i++) {
    const TaskMetrics *t = &m->task[i];
    fputs(i ? ", {\"name\": " : "{\"name\": ", f);
    json_string(f, task_name(task_names, i, buf, sizeof buf));
    fprintf(f, ", \"count\": %lld", (long long)t->count);
    static const char *const keys[] = {"absolute_mse", "relative_mae", "relative_mse", "mae",
                                       "rmse",         "mape",         "kendall_tau",  "pearson"};
    const double values[] = {t->absolute_mse, t->relative_mae, t->relative_mse, t->mae,
                             t->rmse,         t->mape,         t->kendall_tau,  t->pearson};
    for (size_t k = 0; k < ARRAY_LEN(keys); k++) {
      fprintf(f, ", \"%s\": ", keys[k]);
      json_number(f, values[k]);
    }
    json_percentiles(f, "absolute_error_percentiles", &m->ranks, t->absolute_error_percentiles);
    json_percentiles(f, "relative_error_percentiles", &m->ranks, t->relative_error_percentiles);
    fputc('}', f);
  }
  fputs("]", f);
}
