/* collect/filter: which blocks are dropped and why, what is stripped or
 * removed, duplicates after stripping, labels of changed records, and the
 * records written (addresses kept, fingerprint kept). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collect/filter.h"
#include "io/block_io.h"
#include "testing.h"
#include "x86/canonicalize.h"

static size_t from_hex(const char *hex, uint8_t *out) {
  size_t n = 0;
  for (; hex[0] && hex[1]; hex += 2) {
    while (*hex == ' ') hex++;
    unsigned v;
    sscanf(hex, "%2x", &v);
    out[n++] = (uint8_t)v;
  }
  return n;
}

/* Decision on a block given in hex ("48 01 f8" spaces allowed). */
static FilterOutcome decide(const FilterOptions *opt, const char *hex, int *kept, int *stripped, int *removed,
                            size_t *bad_offset) {
  uint8_t code[256];
  size_t n = from_hex(hex, code);
  FilterDecision d;
  filter_block(opt, code, n, &d);
  if (kept) *kept = d.num_kept;
  if (stripped) *stripped = d.num_stripped;
  if (removed) *removed = d.num_removed;
  if (bad_offset) *bad_offset = d.bad_offset;
  FilterOutcome o = d.outcome;
  filter_decision_free(&d);
  return o;
}

static void test_decisions(void) {
  FilterOptions def = {0};
  int kept, stripped, removed;
  size_t bad;
  CHECK(decide(&def, "4801f8 c3", &kept, &stripped, NULL, NULL) == FILTER_KEEP && kept == 1 && stripped == 1);
  CHECK(decide(&def, "4801f8 e800000000", &kept, &stripped, NULL, NULL) == FILTER_KEEP && kept == 1 && stripped == 1);
  CHECK(decide(&def, "4801f8 75f8", &kept, NULL, NULL, NULL) == FILTER_KEEP && kept == 1);       /* jne */
  CHECK(decide(&def, "4801f8 ff2500000000", &kept, NULL, NULL, NULL) == FILTER_KEEP && kept == 1); /* jmp [rip] */
  CHECK(decide(&def, "4801f8 e2fb", &kept, NULL, NULL, NULL) == FILTER_KEEP && kept == 1);         /* loop */
  CHECK(decide(&def, "4801f8 ff18", &kept, NULL, NULL, NULL) == FILTER_KEEP && kept == 1);         /* far call */
  /* Gematria strips every branch, not only the last */
  CHECK(decide(&def, "eb00 4801f8 c3", &kept, &stripped, NULL, NULL) == FILTER_KEEP && kept == 1 && stripped == 2);
  CHECK(decide(&def, "4801f8 4801f8", &kept, &stripped, NULL, NULL) == FILTER_KEEP && kept == 2 && stripped == 0);

  CHECK(decide(&def, "4801f8 0f05", NULL, NULL, NULL, &bad) == FILTER_SYSCALL && bad == 3);
  CHECK(decide(&def, "0f34", NULL, NULL, NULL, NULL) == FILTER_SYSCALL);  /* sysenter */
  CHECK(decide(&def, "0f07", NULL, NULL, NULL, NULL) == FILTER_SYSCALL);  /* sysret */
  CHECK(decide(&def, "cd80", NULL, NULL, NULL, NULL) == FILTER_INTERRUPT);
  CHECK(decide(&def, "cc", NULL, NULL, NULL, NULL) == FILTER_INTERRUPT);  /* int3 */
  CHECK(decide(&def, "f1", NULL, NULL, NULL, NULL) == FILTER_INTERRUPT);  /* int1 */
  CHECK(decide(&def, "48cf", NULL, NULL, NULL, NULL) == FILTER_INTERRUPT); /* iretq */
  CHECK(decide(&def, "0f0b", NULL, NULL, NULL, NULL) == FILTER_UNDEFINED); /* ud2 */
  CHECK(decide(&def, "0fb9c0", NULL, NULL, NULL, NULL) == FILTER_UNDEFINED); /* ud1 */
  CHECK(decide(&def, "f4", NULL, NULL, NULL, NULL) == FILTER_PRIVILEGED); /* hlt */
  CHECK(decide(&def, "0f22c0", NULL, NULL, NULL, NULL) == FILTER_PRIVILEGED); /* mov cr0, rax */
  CHECK(decide(&def, "0f30", NULL, NULL, NULL, NULL) == FILTER_PRIVILEGED); /* wrmsr */
  CHECK(decide(&def, "e410", NULL, NULL, NULL, NULL) == FILTER_IO);      /* in al, 0x10 */
  CHECK(decide(&def, "6c", NULL, NULL, NULL, NULL) == FILTER_IO);        /* insb */
  CHECK(decide(&def, "fa", NULL, NULL, NULL, NULL) == FILTER_IO);        /* cli */
  CHECK(decide(&def, "4801f8 06 4801f8", NULL, NULL, NULL, &bad) == FILTER_UNDECODABLE && bad == 3);
  CHECK(decide(&def, "4801", NULL, NULL, NULL, &bad) == FILTER_UNDECODABLE && bad == 0); /* cut short */
  /* the first offending instruction names the reason */
  CHECK(decide(&def, "cc 0f05", NULL, NULL, NULL, NULL) == FILTER_INTERRUPT);
  CHECK(decide(&def, "c3", NULL, NULL, NULL, NULL) == FILTER_EMPTY);
  CHECK(decide(&def, "", NULL, NULL, NULL, NULL) == FILTER_EMPTY);
  /* user-level instructions that look system-ish stay */
  CHECK(decide(&def, "0f31", NULL, NULL, NULL, NULL) == FILTER_KEEP);    /* rdtsc */
  CHECK(decide(&def, "0fa2", NULL, NULL, NULL, NULL) == FILTER_KEEP);    /* cpuid */
  CHECK(decide(&def, "f0480107", NULL, NULL, NULL, NULL) == FILTER_KEEP); /* lock add [rdi], rax */

  /* memory */
  FilterOptions mem = {.drop_memory = 1};
  CHECK(decide(&mem, "488b07", NULL, NULL, NULL, NULL) == FILTER_MEMORY);     /* mov rax, [rdi] */
  CHECK(decide(&mem, "488907", NULL, NULL, NULL, NULL) == FILTER_MEMORY);     /* mov [rdi], rax */
  CHECK(decide(&mem, "50", NULL, NULL, NULL, NULL) == FILTER_MEMORY);         /* push: hidden store */
  CHECK(decide(&mem, "a4", NULL, NULL, NULL, NULL) == FILTER_MEMORY);         /* movsb */
  CHECK(decide(&mem, "488d0437", NULL, NULL, NULL, NULL) == FILTER_KEEP);     /* lea */
  CHECK(decide(&mem, "0f1f440000", NULL, NULL, NULL, NULL) == FILTER_KEEP);   /* nopl 0(rax,rax) */
  CHECK(decide(&mem, "4801f8 c3", NULL, NULL, NULL, NULL) == FILTER_KEEP);    /* the stripped ret's load does not count */
  CHECK(decide(&def, "488b07", NULL, NULL, NULL, NULL) == FILTER_KEEP);

  /* counts */
  FilterOptions lim = {.max_instructions = 2, .min_instructions = 2};
  CHECK(decide(&lim, "4801f8 4801f8 4801f8 c3", NULL, NULL, NULL, NULL) == FILTER_TOO_MANY);
  CHECK(decide(&lim, "4801f8 4801f8 c3", NULL, NULL, NULL, NULL) == FILTER_KEEP);
  CHECK(decide(&lim, "4801f8 c3", NULL, NULL, NULL, NULL) == FILTER_TOO_FEW);

  /* Gematria's way: remove the instructions, keep the rest */
  FilterOptions rm = {.remove_instructions = 1};
  CHECK(decide(&rm, "4801f8 0f05 4801c0 c3", &kept, &stripped, &removed, NULL) == FILTER_KEEP && kept == 2 &&
        removed == 1 && stripped == 1);
  CHECK(decide(&rm, "0f05", NULL, NULL, &removed, NULL) == FILTER_EMPTY && removed == 1);
  CHECK(decide(&rm, "4801f8 06", NULL, NULL, NULL, NULL) == FILTER_UNDECODABLE);
  FilterOptions rm_mem = {.remove_instructions = 1, .drop_memory = 1};
  CHECK(decide(&rm_mem, "488b07 4801f8 50", &kept, NULL, &removed, NULL) == FILTER_KEEP && kept == 1 && removed == 2);

  /* a huge block of nops stops at the decoder limit */
  size_t big = FILTER_MAX_INSTRUCTIONS + 10;
  uint8_t *nops = malloc(big);
  memset(nops, 0x90, big);
  FilterDecision d;
  filter_block(&def, nops, big, &d);
  CHECK(d.outcome == FILTER_TOO_MANY);
  filter_decision_free(&d);
  free(nops);
}

