/* Block graphs → the batch arrays of spec §3.6. Arrays only grow, so once a
 * batch has seen its largest size no step allocates again. */
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "util/common.h"

/* New capacity at least need, doubling to keep growth amortised. */
static size_t next_cap(size_t cap, size_t need) {
  size_t c = cap ? cap : 64;
  while (c < need) c *= 2;
  return c;
}

static void ensure_blocks(Batch *b, size_t need) {
  if (need <= b->cap_blocks) return;
  size_t cap = next_cap(b->cap_blocks, need);
  size_t t = (size_t)(b->num_tasks > 0 ? b->num_tasks : 1);
  b->node_offset = xrealloc(b->node_offset, (cap + 1) * sizeof(int32_t));
  b->edge_offset = xrealloc(b->edge_offset, (cap + 1) * sizeof(int32_t));
  b->rec_offset = xrealloc(b->rec_offset, (cap + 1) * sizeof(int32_t));
  b->labels = xrealloc(b->labels, cap * t * sizeof(float));
  b->label_mask = xrealloc(b->label_mask, cap * t);
  b->cap_blocks = cap;
}

static void ensure_nodes(Batch *b, size_t need) {
  if (need <= b->cap_nodes) return;
  size_t cap = next_cap(b->cap_nodes, need);
  b->node_tokens = xrealloc(b->node_tokens, cap * sizeof(int32_t));
  b->global_tokens = xrealloc(b->global_tokens, cap * sizeof(int32_t));
  b->node_block = xrealloc(b->node_block, cap * sizeof(int32_t));
  b->cap_nodes = cap;
}

static void ensure_edges(Batch *b, size_t need) {
  if (need <= b->cap_edges) return;
  size_t cap = next_cap(b->cap_edges, need);
  b->edge_types = xrealloc(b->edge_types, cap * sizeof(int32_t));
  b->senders = xrealloc(b->senders, cap * sizeof(int32_t));
  b->receivers = xrealloc(b->receivers, cap * sizeof(int32_t));
  b->edge_block = xrealloc(b->edge_block, cap * sizeof(int32_t));
  b->cap_edges = cap;
}

/* The delta arrays exist once any block brought delta labels. */
static void resize_deltas(Batch *b, size_t cap) {
  size_t t = (size_t)(b->num_tasks > 0 ? b->num_tasks : 1);
  b->delta_labels = xrealloc(b->delta_labels, cap * t * sizeof(float));
  b->delta_mask = xrealloc(b->delta_mask, cap * t);
}

static void ensure_instructions(Batch *b, size_t need, bool want_deltas) {
  if (need > b->cap_instructions) {
    size_t cap = next_cap(b->cap_instructions, need);
    b->instruction_nodes = xrealloc(b->instruction_nodes, cap * sizeof(int32_t));
    b->instruction_block = xrealloc(b->instruction_block, cap * sizeof(int32_t));
    b->dep_offset = xrealloc(b->dep_offset, (cap + 1) * sizeof(int32_t));
    if (b->delta_labels) resize_deltas(b, cap);
    b->cap_instructions = cap;
  }
  if (want_deltas && !b->delta_labels) {
    resize_deltas(b, b->cap_instructions);
    /* rows of blocks already in the batch had no deltas */
    size_t rows = (size_t)b->num_instructions * (size_t)b->num_tasks;
    for (size_t i = 0; i < rows; i++) {
      b->delta_labels[i] = -1.0f;
      b->delta_mask[i] = 0;
    }
  }
}

/* The critical-path arrays (graph.h) for need_deps dependencies and
 * need_recs recurrences with need_readers first readers. */
static void ensure_critical_path(Batch *b, size_t need_deps, size_t need_recs, size_t need_readers) {
  if (need_deps > b->cap_deps) {
    b->cap_deps = next_cap(b->cap_deps, need_deps);
    b->dep_from = xrealloc(b->dep_from, b->cap_deps * sizeof(int32_t));
  }
  if (need_recs > b->cap_recs) {
    b->cap_recs = next_cap(b->cap_recs, need_recs);
    b->rec_writer = xrealloc(b->rec_writer, b->cap_recs * sizeof(int32_t));
    b->rec_reader_offset = xrealloc(b->rec_reader_offset, (b->cap_recs + 1) * sizeof(int32_t));
  }
  if (need_readers > b->cap_rec_readers) {
    b->cap_rec_readers = next_cap(b->cap_rec_readers, need_readers);
    b->rec_readers = xrealloc(b->rec_readers, b->cap_rec_readers * sizeof(int32_t));
  }
}

void batch_init(Batch *b, int num_tasks) {
  memset(b, 0, sizeof *b);
  b->num_tasks = num_tasks;
  ensure_blocks(b, 1);
  ensure_instructions(b, 1, false);
  ensure_critical_path(b, 1, 1, 1);
  batch_clear(b);
}

void batch_clear(Batch *b) {
  b->num_blocks = b->num_nodes = b->num_edges = b->num_instructions = 0;
  b->num_deps = b->num_recurrences = b->num_rec_readers = 0;
  b->node_offset[0] = 0;
  b->edge_offset[0] = 0;
  b->dep_offset[0] = 0;
  b->rec_offset[0] = 0;
  b->rec_reader_offset[0] = 0;
}

