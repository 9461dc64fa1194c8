/* GRANITE parameters: configuration checks, the tensor table (names as in
 * shared/data/reference-model), one contiguous buffer, spec §4.6 init. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "model/model_internal.h"
#include "nn/gemm_bf16.h"
#include "util/common.h"
#include "util/rng.h"

const char *const granite_latency_names[] = {"softplus", "exp", NULL};

void granite_config_default(GraniteConfig *c) {
  memset(c, 0, sizeof(*c));
  c->vocab_size = 0;
  c->num_tasks = 1;
  c->node_embedding_size = c->edge_embedding_size = c->global_embedding_size = 128;
  c->num_message_passing_iterations = 8;
  c->graph_module_layer_normalization = true;
  c->readout_input_layer_normalization = true;
  c->task_readout_input_layer_normalization = true;
  c->output_scale = 1.0f;
}

void granite_graph_options(const GraniteConfig *c, GraphOptions *opts) {
  opts->loop_carried_edges = c->loop_carried_edges;
  opts->register_aliasing = c->register_aliasing;
  opts->critical_path = c->critical_path;
}

int granite_num_edge_types(const GraniteConfig *c) {
  return c->loop_carried_edges ? NUM_EDGE_TYPES : GEMATRIA_NUM_EDGE_TYPES;
}

static int check_layers(const char *what, const int *sizes, int count) {
  if (count < 0 || count > GRANITE_MAX_LAYERS) {
    gr_error("model config: %s has %d layers (at most %d)", what, count, GRANITE_MAX_LAYERS);
    return -1;
  }
  for (int i = 0; i < count; i++)
    if (sizes[i] <= 0 || sizes[i] > GRANITE_MAX_WIDTH) {
      gr_error("model config: %s layer %d has size %d (must be 1..%d)", what, i, sizes[i], GRANITE_MAX_WIDTH);
      return -1;
    }
  return 0;
}

static int config_check(const GraniteConfig *c) {
  if (c->vocab_size <= 0 || c->vocab_size > GRANITE_MAX_VOCAB) {
    gr_error("model config: vocabulary size %d (must be 1..%d)", c->vocab_size, GRANITE_MAX_VOCAB);
    return -1;
  }
  if (c->num_tasks <= 0 || c->num_tasks > GRANITE_MAX_TASKS) {
    gr_error("model config: %d tasks (must be 1..%d)", c->num_tasks, GRANITE_MAX_TASKS);
    return -1;
  }
  if (c->node_embedding_size <= 0 || c->edge_embedding_size <= 0 || c->global_embedding_size <= 0 ||
      c->node_embedding_size > GRANITE_MAX_WIDTH || c->edge_embedding_size > GRANITE_MAX_WIDTH ||
      c->global_embedding_size > GRANITE_MAX_WIDTH) {
    gr_error("model config: embedding sizes must be 1..%d (node %d, edge %d, global %d)", GRANITE_MAX_WIDTH,
             c->node_embedding_size, c->edge_embedding_size, c->global_embedding_size);
    return -1;
  }
  if (c->num_message_passing_iterations < 1 || c->num_message_passing_iterations > MAX_ITERS) {
    gr_error("model config: %d message passing iterations (must be 1..%d)",
             c->num_message_passing_iterations, MAX_ITERS);
    return -1;
  }
  if (check_layers("node update", c->node_update_layers, c->num_node_update_layers) ||
      check_layers("edge update", c->edge_update_layers, c->num_edge_update_layers) ||
      check_layers("global update", c->global_update_layers, c->num_global_update_layers) ||
      check_layers("readout", c->readout_layers, c->num_readout_layers) ||
      check_layers("task readout", c->task_readout_layers, c->num_task_readout_layers))
    return -1;
  if (c->critical_path && c->seq2seq) {
    gr_error("model config: the critical-path read-out predicts whole blocks; it does not combine with seq2seq");
    return -1;
  }
  if (c->resource_bound && c->seq2seq) {
    gr_error("model config: the resource-bound read-out predicts whole blocks; it does not combine with seq2seq");
    return -1;
  }
  if (c->critical_path_latency < 0 || c->critical_path_latency > GRANITE_LATENCY_EXP) {
    gr_error("model config: critical-path latency kind %d (must be 0..%d)", c->critical_path_latency,
             GRANITE_LATENCY_EXP);
    return -1;
  }
  if (c->critical_path_latency != GRANITE_LATENCY_SOFTPLUS && !c->critical_path) {
    gr_error("model config: %s latencies are the critical-path read-out's; they need it on",
             granite_latency_names[c->critical_path_latency]);
    return -1;
  }
  if (c->critical_path_token_bias && !c->critical_path) {
    gr_error("model config: token latency offsets are the critical-path read-out's; they need it on");
    return -1;
  }
  if (c->resource_bound < 0 || c->resource_bound > GRANITE_MAX_RESOURCES) {
    gr_error("model config: %d resources for the resource bound (must be 0..%d)", c->resource_bound,
             GRANITE_MAX_RESOURCES);
    return -1;
  }
  if (!(c->output_scale > 0) || !isfinite(c->output_scale)) {
    gr_error("model config: output scale %g (must be a finite number > 0)", (double)c->output_scale);
    return -1;
  }
  return 0;
}

/* Builds the tensor table; with tensors == NULL only counts. */
typedef struct {
  ParamTensor *tensors;
  int count;
  size_t size;
} Layout;