/* A record with code in hex, at `address`, optionally labelled. */
static Gematria__BasicBlockWithThroughputProto *make_record(const char *hex, uint64_t address, double label,
                                                           const char *fingerprint) {
  uint8_t code[256];
  size_t n = from_hex(hex, code);
  Gematria__BasicBlockWithThroughputProto *rec = calloc(1, sizeof *rec);
  gematria__basic_block_with_throughput_proto__init(rec);
  rec->basic_block = calloc(1, sizeof *rec->basic_block);
  gematria__basic_block_proto__init(rec->basic_block);
  size_t bad;
  x86_canonicalize_block(code, n, address, rec->basic_block, &bad);
  if (fingerprint) rec->basic_block->fingerprint = strdup(fingerprint);
  if (label > 0) {
    Gematria__ThroughputWithSourceProto *t = calloc(1, sizeof *t);
    gematria__throughput_with_source_proto__init(t);
    t->source = strdup("test");
    t->n_inverse_throughput_cycles = 1;
    t->inverse_throughput_cycles = malloc(sizeof(double));
    t->inverse_throughput_cycles[0] = label;
    rec->n_inverse_throughputs = 1;
    rec->inverse_throughputs = malloc(sizeof *rec->inverse_throughputs);
    rec->inverse_throughputs[0] = t;
  }
  return rec;
}

