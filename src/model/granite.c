/* GRANITE forward and backward passes (spec §4) over one Batch.
 * Every dense layer is one sgemm over all rows of the batch; the first layer
 * of each update MLP is split by input segment (spec §7) unless the reference
 * path is selected. Activations live in an arena that grows to the largest
 * batch seen and is then reused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "model/model_internal.h"
#include "nn/activation.h"
#include "nn/embedding.h"
#include "nn/layernorm.h"
#include "nn/linear.h"
#include "nn/segment.h"
#include "util/common.h"

/* ---- arena ---- */

typedef struct {
  char *base; /* NULL: only measure */
  size_t used;
} Carver;

static void *carve(Carver *c, size_t count, size_t elem) {
  size_t bytes = (count * elem + 63) & ~(size_t)63;
  void *p = c->base ? c->base + c->used : NULL;
  c->used += bytes ? bytes : 64;
  return p;
}
#define FLOATS(c, n) ((float *)carve((c), (size_t)(n), sizeof(float)))
#define INTS(c, n) ((int32_t *)carve((c), (size_t)(n), sizeof(int32_t)))

static int imax(int a, int b) { return a > b ? a : b; }
static int mlp_out(const Mlp *mlp) {
  return mlp->num_layers ? mlp->dims[mlp->num_layers - 1] : mlp->in_dim;
}
static int mlp_max_width(const Mlp *mlp) {
  int w = mlp->in_dim;
  for (int j = 0; j < mlp->num_layers; j++) w = imax(w, mlp->dims[j]);
  return w;
}

static void carve_update(Carver *c, UpdateActs *a, const Mlp *mlp, int rows, bool ln, int x_cols) {
  int dim = mlp_out(mlp);
  a->pre = FLOATS(c, (size_t)rows * dim);
  if (ln) {
    a->out = FLOATS(c, (size_t)rows * dim);
    a->mean = FLOATS(c, rows);
    a->rstd = FLOATS(c, rows);
  } else {
    a->out = a->pre;
    a->mean = a->rstd = NULL;
  }
  for (int j = 0; j + 1 < mlp->num_layers; j++) a->hidden[j] = FLOATS(c, (size_t)rows * mlp->dims[j]);
  a->x = x_cols ? FLOATS(c, (size_t)rows * x_cols) : NULL;
}

