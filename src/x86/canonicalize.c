/* x86-64 machine code → Gematria canonical instructions (spec §2) on Zydis.
 *
 * LLVM derives operands from its instruction tables (defs, tied uses,
 * mayLoad/mayStore, implicit defs/uses); here they come from Zydis's operand
 * list (explicit/implicit/hidden operands with read/write actions). The rules
 * below map one onto the other; docs/canonicalization.md lists where the two
 * still differ and why. */
#include "x86/canonicalize.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <Zydis/Zydis.h>

#include "util/common.h"
#include "x86/att_syntax.h"
#include "x86/mnemonic.h"
#include "x86/operand_rules.h"
#include "x86/registers.h"

/* Room for the operands of one instruction (VZEROALL has 16 implicit
 * outputs, the most of any instruction). */
#define MAX_LIST_OPERANDS 40

typedef struct {
  Gematria__CanonicalizedOperandProto *items[MAX_LIST_OPERANDS];
  size_t n;
} OperandList;

static Gematria__CanonicalizedOperandProto *new_operand(void) {
  Gematria__CanonicalizedOperandProto *op = xmalloc(sizeof *op);
  gematria__canonicalized_operand_proto__init(op);
  return op;
}

static void list_push(OperandList *list, Gematria__CanonicalizedOperandProto *op) {
  if (list->n < MAX_LIST_OPERANDS) {
    list->items[list->n++] = op;
  } else {
    protobuf_c_message_free_unpacked(&op->base, NULL);
  }
}

static int list_has_register(const OperandList *list, const char *name) {
  for (size_t i = 0; i < list->n; i++) {
    const Gematria__CanonicalizedOperandProto *op = list->items[i];
    if (op->operand_case == GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_REGISTER_NAME &&
        strcmp(op->register_name, name) == 0)
      return 1;
  }
  return 0;
}

static void push_register_name(OperandList *list, const char *name) {
  Gematria__CanonicalizedOperandProto *op = new_operand();
  op->operand_case = GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_REGISTER_NAME;
  op->register_name = xstrdup(name);
  list_push(list, op);
}

/* Implicit registers are listed once each. */
static void push_implicit_register(OperandList *list, const char *name) {
  if (!list_has_register(list, name)) push_register_name(list, name);
}

static void push_immediate(OperandList *list, uint64_t value) {
  Gematria__CanonicalizedOperandProto *op = new_operand();
  op->operand_case = GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_IMMEDIATE_VALUE;
  op->immediate_value = value;
  list_push(list, op);
}

static void push_memory(OperandList *list) {
  Gematria__CanonicalizedOperandProto *op = new_operand();
  op->operand_case = GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_MEMORY;
  op->memory = xmalloc(sizeof *op->memory);
  gematria__canonicalized_operand_proto__memory_location__init(op->memory);
  op->memory->alias_group_id = 1; /* spec §1.1: everything aliases */
  list_push(list, op);
}

static char *register_string(ZydisRegister reg) {
  char buf[16];
  const char *name = llvm_register_name(reg, buf);
  return xstrdup(name ? name : "");
}

/* The explicit segment override, which LLVM keeps in the address tuple even
 * where 64-bit mode ignores it (the CS of "nop word ptr cs:[rax+rax]"). */
static const char *explicit_segment(const ZydisDecodedInstruction *in) {
  const char *segment = "";
  for (int i = 0; i < in->raw.prefix_count; i++) {
    switch (in->raw.prefixes[i].value) {
    case 0x26: segment = "ES"; break;
    case 0x2e: segment = "CS"; break;
    case 0x36: segment = "SS"; break;
    case 0x3e: segment = "DS"; break;
    case 0x64: segment = "FS"; break;
    case 0x65: segment = "GS"; break;
    default: break;
    }
  }
  return segment;
}

/* spec §2.3 step 4: {base, index, displacement, scaling, segment}; scaling is
 * the multiplier, 1 when there is no index. */
