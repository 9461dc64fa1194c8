/* The child side of a measurement: everything that happens inside the
 * sandboxed process. The worker fills a HarnessJob, forks, and the child
 * calls harness_child_main, which never returns: it maps the code and the
 * data pages, installs the fault handlers and the seccomp filter, times the
 * four functions (calibration chain and block, two unroll factors each) and
 * leaves the raw tick counts in the shared report page (layout.h). */
#ifndef GRANITE_MEASURE_HARNESS_H
#define GRANITE_MEASURE_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#define HARNESS_MAX_REPEATS 64
#define HARNESS_MAX_PAGES 256

/* The four timed functions, in the order they are run in each repeat. */
enum { FN_CALIB_SMALL, FN_CALIB_LARGE, FN_BLOCK_SMALL, FN_BLOCK_LARGE, FN_COUNT };

enum {
  REPORT_NONE = 0,      /* the child ended before reporting */
  REPORT_DONE,          /* ticks[] are valid */
  REPORT_FAULT,         /* a signal: signo, code, addr, rip */
  REPORT_SETUP_FAILED,  /* detail says what (mmap, seccomp, perf) */
  REPORT_UNMAPPABLE,    /* a requested data page could not be mapped: addr */
};

/* Exit statuses of the child, checked against the report. */
enum { HARNESS_EXIT_DONE = 0, HARNESS_EXIT_FAULT = 90, HARNESS_EXIT_SETUP = 91 };

typedef struct {
  uint32_t state;
  int32_t signo, si_code, syscall_nr;
  uint64_t addr, rip;
  uint32_t calls[FN_COUNT]; /* calls of each function per timed sample */
  uint32_t repeats;
  uint64_t ticks[FN_COUNT][HARNESS_MAX_REPEATS];
  char detail[128];
} HarnessReport;

typedef struct {
  const uint8_t *code;         /* the four functions, one after the other */
  size_t code_len;
  size_t fn_offset[FN_COUNT];  /* offset of each in code (page aligned) */
  int memfd;                   /* the one shared data page */
  const uint64_t *pages;       /* page addresses to map onto it */
  int num_pages;
  int use_perf;                /* core cycles from perf_event_open; else rdtsc */
  int repeats;
  uint64_t target_ticks;       /* make each sample at least this long (calls > 1) */
  int cpu_seconds;             /* RLIMIT_CPU */
} HarnessJob;

/* Runs in the forked child; ends the process (never returns). */
void harness_child_main(const HarnessJob *job) __attribute__((noreturn));

/* 1 if a perf_event_open core-cycle counter can be opened and counts here. */
int harness_perf_available(void);

#endif
