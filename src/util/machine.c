#include "util/machine.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

static void read_cpuinfo(MachinePeak *p) {
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return;
  char line[512];
  bool have_name = false, have_mhz = false;
  while (fgets(line, sizeof line, f) && !(have_name && have_mhz)) {
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
      if (sscanf(value, "%lf", &mhz) == 1 && mhz > 0) p->ghz = mhz / 1000.0;
      have_mhz = true;
    }
  }
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
  if (avx512f && zmm_ok) {
    p->isa = "AVX-512";
    p->simd_lanes = 16;
  } else if (avx && ymm_ok) {
    p->isa = avx2 ? "AVX2" : "AVX";
    p->simd_lanes = 8;
  }
  if (!ymm_ok) p->has_fma = false;
}
#else
static void detect_simd(MachinePeak *p) {
  p->isa = "unknown";
  p->simd_lanes = 0;
}
#endif

void machine_detect_peak(MachinePeak *p) {
  memset(p, 0, sizeof *p);
  snprintf(p->cpu_name, sizeof p->cpu_name, "unknown CPU");
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  p->cores = n > 0 ? (int)n : 1;
  read_cpuinfo(p);
  detect_simd(p);
  /* Two vector FMA pipes per core is what AVX2/AVX-512 x86 server cores
   * have (Zen 2-5, Skylake-SP and later); it cannot be read from cpuid. */
  p->fma_units = 2;
  if (p->has_fma)
    p->core_gflops = p->fma_units * p->simd_lanes * 2 * p->ghz;
  else /* one multiply and one add pipe */
    p->core_gflops = p->simd_lanes * 2 * p->ghz;
  p->peak_gflops = p->core_gflops * p->cores;
}

double machine_peak_for_threads(const MachinePeak *p, int threads) {
  if (threads < 1) threads = 1;
  if (threads > p->cores) threads = p->cores;
  return p->core_gflops * threads;
}

void machine_describe_peak(const MachinePeak *p, int threads, char *buf, int size) {
  if (threads < 1 || threads > p->cores) threads = p->cores;
  if (p->has_fma)
    snprintf(buf, size, "%d core%s x %d FMA units (assumed) x %d lanes (%s) x 2 FLOP x %.3f GHz = %.0f GFLOP/s",
             threads, threads == 1 ? "" : "s", p->fma_units, p->simd_lanes, p->isa, p->ghz,
             machine_peak_for_threads(p, threads));
  else
    snprintf(buf, size, "%d core%s x (1 mul + 1 add) x %d lanes (%s) x %.3f GHz = %.0f GFLOP/s", threads,
             threads == 1 ? "" : "s", p->simd_lanes, p->isa, p->ghz, machine_peak_for_threads(p, threads));
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
