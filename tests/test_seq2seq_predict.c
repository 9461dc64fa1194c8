/* Seq2seq predict writes, per task entry, one prefix_inverse_throughputs
 * entry per instruction holding the CUMULATIVE prediction of instructions
 * 0..j (a deliberate difference from Gematria's per-instruction deltas, spec
 * §5.8; docs/training.md). A tiny seq2seq model is trained a few steps on
 * the Gematria fixture (seq2seq loss on the llvm_sim prefixes), then
 * predict_main's output is read back. A seq2num model writes no prefixes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gematria.pb-c.h"
#include "io/dataset.h"
#include "io/tfrecord.h"
#include "model/model.h"
#include "testing.h"
#include "train/flags.h"
#include "train/model_checkpoint.h"
#include "train/predict.h"
#include "train/restore.h"
#include "train/trainer.h"
#include "util/common.h"
#include "util/rng.h"

#define VOCAB "data/sample/vocab.txt" /* fixture tokens it lacks become _UNKNOWN_ */

static char tmpdir[] = "/tmp/granite_test_s2s_XXXXXX";
static char fixture[512];

static int run(const char **args, int (*action)(const GematriaFlags *)) {
  char *argv[64];
  int argc = 0;
  argv[argc++] = "granite";
  for (; *args; args++) argv[argc++] = (char *)*args;
  GematriaFlags f;
  flags_init(&f);
  int rc = flags_parse(&f, argc, argv, 1);
  if (rc == 0) rc = action(&f);
  flags_free(&f);
  return rc;
}

/* The model's per-instruction outputs (seq2seq rows) of every block of the
 * fixture, each block predicted alone: out[b] has num_instructions[b]
 * values (one task). NULL if the model or the data do not load. */
static float **instruction_outputs(const char *ckfile_flag, int *num_blocks, int32_t **num_instructions) {
  char *argv[] = {"granite", (char *)ckfile_flag, NULL};
  GematriaFlags f;
  flags_init(&f);
  Checkpoint ck;
  GraniteModel m;
  if (flags_parse(&f, 2, argv, 1) || restore_model_for_inference(&f, &ck, &m)) {
    flags_free(&f);
    return NULL;
  }
  GraphOptions gopts;
  /* as predict: tokens the vocabulary lacks become the replacement token */
  const char *repl = f.out_of_vocabulary_replacement_token[0] ? f.out_of_vocabulary_replacement_token : NULL;
  graph_options_init(&gopts, &ck.vocab, repl);
  granite_graph_options(&m.cfg, &gopts);
  DatasetOptions o;
  dataset_options_init(&o, &gopts);
  o.mode = DATASET_PREDICT;
  o.num_tasks = 1;
  o.quiet = true;
  Dataset ds;
  const char *files[] = {fixture};
  float **out = NULL;
  if (dataset_load(&ds, files, 1, &o) == 0) {
    out = xcalloc((size_t)ds.num_blocks, sizeof *out);
    *num_instructions = xcalloc((size_t)ds.num_blocks, sizeof **num_instructions);
    Batch b;
    batch_init(&b, 1);
    Rng rng;
    rng_seed(&rng, 1);
    for (int i = 0; i < ds.num_blocks; i++) {
      int32_t id = i;
      dataset_fill_batch(&ds, &id, 1, &b, &rng);
      int rows = granite_output_rows(&m, &b);
      float block;
      out[i] = xmalloc(sizeof(float) * (size_t)(rows + 1));
      granite_forward(&m, &b, out[i], &block);
      (*num_instructions)[i] = rows;
    }
    batch_free(&b);
    *num_blocks = ds.num_blocks;
    dataset_free(&ds);
  }
  granite_model_destroy(&m);
  checkpoint_close(&ck);
  flags_free(&f);
  return out;
}

