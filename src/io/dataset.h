/* The training/eval/predict input pipeline (spec §5.1, §5.2) held in memory,
 * and the batch samplers (spec §5.6).
 *
 * dataset_load reads .tfrecord files of BasicBlockWithThroughputProto once,
 * applies source filters, dropping, aggregation and scaling, builds each
 * block's graph ONCE (spec §3.2) and keeps everything in a few big arrays
 * (no per-block malloc): the graphs, the per-task label value lists and,
 * for seq2seq, the per-instruction prefix value lists. Batches are then made
 * without touching protobufs again:
 *
 *     Dataset ds;  DatasetOptions o;  dataset_options_init(&o, &gopts);
 *     if (dataset_load(&ds, paths, npaths, &o) != 0) return -1;
 *     Sampler s;  sampler_init(&s, &ds, NULL, 0, SAMPLER_RANDOM, max_blocks, max_instr, seed);
 *     int32_t *ids = xmalloc(sampler_max_batch(&s) * sizeof *ids);
 *     Batch b;  batch_init(&b, ds.num_tasks);
 *     for (;;) { int k = sampler_next(&s, ids);  if (k == 0) break;
 *                dataset_fill_batch(&ds, ids, k, &b, &label_rng); ... }
 *
 * Block indices (int32) are positions in the dataset, in file order. */
#ifndef GRANITE_IO_DATASET_H
#define GRANITE_IO_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "graph/graph.h"
#include "util/rng.h"

/* --gematria_training_throughput_selection (spec §5.1 step 3). */
typedef enum {
  THROUGHPUT_MEAN = 0,  /* list replaced by its mean (default) */
  THROUGHPUT_MIN = 1,   /* by its minimum */
  THROUGHPUT_FIRST = 2, /* by its first value */
  THROUGHPUT_RANDOM = 3 /* all kept; the label is drawn per batch (spec §5.2) */
} ThroughputSelection;

/* Parses "MEAN", "MIN", "FIRST", "RANDOM" (case-insensitive). 0, or -1 (no message). */
int throughput_selection_parse(const char *name, ThroughputSelection *out);

typedef enum {
  DATASET_TRAIN = 0,  /* spec §5.1: filters, drop, aggregate, scale */
  DATASET_PREDICT = 1 /* spec §5.8: no filtering/aggregation/scaling; every
                         record kept with its raw bytes; blocks that fail the
                         graph builder are kept with valid[i] = 0 */
} DatasetMode;

typedef struct {
  DatasetMode mode;
  const GraphOptions *graph; /* vocabulary and OOV behaviour (required) */
  /* Throughput source filters (--gematria_throughput_source_filter), POSIX
   * extended regexes matched at the start of `source` like Python re.match.
   * One task per filter. NULL/0 = the default single filter ".*". */
  const char *const *source_filters;
  int num_filters;
  /* Number of tasks in DATASET_PREDICT mode (labels are not read there);
   * 0 = num_filters (or 1). */
  int num_tasks;
  ThroughputSelection selection;
  double scaling; /* --gematria_input_file_scaling, 1.0 = none */
  /* --gematria_use_seq2seq_loss: decides whether prefix throughputs keep a
   * block alive in the "no throughputs" drop (spec §5.1 step 2, §8.24). */
  bool use_seq2seq_loss;
  /* Keep per-instruction prefix values to make seq2seq delta labels
   * (spec §5.2; the model is seq2seq AND use_seq2seq_loss). A labelled task
   * whose prefix list does not have exactly I entries is then an error. */
  bool seq2seq_deltas;
  /* --gematria_drop_invalid_blocks: a block rejected by the graph builder is
   * dropped and counted; otherwise it is an error naming file and record. */
  bool drop_invalid;
  /* Quiet: no per-block warning lines for dropped blocks (counts only). */
  bool quiet;
} DatasetOptions;

