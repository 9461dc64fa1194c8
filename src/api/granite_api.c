/* The public library API (include/granite.h): a checkpoint in, predictions
 * out, for a compiler that links granite without the command-line tool. */
#include "granite.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "io/bhive_csv.h"
#include "model/model.h"
#include "train/model_checkpoint.h"
#include "util/common.h"
#include "x86/canonicalize.h"

struct granite_model {
  GraniteModel model;
  Vocab vocab;
  GraphOptions graph_options;
  int num_tasks;
  char **task_names;
  int num_threads;
  Batch batch;
  BlockGraph *graphs; /* one per block of the current call */
  int graphs_cap;
  float *outputs, *predictions;
  size_t outputs_cap, predictions_cap;
};

static void set_error(char *err, size_t err_size, const char *msg) {
  if (err && err_size) snprintf(err, err_size, "%s", msg);
}

granite_model *granite_load(const char *checkpoint_path, char *err, size_t err_size) {
  Checkpoint ck;
  memset(&ck, 0, sizeof ck);
  if (checkpoint_open(&ck, checkpoint_path) != 0) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s: cannot load checkpoint (see stderr for the reason)", checkpoint_path);
    set_error(err, err_size, msg);
    return NULL;
  }
  granite_model *g = xcalloc(1, sizeof *g);
  if (granite_model_create(&g->model, &ck.config) != 0 || checkpoint_load_params(&ck, &g->model) != 0) {
    set_error(err, err_size, "checkpoint does not match its own configuration");
    checkpoint_close(&ck);
    free(g);
    return NULL;
  }
  /* Take ownership of the vocabulary and task names before closing. */
  g->vocab = ck.vocab;
  memset(&ck.vocab, 0, sizeof ck.vocab);
  g->num_tasks = ck.num_tasks;
  g->task_names = ck.task_names;
  ck.task_names = NULL;
  ck.num_tasks = 0;
  const char *oov = checkpoint_meta_get(&ck.meta, "oov_replacement_token");
  int rc = graph_options_init(&g->graph_options, &g->vocab, oov ? oov : "_UNKNOWN_");
  checkpoint_close(&ck);
  if (rc != 0) {
    set_error(err, err_size, "checkpoint token list lacks the structural tokens");
    granite_free(g);
    return NULL;
  }
  /* Prediction only: keep two iterations of activations, and split large
   * batches over per-thread replicas (robust on busy machines). */
  granite_set_inference_only(&g->model, true);
  granite_set_num_threads(g, 0);
  batch_init(&g->batch, g->num_tasks);
  return g;
}

void granite_free(granite_model *g) {
  if (!g) return;
  granite_model_destroy(&g->model);
  vocab_free(&g->vocab);
  for (int t = 0; t < g->num_tasks; t++) free(g->task_names[t]);
  free(g->task_names);
  batch_free(&g->batch);
  for (int i = 0; i < g->graphs_cap; i++) block_graph_free(&g->graphs[i]);
  free(g->graphs);
  free(g->outputs);
  free(g->predictions);
  free(g);
}

int granite_num_tasks(const granite_model *g) { return g->num_tasks; }

const char *granite_task_name(const granite_model *g, int task) {
  return task >= 0 && task < g->num_tasks ? g->task_names[task] : NULL;
}

void granite_set_num_threads(granite_model *g, int n) {
  g->num_threads = n > 0 ? n : omp_get_max_threads();
  granite_set_data_parallel(&g->model, g->num_threads);
}

/* Canonicalizes and builds the graph of one block into slot i. 0 or -1. */
static int build_graph(granite_model *g, int i, const uint8_t *code, size_t size) {
  Gematria__BasicBlockProto block;
  gematria__basic_block_proto__init(&block);
  size_t bad;
  if (size == 0 || x86_canonicalize_block(code, size, 0, &block, &bad) <= 0) return -1;
  char why[256];
  block_graph_free(&g->graphs[i]);
  int rc = graph_build_block(&g->graphs[i], &block, &g->graph_options, why, sizeof why);
  x86_block_clear(&block);
  return rc;
}

int granite_predict_batch(granite_model *g, const uint8_t *const *blocks, const size_t *sizes, int n, float *out) {
  if (n <= 0) return 0;
  if (n > g->graphs_cap) {
    g->graphs = xrealloc(g->graphs, n * sizeof *g->graphs);
    memset(g->graphs + g->graphs_cap, 0, (n - g->graphs_cap) * sizeof *g->graphs);
    g->graphs_cap = n;
  }
  int T = g->num_tasks;
  int *ok = xmalloc(n * sizeof *ok);
  batch_clear(&g->batch);
  int num_ok = 0;
  for (int i = 0; i < n; i++) {
    ok[i] = build_graph(g, i, blocks[i], sizes[i]) == 0;
    if (ok[i]) {
      batch_add(&g->batch, &g->graphs[i], NULL, NULL, NULL, NULL);
      num_ok++;
    }
  }
  if (num_ok > 0) {
    int saved = omp_get_max_threads();
    omp_set_num_threads(g->num_threads);
    size_t rows = (size_t)granite_output_rows(&g->model, &g->batch) * T;
    grow_array((void **)&g->outputs, &g->outputs_cap, rows, sizeof(float));
    grow_array((void **)&g->predictions, &g->predictions_cap, (size_t)num_ok * T, sizeof(float));
    granite_forward(&g->model, &g->batch, g->outputs, g->predictions);
    omp_set_num_threads(saved);
  }
  for (int i = 0, k = 0; i < n; k += ok[i], i++)
    for (int t = 0; t < T; t++) out[(size_t)i * T + t] = ok[i] ? g->predictions[(size_t)k * T + t] : NAN;
  free(ok);
  return num_ok == n ? 0 : -1;
}

int granite_predict_bytes(granite_model *g, const uint8_t *code, size_t size, float *out) {
  return granite_predict_batch(g, &code, &size, 1, out);
}

int granite_predict_hex(granite_model *g, const char *hex, float *out) {
  size_t len = strlen(hex);
  if (len == 0 || len % 2) return -1;
  uint8_t *code = xmalloc(len / 2);
  int rc = bhive_decode_hex(hex, len, code) == 0 ? granite_predict_bytes(g, code, len / 2, out) : -1;
  free(code);
  return rc;
}