/* Assigns every activation pointer for a batch of the given sizes. */
static void plan(ModelWork *w, const GraniteConfig *cfg, Carver *c) {
  int n = w->n, m = w->m, B = w->B, R = w->R, T = cfg->num_tasks;
  int N = cfg->node_embedding_size, E = cfg->edge_embedding_size, G = cfg->global_embedding_size;
  int K = cfg->num_message_passing_iterations;
  bool ln = cfg->graph_module_layer_normalization, ref = w->reference_path;
  int de = w->edge.in_dim, dg = w->global.in_dim;
  int nx = w->node_x_dim + (ref ? G : 0);
  w->recv_tok = w->inference_only ? INTS(c, m) : NULL;
  w->send_tok = w->inference_only ? INTS(c, m) : NULL;
  w->recv_off = INTS(c, n + 1);
  w->recv_items = INTS(c, m);
  w->send_off = INTS(c, n + 1);
  w->send_items = INTS(c, m);
  w->enc_e = FLOATS(c, (size_t)m * E);
  w->enc_v = FLOATS(c, (size_t)n * N);
  w->enc_u = FLOATS(c, (size_t)B * G);
  for (int t = 0; t < K; t++) {
    if (w->inference_only && t >= 2) {
      /* iteration t only reads iteration t-1: reuse the buffers of t-2 */
      w->e[t] = w->e[t - 2], w->v[t] = w->v[t - 2], w->u[t] = w->u[t - 2], w->xg[t] = w->xg[t - 2];
      continue;
    }
    carve_update(c, &w->e[t], &w->edge, m, ln, ref ? de : 0);
    carve_update(c, &w->v[t], &w->node, n, ln, nx);
    carve_update(c, &w->u[t], &w->global, B, ln, 0);
    w->xg[t] = FLOATS(c, (size_t)B * dg);
  }
  int e0 = w->edge.dims[0], n0 = w->node.dims[0];
  w->pr = FLOATS(c, (size_t)n * e0);
  w->ps = FLOATS(c, (size_t)n * e0);
  w->pue = FLOATS(c, (size_t)B * e0);
  w->pun = FLOATS(c, (size_t)B * n0);
  /* readout */
  int din = w->ro_in_dim, wr = w->ro_width, wt = w->task_width;
  w->ro_in = cfg->seq2seq ? FLOATS(c, (size_t)R * din) : NULL;
  w->x0 = FLOATS(c, (size_t)R * din);
  w->ro_mean = FLOATS(c, R);
  w->ro_rstd = FLOATS(c, R);
  for (int j = 0; j < w->readout.num_layers; j++) w->ro_hidden[j] = FLOATS(c, (size_t)R * w->readout.dims[j]);
  w->ro_sum = FLOATS(c, (size_t)R * wr);
  w->x1 = FLOATS(c, (size_t)R * wr);
  w->tro_mean = FLOATS(c, R);
  w->tro_rstd = FLOATS(c, R);
  for (int t = 0; t < T; t++) {
    for (int j = 0; j < w->task[t].num_layers; j++)
      w->task_hidden[t][j] = FLOATS(c, (size_t)R * w->task[t].dims[j]);
    w->task_y[t] = FLOATS(c, (size_t)R * wt);
  }
  w->col = FLOATS(c, R);
  if (cfg->critical_path) {
    int I = w->I;
    w->cp_lat = FLOATS(c, (size_t)I * T);
    w->cp_dlat = FLOATS(c, (size_t)I * T);
    w->cp_dist = FLOATS(c, I);
    w->cp_arg = INTS(c, I);
    w->cp_mark = INTS(c, I);
    w->cp_gnn = FLOATS(c, (size_t)B * T);
    w->cp_bound = FLOATS(c, (size_t)B * T);
    w->cp_sig = FLOATS(c, (size_t)B * T);
    w->cp_rec = INTS(c, (size_t)B * T);
    w->cp_dy = FLOATS(c, (size_t)B * T);
    w->cp_dC = FLOATS(c, (size_t)B * T);
  }
  if (cfg->resource_bound) {
    size_t Kr = (size_t)cfg->resource_bound;
    w->rb_use = FLOATS(c, (size_t)w->I * T * Kr);
    w->rb_duse = FLOATS(c, (size_t)w->I * T * Kr);
    w->rb_sum = FLOATS(c, (size_t)B * T * Kr);
    w->rb_bound = FLOATS(c, (size_t)B * T);
    w->rb_sig = FLOATS(c, (size_t)B * T);
    w->rb_arg = INTS(c, (size_t)B * T);
    w->rb_dy = FLOATS(c, (size_t)B * T);
    w->rb_dC = FLOATS(c, (size_t)B * T);
    w->rb_cp = INTS(c, (size_t)B * T);
  }
  /* backward scratch (none for inference-only passes) */
  if (w->inference_only) return;
  int rows = imax(imax(m, n), imax(B, R));
  int width = imax(imax(mlp_max_width(&w->edge), mlp_max_width(&w->node)),
                   imax(mlp_max_width(&w->global), imax(mlp_max_width(&w->readout), mlp_max_width(&w->task[0]))));
  w->ge = FLOATS(c, (size_t)m * E);
  w->de = FLOATS(c, (size_t)m * E);
  w->gv = FLOATS(c, (size_t)n * N);
  w->dv = FLOATS(c, (size_t)n * N);
  w->gu = FLOATS(c, (size_t)B * G);
  w->du = FLOATS(c, (size_t)B * G);
  w->dza = FLOATS(c, (size_t)rows * width);
  w->dzb = FLOATS(c, (size_t)rows * width);
  w->dx_e = ref ? FLOATS(c, (size_t)m * de) : NULL;
  w->dx_n = FLOATS(c, (size_t)n * nx);
  w->dx_g = FLOATS(c, (size_t)B * dg);
  w->dpr = FLOATS(c, (size_t)n * e0);
  w->dps = FLOATS(c, (size_t)n * e0);
  w->dpu = FLOATS(c, (size_t)B * imax(imax(e0, n0), G));
  w->tmp_n = FLOATS(c, (size_t)n * N);
  w->tmp_b = FLOATS(c, (size_t)B * G);
  w->dx1 = FLOATS(c, (size_t)R * wr);
  w->dsum = FLOATS(c, (size_t)R * wr);
  w->dx0 = FLOATS(c, (size_t)R * din);
  w->dX = FLOATS(c, (size_t)R * din);
  w->dty = FLOATS(c, (size_t)R * wt);
}

static void prepare(GraniteModel *model, const Batch *b) {
  ModelWork *w = model->work;
  w->n = b->num_nodes;
  w->m = b->num_edges;
  w->B = b->num_blocks;
  w->I = b->num_instructions;
  w->R = granite_output_rows(model, b);
  Carver count = {NULL, 0};
  plan(w, &model->cfg, &count);
  if (count.used > w->arena_bytes) {
    free(w->arena);
    w->arena = NULL; /* an allocation failure may longjmp (util/common.h) */
    w->arena_bytes = 0;
    w->arena = xmalloc(count.used);
    w->arena_bytes = count.used;
  }
  Carver real = {w->arena, 0};
  plan(w, &model->cfg, &real);
  csr_build(w->recv_off, w->recv_items, b->receivers, w->m, w->n);
  csr_build(w->send_off, w->send_items, b->senders, w->m, w->n);
  if (w->recv_tok)
    for (int j = 0; j < w->m; j++) {
      w->recv_tok[j] = b->node_tokens[b->receivers[j]];
      w->send_tok[j] = b->node_tokens[b->senders[j]];
    }
}

/* The first-iteration tables (model_internal.h): rows of the encoder's
 * embedding tables times the blocks of the edge MLP's first layer. Our
 * matmul computes each row on its own, in the same order whatever the other
 * rows, so a table row equals the row the per-batch product would have:
 * outputs stay bit-identical. true when the tables are ready. */
static bool first_iteration_tables(GraniteModel *model) {
  ModelWork *w = model->work;
  const GraniteConfig *c = &model->cfg;
  if (!w->inference_only || w->reference_path) return false;
  if (w->tab_e && w->tab_generation == w->weights_generation) return true;
  int N = c->node_embedding_size, E = c->edge_embedding_size, V = c->vocab_size, d0 = w->edge.dims[0];
  /* the model's edge table: 9 rows without loop-carried edges (NUM_EDGE_TYPES
   * rows would read the start of the next tensor as a tenth edge type) */
  size_t types = (size_t)granite_num_edge_types(c);
  size_t need = (types + 2 * (size_t)V) * d0;
  if (need > w->tab_floats) {
    free(w->tab_e);
    w->tab_e = xmalloc(need * sizeof(float));
    w->tab_floats = need;
  }
  w->tab_r = w->tab_e + types * d0;
  w->tab_s = w->tab_r + (size_t)V * d0;
  const float *P = model->params, *W = P + w->edge.w[0];
  matmul_forward(w->tab_e, d0, P + w->edge_emb, E, W, (int)types, E, d0, 0.0f);
  matmul_forward(w->tab_r, d0, P + w->node_emb, N, W + (size_t)E * d0, V, N, d0, 0.0f);
  matmul_forward(w->tab_s, d0, P + w->node_emb, N, W + (size_t)(E + N) * d0, V, N, d0, 0.0f);
  w->tab_generation = w->weights_generation;
  return true;
}

