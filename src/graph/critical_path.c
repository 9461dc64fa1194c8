/* --granite_critical_path: the block's instruction dependency DAG and its
 * register recurrences, read off the block's graph. A register value node
 * has at most one writer (the instruction with an output edge to it), so
 * "last writer wins" is the graph's own SSA form, and program order makes
 * the DAG acyclic. Memory values are left out: the labels are llvm-mca's,
 * which by default assumes that loads and stores do not alias (-noalias),
 * so no dependency or recurrence goes through memory there. */
#include <stdlib.h>
#include <string.h>

#include "graph/critical_path.h"
#include "util/common.h"

typedef struct {
  int32_t to, from;
} Pair;

static int pair_cmp(const void *a, const void *b) {
  const Pair *x = a, *y = b;
  if (x->to != y->to) return x->to < y->to ? -1 : 1;
  return (x->from > y->from) - (x->from < y->from);
}

/* Sorts and drops repeats; returns the new count. */
static int unique_pairs(Pair *p, int count) {
  qsort(p, (size_t)count, sizeof *p, pair_cmp);
  int k = 0;
  for (int i = 0; i < count; i++)
    if (k == 0 || pair_cmp(&p[k - 1], &p[i]) != 0) p[k++] = p[i];
  return k;
}

void graph_critical_path(BlockGraph *g, const bool *zero_idiom, const int32_t *carried, int num_carried) {
  int n = g->num_nodes, m = g->num_edges, I = g->num_instructions;
  int32_t *inst = xmalloc(sizeof(int32_t) * (size_t)(n ? n : 1));     /* instruction index of a node */
  int32_t *writer = xmalloc(sizeof(int32_t) * (size_t)(n ? n : 1));   /* writer of a register value */
  int32_t *consumer = xmalloc(sizeof(int32_t) * (size_t)(n ? n : 1)); /* reader of an address */
  for (int i = 0, k = 0; i < n; i++) {
    inst[i] = g->node_types[i] == NODE_INSTRUCTION ? k++ : -1;
    writer[i] = consumer[i] = -1;
  }
  for (int e = 0; e < m; e++) {
    int s = g->senders[e], r = g->receivers[e];
    if (g->edge_types[e] == EDGE_OUTPUT && inst[s] >= 0 && g->node_types[r] == NODE_REGISTER) writer[r] = inst[s];
    if (g->edge_types[e] == EDGE_INPUT && inst[r] >= 0 && g->node_types[s] == NODE_ADDRESS) consumer[s] = inst[r];
  }
  /* reads: (instruction, register value node), as operand or in an address */
  Pair *reads = xmalloc(sizeof(Pair) * (size_t)(m ? m : 1));
  int num_reads = 0;
  for (int e = 0; e < m; e++) {
    int s = g->senders[e], r = g->receivers[e], t = g->edge_types[e];
    if (g->node_types[s] != NODE_REGISTER) continue;
    if (t == EDGE_INPUT && inst[r] >= 0 && !zero_idiom[inst[r]])
      reads[num_reads++] = (Pair){inst[r], s};
    else if ((t == EDGE_ADDRESS_BASE || t == EDGE_ADDRESS_INDEX || t == EDGE_ADDRESS_SEGMENT) && consumer[r] >= 0)
      reads[num_reads++] = (Pair){consumer[r], s};
  }
  Pair *deps = xmalloc(sizeof(Pair) * (size_t)(num_reads ? num_reads : 1));
  int num_deps = 0;
  for (int k = 0; k < num_reads; k++)
    if (writer[reads[k].from] >= 0) deps[num_deps++] = (Pair){reads[k].to, writer[reads[k].from]};
  num_deps = unique_pairs(deps, num_deps);
  g->num_deps = num_deps;
  g->dep_from = xmalloc(sizeof(int32_t) * (size_t)(num_deps ? num_deps : 1));
  g->dep_to = xmalloc(sizeof(int32_t) * (size_t)(num_deps ? num_deps : 1));
  for (int k = 0; k < num_deps; k++) g->dep_from[k] = deps[k].from, g->dep_to[k] = deps[k].to;

  /* recurrences: a carried register's first readers and last writer, kept
   * when a dependency path leads from a reader to the writer */
  g->rec_writer = xmalloc(sizeof(int32_t) * (size_t)(num_carried ? num_carried : 1));
  g->rec_reader_offset = xmalloc(sizeof(int32_t) * (size_t)(num_carried + 1));
  g->rec_readers = xmalloc(sizeof(int32_t) * (size_t)(num_reads ? num_reads : 1));
  g->rec_reader_offset[0] = 0;
  bool *reach = xmalloc((size_t)(I ? I : 1));
  int num_rec = 0, num_readers = 0;
  for (int c = 0; c < num_carried; c++) {
    int initial = carried[2 * c], w = writer[carried[2 * c + 1]];
    if (w < 0) continue;
    memset(reach, 0, (size_t)I);
    int first = num_readers;
    /* reads are in edge order, so in instruction order: repeats are adjacent */
    for (int k = 0; k < num_reads; k++)
      if (reads[k].from == initial && (num_readers == first || g->rec_readers[num_readers - 1] != reads[k].to)) {
        g->rec_readers[num_readers++] = reads[k].to;
        reach[reads[k].to] = true;
      }
    for (int k = 0; k < num_deps && deps[k].to <= w; k++)
      if (reach[deps[k].from]) reach[deps[k].to] = true;
    if (!reach[w]) {
      num_readers = first;
      continue;
    }
    g->rec_writer[num_rec] = w;
    g->rec_reader_offset[++num_rec] = num_readers;
  }
  g->num_recurrences = num_rec;
  free(reach);
  free(deps);
  free(reads);
  free(consumer);
  free(writer);
  free(inst);
}
