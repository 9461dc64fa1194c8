/* Canonicalization of single instructions and of the spec §3.7 block
 * (spec §2). Expected forms are LLVM 19's, taken from
 * shared/data/llvm-canon/bhive-sample-5000.jsonl where the sample has the
 * instruction; the rest follow docs/canonicalization.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h"
#include "util/common.h"
#include "x86/canonicalize.h"
#include "x86/tokens.h"

/* ---- a compact text form of a canonical instruction ---- */

static void append(char *buf, size_t size, const char *fmt, const char *s) {
  size_t used = strlen(buf);
  if (used < size) snprintf(buf + used, size - used, fmt, s);
}

static void describe_operand(const Gematria__CanonicalizedOperandProto *op, char *buf, size_t size) {
  char tmp[160];
  switch (op->operand_case) {
  case GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_REGISTER_NAME:
    snprintf(tmp, sizeof tmp, "%s", op->register_name);
    break;
  case GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_IMMEDIATE_VALUE:
    snprintf(tmp, sizeof tmp, "#%llu", (unsigned long long)op->immediate_value);
    break;
  case GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_MEMORY:
    snprintf(tmp, sizeof tmp, "mem%d", op->memory->alias_group_id);
    break;
  case GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_ADDRESS:
    snprintf(tmp, sizeof tmp, "addr(%s,%s,%lld,%d,%s)", op->address->base_register,
             op->address->index_register, (long long)op->address->displacement,
             op->address->scaling, op->address->segment);
    break;
  default:
    snprintf(tmp, sizeof tmp, "?");
  }
  append(buf, size, " %s", tmp);
}

static void describe_list(const char *label, Gematria__CanonicalizedOperandProto *const *ops,
                          size_t n, char *buf, size_t size) {
  append(buf, size, "%s:", label);
  for (size_t i = 0; i < n; i++) describe_operand(ops[i], buf, size);
  append(buf, size, "%s", " ");
}

/* "PREFIX MNEMONIC out: ... in: ... iout: ... iin: ..." */
static void describe(const Gematria__CanonicalizedInstructionProto *ci, char *buf, size_t size) {
  buf[0] = '\0';
  for (size_t i = 0; i < ci->n_prefixes; i++) append(buf, size, "%s ", ci->prefixes[i]);
  append(buf, size, "%s ", ci->mnemonic);
  describe_list("out", ci->output_operands, ci->n_output_operands, buf, size);
  describe_list("in", ci->input_operands, ci->n_input_operands, buf, size);
  describe_list("iout", ci->implicit_output_operands, ci->n_implicit_output_operands, buf, size);
  describe_list("iin", ci->implicit_input_operands, ci->n_implicit_input_operands, buf, size);
  size_t n = strlen(buf);
  while (n && buf[n - 1] == ' ') buf[--n] = '\0';
}

static size_t parse_hex(const char *hex, uint8_t *out) {
  size_t n = strlen(hex) / 2;
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    sscanf(hex + 2 * i, "%2x", &v);
    out[i] = (uint8_t)v;
  }
  return n;
}

/* Canonicalizes hex (one instruction expected unless told) and compares
 * instruction `index` with `want`. */
static void check_instruction(const char *hex, int count, int index, const char *want) {
  uint8_t code[64];
  size_t len = parse_hex(hex, code);
  Gematria__BasicBlockProto block;
  gematria__basic_block_proto__init(&block);
  size_t bad = 0;
  int n = x86_canonicalize_block(code, len, 0, &block, &bad);
  CHECK_MSG(n == count, "%s: %d instructions, want %d", hex, n, count);
  if (n > index) {
    char got[1024];
    describe(block.canonicalized_instructions[index], got, sizeof got);
    CHECK_MSG(strcmp(got, want) == 0, "%s:\n   got  %s\n   want %s", hex, got, want);
  }
  x86_block_clear(&block);
}

/* ---- spec §3.7 worked example ---- */

