/* The sandboxed child (harness.h). After sandbox_enter the child makes no
 * system call but exit_group (and read() of its own cycle counter when perf
 * is used); anything else the block does ends in a signal whose handler
 * writes the report and exits. */
#include "measure/harness.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "measure/layout.h"
#include "measure/sandbox.h"

#define REPORT ((HarnessReport *)MEASURE_REPORT_ADDR)

static inline uint64_t tsc_now(void) {
  uint32_t lo, hi;
  /* lfence on both sides: the block's instructions finish before the
   * first read and none start before the second (AMD: Linux makes lfence
   * dispatch-serialising). */
  __asm__ volatile("lfence\n\trdtsc\n\tlfence" : "=a"(lo), "=d"(hi)::"memory");
  return ((uint64_t)hi << 32) | lo;
}

static int perf_open_cycles(void) {
  struct perf_event_attr a;
  memset(&a, 0, sizeof a);
  a.type = PERF_TYPE_HARDWARE;
  a.size = sizeof a;
  a.config = PERF_COUNT_HW_CPU_CYCLES;
  a.exclude_kernel = 1;
  a.exclude_hv = 1;
  return (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
}

static inline uint64_t perf_now(int fd) {
  uint64_t v = 0;
  if (read(fd, &v, sizeof v) != sizeof v) v = 0;
  return v;
}

int harness_perf_available(void) {
  int fd = perf_open_cycles();
  if (fd < 0) return 0;
  uint64_t a = perf_now(fd);
  volatile uint64_t x = 0;
  for (int i = 0; i < 100000; i++) x += (uint64_t)i;
  uint64_t b = perf_now(fd);
  close(fd);
  return b > a;
}

static void setup_failed(const char *what) {
  REPORT->state = REPORT_SETUP_FAILED;
  snprintf(REPORT->detail, sizeof REPORT->detail, "%s: %s", what, strerror(errno));
  _exit(HARNESS_EXIT_SETUP);
}

/* Every signal the block can raise lands here, on the alternate stack (the
 * block owns rsp). Writes the report and ends the process: only exit_group. */
static void on_signal(int signo, siginfo_t *si, void *ctx) {
  const ucontext_t *uc = ctx;
  REPORT->signo = signo;
  REPORT->si_code = si->si_code;
  REPORT->addr = (uint64_t)(uintptr_t)si->si_addr;
  REPORT->rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
  if (signo == SIGSYS) REPORT->syscall_nr = si->si_syscall;
  REPORT->state = REPORT_FAULT;
  _exit(HARNESS_EXIT_FAULT);
}

static void install_signal_handlers(void) {
  static uint8_t alt_stack[64 * 1024];
  stack_t ss = {.ss_sp = alt_stack, .ss_size = sizeof alt_stack, .ss_flags = 0};
  if (sigaltstack(&ss, NULL)) setup_failed("sigaltstack");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigfillset(&sa.sa_mask);
  static const int signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS, SIGXCPU};
  for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
    if (sigaction(signals[i], &sa, NULL)) setup_failed("sigaction");
  sigset_t unblock;
  sigemptyset(&unblock);
  for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) sigaddset(&unblock, signals[i]);
  sigprocmask(SIG_UNBLOCK, &unblock, NULL);
}

static void map_control_page(void) {
  void *p = mmap((void *)MEASURE_CTRL_ADDR, MEASURE_PAGE_SIZE, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (p != (void *)MEASURE_CTRL_ADDR) setup_failed("mmap of the control page");
  uint8_t *ctrl = p;
  const float one = 1.0f;
  for (int i = 0; i < 16; i++) memcpy(ctrl + MEASURE_CTRL_VECTOR + 4 * i, &one, 4);
  const uint32_t mxcsr = 0x1f80;
  memcpy(ctrl + MEASURE_CTRL_MXCSR, &mxcsr, 4);
}

static void map_code(const HarnessJob *job) {
  size_t size = (job->code_len + MEASURE_PAGE_SIZE - 1) & ~(size_t)(MEASURE_PAGE_SIZE - 1);
  void *p = mmap((void *)MEASURE_CODE_ADDR, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (p != (void *)MEASURE_CODE_ADDR) setup_failed("mmap of the code");
  memcpy(p, job->code, job->code_len);
  /* not writable: a store into the block's own code faults and is reported */
  if (mprotect(p, size, PROT_READ | PROT_EXEC)) setup_failed("mprotect of the code");
}

static void map_data_pages(const HarnessJob *job) {
  for (int i = 0; i < job->num_pages; i++) {
    void *want = (void *)(uintptr_t)job->pages[i];
    void *p = mmap(want, MEASURE_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, job->memfd, 0);
    if (p != want) {
      if (p != MAP_FAILED) munmap(p, MEASURE_PAGE_SIZE); /* old kernels ignore NOREPLACE */
      REPORT->state = REPORT_UNMAPPABLE;
      REPORT->addr = job->pages[i];
      snprintf(REPORT->detail, sizeof REPORT->detail, "mmap at %#llx: %s", (unsigned long long)job->pages[i],
               strerror(errno));
      _exit(HARNESS_EXIT_SETUP);
    }
  }
}

typedef void (*MeasuredFn)(void);

static inline uint64_t now(int perf_fd) { return perf_fd >= 0 ? perf_now(perf_fd) : tsc_now(); }

static uint64_t time_calls(MeasuredFn fn, uint32_t calls, int perf_fd) {
  uint64_t t0 = now(perf_fd);
  for (uint32_t c = 0; c < calls; c++) fn();
  return now(perf_fd) - t0;
}

void harness_child_main(const HarnessJob *job) {
  prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the worker */
  map_control_page();
  map_code(job);
  map_data_pages(job);
  int perf_fd = -1;
  if (job->use_perf && (perf_fd = perf_open_cycles()) < 0) setup_failed("perf_event_open");
  install_signal_handlers();
  const char *failed = sandbox_enter(job->cpu_seconds, perf_fd);
  if (failed) setup_failed(failed);

  MeasuredFn fn[FN_COUNT];
  for (int f = 0; f < FN_COUNT; f++) fn[f] = (MeasuredFn)(uintptr_t)(MEASURE_CODE_ADDR + job->fn_offset[f]);
  /* Warm up (caches, branch predictors, page tables of the data pages); a
   * fault here ends the child before anything is timed. */
  for (int w = 0; w < 2; w++)
    for (int f = 0; f < FN_COUNT; f++) fn[f]();
  /* Short functions are called several times per sample so that the timer's
   * own cost and resolution stay small against what is measured; a pair of
   * unroll factors shares one count so their difference is the block's. */
  for (int f = 0; f < FN_COUNT; f += 2) {
    uint64_t t = time_calls(fn[f + 1], 1, perf_fd);
    uint64_t calls = t ? (job->target_ticks + t - 1) / t : 1000;
    if (calls < 1) calls = 1;
    if (calls > 1000) calls = 1000;
    REPORT->calls[f] = REPORT->calls[f + 1] = (uint32_t)calls;
  }
  int repeats = job->repeats < HARNESS_MAX_REPEATS ? job->repeats : HARNESS_MAX_REPEATS;
  for (int r = 0; r < repeats; r++)
    for (int f = 0; f < FN_COUNT; f++) REPORT->ticks[f][r] = time_calls(fn[f], REPORT->calls[f], perf_fd);
  REPORT->repeats = (uint32_t)repeats;
  REPORT->state = REPORT_DONE;
  _exit(HARNESS_EXIT_DONE);
}
