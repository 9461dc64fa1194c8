/* Sandbox of the measurement child (sandbox.h): rlimits, seccomp through
 * libseccomp, and a parent that survives and times out whatever runs. */
#include "measure/sandbox.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/common.h"

const char *sandbox_enter(int cpu_seconds, int allowed_read_fd) {
  struct rlimit none = {0, 0}, cpu = {(rlim_t)cpu_seconds, (rlim_t)cpu_seconds + 1};
  if (setrlimit(RLIMIT_CORE, &none) || setrlimit(RLIMIT_FSIZE, &none) || setrlimit(RLIMIT_CPU, &cpu))
    return "setrlimit";
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
  if (!ctx) return "seccomp_init";
  /* int 0x80 enters the kernel as a 32-bit system call: trapped too */
  if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_TRAP) ||
      seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(exit_group), 0) ||
      seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(exit), 0) ||
      (allowed_read_fd >= 0 && seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(read), 1,
                                                SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)allowed_read_fd)))) {
    errno = EINVAL;
    return "seccomp_rule_add";
  }
  int rc = seccomp_load(ctx); /* sets no_new_privs first */
  if (rc) {
    errno = -rc;
    return "seccomp_load";
  }
  return NULL; /* ctx is not released: freeing needs no system call, but nothing needs it either */
}

static void fill_end(int status, SandboxEnd *end) {
  end->exited = WIFEXITED(status);
  end->exit_code = end->exited ? WEXITSTATUS(status) : -1;
  end->signaled = WIFSIGNALED(status);
  end->signo = end->signaled ? WTERMSIG(status) : 0;
}

/* Waits for pid up to timeout_s; 1 if it ended (status set), 0 on timeout. */
static int wait_with_timeout(pid_t pid, double timeout_s, int *status) {
  double deadline = now_seconds() + timeout_s;
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  for (;;) {
    pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) break; /* cannot happen for our own child */
    double left = deadline - now_seconds();
    if (left <= 0) {
      if (pidfd >= 0) close(pidfd);
      return 0;
    }
    if (pidfd >= 0) { /* wakes up as soon as the child ends */
      struct pollfd p = {pidfd, POLLIN, 0};
      poll(&p, 1, (int)(left * 1000) + 1);
    } else { /* old kernel: poll the child every 0.2 ms */
      struct timespec ts = {0, 200000};
      nanosleep(&ts, NULL);
    }
  }
  if (pidfd >= 0) close(pidfd);
  return 1;
}

int sandbox_run(void (*child)(const void *arg), const void *arg, double timeout_s, SandboxEnd *end) {
  *end = (SandboxEnd){0};
  fflush(NULL); /* nothing buffered is written twice */
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    child(arg);
    _exit(127);
  }
  int status = 0;
  if (!wait_with_timeout(pid, timeout_s, &status)) {
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    end->timed_out = 1;
  }
  fill_end(status, end);
  return 0;
}
