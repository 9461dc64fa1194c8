/* granite measure, what must never go wrong: hostile blocks (system calls,
 * traps, illegal and privileged instructions, infinite loops, wild and
 * self-modifying stores, jumps out of the block) are reported with the right
 * reason and this process survives; the fault classification, the code
 * generator, the throughput arithmetic and the CPU name on synthetic input.
 * Nothing here depends on timing (the timeout test uses a 0.3 s limit). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/bhive_csv.h"
#include "measure/cpu_name.h"
#include "measure/fault.h"
#include "measure/layout.h"
#include "measure/measure_block.h"
#include "measure/throughput.h"
#include "measure/unroll.h"
#include "testing.h"
#include "util/common.h"

static MeasureWorker worker;

static MeasureResult run_hex(const char *hex) {
  uint8_t code[256];
  size_t n = strlen(hex) / 2;
  MeasureResult r;
  if (bhive_decode_hex(hex, strlen(hex), code) != BHIVE_OK) {
    memset(&r, 0, sizeof r);
    r.status = MEASURE_NUM_STATUS;
    return r;
  }
  measure_block(&worker, code, n, &r);
  return r;
}

#define CHECK_STATUS(hex, want)                                                                       \
  do {                                                                                                \
    MeasureResult r_ = run_hex(hex);                                                                  \
    CHECK_MSG(r_.status == (want), "%s: got %s (%s), want %s", hex, measure_status_name(r_.status),   \
              r_.detail, measure_status_name(want));                                                  \
  } while (0)

static void test_hostile_blocks(void) {
  CHECK_STATUS("0f05", MEASURE_SYSTEM_CALL);                 /* syscall */
  /* sysenter is undefined in 64-bit mode on AMD, a 32-bit system call on
   * Intel; int 0x80 is a 32-bit system call unless the kernel has no IA-32
   * emulation (then #GP). Either way: reported, never executed. */
  MeasureResult r = run_hex("0f34");
  CHECK_MSG(r.status == MEASURE_SYSTEM_CALL || r.status == MEASURE_ILLEGAL_INSTRUCTION, "sysenter: %s",
            measure_status_name(r.status));
  r = run_hex("cd80");
  CHECK_MSG(r.status == MEASURE_SYSTEM_CALL || r.status == MEASURE_PRIVILEGED, "int 0x80: %s",
            measure_status_name(r.status));
  CHECK_STATUS("cc", MEASURE_BREAKPOINT);                    /* int3 */
  CHECK_STATUS("0f0b", MEASURE_ILLEGAL_INSTRUCTION);         /* ud2 */
  CHECK_STATUS("f4", MEASURE_PRIVILEGED);                    /* hlt */
  CHECK_STATUS("fa", MEASURE_PRIVILEGED);                    /* cli */
  CHECK_STATUS("ec", MEASURE_PRIVILEGED);                    /* in al, dx */
  CHECK_STATUS("0f01f8", MEASURE_PRIVILEGED);                /* swapgs */
  CHECK_STATUS("4831c948f7f1", MEASURE_DIVISION_ERROR);      /* xor rcx,rcx; div rcx */
  CHECK_STATUS("48f7f1", MEASURE_DIVISION_ERROR);            /* div rcx: rdx:rax / rcx overflows */
  /* store to a non-canonical address */
  CHECK_STATUS("48b8000000000000adde488900", MEASURE_BAD_ADDRESS);
  /* store below 64 KiB (after xor eax, eax) and into the kernel half */
  CHECK_STATUS("31c0488918", MEASURE_UNMAPPABLE_ADDRESS);
  CHECK_STATUS("48890425efbeadde", MEASURE_UNMAPPABLE_ADDRESS);
  /* mov byte [rip+0x1234], 1: a store into the block's own code */
  CHECK_STATUS("c6053412000001", MEASURE_SELF_MODIFYING);
  CHECK_STATUS("c3", MEASURE_LEFT_BLOCK);                    /* ret: pops the data pattern */
  CHECK_STATUS("ffd0", MEASURE_LEFT_BLOCK);                  /* call rax */
  CHECK_STATUS("ffe0", MEASURE_LEFT_BLOCK);                  /* jmp rax */
  /* each copy stores one page further: more pages than the limit */
  CHECK_STATUS("4805001000004889184889c3", MEASURE_TOO_MANY_PAGES);
  CHECK_STATUS("0f", MEASURE_UNDECODABLE);                   /* half an instruction */
  CHECK_STATUS("4801", MEASURE_UNDECODABLE);
  /* writes the harness's saved stack pointer (control page): the return
   * goes astray, which must be reported, not crash us */
  r = run_hex("48a3800000000000f01f");
  CHECK_MSG(r.status != MEASURE_OK, "overwriting the saved rsp: %s", measure_status_name(r.status));

  /* an infinite loop is killed after the (short) wall-clock limit */
  worker.opt.timeout_s = 0.3;
  double t0 = now_seconds();
  CHECK_STATUS("ebfe", MEASURE_TIMEOUT);                     /* jmp $ */
  CHECK(now_seconds() - t0 < 5);
  worker.opt.timeout_s = 2;
}

