/* What kind of x86-64 instruction a decoded instruction is, as far as block
 * splitting (extract) and filtering (filter) care: does it end a basic block,
 * and may a measuring harness run it at user level. */
#ifndef GRANITE_COLLECT_INSTRUCTION_CLASS_H
#define GRANITE_COLLECT_INSTRUCTION_CLASS_H

#include <Zydis/Zydis.h>

typedef enum {
  INSN_PLAIN,       /* straight-line code */
  INSN_CONTROL,     /* jump, conditional jump, call, return (near or far), loop, xbegin/xend */
  INSN_SYSCALL,     /* syscall, sysenter, sysret, sysexit */
  INSN_INTERRUPT,   /* int n, int1, int3, into, iret */
  INSN_UNDEFINED,   /* ud0, ud1, ud2: defined to raise #UD */
  INSN_PRIVILEGED,  /* needs ring 0 (Zydis' privilege attribute: hlt, mov to CRn, wrmsr, ...) */
  INSN_IO,          /* port I/O and interrupt flag (in, out, ins, outs, cli, sti): fault at IOPL 0 */
  INSN_NUM_CLASSES
} InstructionClass;

InstructionClass instruction_class(const ZydisDecodedInstruction *in);

/* Does executing it leave straight-line code (the next instruction starts
 * a new basic block)? Control transfers, system calls, interrupts, #UD and
 * hlt. */
int instruction_ends_block(const ZydisDecodedInstruction *in);

/* Does it read or write memory (explicit or hidden operands: push, pop,
 * string instructions); lea and other address-only operands do not. ops
 * holds all in->operand_count operands (ZydisDecoderDecodeFull). */
int instruction_accesses_memory(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops);

#endif
