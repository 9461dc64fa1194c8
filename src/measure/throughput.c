/* Throughput from timings (throughput.h).
 *
 * T(f) = fixed + f * block: the fixed cost of the call, the register set-up
 * and the timer cancels in T(large) - T(small). With the time-stamp counter
 * the difference is in TSC ticks; a chain of dependent adds (latency 1 cycle
 * on every x86-64 core) timed in the same repeats says how many core cycles
 * a tick is, whatever clock the core runs at right now. */
#include "measure/throughput.h"

#include <math.h>
#include <stdlib.h>

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

double median_of(double *v, int n) {
  if (n <= 0) return NAN;
  qsort(v, n, sizeof *v, compare_doubles);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Ticks per call of function f: its minimum and median over the repeats. */
static void per_call_stats(const HarnessReport *rep, int f, double *min, double *median) {
  int n = (int)rep->repeats;
  double v[HARNESS_MAX_REPEATS];
  for (int r = 0; r < n; r++) v[r] = (double)rep->ticks[f][r] / rep->calls[f];
  *median = median_of(v, n);
  *min = v[0]; /* sorted by median_of */
}

int throughput_compute(const HarnessReport *rep, const ThroughputSetup *s, Throughput *out) {
  if (rep->repeats < 1 || rep->repeats > HARNESS_MAX_REPEATS) return -1;
  for (int f = 0; f < FN_COUNT; f++)
    if (rep->calls[f] < 1) return -1;
  double bs_min, bs_med, bl_min, bl_med, cs_min, cs_med, cl_min, cl_med;
  per_call_stats(rep, FN_BLOCK_SMALL, &bs_min, &bs_med);
  per_call_stats(rep, FN_BLOCK_LARGE, &bl_min, &bl_med);
  per_call_stats(rep, FN_CALIB_SMALL, &cs_min, &cs_med);
  per_call_stats(rep, FN_CALIB_LARGE, &cl_min, &cl_med);
  double df = s->factor_large - s->factor_small;
  double tick_min = 1, tick_med = 1; /* ticks per core cycle */
  if (!s->ticks_are_cycles) {
    tick_min = (cl_min - cs_min) / (df * s->chain_length);
    tick_med = (cl_med - cs_med) / (df * s->chain_length);
  }
  double block_min = (bl_min - bs_min) / df, block_med = (bl_med - bs_med) / df;
  if (!(tick_min > 0) || !(tick_med > 0) || !(block_min > 0) || !(block_med > 0)) return -1;
  out->cycles_min = block_min / tick_min;
  out->cycles_median = block_med / tick_med;
  out->spread = fabs(out->cycles_median - out->cycles_min) / out->cycles_min;
  out->core_per_tick = 1 / tick_min;
  return 0;
}