/* Ran to the end: measured, or (under heavy load, with this test's 3 short
 * samples) no positive difference. Either way no fault stopped it. */
static int ran_to_the_end(const MeasureResult *r) {
  return r->status == MEASURE_OK || r->status == MEASURE_UNSTABLE;
}

static void test_wild_stores_are_mapped(void) {
  /* stores to two far canonical addresses: two more pages, one restart each */
  MeasureResult r = run_hex("48890425785634124889042500001000");
  CHECK_MSG(ran_to_the_end(&r), "%s (%s)", measure_status_name(r.status), r.detail);
  CHECK_MSG(r.pages == 3 && r.children >= 3, "pages %d, runs %d", r.pages, r.children);
  /* push/pop with rsp at the fixed address */
  r = run_hex("5058");
  CHECK_MSG(ran_to_the_end(&r), "%s (%s)", measure_status_name(r.status), r.detail);
  /* pointer chasing stays in the mapped page: memory holds the address */
  r = run_hex("488b00");
  CHECK_MSG(ran_to_the_end(&r) && r.pages == 1, "%s (%s)", measure_status_name(r.status), r.detail);
}

static void test_details_name_the_instruction(void) {
  MeasureResult r = run_hex("4801c84831c948f7f1"); /* add; xor; div */
  CHECK(r.status == MEASURE_DIVISION_ERROR);
  CHECK_MSG(strstr(r.detail, "instruction 2") && strstr(r.detail, "div"), "%s", r.detail);
  r = run_hex("90cc");
  CHECK_MSG(strstr(r.detail, "instruction 1") && strstr(r.detail, "int3"), "%s", r.detail);
}

static HarnessReport fault_report(int signo, int code, uint64_t addr, uint64_t rip) {
  HarnessReport rep;
  memset(&rep, 0, sizeof rep);
  rep.state = REPORT_FAULT;
  rep.signo = signo;
  rep.si_code = code;
  rep.addr = addr;
  rep.rip = rip;
  return rep;
}