static void test_worked_example(void) {
  uint8_t code[64];
  size_t len = parse_hex("4829d38b44246c8b54246848c1fb034829d04839c3", code);
  Gematria__BasicBlockProto block;
  gematria__basic_block_proto__init(&block);
  size_t bad = 99;
  int n = x86_canonicalize_block(code, len, 0x1000, &block, &bad);
  CHECK(n == 6);
  CHECK(block.n_canonicalized_instructions == 6);
  CHECK(block.n_machine_instructions == 6);
  if (n != 6) {
    x86_block_clear(&block);
    return;
  }
  static const char *const want[6] = {
      "SUB out: RBX in: RBX RDX iout: EFLAGS iin:",
      "MOV out: EAX in: mem1 addr(RSP,,108,1,) iout: iin:",
      "MOV out: EDX in: mem1 addr(RSP,,104,1,) iout: iin:",
      "SAR out: RBX in: RBX #3 iout: EFLAGS iin:",
      "SUB out: RAX in: RAX RDX iout: EFLAGS iin:",
      "CMP out: in: RBX RAX iout: EFLAGS iin:",
  };
  static const char *const assembly[6] = {
      "\tsubq\t%rdx, %rbx",  "\tmovl\t108(%rsp), %eax", "\tmovl\t104(%rsp), %edx",
      "\tsarq\t$3, %rbx",    "\tsubq\t%rdx, %rax",      "\tcmpq\t%rax, %rbx",
  };
  static const size_t offsets[6] = {0, 3, 7, 11, 15, 18};
  static const size_t sizes[6] = {3, 4, 4, 4, 3, 3};
  for (int i = 0; i < 6; i++) {
    char got[512];
    describe(block.canonicalized_instructions[i], got, sizeof got);
    CHECK_MSG(strcmp(got, want[i]) == 0, "instruction %d: got %s, want %s", i, got, want[i]);
    const Gematria__MachineInstructionProto *mi = block.machine_instructions[i];
    CHECK_MSG(strcmp(mi->assembly, assembly[i]) == 0, "assembly %d: got '%s'", i, mi->assembly);
    CHECK(mi->address == 0x1000 + offsets[i]);
    CHECK(mi->machine_code.len == sizes[i]);
    CHECK(mi->machine_code.len == sizes[i] &&
          memcmp(mi->machine_code.data, code + offsets[i], sizes[i]) == 0);
  }
  x86_block_clear(&block);
  CHECK(block.n_canonicalized_instructions == 0 && block.canonicalized_instructions == NULL);
}

static void join_token(const char *token, void *ctx) {
  char *buf = ctx;
  if (buf[0]) strcat(buf, " ");
  strcat(buf, token);
}

static void test_token_list(void) {
  uint8_t code[16];
  size_t len = parse_hex("8b44246c", code);
  Gematria__BasicBlockProto block;
  gematria__basic_block_proto__init(&block);
  size_t bad;
  CHECK(x86_canonicalize_block(code, len, 0, &block, &bad) == 1);
  char tokens[512] = "";
  int n = instruction_token_list(block.canonicalized_instructions[0], join_token, tokens);
  CHECK_MSG(strcmp(tokens, "MOV _D_ EAX _D_ _MEMORY_ _ADDRESS_ RSP _NO_REGISTER_ _DISPLACEMENT_ _D_") == 0,
            "got %s", tokens);
  CHECK(n == 10);
  x86_block_clear(&block);

  /* segment and no-displacement: XOR RCX, FS:[40] vs. [RBX] */
  len = parse_hex("64488b0c2528000000", code);
  CHECK(x86_canonicalize_block(code, len, 0, &block, &bad) == 1);
  tokens[0] = '\0';
  instruction_token_list(block.canonicalized_instructions[0], join_token, tokens);
  CHECK_MSG(strcmp(tokens, "MOV _D_ RCX _D_ _MEMORY_ _ADDRESS_ _NO_REGISTER_ _NO_REGISTER_ FS "
                           "_DISPLACEMENT_ _D_") == 0, "got %s", tokens);
  x86_block_clear(&block);
}

/* ---- one case per rule of spec §2.3 ---- */

