/* Small helpers every stage uses: error lines, checked allocation, time. */
#ifndef GRANITE_UTIL_COMMON_H
#define GRANITE_UTIL_COMMON_H

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
/* "granite: warning: ..." */
void gr_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

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

/* Allocation that never returns NULL: out of memory is reported and exits. */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/* Grows *buf (element size elem) so that it holds at least need elements. */
void grow_array(void **buf, size_t *cap, size_t need, size_t elem);

/* Monotonic wall-clock seconds. */
double now_seconds(void);

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
