/* CRC32C (Castagnoli), as TFRecord framing uses it (spec §1.2). */
#ifndef GRANITE_UTIL_CRC32C_H
#define GRANITE_UTIL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends crc (0 to start) over n bytes. crc32c("123456789") == 0xE3069283. */
uint32_t crc32c_extend(uint32_t crc, const void *data, size_t n);
static inline uint32_t crc32c(const void *data, size_t n) { return crc32c_extend(0, data, n); }
/* TFRecord's masked form: rotate right by 15, add a constant. */
static inline uint32_t crc32c_mask(uint32_t c) { return ((c >> 15) | (c << 17)) + 0xA282EAD8u; }

#endif