static size_t add_tensor(Layout *L, int rows, int cols, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static size_t add_tensor(Layout *L, int rows, int cols, const char *fmt, ...) {
  size_t off = L->size;
  if (L->tensors) {
    ParamTensor *t = &L->tensors[L->count];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof(t->name), fmt, ap);
    va_end(ap);
    t->offset = off;
    t->rows = rows;
    t->cols = cols;
  }
  L->count++;
  L->size += (size_t)rows * cols;
  return off;
}

static void add_mlp(Layout *L, Mlp *mlp, const char *prefix, const char *layer_word, int in,
                    const int *hidden, int num_hidden, int final_size, bool act_final) {
  mlp->in_dim = in;
  mlp->act_final = act_final;
  mlp->num_layers = num_hidden + (final_size > 0);
  for (int j = 0; j < num_hidden; j++) mlp->dims[j] = hidden[j];
  if (final_size > 0) mlp->dims[num_hidden] = final_size;
  int d = in;
  for (int j = 0; j < mlp->num_layers; j++) {
    mlp->w[j] = add_tensor(L, d, mlp->dims[j], "%s/%s_%d/w", prefix, layer_word, j);
    mlp->b[j] = add_tensor(L, mlp->dims[j], 1, "%s/%s_%d/b", prefix, layer_word, j);
    d = mlp->dims[j];
  }
}

static int mlp_out_dim(const Mlp *mlp) {
  return mlp->num_layers ? mlp->dims[mlp->num_layers - 1] : mlp->in_dim;
}

