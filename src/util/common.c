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

/* "rank R of N: " in a job of several ranks, else "" (set once at start-up). */
static char rank_label[48];
static bool quiet_rank, errors_collective;

void gr_set_rank(int rank, int size) {
  if (size > 1) snprintf(rank_label, sizeof rank_label, "rank %d of %d: ", rank, size);
  quiet_rank = rank != 0;
}

static void print_line(const char *kind, bool name_rank, const char *fmt, va_list ap) {
  fprintf(stderr, "granite: %s%s: ", name_rank ? rank_label : "", kind);
  if (error_place) fprintf(stderr, "%s: ", error_place);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
}

void gr_set_errors_collective(bool on) { errors_collective = on; }

void gr_error(const char *fmt, ...) {
  if (errors_collective && quiet_rank) return;
  va_list ap;
  va_start(ap, fmt);
  print_line("error", !errors_collective, fmt, ap);
  va_end(ap);
}

void gr_warn(const char *fmt, ...) {
  if (quiet_rank) return;
  va_list ap;
  va_start(ap, fmt);
  print_line("warning", false, fmt, ap);
  va_end(ap);
}

void gr_error_collective(const char *fmt, ...) {
  if (quiet_rank) return;
  va_list ap;
  va_start(ap, fmt);
  print_line("error", false, fmt, ap);
  va_end(ap);
}

static void *check(void *p, size_t n) {
  if (!p && n) {
    fprintf(stderr, "granite: %serror: out of memory allocating %zu bytes\n", rank_label, n);
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
