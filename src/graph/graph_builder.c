/* Block → graph, spec §3.2-§3.4. The order in which nodes and edges are
 * created is part of the contract (it fixes every index), so the code
 * follows the spec's steps one by one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/critical_path.h"
#include "graph/graph.h"
#include "graph/register_family.h"
#include "util/common.h"
#include "x86/block_features.h"

typedef Gematria__CanonicalizedOperandProto Operand;
typedef Gematria__CanonicalizedInstructionProto Instruction;

/* A register name and the node that holds its current value (spec §3.2:
 * keyed by the exact string; with register aliasing, by the family, -1 for
 * registers without one). initial: the node of the value the block started
 * from, or -1 when the block wrote the register before reading it. */
typedef struct {
  const char *name;
  int family;
  int node, initial;
} RegEntry;

typedef struct {
  int alias_group;
  int node, initial;
} MemEntry;

/* Growing arrays of the graph under construction plus the maps. */
typedef struct {
  const GraphOptions *opts;
  int num_nodes, num_edges, num_instructions;
  size_t cap_nodes, cap_edges;
  int32_t *node_tokens;
  uint8_t *node_types;
  uint8_t *edge_types;
  int32_t *senders, *receivers;
  RegEntry *regs;
  int num_regs;
  size_t cap_regs;
  MemEntry *mems;
  int num_mems;
  size_t cap_mems;
  char *err;
  size_t err_size;
} Builder;

int graph_options_init(GraphOptions *opts, const Vocab *vocab, const char *replacement) {
  memset(opts, 0, sizeof *opts);
  opts->vocab = vocab;
  /* spec §3.3: the special tokens must exist, duplicates are not allowed */
  for (int i = 1; i < vocab->size; i++) {
    if (strcmp(vocab->tokens[i - 1], vocab->tokens[i]) >= 0) {
      gr_error("vocabulary is not sorted and unique at token %d ('%s')", i, vocab->tokens[i]);
      return -1;
    }
  }
  struct {
    const char *name;
    int *slot;
  } specials[] = {
      {"_IMMEDIATE_", &opts->immediate_token},
      {"_ADDRESS_", &opts->address_token},
      {"_MEMORY_", &opts->memory_token},
  };
  for (size_t i = 0; i < ARRAY_LEN(specials); i++) {
    *specials[i].slot = vocab_find(vocab, specials[i].name);
    if (*specials[i].slot < 0) {
      gr_error("vocabulary has no '%s' token", specials[i].name);
      return -1;
    }
  }
  /* spec §3.1: GRANITE gives FP immediates the immediate token */
  opts->fp_immediate_token = opts->immediate_token;
  opts->replacement_token = -1;
  if (replacement && replacement[0]) {
    opts->replacement_token = vocab_find(vocab, replacement);
    if (opts->replacement_token < 0) {
      gr_error("vocabulary has no out-of-vocabulary replacement token '%s'", replacement);
      return -1;
    }
  }
  return 0;
}

static int add_node(Builder *b, int type, int token) {
  if ((size_t)b->num_nodes + 1 > b->cap_nodes) {
    size_t cap = b->cap_nodes ? b->cap_nodes * 2 : 32;
    b->node_tokens = xrealloc(b->node_tokens, cap * sizeof(int32_t));
    b->node_types = xrealloc(b->node_types, cap);
    b->cap_nodes = cap;
  }
  b->node_tokens[b->num_nodes] = token;
  b->node_types[b->num_nodes] = (uint8_t)type;
  return b->num_nodes++;
}

static void add_edge(Builder *b, int type, int sender, int receiver) {
  if ((size_t)b->num_edges + 1 > b->cap_edges) {
    size_t cap = b->cap_edges ? b->cap_edges * 2 : 32;
    b->edge_types = xrealloc(b->edge_types, cap);
    b->senders = xrealloc(b->senders, cap * sizeof(int32_t));
    b->receivers = xrealloc(b->receivers, cap * sizeof(int32_t));
    b->cap_edges = cap;
  }
  b->edge_types[b->num_edges] = (uint8_t)type;
  b->senders[b->num_edges] = sender;
  b->receivers[b->num_edges] = receiver;
  b->num_edges++;
}

