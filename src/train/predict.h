/* Prediction (spec §5.8 with fixes): batched forward passes over a dataset,
 * and the predict action that appends one inverse_throughputs entry per task
 * to every record it can predict and passes the others through. */
#ifndef GRANITE_TRAIN_PREDICT_H
#define GRANITE_TRAIN_PREDICT_H

#include <stdint.h>

#include "io/dataset.h"
#include "model/model.h"
#include "train/flags.h"

/* Default batch size of predict and eval when --gematria_max_blocks_in_batch
 * is not given (Gematria puts the whole file in one batch; per-block results
 * do not depend on the batching, so we bound the memory instead). */
#define PREDICT_DEFAULT_BATCH 1000

/* Forward passes over blocks ids[0..n) of ds (NULL = every valid block), in
 * order, in batches of at most max_blocks blocks and max_instructions
 * instructions. out[ds->num_blocks * num_tasks] receives the block
 * predictions at each block's dataset position; blocks not predicted (not
 * listed, invalid, alone over the instruction cap) get NaN. Returns the
 * number of blocks predicted; *skipped (may be NULL) the listed blocks left
 * out because of the cap.
 *
 * Collective in a job of several ranks (dist/dist.h): each rank predicts a
 * run of whole batches and `out` is complete on rank 0 only (the other
 * ranks' hold their own share). */
long predict_dataset(GraniteModel *m, const Dataset *ds, const int32_t *ids, int n, int max_blocks,
                     int max_instructions, float *out, long *skipped);

/* predict_dataset that also keeps, for a seq2seq model, each instruction's
 * output: instruction j of block i goes to prefix_out[(instr_first[i] + j) *
 * num_tasks + t] (instr_first[i] = instructions of the blocks before i, see
 * dataset_instruction_offsets). These are the per-instruction deltas; the
 * caller sums them into prefixes. prefix_out = NULL: as predict_dataset. */
long predict_dataset_outputs(GraniteModel *m, const Dataset *ds, const int32_t *ids, int n, int max_blocks,
                             int max_instructions, float *out, const int64_t *instr_first, float *prefix_out,
                             long *skipped);

/* instr_first[0..num_blocks]: running sum of ds->num_instructions; the last
 * entry is the total. Returns a new array (free it). */
int64_t *dataset_instruction_offsets(const Dataset *ds);

/* --gematria_action=predict. Returns the exit status. */
int predict_main(const GematriaFlags *f);

#endif
