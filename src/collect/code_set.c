#include "collect/code_set.h"

#include <stdlib.h>
#include <string.h>

#include "util/common.h"

static uint64_t fnv1a(const uint8_t *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static void grow(CodeSet *set) {
  size_t num_slots = set->num_slots ? 2 * set->num_slots : 1024;
  struct CodeSetEntry *entries = xcalloc(num_slots, sizeof *entries);
  for (size_t i = 0; i < set->num_slots; i++) {
    if (!set->entries[i].code) continue;
    size_t s = set->entries[i].hash & (num_slots - 1);
    while (entries[s].code) s = (s + 1) & (num_slots - 1);
    entries[s] = set->entries[i];
  }
  free(set->entries);
  set->entries = entries;
  set->num_slots = num_slots;
}

int code_set_add(CodeSet *set, const uint8_t *code, size_t len) {
  if (2 * (set->count + 1) > set->num_slots) grow(set);
  uint64_t h = fnv1a(code, len);
  size_t mask = set->num_slots - 1;
  size_t s = h & mask;
  for (; set->entries[s].code; s = (s + 1) & mask) {
    const struct CodeSetEntry *e = &set->entries[s];
    if (e->hash == h && e->len == len && !memcmp(e->code, code, len)) return 0;
  }
  set->entries[s].code = xmalloc(len ? len : 1);
  memcpy(set->entries[s].code, code, len);
  set->entries[s].len = len;
  set->entries[s].hash = h;
  set->count++;
  return 1;
}

void code_set_free(CodeSet *set) {
  for (size_t i = 0; i < set->num_slots; i++) free(set->entries[i].code);
  free(set->entries);
  memset(set, 0, sizeof *set);
}
