/* Our matmul kernel (nn/gemm_kernel.h) alone, one thread: y = x·W for the
 * shapes of a single-block prediction and of large batches, GFLOP/s of the
 * best of `calls` calls (thread CPU clock: another job's time slices do not
 * count), and the same shapes through cblas_sgemm for comparison.
 * Usage: gemm_speed [calls] [rows×in×out ...]   e.g. gemm_speed 200 23x128x128 */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "nn/gemm_kernel.h"

static double thread_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void run(int calls, int rows, int in, int out) {
  float *x = malloc(sizeof(float) * (size_t)rows * in), *w = malloc(sizeof(float) * (size_t)in * out);
  float *y = malloc(sizeof(float) * (size_t)rows * out);
  for (size_t i = 0; i < (size_t)rows * in; i++) x[i] = (float)(i % 13) * 0.1f;
  for (size_t i = 0; i < (size_t)in * out; i++) w[i] = (float)(i % 7) * 0.1f;
  /* repeat small shapes so that one timing covers ~1 ms, above the clock's resolution */
  long flop = 2L * rows * in * out, reps = 3000000 / flop + 1;
  double best_k = 1e9, best_b = 1e9;
  for (int c = 0; c < calls; c++) {
    double t0 = thread_seconds();
    for (long r = 0; r < reps; r++) gemm_kernel_nn(y, out, x, in, w, rows, in, out, 0.0f);
    double t1 = thread_seconds();
    for (long r = 0; r < reps; r++)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, out, in, 1.0f, x, in, w, out, 0.0f, y, out);
    double t2 = thread_seconds();
    if (t1 - t0 < best_k) best_k = t1 - t0;
    if (t2 - t1 < best_b) best_b = t2 - t1;
  }
  printf("%5d x %4d x %4d: %s %6.1f GFLOP/s (%.2f us a call), OpenBLAS %6.1f GFLOP/s\n", rows, in, out,
         gemm_kernel_isa(), (double)flop * reps / best_k * 1e-9, best_k / reps * 1e6,
         (double)flop * reps / best_b * 1e-9);
  free(x), free(w), free(y);
}

int main(int argc, char **argv) {
  omp_set_num_threads(1);
  int calls = argc > 1 ? atoi(argv[1]) : 100;
  if (!gemm_kernel_isa()) {
    fprintf(stderr, "gemm_speed: no granite kernel on this CPU (or GRANITE_NO_AVX2 is set)\n");
    return 1;
  }
  if (argc > 2) {
    for (int i = 2; i < argc; i++) {
      int r, k, o;
      if (sscanf(argv[i], "%dx%dx%d", &r, &k, &o) != 3 || r <= 0 || k <= 0 || o <= 0) {
        fprintf(stderr, "gemm_speed: argument %d: \"%s\" is not rows x in x out (e.g. 23x128x128)\n", i, argv[i]);
        return 1;
      }
      run(calls, r, k, o);
    }
    return 0;
  }
  /* a 5-instruction block's matmuls (default model), then large batches */
  static const int shapes[][3] = {{1, 128, 128}, {1, 384, 128}, {23, 128, 128}, {26, 128, 128}, {23, 256, 128},
                                  {2000, 256, 256}, {3000, 128, 128}, {3000, 384, 128}};
  for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) run(calls, shapes[i][0], shapes[i][1], shapes[i][2]);
  return 0;
}
