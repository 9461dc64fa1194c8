#include "util/machine.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#endif

#include "util/common.h"

static void read_cpuinfo(MachinePeak *p) {
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return;
  char line[512];
  bool have_name = false, have_mhz = false;
  int family = -1, model = -1;
  while (fgets(line, sizeof line, f) && !(have_name && have_mhz && family >= 0 && model >= 0)) {
    char *colon = strchr(line, ':');
    if (!colon) continue;
    char *value = colon + 1;
    while (*value == ' ' || *value == '\t') value++;
    value[strcspn(value, "\n")] = 0;
    if (!have_name && !strncmp(line, "model name", 10)) {
      snprintf(p->cpu_name, sizeof p->cpu_name, "%s", value);
      have_name = true;
    } else if (!have_mhz && !strncmp(line, "cpu MHz", 7)) {
      double mhz = 0;
      if (sscanf(value, "%lf", &mhz) == 1 && mhz > 0) p->nominal_ghz = mhz / 1000.0;
      have_mhz = true;
    } else if (family < 0 && !strncmp(line, "cpu family", 10)) {
      family = atoi(value);
    } else if (model < 0 && !strncmp(line, "model", 5) && (line[5] == ' ' || line[5] == '\t')) {
      model = atoi(value);
    }
  }
  if (family >= 0 && model >= 0) snprintf(p->cpu_id, sizeof p->cpu_id, "family %d model %d", family, model);
  fclose(f);
}

#if defined(__x86_64__) || defined(__i386__)
/* The OS must save the wide registers too (XCR0), not just the CPU have them. */
static uint64_t read_xcr0(void) {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}

static void detect_simd(MachinePeak *p) {
  unsigned a, b, c, d;
  p->isa = "SSE";
  p->simd_lanes = 4;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return;
  bool osxsave = c & (1u << 27), avx = c & (1u << 28);
  p->has_fma = c & (1u << 12);
  uint64_t xcr0 = osxsave ? read_xcr0() : 0;
  bool ymm_ok = (xcr0 & 0x6) == 0x6, zmm_ok = (xcr0 & 0xe6) == 0xe6;
  bool avx2 = false, avx512f = false;
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    avx2 = b & (1u << 5);
    avx512f = b & (1u << 16);
  }
  if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) p->has_avx512_bf16 = avx512f && zmm_ok && (a & (1u << 5));
  if (avx512f && zmm_ok) {
    p->isa = "AVX-512";
    p->simd_lanes = 16;
  } else if (avx && ymm_ok) {
    p->isa = avx2 ? "AVX2" : "AVX";
    p->simd_lanes = 8;
  }
  if (!ymm_ok) p->has_fma = false;
}

/* Cycles per second of one run of a chain of dependent adds (one retires
 * per cycle), about 0.1 ms. */
static double clock_run_ghz(void) {
  uint64_t x = 0;
  const long iters = 20000; /* x 20 adds */
  double t0 = now_seconds();
  for (long i = 0; i < iters; i++)
    __asm__ volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                     "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                     "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                     "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0"
                     : "+r"(x));
  double dt = now_seconds() - t0;
  /* the loop's own increment and branch run in parallel with the chain */
  return 20.0 * iters / dt * 1e-9;
}

/* The clock: the best of many short runs, so that a run the scheduler
 * interrupted is ignored. */
static double measure_clock_ghz(void) {
  double best = 0;
  for (int rep = 0; rep < 60; rep++) {
    double g = clock_run_ghz();
    if (g > best) best = g;
  }
  return best;
}

/* Vector FMAs per second on this thread: 12 independent accumulators (kept
 * in registers by the empty asm) hide the FMA latency on 2 pipes. */
