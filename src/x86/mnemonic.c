#include "x86/mnemonic.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* LLVM's condition-code suffixes, indexed by the opcode's low nibble. */
static const char *const CONDITION_NAMES[16] = {"O", "NO", "B",  "AE", "E", "NE", "BE", "A",
                                                "S", "NS", "P",  "NP", "L", "GE", "LE", "G"};

/* Predicate names LLVM prints inside CMPPS/CMPPD/CMPSS/CMPSD (0-7 for SSE,
 * 0-31 for VEX/EVEX), e.g. VCMPSS with 13 prints as vcmpgess. */
static const char *const CMP_PREDICATES[32] = {
    "eq",    "lt",    "le",     "unord",    "neq",    "nlt",    "nle",    "ord",
    "eq_uq", "nge",   "ngt",    "false",    "neq_oq", "ge",     "gt",     "true",
    "eq_os", "lt_oq", "le_oq",  "unord_s",  "neq_us", "nlt_uq", "nle_uq", "ord_s",
    "eq_us", "nge_uq", "ngt_uq", "false_os", "neq_os", "ge_oq", "gt_oq",  "true_us"};

int llvm_condition_code(const ZydisDecodedInstruction *in) {
  switch (in->meta.category) {
  case ZYDIS_CATEGORY_COND_BR:
    /* JCXZ/JECXZ/JRCXZ and LOOPcc are COND_BR too but have no condition code */
    if (in->opcode_map == ZYDIS_OPCODE_MAP_DEFAULT && in->opcode >= 0x70 && in->opcode <= 0x7f)
      return in->opcode & 0xf;
    if (in->opcode_map == ZYDIS_OPCODE_MAP_0F && in->opcode >= 0x80 && in->opcode <= 0x8f)
      return in->opcode & 0xf;
    return -1;
  case ZYDIS_CATEGORY_CMOV:
  case ZYDIS_CATEGORY_SETCC:
    if (in->opcode_map == ZYDIS_OPCODE_MAP_0F) return in->opcode & 0xf;
    return -1;
  default:
    return -1;
  }
}

int is_string_instruction(const ZydisDecodedInstruction *in) {
  return in->meta.category == ZYDIS_CATEGORY_STRINGOP ||
         in->meta.category == ZYDIS_CATEGORY_IOSTRINGOP;
}

static void upper_copy(char *dst, size_t size, const char *src) {
  size_t i = 0;
  for (; src[i] && i + 1 < size; i++) dst[i] = (char)toupper((unsigned char)src[i]);
  dst[i] = '\0';
}

static int is_sse_compare(ZydisMnemonic m) {
  switch (m) {
  case ZYDIS_MNEMONIC_CMPPS: case ZYDIS_MNEMONIC_CMPPD: case ZYDIS_MNEMONIC_CMPSS:
  case ZYDIS_MNEMONIC_CMPSD: case ZYDIS_MNEMONIC_VCMPPS: case ZYDIS_MNEMONIC_VCMPPD:
  case ZYDIS_MNEMONIC_VCMPSS: case ZYDIS_MNEMONIC_VCMPSD:
    return 1;
  default:
    return 0;
  }
}

/* Last explicit immediate operand, or NULL. */
static const ZydisDecodedOperand *last_immediate(const ZydisDecodedInstruction *in,
                                                 const ZydisDecodedOperand *ops) {
  const ZydisDecodedOperand *imm = NULL;
  for (int i = 0; i < in->operand_count_visible; i++)
    if (ops[i].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) imm = &ops[i];
  return imm;
}

static int has_explicit_memory(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops) {
  for (int i = 0; i < in->operand_count_visible; i++)
    if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY) return 1;
  return 0;
}

void llvm_mnemonic(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops, char *buf,
                   size_t size) {
  const char *zydis = ZydisMnemonicGetString(in->mnemonic);
  if (!zydis) zydis = "invalid";
  /* LLVM prints a 0x67 prefix that changes nothing as a separate word,
   * "addr32 xor r10, r10", so it becomes the mnemonic under spec §2.2. */
  if ((in->attributes & ZYDIS_ATTRIB_HAS_ADDRESSSIZE) && !has_explicit_memory(in, ops) &&
      !is_string_instruction(in) && in->operand_count_visible > 0) {
    snprintf(buf, size, "ADDR32");
    return;
  }
  int cc = llvm_condition_code(in);
  if (cc >= 0) {
    const char *base = in->meta.category == ZYDIS_CATEGORY_CMOV    ? "CMOV"
                       : in->meta.category == ZYDIS_CATEGORY_SETCC ? "SET"
                                                                   : "J";
    snprintf(buf, size, "%s%s", base, CONDITION_NAMES[cc]);
    return;
  }
  if (in->mnemonic == ZYDIS_MNEMONIC_MOV && in->opcode_map == ZYDIS_OPCODE_MAP_DEFAULT &&
      ((in->opcode >= 0xb8 && in->opcode <= 0xbf && in->operand_width == 64) ||
       (in->opcode >= 0xa0 && in->opcode <= 0xa3))) {
    snprintf(buf, size, "MOVABS"); /* 64-bit immediate or absolute address */
    return;
  }
  if (is_sse_compare(in->mnemonic)) {
    const ZydisDecodedOperand *imm = last_immediate(in, ops);
    int vex = in->encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY;
    if (imm && imm->imm.value.u < (vex ? 32u : 8u)) {
      char lower[32];
      size_t n = strlen(zydis); /* e.g. "vcmpss": insert the predicate before "ss" */
      snprintf(lower, sizeof lower, "%.*s%s%s", (int)(n - 2), zydis,
               CMP_PREDICATES[imm->imm.value.u], zydis + n - 2);
      upper_copy(buf, size, lower);
      return;
    }
  }
  if (in->mnemonic == ZYDIS_MNEMONIC_FWAIT) zydis = "wait";
  if (in->mnemonic == ZYDIS_MNEMONIC_XLAT) zydis = "xlatb";
  /* spec §2.2: an instruction printed without operands keeps LLVM's lower
   * case; LLVM prints the memory operands of string instructions. */
  if (in->operand_count_visible == 0 && !is_string_instruction(in)) {
    snprintf(buf, size, "%s", zydis);
    return;
  }
  upper_copy(buf, size, zydis);
}
