/* Private to model/: where each parameter lives (offsets into params/grads)
 * and the per-batch activation arena. */
#ifndef GRANITE_MODEL_INTERNAL_H
#define GRANITE_MODEL_INTERNAL_H

#include <math.h>

#include "model/model.h"

#define NO_TENSOR ((size_t)-1)
#define MLP_MAX (GRANITE_MAX_LAYERS + 1)
#define MAX_ITERS 64

/* A stack of dense layers: dims[j] = width of layer j, w[j]/b[j] offsets
 * (b = NO_TENSOR for none). act_final: Keras readout stacks apply the leaky
 * ReLU after the last layer too, Sonnet MLPs do not (spec §4.1, §8 item 11). */
typedef struct {
  int num_layers, in_dim;
  int dims[MLP_MAX];
  size_t w[MLP_MAX], b[MLP_MAX];
  bool act_final;
} Mlp;

typedef struct {
  float *out;        /* next iteration's input (LN output, or = pre without LN) */
  float *pre;        /* MLP output + residual = LN input */
  float *mean, *rstd;
  float *hidden[MLP_MAX]; /* activated outputs of the hidden layers */
  float *x;          /* first-layer input kept for dW (node: [ρ_in‖ρ_out‖v(‖u)]; edge: ref only) */
} UpdateActs;

typedef struct ModelWork {
  /* parameter layout */
  size_t node_emb, edge_emb, glob_w, glob_b;
  Mlp edge, node, global;
  size_t ln_edge[MAX_ITERS], ln_node[MAX_ITERS], ln_global[MAX_ITERS]; /* gamma; beta follows */
  size_t ln_ro, ln_tro;
  Mlp readout, task[GRANITE_MAX_TASKS];
  size_t readout_proj, task_proj[GRANITE_MAX_TASKS], task_out[GRANITE_MAX_TASKS];
  int ro_in_dim, ro_width, task_width; /* widths of X, the shared readout, a task's Y */
  int node_x_dim;                      /* columns of the node MLP's stored input */
  size_t cp_w[GRANITE_MAX_TASKS], cp_b[GRANITE_MAX_TASKS]; /* critical-path latency heads */
  size_t cp_tok; /* [vocab][T] per-token latency offsets (critical_path_token_bias) */
  size_t rb_w[GRANITE_MAX_TASKS], rb_b[GRANITE_MAX_TASKS]; /* resource-usage heads [N x K], [K] */

  bool reference_path;
  bool inference_only; /* iteration buffers alternate between two sets */
  bool bf16;           /* matmuls in BF16 (granite_set_bf16) */
  uint64_t weights_generation; /* of the BF16 weight copies (nn/linear.h); 0: take a new one */

  /* data parallelism (model/data_parallel.c) */
  int dp_threads;          /* > 1: granite_forward splits a batch over this many replicas */
  struct DataParallel *dp; /* created on first use */
  void (*dp_free)(GraniteModel *m); /* frees dp; model.c calls it, so it needs no link to data_parallel.c */
  bool dp_last_split;      /* the last forward ran on replicas */

  /* arena: grows to the largest batch, then reused */
  char *arena;
  size_t arena_bytes;
  int n, m, B, I, R; /* dims of the batch of the last forward */

  int32_t *recv_off, *recv_items, *send_off, *send_items; /* CSR by receiver / sender */
  float *enc_e, *enc_v, *enc_u;
  UpdateActs e[MAX_ITERS], v[MAX_ITERS], u[MAX_ITERS];
  float *xg[MAX_ITERS]; /* global MLP input [Σe' ‖ Σv' ‖ u] */
  float *pr, *ps, *pue, *pun; /* split-layer partial products (forward scratch) */
  /* Inference-only: the first iteration's edge inputs are embedding rows,
   * so their products with the edge MLP's first layer are tables over edge
   * types and tokens, made once per weights generation (granite.c). */
  float *tab_e, *tab_r, *tab_s; /* [types x d0], [V x d0] (receiver), [V x d0] (sender) */
  size_t tab_floats;
  uint64_t tab_generation;      /* weights_generation they were made under; 0 none */
  int32_t *recv_tok, *send_tok; /* token of each edge's receiver / sender (arena) */
  /* readout */
  float *ro_in, *x0, *ro_mean, *ro_rstd, *ro_hidden[MLP_MAX], *ro_sum, *x1, *tro_mean, *tro_rstd;
  float *task_hidden[GRANITE_MAX_TASKS][MLP_MAX], *task_y[GRANITE_MAX_TASKS], *col;
  /* critical path (model/critical_path.c): per instruction and task the
   * latency and its derivative; per block and task the GNN's output, the
   * bound C, the smooth max's weight on it, the recurrence that set C
   * (-1 none); DP scratch per instruction; backward: the GNN's gradient */
  float *cp_lat, *cp_dlat, *cp_gnn, *cp_bound, *cp_sig, *cp_dist, *cp_dy, *cp_dC;
  int32_t *cp_rec, *cp_arg, *cp_mark;
  /* resource bound (model/resource_bound.c): per instruction, task and
   * resource the usage and its derivative; per block, task and resource the
   * sum; per block and task the bound R, the smooth max's weight on it, the
   * resource that set R, 1 where the critical path's C > R set the bound;
   * backward: the gradient of the GNN's output and of C */
  float *rb_use, *rb_duse, *rb_sum, *rb_bound, *rb_sig, *rb_dy, *rb_dC;
  int32_t *rb_arg, *rb_cp;
  /* backward scratch */
  float *ge, *gv, *gu, *de, *dv, *du, *dza, *dzb, *dx_e, *dx_n, *dx_g, *dpr, *dps, *dpu, *tmp_n,
      *tmp_b;
  float *dx1, *dsum, *dx0, *dX, *dty;
} ModelWork;

