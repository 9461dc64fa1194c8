/* Segment sums and row gathers for message passing (spec §4.3: plain
 * unsorted_segment_sum). Rows are feature vectors; every function takes row
 * strides (ld*) so results can land in a column range of a wider buffer.
 * Parallel versions never let two threads write the same output row. */
#ifndef GRANITE_NN_SEGMENT_H
#define GRANITE_NN_SEGMENT_H

#include <stdint.h>

/* Inverse of an item→segment map as CSR: items of segment s are
 * items[offsets[s] .. offsets[s+1]), in increasing item order (counting sort).
 * offsets has num_segments+1 entries, items n. Built once per batch. */
void csr_build(int32_t *offsets, int32_t *items, const int32_t *segment_of, int n,
               int num_segments);

/* out[s] = Σ_{i in segment s} in[i], segments given as CSR (overwrites out). */
void segment_sum_csr(float *out, int ldo, const float *in, int ldi, const int32_t *offsets,
                     const int32_t *items, int num_segments, int dim);
/* out[s] = Σ_{i = offsets[s]}^{offsets[s+1]-1} in[i] (contiguous segments, overwrites). */
void segment_sum_ranges(float *out, int ldo, const float *in, int ldi, const int32_t *offsets,
                        int num_segments, int dim);
/* out[i] += table[idx[i]] for i < n. */
void gather_rows_add(float *out, int ldo, const float *table, int ldt, const int32_t *idx, int n,
                     int dim);
/* out[i] = table[idx[i]]. */
void gather_rows(float *out, int ldo, const float *table, int ldt, const int32_t *idx, int n,
                 int dim);
/* table[idx[i]] += in[i]; columns split between threads (duplicates in idx are fine). */
void scatter_add_rows(float *table, int ldt, const float *in, int ldi, const int32_t *idx, int n,
                      int dim);
/* out[i] += in[i] for a [rows×dim] block with strides. */
void add_rows(float *out, int ldo, const float *in, int ldi, int rows, int dim);
/* out[i] = in[i] for a [rows×dim] block with strides. */
void copy_rows(float *out, int ldo, const float *in, int ldi, int rows, int dim);

#endif