static void push_address(OperandList *list, const ZydisDecodedInstruction *in,
                         const ZydisDecodedOperand *mem) {
  Gematria__CanonicalizedOperandProto *op = new_operand();
  op->operand_case = GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_ADDRESS;
  Gematria__CanonicalizedOperandProto__AddressTuple *a = xmalloc(sizeof *a);
  gematria__canonicalized_operand_proto__address_tuple__init(a);
  a->base_register = register_string(mem->mem.base);
  a->index_register = register_string(mem->mem.index);
  a->displacement = mem->mem.disp.has_displacement ? mem->mem.disp.value : 0;
  a->scaling = mem->mem.index != ZYDIS_REGISTER_NONE && mem->mem.scale ? mem->mem.scale : 1;
  a->segment = xstrdup(explicit_segment(in));
  op->address = a;
  list_push(list, op);
}

static int reads(const ZydisDecodedOperand *op) {
  return (op->actions & (ZYDIS_OPERAND_ACTION_READ | ZYDIS_OPERAND_ACTION_CONDREAD)) != 0;
}

static int writes(const ZydisDecodedOperand *op) {
  return (op->actions & (ZYDIS_OPERAND_ACTION_WRITE | ZYDIS_OPERAND_ACTION_CONDWRITE)) != 0;
}

static int is_memory_access(const ZydisDecodedOperand *op) {
  return op->type == ZYDIS_OPERAND_TYPE_MEMORY && op->mem.type != ZYDIS_MEMOP_TYPE_AGEN &&
         op->mem.type != ZYDIS_MEMOP_TYPE_MIB;
}

/* Implicit and hidden register operands go to the implicit lists. The flags
 * register is EFLAGS, or DF when only the direction flag is involved (LLVM
 * models DF apart: string instructions use DF, CLD/STD define it). */
static void push_implicit_operand(OperandList *imp_out, OperandList *imp_in,
                                  const ZydisDecodedInstruction *in,
                                  const ZydisDecodedOperand *op, int x87) {
  ZydisRegister reg = op->reg.value;
  if (reg == ZYDIS_REGISTER_RIP || reg == ZYDIS_REGISTER_EIP || reg == ZYDIS_REGISTER_IP)
    return; /* branches: LLVM has no implicit program-counter operand */
  if (x87 && (is_x87_stack_register(reg) || reg == ZYDIS_REGISTER_X87TAG))
    return; /* LLVM does not model the x87 stack as implicit operands */
  if (is_flags_register(reg)) {
    const ZydisAccessedFlags *f = in->cpu_flags;
    if (reads(op)) {
      int only_df = f && f->tested == ZYDIS_CPUFLAG_DF;
      push_implicit_register(imp_in, only_df ? "DF" : "EFLAGS");
    }
    if (writes(op)) {
      ZydisAccessedFlagsMask changed =
          f ? (f->modified | f->set_0 | f->set_1 | f->undefined) : 0;
      push_implicit_register(imp_out, changed == ZYDIS_CPUFLAG_DF ? "DF" : "EFLAGS");
    }
    return;
  }
  char buf[16];
  const char *name = llvm_register_name(reg, buf);
  if (!name) return;
  if (writes(op)) push_implicit_register(imp_out, name);
  if (reads(op)) push_implicit_register(imp_in, name);
}

/* LLVM lists EFLAGS (and DF) after the other implicit registers, e.g.
 * DIV64r: defs RAX, RDX, EFLAGS. */
static void move_flags_last(OperandList *list) {
  Gematria__CanonicalizedOperandProto *flags[4];
  size_t nflags = 0, kept = 0;
  for (size_t i = 0; i < list->n; i++) {
    Gematria__CanonicalizedOperandProto *op = list->items[i];
    if ((strcmp(op->register_name, "EFLAGS") == 0 || strcmp(op->register_name, "DF") == 0) &&
        nflags < 4)
      flags[nflags++] = op;
    else
      list->items[kept++] = op;
  }
  for (size_t i = 0; i < nflags; i++) list->items[kept++] = flags[i];
}

static Gematria__CanonicalizedOperandProto **list_to_array(const OperandList *list, size_t *n) {
  *n = list->n;
  if (list->n == 0) return NULL;
  Gematria__CanonicalizedOperandProto **array = xmalloc(list->n * sizeof *array);
  memcpy(array, list->items, list->n * sizeof *array);
  return array;
}

static void add_prefix(Gematria__CanonicalizedInstructionProto *ci, const char *prefix) {
  for (size_t i = 0; i < ci->n_prefixes; i++)
    if (strcmp(ci->prefixes[i], prefix) == 0) return;
  ci->prefixes = xrealloc(ci->prefixes, (ci->n_prefixes + 1) * sizeof *ci->prefixes);
  ci->prefixes[ci->n_prefixes++] = xstrdup(prefix);
}

