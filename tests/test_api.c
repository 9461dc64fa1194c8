/* The public C API: a checkpoint written by the trainer's code is loaded by
 * granite_load and gives the same predictions as the model run directly;
 * bad bytes, bad hex and bad checkpoints fail cleanly; the prediction cache
 * returns the uncached numbers, also to threads sharing a model; latency. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "granite.h"
#include "graph/graph.h"
#include "model/model.h"
#include "nn/gemm_kernel.h"
#include "testing.h"
#include "train/model_checkpoint.h"
#include "util/common.h"
#include "x86/canonicalize.h"
#include "x86/tokens.h"

/* Per process: CTest runs this test three times at once (test_api, _avx2,
 * _blas); with one fixed name one run corrupted or removed the checkpoint
 * another was loading. */
static char ckpt_path[64];
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

/* Cached and uncached predictions are the same numbers; a block that only
 * differs in what canonicalization drops (an immediate's value) hits the
 * entry of its twin; batches mix hits and misses. */
static void test_cache(granite_model *g, const uint8_t *code, size_t size) {
  const uint8_t mov1[] = {0xb8, 0x01, 0x00, 0x00, 0x00}, mov2[] = {0xb8, 0x02, 0x00, 0x00, 0x00};
  float plain[2], plain_mov[2], first[2], again[2], twin[2];
  long hits = -1, lookups = -1;
  CHECK(granite_set_cache_size(g, -1) == -1);
  CHECK(granite_set_cache_size(g, 0) == 0); /* off */
  CHECK(granite_predict_bytes(g, code, size, plain) == 0);
  CHECK(granite_predict_bytes(g, code, size, plain) == 0);
  CHECK(granite_predict_bytes(g, mov2, sizeof mov2, plain_mov) == 0);
  granite_cache_stats(g, &hits, &lookups);
  CHECK(hits == 0 && lookups == 3);
  CHECK(granite_set_cache_size(g, 8) == 0);
  granite_cache_stats(g, &hits, &lookups);
  CHECK(hits == 0 && lookups == 0);
  CHECK(granite_predict_bytes(g, code, size, first) == 0);
  CHECK(granite_predict_bytes(g, code, size, again) == 0);
  CHECK(memcmp(plain, first, sizeof plain) == 0 && memcmp(plain, again, sizeof plain) == 0);
  CHECK(granite_predict_bytes(g, mov1, sizeof mov1, first) == 0);
  CHECK(granite_predict_bytes(g, mov2, sizeof mov2, twin) == 0);
  CHECK(memcmp(twin, plain_mov, sizeof twin) == 0 && memcmp(first, twin, sizeof twin) == 0);
  granite_cache_stats(g, &hits, &lookups);
  CHECK_MSG(hits == 2 && lookups == 4, "hits %ld lookups %ld", hits, lookups);
  /* a batch: cached, new, bad, cached again */
  const uint8_t bad[] = {0xff};
  const uint8_t *blocks[4] = {code, code + 3, bad, mov1};
  size_t sizes[4] = {size, size - 3, 1, sizeof mov1};
  float outs[8], ref[8];
  CHECK(granite_predict_batch(g, blocks, sizes, 4, outs) == -1);
  CHECK(granite_set_cache_size(g, 0) == 0);
  CHECK(granite_predict_batch(g, blocks, sizes, 4, ref) == -1);
  /* The same bits: our kernels compute a row alone. Only the BLAS path
   * (a CPU without AVX2+FMA, or GRANITE_NO_AVX2=1) may sum a row in another
   * order when the batch has another number of rows. */
  float tol = gemm_kernel_isa() ? 0.0f : 1e-5f;
  for (int i = 0; i < 8; i++)
    CHECK_MSG((isnan(ref[i]) && isnan(outs[i])) || fabsf(ref[i] - outs[i]) <= tol * fabsf(ref[i]), "%d: %.9g vs %.9g", i,
              ref[i], outs[i]);
  CHECK(granite_set_cache_size(g, GRANITE_DEFAULT_CACHE_SIZE) == 0);
}

