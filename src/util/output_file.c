/* Outputs written without harming what is there (see output_file.h). */
#include "util/output_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/common.h"

/* Temporary files open now, for the signal handler: fixed buffers, since a
 * handler may only call async-signal-safe functions (unlink, raise). */
#define MAX_LIVE_TEMPS 16
#define TEMP_PATH_MAX 4096
static char live_temp[MAX_LIVE_TEMPS][TEMP_PATH_MAX];
static volatile sig_atomic_t live_used[MAX_LIVE_TEMPS];
static bool handlers_installed;
static const int CLEANUP_SIGNALS[] = {SIGINT, SIGTERM, SIGHUP};

static void remove_temps_and_die(int sig) {
  for (int i = 0; i < MAX_LIVE_TEMPS; i++)
    if (live_used[i]) unlink(live_temp[i]);
  signal(sig, SIG_DFL);
  raise(sig);
}

/* Only where nobody else handles the signal: the trainer has its own
 * graceful stop (it finishes the step and saves), which must stay. */
static void install_handlers(void) {
  if (handlers_installed) return;
  handlers_installed = true;
  for (size_t i = 0; i < ARRAY_LEN(CLEANUP_SIGNALS); i++) {
    struct sigaction old;
    if (sigaction(CLEANUP_SIGNALS[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL &&
        !(old.sa_flags & SA_SIGINFO)) {
      struct sigaction sa;
      memset(&sa, 0, sizeof sa);
      sa.sa_handler = remove_temps_and_die;
      sigemptyset(&sa.sa_mask);
      sigaction(CLEANUP_SIGNALS[i], &sa, NULL);
    }
  }
  /* a file size limit (ulimit -f) then fails the write instead of killing */
  struct sigaction old;
  if (sigaction(SIGXFSZ, NULL, &old) == 0 && old.sa_handler == SIG_DFL) signal(SIGXFSZ, SIG_IGN);
}

bool output_cleanup_installed(void) { return handlers_installed; }

static int register_temp(const char *tmp) {
  if (strlen(tmp) >= TEMP_PATH_MAX) return -1;
  for (int i = 0; i < MAX_LIVE_TEMPS; i++) {
    if (live_used[i]) continue;
    memcpy(live_temp[i], tmp, strlen(tmp) + 1);
    live_used[i] = 1;
    return i;
  }
  return -1;
}

static void unregister_temp(int slot) {
  if (slot >= 0) live_used[slot] = 0;
}

/* path with every symbolic link resolved, also a dangling one (its target
 * is created); NULL after an error line for a loop. Caller frees. */
static char *follow_links(const char *path) {
  char *cur = xstrdup(path);
  for (int depth = 0; depth < 40; depth++) {
    struct stat st;
    if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode)) return cur;
    char target[PATH_MAX];
    ssize_t n = readlink(cur, target, sizeof target - 1);
    if (n < 0) return cur;
    target[n] = '\0';
    char *next;
    const char *slash = strrchr(cur, '/');
    if (target[0] == '/' || !slash) {
      next = xstrdup(target);
    } else {
      size_t dir_len = (size_t)(slash - cur) + 1;
      next = xmalloc(dir_len + (size_t)n + 1);
      memcpy(next, cur, dir_len);
      memcpy(next + dir_len, target, (size_t)n + 1);
    }
    free(cur);
    cur = next;
  }
  gr_error("%s: too many levels of symbolic links", path);
  free(cur);
  return NULL;
}

static void split_dir_base(const char *path, char *dir, size_t dir_size, const char **base) {
  const char *slash = strrchr(path, '/');
  if (!slash) {
    snprintf(dir, dir_size, ".");
    *base = path;
  } else {
    snprintf(dir, dir_size, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    *base = slash + 1;
  }
}

void output_sweep_stale(const char *dir, const char *prefix) {
  DIR *d = opendir(dir);
  if (!d) return;
  size_t plen = strlen(prefix);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    const char *name = e->d_name;
    if (strncmp(name, prefix, plen) != 0) continue;
    const char *tag = NULL; /* the last ".tmp-" */
    for (const char *p = strstr(name, ".tmp-"); p; p = strstr(p + 1, ".tmp-")) tag = p;
    if (!tag || (size_t)(tag - name) + 5 < plen) continue;
    const char *digits = tag + 5;
    if (!*digits || strspn(digits, "0123456789") != strlen(digits) || strlen(digits) > 9) continue;
    long pid = strtol(digits, NULL, 10);
    if (pid <= 0 || pid == (long)getpid()) continue;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive (or not ours to judge) */
    char full[TEMP_PATH_MAX];
    if (snprintf(full, sizeof full, "%s/%s", dir, name) >= (int)sizeof full) continue;
    struct stat st;
    if (lstat(full, &st) == 0 && S_ISREG(st.st_mode) && unlink(full) == 0)
      gr_warn("%s: removed a temporary file left by process %ld, which no longer runs", full, pid);
  }
  closedir(d);
}

