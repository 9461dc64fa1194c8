/* Vendor mnemonic of a decoded instruction as LLVM's Intel printer spells it
 * (spec §2.2), and the LLVM condition code of conditional instructions. */
#ifndef GRANITE_X86_MNEMONIC_H
#define GRANITE_X86_MNEMONIC_H

#include <stddef.h>

#include <Zydis/Zydis.h>

/* LLVM's X86 condition code of a Jcc/CMOVcc/SETcc (O=0 ... G=15, the low
 * nibble of the opcode), or -1 for other instructions. */
int llvm_condition_code(const ZydisDecodedInstruction *in);

/* True for the string instructions (MOVS, STOS, LODS, CMPS, SCAS, INS, OUTS). */
int is_string_instruction(const ZydisDecodedInstruction *in);

/* Writes the mnemonic: upper case, or lower case when LLVM prints the
 * instruction without operands (spec §2.2, §8 item 1). */
void llvm_mnemonic(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops, char *buf,
                   size_t size);

#endif
