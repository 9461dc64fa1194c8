/* Where extract and filter put their blocks: a .tfrecord of
 * BasicBlockWithThroughputProto and/or a CSV of hex lines (one block per
 * line, the input format of Gematria's process_and_filter_bbs). Both are
 * written through util/output_file (temporary name, renamed when complete,
 * devices and links not replaced, cleaned on signals). */
#ifndef GRANITE_COLLECT_BLOCK_SINK_H
#define GRANITE_COLLECT_BLOCK_SINK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gematria.pb-c.h"
#include "io/tfrecord.h"
#include "util/output_file.h"

typedef struct {
  TFRecordWriter tf;
  int has_tf;
  OutputFile csv; /* csv.file is NULL when no CSV is written */
  long written;
  uint8_t *buf;
  size_t cap;
} BlockSink;

/* Either path may be NULL (then nothing is written there). 0, or -1 after
 * an error line (also when an output is one of inputs[0..num_inputs), which
 * writing would destroy, or when both outputs are the same path). */
int block_sink_open(BlockSink *sink, const char *tfrecord_path, const char *csv_path, const char *const *inputs,
                    int num_inputs);
/* Writes one record (and code[0..len) as a hex line). 0, or -1 after an error line. */
int block_sink_write(BlockSink *sink, const Gematria__BasicBlockWithThroughputProto *rec, const uint8_t *code,
                     size_t len);
/* Renames the outputs into place. 0, or -1 after an error line. */
int block_sink_commit(BlockSink *sink);
/* Removes the temporary files; earlier files at the output paths stay. */
void block_sink_abort(BlockSink *sink);

#endif
