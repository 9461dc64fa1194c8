#include "util/str_index.h"

#include <stdlib.h>
#include <string.h>

#include "util/common.h"

static uint64_t hash_string(const char *s) { /* FNV-1a */
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
  return h;
}

static void rehash(StrIndex *x, size_t num_slots) {
  uint32_t *slots = xcalloc(num_slots, sizeof *slots);
  for (size_t i = 0; i < x->count; i++) {
    size_t s = hash_string(x->keys[i]) & (num_slots - 1);
    while (slots[s]) s = (s + 1) & (num_slots - 1);
    slots[s] = (uint32_t)(i + 1);
  }
  free(x->slots);
  x->slots = slots;
  x->num_slots = num_slots;
}

size_t str_index_get(StrIndex *x, const char *key, int *added) {
  size_t s = 0;
  if (x->num_slots) {
    for (s = hash_string(key) & (x->num_slots - 1); x->slots[s]; s = (s + 1) & (x->num_slots - 1))
      if (!strcmp(x->keys[x->slots[s] - 1], key)) {
        if (added) *added = 0;
        return x->slots[s] - 1;
      }
  }
  grow_array((void **)&x->keys, &x->cap_keys, x->count + 1, sizeof *x->keys);
  x->keys[x->count] = xstrdup(key);
  x->count++;
  if (2 * x->count > x->num_slots) { /* at most half full: short probe runs */
    rehash(x, x->num_slots ? 2 * x->num_slots : 64);
  } else {
    x->slots[s] = (uint32_t)x->count;
  }
  if (added) *added = 1;
  return x->count - 1;
}

void str_index_free(StrIndex *x) {
  for (size_t i = 0; i < x->count; i++) free(x->keys[i]);
  free(x->keys);
  free(x->slots);
  memset(x, 0, sizeof *x);
}
