/* `granite measure` (measure_run.h): the run from input files to outputs
 * and the summary a user reads at the end. */
#include "measure/measure_run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "measure/cpu_name.h"
#include "measure/harness.h"
#include "measure/throughput.h"
#include "util/common.h"

void measure_run_config_default(MeasureRunConfig *c) {
  memset(c, 0, sizeof *c);
  measure_options_default(&c->opt);
  c->progress_every = 2.0;
}

static double percentile(double *v, int n, double p) {
  if (n == 0) return NAN;
  median_of(v, n); /* sorts */
  int k = (int)ceil(p * n) - 1;
  return v[k < 0 ? 0 : k];
}

static void summarize(const MeasureRunConfig *c, const InputBlocks *blocks, const MeasureResult *results,
                      const char *cpu, double seconds, int jobs, size_t finished) {
  size_t n = blocks->n, count[MEASURE_NUM_STATUS] = {0};
  const char *example[MEASURE_NUM_STATUS] = {0};
  double *spreads = xmalloc((n + 1) * sizeof *spreads), ratio_sum = 0;
  int ns = 0;
  for (size_t i = 0; i < n; i++) {
    const MeasureResult *r = &results[i];
    int s = r->status >= 0 && r->status < MEASURE_NUM_STATUS ? r->status : MEASURE_HARNESS_ERROR;
    count[s]++;
    if (!example[s] && r->detail[0]) example[s] = r->detail;
    if (s == MEASURE_OK) {
      spreads[ns++] = r->spread;
      ratio_sum += r->core_per_tick;
    }
  }
  fprintf(stderr, "measure: %zu of %zu blocks done in %.1f s (%.1f blocks/s, %d worker%s) on %s\n", finished, n,
          seconds, seconds > 0 ? finished / seconds : 0, jobs, jobs == 1 ? "" : "s", cpu);
  if (c->opt.use_perf)
    fprintf(stderr, "  clock: core cycles from perf_event_open\n");
  else
    fprintf(stderr, "  clock: time-stamp counter x %.3f core cycles per tick (dependent-add chain, mean)\n",
            ns ? ratio_sum / ns : NAN);
  fprintf(stderr, "  measured: %zu (%.1f%%)", count[MEASURE_OK], n ? 100.0 * count[MEASURE_OK] / n : 0.0);
  if (ns) {
    double med = percentile(spreads, ns, 0.5), p90 = percentile(spreads, ns, 0.9);
    fprintf(stderr, "; spread |median-min|/min: median %.2f%%, p90 %.2f%%", 100 * med, 100 * p90);
  }
  fputc('\n', stderr);
  for (int s = 1; s < MEASURE_NUM_STATUS; s++) {
    if (!count[s]) continue;
    fprintf(stderr, "  not measured: %zu %s: %s", count[s], measure_status_name(s), measure_status_text(s));
    if (example[s]) fprintf(stderr, "; e.g. %s", example[s]);
    fputc('\n', stderr);
  }
  free(spreads);
}

int measure_run(const MeasureRunConfig *c, char *const *inputs, int num_inputs) {
  InputBlocks blocks = {0};
  MeasureResult *results = NULL;
  int rc = -1;
  if (measure_input_read(inputs, num_inputs, &blocks)) goto done;
  char cpu[256], source[300];
  cpu_describe("/proc/cpuinfo", cpu, sizeof cpu);
  if (c->source) snprintf(source, sizeof source, "%s", c->source);
  else snprintf(source, sizeof source, "measured: %s", cpu);
  results = xcalloc(blocks.n + 1, sizeof *results);
  double start = now_seconds();
  int jobs = c->jobs;
  size_t finished = 0;
  int interrupted = measure_parallel(&c->opt, &blocks, &jobs, c->quiet, c->progress_every, results, &finished);
  if (interrupted < 0) goto done;
  double seconds = now_seconds() - start;
  if (c->csv && measure_write_csv(c->csv, inputs, &blocks, results)) goto done;
  long written = 0;
  if (c->output && measure_write_tfrecord(c, source, inputs, num_inputs, &blocks, results, &written)) goto done;
  if (!c->quiet) {
    summarize(c, &blocks, results, cpu, seconds, jobs, finished);
    if (c->output)
      fprintf(stderr, "  wrote %ld records to %s (source \"%s\", cycles per %s, from the %s of the samples)\n",
              written, c->output, source, c->per_iteration ? "iteration" : "100 iterations",
              c->use_median ? "medians" : "minimums");
    if (c->csv) fprintf(stderr, "  wrote %zu lines to %s\n", blocks.n, c->csv);
  }
  rc = interrupted ? 1 : 0;
done:
  free(results);
  measure_input_free(&blocks);
  return rc;
}