static void test_operand_rules(void) {
  /* ADD RAX, RBX: tied destination listed twice */
  check_instruction("4801d8", 1, 0, "ADD out: RAX in: RAX RBX iout: EFLAGS iin:");
  /* read-modify-write: XOR [RCX], RAX */
  check_instruction("483101", 1, 0, "XOR out: mem1 in: mem1 addr(RCX,,0,1,) RAX iout: EFLAGS iin:");
  /* ADD DWORD PTR [RBX+36], EAX (sample: ADD32mr) */
  check_instruction("014324", 1, 0, "ADD out: mem1 in: mem1 addr(RBX,,36,1,) EAX iout: EFLAGS iin:");
  /* LEA: an address, no memory */
  check_instruction("488d7b08", 1, 0, "LEA out: RDI in: addr(RBX,,8,1,) iout: iin:");
  check_instruction("488d0cc7", 1, 0, "LEA out: RCX in: addr(RDI,RAX,0,8,) iout: iin:");
  /* RIP-relative load */
  check_instruction("488b0510000000", 1, 0, "MOV out: RAX in: mem1 addr(RIP,,16,1,) iout: iin:");
  /* load into a tied destination: ADD ESI, [RDI+16] (sample: ADD32rm) */
  check_instruction("037710", 1, 0, "ADD out: ESI in: mem1 ESI addr(RDI,,16,1,) iout: EFLAGS iin:");
  /* store: MOV [RSP+80], RAX (sample: MOV64mr) */
  check_instruction("4889442450", 1, 0, "MOV out: mem1 in: addr(RSP,,80,1,) RAX iout: iin:");
  /* PUSH / POP with RSP */
  check_instruction("50", 1, 0, "PUSH out: mem1 in: RAX iout: RSP iin: RSP");
  check_instruction("5b", 1, 0, "POP out: RBX in: mem1 iout: RSP iin: RSP");
  check_instruction("ffb588feffff", 1, 0,
                    "PUSH out: mem1 in: mem1 addr(RBP,,-376,1,) iout: RSP iin: RSP");
  check_instruction("6a00", 1, 0, "PUSH out: mem1 in: #0 iout: RSP iin: RSP");
  /* DIV / MUL / IMUL with RAX, RDX */
  check_instruction("48f7f7", 1, 0, "DIV out: in: RDI iout: RAX RDX EFLAGS iin: RAX RDX");
  check_instruction("f7f1", 1, 0, "DIV out: in: ECX iout: EAX EDX EFLAGS iin: EAX EDX");
  check_instruction("49f7e2", 1, 0, "MUL out: in: R10 iout: RAX RDX EFLAGS iin: RAX");
  check_instruction("f7ea", 1, 0, "IMUL out: in: EDX iout: EAX EDX EFLAGS iin: EAX");
  check_instruction("480fafd0", 1, 0, "IMUL out: RDX in: RDX RAX iout: EFLAGS iin:");
  check_instruction("486bc028", 1, 0, "IMUL out: RAX in: RAX #40 iout: EFLAGS iin:");
  /* REP MOVSB: RSI/RDI/RCX and DF (docs/canonicalization.md: hardware view) */
  check_instruction("f3a4", 1, 0, "REP MOVSB out: mem1 in: mem1 iout: RDI RSI RCX iin: RDI RSI RCX DF");
  check_instruction("f348ab", 1, 0, "REP STOSQ out: mem1 in: iout: RDI RCX iin: RDI RAX RCX DF");
  check_instruction("a4", 1, 0, "MOVSB out: mem1 in: mem1 iout: RDI RSI iin: RDI RSI DF");
  check_instruction("f2ae", 1, 0, "REPNE SCASB out: in: mem1 iout: RDI RCX EFLAGS iin: AL RDI RCX EFLAGS");
  /* "rep ret" has a prefix, so its mnemonic is upper case (spec §2.2) */
  check_instruction("f3c3", 1, 0, "REP RET out: in: mem1 iout: RSP iin: RSP");
  check_instruction("c3", 1, 0, "ret out: in: mem1 iout: RSP iin: RSP");
  /* conditional instructions: condition code as an extra immediate, EFLAGS read */
  check_instruction("0f4e5730", 1, 0,
                    "CMOVLE out: EDX in: mem1 EDX addr(RDI,,48,1,) #14 iout: iin: EFLAGS");
  check_instruction("480f44de", 1, 0, "CMOVE out: RBX in: RBX RSI #4 iout: iin: EFLAGS");
  check_instruction("0f94c0", 1, 0, "SETE out: AL in: #4 iout: iin: EFLAGS");
  check_instruction("0f95442428", 1, 0, "SETNE out: mem1 in: addr(RSP,,40,1,) #5 iout: iin: EFLAGS");
  check_instruction("7405", 1, 0, "JE out: in: #5 #4 iout: iin: EFLAGS");
  check_instruction("4183d4ff", 1, 0,
                    "ADC out: R12D in: R12D #18446744073709551615 iout: EFLAGS iin: EFLAGS");
  check_instruction("4819d2", 1, 0, "SBB out: RDX in: RDX RDX iout: EFLAGS iin: EFLAGS");
  /* immediates: sign-extended imm8, unsigned imm32 of a 32-bit operation */
  check_instruction("4883e0f8", 1, 0, "AND out: RAX in: RAX #18446744073709551608 iout: EFLAGS iin:");
  check_instruction("f707fcffffff", 1, 0,
                    "TEST out: in: mem1 addr(RDI,,0,1,) #4294967292 iout: EFLAGS iin:");
  check_instruction("49b80000000000ffffff", 1, 0, "MOVABS out: R8 in: #18446742974197923840 iout: iin:");
  /* implicit AL/EAX/RAX and CL */
  check_instruction("3c72", 1, 0, "CMP out: in: #114 iout: EFLAGS iin: AL");
  check_instruction("480540010000", 1, 0, "ADD out: in: #320 iout: RAX EFLAGS iin: RAX");
  check_instruction("49d3ea", 1, 0, "SHR out: R10 in: R10 iout: EFLAGS iin: CL");
  check_instruction("48d1e0", 1, 0, "SHL out: RAX in: RAX iout: EFLAGS iin:");
  /* SSE/AVX: MXCSR where LLVM has it */
  check_instruction("f3450f59c1", 1, 0, "MULSS out: XMM8 in: XMM8 XMM9 iout: iin: MXCSR");
  check_instruction("0f28e6", 1, 0, "MOVAPS out: XMM4 in: XMM6 iout: iin:");
  check_instruction("c4e259b8c4", 1, 0, "VFMADD231PS out: XMM0 in: XMM0 XMM4 XMM4 iout: iin: MXCSR");
  check_instruction("c5fb5cd2", 1, 0, "VSUBSD out: XMM2 in: XMM0 XMM2 iout: iin: MXCSR");
  check_instruction("c5f82e00", 1, 0, "VUCOMISS out: in: mem1 XMM0 addr(RAX,,0,1,) iout: EFLAGS iin: MXCSR");
  check_instruction("f2410f2ac6", 1, 0, "CVTSI2SD out: XMM0 in: XMM0 R14D iout: iin:");
  check_instruction("f2480f2ad0", 1, 0, "CVTSI2SD out: XMM2 in: XMM2 RAX iout: iin: MXCSR");
  check_instruction("0f1606", 1, 0, "MOVHPS out: XMM0 in: mem1 XMM0 addr(RSI,,0,1,) iout: iin:");
  check_instruction("c5f3c2c10d", 1, 0, "VCMPGESD out: XMM0 in: XMM1 XMM1 #13 iout: iin: MXCSR");
  check_instruction("c5f877", 1, 0,
                    "vzeroupper out: in: iout: YMM0 YMM1 YMM2 YMM3 YMM4 YMM5 YMM6 YMM7 YMM8 "
                    "YMM9 YMM10 YMM11 YMM12 YMM13 YMM14 YMM15 iin:");
  check_instruction("0fae1424", 1, 0, "LDMXCSR out: in: mem1 addr(RSP,,0,1,) iout: MXCSR iin:");
  /* x87: FPSW written, FPCW read, no stack registers */
  check_instruction("dd5c2408", 1, 0, "FSTP out: mem1 in: addr(RSP,,8,1,) iout: FPSW iin: FPCW");
  check_instruction("db442404", 1, 0, "FILD out: in: mem1 addr(RSP,,4,1,) iout: FPSW iin: FPCW");
  /* operand-less instructions keep lower case (spec §2.2) */
  check_instruction("90", 1, 0, "nop out: in: iout: iin:");
  check_instruction("c9", 1, 0, "leave out: in: mem1 iout: RBP RSP iin: RBP RSP");
  check_instruction("4898", 1, 0, "cdqe out: in: iout: RAX iin: EAX");
  check_instruction("0faef0", 1, 0, "mfence out: mem1 in: mem1 iout: iin:");
  /* multi-byte NOP: only the address, with the explicit segment */
  check_instruction("0f1f4000", 1, 0, "NOP out: in: addr(RAX,,0,1,) iout: iin:");
  check_instruction("662e0f1f840000000000", 1, 0, "NOP out: in: addr(RAX,RAX,0,1,CS) iout: iin:");
  /* XCHG/XADD with memory: register before the address */
  check_instruction("48877548", 1, 0,
                    "XCHG out: mem1 RSI in: mem1 RSI addr(RBP,,72,1,) iout: iin:");
  check_instruction("480fc102", 1, 0, "XADD out: mem1 RAX in: mem1 RAX addr(RDX,,0,1,) iout: EFLAGS iin:");
  /* a lone F0 is an instruction `lock`; F0 before an instruction splits it */
  check_instruction("f0", 1, 0, "lock out: in: iout: iin:");
  check_instruction("f00fb10e", 2, 0, "lock out: in: iout: iin:");
  check_instruction("f00fb10e", 2, 1,
                    "CMPXCHG out: mem1 in: mem1 addr(RSI,,0,1,) ECX iout: EAX EFLAGS iin: EAX");
  /* a 0x67 prefix that changes nothing prints as ADDR32 in LLVM */
  check_instruction("674d31d2", 1, 0, "ADDR32 out: R10 in: R10 R10 iout: EFLAGS iin:");
}

