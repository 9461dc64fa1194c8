#include "util/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Process-wide like stderr itself: set by the flag parsers around each flag
 * so that errors deep in value parsing name the flag file's FILE:LINE without
 * a context argument through every parser function. */
static const char *error_place;

void gr_error_place(const char *place) { error_place = place; }

static void print_line(const char *kind, const char *fmt, va_list ap) {
  fprintf(stderr, "granite: %s: ", kind);
  if (error_place) fprintf(stderr, "%s: ", error_place);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
}

void gr_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  print_line("error", fmt, ap);
  va_end(ap);
}

void gr_warn(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  print_line("warning", fmt, ap);
  va_end(ap);
}

static void *check(void *p, size_t n) {
  if (!p && n) {
    fprintf(stderr, "granite: error: out of memory allocating %zu bytes\n", n);
    exit(2);
  }
  return p;
}

void *xmalloc(size_t n) { return check(malloc(n ? n : 1), n); }
void *xcalloc(size_t count, size_t size) { return check(calloc(count ? count : 1, size ? size : 1), count * size); }
void *xrealloc(void *p, size_t n) { return check(realloc(p, n ? n : 1), n); }
char *xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  return memcpy(xmalloc(n), s, n);
}

void grow_array(void **buf, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return;
  size_t c = *cap ? *cap : 16;
  while (c < need) c *= 2;
  *buf = xrealloc(*buf, c * elem);
  *cap = c;
}

double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}
