/* Executable sections → basic blocks, by a linear sweep with Zydis.
 * Leaders (first instructions of blocks): the section start, every direct
 * branch or call target (from any section of the file), the instruction
 * after every instruction that ends a block (instruction_class.h), symbol
 * starts, and the first instruction after undecodable bytes. */
#ifndef GRANITE_COLLECT_BLOCK_SPLIT_H
#define GRANITE_COLLECT_BLOCK_SPLIT_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  size_t offset; /* from the start of the section */
  size_t size;   /* bytes */
  int num_instructions;
} CodeBlock;

typedef struct {
  CodeBlock *blocks; /* in address order, never overlapping */
  size_t num_blocks, cap_blocks;
  long instructions;
  long undecodable_runs;     /* runs of bytes Zydis rejects (each skipped byte by byte) */
  size_t undecodable_bytes;
  size_t first_undecodable;  /* section offset of the first undecodable byte (if any) */
  long misaligned_leaders;   /* branch targets or symbols inside an instruction (ignored) */
} BlockSplit;

/* One section between the sweep and the cut: what starts where. */
typedef struct {
  const uint8_t *code;
  size_t size;
  uint64_t address;
  uint8_t *mark;       /* per byte: instruction start, leader, undecodable */
  uint8_t *length;     /* per byte: length of the instruction starting there */
  uint64_t *targets;   /* direct branch and call targets found (any address) */
  size_t num_targets, cap_targets;
} SectionSweep;

/* Step 1: decodes code[0..size) (running at `address`); counts go to *out. */
void section_sweep(SectionSweep *sw, const uint8_t *code, size_t size, uint64_t address, BlockSplit *out);
/* Step 2: makes the instructions at these addresses leaders (addresses
 * outside the section are ignored; inside an instruction: counted). */
void section_mark_leaders(SectionSweep *sw, const uint64_t *addresses, size_t n, BlockSplit *out);
/* Step 3: appends the blocks to *out and frees the sweep. */
void section_cut_blocks(SectionSweep *sw, BlockSplit *out);

/* All three for one section on its own: its own branch targets and the
 * symbol starts[] (any order) are the leaders. Appends to *out (zero it
 * first); counts accumulate. */
void block_split(const uint8_t *code, size_t size, uint64_t address, const uint64_t *starts, size_t num_starts,
                 BlockSplit *out);
void block_split_free(BlockSplit *s);

#endif
