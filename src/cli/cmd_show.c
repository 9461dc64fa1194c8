/* granite show: one block (hex, or record N of a .tfrecord) as assembly,
 * canonical token lists (spec §2.4), throughputs, and its graph's size
 * (spec §3.2). --json prints one object for tools. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/asm_input.h"
#include "cli/commands.h"
#include "cli/flags_simple.h"
#include "cli/token_set.h"
#include "graph/graph.h"
#include "io/bhive_csv.h"
#include "io/block_io.h"
#include "io/vocab.h"
#include "util/common.h"
#include "x86/canonicalize.h"
#include "x86/tokens.h"

static const char *const edge_names[NUM_EDGE_TYPES] = {
    "structural", "input", "output", "address_base", "address_index",
    "address_segment", "address_displacement", "reverse_structural", "prefix", "loop_carried"};
static const char *const node_names[] = {"instruction", "register", "immediate", "fp_immediate",
                                         "address", "memory", "prefix"};

/* ---- a growable text buffer ---- */
typedef struct {
  char *s;
  size_t len, cap;
} Text;

static void text_add(Text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(Text *t, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    size_t room = t->cap - t->len;
    va_start(ap, fmt);
    int n = vsnprintf(t->s ? t->s + t->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < room) {
      t->len += n;
      return;
    }
    grow_array((void **)&t->s, &t->cap, t->len + n + 1, 1);
  }
}

/* A readable Intel-like line rebuilt from the canonical form, for records
 * without machine code: explicit outputs then explicit inputs; a tied input
 * (same register as the first output) and the `memory` markers are folded
 * into the operand they belong to. */
static void append_address(Text *t, const Gematria__CanonicalizedOperandProto__AddressTuple *a) {
  text_add(t, "[");
  if (a->segment[0]) text_add(t, "%s:", a->segment);
  int any = 0;
  if (a->base_register[0]) any = (text_add(t, "%s", a->base_register), 1);
  if (a->index_register[0]) any = (text_add(t, "%s%s*%d", any ? "+" : "", a->index_register, a->scaling), 1);
  if (a->displacement || !any)
    text_add(t, "%s%s0x%" PRIx64, a->displacement < 0 ? "-" : (any ? "+" : ""), "",
             a->displacement < 0 ? (uint64_t)(-(a->displacement + 1)) + 1 : (uint64_t)a->displacement);
  text_add(t, "]");
}

static const Gematria__CanonicalizedOperandProto *first_address(const Gematria__CanonicalizedInstructionProto *ins) {
  for (size_t i = 0; i < ins->n_input_operands; i++)
    if (ins->input_operands[i]->operand_case == GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_ADDRESS)
      return ins->input_operands[i];
  return NULL;
}

static void append_operand(Text *t, const Gematria__CanonicalizedOperandProto *op, int *count) {
  text_add(t, "%s", (*count)++ ? ", " : " ");
  switch (op->operand_case) {
  case GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_REGISTER_NAME: text_add(t, "%s", op->register_name); break;
  case GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_IMMEDIATE_VALUE:
    text_add(t, "0x%" PRIx64, op->immediate_value);
    break;
  case GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_FP_IMMEDIATE_VALUE:
    text_add(t, "%g", op->fp_immediate_value);
    break;
  case GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_ADDRESS: append_address(t, op->address); break;
  default: text_add(t, "?"); break;
  }
}

static void reconstruct_line(Text *t, const Gematria__CanonicalizedInstructionProto *ins) {
  for (size_t p = 0; p < ins->n_prefixes; p++) text_add(t, "%s ", ins->prefixes[p]);
  text_add(t, "%s", ins->mnemonic);
  const Gematria__CanonicalizedOperandProto *addr = first_address(ins);
  int count = 0, address_used = 0;
  const char *tied = NULL;
  for (size_t i = 0; i < ins->n_output_operands; i++) {
    const Gematria__CanonicalizedOperandProto *op = ins->output_operands[i];
    if (op->operand_case == GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_MEMORY) {
      if (addr && !address_used) append_operand(t, addr, &count), address_used = 1;
      continue;
    }
    if (!tied && op->operand_case == GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_REGISTER_NAME)
      tied = op->register_name;
    append_operand(t, op, &count);
  }
  for (size_t i = 0; i < ins->n_input_operands; i++) {
    const Gematria__CanonicalizedOperandProto *op = ins->input_operands[i];
    if (op->operand_case == GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_MEMORY) continue;
    if (op == addr && address_used) continue;
    if (tied && op->operand_case == GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_REGISTER_NAME &&
        !strcmp(op->register_name, tied)) {
      tied = NULL; /* the tied copy of the destination: printed once */
      continue;
    }
    tied = NULL;
    append_operand(t, op, &count);
  }
}

