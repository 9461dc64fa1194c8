/* The public library API (include/granite.h): a checkpoint in, predictions
 * out, for a compiler that links granite without the command-line tool.
 * Every entry point checks its arguments, captures the error lines of the
 * code below it into a per-thread message instead of printing them, and
 * guards allocations so that running out of memory returns an error code
 * instead of exiting (util/common.h). */
#include "granite.h"

#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/prediction_cache.h"
#include "graph/graph.h"
#include "io/bhive_csv.h"
#include "model/model.h"
#include "train/model_checkpoint.h"
#include "util/common.h"
#include "x86/assemble.h"
#include "x86/canonicalize.h"
#include "x86/tokens.h"

struct granite_model {
  pthread_mutex_t lock; /* one call at a time per model (granite.h) */
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
  int *slot;       /* [n] per block of the call: its row in the batch, or -1 (cached or bad) */
  size_t slot_cap;
  uint8_t *key;    /* the cache key of one block, reused */
  size_t key_cap;
  PredictionCache cache;
};

static _Thread_local char last_error[512];

const char *granite_last_error(void) { return last_error; }

const char *granite_version(void) { return GRANITE_VERSION_STRING; }

static void set_error(char *err, size_t err_size, const char *msg) {
  if (err && err_size) snprintf(err, err_size, "%s", msg);
  snprintf(last_error, sizeof last_error, "%s", msg);
}

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  return code;
}

/* Entering and leaving the library: errors of the code below go to
 * last_error, allocation failures longjmp to the caller's setjmp. */
#define API_ENTER(env, outer)            \
  last_error[0] = '\0';                  \
  gr_error_capture_begin(last_error, sizeof last_error); \
  jmp_buf *volatile outer = gr_oom_guard_set(&env)
#define API_LEAVE(outer)  \
  gr_oom_guard_set(outer); \
  gr_error_capture_end()

