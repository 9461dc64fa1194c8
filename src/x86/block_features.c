/* Block features for error analysis (x86/block_features.h), computed from the
 * canonical form, so they work for records without machine code too. */
#include "x86/block_features.h"

#include <stdio.h>
#include <string.h>

typedef Gematria__CanonicalizedOperandProto Operand;
typedef Gematria__CanonicalizedInstructionProto Instruction;

#define REG_CASE(op) ((op)->operand_case == GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_REGISTER_NAME)
#define MEM_CASE(op) ((op)->operand_case == GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_MEMORY)
#define ADDR_CASE(op) ((op)->operand_case == GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_ADDRESS)

const char *widest_register(const char *name, char *buf) {
  size_t n = strlen(name);
  /* the legacy eight: AL AH AX EAX RAX, SIL SI ESI RSI, ... */
  static const char *const legacy[][6] = {
      {"RAX", "EAX", "AX", "AL", "AH", NULL},  {"RBX", "EBX", "BX", "BL", "BH", NULL},
      {"RCX", "ECX", "CX", "CL", "CH", NULL},  {"RDX", "EDX", "DX", "DL", "DH", NULL},
      {"RSI", "ESI", "SI", "SIL", NULL, NULL}, {"RDI", "EDI", "DI", "DIL", NULL, NULL},
      {"RBP", "EBP", "BP", "BPL", NULL, NULL}, {"RSP", "ESP", "SP", "SPL", NULL, NULL},
  };
  for (size_t r = 0; r < sizeof legacy / sizeof legacy[0]; r++)
    for (int k = 0; k < 6 && legacy[r][k]; k++)
      if (!strcmp(name, legacy[r][k])) return strcpy(buf, legacy[r][0]);
  /* R8..R15 with a B, W or D suffix */
  if (name[0] == 'R' && n >= 2 && n <= 4 && name[1] >= '0' && name[1] <= '9') {
    size_t digits = 1 + (n >= 3 && name[2] >= '0' && name[2] <= '9');
    const char *suffix = name + 1 + digits;
    if (!*suffix || (!suffix[1] && (*suffix == 'B' || *suffix == 'W' || *suffix == 'D'))) {
      snprintf(buf, 16, "R%.*s", (int)digits, name + 1);
      return buf;
    }
  }
  if (n > 3 && (!strncmp(name, "XMM", 3) || !strncmp(name, "YMM", 3) || !strncmp(name, "ZMM", 3))) {
    snprintf(buf, 16, "ZMM%.12s", name + 3);
    return buf;
  }
  snprintf(buf, 16, "%s", name);
  return buf;
}

static bool is_vector_register(const char *name) {
  return !strncmp(name, "XMM", 3) || !strncmp(name, "YMM", 3) || !strncmp(name, "ZMM", 3);
}

static bool starts_with(const char *s, const char *prefix) { return !strncmp(s, prefix, strlen(prefix)); }

static bool is_division(const char *m) {
  if (starts_with(m, "DIV") || starts_with(m, "IDIV") || starts_with(m, "SQRT") || starts_with(m, "FDIV") ||
      starts_with(m, "FIDIV") || starts_with(m, "FSQRT"))
    return true;
  return m[0] == 'V' && (starts_with(m + 1, "DIV") || starts_with(m + 1, "SQRT")); /* VDIVPS, VSQRTSD */
}

/* xor eax, eax and friends: the result does not depend on the register. */
bool is_zero_idiom(const Gematria__CanonicalizedInstructionProto *ins) {
  static const char *const idioms[] = {"XOR",   "SUB",    "PXOR",   "VPXOR",  "XORPS",  "XORPD",  "VXORPS",
                                       "VXORPD", "PSUBB", "PSUBW",  "PSUBD",  "PSUBQ",  "VPSUBB", "VPSUBW",
                                       "VPSUBD", "VPSUBQ", "PCMPGTB", "PCMPGTW", "PCMPGTD", "PCMPGTQ", NULL};
  const char *m = ins->mnemonic ? ins->mnemonic : "";
  bool listed = false;
  for (int i = 0; idioms[i]; i++) listed |= !strcmp(m, idioms[i]);
  if (!listed) return false;
  /* every explicit input is the same register */
  const char *first = NULL;
  int regs = 0;
  for (size_t i = 0; i < ins->n_input_operands; i++) {
    const Operand *op = ins->input_operands[i];
    if (!REG_CASE(op)) return false;
    if (!first) first = op->register_name;
    else if (strcmp(first, op->register_name)) return false;
    regs++;
  }
  return regs >= 2;
}