int granite_output_rows(const GraniteModel *m, const Batch *b) {
  return m->cfg.seq2seq ? b->num_instructions : b->num_blocks;
}

/* ---- MLP helpers ---- */

/* The split first layer's epilogue (spec §7), a RowEpilogueFn: z[i] +=
 * t1[i1[i]] (+ t2[i2[i]] + t3[i3[i]]) + bias, then leaky ReLU if asked. */
typedef struct {
  const float *t1, *t2, *t3;
  const int32_t *i1, *i2, *i3;
  const float *bias;
  bool leaky;
} GatherBiasAct;

static void gather_bias_act_rows(const void *ctx, float *z, int ldz, int dim, int r0, int r1) {
  const GatherBiasAct *g = ctx;
  for (int r = r0; r < r1; r++) {
    float *o = z + (size_t)r * ldz;
    const float *a = g->t1 + (size_t)g->i1[r] * dim, *bias = g->bias;
    if (g->t2) {
      const float *bb = g->t2 + (size_t)g->i2[r] * dim, *cc = g->t3 + (size_t)g->i3[r] * dim;
      _Pragma("omp simd")
      for (int k = 0; k < dim; k++) o[k] += a[k] + bb[k] + cc[k] + bias[k];
    } else {
      _Pragma("omp simd")
      for (int k = 0; k < dim; k++) o[k] += a[k] + bias[k];
    }
    if (g->leaky)
      _Pragma("omp simd")
      for (int k = 0; k < dim; k++) o[k] = leaky_relu(o[k]);
  }
}

static float *layer_out(UpdateActs *a, const Mlp *mlp, int j) {
  return j + 1 < mlp->num_layers ? a->hidden[j] : a->pre;
}

/* Layers 1.. of a stack whose layer-0 output (activated) is in outs[0]. */
static void mlp_forward_rest(const Mlp *mlp, const float *P, float **outs, int rows) {
  for (int j = 1; j < mlp->num_layers; j++) {
    bool leaky = mlp->act_final || j + 1 < mlp->num_layers;
    BiasAct ba = {P + mlp->b[j], leaky};
    matmul_forward_then(outs[j], mlp->dims[j], outs[j - 1], mlp->dims[j - 1], P + mlp->w[j], rows,
                        mlp->dims[j - 1], mlp->dims[j], &(RowEpilogue){bias_act_rows, &ba});
  }
}

/* Full stack from input x (readout stacks). */
static void mlp_forward(const Mlp *mlp, const float *P, float **outs, const float *x, int rows) {
  if (mlp->num_layers == 0) return;
  BiasAct ba = {P + mlp->b[0], mlp->act_final || mlp->num_layers > 1};
  matmul_forward_then(outs[0], mlp->dims[0], x, mlp->in_dim, P + mlp->w[0], rows, mlp->in_dim, mlp->dims[0],
                      &(RowEpilogue){bias_act_rows, &ba});
  mlp_forward_rest(mlp, P, outs, rows);
}

/* Back through layers L-1..1 and every bias; d (rows × last width) is the
 * gradient of the stack output and may be overwritten. Returns the gradient
 * of layer 0's pre-activation (in d, sa or sb). Weight grads of layer 0 are
 * the caller's (they depend on how the first layer's input is formed). */
static float *mlp_backward(const Mlp *mlp, const float *P, float *D, float **outs, float *d,
                           int rows, float *sa, float *sb) {
  int L = mlp->num_layers;
  if (mlp->act_final)
    leaky_bias_backward(d, outs[L - 1], D + mlp->b[L - 1], rows, mlp->dims[L - 1]);
  else
    bias_backward(D + mlp->b[L - 1], d, rows, mlp->dims[L - 1]);
  for (int j = L - 1; j >= 1; j--) {
    matmul_backward_weight(D + mlp->w[j], outs[j - 1], mlp->dims[j - 1], d, rows, mlp->dims[j - 1],
                           mlp->dims[j]);
    float *dn = d == sa ? sb : sa;
    matmul_backward_input(dn, mlp->dims[j - 1], d, P + mlp->w[j], rows, mlp->dims[j - 1],
                          mlp->dims[j], 0.0f);
    /* hidden layers always carry the activation (spec §4.1) */
    leaky_bias_backward(dn, outs[j - 1], D + mlp->b[j - 1], rows, mlp->dims[j - 1]);
    d = dn;
  }
  return d;
}

/* Backward of a full readout stack from input x; accumulates dx. */
static void mlp_backward_full(const Mlp *mlp, const float *P, float *D, float **outs, float *d,
                              const float *x, float *dx, int rows, float *sa, float *sb) {
  float *d0 = mlp_backward(mlp, P, D, outs, d, rows, sa, sb);
  matmul_backward_weight(D + mlp->w[0], x, mlp->in_dim, d0, rows, mlp->in_dim, mlp->dims[0]);
  matmul_backward_input(dx, mlp->in_dim, d0, P + mlp->w[0], rows, mlp->in_dim, mlp->dims[0], 1.0f);
}

