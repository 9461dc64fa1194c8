/* The public C API: a checkpoint written by the trainer's code is loaded by
 * granite_load and gives the same predictions as the model run directly;
 * bad bytes, bad hex and bad checkpoints fail cleanly; single-block latency. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "granite.h"
#include "graph/graph.h"
#include "model/model.h"
#include "testing.h"
#include "train/model_checkpoint.h"
#include "util/common.h"
#include "x86/canonicalize.h"
#include "x86/tokens.h"

static const char *ckpt_path = "/tmp/granite_test_api.ckpt-7";
/* spec §3.7 block and a 5-instruction block from BHive */
static const char *block37 = "4829d38b44246c8b54246848c1fb034829d04839c3";

static void collect_token(const char *token, void *ctx) {
  Vocab *v = ctx;
  v->tokens = xrealloc(v->tokens, (v->size + 1) * sizeof *v->tokens);
  v->tokens[v->size++] = (char *)token;
}

/* Prediction of the model run directly on the canonicalized block. */
static float direct_prediction(GraniteModel *m, const Vocab *vocab, const uint8_t *code, size_t n) {
  Gematria__BasicBlockProto block;
  gematria__basic_block_proto__init(&block);
  size_t bad;
  CHECK(x86_canonicalize_block(code, n, 0, &block, &bad) > 0);
  GraphOptions opts;
  CHECK(graph_options_init(&opts, vocab, "_UNKNOWN_") == 0);
  BlockGraph g = {0};
  char why[256];
  CHECK(graph_build_block(&g, &block, &opts, why, sizeof why) == 0);
  Batch b;
  batch_init(&b, 2);
  batch_add(&b, &g, NULL, NULL, NULL, NULL);
  float out[2], pred[2];
  granite_forward(m, &b, out, pred);
  batch_free(&b);
  block_graph_free(&g);
  x86_block_clear(&block);
  return pred[1];
}

int main(void) {
  uint8_t code[21];
  for (int i = 0; i < 21; i++) sscanf(block37 + 2 * i, "%2hhx", &code[i]);

  /* Vocabulary: the block's own tokens minus RDX, so one register is OOV. */
  Gematria__BasicBlockProto block;
  gematria__basic_block_proto__init(&block);
  size_t bad;
  CHECK(x86_canonicalize_block(code, sizeof code, 0, &block, &bad) == 6);
  Vocab raw = {0};
  for (size_t i = 0; i < block.n_canonicalized_instructions; i++)
    instruction_token_list(block.canonicalized_instructions[i], collect_token, &raw);
  const char **kept = xmalloc(raw.size * sizeof *kept);
  int nk = 0;
  for (int i = 0; i < raw.size; i++)
    if (strcmp(raw.tokens[i], "RDX")) kept[nk++] = raw.tokens[i];
  Vocab vocab;
  vocab_from_list(&vocab, kept, nk);
  free(kept);
  free(raw.tokens);
  x86_block_clear(&block);

  GraniteConfig cfg;
  granite_config_default(&cfg);
  cfg.vocab_size = vocab.size;
  cfg.num_tasks = 2;
  cfg.node_embedding_size = cfg.edge_embedding_size = cfg.global_embedding_size = 16;
  cfg.num_message_passing_iterations = 3;
  GraniteModel m;
  CHECK(granite_model_create(&m, &cfg) == 0);
  granite_model_init_params(&m, 42);
  const char *tasks[2] = {"hsw", "skl"};
  CheckpointContents c = {.global_step = 7, .model = &m, .vocab = &vocab, .num_tasks = 2,
                          .task_names = tasks, .validation_mape = NAN};
  CHECK(checkpoint_write_file(ckpt_path, &c) == 0);

  char err[256] = "";
  granite_model *g = granite_load(ckpt_path, err, sizeof err);
  CHECK_MSG(g != NULL, "%s", err);
  if (!g) return test_summary("test_api");
  CHECK(granite_num_tasks(g) == 2);
  CHECK(!strcmp(granite_task_name(g, 1), "skl"));
  CHECK(granite_task_name(g, 2) == NULL);

  float out[2], out_hex[2];
  CHECK(granite_predict_bytes(g, code, sizeof code, out) == 0);
  CHECK(granite_predict_hex(g, block37, out_hex) == 0);
  CHECK(out[0] == out_hex[0] && out[1] == out_hex[1]);
  CHECK(isfinite(out[0]) && isfinite(out[1]));
  CHECK_NEAR(out[1], direct_prediction(&m, &vocab, code, sizeof code), 1e-5, 1e-6);

  /* A batch with a bad block in the middle: NaN there, others as alone. */
  const uint8_t undecodable[] = {0xff};
  const uint8_t *blocks[3] = {code, undecodable, code + 3}; /* code+3: the last 5 instructions */
  size_t sizes[3] = {sizeof code, 1, sizeof code - 3};
  float outs[6], alone[2];
  CHECK(granite_predict_batch(g, blocks, sizes, 3, outs) == -1);
  CHECK_NEAR(outs[0], out[0], 1e-5, 1e-6); /* batch shape may change the summation order */
  CHECK_NEAR(outs[1], out[1], 1e-5, 1e-6);
  CHECK(isnan(outs[2]) && isnan(outs[3]));
  CHECK(granite_predict_bytes(g, code + 3, sizeof code - 3, alone) == 0);
  CHECK_NEAR(outs[4], alone[0], 1e-5, 1e-6);
  CHECK_NEAR(outs[5], alone[1], 1e-5, 1e-6);

  CHECK(granite_predict_hex(g, "4829d", out) == -1);  /* odd length */
  CHECK(granite_predict_hex(g, "48zzd3", out) == -1); /* not hex */
  CHECK(granite_predict_hex(g, "", out) == -1);
  CHECK(granite_predict_bytes(g, code, 0, out) == -1);

  /* Latency of one 5-instruction block, single thread (median of 201). */
  granite_set_num_threads(g, 1);
  double times[201];
  for (int r = 0; r < 201; r++) {
    double t0 = now_seconds();
    granite_predict_bytes(g, code + 3, sizeof code - 3, out);
    times[r] = now_seconds() - t0;
  }
  for (int i = 1; i < 201; i++)
    for (int j = i; j > 0 && times[j] < times[j - 1]; j--) {
      double t = times[j];
      times[j] = times[j - 1];
      times[j - 1] = t;
    }
  fprintf(stderr, "latency (tiny model, 5 instructions, 1 thread): median %.1f us\n", times[100] * 1e6);
  granite_free(g);

  /* Missing and corrupt checkpoints: NULL with a reason. */
  CHECK(granite_load("/tmp/granite_no_such_checkpoint", err, sizeof err) == NULL);
  CHECK(strstr(err, "granite_no_such_checkpoint") != NULL);
  size_t len;
  char *bytes = read_file_text(ckpt_path, &len);
  bytes[len / 2] ^= 1;
  FILE *f = fopen(ckpt_path, "wb");
  fwrite(bytes, 1, len, f);
  fclose(f);
  free(bytes);
  CHECK(granite_load(ckpt_path, err, sizeof err) == NULL);
  remove(ckpt_path);

  granite_model_destroy(&m);
  vocab_free(&vocab);
  return test_summary("test_api");
}
