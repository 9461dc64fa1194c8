/* Canonicalization speed on a BHive CSV (hex,throughput per line):
 *   canonicalize_speed [../shared/data/bhive-mca/haswell.csv]
 * Prints blocks, instructions, decode failures and microseconds per block. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/common.h"
#include "x86/canonicalize.h"

static size_t parse_hex(const char *hex, size_t n, uint8_t *out, size_t cap) {
  size_t bytes = 0;
  for (size_t i = 0; i + 1 < n && bytes < cap; i += 2) {
    unsigned v;
    if (sscanf(hex + i, "%2x", &v) != 1) break;
    out[bytes++] = (uint8_t)v;
  }
  return bytes;
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "../shared/data/bhive-mca/haswell.csv";
  FILE *f = fopen(path, "r");
  if (!f) {
    gr_error("cannot open %s", path);
    return 1;
  }
  /* Read all blocks first so that only canonicalization is timed. */
  uint8_t **codes = NULL;
  size_t *lens = NULL, n = 0, cap = 0;
  char line[8192];
  while (fgets(line, sizeof line, f)) {
    size_t hex_len = strcspn(line, ",\n");
    grow_array((void **)&codes, &cap, n + 1, sizeof *codes);
    lens = xrealloc(lens, cap * sizeof *lens);
    codes[n] = xmalloc(hex_len / 2 + 1);
    lens[n] = parse_hex(line, hex_len, codes[n], hex_len / 2 + 1);
    n++;
  }
  fclose(f);
  long instructions = 0, failures = 0;
  double t0 = now_seconds();
  for (size_t i = 0; i < n; i++) {
    Gematria__BasicBlockProto block;
    gematria__basic_block_proto__init(&block);
    size_t bad;
    int k = x86_canonicalize_block(codes[i], lens[i], 0, &block, &bad);
    if (k < 0) failures++;
    else instructions += k;
    x86_block_clear(&block);
  }
  double dt = now_seconds() - t0;
  printf("%zu blocks, %ld instructions, %ld undecodable blocks, %.3f s, %.2f us/block, %.2f us/instruction\n",
         n, instructions, failures, dt, 1e6 * dt / (double)n, 1e6 * dt / (double)instructions);
  for (size_t i = 0; i < n; i++) free(codes[i]);
  free(codes);
  free(lens);
  return 0;
}
