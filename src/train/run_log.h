/* What a training run left in its checkpoint directory, read back for
 * `granite runs` (docs/accuracy-tools.md): its flags (flags.txt, written by
 * the trainer at every start; older runs: the training facts stored in the
 * newest checkpoint), and from metrics.jsonl the steps, the wall time, the
 * throughput and the validation curve. */
#ifndef GRANITE_TRAIN_RUN_LOG_H
#define GRANITE_TRAIN_RUN_LOG_H

#include <stdint.h>

typedef struct {
  int64_t step;
  double seconds; /* wall time since the run's first start (resumes add up) */
  double mape;    /* validation MAPE in percent, mean over the tasks */
} RunPoint;

typedef struct {
  char *dir;
  /* settings: flag name (without "--") -> value; from flags.txt, or the
   * few training flags the newest checkpoint keeps when there is no flags.txt */
  int num_settings;
  char **keys, **values;
  int from_flags_file; /* 1: flags.txt, 0: checkpoint facts, -1: neither */
  int64_t steps;       /* the last step logged */
  double wall_seconds; /* training time, all starts together */
  double blocks_per_sec; /* blocks trained / wall_seconds; NaN if unknown */
  int num_points;
  RunPoint *points; /* validation, in log order */
  double final_mape, best_mape; /* NaN without validation */
  int64_t best_step;
} RunLog;

/* Reads dir/flags.txt (or the newest checkpoint) and dir/metrics.jsonl. 0, or
 * -1 after one error line (no such directory, no metrics.jsonl, a line that
 * is not a metrics record: named by file and line). */
int run_log_load(RunLog *r, const char *dir);
void run_log_free(RunLog *r);

/* The value of a setting, or NULL. */
const char *run_log_setting(const RunLog *r, const char *key);

/* The setting names whose values are not the same in all runs (a name
 * missing from a run with a flags.txt counts as different; from a run read
 * from its checkpoint, as unknown), in first-seen order; the
 * checkpoint directory, which always differs, is left out. Returns the count;
 * *keys (free the array, not the strings: they belong to the runs). */
int run_logs_differing(const RunLog *runs, int n, const char ***keys);

#endif
