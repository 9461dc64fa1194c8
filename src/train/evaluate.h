/* Evaluation (spec §5.9 replaced by a working one): metrics of predictions
 * against a dataset's labels, and the eval action (MAPE, MAE, RMSE, error
 * percentiles, Kendall's tau, Pearson per task; table or JSON). */
#ifndef GRANITE_TRAIN_EVALUATE_H
#define GRANITE_TRAIN_EVALUATE_H

#include <stdbool.h>
#include <stdint.h>

#include "io/dataset.h"
#include "train/flags.h"
#include "train/metrics.h"

/* Metrics of block predictions pred[ds->num_blocks * T] (NaN = not
 * predicted, skipped) against the labels of blocks ids[0..n) (NULL = all).
 * 0, or -1 after an error line. */
int evaluate_predictions(Metrics *out, const Dataset *ds, const int32_t *ids, int n, const float *pred,
                         const PercentileRanks *ranks, bool with_eval);

/* --gematria_action=eval / `granite eval`. Returns the exit status. */
int eval_main(const GematriaFlags *f);

#endif
