/* The canonicalizer (spec §2): random bytes as x86-64 machine code. A block
 * that decodes must serialize to a BasicBlockProto that parses back with the
 * same instructions; every instruction must also format as Intel text. */
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "x86/canonicalize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0;
  Gematria__BasicBlockProto block;
  gematria__basic_block_proto__init(&block);
  size_t bad = 0;
  int n = x86_canonicalize_block(data, size, 0x401000, &block, &bad);
  if (n < 0) {
    if (bad >= size || block.n_canonicalized_instructions != 0) abort();
  } else {
    if ((size_t)n != block.n_canonicalized_instructions || (size_t)n != block.n_machine_instructions)
      abort();
    size_t len = gematria__basic_block_proto__get_packed_size(&block);
    uint8_t *buf = malloc(len + 1);
    gematria__basic_block_proto__pack(&block, buf);
    Gematria__BasicBlockProto *back = gematria__basic_block_proto__unpack(NULL, len, buf);
    if (!back || back->n_canonicalized_instructions != (size_t)n) abort();
    gematria__basic_block_proto__free_unpacked(back, NULL);
    free(buf);
  }
  x86_block_clear(&block);
  char text[256];
  for (size_t at = 0; at < size;) {
    int k = x86_format_intel(data + at, size - at, 0x401000 + at, text, sizeof text);
    if (k == 0 || (k > 0 && (size_t)k > size - at)) abort();
    if (k < 0) break;
    if (strlen(text) >= sizeof text) abort();
    at += (size_t)k;
  }
  return 0;
}
