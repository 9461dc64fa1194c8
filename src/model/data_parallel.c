/* granite_forward / granite_backward: one pass on the model, or, with
 * granite_set_data_parallel(m, P), the batch cut into P runs of blocks that
 * P replicas (model/replicas.h) process in parallel. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "model/model_internal.h"
#include "model/replicas.h"
#include "nn/linear.h"
#include "util/common.h"

#define DP_MAX 64

typedef struct DataParallel {
  GraniteReplicas reps;
  int parts;
  Batch batch[DP_MAX];
  int block0[DP_MAX + 1], row0[DP_MAX + 1]; /* first block / output row of each part */
  float *out[DP_MAX], *pred[DP_MAX];
  size_t cap_out[DP_MAX], cap_pred[DP_MAX];
} DataParallel;

static void data_parallel_free(GraniteModel *m) {
  DataParallel *dp = m->work->dp;
  if (!dp) return;
  granite_replicas_destroy(&dp->reps);
  for (int i = 0; i < DP_MAX; i++) {
    batch_free(&dp->batch[i]);
    free(dp->out[i]);
    free(dp->pred[i]);
  }
  free(dp);
  m->work->dp = NULL;
  m->work->dp_last_split = false;
}

void granite_set_data_parallel(GraniteModel *m, int threads) {
  if (threads > DP_MAX) threads = DP_MAX;
  if (threads != m->work->dp_threads) data_parallel_free(m);
  m->work->dp_threads = threads > 1 ? threads : 0;
}

size_t granite_work_bytes(const GraniteModel *m) {
  size_t bytes = m->work->arena_bytes;
  const DataParallel *dp = m->work->dp;
  if (dp)
    for (int i = 0; i < dp->reps.count; i++) bytes += dp->reps.rep[i].work->arena_bytes;
  return bytes;
}

static void *grow(void *p, size_t *cap, size_t need, size_t elem) {
  if (need > *cap) {
    p = xrealloc(p, need * elem);
    *cap = need;
  }
  return p;
}

/* The critical-path arrays of blocks b0..b1 (instructions i0..i1), before
 * batch_slice updates the capacities: dep_offset holds cap_instructions + 1
 * entries and rec_offset cap_blocks + 1, as in graph/batch.c. */
static void slice_critical_path(Batch *out, const Batch *b, int b0, int b1, int i0, int i1) {
  int B = b1 - b0, I = i1 - i0;
  size_t ci = out->cap_instructions > (size_t)I ? out->cap_instructions : (size_t)I;
  size_t cb = out->cap_blocks > (size_t)B + 1 ? out->cap_blocks : (size_t)B + 1;
  if (!out->dep_offset || (size_t)I > out->cap_instructions)
    out->dep_offset = xrealloc(out->dep_offset, (ci + 1) * sizeof(int32_t));
  if (!out->rec_offset || (size_t)B + 1 > out->cap_blocks)
    out->rec_offset = xrealloc(out->rec_offset, (cb + 1) * sizeof(int32_t));
  if (!b->dep_offset) { /* a batch made by hand, without the arrays */
    out->num_deps = out->num_recurrences = out->num_rec_readers = 0;
    memset(out->dep_offset, 0, (size_t)(I + 1) * sizeof(int32_t));
    memset(out->rec_offset, 0, (size_t)(B + 1) * sizeof(int32_t));
    return;
  }
  int d0 = b->dep_offset[i0], D = b->dep_offset[i1] - d0;
  int r0 = b->rec_offset[b0], R = b->rec_offset[b1] - r0;
  int k0 = b->rec_reader_offset[r0], K = b->rec_reader_offset[r0 + R] - k0;
  out->dep_from = grow(out->dep_from, &out->cap_deps, (size_t)D + 1, sizeof(int32_t));
  if (!out->rec_writer || (size_t)R + 1 > out->cap_recs) {
    out->cap_recs = (size_t)R + 1 > out->cap_recs ? (size_t)R + 1 : out->cap_recs;
    out->rec_writer = xrealloc(out->rec_writer, out->cap_recs * sizeof(int32_t));
    out->rec_reader_offset = xrealloc(out->rec_reader_offset, (out->cap_recs + 1) * sizeof(int32_t));
  }
  out->rec_readers = grow(out->rec_readers, &out->cap_rec_readers, (size_t)K + 1, sizeof(int32_t));
  for (int i = 0; i <= I; i++) out->dep_offset[i] = b->dep_offset[i0 + i] - d0;
  for (int k = 0; k < D; k++) out->dep_from[k] = b->dep_from[d0 + k] - i0;
  for (int k = 0; k <= B; k++) out->rec_offset[k] = b->rec_offset[b0 + k] - r0;
  for (int r = 0; r < R; r++) out->rec_writer[r] = b->rec_writer[r0 + r] - i0;
  for (int r = 0; r <= R; r++) out->rec_reader_offset[r] = b->rec_reader_offset[r0 + r] - k0;
  for (int k = 0; k < K; k++) out->rec_readers[k] = b->rec_readers[k0 + k] - i0;
  out->num_deps = D, out->num_recurrences = R, out->num_rec_readers = K;
}

