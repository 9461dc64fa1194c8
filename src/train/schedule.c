/* Learning-rate schedules (spec §5.5) and the start-up check (spec §8 item 21). */
#include "train/schedule.h"

#include <math.h>
#include <string.h>
#include <strings.h>

#include "util/common.h"

static const char *const SCHEDULE_NAMES[] = {
    "NONE",          "EXPONENTIAL",         "INVERSE_TIME", "NATURAL_EXP",    "COSINE",
    "LINEAR_COSINE", "NOISY_LINEAR_COSINE", "POLYNOMIAL",   "COSINE_RESTARTS"};

/* spec §5.5: TF1 defaults of the schedules we mirror */
#define LINEAR_COSINE_BETA 0.001
#define LINEAR_COSINE_PERIODS 0.5
#define NOISY_INITIAL_VARIANCE 1.0
#define NOISY_VARIANCE_DECAY 0.55
#define POLYNOMIAL_END_LR 1e-4

int lr_schedule_type_parse(const char *name, LrScheduleType *out) {
  for (size_t i = 0; i < ARRAY_LEN(SCHEDULE_NAMES); i++) {
    if (strcasecmp(name, SCHEDULE_NAMES[i]) == 0) {
      *out = (LrScheduleType)i;
      return 0;
    }
  }
  gr_error("unknown learning rate schedule '%s' (expected NONE, EXPONENTIAL, INVERSE_TIME, "
           "NATURAL_EXP, COSINE, LINEAR_COSINE, NOISY_LINEAR_COSINE, POLYNOMIAL or "
           "COSINE_RESTARTS)", name);
  return -1;
}

const char *lr_schedule_type_name(LrScheduleType type) {
  if ((int)type < 0 || (size_t)type >= ARRAY_LEN(SCHEDULE_NAMES)) return "UNKNOWN";
  return SCHEDULE_NAMES[type];
}

int lr_schedule_init(LrSchedule *s, LrScheduleType type, double learning_rate,
                     int64_t decay_steps, double decay_rate, uint64_t seed) {
  memset(s, 0, sizeof *s);
  s->type = type;
  s->learning_rate = learning_rate;
  s->decay_steps = decay_steps;
  s->decay_rate = decay_rate;
  s->seed = seed;
  if ((int)type < 0 || (size_t)type >= ARRAY_LEN(SCHEDULE_NAMES)) {
    gr_error("invalid learning rate schedule %d", (int)type);
    return -1;
  }
  if (type != LR_SCHEDULE_NONE && decay_steps <= 0) {
    gr_error("--gematria_learning_rate_schedule=%s needs --gematria_decay_steps > 0 (got %lld)",
             SCHEDULE_NAMES[type], (long long)decay_steps);
    return -1;
  }
  if (!isfinite(learning_rate)) {
    gr_error("--gematria_learning_rate must be a finite number");
    return -1;
  }
  return 0;
}

static uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/* A standard normal that depends only on (seed, step): Box-Muller over two
 * hashed uniforms in (0, 1]. */
