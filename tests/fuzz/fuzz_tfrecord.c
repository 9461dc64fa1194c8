/* TFRecord framing (spec §1.2): the input is a whole .tfrecord file. Every
 * record must come back, or the reader must stop with an error; a file read
 * to its end without error must re-frame to exactly the input. The records
 * are also parsed as BasicBlockWithThroughputProto by the block reader. */
#include <stdlib.h>
#include <string.h>

#include "io/block_io.h"
#include "io/tfrecord.h"
#include "support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_file(0, data, size);
  TFRecordReader r;
  if (tfrecord_open(&r, path) != 0) abort();
  size_t pos = 0;
  int st;
  const uint8_t *payload;
  size_t len;
  while ((st = tfrecord_next(&r, &payload, &len)) == 1) {
    uint8_t header[12], footer[4];
    tfrecord_frame(header, footer, payload, len);
    /* what was accepted is exactly what the file holds */
    if (pos + 16 + len > size || memcmp(data + pos, header, 12) != 0 ||
        memcmp(data + pos + 12, payload, len) != 0 || memcmp(data + pos + 12 + len, footer, 4) != 0)
      abort();
    pos += 16 + len;
  }
  if (st == 0 && pos != size) abort(); /* a clean end must be the file's end */
  tfrecord_close(&r);

  BlockReader br;
  if (block_reader_open(&br, path) != 0) abort();
  Gematria__BasicBlockWithThroughputProto *rec;
  while (block_reader_next(&br, &rec) == 1) block_record_free(rec);
  block_reader_close(&br);
  return 0;
}
