/* The data-parallel training step; see dist_step.h. */
#include "dist/dist_step.h"

#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "model/replicas.h"
#include "util/common.h"

void dist_step_init(DistStep *s, int num_tasks) {
  memset(s, 0, sizeof *s);
  s->parts = dist_size();
  s->block0 = xcalloc((size_t)s->parts + 1, sizeof *s->block0);
  s->row0 = xcalloc((size_t)s->parts + 1, sizeof *s->row0);
  s->count = xcalloc((size_t)s->parts, sizeof *s->count);
  batch_init(&s->part, num_tasks);
}

void dist_step_free(DistStep *s) {
  batch_free(&s->part);
  free(s->block0);
  free(s->row0);
  free(s->count);
  free(s->mine);
  free(s->all);
  memset(s, 0, sizeof *s);
}

void dist_split_blocks(const Batch *b, int parts, int *block0) {
  long total = (long)b->num_nodes + b->num_edges;
  block0[0] = 0;
  for (int p = 1; p < parts; p++) {
    int k = block0[p - 1];
    while (k < b->num_blocks && ((long)b->node_offset[k] + b->edge_offset[k]) * parts < total * p) k++;
    block0[p] = k;
  }
  block0[parts] = b->num_blocks;
}

/* First output row of block k: the block itself (seq2num) or its first
 * instruction (seq2seq: one row per instruction, in block order). */
static int first_row(const GraniteModel *m, const Batch *b, int k, int from) {
  if (!m->cfg.seq2seq) return k;
  while (from < b->num_instructions && b->instruction_block[from] < k) from++;
  return from;
}

void dist_forward(DistStep *s, GraniteModel *m, const Batch *b, float *outputs, float *block_predictions) {
  if (s->parts == 1) {
    granite_forward(m, b, outputs, block_predictions);
    return;
  }
  const int T = m->cfg.num_tasks, P = s->parts, me = dist_rank();
  dist_split_blocks(b, P, s->block0);
  s->row0[0] = 0;
  for (int p = 1; p <= P; p++) s->row0[p] = first_row(m, b, s->block0[p], s->row0[p - 1]);
  size_t total = 0;
  for (int p = 0; p < P; p++) {
    s->count[p] = ((size_t)(s->row0[p + 1] - s->row0[p]) + (size_t)(s->block0[p + 1] - s->block0[p])) * T;
    total += s->count[p];
  }
  grow_array((void **)&s->mine, &s->cap_mine, s->count[me] + 1, sizeof(float));
  grow_array((void **)&s->all, &s->cap_all, total + 1, sizeof(float));
  int rows = s->row0[me + 1] - s->row0[me], blocks = s->block0[me + 1] - s->block0[me];
  if (blocks > 0) {
    batch_slice(&s->part, b, s->block0[me], s->block0[me + 1]);
    granite_forward(m, &s->part, s->mine, s->mine + (size_t)rows * T);
  }
  dist_gather_floats(s->mine, s->all, s->count, true);
  const float *at = s->all;
  for (int p = 0; p < P; p++) {
    size_t r = (size_t)(s->row0[p + 1] - s->row0[p]) * T, k = (size_t)(s->block0[p + 1] - s->block0[p]) * T;
    memcpy(outputs + (size_t)s->row0[p] * T, at, r * sizeof(float));
    if (block_predictions) memcpy(block_predictions + (size_t)s->block0[p] * T, at + r, k * sizeof(float));
    at += r + k;
  }
}

void dist_backward(DistStep *s, GraniteModel *m, const Batch *b, const float *d_outputs) {
  if (s->parts == 1) {
    granite_backward(m, b, d_outputs);
    return;
  }
  const int me = dist_rank();
  if (s->block0[me + 1] > s->block0[me])
    granite_backward(m, &s->part, d_outputs + (size_t)s->row0[me] * m->cfg.num_tasks);
  dist_allreduce_sum(m->grads, m->num_params);
}
