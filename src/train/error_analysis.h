/* Where a model's error is: MAPE, count and share of the total error per
 * group of blocks (size, division, loads, stores, push/pop chains, vector
 * registers, loop-carried dependencies, label deciles, graph seen in
 * training), over- and under-prediction, and the worst blocks. `granite eval`
 * prints it (docs/accuracy-tools.md). The error of a block is its relative
 * error |prediction - label| / label; MAPE is its mean in percent. */
#ifndef GRANITE_TRAIN_ERROR_ANALYSIS_H
#define GRANITE_TRAIN_ERROR_ANALYSIS_H

#include <stdint.h>
#include <stdio.h>

#include "x86/block_features.h"

/* One evaluated block of one task. */
typedef struct {
  double label, prediction;
  BlockFeatures features;
  int seen; /* 1: its graph occurs in the training file; 0: not; -1: no such file given */
} ErrorRow;

#define ERROR_ANALYSIS_MAX_GROUPS 48

typedef struct {
  const char *dimension; /* "instructions", "division", ..., "label decile" */
  char group[64];        /* "1", "2-4", "yes", "no", "D3 [1.25, 1.5]" */
  int64_t count;
  double block_share; /* percent of the analysed blocks */
  double mape;        /* percent; NaN when count is 0 */
  double error_share; /* percent of the summed relative error of all blocks */
  double under_share; /* percent of the group's blocks predicted below their label */
} ErrorGroup;

typedef struct {
  int64_t count;   /* analysed rows: label > 0 and finite prediction */
  int64_t skipped; /* rows left out (label <= 0 or prediction not finite) */
  double mape;
  int64_t num_over, num_under; /* prediction > label, < label */
  double over_error_share, under_error_share; /* percent of the summed error */
  int64_t num_off_40;          /* relative error > 40% */
  double off_40_under_share;   /* percent of those under-predicted */
  int num_groups;
  ErrorGroup groups[ERROR_ANALYSIS_MAX_GROUPS];
  int num_worst;
  int64_t *worst; /* indices into the rows, largest relative error first */
} ErrorAnalysis;

/* Analyses rows[0..n) and lists the worst_n worst. The "graph seen" groups
 * are added only when some row has seen >= 0. */
void error_analysis_compute(ErrorAnalysis *a, const ErrorRow *rows, int64_t n, int worst_n);
void error_analysis_free(ErrorAnalysis *a);

/* The text shown for worst block i (a->worst[i]): machine code in hex and
 * Intel-syntax assembly, instructions separated by "; ". */
typedef struct {
  const char *hex, *assembly;
} WorstBlockText;

/* A table for people: the summary, the groups, the worst blocks. */
void error_analysis_print_table(FILE *f, const ErrorAnalysis *a, const ErrorRow *rows, const WorstBlockText *text,
                                const char *task_name);
/* One JSON object: {"task":..., "count":..., "mape":..., "over": {...},
 * "under": {...}, "off_by_more_than_40_percent": {...}, "groups": [...],
 * "worst": [...]}. NaN is written as null. */
void error_analysis_write_json(FILE *f, const ErrorAnalysis *a, const ErrorRow *rows, const WorstBlockText *text,
                               const char *task_name);

#endif
