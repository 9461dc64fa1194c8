/* Block → graph (spec §3) and graphs → batch arrays (spec §3.6).
 * Contract shared by the graph builder, the model and the trainer. */
#ifndef GRANITE_GRAPH_GRAPH_H
#define GRANITE_GRAPH_GRAPH_H

#include <stdbool.h>
#include <stdint.h>

#include "gematria.pb-c.h"
#include "io/vocab.h"
#include "util/rng.h"

enum NodeType {
  NODE_INSTRUCTION = 0,
  NODE_REGISTER = 1,
  NODE_IMMEDIATE = 2,
  NODE_FP_IMMEDIATE = 3,
  NODE_ADDRESS = 4,
  NODE_MEMORY = 5,
  NODE_PREFIX = 6,
};

enum EdgeType {
  EDGE_STRUCTURAL = 0,
  EDGE_INPUT = 1,
  EDGE_OUTPUT = 2,
  EDGE_ADDRESS_BASE = 3,
  EDGE_ADDRESS_INDEX = 4,
  EDGE_ADDRESS_SEGMENT = 5,
  EDGE_ADDRESS_DISPLACEMENT = 6,
  EDGE_REVERSE_STRUCTURAL = 7, /* never created; still a row of the edge table */
  EDGE_PREFIX = 8,
  /* --granite_loop_carried_edges: from the last value of a register or memory
   * in the block to the value the block started from (the next iteration's
   * input). Not in Gematria. */
  EDGE_LOOP_CARRIED = 9,
  NUM_EDGE_TYPES = 10,
};
/* Edge types of Gematria's graphs (the edge table of a default model). */
#define GEMATRIA_NUM_EDGE_TYPES 9

/* One block's graph; node indices are local to the block. */
typedef struct {
  int num_nodes, num_edges, num_instructions;
  int32_t *node_tokens; /* vocabulary index per node (after OOV replacement) */
  uint8_t *node_types;  /* enum NodeType */
  uint8_t *edge_types;  /* enum EdgeType */
  int32_t *senders, *receivers;
  /* --granite_critical_path (graph/critical_path.c), empty without it;
   * instructions by their index in the block. deps: instruction dep_to[k]
   * reads a register value instruction dep_from[k] wrote (sorted by dep_to,
   * then dep_from). Recurrence r: a register read before the block writes
   * it and written later; its first readers are
   * rec_readers[rec_reader_offset[r] .. rec_reader_offset[r+1]), its last
   * writer rec_writer[r], reachable from a reader in the dependency DAG. */
  int num_deps, num_recurrences;
  int32_t *dep_from, *dep_to;
  int32_t *rec_writer, *rec_reader_offset, *rec_readers;
} BlockGraph;

/* A batch: blocks in contiguous node and edge ranges, indices batch-global. */
typedef struct {
  int num_blocks, num_nodes, num_edges, num_instructions, num_tasks;
  int32_t *node_tokens;       /* [n] embedding row of each node (after OOV injection) */
  int32_t *global_tokens;     /* [n] token counted in the block histogram (before injection) */
  int32_t *edge_types;        /* [m] */
  int32_t *senders;           /* [m] */
  int32_t *receivers;         /* [m] */
  int32_t *node_block;        /* [n] block of each node */
  int32_t *edge_block;        /* [m] block of each edge */
  int32_t *node_offset;       /* [B+1] first node of each block */
  int32_t *edge_offset;       /* [B+1] first edge of each block */
  int32_t *instruction_nodes; /* [I] batch node index of each instruction node, in order */
  int32_t *instruction_block; /* [I] block of each instruction (delta_block_index) */
  float *labels;              /* [B*T] expected outputs (row-major, block then task) */
  uint8_t *label_mask;        /* [B*T] 1 where a label exists */
  float *delta_labels;        /* [I*T] seq2seq per-instruction targets, or NULL */
  uint8_t *delta_mask;        /* [I*T] */
  /* --granite_critical_path (BlockGraph's deps and recurrences), with
   * batch instruction indices; all counts 0 without it */
  int num_deps, num_recurrences, num_rec_readers;
  int32_t *dep_offset;        /* [I+1] instruction i depends on dep_from[dep_offset[i] .. dep_offset[i+1]) */
  int32_t *dep_from;          /* [num_deps] */
  int32_t *rec_offset;        /* [B+1] first recurrence of each block */
  int32_t *rec_writer;        /* [num_recurrences] */
  int32_t *rec_reader_offset; /* [num_recurrences+1] into rec_readers */
  int32_t *rec_readers;       /* [num_rec_readers] */
  /* capacities, managed by batch_* */
  size_t cap_blocks, cap_nodes, cap_edges, cap_instructions, cap_deps, cap_recs, cap_rec_readers;
} Batch;

/* ---- graph builder (graph/graph_builder.c) ---- */

typedef struct {
  const Vocab *vocab;
  int immediate_token, fp_immediate_token, address_token, memory_token; /* indices in vocab */
  int replacement_token; /* index used for out-of-vocabulary tokens; -1 = OOV rejects the block */
  /* granite's graph options (both off = Gematria's graph, spec §3.2) */
  bool loop_carried_edges; /* add EDGE_LOOP_CARRIED edges */
  bool register_aliasing;  /* RAX, EAX, AX, AL share one value (graph/register_family.h) */
  bool critical_path;      /* fill BlockGraph's dependency DAG and recurrences */
} GraphOptions;

/* Fills opts for vocab with the structural tokens and the given replacement
 * ("_UNKNOWN_" by default; NULL or "" = OOV is an error). 0, or -1 after an
 * error line (a needed token missing from the vocabulary). */
int graph_options_init(GraphOptions *opts, const Vocab *vocab, const char *replacement);

/* Builds the graph of one block (spec §3.2). 0 on success; -1 if the block is
 * rejected (no instructions, OOV token with no replacement, operand of unknown
 * kind, immediate/address output), with the reason written to err. */
int graph_build_block(BlockGraph *g, const Gematria__BasicBlockProto *block, const GraphOptions *opts,
                      char *err, size_t err_size);
void block_graph_free(BlockGraph *g);


/* ---- batch assembly (graph/batch.c) ---- */

void batch_init(Batch *b, int num_tasks);
/* Empties the batch, keeping its memory. */
void batch_clear(Batch *b);
/* Appends a block graph with its labels: labels[T], mask[T]; delta_labels
 * [num_instructions*T] and delta_mask may be NULL (not seq2seq). */
void batch_add(Batch *b, const BlockGraph *g, const float *labels, const uint8_t *mask,
               const float *delta_labels, const uint8_t *delta_mask);
void batch_free(Batch *b);

/* Spec §3.3 OOV injection: each node_tokens entry independently becomes
 * replacement_token with probability p, drawn from rng (seeded, unlike
 * Gematria); global_tokens stay unchanged. */
void batch_inject_oov(Batch *b, int replacement_token, double p, Rng *rng);
/* Dense global features (spec §3.4): out[B*vocab_size] = per-block counts of
 * global_tokens. */
void batch_global_histogram(const Batch *b, int vocab_size, float *out);

#endif
