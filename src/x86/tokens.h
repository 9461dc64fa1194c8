/* The token list of a canonical instruction (spec §2.4), shared by the
 * `granite tokens` command, the graph builder's checks and the LLVM agreement
 * test. */
#ifndef GRANITE_X86_TOKENS_H
#define GRANITE_X86_TOKENS_H

#include "gematria.pb-c.h"

/* Structural tokens of spec §2.4. */
#define TOKEN_DELIMITER "_D_"
#define TOKEN_IMMEDIATE "_IMMEDIATE_"
#define TOKEN_ADDRESS "_ADDRESS_"
#define TOKEN_NO_REGISTER "_NO_REGISTER_"
#define TOKEN_DISPLACEMENT "_DISPLACEMENT_"
#define TOKEN_MEMORY "_MEMORY_"

/* Called once per token, in order. */
typedef void (*TokenCallback)(const char *token, void *ctx);

/* Emits the tokens of one instruction in spec §2.4 order: prefixes, mnemonic,
 * _D_, output then implicit output tokens, _D_, input then implicit input
 * tokens, _D_. Returns the number of tokens emitted. */
int instruction_token_list(const Gematria__CanonicalizedInstructionProto *instr,
                           TokenCallback emit, void *ctx);

/* Tokens of one operand (none for an operand with no oneof member set).
 * Returns the number emitted. */
int operand_token_list(const Gematria__CanonicalizedOperandProto *op, TokenCallback emit,
                       void *ctx);

#endif
