/* Does the whole training path learn? (spec §9 check 5, made stricter)
 * (a) one block, lr 0.01: relative error < 5% within 300 steps;
 * (b) the bundled sample (2,157 BHive blocks, haswell labels), a small model:
 *     the validation MAPE beats the mean predictor by a clear margin.
 * Both go through train_main (the real loop, checkpoints included) and read
 * the final checkpoint back. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/dataset.h"
#include "io/tfrecord.h"
#include "testing.h"
#include "train/evaluate.h"
#include "train/flags.h"
#include "train/model_checkpoint.h"
#include "train/predict.h"
#include "train/trainer.h"
#include "util/common.h"

#define SAMPLE "data/sample/sample.tfrecord"
#define VOCAB "data/sample/vocab.txt"

static char tmpdir[] = "/tmp/granite_test_learning_XXXXXX";

static int parse_args(GematriaFlags *f, const char **args) {
  char *argv[64];
  int argc = 0;
  argv[argc++] = "granite";
  for (; *args; args++) argv[argc++] = (char *)*args;
  flags_init(f);
  return flags_parse(f, argc, argv, 1);
}

/* Loads the newest checkpoint of dir into *m (with its vocab in *ck). */
static int load_latest(const char *dir, Checkpoint *ck, GraniteModel *m) {
  if (checkpoint_open(ck, dir)) return -1;
  if (granite_model_create(m, &ck->config) || checkpoint_load_params(ck, m)) return -1;
  return 0;
}

static int load_data(Dataset *ds, const char *path, const Checkpoint *ck, GraphOptions *g) {
  if (graph_options_init(g, &ck->vocab, "_UNKNOWN_")) return -1;
  DatasetOptions o;
  dataset_options_init(&o, g);
  const char *filter[] = {"bhive: haswell"};
  o.source_filters = filter;
  o.num_filters = 1;
  o.scaling = 0.01; /* cycles per iteration */
  return dataset_load(ds, &path, 1, &o);
}

