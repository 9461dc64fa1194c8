/* Learning-rate schedules vs closed-form values (spec §5.5) and the
 * start-up check (spec §8 item 21, Models 5 and 8 of the reference log). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testing.h"
#include "train/schedule.h"

static LrSchedule make(LrScheduleType type, int64_t D, double r) {
  LrSchedule s;
  int rc = lr_schedule_init(&s, type, 0.01, D, r, 42);
  CHECK(rc == 0);
  return s;
}

typedef struct {
  int64_t step;
  double lr;
} Point;

static void check_points(LrScheduleType type, double r, const Point *pts, int n) {
  LrSchedule s = make(type, 1000, r);
  for (int i = 0; i < n; i++) {
    double got = lr_schedule_value(&s, pts[i].step);
    CHECK_MSG(fabs(got - pts[i].lr) <= 1e-12 + 1e-9 * fabs(pts[i].lr), "%s at step %lld: %.17g, want %.17g",
              lr_schedule_type_name(type), (long long)pts[i].step, got, pts[i].lr);
  }
}

/* Values from the spec §5.5 formulas with lr0 = 0.01, D = 1000, r = 0.5. */
static void test_closed_forms(void) {
  const Point none[] = {{0, 0.01}, {123456, 0.01}};
  check_points(LR_SCHEDULE_NONE, 0.5, none, 2);
  const Point expo[] = {{0, 0.01}, {1, 0.009993070929904525}, {500, 0.007071067811865476},
                        {1000, 0.005}, {2500, 0.001767766952966369}};
  check_points(LR_SCHEDULE_EXPONENTIAL, 0.5, expo, 5);
  const Point inv[] = {{0, 0.01}, {1, 0.009995002498750625}, {500, 0.008}, {1000, 0.006666666666666667},
                       {2500, 0.0044444444444444444}};
  check_points(LR_SCHEDULE_INVERSE_TIME, 0.5, inv, 5);
  const Point nat[] = {{0, 0.01}, {1, 0.009995001249791692}, {500, 0.007788007830714049},
                       {1000, 0.006065306597126334}, {2500, 0.002865047968601901}};
  check_points(LR_SCHEDULE_NATURAL_EXP, 0.5, nat, 5);
  const Point cosine[] = {{0, 0.01}, {1, 0.009999975326009292}, {500, 0.005}, {1000, 0.0}, {2500, 0.0}};
  check_points(LR_SCHEDULE_COSINE, 0.5, cosine, 5);
  const Point lincos[] = {{0, 0.01001}, {1, 0.009999975350683282}, {500, 0.00251}, {1000, 1e-05}, {2500, 1e-05}};
  check_points(LR_SCHEDULE_LINEAR_COSINE, 0.5, lincos, 5);
  const Point poly[] = {{0, 0.01}, {1, 0.0099901}, {500, 0.00505}, {1000, 1e-4}, {2500, 1e-4}};
  check_points(LR_SCHEDULE_POLYNOMIAL, 0.5, poly, 5);
  /* SGDR periods [0,1000), [1000,3000), [3000,7000): restarts at 1000, 3000, 7000 */
  const Point sgdr[] = {{0, 0.01},      {500, 0.005},  {999, 2.467399070893439e-08}, {1000, 0.01},
                        {2000, 0.005},  {3000, 0.01},  {5000, 0.005},                {7000, 0.01}};
  check_points(LR_SCHEDULE_COSINE_RESTARTS, 0.5, sgdr, 8);
  /* r = 0: INVERSE_TIME / NATURAL_EXP constant; EXPONENTIAL lr0 then exactly 0 */
  const Point inv0[] = {{0, 0.01}, {99999, 0.01}};
  check_points(LR_SCHEDULE_INVERSE_TIME, 0.0, inv0, 2);
  check_points(LR_SCHEDULE_NATURAL_EXP, 0.0, inv0, 2);
  const Point exp0[] = {{0, 0.01}, {1, 0.0}, {5000, 0.0}};
  check_points(LR_SCHEDULE_EXPONENTIAL, 0.0, exp0, 3);
}

static void test_noisy_linear_cosine(void) {
  LrSchedule a = make(LR_SCHEDULE_NOISY_LINEAR_COSINE, 1000, 0), b = a, c = a;
  c.seed = 43;
  LrSchedule lin = make(LR_SCHEDULE_LINEAR_COSINE, 1000, 0);
  int differ_from_linear = 0, differ_by_seed = 0;
  double sum_dev = 0;
  for (int64_t s = 0; s < 1000; s++) {
    double x = lr_schedule_value(&a, s);
    CHECK(x == lr_schedule_value(&b, s)); /* same seed, same step ⇒ same value */
    double y = lr_schedule_value(&lin, s);
    if (x != y) differ_from_linear++;
    if (x != lr_schedule_value(&c, s)) differ_by_seed++;
    /* noise enters as lr0·N(0, σ²)·cosine term, σ² = (1+s)^-0.55 */
    double cosine = 0.5 * (1 + cos(M_PI * s / 1000.0));
    if (cosine > 0.1) sum_dev += (x - y) / (0.01 * cosine) * pow(1.0 + s, 0.275);
  }
  CHECK(differ_from_linear > 990);
  CHECK(differ_by_seed > 990);
  CHECK(fabs(sum_dev / 900) < 0.2); /* standardized noise has mean ~0 */
  /* at s >= D the cosine factor is 0: only the floor 0.001·lr0 is left */
  CHECK_NEAR(lr_schedule_value(&a, 5000), 1e-5, 1e-9, 0);
}

