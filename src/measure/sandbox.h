/* The sandbox around a measured block: what a child process gives up before
 * it runs untrusted code (system calls, core dumps, files, unlimited CPU),
 * and how the parent runs such a child with a wall-clock limit. */
#ifndef GRANITE_MEASURE_SANDBOX_H
#define GRANITE_MEASURE_SANDBOX_H

#include <sys/types.h>

/* In the child: resource limits (no core file, no file writes, cpu_seconds
 * of CPU), then a seccomp filter that allows exit and exit_group only (and
 * read() of allowed_read_fd when >= 0); any other system call, of any
 * architecture, raises SIGSYS. NULL on success, else what failed (errno set). */
const char *sandbox_enter(int cpu_seconds, int allowed_read_fd);

typedef struct {
  int exited, exit_code;   /* WIFEXITED */
  int signaled, signo;     /* WIFSIGNALED (our SIGKILL after a timeout too) */
  int timed_out;           /* the parent killed it after the wall-clock limit */
} SandboxEnd;

/* Forks; the child calls child(arg) (which must not return). The parent
 * waits at most timeout_s seconds of wall-clock time, then kills the child
 * with SIGKILL and reaps it. 0 with *end filled, -1 if fork failed. */
int sandbox_run(void (*child)(const void *arg), const void *arg, double timeout_s, SandboxEnd *end);

#endif