static void layout(Layout *L, ModelWork *w, const GraniteConfig *c) {
  int N = c->node_embedding_size, E = c->edge_embedding_size, G = c->global_embedding_size;
  int V = c->vocab_size, K = c->num_message_passing_iterations, s = c->use_sent_edges;
  w->node_emb = add_tensor(L, V, N, "encoder/node_embedding");
  w->edge_emb = add_tensor(L, granite_num_edge_types(c), E, "encoder/edge_embedding");
  w->glob_w = add_tensor(L, V, G, "encoder/global/w");
  w->glob_b = add_tensor(L, G, 1, "encoder/global/b");
  /* spec §4.3: edge input [e‖v_r‖v_s‖u], node [ρ_in‖ρ_out‖v‖u], global [Σe‖Σv‖u] */
  add_mlp(L, &w->edge, "core/edge_mlp", "layer", E + 2 * N + G, c->edge_update_layers,
          c->num_edge_update_layers, E, false);
  add_mlp(L, &w->node, "core/node_mlp", "layer", E * (1 + s) + N + G, c->node_update_layers,
          c->num_node_update_layers, N, false);
  add_mlp(L, &w->global, "core/global_mlp", "layer", E + N + G, c->global_update_layers,
          c->num_global_update_layers, G, false);
  for (int t = 0; t < K; t++) {
    w->ln_edge[t] = w->ln_node[t] = w->ln_global[t] = NO_TENSOR;
    if (!c->graph_module_layer_normalization) continue;
    w->ln_edge[t] = add_tensor(L, E, 1, "core/iter_%d/ln_edge/gamma", t);
    add_tensor(L, E, 1, "core/iter_%d/ln_edge/beta", t);
    w->ln_node[t] = add_tensor(L, N, 1, "core/iter_%d/ln_node/gamma", t);
    add_tensor(L, N, 1, "core/iter_%d/ln_node/beta", t);
    w->ln_global[t] = add_tensor(L, G, 1, "core/iter_%d/ln_global/gamma", t);
    add_tensor(L, G, 1, "core/iter_%d/ln_global/beta", t);
  }
  /* spec §4.5 readout */
  int din = c->seq2seq ? N : G;
  w->ro_in_dim = din;
  w->ln_ro = NO_TENSOR;
  if (c->readout_input_layer_normalization) {
    w->ln_ro = add_tensor(L, din, 1, "readout/ln_input/gamma");
    add_tensor(L, din, 1, "readout/ln_input/beta");
  }
  add_mlp(L, &w->readout, "readout", "dense", din, c->readout_layers, c->num_readout_layers, 0,
          true);
  w->ro_width = mlp_out_dim(&w->readout);
  w->readout_proj = NO_TENSOR;
  if (c->readout_residual_connections && w->readout.num_layers > 0 && w->ro_width != din)
    w->readout_proj = add_tensor(L, din, w->ro_width, "readout/residual_projection/w");
  w->ln_tro = NO_TENSOR;
  if (c->task_readout_input_layer_normalization) {
    w->ln_tro = add_tensor(L, w->ro_width, 1, "readout/ln_task_input/gamma");
    add_tensor(L, w->ro_width, 1, "readout/ln_task_input/beta");
  }
  for (int t = 0; t < c->num_tasks; t++) {
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "task_%d", t);
    add_mlp(L, &w->task[t], prefix, "dense", w->ro_width, c->task_readout_layers,
            c->num_task_readout_layers, 0, true);
    w->task_width = mlp_out_dim(&w->task[t]);
    w->task_proj[t] = NO_TENSOR;
    if (c->task_readout_residual_connections && w->task[t].num_layers > 0 &&
        w->task_width != w->ro_width)
      w->task_proj[t] = add_tensor(L, w->ro_width, w->task_width, "task_%d/residual_projection/w", t);
    w->task_out[t] = add_tensor(L, w->task_width, 1, "task_%d/output/w", t);
  }
  if (c->critical_path)
    for (int t = 0; t < c->num_tasks; t++) {
      w->cp_w[t] = add_tensor(L, N, 1, "critical_path/task_%d/w", t);
      w->cp_b[t] = add_tensor(L, 1, 1, "critical_path/task_%d/b", t);
    }
  if (c->critical_path_token_bias) w->cp_tok = add_tensor(L, V, c->num_tasks, "critical_path/token_bias");
  if (c->resource_bound)
    for (int t = 0; t < c->num_tasks; t++) {
      w->rb_w[t] = add_tensor(L, N, c->resource_bound, "resource_bound/task_%d/w", t);
      w->rb_b[t] = add_tensor(L, c->resource_bound, 1, "resource_bound/task_%d/b", t);
    }
  w->node_x_dim = E * (1 + s) + N; /* + G on the reference path, set per forward */
}

int granite_model_create(GraniteModel *m, const GraniteConfig *cfg) {
  memset(m, 0, sizeof(*m));
  if (config_check(cfg)) return -1;
  m->cfg = *cfg;
  ModelWork *w = xcalloc(1, sizeof(ModelWork));
  Layout count = {0};
  layout(&count, w, cfg);
  Layout L = {xcalloc((size_t)count.count, sizeof(ParamTensor)), 0, 0};
  layout(&L, w, cfg);
  m->work = w;
  m->tensors = L.tensors;
  m->num_tensors = L.count;
  m->num_params = L.size;
  m->params = xcalloc(L.size, sizeof(float));
  m->grads = xcalloc(L.size, sizeof(float));
  return 0;
}

int granite_config_num_params(const GraniteConfig *cfg, size_t *num_params) {
  if (config_check(cfg)) return -1;
  ModelWork *w = xcalloc(1, sizeof(ModelWork));
  Layout count = {0};
  layout(&count, w, cfg);
  free(w);
  *num_params = count.size;
  return 0;
}

void granite_model_destroy(GraniteModel *m) {
  if (m->work && m->work->dp_free) m->work->dp_free(m); /* set by data_parallel.c: no call back up */
  if (m->work) free(m->work->arena);
  if (m->work) free(m->work->tab_e);
  free(m->work);
  free(m->tensors);
  free(m->params);
  free(m->grads);
  memset(m, 0, sizeof(*m));
}

