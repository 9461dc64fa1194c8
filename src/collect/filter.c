#include "collect/filter.h"

#include <stdlib.h>
#include <string.h>

#include "io/block_io.h"
#include "util/common.h"
#include "x86/canonicalize.h"

const char *filter_outcome_name(FilterOutcome o) {
  switch (o) {
  case FILTER_KEEP: return "kept";
  case FILTER_NO_CODE: return "no machine code in the record";
  case FILTER_UNDECODABLE: return "undecodable bytes";
  case FILTER_SYSCALL: return "system call (syscall, sysenter, sysret, sysexit)";
  case FILTER_INTERRUPT: return "interrupt (int, int1, int3, into, iret)";
  case FILTER_UNDEFINED: return "undefined instruction (ud0, ud1, ud2)";
  case FILTER_PRIVILEGED: return "privileged instruction";
  case FILTER_IO: return "port I/O or interrupt-flag instruction (in, out, ins, outs, cli, sti)";
  case FILTER_MEMORY: return "memory access (--drop-memory-blocks)";
  case FILTER_EMPTY: return "empty after stripping branches, calls and returns";
  case FILTER_TOO_MANY: return "more instructions than --max-instructions";
  case FILTER_TOO_FEW: return "fewer instructions than --min-instructions";
  case FILTER_DUPLICATE: return "duplicate of a block kept earlier";
  default: return "?";
  }
}

static FilterOutcome outcome_of_class(InstructionClass c) {
  switch (c) {
  case INSN_SYSCALL: return FILTER_SYSCALL;
  case INSN_INTERRUPT: return FILTER_INTERRUPT;
  case INSN_UNDEFINED: return FILTER_UNDEFINED;
  case INSN_PRIVILEGED: return FILTER_PRIVILEGED;
  case INSN_IO: return FILTER_IO;
  default: return FILTER_KEEP;
  }
}

void filter_block(const FilterOptions *opt, const uint8_t *code, size_t len, FilterDecision *d) {
  memset(d, 0, sizeof *d);
  ZydisDecoder decoder;
  ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  size_t cap = 0;
  int decoded = 0;
  for (size_t off = 0; off < len; decoded++) {
    if (decoded == FILTER_MAX_INSTRUCTIONS) {
      d->outcome = FILTER_TOO_MANY;
      d->bad_offset = off;
      return;
    }
    ZydisDecodedInstruction in;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, code + off, len - off, &in, ops))) {
      d->outcome = FILTER_UNDECODABLE;
      d->bad_offset = off;
      return;
    }
    InstructionClass c = instruction_class(&in);
    FilterOutcome reason = outcome_of_class(c);
    if (reason == FILTER_KEEP && opt->drop_memory && c != INSN_CONTROL && instruction_accesses_memory(&in, ops))
      reason = FILTER_MEMORY;
    if (c == INSN_CONTROL) {
      d->num_stripped++; /* Gematria drops every branch, call and return, wherever it is */
    } else if (reason != FILTER_KEEP && opt->remove_instructions) {
      d->num_removed++;
    } else if (reason != FILTER_KEEP) {
      d->outcome = reason;
      d->bad_offset = off;
      return;
    } else {
      grow_array((void **)&d->kept, &cap, (size_t)d->num_kept + 1, sizeof *d->kept);
      d->kept[d->num_kept++] = (struct FilterKept){off, in.length};
    }
    off += in.length;
  }
  if (d->num_kept == 0) d->outcome = FILTER_EMPTY;
  else if (opt->max_instructions > 0 && d->num_kept > opt->max_instructions) d->outcome = FILTER_TOO_MANY;
  else if (d->num_kept < opt->min_instructions) d->outcome = FILTER_TOO_FEW;
}

void filter_decision_free(FilterDecision *d) {
  free(d->kept);
  memset(d, 0, sizeof *d);
}

void filter_init(Filter *f, const FilterOptions *opt, BlockSink *sink) {
  memset(f, 0, sizeof *f);
  f->opt = *opt;
  f->sink = sink;
}

void filter_free(Filter *f) { code_set_free(&f->seen); }

#define NO_OFFSET ((size_t)-1)

static void count(Filter *f, FilterOutcome o, const char *name, long index, size_t offset) {
  if (f->outcome_count[o]++ || o == FILTER_KEEP) return;
  if (offset == NO_OFFSET) snprintf(f->example[o], sizeof f->example[o], "%s: record %ld", name, index);
  else snprintf(f->example[o], sizeof f->example[o], "%s: record %ld, byte %zu", name, index, offset);
}

