/* BHive CSV parsing (spec §1.4) and the merge of several files into one
 * record per block. Uses a fake decoder (one instruction per byte, 0xFF
 * undecodable) so that it tests io/ alone. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/bhive_csv.h"
#include "io/bhive_import.h"
#include "io/block_io.h"
#include "testing.h"
#include "x86/canonicalize.h"

static BhiveCsvColumns default_cols = {0, 1};

static int parse(const char *line, int first, BhiveCsvLine *out) {
  static uint8_t *buf;
  static size_t cap;
  return bhive_csv_parse_line(line, strlen(line), &default_cols, first, &buf, &cap, out);
}

static void test_lines(void) {
  BhiveCsvLine l;
  CHECK(parse("4829d3,109\n", 0, &l) == BHIVE_OK);
  CHECK(l.code_len == 3 && l.code[0] == 0x48 && l.code[1] == 0x29 && l.code[2] == 0xd3);
  CHECK(l.throughput == 109.0);
  CHECK(parse("4829D3,1.5e2", 0, &l) == BHIVE_OK && l.code[2] == 0xd3 && l.throughput == 150.0);
  CHECK(parse("90,7\r\n", 0, &l) == BHIVE_OK && l.code_len == 1 && l.throughput == 7.0);
  CHECK(parse("90, 7.25 \t\r\n", 0, &l) == BHIVE_OK && l.throughput == 7.25);
  CHECK(parse("90,3,extra,columns\n", 0, &l) == BHIVE_OK && l.throughput == 3.0);
  CHECK(parse("hex,throughput\n", 1, &l) == BHIVE_HEADER);
  CHECK(parse("hex,throughput\n", 0, &l) == BHIVE_BAD_HEX_CHAR);
  CHECK(parse("\n", 0, &l) == BHIVE_EMPTY_LINE);
  CHECK(parse("  \r\n", 0, &l) == BHIVE_EMPTY_LINE);
  CHECK(parse("4829d,10\n", 0, &l) == BHIVE_ODD_HEX);
  CHECK(parse("48zz,10\n", 0, &l) == BHIVE_BAD_HEX_CHAR);
  CHECK(parse("48 29,10\n", 0, &l) == BHIVE_BAD_HEX_CHAR);
  CHECK(parse(",10\n", 0, &l) == BHIVE_EMPTY_HEX);
  CHECK(parse("4829\n", 0, &l) == BHIVE_TOO_FEW_COLUMNS);
  CHECK(parse("4829,\n", 0, &l) == BHIVE_TOO_FEW_COLUMNS);
  CHECK(parse("4829,abc\n", 0, &l) == BHIVE_BAD_THROUGHPUT);
  CHECK(parse("4829,12x\n", 0, &l) == BHIVE_BAD_THROUGHPUT);
  CHECK(parse("4829,nan\n", 0, &l) == BHIVE_NONFINITE_THROUGHPUT);
  CHECK(parse("4829,inf\n", 0, &l) == BHIVE_NONFINITE_THROUGHPUT);
  CHECK(parse("4829,-inf\n", 0, &l) == BHIVE_NONFINITE_THROUGHPUT);
  CHECK(parse("4829,-3\n", 0, &l) == BHIVE_NEGATIVE_THROUGHPUT);
  CHECK(parse("4829,0\n", 0, &l) == BHIVE_OK && l.throughput == 0.0);

  /* other column order: throughput first */
  BhiveCsvColumns swapped = {2, 0};
  uint8_t *buf = NULL;
  size_t cap = 0;
  const char *line = "12.5,ignored,c3\n";
  CHECK(bhive_csv_parse_line(line, strlen(line), &swapped, 0, &buf, &cap, &l) == BHIVE_OK);
  CHECK(l.code_len == 1 && l.code[0] == 0xc3 && l.throughput == 12.5);
  free(buf);
}

/* A stand-in for x86_canonicalize_block: one instruction "B<byte>" per byte;
 * byte 0xFF does not decode. */
static int fake_decode(const uint8_t *code, size_t len, uint64_t address, Gematria__BasicBlockProto *block,
                       size_t *bad_offset) {
  for (size_t i = 0; i < len; i++)
    if (code[i] == 0xff) {
      *bad_offset = i;
      return -1;
    }
  block->n_canonicalized_instructions = len;
  block->canonicalized_instructions = calloc(len, sizeof *block->canonicalized_instructions);
  for (size_t i = 0; i < len; i++) {
    Gematria__CanonicalizedInstructionProto *ins = malloc(sizeof *ins);
    gematria__canonicalized_instruction_proto__init(ins);
    ins->mnemonic = malloc(8);
    snprintf(ins->mnemonic, 8, "B%02X", code[i]);
    block->canonicalized_instructions[i] = ins;
  }
  (void)address;
  return (int)len;
}

static Gematria__BasicBlockWithThroughputProto *unpack_record(BhiveImport *imp, size_t i) {
  uint8_t *buf = NULL;
  size_t cap = 0;
  size_t n = bhive_import_pack_record(imp, i, &buf, &cap);
  Gematria__BasicBlockWithThroughputProto *r = n ? gematria__basic_block_with_throughput_proto__unpack(NULL, n, buf) : NULL;
  free(buf);
  return r;
}

