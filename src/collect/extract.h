/* granite extract: ELF files → unique basic blocks (elf_reader.h,
 * block_split.h), each canonicalized into a BasicBlockWithThroughputProto
 * without labels and written to a BlockSink. Where a block came from goes
 * into BasicBlockProto.fingerprint as "FILE:SECTION:0xADDRESS+SIZE" (the
 * only free-text field of the block; unused by training); the address is
 * also in each MachineInstructionProto.address. */
#ifndef GRANITE_COLLECT_EXTRACT_H
#define GRANITE_COLLECT_EXTRACT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "collect/block_sink.h"
#include "collect/code_set.h"
#include "collect/elf_reader.h"

typedef struct {
  BlockSink *sink;    /* NULL: count only */
  CodeSet seen;
  long files, files_failed;
  long sections, symbol_starts, stripped_files;
  uint64_t bytes;
  long instructions, blocks, duplicates, written;
  long undecodable_runs;
  uint64_t undecodable_bytes;
  long misaligned_leaders;
  long canonicalizer_rejects;   /* decoded by the splitter, rejected by x86_canonicalize_block */
  long elf_skips[ELF_SKIP_NUM_KINDS];
  char elf_skip_example[ELF_SKIP_NUM_KINDS][320]; /* "FILE: section ..." */
  char undecodable_example[320];
} Extractor;

void extractor_init(Extractor *x, BlockSink *sink);
void extractor_free(Extractor *x);

/* One ELF file already in memory; `name` is used in fingerprints and
 * messages. 0, or -1 with err set to "NAME: offset ...: what is wrong"
 * (bad file, nothing taken from it) or after a write error line (err
 * empty). */
int extract_buffer(Extractor *x, const char *name, const uint8_t *data, size_t size, char *err, size_t err_size);
/* Reads the file at path and extracts it; same contract. */
int extract_file(Extractor *x, const char *path, char *err, size_t err_size);

/* The summary line and one line per kind of skip, with an example. */
void extract_report(const Extractor *x, FILE *out);

#endif
