/* The error analysis of `granite eval` (train/error_analysis.h) on a loaded
 * evaluation dataset: reads each evaluated block's canonical form and machine
 * code once more (the dataset keeps only graphs), optionally marks blocks
 * whose graph occurs in a training file (graph/graph_key.h), and prints one
 * analysis per task. */
#ifndef GRANITE_TRAIN_EVAL_ANALYSIS_H
#define GRANITE_TRAIN_EVAL_ANALYSIS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "io/dataset.h"
#include "train/flags.h"

/* What the analysis has read: each block's features and machine code, and
 * the graphs of the training file. */
typedef struct EvalAnalysis EvalAnalysis;

/* Reads what the analysis of blocks ids[0..n) (NULL = all) of ds needs
 * (before anything is printed, so that
 * a bad file leaves the output empty). load_opts: how ds was loaded; the
 * files of --gematria_training_file_for_split are loaded the same way
 * (without their --gematria_validation_fraction held-out part when that flag
 * is given). NULL after an error line (unreadable or corrupt file). */
EvalAnalysis *eval_analysis_prepare(const GematriaFlags *f, const Dataset *ds, const int32_t *ids, int n,
                                    const DatasetOptions *load_opts);

/* Per-task analyses of predictions pred[ds->num_blocks * T] (NaN = not
 * predicted) for the same blocks ids[0..n) (NULL = all): the tables, or with json
 * the value of an "error_analysis" key (an array, one object per task). */
void eval_analysis_write(const EvalAnalysis *e, const int32_t *ids, int n, const float *pred,
                         const char *const *task_names, bool json, FILE *out);
/* One CSV line per evaluated block ids[0..n) (NULL = all), in input order:
 * the block's hex, whether its graph occurs in the training files (1/0;
 * empty without --gematria_training_file_for_split), then per task the
 * label and the prediction (empty where absent), after a header line. */
void eval_analysis_write_csv(const EvalAnalysis *e, const int32_t *ids, int n, const float *pred,
                             const char *const *task_names, FILE *out);
void eval_analysis_free(EvalAnalysis *e);

#endif