/* Token of a string node (instruction, prefix, register), spec §3.3. */
static int lookup_token(Builder *b, const char *text, int instruction_index, int *token) {
  int t = vocab_find(b->opts->vocab, text);
  if (t < 0) t = b->opts->replacement_token;
  if (t < 0) {
    snprintf(b->err, b->err_size, "instruction %d: token '%s' is not in the vocabulary",
             instruction_index, text);
    return -1;
  }
  *token = t;
  return 0;
}

/* Creates a node for a string token; -1 if the token is rejected. */
static int add_string_node(Builder *b, int type, const char *text, int instruction_index) {
  int token;
  if (lookup_token(b, text, instruction_index, &token) != 0) return -1;
  return add_node(b, type, token);
}

static int family_of(const Builder *b, const char *name) {
  return b->opts->register_aliasing ? register_family(name) : -1;
}

static int find_reg(const Builder *b, const char *name) {
  int family = family_of(b, name);
  for (int i = b->num_regs - 1; i >= 0; i--) {
    if (family >= 0 ? b->regs[i].family == family : strcmp(b->regs[i].name, name) == 0) return i;
  }
  return -1;
}

/* Makes node the current value of register name; initial says whether it is
 * the value the block started from (a read before any write). */
static void set_reg(Builder *b, const char *name, int node, bool initial) {
  int i = find_reg(b, name);
  if (i >= 0) {
    b->regs[i].node = node;
    return;
  }
  grow_array((void **)&b->regs, &b->cap_regs, (size_t)b->num_regs + 1, sizeof *b->regs);
  b->regs[b->num_regs].name = name;
  b->regs[b->num_regs].family = family_of(b, name);
  b->regs[b->num_regs].node = node;
  b->regs[b->num_regs].initial = initial ? node : -1;
  b->num_regs++;
}

/* dep(R, target, type) of spec §3.2: reuse R's current node or create its
 * initial-value node, then add the edge. */
static int register_dependency(Builder *b, const char *name, int target, int edge_type,
                               int instruction_index) {
  int i = find_reg(b, name);
  int node;
  if (i >= 0) {
    node = b->regs[i].node;
  } else {
    node = add_string_node(b, NODE_REGISTER, name, instruction_index);
    if (node < 0) return -1;
    set_reg(b, name, node, true);
  }
  add_edge(b, edge_type, node, target);
  return 0;
}

static int find_mem(const Builder *b, int group) {
  for (int i = 0; i < b->num_mems; i++)
    if (b->mems[i].alias_group == group) return i;
  return -1;
}

static void set_mem(Builder *b, int group, int node, bool initial) {
  int i = find_mem(b, group);
  if (i >= 0) {
    b->mems[i].node = node;
    return;
  }
  grow_array((void **)&b->mems, &b->cap_mems, (size_t)b->num_mems + 1, sizeof *b->mems);
  b->mems[b->num_mems].alias_group = group;
  b->mems[b->num_mems].node = node;
  b->mems[b->num_mems].initial = initial ? node : -1;
  b->num_mems++;
}

static int memory_group(const Operand *op) { return op->memory ? op->memory->alias_group_id : 0; }

