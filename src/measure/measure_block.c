/* One block, start to end (measure_block.h): decode check, code
 * generation, then children until one finishes: each fault on a new page
 * adds the page and starts again (BHive's scheme); noisy timings start
 * again up to `attempts` times and the steadiest attempt is kept. */
#include "measure/measure_block.h"

#include <Zydis/Zydis.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "measure/fault.h"
#include "measure/layout.h"
#include "measure/sandbox.h"
#include "measure/throughput.h"
#include "util/common.h"

/* The calibration chain: add rax, rcx, 10 times per iteration (latency 1
 * cycle each); short enough that its unrolled code (6 KB) leaves the
 * block's code in the instruction cache. */
#define CHAIN_LENGTH 10
static const uint8_t chain_add[3] = {0x48, 0x01, 0xc8};

static const struct {
  const char *name, *text;
} status_names[MEASURE_NUM_STATUS] = {
    [MEASURE_OK] = {"ok", "measured"},
    [MEASURE_UNDECODABLE] = {"undecodable", "not whole x86-64 instructions"},
    [MEASURE_CODE_TOO_LARGE] = {"code_too_large", "unrolled code larger than the code region"},
    [MEASURE_BAD_ADDRESS] = {"bad_address", "fault at a non-memory address (non-canonical or misaligned)"},
    [MEASURE_UNMAPPABLE_ADDRESS] = {"unmappable_address", "fault at an address that cannot be mapped"},
    [MEASURE_TOO_MANY_PAGES] = {"too_many_pages", "touches more data pages than --max-pages"},
    [MEASURE_ILLEGAL_INSTRUCTION] = {"illegal_instruction", "illegal instruction (SIGILL)"},
    [MEASURE_PRIVILEGED] = {"privileged_instruction", "privileged or interrupt instruction (general protection)"},
    [MEASURE_DIVISION_ERROR] = {"division_error", "division error (divide by zero or quotient overflow)"},
    [MEASURE_FP_EXCEPTION] = {"fp_exception", "unmasked floating-point exception"},
    [MEASURE_BREAKPOINT] = {"breakpoint", "breakpoint or debug trap (int3, int1)"},
    [MEASURE_SYSTEM_CALL] = {"system_call", "system call (stopped by seccomp)"},
    [MEASURE_SELF_MODIFYING] = {"self_modifying_code", "store into the block's own code"},
    [MEASURE_LEFT_BLOCK] = {"left_block", "control flow left the block (jump, call, return)"},
    [MEASURE_TIMEOUT] = {"timeout", "timeout (wall-clock or CPU limit)"},
    [MEASURE_UNSTABLE] = {"unstable_timing", "unstable timing in every attempt"},
    [MEASURE_CRASHED] = {"crashed", "the sandboxed child died without a report"},
    [MEASURE_HARNESS_ERROR] = {"harness_error", "not run: sandbox set-up failed, worker died or run interrupted"},
};

const char *measure_status_name(MeasureStatus s) {
  return s >= 0 && s < MEASURE_NUM_STATUS ? status_names[s].name : "unknown";
}
const char *measure_status_text(MeasureStatus s) {
  return s >= 0 && s < MEASURE_NUM_STATUS ? status_names[s].text : "unknown";
}

void measure_options_default(MeasureOptions *o) {
  o->factor_small = 100;
  o->factor_large = 200;
  o->repeats = 25;
  o->timeout_s = 2.0;
  o->max_pages = 32;
  o->attempts = 3;
  o->max_spread = 0.10;
  o->use_perf = 0;
  o->target_ticks = 20000;
}