/* ---- forward ---- */

static void edge_update_forward(GraniteModel *model, const Batch *b, int t, const float *e,
                                const float *v, const float *u) {
  ModelWork *w = model->work;
  const GraniteConfig *c = &model->cfg;
  const float *P = model->params;
  const Mlp *mlp = &w->edge;
  int N = c->node_embedding_size, E = c->edge_embedding_size, G = c->global_embedding_size;
  int m = w->m, n = w->n, B = w->B, d0 = mlp->dims[0];
  bool act0 = mlp->num_layers > 1;
  UpdateActs *a = &w->e[t];
  float *z = layer_out(a, mlp, 0);
  const float *W = P + mlp->w[0];
  if (w->reference_path) {
    int de = mlp->in_dim;
    copy_rows(a->x, de, e, E, m, E);
    gather_rows(a->x + E, de, v, N, b->receivers, m, N);
    gather_rows(a->x + E + N, de, v, N, b->senders, m, N);
    gather_rows(a->x + E + 2 * N, de, u, G, b->edge_block, m, G);
    BiasAct ba = {P + mlp->b[0], act0};
    matmul_forward_then(z, d0, a->x, de, W, m, de, d0, &(RowEpilogue){bias_act_rows, &ba});
  } else if (t == 0 && first_iteration_tables(model)) {
    /* e = edge_emb[type], v = node_emb[token]: the products are table rows */
    gather_rows(z, d0, w->tab_e, d0, b->edge_types, m, d0);
    matmul_forward(w->pue, d0, u, G, W + (size_t)(E + 2 * N) * d0, B, G, d0, 0.0f);
    GatherBiasAct g = {w->tab_r, w->tab_s, w->pue, w->recv_tok, w->send_tok, b->edge_block, P + mlp->b[0], act0};
    row_epilogue_run(&(RowEpilogue){gather_bias_act_rows, &g}, z, d0, m, d0);
  } else {
    /* spec §7: [e‖v_r‖v_s‖u]·W = e·W_e + (v·W_r)[r] + (v·W_s)[s] + (u·W_u)[b] */
    matmul_forward(w->pr, d0, v, N, W + (size_t)E * d0, n, N, d0, 0.0f);
    matmul_forward(w->ps, d0, v, N, W + (size_t)(E + N) * d0, n, N, d0, 0.0f);
    matmul_forward(w->pue, d0, u, G, W + (size_t)(E + 2 * N) * d0, B, G, d0, 0.0f);
    GatherBiasAct g = {w->pr, w->ps, w->pue, b->receivers, b->senders, b->edge_block, P + mlp->b[0], act0};
    matmul_forward_then(z, d0, e, E, W, m, E, d0, &(RowEpilogue){gather_bias_act_rows, &g});
  }
  float *outs[MLP_MAX];
  for (int j = 0; j < mlp->num_layers; j++) outs[j] = layer_out(a, mlp, j);
  mlp_forward_rest(mlp, P, outs, m);
}

static void node_update_forward(GraniteModel *model, const Batch *b, int t, const float *v,
                                const float *u) {
  ModelWork *w = model->work;
  const GraniteConfig *c = &model->cfg;
  const float *P = model->params;
  const Mlp *mlp = &w->node;
  int N = c->node_embedding_size, E = c->edge_embedding_size, G = c->global_embedding_size;
  int n = w->n, B = w->B, d0 = mlp->dims[0];
  bool ref = w->reference_path, act0 = mlp->num_layers > 1;
  UpdateActs *a = &w->v[t];
  const float *e_new = w->e[t].pre; /* e' before the residual (spec §4.3 step 2) */
  int nx = w->node_x_dim + (ref ? G : 0), col = 0;
  segment_sum_csr(a->x, nx, e_new, E, w->recv_off, w->recv_items, n, E);
  col += E;
  if (c->use_sent_edges) {
    segment_sum_csr(a->x + col, nx, e_new, E, w->send_off, w->send_items, n, E);
    col += E;
  }
  copy_rows(a->x + col, nx, v, N, n, N);
  col += N;
  if (ref) gather_rows(a->x + col, nx, u, G, b->node_block, n, G);
  float *z = layer_out(a, mlp, 0);
  const float *W = P + mlp->w[0];
  if (ref) {
    BiasAct ba = {P + mlp->b[0], act0};
    matmul_forward_then(z, d0, a->x, nx, W, n, nx, d0, &(RowEpilogue){bias_act_rows, &ba});
  } else {
    /* spec §7: the global term once per block, gathered per node */
    matmul_forward(w->pun, d0, u, G, W + (size_t)w->node_x_dim * d0, B, G, d0, 0.0f);
    GatherBiasAct g = {w->pun, NULL, NULL, b->node_block, NULL, NULL, P + mlp->b[0], act0};
    matmul_forward_then(z, d0, a->x, nx, W, n, nx, d0, &(RowEpilogue){gather_bias_act_rows, &g});
  }
  float *outs[MLP_MAX];
  for (int j = 0; j < mlp->num_layers; j++) outs[j] = layer_out(a, mlp, j);
  mlp_forward_rest(mlp, P, outs, n);
}

