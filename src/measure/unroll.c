/* Machine code of the measured function (unroll.h), written byte by byte:
 * a handful of fixed instructions around the copies of the block. The
 * encodings are checked against the assembler in tests/test_measure_unroll.c. */
#include "measure/unroll.h"

#include <cpuid.h>
#include <string.h>

#include "measure/layout.h"

UnrollIsa unroll_detect_isa(void) {
  UnrollIsa isa = {0, 0};
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return isa;
  int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
  if (!osxsave || !avx) return isa;
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if ((lo & 6) != 6) return isa; /* OS saves xmm and ymm state */
  isa.avx = 1;
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && ((b >> 16) & 1) && (lo & 0xe0) == 0xe0) isa.avx512 = 1;
  return isa;
}

typedef struct {
  uint8_t *p;
  size_t n, cap;
} Emit;

static void put(Emit *e, const void *bytes, size_t n) {
  if (e->n + n <= e->cap) memcpy(e->p + e->n, bytes, n);
  e->n += n; /* counts on past cap so the caller sees the needed size */
}

static void put1(Emit *e, uint8_t b) { put(e, &b, 1); }

static void put_imm64(Emit *e, uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
  put(e, b, 8);
}

/* mov r64, imm64 (REX.W [+B] B8+r) */
static void mov_reg_imm64(Emit *e, int reg, uint64_t v) {
  put1(e, reg >= 8 ? 0x49 : 0x48);
  put1(e, (uint8_t)(0xb8 + (reg & 7)));
  put_imm64(e, v);
}

/* Loads xmm0..xmm15 (and xmm16..31 with AVX-512) from [rax]. VEX/EVEX .128
 * forms zero the upper bits, so no register is left with dirty upper halves
 * (no SSE/AVX transition penalty caused by the harness). */
static void load_vectors(Emit *e, UnrollIsa isa) {
  for (int r = 0; r < 16; r++) {
    uint8_t modrm = (uint8_t)((r & 7) << 3); /* mod 00, rm 000 = [rax] */
    if (isa.avx) { /* vmovdqu xmm, [rax]: C5 [R̄ 1111 0 10] 6F */
      uint8_t v[4] = {0xc5, (uint8_t)(r < 8 ? 0xfa : 0x7a), 0x6f, modrm};
      put(e, v, 4);
    } else if (r < 8) { /* movdqu xmm, [rax]: F3 0F 6F */
      uint8_t v[4] = {0xf3, 0x0f, 0x6f, modrm};
      put(e, v, 4);
    } else {
      uint8_t v[5] = {0xf3, 0x44, 0x0f, 0x6f, modrm};
      put(e, v, 5);
    }
  }
  if (!isa.avx512) return;
  for (int r = 16; r < 32; r++) { /* vmovdqu32 xmm, [rax]: EVEX.128.F3.0F.W0 6F */
    uint8_t p0 = (uint8_t)(((r & 8) ? 0x00 : 0x80) | 0x40 | 0x20 | 0x00 | 0x01); /* R̄ X̄ B̄ R̄'=0 mm=01 */
    uint8_t v[6] = {0x62, p0, 0x7e, 0x08, 0x6f, (uint8_t)((r & 7) << 3)};
    put(e, v, 6);
  }
}

/* x87 to its initial state, MXCSR to the Linux default (the block may have
 * changed both in an earlier call). rax = control page. */
static void reset_fp_control(Emit *e) {
  static const uint8_t fninit[] = {0xdb, 0xe3};
  static const uint8_t ldmxcsr[] = {0x0f, 0xae, 0x50, MEASURE_CTRL_MXCSR}; /* ldmxcsr [rax+64] */
  put(e, fninit, sizeof fninit);
  put(e, ldmxcsr, sizeof ldmxcsr);
}

static void emit_prologue(Emit *e, UnrollIsa isa) {
  /* lfence: the previous call's block finishes before this call's set-up
   * starts, so that calls timed back to back do not overlap out of order
   * (the overlap would differ between the two unroll factors). */
  static const uint8_t lfence[] = {0x0f, 0xae, 0xe8};
  static const uint8_t push_callee_saved[] = {0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57};
  static const uint8_t mov_rax_rsp[] = {0x48, 0x89, 0xe0};
  static const uint8_t store_rax_abs[] = {0x48, 0xa3}; /* mov [moffs64], rax */
  static const uint8_t vzeroall[] = {0xc5, 0xfc, 0x77};
  put(e, lfence, sizeof lfence);
  put(e, push_callee_saved, sizeof push_callee_saved);
  put(e, mov_rax_rsp, sizeof mov_rax_rsp);
  put(e, store_rax_abs, sizeof store_rax_abs);
  put_imm64(e, MEASURE_CTRL_ADDR + MEASURE_CTRL_SAVED_RSP);
  mov_reg_imm64(e, 0, MEASURE_CTRL_ADDR + MEASURE_CTRL_VECTOR);
  reset_fp_control(e);
  if (isa.avx) put(e, vzeroall, sizeof vzeroall);
  load_vectors(e, isa);
  for (int r = 0; r < 16; r++) mov_reg_imm64(e, r, MEASURE_INIT_VALUE); /* rsp too */
}

static void emit_epilogue(Emit *e, UnrollIsa isa) {
  static const uint8_t load_rax_abs[] = {0x48, 0xa1}; /* mov rax, [moffs64] */
  static const uint8_t mov_rsp_rax[] = {0x48, 0x89, 0xc4};
  static const uint8_t cld = 0xfc;                    /* the C code assumes DF = 0 */
  static const uint8_t vzeroupper[] = {0xc5, 0xf8, 0x77};
  static const uint8_t pop_callee_saved[] = {0x41, 0x5f, 0x41, 0x5e, 0x41, 0x5d, 0x41, 0x5c, 0x5d, 0x5b};
  put(e, load_rax_abs, sizeof load_rax_abs);
  put_imm64(e, MEASURE_CTRL_ADDR + MEASURE_CTRL_SAVED_RSP);
  put(e, mov_rsp_rax, sizeof mov_rsp_rax);
  put1(e, cld);
  if (isa.avx) put(e, vzeroupper, sizeof vzeroupper);
  mov_reg_imm64(e, 0, MEASURE_CTRL_ADDR + MEASURE_CTRL_VECTOR);
  reset_fp_control(e);
  put(e, pop_callee_saved, sizeof pop_callee_saved);
  put1(e, 0xc3); /* ret */
}

size_t unroll_overhead(UnrollIsa isa) {
  Emit e = {NULL, 0, 0};
  emit_prologue(&e, isa);
  emit_epilogue(&e, isa);
  return e.n;
}

size_t unroll_emit(uint8_t *out, size_t cap, const uint8_t *block, size_t block_len, int factor, UnrollIsa isa,
                   size_t *body_offset) {
  Emit e = {out, 0, cap};
  emit_prologue(&e, isa);
  *body_offset = e.n;
  for (int i = 0; i < factor; i++) put(&e, block, block_len);
  emit_epilogue(&e, isa);
  return e.n <= cap ? e.n : 0;
}
