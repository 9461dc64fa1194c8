#include "x86/operand_rules.h"

#include <string.h>

int ignores_operands(const ZydisDecodedInstruction *in) {
  return in->mnemonic == ZYDIS_MNEMONIC_NOP;
}

void llvm_memory_effects(const ZydisDecodedInstruction *in, int *loads, int *stores) {
  switch (in->mnemonic) {
  case ZYDIS_MNEMONIC_MFENCE:
  case ZYDIS_MNEMONIC_LFENCE:
  case ZYDIS_MNEMONIC_SFENCE:
    /* A fence orders every earlier load and store against every later one:
     * as a dependency it both reads and writes memory (LLVM agrees). */
    *loads = *stores = 1;
    break;
  default:
    break;
  }
}

int register_before_address(const ZydisDecodedInstruction *in) {
  return in->mnemonic == ZYDIS_MNEMONIC_XCHG || in->mnemonic == ZYDIS_MNEMONIC_XADD;
}

int merges_into_destination(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *op) {
  return in->encoding == ZYDIS_INSTRUCTION_ENCODING_LEGACY && op->id == 0 && op->type == ZYDIS_OPERAND_TYPE_REGISTER &&
         ZydisRegisterGetClass(op->reg.value) == ZYDIS_REGCLASS_XMM && op->size < 128 &&
         (op->actions & ZYDIS_OPERAND_ACTION_WRITE);
}

uint64_t llvm_immediate_value(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *op) {
  uint64_t value = op->imm.value.u;
  if (!op->imm.is_signed || op->imm.is_relative) return value;
  /* LLVM sign-extends 8-bit immediates and immediates narrower than the
   * operation, but keeps a 16/32-bit immediate of a 16/32-bit operation as
   * its unsigned encoding (TEST32mi with 0xfffffffc gives 4294967292). */
  unsigned bits = in->raw.imm[0].size; /* two immediates only in ENTER/EXTRQ/INSERTQ */
  if ((bits == 16 || bits == 32) && in->operand_width == bits)
    return value & ((1ull << bits) - 1);
  return value;
}

static int starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Size in bits of the last explicit operand (the source of CVTSI2SD). */
static int last_explicit_size(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops) {
  return in->operand_count_visible ? ops[in->operand_count_visible - 1].size : 0;
}

int llvm_uses_mxcsr(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops) {
  switch (in->meta.isa_ext) { /* general-purpose and x87 code never uses MXCSR */
  case ZYDIS_ISA_EXT_BASE: case ZYDIS_ISA_EXT_LONGMODE: case ZYDIS_ISA_EXT_X87:
  case ZYDIS_ISA_EXT_BMI1: case ZYDIS_ISA_EXT_BMI2:
    return 0;
  default:
    break;
  }
  const char *m = ZydisMnemonicGetString(in->mnemonic);
  if (!m) return 0;
  if (in->encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY && m[0] == 'v') m++;
  static const char *const ARITH[] = {"add", "sub", "mul", "div", "min", "max", "sqrt",
                                      "addsub", "hadd", "hsub", "round", "cmp", "dp"};
  static const char *const TYPES[] = {"ps", "pd", "ss", "sd"};
  for (size_t i = 0; i < sizeof ARITH / sizeof ARITH[0]; i++) {
    size_t n = strlen(ARITH[i]);
    if (strncmp(m, ARITH[i], n) != 0) continue;
    for (size_t t = 0; t < 4; t++)
      if (strcmp(m + n, TYPES[t]) == 0) return 1;
  }
  if (!strcmp(m, "comiss") || !strcmp(m, "comisd") || !strcmp(m, "ucomiss") ||
      !strcmp(m, "ucomisd"))
    return 1;
  /* FMA: vfmadd*, vfmsub*, vfnmadd*, vfnmsub*, vfmaddsub*, vfmsubadd* */
  if (in->encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY &&
      (starts_with(m, "fmadd") || starts_with(m, "fmsub") || starts_with(m, "fnmadd") ||
       starts_with(m, "fnmsub")))
    return 1;
  if (starts_with(m, "cvt")) {
    /* exact conversions cannot round or raise: int32 → double */
    if (!strcmp(m, "cvtdq2pd") || !strcmp(m, "cvtpi2pd")) return 0;
    if (!strcmp(m, "cvtsi2sd")) return last_explicit_size(in, ops) == 64;
    return 1;
  }
  return 0;
}
