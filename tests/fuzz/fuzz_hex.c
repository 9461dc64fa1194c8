/* Hex parsing (BHive CSV column, `granite show HEX`, granite_predict_hex):
 * bhive_decode_hex against an obviously correct reference. */
#include <stdlib.h>
#include <string.h>

#include "io/bhive_csv.h"
#include "support.h"

static int digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *hex = (const char *)data;
  uint8_t *out = malloc(size / 2 + 1);
  int kind = bhive_decode_hex(hex, size, out);
  int expect = BHIVE_OK;
  for (size_t i = 0; i < size; i++)
    if (digit(hex[i]) < 0) expect = BHIVE_BAD_HEX_CHAR;
  if (size == 0) expect = BHIVE_EMPTY_HEX;
  else if (size % 2 && expect == BHIVE_OK) expect = BHIVE_ODD_HEX;
  /* Both an odd length and a bad character are errors; either may be named. */
  if (kind != expect && !(size % 2 && kind == BHIVE_ODD_HEX && expect == BHIVE_BAD_HEX_CHAR)) abort();
  if (kind == BHIVE_OK)
    for (size_t i = 0; i < size / 2; i++)
      if (out[i] != (digit(hex[2 * i]) << 4 | digit(hex[2 * i + 1]))) abort();
  free(out);
  return 0;
}
