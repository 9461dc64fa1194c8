/* granite's graph options (not in Gematria): register families, register
 * aliasing and loop-carried edges, on blocks canonicalized from machine code,
 * and the model's output scale (exact multiple of the unscaled model). */
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "graph/register_family.h"
#include "io/vocab.h"
#include "model/model.h"
#include "hex_graph.h"
#include "testing.h"
#include "x86/canonicalize.h"

/* A vocabulary that knows every token the blocks below use. */
static const char *const TOKENS[] = {"ADD", "EAX", "EFLAGS", "IMUL", "MOV", "POP", "PUSH", "RAX", "RBX",
                                     "RCX", "RDX", "RSP", "_ADDRESS_", "_IMMEDIATE_", "_MEMORY_", "_UNKNOWN_"};

static Vocab make_vocab(void) { return hex_graph_vocab(TOKENS, (int)(sizeof TOKENS / sizeof TOKENS[0])); }

/* Builds the graph of hex machine code with the given options. */
static int build(BlockGraph *g, const char *hex, const Vocab *v, bool loop, bool alias) {
  GraphOptions o;
  if (graph_options_init(&o, v, "_UNKNOWN_")) return -1;
  o.loop_carried_edges = loop;
  o.register_aliasing = alias;
  return hex_graph_build(g, hex, &o);
}

static const char *token_of(const BlockGraph *g, const Vocab *v, int node) { return v->tokens[g->node_tokens[node]]; }

static int count_edges(const BlockGraph *g, int type) {
  int n = 0;
  for (int e = 0; e < g->num_edges; e++) n += g->edge_types[e] == type;
  return n;
}

static void test_register_family(void) {
  CHECK(register_family("RAX") == 0);
  CHECK(register_family("EAX") == 0);
  CHECK(register_family("AX") == 0);
  CHECK(register_family("AL") == 0);
  CHECK(register_family("AH") == 0);
  CHECK(register_family("SPL") == 4);
  CHECK(register_family("RDI") == 7);
  CHECK(register_family("R8") == 8);
  CHECK(register_family("R9D") == 9);
  CHECK(register_family("R12W") == 12);
  CHECK(register_family("R15B") == 15);
  CHECK(register_family("XMM0") == REGISTER_FAMILY_VECTOR);
  CHECK(register_family("YMM3") == REGISTER_FAMILY_VECTOR + 3);
  CHECK(register_family("ZMM31") == REGISTER_FAMILY_VECTOR + 31);
  CHECK(register_family("XMM3") == register_family("ZMM3"));
  CHECK(register_family("EFLAGS") == -1);
  CHECK(register_family("R16") == -1);
  CHECK(register_family("R7") == -1);
  CHECK(register_family("R8X") == -1);
  CHECK(register_family("XMM32") == -1);
  CHECK(register_family("MM0") == -1);
  CHECK(register_family("") == -1);
  CHECK(register_family(NULL) == -1);
}

/* add rax, rbx: RAX is read, then written: one loop-carried edge from the
 * written RAX to the initial RAX. RBX is never written, EFLAGS never read. */
static void test_loop_carried_add(void) {
  Vocab v = make_vocab();
  BlockGraph plain, loop;
  CHECK(build(&plain, "4801d8", &v, false, false) == 0);
  CHECK(build(&loop, "4801d8", &v, true, false) == 0);
  CHECK(count_edges(&plain, EDGE_LOOP_CARRIED) == 0);
  CHECK(count_edges(&loop, EDGE_LOOP_CARRIED) == 1);
  /* Gematria's graph is unchanged: same nodes, its edges first */
  CHECK(loop.num_nodes == plain.num_nodes);
  CHECK(loop.num_edges == plain.num_edges + 1);
  for (int e = 0; e < plain.num_edges; e++) {
    CHECK(loop.edge_types[e] == plain.edge_types[e]);
    CHECK(loop.senders[e] == plain.senders[e] && loop.receivers[e] == plain.receivers[e]);
  }
  int e = loop.num_edges - 1;
  CHECK(loop.edge_types[e] == EDGE_LOOP_CARRIED);
  int s = loop.senders[e], r = loop.receivers[e];
  CHECK(strcmp(token_of(&loop, &v, s), "RAX") == 0 && strcmp(token_of(&loop, &v, r), "RAX") == 0);
  CHECK(s != r);
  /* the receiver is the initial value (an input of the ADD), the sender its output */
  bool r_feeds_add = false, add_writes_s = false;
  for (int k = 0; k < plain.num_edges; k++) {
    if (plain.senders[k] == r && plain.edge_types[k] == EDGE_INPUT) r_feeds_add = true;
    if (plain.receivers[k] == s && plain.edge_types[k] == EDGE_OUTPUT) add_writes_s = true;
  }
  CHECK(r_feeds_add);
  CHECK(add_writes_s);
  block_graph_free(&plain);
  block_graph_free(&loop);
  vocab_free(&v);
}

/* mov rax, rbx: RAX written before any read: no loop-carried edge at all. */
static void test_no_loop_when_written_first(void) {
  Vocab v = make_vocab();
  BlockGraph g;
  CHECK(build(&g, "4889d8", &v, true, false) == 0);
  CHECK(count_edges(&g, EDGE_LOOP_CARRIED) == 0);
  block_graph_free(&g);
  vocab_free(&v);
}

/* push rbx; pop rcx: RSP is read and written by both (one edge for RSP) and
 * the stack memory is written by push, then read by pop (written first: no
 * edge for memory). */
