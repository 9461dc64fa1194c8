/* Reading training runs back (train/run_log.h). */
#include "train/run_log.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/checkpoint.h"
#include "train/model_checkpoint.h"
#include "train/flags.h"
#include "util/common.h"

static void add_setting(RunLog *r, const char *key, const char *value) {
  for (int i = 0; i < r->num_settings; i++)
    if (!strcmp(r->keys[i], key)) { /* a repeated flag: values joined, as it accumulates */
      size_t n = strlen(r->values[i]) + strlen(value) + 2;
      char *v = xmalloc(n);
      snprintf(v, n, "%s,%s", r->values[i], value);
      free(r->values[i]);
      r->values[i] = v;
      return;
    }
  r->keys = xrealloc(r->keys, (size_t)(r->num_settings + 1) * sizeof *r->keys);
  r->values = xrealloc(r->values, (size_t)(r->num_settings + 1) * sizeof *r->values);
  r->keys[r->num_settings] = xstrdup(key);
  r->values[r->num_settings] = xstrdup(value);
  r->num_settings++;
}

/* flags.txt: "--name=value" lines and '#' comments. 1 read, 0 absent, -1 error. */
static int read_flags_file(RunLog *r, const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) {
    if (errno == ENOENT) return 0;
    gr_error("%s: %s", path, strerror(errno));
    return -1;
  }
  char *line = NULL;
  size_t cap = 0;
  int lineno = 0, rc = 1;
  ssize_t len;
  while ((len = getline(&line, &cap, f)) >= 0) {
    lineno++;
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
    if (!line[0] || line[0] == '#') continue;
    char *eq = strchr(line, '=');
    if (strncmp(line, "--", 2) || !eq) {
      gr_error("%s:%d: expected --name=value, got '%s'", path, lineno, line);
      rc = -1;
      break;
    }
    *eq = 0;
    add_setting(r, line + 2, eq + 1);
  }
  free(line);
  fclose(f);
  return rc;
}

/* A number after "key": in a metrics line; false if absent or null. */
static bool number_after(const char *line, const char *key, double *out) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\": ", key);
  const char *p = strstr(line, pat);
  if (!p) return false;
  char *end;
  double x = strtod(p + strlen(pat), &end);
  if (end == p + strlen(pat)) return false;
  *out = x;
  return true;
}

/* Mean of the finite numbers of the array after "relative_mae": [ in s
 * (NaN if none, -1 on bad syntax). */
static int mean_of_array(const char *s, double *out) {
  const char *p = strstr(s, "\"relative_mae\": [");
  if (!p) return -1;
  p += strlen("\"relative_mae\": [");
  double sum = 0;
  int n = 0;
  while (*p && *p != ']') {
    while (*p == ' ' || *p == ',') p++;
    if (!strncmp(p, "null", 4)) {
      p += 4;
      continue;
    }
    char *end;
    double x = strtod(p, &end);
    if (end == p) return -1;
    if (isfinite(x)) sum += x, n++;
    p = end;
  }
  if (*p != ']') return -1;
  *out = n ? sum / n : NAN;
  return 0;
}

static int read_metrics(RunLog *r, const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) {
    gr_error("%s: %s (is %s the checkpoint directory of a training run?)", path, strerror(errno), r->dir);
    return -1;
  }
  char *line = NULL;
  size_t cap = 0;
  int lineno = 0, rc = 0;
  double offset = 0;    /* wall time of the earlier starts */
  double last_time = 0; /* of this start, so far */
  double prev_train_time = 0, blocks = 0;
  size_t cap_points = 0;
  r->steps = 0;
  while (getline(&line, &cap, f) >= 0) {
    lineno++;
    if (line[0] == '\n' || !line[0]) continue;
    double step, t, mape;
    if (line[0] != '{' || !number_after(line, "step", &step)) {
      gr_error("%s:%d: not a metrics record", path, lineno);
      rc = -1;
      break;
    }
    if (strstr(line, "\"resumed\": true")) {
      /* a new start at this step: records of a crashed start beyond it are superseded */
      offset += last_time;
      last_time = prev_train_time = 0;
      while (r->num_points > 0 && r->points[r->num_points - 1].step > (int64_t)step) r->num_points--;
      r->steps = (int64_t)step;
      continue;
    }
    if (!number_after(line, "time", &t)) {
      gr_error("%s:%d: a metrics record without \"time\"", path, lineno);
      rc = -1;
      break;
    }
    last_time = t;
    r->steps = (int64_t)step;
    const char *v = strstr(line, "\"validation\": {");
    if (v) {
      if (mean_of_array(v, &mape)) {
        gr_error("%s:%d: a validation record without a relative_mae list", path, lineno);
        rc = -1;
        break;
      }
      grow_array((void **)&r->points, &cap_points, (size_t)r->num_points + 1, sizeof *r->points);
      r->points[r->num_points++] = (RunPoint){(int64_t)step, offset + t, 100 * mape};
    } else {
      double bps;
      if (number_after(line, "blocks_per_sec", &bps)) blocks += bps * (t - prev_train_time);
      prev_train_time = t;
    }
  }
  free(line);
  fclose(f);
  if (rc) return rc;
  r->wall_seconds = offset + last_time;
  r->blocks_per_sec = r->wall_seconds > 0 ? blocks / r->wall_seconds : NAN;
  r->final_mape = r->best_mape = NAN;
  r->best_step = -1;
  for (int i = 0; i < r->num_points; i++) {
    double m = r->points[i].mape;
    if (!isfinite(m)) continue;
    r->final_mape = m;
    if (!(m >= r->best_mape)) r->best_mape = m, r->best_step = r->points[i].step;
  }
  return 0;
}

