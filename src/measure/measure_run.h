/* `granite measure` as a library call: read blocks, measure them on one
 * pinned worker process per core, write the labelled records and a CSV,
 * summarize on stderr. */
#ifndef GRANITE_MEASURE_MEASURE_RUN_H
#define GRANITE_MEASURE_MEASURE_RUN_H

#include "measure/measure_block.h"
#include "measure/measure_input.h"

typedef struct {
  MeasureOptions opt;
  int jobs;               /* worker processes (0: one per allowed CPU) */
  const char *output;     /* .tfrecord to write, or NULL */
  const char *csv;        /* CSV to write, or NULL */
  const char *source;     /* throughput source name; NULL: "measured: <CPU>" */
  int per_iteration;      /* the record's value in cycles per iteration (default: per 100, BHive's unit) */
  int use_median;         /* the record's value from the medians instead of the minimums */
  int keep_unmeasured;    /* write records that could not be measured, unchanged */
  int quiet;              /* no progress, no summary */
  double progress_every;  /* seconds between progress lines (default 2) */
} MeasureRunConfig;

void measure_run_config_default(MeasureRunConfig *c);

/* 0 when every block has a result (measured or a reason) and the outputs
 * are written; 1 if SIGINT/SIGTERM stopped the run (the outputs are written
 * with what was measured; the rest is reported as interrupted); -1 after an
 * error line (unreadable input, unwritable output). */
int measure_run(const MeasureRunConfig *c, char *const *inputs, int num_inputs);

/* Measures blocks[0..n) on *jobs pinned worker processes (0: one per
 * allowed CPU; set to the number used); results[i] for blocks[i];
 * *finished = blocks the workers finished (all, unless interrupted). Progress
 * on stderr unless quiet. 0; 1 if SIGINT/SIGTERM stopped it (results of the
 * blocks not reached say so); -1 after an error line. */
int measure_parallel(const MeasureOptions *opt, const InputBlocks *blocks, int *jobs, int quiet,
                     double progress_every, MeasureResult *results, size_t *finished);

/* The outputs (measure_output.c). */
int measure_write_csv(const char *path, char *const *inputs, const InputBlocks *blocks, const MeasureResult *results);
int measure_write_tfrecord(const MeasureRunConfig *c, const char *source, char *const *inputs, int num_inputs,
                           const InputBlocks *blocks, const MeasureResult *results, long *written);
/* The value written to a record: cycles per iteration or per 100. */
double measure_label_value(const MeasureRunConfig *c, const MeasureResult *r);

#endif
