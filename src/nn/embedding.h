/* Embedding tables (spec §4.2): lookups forward, scatter-adds backward. */
#ifndef GRANITE_NN_EMBEDDING_H
#define GRANITE_NN_EMBEDDING_H

#include <stdint.h>

/* out[i] = table[ids[i]] for i < n (rows of dim floats). */
void embedding_forward(float *out, const float *table, const int32_t *ids, int n, int dim);
/* d_table[ids[i]] += d_out[i]; repeated ids are summed (no races). */
void embedding_backward(float *d_table, const float *d_out, const int32_t *ids, int n, int dim);

/* Sparse form of a histogram layer (spec §4.2 global encoder):
 * out[s] = bias + Σ_{i in [offsets[s], offsets[s+1])} table[ids[i]]. */
void embedding_bag_forward(float *out, const float *table, const float *bias, const int32_t *ids,
                           const int32_t *offsets, int num_segments, int dim);
/* d_table[ids[i]] += d_out[segment of i]; d_bias += Σ_s d_out[s]. */
void embedding_bag_backward(float *d_table, float *d_bias, const float *d_out, const int32_t *ids,
                            const int32_t *offsets, int num_segments, int dim);

#endif
