/* Issue 11, the n log n class: commands that tally throughput sources must
 * not take quadratic time. A file with 100,000 sources (one record holding
 * them all, and 100,000 records with a source each) through `granite stats`
 * and eval's label-source table; both counted exactly, and fast. Before,
 * both looked each source up in a list (about 5e9 string compares here). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "io/block_io.h"
#include "testing.h"
#include "train/label_sources.h"
#include "util/common.h"
#include "util/str_index.h"

/* 100,000 sources; 10,000 under the sanitizers, which check memory, not speed
 * (a power of 10: the counts below rely on it) */
static int N = 100000;

static const char *bin;

/* CPU seconds of this process or of its waited-for children: the machine
 * may be busy, so wall time says little. */
static double cpu_seconds(int who) {
  struct rusage u;
  getrusage(who, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}
static char dir[] = "/tmp/granite_sources_XXXXXX";

static void test_str_index(void) {
  StrIndex x = {0};
  char key[32];
  int added;
  for (int i = 0; i < 1000; i++) {
    snprintf(key, sizeof key, "k%d", i);
    CHECK(str_index_get(&x, key, &added) == (size_t)i && added);
  }
  int ok = 1;
  for (int i = 999; i >= 0; i--) { /* after many rehashes every key keeps its number */
    snprintf(key, sizeof key, "k%d", i);
    ok &= str_index_get(&x, key, &added) == (size_t)i && !added && !strcmp(x.keys[i], key);
  }
  CHECK(ok && x.count == 1000);
  CHECK(str_index_get(&x, "", &added) == 1000 && added && str_index_get(&x, "", NULL) == 1000);
  str_index_free(&x);
}

/* records = 1: one record with N sources, each given twice (the second
 * entry of a source is ignored, spec §5.1); else N records, source i in
 * record i. Every value is 1 + i % 7. */
static void write_file(const char *path, int records) {
  TFRecordWriter w;
  CHECK(tfrecord_writer_open(&w, path) == 0);
  int written = 0;
  Gematria__BasicBlockProto block = GEMATRIA__BASIC_BLOCK_PROTO__INIT;
  Gematria__BasicBlockWithThroughputProto rec = GEMATRIA__BASIC_BLOCK_WITH_THROUGHPUT_PROTO__INIT;
  rec.basic_block = &block;
  size_t per = records == 1 ? 2 * N : 1;
  Gematria__ThroughputWithSourceProto *tps = xcalloc(per, sizeof *tps), **ptrs = xcalloc(per, sizeof *ptrs);
  double *values = xcalloc(per, sizeof *values);
  char(*names)[16] = xcalloc(per, sizeof *names);
  rec.inverse_throughputs = ptrs;
  rec.n_inverse_throughputs = per;
  for (int r = 0; r < (records == 1 ? 1 : N); r++) {
    for (size_t k = 0; k < per; k++) {
      int i = records == 1 ? (int)(k % (size_t)N) : r;
      gematria__throughput_with_source_proto__init(&tps[k]);
      snprintf(names[k], sizeof names[k], "cpu%d", i);
      values[k] = k < (size_t)N ? 1 + i % 7 : 1000; /* the ignored duplicates would change the stats */
      tps[k].source = names[k];
      tps[k].inverse_throughput_cycles = &values[k];
      tps[k].n_inverse_throughput_cycles = 1;
      ptrs[k] = &tps[k];
    }
    written += block_write(&w, &rec) == 0;
  }
  CHECK(written == (records == 1 ? 1 : N));
  CHECK(tfrecord_writer_commit(&w) == 0);
  free(tps);
  free(ptrs);
  free(values);
  free(names);
}

static void test_stats(const char *path, const char *what) {
  char cmd[1200], out[600];
  snprintf(out, sizeof out, "%s/stats.json", dir);
  snprintf(cmd, sizeof cmd, "'%s' stats --json '%s' >'%s'", bin, path, out);
  double t0 = cpu_seconds(RUSAGE_CHILDREN);
  int st = system(cmd);
  double seconds = cpu_seconds(RUSAGE_CHILDREN) - t0;
  fprintf(stderr, "stats, %s (N = %d): %.2f CPU seconds\n", what, N, seconds);
  CHECK_MSG(st == 0, "stats on %s failed", what);
  /* about a second; quadratic, 5e9 string compares took minutes */
  CHECK_MSG(seconds < 20, "stats on %s took %.1f CPU seconds", what, seconds);
  char *json = read_file_text(out, NULL);
  CHECK(json != NULL);
  if (!json) return;
  /* every source once, with its one label; the last one's value is 1 + (N - 1) % 7 */
  char last[200];
  int v = 1 + (N - 1) % 7;
  snprintf(last, sizeof last,
           "{\"source\": \"cpu%d\", \"records\": 1, \"labels\": 1, \"min\": %d, \"median\": %d, \"mean\": %d, "
           "\"max\": %d}", N - 1, v, v, v, v);
  CHECK_MSG(strstr(json, last), "%s: %s not found", what, last);
  int sources = 0;
  for (const char *p = json; (p = strstr(p, "{\"source\": ")) != NULL; p++) sources++;
  CHECK_MSG(sources == N, "%s: %d sources", what, sources);
  CHECK_MSG(!strstr(json, ": 1000,") && !strstr(json, ": 1000}"), "%s: a second entry of a source was counted",
            what);
  free(json);
}

static void test_label_sources(const char *path, const char *what) {
  char out_path[600];
  snprintf(out_path, sizeof out_path, "%s/labels.txt", dir);
  FILE *out = fopen(out_path, "w");
  const char *files[] = {path}, *filters[] = {".*", "^cpu1"}, *names[] = {"all", "cpu1x"};
  double t0 = cpu_seconds(RUSAGE_SELF);
  CHECK(print_label_sources(out, files, 1, filters, names, 2) == 0);
  double seconds = cpu_seconds(RUSAGE_SELF) - t0;
  fclose(out);
  fprintf(stderr, "label sources, %s (N = %d): %.2f CPU seconds\n", what, N, seconds);
  CHECK_MSG(seconds < 20, "label sources of %s took %.1f CPU seconds", what, seconds);
  char *text = read_file_text(out_path, NULL);
  CHECK(text != NULL);
  if (!text) return;
  int n = 0;
  for (const char *p = text; (p = strstr(p, " records)")) != NULL; p++) n++;
  if (strstr(what, "one record")) { /* the first matching entry of the record, per task */
    CHECK_MSG(strstr(text, "labels of task all (filter '.*'): \"cpu0\" in many1.tfrecord (1 records)\n") &&
                  strstr(text, "labels of task cpu1x (filter '^cpu1'): \"cpu1\" in many1.tfrecord (1 records)\n"),
              "%s", text);
  } else { /* task all: every source; cpu1x: cpu1, cpu1D, cpu1DD, ... = 1 + 10 + 100 + ... = (N - 1) / 9 */
    CHECK_MSG(n == N + (N - 1) / 9, "%s: %d tallies", what, n);
    char last[100];
    snprintf(last, sizeof last, "; \"cpu%d\" in manyN.tfrecord (1 records)\n", N - 1);
    CHECK(strstr(text, last));
  }
  free(text);
}

int main(void) {
  bin = getenv("GRANITE_BIN");
  if (!bin || access(bin, X_OK) || !mkdtemp(dir)) {
    fprintf(stderr, "test_many_sources: GRANITE_BIN not set (run through ctest) or no temp dir\n");
    return 1;
  }
  if (test_sanitizers()) N = 10000;
  test_str_index();
  char one[600], many[600];
  snprintf(one, sizeof one, "%s/many1.tfrecord", dir);
  snprintf(many, sizeof many, "%s/manyN.tfrecord", dir);
  write_file(one, 1);
  write_file(many, N);
  test_stats(one, "one record with N sources");
  test_stats(many, "N records, a source each");
  test_label_sources(one, "one record with N sources");
  test_label_sources(many, "N records, a source each");
  char cmd[700];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
  return test_summary("test_many_sources");
}
