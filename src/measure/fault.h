/* Why a measurement child ended, in the terms of measure_block.h: done,
 * needs one more data page (BHive's restart), or one failure reason with a
 * detail line naming the instruction of the block that caused it. */
#ifndef GRANITE_MEASURE_FAULT_H
#define GRANITE_MEASURE_FAULT_H

#include <stddef.h>
#include <stdint.h>

#include "measure/harness.h"
#include "measure/measure_block.h"
#include "measure/sandbox.h"

/* Where the block's copies are in the child's code region. */
typedef struct {
  const uint8_t *block;
  size_t block_len;
  uint64_t body_start[FN_COUNT], body_end[FN_COUNT]; /* absolute addresses */
  uint64_t code_end;                                 /* end of the mapped code */
} CodeMap;

typedef enum { CHILD_DONE, CHILD_NEEDS_PAGE, CHILD_FAILED } ChildOutcome;

/* CHILD_NEEDS_PAGE sets *page (page aligned); CHILD_FAILED sets *status and
 * detail. */
ChildOutcome fault_classify(const HarnessReport *rep, const SandboxEnd *end, const CodeMap *map, uint64_t *page,
                            MeasureStatus *status, char *detail, size_t detail_size);

/* Lowest address Linux lets a process map (vm.mmap_min_addr's default). */
#define FAULT_LOWEST_MAPPABLE 0x10000ull
/* Highest user-space address + 1 (47-bit virtual addresses). */
#define FAULT_USER_END 0x7ffffffff000ull

#endif
