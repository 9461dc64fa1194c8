/* granite filter: Gematria's process_and_filter_bbs for our records. Each
 * block is decoded; blocks a user-level measuring harness must not or
 * cannot run (system calls, interrupts, #UD, privileged or port-I/O
 * instructions, undecodable bytes) are dropped; branches, calls and returns
 * are stripped so what is left is the straight-line body; optional limits
 * drop memory-accessing blocks and blocks by instruction count. Every
 * dropped block is counted under one reason. */
#ifndef GRANITE_COLLECT_FILTER_H
#define GRANITE_COLLECT_FILTER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "collect/block_sink.h"
#include "collect/code_set.h"
#include "collect/instruction_class.h"
#include "gematria.pb-c.h"

typedef enum {
  FILTER_KEEP,
  FILTER_NO_CODE,        /* the record has no machine code */
  FILTER_UNDECODABLE,
  FILTER_SYSCALL,        /* the first of these in block order decides the reason */
  FILTER_INTERRUPT,
  FILTER_UNDEFINED,
  FILTER_PRIVILEGED,
  FILTER_IO,
  FILTER_MEMORY,         /* --drop-memory-blocks */
  FILTER_EMPTY,          /* nothing left after stripping / removing */
  FILTER_TOO_MANY,       /* --max-instructions */
  FILTER_TOO_FEW,        /* --min-instructions */
  FILTER_DUPLICATE,      /* same code as a block kept earlier */
  FILTER_NUM_OUTCOMES
} FilterOutcome;

typedef struct {
  int drop_memory;          /* drop blocks that load or store */
  int max_instructions;     /* 0: no limit */
  int min_instructions;     /* counted after stripping */
  /* Gematria's exact process_and_filter_bbs behaviour: remove the offending
   * instructions (and, with drop_memory, the memory-accessing ones) instead
   * of dropping the block. */
  int remove_instructions;
} FilterOptions;

#define FILTER_MAX_INSTRUCTIONS 4096 /* longer blocks are dropped as FILTER_TOO_MANY */

/* The decision for one block: which instructions stay. */
typedef struct {
  FilterOutcome outcome;
  size_t bad_offset;            /* FILTER_UNDECODABLE: where; others: offset of the deciding instruction */
  int num_kept;
  struct FilterKept {
    size_t offset;
    uint8_t length;
  } *kept;                      /* kept instructions, in order */
  int num_stripped;             /* branches/calls/returns removed */
  int num_removed;              /* instructions removed by remove_instructions */
} FilterDecision;

/* Decides on code[0..len). d->kept is allocated; free with filter_decision_free. */
void filter_block(const FilterOptions *opt, const uint8_t *code, size_t len, FilterDecision *d);
void filter_decision_free(FilterDecision *d);

typedef struct {
  FilterOptions opt;
  BlockSink *sink;
  CodeSet seen;
  long records, kept, changed, labels_dropped, stripped, removed;
  long outcome_count[FILTER_NUM_OUTCOMES];
  char example[FILTER_NUM_OUTCOMES][200]; /* "FILE: record N: ..." */
} Filter;

void filter_init(Filter *f, const FilterOptions *opt, BlockSink *sink);
void filter_free(Filter *f);
/* Every record of the .tfrecord file at path. 0, or -1 after an error line
 * (unreadable or corrupt input names the file and record; write errors). */
int filter_file(Filter *f, const char *path);
/* One record (exposed for tests). 0, or -1 after a write error line. */
int filter_record(Filter *f, const char *name, long index, const Gematria__BasicBlockWithThroughputProto *rec);
void filter_report(const Filter *f, FILE *out);
const char *filter_outcome_name(FilterOutcome o);

#endif
