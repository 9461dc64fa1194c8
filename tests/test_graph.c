/* Graph builder (spec §3) and batch assembly (§3.6): the worked example of
 * §3.7 node for node and edge for edge, the LEA example, OOV handling, the
 * global histogram, and the 35-block Gematria fixture against the reference
 * graphs in shared/data/reference-model/fixture.jsonl. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "io/tfrecord.h"
#include "io/vocab.h"
#include "testing.h"
#include "util/common.h"
#include "x86/canonicalize.h"
#include "x86/tokens.h"

typedef Gematria__CanonicalizedOperandProto Operand;
typedef Gematria__CanonicalizedInstructionProto Instruction;

/* ---- building canonical protos by hand (freed with free_unpacked) ---- */

static Operand *new_operand(void) {
  Operand *op = malloc(sizeof *op);
  gematria__canonicalized_operand_proto__init(op);
  return op;
}
static Operand *reg(const char *name) {
  Operand *op = new_operand();
  op->operand_case = GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_REGISTER_NAME;
  op->register_name = strdup(name);
  return op;
}
static Operand *imm(uint64_t v) {
  Operand *op = new_operand();
  op->operand_case = GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_IMMEDIATE_VALUE;
  op->immediate_value = v;
  return op;
}
static Operand *fpimm(double v) {
  Operand *op = new_operand();
  op->operand_case = GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_FP_IMMEDIATE_VALUE;
  op->fp_immediate_value = v;
  return op;
}
static char *str_or_empty(const char *s) {
  return s && s[0] ? strdup(s) : (char *)protobuf_c_empty_string;
}
static Operand *addr(const char *base, const char *index, int64_t disp, const char *segment) {
  Operand *op = new_operand();
  op->operand_case = GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_ADDRESS;
  op->address = malloc(sizeof *op->address);
  gematria__canonicalized_operand_proto__address_tuple__init(op->address);
  op->address->base_register = str_or_empty(base);
  op->address->index_register = str_or_empty(index);
  op->address->segment = str_or_empty(segment);
  op->address->displacement = disp;
  op->address->scaling = 1;
  return op;
}
static Operand *mem(void) {
  Operand *op = new_operand();
  op->operand_case = GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_MEMORY;
  op->memory = malloc(sizeof *op->memory);
  gematria__canonicalized_operand_proto__memory_location__init(op->memory);
  op->memory->alias_group_id = 1;
  return op;
}
/* Takes a NULL-terminated list of operands. */
static Operand **ops(size_t *n, ...) {
  va_list ap;
  Operand **list = malloc(16 * sizeof *list);
  *n = 0;
  va_start(ap, n);
  for (Operand *op; (op = va_arg(ap, Operand *)) != NULL;) list[(*n)++] = op;
  va_end(ap);
  if (*n == 0) {
    free(list);
    return NULL;
  }
  return list;
}
static Instruction *ins(const char *prefix, const char *mnemonic) {
  Instruction *in = malloc(sizeof *in);
  gematria__canonicalized_instruction_proto__init(in);
  in->mnemonic = strdup(mnemonic);
  if (prefix) {
    in->n_prefixes = 1;
    in->prefixes = malloc(sizeof(char *));
    in->prefixes[0] = strdup(prefix);
  }
  return in;
}
#define OUT(i, ...) (i)->output_operands = ops(&(i)->n_output_operands, __VA_ARGS__, NULL)
#define IN(i, ...) (i)->input_operands = ops(&(i)->n_input_operands, __VA_ARGS__, NULL)
#define IOUT(i, ...) \
  (i)->implicit_output_operands = ops(&(i)->n_implicit_output_operands, __VA_ARGS__, NULL)
#define IIN(i, ...) (i)->implicit_input_operands = ops(&(i)->n_implicit_input_operands, __VA_ARGS__, NULL)

