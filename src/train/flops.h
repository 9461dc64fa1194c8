/* FLOPs of the REFERENCE model's forward pass, backward pass and optimizer
 * step for a given graph size (spec §7). We count the work the model
 * defines — the un-split first layer of each update MLP over its
 * concatenated input, the dense token-histogram encoder layer, all K
 * iterations in full — not the (smaller) work of our optimized kernels, so
 * GFLOP/s figures compare with other implementations of the same model.
 *
 * Counting rules:
 *   matmul row in->out: 2*in*out; bias: out; leaky ReLU: 1 per element;
 *   LayerNorm: 8 per element; segment sums and residual adds: 1 per element.
 *   Backward: 2x the forward matmuls (input and weight gradients), except the
 *   histogram encoder layer (weight gradient only: its input is data), plus
 *   1x the other forward FLOPs (bias/activation/LN/aggregation gradients).
 *   Optimizer: FLOPS_PER_PARAM_UPDATE per parameter (Adam). */
#ifndef GRANITE_TRAIN_FLOPS_H
#define GRANITE_TRAIN_FLOPS_H

#include <stddef.h>

#include "graph/graph.h"
#include "model/model.h"

#define FLOPS_PER_PARAM_UPDATE 12.0

typedef struct {
  double fwd_matmul;   /* forward 2*in*out terms */
  double fwd_encoder_matmul; /* the part of fwd_matmul in the histogram encoder */
  double fwd_other;    /* forward bias, activation, LN, sums, residuals */
  double forward;      /* fwd_matmul + fwd_other */
  double backward;
  double optimizer;
  double train_step;   /* forward + backward + optimizer */
} FlopCount;

/* FLOPs of one MLP row through layers of sizes[0..num_sizes) from width in;
 * activation between layers only (spec §4.1) unless activate_last. */
double flops_mlp_row(int in, const int *sizes, int num_sizes, int activate_last);

/* Counts for a batch of `blocks` blocks with the given total nodes, edges
 * and instructions; num_params = the model's parameter count (optimizer). */
void flops_count(FlopCount *out, const GraniteConfig *cfg, double blocks, double nodes, double edges,
                 double instructions, double num_params);

/* The same for the actual arrays of a batch. */
void flops_count_batch(FlopCount *out, const GraniteConfig *cfg, const Batch *b, double num_params);

/* Parameter count of the reference model (spec §4.7), for configs that are
 * not instantiated (e.g. the spec §7 table check). */
double flops_reference_param_count(const GraniteConfig *cfg);

#endif
