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
 * Thread safety: threads may share a model: its calls run one at a time (a
 * lock per model); for predictions in parallel give each thread its own
 * model (loading is cheap) or use granite_predict_batch, which uses several
 * cores. Different models may be used from different threads at once.
 * The functions that take no model (granite_version, granite_assemble,
 * granite_canonicalize_hex, granite_buffer_free) are thread-safe. A model's
 * own predictions use up to granite_set_num_threads OpenMP threads.
 * After fork(), a child whose parent predicted with several threads must
 * set 1 thread before predicting (libgomp's pool does not survive fork).
 *
 * Predictions come in the unit of the training labels (BHive's is cycles per
 * 100 iterations). Compiles as C and C++.
 * Link: pkg-config --cflags --libs granite, or CMake
 * find_package(granite) and target_link_libraries(app granite::granite).
 *
 * Every model keeps a cache of its recent predictions (LRU, 4,096 blocks by
 * default; granite_set_cache_size), keyed by the block's canonical graph:
 * a block asked for again is answered without running the model, with the
 * same numbers.
 *
 * Contract (docs/reliability.md): no function crashes, exits or writes to
 * stderr on bad arguments, bad input or exhausted memory. Functions that
 * return int return 0 on success and a negative GRANITE_ERROR_* code on
 * failure; granite_last_error() then says why (for granite_load, the err
 * buffer does). After GRANITE_ERROR_MEMORY the model stays usable (memory of
 * the failed call may be lost). */
#ifndef GRANITE_H
#define GRANITE_H

#include <stddef.h>
#include <stdint.h>

/* The version of this header; granite_version() gives the library's. */
#define GRANITE_VERSION_MAJOR 0
#define GRANITE_VERSION_MINOR 2
#define GRANITE_VERSION_PATCH 0
#define GRANITE_VERSION_STRING "0.2.0"
/* One number for #if: 10000 * major + 100 * minor + patch. */
#define GRANITE_VERSION (GRANITE_VERSION_MAJOR * 10000 + GRANITE_VERSION_MINOR * 100 + GRANITE_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif

/* "0.2.0": the version of the library actually loaded. */
const char *granite_version(void);

typedef struct granite_model granite_model;

enum {
  GRANITE_OK = 0,
  GRANITE_ERROR_INPUT = -1,    /* the code does not decode as x86-64, is empty, or bad hex */
  GRANITE_ERROR_ARGUMENT = -2, /* a NULL model or array, a NULL code with a size, n < 0 ... */
  GRANITE_ERROR_MEMORY = -3,   /* out of memory */
};

/* The reason for the last failure of a granite_* call in this thread (one
 * line, no trailing newline); "" if none failed. */
const char *granite_last_error(void);

/* Loads a checkpoint written by `granite train` (config, tokens, weights).
 * Returns NULL and writes the one-line reason (which file, what is wrong)
 * to err (if not NULL) and to granite_last_error() on failure. */
granite_model *granite_load(const char *checkpoint_path, char *err, size_t err_size);
void granite_free(granite_model *model);

/* Number of tasks (outputs per block; 0 for a NULL model) and their names
 * (NULL for a NULL model or a task out of range). */
int granite_num_tasks(const granite_model *model);
const char *granite_task_name(const granite_model *model, int task);

/* Predicts one block of raw machine code; out[num_tasks]. Fails (-1) if the
 * bytes do not decode as x86-64 or the block is empty. */
int granite_predict_bytes(granite_model *model, const uint8_t *code, size_t size, float *out);
/* Same, from hex text ("4829d3..."). */
int granite_predict_hex(granite_model *model, const char *hex, float *out);
/* Predicts n blocks at once (faster per block): blocks[i] of sizes[i] bytes;
 * out[n * num_tasks]. A block that does not decode gets NaN outputs and the
 * call returns GRANITE_ERROR_INPUT (the others are predicted). n == 0 does
 * nothing; NULL arrays (with n > 0), a NULL block with a non-zero size or
 * n < 0 are GRANITE_ERROR_ARGUMENT, with nothing written to out. */
int granite_predict_batch(granite_model *model, const uint8_t *const *blocks, const size_t *sizes, int n,
                          float *out);

/* Assembly syntax for granite_assemble and granite_predict_asm. */
enum { GRANITE_SYNTAX_INTEL = 0, GRANITE_SYNTAX_ATT = 1 };

/* Assembles x86-64 text (instructions separated by newlines or ';') with GNU
 * as (`as --64`, found on PATH) into machine code: *code is malloc'd (free it
 * with granite_buffer_free), *size its length. On failure returns -1 and
 * writes as's first error line (or why as could not run) to err. */
int granite_assemble(const char *text, int syntax, uint8_t **code, size_t *size, char *err, size_t err_size);
void granite_buffer_free(void *buffer);

/* Predicts one block given as assembly text; out[num_tasks]. */
int granite_predict_asm(granite_model *model, const char *text, int syntax, float *out, char *err,
                        size_t err_size);

/* The canonical token lists (Gematria's form) of a block given in hex: one
 * line per instruction, tokens separated by single spaces. Writes at most
 * out_size bytes (NUL-terminated) and returns the length the whole text
 * needs (call again with a bigger buffer if it is >= out_size), or -1 with
 * a reason in err when the hex is bad or does not decode. */
long granite_canonicalize_hex(const char *hex, char *out, size_t out_size, char *err, size_t err_size);

/* Uses at most n threads for this model's predictions (default, and n <= 0:
 * all cores). Does nothing for a NULL model. */
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
