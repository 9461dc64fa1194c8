/* The dist/dist.h calls over MPI, run by tests/mpi_collectives.sh under
 * `mpirun -np R`: every rank checks what it received and exits non-zero on
 * a mismatch. `mpi_collectives bench FLOATS REPS` instead times an
 * allreduce of FLOATS floats (docs/distributed.md: the cost of one
 * training step's gradient exchange). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "util/common.h"

static int failures;
#define EXPECT(cond)                                                                       \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      fprintf(stderr, "rank %d: %s:%d: failed: %s\n", dist_rank(), __FILE__, __LINE__, #cond); \
      failures++;                                                                          \
    }                                                                                      \
  } while (0)

static void check_collectives(void) {
  int R = dist_size(), me = dist_rank();
  EXPECT(R >= 2);
  EXPECT(dist_local_size() == R); /* all on this machine */

  /* allreduce: rank r contributes (r+1)*i; pieces beyond one MPI count are
   * not tried here (1 GiB) */
  size_t n = 100003;
  float *g = xmalloc(n * sizeof *g);
  for (size_t i = 0; i < n; i++) g[i] = (float)((me + 1) * (i % 1000));
  dist_allreduce_sum(g, n);
  float factor = (float)(R * (R + 1) / 2);
  size_t bad = 0;
  for (size_t i = 0; i < n; i++) bad += g[i] != factor * (float)(i % 1000);
  EXPECT(bad == 0);
  free(g);

  /* status agreement: only the last rank fails */
  EXPECT(dist_any(me == R - 1));
  EXPECT(!dist_any(false));

  /* broadcast from rank 0 */
  char text[32] = "";
  if (me == 0) snprintf(text, sizeof text, "from rank zero");
  dist_broadcast(text, sizeof text);
  EXPECT(strcmp(text, "from rank zero") == 0);

  /* gather with uneven counts, rank 1 contributing nothing */
  size_t *count = xmalloc((size_t)R * sizeof *count), total = 0;
  for (int r = 0; r < R; r++) total += count[r] = r == 1 ? 0 : (size_t)(3 + r);
  float *mine = xmalloc((count[me] + 1) * sizeof *mine), *all = xmalloc(total * sizeof *all);
  for (size_t i = 0; i < count[me]; i++) mine[i] = (float)(100 * me + (int)i);
  for (int to_all = 0; to_all < 2; to_all++) {
    for (size_t i = 0; i < total; i++) all[i] = -1;
    dist_gather_floats(mine, all, count, to_all);
    if (me == 0 || to_all) {
      size_t at = 0;
      for (int r = 0; r < R; r++)
        for (size_t i = 0; i < count[r]; i++) EXPECT(all[at++] == (float)(100 * r + (int)i));
    } else {
      EXPECT(all[0] == -1); /* only rank 0 receives */
    }
  }
  free(mine);
  free(all);
  free(count);
}

static int compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void bench_allreduce(size_t n, int reps) {
  float *g = xcalloc(n, sizeof *g);
  double *dt = xmalloc((size_t)reps * sizeof *dt);
  dist_allreduce_sum(g, n); /* warm up: connections, buffers */
  for (int r = 0; r < reps; r++) {
    dist_any(false); /* start together */
    double t0 = now_seconds();
    dist_allreduce_sum(g, n);
    dt[r] = now_seconds() - t0;
  }
  qsort(dt, (size_t)reps, sizeof *dt, compare_double);
  /* best: the cost itself; median: what a busy machine adds to it */
  if (dist_is_root())
    printf("allreduce of %zu floats (%.2f MB) over %d ranks: best %.3f ms, median %.3f ms\n", n, n * 4e-6,
           dist_size(), dt[0] * 1e3, dt[reps / 2] * 1e3);
  free(dt);
  free(g);
}

int main(int argc, char **argv) {
  if (dist_init(&argc, &argv)) return 1;
  if (argc == 4 && !strcmp(argv[1], "bench"))
    bench_allreduce((size_t)atoll(argv[2]), atoi(argv[3]));
  else
    check_collectives();
  if (failures == 0 && dist_is_root() && argc < 4) printf("collectives ok on %d ranks\n", dist_size());
  return dist_finalize(failures ? 1 : 0);
}