void batch_slice(Batch *out, const Batch *b, int b0, int b1) {
  int T = b->num_tasks, n0 = b->node_offset[b0], n1 = b->node_offset[b1];
  int e0 = b->edge_offset[b0], e1 = b->edge_offset[b1];
  int i0 = 0, i1;
  while (i0 < b->num_instructions && b->instruction_block[i0] < b0) i0++;
  for (i1 = i0; i1 < b->num_instructions && b->instruction_block[i1] < b1; i1++) {
  }
  int B = b1 - b0, n = n1 - n0, m = e1 - e0, I = i1 - i0;
  size_t cap;
  slice_critical_path(out, b, b0, b1, i0, i1);
  cap = out->cap_blocks;
  out->node_offset = grow(out->node_offset, &cap, (size_t)B + 1, sizeof(int32_t));
  cap = out->cap_blocks;
  out->edge_offset = grow(out->edge_offset, &cap, (size_t)B + 1, sizeof(int32_t));
  cap = out->cap_blocks;
  out->labels = grow(out->labels, &cap, (size_t)(B + 1) * T, sizeof(float));
  cap = out->cap_blocks;
  out->label_mask = grow(out->label_mask, &cap, (size_t)(B + 1) * T, 1);
  if ((size_t)B + 1 > out->cap_blocks) out->cap_blocks = (size_t)B + 1;
  cap = out->cap_nodes;
  out->node_tokens = grow(out->node_tokens, &cap, (size_t)n, sizeof(int32_t));
  cap = out->cap_nodes;
  out->global_tokens = grow(out->global_tokens, &cap, (size_t)n, sizeof(int32_t));
  cap = out->cap_nodes;
  out->node_block = grow(out->node_block, &cap, (size_t)n, sizeof(int32_t));
  if ((size_t)n > out->cap_nodes) out->cap_nodes = (size_t)n;
  cap = out->cap_edges;
  out->edge_types = grow(out->edge_types, &cap, (size_t)m, sizeof(int32_t));
  cap = out->cap_edges;
  out->senders = grow(out->senders, &cap, (size_t)m, sizeof(int32_t));
  cap = out->cap_edges;
  out->receivers = grow(out->receivers, &cap, (size_t)m, sizeof(int32_t));
  cap = out->cap_edges;
  out->edge_block = grow(out->edge_block, &cap, (size_t)m, sizeof(int32_t));
  if ((size_t)m > out->cap_edges) out->cap_edges = (size_t)m;
  cap = out->cap_instructions;
  out->instruction_nodes = grow(out->instruction_nodes, &cap, (size_t)I, sizeof(int32_t));
  cap = out->cap_instructions;
  out->instruction_block = grow(out->instruction_block, &cap, (size_t)I, sizeof(int32_t));
  if (b->delta_labels) {
    cap = out->cap_instructions;
    out->delta_labels = grow(out->delta_labels, &cap, (size_t)(I + 1) * T, sizeof(float));
    cap = out->cap_instructions;
    out->delta_mask = grow(out->delta_mask, &cap, (size_t)(I + 1) * T, 1);
  }
  if ((size_t)I > out->cap_instructions) out->cap_instructions = (size_t)I;

  out->num_blocks = B, out->num_nodes = n, out->num_edges = m, out->num_instructions = I, out->num_tasks = T;
  for (int k = 0; k <= B; k++) {
    out->node_offset[k] = b->node_offset[b0 + k] - n0;
    out->edge_offset[k] = b->edge_offset[b0 + k] - e0;
  }
  memcpy(out->labels, b->labels + (size_t)b0 * T, sizeof(float) * (size_t)B * T);
  memcpy(out->label_mask, b->label_mask + (size_t)b0 * T, (size_t)B * T);
  memcpy(out->node_tokens, b->node_tokens + n0, sizeof(int32_t) * (size_t)n);
  if (b->global_tokens)
    memcpy(out->global_tokens, b->global_tokens + n0, sizeof(int32_t) * (size_t)n);
  else
    memcpy(out->global_tokens, b->node_tokens + n0, sizeof(int32_t) * (size_t)n);
  for (int i = 0; i < n; i++) out->node_block[i] = b->node_block[n0 + i] - b0;
  memcpy(out->edge_types, b->edge_types + e0, sizeof(int32_t) * (size_t)m);
  for (int j = 0; j < m; j++) {
    out->senders[j] = b->senders[e0 + j] - n0;
    out->receivers[j] = b->receivers[e0 + j] - n0;
    out->edge_block[j] = b->edge_block[e0 + j] - b0;
  }
  for (int i = 0; i < I; i++) {
    out->instruction_nodes[i] = b->instruction_nodes[i0 + i] - n0;
    out->instruction_block[i] = b->instruction_block[i0 + i] - b0;
  }
  if (b->delta_labels) {
    memcpy(out->delta_labels, b->delta_labels + (size_t)i0 * T, sizeof(float) * (size_t)I * T);
    memcpy(out->delta_mask, b->delta_mask + (size_t)i0 * T, (size_t)I * T);
  } else {
    free(out->delta_labels);
    free(out->delta_mask);
    out->delta_labels = NULL;
    out->delta_mask = NULL;
  }
}

