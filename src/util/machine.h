/* What the machine can do, for reporting speed as a fraction of peak
 * (DESIGN.md "Speed"): FP32 peak from cpuid and /proc/cpuinfo, and the
 * process's memory use (RSS). Linux/x86-64; elsewhere the fields say
 * "unknown" and the peak is 0. */
#ifndef GRANITE_UTIL_MACHINE_H
#define GRANITE_UTIL_MACHINE_H

#include <stdbool.h>

typedef struct {
  char cpu_name[96];   /* /proc/cpuinfo "model name" */
  int cores;           /* online CPUs */
  double ghz;          /* /proc/cpuinfo "cpu MHz" of the first CPU / 1000 */
  const char *isa;     /* widest FP32 vector ISA the CPU and OS support */
  int simd_lanes;      /* FP32 lanes per vector: 16 AVX-512F, 8 AVX/AVX2, 4 SSE */
  bool has_fma;        /* FMA3 */
  int fma_units;       /* vector FMA (or mul+add) pipes per core: ASSUMED 2 on
                          AVX2/AVX-512 x86 (Zen 4/5, Skylake-SP and later) */
  double core_gflops;  /* fma_units × lanes × 2 (FMA) × GHz, one core */
  double peak_gflops;  /* × cores */
} MachinePeak;

void machine_detect_peak(MachinePeak *p);

/* Peak FP32 GFLOP/s of `threads` cores (threads clipped to p->cores). */
double machine_peak_for_threads(const MachinePeak *p, int threads);

/* "2 cores × 2 FMA (assumed) × 16 lanes (AVX-512) × 2 FLOP × 2.596 GHz = 332 GFLOP/s" */
void machine_describe_peak(const MachinePeak *p, int threads, char *buf, int size);

/* Resident memory of this process in MiB: current (VmRSS) and the high-water
 * mark (VmHWM, falling back to getrusage ru_maxrss). */
double machine_rss_mib(void);
double machine_peak_rss_mib(void);
/* Resets the high-water mark to the current RSS (Linux clear_refs "5"), so
 * the peaks of two phases of one run can be told apart. false if the kernel
 * refused (then the peak only ever grows). */
bool machine_reset_peak_rss(void);

#endif