static Gematria__BasicBlockProto *block_of(int n, Instruction **list) {
  Gematria__BasicBlockProto *b = malloc(sizeof *b);
  gematria__basic_block_proto__init(b);
  b->n_canonicalized_instructions = (size_t)n;
  b->canonicalized_instructions = n ? malloc((size_t)n * sizeof(Instruction *)) : NULL;
  for (int i = 0; i < n; i++) b->canonicalized_instructions[i] = list[i];
  return b;
}
static void block_free(Gematria__BasicBlockProto *b) {
  protobuf_c_message_free_unpacked(&b->base, NULL);
}

/* SUB RBX,RDX; MOV EAX,[RSP+108]; MOV EDX,[RSP+104]; SAR RBX,3; SUB RAX,RDX;
 * CMP RBX,RAX in canonical form (spec §2.3, §3.7). */
static Gematria__BasicBlockProto *worked_example(void) {
  Instruction *i[6];
  i[0] = ins(NULL, "SUB");
  OUT(i[0], reg("RBX"));
  IN(i[0], reg("RBX"), reg("RDX"));
  IOUT(i[0], reg("EFLAGS"));
  i[1] = ins(NULL, "MOV");
  OUT(i[1], reg("EAX"));
  IN(i[1], mem(), addr("RSP", NULL, 108, NULL));
  i[2] = ins(NULL, "MOV");
  OUT(i[2], reg("EDX"));
  IN(i[2], mem(), addr("RSP", NULL, 104, NULL));
  i[3] = ins(NULL, "SAR");
  OUT(i[3], reg("RBX"));
  IN(i[3], reg("RBX"), imm(3));
  IOUT(i[3], reg("EFLAGS"));
  i[4] = ins(NULL, "SUB");
  OUT(i[4], reg("RAX"));
  IN(i[4], reg("RAX"), reg("RDX"));
  IOUT(i[4], reg("EFLAGS"));
  i[5] = ins(NULL, "CMP");
  IN(i[5], reg("RBX"), reg("RAX"));
  IOUT(i[5], reg("EFLAGS"));
  return block_of(6, i);
}

static const char *const EXAMPLE_TOKENS[] = {"SUB", "MOV", "SAR", "CMP", "RAX", "RBX", "RDX",
                                             "RSP", "EAX", "EDX", "EFLAGS", "LEA", "RDI", "REP"};

static const char *token_name(const Vocab *v, int t) { return t >= 0 && t < v->size ? v->tokens[t] : "?"; }

static void check_worked_example(const Gematria__BasicBlockProto *blk, const GraphOptions *opts,
                                 const Vocab *vp);

static void test_worked_example(void) {
  Vocab v;
  vocab_from_list(&v, EXAMPLE_TOKENS, (int)ARRAY_LEN(EXAMPLE_TOKENS));
  GraphOptions o;
  CHECK(graph_options_init(&o, &v, "_UNKNOWN_") == 0);
  Gematria__BasicBlockProto *blk = worked_example();
  check_worked_example(blk, &o, &v);
  block_free(blk);

  /* the same block from its machine code, through our canonicalizer */
  static const uint8_t code[] = {0x48, 0x29, 0xd3, 0x8b, 0x44, 0x24, 0x6c, 0x8b, 0x54, 0x24, 0x68,
                                 0x48, 0xc1, 0xfb, 0x03, 0x48, 0x29, 0xd0, 0x48, 0x39, 0xc3};
  Gematria__BasicBlockProto canon = GEMATRIA__BASIC_BLOCK_PROTO__INIT;
  size_t bad = 0;
  CHECK(x86_canonicalize_block(code, sizeof code, 0, &canon, &bad) == 6);
  check_worked_example(&canon, &o, &v);
  x86_block_clear(&canon);
  vocab_free(&v);
}

