/* AT&T text of an instruction for MachineInstructionProto.assembly (spec
 * §1.1: informative only), shaped like LLVM's: "\tsubq\t%rdx, %rbx". */
#ifndef GRANITE_X86_ATT_SYNTAX_H
#define GRANITE_X86_ATT_SYNTAX_H

#include <stddef.h>
#include <stdint.h>

#include <Zydis/Zydis.h>

/* A Zydis AT&T formatter printing decimal numbers as LLVM does. */
void att_formatter_init(ZydisFormatter *f);

/* Writes "\t<mnemonic with size suffix>\t<operands>" into out. */
void att_format(const ZydisFormatter *f, const ZydisDecodedInstruction *in,
                const ZydisDecodedOperand *ops, uint64_t address, char *out, size_t size);

#endif
