/* A random block graph for model tests (test_replicas, test_bf16): n nodes,
 * every third an instruction, n + n/3 edges of random types and ends, tokens
 * below vocab. Free with block_graph_free. */
#ifndef GRANITE_TESTS_RANDOM_GRAPH_H
#define GRANITE_TESTS_RANDOM_GRAPH_H

#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "util/rng.h"

/* num_edge_types: granite_num_edge_types() of the model the graph is for. */
static inline void random_graph(BlockGraph *g, int n, int vocab, int num_edge_types, Rng *rng) {
  memset(g, 0, sizeof *g);
  int m = n + n / 3;
  g->num_nodes = n, g->num_edges = m;
  g->node_tokens = malloc(sizeof(int32_t) * n);
  g->node_types = malloc(n);
  g->edge_types = malloc(m);
  g->senders = malloc(sizeof(int32_t) * m);
  g->receivers = malloc(sizeof(int32_t) * m);
  for (int i = 0; i < n; i++) {
    g->node_tokens[i] = (int32_t)rng_below(rng, vocab);
    g->node_types[i] = i % 3 == 0 ? NODE_INSTRUCTION : NODE_REGISTER;
    g->num_instructions += i % 3 == 0;
  }
  for (int j = 0; j < m; j++) {
    g->edge_types[j] = (uint8_t)rng_below(rng, num_edge_types);
    g->senders[j] = (int32_t)rng_below(rng, n);
    g->receivers[j] = (int32_t)rng_below(rng, n);
  }
}

#endif
