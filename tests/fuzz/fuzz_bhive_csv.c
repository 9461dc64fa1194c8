/* BHive CSV lines (spec §1.4) through the whole import: the input is a CSV
 * file, read as two throughput sources (file and text paths), merged, and
 * every record packed; each packed record must parse back with one value per
 * source it was seen in. Also parses each line with other column choices. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/bhive_import.h"
#include "support.h"
#include "x86/canonicalize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static FILE *devnull;
  if (!devnull) devnull = fopen("/dev/null", "w");
  BhiveImport imp;
  bhive_import_init(&imp, x86_canonicalize_block);
  imp.scaling = 100.0;
  int a = bhive_import_source(&imp, "bhive: a"), b = bhive_import_source(&imp, "bhive: b");
  if (bhive_import_file(&imp, fuzz_file(0, data, size), a) != 0) abort();
  bhive_import_text(&imp, "b.csv", (const char *)data, size, b);
  uint8_t *buf = NULL;
  size_t cap = 0, written = 0;
  for (size_t i = 0; i < imp.num_blocks; i++) {
    size_t len = bhive_import_pack_record(&imp, i, &buf, &cap);
    if (len == 0) continue;
    written++;
    Gematria__BasicBlockWithThroughputProto *rec =
        gematria__basic_block_with_throughput_proto__unpack(NULL, len, buf);
    if (!rec || !rec->basic_block || rec->n_inverse_throughputs == 0 || rec->n_inverse_throughputs > 2)
      abort();
    gematria__basic_block_with_throughput_proto__free_unpacked(rec, NULL);
  }
  if (written != bhive_import_num_records(&imp)) abort();
  bhive_import_report(&imp, devnull);
  free(buf);
  bhive_import_free(&imp);

  /* single lines, other columns */
  BhiveCsvColumns cols = {2, 0};
  uint8_t *code = NULL;
  size_t code_cap = 0;
  const char *text = (const char *)data;
  for (size_t pos = 0, line_no = 0; pos < size; line_no++) {
    const char *nl = memchr(text + pos, '\n', size - pos);
    size_t end = nl ? (size_t)(nl - text) + 1 : size;
    BhiveCsvLine line;
    int kind = bhive_csv_parse_line(text + pos, end - pos, &cols, line_no == 0, &code, &code_cap, &line);
    if (kind < 0 || kind >= BHIVE_NUM_LINE_KINDS || !bhive_line_kind_name(kind)) abort();
    if (kind == BHIVE_OK && (line.code_len == 0 || !(line.throughput >= 0))) abort();
    pos = end;
  }
  free(code);
  return 0;
}