/* Checks the graph of the §3.7 block, node for node and edge for edge. */
static void check_worked_example(const Gematria__BasicBlockProto *blk, const GraphOptions *opts, const Vocab *vp) {
  const Vocab v = *vp;
  BlockGraph g;
  char err[256];
  CHECK_MSG(graph_build_block(&g, blk, opts, err, sizeof err) == 0, "%s", err);
  static const char *const nodes[] = {
      "SUB", "RBX",    "RDX", "RBX", "EFLAGS",      "MOV", "_MEMORY_", "_ADDRESS_", "RSP",
      "_IMMEDIATE_", "EAX", "MOV", "_ADDRESS_", "_IMMEDIATE_", "EDX", "SAR", "_IMMEDIATE_", "RBX",
      "EFLAGS", "SUB", "RAX", "RAX", "EFLAGS", "CMP", "EFLAGS"};
  static const int types[] = {0, 1, 1, 1, 1, 0, 5, 4, 1, 2, 1, 0, 4, 2, 1, 0, 2, 1, 1, 0, 1, 1, 1, 0, 1};
  CHECK(g.num_nodes == 25);
  CHECK(g.num_edges == 30);
  CHECK(g.num_instructions == 6);
  for (int i = 0; i < 25 && i < g.num_nodes; i++) {
    CHECK_MSG(strcmp(token_name(&v, g.node_tokens[i]), nodes[i]) == 0, "node %d is %s, want %s", i,
              token_name(&v, g.node_tokens[i]), nodes[i]);
    CHECK_MSG(g.node_types[i] == types[i], "node %d type %d", i, g.node_types[i]);
  }
  /* type, sender, receiver in creation order (spec §3.7) */
  static const int edges[30][3] = {
      {1, 1, 0},   {1, 2, 0},   {2, 0, 3},   {2, 0, 4},   {0, 0, 5},   {1, 6, 5},
      {3, 8, 7},   {6, 9, 7},   {1, 7, 5},   {2, 5, 10},  {0, 5, 11},  {1, 6, 11},
      {3, 8, 12},  {6, 13, 12}, {1, 12, 11}, {2, 11, 14}, {0, 11, 15}, {1, 3, 15},
      {1, 16, 15}, {2, 15, 17}, {2, 15, 18}, {0, 15, 19}, {1, 20, 19}, {1, 2, 19},
      {2, 19, 21}, {2, 19, 22}, {0, 19, 23}, {1, 17, 23}, {1, 21, 23}, {2, 23, 24}};
  for (int e = 0; e < 30 && e < g.num_edges; e++) {
    CHECK_MSG(g.edge_types[e] == edges[e][0] && g.senders[e] == edges[e][1] && g.receivers[e] == edges[e][2],
              "edge %d is %d %d->%d, want %d %d->%d", e, g.edge_types[e], g.senders[e], g.receivers[e],
              edges[e][0], edges[e][1], edges[e][2]);
  }
  block_graph_free(&g);
}

static void test_lea_example(void) {
  Vocab v;
  vocab_from_list(&v, EXAMPLE_TOKENS, (int)ARRAY_LEN(EXAMPLE_TOKENS));
  GraphOptions o;
  CHECK(graph_options_init(&o, &v, NULL) == 0);
  CHECK(o.replacement_token == -1);
  Instruction *i = ins(NULL, "LEA");
  OUT(i, reg("RDI"));
  IN(i, addr("RBX", NULL, 8, NULL));
  Gematria__BasicBlockProto *blk = block_of(1, &i);
  BlockGraph g;
  char err[256];
  CHECK(graph_build_block(&g, blk, &o, err, sizeof err) == 0);
  static const char *const nodes[] = {"LEA", "_ADDRESS_", "RBX", "_IMMEDIATE_", "RDI"};
  CHECK(g.num_nodes == 5 && g.num_edges == 4);
  for (int n = 0; n < 5 && n < g.num_nodes; n++) CHECK(strcmp(token_name(&v, g.node_tokens[n]), nodes[n]) == 0);
  static const int edges[4][3] = {{3, 2, 1}, {6, 3, 1}, {1, 1, 0}, {2, 0, 4}};
  for (int e = 0; e < 4 && e < g.num_edges; e++)
    CHECK(g.edge_types[e] == edges[e][0] && g.senders[e] == edges[e][1] && g.receivers[e] == edges[e][2]);
  block_graph_free(&g);
  block_free(blk);
  vocab_free(&v);
}

