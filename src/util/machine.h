/* What the machine can do, for reporting speed as a fraction of peak
 * (DESIGN.md "Speed"): FP32 peak from cpuid and /proc/cpuinfo, and the
 * process's memory use (RSS). Linux/x86-64; elsewhere the fields say
 * "unknown" and the peak is 0. */
#ifndef GRANITE_UTIL_MACHINE_H
#define GRANITE_UTIL_MACHINE_H

#include <stdbool.h>

typedef struct {
  char cpu_name[96];   /* /proc/cpuinfo "model name" */
  char cpu_id[48];     /* "family 26 model 2" (Zen 5 is family 26, Zen 4 family 25 model >= 0x10) */
  int cores;           /* online CPUs */
  double nominal_ghz;  /* /proc/cpuinfo "cpu MHz" of the first CPU / 1000 (in a VM:
                          the TSC rate, not the boost clock the core runs at) */
  double measured_ghz; /* cycles/s of a dependent integer add chain (1 cycle
                          each), i.e. the clock a busy core really runs at; 0 if
                          not measured */
  double measured_ghz_all_cores; /* the same measured on every core at once (the lowest);
                          a CPU may clock down when all its cores work; 0 if not measured */
  double ghz;          /* the clock used for the peak: measured, else nominal */
  const char *isa;     /* widest FP32 vector ISA the CPU and OS support */
  int simd_lanes;      /* FP32 lanes per vector: 16 AVX-512F, 8 AVX/AVX2, 4 SSE */
  bool has_fma;        /* FMA3 */
  bool has_avx512_bf16; /* vdpbf16ps (cpuid 7.1 EAX bit 5) with the OS saving zmm state */
  /* Vector instructions per cycle a 1-thread loop of 12 independent chains
   * reaches, per width (0: not measured or not supported). Zen 4 does 1
   * 512-bit FMA per cycle (it splits them over its two 256-bit pipes) but 2
   * 256-bit ones; Zen 5 does 2 of either. */
  double fma512_per_cycle, fma256_per_cycle, dpbf16_per_cycle;
  /* Used for the peak (machine_compute_peak): */
  bool fma_measured;   /* fma_per_cycle is a measured rate (rounded to half pipes), else assumed 2 */
  double fma_per_cycle;
  int peak_lanes;      /* lanes of the width whose lanes x FMA/cycle is largest */
  const char *peak_isa;
  double core_gflops;  /* fma_per_cycle × peak_lanes × 2 (FMA) × GHz, one core */
  double peak_gflops;  /* × cores */
  double bf16_core_gflops; /* vdpbf16ps/cycle × 32 multiply-adds × 2 × GHz; 0 without AVX512_BF16 */
} MachinePeak;

/* Reads cpuid and /proc/cpuinfo; with measure_clock also times the clock and
 * the FMA rates (512 and 256 bits, and vdpbf16ps) on the calling thread
 * (about 0.5 s). Then machine_compute_peak. */
void machine_detect_peak(MachinePeak *p, bool measure_clock);

/* The peak from what p says about the machine (cores, simd_lanes, has_fma,
 * the measured rates and clocks), no measuring: FP32 peak per core =
 * max over widths of (lanes × FMA/cycle rounded to half pipes) × 2 × GHz
 * (2 FMA/cycle assumed when no rate was measured); BF16 from the vdpbf16ps
 * rate. Fills ghz, fma_per_cycle, peak_lanes, peak_isa, core_gflops,
 * peak_gflops, bf16_core_gflops. */
void machine_compute_peak(MachinePeak *p);

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

/* Peak BF16 (vdpbf16ps) GFLOP/s of `threads` cores; 0 without AVX512_BF16. */
double machine_bf16_peak_for_threads(const MachinePeak *p, int threads);

/* The derivation, e.g. "2 cores x 1 FMA/cycle (measured: 1.00 at 512 bits,
 * 2.00 at 256 bits) x 16 lanes (AVX-512) x 2 FLOP x 3.660 GHz (...) = 234 GFLOP/s" */
void machine_describe_peak(const MachinePeak *p, int threads, char *buf, int size);
void machine_describe_bf16_peak(const MachinePeak *p, int threads, char *buf, int size);

/* Resident memory of this process in MiB: current (VmRSS) and the high-water
 * mark (VmHWM, falling back to getrusage ru_maxrss). */
double machine_rss_mib(void);
double machine_peak_rss_mib(void);
/* Resets the high-water mark to the current RSS (Linux clear_refs "5"), so
 * the peaks of two phases of one run can be told apart. false if the kernel
 * refused (then the peak only ever grows). */
bool machine_reset_peak_rss(void);

#endif
