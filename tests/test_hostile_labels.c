/* Issue 11, hole 9: labels that are not finite in float32 (1e308 overflows
 * to inf, NaN) must stop stats, eval and train with one error line naming
 * the file and the record (before: stats printed inf, eval "MAPE -nan" with
 * exit 0, train stopped without naming the record); import counts such a
 * CSV line as unusable and names it; predict leaves such a label out of its
 * MAPE and says so. Runs the granite binary ($GRANITE_BIN). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/block_io.h"
#include "testing.h"

static const char *bin;
static char dir[] = "/tmp/granite_labels_XXXXXX";

/* Runs a shell command line; returns its exit status, stderr in err. */
static int run(const char *args, char *err, size_t cap) {
  char cmd[4096], errpath[512];
  snprintf(errpath, sizeof errpath, "%s/stderr", dir);
  snprintf(cmd, sizeof cmd, "'%s' %s >/dev/null 2>'%s'", bin, args, errpath);
  int st = system(cmd);
  char *text = read_file_text(errpath, NULL);
  snprintf(err, cap, "%s", text ? text : "");
  free(text);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int count_errors(const char *err) {
  int n = 0;
  for (const char *p = err; (p = strstr(p, "error:")) != NULL; p++) n++;
  return n;
}

/* The first 30 records of the sample with record 7's first value replaced. */
static void write_poisoned(const char *path, double value) {
  BlockReader r;
  TFRecordWriter w;
  CHECK(block_reader_open(&r, "data/sample/sample.tfrecord") == 0);
  CHECK(tfrecord_writer_open(&w, path) == 0);
  Gematria__BasicBlockWithThroughputProto *rec;
  for (int i = 0; i < 30 && block_reader_next(&r, &rec) == 1; i++) {
    if (i == 7) rec->inverse_throughputs[0]->inverse_throughput_cycles[0] = value;
    CHECK(block_write(&w, rec) == 0);
    block_record_free(rec);
  }
  block_reader_close(&r);
  CHECK(tfrecord_writer_commit(&w) == 0);
}

static void expect_named_error(const char *what, int rc, const char *err, const char *file) {
  CHECK_MSG(rc != 0, "%s exited 0", what);
  CHECK_MSG(count_errors(err) == 1, "%s: want one error line: %s", what, err);
  CHECK_MSG(strstr(err, file) && strstr(err, "record 7") && strstr(err, "not a finite float32"), "%s: %s", what,
            err);
}

int main(void) {
  bin = getenv("GRANITE_BIN");
  if (!bin || access(bin, X_OK) || !mkdtemp(dir)) {
    fprintf(stderr, "test_hostile_labels: GRANITE_BIN not set (run through ctest) or no temp dir\n");
    return 1;
  }
  char big[600], nan_file[600], ck[600], args[4096], err[8192];
  snprintf(big, sizeof big, "%s/big.tfrecord", dir);
  snprintf(nan_file, sizeof nan_file, "%s/nan.tfrecord", dir);
  snprintf(ck, sizeof ck, "%s/ck", dir);
  write_poisoned(big, 1e308);
  write_poisoned(nan_file, NAN);
  const char *small = "--gematria_node_embedding_size=8 --gematria_edge_embedding_size=8 "
                      "--gematria_global_embedding_size=8 --gematria_node_update_layers=8 "
                      "--gematria_edge_update_layers=8 --gematria_global_update_layers=8 "
                      "--gematria_task_readout_layers=8 --gematria_num_message_passing_iterations=1";

  snprintf(args, sizeof args, "stats %s", big);
  expect_named_error("stats 1e308", run(args, err, sizeof err), err, big);
  snprintf(args, sizeof args, "stats %s", nan_file);
  expect_named_error("stats NaN", run(args, err, sizeof err), err, nan_file);
  for (int k = 0; k < 2; k++) {
    const char *file = k ? nan_file : big;
    snprintf(args, sizeof args,
             "train --gematria_checkpoint_dir=%s/bad%d --gematria_tokens_file=data/sample/vocab.txt "
             "--gematria_input_file=%s --gematria_training_num_epochs=1 %s",
             dir, k, file, small);
    expect_named_error(k ? "train NaN" : "train 1e308", run(args, err, sizeof err), err, file);
  }
  /* a healthy checkpoint, then eval and predict on the poisoned files */
  snprintf(args, sizeof args,
           "train --gematria_checkpoint_dir=%s --gematria_tokens_file=data/sample/vocab.txt "
           "--gematria_input_file=data/sample/sample.tfrecord --gematria_max_blocks_in_batch=10 "
           "--gematria_training_num_epochs=1 %s",
           ck, small);
  CHECK_MSG(run(args, err, sizeof err) == 0, "healthy train: %s", err);
  snprintf(args, sizeof args, "eval --gematria_checkpoint_file=%s/model.ckpt-1 --gematria_input_file=%s", ck, big);
  expect_named_error("eval 1e308", run(args, err, sizeof err), err, big);
  snprintf(args, sizeof args, "eval --gematria_checkpoint_file=%s/model.ckpt-1 --gematria_input_file=%s --json", ck,
           nan_file);
  expect_named_error("eval NaN", run(args, err, sizeof err), err, nan_file);
  snprintf(args, sizeof args,
           "predict --gematria_checkpoint_file=%s/model.ckpt-1 --gematria_input_file=%s "
           "--gematria_output_file=%s/p.tfrecord",
           ck, big, dir);
  CHECK_MSG(run(args, err, sizeof err) == 0, "predict passes such a record through: %s", err);
  CHECK_MSG(strstr(err, "1 label(s) in the input are not finite float32 values") && !strstr(err, "nan") &&
                !strstr(err, "inf"),
            "predict: %s", err);

  /* import: the line is unusable and named; the other line is kept */
  char csv[600];
  snprintf(csv, sizeof csv, "%s/big.csv", dir);
  FILE *f = fopen(csv, "w");
  fprintf(f, "4829d3,1e308\n4801d8,98.5\n4801c8,4e38\n");
  fclose(f);
  snprintf(args, sizeof args, "import-bhive --output %s/i.tfrecord %s", dir, csv);
  CHECK_MSG(run(args, err, sizeof err) == 0, "import: %s", err);
  CHECK_MSG(strstr(err, "big.csv:1") && strstr(err, "big.csv:3") && strstr(err, "1 records"), "import: %s", err);
  snprintf(args, sizeof args, "import-bhive --scaling 1e37 --output %s/j.tfrecord %s", dir, csv);
  run(args, err, sizeof err);
  CHECK_MSG(strstr(err, "big.csv:2") && strstr(err, "float32"), "import with --scaling 1e37: %s", err);

  char cmd[700];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
  return test_summary("test_hostile_labels");
}
