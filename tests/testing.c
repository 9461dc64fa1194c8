#include "testing.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

int test_failures = 0;
int test_checks = 0;

static int test_skipped_parts = 0;

void test_skip(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("SKIPPED: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  test_skipped_parts++;
}

int test_summary(const char *name) {
  fprintf(stderr, "%s: %d checks, %d failures, %d part(s) skipped\n", name, test_checks, test_failures,
          test_skipped_parts);
  if (test_failures) return 1;
  if (test_skipped_parts) return TEST_SKIPPED; /* shown as skipped, not as passed */
  if (test_checks == 0) { /* a test that checked nothing must not pass */
    fprintf(stderr, "%s: FAILED: no check ran\n", name);
    return 1;
  }
  return 0;
}

const char *test_sanitizers(void) {
  const char *s = getenv("GRANITE_SANITIZERS");
  return s && *s ? s : NULL;
}

const char *shared_data_dir(void) {
  const char *env = getenv("GRANITE_SHARED_DATA");
  const char *dir = env ? env : "../shared/data";
  struct stat st;
  return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? dir : NULL;
}

char *read_file_text(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc(n + 1);
  if (buf && fread(buf, 1, n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  if (buf) {
    buf[n] = 0;
    if (len) *len = n;
  }
  return buf;
}

void stderr_capture_begin(StderrCapture *c) {
  strcpy(c->path, "/tmp/granite_stderr_XXXXXX");
  c->fd = mkstemp(c->path);
  fflush(stderr);
  c->saved = dup(2);
  dup2(c->fd, 2);
}

void stderr_capture_end(StderrCapture *c, char *msg, size_t cap) {
  fflush(stderr);
  dup2(c->saved, 2);
  close(c->saved);
  lseek(c->fd, 0, SEEK_SET);
  ssize_t n = read(c->fd, msg, cap - 1);
  msg[n > 0 ? n : 0] = '\0';
  close(c->fd);
  unlink(c->path);
}
