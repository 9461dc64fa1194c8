#include "collect/instruction_class.h"

InstructionClass instruction_class(const ZydisDecodedInstruction *in) {
  switch (in->mnemonic) {
  case ZYDIS_MNEMONIC_IRET:
  case ZYDIS_MNEMONIC_IRETD:
  case ZYDIS_MNEMONIC_IRETQ: return INSN_INTERRUPT; /* Zydis files these under RET */
  case ZYDIS_MNEMONIC_UD0:
  case ZYDIS_MNEMONIC_UD1:
  case ZYDIS_MNEMONIC_UD2: return INSN_UNDEFINED;
  case ZYDIS_MNEMONIC_CLI:
  case ZYDIS_MNEMONIC_STI: return INSN_IO; /* IOPL-sensitive, not marked privileged */
  default: break;
  }
  switch (in->meta.category) {
  case ZYDIS_CATEGORY_SYSCALL:
  case ZYDIS_CATEGORY_SYSRET: return INSN_SYSCALL;
  case ZYDIS_CATEGORY_INTERRUPT: return INSN_INTERRUPT;
  case ZYDIS_CATEGORY_COND_BR:
  case ZYDIS_CATEGORY_UNCOND_BR:
  case ZYDIS_CATEGORY_CALL:
  case ZYDIS_CATEGORY_RET: return INSN_CONTROL;
  default: break;
  }
  if (in->meta.branch_type != ZYDIS_BRANCH_TYPE_NONE) return INSN_CONTROL;
  if (in->attributes & ZYDIS_ATTRIB_IS_PRIVILEGED) return INSN_PRIVILEGED;
  if (in->meta.category == ZYDIS_CATEGORY_IO || in->meta.category == ZYDIS_CATEGORY_IOSTRINGOP) return INSN_IO;
  return INSN_PLAIN;
}

int instruction_ends_block(const ZydisDecodedInstruction *in) {
  switch (instruction_class(in)) {
  case INSN_CONTROL:
  case INSN_SYSCALL:
  case INSN_INTERRUPT:
  case INSN_UNDEFINED: return 1;
  default: return in->mnemonic == ZYDIS_MNEMONIC_HLT;
  }
}

int instruction_accesses_memory(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops) {
  /* multi-byte nops have a memory operand that is never accessed */
  if (in->mnemonic == ZYDIS_MNEMONIC_NOP) return 0;
  for (int i = 0; i < in->operand_count; i++)
    if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && ops[i].mem.type != ZYDIS_MEMOP_TYPE_AGEN)
      return 1;
  return 0;
}