int output_open(OutputFile *o, const char *path, const char *what) {
  memset(o, 0, sizeof *o);
  o->slot = -1;
  if (!path || !*path) {
    gr_error("%s: no file name given", what);
    return -1;
  }
  char *target = follow_links(path);
  if (!target) return -1;
  install_handlers();
  struct stat st;
  bool exists = stat(target, &st) == 0;
  if (exists && S_ISDIR(st.st_mode)) {
    gr_error("%s %s: is a directory", what, path);
    free(target);
    return -1;
  }
  if (exists && !S_ISREG(st.st_mode)) { /* a device or FIFO: write through, never replace */
    o->file = fopen(target, "wb");
    if (!o->file) {
      gr_error("%s %s: cannot write: %s", what, path, strerror(errno));
      free(target);
      return -1;
    }
    o->path = target;
    return 0;
  }
  char dir[TEMP_PATH_MAX];
  const char *base;
  split_dir_base(target, dir, sizeof dir, &base);
  char prefix[1024];
  snprintf(prefix, sizeof prefix, "%s.tmp-", base);
  output_sweep_stale(dir, prefix);
  size_t n = strlen(target) + 32;
  o->tmp_path = xmalloc(n);
  snprintf(o->tmp_path, n, "%s.tmp-%ld", target, (long)getpid());
  o->path = target;
  o->slot = register_temp(o->tmp_path);
  mode_t mode = exists ? (st.st_mode & 07777) : 0666;
  int fd = open(o->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd >= 0 && exists) (void)fchmod(fd, mode); /* keep the old file's permissions */
  o->file = fd >= 0 ? fdopen(fd, "wb") : NULL;
  if (!o->file) {
    gr_error("%s %s: cannot create %s: %s", what, path, o->tmp_path, strerror(errno));
    if (fd >= 0) close(fd);
    unlink(o->tmp_path);
    unregister_temp(o->slot);
    free(o->tmp_path);
    free(o->path);
    memset(o, 0, sizeof *o);
    o->slot = -1;
    return -1;
  }
  return 0;
}

static void finish(OutputFile *o) {
  unregister_temp(o->slot);
  free(o->path);
  free(o->tmp_path);
  memset(o, 0, sizeof *o);
  o->slot = -1;
}

int output_commit(OutputFile *o) {
  int rc = 0, err = 0;
  if (fflush(o->file) != 0 || ferror(o->file)) rc = -1, err = errno;
  if (rc == 0 && o->tmp_path && fsync(fileno(o->file)) != 0) rc = -1, err = errno;
  if (fclose(o->file) != 0 && rc == 0) rc = -1, err = errno;
  o->file = NULL;
  if (rc == 0 && o->tmp_path && rename(o->tmp_path, o->path) != 0) rc = -1, err = errno;
  if (rc != 0) {
    gr_error("%s: cannot write: %s%s", o->path, strerror(err ? err : EIO),
             o->tmp_path ? " (the previous content is kept)" : "");
    if (o->tmp_path) unlink(o->tmp_path);
  } else if (o->tmp_path) {
    char dir[TEMP_PATH_MAX];
    const char *base;
    split_dir_base(o->path, dir, sizeof dir, &base);
    int dfd = open(dir, O_RDONLY | O_CLOEXEC); /* make the rename itself durable */
    if (dfd >= 0) {
      fsync(dfd);
      close(dfd);
    }
  }
  finish(o);
  return rc;
}

void output_abort(OutputFile *o) {
  if (o->file) fclose(o->file);
  if (o->tmp_path) unlink(o->tmp_path);
  if (o->path || o->tmp_path) finish(o);
}

int output_refuse_inputs(const char *output, const char *what, const char *const *inputs, int n) {
  if (!output || !*output) return 0;
  struct stat out;
  if (stat(output, &out) != 0) return 0; /* does not exist yet: cannot be an input */
  if (!S_ISREG(out.st_mode)) return 0;   /* /dev/null and FIFOs are written through */
  for (int i = 0; i < n; i++) {
    struct stat in;
    if (!inputs[i] || stat(inputs[i], &in) != 0) continue;
    if (in.st_dev == out.st_dev && in.st_ino == out.st_ino) {
      gr_error("%s %s is the input file %s: writing it would destroy the input", what, output, inputs[i]);
      return -1;
    }
  }
  return 0;
}