static void global_update_forward(GraniteModel *model, const Batch *b, int t, const float *u) {
  ModelWork *w = model->work;
  const GraniteConfig *c = &model->cfg;
  const float *P = model->params;
  const Mlp *mlp = &w->global;
  int N = c->node_embedding_size, E = c->edge_embedding_size, G = c->global_embedding_size;
  int B = w->B, dg = mlp->in_dim;
  UpdateActs *a = &w->u[t];
  float *x = w->xg[t];
  /* spec §4.3 step 3: new edges and nodes, old global */
  segment_sum_ranges(x, dg, w->e[t].pre, E, b->edge_offset, B, E);
  segment_sum_ranges(x + E, dg, w->v[t].pre, N, b->node_offset, B, N);
  copy_rows(x + E + N, dg, u, G, B, G);
  float *outs[MLP_MAX];
  for (int j = 0; j < mlp->num_layers; j++) outs[j] = layer_out(a, mlp, j);
  Mlp plain = *mlp;
  mlp_forward(&plain, P, outs, x, B);
}

static void finish_update(const GraniteConfig *c, const float *P, UpdateActs *a, size_t ln,
                          const float *old, int rows, int dim) {
  if (c->graph_module_residual_connections) add_rows(a->pre, dim, old, dim, rows, dim);
  if (ln != NO_TENSOR)
    layernorm_forward(a->out, a->mean, a->rstd, a->pre, P + ln, P + ln + dim, rows, dim);
}

void granite_forward_single(GraniteModel *model, const Batch *b, float *outputs, float *block_predictions) {
  prepare(model, b);
  ModelWork *w = model->work;
  /* training changes the weights between passes; prediction rounds them once */
  if (!w->inference_only || w->weights_generation == 0) w->weights_generation = linear_new_weights_generation();
  linear_set_precision(w->bf16, w->weights_generation);
  const GraniteConfig *c = &model->cfg;
  const float *P = model->params;
  int N = c->node_embedding_size, E = c->edge_embedding_size, G = c->global_embedding_size;
  int K = c->num_message_passing_iterations, T = c->num_tasks;
  int n = w->n, m = w->m, B = w->B, R = w->R;
  const int32_t *gtok = b->global_tokens ? b->global_tokens : b->node_tokens;

  /* spec §4.2 encoder */
  embedding_forward(w->enc_e, P + w->edge_emb, b->edge_types, m, E);
  embedding_forward(w->enc_v, P + w->node_emb, b->node_tokens, n, N);
  embedding_bag_forward(w->enc_u, P + w->glob_w, P + w->glob_b, gtok, b->node_offset, B, G);

  const float *e = w->enc_e, *v = w->enc_v, *u = w->enc_u;
  for (int t = 0; t < K; t++) {
    edge_update_forward(model, b, t, e, v, u);
    node_update_forward(model, b, t, v, u);
    global_update_forward(model, b, t, u);
    finish_update(c, P, &w->e[t], w->ln_edge[t], e, m, E);
    finish_update(c, P, &w->v[t], w->ln_node[t], v, n, N);
    finish_update(c, P, &w->u[t], w->ln_global[t], u, B, G);
    e = w->e[t].out;
    v = w->v[t].out;
    u = w->u[t].out;
  }

  /* spec §4.5 readout */
  int din = w->ro_in_dim, wr = w->ro_width, wt = w->task_width;
  const float *X = u;
  if (c->seq2seq) {
    gather_rows(w->ro_in, din, v, N, b->instruction_nodes, R, N);
    X = w->ro_in;
  }
  if (w->ln_ro != NO_TENSOR)
    layernorm_forward(w->x0, w->ro_mean, w->ro_rstd, X, P + w->ln_ro, P + w->ln_ro + din, R, din);
  else
    copy_rows(w->x0, din, X, din, R, din);
  const float *y = w->x0;
  if (w->readout.num_layers) {
    mlp_forward(&w->readout, P, w->ro_hidden, w->x0, R);
    y = w->ro_hidden[w->readout.num_layers - 1];
  }
  copy_rows(w->ro_sum, wr, y, wr, R, wr);
  if (c->readout_residual_connections && w->readout.num_layers) {
    if (w->readout_proj != NO_TENSOR)
      matmul_forward(w->ro_sum, wr, w->x0, din, P + w->readout_proj, R, din, wr, 1.0f);
    else
      add_rows(w->ro_sum, wr, w->x0, din, R, wr);
  }
  if (w->ln_tro != NO_TENSOR)
    layernorm_forward(w->x1, w->tro_mean, w->tro_rstd, w->ro_sum, P + w->ln_tro, P + w->ln_tro + wr,
                      R, wr);
  else
    copy_rows(w->x1, wr, w->ro_sum, wr, R, wr);
  for (int t = 0; t < T; t++) {
    const Mlp *mlp = &w->task[t];
    const float *ty = w->x1;
    if (mlp->num_layers) {
      mlp_forward(mlp, P, w->task_hidden[t], w->x1, R);
      ty = w->task_hidden[t][mlp->num_layers - 1];
    }
    copy_rows(w->task_y[t], wt, ty, wt, R, wt);
    if (c->task_readout_residual_connections && mlp->num_layers) {
      if (w->task_proj[t] != NO_TENSOR)
        matmul_forward(w->task_y[t], wt, w->x1, wr, P + w->task_proj[t], R, wr, wt, 1.0f);
      else
        add_rows(w->task_y[t], wt, w->x1, wr, R, wt);
    }
    matmul_forward(w->col, 1, w->task_y[t], wt, P + w->task_out[t], R, wt, 1, 0.0f);
    /* output_scale puts the read-out in the unit of the labels (1 = Gematria) */
    for (int r = 0; r < R; r++) outputs[(size_t)r * T + t] = w->col[r] * c->output_scale;
  }
  if (c->critical_path) critical_path_forward(model, b, v, outputs);
  if (c->resource_bound) resource_bound_forward(model, b, v, outputs);
  if (block_predictions) {
    if (c->seq2seq) {
      memset(block_predictions, 0, sizeof(float) * (size_t)B * T);
      for (int i = 0; i < R; i++)
        for (int t = 0; t < T; t++)
          block_predictions[(size_t)b->instruction_block[i] * T + t] += outputs[(size_t)i * T + t];
    } else {
      memcpy(block_predictions, outputs, sizeof(float) * (size_t)B * T);
    }
  }
  linear_set_precision(false, 0);
}