/* spec §2.2: REP for F3, REPNE for F2 unless the byte is part of the opcode
 * (LLVM's printer says "rep" for every F3, never "repe"); a LOCK that is not
 * the first byte stays a prefix (a leading F0 is its own instruction). */
static void fill_prefixes(Gematria__CanonicalizedInstructionProto *ci,
                          const ZydisDecodedInstruction *in) {
  if (in->attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE)) add_prefix(ci, "REP");
  if (in->attributes & ZYDIS_ATTRIB_HAS_REPNE) add_prefix(ci, "REPNE");
  for (int i = 0; i < in->raw.prefix_count; i++) {
    /* string instructions: Zydis reports their REP as part of the opcode */
    if (in->raw.prefixes[i].type == ZYDIS_PREFIX_TYPE_MANDATORY) continue;
    switch (in->raw.prefixes[i].value) {
    case 0xf3: add_prefix(ci, "REP"); break;
    case 0xf2: add_prefix(ci, "REPNE"); break;
    case 0xf0: add_prefix(ci, "LOCK"); break;
    default: break;
    }
  }
}

/* spec §2.3 for one decoded instruction. */
static void fill_operands(Gematria__CanonicalizedInstructionProto *ci,
                          const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops) {
  OperandList out = {0}, inp = {0}, imp_out = {0}, imp_in = {0};
  const int nop_like = ignores_operands(in);
  const int x87 = in->meta.isa_ext == ZYDIS_ISA_EXT_X87;

  /* spec §2.3 steps 1-2: one memory operand first in inputs if the
   * instruction loads, first in outputs if it stores. */
  int loads = 0, stores = 0;
  for (int i = 0; i < in->operand_count && !nop_like; i++) {
    if (!is_memory_access(&ops[i])) continue;
    loads |= reads(&ops[i]);
    stores |= writes(&ops[i]);
  }
  llvm_memory_effects(in, &loads, &stores);
  if (loads) push_memory(&inp);
  if (stores) push_memory(&out);

  size_t address_position = (size_t)-1;
  for (int i = 0; i < in->operand_count; i++) {
    const ZydisDecodedOperand *op = &ops[i];
    if (op->visibility == ZYDIS_OPERAND_VISIBILITY_EXPLICIT) {
      switch (op->type) {
      case ZYDIS_OPERAND_TYPE_REGISTER: {
        if (nop_like) break;
        char buf[16];
        const char *name = llvm_register_name(op->reg.value, buf);
        if (!name) break;
        /* A conditional write keeps the old value when the condition fails,
         * so the register is read too (LLVM ties CMOVcc's destination). */
        int w = writes(op), r = reads(op) || (op->actions & ZYDIS_OPERAND_ACTION_CONDWRITE) ||
                               merges_into_destination(in, op);
        if (w) push_register_name(&out, name);
        if (r) push_register_name(&inp, name);
        break;
      }
      case ZYDIS_OPERAND_TYPE_MEMORY:
        address_position = inp.n;
        push_address(&inp, in, op);
        break;
      case ZYDIS_OPERAND_TYPE_IMMEDIATE:
        if (!nop_like) push_immediate(&inp, llvm_immediate_value(in, op));
        break;
      case ZYDIS_OPERAND_TYPE_POINTER:
        push_immediate(&inp, op->ptr.offset);
        break;
      default:
        break;
      }
    } else if (op->type == ZYDIS_OPERAND_TYPE_MEMORY) {
      /* the registers addressing a hidden memory operand are read (RSI and
       * RDI of MOVSB, which Zydis marks written only) */
      char buf[16];
      const char *base = llvm_register_name(op->mem.base, buf);
      if (base && op->mem.base != ZYDIS_REGISTER_RIP) {
        push_implicit_register(&imp_in, base);
        /* string instructions advance RSI/RDI (Zydis omits RDI of SCAS) */
        if (is_string_instruction(in)) push_implicit_register(&imp_out, base);
      }
    } else if (op->type == ZYDIS_OPERAND_TYPE_REGISTER) {
      /* Zydis "implicit" (printed, fixed: CL of shifts, AL of CMP AL,imm)
       * and "hidden" operands are LLVM's implicit defs and uses. */
      push_implicit_operand(&imp_out, &imp_in, in, op, x87);
    }
    /* implicit immediates (the 1 of SHL r,1) and hidden memory operands
     * (the stack slot of PUSH) add nothing beyond steps 1-2 */
  }

  /* LLVM orders XCHG/XADD with memory as (value register, address). */
  if (address_position != (size_t)-1 && register_before_address(in) &&
      address_position + 1 < inp.n) {
    Gematria__CanonicalizedOperandProto *addr = inp.items[address_position];
    inp.items[address_position] = inp.items[address_position + 1];
    inp.items[address_position + 1] = addr;
  }

  /* spec §2.3: the condition code is an extra immediate input. */
  int cc = llvm_condition_code(in);
  if (cc >= 0) push_immediate(&inp, (uint64_t)cc);

  if (x87) {
    push_implicit_register(&imp_in, "FPCW"); /* x87 arithmetic honours the control word */
  }
  if (llvm_uses_mxcsr(in, ops)) push_implicit_register(&imp_in, "MXCSR");
  if (in->mnemonic == ZYDIS_MNEMONIC_VZEROUPPER || in->mnemonic == ZYDIS_MNEMONIC_VZEROALL) {
    /* both change every YMM register (Zydis lists none) */
    char name[8];
    for (int r = 0; r < 16; r++) {
      snprintf(name, sizeof name, "YMM%d", r);
      push_implicit_register(&imp_out, name);
    }
  }
  move_flags_last(&imp_out);
  move_flags_last(&imp_in);

  ci->output_operands = list_to_array(&out, &ci->n_output_operands);
  ci->input_operands = list_to_array(&inp, &ci->n_input_operands);
  ci->implicit_output_operands = list_to_array(&imp_out, &ci->n_implicit_output_operands);
  ci->implicit_input_operands = list_to_array(&imp_in, &ci->n_implicit_input_operands);
}