/* The files of model/ depend one way: model.c (configuration, parameters)
 * <- granite.c (one pass over a batch) <- replicas.c (passes on several
 * threads) <- data_parallel.c (granite_forward / granite_backward, which
 * dispatch to one pass or to the replicas). */

/* The scalar functions of the bound read-outs (critical_path.c,
 * resource_bound.c), stable for large |x|. */
static inline float bound_softplus(float x) { return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x))); }
static inline float bound_sigmoid(float x) {
  float e = expf(-fabsf(x));
  return x >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e);
}
/* Their combination: y + s*softplus(bound - y/s), a smooth max of the GNN's
 * read-out y and s*bound with temperature s; *sig = sigmoid(bound - y/s),
 * so dy/dy_gnn = 1 - sig and dy/dbound = s*sig. */
static inline float bound_smooth_max(float y, float bound, float s, float *sig) {
  float x = bound - y / s;
  *sig = bound_sigmoid(x);
  return y + s * bound_softplus(x);
}

/* --granite_critical_path (critical_path.c). Forward: outputs [B*T] hold
 * the GNN's read-out and become the combined prediction; h = the final node
 * embeddings. Backward: from d_outputs, the gradient of the GNN's read-out
 * into w->cp_dy; accumulates the heads' gradients and h's gradient into gh.
 * With resource_bound on, the forward pass only computes C (cp_bound,
 * cp_rec), resource_bound_forward combines, and its backward pass calls
 * critical_path_backward_bound with d_bound [B*T] = dLoss/dC. */
void critical_path_forward(GraniteModel *m, const Batch *b, const float *h, float *outputs);
void critical_path_backward(GraniteModel *m, const Batch *b, const float *h, const float *d_outputs, float *gh);
void critical_path_backward_bound(GraniteModel *m, const Batch *b, const float *h, const float *d_bound, float *gh);

/* --granite_resource_bound (resource_bound.c), after the critical path if
 * both are on: the same contract, the gradient of its input into w->rb_dy;
 * the bound is max(C, R), the gradient of C goes to the critical path. */
void resource_bound_forward(GraniteModel *m, const Batch *b, const float *h, float *outputs);
void resource_bound_backward(GraniteModel *m, const Batch *b, const float *h, const float *d_outputs, float *gh);

/* One pass over the whole batch on this model (granite.c). */
void granite_forward_single(GraniteModel *m, const Batch *b, float *outputs, float *block_predictions);
void granite_backward_single(GraniteModel *m, const Batch *b, const float *d_outputs);

#endif
