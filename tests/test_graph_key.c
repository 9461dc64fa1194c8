/* Graph identity (graph/graph_key.h): blocks that differ only in what the
 * graph builder abstracts (immediates, displacements) share a key; a
 * different register, instruction or edge gives another; the key set finds
 * what it holds and nothing else. */
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "graph/graph_key.h"
#include "io/vocab.h"
#include "testing.h"
#include "x86/canonicalize.h"

static Vocab vocab;
static GraphOptions gopts;

static uint64_t key_of(const char *hex, const Vocab *v) {
  uint8_t code[128];
  size_t n = strlen(hex) / 2;
  for (size_t i = 0; i < n; i++) sscanf(hex + 2 * i, "%2hhx", &code[i]);
  Gematria__BasicBlockProto b;
  gematria__basic_block_proto__init(&b);
  size_t bad;
  CHECK(x86_canonicalize_block(code, n, 0, &b, &bad) > 0);
  BlockGraph g;
  char err[128];
  int rc = graph_build_block(&g, &b, &gopts, err, sizeof err);
  CHECK_MSG(rc == 0, "%s: %s", hex, err);
  uint64_t k = rc == 0 ? graph_key(&g, v) : 0;
  if (rc == 0) block_graph_free(&g);
  x86_block_clear(&b);
  return k;
}

static void test_blocks(void) {
  /* add rax, 1 / add rax, 2: the immediate is abstracted */
  CHECK(key_of("4883c001", &vocab) == key_of("4883c002", &vocab));
  /* mov eax, [rsp+0x6c] / [rsp+0x68]: so is the displacement */
  CHECK(key_of("8b44246c", &vocab) == key_of("8b442468", &vocab));
  /* but a displacement of 0 has no displacement node */
  CHECK(key_of("8b0424", &vocab) != key_of("8b442468", &vocab));
  /* another register, another instruction, another order */
  CHECK(key_of("4801d8", &vocab) != key_of("4801c8", &vocab));
  CHECK(key_of("4801d8", &vocab) != key_of("4829d8", &vocab));
  CHECK(key_of("4801d84801c8", &vocab) != key_of("4801c84801d8", &vocab));
  /* one instruction more */
  CHECK(key_of("4801d8", &vocab) != key_of("4801d84801d8", &vocab));
  /* with or without the vocabulary the key is stable for one vocabulary */
  CHECK(key_of("4801d8", NULL) == key_of("4801d8", NULL));
}

/* Same nodes, one edge moved: another key. */
static void test_edges_matter(void) {
  int32_t tokens[3] = {5, 6, 7}, senders[2] = {1, 2}, receivers[2] = {0, 0};
  uint8_t types[3] = {NODE_INSTRUCTION, NODE_REGISTER, NODE_REGISTER}, etypes[2] = {EDGE_INPUT, EDGE_INPUT};
  BlockGraph g = {3, 2, 1, tokens, types, etypes, senders, receivers};
  uint64_t a = graph_key(&g, &vocab);
  receivers[1] = 1;
  uint64_t b = graph_key(&g, &vocab);
  receivers[1] = 0;
  etypes[1] = EDGE_OUTPUT;
  uint64_t c = graph_key(&g, &vocab);
  etypes[1] = EDGE_INPUT;
  types[2] = NODE_PREFIX;
  uint64_t d = graph_key(&g, &vocab);
  types[2] = NODE_REGISTER;
  CHECK(a != b && a != c && a != d && b != c && graph_key(&g, &vocab) == a);
  /* token text, not index, with a vocabulary: the same text at another index agrees */
  const char *one[] = {"ADD", "RAX"}, *two[] = {"AAA", "ADD", "RAX"};
  Vocab v1, v2;
  vocab_from_list(&v1, one, 2);
  vocab_from_list(&v2, two, 3);
  int32_t t1[2] = {vocab_find(&v1, "ADD"), vocab_find(&v1, "RAX")}, t2[2] = {vocab_find(&v2, "ADD"), vocab_find(&v2, "RAX")};
  CHECK(t1[0] != t2[0]);
  BlockGraph g1 = {2, 1, 1, t1, types, etypes, senders, receivers};
  BlockGraph g2 = {2, 1, 1, t2, types, etypes, senders, receivers};
  senders[0] = 1;
  CHECK(graph_key(&g1, &v1) == graph_key(&g2, &v2));
  CHECK(graph_key(&g1, NULL) != graph_key(&g2, NULL));
  vocab_free(&v1);
  vocab_free(&v2);
}

static void test_key_set(void) {
  uint64_t *keys = malloc(6 * sizeof *keys);
  uint64_t in[6] = {9, 3, 9, 0xffffffffffffffffull, 3, 5};
  memcpy(keys, in, sizeof in);
  GraphKeySet s;
  graph_key_set_init(&s, keys, 6);
  CHECK(s.n == 4);
  CHECK(graph_key_set_contains(&s, 3) && graph_key_set_contains(&s, 5) && graph_key_set_contains(&s, 9));
  CHECK(graph_key_set_contains(&s, 0xffffffffffffffffull));
  CHECK(!graph_key_set_contains(&s, 0) && !graph_key_set_contains(&s, 4) && !graph_key_set_contains(&s, 10));
  graph_key_set_free(&s);
  GraphKeySet empty;
  graph_key_set_init(&empty, malloc(1), 0);
  CHECK(empty.n == 0 && !graph_key_set_contains(&empty, 0));
  graph_key_set_free(&empty);
}

int main(void) {
  if (vocab_load(&vocab, "data/sample/vocab.txt") || graph_options_init(&gopts, &vocab, "_UNKNOWN_")) return 1;
  test_blocks();
  test_edges_matter();
  test_key_set();
  vocab_free(&vocab);
  return test_summary("test_graph_key");
}
