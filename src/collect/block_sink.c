#include "collect/block_sink.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/common.h"

static void free_paths(BlockSink *sink) {
  free(sink->csv_path);
  free(sink->csv_tmp);
  free(sink->buf);
  sink->csv_path = sink->csv_tmp = NULL;
  sink->buf = NULL;
}

int block_sink_open(BlockSink *sink, const char *tfrecord_path, const char *csv_path) {
  memset(sink, 0, sizeof *sink);
  if (tfrecord_path) {
    if (tfrecord_writer_open(&sink->tf, tfrecord_path)) return -1;
    sink->has_tf = 1;
  }
  if (csv_path) {
    sink->csv_path = xstrdup(csv_path);
    size_t n = strlen(csv_path) + 32;
    sink->csv_tmp = xmalloc(n);
    snprintf(sink->csv_tmp, n, "%s.tmp-%ld", csv_path, (long)getpid());
    sink->csv = fopen(sink->csv_tmp, "w");
    if (!sink->csv) {
      gr_error("%s: cannot create: %s", sink->csv_tmp, strerror(errno));
      block_sink_abort(sink);
      return -1;
    }
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
  if (sink->csv) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
      putc(digits[code[i] >> 4], sink->csv);
      putc(digits[code[i] & 15], sink->csv);
    }
    if (putc('\n', sink->csv) == EOF) {
      gr_error("%s: write failed: %s", sink->csv_tmp, strerror(errno));
      return -1;
    }
  }
  sink->written++;
  return 0;
}

int block_sink_commit(BlockSink *sink) {
  if (sink->csv) {
    int bad = fflush(sink->csv) != 0 || ferror(sink->csv) || fsync(fileno(sink->csv)) != 0;
    bad |= fclose(sink->csv) != 0;
    sink->csv = NULL;
    if (bad || rename(sink->csv_tmp, sink->csv_path) != 0) {
      gr_error("%s: cannot write: %s", sink->csv_path, strerror(errno));
      unlink(sink->csv_tmp);
      if (sink->has_tf) tfrecord_writer_abort(&sink->tf);
      free_paths(sink);
      return -1;
    }
  }
  int rc = 0;
  if (sink->has_tf) rc = tfrecord_writer_commit(&sink->tf);
  sink->has_tf = 0;
  free_paths(sink);
  return rc;
}

void block_sink_abort(BlockSink *sink) {
  if (sink->csv) {
    fclose(sink->csv);
    unlink(sink->csv_tmp);
    sink->csv = NULL;
  }
  if (sink->has_tf) tfrecord_writer_abort(&sink->tf);
  sink->has_tf = 0;
  free_paths(sink);
}
