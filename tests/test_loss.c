/* Loss of spec §5.3: values for every type × normalization against hand
 * computation, gradients against finite differences, empty tasks skipped. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "model/loss.h"
#include "testing.h"

static double ell(LossType t, double z) {
  if (t == LOSS_MSE) return z * z;
  if (t == LOSS_MAE) return z;
  double q = fmin(z, 1.0);
  return 0.5 * q * q + (z - q);
}

int main(void) {
  /* 4 rows × 2 tasks; task 1 has one masked-out row; labels below 1 exercise max(y, 1) */
  float pred[8] = {1.5f, 2.0f, 0.2f, 7.0f, 3.0f, -1.0f, 10.0f, 0.5f};
  float lab[8] = {1.0f, 4.0f, 0.5f, 5.0f, 2.0f, 9.0f, 4.0f, 0.25f};
  uint8_t mask[8] = {1, 1, 1, 1, 1, 0, 1, 1};
  for (int t = 0; t < 3; t++)
    for (int n = 0; n < 3; n++) {
      double task_loss[2], want[2] = {0, 0};
      int count[2] = {0, 0};
      for (int i = 0; i < 8; i++) {
        if (!mask[i]) continue;
        double a = fabs(pred[i] - lab[i]), y = lab[i];
        double z = n == 0 ? a : n == 1 ? a / y : a / fmax(y, 1.0);
        want[i % 2] += ell(t, z);
        count[i % 2]++;
      }
      want[0] /= count[0];
      want[1] /= count[1];
      float d[8];
      LossResult r = loss_compute(t, n, pred, lab, mask, 4, 2, task_loss, d);
      CHECK(r.tasks_with_rows == 2);
      CHECK_NEAR(task_loss[0], want[0], 1e-6, 1e-7);
      CHECK_NEAR(task_loss[1], want[1], 1e-6, 1e-7);
      CHECK_NEAR(r.objective, 0.5 * (want[0] + want[1]), 1e-6, 1e-7);
      CHECK(d[5] == 0.0f); /* masked-out row gets no gradient */
      for (int i = 0; i < 8; i++) {
        if (!mask[i]) continue;
        float save = pred[i], h = 1e-3f;
        pred[i] = save + h;
        double lp = loss_compute(t, n, pred, lab, mask, 4, 2, NULL, NULL).objective;
        pred[i] = save - h;
        double lm = loss_compute(t, n, pred, lab, mask, 4, 2, NULL, NULL).objective;
        pred[i] = save;
        CHECK_NEAR(d[i], (lp - lm) / (2 * h), 2e-3, 2e-4);
      }
    }
  /* Huber: quadratic below 1, linear above */
  float p1[2] = {0.5f, 3.0f}, l1[2] = {0.0f, 0.0f};
  uint8_t m1[2] = {1, 1};
  double tl[2];
  loss_compute(LOSS_HUBER, LOSS_NORM_NONE, p1, l1, m1, 1, 2, tl, NULL);
  CHECK_NEAR(tl[0], 0.125, 1e-9, 0);
  CHECK_NEAR(tl[1], 2.5, 1e-9, 0);

  /* a task with no labelled rows is skipped in the mean (documented deviation) */
  uint8_t m2[8] = {1, 0, 1, 0, 1, 0, 1, 0};
  float d2[8];
  LossResult r2 = loss_compute(LOSS_MSE, LOSS_NORM_NONE, pred, lab, m2, 4, 2, tl, d2);
  CHECK(r2.tasks_with_rows == 1);
  CHECK(isnan(tl[1]));
  CHECK(isfinite(r2.objective));
  CHECK_NEAR(r2.objective, tl[0], 1e-9, 0);
  CHECK(d2[1] == 0.0f && d2[3] == 0.0f);
  uint8_t none[8] = {0};
  LossResult r3 = loss_compute(LOSS_MAE, LOSS_NORM_NONE, pred, lab, none, 4, 2, NULL, d2);
  CHECK(r3.tasks_with_rows == 0 && r3.objective == 0.0);

  LossType lt;
  LossNorm ln;
  CHECK(loss_type_parse("huber", &lt) == 0 && lt == LOSS_HUBER);
  CHECK(loss_norm_parse("EXPECTED_VALUE_GREATER_THAN_ONE", &ln) == 0 &&
        ln == LOSS_NORM_EXPECTED_VALUE_GREATER_THAN_ONE);
  CHECK(loss_type_parse("MSE", &lt) == -1);
  CHECK(loss_norm_parse("", &ln) == -1);
  return test_summary("test_loss");
}
