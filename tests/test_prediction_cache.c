/* The C API's prediction cache (api/prediction_cache.h): hits return what
 * was stored, the least recently used entry is the one evicted, a lookup
 * refreshes an entry, replacing keeps one entry, size 0 stores nothing. */
#include <stdio.h>
#include <string.h>

#include "api/prediction_cache.h"
#include "testing.h"

static int get(PredictionCache *c, const char *key, float *v) {
  return prediction_cache_get(c, (const uint8_t *)key, strlen(key), v);
}
static void put(PredictionCache *c, const char *key, float a, float b) {
  float v[2] = {a, b};
  prediction_cache_put(c, (const uint8_t *)key, strlen(key), v);
}

int main(void) {
  PredictionCache c;
  float v[2];
  prediction_cache_init(&c, 3, 2);
  CHECK(get(&c, "a", v) == 0);
  put(&c, "a", 1, 10);
  put(&c, "b", 2, 20);
  put(&c, "c", 3, 30);
  CHECK(get(&c, "a", v) == 1 && v[0] == 1 && v[1] == 10); /* a is now the most recent */
  put(&c, "d", 4, 40);                                     /* evicts b, the least recent */
  CHECK(get(&c, "b", v) == 0);
  CHECK(get(&c, "c", v) == 1 && v[0] == 3);
  CHECK(get(&c, "d", v) == 1 && v[1] == 40);
  CHECK(get(&c, "a", v) == 1 && v[0] == 1);
  CHECK(c.count == 3);
  /* order of use was c, d, a: c is the least recent */
  put(&c, "e", 5, 50);
  CHECK(get(&c, "c", v) == 0);
  CHECK(get(&c, "e", v) == 1 && v[0] == 5);
  /* replacing a key keeps one entry and takes the new values */
  put(&c, "e", 6, 60);
  CHECK(get(&c, "e", v) == 1 && v[0] == 6 && v[1] == 60);
  CHECK(c.count == 3);
  /* keys that are prefixes of each other, and empty keys, are distinct */
  put(&c, "", 7, 70);
  put(&c, "ee", 8, 80);
  CHECK(get(&c, "", v) == 1 && v[0] == 7);
  CHECK(get(&c, "ee", v) == 1 && v[0] == 8);
  CHECK(get(&c, "a", v) == 0); /* recency was e, a, d: d and then a went */
  CHECK(get(&c, "e", v) == 1);
  CHECK_MSG(c.hits == 9 && c.lookups == 13, "hits %ld lookups %ld", c.hits, c.lookups);

  /* many keys through a small cache: the last `capacity` ones stay */
  prediction_cache_clear(&c);
  CHECK(c.count == 0 && c.hits == 0 && get(&c, "a", v) == 0);
  char key[32];
  for (int i = 0; i < 1000; i++) {
    snprintf(key, sizeof key, "block %d", i);
    put(&c, key, (float)i, 0);
  }
  for (int i = 0; i < 1000; i++) {
    snprintf(key, sizeof key, "block %d", i);
    int hit = get(&c, key, v);
    CHECK_MSG(hit == (i >= 997) && (!hit || v[0] == (float)i), "key %d", i);
  }
  prediction_cache_free(&c);

  /* capacity 0: nothing is stored, lookups are still counted */
  prediction_cache_init(&c, 0, 2);
  put(&c, "a", 1, 1);
  CHECK(get(&c, "a", v) == 0 && c.lookups == 1 && c.hits == 0);
  prediction_cache_free(&c);
  return test_summary("test_prediction_cache");
}