int run_log_load(RunLog *r, const char *dir) {
  memset(r, 0, sizeof *r);
  r->dir = xstrdup(dir);
  struct stat st;
  if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
    gr_error("%s: not a directory (give the checkpoint directory of each run)", dir);
    run_log_free(r);
    return -1;
  }
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", dir, FLAGS_RUN_FILE);
  int got = read_flags_file(r, path);
  if (got < 0) {
    run_log_free(r);
    return -1;
  }
  r->from_flags_file = got ? 1 : -1;
  if (!got) { /* an older run: the training facts its newest checkpoint keeps */
    Checkpoint ck;
    memset(&ck, 0, sizeof ck);
    snprintf(path, sizeof path, "%s/%s", dir, CHECKPOINT_INDEX_FILE);
    if (stat(path, &st) == 0 && checkpoint_open(&ck, dir) == 0) {
      /* the meta keys are flag names without "gematria_" (source_filter.<i>
       * are the repeated --gematria_throughput_source_filter) */
      for (int i = 0; i < ck.meta.count; i++) {
        char key[300];
        if (!strncmp(ck.meta.keys[i], "source_filter.", 14))
          snprintf(key, sizeof key, "gematria_throughput_source_filter");
        else
          snprintf(key, sizeof key, "gematria_%s", ck.meta.keys[i]);
        add_setting(r, key, ck.meta.values[i]);
      }
      r->from_flags_file = 0;
    }
    checkpoint_close(&ck);
  }
  snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
  if (read_metrics(r, path)) {
    run_log_free(r);
    return -1;
  }
  return 0;
}

void run_log_free(RunLog *r) {
  for (int i = 0; i < r->num_settings; i++) {
    free(r->keys[i]);
    free(r->values[i]);
  }
  free(r->keys);
  free(r->values);
  free(r->points);
  free(r->dir);
  memset(r, 0, sizeof *r);
}

const char *run_log_setting(const RunLog *r, const char *key) {
  for (int i = 0; i < r->num_settings; i++)
    if (!strcmp(r->keys[i], key)) return r->values[i];
  return NULL;
}

int run_logs_differing(const RunLog *runs, int n, const char ***keys) {
  const char **out = NULL;
  int count = 0;
  for (int a = 0; a < n; a++)
    for (int i = 0; i < runs[a].num_settings; i++) {
      const char *key = runs[a].keys[i];
      if (!strcmp(key, "gematria_checkpoint_dir")) continue;
      bool listed = false;
      for (int k = 0; k < count && !listed; k++) listed = !strcmp(out[k], key);
      if (listed) continue;
      const char *v0 = NULL;
      bool differs = false;
      /* runs read from a checkpoint know only some flags: a flag they lack is not a difference */
      for (int b = 0; b < n && !differs; b++) {
        const char *v = run_log_setting(&runs[b], key);
        if (!v && runs[b].from_flags_file != 1) continue;
        if (!v0) v0 = v;
        differs = !v || strcmp(v, v0);
      }
      if (differs) {
        out = xrealloc(out, (size_t)(count + 1) * sizeof *out);
        out[count++] = key;
      }
    }
  *keys = out;
  return count;
}
