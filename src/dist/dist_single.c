/* dist/dist.h for one process: for the tests and benches, the library's
 * other users, and builds without MPI. Rank 0 of 1; collectives return the
 * caller's own data. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "util/common.h"

int dist_init(int *argc, char ***argv) {
  /* N copies of one process would all write the same checkpoints */
  const char *size = getenv("OMPI_COMM_WORLD_SIZE");
  if (size && atoi(size) > 1) {
    gr_error("started by mpirun with %s ranks, but this granite was built without MPI (install libopenmpi-dev and "
             "rebuild)", size);
    return -1;
  }
  return 0;
}
int dist_finalize(int status) { return status; }
int dist_rank(void) { return 0; }
int dist_size(void) { return 1; }
int dist_local_size(void) { return 1; }
bool dist_any(bool failed) { return failed; }
void dist_allreduce_sum(float *buf, size_t n) {}
void dist_broadcast(void *buf, size_t bytes) {}

void dist_gather_floats(const float *mine, float *all, const size_t *count, bool all_to_all) {
  if (all && all != mine) memmove(all, mine, count[0] * sizeof *all);
}

void dist_abort(int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char msg[1024];
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  gr_error("%s", msg);
  exit(status);
}