#define FMA_STEP(x) x = FMA(x, a, b);
#define FMA_LOOP(VEC, SET1, FMA_FN, ADD, CONSTRAINT)                                             \
  VEC a = SET1(0.999f), b = SET1(1e-6f);                                                        \
  VEC c0 = a, c1 = b, c2 = a, c3 = b, c4 = a, c5 = b, c6 = a, c7 = b, c8 = a, c9 = b, c10 = a, c11 = b; \
  const long iters = 50000;                                                                    \
  double t0 = now_seconds();                                                                   \
  for (long i = 0; i < iters; i++) {                                                           \
    FMA_STEP(c0) FMA_STEP(c1) FMA_STEP(c2) FMA_STEP(c3) FMA_STEP(c4) FMA_STEP(c5)              \
    FMA_STEP(c6) FMA_STEP(c7) FMA_STEP(c8) FMA_STEP(c9) FMA_STEP(c10) FMA_STEP(c11)            \
    __asm__ volatile("" : CONSTRAINT(c0), CONSTRAINT(c1), CONSTRAINT(c2), CONSTRAINT(c3),       \
                     CONSTRAINT(c4), CONSTRAINT(c5), CONSTRAINT(c6), CONSTRAINT(c7),            \
                     CONSTRAINT(c8), CONSTRAINT(c9), CONSTRAINT(c10), CONSTRAINT(c11));         \
  }                                                                                            \
  double dt = now_seconds() - t0;                                                              \
  VEC s = ADD(ADD(ADD(c0, c1), ADD(c2, c3)), ADD(ADD(c4, c5), ADD(c6, c7)));                   \
  s = ADD(s, ADD(ADD(c8, c9), ADD(c10, c11)));                                                 \
  float sink[16];

#define REG(x) "+v"(x)
#define FMA(x, a, b) _mm512_fmadd_ps(x, a, b)
__attribute__((target("avx512f"))) static double fma_rate_avx512(void) {
  FMA_LOOP(__m512, _mm512_set1_ps, FMA, _mm512_add_ps, REG)
  _mm512_storeu_ps(sink, s);
  return sink[0] == 12345.0f ? 0 : 12.0 * iters / dt;
}
#undef FMA
#define FMA(x, a, b) _mm256_fmadd_ps(x, a, b)
__attribute__((target("avx2,fma"))) static double fma_rate_avx2(void) {
  FMA_LOOP(__m256, _mm256_set1_ps, FMA, _mm256_add_ps, REG)
  _mm256_storeu_ps(sink, s);
  return sink[0] == 12345.0f ? 0 : 12.0 * iters / dt;
}
#undef FMA
/* vdpbf16ps: 16 lanes x 2 BF16 products each; accumulators stay FP32 */
#define FMA(x, a, b) _mm512_dpbf16_ps(x, (__m512bh)(a), (__m512bh)(b))
__attribute__((target("avx512f,avx512bf16"))) static double dpbf16_rate_avx512(void) {
  FMA_LOOP(__m512, _mm512_set1_ps, FMA, _mm512_add_ps, REG)
  _mm512_storeu_ps(sink, s);
  return sink[0] == 12345.0f ? 0 : 12.0 * iters / dt;
}
#undef FMA

/* Instructions per cycle: each rate run right after a clock run, and the
 * median of their ratios. On a busy machine a run may be interrupted and
 * the clock may change between moments (the best-of clock and the best-of
 * rate can come from different clocks and made Zen 5 look like 2.5 FMAs
 * a cycle); a back-to-back pair sees one clock, and the median drops the
 * pairs an interruption spoiled. */
static int compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double rate_per_cycle(double (*rate)(void)) {
  double ratio[41];
  for (int rep = 0; rep < 41; rep++) {
    double g = clock_run_ghz();
    ratio[rep] = rate() / (g * 1e9);
  }
  qsort(ratio, 41, sizeof *ratio, compare_double);
  return ratio[20];
}

static void measure(MachinePeak *p) {
  p->measured_ghz = measure_clock_ghz();
  double lowest = 0;
#pragma omp parallel num_threads(p->cores)
  {
    double g = measure_clock_ghz();
#pragma omp critical
    if (lowest == 0 || g < lowest) lowest = g;
  }
  p->measured_ghz_all_cores = lowest;
  if (!p->has_fma || p->measured_ghz <= 0) return;
  p->fma256_per_cycle = rate_per_cycle(fma_rate_avx2);
  if (p->simd_lanes == 16) p->fma512_per_cycle = rate_per_cycle(fma_rate_avx512);
  if (p->has_avx512_bf16) p->dpbf16_per_cycle = rate_per_cycle(dpbf16_rate_avx512);
}
#else
static void detect_simd(MachinePeak *p) {
  p->isa = "unknown";
  p->simd_lanes = 0;
}
static void measure(MachinePeak *p) { (void)p; }
#endif

