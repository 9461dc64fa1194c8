/* The measurements behind `granite bench`: training steps, batched
 * prediction, single-block latency and an OpenBLAS sgemm reference, each
 * timed on the caller's model and data with FLOPs counted by train/flops.h. */
#ifndef GRANITE_CLI_BENCH_MEASURE_H
#define GRANITE_CLI_BENCH_MEASURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "graph/graph.h"
#include "io/dataset.h"
#include "io/vocab.h"
#include "model/model.h"

typedef struct {
  int steps;          /* timed steps (after warm-up) */
  double seconds;     /* wall time of the timed steps */
  double cpu_seconds; /* CPU time the process got during them (all threads): on a
                         machine shared with other jobs, blocks per CPU-second of a
                         1-thread run is steadier than per wall-second */
  double blocks, instructions, nodes, edges; /* summed over timed steps */
  double flops;       /* reference-model FLOPs of the timed steps (train step or forward) */
  /* where the time went (seconds, summed) */
  double t_batch, t_forward, t_backward, t_update;
  double peak_rss_mib; /* high-water RSS during this phase */
  /* data-parallel runs (granite_data_parallel_stats over the timed steps):
   * wall time inside the replicas' parallel regions, and the replicas' own
   * pass time summed over threads */
  double region_seconds, busy_seconds, busy_cpu_seconds;
  /* the forward and backward passes in the calling thread's CPU time (the
   * 1-thread reference for a replica's busy_cpu_seconds) */
  double pass_cpu_seconds;
} PhaseResult;

typedef struct {
  int max_blocks;        /* --gematria_max_blocks_in_batch */
  int max_instructions;  /* --gematria_max_instructions_in_batch */
  int warmup_steps;
  int max_steps;         /* stop after this many timed steps */
  double seconds;        /* ... or once this much time has passed (at least min_steps) */
  int min_steps;
  uint64_t seed;
  int data_parallel;     /* granite_set_data_parallel: > 1 splits each batch over this
                            many threads, each running the model single-threaded;
                            else one pass with multi-threaded kernels */
} PhaseOptions;

/* Randomized batches as in training (spec §5.6), forward + MSE gradient +
 * backward + Adam update. 0, or -1 after an error line. */
int bench_train(GraniteModel *m, const Dataset *ds, const PhaseOptions *o, PhaseResult *r);

/* Sequential batches of at most o->max_blocks blocks (spec §5.6 prediction),
 * forward only. */
int bench_predict(GraniteModel *m, const Dataset *ds, const PhaseOptions *o, PhaseResult *r);

typedef struct {
  int calls;
  double median_ms, p10_ms, p90_ms, min_ms;
  int num_instructions;
  float prediction;
} LatencyResult;

/* Time of one prediction of `code` through the internal path (canonicalize
 * bytes -> graph -> batch of one -> forward), median of `calls` calls on
 * the calling thread. 0, or -1 after an error line (code does not decode or
 * has an out-of-vocabulary token with no replacement). */
int bench_latency(GraniteModel *m, const GraphOptions *g, const uint8_t *code, size_t len, int calls,
                  LatencyResult *r);

/* The prediction cache of the C API on a stream of blocks, one call each. */
typedef struct {
  LatencyResult hit;   /* the latency block answered from the cache */
  long stream_blocks;  /* blocks of the stream predicted (0: no stream) */
  long stream_hits;    /* of which answered from the cache */
  double stream_ms_per_block, stream_uncached_ms_per_block; /* mean time per call, cache on / off */
  int cache_size;
} CacheResult;

/* The same through the public C API (include/granite.h): the model is
 * written as a checkpoint to path, loaded with granite_load, and
 * granite_predict_bytes is timed on one thread with the cache off (r), in
 * the given precision (granite_set_precision).
 * With cache != NULL also: the latency of a cache hit, and, when csv is
 * not NULL, its first stream_blocks blocks predicted in file order one call
 * each (as a compiler asks), with the default cache and without. 0, or -1
 * after an error line. */
int bench_latency_api(const GraniteModel *m, const Vocab *vocab, const char *path, const uint8_t *code,
                      size_t len, int calls, const char *precision, LatencyResult *r, const char *csv,
                      int stream_blocks, CacheResult *cache);

/* GFLOP/s of C[M,N] = A[M,K]·B[K,N] by cblas_sgemm, or with own_kernel by
 * granite's kernel (nn/gemm_kernel.h; 0 when there is none for this CPU),
 * best of a few runs lasting about `seconds` in total, with the current
 * thread count. */
double bench_sgemm_gflops(int M, int N, int K, double seconds, bool own_kernel);

/* Sets the thread count of OpenMP and OpenBLAS. */
void bench_set_threads(int threads);

#endif
