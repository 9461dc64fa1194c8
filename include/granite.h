/* granite: predict the inverse throughput of x86-64 basic blocks with a
 * trained GRANITE model. The library API a compiler links against.
 *
 *   char err[256];
 *   granite_model *m = granite_load("model/model.ckpt-100000", err, sizeof err);
 *   if (!m) { fprintf(stderr, "%s\n", err); ... }
 *   float cycles[GRANITE_MAX_TASKS];
 *   if (granite_predict_bytes(m, code, code_size, cycles) == 0) use(cycles[0]);
 *   granite_free(m);
 *
 * Threads may share a model: its calls run one at a time (a lock per
 * model); for predictions in parallel give each thread its own model
 * (loading is cheap) or use granite_predict_batch, which uses several cores.
 * Predictions come in the unit of the training labels (BHive's is cycles per
 * 100 iterations). All functions return 0 on success and -1 on failure.
 *
 * Every model keeps a cache of its recent predictions (LRU, 4,096 blocks by
 * default; granite_set_cache_size), keyed by the block's canonical graph:
 * a block asked for again is answered without running the model, with the
 * same numbers. */
#ifndef GRANITE_H
#define GRANITE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct granite_model granite_model;

/* Loads a checkpoint written by `granite train` (config, tokens, weights).
 * Returns NULL and writes a one-line reason to err on failure. */
granite_model *granite_load(const char *checkpoint_path, char *err, size_t err_size);
void granite_free(granite_model *model);

/* Number of tasks (outputs per block) and their names. */
int granite_num_tasks(const granite_model *model);
const char *granite_task_name(const granite_model *model, int task);

/* Predicts one block of raw machine code; out[num_tasks]. Fails (-1) if the
 * bytes do not decode as x86-64 or the block is empty. */
int granite_predict_bytes(granite_model *model, const uint8_t *code, size_t size, float *out);
/* Same, from hex text ("4829d3..."). */
int granite_predict_hex(granite_model *model, const char *hex, float *out);
/* Predicts n blocks at once (faster per block): blocks[i] of sizes[i] bytes;
 * out[n * num_tasks]. A block that does not decode gets NaN outputs. */
int granite_predict_batch(granite_model *model, const uint8_t *const *blocks, const size_t *sizes, int n,
                          float *out);

/* Uses at most n threads for this model's predictions (default: all cores). */
void granite_set_num_threads(granite_model *model, int n);

/* Precision of the model's matmuls: "fp32" (the default) or "bf16" (BF16
 * operands, FP32 accumulation, on CPUs with AVX512_BF16; about twice the
 * matmul speed, predictions within about 1% of FP32's). Empties the cache.
 * -1 for an unknown name, or for "bf16" on a CPU without AVX512_BF16 (the
 * model then stays FP32). */
int granite_set_precision(granite_model *model, const char *precision);
/* "fp32" or "bf16": the precision in effect. */
const char *granite_precision(granite_model *model);

/* Blocks the prediction cache holds (least recently used evicted first);
 * 0 turns it off. Empties the cache and its counts. -1 if entries < 0. */
#define GRANITE_DEFAULT_CACHE_SIZE 4096
int granite_set_cache_size(granite_model *model, int entries);
/* Cache lookups since load (or the last granite_set_cache_size) and how
 * many of them were answered from the cache; either pointer may be NULL. */
void granite_cache_stats(granite_model *model, long *hits, long *lookups);

#ifdef __cplusplus
}
#endif

#endif
