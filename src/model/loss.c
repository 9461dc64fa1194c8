#include "model/loss.h"

#include <math.h>
#include <string.h>
#include <strings.h>

#include "util/common.h"

int loss_type_parse(const char *name, LossType *out) {
  if (strcasecmp(name, "MEAN_SQUARED_ERROR") == 0) *out = LOSS_MSE;
  else if (strcasecmp(name, "MEAN_ABSOLUTE_ERROR") == 0) *out = LOSS_MAE;
  else if (strcasecmp(name, "HUBER") == 0) *out = LOSS_HUBER;
  else {
    gr_error("unknown loss type '%s' (MEAN_SQUARED_ERROR, MEAN_ABSOLUTE_ERROR, HUBER)", name);
    return -1;
  }
  return 0;
}

int loss_norm_parse(const char *name, LossNorm *out) {
  if (strcasecmp(name, "NONE") == 0) *out = LOSS_NORM_NONE;
  else if (strcasecmp(name, "PERCENTAGE_ERROR") == 0) *out = LOSS_NORM_PERCENTAGE_ERROR;
  else if (strcasecmp(name, "EXPECTED_VALUE_GREATER_THAN_ONE") == 0)
    *out = LOSS_NORM_EXPECTED_VALUE_GREATER_THAN_ONE;
  else {
    gr_error("unknown loss normalization '%s' (NONE, PERCENTAGE_ERROR, "
             "EXPECTED_VALUE_GREATER_THAN_ONE)", name);
    return -1;
  }
  return 0;
}

/* ℓ(z) and dℓ/dz (spec §5.3). */
static double element_loss(LossType type, double z, double *dl_dz) {
  switch (type) {
  case LOSS_MAE:
    *dl_dz = 1.0;
    return z;
  case LOSS_HUBER: {
    double q = z < HUBER_DELTA ? z : HUBER_DELTA;
    *dl_dz = q;
    return 0.5 * q * q + HUBER_DELTA * (z - q);
  }
  case LOSS_MSE:
  default:
    *dl_dz = 2.0 * z;
    return z * z;
  }
}

LossResult loss_compute(LossType type, LossNorm norm, const float *pred, const float *labels,
                        const uint8_t *mask, int rows, int tasks, double *task_loss,
                        float *d_pred) {
  LossResult res = {0.0, 0};
  if (d_pred) memset(d_pred, 0, sizeof(float) * (size_t)rows * tasks);
  for (int t = 0; t < tasks; t++) {
    int count = 0;
    for (int r = 0; r < rows; r++) count += mask[(size_t)r * tasks + t] != 0;
    if (count == 0) {
      if (task_loss) task_loss[t] = NAN;
      continue;
    }
    res.tasks_with_rows++;
    double sum = 0.0;
    for (int r = 0; r < rows; r++) {
      size_t i = (size_t)r * tasks + t;
      if (!mask[i]) continue;
      double y = labels[i], diff = (double)pred[i] - y;
      double scale = 1.0; /* dz/da */
      if (norm == LOSS_NORM_PERCENTAGE_ERROR) scale = 1.0 / y;
      else if (norm == LOSS_NORM_EXPECTED_VALUE_GREATER_THAN_ONE) scale = 1.0 / (y > 1.0 ? y : 1.0);
      double z = fabs(diff) * scale, dl_dz;
      sum += element_loss(type, z, &dl_dz);
      if (d_pred) {
        double sign = diff > 0 ? 1.0 : diff < 0 ? -1.0 : 0.0; /* d|x|/dx at 0 is 0, as in TF */
        d_pred[i] = (float)(dl_dz * scale * sign / count);
      }
    }
    if (task_loss) task_loss[t] = sum / count;
    res.objective += sum / count;
  }
  if (res.tasks_with_rows > 0) {
    res.objective /= res.tasks_with_rows;
    if (d_pred)
      for (size_t i = 0; i < (size_t)rows * tasks; i++) d_pred[i] /= (float)res.tasks_with_rows;
  }
  return res;
}