/* Registers seen so far: written in the block, or read before any write. */
typedef struct {
  char names[64][16];
  unsigned char written[64], read_first[64];
  int n;
} RegState;

static int slot(RegState *s, const char *name) {
  char wide[16];
  widest_register(name, wide);
  for (int i = 0; i < s->n; i++)
    if (!strcmp(s->names[i], wide)) return i;
  if (s->n == 64) return -1; /* more distinct registers than any block has */
  strcpy(s->names[s->n], wide);
  s->written[s->n] = s->read_first[s->n] = 0;
  return s->n++;
}

static void note_read(RegState *s, const char *name) {
  if (!name || !name[0]) return;
  int i = slot(s, name);
  if (i >= 0 && !s->written[i]) s->read_first[i] = 1;
}

static void note_inputs(RegState *s, Operand *const *ops, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const Operand *op = ops[i];
    if (REG_CASE(op)) note_read(s, op->register_name);
    if (ADDR_CASE(op) && op->address) {
      note_read(s, op->address->base_register);
      note_read(s, op->address->index_register);
      note_read(s, op->address->segment);
    }
  }
}

static void scan_operands(BlockFeatures *out, Operand *const *ops, size_t n, bool is_output) {
  for (size_t i = 0; i < n; i++) {
    const Operand *op = ops[i];
    if (MEM_CASE(op)) {
      if (is_output) out->has_store = true;
      else out->has_load = true;
    }
    if (REG_CASE(op) && is_vector_register(op->register_name)) out->has_vector = true;
    if (ADDR_CASE(op) && op->address && op->address->index_register &&
        is_vector_register(op->address->index_register))
      out->has_vector = true; /* gathers and scatters */
  }
}

void block_features_compute(const Gematria__BasicBlockProto *block, BlockFeatures *out) {
  memset(out, 0, sizeof *out);
  RegState s;
  s.n = 0;
  for (size_t k = 0; block && k < block->n_canonicalized_instructions; k++) {
    const Instruction *ins = block->canonicalized_instructions[k];
    const char *m = ins->mnemonic ? ins->mnemonic : "";
    out->num_instructions++;
    if (is_division(m)) out->has_division = true;
    if (!strcmp(m, "PUSH") || !strcmp(m, "POP")) out->num_push_pop++;
    scan_operands(out, ins->input_operands, ins->n_input_operands, false);
    scan_operands(out, ins->implicit_input_operands, ins->n_implicit_input_operands, false);
    scan_operands(out, ins->output_operands, ins->n_output_operands, true);
    scan_operands(out, ins->implicit_output_operands, ins->n_implicit_output_operands, true);
    /* reads of this instruction happen before its writes */
    if (!is_zero_idiom(ins)) note_inputs(&s, ins->input_operands, ins->n_input_operands);
    note_inputs(&s, ins->implicit_input_operands, ins->n_implicit_input_operands);
    for (int pass = 0; pass < 2; pass++) {
      Operand *const *ops = pass ? ins->implicit_output_operands : ins->output_operands;
      size_t n = pass ? ins->n_implicit_output_operands : ins->n_output_operands;
      for (size_t i = 0; i < n; i++) {
        if (!REG_CASE(ops[i])) continue;
        int r = slot(&s, ops[i]->register_name);
        if (r < 0) continue;
        if (s.read_first[r] && !out->loop_carried) {
          out->loop_carried = true;
          snprintf(out->carried_register, sizeof out->carried_register, "%s", s.names[r]);
        }
        s.written[r] = 1;
      }
    }
  }
  out->push_pop_chain = out->num_push_pop >= 3;
}
