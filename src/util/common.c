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

static _Thread_local char *capture_buf;
static _Thread_local size_t capture_cap;
static _Thread_local bool capture_active, capture_filled;

void gr_error_capture_begin(char *buf, size_t cap) {
  capture_buf = buf;
  capture_cap = cap;
  capture_active = true;
  capture_filled = false;
  if (buf && cap) buf[0] = '\0';
}

bool gr_error_capture_end(void) {
  capture_active = false;
  return capture_filled;
}

void gr_error(const char *fmt, ...) {
  if (errors_collective && quiet_rank) return;
  va_list ap;
  va_start(ap, fmt);
  if (capture_active) {
    if (!capture_filled && capture_buf && capture_cap) vsnprintf(capture_buf, capture_cap, fmt, ap);
    capture_filled = true;
  } else {
    print_line("error", !errors_collective, fmt, ap);
  }
  va_end(ap);
}

void gr_warn(const char *fmt, ...) {
  if (quiet_rank || capture_active) return;
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

static _Thread_local jmp_buf *oom_guard;

jmp_buf *gr_oom_guard_set(jmp_buf *env) {
  jmp_buf *old = oom_guard;
  oom_guard = env;
  return old;
}

_Noreturn void gr_out_of_memory(size_t n) {
  if (oom_guard) {
    if (capture_active) gr_error(n ? "out of memory allocating %zu bytes" : "out of memory", n);
    longjmp(*oom_guard, 1);
  }
  if (n)
    fprintf(stderr, "granite: %serror: out of memory allocating %zu bytes\n", rank_label, n);
  else
    fprintf(stderr, "granite: %serror: out of memory\n", rank_label);
  exit(2);
}

static void *check(void *p, size_t n) {
  if (!p && n) gr_out_of_memory(n);
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

double thread_cpu_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
