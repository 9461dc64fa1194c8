#include "io/block_io.h"

#include <float.h>
#include <math.h>

#include <stdlib.h>
#include <string.h>

#include "util/common.h"

int block_reader_open(BlockReader *r, const char *path) { return tfrecord_open(&r->tf, path); }

int block_reader_next(BlockReader *r, Gematria__BasicBlockWithThroughputProto **out) {
  const uint8_t *data;
  size_t len;
  *out = NULL;
  int st = tfrecord_next(&r->tf, &data, &len);
  if (st <= 0) return st;
  *out = gematria__basic_block_with_throughput_proto__unpack(NULL, len, data);
  if (!*out) {
    gr_error("%s: record %ld: not a valid BasicBlockWithThroughputProto (protobuf parse error)",
             r->tf.path, r->tf.index);
    return -1;
  }
  return 1;
}

long block_reader_index(const BlockReader *r) { return r->tf.index; }

void block_reader_close(BlockReader *r) { tfrecord_close(&r->tf); }

void block_record_free(Gematria__BasicBlockWithThroughputProto *rec) {
  if (rec) gematria__basic_block_with_throughput_proto__free_unpacked(rec, NULL);
}

int block_write(TFRecordWriter *w, const Gematria__BasicBlockWithThroughputProto *rec) {
  size_t n = gematria__basic_block_with_throughput_proto__get_packed_size(rec);
  uint8_t *buf = xmalloc(n ? n : 1);
  gematria__basic_block_with_throughput_proto__pack(rec, buf);
  int st = tfrecord_write(w, buf, n);
  free(buf);
  return st;
}

static void append_varint(uint8_t **buf, size_t *len, size_t *cap, uint64_t v) {
  grow_array((void **)buf, cap, *len + 10, 1);
  do {
    uint8_t byte = v & 0x7f;
    v >>= 7;
    (*buf)[(*len)++] = byte | (v ? 0x80 : 0);
  } while (v);
}

void wire_append_len_field(uint8_t **buf, size_t *len, size_t *cap, unsigned field, const void *data,
                           size_t n) {
  append_varint(buf, len, cap, (uint64_t)field << 3 | 2); /* wire type 2 = LEN */
  append_varint(buf, len, cap, n);
  grow_array((void **)buf, cap, *len + n, 1);
  if (n) memcpy(*buf + *len, data, n);
  *len += n;
}

int check_throughput_value(double value, const char *path, long record, const char *source) {
  if (isfinite(value) && fabs(value) <= FLT_MAX) return 0;
  gr_error("%s: record %ld: source \"%s\": throughput %g is not a finite float32 value", path, record,
           source ? source : "", value);
  return -1;
}

long block_files_visit(char *const *paths, int n, BlockVisitor visit, void *ctx) {
  long records = 0;
  for (int i = 0; i < n; i++) {
    BlockReader r;
    if (block_reader_open(&r, paths[i])) return -1;
    Gematria__BasicBlockWithThroughputProto *rec;
    int got;
    while ((got = block_reader_next(&r, &rec)) == 1) {
      int stop = visit(rec, paths[i], block_reader_index(&r), ctx);
      block_record_free(rec);
      records++;
      if (stop) {
        got = -1;
        break;
      }
    }
    block_reader_close(&r);
    if (got < 0) return -1;
  }
  return records;
}
