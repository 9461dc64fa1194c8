/* granite measure: labels from this CPU. Flags and checks only; the work is
 * in src/measure/ (measure_run.h). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/flags_simple.h"
#include "measure/harness.h"
#include "measure/measure_run.h"
#include "util/common.h"

int cmd_measure(int argc, char **argv) {
  MeasureRunConfig c;
  measure_run_config_default(&c);
  char *output = NULL, *csv = NULL, *source = NULL, *clock = NULL, *statistic = NULL;
  StrList files = {0};
  int per_iteration = 0, keep = 0, quiet = 0;
  const FlagSpec flags[] = {
      {"output", FLAG_STRING, &output, "OUT.tfrecord",
       "the input records, each with one more inverse_throughputs entry (source: --source); written to a "
       "temporary name, renamed when complete"},
      {"csv", FLAG_STRING, &csv, "OUT.csv",
       "one line per input block: status, cycles per iteration and per 100 iterations (from the minimum and "
       "the median), spread, pages, detail"},
      {"source", FLAG_STRING, &source, "NAME", "throughput source name (default \"measured: <CPU model> (<march>)\")"},
      {"jobs", FLAG_INT, &c.jobs, "N", "worker processes, each pinned to its own CPU (default: one per CPU)"},
      {"unroll", FLAG_INT, &c.opt.factor_small, "N", "the smaller unroll factor (default 100)"},
      {"unroll-large", FLAG_INT, &c.opt.factor_large, "N", "the larger unroll factor (default 200)"},
      {"repeats", FLAG_INT, &c.opt.repeats, "N", "timed samples per unroll factor (default 25, at most 64)"},
      {"timeout", FLAG_DOUBLE, &c.opt.timeout_s, "SECONDS", "wall-clock limit of one sandboxed run (default 2)"},
      {"max-pages", FLAG_INT, &c.opt.max_pages, "N", "data pages a block may touch (default 32, at most 256)"},
      {"attempts", FLAG_INT, &c.opt.attempts, "N", "runs of a block whose timings are unstable (default 3)"},
      {"max-spread", FLAG_DOUBLE, &c.opt.max_spread, "X",
       "a block is unstable if |median - min| / min of its throughput is above X (default 0.10)"},
      {"clock", FLAG_STRING, &clock, "auto|perf|tsc",
       "core cycles from perf_event_open (perf), or the time-stamp counter scaled by a dependent-add chain "
       "timed alongside (tsc); auto: perf where the CPU counter is available (default)"},
      {"statistic", FLAG_STRING, &statistic, "min|median",
       "which estimate goes into --output (default min: noise only adds time); the CSV has both"},
      {"per-iteration", FLAG_BOOL, &per_iteration, NULL,
       "write cycles per iteration to --output (default: cycles per 100 iterations, BHive's unit and what "
       "import-bhive writes)"},
      {"keep-unmeasured", FLAG_BOOL, &keep, NULL, "also write the records that could not be measured, unchanged"},
      {"quiet", FLAG_BOOL, &quiet, NULL, "print only errors (no progress, no summary)"},
  };
  FlagTable table = {
      "measure", "--output OUT.tfrecord | --csv OUT.csv [flags] FILE.tfrecord|FILE.csv...",
      "Measures the inverse throughput of every block on this CPU with BHive's method: the block, unrolled\n"
      "100 and 200 times, runs in a sandboxed child (seccomp: no system call but exit; resource limits;\n"
      "wall-clock timeout) with every register pointing into one mapped page; a fault on another page\n"
      "maps it onto the same physical page and the block starts again. Throughput = difference of the\n"
      "two timings / difference of the factors, from the minimum (main value) and the median of the\n"
      "samples. Inputs: .tfrecord of BasicBlockWithThroughputProto, or CSV (.csv/.txt) whose first\n"
      "column is the block's hex. Blocks that cannot be measured are reported with the reason (CSV and\n"
      "summary), never dropped silently; the tfrecord output holds the measured ones (all with\n"
      "--keep-unmeasured). Ctrl-C or SIGTERM stops the run and writes what was measured (exit 130).\n"
      "Details and how the numbers compare: docs/measure.md.",
      flags, (int)ARRAY_LEN(flags), &files, "input file"};
  int st = cli_flags_parse(&table, argc, argv);
  int rc = st == 1 ? 0 : 2;
  if (st) goto done;
  rc = 2;
  if (!output && !csv) {
    gr_error("measure: give --output OUT.tfrecord, --csv OUT.csv or both");
    goto done;
  }
  if (c.opt.factor_small < 1 || c.opt.factor_large <= c.opt.factor_small) {
    gr_error("measure: unroll factors must satisfy 1 <= --unroll < --unroll-large (got %d, %d)", c.opt.factor_small,
             c.opt.factor_large);
    goto done;
  }
  if (c.opt.repeats < 1 || c.opt.repeats > HARNESS_MAX_REPEATS) {
    gr_error("measure: --repeats must be in 1..%d (got %d)", HARNESS_MAX_REPEATS, c.opt.repeats);
    goto done;
  }
  if (!(c.opt.timeout_s > 0 && c.opt.timeout_s <= 3600)) {
    gr_error("measure: --timeout must be in (0, 3600] seconds");
    goto done;
  }
  if (c.opt.max_pages < 1 || c.opt.max_pages > HARNESS_MAX_PAGES) {
    gr_error("measure: --max-pages must be in 1..%d (got %d)", HARNESS_MAX_PAGES, c.opt.max_pages);
    goto done;
  }
  if (c.opt.attempts < 1 || !(c.opt.max_spread >= 0) || c.jobs < 0) {
    gr_error("measure: --attempts must be >= 1, --max-spread >= 0, --jobs >= 0");
    goto done;
  }
  if (statistic && strcmp(statistic, "min") && strcmp(statistic, "median")) {
    gr_error("measure: --statistic=%s: expected min or median", statistic);
    goto done;
  }
  int perf = harness_perf_available();
  if (!clock || !strcmp(clock, "auto")) c.opt.use_perf = perf;
  else if (!strcmp(clock, "perf")) {
    if (!perf) {
      gr_error("measure: --clock=perf: no core-cycle counter here (perf_event_open failed; a VM often hides it); "
               "use --clock=tsc");
      goto done;
    }
    c.opt.use_perf = 1;
  } else if (!strcmp(clock, "tsc")) c.opt.use_perf = 0;
  else {
    gr_error("measure: --clock=%s: expected auto, perf or tsc", clock);
    goto done;
  }
  c.output = output;
  c.csv = csv;
  c.source = source;
  c.use_median = statistic && !strcmp(statistic, "median");
  c.per_iteration = per_iteration;
  c.keep_unmeasured = keep;
  c.quiet = quiet;
  c.progress_every = isatty(2) ? 2 : 30; /* a log file gets a line every 30 s */
  int run = measure_run(&c, files.items, files.n);
  rc = run == 0 ? 0 : run == 1 ? 130 : 1; /* 130: interrupted, outputs hold what was measured */
done:
  str_list_free(&files);
  return rc;
}