static DataParallel *dp_get(GraniteModel *m) {
  ModelWork *w = m->work;
  if (!w->dp) {
    DataParallel *dp = xcalloc(1, sizeof *dp);
    if (granite_replicas_create(&dp->reps, m, w->dp_threads) != 0) {
      free(dp);
      return NULL;
    }
    for (int i = 0; i < DP_MAX; i++) batch_init(&dp->batch[i], m->cfg.num_tasks);
    w->dp = dp;
    w->dp_free = data_parallel_free;
  }
  /* the replicas follow the model's switches; in inference-only mode its
   * weights generation too, so that granite_set_bf16 reaches them */
  if (w->inference_only && w->weights_generation == 0) w->weights_generation = linear_new_weights_generation();
  for (int i = 0; i < w->dp->reps.count; i++) {
    ModelWork *rw = w->dp->reps.rep[i].work;
    rw->reference_path = w->reference_path;
    rw->inference_only = w->inference_only;
    rw->bf16 = w->bf16;
    if (w->inference_only) rw->weights_generation = w->weights_generation;
    w->dp->reps.rep[i].params = m->params;
    w->dp->reps.rep[i].cfg.output_scale = m->cfg.output_scale;
  }
  return w->dp;
}

void granite_forward(GraniteModel *m, const Batch *b, float *outputs, float *block_predictions) {
  ModelWork *w = m->work;
  w->dp_last_split = false;
  int P = w->dp_threads;
  DataParallel *dp = P > 1 && !omp_in_parallel() && b->num_blocks >= 2 * P ? dp_get(m) : NULL;
  if (!dp) {
    granite_forward_single(m, b, outputs, block_predictions);
    return;
  }
  /* cut at block boundaries, balancing nodes + edges (the per-row work) */
  const int T = m->cfg.num_tasks;
  long total = (long)b->num_nodes + b->num_edges;
  dp->parts = P;
  dp->block0[0] = 0;
  for (int p = 1; p < P; p++) {
    int k = dp->block0[p - 1] + 1; /* every part gets at least one block */
    while (k < b->num_blocks - (P - p) &&
           ((long)b->node_offset[k] + b->edge_offset[k]) * P < total * p)
      k++;
    dp->block0[p] = k;
  }
  dp->block0[P] = b->num_blocks;
  dp->row0[0] = 0;
  for (int p = 0; p < P; p++) {
    batch_slice(&dp->batch[p], b, dp->block0[p], dp->block0[p + 1]);
    int R = granite_output_rows(m, &dp->batch[p]);
    dp->row0[p + 1] = dp->row0[p] + R;
    if ((size_t)R * T + 1 > dp->cap_out[p]) {
      dp->out[p] = xrealloc(dp->out[p], sizeof(float) * ((size_t)R * T + 1));
      dp->cap_out[p] = (size_t)R * T + 1;
    }
    size_t nb = (size_t)dp->batch[p].num_blocks * T + 1;
    if (nb > dp->cap_pred[p]) {
      dp->pred[p] = xrealloc(dp->pred[p], sizeof(float) * nb);
      dp->cap_pred[p] = nb;
    }
  }
  granite_replicas_forward(&dp->reps, dp->batch, dp->out, dp->pred);
  for (int p = 0; p < P; p++) {
    memcpy(outputs + (size_t)dp->row0[p] * T, dp->out[p],
           sizeof(float) * (size_t)(dp->row0[p + 1] - dp->row0[p]) * T);
    if (block_predictions)
      memcpy(block_predictions + (size_t)dp->block0[p] * T, dp->pred[p],
             sizeof(float) * (size_t)dp->batch[p].num_blocks * T);
  }
  w->n = b->num_nodes, w->m = b->num_edges, w->B = b->num_blocks, w->I = b->num_instructions;
  w->R = dp->row0[P];
  w->dp_last_split = true;
}

