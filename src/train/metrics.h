/* Per-task error metrics over masked rows (spec §5.3), and the evaluation
 * extras (MAE, RMSE, MAPE, Kendall's tau-b, Pearson; spec §5.9). */
#ifndef GRANITE_TRAIN_METRICS_H
#define GRANITE_TRAIN_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define METRICS_MAX_PERCENTILES 16
#define METRICS_MAX_TASKS 16

typedef struct {
  int num_ranks;
  double ranks[METRICS_MAX_PERCENTILES]; /* e.g. 50 90 95 99 */
} PercentileRanks;

/* --gematria_collected_percentile_ranks default: 50,90,95,99. */
void percentile_ranks_default(PercentileRanks *p);
/* Parses "50,90,95,99" (each in [0,100]). 0, or -1 after an error line. */
int percentile_ranks_parse(PercentileRanks *p, const char *text);

typedef struct {
  int64_t count; /* masked-in rows of this task; 0 ⇒ every value below is NaN */
  /* spec §5.3, computed every training step */
  double absolute_mse;  /* mean(a²), a = |ŷ − y| */
  double relative_mae;  /* mean(a/y): MAPE as a fraction */
  double relative_mse;  /* mean((a/y)²) */
  double absolute_error_percentiles[METRICS_MAX_PERCENTILES];
  double relative_error_percentiles[METRICS_MAX_PERCENTILES];
  /* evaluation extras (only when computed with with_eval = true, else NaN) */
  double mae;          /* mean(a) */
  double rmse;         /* sqrt(absolute_mse) */
  double mape;         /* 100·relative_mae, in percent */
  double kendall_tau;  /* tau-b between ŷ and y (ties handled) */
  double pearson;      /* Pearson correlation between ŷ and y */
} TaskMetrics;

typedef struct {
  int num_tasks;
  PercentileRanks ranks;
  TaskMetrics task[METRICS_MAX_TASKS];
} Metrics;

/* predictions, labels, mask: [rows*num_tasks] row-major (row, then task), the
 * layout of Batch.labels / label_mask. with_eval adds the O(n log n) extras.
 * 0, or -1 after an error line (num_tasks out of range). */
int metrics_compute(Metrics *out, const float *predictions, const float *labels,
                    const uint8_t *mask, int64_t rows, int num_tasks,
                    const PercentileRanks *ranks, bool with_eval);

/* "Nearest" percentile of an ascending array (spec §5.3): element at index
 * round_half_even((n−1)·q/100), clipped to [0, n−1]. NaN when n = 0. */
double percentile_nearest(const double *sorted, int64_t n, double q);
/* Kendall's tau-b in O(n log n) (Knight's algorithm). NaN if n < 2 or one
 * side is constant. */
double kendall_tau_b(const double *x, const double *y, int64_t n);
/* Pearson correlation; NaN if n < 2 or a side is constant. */
double pearson_correlation(const double *x, const double *y, int64_t n);

/* Human table: one row per task. task_names may be NULL ("task_<i>"). */
void metrics_print_table(FILE *f, const Metrics *m, const char *const *task_names);
/* One JSON object {"tasks":[{"name":..., "count":..., "mape":...}, ...]};
 * NaN/Inf are written as null. */
void metrics_write_json(FILE *f, const Metrics *m, const char *const *task_names);
/* The same object without its closing "}\n", for callers that add keys. */
void metrics_write_json_open(FILE *f, const Metrics *m, const char *const *task_names);

#endif