/* Defaults: TRAIN, one ".*" filter, MEAN, scaling 1, use_seq2seq_loss true
 * (as Gematria), seq2seq_deltas false, drop_invalid false. */
void dataset_options_init(DatasetOptions *o, const GraphOptions *graph);

typedef struct {
  int num_blocks, num_tasks;
  ThroughputSelection selection;
  bool has_deltas;

  /* Graphs, concatenated; node/edge indices local to each block. */
  int64_t *node_offset;      /* [num_blocks+1] into node_tokens/node_types */
  int64_t *edge_offset;      /* [num_blocks+1] into edge_types/senders/receivers */
  int32_t *num_instructions; /* [num_blocks] */
  int32_t *node_tokens;
  uint8_t *node_types;
  uint8_t *edge_types;
  int32_t *senders, *receivers;
  /* --granite_critical_path: block i's deps and recurrences packed in
   * cp_data[cp_offset[i] .. cp_offset[i+1]) (dataset.c); NULL without it. */
  int64_t *cp_offset;
  int32_t *cp_data;

  /* Stable content hash per block (see dataset_block_hash). */
  uint64_t *hash; /* [num_blocks] */
  /* 1 if the graph was built; 0 only in DATASET_PREDICT for rejected blocks
   * (they have an empty graph and must not be batched). */
  uint8_t *valid; /* [num_blocks] */

  /* Label value lists: list l = block*num_tasks + task holds the values
   * values[value_offset[l] .. value_offset[l+1]) (empty = label absent).
   * After MEAN/MIN/FIRST a list has 0 or 1 value; RANDOM keeps all. */
  int64_t *value_offset; /* [num_blocks*num_tasks + 1] */
  double *values;
  /* seq2seq: prefix lists of (block, task) are lists
   * prefix_first[block] + task*I + j, j = 0..I-1 (I = num_instructions),
   * each a range prefix_value_offset[..] of prefix_values. Only when has_deltas. */
  int64_t *prefix_first;        /* [num_blocks] */
  int64_t *prefix_value_offset; /* [total prefix lists + 1] */
  double *prefix_values;

  /* DATASET_PREDICT: each record's exact bytes, record i =
   * raw[raw_offset[i] .. raw_offset[i+1]). NULL otherwise. */
  int64_t *raw_offset;
  uint8_t *raw;

  /* Where each block came from (for messages): file index into files[], and
   * record index within that file. */
  int32_t *file_index;
  int64_t *record_index;
  char **files;
  int num_files;

  /* Counts from loading. */
  long num_records;             /* records read in all files */
  long num_dropped_no_label;    /* spec §5.1 step 2 */
  long num_dropped_invalid;     /* rejected by the graph builder (drop_invalid) */
  long total_instructions;      /* over kept blocks */

  /* capacities (internal) */
  size_t cap_blocks, cap_nodes, cap_edges, cap_lists, cap_values, cap_plists, cap_pvalues, cap_raw, cap_cp;
} Dataset;

/* Reads paths[0..num_paths) in order and builds the dataset. 0, or -1 after
 * one error line naming the file and record index (unreadable file, corrupt
 * record, proto that does not parse, block rejected without drop_invalid,
 * bad prefix count in seq2seq, bad regex). On -1 *ds is left empty. */
int dataset_load(Dataset *ds, const char *const *paths, int num_paths, const DatasetOptions *opts);
void dataset_free(Dataset *ds);

/* Approximate heap bytes held by the dataset. */
size_t dataset_memory_bytes(const Dataset *ds);

/* A read-only view of block i's graph (pointers into the dataset; do not
 * free). Usable with batch_add. */
void dataset_graph(const Dataset *ds, int i, BlockGraph *view);

/* Block i's labels, as a batch wants them: labels[T], mask[T] (spec §5.2:
 * the first value, or a uniformly random one with RANDOM selection drawn
 * from rng; absent => -1 and mask 0). If deltas is non-NULL and the dataset
 * has_deltas, also deltas[I*T] / delta_mask[I*T] (row = instruction):
 * p_0, p_1-p_0, ... (absent task => -1 then differenced, mask 0). rng may
 * be NULL unless selection is RANDOM. */
