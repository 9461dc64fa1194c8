/* The FP32/BF16 peak computation (util/machine.h), from given machine facts:
 * a pure function, so the arithmetic is checked without timing anything. */
#include <string.h>

#include "testing.h"
#include "util/machine.h"

static MachinePeak avx512_machine(double fma512, double fma256, double ghz) {
  MachinePeak p;
  memset(&p, 0, sizeof p);
  p.cores = 2;
  p.isa = "AVX-512";
  p.simd_lanes = 16;
  p.has_fma = true;
  p.nominal_ghz = 2.6;
  p.measured_ghz = ghz;
  p.fma512_per_cycle = fma512;
  p.fma256_per_cycle = fma256;
  machine_compute_peak(&p);
  return p;
}

int main(void) {
  /* 1 FMA/cycle gets half the peak of 2, all else equal (256-bit rate 0:
   * only the 512-bit one measured) */
  MachinePeak one = avx512_machine(1.0, 0, 4.0), two = avx512_machine(2.0, 0, 4.0);
  CHECK_NEAR(one.core_gflops * 2, two.core_gflops, 1e-12, 0);
  CHECK_NEAR(two.core_gflops, 2 * 16 * 2 * 4.0, 1e-12, 0); /* 256 GFLOP/s per core */
  CHECK_NEAR(two.peak_gflops, 2 * two.core_gflops, 1e-12, 0);
  CHECK_NEAR(machine_peak_for_threads(&one, 1), one.core_gflops, 1e-12, 0);
  CHECK_NEAR(machine_peak_for_threads(&one, 8), one.peak_gflops, 1e-12, 0); /* clipped to the cores */
  CHECK(one.fma_measured && one.fma_per_cycle == 1 && two.fma_per_cycle == 2);

  /* measured rates are rounded to half pipes: 1.97 is 2, 1.04 is 1 */
  MachinePeak noisy = avx512_machine(1.97, 1.98, 4.0), noisy1 = avx512_machine(1.04, 0, 4.0);
  CHECK_NEAR(noisy.core_gflops, two.core_gflops, 1e-12, 0);
  CHECK_NEAR(noisy1.core_gflops, one.core_gflops, 1e-12, 0);

  /* Zen 4: 1 at 512 bits, 2 at 256 bits: 16 x 1 = 8 x 2, the peak is 16
   * FMA lanes a cycle either way (half of Zen 5's) */
  MachinePeak zen4 = avx512_machine(1.0, 2.0, 3.66), zen5 = avx512_machine(2.0, 2.0, 3.66);
  CHECK_NEAR(zen4.core_gflops, 16 * 2 * 3.66, 1e-12, 0);
  CHECK_NEAR(zen5.core_gflops, 2 * zen4.core_gflops, 1e-12, 0);
  CHECK(!strcmp(zen5.peak_isa, "AVX-512") && zen5.peak_lanes == 16);

  /* an AVX-512 CPU whose 512-bit rate is below half its 256-bit rate: the
   * 256-bit width sets the peak */
  MachinePeak slow512 = avx512_machine(0.52, 2.0, 3.0);
  CHECK(slow512.peak_lanes == 8 && !strcmp(slow512.peak_isa, "AVX2"));
  CHECK_NEAR(slow512.core_gflops, 8 * 2 * 2 * 3.0, 1e-12, 0);

  /* Zen 3 (family 25 model 1): AVX2+FMA only, 2 FMAs a cycle at 256 bits:
   * 8 lanes x 2 = 16 FMA lanes a cycle, Zen 4's rate; 1 a cycle gets half */
  MachinePeak zen3 = avx512_machine(0, 2.02, 3.2), avx2_one = avx512_machine(0, 0.97, 3.2);
  zen3.isa = avx2_one.isa = "AVX2";
  zen3.simd_lanes = avx2_one.simd_lanes = 8;
  machine_compute_peak(&zen3);
  machine_compute_peak(&avx2_one);
  CHECK(zen3.fma_measured && zen3.fma_per_cycle == 2 && zen3.peak_lanes == 8 && !strcmp(zen3.peak_isa, "AVX2"));
  CHECK_NEAR(zen3.core_gflops, 2 * 8 * 2 * 3.2, 1e-12, 0);
  CHECK_NEAR(avx2_one.core_gflops * 2, zen3.core_gflops, 1e-12, 0);
  /* a stray 512-bit rate on a CPU without AVX-512 lanes is not used */
  MachinePeak stray = zen3;
  stray.fma512_per_cycle = 2;
  machine_compute_peak(&stray);
  CHECK_NEAR(stray.core_gflops, zen3.core_gflops, 1e-12, 0);

  /* nothing measured: 2 assumed, the clock from /proc/cpuinfo */
  MachinePeak guess = avx512_machine(0, 0, 0);
  CHECK(!guess.fma_measured && guess.fma_per_cycle == 2);
  CHECK_NEAR(guess.core_gflops, 2 * 16 * 2 * 2.6, 1e-12, 0);

  /* BF16: vdpbf16ps does 32 multiply-adds; none without the instruction */
  MachinePeak bf = avx512_machine(2.0, 2.0, 4.0);
  CHECK(bf.bf16_core_gflops == 0);
  bf.has_avx512_bf16 = true;
  bf.dpbf16_per_cycle = 0.98;
  machine_compute_peak(&bf);
  CHECK_NEAR(bf.bf16_core_gflops, 1 * 32 * 2 * 4.0, 1e-12, 0);
  CHECK_NEAR(machine_bf16_peak_for_threads(&bf, 2), 2 * bf.bf16_core_gflops, 1e-12, 0);

  /* the printed derivation names the rate used and both measured ones */
  char buf[512];
  machine_describe_peak(&zen4, 2, buf, sizeof buf);
  CHECK_MSG(strstr(buf, "1 FMA/cycle") && strstr(buf, "1.00 at 512 bits") && strstr(buf, "2.00 at 256 bits") &&
                strstr(buf, "= 234 GFLOP/s"),
            "%s", buf);
  machine_describe_peak(&zen3, 2, buf, sizeof buf);
  CHECK_MSG(strstr(buf, "2 FMA/cycle") && strstr(buf, "2.02 at 256 bits; no AVX-512") && strstr(buf, "8 lanes (AVX2)") &&
                strstr(buf, "= 205 GFLOP/s") && !strstr(buf, "512 bits"),
            "%s", buf);
  machine_describe_peak(&guess, 1, buf, sizeof buf);
  CHECK_MSG(strstr(buf, "assumed") != NULL, "%s", buf);

  /* the real machine: whatever it is, a measured rate of at least 1 */
  MachinePeak here;
  machine_detect_peak(&here, true);
  if (here.has_fma) CHECK(here.fma_measured && here.fma_per_cycle >= 1 && here.core_gflops > 0);
  return test_summary("test_machine");
}