/* Prefix node, index + segment registers, FP immediate, a store that starts
 * a new memory value, and the same register read twice. */
static void test_other_operand_kinds(void) {
  Vocab v;
  vocab_from_list(&v, (const char *const[]){"MOV", "REP", "RAX", "RCX", "FS", "XOR", "EAX", "MOVSD"}, 8);
  GraphOptions o;
  CHECK(graph_options_init(&o, &v, "_UNKNOWN_") == 0);
  Instruction *i[4];
  i[0] = ins("REP", "MOV"); /* MOV [FS:RAX+RCX*4], RAX : store */
  OUT(i[0], mem());
  IN(i[0], addr("RAX", "RCX", 0, "FS"), reg("RAX"));
  i[1] = ins(NULL, "MOV"); /* load after store: reads the stored memory node */
  OUT(i[1], reg("RAX"));
  IN(i[1], mem(), addr("RAX", NULL, -8, NULL));
  i[2] = ins(NULL, "XOR");
  OUT(i[2], reg("EAX"));
  IN(i[2], reg("EAX"), reg("EAX"));
  i[3] = ins(NULL, "MOVSD");
  IN(i[3], fpimm(1.5));
  Gematria__BasicBlockProto *blk = block_of(4, i);
  BlockGraph g;
  char err[256];
  CHECK(graph_build_block(&g, blk, &o, err, sizeof err) == 0);
  /* nodes: 0 MOV, 1 REP, 2 ADDR, 3 RAX, 4 RCX, 5 FS, 6 MEM(out), 7 MOV, 8 ADDR,
   * 9 IMM(disp), 10 RAX, 11 XOR, 12 EAX(init), 13 EAX, 14 MOVSD, 15 FPIMM */
  static const int types[] = {0, 6, 4, 1, 1, 1, 5, 0, 4, 2, 1, 0, 1, 1, 0, 3};
  CHECK(g.num_nodes == 16);
  for (int n = 0; n < 16 && n < g.num_nodes; n++) CHECK_MSG(g.node_types[n] == types[n], "node %d", n);
  CHECK(g.num_nodes > 15 && g.node_tokens[15] == vocab_find(&v, "_IMMEDIATE_"));
  static const int edges[][3] = {{8, 1, 0},  {3, 3, 2},   {4, 4, 2},   {5, 5, 2},  {1, 2, 0},
                                 {1, 3, 0},  {2, 0, 6},   {0, 0, 7},   {1, 6, 7},  {3, 3, 8},
                                 {6, 9, 8},  {1, 8, 7},   {2, 7, 10},  {0, 7, 11}, {1, 12, 11},
                                 {1, 12, 11}, {2, 11, 13}, {0, 11, 14}, {1, 15, 14}};
  CHECK(g.num_edges == (int)ARRAY_LEN(edges));
  for (int e = 0; e < (int)ARRAY_LEN(edges) && e < g.num_edges; e++)
    CHECK_MSG(g.edge_types[e] == edges[e][0] && g.senders[e] == edges[e][1] && g.receivers[e] == edges[e][2],
              "edge %d is %d %d->%d", e, g.edge_types[e], g.senders[e], g.receivers[e]);
  block_graph_free(&g);
  block_free(blk);
  vocab_free(&v);
}

