/* Data-parallel execution of one model over several threads: the caller
 * splits a batch by blocks into one part per thread (granite_split_ids),
 * each thread runs the whole forward (and backward) single-threaded on its
 * part, and the parts' gradients are summed into the model's.
 *
 * Why: with one OpenMP region per kernel (hundreds per step), a thread that
 * the scheduler parks stalls every region; on a shared 2-core machine a
 * 2-thread step was up to 20x slower than a 1-thread one. Here a step has
 * two synchronisation points. Every operation of the model is per row or
 * per block (spec §4: no batch statistics), so the results equal the
 * one-batch ones up to float summation order. */
#ifndef GRANITE_MODEL_REPLICAS_H
#define GRANITE_MODEL_REPLICAS_H

#include <stddef.h>
#include <stdint.h>

#include "graph/graph.h"
#include "model/model.h"

typedef struct {
  GraniteModel *model;   /* the model whose parameters all replicas share */
  int count;             /* replicas = threads */
  GraniteModel *rep;     /* rep[i].params == model->params; own grads and activations */
  float **own_params;    /* each replica's own parameter buffer, restored on destroy */
  /* where the time of the parallel passes goes (for granite bench): */
  double region_seconds; /* wall time inside the parallel regions */
  double *busy_seconds;  /* [count] time each replica spent in its own passes */
  double *busy_cpu_seconds; /* [count] the same passes in its thread's CPU time */
} GraniteReplicas;

/* count >= 1. The replicas follow model's reference-path and inference-only
 * settings at creation. 0, or -1 after an error line. */
int granite_replicas_create(GraniteReplicas *r, GraniteModel *model, int count);
void granite_replicas_destroy(GraniteReplicas *r);

/* Forward of parts[i] on replica i, all in parallel (one thread each);
 * outputs[i] / block_predictions[i] as in granite_forward. */
void granite_replicas_forward(GraniteReplicas *r, const Batch *parts, float *const *outputs,
                              float *const *block_predictions);
/* Backward of every part (after granite_replicas_forward of the same parts),
 * then model->grads += the sum of the parts' gradients. */
void granite_replicas_backward(GraniteReplicas *r, const Batch *parts, const float *const *d_outputs);

/* out = blocks [b0, b1) of b, with node/edge/block indices re-based
 * (model/data_parallel.c; also used by dist/dist_step.c). */
void batch_slice(Batch *out, const Batch *b, int b0, int b1);

/* Splits ids[0..n) into `parts` contiguous runs of about equal instruction
 * counts (instructions[id] per block): run p is ids[start[p] .. start[p+1]). */
void granite_split_ids(const int32_t *ids, int n, const int32_t *instructions, int parts, int *start);

#endif
