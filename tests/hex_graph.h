/* The graph of hex machine code, for graph tests: canonicalized as
 * granite does, built with the options the caller set up; and the
 * vocabulary for it. */
#ifndef GRANITE_TESTS_HEX_GRAPH_H
#define GRANITE_TESTS_HEX_GRAPH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "x86/canonicalize.h"

/* A vocabulary of the n tokens given (copied), for graphs of known blocks. */
static inline Vocab hex_graph_vocab(const char *const *tokens, int n) {
  Vocab v = {0};
  v.size = n;
  v.tokens = malloc(sizeof(char *) * (size_t)n);
  for (int i = 0; i < n; i++) v.tokens[i] = strdup(tokens[i]);
  return v;
}

static inline int hex_graph_build(BlockGraph *g, const char *hex, const GraphOptions *o) {
  uint8_t code[64];
  size_t n = strlen(hex) / 2;
  if (n > sizeof code) return -1;
  for (size_t i = 0; i < n; i++) {
    unsigned x;
    if (sscanf(hex + 2 * i, "%2x", &x) != 1) return -1;
    code[i] = (uint8_t)x;
  }
  Gematria__BasicBlockProto blk;
  gematria__basic_block_proto__init(&blk);
  size_t bad;
  if (x86_canonicalize_block(code, n, 0, &blk, &bad) < 0) return -1;
  char err[128];
  int rc = graph_build_block(g, &blk, o, err, sizeof err);
  x86_block_clear(&blk);
  return rc;
}

#endif
