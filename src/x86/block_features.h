/* Facts about a canonicalized basic block that group blocks for error
 * analysis (`granite eval`, docs/accuracy-tools.md): size, division, memory
 * loads and stores, push/pop chains, vector registers, and whether the block
 * carries a register or flag dependency from one iteration to the next. */
#ifndef GRANITE_X86_BLOCK_FEATURES_H
#define GRANITE_X86_BLOCK_FEATURES_H

#include <stdbool.h>

#include "gematria.pb-c.h"

typedef struct {
  int num_instructions;
  bool has_division;  /* DIV, IDIV, x87 FDIV/FIDIV/FSQRT, (V)DIVxx, (V)SQRTxx */
  bool has_load;      /* a memory operand among the (implicit) inputs */
  bool has_store;     /* a memory operand among the (implicit) outputs */
  int num_push_pop;   /* PUSH and POP instructions */
  bool push_pop_chain; /* num_push_pop >= 3 */
  bool has_vector;    /* any XMM, YMM or ZMM register operand */
  /* Some register or flag is read before the block writes it and is written
   * later in the block (by the same or a later instruction): iteration n+1
   * then waits for iteration n. Registers are compared by their widest
   * enclosing register (EAX and AL are RAX; XMM3 is ZMM3), flags as EFLAGS;
   * the inputs of zero idioms (xor eax, eax; pxor xmm0, xmm0; sub r, r) are
   * not reads. */
  bool loop_carried;
  /* The first such register (e.g. "RAX", "EFLAGS"), "" if none. */
  char carried_register[16];
} BlockFeatures;

/* xor eax, eax; pxor xmm0, xmm0; sub r, r and the like: the result does not
 * depend on the inputs (every explicit input is the same register). */
bool is_zero_idiom(const Gematria__CanonicalizedInstructionProto *ins);

void block_features_compute(const Gematria__BasicBlockProto *block, BlockFeatures *out);

/* The widest register that contains `name` (LLVM spelling): "EAX", "AX",
 * "AL", "AH" -> "RAX"; "R9D" -> "R9"; "XMM3", "YMM3" -> "ZMM3"; any other
 * name as it is. Writes into buf (16 bytes) and returns it. */
const char *widest_register(const char *name, char *buf);

#endif
