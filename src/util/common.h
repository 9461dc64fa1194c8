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
/* While a capture is active in this thread, gr_error stores its message in
 * buf (the first one since the capture began; later ones are dropped)
 * instead of printing it: the library (include/granite.h) reports errors in
 * its return values, never on the caller's stderr. Captures do not nest;
 * end returns whether a message was stored. */
void gr_error_capture_begin(char *buf, size_t cap);
bool gr_error_capture_end(void);

/* "granite: warning: ..." (not printed while an error capture is active) */
void gr_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

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
