/* Workers of a measurement run (measure_run.h): one process per core,
 * pinned, taking the next block from a shared counter, writing its result
 * into a shared array. Processes, not threads: each worker forks a child per
 * block, and fork is simplest from a single-threaded process. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "measure/measure_run.h"
#include "util/common.h"

typedef struct {
  size_t next; /* the next block to take */
  size_t done; /* blocks finished */
} SharedCounters;

/* Set by SIGINT/SIGTERM in the parent: stop the workers, keep what is done. */
static volatile sig_atomic_t stop_requested;

#define PLACEHOLDER "not measured: its worker process died"

static void on_stop_signal(int signo) { stop_requested = signo; }

/* The CPUs this process may run on, in order. */
static int allowed_cpus(int *cpus, int max) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set)) return 0;
  int n = 0;
  for (int c = 0; c < CPU_SETSIZE && n < max; c++)
    if (CPU_ISSET(c, &set)) cpus[n++] = c;
  return n;
}

static void worker_main(int cpu, const MeasureOptions *opt, const InputBlocks *blocks, SharedCounters *ctr,
                        MeasureResult *results) {
  signal(SIGINT, SIG_DFL); /* the parent decides what an interruption means */
  signal(SIGTERM, SIG_DFL);
  if (cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set); /* best effort: a refused pin still measures */
  }
  MeasureWorker w;
  if (measure_worker_init(&w, opt)) _exit(1);
  for (;;) {
    size_t i = __atomic_fetch_add(&ctr->next, 1, __ATOMIC_RELAXED);
    if (i >= blocks->n) break;
    const InputBlock *b = &blocks->blocks[i];
    MeasureResult r;
    if (b->problem) {
      memset(&r, 0, sizeof r);
      r.status = MEASURE_UNDECODABLE;
      snprintf(r.detail, sizeof r.detail, "%s", b->problem);
    } else {
      measure_block(&w, b->code, b->len, &r);
    }
    results[i] = r;
    __atomic_fetch_add(&ctr->done, 1, __ATOMIC_RELEASE);
  }
  measure_worker_free(&w);
  _exit(0);
}

static void format_duration(double s, char *out, size_t size) {
  if (s < 0 || s > 1e7) snprintf(out, size, "?");
  else if (s < 60) snprintf(out, size, "%.0fs", s);
  else if (s < 3600) snprintf(out, size, "%dm%02ds", (int)s / 60, (int)s % 60);
  else snprintf(out, size, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

static void print_progress(size_t done, size_t n, double elapsed) {
  double rate = elapsed > 0 ? done / elapsed : 0;
  char eta[32];
  format_duration(rate > 0 ? (n - done) / rate : -1, eta, sizeof eta);
  fprintf(stderr, "measure: %zu/%zu blocks (%.0f%%), %.1f blocks/s, ETA %s\n", done, n, n ? 100.0 * done / n : 100.0,
          rate, eta);
}

int measure_parallel(const MeasureOptions *opt, const InputBlocks *blocks, int *jobs_io, int quiet, double progress_every,
                     MeasureResult *results, size_t *finished) {
  int cpus[CPU_SETSIZE];
  int num_cpus = allowed_cpus(cpus, CPU_SETSIZE);
  int jobs = *jobs_io;
  if (jobs <= 0) jobs = num_cpus > 0 ? num_cpus : 1;
  if ((size_t)jobs > blocks->n) jobs = blocks->n ? (int)blocks->n : 1;
  *jobs_io = jobs;
  size_t bytes = sizeof(SharedCounters) + blocks->n * sizeof(MeasureResult);
  void *shared = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED) {
    gr_error("measure: cannot map %zu bytes of shared results: %s", bytes, strerror(errno));
    return -1;
  }
  SharedCounters *ctr = shared;
  MeasureResult *shared_results = (MeasureResult *)(ctr + 1);
  for (size_t i = 0; i < blocks->n; i++) { /* what is left if a worker dies mid-way */
    shared_results[i].status = MEASURE_HARNESS_ERROR;
    snprintf(shared_results[i].detail, sizeof shared_results[i].detail, PLACEHOLDER);
  }
  fflush(NULL);
  stop_requested = 0;
  struct sigaction sa, old_int, old_term;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  pid_t pids[jobs];
  int started = 0;
  for (int j = 0; j < jobs; j++) {
    pid_t pid = fork();
    if (pid < 0) break;
    if (pid == 0) worker_main(num_cpus > 0 ? cpus[j % num_cpus] : -1, opt, blocks, ctr, shared_results);
    pids[started++] = pid;
  }
  int rc = 0;
  if (started == 0) {
    gr_error("measure: cannot start a worker process: %s", strerror(errno));
    rc = -1;
  }
  double start = now_seconds(), last = start;
  int running = started, worker_failed = 0;
  while (running > 0) {
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    if (stop_requested) /* the workers' children die with them (PR_SET_PDEATHSIG) */
      for (int j = 0; j < started; j++)
        if (pids[j] > 0) kill(pids[j], SIGKILL);
    for (int j = 0; j < started; j++) {
      int st;
      if (pids[j] > 0 && waitpid(pids[j], &st, WNOHANG) == pids[j]) {
        if (!stop_requested && (!WIFEXITED(st) || WEXITSTATUS(st))) worker_failed = 1;
        pids[j] = 0;
        running--;
      }
    }
    double t = now_seconds();
    if (!quiet && running > 0 && t - last >= progress_every) {
      print_progress(__atomic_load_n(&ctr->done, __ATOMIC_ACQUIRE), blocks->n, t - start);
      last = t;
    }
  }
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  if (stop_requested) {
    /* the blocks no worker finished keep their placeholder; say why */
    size_t done = 0;
    for (size_t i = 0; i < blocks->n; i++) {
      if (shared_results[i].status == MEASURE_HARNESS_ERROR && !strcmp(shared_results[i].detail, PLACEHOLDER))
        snprintf(shared_results[i].detail, sizeof shared_results[i].detail, "not measured: the run was interrupted");
      else
        done++;
    }
    gr_warn("measure: interrupted by signal %d after %zu of %zu blocks; writing what was measured", (int)stop_requested,
            done, blocks->n);
    rc = 1;
  }
  if (worker_failed) gr_warn("measure: a worker process failed; its unfinished blocks are reported as harness_error");
  *finished = __atomic_load_n(&ctr->done, __ATOMIC_ACQUIRE);
  memcpy(results, shared_results, blocks->n * sizeof *results);
  munmap(shared, bytes);
  return rc;
}