void dataset_block_labels(const Dataset *ds, int i, Rng *rng, float *labels, uint8_t *mask,
                          float *deltas, uint8_t *delta_mask);

/* Empties b and appends blocks ids[0..n) with their labels (and deltas if
 * the dataset has them). Allocation-free once b has grown. */
void dataset_fill_batch(const Dataset *ds, const int32_t *ids, int n, Batch *b, Rng *rng);

/* Stable 64-bit hash of block i's content, independent of its labels:
 * FNV-1a over the machine code bytes of all machine_instructions when any
 * are present, else over the serialized canonicalized_instructions. So the
 * same block gets the same hash in the haswell and the skylake files. */
static inline uint64_t dataset_block_hash(const Dataset *ds, int i) { return ds->hash[i]; }

/* Stable split by content hash: a block goes to validation iff
 * mix(hash) / 2^64 < valid_fraction. Fills newly allocated index arrays
 * (caller frees; either may be NULL if not wanted) and their counts. */
void dataset_split_by_hash(const Dataset *ds, double valid_fraction, int32_t **train, int *num_train,
                           int32_t **valid, int *num_valid);

/* Record i's exact bytes (DATASET_PREDICT only; NULL/0 otherwise). */
const uint8_t *dataset_raw_record(const Dataset *ds, int i, size_t *len);

/* Spec §1.1 writer note / §5.8: the bytes of `record` followed by one more
 * field-2 (tag 0x12, varint length) ThroughputWithSourceProto per entry,
 * into *out (grown with xrealloc; *cap is its capacity). Returns the length. */
size_t record_append_throughputs(uint8_t **out, size_t *cap, const uint8_t *record, size_t len,
                                 const Gematria__ThroughputWithSourceProto *const *entries, int n);

/* ---- samplers (spec §5.6) ---- */

typedef enum {
  SAMPLER_RANDOM = 0,     /* training, --gematria_training_randomize_batches */
  SAMPLER_SEQUENTIAL = 1, /* training without randomization: cycles forever */
  SAMPLER_ONCE = 2        /* predict / eval: one pass in order, then 0 */
} SamplerMode;

typedef struct {
  const Dataset *ds;
  SamplerMode mode;
  int32_t *ids;     /* the blocks to draw from (owned copy), only valid ones */
  int n;
  int max_blocks;   /* <= 0: all blocks (spec §8.20: full-batch steps) */
  int max_instructions; /* <= 0: no instruction cap */
  int cursor;       /* next position for SEQUENTIAL / ONCE */
  long num_skipped; /* ONCE: blocks skipped because alone over the cap */
  Rng rng;
} Sampler;

/* ids/n: the blocks to use (e.g. the train half of a split); NULL = all
 * valid blocks of ds. seed seeds the sampler's own Rng. */
void sampler_init(Sampler *s, const Dataset *ds, const int32_t *ids, int n, SamplerMode mode,
                  int max_blocks, int max_instructions, uint64_t seed);
/* Upper bound of the count sampler_next returns (size of its out array). */
int sampler_max_batch(const Sampler *s);
/* Writes the dataset indices of the next batch to out and returns how many.
 * Never more than max_blocks blocks nor more than max_instructions
 * instructions; a block that alone exceeds the cap is never chosen.
 * RANDOM: sample without replacement of min(1.5*max_blocks, n) (or
 * min(max_blocks, n) without a cap), then take blocks in sample order while
 * they fit. SEQUENTIAL: consecutive blocks, closing a batch when the next
 * would exceed a limit, wrapping at the end. ONCE: the same without
 * wrapping; 0 when done. Returns 0 also when no block fits at all. */
int sampler_next(Sampler *s, int32_t *out);
void sampler_free(Sampler *s);

#endif