static void test_oov_and_rejections(void) {
  Vocab v;
  vocab_from_list(&v, (const char *const[]){"ADD", "RAX"}, 2);
  GraphOptions replace, reject;
  CHECK(graph_options_init(&replace, &v, "_UNKNOWN_") == 0);
  CHECK(graph_options_init(&reject, &v, "") == 0);
  int unknown = vocab_find(&v, "_UNKNOWN_");
  /* ADD RBX, RAX; ADD RAX, RBX -- RBX is out of vocabulary */
  Instruction *i[2];
  i[0] = ins(NULL, "ADD");
  OUT(i[0], reg("RBX"));
  IN(i[0], reg("RBX"), reg("RAX"));
  i[1] = ins(NULL, "ADD");
  OUT(i[1], reg("RAX"));
  IN(i[1], reg("RAX"), reg("RBX"));
  Gematria__BasicBlockProto *blk = block_of(2, i);
  BlockGraph g;
  char err[256];
  CHECK(graph_build_block(&g, blk, &replace, err, sizeof err) == 0);
  /* 0 ADD, 1 RBX(init, unk), 2 RAX(init), 3 RBX(unk), 4 ADD, 5 RAX */
  CHECK(g.num_nodes == 6);
  if (g.num_nodes == 6) {
    CHECK(g.node_tokens[1] == unknown && g.node_tokens[3] == unknown);
    CHECK(g.node_tokens[2] == vocab_find(&v, "RAX"));
  }
  /* spec §3.3: the register map is keyed by the original string: the second
   * ADD reads node 3 (the written RBX) */
  CHECK(g.num_edges == 7 && g.senders[5] == 3 && g.receivers[5] == 4);
  block_graph_free(&g);

  CHECK(graph_build_block(&g, blk, &reject, err, sizeof err) == -1);
  CHECK(strstr(err, "RBX") != NULL);
  CHECK(g.num_nodes == 0 && g.node_tokens == NULL);
  block_free(blk);

  /* unknown mnemonic rejected too */
  Instruction *sub = ins(NULL, "SUB");
  blk = block_of(1, &sub);
  CHECK(graph_build_block(&g, blk, &reject, err, sizeof err) == -1);
  CHECK(strstr(err, "SUB") != NULL);
  CHECK(graph_build_block(&g, blk, &replace, err, sizeof err) == 0);
  CHECK(g.num_nodes == 1 && g.num_edges == 0 && g.node_tokens[0] == unknown);
  block_graph_free(&g);
  block_free(blk);

  /* empty block */
  blk = block_of(0, NULL);
  CHECK(graph_build_block(&g, blk, &replace, err, sizeof err) == -1);
  CHECK(strstr(err, "no instructions") != NULL);
  block_free(blk);

  /* operand with no kind, immediate output, address output: rejected, not aborted */
  Instruction *bad[3];
  bad[0] = ins(NULL, "ADD");
  IN(bad[0], new_operand());
  bad[1] = ins(NULL, "ADD");
  OUT(bad[1], imm(1));
  bad[2] = ins(NULL, "ADD");
  OUT(bad[2], addr("RAX", NULL, 0, NULL));
  const char *why[3] = {"no kind", "immediate", "address"};
  for (int k = 0; k < 3; k++) {
    blk = block_of(1, &bad[k]);
    CHECK(graph_build_block(&g, blk, &replace, err, sizeof err) == -1);
    CHECK_MSG(strstr(err, why[k]) != NULL, "%s", err);
    block_free(blk);
  }

  /* a vocabulary without the special tokens is refused */
  Vocab raw = {0};
  char *toks[] = {"ADD"};
  raw.size = 1;
  raw.tokens = toks;
  GraphOptions o;
  fprintf(stderr, "(expected error line follows)\n");
  CHECK(graph_options_init(&o, &raw, NULL) == -1);
  fprintf(stderr, "(expected error line follows)\n");
  CHECK(graph_options_init(&o, &v, "NOT_A_TOKEN") == -1);
  vocab_free(&v);
}

