/* A graph's identity: two blocks get the same key iff the graph builder
 * gives them the same graph (same node tokens and types in the same order,
 * same edges). Blocks that differ only in immediates, displacements, memory
 * alias groups that map alike, or machine-code details the canonical form
 * drops share a key: to the model they are the same input. Used to split
 * evaluation and validation errors into blocks whose graph was seen in
 * training and blocks whose graph was not (docs/accuracy-tools.md). */
#ifndef GRANITE_GRAPH_GRAPH_KEY_H
#define GRANITE_GRAPH_GRAPH_KEY_H

#include <stdbool.h>
#include <stdint.h>

#include "graph/graph.h"
#include "io/vocab.h"

/* 64-bit hash of the graph: the node count, each node's type and token text
 * (vocab->tokens[node_tokens[i]], so keys of the same vocabulary agree; with
 * vocab NULL the token index is hashed instead), the edge count and each
 * edge's type, sender and receiver. */
uint64_t graph_key(const BlockGraph *g, const Vocab *vocab);

/* A sorted set of keys, for "was this graph seen?" in O(log n). */
typedef struct {
  uint64_t *keys;
  int64_t n;
} GraphKeySet;

/* Takes ownership of keys[0..n) (malloc'ed), sorts them and drops duplicates. */
void graph_key_set_init(GraphKeySet *s, uint64_t *keys, int64_t n);
bool graph_key_set_contains(const GraphKeySet *s, uint64_t key);
void graph_key_set_free(GraphKeySet *s);

#endif