/* The block's machine code, concatenated; its first address in *address. */
static size_t record_code(const Gematria__BasicBlockWithThroughputProto *rec, uint8_t **code, uint64_t *address) {
  const Gematria__BasicBlockProto *b = rec->basic_block;
  size_t len = 0;
  *code = NULL;
  *address = 0;
  if (!b) return 0;
  for (size_t i = 0; i < b->n_machine_instructions; i++) len += b->machine_instructions[i]->machine_code.len;
  if (!len) return 0;
  *code = xmalloc(len);
  *address = b->machine_instructions[0]->address;
  size_t at = 0;
  for (size_t i = 0; i < b->n_machine_instructions; i++) {
    const ProtobufCBinaryData *m = &b->machine_instructions[i]->machine_code;
    if (m->len) memcpy(*code + at, m->data, m->len);
    at += m->len;
  }
  return len;
}

/* A changed block: kept instructions canonicalized one by one at their
 * original addresses; the fingerprint stays, labels (of the old block) go. */
static int write_changed(Filter *f, const Gematria__BasicBlockWithThroughputProto *rec, const uint8_t *code,
                         uint64_t address, const FilterDecision *d, const uint8_t *kept_code, size_t kept_len) {
  Gematria__BasicBlockProto block = GEMATRIA__BASIC_BLOCK_PROTO__INIT;
  for (int i = 0; i < d->num_kept; i++) {
    size_t bad;
    /* bytes Zydis decoded always canonicalize; a failure would be a bug in x86/ */
    if (x86_canonicalize_block(code + d->kept[i].offset, d->kept[i].length, address + d->kept[i].offset, &block,
                               &bad) < 0) {
      x86_block_clear(&block);
      return 0;
    }
  }
  const char *fp = rec->basic_block->fingerprint;
  if (fp && *fp) block.fingerprint = xstrdup(fp);
  Gematria__BasicBlockWithThroughputProto out = GEMATRIA__BASIC_BLOCK_WITH_THROUGHPUT_PROTO__INIT;
  out.basic_block = &block;
  if (rec->n_inverse_throughputs) f->labels_dropped++;
  int rc = block_sink_write(f->sink, &out, kept_code, kept_len);
  x86_block_clear(&block);
  return rc;
}

int filter_record(Filter *f, const char *name, long index, const Gematria__BasicBlockWithThroughputProto *rec) {
  f->records++;
  uint8_t *code;
  uint64_t address;
  size_t len = record_code(rec, &code, &address);
  if (!len) {
    count(f, FILTER_NO_CODE, name, index, NO_OFFSET);
    return 0;
  }
  FilterDecision d;
  filter_block(&f->opt, code, len, &d);
  f->stripped += d.num_stripped;
  f->removed += d.num_removed;
  int rc = 0;
  if (d.outcome != FILTER_KEEP) {
    int by_count = d.outcome == FILTER_EMPTY || d.outcome == FILTER_TOO_FEW ||
                   (d.outcome == FILTER_TOO_MANY && d.num_kept > 0);
    count(f, d.outcome, name, index, by_count ? NO_OFFSET : d.bad_offset);
  } else {
    uint8_t *kept = xmalloc(len);
    size_t kept_len = 0;
    for (int i = 0; i < d.num_kept; i++) {
      memcpy(kept + kept_len, code + d.kept[i].offset, d.kept[i].length);
      kept_len += d.kept[i].length;
    }
    if (!code_set_add(&f->seen, kept, kept_len)) {
      count(f, FILTER_DUPLICATE, name, index, NO_OFFSET);
    } else {
      count(f, FILTER_KEEP, name, index, NO_OFFSET);
      f->kept++;
      if (kept_len == len) {
        if (f->sink) rc = block_sink_write(f->sink, rec, code, len); /* unchanged: the record as it was */
      } else {
        f->changed++;
        if (f->sink) rc = write_changed(f, rec, code, address, &d, kept, kept_len);
      }
    }
    free(kept);
  }
  filter_decision_free(&d);
  free(code);
  return rc;
}

int filter_file(Filter *f, const char *path) {
  BlockReader r;
  if (block_reader_open(&r, path)) return -1;
  Gematria__BasicBlockWithThroughputProto *rec;
  int st;
  while ((st = block_reader_next(&r, &rec)) == 1) {
    int rc = filter_record(f, path, block_reader_index(&r), rec);
    block_record_free(rec);
    if (rc) {
      st = -1;
      break;
    }
  }
  block_reader_close(&r);
  return st < 0 ? -1 : 0;
}

void filter_report(const Filter *f, FILE *out) {
  long dropped = f->records - f->kept;
  fprintf(out,
          "filter: %ld records, %ld kept (%ld changed), %ld dropped; %ld branches/calls/returns stripped, "
          "%ld instructions removed\n",
          f->records, f->kept, f->changed, dropped, f->stripped, f->removed);
  for (int o = 1; o < FILTER_NUM_OUTCOMES; o++)
    if (f->outcome_count[o])
      fprintf(out, "  dropped %ld: %s (e.g. %s)\n", f->outcome_count[o], filter_outcome_name(o), f->example[o]);
  if (f->labels_dropped)
    fprintf(out, "  %ld changed blocks lost their labels (they were measured with the stripped instructions)\n",
            f->labels_dropped);
}