void granite_block_grad_to_outputs(const GraniteModel *m, const Batch *b, const float *d_block,
                                   float *d_outputs) {
  int T = m->cfg.num_tasks;
  if (!m->cfg.seq2seq) {
    memcpy(d_outputs, d_block, sizeof(float) * (size_t)b->num_blocks * T);
    return;
  }
  for (int i = 0; i < b->num_instructions; i++)
    for (int t = 0; t < T; t++)
      d_outputs[(size_t)i * T + t] = d_block[(size_t)b->instruction_block[i] * T + t];
}

/* ---- backward ---- */

/* From the gradient g of an update's output (LN output) to the gradient of
 * the MLP output (into d, overwritten) and of the update's input (g becomes it). */
static void update_output_backward(const GraniteConfig *c, const float *P, float *D, UpdateActs *a,
                                   size_t ln, float *g, float *d, int rows, int dim) {
  size_t bytes = sizeof(float) * (size_t)rows * dim;
  if (ln != NO_TENSOR) {
    memset(d, 0, bytes);
    layernorm_backward(d, D + ln, D + ln + dim, g, a->pre, a->mean, a->rstd, P + ln, rows, dim);
  } else {
    memcpy(d, g, bytes);
  }
  if (c->graph_module_residual_connections)
    memcpy(g, d, bytes); /* spec §4.3 step 4: the residual passes the gradient to the input */
  else
    memset(g, 0, bytes);
}

static void core_backward(GraniteModel *model, const Batch *b, int t, const float *e,
                          const float *v, const float *u) {
  ModelWork *w = model->work;
  const GraniteConfig *c = &model->cfg;
  const float *P = model->params;
  float *D = model->grads;
  int N = c->node_embedding_size, E = c->edge_embedding_size, G = c->global_embedding_size;
  int n = w->n, m = w->m, B = w->B;
  bool ref = w->reference_path;

  update_output_backward(c, P, D, &w->e[t], w->ln_edge[t], w->ge, w->de, m, E);
  update_output_backward(c, P, D, &w->v[t], w->ln_node[t], w->gv, w->dv, n, N);
  update_output_backward(c, P, D, &w->u[t], w->ln_global[t], w->gu, w->du, B, G);

  float *outs[MLP_MAX];
  /* global MLP: input [Σe' ‖ Σv' ‖ u] */
  {
    const Mlp *mlp = &w->global;
    int dg = mlp->in_dim;
    for (int j = 0; j < mlp->num_layers; j++) outs[j] = layer_out(&w->u[t], mlp, j);
    float *d0 = mlp_backward(mlp, P, D, outs, w->du, B, w->dza, w->dzb);
    matmul_backward_weight(D + mlp->w[0], w->xg[t], dg, d0, B, dg, mlp->dims[0]);
    matmul_backward_input(w->dx_g, dg, d0, P + mlp->w[0], B, dg, mlp->dims[0], 0.0f);
    gather_rows_add(w->de, E, w->dx_g, dg, b->edge_block, m, E);
    gather_rows_add(w->dv, N, w->dx_g + E, dg, b->node_block, n, N);
    add_rows(w->gu, G, w->dx_g + E + N, dg, B, G);
  }
  /* node MLP: input [ρ_in ‖ ρ_out ‖ v ‖ u[b]] */
  {
    const Mlp *mlp = &w->node;
    int d0w = mlp->dims[0], nx = w->node_x_dim + (ref ? G : 0);
    for (int j = 0; j < mlp->num_layers; j++) outs[j] = layer_out(&w->v[t], mlp, j);
    float *d0 = mlp_backward(mlp, P, D, outs, w->dv, n, w->dza, w->dzb);
    const float *W = P + mlp->w[0];
    float *dW = D + mlp->w[0];
    matmul_backward_weight(dW, w->v[t].x, nx, d0, n, nx, d0w);
    matmul_backward_input(w->dx_n, nx, d0, W, n, nx, d0w, 0.0f);
    int col = 0;
    gather_rows_add(w->de, E, w->dx_n, nx, b->receivers, m, E);
    col += E;
    if (c->use_sent_edges) {
      gather_rows_add(w->de, E, w->dx_n + col, nx, b->senders, m, E);
      col += E;
    }
    add_rows(w->gv, N, w->dx_n + col, nx, n, N);
    col += N;
    if (ref) {
      segment_sum_ranges(w->tmp_b, G, w->dx_n + col, nx, b->node_offset, B, G);
      add_rows(w->gu, G, w->tmp_b, G, B, G);
    } else {
      segment_sum_ranges(w->dpu, d0w, d0, d0w, b->node_offset, B, d0w);
      size_t wu = (size_t)w->node_x_dim * d0w;
      matmul_backward_weight(dW + wu, u, G, w->dpu, B, G, d0w);
      matmul_backward_input(w->gu, G, w->dpu, W + wu, B, G, d0w, 1.0f);
    }
  }
  /* edge MLP: input [e ‖ v_r ‖ v_s ‖ u[b]] */
  {
    const Mlp *mlp = &w->edge;
    int d0w = mlp->dims[0], de = mlp->in_dim;
    for (int j = 0; j < mlp->num_layers; j++) outs[j] = layer_out(&w->e[t], mlp, j);
    float *d0 = mlp_backward(mlp, P, D, outs, w->de, m, w->dza, w->dzb);
    const float *W = P + mlp->w[0];
    float *dW = D + mlp->w[0];
    if (ref) {
      matmul_backward_weight(dW, w->e[t].x, de, d0, m, de, d0w);
      matmul_backward_input(w->dx_e, de, d0, W, m, de, d0w, 0.0f);
      add_rows(w->ge, E, w->dx_e, de, m, E);
      segment_sum_csr(w->tmp_n, N, w->dx_e + E, de, w->recv_off, w->recv_items, n, N);
      add_rows(w->gv, N, w->tmp_n, N, n, N);
      segment_sum_csr(w->tmp_n, N, w->dx_e + E + N, de, w->send_off, w->send_items, n, N);
      add_rows(w->gv, N, w->tmp_n, N, n, N);
      segment_sum_ranges(w->tmp_b, G, w->dx_e + E + 2 * N, de, b->edge_offset, B, G);
      add_rows(w->gu, G, w->tmp_b, G, B, G);
    } else {
      size_t wr = (size_t)E * d0w, ws = (size_t)(E + N) * d0w, wu = (size_t)(E + 2 * N) * d0w;
      matmul_backward_weight(dW, e, E, d0, m, E, d0w);
      matmul_backward_input(w->ge, E, d0, W, m, E, d0w, 1.0f);
      segment_sum_csr(w->dpr, d0w, d0, d0w, w->recv_off, w->recv_items, n, d0w);
      segment_sum_csr(w->dps, d0w, d0, d0w, w->send_off, w->send_items, n, d0w);
      segment_sum_ranges(w->dpu, d0w, d0, d0w, b->edge_offset, B, d0w);
      matmul_backward_weight(dW + wr, v, N, w->dpr, n, N, d0w);
      matmul_backward_weight(dW + ws, v, N, w->dps, n, N, d0w);
      matmul_backward_weight(dW + wu, u, G, w->dpu, B, G, d0w);
      matmul_backward_input(w->gv, N, w->dpr, W + wr, n, N, d0w, 1.0f);
      matmul_backward_input(w->gv, N, w->dps, W + ws, n, N, d0w, 1.0f);
      matmul_backward_input(w->gu, G, w->dpu, W + wu, B, G, d0w, 1.0f);
    }
  }
}

