/* Distinct strings numbered in the order they were first seen, found by hash
 * (commands that tally per throughput source must not slow down
 * quadratically when a file has 100,000 sources). */
#ifndef GRANITE_UTIL_STR_INDEX_H
#define GRANITE_UTIL_STR_INDEX_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  char **keys;     /* keys[i]: the i-th distinct string (owned) */
  size_t count, cap_keys;
  uint32_t *slots; /* open addressing: index + 1, 0 = empty */
  size_t num_slots;
} StrIndex;

/* The number of key, adding it (a copy) with the next number if new;
 * *added (if not NULL) says whether it was. */
size_t str_index_get(StrIndex *x, const char *key, int *added);
void str_index_free(StrIndex *x);

#endif