static void test_batch_and_histogram(void) {
  Vocab v;
  vocab_from_list(&v, EXAMPLE_TOKENS, (int)ARRAY_LEN(EXAMPLE_TOKENS));
  GraphOptions o;
  CHECK(graph_options_init(&o, &v, "_UNKNOWN_") == 0);
  Gematria__BasicBlockProto *ex = worked_example();
  Instruction *lea = ins(NULL, "LEA");
  OUT(lea, reg("RDI"));
  IN(lea, addr("RBX", NULL, 8, NULL));
  Gematria__BasicBlockProto *lb = block_of(1, &lea);
  BlockGraph g1, g2;
  CHECK(graph_build_block(&g1, lb, &o, NULL, 0) == 0);
  CHECK(graph_build_block(&g2, ex, &o, NULL, 0) == 0);

  Batch b;
  batch_init(&b, 2);
  for (int round = 0; round < 2; round++) { /* second round checks batch_clear reuse */
    batch_clear(&b);
    float l1[2] = {1.5f, 2.5f}, d2[12];
    uint8_t m1[2] = {1, 0}, dm2[12];
    for (int k = 0; k < 12; k++) d2[k] = (float)k, dm2[k] = 1;
    batch_add(&b, &g1, l1, m1, NULL, NULL);
    batch_add(&b, &g2, NULL, NULL, d2, dm2);
    CHECK(b.num_blocks == 2 && b.num_nodes == 30 && b.num_edges == 34 && b.num_instructions == 7);
    CHECK(b.node_offset[0] == 0 && b.node_offset[1] == 5 && b.node_offset[2] == 30);
    CHECK(b.edge_offset[0] == 0 && b.edge_offset[1] == 4 && b.edge_offset[2] == 34);
    /* second block's indices are shifted by the first block's 5 nodes */
    CHECK(b.senders[4] == 6 && b.receivers[4] == 5); /* IN 1->0 of the example */
    CHECK(b.senders[33] == 28 && b.receivers[33] == 29 && b.edge_types[33] == EDGE_OUTPUT);
    CHECK(b.node_block[4] == 0 && b.node_block[5] == 1 && b.edge_block[3] == 0 && b.edge_block[4] == 1);
    static const int inodes[7] = {0, 5, 10, 16, 20, 24, 28};
    for (int k = 0; k < 7; k++) CHECK(b.instruction_nodes[k] == inodes[k]);
    CHECK(b.instruction_block[0] == 0 && b.instruction_block[1] == 1 && b.instruction_block[6] == 1);
    CHECK(b.labels[0] == 1.5f && b.label_mask[0] == 1 && b.label_mask[1] == 0);
    CHECK(b.labels[2] == -1.0f && b.label_mask[2] == 0 && b.label_mask[3] == 0);
    CHECK(b.delta_labels != NULL);
    if (b.delta_labels) {
      CHECK(b.delta_mask[0] == 0 && b.delta_mask[1] == 0); /* first block had none */
      CHECK(b.delta_labels[2] == 0.0f && b.delta_labels[13] == 11.0f && b.delta_mask[13] == 1);
    }
  }
  size_t need_nodes = b.cap_nodes, need_edges = b.cap_edges;

  /* histogram: the example has 3 MOV-less... count EFLAGS (4) and _IMMEDIATE_ (3) */
  float *h = malloc((size_t)2 * v.size * sizeof(float));
  batch_global_histogram(&b, v.size, h);
  int eflags = vocab_find(&v, "EFLAGS"), immt = vocab_find(&v, "_IMMEDIATE_");
  int dt = vocab_find(&v, "_D_"), lea_t = vocab_find(&v, "LEA");
  CHECK(h[eflags] == 0 && h[v.size + eflags] == 4);
  CHECK(h[immt] == 1 && h[v.size + immt] == 3);
  CHECK(h[lea_t] == 1 && h[v.size + lea_t] == 0);
  CHECK(h[dt] == 0 && h[v.size + dt] == 0); /* spec §8.3 */
  float sum0 = 0, sum1 = 0;
  for (int t = 0; t < v.size; t++) sum0 += h[t], sum1 += h[v.size + t];
  CHECK(sum0 == 5 && sum1 == 25);

  /* OOV injection: p = 1 replaces every node feature, histogram unchanged;
   * p = 0.5 is deterministic for a seed */
  Rng r;
  rng_seed(&r, 7);
  int unknown = vocab_find(&v, "_UNKNOWN_");
  batch_inject_oov(&b, unknown, 1.0, &r);
  int all = 1;
  for (int n = 0; n < b.num_nodes; n++) all &= b.node_tokens[n] == unknown;
  CHECK(all);
  float *h2 = malloc((size_t)2 * v.size * sizeof(float));
  batch_global_histogram(&b, v.size, h2);
  CHECK(memcmp(h, h2, (size_t)2 * v.size * sizeof(float)) == 0);
  int replaced[2] = {0, 0};
  for (int round = 0; round < 2; round++) {
    batch_clear(&b);
    batch_add(&b, &g1, NULL, NULL, NULL, NULL);
    batch_add(&b, &g2, NULL, NULL, NULL, NULL);
    rng_seed(&r, 99);
    batch_inject_oov(&b, unknown, 0.5, &r);
    for (int n = 0; n < b.num_nodes; n++) replaced[round] += (b.node_tokens[n] == unknown) << (n % 16);
    CHECK(b.global_tokens[0] == vocab_find(&v, "LEA"));
  }
  CHECK(replaced[0] == replaced[1] && replaced[0] != 0);
  CHECK(b.cap_nodes == need_nodes && b.cap_edges == need_edges); /* no regrowth */
  free(h);
  free(h2);
  batch_free(&b);
  block_graph_free(&g1);
  block_graph_free(&g2);
  block_free(ex);
  block_free(lb);
  vocab_free(&v);
}

