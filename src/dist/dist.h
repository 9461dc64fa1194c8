/* The ranks of a job started by mpirun (DESIGN.md "dist/"), behind a few
 * calls so that the trainer, predict and eval never see MPI.
 *
 * Two implementations: dist_mpi.c (Open MPI; linked into the granite
 * program) and dist_single.c (one process; linked into the tests, benches
 * and the library's other users, and into granite when the build finds no
 * MPI). A process not started by mpirun is rank 0 of 1 in both: MPI is then
 * never initialised and every call below returns at once, so granite runs
 * exactly as it does without MPI.
 *
 * Collectives (everything but the rank queries and dist_abort) must be
 * called by every rank in the same order. A rank that fails where the
 * others carry on must still reach the next dist_agree, or the others wait
 * for it forever; docs/distributed.md lists the agreement points. */
#ifndef GRANITE_DIST_DIST_H
#define GRANITE_DIST_DIST_H

#include <stdbool.h>
#include <stddef.h>

/* Joins the job if the process was started by mpirun (MPI_Init), else does
 * nothing. With more than one rank, error lines then name the rank and
 * warnings come from rank 0 alone (util/common.h). 0, or -1 after an error
 * line. Call once, before any thread is started. */
int dist_init(int *argc, char ***argv);
/* Leaves the job (MPI_Finalize); returns the exit status for `return
 * dist_finalize(status)` at the end of main: status, or 0 on a rank that
 * stopped only because another failed (dist_any), so that mpirun names the
 * failing rank. */
int dist_finalize(int status);

int dist_rank(void);
int dist_size(void);
/* Ranks of this job on this machine (1 without mpirun). */
int dist_local_size(void);
static inline bool dist_is_root(void) { return dist_rank() == 0; }

/* Collective: true on every rank if `failed` is true on any rank. The
 * failing ranks have printed their error line; the others then stop
 * without a word (and exit 0, see dist_finalize). */
bool dist_any(bool failed);

/* Collective: buf[0..n) = the sum of every rank's buf (MPI_Allreduce). All
 * ranks get the same bits. */
void dist_allreduce_sum(float *buf, size_t n);

/* Collective: rank 0's buf[0..bytes) copied to every rank. */
void dist_broadcast(void *buf, size_t bytes);

/* Collective: all[] = every rank's mine[0..count[rank]) one after another in
 * rank order, on every rank (all_to_all = true) or on rank 0 only (the other
 * ranks' `all` is not touched and may be NULL). count[] (of floats) is
 * known to every rank. */
void dist_gather_floats(const float *mine, float *all, const size_t *count, bool all_to_all);

/* Ends the whole job from one rank: one error line naming the rank, then
 * MPI_Abort (exit(status) without mpirun). For failures after which this
 * rank cannot reach the next collective. */
void dist_abort(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

#endif