static void test_classification(void) {
  static const uint8_t block[] = {0x48, 0x89, 0x18, 0x90}; /* mov [rax], rbx; nop */
  CodeMap m = {block, sizeof block, {0}, {0}, MEASURE_CODE_ADDR + 0x10000};
  m.body_start[FN_BLOCK_SMALL] = MEASURE_CODE_ADDR + 0x100;
  m.body_end[FN_BLOCK_SMALL] = m.body_start[FN_BLOCK_SMALL] + 4 * 100;
  m.body_start[FN_BLOCK_LARGE] = MEASURE_CODE_ADDR + 0x2100;
  m.body_end[FN_BLOCK_LARGE] = m.body_start[FN_BLOCK_LARGE] + 4 * 200;
  uint64_t rip = m.body_start[FN_BLOCK_LARGE] + 4 * 17; /* instruction 0 of copy 17 */
  SandboxEnd end = {0, 0, 0, 0, 0};
  end.exited = 1;
  end.exit_code = HARNESS_EXIT_FAULT;
  uint64_t page = 0;
  MeasureStatus st;
  char detail[128];
  HarnessReport rep = fault_report(SIGSEGV, SEGV_MAPERR, 0x12345678, rip);
  CHECK(fault_classify(&rep, &end, &m, &page, &st, detail, sizeof detail) == CHILD_NEEDS_PAGE);
  CHECK(page == 0x12345000);
  rep = fault_report(SIGSEGV, SEGV_MAPERR, 0x8, rip);
  CHECK(fault_classify(&rep, &end, &m, &page, &st, detail, sizeof detail) == CHILD_FAILED &&
        st == MEASURE_UNMAPPABLE_ADDRESS);
  rep = fault_report(SIGSEGV, SEGV_ACCERR, MEASURE_CODE_ADDR + 0x2200, rip);
  CHECK(fault_classify(&rep, &end, &m, &page, &st, detail, sizeof detail) == CHILD_FAILED &&
        st == MEASURE_SELF_MODIFYING);
  rep = fault_report(SIGSEGV, 0x80 /* SI_KERNEL */, 0, rip);
  CHECK(fault_classify(&rep, &end, &m, &page, &st, detail, sizeof detail) == CHILD_FAILED &&
        st == MEASURE_BAD_ADDRESS);
  CHECK_MSG(strstr(detail, "instruction 0"), "%s", detail);
  rep = fault_report(SIGSEGV, SEGV_MAPERR, 0x10000800, 0x10000800); /* jumped into data */
  CHECK(fault_classify(&rep, &end, &m, &page, &st, detail, sizeof detail) == CHILD_FAILED && st == MEASURE_LEFT_BLOCK);
  rep = fault_report(SIGFPE, FPE_INTDIV, 0, rip);
  CHECK(fault_classify(&rep, &end, &m, &page, &st, detail, sizeof detail) == CHILD_FAILED &&
        st == MEASURE_DIVISION_ERROR);
  rep = fault_report(SIGFPE, FPE_FLTDIV, 0, rip);
  CHECK(fault_classify(&rep, &end, &m, &page, &st, detail, sizeof detail) == CHILD_FAILED && st == MEASURE_FP_EXCEPTION);
  /* no report at all: killed by a signal, or timed out */
  memset(&rep, 0, sizeof rep);
  SandboxEnd killed = {0, -1, 1, SIGSEGV, 0};
  CHECK(fault_classify(&rep, &killed, &m, &page, &st, detail, sizeof detail) == CHILD_FAILED && st == MEASURE_CRASHED);
  SandboxEnd timed = {0, -1, 1, SIGKILL, 1};
  CHECK(fault_classify(&rep, &timed, &m, &page, &st, detail, sizeof detail) == CHILD_FAILED && st == MEASURE_TIMEOUT);
  /* "done" in the report but a wrong exit status: not trusted */
  rep.state = REPORT_DONE;
  SandboxEnd odd = {1, 3, 0, 0, 0};
  CHECK(fault_classify(&rep, &odd, &m, &page, &st, detail, sizeof detail) == CHILD_FAILED && st == MEASURE_CRASHED);
}

static void test_unroll_code(void) {
  UnrollIsa isa = {1, 0};
  uint8_t buf[8192], block[] = {0x48, 0x01, 0xc8};
  size_t body = 0, n = unroll_emit(buf, sizeof buf, block, 3, 100, isa, &body);
  CHECK(n == unroll_overhead(isa) + 300);
  CHECK(buf[0] == 0x0f && buf[3] == 0x53 && buf[n - 1] == 0xc3); /* lfence; push rbx ... ret */
  for (int i = 0; i < 100; i++) CHECK(!memcmp(buf + body + 3 * i, block, 3));
  /* every register set to the fixed address: 16 x mov r64, imm64 just before the body */
  for (int r = 0; r < 16; r++) {
    const uint8_t *mov = buf + body - 10 * (16 - r);
    uint64_t v;
    memcpy(&v, mov + 2, 8);
    CHECK(mov[0] == (r < 8 ? 0x48 : 0x49) && mov[1] == 0xb8 + (r & 7) && v == MEASURE_INIT_VALUE);
  }
  CHECK(unroll_emit(buf, 100, block, 3, 100, isa, &body) == 0); /* does not fit */
  UnrollIsa wide = {1, 1};
  CHECK(unroll_overhead(wide) == unroll_overhead(isa) + 16 * 6);
}

