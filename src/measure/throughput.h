/* From the raw timings of one child to cycles per iteration: BHive's
 * difference of two unroll factors, from the minimum and from the median of
 * the repeats. */
#ifndef GRANITE_MEASURE_THROUGHPUT_H
#define GRANITE_MEASURE_THROUGHPUT_H

#include "measure/harness.h"

typedef struct {
  int factor_small, factor_large; /* unroll factors of the block and of the chain */
  int chain_length;               /* dependent adds per iteration of the calibration chain */
  int ticks_are_cycles;           /* perf counted core cycles: no calibration */
} ThroughputSetup;

typedef struct {
  double cycles_min;    /* from the minimum of each factor's samples: the main value */
  double cycles_median; /* from the medians */
  double spread;        /* |median - min| / min: how much noise moved the result */
  double core_per_tick; /* core cycles per timer tick (1 with perf; TSC: core clock / TSC rate) */
} Throughput;

/* 0 with *out set; -1 if the samples give no positive difference (the
 * block's time is lost in the noise). */
int throughput_compute(const HarnessReport *rep, const ThroughputSetup *setup, Throughput *out);

/* Median of n values (the array is reordered). */
double median_of(double *v, int n);

#endif