static void readout_backward(GraniteModel *model, const Batch *b, const float *d_outputs) {
  ModelWork *w = model->work;
  const GraniteConfig *c = &model->cfg;
  const float *P = model->params;
  float *D = model->grads;
  int T = c->num_tasks, R = w->R, din = w->ro_in_dim, wr = w->ro_width, wt = w->task_width;
  memset(w->dx1, 0, sizeof(float) * (size_t)R * wr);
  for (int t = 0; t < T; t++) {
    const Mlp *mlp = &w->task[t];
    for (int r = 0; r < R; r++) w->col[r] = d_outputs[(size_t)r * T + t] * c->output_scale;
    matmul_backward_weight(D + w->task_out[t], w->task_y[t], wt, w->col, R, wt, 1);
    matmul_backward_input(w->dty, wt, w->col, P + w->task_out[t], R, wt, 1, 0.0f);
    if (mlp->num_layers == 0) {
      add_rows(w->dx1, wr, w->dty, wt, R, wr);
      continue;
    }
    if (c->task_readout_residual_connections) {
      if (w->task_proj[t] != NO_TENSOR) {
        matmul_backward_weight(D + w->task_proj[t], w->x1, wr, w->dty, R, wr, wt);
        matmul_backward_input(w->dx1, wr, w->dty, P + w->task_proj[t], R, wr, wt, 1.0f);
      } else {
        add_rows(w->dx1, wr, w->dty, wt, R, wr);
      }
    }
    mlp_backward_full(mlp, P, D, w->task_hidden[t], w->dty, w->x1, w->dx1, R, w->dza, w->dzb);
  }
  if (w->ln_tro != NO_TENSOR) {
    memset(w->dsum, 0, sizeof(float) * (size_t)R * wr);
    layernorm_backward(w->dsum, D + w->ln_tro, D + w->ln_tro + wr, w->dx1, w->ro_sum, w->tro_mean,
                       w->tro_rstd, P + w->ln_tro, R, wr);
  } else {
    memcpy(w->dsum, w->dx1, sizeof(float) * (size_t)R * wr);
  }
  memset(w->dx0, 0, sizeof(float) * (size_t)R * din);
  if (w->readout.num_layers == 0) {
    add_rows(w->dx0, din, w->dsum, wr, R, din);
  } else {
    if (c->readout_residual_connections) {
      if (w->readout_proj != NO_TENSOR) {
        matmul_backward_weight(D + w->readout_proj, w->x0, din, w->dsum, R, din, wr);
        matmul_backward_input(w->dx0, din, w->dsum, P + w->readout_proj, R, din, wr, 1.0f);
      } else {
        add_rows(w->dx0, din, w->dsum, wr, R, din);
      }
    }
    mlp_backward_full(&w->readout, P, D, w->ro_hidden, w->dsum, w->x0, w->dx0, R, w->dza, w->dzb);
  }
  const float *X = c->seq2seq ? w->ro_in : w->u[c->num_message_passing_iterations - 1].out;
  if (w->ln_ro != NO_TENSOR) {
    memset(w->dX, 0, sizeof(float) * (size_t)R * din);
    layernorm_backward(w->dX, D + w->ln_ro, D + w->ln_ro + din, w->dx0, X, w->ro_mean, w->ro_rstd,
                       P + w->ln_ro, R, din);
  } else {
    memcpy(w->dX, w->dx0, sizeof(float) * (size_t)R * din);
  }
  /* into the gradient of the last core outputs */
  if (c->seq2seq)
    scatter_add_rows(w->gv, din, w->dX, din, b->instruction_nodes, R, din);
  else
    add_rows(w->gu, din, w->dX, din, R, din);
}

