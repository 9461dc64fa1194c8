/* Graph identity hashing (graph/graph_key.h). */
#include "graph/graph_key.h"

#include <stdlib.h>
#include <string.h>

/* FNV-1a, 64-bit, over a byte range. */
static uint64_t fnv(uint64_t h, const void *data, size_t n) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

static uint64_t fnv_u32(uint64_t h, uint32_t x) {
  unsigned char b[4] = {(unsigned char)x, (unsigned char)(x >> 8), (unsigned char)(x >> 16), (unsigned char)(x >> 24)};
  return fnv(h, b, 4);
}

uint64_t graph_key(const BlockGraph *g, const Vocab *vocab) {
  uint64_t h = 0xcbf29ce484222325ull;
  h = fnv_u32(h, (uint32_t)g->num_nodes);
  for (int i = 0; i < g->num_nodes; i++) {
    h = fnv_u32(h, g->node_types[i]);
    int t = g->node_tokens[i];
    if (vocab && t >= 0 && t < vocab->size) {
      const char *s = vocab->tokens[t];
      h = fnv(h, s, strlen(s) + 1); /* with the NUL: "AB","C" differs from "A","BC" */
    } else {
      h = fnv_u32(h, (uint32_t)t);
    }
  }
  h = fnv_u32(h, (uint32_t)g->num_edges);
  for (int e = 0; e < g->num_edges; e++) {
    h = fnv_u32(h, g->edge_types[e]);
    h = fnv_u32(h, (uint32_t)g->senders[e]);
    h = fnv_u32(h, (uint32_t)g->receivers[e]);
  }
  /* a final mix so that nearby inputs spread over all 64 bits */
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

void graph_key_set_init(GraphKeySet *s, uint64_t *keys, int64_t n) {
  qsort(keys, (size_t)n, sizeof *keys, cmp_u64);
  int64_t m = 0;
  for (int64_t i = 0; i < n; i++)
    if (m == 0 || keys[i] != keys[m - 1]) keys[m++] = keys[i];
  s->keys = keys;
  s->n = m;
}

bool graph_key_set_contains(const GraphKeySet *s, uint64_t key) {
  int64_t lo = 0, hi = s->n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (s->keys[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo < s->n && s->keys[lo] == key;
}

void graph_key_set_free(GraphKeySet *s) {
  free(s->keys);
  s->keys = NULL;
  s->n = 0;
}
