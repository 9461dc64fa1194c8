#include "collect/block_sink.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/common.h"

int block_sink_open(BlockSink *sink, const char *tfrecord_path, const char *csv_path, const char *const *inputs,
                    int num_inputs) {
  memset(sink, 0, sizeof *sink);
  sink->csv.slot = -1;
  if (tfrecord_path && output_refuse_inputs(tfrecord_path, "--output", inputs, num_inputs)) return -1;
  if (csv_path && output_refuse_inputs(csv_path, "--csv", inputs, num_inputs)) return -1;
  if (tfrecord_path && csv_path && !strcmp(tfrecord_path, csv_path)) {
    gr_error("--output and --csv are both %s", csv_path);
    return -1;
  }
  if (tfrecord_path) {
    if (tfrecord_writer_open(&sink->tf, tfrecord_path)) return -1;
    sink->has_tf = 1;
  }
  if (csv_path && output_open(&sink->csv, csv_path, "--csv")) {
    block_sink_abort(sink);
    return -1;
  }
  return 0;
}

int block_sink_write(BlockSink *sink, const Gematria__BasicBlockWithThroughputProto *rec, const uint8_t *code,
                     size_t len) {
  if (sink->has_tf) {
    size_t n = gematria__basic_block_with_throughput_proto__get_packed_size(rec);
    grow_array((void **)&sink->buf, &sink->cap, n + 1, 1);
    gematria__basic_block_with_throughput_proto__pack(rec, sink->buf);
    if (tfrecord_write(&sink->tf, sink->buf, n)) return -1;
  }
  FILE *csv = sink->csv.file;
  if (csv) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
      putc(digits[code[i] >> 4], csv);
      putc(digits[code[i] & 15], csv);
    }
    if (putc('\n', csv) == EOF) {
      gr_error("%s: write failed: %s", sink->csv.path, strerror(errno));
      return -1;
    }
  }
  sink->written++;
  return 0;
}

int block_sink_commit(BlockSink *sink) {
  /* both complete before either replaces what is there */
  if (sink->csv.file && output_commit(&sink->csv)) {
    block_sink_abort(sink);
    return -1;
  }
  int rc = 0;
  if (sink->has_tf) rc = tfrecord_writer_commit(&sink->tf);
  sink->has_tf = 0;
  free(sink->buf);
  sink->buf = NULL;
  return rc;
}

void block_sink_abort(BlockSink *sink) {
  output_abort(&sink->csv);
  if (sink->has_tf) tfrecord_writer_abort(&sink->tf);
  sink->has_tf = 0;
  free(sink->buf);
  sink->buf = NULL;
}