static Gematria__CanonicalizedInstructionProto *canonical_instruction(
    const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops) {
  Gematria__CanonicalizedInstructionProto *ci = xmalloc(sizeof *ci);
  gematria__canonicalized_instruction_proto__init(ci);
  char mnemonic[48];
  llvm_mnemonic(in, ops, mnemonic, sizeof mnemonic);
  ci->mnemonic = xstrdup(mnemonic);
  fill_prefixes(ci, in);
  /* spec §2.2: with a prefix printed first, the mnemonic is the second word,
   * upper-cased ("rep ret" gives RET, unlike a plain "ret") */
  if (ci->n_prefixes > 0)
    for (char *c = ci->mnemonic; *c; c++) *c = (char)toupper((unsigned char)*c);
  fill_operands(ci, in, ops);
  return ci;
}

/* The separate `lock` instruction LLVM decodes from a leading F0 byte. */
static Gematria__CanonicalizedInstructionProto *lock_instruction(void) {
  Gematria__CanonicalizedInstructionProto *ci = xmalloc(sizeof *ci);
  gematria__canonicalized_instruction_proto__init(ci);
  ci->mnemonic = xstrdup("lock");
  ci->llvm_mnemonic = xstrdup("LOCK_PREFIX");
  return ci;
}

static Gematria__MachineInstructionProto *machine_instruction(uint64_t address,
                                                              const uint8_t *bytes, size_t n,
                                                              const char *assembly) {
  Gematria__MachineInstructionProto *mi = xmalloc(sizeof *mi);
  gematria__machine_instruction_proto__init(mi);
  mi->address = address;
  mi->assembly = xstrdup(assembly);
  mi->machine_code.len = n;
  mi->machine_code.data = xmalloc(n ? n : 1);
  memcpy(mi->machine_code.data, bytes, n);
  return mi;
}

typedef struct {
  Gematria__MachineInstructionProto **machine;
  Gematria__CanonicalizedInstructionProto **canonical;
  size_t n, cap;
} InstructionArrays;