void granite_backward(GraniteModel *m, const Batch *b, const float *d_outputs) {
  ModelWork *w = m->work;
  if (!w->dp_last_split) {
    granite_backward_single(m, b, d_outputs);
    return;
  }
  DataParallel *dp = w->dp;
  const float *d[DP_MAX];
  for (int p = 0; p < dp->parts; p++) d[p] = d_outputs + (size_t)dp->row0[p] * m->cfg.num_tasks;
  granite_replicas_backward(&dp->reps, dp->batch, d);
}

void granite_data_parallel_stats(GraniteModel *m, bool reset, double *region_seconds, double *busy_seconds,
                                 double *busy_cpu_seconds) {
  DataParallel *dp = m->work->dp;
  double busy = 0, busy_cpu = 0;
  if (dp)
    for (int i = 0; i < dp->reps.count; i++) {
      busy += dp->reps.busy_seconds[i];
      busy_cpu += dp->reps.busy_cpu_seconds[i];
      if (reset) dp->reps.busy_seconds[i] = dp->reps.busy_cpu_seconds[i] = 0;
    }
  if (region_seconds) *region_seconds = dp ? dp->reps.region_seconds : 0;
  if (busy_seconds) *busy_seconds = busy;
  if (busy_cpu_seconds) *busy_cpu_seconds = busy_cpu;
  if (dp && reset) dp->reps.region_seconds = 0;
}