/* spec §3.2 step 5: one input operand of instruction node `inst`. */
static int add_input(Builder *b, const Operand *op, int inst, int index) {
  const GraphOptions *o = b->opts;
  switch (op->operand_case) {
  case GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_REGISTER_NAME:
    return register_dependency(b, op->register_name, inst, EDGE_INPUT, index);
  case GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_IMMEDIATE_VALUE:
    add_edge(b, EDGE_INPUT, add_node(b, NODE_IMMEDIATE, o->immediate_token), inst);
    return 0;
  case GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_FP_IMMEDIATE_VALUE:
    add_edge(b, EDGE_INPUT, add_node(b, NODE_FP_IMMEDIATE, o->fp_immediate_token), inst);
    return 0;
  case GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_ADDRESS: {
    const Gematria__CanonicalizedOperandProto__AddressTuple *a = op->address;
    int addr = add_node(b, NODE_ADDRESS, o->address_token);
    if (a) {
      if (a->base_register && a->base_register[0] &&
          register_dependency(b, a->base_register, addr, EDGE_ADDRESS_BASE, index) != 0)
        return -1;
      if (a->index_register && a->index_register[0] &&
          register_dependency(b, a->index_register, addr, EDGE_ADDRESS_INDEX, index) != 0)
        return -1;
      if (a->segment && a->segment[0] &&
          register_dependency(b, a->segment, addr, EDGE_ADDRESS_SEGMENT, index) != 0)
        return -1;
      /* spec §8.3: the displacement is an immediate node; scaling is ignored */
      if (a->displacement != 0)
        add_edge(b, EDGE_ADDRESS_DISPLACEMENT, add_node(b, NODE_IMMEDIATE, o->immediate_token), addr);
    }
    add_edge(b, EDGE_INPUT, addr, inst);
    return 0;
  }
  case GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_MEMORY: {
    int group = memory_group(op);
    int i = find_mem(b, group);
    int node;
    if (i >= 0) {
      node = b->mems[i].node;
    } else {
      node = add_node(b, NODE_MEMORY, o->memory_token);
      set_mem(b, group, node, true);
    }
    add_edge(b, EDGE_INPUT, node, inst);
    return 0;
  }
  default:
    /* spec §8.8: Gematria aborts the process here; we reject the block */
    snprintf(b->err, b->err_size, "instruction %d: input operand with no kind set", index);
    return -1;
  }
}

/* spec §3.2 step 6: one output operand. */
static int add_output(Builder *b, const Operand *op, int inst, int index) {
  switch (op->operand_case) {
  case GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_REGISTER_NAME: {
    int node = add_string_node(b, NODE_REGISTER, op->register_name, index);
    if (node < 0) return -1;
    add_edge(b, EDGE_OUTPUT, inst, node);
    set_reg(b, op->register_name, node, false);
    return 0;
  }
  case GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_MEMORY: {
    int node = add_node(b, NODE_MEMORY, b->opts->memory_token);
    set_mem(b, memory_group(op), node, false);
    add_edge(b, EDGE_OUTPUT, inst, node);
    return 0;
  }
  case GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_IMMEDIATE_VALUE:
  case GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_FP_IMMEDIATE_VALUE:
    snprintf(b->err, b->err_size, "instruction %d: immediate value as an output operand", index);
    return -1;
  case GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_ADDRESS:
    snprintf(b->err, b->err_size, "instruction %d: address as an output operand", index);
    return -1;
  default:
    snprintf(b->err, b->err_size, "instruction %d: output operand with no kind set", index);
    return -1;
  }
}

static int add_instruction(Builder *b, const Instruction *ins, int index, int prev) {
  const char *mnemonic = ins->mnemonic ? ins->mnemonic : "";
  int inst = add_string_node(b, NODE_INSTRUCTION, mnemonic, index);
  if (inst < 0) return -1;
  b->num_instructions++;
  for (size_t p = 0; p < ins->n_prefixes; p++) {
    int node = add_string_node(b, NODE_PREFIX, ins->prefixes[p], index);
    if (node < 0) return -1;
    add_edge(b, EDGE_PREFIX, node, inst);
  }
  if (prev >= 0) add_edge(b, EDGE_STRUCTURAL, prev, inst);
  /* spec §3.2: inputs before outputs, explicit before implicit */
  for (size_t i = 0; i < ins->n_input_operands; i++)
    if (add_input(b, ins->input_operands[i], inst, index) != 0) return -1;
  for (size_t i = 0; i < ins->n_implicit_input_operands; i++)
    if (add_input(b, ins->implicit_input_operands[i], inst, index) != 0) return -1;
  for (size_t i = 0; i < ins->n_output_operands; i++)
    if (add_output(b, ins->output_operands[i], inst, index) != 0) return -1;
  for (size_t i = 0; i < ins->n_implicit_output_operands; i++)
    if (add_output(b, ins->implicit_output_operands[i], inst, index) != 0) return -1;
  return inst;
}