/* Assembly of instruction i: from machine code when the record has it. */
static void assembly_line(Text *t, const Gematria__BasicBlockProto *b, size_t i, int *from_code) {
  *from_code = 0;
  if (i < b->n_machine_instructions && b->machine_instructions[i]->machine_code.len) {
    const Gematria__MachineInstructionProto *m = b->machine_instructions[i];
    char buf[256];
    if (x86_format_intel(m->machine_code.data, m->machine_code.len, m->address, buf, sizeof buf) >= 0) {
      text_add(t, "%s", buf);
      *from_code = 1;
      return;
    }
  }
  reconstruct_line(t, b->canonicalized_instructions[i]);
}

/* ---- token lists ---- */
typedef struct {
  char **items;
  int n;
} Tokens;

static void collect_token(const char *token, void *ctx) {
  Tokens *t = ctx;
  t->items = xrealloc(t->items, (t->n + 1) * sizeof *t->items);
  t->items[t->n++] = xstrdup(token);
}

static void tokens_free(Tokens *t) {
  for (int i = 0; i < t->n; i++) free(t->items[i]);
  free(t->items);
  memset(t, 0, sizeof *t);
}

/* ---- JSON helpers ---- */
static void json_str(const char *s) {
  putchar('"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') printf("\\%c", *p);
    else if (*p < 0x20) printf("\\u%04x", *p);
    else putchar(*p);
  }
  putchar('"');
}

static void json_operand(const Gematria__CanonicalizedOperandProto *op) {
  switch (op->operand_case) {
  case GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_REGISTER_NAME:
    printf("{\"register\": ");
    json_str(op->register_name);
    printf("}");
    break;
  case GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_IMMEDIATE_VALUE:
    printf("{\"immediate\": %" PRIu64 "}", op->immediate_value);
    break;
  case GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_FP_IMMEDIATE_VALUE:
    printf("{\"fp_immediate\": %.17g}", op->fp_immediate_value);
    break;
  case GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_ADDRESS: {
    const Gematria__CanonicalizedOperandProto__AddressTuple *a = op->address;
    printf("{\"address\": {\"base\": ");
    json_str(a->base_register);
    printf(", \"index\": ");
    json_str(a->index_register);
    printf(", \"displacement\": %" PRId64 ", \"scaling\": %d, \"segment\": ", a->displacement, a->scaling);
    json_str(a->segment);
    printf("}}");
    break;
  }
  case GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_MEMORY:
    printf("{\"memory\": %d}", op->memory->alias_group_id);
    break;
  default: printf("{}");
  }
}

static void json_operands(const char *key, size_t n, Gematria__CanonicalizedOperandProto **ops) {
  printf("\"%s\": [", key);
  for (size_t i = 0; i < n; i++) {
    if (i) printf(", ");
    json_operand(ops[i]);
  }
  printf("]");
}

/* ---- the command ---- */

typedef struct {
  int json, list_graph;
  const char *tokens_file;
  const char *where; /* "FILE record N" or "hex" */
} ShowOptions;

