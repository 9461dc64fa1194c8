/* The blocks to measure, read from .tfrecord files of
 * BasicBlockWithThroughputProto (the machine code of the block's
 * instructions, concatenated) or from CSV files whose first column is the
 * block's hex (BHive's format; other columns are ignored). */
#ifndef GRANITE_MEASURE_MEASURE_INPUT_H
#define GRANITE_MEASURE_MEASURE_INPUT_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint8_t *code;
  size_t len;
  int file;       /* index into the input paths */
  long place;     /* record index (0-based) or CSV line (1-based) */
  char *problem;  /* why the input itself is unusable (bad hex, no machine code), or NULL */
} InputBlock;

typedef struct {
  InputBlock *blocks;
  size_t n, cap;
} InputBlocks;

/* 1 if path is read as CSV (name ends in .csv or .txt), else TFRecord. */
int measure_input_is_csv(const char *path);

/* Appends every block of the files to *out. A corrupt TFRecord or an
 * unreadable file is an error (one line, -1); a bad CSV line or a record
 * without machine code becomes a block with `problem` set (reported, never
 * dropped). */
int measure_input_read(char *const *paths, int n, InputBlocks *out);
void measure_input_free(InputBlocks *in);

/* Splits one CSV line's first column: its hex text and length. */
void measure_csv_hex_column(const char *line, const char **hex, size_t *len);

#endif