/* ---- the 35-block Gematria fixture ---- */

typedef struct {
  char **list;
  int n, cap;
} TokenSet;

static void collect_token(const char *token, void *ctx) {
  TokenSet *s = ctx;
  if (s->n == s->cap) {
    s->cap = s->cap ? 2 * s->cap : 64;
    s->list = realloc(s->list, (size_t)s->cap * sizeof(char *));
  }
  s->list[s->n++] = strdup(token);
}

/* Parses "key": [ints] from a JSON line into out; returns the count or -1. */
static int json_int_array(const char *line, const char *key, int *out, int max) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\": [", key);
  const char *p = strstr(line, pat);
  if (!p) return -1;
  p += strlen(pat);
  int n = 0;
  while (*p && *p != ']') {
    char *end;
    long x = strtol(p, &end, 10);
    if (end == p) return -1;
    if (n < max) out[n] = (int)x;
    n++;
    p = end;
    while (*p == ',' || *p == ' ') p++;
  }
  return n;
}

static int check_array(const char *what, int block, const int *want, int nwant, const void *got, int ngot,
                       int elem_size) {
  if (nwant != ngot) {
    fprintf(stderr, "block %d: %s has %d entries, want %d\n", block, what, ngot, nwant);
    return 0;
  }
  for (int i = 0; i < ngot; i++) {
    int v = elem_size == 1 ? ((const uint8_t *)got)[i] : ((const int32_t *)got)[i];
    if (v != want[i]) {
      fprintf(stderr, "block %d: %s[%d] = %d, want %d\n", block, what, i, v, want[i]);
      return 0;
    }
  }
  return 1;
}