static int show_block(const Gematria__BasicBlockWithThroughputProto *rec, const ShowOptions *o) {
  const Gematria__BasicBlockProto *b = rec->basic_block;
  size_t n = b ? b->n_canonicalized_instructions : 0;
  Tokens *per_ins = xcalloc(n ? n : 1, sizeof *per_ins);
  TokenSet block_tokens = {0};
  for (size_t i = 0; i < n; i++) {
    instruction_token_list(b->canonicalized_instructions[i], collect_token, &per_ins[i]);
    for (int k = 0; k < per_ins[i].n; k++) token_set_add(&block_tokens, per_ins[i].items[k]);
  }

  /* vocabulary: the given tokens file, or the block's own tokens */
  Vocab vocab = {0};
  int rc = 0, have_vocab = 1;
  if (o->tokens_file) {
    if (vocab_load(&vocab, o->tokens_file)) {
      rc = 1;
      have_vocab = 0;
    }
  } else {
    int count;
    char **list = token_set_list(&block_tokens, &count);
    vocab_from_list(&vocab, (const char *const *)list, count);
    free(list);
  }
  Tokens oov = {0};
  if (have_vocab)
    for (size_t s = 0; s < block_tokens.num_slots; s++)
      if (block_tokens.slots[s] && vocab_find(&vocab, block_tokens.slots[s]) < 0)
        collect_token(block_tokens.slots[s], &oov);

  BlockGraph g;
  memset(&g, 0, sizeof g);
  char err[256] = "";
  int graph_ok = 0, replaced = 0;
  GraphOptions gopts;
  if (have_vocab && graph_options_init(&gopts, &vocab, "_UNKNOWN_") == 0) {
    graph_ok = b && graph_build_block(&g, b, &gopts, err, sizeof err) == 0;
    if (graph_ok)
      for (int k = 0; k < g.num_nodes; k++) replaced += g.node_tokens[k] == gopts.replacement_token;
  } else if (have_vocab) {
    snprintf(err, sizeof err, "vocabulary lacks a structural token");
  } else {
    snprintf(err, sizeof err, "no vocabulary");
  }

  Text line = {0};
  if (o->json) {
    printf("{\"source\": ");
    json_str(o->where);
    printf(", \"instructions\": [");
    for (size_t i = 0; i < n; i++) {
      const Gematria__CanonicalizedInstructionProto *ins = b->canonicalized_instructions[i];
      int from_code;
      line.len = 0;
      text_add(&line, "%s", "");
      assembly_line(&line, b, i, &from_code);
      printf("%s{\"assembly\": ", i ? ", " : "");
      json_str(line.s);
      printf(", \"assembly_from\": \"%s\", \"mnemonic\": ", from_code ? "machine_code" : "canonical_form");
      json_str(ins->mnemonic);
      printf(", \"llvm_mnemonic\": ");
      json_str(ins->llvm_mnemonic);
      printf(", \"prefixes\": [");
      for (size_t p = 0; p < ins->n_prefixes; p++) {
        if (p) printf(", ");
        json_str(ins->prefixes[p]);
      }
      printf("], \"operands\": {");
      json_operands("outputs", ins->n_output_operands, ins->output_operands);
      printf(", ");
      json_operands("inputs", ins->n_input_operands, ins->input_operands);
      printf(", ");
      json_operands("implicit_outputs", ins->n_implicit_output_operands, ins->implicit_output_operands);
      printf(", ");
      json_operands("implicit_inputs", ins->n_implicit_input_operands, ins->implicit_input_operands);
      printf("}, \"tokens\": [");
      for (int k = 0; k < per_ins[i].n; k++) {
        if (k) printf(", ");
        json_str(per_ins[i].items[k]);
      }
      printf("]}");
    }
    printf("], \"throughputs\": [");
    for (size_t t = 0; t < rec->n_inverse_throughputs; t++) {
      const Gematria__ThroughputWithSourceProto *tp = rec->inverse_throughputs[t];
      printf("%s{\"source\": ", t ? ", " : "");
      json_str(tp->source);
      printf(", \"values\": [");
      for (size_t v = 0; v < tp->n_inverse_throughput_cycles; v++)
        printf("%s%.17g", v ? ", " : "", tp->inverse_throughput_cycles[v]);
      printf("], \"prefix_values\": %zu}", tp->n_prefix_inverse_throughputs);
    }
    printf("], \"vocabulary\": ");
    json_str(o->tokens_file ? o->tokens_file : "block");
    printf(", \"oov_tokens\": [");
    for (int k = 0; k < oov.n; k++) {
      if (k) printf(", ");
      json_str(oov.items[k]);
    }
    printf("]");
    if (graph_ok) {
      printf(", \"num_nodes\": %d, \"num_edges\": %d, \"replaced_nodes\": %d, \"nodes\": [", g.num_nodes, g.num_edges,
             replaced);
      for (int k = 0; k < g.num_nodes; k++) {
        printf("%s{\"token\": ", k ? ", " : "");
        json_str(vocab.tokens[g.node_tokens[k]]);
        printf(", \"type\": \"%s\"}", g.node_types[k] < ARRAY_LEN(node_names) ? node_names[g.node_types[k]] : "?");
      }
      printf("], \"edges\": [");
      for (int k = 0; k < g.num_edges; k++)
        printf("%s{\"type\": \"%s\", \"sender\": %d, \"receiver\": %d}", k ? ", " : "",
               g.edge_types[k] < NUM_EDGE_TYPES ? edge_names[g.edge_types[k]] : "?", g.senders[k], g.receivers[k]);
      printf("]");
    } else {
      printf(", \"graph_error\": ");
      json_str(err);
    }
    printf("}\n");
  } else {
    printf("%s: %zu instruction%s\n", o->where, n, n == 1 ? "" : "s");
    if (b->fingerprint && *b->fingerprint) printf("fingerprint: %s\n", b->fingerprint); /* extract: where from */
    for (size_t i = 0; i < n; i++) {
      int from_code;
      line.len = 0;
      text_add(&line, "%s", "");
      assembly_line(&line, b, i, &from_code);
      printf("  %2zu  %s%s\n", i, line.s, from_code ? "" : "    (rebuilt from the canonical form)");
      printf("      tokens:");
      for (int k = 0; k < per_ins[i].n; k++) printf(" %s", per_ins[i].items[k]);
      printf("\n");
    }
    if (rec->n_inverse_throughputs) printf("throughputs:\n");
    for (size_t t = 0; t < rec->n_inverse_throughputs; t++) {
      const Gematria__ThroughputWithSourceProto *tp = rec->inverse_throughputs[t];
      printf("  \"%s\":", tp->source);
      for (size_t v = 0; v < tp->n_inverse_throughput_cycles; v++) printf(" %g", tp->inverse_throughput_cycles[v]);
      if (tp->n_prefix_inverse_throughputs) printf("  (+%zu prefix entries)", tp->n_prefix_inverse_throughputs);
      printf("\n");
    }
    if (o->tokens_file) {
      printf("vocabulary: %s (%d tokens); out-of-vocabulary tokens: %d", o->tokens_file, vocab.size, oov.n);
      for (int k = 0; k < oov.n; k++) printf("%s%s", k ? " " : " (", oov.items[k]);
      printf("%s\n", oov.n ? ")" : "");
    }
    if (graph_ok) {
      printf("graph: %d nodes, %d edges", g.num_nodes, g.num_edges);
      if (replaced) printf(" (%d nodes replaced by _UNKNOWN_)", replaced);
      printf("\n");
      if (o->list_graph) {
        for (int k = 0; k < g.num_nodes; k++)
          printf("  node %d: %s (%s)\n", k, vocab.tokens[g.node_tokens[k]],
                 g.node_types[k] < ARRAY_LEN(node_names) ? node_names[g.node_types[k]] : "?");
        for (int k = 0; k < g.num_edges; k++)
          printf("  edge %d: %s %d -> %d\n", k, g.edge_types[k] < NUM_EDGE_TYPES ? edge_names[g.edge_types[k]] : "?",
                 g.senders[k], g.receivers[k]);
      }
    } else {
      printf("graph: not built: %s\n", err);
    }
  }
  free(line.s);
  if (graph_ok) block_graph_free(&g);
  tokens_free(&oov);
  for (size_t i = 0; i < n; i++) tokens_free(&per_ins[i]);
  free(per_ins);
  token_set_free(&block_tokens);
  if (have_vocab) vocab_free(&vocab);
  return rc;
}