static void append_instruction(InstructionArrays *a, Gematria__MachineInstructionProto *mi,
                               Gematria__CanonicalizedInstructionProto *ci) {
  if (a->n == a->cap) {
    a->cap = a->cap ? 2 * a->cap : 16;
    a->machine = xrealloc(a->machine, a->cap * sizeof *a->machine);
    a->canonical = xrealloc(a->canonical, a->cap * sizeof *a->canonical);
  }
  a->machine[a->n] = mi;
  a->canonical[a->n] = ci;
  a->n++;
}

static void free_instruction_arrays(InstructionArrays *a) {
  for (size_t i = 0; i < a->n; i++) {
    protobuf_c_message_free_unpacked(&a->machine[i]->base, NULL);
    protobuf_c_message_free_unpacked(&a->canonical[i]->base, NULL);
  }
  free(a->machine);
  free(a->canonical);
}

int x86_canonicalize_block(const uint8_t *code, size_t len, uint64_t address,
                           Gematria__BasicBlockProto *block, size_t *bad_offset) {
  ZydisDecoder decoder;
  ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  ZydisFormatter att;
  att_formatter_init(&att);

  InstructionArrays arrays = {0};
  size_t offset = 0;
  while (offset < len) {
    if (code[offset] == 0xf0) {
      /* LLVM decodes a leading LOCK byte as an instruction of its own */
      append_instruction(&arrays, machine_instruction(address + offset, code + offset, 1, "\tlock"),
                         lock_instruction());
      offset++;
      continue;
    }
    ZydisDecodedInstruction in;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, code + offset, len - offset, &in, ops))) {
      free_instruction_arrays(&arrays);
      if (bad_offset) *bad_offset = offset;
      return -1;
    }
    char assembly[160];
    att_format(&att, &in, ops, address + offset, assembly, sizeof assembly);
    append_instruction(&arrays,
                       machine_instruction(address + offset, code + offset, in.length, assembly),
                       canonical_instruction(&in, ops));
    offset += in.length;
  }

  if (arrays.n == 0) return 0; /* empty code: nothing to append (and no memcpy from NULL) */
  /* Append to whatever the block already holds. */
  size_t old = block->n_canonicalized_instructions;
  block->canonicalized_instructions =
      xrealloc(block->canonicalized_instructions,
               (old + arrays.n + 1) * sizeof *block->canonicalized_instructions);
  memcpy(block->canonicalized_instructions + old, arrays.canonical,
         arrays.n * sizeof *arrays.canonical);
  block->n_canonicalized_instructions = old + arrays.n;
  size_t old_m = block->n_machine_instructions;
  block->machine_instructions = xrealloc(
      block->machine_instructions, (old_m + arrays.n + 1) * sizeof *block->machine_instructions);
  memcpy(block->machine_instructions + old_m, arrays.machine, arrays.n * sizeof *arrays.machine);
  block->n_machine_instructions = old_m + arrays.n;
  free(arrays.machine);
  free(arrays.canonical);
  return (int)arrays.n;
}

void x86_block_clear(Gematria__BasicBlockProto *block) {
  for (size_t i = 0; i < block->n_machine_instructions; i++)
    protobuf_c_message_free_unpacked(&block->machine_instructions[i]->base, NULL);
  for (size_t i = 0; i < block->n_canonicalized_instructions; i++)
    protobuf_c_message_free_unpacked(&block->canonicalized_instructions[i]->base, NULL);
  free(block->machine_instructions);
  free(block->canonicalized_instructions);
  if (block->fingerprint && block->fingerprint != protobuf_c_empty_string)
    free(block->fingerprint);
  gematria__basic_block_proto__init(block);
}

int x86_format_intel(const uint8_t *code, size_t len, uint64_t address, char *out,
                     size_t out_size) {
  ZydisDecoder decoder;
  ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  ZydisDecodedInstruction in;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
  if (out_size) out[0] = '\0';
  if (len > 0 && code[0] == 0xf0) { /* a leading LOCK is its own instruction, as above */
    snprintf(out, out_size, "lock");
    return 1;
  }
  if (len == 0 || !ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, code, len, &in, ops)))
    return -1;
  ZydisFormatter intel;
  ZydisFormatterInit(&intel, ZYDIS_FORMATTER_STYLE_INTEL);
  if (!ZYAN_SUCCESS(ZydisFormatterFormatInstruction(&intel, &in, ops, in.operand_count_visible,
                                                    out, out_size, address, NULL)))
    return -1;
  return in.length;
}