static double step_normal(uint64_t seed, int64_t step) {
  uint64_t a = splitmix64(seed ^ splitmix64((uint64_t)step));
  uint64_t b = splitmix64(a);
  double u1 = ((double)(a >> 11) + 1.0) / 9007199254740992.0;
  double u2 = (double)(b >> 11) / 9007199254740992.0;
  return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

double lr_schedule_value(const LrSchedule *s, int64_t global_step) {
  const double lr0 = s->learning_rate, r = s->decay_rate;
  const double D = (double)s->decay_steps;
  const double step = (double)global_step;
  const double clipped = step < D ? step : D; /* s' = min(s, D) */
  switch (s->type) {
    case LR_SCHEDULE_NONE:
      return lr0;
    case LR_SCHEDULE_EXPONENTIAL: /* pow(0, 0) = 1: lr0 at s = 0, then 0 when r = 0 */
      return lr0 * pow(r, step / D);
    case LR_SCHEDULE_INVERSE_TIME:
      return lr0 / (1.0 + r * step / D);
    case LR_SCHEDULE_NATURAL_EXP:
      return lr0 * exp(-r * step / D);
    case LR_SCHEDULE_COSINE:
      return lr0 * 0.5 * (1.0 + cos(M_PI * clipped / D));
    case LR_SCHEDULE_LINEAR_COSINE:
    case LR_SCHEDULE_NOISY_LINEAR_COSINE: {
      double linear = (D - clipped) / D;
      if (s->type == LR_SCHEDULE_NOISY_LINEAR_COSINE) {
        double variance = NOISY_INITIAL_VARIANCE / pow(1.0 + clipped, NOISY_VARIANCE_DECAY);
        linear += sqrt(variance) * step_normal(s->seed, global_step);
      }
      double cosine = 0.5 * (1.0 + cos(M_PI * 2.0 * LINEAR_COSINE_PERIODS * clipped / D));
      return lr0 * (linear * cosine + LINEAR_COSINE_BETA);
    }
    case LR_SCHEDULE_POLYNOMIAL:
      return (lr0 - POLYNOMIAL_END_LR) * (1.0 - clipped / D) + POLYNOMIAL_END_LR;
    case LR_SCHEDULE_COSINE_RESTARTS: {
      /* SGDR, t_mul = 2, m_mul = 1: periods [0,D), [D,3D), [3D,7D), ... */
      double f = step / D;
      double i = floor(log(1.0 + f) / log(2.0));
      double p = pow(2.0, i);
      double fr = (f - (p - 1.0)) / p;
      return lr0 * 0.5 * (1.0 + cos(M_PI * fr));
    }
  }
  return lr0;
}

/* Prints one error or warning line depending on whether the zero-LR override is on. */
#define REFUSE_OR_WARN(allow, ...)          \
  do {                                      \
    if (allow) {                            \
      gr_warn(__VA_ARGS__);                 \
      warned = 1;                           \
    } else {                                \
      gr_error(__VA_ARGS__);                \
      return -1;                            \
    }                                       \
  } while (0)

int schedule_check(const LrSchedule *s, int64_t start_step, int64_t planned_steps,
                   const ScheduleCheckOptions *opts) {
  const bool allow = opts && opts->allow_zero_learning_rate;
  const char *name = lr_schedule_type_name(s->type);
  const long long D = (long long)s->decay_steps;
  const long long start = (long long)start_step, planned = (long long)planned_steps;
  int warned = 0;
  const char *override_hint = "(pass --allow_zero_learning_rate to run anyway)";

  if (s->type != LR_SCHEDULE_NONE && D <= 0) {
    gr_error("--gematria_learning_rate_schedule=%s needs --gematria_decay_steps > 0 (got %lld)",
             name, D);
    return -1;
  }
  if (!(s->learning_rate > 0)) {
    if (s->learning_rate < 0 || !isfinite(s->learning_rate)) {
      gr_error("--gematria_learning_rate=%g is not a positive number", s->learning_rate);
      return -1;
    }
    REFUSE_OR_WARN(allow, "--gematria_learning_rate=0: no update will change the model; set a "
                   "positive learning rate %s", override_hint);
  }

  if (s->type == LR_SCHEDULE_EXPONENTIAL) {
    if (s->decay_rate < 0 || !isfinite(s->decay_rate)) {
      gr_error("EXPONENTIAL schedule with --gematria_decay_rate=%g gives a NaN learning rate; "
               "use a decay rate in (0, 1)", s->decay_rate);
      return -1;
    }
    if (s->decay_rate == 0) {
      /* spec §8 item 21: Model 5 of the reference log lost its whole run here */
      REFUSE_OR_WARN(allow,
                     "EXPONENTIAL schedule with --gematria_decay_rate=0 sets the learning rate "
                     "to exactly 0 after the first step, so training stops learning; set "
                     "--gematria_decay_rate (e.g. 0.96) or use another schedule %s",
                     override_hint);
    } else if (s->decay_rate > 1) {
      gr_warn("EXPONENTIAL schedule with --gematria_decay_rate=%g > 1 makes the learning rate "
              "grow without bound; use a decay rate in (0, 1)", s->decay_rate);
      warned = 1;
    }
  }

  bool decays_to_floor = s->type == LR_SCHEDULE_COSINE || s->type == LR_SCHEDULE_LINEAR_COSINE ||
                         s->type == LR_SCHEDULE_NOISY_LINEAR_COSINE ||
                         s->type == LR_SCHEDULE_POLYNOMIAL;
  if (decays_to_floor) {
    const char *floor_desc = s->type == LR_SCHEDULE_COSINE ? "0"
                             : s->type == LR_SCHEDULE_POLYNOMIAL ? "1e-4 (absolute)"
                                                                 : "0.001 x the initial rate";
    if (start >= D) {
      if (s->type == LR_SCHEDULE_COSINE) {
        REFUSE_OR_WARN(allow,
                       "COSINE schedule: the run starts at global step %lld, past "
                       "--gematria_decay_steps=%lld, so the learning rate is 0 for the whole "
                       "run; raise --gematria_decay_steps %s", start, D, override_hint);
      } else {
        gr_warn("%s schedule: the run starts at global step %lld, past "
                "--gematria_decay_steps=%lld, so the learning rate stays at its floor %s; "
                "raise --gematria_decay_steps", name, start, D, floor_desc);
        warned = 1;
      }
    } else if (planned == 0) {
      gr_warn("%s schedule with training until interrupted: the learning rate reaches %s at "
              "global step %lld and stays there; set --gematria_training_num_epochs or a "
              "larger --gematria_decay_steps", name, floor_desc, D);
      warned = 1;
    } else if ((double)(D - start) < 0.5 * (double)planned) {
      long long wasted = start + planned - D;
      gr_warn("%s schedule: the learning rate reaches %s at global step %lld and stays there "
              "for the last %lld of %lld planned steps; set --gematria_decay_steps to about %lld "
              "(the planned end)", name, floor_desc, D, wasted, planned, start + planned);
      warned = 1;
    }
  }
  if (s->type == LR_SCHEDULE_POLYNOMIAL && s->learning_rate < POLYNOMIAL_END_LR) {
    gr_warn("POLYNOMIAL schedule ends at the absolute value 1e-4, above "
            "--gematria_learning_rate=%g: the learning rate will rise", s->learning_rate);
    warned = 1;
  }
  return warned;
}
