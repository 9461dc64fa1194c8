/* A cache of recent predictions for the C API (include/granite.h): a
 * compiler asks for the same block many times. Keys are byte strings (the
 * API uses the block's graph: tokens, node and edge types, senders,
 * receivers, which is what the canonical block feeds the model, so blocks
 * that differ only in what canonicalization drops share an entry); values
 * are one float per task. Least recently used entries are evicted first.
 * Not locked: the owner serializes access. */
#ifndef GRANITE_API_PREDICTION_CACHE_H
#define GRANITE_API_PREDICTION_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint64_t hash;
  uint8_t *key;
  size_t key_len;
  int prev, next;   /* recency list: head = most recent */
  int bucket_next;  /* chain of the hash bucket */
} CacheEntry;

typedef struct {
  int capacity, count, num_values;
  CacheEntry *entries; /* [capacity] */
  float *values;       /* [capacity * num_values] */
  int *buckets;        /* [num_buckets] first entry of each chain, -1 empty */
  int num_buckets;     /* a power of two >= 2 * capacity */
  int head, tail;      /* most / least recently used, -1 when empty */
  long hits, lookups;
} PredictionCache;

/* capacity 0 makes a cache that never stores (every lookup a miss). */
void prediction_cache_init(PredictionCache *c, int capacity, int num_values);
void prediction_cache_free(PredictionCache *c);
/* Drops every entry (and the hit counts). */
void prediction_cache_clear(PredictionCache *c);

/* Copies the values of key into values and marks it most recent: 1; or 0
 * on a miss. Counts the lookup. */
int prediction_cache_get(PredictionCache *c, const uint8_t *key, size_t key_len, float *values);
/* Stores key -> values as the most recent entry, evicting the least recent
 * one when full (replaces the values if key is present). */
void prediction_cache_put(PredictionCache *c, const uint8_t *key, size_t key_len, const float *values);

#endif