static int is_regular_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Record `index` of path, or NULL after an error line. */
static Gematria__BasicBlockWithThroughputProto *read_record(const char *path, long index) {
  BlockReader r;
  if (block_reader_open(&r, path)) return NULL;
  Gematria__BasicBlockWithThroughputProto *rec = NULL;
  long i = 0;
  int got;
  while ((got = block_reader_next(&r, &rec)) == 1) {
    if (i++ == index) break;
    block_record_free(rec);
    rec = NULL;
  }
  if (got == 0) gr_error("%s: record %ld: no such record (the file has %ld)", path, index, i);
  block_reader_close(&r);
  return got == 1 ? rec : NULL;
}

/* A record holding the block of code[0..len) (freed here), or NULL after an
 * error line naming `what`. */
static Gematria__BasicBlockWithThroughputProto *record_from_code(uint8_t *code, size_t len, uint64_t address,
                                                                 const char *what) {
  Gematria__BasicBlockProto *block = xmalloc(sizeof *block);
  gematria__basic_block_proto__init(block);
  size_t bad = 0;
  if (x86_canonicalize_block(code, len, address, block, &bad) < 0) {
    gr_error("show: %s: undecodable instruction at byte offset %zu", what, bad);
    free(block);
    free(code);
    return NULL;
  }
  free(code);
  Gematria__BasicBlockWithThroughputProto *rec = xmalloc(sizeof *rec);
  gematria__basic_block_with_throughput_proto__init(rec);
  rec->basic_block = block;
  return rec;
}