static void test_names_and_init(void) {
  LrScheduleType t;
  CHECK(lr_schedule_type_parse("cosine_restarts", &t) == 0 && t == LR_SCHEDULE_COSINE_RESTARTS);
  CHECK(lr_schedule_type_parse("NOISY_LINEAR_COSINE", &t) == 0 && t == LR_SCHEDULE_NOISY_LINEAR_COSINE);
  CHECK(lr_schedule_type_parse("STEP", &t) == -1);
  CHECK(strcmp(lr_schedule_type_name(LR_SCHEDULE_POLYNOMIAL), "POLYNOMIAL") == 0);
  LrSchedule s;
  CHECK(lr_schedule_init(&s, LR_SCHEDULE_NONE, 0.001, 0, 0, 1) == 0);
  CHECK(lr_schedule_init(&s, LR_SCHEDULE_COSINE, 0.001, 0, 0, 1) == -1); /* spec: D = 0 ⇒ error */
  CHECK(lr_schedule_init(&s, LR_SCHEDULE_INVERSE_TIME, 0.001, 0, 0.5, 1) == -1);
}

/* Runs schedule_check with stderr captured into msg. */
static int check_capture(const LrSchedule *s, int64_t start, int64_t planned, bool allow, char *msg, size_t cap) {
  StderrCapture cap_err;
  stderr_capture_begin(&cap_err);
  ScheduleCheckOptions opts = {allow};
  int rc = schedule_check(s, start, planned, &opts);
  stderr_capture_end(&cap_err, msg, cap);
  return rc;
}

static void test_check(void) {
  char msg[4096];
  LrSchedule s;
  /* the defaults: NONE is fine */
  lr_schedule_init(&s, LR_SCHEDULE_NONE, 0.001, 0, 0, 1);
  CHECK(check_capture(&s, 0, 100000, false, msg, sizeof msg) == 0 && msg[0] == '\0');

  /* Model 5: EXPONENTIAL with the default decay rate 0 is refused ... */
  lr_schedule_init(&s, LR_SCHEDULE_EXPONENTIAL, 0.001, 10000, 0.0, 1);
  CHECK(check_capture(&s, 0, 100000, false, msg, sizeof msg) == -1);
  CHECK(strstr(msg, "error") && strstr(msg, "exactly 0") && strstr(msg, "--gematria_decay_rate") &&
        strstr(msg, "--allow_zero_learning_rate"));
  /* ... unless overridden, then it is a warning */
  CHECK(check_capture(&s, 0, 100000, true, msg, sizeof msg) == 1);
  CHECK(strstr(msg, "warning") != NULL && strstr(msg, "error") == NULL);
  /* a real decay rate is fine */
  lr_schedule_init(&s, LR_SCHEDULE_EXPONENTIAL, 0.001, 10000, 0.96, 1);
  CHECK(check_capture(&s, 0, 100000, false, msg, sizeof msg) == 0);

  /* Model 8: COSINE with D = 10000 for 100000 steps: loud warning */
  lr_schedule_init(&s, LR_SCHEDULE_COSINE, 0.001, 10000, 0, 1);
  CHECK(check_capture(&s, 0, 100000, false, msg, sizeof msg) == 1);
  CHECK(strstr(msg, "warning") && strstr(msg, "reaches 0 at global step 10000") && strstr(msg, "90000") &&
        strstr(msg, "--gematria_decay_steps"));
  /* until interrupted: also warned */
  CHECK(check_capture(&s, 0, 0, false, msg, sizeof msg) == 1);
  /* D covering most of the run is fine */
  CHECK(check_capture(&s, 0, 15000, false, msg, sizeof msg) == 0);
  /* resuming past D: the whole run has LR 0 ⇒ refused */
  CHECK(check_capture(&s, 20000, 1000, false, msg, sizeof msg) == -1);
  CHECK(check_capture(&s, 20000, 1000, true, msg, sizeof msg) == 1);

  /* floors of LINEAR_COSINE and POLYNOMIAL */
  lr_schedule_init(&s, LR_SCHEDULE_LINEAR_COSINE, 0.001, 1000, 0, 1);
  CHECK(check_capture(&s, 0, 100000, false, msg, sizeof msg) == 1 && strstr(msg, "0.001 x"));
  lr_schedule_init(&s, LR_SCHEDULE_POLYNOMIAL, 0.001, 1000, 0, 1);
  CHECK(check_capture(&s, 0, 100000, false, msg, sizeof msg) == 1 && strstr(msg, "1e-4"));
  lr_schedule_init(&s, LR_SCHEDULE_POLYNOMIAL, 1e-5, 100000, 0, 1);
  CHECK(check_capture(&s, 0, 100000, false, msg, sizeof msg) == 1 && strstr(msg, "rise"));
  /* restarts never stay at 0 */
  lr_schedule_init(&s, LR_SCHEDULE_COSINE_RESTARTS, 0.001, 1000, 0, 1);
  CHECK(check_capture(&s, 0, 100000, false, msg, sizeof msg) == 0);

  /* lr0 = 0 is refused (overridable), negative always */
  lr_schedule_init(&s, LR_SCHEDULE_NONE, 0.0, 0, 0, 1);
  CHECK(check_capture(&s, 0, 100, false, msg, sizeof msg) == -1);
  CHECK(check_capture(&s, 0, 100, true, msg, sizeof msg) == 1);
  lr_schedule_init(&s, LR_SCHEDULE_NONE, -0.1, 0, 0, 1);
  CHECK(check_capture(&s, 0, 100, true, msg, sizeof msg) == -1);
  /* a schedule struct with D = 0 that skipped init is still refused */
  s = (LrSchedule){LR_SCHEDULE_COSINE, 0.001, 0, 0, 0};
  CHECK(check_capture(&s, 0, 100, true, msg, sizeof msg) == -1);
}

int main(void) {
  test_closed_forms();
  test_noisy_linear_cosine();
  test_names_and_init();
  test_check();
  return test_summary("test_schedule");
}
