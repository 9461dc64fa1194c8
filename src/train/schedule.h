/* Learning-rate schedules (spec §5.5), evaluated at the global step, and a
 * start-up check that refuses or warns about schedules that waste a run
 * (spec §8 item 21; Models 5 and 8 of the reference log). */
#ifndef GRANITE_TRAIN_SCHEDULE_H
#define GRANITE_TRAIN_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
  LR_SCHEDULE_NONE = 0,
  LR_SCHEDULE_EXPONENTIAL,
  LR_SCHEDULE_INVERSE_TIME,
  LR_SCHEDULE_NATURAL_EXP,
  LR_SCHEDULE_COSINE,
  LR_SCHEDULE_LINEAR_COSINE,
  LR_SCHEDULE_NOISY_LINEAR_COSINE,
  LR_SCHEDULE_POLYNOMIAL,
  LR_SCHEDULE_COSINE_RESTARTS,
} LrScheduleType;

typedef struct {
  LrScheduleType type;
  double learning_rate; /* lr0, --gematria_learning_rate */
  int64_t decay_steps;  /* D, --gematria_decay_steps */
  double decay_rate;    /* r, --gematria_decay_rate */
  uint64_t seed;        /* NOISY_LINEAR_COSINE: the noise at step s depends only
                           on (seed, s), so a resumed run sees the same LRs */
} LrSchedule;

/* Flag spellings as in spec §5.5 ("NONE", "COSINE", ...; case-insensitive). */
int lr_schedule_type_parse(const char *name, LrScheduleType *out);
const char *lr_schedule_type_name(LrScheduleType type);

/* Fills s. A schedule other than NONE with decay_steps <= 0 is an error
 * (spec §5.5: ValueError at start-up). 0, or -1 after an error line. */
int lr_schedule_init(LrSchedule *s, LrScheduleType type, double learning_rate,
                     int64_t decay_steps, double decay_rate, uint64_t seed);

/* LR for the update evaluated at global step s (spec §5.4: update k uses s = k). */
double lr_schedule_value(const LrSchedule *s, int64_t global_step);

/* What schedule_check may turn from a refusal into a warning. The CLI sets
 * allow_zero_learning_rate from --allow_zero_learning_rate. */
typedef struct {
  bool allow_zero_learning_rate;
} ScheduleCheckOptions;

/* Start-up sanity check for a run from global step start_step doing
 * planned_steps updates (0 = until interrupted). Returns
 *   0  fine,
 *   1  one or more "granite: warning:" lines were printed (e.g. COSINE whose
 *      decay ends at D < 0.5·planned steps: LR 0 for the rest of the run;
 *      LINEAR_COSINE / POLYNOMIAL sitting at their floor; any decaying
 *      schedule with planned_steps = 0),
 *  -1  refused, after one error line (EXPONENTIAL with r = 0: LR exactly 0
 *      from step 1; LR already 0 for the whole run; lr0 <= 0; D <= 0), unless
 *      opts->allow_zero_learning_rate turns the zero-LR cases into warnings.
 * Messages say what will happen and which flag to change. opts may be NULL. */
int schedule_check(const LrSchedule *s, int64_t start_step, int64_t planned_steps,
                   const ScheduleCheckOptions *opts);

#endif
