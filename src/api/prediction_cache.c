#include "api/prediction_cache.h"

#include <stdlib.h>
#include <string.h>

#include "util/common.h"

/* FNV-1a, 64 bits: keys are a few hundred bytes, hashing is not the cost. */
static uint64_t hash_bytes(const uint8_t *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

void prediction_cache_init(PredictionCache *c, int capacity, int num_values) {
  memset(c, 0, sizeof *c);
  c->capacity = capacity > 0 ? capacity : 0;
  c->num_values = num_values;
  c->head = c->tail = -1;
  if (c->capacity == 0) return;
  c->entries = xcalloc((size_t)c->capacity, sizeof *c->entries);
  c->values = xcalloc((size_t)c->capacity * num_values, sizeof *c->values);
  c->num_buckets = 2;
  while (c->num_buckets < 2 * c->capacity) c->num_buckets *= 2;
  c->buckets = xmalloc((size_t)c->num_buckets * sizeof *c->buckets);
  for (int i = 0; i < c->num_buckets; i++) c->buckets[i] = -1;
}

void prediction_cache_free(PredictionCache *c) {
  for (int i = 0; i < c->count; i++) free(c->entries[i].key);
  free(c->entries);
  free(c->values);
  free(c->buckets);
  memset(c, 0, sizeof *c);
  c->head = c->tail = -1;
}

void prediction_cache_clear(PredictionCache *c) {
  int capacity = c->capacity, num_values = c->num_values;
  prediction_cache_free(c);
  prediction_cache_init(c, capacity, num_values);
}

static void unlink_recent(PredictionCache *c, int i) {
  CacheEntry *e = &c->entries[i];
  if (e->prev >= 0) c->entries[e->prev].next = e->next; else c->head = e->next;
  if (e->next >= 0) c->entries[e->next].prev = e->prev; else c->tail = e->prev;
}

static void push_front(PredictionCache *c, int i) {
  CacheEntry *e = &c->entries[i];
  e->prev = -1;
  e->next = c->head;
  if (c->head >= 0) c->entries[c->head].prev = i;
  c->head = i;
  if (c->tail < 0) c->tail = i;
}

static int find(const PredictionCache *c, uint64_t h, const uint8_t *key, size_t n) {
  for (int i = c->buckets[h & (uint64_t)(c->num_buckets - 1)]; i >= 0; i = c->entries[i].bucket_next) {
    const CacheEntry *e = &c->entries[i];
    if (e->hash == h && e->key_len == n && memcmp(e->key, key, n) == 0) return i;
  }
  return -1;
}

static void unlink_bucket(PredictionCache *c, int i) {
  int *link = &c->buckets[c->entries[i].hash & (uint64_t)(c->num_buckets - 1)];
  while (*link != i) link = &c->entries[*link].bucket_next;
  *link = c->entries[i].bucket_next;
}

int prediction_cache_get(PredictionCache *c, const uint8_t *key, size_t key_len, float *values) {
  c->lookups++;
  if (c->capacity == 0) return 0;
  int i = find(c, hash_bytes(key, key_len), key, key_len);
  if (i < 0) return 0;
  c->hits++;
  unlink_recent(c, i);
  push_front(c, i);
  memcpy(values, c->values + (size_t)i * c->num_values, sizeof(float) * (size_t)c->num_values);
  return 1;
}

void prediction_cache_put(PredictionCache *c, const uint8_t *key, size_t key_len, const float *values) {
  if (c->capacity == 0) return;
  uint64_t h = hash_bytes(key, key_len);
  int i = find(c, h, key, key_len);
  if (i >= 0) {
    unlink_recent(c, i);
  } else {
    if (c->count < c->capacity) {
      i = c->count++;
    } else { /* reuse the least recently used slot */
      i = c->tail;
      unlink_recent(c, i);
      unlink_bucket(c, i);
      free(c->entries[i].key);
    }
    CacheEntry *e = &c->entries[i];
    e->hash = h;
    e->key = xmalloc(key_len ? key_len : 1);
    memcpy(e->key, key, key_len);
    e->key_len = key_len;
    int *bucket = &c->buckets[h & (uint64_t)(c->num_buckets - 1)];
    e->bucket_next = *bucket;
    *bucket = i;
  }
  push_front(c, i);
  memcpy(c->values + (size_t)i * c->num_values, values, sizeof(float) * (size_t)c->num_values);
}
