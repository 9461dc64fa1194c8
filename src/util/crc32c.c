#include "util/crc32c.h"

#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <nmmintrin.h>

/* The SSE4.2 crc32 instruction computes exactly CRC32C; every x86-64 CPU of
 * the last decade has it, but check so that old machines still work. */
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p, size_t n) {
  uint64_t c = crc;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
  }
  uint32_t c32 = (uint32_t)c;
  for (; n; p++, n--) c32 = _mm_crc32_u8(c32, *p);
  return c32;
}

static int have_sse42(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
  return (c & bit_SSE4_2) != 0;
}
#endif

static uint32_t crc32c_sw(uint32_t crc, const uint8_t *p, size_t n) {
  while (n--) {
    crc ^= *p++;
    for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
  }
  return crc;
}

uint32_t crc32c_extend(uint32_t crc, const void *data, size_t n) {
  crc = ~crc;
#if defined(__x86_64__)
  static int hw = -1;
  if (hw < 0) hw = have_sse42();
  if (hw) return ~crc32c_hw(crc, data, n);
#endif
  return ~crc32c_sw(crc, data, n);
}