/* A measured rate rounded to half a pipe (timing noise and a busy machine
 * only ever move it a little; a CPU that splits a wide operation into
 * two halves issues 0.5 or 1 a cycle); at least 0.5. */
static double pipes(double measured) {
  double r = floor(measured * 2 + 0.5) / 2;
  return r < 0.5 ? 0.5 : r;
}

void machine_compute_peak(MachinePeak *p) {
  p->ghz = p->measured_ghz > 0 ? p->measured_ghz : p->nominal_ghz;
  p->peak_lanes = p->simd_lanes;
  p->peak_isa = p->isa;
  p->fma_measured = false;
  if (!p->has_fma) { /* one multiply and one add pipe */
    p->fma_per_cycle = 0;
    p->core_gflops = p->simd_lanes * 2 * p->ghz;
  } else if (p->fma512_per_cycle > 0 || p->fma256_per_cycle > 0) {
    /* the width that does the most FP32 FMAs per cycle: on Zen 4, 1 x 16
     * lanes at 512 bits equals 2 x 8 lanes at 256 */
    double f512 = p->simd_lanes == 16 && p->fma512_per_cycle > 0 ? 16 * pipes(p->fma512_per_cycle) : 0;
    double f256 = p->fma256_per_cycle > 0 ? 8 * pipes(p->fma256_per_cycle) : 0;
    p->fma_measured = true;
    if (f512 >= f256) {
      p->peak_lanes = 16, p->peak_isa = "AVX-512", p->fma_per_cycle = pipes(p->fma512_per_cycle);
    } else {
      p->peak_lanes = 8, p->peak_isa = "AVX2", p->fma_per_cycle = pipes(p->fma256_per_cycle);
    }
    p->core_gflops = p->fma_per_cycle * p->peak_lanes * 2 * p->ghz;
  } else {
    /* not measured: two vector FMA pipes, what AVX2/AVX-512 server cores
     * have at 256 bits; the 512-bit rate differs (Zen 4: 1) */
    p->fma_per_cycle = 2;
    p->core_gflops = p->fma_per_cycle * p->simd_lanes * 2 * p->ghz;
  }
  p->peak_gflops = p->core_gflops * p->cores;
  /* vdpbf16ps: 32 BF16 multiply-adds (16 lanes x 2) per instruction */
  p->bf16_core_gflops = p->dpbf16_per_cycle > 0 ? pipes(p->dpbf16_per_cycle) * 32 * 2 * p->ghz : 0;
}

void machine_detect_peak(MachinePeak *p, bool measure_clock) {
  memset(p, 0, sizeof *p);
  snprintf(p->cpu_name, sizeof p->cpu_name, "unknown CPU");
  snprintf(p->cpu_id, sizeof p->cpu_id, "family/model unknown");
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  p->cores = n > 0 ? (int)n : 1;
  read_cpuinfo(p);
  detect_simd(p);
  if (measure_clock) measure(p);
  machine_compute_peak(p);
}

double machine_peak_for_threads(const MachinePeak *p, int threads) {
  if (threads < 1) threads = 1;
  if (threads > p->cores) threads = p->cores;
  return p->core_gflops * threads;
}

double machine_bf16_peak_for_threads(const MachinePeak *p, int threads) {
  if (threads < 1) threads = 1;
  if (threads > p->cores) threads = p->cores;
  return p->bf16_core_gflops * threads;
}

