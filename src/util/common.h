/* Small helpers every stage uses: error lines, checked allocation, time. */
#ifndef GRANITE_UTIL_COMMON_H
#define GRANITE_UTIL_COMMON_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Prints one line "granite: error: <message>" to stderr. Functions that fail
 * print exactly one such line naming the file and place, then return -1;
 * the caller passes the -1 up and the CLI exits non-zero. */
void gr_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Until called again with NULL, error and warning lines read
 * "granite: error: <place>: <message>" (the flag parsers set the FILE:LINE of
 * a flag read from a --flagfile while they handle it). */
void gr_error_place(const char *place);

/* In a job of several ranks (dist/dist.h): error lines become "granite:
 * rank R of N: error: ...", and warnings are printed by rank 0 alone (every
 * rank reads the same inputs, so the others would only repeat them). */
void gr_set_rank(int rank, int size);
/* An error that every rank meets at the same point with the same message
 * (it follows from data all ranks share, e.g. a NaN loss of the global
 * batch): one line, from rank 0, without a rank. Same as gr_error alone. */
void gr_error_collective(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* on: every gr_error is a gr_error_collective, for a stretch of code whose
 * errors follow from the command line alone (flags, schedule checks). */
void gr_set_errors_collective(bool on);

/* While a capture is active in this thread, gr_error stores its message in
 * buf (the first one since the capture began; later ones are dropped)
 * instead of printing it: the library (include/granite.h) reports errors in
 * its return values, never on the caller's stderr. Captures do not nest;
 * end returns whether a message was stored. */
void gr_error_capture_begin(char *buf, size_t cap);
bool gr_error_capture_end(void);

/* "granite: warning: ..." (not printed while an error capture is active) */
void gr_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Allocation that never returns NULL: out of memory is reported and exits,
 * unless this thread has set an out-of-memory guard (the library does, so
 * that a program linking it is never killed): then it longjmps there. */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/* Sets this thread's out-of-memory guard (NULL clears it); returns the
 * previous one. A guarded allocation failure longjmps to env with 1. Code
 * between setjmp and the failure must leave its data structures valid at
 * every allocation (assign a grown pointer before its capacity, never keep
 * a freed pointer across one). */
jmp_buf *gr_oom_guard_set(jmp_buf *env);
/* What an allocation failure of n bytes does: longjmp to this thread's guard,
 * or the error line and exit(2) without one. For failures found in worker
 * threads and reported in the guarded one. */
_Noreturn void gr_out_of_memory(size_t n);

/* Grows *buf (element size elem) so that it holds at least need elements. */
void grow_array(void **buf, size_t *cap, size_t need, size_t elem);

/* Monotonic wall-clock seconds. */
double now_seconds(void);
/* CPU seconds the calling thread has run (time slices given to other jobs
 * do not count). */
double thread_cpu_seconds(void);

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