static void test_one_block(void) {
  /* a .tfrecord holding the first record of the sample */
  char one[256], ckdir[256], ckflag[300], inflag[300];
  snprintf(one, sizeof one, "%s/one.tfrecord", tmpdir);
  snprintf(ckdir, sizeof ckdir, "%s/one_model", tmpdir);
  TFRecordReader r;
  TFRecordWriter w;
  const uint8_t *data;
  size_t len;
  CHECK(tfrecord_open(&r, SAMPLE) == 0);
  CHECK(tfrecord_next(&r, &data, &len) == 1);
  CHECK(tfrecord_writer_open(&w, one) == 0);
  CHECK(tfrecord_write(&w, data, len) == 0);
  CHECK(tfrecord_writer_commit(&w) == 0);
  tfrecord_close(&r);

  snprintf(ckflag, sizeof ckflag, "--gematria_checkpoint_dir=%s", ckdir);
  snprintf(inflag, sizeof inflag, "--gematria_input_file=%s", one);
  const char *args[] = {inflag, ckflag, "--gematria_tokens_file=" VOCAB,
                        "--gematria_throughput_source_filter=bhive: haswell", "--gematria_input_file_scaling=0.01",
                        "--gematria_learning_rate=0.01", "--gematria_training_num_epochs=300",
                        "--gematria_save_checkpoint_epochs=300", "--gematria_node_embedding_size=32",
                        "--gematria_edge_embedding_size=32", "--gematria_global_embedding_size=32",
                        "--gematria_num_message_passing_iterations=4", "--gematria_log_interval_secs=1000", "--gematria_num_threads=1", NULL};
  GematriaFlags f;
  CHECK(parse_args(&f, args) == 0);
  CHECK(train_main(&f) == 0);
  flags_free(&f);

  Checkpoint ck;
  GraniteModel m;
  if (load_latest(ckdir, &ck, &m)) {
    CHECK_MSG(0, "no checkpoint in %s", ckdir);
    return;
  }
  CHECK(ck.global_step == 300);
  Dataset ds;
  GraphOptions g;
  CHECK(load_data(&ds, one, &ck, &g) == 0);
  CHECK(ds.num_blocks == 1);
  float pred;
  CHECK(predict_dataset(&m, &ds, NULL, 0, 10, 1000000, &pred, NULL) == 1);
  float label;
  uint8_t mask;
  dataset_block_labels(&ds, 0, NULL, &label, &mask, NULL, NULL);
  double rel = fabs(pred - label) / label;
  printf("one block: label %.3f, prediction %.3f, relative error %.4f\n", label, pred, rel);
  CHECK_MSG(rel < 0.05, "relative error %.4f after 300 steps", rel);
  dataset_free(&ds);
  granite_model_destroy(&m);
  checkpoint_close(&ck);
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

static void test_sample(void) {
  char ckdir[256], ckflag[300];
  snprintf(ckdir, sizeof ckdir, "%s/sample_model", tmpdir);
  snprintf(ckflag, sizeof ckflag, "--gematria_checkpoint_dir=%s", ckdir);
  const char *args[] = {"--gematria_input_file=" SAMPLE, ckflag, "--gematria_tokens_file=" VOCAB,
                        "--gematria_throughput_source_filter=bhive: haswell", "--gematria_input_file_scaling=0.01",
                        "--gematria_loss_type=mean_absolute_error", "--gematria_loss_normalization=percentage_error",
                        "--gematria_learning_rate=0.003", "--gematria_training_num_epochs=600",
                        "--gematria_max_blocks_in_batch=64", "--gematria_save_checkpoint_epochs=200",
                        "--gematria_validation_fraction=0.2", "--gematria_node_embedding_size=32",
                        "--gematria_edge_embedding_size=32", "--gematria_global_embedding_size=32",
                        "--gematria_num_message_passing_iterations=4", "--gematria_log_interval_secs=5", "--gematria_num_threads=1", NULL};
  GematriaFlags f;
  CHECK(parse_args(&f, args) == 0);
  double t0 = now_seconds();
  CHECK(train_main(&f) == 0);
  printf("sample: trained 600 steps in %.1fs\n", now_seconds() - t0);
  flags_free(&f);

  Checkpoint ck;
  GraniteModel m;
  if (load_latest(ckdir, &ck, &m)) {
    CHECK_MSG(0, "no checkpoint in %s", ckdir);
    return;
  }
  Dataset ds;
  GraphOptions g;
  CHECK(load_data(&ds, SAMPLE, &ck, &g) == 0);
  int32_t *train, *valid;
  int nt, nv;
  dataset_split_by_hash(&ds, 0.2, &train, &nt, &valid, &nv);
  CHECK(nv > 200 && nt > 1500);
  /* mean and median predictors fitted on the training part */
  double sum = 0;
  float *ytrain = xmalloc((size_t)nt * sizeof(float));
  for (int i = 0; i < nt; i++) {
    uint8_t mk;
    dataset_block_labels(&ds, train[i], NULL, &ytrain[i], &mk, NULL, NULL);
    sum += ytrain[i];
  }
  double mean = sum / nt;
  qsort(ytrain, (size_t)nt, sizeof(float), cmp_float);
  double median = ytrain[nt / 2];
  double mape_mean = 0, mape_median = 0;
  for (int i = 0; i < nv; i++) {
    float y;
    uint8_t mk;
    dataset_block_labels(&ds, valid[i], NULL, &y, &mk, NULL, NULL);
    mape_mean += fabs(mean - y) / y / nv;
    mape_median += fabs(median - y) / y / nv;
  }
  float *pred = xmalloc((size_t)ds.num_blocks * sizeof(float));
  predict_dataset(&m, &ds, valid, nv, 500, 1000000, pred, NULL);
  Metrics met;
  PercentileRanks ranks;
  percentile_ranks_default(&ranks);
  CHECK(evaluate_predictions(&met, &ds, valid, nv, pred, &ranks, true) == 0);
  double mape = met.task[0].relative_mae;
  printf("sample: validation MAPE %.1f%% (mean predictor %.1f%%, median predictor %.1f%%), Kendall tau %.3f\n",
         100 * mape, 100 * mape_mean, 100 * mape_median, met.task[0].kendall_tau);
  CHECK_MSG(mape < 0.5 * mape_mean, "model MAPE %.3f vs mean predictor %.3f", mape, mape_mean);
  CHECK_MSG(mape < 0.8 * mape_median, "model MAPE %.3f vs median predictor %.3f", mape, mape_median);
  CHECK(met.task[0].kendall_tau > 0.5);
  /* the best checkpoint by validation MAPE is recorded in the index */
  CheckpointIndex ix;
  CHECK(checkpoint_index_read(ckdir, &ix) == 0);
  CHECK(ix.latest_step == 600);
  CHECK(ix.best_step > 0 && isfinite(ix.best_validation_mape));
  checkpoint_index_free(&ix);
  char jsonl[400];
  snprintf(jsonl, sizeof jsonl, "%s/metrics.jsonl", ckdir);
  size_t n;
  char *log = read_file_text(jsonl, &n);
  CHECK(log && strstr(log, "\"validation\"") && strstr(log, "\"step\": 600"));
  free(log);
  free(ytrain);
  free(pred);
  free(train);
  free(valid);
  dataset_free(&ds);
  granite_model_destroy(&m);
  checkpoint_close(&ck);
}

int main(void) {
  if (access(SAMPLE, R_OK) || !mkdtemp(tmpdir)) {
    fprintf(stderr, "test_learning: %s missing or no temp dir\n", SAMPLE);
    return 1;
  }
  setenv("OMP_NUM_THREADS", "2", 0);
  test_one_block();
  test_sample();
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmpdir);
  return test_summary("test_learning");
}