/* Throughput is a steady state over many iterations: a value the block reads
 * before writing it comes from the previous iteration's last write. One edge
 * per register and memory value from that last write to the initial value,
 * after all instructions, so Gematria's node and edge order is unchanged. */
static void add_loop_carried_edges(Builder *b) {
  for (int i = 0; i < b->num_regs; i++)
    if (b->regs[i].initial >= 0 && b->regs[i].node != b->regs[i].initial)
      add_edge(b, EDGE_LOOP_CARRIED, b->regs[i].node, b->regs[i].initial);
  for (int i = 0; i < b->num_mems; i++)
    if (b->mems[i].initial >= 0 && b->mems[i].node != b->mems[i].initial)
      add_edge(b, EDGE_LOOP_CARRIED, b->mems[i].node, b->mems[i].initial);
}

/* --granite_critical_path: the carried registers (as the loop-carried edges
 * see them, memory left out: graph/critical_path.c says why) and the zero
 * idioms, then the DAG and recurrences from the finished graph. */
static void add_critical_path(Builder *b, BlockGraph *g, const Gematria__BasicBlockProto *block) {
  int32_t *carried = xmalloc(sizeof(int32_t) * 2 * (size_t)(b->num_regs ? b->num_regs : 1));
  int num_carried = 0;
  for (int i = 0; i < b->num_regs; i++)
    if (b->regs[i].initial >= 0 && b->regs[i].node != b->regs[i].initial) {
      carried[2 * num_carried] = b->regs[i].initial;
      carried[2 * num_carried + 1] = b->regs[i].node;
      num_carried++;
    }
  bool *zero = xmalloc(block->n_canonicalized_instructions);
  for (size_t i = 0; i < block->n_canonicalized_instructions; i++)
    zero[i] = is_zero_idiom(block->canonicalized_instructions[i]);
  graph_critical_path(g, zero, carried, num_carried);
  free(zero);
  free(carried);
}

static void builder_release(Builder *b) {
  free(b->node_tokens);
  free(b->node_types);
  free(b->edge_types);
  free(b->senders);
  free(b->receivers);
  free(b->regs);
  free(b->mems);
}

int graph_build_block(BlockGraph *g, const Gematria__BasicBlockProto *block, const GraphOptions *opts,
                      char *err, size_t err_size) {
  memset(g, 0, sizeof *g);
  char dummy[8];
  if (!err || err_size == 0) {
    err = dummy;
    err_size = sizeof dummy;
  }
  err[0] = '\0';
  if (!block || block->n_canonicalized_instructions == 0) {
    snprintf(err, err_size, "block has no instructions");
    return -1;
  }
  Builder b = {0};
  b.opts = opts;
  b.err = err;
  b.err_size = err_size;
  int prev = -1;
  for (size_t i = 0; i < block->n_canonicalized_instructions; i++) {
    /* reg_map and mem_map live for the whole block (spec §3.2) */
    prev = add_instruction(&b, block->canonicalized_instructions[i], (int)i, prev);
    if (prev < 0) {
      builder_release(&b);
      return -1;
    }
  }
  if (opts->loop_carried_edges) add_loop_carried_edges(&b);
  g->num_nodes = b.num_nodes;
  g->num_edges = b.num_edges;
  g->num_instructions = b.num_instructions;
  g->node_tokens = b.node_tokens;
  g->node_types = b.node_types;
  g->edge_types = b.edge_types;
  g->senders = b.senders;
  g->receivers = b.receivers;
  if (opts->critical_path) add_critical_path(&b, g, block);
  free(b.regs);
  free(b.mems);
  return 0;
}

void block_graph_free(BlockGraph *g) {
  free(g->node_tokens);
  free(g->node_types);
  free(g->edge_types);
  free(g->senders);
  free(g->receivers);
  free(g->dep_from);
  free(g->dep_to);
  free(g->rec_writer);
  free(g->rec_reader_offset);
  free(g->rec_readers);
  memset(g, 0, sizeof *g);
}