int measure_worker_init(MeasureWorker *w, const MeasureOptions *opt) {
  memset(w, 0, sizeof *w);
  w->opt = *opt;
  w->isa = unroll_detect_isa();
  w->memfd = memfd_create("granite-measure-page", MFD_CLOEXEC);
  if (w->memfd < 0 || ftruncate(w->memfd, MEASURE_PAGE_SIZE)) {
    gr_error("measure: memfd_create: %s", strerror(errno));
    return -1;
  }
  w->pattern = mmap(NULL, MEASURE_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, w->memfd, 0);
  void *rep = mmap((void *)MEASURE_REPORT_ADDR, sizeof(HarnessReport), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (w->pattern == MAP_FAILED || rep != (void *)MEASURE_REPORT_ADDR) {
    gr_error("measure: cannot map the shared pages at their fixed addresses: %s", strerror(errno));
    return -1;
  }
  w->report = rep;
  return 0;
}

void measure_worker_free(MeasureWorker *w) {
  if (w->report) munmap(w->report, sizeof(HarnessReport));
  if (w->pattern && w->pattern != MAP_FAILED) munmap(w->pattern, MEASURE_PAGE_SIZE);
  if (w->memfd >= 0) close(w->memfd);
  free(w->code);
  memset(w, 0, sizeof *w);
}

static int decodes_whole(const uint8_t *code, size_t len, size_t *bad) {
  ZydisDecoder dec;
  ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  ZydisDecodedInstruction insn;
  for (size_t at = 0; at < len; at += insn.length)
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&dec, NULL, code + at, len - at, &insn))) {
      *bad = at;
      return 0;
    }
  return 1;
}

static size_t page_round(size_t n) { return (n + MEASURE_PAGE_SIZE - 1) & ~(size_t)(MEASURE_PAGE_SIZE - 1); }

/* Writes the four functions one page apart; fills job offsets and the map. */
static int build_code(MeasureWorker *w, const uint8_t *block, size_t len, HarnessJob *job, CodeMap *map) {
  const uint8_t *bodies[FN_COUNT] = {chain_add, chain_add, block, block};
  size_t body_len[FN_COUNT] = {sizeof chain_add, sizeof chain_add, len, len};
  int reps[FN_COUNT] = {w->opt.factor_small * CHAIN_LENGTH, w->opt.factor_large * CHAIN_LENGTH, w->opt.factor_small,
                        w->opt.factor_large};
  size_t total = 0;
  for (int f = 0; f < FN_COUNT; f++) total += page_round(unroll_overhead(w->isa) + body_len[f] * (size_t)reps[f]);
  if (total > MEASURE_CODE_MAX) return -1;
  if (w->code_cap < total) {
    free(w->code);
    w->code = xmalloc(total);
    w->code_cap = total;
  }
  size_t at = 0;
  for (int f = 0; f < FN_COUNT; f++) {
    size_t body = 0;
    size_t n = unroll_emit(w->code + at, total - at, bodies[f], body_len[f], reps[f], w->isa, &body);
    job->fn_offset[f] = at;
    map->body_start[f] = MEASURE_CODE_ADDR + at + body;
    map->body_end[f] = map->body_start[f] + body_len[f] * (size_t)reps[f];
    size_t next = at + page_round(n);
    memset(w->code + at + n, 0xcc, next - at - n); /* int3 padding */
    at = next;
  }
  job->code = w->code;
  job->code_len = at;
  map->block = block;
  map->block_len = len;
  map->code_end = MEASURE_CODE_ADDR + at;
  return 0;
}

static void run_child(const void *arg) { harness_child_main(arg); }

/* Fresh data page and report for each child: the block may have written
 * both in an earlier run. */
static void reset_shared(MeasureWorker *w) {
  for (size_t i = 0; i < MEASURE_PAGE_SIZE / 8; i++) w->pattern[i] = MEASURE_INIT_VALUE;
  memset(w->report, 0, sizeof *w->report);
}

static int has_page(const uint64_t *pages, int n, uint64_t p) {
  for (int i = 0; i < n; i++)
    if (pages[i] == p) return 1;
  return 0;
}