void machine_describe_peak(const MachinePeak *p, int threads, char *buf, int size) {
  if (threads < 1 || threads > p->cores) threads = p->cores;
  char clock[160];
  if (p->measured_ghz > 0)
    snprintf(clock, sizeof clock, "%.3f GHz (measured busy clock; /proc/cpuinfo says %.3f)", p->ghz,
             p->nominal_ghz);
  else
    snprintf(clock, sizeof clock, "%.3f GHz (/proc/cpuinfo)", p->ghz);
  char units[160];
  if (p->fma_measured && p->simd_lanes == 16)
    snprintf(units, sizeof units, "%g FMA/cycle (measured: %.2f at 512 bits, %.2f at 256 bits)",
             p->fma_per_cycle, p->fma512_per_cycle, p->fma256_per_cycle);
  else if (p->fma_measured) /* no 512-bit rate to show: the CPU has no AVX-512 */
    snprintf(units, sizeof units, "%g FMA/cycle (measured: %.2f at 256 bits; no AVX-512)", p->fma_per_cycle,
             p->fma256_per_cycle);
  else
    snprintf(units, sizeof units, "%g FMA/cycle (assumed, not measured)", p->fma_per_cycle);
  if (p->has_fma)
    snprintf(buf, size, "%d core%s x %s x %d lanes (%s) x 2 FLOP x %s = %.0f GFLOP/s", threads,
             threads == 1 ? "" : "s", units, p->peak_lanes, p->peak_isa, clock, machine_peak_for_threads(p, threads));
  else
    snprintf(buf, size, "%d core%s x (1 mul + 1 add) x %d lanes (%s) x %s = %.0f GFLOP/s", threads,
             threads == 1 ? "" : "s", p->simd_lanes, p->isa, clock, machine_peak_for_threads(p, threads));
}

void machine_describe_bf16_peak(const MachinePeak *p, int threads, char *buf, int size) {
  if (threads < 1 || threads > p->cores) threads = p->cores;
  if (p->bf16_core_gflops <= 0) {
    snprintf(buf, size, "none (%s)", p->has_avx512_bf16 ? "vdpbf16ps rate not measured" : "no AVX512_BF16");
    return;
  }
  snprintf(buf, size, "%d core%s x %g vdpbf16ps/cycle (measured %.2f) x 32 multiply-adds x 2 FLOP x %.3f GHz = %.0f GFLOP/s",
           threads, threads == 1 ? "" : "s", pipes(p->dpbf16_per_cycle), p->dpbf16_per_cycle, p->ghz,
           machine_bf16_peak_for_threads(p, threads));
}

static double status_kib(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  double kib = -1;
  size_t k = strlen(key);
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, key, k) && line[k] == ':') {
      sscanf(line + k + 1, "%lf", &kib);
      break;
    }
  fclose(f);
  return kib;
}

double machine_rss_mib(void) {
  double kib = status_kib("VmRSS");
  return kib < 0 ? 0 : kib / 1024.0;
}

double machine_peak_rss_mib(void) {
  double kib = status_kib("VmHWM");
  if (kib < 0) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    kib = (double)ru.ru_maxrss; /* KiB on Linux */
  }
  return kib / 1024.0;
}

bool machine_reset_peak_rss(void) {
  FILE *f = fopen("/proc/self/clear_refs", "w");
  if (!f) return false;
  bool ok = fputs("5", f) >= 0;
  if (fclose(f) != 0) ok = false;
  return ok;
}

/* From OpenBLAS (declared here so that util/ needs no BLAS header). */
char *openblas_get_corename(void);

void machine_select_blas_kernels(int argc, char **argv) {
  (void)argc;
#if defined(__x86_64__)
  if (getenv("OPENBLAS_CORETYPE") || getenv("GRANITE_NO_BLAS_REEXEC")) return;
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return;
  bool f = b & (1u << 16), dq = b & (1u << 17), bw = b & (1u << 30), vl = b & (1u << 31);
  MachinePeak p;
  memset(&p, 0, sizeof p);
  detect_simd(&p);
  if (!(f && dq && bw && vl) || p.simd_lanes != 16) return;
  const char *core = openblas_get_corename();
  if (!core || !(strcasestr(core, "haswell") || strcasestr(core, "zen"))) return;
  setenv("OPENBLAS_CORETYPE", "SKYLAKEX", 1);
  execv("/proc/self/exe", argv);
  /* exec failed: go on with the slower kernels */
#else
  (void)argv;
#endif
}