/* BF16 predictions are near the FP32 ones, not from the FP32 cache; FP32
 * comes back exactly; bad names are refused. */
static void test_precision(granite_model *g, const uint8_t *code, size_t size) {
  float fp32[2], bf16[2], back[2];
  CHECK(!strcmp(granite_precision(g), "fp32"));
  CHECK(granite_predict_bytes(g, code, size, fp32) == 0); /* now cached */
  CHECK(granite_set_precision(g, "fp16") == -1 && granite_set_precision(g, NULL) == -1);
  CHECK(!strcmp(granite_precision(g), "fp32"));
  int rc = granite_set_precision(g, "BF16");
  if (rc != 0) { /* no AVX512_BF16 here: stays FP32 */
    CHECK(!strcmp(granite_precision(g), "fp32"));
    return;
  }
  CHECK(!strcmp(granite_precision(g), "bf16"));
  CHECK(granite_predict_bytes(g, code, size, bf16) == 0);
  CHECK(bf16[0] != fp32[0] || bf16[1] != fp32[1]); /* computed, not the cached FP32 answer */
  for (int t = 0; t < 2; t++) CHECK_NEAR(bf16[t], fp32[t], 0.05, 0.05 * (fabs(fp32[0]) + fabs(fp32[1])));
  CHECK(granite_set_precision(g, "fp32") == 0);
  CHECK(granite_predict_bytes(g, code, size, back) == 0);
  CHECK(memcmp(back, fp32, sizeof back) == 0);
}

typedef struct {
  granite_model *g;
  const uint8_t *blocks[3];
  size_t sizes[3];
  float expect[6];
  int wrong;
} SharedRun;

static void *predict_many(void *arg) {
  SharedRun *r = arg;
  float out[2];
  for (int k = 0; k < 300; k++) {
    int i = (k / 2) % 3; /* each block twice in a row: hits even in a 2-entry cache */
    if (granite_predict_bytes(r->g, r->blocks[i], r->sizes[i], out) != 0 ||
        memcmp(out, r->expect + 2 * i, sizeof out) != 0)
      __atomic_add_fetch(&r->wrong, 1, __ATOMIC_RELAXED);
  }
  return NULL;
}

/* Four threads share one model whose 2-entry cache keeps evicting: every
 * answer equals the single-threaded one. */
static void test_shared_model(granite_model *g, const uint8_t *code, size_t size) {
  const uint8_t mov[] = {0xb8, 0x05, 0x00, 0x00, 0x00};
  SharedRun r = {g, {code, code + 3, mov}, {size, size - 3, sizeof mov}, {0}, 0};
  CHECK(granite_set_cache_size(g, 0) == 0);
  for (int i = 0; i < 3; i++) CHECK(granite_predict_bytes(g, r.blocks[i], r.sizes[i], r.expect + 2 * i) == 0);
  CHECK(granite_set_cache_size(g, 2) == 0);
  pthread_t th[4];
  for (int t = 0; t < 4; t++) pthread_create(&th[t], NULL, predict_many, &r);
  for (int t = 0; t < 4; t++) pthread_join(th[t], NULL);
  CHECK_MSG(r.wrong == 0, "%d wrong answers from threads sharing a model", r.wrong);
  long hits, lookups;
  granite_cache_stats(g, &hits, &lookups);
  CHECK(lookups == 1200 && hits > 0 && hits < lookups);
  CHECK(granite_set_cache_size(g, GRANITE_DEFAULT_CACHE_SIZE) == 0);
}

int main(void) {
  snprintf(ckpt_path, sizeof ckpt_path, "/tmp/granite_test_api_%ld.ckpt-7", (long)getpid());
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

  test_precision(g, code, sizeof code);
  test_cache(g, code, sizeof code);
  test_shared_model(g, code, sizeof code);

  /* Latency of one 5-instruction block, single thread (median of 201), the
   * model's own: cache off. */
  granite_set_num_threads(g, 1);
  granite_set_cache_size(g, 0);
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
  CHECK(bytes != NULL);
  if (!bytes) return test_summary("test_api");
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