/* Trains 5 steps (seq2seq or not), predicts the fixture, checks the output. */
static void check_model(bool seq2seq) {
  char ckdir[300], ckflag[340], ckfile[360], inflag[600], outfile[300], outflag[340];
  snprintf(ckdir, sizeof ckdir, "%s/%s", tmpdir, seq2seq ? "s2s" : "s2n");
  snprintf(ckflag, sizeof ckflag, "--gematria_checkpoint_dir=%s", ckdir);
  snprintf(ckfile, sizeof ckfile, "--gematria_checkpoint_file=%s/model.ckpt-5", ckdir);
  snprintf(inflag, sizeof inflag, "--gematria_input_file=%s", fixture);
  snprintf(outfile, sizeof outfile, "%s/%s.tfrecord", tmpdir, seq2seq ? "s2s" : "s2n");
  snprintf(outflag, sizeof outflag, "--gematria_output_file=%s", outfile);
  const char *train[] = {inflag, ckflag, "--gematria_tokens_file=" VOCAB, seq2seq ? "--gematria_seq2seq" : "--nogematria_seq2seq",
                         "--gematria_throughput_source_filter=llvm_sim", "--gematria_training_num_epochs=5",
                         "--gematria_max_blocks_in_batch=10", "--gematria_node_embedding_size=16",
                         "--gematria_edge_embedding_size=16", "--gematria_global_embedding_size=16",
                         "--gematria_node_update_layers=16", "--gematria_edge_update_layers=16",
                         "--gematria_global_update_layers=16", "--gematria_task_readout_layers=16",
                         "--gematria_num_message_passing_iterations=2", "--gematria_num_threads=1",
                         "--gematria_log_interval_secs=1000", NULL};
  CHECK(run(train, train_main) == 0);
  const char *predict[] = {inflag, ckfile, outflag, "--gematria_max_blocks_in_batch=7", NULL};
  CHECK(run(predict, predict_main) == 0);

  int num_blocks = 0;
  int32_t *num_instructions = NULL;
  float **rows = seq2seq ? instruction_outputs(ckfile, &num_blocks, &num_instructions) : NULL;
  CHECK(!seq2seq || (rows && num_blocks == 35));
  TFRecordReader r;
  if (tfrecord_open(&r, outfile)) {
    CHECK_MSG(0, "no output %s", outfile);
    return;
  }
  const uint8_t *data;
  size_t len;
  int records = 0, with_entry = 0, prefix_mismatch = 0, prefixes_checked = 0;
  double worst = 0;
  while (tfrecord_next(&r, &data, &len) == 1) {
    records++;
    Gematria__BasicBlockWithThroughputProto *rec = gematria__basic_block_with_throughput_proto__unpack(NULL, len, data);
    CHECK(rec != NULL);
    if (!rec) continue;
    size_t I = rec->basic_block ? rec->basic_block->n_canonicalized_instructions : 0;
    for (size_t e = 0; e < rec->n_inverse_throughputs; e++) {
      const Gematria__ThroughputWithSourceProto *tp = rec->inverse_throughputs[e];
      if (strncmp(tp->source, "granite: model.ckpt-5, task=default", 40)) continue;
      with_entry++;
      CHECK(tp->n_inverse_throughput_cycles == 1);
      if (!seq2seq) {
        CHECK_MSG(tp->n_prefix_inverse_throughputs == 0, "seq2num wrote %zu prefixes", tp->n_prefix_inverse_throughputs);
        continue;
      }
      if (tp->n_prefix_inverse_throughputs != I) {
        prefix_mismatch++;
        continue;
      }
      bool one_value_each = true;
      for (size_t j = 0; j < I; j++) one_value_each &= tp->prefix_inverse_throughputs[j]->n_inverse_throughput_cycles == 1;
      CHECK(one_value_each);
      if (!one_value_each || I == 0) continue;
      /* every prefix j: the sum of the model's outputs for instructions 0..j */
      if (rows && records - 1 < num_blocks && num_instructions[records - 1] == (int32_t)I) {
        double sum = 0, worst_prefix = 0;
        for (size_t j = 0; j < I; j++) {
          sum += rows[records - 1][j];
          double got = tp->prefix_inverse_throughputs[j]->inverse_throughput_cycles[0];
          worst_prefix = fmax(worst_prefix, fabs(got - sum) / fmax(fabs(sum), 1e-3));
        }
        prefixes_checked += (int)I;
        /* rounding only: predict batched 7 blocks, here each is alone */
        CHECK_MSG(worst_prefix < 1e-4, "record %d: a prefix is %.3g (relative) from the sum of its outputs",
                  records - 1, worst_prefix);
      } else {
        CHECK_MSG(0, "record %d: the model has %d outputs for its %zu instructions", records - 1,
                  rows && records - 1 < num_blocks ? num_instructions[records - 1] : -1, I);
      }
      /* the last prefix is the block: the model's own sum of the outputs */
      double block = tp->inverse_throughput_cycles[0];
      double last = tp->prefix_inverse_throughputs[I - 1]->inverse_throughput_cycles[0];
      double err = fabs(last - block) / fmax(fabs(block), 1e-3);
      if (err > worst) worst = err;
      /* cumulative, not deltas: with more than one instruction, the deltas
       * would sum to the block, the prefixes (unless all but one are 0) not */
      if (I > 1) {
        double sum = 0;
        for (size_t j = 0; j < I; j++) sum += tp->prefix_inverse_throughputs[j]->inverse_throughput_cycles[0];
        CHECK_MSG(fabs(sum - block) > 1e-3 * fabs(block), "prefixes of a %zu-instruction block sum to the block", I);
      }
    }
    gematria__basic_block_with_throughput_proto__free_unpacked(rec, NULL);
  }
  tfrecord_close(&r);
  for (int i = 0; i < num_blocks; i++) free(rows[i]);
  free(rows);
  free(num_instructions);
  CHECK(!seq2seq || prefixes_checked > 35); /* every prefix of every block */
  CHECK(records == 35);
  CHECK(with_entry == 35);
  CHECK_MSG(prefix_mismatch == 0, "%d blocks: prefix count != instruction count", prefix_mismatch);
  CHECK_MSG(worst < 1e-5, "last prefix differs from the block prediction by %.3g (relative)", worst);
  printf("%s: 35 records, %d prefixes checked against the model's outputs, worst last-prefix error %.3g\n",
         seq2seq ? "seq2seq" : "seq2num", prefixes_checked, worst);
}

int main(void) {
  if (!shared_data_dir()) {
    fprintf(stderr, "test_seq2seq_predict: ../shared/data not found; skipped\n");
    return TEST_SKIPPED;
  }
  snprintf(fixture, sizeof fixture, "%s/gematria-fixtures/basic_blocks_with_throughput.tfrecord", shared_data_dir());
  if (access(fixture, R_OK) || access(VOCAB, R_OK) || !mkdtemp(tmpdir)) {
    fprintf(stderr, "test_seq2seq_predict: %s or %s missing, or no temp dir\n", fixture, VOCAB);
    return 1;
  }
  check_model(true);
  check_model(false);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmpdir);
  return test_summary("test_seq2seq_predict");
}