static void test_lock_machine_code(void) {
  uint8_t code[8];
  size_t len = parse_hex("f00fb10e", code);
  Gematria__BasicBlockProto block;
  gematria__basic_block_proto__init(&block);
  size_t bad;
  CHECK(x86_canonicalize_block(code, len, 16, &block, &bad) == 2);
  if (block.n_machine_instructions == 2) {
    CHECK(block.machine_instructions[0]->machine_code.len == 1);
    CHECK(block.machine_instructions[0]->address == 16);
    CHECK(strcmp(block.machine_instructions[0]->assembly, "\tlock") == 0);
    CHECK(block.machine_instructions[1]->address == 17);
    CHECK(block.machine_instructions[1]->machine_code.len == 3);
    CHECK(strcmp(block.canonicalized_instructions[0]->llvm_mnemonic, "LOCK_PREFIX") == 0);
  }
  x86_block_clear(&block);
}

static void test_undecodable(void) {
  static const struct {
    const char *hex;
    size_t bad_offset;
  } cases[] = {
      {"0f0b0f", 2},    /* UD2 then a truncated two-byte opcode */
      {"ff", 0},        /* truncated ModR/M */
      {"4801d8ff", 3},  /* valid ADD then garbage */
      {"06", 0},        /* PUSH ES: invalid in 64-bit mode */
  };
  for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
    uint8_t code[16];
    size_t len = parse_hex(cases[i].hex, code);
    Gematria__BasicBlockProto block;
    gematria__basic_block_proto__init(&block);
    size_t bad = 12345;
    int n = x86_canonicalize_block(code, len, 0, &block, &bad);
    CHECK_MSG(n == -1, "%s: returned %d", cases[i].hex, n);
    CHECK_MSG(bad == cases[i].bad_offset, "%s: bad offset %zu", cases[i].hex, bad);
    CHECK(block.n_canonicalized_instructions == 0 && block.n_machine_instructions == 0);
    x86_block_clear(&block);
  }
  /* empty input: zero instructions, not an error */
  Gematria__BasicBlockProto block;
  gematria__basic_block_proto__init(&block);
  size_t bad;
  CHECK(x86_canonicalize_block(NULL, 0, 0, &block, &bad) == 0);
  x86_block_clear(&block);
}

static void test_format_intel(void) {
  uint8_t code[16];
  char text[128];
  size_t len = parse_hex("8b44246c", code);
  CHECK(x86_format_intel(code, len, 0, text, sizeof text) == 4);
  CHECK_MSG(strcmp(text, "mov eax, [rsp+0x6C]") == 0, "got %s", text);
  len = parse_hex("4829d3", code);
  CHECK(x86_format_intel(code, len, 0, text, sizeof text) == 3);
  CHECK_MSG(strcmp(text, "sub rbx, rdx") == 0, "got %s", text);
  CHECK(x86_format_intel(code, 0, 0, text, sizeof text) == -1);
  len = parse_hex("ff", code);
  CHECK(x86_format_intel(code, len, 0, text, sizeof text) == -1);
  len = parse_hex("f00fb10e", code);
  CHECK(x86_format_intel(code, len, 0, text, sizeof text) == 1);
  CHECK(strcmp(text, "lock") == 0);
}

int main(void) {
  test_worked_example();
  test_token_list();
  test_operand_rules();
  test_lock_machine_code();
  test_undecodable();
  test_format_intel();
  return test_summary("test_canonicalize");
}