static void test_loop_carried_stack(void) {
  Vocab v = make_vocab();
  BlockGraph g;
  CHECK(build(&g, "5359", &v, true, false) == 0);
  int rsp_edges = 0, mem_edges = 0;
  for (int e = 0; e < g.num_edges; e++) {
    if (g.edge_types[e] != EDGE_LOOP_CARRIED) continue;
    const char *t = token_of(&g, &v, g.senders[e]);
    if (strcmp(t, "RSP") == 0) rsp_edges++;
    if (strcmp(t, "_MEMORY_") == 0) mem_edges++;
  }
  CHECK(rsp_edges == 1);
  CHECK(mem_edges == 0);
  block_graph_free(&g);
  vocab_free(&v);
}

/* mov eax, ebx; add rcx, rax: with aliasing the ADD reads the EAX node the
 * MOV wrote; without, it reads a fresh RAX node (spec §3.2). */
static void test_register_aliasing(void) {
  Vocab v = make_vocab();
  BlockGraph plain, alias;
  CHECK(build(&plain, "89d84801c1", &v, false, false) == 0);
  CHECK(build(&alias, "89d84801c1", &v, false, true) == 0);
  int eax_written = -1;
  for (int e = 0; e < alias.num_edges; e++)
    if (alias.edge_types[e] == EDGE_OUTPUT && strcmp(token_of(&alias, &v, alias.receivers[e]), "EAX") == 0)
      eax_written = alias.receivers[e];
  CHECK(eax_written >= 0);
  int add = -1;
  for (int n = 0; n < alias.num_nodes; n++)
    if (alias.node_types[n] == NODE_INSTRUCTION && strcmp(token_of(&alias, &v, n), "ADD") == 0) add = n;
  bool add_reads_eax = false;
  for (int e = 0; e < alias.num_edges; e++)
    if (alias.receivers[e] == add && alias.senders[e] == eax_written) add_reads_eax = true;
  CHECK(add_reads_eax);
  CHECK(alias.num_nodes == plain.num_nodes - 1); /* no fresh RAX node */
  int plain_rax = 0;
  for (int n = 0; n < plain.num_nodes; n++) plain_rax += strcmp(token_of(&plain, &v, n), "RAX") == 0;
  CHECK(plain_rax == 1);
  /* aliasing and loop-carried edges together: RAX's family is written
   * before it is read, so no edge for it; RCX gets one */
  BlockGraph both;
  CHECK(build(&both, "89d84801c1", &v, true, true) == 0);
  CHECK(count_edges(&both, EDGE_LOOP_CARRIED) == 1);
  CHECK(strcmp(token_of(&both, &v, both.receivers[both.num_edges - 1]), "RCX") == 0);
  block_graph_free(&plain);
  block_graph_free(&alias);
  block_graph_free(&both);
  vocab_free(&v);
}

/* The edge table grows by one row only with loop-carried edges; the output
 * scale multiplies every prediction exactly. */
static void test_model_options(void) {
  GraniteConfig c;
  granite_config_default(&c);
  c.vocab_size = 16;
  c.node_embedding_size = c.edge_embedding_size = c.global_embedding_size = 8;
  c.num_message_passing_iterations = 2;
  CHECK(c.output_scale == 1.0f);
  GraniteModel plain, loop;
  CHECK(granite_model_create(&plain, &c) == 0);
  c.loop_carried_edges = true;
  CHECK(granite_model_create(&loop, &c) == 0);
  const ParamTensor *pe = granite_find_tensor(&plain, "encoder/edge_embedding");
  const ParamTensor *le = granite_find_tensor(&loop, "encoder/edge_embedding");
  CHECK(pe && le && pe->rows == GEMATRIA_NUM_EDGE_TYPES && le->rows == NUM_EDGE_TYPES);
  CHECK(loop.num_params == plain.num_params + 8);
  granite_model_destroy(&loop);

  c.loop_carried_edges = false;
  c.output_scale = 0;
  GraniteModel bad;
  CHECK(granite_model_create(&bad, &c) != 0);
  c.output_scale = NAN;
  CHECK(granite_model_create(&bad, &c) != 0);

  Vocab v = make_vocab();
  BlockGraph g;
  CHECK(build(&g, "4801d8", &v, false, false) == 0);
  Batch b;
  batch_init(&b, 1);
  float label = 1, d = 1;
  uint8_t mask = 1;
  batch_add(&b, &g, &label, &mask, NULL, NULL);
  granite_model_init_params(&plain, 7);
  float out1[1], out2[1], pred[1];
  granite_forward(&plain, &b, out1, pred);
  memset(plain.grads, 0, sizeof(float) * plain.num_params);
  granite_backward(&plain, &b, &d);
  float *g1 = malloc(sizeof(float) * plain.num_params);
  memcpy(g1, plain.grads, sizeof(float) * plain.num_params);
  plain.cfg.output_scale = 4.0f; /* a power of two: the products are exact */
  granite_forward(&plain, &b, out2, pred);
  CHECK(out2[0] == 4.0f * out1[0]);
  memset(plain.grads, 0, sizeof(float) * plain.num_params);
  granite_backward(&plain, &b, &d);
  int mismatches = 0;
  for (size_t i = 0; i < plain.num_params; i++) mismatches += plain.grads[i] != 4.0f * g1[i];
  CHECK_MSG(mismatches == 0, "%d gradients are not 4x", mismatches);
  free(g1);
  batch_free(&b);
  block_graph_free(&g);
  granite_model_destroy(&plain);
  vocab_free(&v);
}

int main(void) {
  test_register_family();
  test_loop_carried_add();
  test_no_loop_when_written_first();
  test_loop_carried_stack();
  test_register_aliasing();
  test_model_options();
  return test_summary("test_graph_options");
}