void granite_backward_single(GraniteModel *model, const Batch *b, const float *d_outputs) {
  ModelWork *w = model->work;
  if (w->inference_only) {
    gr_error("model: backward pass requested after an inference-only forward pass");
    return;
  }
  const GraniteConfig *c = &model->cfg;
  float *D = model->grads;
  int N = c->node_embedding_size, E = c->edge_embedding_size, G = c->global_embedding_size;
  int K = c->num_message_passing_iterations;
  int n = w->n, m = w->m, B = w->B;
  linear_set_precision(w->bf16, w->weights_generation); /* the weights of the forward pass */
  memset(w->ge, 0, sizeof(float) * (size_t)m * E);
  memset(w->gv, 0, sizeof(float) * (size_t)n * N);
  memset(w->gu, 0, sizeof(float) * (size_t)B * G);
  if (c->resource_bound) { /* applied last in the forward pass: first here */
    resource_bound_backward(model, b, w->v[K - 1].out, d_outputs, w->gv);
    d_outputs = w->rb_dy;
  }
  if (c->critical_path && !c->resource_bound) {
    critical_path_backward(model, b, w->v[K - 1].out, d_outputs, w->gv);
    d_outputs = w->cp_dy;
  }
  readout_backward(model, b, d_outputs);
  for (int t = K - 1; t >= 0; t--) {
    const float *e = t ? w->e[t - 1].out : w->enc_e;
    const float *v = t ? w->v[t - 1].out : w->enc_v;
    const float *u = t ? w->u[t - 1].out : w->enc_u;
    core_backward(model, b, t, e, v, u);
  }
  const int32_t *gtok = b->global_tokens ? b->global_tokens : b->node_tokens;
  embedding_backward(D + w->edge_emb, w->ge, b->edge_types, m, E);
  embedding_backward(D + w->node_emb, w->gv, b->node_tokens, n, N);
  embedding_bag_backward(D + w->glob_w, D + w->glob_b, w->gu, gtok, b->node_offset, B, G);
  linear_set_precision(false, 0);
}

/* ---- activations by reference-model name ---- */

const float *granite_activation(const GraniteModel *model, const char *name, int *rows, int *cols) {
  const ModelWork *w = model->work;
  if (w->dp_last_split) return NULL; /* the activations live in the replicas */
  const GraniteConfig *c = &model->cfg;
  int N = c->node_embedding_size, E = c->edge_embedding_size, G = c->global_embedding_size;
  int t;
  char what[32];
  if (strcmp(name, "encoder/edges") == 0) return *rows = w->m, *cols = E, w->enc_e;
  if (strcmp(name, "encoder/nodes") == 0) return *rows = w->n, *cols = N, w->enc_v;
  if (strcmp(name, "encoder/globals") == 0) return *rows = w->B, *cols = G, w->enc_u;
  if (strcmp(name, "readout/x0") == 0) return *rows = w->R, *cols = w->ro_in_dim, w->x0;
  if (strcmp(name, "readout/x1") == 0) return *rows = w->R, *cols = w->ro_width, w->x1;
  if (c->critical_path && strcmp(name, "critical_path/latency") == 0)
    return *rows = w->I, *cols = c->num_tasks, w->cp_lat;
  if (c->critical_path && strcmp(name, "critical_path/bound") == 0)
    return *rows = w->B, *cols = c->num_tasks, w->cp_bound;
  if (c->resource_bound && strcmp(name, "resource_bound/usage") == 0)
    return *rows = w->I, *cols = c->num_tasks * c->resource_bound, w->rb_use;
  if (c->resource_bound && strcmp(name, "resource_bound/bound") == 0)
    return *rows = w->B, *cols = c->num_tasks, w->rb_bound;
  int K = c->num_message_passing_iterations;
  if (sscanf(name, "core/iter_%d/%31s", &t, what) == 2 && t >= 0 && t < K &&
      !(w->inference_only && t < K - 2)) {
    const UpdateActs *a = NULL;
    bool pre = strstr(what, "_pre") != NULL;
    if (strncmp(what, "edges", 5) == 0) a = &w->e[t], *rows = w->m, *cols = E;
    if (strncmp(what, "nodes", 5) == 0) a = &w->v[t], *rows = w->n, *cols = N;
    if (strncmp(what, "globals", 7) == 0) a = &w->u[t], *rows = w->B, *cols = G;
    if (a) return pre ? a->pre : a->out;
  }
  return NULL;
}