const ParamTensor *granite_find_tensor(const GraniteModel *m, const char *name) {
  for (int i = 0; i < m->num_tensors; i++)
    if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
  return NULL;
}

void granite_set_reference_path(GraniteModel *m, bool reference) {
  m->work->reference_path = reference;
}

void granite_set_inference_only(GraniteModel *m, bool inference_only) {
  m->work->inference_only = inference_only;
  m->work->weights_generation = 0;
}

bool granite_set_bf16(GraniteModel *m, bool bf16) {
  m->work->bf16 = bf16 && gemm_bf16_supported();
  m->work->weights_generation = 0;
  return m->work->bf16 == bf16;
}

bool granite_bf16(const GraniteModel *m) { return m->work->bf16; }

/* ---- spec §4.6 initializers ---- */

static double normal(Rng *r) {
  double u1 = rng_uniform(r), u2 = rng_uniform(r);
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* glorot_normal: normal truncated at ±2σ, σ = sqrt(2/(fan_in+fan_out))/0.8796… */
static void glorot_normal(Rng *r, float *p, int fan_in, int fan_out, size_t count) {
  double sigma = sqrt(2.0 / (fan_in + fan_out)) / 0.87962566103423978;
  for (size_t i = 0; i < count; i++) {
    double z;
    do z = normal(r);
    while (fabs(z) > 2.0);
    p[i] = (float)(z * sigma);
  }
}

static void glorot_uniform(Rng *r, float *p, int fan_in, int fan_out, size_t count) {
  double limit = sqrt(6.0 / (fan_in + fan_out));
  for (size_t i = 0; i < count; i++) p[i] = (float)((2.0 * rng_uniform(r) - 1.0) * limit);
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

void granite_model_init_params(GraniteModel *m, uint64_t seed) {
  Rng rng;
  rng_seed(&rng, seed);
  for (int i = 0; i < m->num_tensors; i++) {
    const ParamTensor *t = &m->tensors[i];
    float *p = m->params + t->offset;
    size_t count = (size_t)t->rows * t->cols;
    /* spec §4.6: for 1-D shapes (biases) fan_in = fan_out = length */
    bool vector = t->cols == 1 && !ends_with(t->name, "/output/w");
    int fan_in = t->rows, fan_out = vector ? t->rows : t->cols;
    bool keras = strncmp(t->name, "readout/", 8) == 0 || strncmp(t->name, "task_", 5) == 0;
    if (ends_with(t->name, "/gamma")) {
      for (size_t k = 0; k < count; k++) p[k] = 1.0f;
    } else if (ends_with(t->name, "/beta")) {
      memset(p, 0, count * sizeof(float));
    } else if (strncmp(t->name, "critical_path/", 14) == 0 && ends_with(t->name, "/b")) {
      /* latency biases: softplus(a.h + 0) ≈ 0.7 output-scale units, and
       * exp(a.h + ln ln 2) starts at the same ln 2 (no random numbers drawn
       * either way: every other tensor keeps its values) */
      float b = m->cfg.critical_path_latency == GRANITE_LATENCY_EXP ? logf(logf(2.0f)) : 0.0f;
      for (size_t k = 0; k < count; k++) p[k] = b;
    } else if (strcmp(t->name, "critical_path/token_bias") == 0) {
      memset(p, 0, count * sizeof(float)); /* no offsets at first, no random numbers drawn */
    } else if (strncmp(t->name, "resource_bound/", 15) == 0 && ends_with(t->name, "/b")) {
      /* usages start small, softplus(-3) ≈ 0.05 output-scale units: a bound
       * far above the GNN's output at init would take its gradient (the
       * critical path's lesson, docs/accuracy.md) */
      for (size_t k = 0; k < count; k++) p[k] = -3.0f;
    } else if (keras && ends_with(t->name, "/w")) {
      /* Keras Dense kernels, task outputs, projections: glorot_uniform */
      glorot_uniform(&rng, p, fan_in, fan_out, count);
    } else {
      /* embeddings, Sonnet Linear w and b, Keras biases: glorot_normal */
      glorot_normal(&rng, p, fan_in, fan_out, count);
    }
  }
}
