/* spec §2.4: Instruction::AsTokenList. */
#include "x86/tokens.h"

int operand_token_list(const Gematria__CanonicalizedOperandProto *op, TokenCallback emit,
                       void *ctx) {
  switch (op->operand_case) {
  case GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_REGISTER_NAME:
    emit(op->register_name, ctx);
    return 1;
  case GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_IMMEDIATE_VALUE:
  case GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_FP_IMMEDIATE_VALUE:
    emit(TOKEN_IMMEDIATE, ctx); /* spec §8 item 4: FP immediates share the token */
    return 1;
  case GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_ADDRESS: {
    const Gematria__CanonicalizedOperandProto__AddressTuple *a = op->address;
    int n = 3;
    emit(TOKEN_ADDRESS, ctx);
    emit(a && a->base_register && a->base_register[0] ? a->base_register : TOKEN_NO_REGISTER, ctx);
    emit(a && a->index_register && a->index_register[0] ? a->index_register : TOKEN_NO_REGISTER,
         ctx);
    if (a && a->segment && a->segment[0]) {
      emit(a->segment, ctx);
      n++;
    }
    if (a && a->displacement != 0) {
      emit(TOKEN_DISPLACEMENT, ctx);
      n++;
    }
    return n;
  }
  case GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_MEMORY:
    emit(TOKEN_MEMORY, ctx);
    return 1;
  default:
    return 0; /* spec §1.1: an unknown operand has no tokens */
  }
}

static int operand_list_tokens(Gematria__CanonicalizedOperandProto *const *ops, size_t n,
                               TokenCallback emit, void *ctx) {
  int count = 0;
  for (size_t i = 0; i < n; i++) count += operand_token_list(ops[i], emit, ctx);
  return count;
}

int instruction_token_list(const Gematria__CanonicalizedInstructionProto *instr,
                           TokenCallback emit, void *ctx) {
  int count = 0;
  for (size_t i = 0; i < instr->n_prefixes; i++, count++) emit(instr->prefixes[i], ctx);
  emit(instr->mnemonic ? instr->mnemonic : "", ctx);
  emit(TOKEN_DELIMITER, ctx);
  count += 2;
  /* spec §2.4: outputs first, although the g3doc says inputs first */
  count += operand_list_tokens(instr->output_operands, instr->n_output_operands, emit, ctx);
  count += operand_list_tokens(instr->implicit_output_operands,
                               instr->n_implicit_output_operands, emit, ctx);
  emit(TOKEN_DELIMITER, ctx);
  count++;
  count += operand_list_tokens(instr->input_operands, instr->n_input_operands, emit, ctx);
  count += operand_list_tokens(instr->implicit_input_operands, instr->n_implicit_input_operands,
                               emit, ctx);
  emit(TOKEN_DELIMITER, ctx);
  return count + 1;
}
