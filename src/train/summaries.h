/* TensorBoard summaries of training (io/tfevents.h), named as Gematria names
 * them: learning_rate, overall_loss and per task absolute_mse_<task>,
 * relative_mae_<task>, relative_mse_<task>, absolute_error_<rank>p_<task>,
 * absolute_percentage_error_<rank>p_<task> (spec §5.3), plus granite's
 * blocks_per_sec and validation_mape. Written every
 * --gematria_save_summaries_epochs steps (when the global step after the
 * update is a multiple; the event's step is the 0-based update index, as in
 * Gematria) to a new event file per run in --gematria_summary_dir (default:
 * the checkpoint directory). */
#ifndef GRANITE_TRAIN_SUMMARIES_H
#define GRANITE_TRAIN_SUMMARIES_H

#include <stdbool.h>
#include <stdint.h>

#include "graph/graph.h"
#include "io/tfevents.h"
#include "train/flags.h"
#include "train/metrics.h"

typedef struct {
  EventWriter writer;
  bool open;
  int every;
  int num_tasks;
  const char *const *task_names;
  const PercentileRanks *ranks;
  double last_time;
  int64_t blocks; /* since the last summary */
} Summaries;

/* Opens the event file unless --gematria_save_summaries_epochs <= 0. 0, or
 * -1 after an error line. */
int summaries_open(Summaries *s, const GematriaFlags *f, int num_tasks, const char *const *task_names,
                   const PercentileRanks *ranks);

/* After the update to global step `step`: counts the batch's blocks and, when
 * due, writes the summary of this batch (predictions pred[num_blocks*T] made
 * before the update, lr the rate used). validation_mape (percent) is written
 * whenever it is finite. A write error is reported once and ends the
 * summaries, not the training. */
void summaries_step(Summaries *s, int64_t step, const Batch *b, const float *pred, double loss, double lr,
                    double validation_mape);

void summaries_close(Summaries *s);

#endif
