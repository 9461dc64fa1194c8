/* A small seedable random number generator (xoshiro256** seeded through
 * splitmix64). Every random choice in granite takes an explicit Rng so that
 * the same seed gives the same run (DESIGN.md, Correctness). */
#ifndef GRANITE_UTIL_RNG_H
#define GRANITE_UTIL_RNG_H

#include <stdint.h>

typedef struct {
  uint64_t s[4];
} Rng;

/* splitmix64 step: also a good 64-bit mixer for hashing. */
static inline uint64_t splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static inline void rng_seed(Rng *r, uint64_t seed) {
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static inline uint64_t rng_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t rng_next(Rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rng_rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rng_rotl(s[3], 45);
  return result;
}

/* Uniform double in [0, 1) with 53 random bits. */
static inline double rng_uniform(Rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

/* Uniform integer in [0, n), n > 0, without modulo bias (Lemire). */
static inline uint64_t rng_below(Rng *r, uint64_t n) {
  for (;;) {
    __uint128_t m = (__uint128_t)rng_next(r) * n;
    uint64_t low = (uint64_t)m;
    if (low >= n || low >= (-n) % n) return (uint64_t)(m >> 64);
  }
}

#endif
