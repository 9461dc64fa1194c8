/* Training loss (spec §5.3): per task, the mean over its labelled rows of
 * ℓ(z), z = |ŷ − y| optionally normalized; objective = mean over tasks. */
#ifndef GRANITE_MODEL_LOSS_H
#define GRANITE_MODEL_LOSS_H

#include <stdint.h>

typedef enum { LOSS_MSE = 0, LOSS_MAE = 1, LOSS_HUBER = 2 } LossType;
typedef enum {
  LOSS_NORM_NONE = 0,
  LOSS_NORM_PERCENTAGE_ERROR = 1,            /* z = a / y */
  LOSS_NORM_EXPECTED_VALUE_GREATER_THAN_ONE = 2 /* z = a / max(y, 1) */
} LossNorm;

#define HUBER_DELTA 1.0

/* "MEAN_SQUARED_ERROR" / "MEAN_ABSOLUTE_ERROR" / "HUBER" and "NONE" /
 * "PERCENTAGE_ERROR" / "EXPECTED_VALUE_GREATER_THAN_ONE" (Gematria spellings,
 * case-insensitive). 0, or -1 after an error line. */
int loss_type_parse(const char *name, LossType *out);
int loss_norm_parse(const char *name, LossNorm *out);

typedef struct {
  double objective;    /* mean of the task losses over tasks that have rows */
  int tasks_with_rows; /* tasks that contributed */
} LossResult;

/* pred, labels [rows*tasks] row-major, mask [rows*tasks] (1 = label present).
 * task_loss[tasks] (may be NULL) gets each task's loss (NaN for a task with no
 * rows). d_pred (may be NULL) gets d objective / d pred (0 on masked-out rows).
 * Deviation from upstream (spec §5.3, §8 item 23): a task with no labelled
 * rows in the batch is skipped in the mean over tasks instead of making the
 * objective NaN; with no labelled rows at all the objective is 0 and
 * tasks_with_rows is 0, so the caller can tell. */
LossResult loss_compute(LossType type, LossNorm norm, const float *pred, const float *labels,
                        const uint8_t *mask, int rows, int tasks, double *task_loss,
                        float *d_pred);

#endif
