/* The graph builder (spec §3) from decoded instructions. The first byte picks
 * the source of the instructions: even = the rest is machine code, decoded
 * by the canonicalizer; odd = the rest is a serialized BasicBlockProto, so
 * any tokens, operand kinds and counts reach the builder. Every built graph
 * must be well formed, and batching, OOV injection and the histogram must
 * stay inside it. */
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "support.h"
#include "util/rng.h"
#include "x86/canonicalize.h"

static void check_graph(const BlockGraph *g, int vocab_size) {
  if (g->num_nodes < g->num_instructions || g->num_instructions <= 0) abort();
  for (int i = 0; i < g->num_nodes; i++)
    if (g->node_tokens[i] < 0 || g->node_tokens[i] >= vocab_size || g->node_types[i] > NODE_PREFIX) abort();
  for (int e = 0; e < g->num_edges; e++)
    if (g->senders[e] < 0 || g->senders[e] >= g->num_nodes || g->receivers[e] < 0 ||
        g->receivers[e] >= g->num_nodes || g->edge_types[e] >= NUM_EDGE_TYPES)
      abort();
}

/* The critical-path data: a DAG in program order, recurrences whose first
 * readers come no later than their writer. */
static void check_critical_path(const BlockGraph *g) {
  int I = g->num_instructions;
  for (int d = 0; d < g->num_deps; d++) {
    if (g->dep_from[d] < 0 || g->dep_from[d] >= g->dep_to[d] || g->dep_to[d] >= I) abort();
    if (d && (g->dep_to[d] < g->dep_to[d - 1] || (g->dep_to[d] == g->dep_to[d - 1] && g->dep_from[d] <= g->dep_from[d - 1])))
      abort();
  }
  if (g->num_recurrences && g->rec_reader_offset[0] != 0) abort();
  for (int r = 0; r < g->num_recurrences; r++) {
    if (g->rec_writer[r] < 0 || g->rec_writer[r] >= I) abort();
    if (g->rec_reader_offset[r + 1] <= g->rec_reader_offset[r]) abort();
    for (int k = g->rec_reader_offset[r]; k < g->rec_reader_offset[r + 1]; k++)
      if (g->rec_readers[k] < 0 || g->rec_readers[k] > g->rec_writer[r]) abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 8192) return 0;
  const Vocab *v = fuzz_vocab();
  Gematria__BasicBlockProto local, *block = NULL;
  Gematria__BasicBlockWithThroughputProto *rec = NULL;
  if (data[0] % 2 == 0) {
    gematria__basic_block_proto__init(&local);
    size_t bad;
    if (x86_canonicalize_block(data + 1, size - 1, 0, &local, &bad) < 0) return 0;
    block = &local;
  } else {
    rec = gematria__basic_block_with_throughput_proto__unpack(NULL, size - 1, data + 1);
    if (!rec || !rec->basic_block) {
      if (rec) gematria__basic_block_with_throughput_proto__free_unpacked(rec, NULL);
      return 0;
    }
    block = rec->basic_block;
  }
  Batch batch;
  batch_init(&batch, 1);
  for (int oov = 0; oov < 2; oov++) {
    GraphOptions opts;
    if (graph_options_init(&opts, v, oov ? "_UNKNOWN_" : NULL) != 0) abort();
    opts.critical_path = opts.loop_carried_edges = oov; /* granite's options on the second pass */
    BlockGraph g;
    memset(&g, 0, sizeof g);
    char err[256];
    if (graph_build_block(&g, block, &opts, err, sizeof err) == 0) {
      check_graph(&g, v->size);
      check_critical_path(&g);
      float label = 1.0f;
      uint8_t mask = 1;
      batch_add(&batch, &g, &label, &mask, NULL, NULL);
      batch_add(&batch, &g, &label, &mask, NULL, NULL);
      Rng rng;
      rng_seed(&rng, 1);
      batch_inject_oov(&batch, opts.replacement_token >= 0 ? opts.replacement_token : 0, 0.5, &rng);
      float *hist = calloc((size_t)batch.num_blocks * v->size, sizeof *hist);
      batch_global_histogram(&batch, v->size, hist);
      free(hist);
    } else if (!memchr(err, '\0', sizeof err)) {
      abort();
    }
    block_graph_free(&g);
  }
  batch_free(&batch);
  if (rec) gematria__basic_block_with_throughput_proto__free_unpacked(rec, NULL);
  else x86_block_clear(&local);
  return 0;
}
