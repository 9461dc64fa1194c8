/* One training step spread over the ranks (data parallel).
 *
 * Every rank holds the same global batch (same data, sampler and seed), so
 * nothing but numbers crosses the network. Each rank runs the forward of
 * its part of the blocks (cut at block boundaries, balancing nodes + edges;
 * inside a rank the part is cut again over its threads, model/replicas.h);
 * the parts' outputs are gathered so that every rank computes the loss of
 * the whole batch exactly as one process would; each rank runs the
 * backward of its part, and the gradients are summed with one allreduce
 * over the flat gradient buffer. Every rank then holds the same gradient
 * and applies the same update. Every operation of the model is per row or
 * per block (spec §4), so the result equals one process's up to the order
 * of float sums.
 *
 * With one rank these are granite_forward / granite_backward. */
#ifndef GRANITE_DIST_DIST_STEP_H
#define GRANITE_DIST_DIST_STEP_H

#include <stdbool.h>
#include <stddef.h>

#include "graph/graph.h"
#include "model/model.h"

typedef struct {
  int parts;            /* = ranks */
  int *block0, *row0;   /* [parts+1] first block / output row of each rank's part */
  Batch part;           /* this rank's blocks, re-based */
  float *mine, *all;    /* packed outputs then block predictions: this rank's, every rank's */
  size_t cap_mine, cap_all;
  size_t *count;        /* [parts] floats each rank contributes */
} DistStep;

void dist_step_init(DistStep *s, int num_tasks);
void dist_step_free(DistStep *s);

/* Cuts blocks [0, num_blocks) into `parts` runs at block boundaries with
 * about equal nodes + edges: run p is [block0[p], block0[p+1]); runs may be
 * empty when there are fewer blocks than parts. */
void dist_split_blocks(const Batch *b, int parts, int *block0);

/* Collective. outputs [R*T] and block_predictions [B*T] of the whole batch
 * b on every rank, as granite_forward gives them; this rank's part keeps
 * the activations for dist_backward. */
void dist_forward(DistStep *s, GraniteModel *m, const Batch *b, float *outputs, float *block_predictions);

/* Collective. d_outputs [R*T] of the whole batch: backward of this rank's
 * part, accumulated into m->grads (zero them first), then m->grads summed
 * over the ranks. */
void dist_backward(DistStep *s, GraniteModel *m, const Batch *b, const float *d_outputs);

#endif
