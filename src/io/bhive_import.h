/* BHive CSV files → one set of BasicBlockWithThroughputProto records
 * (spec §1.4), merged by block: a block that appears in several files (one
 * throughput source each) becomes ONE record with one inverse_throughputs
 * entry per source, so a multi-task data set is one file. Records keep the
 * order in which blocks first appear. */
#ifndef GRANITE_IO_BHIVE_IMPORT_H
#define GRANITE_IO_BHIVE_IMPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gematria.pb-c.h"
#include "io/bhive_csv.h"

/* Kinds of rejected lines beyond the parser's (bhive_csv.h). */
enum {
  BHIVE_UNDECODABLE = BHIVE_NUM_LINE_KINDS, /* the decoder rejected the bytes */
  BHIVE_DUPLICATE,                          /* same block again for the same source */
  BHIVE_NUM_IMPORT_KINDS
};

/* Same contract as x86_canonicalize_block (x86/canonicalize.h): passed in so
 * that io/ does not depend on x86/ and tests can use any decoder. */
typedef int (*BlockDecodeFn)(const uint8_t *code, size_t len, uint64_t address,
                             Gematria__BasicBlockProto *block, size_t *bad_offset);

typedef struct {
  int source;   /* index into BhiveImport.sources */
  double value; /* already scaled */
} ImportValue;

typedef struct {
  uint8_t *code;
  size_t code_len;
  int undecodable;        /* 1: the decoder rejected it; never written */
  int num_instructions;
  uint8_t *packed_block;  /* serialized BasicBlockProto */
  size_t packed_len;
  ImportValue *values;
  int num_values, cap_values;
} ImportBlock;

#define BHIVE_MAX_EXAMPLES 3

typedef struct {
  /* options (set before the first file) */
  BhiveCsvColumns columns;
  double scaling;        /* multiplies every throughput (spec §1.4 step 5) */
  uint64_t base_address; /* address of the first instruction */
  BlockDecodeFn decode;

  char **sources;
  int num_sources;

  ImportBlock *blocks; /* in first-appearance order */
  size_t num_blocks, cap_blocks;
  uint32_t *slots;     /* open-addressing hash: block index + 1, 0 = empty */
  size_t num_slots;

  /* what was read and what was skipped */
  long lines_read, lines_accepted;
  long kind_count[BHIVE_NUM_IMPORT_KINDS];
  char *examples[BHIVE_NUM_IMPORT_KINDS][BHIVE_MAX_EXAMPLES]; /* "file:line: detail" */
} BhiveImport;

void bhive_import_init(BhiveImport *imp, BlockDecodeFn decode);
void bhive_import_free(BhiveImport *imp);

/* Index of the source named `name`, added if new. */
int bhive_import_source(BhiveImport *imp, const char *name);

/* Reads every line of the CSV file at path with throughput source `source`.
 * Bad lines are counted (kind_count, examples), never fatal. 0, or -1 after
 * an error line if the file cannot be read. */
int bhive_import_file(BhiveImport *imp, const char *path, int source);
/* Same for text already in memory (name is used in examples). */
void bhive_import_text(BhiveImport *imp, const char *name, const char *text, size_t len, int source);

/* Number of blocks that will be written (decodable, with at least one value). */
size_t bhive_import_num_records(const BhiveImport *imp);
/* Serialized BasicBlockWithThroughputProto of block i (into *buf, grown as
 * needed); returns its length, or 0 if block i is not written. Sources appear
 * in source-index order. */
size_t bhive_import_pack_record(const BhiveImport *imp, size_t i, uint8_t **buf, size_t *cap);
/* Writes all records to path (temp file + rename). 0, or -1 after an error line. */
int bhive_import_write(const BhiveImport *imp, const char *path);

/* The summary of skipped lines, a few lines on out. */
void bhive_import_report(const BhiveImport *imp, FILE *out);

/* The default source name of a CSV path: "bhive: <base name without .csv>". */
char *bhive_default_source_name(const char *path);

#endif