void measure_block(MeasureWorker *w, const uint8_t *code, size_t len, MeasureResult *out) {
  memset(out, 0, sizeof *out);
  size_t bad = 0;
  if (len == 0 || !decodes_whole(code, len, &bad)) {
    out->status = MEASURE_UNDECODABLE;
    snprintf(out->detail, sizeof out->detail, len ? "bytes at offset %zu do not decode" : "no bytes", bad);
    return;
  }
  HarnessJob job = {0};
  CodeMap map = {0};
  if (build_code(w, code, len, &job, &map)) {
    out->status = MEASURE_CODE_TOO_LARGE;
    snprintf(out->detail, sizeof out->detail, "%zu bytes x %d copies", len, w->opt.factor_large);
    return;
  }
  uint64_t pages[HARNESS_MAX_PAGES];
  int num_pages = 0;
  pages[num_pages++] = MEASURE_INIT_VALUE & ~(uint64_t)(MEASURE_PAGE_SIZE - 1);
  job.memfd = w->memfd;
  job.pages = pages;
  job.use_perf = w->opt.use_perf;
  job.repeats = w->opt.repeats;
  job.target_ticks = w->opt.target_ticks;
  job.cpu_seconds = (int)w->opt.timeout_s + 1;
  ThroughputSetup setup = {w->opt.factor_small, w->opt.factor_large, CHAIN_LENGTH, w->opt.use_perf};
  int max_pages = w->opt.max_pages < HARNESS_MAX_PAGES ? w->opt.max_pages : HARNESS_MAX_PAGES;
  int attempts = 0;
  Throughput best = {0};
  int have_best = 0;
  for (;;) {
    job.num_pages = num_pages;
    reset_shared(w);
    SandboxEnd end;
    out->children++;
    if (sandbox_run(run_child, &job, w->opt.timeout_s, &end)) {
      out->status = MEASURE_HARNESS_ERROR;
      snprintf(out->detail, sizeof out->detail, "fork: %s", strerror(errno));
      return;
    }
    uint64_t page = 0;
    ChildOutcome oc = fault_classify(w->report, &end, &map, &page, &out->status, out->detail, sizeof out->detail);
    if (oc == CHILD_FAILED) return;
    if (oc == CHILD_NEEDS_PAGE) {
      if (has_page(pages, num_pages, page)) { /* mapped, yet it faulted: should not happen */
        out->status = MEASURE_CRASHED;
        snprintf(out->detail, sizeof out->detail, "fault again on mapped page %#llx", (unsigned long long)page);
        return;
      }
      if (num_pages >= max_pages) {
        out->status = MEASURE_TOO_MANY_PAGES;
        snprintf(out->detail, sizeof out->detail, "more than %d pages (next %#llx)", max_pages,
                 (unsigned long long)page);
        return;
      }
      pages[num_pages++] = page;
      out->pages = num_pages;
      continue;
    }
    /* CHILD_DONE: keep the steadiest attempt */
    attempts++;
    Throughput t;
    if (throughput_compute(w->report, &setup, &t) == 0 && (!have_best || t.spread < best.spread)) {
      best = t;
      have_best = 1;
    }
    if ((have_best && best.spread <= w->opt.max_spread) || attempts >= w->opt.attempts) break;
  }
  out->pages = num_pages;
  if (!have_best) {
    out->status = MEASURE_UNSTABLE;
    snprintf(out->detail, sizeof out->detail, "no positive difference between the unroll factors in %d attempts",
             attempts);
    return;
  }
  out->cycles_min = best.cycles_min;
  out->cycles_median = best.cycles_median;
  out->spread = best.spread;
  out->core_per_tick = best.core_per_tick;
  if (best.spread > w->opt.max_spread) {
    out->status = MEASURE_UNSTABLE;
    snprintf(out->detail, sizeof out->detail, "median and minimum differ by %.1f%% (limit %.1f%%) in %d attempts",
             100 * best.spread, 100 * w->opt.max_spread, attempts);
    return;
  }
  out->status = MEASURE_OK;
}