static Gematria__BasicBlockWithThroughputProto *record_from_hex(const char *hex, uint64_t address) {
  size_t len = strlen(hex);
  uint8_t *code = xmalloc(len / 2 + 1);
  int kind = bhive_decode_hex(hex, len, code);
  if (kind != BHIVE_OK) {
    gr_error("show: '%s' is neither a file nor machine code in hex (%s)", hex, bhive_line_kind_name(kind));
    free(code);
    return NULL;
  }
  return record_from_code(code, len / 2, address, hex);
}

/* --asm TEXT or --asm-file FILE, assembled by GNU as. */
static Gematria__BasicBlockWithThroughputProto *record_from_asm(const AsmInput *in, uint64_t address) {
  uint8_t *code;
  size_t size;
  if (asm_input_assemble(in, &code, &size)) return NULL;
  return record_from_code(code, size, address, in->file ? in->file : "--asm");
}

int cmd_show(int argc, char **argv) {
  StrList args = {0};
  ShowOptions o = {0};
  int record = 0;
  char *tokens_file = NULL;
  uint64_t address = 0;
  AsmInput asm_in = {0};
  const FlagSpec flags[] = {
      {"record", FLAG_INT, &record, "N", "which record of a .tfrecord file (0-based; default 0)"},
      {"tokens", FLAG_STRING, &tokens_file, "FILE",
       "build the graph with this tokens file (out-of-vocabulary tokens are counted and become "
       "_UNKNOWN_); default: the block's own tokens"},
      {"base-address", FLAG_UINT64, &address, "A", "address of the first instruction of a hex block (default 0)"},
      {"graph", FLAG_BOOL, &o.list_graph, NULL, "also list every node and edge (text output)"},
      {"json", FLAG_BOOL, &o.json, NULL, "print one JSON object instead of text"},
      ASM_INPUT_FLAGS(asm_in),
  };
  FlagTable table = {
      "show", "HEX | FILE.tfrecord [--record N] | --asm TEXT | --asm-file FILE.s [flags]",
      "Prints one basic block: its assembly (Intel syntax; rebuilt from the canonical form when\n"
      "the record has no machine code), the canonical token list of each instruction (spec §2.4),\n"
      "its throughputs (records), and the size of its graph (spec §3.2). With --asm or\n"
      "--asm-file the block is assembly text, assembled by GNU as (Intel syntax, or --att).",
      flags, (int)ARRAY_LEN(flags), &args};
  int st = cli_flags_parse(&table, argc, argv);
  if (st) {
    str_list_free(&args);
    return st == 1 ? 0 : 2;
  }
  if (asm_input_given(&asm_in)) {
    int rc = 2;
    if (args.n)
      gr_error("show: give either --asm/--asm-file or a block, not both (granite show --help)");
    else if (asm_input_check(&asm_in, "show") == 0) {
      Gematria__BasicBlockWithThroughputProto *rec = record_from_asm(&asm_in, address);
      o.where = asm_in.file ? asm_in.file : "assembly";
      o.tokens_file = tokens_file;
      rc = rec ? show_block(rec, &o) : 1;
      if (rec) block_record_free(rec);
    }
    str_list_free(&args);
    return rc;
  }
  if (args.n != 1) {
    gr_error("show: give exactly one block (hex) or one .tfrecord file (granite show --help)");
    str_list_free(&args);
    return 2;
  }
  if (record < 0) {
    gr_error("show: --record must be >= 0");
    str_list_free(&args);
    return 2;
  }
  const char *what = args.items[0];
  Gematria__BasicBlockWithThroughputProto *rec;
  char where[1100];
  if (is_regular_file(what)) {
    rec = read_record(what, record);
    snprintf(where, sizeof where, "%s record %d", what, record);
  } else {
    rec = record_from_hex(what, address);
    snprintf(where, sizeof where, "block %.1000s", what);
  }
  str_list_free(&args);
  if (!rec) return 1;
  o.where = where;
  o.tokens_file = tokens_file;
  int rc = show_block(rec, &o);
  block_record_free(rec);
  return rc;
}