static void test_throughput_math(void) {
  HarnessReport rep;
  memset(&rep, 0, sizeof rep);
  rep.repeats = 5;
  for (int f = 0; f < FN_COUNT; f++) rep.calls[f] = 10;
  /* per call, in ticks: chain 100 adds x 10 -> 1000 cycles = 500 ticks (2 cycles per tick);
   * block 3 cycles per iteration -> 100 x 3 = 300 cycles = 150 ticks per 100 copies */
  double per_call[FN_COUNT] = {40 + 500, 40 + 1000, 40 + 150, 40 + 300};
  for (int f = 0; f < FN_COUNT; f++)
    for (int r = 0; r < 5; r++) rep.ticks[f][r] = (uint64_t)(10 * per_call[f]) + (r == 2 ? 5000 : 0); /* one slow sample */
  ThroughputSetup s = {100, 200, 10, 0};
  Throughput t;
  CHECK(throughput_compute(&rep, &s, &t) == 0);
  CHECK_NEAR(t.cycles_min, 3.0, 1e-9, 0);
  CHECK_NEAR(t.cycles_median, 3.0, 1e-9, 0);
  CHECK_NEAR(t.core_per_tick, 2.0, 1e-9, 0);
  CHECK(t.spread < 1e-9);
  s.ticks_are_cycles = 1; /* perf: ticks are cycles */
  CHECK(throughput_compute(&rep, &s, &t) == 0 && fabs(t.cycles_min - 1.5) < 1e-9);
  /* no difference between the factors: not a throughput */
  for (int r = 0; r < 5; r++) rep.ticks[FN_BLOCK_LARGE][r] = rep.ticks[FN_BLOCK_SMALL][r];
  CHECK(throughput_compute(&rep, &s, &t) == -1);
  rep.repeats = 0;
  CHECK(throughput_compute(&rep, &s, &t) == -1);
  double v[] = {5, 1, 4, 2};
  CHECK(median_of(v, 4) == 3.0);
}

static void test_cpu_name(void) {
  CHECK(!strcmp(cpu_march_name("AuthenticAMD", 0x19, 0x11), "znver4"));
  CHECK(!strcmp(cpu_march_name("AuthenticAMD", 0x19, 0x01), "znver3"));
  CHECK(!strcmp(cpu_march_name("AuthenticAMD", 0x1a, 0x02), "znver5"));
  CHECK(!strcmp(cpu_march_name("AuthenticAMD", 0x17, 0x01), "znver1"));
  CHECK(!strcmp(cpu_march_name("GenuineIntel", 6, 0x3c), "haswell"));
  CHECK(cpu_march_name("GenuineIntel", 6, 0x01) == NULL);
  char path[] = "/tmp/granite-cpuinfo-XXXXXX";
  int fd = mkstemp(path);
  const char *text = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n"
                     "model name\t: AMD EPYC 9654 96-Core Processor\n\nprocessor\t: 1\n";
  CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
  close(fd);
  char name[256];
  cpu_describe(path, name, sizeof name);
  CHECK_MSG(!strcmp(name, "AMD EPYC 9654 96-Core Processor (znver4)"), "%s", name);
  unlink(path);
  cpu_describe("/nonexistent/cpuinfo", name, sizeof name);
  CHECK(!strcmp(name, "unknown CPU"));
}

int main(void) {
  test_unroll_code();
  test_throughput_math();
  test_cpu_name();
  test_classification();
  if (test_sanitizers()) { /* the checks above ran; the sandboxed child cannot */
    test_skip("the sandboxed runs, under -fsanitize=%s: the sanitizer runtime makes system calls (sigaltstack) in "
              "the child that the seccomp filter forbids", test_sanitizers());
    return test_summary("test_measure_sandbox");
  }
  MeasureOptions opt;
  measure_options_default(&opt);
  opt.repeats = 3; /* only the outcome matters here, not the number */
  opt.max_spread = 1e9;
  opt.target_ticks = 2000;
  if (measure_worker_init(&worker, &opt)) return 1;
  test_hostile_blocks();
  test_wild_stores_are_mapped();
  test_details_name_the_instruction();
  measure_worker_free(&worker);
  return test_summary("test_measure_sandbox");
}
