/* dist/dist.h over MPI (Open MPI from Debian). MPI is joined only when the
 * process was started by an MPI launcher; otherwise this file behaves like
 * dist_single.c. The job's shape lives in one static struct: MPI itself is
 * one per process. */
#include <limits.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "dist/dist.h"
#include "util/common.h"

static struct {
  bool joined; /* MPI_Init done, MPI_Finalize not yet */
  int rank, size, local_size;
  bool stopped_for_another; /* dist_any was true because of another rank */
} job = {false, 0, 1, 1, false};

/* Launchers export these to the processes they start (Open MPI's mpirun,
 * PMIx launchers such as srun --mpi=pmix, MPICH's hydra). */
static bool started_by_mpi_launcher(void) {
  return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_SIZE");
}

/* An MPI call failed (MPI_ERRORS_RETURN is set): this rank cannot go on. */
static void check(int rc, const char *what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  dist_abort(1, "%s failed: %s", what, text);
}

int dist_init(int *argc, char ***argv) {
  if (!started_by_mpi_launcher()) return 0;
  int provided;
  /* Only the main thread calls MPI; OpenMP and the batch prefetch thread
   * never do. */
  if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    gr_error("MPI_Init failed (started by mpirun, but cannot join the job)");
    return -1;
  }
  job.joined = true;
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &job.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &job.size);
  MPI_Comm local;
  check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, job.rank, MPI_INFO_NULL, &local),
        "MPI_Comm_split_type");
  MPI_Comm_size(local, &job.local_size);
  MPI_Comm_free(&local);
  gr_set_rank(job.rank, job.size);
  return 0;
}

int dist_finalize(int status) {
  /* A rank that stopped only because another failed exits 0: mpirun then
   * names the failing rank as the one that ended the job. */
  if (job.stopped_for_another) status = 0;
  if (job.joined) {
    fflush(stdout);
    fflush(stderr);
    MPI_Finalize();
    job.joined = false;
  }
  return status;
}

int dist_rank(void) { return job.rank; }
int dist_size(void) { return job.size; }
int dist_local_size(void) { return job.local_size; }

bool dist_any(bool failed) {
  if (job.size == 1) return failed;
  int mine = failed, any = 0;
  check(MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce (status)");
  if (any && !failed) job.stopped_for_another = true;
  return any != 0;
}

/* MPI counts are int: large buffers go in pieces of CHUNK elements. */
#define CHUNK ((size_t)1 << 28)

void dist_allreduce_sum(float *buf, size_t n) {
  if (job.size == 1) return;
  for (size_t at = 0; at < n; at += CHUNK) {
    size_t len = n - at < CHUNK ? n - at : CHUNK;
    check(MPI_Allreduce(MPI_IN_PLACE, buf + at, (int)len, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
          "MPI_Allreduce (gradients)");
  }
}

void dist_broadcast(void *buf, size_t bytes) {
  if (job.size == 1) return;
  for (size_t at = 0; at < bytes; at += CHUNK) {
    size_t len = bytes - at < CHUNK ? bytes - at : CHUNK;
    check(MPI_Bcast((char *)buf + at, (int)len, MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast");
  }
}

void dist_gather_floats(const float *mine, float *all, const size_t *count, bool all_to_all) {
  if (job.size == 1) {
    if (all != mine)
      for (size_t i = 0; i < count[0]; i++) all[i] = mine[i];
    return;
  }
  int *counts = xmalloc((size_t)job.size * sizeof *counts), *displs = xmalloc((size_t)job.size * sizeof *displs);
  size_t total = 0;
  for (int r = 0; r < job.size; r++) {
    counts[r] = (int)count[r];
    displs[r] = (int)total;
    total += count[r];
  }
  if (total > INT_MAX) dist_abort(1, "%zu values to gather, more than MPI_Gatherv can count", total);
  int rc = all_to_all ? MPI_Allgatherv(mine, counts[job.rank], MPI_FLOAT, all, counts, displs, MPI_FLOAT,
                                       MPI_COMM_WORLD)
                      : MPI_Gatherv(mine, counts[job.rank], MPI_FLOAT, all, counts, displs, MPI_FLOAT, 0,
                                    MPI_COMM_WORLD);
  check(rc, all_to_all ? "MPI_Allgatherv" : "MPI_Gatherv");
  free(counts);
  free(displs);
}

void dist_abort(int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char msg[1024];
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  gr_error("%s", msg);
  fflush(stderr);
  if (job.joined && job.size > 1) MPI_Abort(MPI_COMM_WORLD, status);
  if (job.joined) MPI_Finalize();
  exit(status);
}