void batch_add(Batch *b, const BlockGraph *g, const float *labels, const uint8_t *mask,
               const float *delta_labels, const uint8_t *delta_mask) {
  int block = b->num_blocks;
  int n0 = b->num_nodes, m0 = b->num_edges, i0 = b->num_instructions;
  int T = b->num_tasks;
  ensure_blocks(b, (size_t)block + 1);
  ensure_nodes(b, (size_t)n0 + (size_t)g->num_nodes);
  ensure_edges(b, (size_t)m0 + (size_t)g->num_edges);
  ensure_instructions(b, (size_t)i0 + (size_t)g->num_instructions, delta_labels != NULL);

  /* spec §3.6: contiguous node and edge ranges, batch-global indices */
  int instr = i0;
  for (int i = 0; i < g->num_nodes; i++) {
    b->node_tokens[n0 + i] = g->node_tokens[i];
    b->global_tokens[n0 + i] = g->node_tokens[i];
    b->node_block[n0 + i] = block;
    if (g->node_types[i] == NODE_INSTRUCTION && instr < i0 + g->num_instructions) {
      b->instruction_nodes[instr] = n0 + i;
      b->instruction_block[instr] = block;
      instr++;
    }
  }
  for (int e = 0; e < g->num_edges; e++) {
    b->edge_types[m0 + e] = g->edge_types[e];
    b->senders[m0 + e] = n0 + g->senders[e];
    b->receivers[m0 + e] = n0 + g->receivers[e];
    b->edge_block[m0 + e] = block;
  }
  /* critical path: instruction and reader indices become batch-global */
  int d0 = b->num_deps, r0 = b->num_recurrences, k0 = b->num_rec_readers;
  int readers = g->num_recurrences ? g->rec_reader_offset[g->num_recurrences] : 0;
  ensure_critical_path(b, (size_t)d0 + (size_t)g->num_deps, (size_t)r0 + (size_t)g->num_recurrences,
                       (size_t)k0 + (size_t)readers);
  for (int i = 0, k = 0; i < g->num_instructions; i++) {
    while (k < g->num_deps && g->dep_to[k] == i) b->dep_from[d0 + k] = i0 + g->dep_from[k], k++;
    b->dep_offset[i0 + i + 1] = d0 + k;
  }
  for (int r = 0; r < g->num_recurrences; r++) {
    b->rec_writer[r0 + r] = i0 + g->rec_writer[r];
    b->rec_reader_offset[r0 + r + 1] = k0 + g->rec_reader_offset[r + 1];
  }
  for (int k = 0; k < readers; k++) b->rec_readers[k0 + k] = i0 + g->rec_readers[k];
  b->num_deps = d0 + g->num_deps;
  b->num_recurrences = r0 + g->num_recurrences;
  b->num_rec_readers = k0 + readers;
  b->rec_offset[block + 1] = b->num_recurrences;
  for (int t = 0; t < T; t++) {
    /* spec §5.2: an absent label is -1 with mask 0 */
    b->labels[(size_t)block * T + t] = labels ? labels[t] : -1.0f;
    b->label_mask[(size_t)block * T + t] = labels && mask ? mask[t] : 0;
  }
  if (b->delta_labels) {
    size_t base = (size_t)i0 * T;
    size_t rows = (size_t)g->num_instructions * T;
    for (size_t k = 0; k < rows; k++) {
      b->delta_labels[base + k] = delta_labels ? delta_labels[k] : -1.0f;
      b->delta_mask[base + k] = delta_labels && delta_mask ? delta_mask[k] : 0;
    }
  }
  b->num_blocks = block + 1;
  b->num_nodes = n0 + g->num_nodes;
  b->num_edges = m0 + g->num_edges;
  b->num_instructions = instr;
  b->node_offset[block + 1] = b->num_nodes;
  b->edge_offset[block + 1] = b->num_edges;
}

void batch_free(Batch *b) {
  free(b->node_tokens);
  free(b->global_tokens);
  free(b->edge_types);
  free(b->senders);
  free(b->receivers);
  free(b->node_block);
  free(b->edge_block);
  free(b->node_offset);
  free(b->edge_offset);
  free(b->instruction_nodes);
  free(b->instruction_block);
  free(b->labels);
  free(b->label_mask);
  free(b->delta_labels);
  free(b->delta_mask);
  free(b->dep_offset);
  free(b->dep_from);
  free(b->rec_offset);
  free(b->rec_writer);
  free(b->rec_reader_offset);
  free(b->rec_readers);
  memset(b, 0, sizeof *b);
}

void batch_inject_oov(Batch *b, int replacement_token, double p, Rng *rng) {
  if (p <= 0.0 || replacement_token < 0) return;
  /* spec §3.3: only the node features change; the histogram keeps the
   * tokens counted before injection (global_tokens) */
  for (int i = 0; i < b->num_nodes; i++)
    if (rng_uniform(rng) < p) b->node_tokens[i] = replacement_token;
}

void batch_global_histogram(const Batch *b, int vocab_size, float *out) {
  memset(out, 0, (size_t)b->num_blocks * (size_t)vocab_size * sizeof(float));
  for (int i = 0; i < b->num_nodes; i++)
    out[(size_t)b->node_block[i] * vocab_size + b->global_tokens[i]] += 1.0f;
}
