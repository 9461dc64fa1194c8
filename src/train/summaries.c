#include "train/summaries.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/common.h"

static double wall_clock_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int summaries_open(Summaries *s, const GematriaFlags *f, int num_tasks, const char *const *task_names,
                   const PercentileRanks *ranks) {
  memset(s, 0, sizeof *s);
  s->every = f->save_summaries_epochs;
  s->num_tasks = num_tasks;
  s->task_names = task_names;
  s->ranks = ranks;
  if (s->every <= 0) return 0;
  const char *dir = f->summary_dir && f->summary_dir[0] ? f->summary_dir : f->checkpoint_dir;
  s->last_time = now_seconds();
  if (event_writer_open(&s->writer, dir, wall_clock_seconds())) return -1;
  s->open = true;
  return 0;
}

/* Tags are built into one arena: at most 3 + per task (3 + 2 × ranks) + 2. */
#define MAX_VALUES (4 + METRICS_MAX_TASKS * (3 + 2 * METRICS_MAX_PERCENTILES))
typedef struct {
  ScalarValue v[MAX_VALUES];
  char tags[MAX_VALUES][96];
  int n;
} Scalars;

static void add(Scalars *sc, double value, const char *fmt, const char *a, double rank) {
  if (sc->n >= MAX_VALUES) return;
  if (rank >= 0)
    snprintf(sc->tags[sc->n], sizeof sc->tags[0], fmt, rank, a);
  else
    snprintf(sc->tags[sc->n], sizeof sc->tags[0], fmt, a);
  sc->v[sc->n].tag = sc->tags[sc->n];
  sc->v[sc->n].value = value;
  sc->n++;
}

void summaries_step(Summaries *s, int64_t step, const Batch *b, const float *pred, double loss, double lr,
                    double validation_mape) {
  if (!s->open) return;
  s->blocks += b->num_blocks;
  bool due = step % s->every == 0;
  if (!due && !isfinite(validation_mape)) return;
  static Scalars sc; /* large; one trainer per process */
  sc.n = 0;
  if (due) {
    Metrics m;
    if (metrics_compute(&m, pred, b->labels, b->label_mask, b->num_blocks, s->num_tasks, s->ranks, false) == 0) {
      add(&sc, lr, "%s", "learning_rate", -1);
      add(&sc, loss, "%s", "overall_loss", -1);
      for (int t = 0; t < s->num_tasks; t++) {
        const TaskMetrics *tm = &m.task[t];
        const char *name = s->task_names[t];
        add(&sc, tm->absolute_mse, "absolute_mse_%s", name, -1);
        add(&sc, tm->relative_mae, "relative_mae_%s", name, -1);
        add(&sc, tm->relative_mse, "relative_mse_%s", name, -1);
        for (int r = 0; r < s->ranks->num_ranks; r++) {
          add(&sc, tm->absolute_error_percentiles[r], "absolute_error_%gp_%s", name, s->ranks->ranks[r]);
          add(&sc, tm->relative_error_percentiles[r], "absolute_percentage_error_%gp_%s", name, s->ranks->ranks[r]);
        }
      }
    }
    double now = now_seconds();
    if (now > s->last_time) add(&sc, s->blocks / (now - s->last_time), "%s", "blocks_per_sec", -1);
    s->last_time = now;
    s->blocks = 0;
  }
  if (isfinite(validation_mape)) add(&sc, validation_mape, "%s", "validation_mape", -1);
  /* Gematria labels a summary with the 0-based index of the update */
  if (event_writer_scalars(&s->writer, wall_clock_seconds(), step - 1, sc.v, sc.n)) {
    gr_warn("TensorBoard summaries stop here; training goes on");
    summaries_close(s);
  }
}

void summaries_close(Summaries *s) {
  if (s->open) event_writer_close(&s->writer);
  s->open = false;
}
