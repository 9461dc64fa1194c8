#include "collect/block_split.h"

#include <stdlib.h>
#include <string.h>

#include <Zydis/Zydis.h>

#include "collect/instruction_class.h"
#include "util/common.h"

enum {
  AT_INSTRUCTION = 1, /* an instruction starts here */
  AT_LEADER = 2,      /* ... and it starts a block */
  AT_BAD = 4,         /* undecodable byte */
};

void section_sweep(SectionSweep *sw, const uint8_t *code, size_t size, uint64_t address, BlockSplit *out) {
  memset(sw, 0, sizeof *sw);
  sw->code = code;
  sw->size = size;
  sw->address = address;
  sw->mark = xcalloc(size ? size : 1, 1);
  sw->length = xcalloc(size ? size : 1, 1);
  ZydisDecoder decoder;
  ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  /* an instruction that ends a block makes the next one a leader, and so
   * does a gap of undecodable bytes */
  int next_is_leader = 1;
  for (size_t off = 0; off < size;) {
    ZydisDecodedInstruction in;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, code + off, size - off, &in, ops))) {
      if (!out->undecodable_bytes) out->first_undecodable = off;
      if (off == 0 || !(sw->mark[off - 1] & AT_BAD)) out->undecodable_runs++;
      out->undecodable_bytes++;
      sw->mark[off++] = AT_BAD;
      next_is_leader = 1;
      continue;
    }
    sw->mark[off] = AT_INSTRUCTION | (next_is_leader ? AT_LEADER : 0);
    sw->length[off] = in.length;
    out->instructions++;
    next_is_leader = instruction_ends_block(&in);
    if (in.attributes & ZYDIS_ATTRIB_IS_RELATIVE && in.meta.branch_type != ZYDIS_BRANCH_TYPE_NONE) {
      for (int i = 0; i < in.operand_count_visible; i++) {
        ZyanU64 target;
        if (ops[i].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && ops[i].imm.is_relative &&
            ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&in, &ops[i], address + off, &target))) {
          grow_array((void **)&sw->targets, &sw->cap_targets, sw->num_targets + 1, sizeof *sw->targets);
          sw->targets[sw->num_targets++] = target;
        }
      }
    }
    off += in.length;
  }
}

void section_mark_leaders(SectionSweep *sw, const uint64_t *addresses, size_t n, BlockSplit *out) {
  for (size_t i = 0; i < n; i++) {
    if (addresses[i] < sw->address || addresses[i] - sw->address >= sw->size) continue;
    size_t at = (size_t)(addresses[i] - sw->address);
    if (sw->mark[at] & AT_INSTRUCTION) sw->mark[at] |= AT_LEADER;
    else out->misaligned_leaders++;
  }
}

static void push_block(BlockSplit *out, size_t offset, size_t size, int n) {
  grow_array((void **)&out->blocks, &out->cap_blocks, out->num_blocks + 1, sizeof *out->blocks);
  out->blocks[out->num_blocks++] = (CodeBlock){offset, size, n};
}

/* A block runs from a leader to the instruction before the next leader or
 * undecodable byte. */
void section_cut_blocks(SectionSweep *sw, BlockSplit *out) {
  size_t block_start = 0;
  int n = 0;
  for (size_t off = 0; off <= sw->size;) {
    int ends = off == sw->size || (sw->mark[off] & (AT_LEADER | AT_BAD));
    if (ends && n > 0) {
      push_block(out, block_start, off - block_start, n);
      n = 0;
    }
    if (off == sw->size) break;
    if (sw->mark[off] & AT_BAD) {
      off++;
      continue;
    }
    if (n == 0) block_start = off;
    n++;
    off += sw->length[off];
  }
  free(sw->mark);
  free(sw->length);
  free(sw->targets);
  memset(sw, 0, sizeof *sw);
}

void block_split(const uint8_t *code, size_t size, uint64_t address, const uint64_t *starts, size_t num_starts,
                 BlockSplit *out) {
  SectionSweep sw;
  section_sweep(&sw, code, size, address, out);
  section_mark_leaders(&sw, sw.targets, sw.num_targets, out);
  section_mark_leaders(&sw, starts, num_starts, out);
  section_cut_blocks(&sw, out);
}

void block_split_free(BlockSplit *s) {
  free(s->blocks);
  memset(s, 0, sizeof *s);
}