static void test_fixture(void) {
  const char *dir = shared_data_dir();
  if (!dir) {
    test_skip("../shared/data not found: the Gematria fixture test");
    return;
  }
  char path[512], tokens_path[512], jsonl_path[512];
  snprintf(path, sizeof path, "%s/gematria-fixtures/basic_blocks_with_throughput.tfrecord", dir);
  snprintf(tokens_path, sizeof tokens_path, "%s/reference-model/tokens.txt", dir);
  snprintf(jsonl_path, sizeof jsonl_path, "%s/reference-model/fixture.jsonl", dir);
  Vocab v;
  CHECK(vocab_load(&v, tokens_path) == 0);
  CHECK(v.size == 56);
  GraphOptions o;
  CHECK(graph_options_init(&o, &v, "_UNKNOWN_") == 0);
  char *jsonl = read_file_text(jsonl_path, NULL);
  CHECK(jsonl != NULL);
  char *line = jsonl;

  TFRecordReader r;
  CHECK(tfrecord_open(&r, path) == 0);
  const uint8_t *data;
  size_t len;
  int blocks = 0, instructions = 0, unknown_nodes = 0;
  long nodes = 0, edges = 0;
  int unknown = vocab_find(&v, "_UNKNOWN_");
  TokenSet seen = {0};
  for (int i = 0; i < 7; i++) collect_token(VOCAB_STRUCTURAL_TOKENS[i], &seen);
  while (tfrecord_next(&r, &data, &len) == 1) {
    Gematria__BasicBlockWithThroughputProto *rec =
        gematria__basic_block_with_throughput_proto__unpack(NULL, len, data);
    CHECK(rec != NULL && rec->basic_block != NULL);
    if (!rec || !rec->basic_block) break;
    for (size_t k = 0; k < rec->basic_block->n_canonicalized_instructions; k++)
      instruction_token_list(rec->basic_block->canonicalized_instructions[k], collect_token, &seen);
    BlockGraph g;
    char err[256];
    int rc = graph_build_block(&g, rec->basic_block, &o, err, sizeof err);
    CHECK_MSG(rc == 0, "block %d: %s", blocks, err);
    if (rc == 0) {
      nodes += g.num_nodes;
      edges += g.num_edges;
      instructions += g.num_instructions;
      for (int n = 0; n < g.num_nodes; n++) unknown_nodes += g.node_tokens[n] == unknown;
      if (blocks < 8 && line && *line) {
        static int want[4096];
        uint8_t mask[1024];
        int nw;
        nw = json_int_array(line, "node_tokens", want, 4096);
        CHECK(check_array("node_tokens", blocks, want, nw, g.node_tokens, g.num_nodes, 4));
        nw = json_int_array(line, "node_types", want, 4096);
        CHECK(check_array("node_types", blocks, want, nw, g.node_types, g.num_nodes, 1));
        nw = json_int_array(line, "edge_types", want, 4096);
        CHECK(check_array("edge_types", blocks, want, nw, g.edge_types, g.num_edges, 1));
        nw = json_int_array(line, "senders", want, 4096);
        CHECK(check_array("senders", blocks, want, nw, g.senders, g.num_edges, 4));
        nw = json_int_array(line, "receivers", want, 4096);
        CHECK(check_array("receivers", blocks, want, nw, g.receivers, g.num_edges, 4));
        for (int n = 0; n < g.num_nodes && n < 1024; n++) mask[n] = g.node_types[n] == NODE_INSTRUCTION;
        nw = json_int_array(line, "instruction_node_mask", want, 4096);
        CHECK(check_array("instruction_node_mask", blocks, want, nw, mask, g.num_nodes, 1));
        char *next = strchr(line, '\n');
        line = next ? next + 1 : NULL;
      }
      block_graph_free(&g);
    }
    blocks++;
    gematria__basic_block_with_throughput_proto__free_unpacked(rec, NULL);
  }
  tfrecord_close(&r);
  CHECK(blocks == 35);
  CHECK(instructions == 120);
  CHECK_MSG(nodes == 482 && edges == 546, "%ld nodes, %ld edges", nodes, edges);
  CHECK(unknown_nodes == 0);

  /* the §2.4 token lists of all instructions + structural tokens = tokens.txt */
  Vocab from_data;
  vocab_from_list(&from_data, (const char *const *)seen.list, seen.n);
  CHECK_MSG(from_data.size == v.size, "%d tokens from the data", from_data.size);
  for (int t = 0; t < from_data.size && t < v.size; t++)
    CHECK_MSG(strcmp(from_data.tokens[t], v.tokens[t]) == 0, "token %d: %s vs %s", t, from_data.tokens[t],
              v.tokens[t]);
  for (int i = 0; i < seen.n; i++) free(seen.list[i]);
  free(seen.list);
  vocab_free(&from_data);
  free(jsonl);
  vocab_free(&v);
}

int main(void) {
  test_worked_example();
  test_lea_example();
  test_other_operand_kinds();
  test_oov_and_rejections();
  test_batch_and_histogram();
  test_fixture();
  return test_summary("test_graph");
}
