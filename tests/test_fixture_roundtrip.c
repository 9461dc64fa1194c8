/* Records written by Google's protobuf library (Gematria's test fixture as
 * .tfrecord) read field by field equal to their JSON form, and survive a
 * write/read round trip through protobuf-c and our TFRecord framing. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/block_io.h"
#include "json_mini.c"
#include "testing.h"

/* String member ("" if absent, as proto3 defaults). */
static const char *json_string_or_empty(const JsonValue *obj, const char *key) {
  return json_get_string(obj, key, "");
}

static void check_operand(const Gematria__CanonicalizedOperandProto *op, const JsonValue *j, int rec) {
  const JsonValue *v;
  if ((v = json_get(j, "register_name"))) {
    CHECK_MSG(op->operand_case == GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_REGISTER_NAME &&
                  !strcmp(op->register_name, v->text),
              "record %d register %s", rec, v->text);
  } else if ((v = json_get(j, "immediate_value"))) {
    CHECK_MSG(op->operand_case == GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_IMMEDIATE_VALUE &&
                  op->immediate_value == json_uint(v),
              "record %d immediate", rec);
  } else if ((v = json_get(j, "fp_immediate_value"))) {
    CHECK_MSG(op->operand_case == GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_FP_IMMEDIATE_VALUE &&
                  op->fp_immediate_value == json_number(v),
              "record %d fp immediate", rec);
  } else if ((v = json_get(j, "address"))) {
    CHECK_MSG(op->operand_case == GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_ADDRESS, "record %d address", rec);
    if (op->operand_case != GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_ADDRESS) return;
    const Gematria__CanonicalizedOperandProto__AddressTuple *a = op->address;
    CHECK_MSG(!strcmp(a->base_register, json_string_or_empty(v, "base_register")), "record %d base", rec);
    CHECK_MSG(!strcmp(a->index_register, json_string_or_empty(v, "index_register")), "record %d index", rec);
    CHECK_MSG(!strcmp(a->segment, json_string_or_empty(v, "segment")), "record %d segment", rec);
    CHECK_MSG(a->displacement == json_int(json_get(v, "displacement")), "record %d displacement %" PRId64, rec,
              a->displacement);
    CHECK_MSG(a->scaling == (int32_t)json_number(json_get(v, "scaling")), "record %d scaling", rec);
  } else if ((v = json_get(j, "memory"))) {
    CHECK_MSG(op->operand_case == GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_MEMORY &&
                  op->memory->alias_group_id == (int32_t)json_number(json_get(v, "alias_group_id")),
              "record %d memory", rec);
  } else {
    CHECK_MSG(op->operand_case == GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND__NOT_SET, "record %d unset", rec);
  }
}

static void check_operands(size_t n, Gematria__CanonicalizedOperandProto **ops, const JsonValue *ins, const char *key,
                           int rec, long *num_operands) {
  CHECK_MSG(n == json_array_len(ins, key), "record %d: %s count %zu", rec, key, n);
  const JsonValue *list = json_get(ins, key);
  for (size_t i = 0; i < n && list && i < list->n; i++) check_operand(ops[i], &list->items[i], rec);
  *num_operands += n;
}

static void check_doubles(size_t n, const double *values, const JsonValue *list, int rec, const char *what) {
  size_t expected = list ? list->n : 0;
  CHECK_MSG(n == expected, "record %d: %s count %zu vs %zu", rec, what, n, expected);
  for (size_t i = 0; i < n && i < expected; i++)
    CHECK_MSG(values[i] == json_number(&list->items[i]), "record %d: %s[%zu] %.17g vs %.17g", rec, what, i, values[i],
              json_number(&list->items[i]));
}

typedef struct {
  long instructions, operands, sources, values, prefix_entries;
} Totals;

