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
#include "io/tfrecord.h"
#include "testing.h"
#include "train/flags.h"
#include "train/predict.h"
#include "train/trainer.h"

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

  TFRecordReader r;
  if (tfrecord_open(&r, outfile)) {
    CHECK_MSG(0, "no output %s", outfile);
    return;
  }
  const uint8_t *data;
  size_t len;
  int records = 0, with_entry = 0, prefix_mismatch = 0;
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
  CHECK(records == 35);
  CHECK(with_entry == 35);
  CHECK_MSG(prefix_mismatch == 0, "%d blocks: prefix count != instruction count", prefix_mismatch);
  CHECK_MSG(worst < 1e-5, "last prefix differs from the block prediction by %.3g (relative)", worst);
  printf("%s: 35 records, prefixes checked, worst last-prefix error %.3g\n", seq2seq ? "seq2seq" : "seq2num", worst);
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
