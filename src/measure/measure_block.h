/* Measuring one basic block on this CPU (BHive's method): the block runs
 * unrolled in a sandboxed child; a fault on an unmapped page maps that page
 * (onto the one shared data page) and the block starts again; the result is
 * cycles per iteration, or the reason the block could not be measured. */
#ifndef GRANITE_MEASURE_MEASURE_BLOCK_H
#define GRANITE_MEASURE_MEASURE_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "measure/harness.h"
#include "measure/unroll.h"

typedef enum {
  MEASURE_OK = 0,
  MEASURE_UNDECODABLE,         /* the bytes are not whole x86-64 instructions */
  MEASURE_CODE_TOO_LARGE,      /* the unrolled code does not fit the code region */
  MEASURE_BAD_ADDRESS,         /* fault at a non-memory address (non-canonical, misaligned) */
  MEASURE_UNMAPPABLE_ADDRESS,  /* a page that cannot be mapped (below 64 KiB, kernel, harness) */
  MEASURE_TOO_MANY_PAGES,      /* more data pages than --max-pages */
  MEASURE_ILLEGAL_INSTRUCTION, /* SIGILL: undefined or unsupported here (ud2, ...) */
  MEASURE_PRIVILEGED,          /* a privileged instruction (hlt, in/out, cli, int N, ...) */
  MEASURE_DIVISION_ERROR,      /* #DE: divide by zero or quotient overflow */
  MEASURE_FP_EXCEPTION,        /* an unmasked SIMD/x87 floating-point exception */
  MEASURE_BREAKPOINT,          /* int3, int1 or a single-step trap */
  MEASURE_SYSTEM_CALL,         /* syscall, sysenter, int 0x80: stopped by seccomp */
  MEASURE_SELF_MODIFYING,      /* a store into the block's own code */
  MEASURE_LEFT_BLOCK,          /* control flow left the unrolled block (jump, call, ret) */
  MEASURE_TIMEOUT,             /* the wall-clock (or CPU) limit: e.g. an infinite loop */
  MEASURE_UNSTABLE,            /* timings too noisy (or not positive) in every attempt */
  MEASURE_CRASHED,             /* the child died without a report (e.g. the block wrecked the harness) */
  MEASURE_HARNESS_ERROR,       /* not run: set-up failed (mmap, seccomp, fork), worker died, interrupted */
  MEASURE_NUM_STATUS
} MeasureStatus;

/* "division_error": the CSV's status column. */
const char *measure_status_name(MeasureStatus s);
/* "division error (divide by zero or quotient overflow)": for people. */
const char *measure_status_text(MeasureStatus s);

typedef struct {
  int factor_small, factor_large; /* unroll factors (default 100, 200) */
  int repeats;                    /* samples per factor (default 25) */
  double timeout_s;               /* wall-clock limit of one child (default 2 s) */
  int max_pages;                  /* data pages a block may touch (default 32) */
  int attempts;                   /* children per block when timing is unstable (default 3) */
  double max_spread;              /* unstable above this |median-min|/min (default 0.10) */
  int use_perf;                   /* core cycles from perf_event_open, else TSC + chain */
  uint64_t target_ticks;          /* shortest sample, in timer ticks (default 20000) */
} MeasureOptions;

void measure_options_default(MeasureOptions *o);

typedef struct {
  MeasureStatus status;
  double cycles_min;     /* cycles per iteration, from the minimum of the samples (main value) */
  double cycles_median;  /* cycles per iteration, from the medians */
  double spread;         /* |median - min| / min of the kept attempt */
  double core_per_tick;  /* core cycles per timer tick (1 with perf) */
  int pages;             /* data pages the block used */
  int children;          /* sandboxed children started (restarts included) */
  char detail[128];      /* what happened, e.g. "SIGFPE at instruction 2 (div rcx)" */
} MeasureResult;

/* What one worker process keeps between blocks: the shared data page, the
 * report page at its fixed address, the code buffer. One per process. */
typedef struct {
  MeasureOptions opt;
  UnrollIsa isa;
  int memfd;
  uint64_t *pattern;       /* the data page, as the worker sees it */
  HarnessReport *report;   /* at MEASURE_REPORT_ADDR */
  uint8_t *code;
  size_t code_cap;
} MeasureWorker;

/* 0, or -1 after an error line. */
int measure_worker_init(MeasureWorker *w, const MeasureOptions *opt);
void measure_worker_free(MeasureWorker *w);

/* Measures code[0..len); never fails: every outcome is a status. */
void measure_block(MeasureWorker *w, const uint8_t *code, size_t len, MeasureResult *out);

#endif
