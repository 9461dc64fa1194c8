/* Training progress: a line every few seconds on stderr (a live `\r` bar when
 * stderr is a terminal, plain lines otherwise) and a JSON-lines metrics log
 * (metrics.jsonl in the checkpoint directory) that plotting tools can read. */
#ifndef GRANITE_TRAIN_PROGRESS_H
#define GRANITE_TRAIN_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "train/metrics.h"

typedef struct {
  double start_time, last_print;
  double interval; /* seconds between lines */
  bool tty;        /* stderr is a terminal: redraw one line */
  bool bar_open;   /* a \r line is on screen without its newline */
  int64_t first_step;  /* global step when the run started */
  int64_t target_step; /* stop at this global step; 0 = until interrupted */
  int num_tasks;
  const char *const *task_names;
  /* sums since the last line */
  int64_t steps, blocks;
  double loss_sum, mape_sum[METRICS_MAX_TASKS];
  int64_t mape_count[METRICS_MAX_TASKS];
  int64_t total_blocks;
  FILE *jsonl; /* NULL: no log */
} Progress;

/* jsonl_path may be NULL. Opens the log for appending (a resumed run adds to
 * it, after a record {"step": first_step, "resumed": true}: records of a
 * crashed run with a larger step are superseded). 0, or -1 after an error
 * line. */
int progress_init(Progress *p, int64_t first_step, int64_t target_step, double interval, int num_tasks,
                  const char *const *task_names, const char *jsonl_path);

/* Records one finished training step (global step after the update); prints
 * a line and writes a log record when the interval has passed or force is
 * set. task_relative_mae[num_tasks] may hold NaN for tasks without labels. */
void progress_step(Progress *p, int64_t step, int blocks, double loss, const double *task_relative_mae, double lr,
                   bool force);

/* Prints and logs validation metrics computed at step. */
void progress_validation(Progress *p, int64_t step, const Metrics *m, bool is_best);

/* Ends a live bar line before other output (checkpoint messages, errors). */
void progress_break_line(Progress *p);

void progress_close(Progress *p);

/* "1h02m", "3m20s", "12s" */
void format_duration(double seconds, char *buf, size_t size);

#endif