static void test_merge(void) {
  BhiveImport imp;
  bhive_import_init(&imp, fake_decode);
  imp.scaling = 0.01;
  int hsw = bhive_import_source(&imp, "bhive: haswell");
  int skl = bhive_import_source(&imp, "bhive: skylake");
  CHECK(bhive_import_source(&imp, "bhive: haswell") == hsw);
  const char *a = "0102,100\n"
                  "garbage\n"
                  "03,200\n"
                  "ff01,50\n"
                  "0102,999\n";
  const char *b = "03,300\r\n"
                  "\r\n"
                  "0102,400\r\n"
                  "04,nan\r\n"
                  "05,10\r\n";
  bhive_import_text(&imp, "a.csv", a, strlen(a), hsw);
  bhive_import_text(&imp, "b.csv", b, strlen(b), skl);
  CHECK(imp.lines_read == 10);
  CHECK(imp.lines_accepted == 5);
  CHECK(imp.kind_count[BHIVE_TOO_FEW_COLUMNS] == 1);
  CHECK(imp.kind_count[BHIVE_UNDECODABLE] == 1);
  CHECK(imp.kind_count[BHIVE_DUPLICATE] == 1);
  CHECK(imp.kind_count[BHIVE_EMPTY_LINE] == 1);
  CHECK(imp.kind_count[BHIVE_NONFINITE_THROUGHPUT] == 1);
  CHECK(imp.examples[BHIVE_DUPLICATE][0] && !strncmp(imp.examples[BHIVE_DUPLICATE][0], "a.csv:5:", 8));
  CHECK(imp.examples[BHIVE_NONFINITE_THROUGHPUT][0] &&
        !strncmp(imp.examples[BHIVE_NONFINITE_THROUGHPUT][0], "b.csv:4:", 8));
  /* blocks 0102, 03, 05 in first-appearance order (ff01 never written) */
  CHECK(bhive_import_num_records(&imp) == 3);

  Gematria__BasicBlockWithThroughputProto *r = unpack_record(&imp, 0);
  CHECK(r != NULL);
  if (r) {
    CHECK(r->basic_block && r->basic_block->n_canonicalized_instructions == 2);
    CHECK(r->basic_block && !strcmp(r->basic_block->canonicalized_instructions[1]->mnemonic, "B02"));
    CHECK(r->n_inverse_throughputs == 2);
    if (r->n_inverse_throughputs == 2) {
      CHECK(!strcmp(r->inverse_throughputs[0]->source, "bhive: haswell"));
      CHECK(r->inverse_throughputs[0]->n_inverse_throughput_cycles == 1);
      CHECK_NEAR(r->inverse_throughputs[0]->inverse_throughput_cycles[0], 1.0, 1e-12, 0);
      CHECK(!strcmp(r->inverse_throughputs[1]->source, "bhive: skylake"));
      CHECK_NEAR(r->inverse_throughputs[1]->inverse_throughput_cycles[0], 4.0, 1e-12, 0);
    }
    block_record_free(r);
  }
  r = unpack_record(&imp, 1); /* 03: haswell 2.0 then skylake 3.0 */
  CHECK(r && r->n_inverse_throughputs == 2 && r->inverse_throughputs[1]->inverse_throughput_cycles[0] == 3.0);
  block_record_free(r);
  CHECK(unpack_record(&imp, 2) == NULL); /* ff01: undecodable */
  r = unpack_record(&imp, 3);            /* 05: only skylake */
  CHECK(r && r->n_inverse_throughputs == 1 && !strcmp(r->inverse_throughputs[0]->source, "bhive: skylake"));
  block_record_free(r);

  /* the written file reads back in the same order */
  char path[] = "/tmp/granite-test-bhive-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  CHECK(bhive_import_write(&imp, path) == 0);
  BlockReader rd;
  CHECK(block_reader_open(&rd, path) == 0);
  int n = 0;
  double first_values[3] = {0};
  while (block_reader_next(&rd, &r) == 1) {
    if (n < 3) first_values[n] = r->inverse_throughputs[0]->inverse_throughput_cycles[0];
    n++;
    block_record_free(r);
  }
  block_reader_close(&rd);
  remove(path);
  CHECK(n == 3);
  CHECK(first_values[0] == 1.0 && first_values[1] == 2.0 && first_values[2] == 0.1);

  char *name = bhive_default_source_name("/x/y/haswell.csv");
  CHECK(!strcmp(name, "bhive: haswell"));
  free(name);
  bhive_import_free(&imp);
}

/* With the real canonicalizer: machine code, addresses and canonical form
 * are stored (spec §1.4 step 5), for the block of spec §3.7. */
static void test_real_decoder(void) {
  BhiveImport imp;
  bhive_import_init(&imp, x86_canonicalize_block);
  imp.base_address = 0x1000;
  int src = bhive_import_source(&imp, "bhive: test");
  const char *csv = "4829d38b44246c8b54246848c1fb034829d04839c3,250\n0f0b0f,1\n";
  bhive_import_text(&imp, "t.csv", csv, strlen(csv), src);
  CHECK(imp.kind_count[BHIVE_UNDECODABLE] == 1);
  CHECK(bhive_import_num_records(&imp) == 1);
  Gematria__BasicBlockWithThroughputProto *r = unpack_record(&imp, 0);
  CHECK(r && r->basic_block);
  if (r && r->basic_block) {
    Gematria__BasicBlockProto *b = r->basic_block;
    CHECK(b->n_canonicalized_instructions == 6 && b->n_machine_instructions == 6);
    if (b->n_machine_instructions == 6) {
      CHECK(b->machine_instructions[0]->address == 0x1000);
      CHECK(b->machine_instructions[1]->address == 0x1003); /* after the 3-byte SUB */
      CHECK(b->machine_instructions[1]->machine_code.len == 4);
      CHECK(!strcmp(b->canonicalized_instructions[5]->mnemonic, "CMP"));
    }
    CHECK(r->n_inverse_throughputs == 1 && r->inverse_throughputs[0]->inverse_throughput_cycles[0] == 250.0);
  }
  block_record_free(r);
  bhive_import_free(&imp);
}

int main(void) {
  test_lines();
  test_merge();
  test_real_decoder();
  return test_summary("test_bhive_csv");
}
