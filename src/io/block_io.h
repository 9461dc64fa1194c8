/* Reading and writing BasicBlockWithThroughputProto records (spec §1.1) in
 * TFRecord files (spec §1.2), one record at a time. */
#ifndef GRANITE_IO_BLOCK_IO_H
#define GRANITE_IO_BLOCK_IO_H

#include <stddef.h>
#include <stdint.h>

#include "gematria.pb-c.h"
#include "io/tfrecord.h"

typedef struct {
  TFRecordReader tf;
} BlockReader;

/* 0, or -1 after an error line. */
int block_reader_open(BlockReader *r, const char *path);
/* 1 with *out set to the next record (free it with block_record_free), 0 at
 * the end, -1 after an error line naming the file and the record index
 * (framing, CRC or protobuf error). */
int block_reader_next(BlockReader *r, Gematria__BasicBlockWithThroughputProto **out);
/* Index (0-based) of the record last returned. */
long block_reader_index(const BlockReader *r);
void block_reader_close(BlockReader *r);
void block_record_free(Gematria__BasicBlockWithThroughputProto *rec);

/* Streams every record of the files, in order, to visit with its file and
 * record index (the record is freed after the call); visit returns 0, or -1
 * after its own error line to stop. Returns the number of records, or -1
 * after an error line (the reader's: file and record index). */
typedef int (*BlockVisitor)(const Gematria__BasicBlockWithThroughputProto *rec, const char *path, long index,
                            void *ctx);
long block_files_visit(char *const *paths, int n, BlockVisitor visit, void *ctx);

/* Labels are float32 in the model: a throughput value (already scaled) must
 * be finite there. 0, or -1 after an error line naming the file, the record
 * and the source. */
int check_throughput_value(double value, const char *path, long record, const char *source);

/* Serializes rec and writes it as one record. 0, or -1 after an error line. */
int block_write(TFRecordWriter *w, const Gematria__BasicBlockWithThroughputProto *rec);

/* Appends field `field` (wire type LEN) holding data[0..n) to a byte buffer:
 * the tag, the varint length, the bytes. For composing a message from
 * already-serialized parts (concatenation of fields is valid protobuf). */
void wire_append_len_field(uint8_t **buf, size_t *len, size_t *cap, unsigned field, const void *data,
                           size_t n);

#endif
