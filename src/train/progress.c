#include "train/progress.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "util/common.h"

int progress_init(Progress *p, int64_t first_step, int64_t target_step, double interval, int num_tasks,
                  const char *const *task_names, const char *jsonl_path) {
  memset(p, 0, sizeof *p);
  p->start_time = p->last_print = now_seconds();
  p->interval = interval;
  p->tty = isatty(fileno(stderr));
  p->first_step = first_step;
  p->target_step = target_step;
  p->num_tasks = num_tasks;
  p->task_names = task_names;
  if (jsonl_path) {
    p->jsonl = fopen(jsonl_path, "a");
    if (!p->jsonl) {
      gr_error("%s: cannot open the metrics log: %s", jsonl_path, strerror(errno));
      return -1;
    }
    /* After a crash the log may hold steps past the checkpoint resumed from;
     * they are logged again. This record tells readers to drop the older
     * records with step > first_step. */
    if (first_step > 0 && ftell(p->jsonl) > 0) {
      fprintf(p->jsonl, "{\"step\": %lld, \"resumed\": true}\n", (long long)first_step);
      fflush(p->jsonl);
    }
  }
  return 0;
}

void format_duration(double s, char *buf, size_t size) {
  if (!isfinite(s) || s < 0) {
    snprintf(buf, size, "?");
  } else if (s >= 3600) {
    snprintf(buf, size, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
  } else if (s >= 60) {
    snprintf(buf, size, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
  } else {
    snprintf(buf, size, "%.0fs", s);
  }
}

/* JSON number or null (NaN/Inf are not JSON). */
static void json_number(FILE *f, double x) {
  if (isfinite(x))
    fprintf(f, "%.8g", x);
  else
    fputs("null", f);
}

void progress_break_line(Progress *p) {
  if (p->bar_open) {
    fputc('\n', stderr);
    p->bar_open = false;
  }
}

void progress_step(Progress *p, int64_t step, int blocks, double loss, const double *task_relative_mae, double lr,
                   bool force) {
  p->steps++;
  p->blocks += blocks;
  p->total_blocks += blocks;
  p->loss_sum += loss;
  for (int t = 0; t < p->num_tasks; t++)
    if (isfinite(task_relative_mae[t])) p->mape_sum[t] += task_relative_mae[t], p->mape_count[t]++;
  double now = now_seconds();
  if (!force && now - p->last_print < p->interval) return;

  double span = now - p->last_print, elapsed = now - p->start_time;
  double blocks_per_sec = span > 0 ? p->blocks / span : 0;
  double mean_loss = p->loss_sum / (double)p->steps;
  double mape[METRICS_MAX_TASKS];
  for (int t = 0; t < p->num_tasks; t++) mape[t] = p->mape_count[t] ? p->mape_sum[t] / p->mape_count[t] : NAN;

  char eta[32] = "", line[512];
  int n = 0;
  if (p->target_step > 0) {
    double per_step = elapsed / (double)(step - p->first_step);
    char d[24];
    format_duration(per_step * (double)(p->target_step - step), d, sizeof d);
    snprintf(eta, sizeof eta, ", ETA %s", d);
    n += snprintf(line + n, sizeof line - n, "step %lld/%lld (%.1f%%)", (long long)step, (long long)p->target_step,
                  100.0 * step / p->target_step);
  } else {
    n += snprintf(line + n, sizeof line - n, "step %lld", (long long)step);
  }
  n += snprintf(line + n, sizeof line - n, ", %.0f blocks/s, loss %.4g, MAPE", blocks_per_sec, mean_loss);
  for (int t = 0; t < p->num_tasks && n < (int)sizeof line - 32; t++)
    n += snprintf(line + n, sizeof line - n, " %.2f%%", 100 * mape[t]);
  snprintf(line + n, sizeof line - n, ", lr %.3g%s", lr, eta);
  if (p->tty) {
    fprintf(stderr, "\r\033[K%s", line);
    p->bar_open = true;
  } else {
    fprintf(stderr, "%s\n", line);
  }
  fflush(stderr);

  if (p->jsonl) {
    fprintf(p->jsonl, "{\"step\": %lld, \"time\": %.3f, \"loss\": ", (long long)step, elapsed);
    json_number(p->jsonl, mean_loss);
    fprintf(p->jsonl, ", \"relative_mae\": [");
    for (int t = 0; t < p->num_tasks; t++) {
      if (t) fputs(", ", p->jsonl);
      json_number(p->jsonl, mape[t]);
    }
    fprintf(p->jsonl, "], \"lr\": ");
    json_number(p->jsonl, lr);
    fprintf(p->jsonl, ", \"blocks_per_sec\": %.1f, \"steps\": %lld}\n", blocks_per_sec, (long long)p->steps);
    fflush(p->jsonl);
  }
  p->last_print = now;
  p->steps = p->blocks = 0;
  p->loss_sum = 0;
  memset(p->mape_sum, 0, sizeof p->mape_sum);
  memset(p->mape_count, 0, sizeof p->mape_count);
}

void progress_validation(Progress *p, int64_t step, const Metrics *m, bool is_best) {
  progress_break_line(p);
  fprintf(stderr, "validation at step %lld: MAPE", (long long)step);
  for (int t = 0; t < m->num_tasks; t++) fprintf(stderr, " %s %.3f%%", p->task_names[t], 100 * m->task[t].relative_mae);
  fprintf(stderr, " over %lld blocks%s\n", (long long)m->task[0].count, is_best ? " (best so far)" : "");
  if (p->jsonl) {
    fprintf(p->jsonl, "{\"step\": %lld, \"time\": %.3f, \"validation\": {\"relative_mae\": [", (long long)step,
            now_seconds() - p->start_time);
    for (int t = 0; t < m->num_tasks; t++) {
      if (t) fputs(", ", p->jsonl);
      json_number(p->jsonl, m->task[t].relative_mae);
    }
    fputs("], \"relative_mse\": [", p->jsonl);
    for (int t = 0; t < m->num_tasks; t++) {
      if (t) fputs(", ", p->jsonl);
      json_number(p->jsonl, m->task[t].relative_mse);
    }
    fputs("], \"absolute_mse\": [", p->jsonl);
    for (int t = 0; t < m->num_tasks; t++) {
      if (t) fputs(", ", p->jsonl);
      json_number(p->jsonl, m->task[t].absolute_mse);
    }
    fprintf(p->jsonl, "], \"count\": %lld, \"best\": %s}}\n", (long long)m->task[0].count, is_best ? "true" : "false");
    fflush(p->jsonl);
  }
}

void progress_close(Progress *p) {
  progress_break_line(p);
  if (p->jsonl) fclose(p->jsonl);
  p->jsonl = NULL;
}
