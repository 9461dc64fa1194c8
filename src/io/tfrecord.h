/* TFRecord framing (spec §1.2): length, masked CRC of the length, payload,
 * masked CRC of the payload. Reading streams one record at a time, so files
 * of any size can be scanned; every CRC is checked. */
#ifndef GRANITE_IO_TFRECORD_H
#define GRANITE_IO_TFRECORD_H

#include <stdint.h>
#include <stdio.h>

#include "util/output_file.h"

typedef struct {
  FILE *file;
  char *path;
  long index;       /* index of the record last returned (0-based) */
  uint8_t *buf;     /* payload of the record last returned */
  size_t cap;
} TFRecordReader;

/* 0 on success; -1 after printing an error line. */
int tfrecord_open(TFRecordReader *r, const char *path);
/* Returns 1 with *data and *len set to the next payload (valid until the next
 * call), 0 at a clean end of file, -1 after printing an error line that names
 * the file and the record index (truncation, bad CRC, read error). */
int tfrecord_next(TFRecordReader *r, const uint8_t **data, size_t *len);
void tfrecord_close(TFRecordReader *r);

/* Writes through util/output_file.h: to "PATH.tmp-PID", renamed over path
 * on commit, so an interrupted run never leaves a half-written output file
 * behind; links followed, devices written through. */
typedef struct {
  OutputFile out;
  long count;
} TFRecordWriter;

int tfrecord_writer_open(TFRecordWriter *w, const char *path);
int tfrecord_write(TFRecordWriter *w, const void *data, size_t len);
/* Flushes, syncs and renames into place. 0 on success, -1 after an error line. */
int tfrecord_writer_commit(TFRecordWriter *w);
/* Removes the temporary file; the previous content of path is untouched. */
void tfrecord_writer_abort(TFRecordWriter *w);

/* The 12-byte header and 4-byte footer that frame a payload of len bytes. */
void tfrecord_frame(uint8_t header[12], uint8_t footer[4], const void *data, size_t len);

#endif