static void check_record(const Gematria__BasicBlockWithThroughputProto *r, const JsonValue *j, int rec, Totals *t) {
  const JsonValue *bb = json_get(j, "basic_block");
  CHECK_MSG(r->basic_block != NULL, "record %d has no basic_block", rec);
  if (!r->basic_block) return;
  const Gematria__BasicBlockProto *b = r->basic_block;
  CHECK(b->n_machine_instructions == json_array_len(bb, "machine_instructions"));
  CHECK(!strcmp(b->fingerprint, json_string_or_empty(bb, "fingerprint")));
  const JsonValue *ins_list = json_get(bb, "canonicalized_instructions");
  CHECK_MSG(b->n_canonicalized_instructions == (ins_list ? ins_list->n : 0u), "record %d instruction count",
            rec);
  for (size_t i = 0; i < b->n_canonicalized_instructions && ins_list && i < ins_list->n; i++) {
    const Gematria__CanonicalizedInstructionProto *ins = b->canonicalized_instructions[i];
    const JsonValue *ji = &ins_list->items[i];
    t->instructions++;
    CHECK_MSG(!strcmp(ins->mnemonic, json_string_or_empty(ji, "mnemonic")), "record %d mnemonic %s", rec,
              ins->mnemonic);
    CHECK(!strcmp(ins->llvm_mnemonic, json_string_or_empty(ji, "llvm_mnemonic")));
    const JsonValue *prefixes = json_get(ji, "prefixes");
    CHECK(ins->n_prefixes == (prefixes ? prefixes->n : 0));
    for (size_t p = 0; p < ins->n_prefixes && prefixes && p < prefixes->n; p++)
      CHECK(!strcmp(ins->prefixes[p], prefixes->items[p].text));
    check_operands(ins->n_output_operands, ins->output_operands, ji, "output_operands", rec, &t->operands);
    check_operands(ins->n_input_operands, ins->input_operands, ji, "input_operands", rec, &t->operands);
    check_operands(ins->n_implicit_output_operands, ins->implicit_output_operands, ji, "implicit_output_operands",
                   rec, &t->operands);
    check_operands(ins->n_implicit_input_operands, ins->implicit_input_operands, ji, "implicit_input_operands", rec,
                   &t->operands);
    CHECK(ins->n_instruction_annotations == json_array_len(ji, "instruction_annotations"));
  }
  const JsonValue *tps = json_get(j, "inverse_throughputs");
  CHECK_MSG(r->n_inverse_throughputs == (tps ? tps->n : 0), "record %d source count", rec);
  for (size_t s = 0; s < r->n_inverse_throughputs && tps && s < tps->n; s++) {
    const Gematria__ThroughputWithSourceProto *tp = r->inverse_throughputs[s];
    const JsonValue *jt = &tps->items[s];
    t->sources++;
    CHECK_MSG(!strcmp(tp->source, json_string_or_empty(jt, "source")), "record %d source %s", rec, tp->source);
    check_doubles(tp->n_inverse_throughput_cycles, tp->inverse_throughput_cycles,
                  json_get(jt, "inverse_throughput_cycles"), rec, "inverse_throughput_cycles");
    t->values += tp->n_inverse_throughput_cycles;
    const JsonValue *prefixes = json_get(jt, "prefix_inverse_throughputs");
    CHECK(tp->n_prefix_inverse_throughputs == (prefixes ? prefixes->n : 0));
    for (size_t p = 0; p < tp->n_prefix_inverse_throughputs && prefixes && p < prefixes->n; p++) {
      check_doubles(tp->prefix_inverse_throughputs[p]->n_inverse_throughput_cycles,
                    tp->prefix_inverse_throughputs[p]->inverse_throughput_cycles,
                    json_get(&prefixes->items[p], "inverse_throughput_cycles"), rec, "prefix throughput");
      t->prefix_entries++;
    }
  }
}

static uint8_t *pack(const Gematria__BasicBlockWithThroughputProto *r, size_t *len) {
  *len = gematria__basic_block_with_throughput_proto__get_packed_size(r);
  uint8_t *buf = malloc(*len + 1);
  gematria__basic_block_with_throughput_proto__pack(r, buf);
  return buf;
}