static int load(granite_model **out, const char *checkpoint_path) {
  Checkpoint ck;
  if (checkpoint_open(&ck, checkpoint_path) != 0) return -1;
  granite_model *g = xcalloc(1, sizeof *g);
  *out = g;
  if (granite_model_create(&g->model, &ck.config) != 0 || checkpoint_load_params(&ck, &g->model) != 0) {
    checkpoint_close(&ck);
    return -1;
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
  granite_graph_options(&g->model.cfg, &g->graph_options);
  char path[512];
  snprintf(path, sizeof path, "%s", ck.path);
  checkpoint_close(&ck);
  if (rc != 0) {
    gr_error("%s: the checkpoint's token list lacks the structural tokens", path);
    return -1;
  }
  /* Prediction only: keep two iterations of activations, and split large
   * batches over per-thread replicas (robust on busy machines). */
  granite_set_inference_only(&g->model, true);
  granite_set_num_threads(g, 0);
  batch_init(&g->batch, g->num_tasks);
  prediction_cache_init(&g->cache, GRANITE_DEFAULT_CACHE_SIZE, g->num_tasks);
  pthread_mutex_init(&g->lock, NULL);
  return 0;
}

granite_model *granite_load(const char *checkpoint_path, char *err, size_t err_size) {
  if (err && err_size) err[0] = '\0';
  if (!checkpoint_path) {
    fail(GRANITE_ERROR_ARGUMENT, "granite_load: the checkpoint path is NULL");
    if (err && err_size) snprintf(err, err_size, "%s", last_error);
    return NULL;
  }
  granite_model *volatile g = NULL; /* set inside load(), read after a longjmp */
  jmp_buf env;
  API_ENTER(env, outer);
  int rc;
  if (setjmp(env) == 0) {
    rc = load((granite_model **)&g, checkpoint_path);
  } else {
    rc = -1; /* out of memory; the message is in last_error */
  }
  API_LEAVE(outer);
  if (rc != 0) {
    granite_free(g);
    if (!last_error[0]) snprintf(last_error, sizeof last_error, "%s: cannot load checkpoint", checkpoint_path);
    if (err && err_size) snprintf(err, err_size, "%s", last_error);
    return NULL;
  }
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
  free(g->slot);
  free(g->key);
  prediction_cache_free(&g->cache);
  pthread_mutex_destroy(&g->lock);
  free(g);
}

int granite_num_tasks(const granite_model *g) { return g ? g->num_tasks : 0; }

const char *granite_task_name(const granite_model *g, int task) {
  return g && task >= 0 && task < g->num_tasks ? g->task_names[task] : NULL;
}

void granite_set_num_threads(granite_model *g, int n) {
  if (!g) return;
  pthread_mutex_lock(&g->lock);
  g->num_threads = n > 0 ? n : omp_get_max_threads();
  granite_set_data_parallel(&g->model, g->num_threads);
  pthread_mutex_unlock(&g->lock);
}

int granite_set_precision(granite_model *g, const char *precision) {
  bool bf16;
  if (!precision) return -1;
  if (!strcasecmp(precision, "fp32"))
    bf16 = false;
  else if (!strcasecmp(precision, "bf16"))
    bf16 = true;
  else
    return -1;
  pthread_mutex_lock(&g->lock);
  bool ok = granite_set_bf16(&g->model, bf16);
  prediction_cache_clear(&g->cache); /* its numbers came from the other precision */
  pthread_mutex_unlock(&g->lock);
  return ok ? 0 : -1;
}

const char *granite_precision(granite_model *g) {
  pthread_mutex_lock(&g->lock);
  const char *p = granite_bf16(&g->model) ? "bf16" : "fp32";
  pthread_mutex_unlock(&g->lock);
  return p;
}

int granite_set_cache_size(granite_model *g, int entries) {
  if (entries < 0) return -1;
  pthread_mutex_lock(&g->lock);
  prediction_cache_free(&g->cache);
  prediction_cache_init(&g->cache, entries, g->num_tasks);
  pthread_mutex_unlock(&g->lock);
  return 0;
}

void granite_cache_stats(granite_model *g, long *hits, long *lookups) {
  pthread_mutex_lock(&g->lock);
  if (hits) *hits = g->cache.hits;
  if (lookups) *lookups = g->cache.lookups;
  pthread_mutex_unlock(&g->lock);
}

/* Canonicalizes and builds the graph of one block into slot i. 0 or -1. */
static int build_graph(granite_model *g, int i, const uint8_t *code, size_t size) {
  Gematria__BasicBlockProto block;
  gematria__basic_block_proto__init(&block);
  size_t bad;
  if (size == 0 || x86_canonicalize_block(code, size, 0, &block, &bad) <= 0) {
    x86_block_clear(&block);
    return -1;
  }
  char why[256];
  block_graph_free(&g->graphs[i]);
  int rc = graph_build_block(&g->graphs[i], &block, &g->graph_options, why, sizeof why);
  x86_block_clear(&block);
  return rc;
}

static void append(granite_model *g, size_t *len, const void *data, size_t bytes) {
  if (bytes == 0) return; /* data may be NULL then (a graph without edges) */
  grow_array((void **)&g->key, &g->key_cap, *len + bytes, 1);
  memcpy(g->key + *len, data, bytes);
  *len += bytes;
}

/* The cache key of a block: its graph, which is all the model sees of it. */
static size_t graph_key(granite_model *g, const BlockGraph *gr) {
  size_t len = 0;
  int32_t sizes[3] = {gr->num_nodes, gr->num_edges, gr->num_instructions};
  append(g, &len, sizes, sizeof sizes);
  append(g, &len, gr->node_tokens, sizeof(int32_t) * (size_t)gr->num_nodes);
  append(g, &len, gr->node_types, (size_t)gr->num_nodes);
  append(g, &len, gr->edge_types, (size_t)gr->num_edges);
  append(g, &len, gr->senders, sizeof(int32_t) * (size_t)gr->num_edges);
  append(g, &len, gr->receivers, sizeof(int32_t) * (size_t)gr->num_edges);
  return len;
}

/* The prediction itself, with the model's lock held; allocation failures
 * longjmp out of it. Returns the number of blocks that did not decode. */
__attribute__((noinline)) /* its locals must not live in the caller's setjmp frame */
static int predict(granite_model *g, const uint8_t *const *blocks, const size_t *sizes, int n, float *out,
                   int *first_bad) {
  if (n > g->graphs_cap) {
    BlockGraph *grown = xrealloc(g->graphs, (size_t)n * sizeof *g->graphs);
    memset(grown + g->graphs_cap, 0, (size_t)(n - g->graphs_cap) * sizeof *grown);
    g->graphs = grown;
    g->graphs_cap = n;
  }
  grow_array((void **)&g->slot, &g->slot_cap, (size_t)n, sizeof *g->slot);
  int T = g->num_tasks, num_bad = 0, rows = 0;
  batch_clear(&g->batch);
  for (int i = 0; i < n; i++) {
    float *o = out + (size_t)i * T;
    g->slot[i] = -1;
    for (int t = 0; t < T; t++) o[t] = NAN;
    if (build_graph(g, i, blocks[i], sizes[i]) != 0) {
      if (num_bad++ == 0) *first_bad = i;
      continue;
    }
    /* the key is built first: g->key may move when it grows */
    size_t key_len = graph_key(g, &g->graphs[i]);
    if (prediction_cache_get(&g->cache, g->key, key_len, o)) continue;
    batch_add(&g->batch, &g->graphs[i], NULL, NULL, NULL, NULL);
    g->slot[i] = rows++;
  }
  if (rows > 0) {
    int saved = omp_get_max_threads();
    omp_set_num_threads(g->num_threads);
    size_t R = (size_t)granite_output_rows(&g->model, &g->batch) * T;
    grow_array((void **)&g->outputs, &g->outputs_cap, R, sizeof(float));
    grow_array((void **)&g->predictions, &g->predictions_cap, (size_t)rows * T, sizeof(float));
    granite_forward(&g->model, &g->batch, g->outputs, g->predictions);
    omp_set_num_threads(saved);
    for (int i = 0; i < n; i++) {
      if (g->slot[i] < 0) continue;
      const float *p = g->predictions + (size_t)g->slot[i] * T;
      memcpy(out + (size_t)i * T, p, sizeof(float) * (size_t)T);
      if (g->cache.capacity > 0) {
        size_t key_len = graph_key(g, &g->graphs[i]); /* before g->key is read: it may move */
        prediction_cache_put(&g->cache, g->key, key_len, p);
      }
    }
  }
  return num_bad;
}

int granite_predict_batch(granite_model *g, const uint8_t *const *blocks, const size_t *sizes, int n, float *out) {
  last_error[0] = '\0';
  if (!g) return fail(GRANITE_ERROR_ARGUMENT, "granite_predict_batch: the model is NULL");
  if (n < 0) return fail(GRANITE_ERROR_ARGUMENT, "granite_predict_batch: n = %d blocks", n);
  if (n == 0) return GRANITE_OK;
  if (!blocks || !sizes || !out)
    return fail(GRANITE_ERROR_ARGUMENT, "granite_predict_batch: the %s array is NULL",
                !blocks ? "blocks" : !sizes ? "sizes" : "out");
  for (int i = 0; i < n; i++)
    if (!blocks[i] && sizes[i])
      return fail(GRANITE_ERROR_ARGUMENT, "granite_predict_batch: block %d is NULL with size %zu", i, sizes[i]);
  volatile int saved_threads = omp_get_max_threads();
  int first_bad = -1, num_bad = 0;
  jmp_buf env;
  pthread_mutex_lock(&g->lock); /* held across a longjmp too: released below */
  API_ENTER(env, outer);
  int rc = GRANITE_OK;
  if (setjmp(env) == 0) {
    num_bad = predict(g, blocks, sizes, n, out, &first_bad);
  } else {
    omp_set_num_threads(saved_threads);
    batch_clear(&g->batch);
    rc = GRANITE_ERROR_MEMORY;
  }
  API_LEAVE(outer);
  pthread_mutex_unlock(&g->lock);
  if (rc != GRANITE_OK) {
    for (size_t i = 0; i < (size_t)n * (size_t)g->num_tasks; i++) out[i] = NAN;
    if (!last_error[0]) snprintf(last_error, sizeof last_error, "out of memory");
    return rc;
  }
  if (num_bad)
    return fail(GRANITE_ERROR_INPUT, "%d of %d block(s) do not decode as x86-64 or are empty (first: block %d)",
                num_bad, n, first_bad);
  return GRANITE_OK;
}

int granite_predict_bytes(granite_model *g, const uint8_t *code, size_t size, float *out) {
  if (!g) return fail(GRANITE_ERROR_ARGUMENT, "granite_predict_bytes: the model is NULL");
  if (!out) return fail(GRANITE_ERROR_ARGUMENT, "granite_predict_bytes: out is NULL");
  if (!code && size) return fail(GRANITE_ERROR_ARGUMENT, "granite_predict_bytes: code is NULL with size %zu", size);
  int rc = granite_predict_batch(g, &code, &size, 1, out);
  if (rc == GRANITE_ERROR_INPUT)
    return fail(rc, size ? "the %zu bytes do not decode as x86-64 instructions" : "the block is empty (%zu bytes)",
                size);
  return rc;
}

int granite_predict_hex(granite_model *g, const char *hex, float *out) {
  if (!g) return fail(GRANITE_ERROR_ARGUMENT, "granite_predict_hex: the model is NULL");
  if (!hex) return fail(GRANITE_ERROR_ARGUMENT, "granite_predict_hex: hex is NULL");
  if (!out) return fail(GRANITE_ERROR_ARGUMENT, "granite_predict_hex: out is NULL");
  size_t len = strlen(hex);
  if (len == 0) return fail(GRANITE_ERROR_INPUT, "granite_predict_hex: the hex text is empty");
  if (len % 2) return fail(GRANITE_ERROR_INPUT, "granite_predict_hex: odd number of hex digits (%zu)", len);
  uint8_t *code = malloc(len / 2);
  if (!code) return fail(GRANITE_ERROR_MEMORY, "out of memory allocating %zu bytes", len / 2);
  int rc;
  if (bhive_decode_hex(hex, len, code) != 0)
    rc = fail(GRANITE_ERROR_INPUT, "granite_predict_hex: not hexadecimal text");
  else
    rc = granite_predict_bytes(g, code, len / 2, out);
  free(code);
  return rc;
}

int granite_assemble(const char *text, int syntax, uint8_t **code, size_t *size, char *err, size_t err_size) {
  if (!text || !code || !size) {
    set_error(err, err_size, "granite_assemble: text, code or size is NULL");
    return GRANITE_ERROR_ARGUMENT;
  }
  return x86_assemble(text, syntax == GRANITE_SYNTAX_ATT, NULL, code, size, err, err_size);
}

void granite_buffer_free(void *buffer) { free(buffer); }

int granite_predict_asm(granite_model *g, const char *text, int syntax, float *out, char *err, size_t err_size) {
  if (!g || !out) {
    set_error(err, err_size, !g ? "granite_predict_asm: the model is NULL" : "granite_predict_asm: out is NULL");
    return GRANITE_ERROR_ARGUMENT;
  }
  uint8_t *code;
  size_t size;
  if (granite_assemble(text, syntax, &code, &size, err, err_size) != 0) return -1;
  int rc = granite_predict_bytes(g, code, size, out);
  if (rc == GRANITE_ERROR_INPUT)
    set_error(err, err_size, "the assembled code does not decode as x86-64 or has no instructions");
  else if (rc != 0 && err && err_size)
    snprintf(err, err_size, "%s", last_error);
  free(code);
  return rc;
}

/* Appends token lists to a bounded buffer, counting what would not fit. */
typedef struct {
  char *out;
  size_t cap, len;
  int first;
} TokenText;

static void put_text(TokenText *t, const char *s) {
  for (; *s; s++, t->len++)
    if (t->len + 1 < t->cap) t->out[t->len] = *s;
}

static void put_token(const char *token, void *ctx) {
  TokenText *t = ctx;
  if (!t->first) put_text(t, " ");
  t->first = 0;
  put_text(t, token);
}

long granite_canonicalize_hex(const char *hex, char *out, size_t out_size, char *err, size_t err_size) {
  size_t len = hex ? strlen(hex) : 0;
  if (len == 0 || len % 2) {
    set_error(err, err_size, "hex block is empty or has an odd number of digits");
    return -1;
  }
  uint8_t *code = malloc(len / 2);
  if (!code || bhive_decode_hex(hex, len, code) != 0) {
    set_error(err, err_size, "not machine code in hex");
    free(code);
    return -1;
  }
  Gematria__BasicBlockProto block;
  gematria__basic_block_proto__init(&block);
  size_t bad = 0;
  int n = x86_canonicalize_block(code, len / 2, 0, &block, &bad);
  free(code);
  if (n <= 0) {
    char msg[128];
    snprintf(msg, sizeof msg, "undecodable instruction at byte offset %zu", bad);
    set_error(err, err_size, msg);
    return -1;
  }
  TokenText t = {out, out ? out_size : 0, 0, 1};
  for (size_t i = 0; i < block.n_canonicalized_instructions; i++) {
    t.first = 1;
    instruction_token_list(block.canonicalized_instructions[i], put_token, &t);
    put_text(&t, "\n");
  }
  if (t.cap) t.out[t.len < t.cap ? t.len : t.cap - 1] = 0;
  x86_block_clear(&block);
  return (long)t.len;
}
