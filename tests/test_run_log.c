/* Reading training runs back (train/run_log.h): flags.txt, metrics.jsonl
 * with a resumed start and superseded records, wall time and blocks/s, the
 * validation curve, the flags that differ, and bad directories and files. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testing.h"
#include "train/run_log.h"

static char root[64];

static void write_file(const char *dir, const char *name, const char *text) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
}

static const char *make_run(const char *name, const char *flags, const char *metrics) {
  static char dirs[8][128];
  static int next;
  char *d = dirs[next++ % 8];
  snprintf(d, 128, "%s/%s", root, name);
  mkdir(d, 0777);
  if (flags) write_file(d, "flags.txt", flags);
  if (metrics) write_file(d, "metrics.jsonl", metrics);
  return d;
}

static void test_resumed_run(void) {
  const char *d = make_run("a",
                           "# comment\n--gematria_learning_rate=0.001\n--gematria_checkpoint_dir=a\n"
                           "--gematria_throughput_source_filter=x\n--gematria_throughput_source_filter=y\n",
                           /* start 1: 100 blocks/s for 10 s, a validation at step 10 (time 10), steps up to
                            * 20 at time 20 (validation 40%), then a crash; start 2 resumes at step 10:
                            * records of steps > 10 are superseded; 200 blocks/s for 5 s, validation 30%
                            * at step 30 */
                           "{\"step\": 5, \"time\": 10.000, \"loss\": 1, \"relative_mae\": [0.5], \"lr\": 0.001, "
                           "\"blocks_per_sec\": 100.0, \"steps\": 5}\n"
                           "{\"step\": 10, \"time\": 10.000, \"validation\": {\"relative_mae\": [0.5, null], "
                           "\"relative_mse\": [1], \"absolute_mse\": [1], \"count\": 9, \"best\": true}}\n"
                           "{\"step\": 20, \"time\": 20.000, \"validation\": {\"relative_mae\": [0.2, 0.6], "
                           "\"relative_mse\": [1], \"absolute_mse\": [1], \"count\": 9, \"best\": true}}\n"
                           "\n"
                           "{\"step\": 10, \"resumed\": true}\n"
                           "{\"step\": 30, \"time\": 5.000, \"loss\": 1, \"relative_mae\": [0.4], \"lr\": 0.001, "
                           "\"blocks_per_sec\": 200.0, \"steps\": 20}\n"
                           "{\"step\": 30, \"time\": 6.000, \"validation\": {\"relative_mae\": [0.3], "
                           "\"relative_mse\": [1], \"absolute_mse\": [1], \"count\": 9, \"best\": true}}\n");
  RunLog r;
  CHECK(run_log_load(&r, d) == 0);
  CHECK(r.from_flags_file == 1);
  CHECK(!strcmp(run_log_setting(&r, "gematria_learning_rate"), "0.001"));
  CHECK(!strcmp(run_log_setting(&r, "gematria_throughput_source_filter"), "x,y"));
  CHECK(run_log_setting(&r, "gematria_seq2seq") == NULL);
  CHECK(r.steps == 30);
  CHECK_NEAR(r.wall_seconds, 26, 1e-12, 0);                  /* 20 s before the crash + 6 s */
  CHECK_NEAR(r.blocks_per_sec, (100 * 10 + 200 * 5) / 26.0, 1e-12, 0);
  CHECK(r.num_points == 2);                                  /* step 20 superseded */
  CHECK(r.points[0].step == 10 && fabs(r.points[0].mape - 50) < 1e-9 && r.points[0].seconds == 10);
  CHECK(r.points[1].step == 30 && fabs(r.points[1].mape - 30) < 1e-9 && r.points[1].seconds == 26);
  CHECK_NEAR(r.final_mape, 30, 1e-9, 0);
  CHECK_NEAR(r.best_mape, 30, 1e-9, 0);
  CHECK(r.best_step == 30);

  /* a second run: another rate, the same filters, one flag more; no validation */
  const char *d2 = make_run("b",
                            "--gematria_learning_rate=0.01\n--gematria_checkpoint_dir=b\n"
                            "--gematria_throughput_source_filter=x\n--gematria_throughput_source_filter=y\n"
                            "--gematria_seq2seq=true\n",
                            "{\"step\": 3, \"time\": 1.5, \"loss\": 1, \"relative_mae\": [0.5], \"lr\": 0.01, "
                            "\"blocks_per_sec\": 10.0, \"steps\": 3}\n");
  RunLog runs[2];
  runs[0] = r;
  CHECK(run_log_load(&runs[1], d2) == 0);
  CHECK(runs[1].num_points == 0 && isnan(runs[1].final_mape) && isnan(runs[1].best_mape) && runs[1].best_step < 0);
  CHECK(runs[1].steps == 3 && runs[1].wall_seconds == 1.5);
  const char **keys;
  int nd = run_logs_differing(runs, 2, &keys);
  CHECK(nd == 2);
  if (nd == 2) CHECK(!strcmp(keys[0], "gematria_learning_rate") && !strcmp(keys[1], "gematria_seq2seq"));
  free(keys);
  /* one run alone: nothing differs */
  nd = run_logs_differing(runs, 1, &keys);
  CHECK(nd == 0);
  free(keys);
  run_log_free(&runs[0]);
  run_log_free(&runs[1]);
}

static void check_error(const char *dir, const char *want) {
  RunLog r;
  char err[1024];
  StderrCapture c;
  stderr_capture_begin(&c);
  int rc = run_log_load(&r, dir);
  stderr_capture_end(&c, err, sizeof err);
  CHECK_MSG(rc == -1, "%s was accepted", dir);
  CHECK_MSG(strstr(err, want) != NULL, "want '%s' in: %s", want, err);
  const char *nl = strchr(err, '\n');
  CHECK_MSG(nl && !nl[1], "not one line: %s", err);
}

static void test_bad_runs(void) {
  char path[200];
  snprintf(path, sizeof path, "%s/none", root);
  check_error(path, "none: not a directory");
  const char *d = make_run("nometrics", "--x=1\n", NULL);
  check_error(d, "metrics.jsonl: No such file");
  d = make_run("badline", "--x=1\n", "{\"step\": 1, \"time\": 1}\nnot json\n");
  snprintf(path, sizeof path, "%s/metrics.jsonl:2: not a metrics record", d);
  check_error(d, path);
  d = make_run("notime", "--x=1\n", "{\"step\": 1}\n");
  check_error(d, "metrics.jsonl:1: a metrics record without \"time\"");
  d = make_run("badval", "--x=1\n", "{\"step\": 1, \"time\": 2, \"validation\": {\"count\": 3}}\n");
  check_error(d, "metrics.jsonl:1: a validation record without a relative_mae list");
  d = make_run("badflags", "--x=1\nlearning_rate 3\n", "{\"step\": 1, \"time\": 1}\n");
  snprintf(path, sizeof path, "%s/flags.txt:2: expected --name=value", d);
  check_error(d, path);
  /* no flags.txt and no checkpoint: still a run, with unknown flags */
  d = make_run("noflags", NULL, "{\"step\": 1, \"time\": 1}\n");
  RunLog r;
  CHECK(run_log_load(&r, d) == 0 && r.from_flags_file == -1 && r.num_settings == 0);
  run_log_free(&r);
}

int main(void) {
  snprintf(root, sizeof root, "/tmp/granite_runlog_XXXXXX");
  if (!mkdtemp(root)) return 1;
  test_resumed_run();
  test_bad_runs();
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", root);
  if (system(cmd)) return 1;
  return test_summary("test_run_log");
}