int main(void) {
  const char *dir = shared_data_dir();
  if (!dir) {
    test_skip("../shared/data not found: the Gematria fixtures");
    return test_summary("test_fixture_roundtrip");
  }
  char path[1024], json_path[1024];
  snprintf(path, sizeof path, "%s/gematria-fixtures/basic_blocks_with_throughput.tfrecord", dir);
  snprintf(json_path, sizeof json_path, "%s/gematria-fixtures/basic_blocks_with_throughput.jsonl", dir);
  size_t json_len;
  char *json_text = read_file_text(json_path, &json_len);
  CHECK(json_text != NULL);
  if (!json_text) return test_summary("test_fixture_roundtrip");

  char tmp_path[] = "/tmp/granite-fixture-XXXXXX";
  int fd = mkstemp(tmp_path);
  CHECK(fd >= 0);
  close(fd);
  TFRecordWriter w;
  CHECK(tfrecord_writer_open(&w, tmp_path) == 0);

  BlockReader r;
  CHECK(block_reader_open(&r, path) == 0);
  Totals t = {0};
  int rec = 0;
  char *line = json_text;
  Gematria__BasicBlockWithThroughputProto *msg;
  uint8_t **packed = NULL;
  size_t *packed_len = NULL;
  while (block_reader_next(&r, &msg) == 1) {
    char *nl = strchr(line, '\n');
    CHECK_MSG(nl != NULL, "jsonl has fewer lines than records (%d)", rec);
    if (!nl) break;
    *nl = 0;
    JsonValue j;
    CHECK_MSG(json_parse(line, strlen(line), &j, NULL) == 0, "jsonl line %d does not parse", rec + 1);
    check_record(msg, &j, rec, &t);
    json_free(&j);
    line = nl + 1;

    size_t len;
    uint8_t *bytes = pack(msg, &len);
    CHECK(block_write(&w, msg) == 0);
    packed = realloc(packed, (rec + 1) * sizeof *packed);
    packed_len = realloc(packed_len, (rec + 1) * sizeof *packed_len);
    packed[rec] = bytes;
    packed_len[rec] = len;
    block_record_free(msg);
    rec++;
  }
  block_reader_close(&r);
  CHECK(tfrecord_writer_commit(&w) == 0);
  CHECK(rec == 35);
  CHECK(*line == 0); /* no JSON lines left over */
  /* facts from the fixture's README and spec §9 */
  CHECK(t.instructions == 120);
  CHECK(t.sources == 35 + 10 + 4);

  /* read back what we wrote: the same messages (same serialized bytes) */
  int back = 0;
  CHECK(block_reader_open(&r, tmp_path) == 0);
  while (block_reader_next(&r, &msg) == 1) {
    size_t len;
    uint8_t *bytes = pack(msg, &len);
    CHECK_MSG(back < rec && len == packed_len[back] && !memcmp(bytes, packed[back], len), "record %d differs", back);
    free(bytes);
    block_record_free(msg);
    back++;
  }
  block_reader_close(&r);
  CHECK(back == rec);
  remove(tmp_path);
  /* protobuf-c serializes these messages to exactly the bytes Google's
   * library wrote (both write fields in number order, doubles packed) */
  TFRecordReader raw;
  CHECK(tfrecord_open(&raw, path) == 0);
  const uint8_t *data;
  size_t len;
  int same = 0, i = 0;
  while (tfrecord_next(&raw, &data, &len) == 1 && i < rec) {
    same += len == packed_len[i] && !memcmp(data, packed[i], len);
    i++;
  }
  tfrecord_close(&raw);
  CHECK_MSG(same == rec, "%d of %d records re-serialize byte-identically", same, rec);
  for (int i = 0; i < rec; i++) free(packed[i]);
  free(packed);
  free(packed_len);
  free(json_text);
  fprintf(stderr, "fixture: %d records, %ld instructions, %ld operands, %ld sources, %ld values, %ld prefix entries\n",
          rec, t.instructions, t.operands, t.sources, t.values, t.prefix_entries);
  return test_summary("test_fixture_roundtrip");
}
