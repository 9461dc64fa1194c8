#include "collect/extract.h"

#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "collect/block_split.h"
#include "util/common.h"
#include "x86/canonicalize.h"

void extractor_init(Extractor *x, BlockSink *sink) {
  memset(x, 0, sizeof *x);
  x->sink = sink;
}

void extractor_free(Extractor *x) { code_set_free(&x->seen); }

/* Canonicalizes one new block and hands it to the sink. */
static int write_block(Extractor *x, const char *name, const ElfCodeSection *s, const CodeBlock *b) {
  const uint8_t *code = s->data + b->offset;
  uint64_t address = s->address + b->offset;
  Gematria__BasicBlockWithThroughputProto rec = GEMATRIA__BASIC_BLOCK_WITH_THROUGHPUT_PROTO__INIT;
  Gematria__BasicBlockProto block = GEMATRIA__BASIC_BLOCK_PROTO__INIT;
  size_t bad_offset;
  if (x86_canonicalize_block(code, b->size, address, &block, &bad_offset) < 0) {
    x->canonicalizer_rejects++;
    return 0;
  }
  size_t n = strlen(name) + strlen(s->name) + 64;
  block.fingerprint = xmalloc(n);
  snprintf(block.fingerprint, n, "%s:%s:0x%llx+%zu", name, s->name, (unsigned long long)address, b->size);
  rec.basic_block = &block;
  int rc = block_sink_write(x->sink, &rec, code, b->size);
  x86_block_clear(&block);
  if (rc == 0) x->written++;
  return rc;
}

