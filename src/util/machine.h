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
  double nominal_ghz;  /* /proc/cpuinfo "cpu MHz" of the first CPU / 1000 (in a VM:
                          the TSC rate, not the boost clock the core runs at) */
  double measured_ghz; /* cycles/s of a dependent integer add chain (1 cycle
                          each), i.e. the clock a busy core really runs at; 0 if
                          not measured */
  double ghz;          /* the clock used for the peak: measured, else nominal */
  double measured_fma_per_cycle; /* vector FMAs per cycle a 1-thread loop of
                          independent FMAs reaches (checks fma_units); 0 if not measured */
  const char *isa;     /* widest FP32 vector ISA the CPU and OS support */
  int simd_lanes;      /* FP32 lanes per vector: 16 AVX-512F, 8 AVX/AVX2, 4 SSE */
  bool has_fma;        /* FMA3 */
  int fma_units;       /* vector FMA (or mul+add) pipes per core: ASSUMED 2 on
                          AVX2/AVX-512 x86 (Zen 4/5, Skylake-SP and later) */
  double core_gflops;  /* fma_units × lanes × 2 (FMA) × GHz, one core */
  double peak_gflops;  /* × cores */
} MachinePeak;

/* Reads cpuid and /proc/cpuinfo; with measure_clock also times the clock and
 * the FMA rate on the calling thread (about 0.3 s). */
void machine_detect_peak(MachinePeak *p, bool measure_clock);

/* OpenBLAS 0.3.21 does not know Zen 5 and falls back to its AVX2 (Haswell)
 * kernels, half the speed of its AVX-512 (SkylakeX) ones on this CPU. If
 * the CPU and OS support AVX-512 (F, BW, DQ, VL), OPENBLAS_CORETYPE is unset
 * and OpenBLAS picked an AVX2 core, re-executes the program with
 * OPENBLAS_CORETYPE=SKYLAKEX (OpenBLAS reads it only when it is loaded).
 * Returns only if no re-exec was needed or it failed. GRANITE_NO_BLAS_REEXEC=1
 * turns it off. */
void machine_select_blas_kernels(int argc, char **argv);

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
