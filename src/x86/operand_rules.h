/* Per-instruction facts where LLVM's tables and Zydis's operand lists need a
 * rule of their own (spec §2.3; docs/canonicalization.md explains each). */
#ifndef GRANITE_X86_OPERAND_RULES_H
#define GRANITE_X86_OPERAND_RULES_H

#include <stdint.h>

#include <Zydis/Zydis.h>

/* NOP forms with operands (0F 1F /0, hint NOPs): only the address is kept;
 * nothing is read or written. */
int ignores_operands(const ZydisDecodedInstruction *in);

/* Adjusts the load/store decision for instructions whose memory effect is
 * not an operand in Zydis (fences order all memory accesses). */
void llvm_memory_effects(const ZydisDecodedInstruction *in, int *loads, int *stores);

/* XCHG and XADD with a memory operand list the register before the address,
 * as LLVM's operand order (value, address) does. */
int register_before_address(const ZydisDecodedInstruction *in);

/* True if a legacy SSE instruction writes only part of its XMM destination
 * (MOVHPS, MOVLHPS, RCPSS, CVTSD2SS...): the rest keeps its old value, so the
 * destination is read too (LLVM ties it to a source). */
int merges_into_destination(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *op);

/* An immediate as LLVM's disassembler stores it (two's complement uint64). */
uint64_t llvm_immediate_value(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *op);

/* True if LLVM gives the instruction MXCSR as an implicit use: SSE/AVX
 * floating-point arithmetic, compares, conversions that can round or raise. */
int llvm_uses_mxcsr(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops);

#endif
