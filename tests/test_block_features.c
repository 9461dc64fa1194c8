/* Block features for error analysis (x86/block_features.h) on hand-made
 * blocks whose groups are known: machine code canonicalized by our own
 * canonicalizer, then the features compared with what the assembly says. */
#include <stdlib.h>
#include <string.h>

#include "testing.h"
#include "x86/block_features.h"
#include "x86/canonicalize.h"

static BlockFeatures features_of(const char *hex) {
  uint8_t code[256];
  size_t n = strlen(hex) / 2;
  for (size_t i = 0; i < n; i++) sscanf(hex + 2 * i, "%2hhx", &code[i]);
  Gematria__BasicBlockProto b;
  gematria__basic_block_proto__init(&b);
  size_t bad;
  BlockFeatures f;
  memset(&f, 0, sizeof f);
  if (x86_canonicalize_block(code, n, 0, &b, &bad) < 0) {
    fprintf(stderr, "cannot decode %s at %zu\n", hex, bad);
    test_failures++;
    return f;
  }
  block_features_compute(&b, &f);
  x86_block_clear(&b);
  return f;
}

static void test_groups(void) {
  /* add rax, rbx; add rcx, rdx: rax is read then written: loop-carried */
  BlockFeatures f = features_of("4801d84801d1");
  CHECK(f.num_instructions == 2 && !f.has_division && !f.has_load && !f.has_store && !f.has_vector);
  CHECK(f.num_push_pop == 0 && !f.push_pop_chain);
  CHECK(f.loop_carried && !strcmp(f.carried_register, "RAX"));

  /* mov eax, [rsp+0x6c]; mov [rdi], rax: a load and a store; eax written
   * before rax is read, rsp and rdi never written: nothing carried */
  f = features_of("8b44246c488907");
  CHECK(f.has_load && f.has_store && !f.loop_carried && f.carried_register[0] == 0);

  /* push rbp; push rbx; pop rbx; pop rbp: a chain of 4; loads and stores
   * (the stack); RSP read and written by each: carried */
  f = features_of("55535b5d");
  CHECK(f.num_push_pop == 4 && f.push_pop_chain && f.has_load && f.has_store);
  CHECK(f.loop_carried && !strcmp(f.carried_register, "RSP"));
  /* two push/pop are not a chain */
  f = features_of("555d");
  CHECK(f.num_push_pop == 2 && !f.push_pop_chain);

  /* cqo; idiv rcx: division; rax -> rdx:rax read then written: carried */
  f = features_of("489948f7f9");
  CHECK(f.has_division && f.loop_carried && !f.has_vector);
  /* divsd xmm0, xmm1 (division, vector, xmm0 carried through ZMM0) */
  f = features_of("f20f5ec1");
  CHECK(f.has_division && f.has_vector && f.loop_carried && !strcmp(f.carried_register, "ZMM0"));
  /* vsqrtps ymm0, ymm1: a square root counts as division; ymm1 is only read */
  f = features_of("c5fc51c1");
  CHECK(f.has_division && f.has_vector && !f.loop_carried);
  /* mulsd xmm0, xmm1 is neither division nor a square root */
  f = features_of("f20f59c1");
  CHECK(!f.has_division && f.has_vector);

  /* zero idioms are not reads: xor eax, eax; add eax, 1 -> eax written first */
  f = features_of("31c083c001");
  CHECK(!f.loop_carried);
  /* pxor xmm0, xmm0; addps xmm0, xmm1 */
  f = features_of("660fefc00f58c1");
  CHECK(!f.loop_carried && f.has_vector);
  /* but xor eax, ebx reads eax: carried */
  f = features_of("31d8");
  CHECK(f.loop_carried && !strcmp(f.carried_register, "RAX"));

  /* flags: cmp rax, rbx; adc rcx, 0 -> EFLAGS written before being read by adc;
   * rcx read and written: carried through RCX, not EFLAGS */
  f = features_of("4839d84883d100");
  CHECK(f.loop_carried && !strcmp(f.carried_register, "RCX"));
  /* adc rax, rbx alone reads CF and writes it back: EFLAGS carried (rax first) */
  f = features_of("4811d8");
  CHECK(f.loop_carried);
  /* setc al; cmp rbx, rcx: reads EFLAGS (from the previous iteration's cmp),
   * then cmp writes it: carried through EFLAGS only */
  f = features_of("0f92c04839cb");
  CHECK(f.loop_carried && !strcmp(f.carried_register, "EFLAGS"));

  /* partial registers alias: mov al, 1 writes AL; add rax, rbx then reads RAX
   * after a write to it: not carried */
  f = features_of("b0014801d8");
  CHECK(!f.loop_carried);
  /* inc r9d; mov r9, [rdi]: R9D read first, R9 written: carried (R9) */
  f = features_of("41ffc14c8b0f");
  CHECK(f.loop_carried && !strcmp(f.carried_register, "R9"));
  /* an address register counts as a read: mov rax, [rax] is a pointer chase */
  f = features_of("488b00");
  CHECK(f.loop_carried && f.has_load && !strcmp(f.carried_register, "RAX"));
  /* lea rax, [rbx+8] reads no memory */
  f = features_of("488d4308");
  CHECK(!f.has_load && !f.has_store && !f.loop_carried);

  /* 20 instructions */
  char hex[128] = "";
  for (int i = 0; i < 20; i++) strcat(hex, "90");
  f = features_of(hex);
  CHECK(f.num_instructions == 20 && !f.loop_carried);
  /* no block */
  block_features_compute(NULL, &f);
  CHECK(f.num_instructions == 0 && !f.loop_carried);
}

static void test_widest_register(void) {
  char buf[16];
  CHECK(!strcmp(widest_register("AL", buf), "RAX"));
  CHECK(!strcmp(widest_register("AH", buf), "RAX"));
  CHECK(!strcmp(widest_register("EAX", buf), "RAX"));
  CHECK(!strcmp(widest_register("SIL", buf), "RSI"));
  CHECK(!strcmp(widest_register("SPL", buf), "RSP"));
  CHECK(!strcmp(widest_register("R8B", buf), "R8"));
  CHECK(!strcmp(widest_register("R15D", buf), "R15"));
  CHECK(!strcmp(widest_register("R12W", buf), "R12"));
  CHECK(!strcmp(widest_register("R10", buf), "R10"));
  CHECK(!strcmp(widest_register("XMM13", buf), "ZMM13"));
  CHECK(!strcmp(widest_register("YMM2", buf), "ZMM2"));
  CHECK(!strcmp(widest_register("EFLAGS", buf), "EFLAGS"));
  CHECK(!strcmp(widest_register("RIP", buf), "RIP"));
  CHECK(!strcmp(widest_register("ST0", buf), "ST0"));
}

int main(void) {
  test_groups();
  test_widest_register();
  return test_summary("test_block_features");
}