static void test_records(void) {
  char path[] = "/tmp/granite_test_filter_XXXXXX";
  close(mkstemp(path));
  BlockSink sink;
  CHECK(block_sink_open(&sink, path, NULL, NULL, 0) == 0);
  FilterOptions opt = {0};
  Filter f;
  filter_init(&f, &opt, &sink);
  struct {
    const char *hex;
    double label;
  } in[] = {
      {"4801f8 4889c3", 2.0},    /* kept unchanged, with its label */
      {"4801f8 4889c3 c3", 3.0}, /* changed; then a duplicate of the first */
      {"4801f8 48ffcf 75f8", 4.0}, /* changed: jne stripped, label dropped */
      {"0f05", 0},               /* system call */
      {"c3", 0},                 /* empty */
  };
  for (int i = 0; i < 5; i++) {
    Gematria__BasicBlockWithThroughputProto *rec = make_record(in[i].hex, 0x1000, in[i].label, "a.out:.text:0x1000+9");
    CHECK(filter_record(&f, "in.tfrecord", i, rec) == 0);
    block_record_free(rec);
  }
  Gematria__BasicBlockWithThroughputProto empty = GEMATRIA__BASIC_BLOCK_WITH_THROUGHPUT_PROTO__INIT;
  CHECK(filter_record(&f, "in.tfrecord", 5, &empty) == 0);
  CHECK(block_sink_commit(&sink) == 0);
  CHECK(f.records == 6 && f.kept == 2 && f.changed == 1 && f.labels_dropped == 1);
  CHECK(f.outcome_count[FILTER_DUPLICATE] == 1 && f.outcome_count[FILTER_SYSCALL] == 1);
  CHECK(f.outcome_count[FILTER_EMPTY] == 1 && f.outcome_count[FILTER_NO_CODE] == 1);
  CHECK(!strcmp(f.example[FILTER_SYSCALL], "in.tfrecord: record 3, byte 0"));
  CHECK(!strcmp(f.example[FILTER_DUPLICATE], "in.tfrecord: record 1"));
  filter_free(&f);

  BlockReader r;
  CHECK(block_reader_open(&r, path) == 0);
  Gematria__BasicBlockWithThroughputProto *rec;
  CHECK(block_reader_next(&r, &rec) == 1);
  CHECK(rec->n_inverse_throughputs == 1 && rec->inverse_throughputs[0]->inverse_throughput_cycles[0] == 2.0);
  block_record_free(rec);
  CHECK(block_reader_next(&r, &rec) == 1);
  const Gematria__BasicBlockProto *b = rec->basic_block;
  CHECK(rec->n_inverse_throughputs == 0);
  CHECK(b->n_machine_instructions == 2 && b->n_canonicalized_instructions == 2);
  CHECK(b->machine_instructions[1]->address == 0x1003); /* original addresses */
  CHECK(!strcmp(b->canonicalized_instructions[1]->mnemonic, "DEC"));
  CHECK(!strcmp(b->fingerprint, "a.out:.text:0x1000+9"));
  block_record_free(rec);
  CHECK(block_reader_next(&r, &rec) == 0);
  block_reader_close(&r);

  /* a corrupt input file: one error line naming it and the record */
  FILE *out = fopen(path, "r+b");
  fseek(out, 20, SEEK_SET);
  fputc(0xff, out);
  fclose(out);
  BlockSink none;
  char other[] = "/tmp/granite_test_filter_out_XXXXXX";
  close(mkstemp(other));
  CHECK(block_sink_open(&none, other, NULL, NULL, 0) == 0);
  filter_init(&f, &opt, &none);
  StderrCapture cap;
  char msg[512];
  stderr_capture_begin(&cap);
  int rc = filter_file(&f, path);
  stderr_capture_end(&cap, msg, sizeof msg);
  CHECK(rc == -1);
  CHECK_MSG(strstr(msg, path) && strstr(msg, "record 0"), "message: %s", msg);
  block_sink_abort(&none);
  filter_free(&f);
  unlink(path);
  unlink(other);
}

int main(void) {
  test_decisions();
  test_records();
  return test_summary("test_collect_filter");
}