static int compare_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* First index i of sorted[0..n) with sorted[i] >= value. */
static size_t lower_bound(const uint64_t *sorted, size_t n, uint64_t value) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (sorted[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static void add_counts(Extractor *x, const char *name, const ElfCodeSection *s, const BlockSplit *split) {
  x->instructions += split->instructions;
  x->misaligned_leaders += split->misaligned_leaders;
  if (split->undecodable_runs && !x->undecodable_runs)
    snprintf(x->undecodable_example, sizeof x->undecodable_example, "%s: section %s at offset 0x%llx (address 0x%llx)",
             name, s->name, (unsigned long long)(s->file_offset + split->first_undecodable),
             (unsigned long long)(s->address + split->first_undecodable));
  x->undecodable_runs += split->undecodable_runs;
  x->undecodable_bytes += split->undecodable_bytes;
}

/* Sweeps every code section first, so that a call from .text makes its
 * target in .plt a leader too (in executables and shared libraries, where
 * sections share one address space); then cuts and writes each section. */
static int extract_sections(Extractor *x, const char *name, const ElfImage *img) {
  int n = img->num_sections;
  SectionSweep *sweeps = xcalloc(n, sizeof *sweeps);
  BlockSplit *splits = xcalloc(n, sizeof *splits);
  size_t num_targets = 0;
  for (int i = 0; i < n; i++) {
    const ElfCodeSection *s = &img->sections[i];
    section_sweep(&sweeps[i], s->data, s->size, s->address, &splits[i]);
    num_targets += sweeps[i].num_targets;
  }
  uint64_t *targets = xmalloc((num_targets + 1) * sizeof *targets);
  size_t at = 0;
  for (int i = 0; i < n; i++) {
    if (sweeps[i].num_targets) memcpy(targets + at, sweeps[i].targets, sweeps[i].num_targets * sizeof *targets);
    at += sweeps[i].num_targets;
  }
  qsort(targets, num_targets, sizeof *targets, compare_u64);

  int rc = 0;
  size_t next_start = 0; /* img->starts is sorted by section position */
  for (int i = 0; i < n && rc == 0; i++) {
    const ElfCodeSection *s = &img->sections[i];
    if (img->type == ET_REL) {
      /* every section of an object file starts at 0: no shared address space */
      section_mark_leaders(&sweeps[i], sweeps[i].targets, sweeps[i].num_targets, &splits[i]);
    } else {
      size_t lo = lower_bound(targets, num_targets, s->address);
      size_t hi = s->address + s->size < s->address ? num_targets /* wraps: to the end */
                                                    : lower_bound(targets, num_targets, s->address + s->size);
      section_mark_leaders(&sweeps[i], targets + lo, hi - lo, &splits[i]);
    }
    while (next_start < img->num_starts && img->starts[next_start].section == i) {
      section_mark_leaders(&sweeps[i], &img->starts[next_start].address, 1, &splits[i]);
      next_start++;
    }
    section_cut_blocks(&sweeps[i], &splits[i]);
    x->sections++;
    x->bytes += s->size;
    add_counts(x, name, s, &splits[i]);
    for (size_t b = 0; b < splits[i].num_blocks && rc == 0; b++) {
      const CodeBlock *block = &splits[i].blocks[b];
      x->blocks++;
      if (!code_set_add(&x->seen, s->data + block->offset, block->size)) {
        x->duplicates++;
        continue;
      }
      if (x->sink) rc = write_block(x, name, s, block);
      else x->written++;
    }
    block_split_free(&splits[i]);
  }
  for (int i = 0; i < n; i++) { /* what a write error left */
    if (sweeps[i].mark) section_cut_blocks(&sweeps[i], &splits[i]);
    block_split_free(&splits[i]);
  }
  free(targets);
  free(sweeps);
  free(splits);
  return rc;
}

int extract_buffer(Extractor *x, const char *name, const uint8_t *data, size_t size, char *err, size_t err_size) {
  if (err_size) err[0] = '\0';
  x->files++;
  ElfImage img;
  char why[256];
  if (elf_read(&img, data, size, why, sizeof why)) {
    x->files_failed++;
    snprintf(err, err_size, "%s: %s", name, why);
    return -1;
  }
  for (int k = 0; k < ELF_SKIP_NUM_KINDS; k++) {
    if (img.skip_count[k] && !x->elf_skips[k])
      snprintf(x->elf_skip_example[k], sizeof x->elf_skip_example[k], "%s: %s", name, img.skip_example[k]);
    x->elf_skips[k] += img.skip_count[k];
  }
  x->symbol_starts += (long)img.num_starts;
  if (img.num_symbol_tables == 0) x->stripped_files++;
  int rc = extract_sections(x, name, &img);
  elf_image_free(&img);
  return rc;
}

int extract_file(Extractor *x, const char *path, char *err, size_t err_size) {
  if (err_size) err[0] = '\0';
  FILE *f = fopen(path, "rb");
  struct stat st;
  if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    x->files++;
    x->files_failed++;
    snprintf(err, err_size, "%s: cannot read: %s", path, f ? "not a regular file" : strerror(errno));
    if (f) fclose(f);
    return -1;
  }
  size_t size = (size_t)st.st_size;
  uint8_t *data = xmalloc(size ? size : 1);
  size_t got = fread(data, 1, size, f);
  int read_error = ferror(f);
  fclose(f);
  if (read_error || got != size) {
    x->files++;
    x->files_failed++;
    snprintf(err, err_size, "%s: read error at offset %zu of %zu", path, got, size);
    free(data);
    return -1;
  }
  int rc = extract_buffer(x, path, data, size, err, err_size);
  free(data);
  return rc;
}

void extract_report(const Extractor *x, FILE *out) {
  fprintf(out,
          "extract: %ld files (%ld unreadable, %ld without symbols), %ld sections, %llu bytes, %ld instructions, "
          "%ld blocks: %ld written, %ld duplicates\n",
          x->files, x->files_failed, x->stripped_files, x->sections, (unsigned long long)x->bytes, x->instructions,
          x->blocks, x->written, x->duplicates);
  for (int k = 0; k < ELF_SKIP_NUM_KINDS; k++)
    if (x->elf_skips[k])
      fprintf(out, "  skipped %ld: %s (e.g. %s)\n", x->elf_skips[k], elf_skip_kind_name(k), x->elf_skip_example[k]);
  if (x->undecodable_runs)
    fprintf(out, "  skipped %llu undecodable bytes in %ld runs (blocks end before them; e.g. %s)\n",
            (unsigned long long)x->undecodable_bytes, x->undecodable_runs, x->undecodable_example);
  if (x->misaligned_leaders)
    fprintf(out, "  ignored %ld branch targets or symbols inside an instruction\n", x->misaligned_leaders);
  if (x->canonicalizer_rejects)
    fprintf(out, "  skipped %ld blocks the canonicalizer rejected\n", x->canonicalizer_rejects);
}
