/* The in-memory input pipeline (spec §5.1/§5.2) and the samplers (§5.6):
 * source filters with re.match semantics, dropping, aggregation, scaling,
 * seq2seq deltas, invalid and corrupt records, predict mode, the hash split,
 * and the batch limits of every sampler. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/dataset.h"
#include "io/tfrecord.h"
#include "testing.h"
#include "util/common.h"

typedef Gematria__ThroughputWithSourceProto Throughput;

/* ---- writing small test records ---- */

typedef struct {
  const char *source;
  int n;
  double v[4];
  int num_prefixes; /* -1 = none */
  double prefix[8];
} Src;

/* A block of `instructions` instructions "ADD RAX, <imm tag>" (tag makes
 * the content, hence the hash, distinct), with the given sources. */
static int write_record(TFRecordWriter *w, int instructions, uint64_t tag, const Src *srcs, int nsrc) {
  Gematria__CanonicalizedOperandProto out = GEMATRIA__CANONICALIZED_OPERAND_PROTO__INIT, in[2] = {
      GEMATRIA__CANONICALIZED_OPERAND_PROTO__INIT, GEMATRIA__CANONICALIZED_OPERAND_PROTO__INIT};
  out.operand_case = in[0].operand_case = GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_REGISTER_NAME;
  out.register_name = in[0].register_name = "RAX";
  in[1].operand_case = GEMATRIA__CANONICALIZED_OPERAND_PROTO__OPERAND_IMMEDIATE_VALUE;
  in[1].immediate_value = tag;
  Gematria__CanonicalizedOperandProto *outs[1] = {&out}, *ins[2] = {&in[0], &in[1]};
  Gematria__CanonicalizedInstructionProto ci = GEMATRIA__CANONICALIZED_INSTRUCTION_PROTO__INIT;
  ci.mnemonic = "ADD";
  ci.n_output_operands = 1;
  ci.output_operands = outs;
  ci.n_input_operands = 2;
  ci.input_operands = ins;
  Gematria__CanonicalizedInstructionProto *list[64];
  for (int i = 0; i < instructions; i++) list[i] = &ci;
  Gematria__BasicBlockProto bb = GEMATRIA__BASIC_BLOCK_PROTO__INIT;
  bb.n_canonicalized_instructions = (size_t)instructions;
  bb.canonicalized_instructions = list;

  Throughput th[8];
  Throughput *thp[8];
  Gematria__ThroughputWithSourceProto__PrefixThroughputProto pp[8][8], *ppp[8][8];
  for (int s = 0; s < nsrc; s++) {
    gematria__throughput_with_source_proto__init(&th[s]);
    th[s].source = (char *)srcs[s].source;
    th[s].n_inverse_throughput_cycles = (size_t)srcs[s].n;
    th[s].inverse_throughput_cycles = (double *)srcs[s].v;
    for (int j = 0; j < srcs[s].num_prefixes; j++) {
      gematria__throughput_with_source_proto__prefix_throughput_proto__init(&pp[s][j]);
      pp[s][j].n_inverse_throughput_cycles = 1;
      pp[s][j].inverse_throughput_cycles = (double *)&srcs[s].prefix[j];
      ppp[s][j] = &pp[s][j];
    }
    if (srcs[s].num_prefixes > 0) {
      th[s].n_prefix_inverse_throughputs = (size_t)srcs[s].num_prefixes;
      th[s].prefix_inverse_throughputs = ppp[s];
    }
    thp[s] = &th[s];
  }
  Gematria__BasicBlockWithThroughputProto rec = GEMATRIA__BASIC_BLOCK_WITH_THROUGHPUT_PROTO__INIT;
  rec.basic_block = &bb;
  rec.n_inverse_throughputs = (size_t)nsrc;
  rec.inverse_throughputs = thp;
  size_t len = gematria__basic_block_with_throughput_proto__get_packed_size(&rec);
  uint8_t *buf = malloc(len + 1);
  gematria__basic_block_with_throughput_proto__pack(&rec, buf);
  int rc = tfrecord_write(w, buf, len);
  free(buf);
  return rc;
}

static char tmpdir[256];

static const char *tmp_path(const char *name) {
  static char path[8][512];
  static int slot;
  slot = (slot + 1) % 8;
  snprintf(path[slot], sizeof path[slot], "%s/%s", tmpdir, name);
  return path[slot];
}

static Vocab vocab;
static GraphOptions gopts;

static void setup(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/granite_test_dataset_%ld", (long)getpid());
  char cmd[300];
  snprintf(cmd, sizeof cmd, "mkdir -p %s", tmpdir);
  CHECK(system(cmd) == 0);
  vocab_from_list(&vocab, (const char *const[]){"ADD", "RAX"}, 2);
  CHECK(graph_options_init(&gopts, &vocab, "_UNKNOWN_") == 0);
}

static void teardown(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  CHECK(system(cmd) == 0);
  vocab_free(&vocab);
}

/* Records used by the filter/aggregation tests. */
static const char *write_label_file(void) {
  const char *path = tmp_path("labels.tfrecord");
  TFRecordWriter w;
  CHECK(tfrecord_writer_open(&w, path) == 0);
  /* r0 */ CHECK(write_record(&w, 1, 0, (Src[]){{"bhive: skl", 2, {2, 4}, 0, {0}}, {"bhive: hsw", 1, {10}, 0, {0}}}, 2) == 0);
  /* r1 */ CHECK(write_record(&w, 1, 1, (Src[]){{"bhive: hsw", 1, {6}, 0, {0}}}, 1) == 0);
  /* r2: no throughputs at all -> dropped */
  CHECK(write_record(&w, 1, 2, NULL, 0) == 0);
  /* r3 */ CHECK(write_record(&w, 1, 3, (Src[]){{"bhive: skylake", 3, {1, 3, 8}, 0, {0}}}, 1) == 0);
  /* r4: two sources match the first filter: the first wins */
  CHECK(write_record(&w, 1, 4, (Src[]){{"bhive: skl", 1, {5}, 0, {0}}, {"bhive: skl", 1, {7}, 0, {0}}}, 2) == 0);
  CHECK(tfrecord_writer_commit(&w) == 0);
  return path;
}

static int load(Dataset *ds, const char *path, const char *const *filters, int nf, ThroughputSelection sel,
                double scaling) {
  DatasetOptions o;
  dataset_options_init(&o, &gopts);
  o.source_filters = filters;
  o.num_filters = nf;
  o.selection = sel;
  o.scaling = scaling;
  return dataset_load(ds, &path, 1, &o);
}

static void labels_of(const Dataset *ds, int i, float *l, uint8_t *m) {
  dataset_block_labels(ds, i, NULL, l, m, NULL, NULL);
}

static void test_filters_and_aggregation(void) {
  const char *path = write_label_file();
  const char *const filters[] = {"bhive: s", "bhive: hsw"};
  Dataset ds;
  float l[2];
  uint8_t m[2];
  CHECK(load(&ds, path, filters, 2, THROUGHPUT_MEAN, 1.0) == 0);
  CHECK(ds.num_records == 5 && ds.num_blocks == 4 && ds.num_tasks == 2);
  CHECK(ds.num_dropped_no_label == 1);
  CHECK(ds.record_index[2] == 3 && ds.record_index[3] == 4);
  labels_of(&ds, 0, l, m); /* "bhive: s" matches "bhive: skl" (prefix match) */
  CHECK(m[0] && l[0] == 3.0f && m[1] && l[1] == 10.0f);
  labels_of(&ds, 1, l, m); /* missing task -> -1, masked */
  CHECK(!m[0] && l[0] == -1.0f && m[1] && l[1] == 6.0f);
  labels_of(&ds, 2, l, m);
  CHECK(m[0] && l[0] == 4.0f && !m[1]);
  labels_of(&ds, 3, l, m); /* first matching source wins */
  CHECK(m[0] && l[0] == 5.0f && !m[1]);
  dataset_free(&ds);

  CHECK(load(&ds, path, filters, 2, THROUGHPUT_MIN, 1.0) == 0);
  labels_of(&ds, 0, l, m);
  CHECK(l[0] == 2.0f);
  labels_of(&ds, 2, l, m);
  CHECK(l[0] == 1.0f);
  dataset_free(&ds);
  CHECK(load(&ds, path, filters, 2, THROUGHPUT_FIRST, 0.5) == 0); /* scaling applies after */
  labels_of(&ds, 0, l, m);
  CHECK(l[0] == 1.0f && l[1] == 5.0f);
  labels_of(&ds, 2, l, m);
  CHECK(l[0] == 0.5f);
  dataset_free(&ds);
  CHECK(load(&ds, path, filters, 2, THROUGHPUT_MEAN, 2.0) == 0);
  labels_of(&ds, 0, l, m);
  CHECK(l[0] == 6.0f && l[1] == 20.0f);
  dataset_free(&ds);

  /* RANDOM keeps all values; the label is drawn per call, seeded */
  CHECK(load(&ds, path, filters, 2, THROUGHPUT_RANDOM, 1.0) == 0);
  CHECK(ds.value_offset[2 * 2 + 1] - ds.value_offset[2 * 2] == 3);
  Rng r1, r2;
  rng_seed(&r1, 5);
  rng_seed(&r2, 5);
  int seen[9] = {0}, same = 1;
  for (int k = 0; k < 200; k++) {
    float a[2], b[2];
    dataset_block_labels(&ds, 2, &r1, a, m, NULL, NULL);
    dataset_block_labels(&ds, 2, &r2, b, m, NULL, NULL);
    same &= a[0] == b[0];
    if (a[0] == 1 || a[0] == 3 || a[0] == 8) seen[(int)a[0]]++;
    else seen[0]++;
  }
  CHECK(same && seen[0] == 0 && seen[1] > 20 && seen[3] > 20 && seen[8] > 20);
  dataset_free(&ds);

  /* re.match is anchored at the start: "skl" matches nothing -> all dropped */
  const char *const unanchored[] = {"skl"};
  CHECK(load(&ds, path, unanchored, 1, THROUGHPUT_MEAN, 1.0) == 0);
  CHECK(ds.num_blocks == 0 && ds.num_dropped_no_label == 5);
  dataset_free(&ds);
  /* alternation inside the anchor; default filter ".*" takes the first source */
  const char *const alt[] = {"bhive: (hsw|skylake)"};
  CHECK(load(&ds, path, alt, 1, THROUGHPUT_MEAN, 1.0) == 0);
  CHECK(ds.num_blocks == 3);
  labels_of(&ds, 0, l, m);
  CHECK(l[0] == 10.0f);
  labels_of(&ds, 2, l, m);
  CHECK(l[0] == 4.0f);
  dataset_free(&ds);
  CHECK(load(&ds, path, NULL, 0, THROUGHPUT_MEAN, 1.0) == 0);
  CHECK(ds.num_tasks == 1 && ds.num_blocks == 4);
  labels_of(&ds, 0, l, m);
  CHECK(l[0] == 3.0f);
  dataset_free(&ds);
  const char *const bad[] = {"bhive: (skl"};
  fprintf(stderr, "(expected error line follows)\n");
  CHECK(load(&ds, path, bad, 1, THROUGHPUT_MEAN, 1.0) == -1);
  CHECK(ds.num_blocks == 0 && ds.node_tokens == NULL);
}

static void test_seq2seq_and_invalid(void) {
  const char *path = tmp_path("seq.tfrecord");
  TFRecordWriter w;
  CHECK(tfrecord_writer_open(&w, path) == 0);
  /* r0: 2 instructions, prefixes 2, 5 -> deltas 2, 3 */
  CHECK(write_record(&w, 2, 0, (Src[]){{"a", 1, {5}, 2, {2, 5}}}, 1) == 0);
  /* r1: only prefix values, no block value */
  CHECK(write_record(&w, 3, 1, (Src[]){{"a", 0, {0}, 3, {1, 2, 4}}}, 1) == 0);
  CHECK(tfrecord_writer_commit(&w) == 0);

  DatasetOptions o;
  dataset_options_init(&o, &gopts);
  o.seq2seq_deltas = true;
  Dataset ds;
  CHECK(dataset_load(&ds, &path, 1, &o) == 0);
  CHECK(ds.num_blocks == 2 && ds.has_deltas); /* spec §8.24: prefixes keep r1 */
  float l[1], d[3];
  uint8_t m[1], dm[3];
  dataset_block_labels(&ds, 0, NULL, l, m, d, dm);
  CHECK(l[0] == 5.0f && m[0] && d[0] == 2.0f && d[1] == 3.0f && dm[0] && dm[1]);
  /* r1 has no block label: task absent => -1 then differenced, masked */
  dataset_block_labels(&ds, 1, NULL, l, m, d, dm);
  CHECK(!m[0] && d[0] == -1.0f && d[1] == 0.0f && d[2] == 0.0f && !dm[0] && !dm[2]);
  Batch b;
  batch_init(&b, 1);
  int32_t ids[2] = {1, 0};
  dataset_fill_batch(&ds, ids, 2, &b, NULL);
  CHECK(b.num_blocks == 2 && b.num_instructions == 5 && b.delta_labels != NULL);
  if (b.delta_labels) CHECK(b.delta_labels[3] == 2.0f && b.delta_labels[4] == 3.0f && b.delta_mask[4] == 1);
  CHECK(b.labels[1] == 5.0f && b.label_mask[1] == 1 && b.label_mask[0] == 0);
  CHECK(b.instruction_block[4] == 1 && b.node_offset[1] == 4 + 3 + 3);
  batch_free(&b);
  dataset_free(&ds);

  o.use_seq2seq_loss = false; /* now r1 has no throughput */
  o.seq2seq_deltas = false;
  CHECK(dataset_load(&ds, &path, 1, &o) == 0);
  CHECK(ds.num_blocks == 1 && ds.num_dropped_no_label == 1 && !ds.has_deltas);
  dataset_free(&ds);

  /* wrong prefix count under seq2seq is an error naming file and record */
  path = tmp_path("badprefix.tfrecord");
  CHECK(tfrecord_writer_open(&w, path) == 0);
  CHECK(write_record(&w, 1, 0, (Src[]){{"a", 1, {1}, 1, {1}}}, 1) == 0);
  CHECK(write_record(&w, 2, 1, (Src[]){{"a", 1, {1}, -1, {0}}}, 1) == 0);
  CHECK(tfrecord_writer_commit(&w) == 0);
  o.use_seq2seq_loss = true;
  o.seq2seq_deltas = true;
  fprintf(stderr, "(expected error line about record 1 follows)\n");
  CHECK(dataset_load(&ds, &path, 1, &o) == -1);
  o.seq2seq_deltas = false;
  CHECK(dataset_load(&ds, &path, 1, &o) == 0 && ds.num_blocks == 2);
  dataset_free(&ds);

  /* an empty block: error without drop_invalid, counted with it */
  path = tmp_path("invalid.tfrecord");
  CHECK(tfrecord_writer_open(&w, path) == 0);
  CHECK(write_record(&w, 1, 0, (Src[]){{"a", 1, {1}, 0, {0}}}, 1) == 0);
  CHECK(write_record(&w, 0, 0, (Src[]){{"a", 1, {1}, 0, {0}}}, 1) == 0);
  CHECK(write_record(&w, 1, 1, (Src[]){{"a", 1, {2}, 0, {0}}}, 1) == 0);
  CHECK(tfrecord_writer_commit(&w) == 0);
  dataset_options_init(&o, &gopts);
  fprintf(stderr, "(expected error line about record 1 follows)\n");
  CHECK(dataset_load(&ds, &path, 1, &o) == -1);
  o.drop_invalid = true;
  fprintf(stderr, "(expected warning follows)\n");
  CHECK(dataset_load(&ds, &path, 1, &o) == 0);
  CHECK(ds.num_blocks == 2 && ds.num_dropped_invalid == 1 && ds.record_index[1] == 2);
  dataset_free(&ds);

  /* predict: every record kept, raw bytes exact, the invalid block marked */
  o.mode = DATASET_PREDICT;
  o.drop_invalid = false;
  o.num_tasks = 2;
  CHECK(dataset_load(&ds, &path, 1, &o) == 0);
  CHECK(ds.num_blocks == 3 && ds.num_tasks == 2 && ds.valid[0] && !ds.valid[1] && ds.valid[2]);
  TFRecordReader r;
  CHECK(tfrecord_open(&r, path) == 0);
  const uint8_t *data;
  size_t len;
  for (int i = 0; tfrecord_next(&r, &data, &len) == 1; i++) {
    size_t raw_len;
    const uint8_t *raw = dataset_raw_record(&ds, i, &raw_len);
    CHECK(raw_len == len && memcmp(raw, data, len) == 0);
  }
  tfrecord_close(&r);
  /* appending a prediction keeps the original entries and adds one last */
  size_t raw_len;
  const uint8_t *raw = dataset_raw_record(&ds, 2, &raw_len);
  Throughput pred = GEMATRIA__THROUGHPUT_WITH_SOURCE_PROTO__INIT;
  double value = 42.5;
  pred.source = "granite, task=default";
  pred.n_inverse_throughput_cycles = 1;
  pred.inverse_throughput_cycles = &value;
  const Throughput *entries[1] = {&pred};
  uint8_t *out = NULL;
  size_t cap = 0;
  size_t out_len = record_append_throughputs(&out, &cap, raw, raw_len, entries, 1);
  Gematria__BasicBlockWithThroughputProto *rec =
      gematria__basic_block_with_throughput_proto__unpack(NULL, out_len, out);
  CHECK(rec && rec->n_inverse_throughputs == 2);
  if (rec && rec->n_inverse_throughputs == 2) {
    CHECK(strcmp(rec->inverse_throughputs[0]->source, "a") == 0);
    CHECK(rec->inverse_throughputs[0]->inverse_throughput_cycles[0] == 2.0);
    CHECK(strcmp(rec->inverse_throughputs[1]->source, "granite, task=default") == 0);
    CHECK(rec->inverse_throughputs[1]->inverse_throughput_cycles[0] == 42.5);
    CHECK(rec->basic_block->n_canonicalized_instructions == 1);
  }
  gematria__basic_block_with_throughput_proto__free_unpacked(rec, NULL);
  free(out);
  /* the sampler never hands out the invalid block */
  Sampler s;
  sampler_init(&s, &ds, NULL, 0, SAMPLER_ONCE, 10, 0, 1);
  int32_t ids3[3];
  CHECK(sampler_next(&s, ids3) == 2 && ids3[0] == 0 && ids3[1] == 2);
  CHECK(sampler_next(&s, ids3) == 0);
  sampler_free(&s);
  dataset_free(&ds);
}

static void test_corrupt_records(void) {
  const char *path = tmp_path("corrupt.tfrecord");
  TFRecordWriter w;
  CHECK(tfrecord_writer_open(&w, path) == 0);
  CHECK(write_record(&w, 1, 0, (Src[]){{"a", 1, {1}, 0, {0}}}, 1) == 0);
  CHECK(write_record(&w, 1, 1, (Src[]){{"a", 1, {1}, 0, {0}}}, 1) == 0);
  CHECK(tfrecord_writer_commit(&w) == 0);
  size_t len;
  char *bytes = read_file_text(path, &len);
  CHECK(bytes != NULL);
  bytes[len - 6] ^= 0x40; /* a payload byte of record 1 */
  FILE *f = fopen(path, "wb");
  fwrite(bytes, 1, len, f);
  fclose(f);
  free(bytes);
  DatasetOptions o;
  dataset_options_init(&o, &gopts);
  Dataset ds;
  fprintf(stderr, "(expected CRC error line follows)\n");
  CHECK(dataset_load(&ds, &path, 1, &o) == -1);
  CHECK(ds.num_blocks == 0);

  /* a record with a good CRC that is not a protobuf */
  path = tmp_path("notproto.tfrecord");
  CHECK(tfrecord_writer_open(&w, path) == 0);
  const uint8_t junk[] = {0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01};
  CHECK(tfrecord_write(&w, junk, sizeof junk) == 0);
  CHECK(tfrecord_writer_commit(&w) == 0);
  fprintf(stderr, "(expected 'not a valid' error line follows)\n");
  CHECK(dataset_load(&ds, &path, 1, &o) == -1);
  const char *missing = tmp_path("missing.tfrecord");
  fprintf(stderr, "(expected open error line follows)\n");
  CHECK(dataset_load(&ds, &missing, 1, &o) == -1);
}

/* 60 blocks of 1..7 instructions plus 2 of 20 (over a cap of 10). */
static const char *write_sampler_file(void) {
  const char *path = tmp_path("sampler.tfrecord");
  TFRecordWriter w;
  CHECK(tfrecord_writer_open(&w, path) == 0);
  for (int i = 0; i < 62; i++) {
    int I = i == 10 || i == 41 ? 20 : 1 + i % 7;
    CHECK(write_record(&w, I, (uint64_t)i, (Src[]){{"a", 1, {(double)i}, 0, {0}}}, 1) == 0);
  }
  CHECK(tfrecord_writer_commit(&w) == 0);
  return path;
}

static void test_samplers(void) {
  const char *path = write_sampler_file();
  Dataset ds;
  CHECK(load(&ds, path, NULL, 0, THROUGHPUT_MEAN, 1.0) == 0);
  CHECK(ds.num_blocks == 62);
  CHECK(dataset_memory_bytes(&ds) > 0);

  Sampler a, b;
  sampler_init(&a, &ds, NULL, 0, SAMPLER_RANDOM, 4, 10, 123);
  sampler_init(&b, &ds, NULL, 0, SAMPLER_RANDOM, 4, 10, 123);
  CHECK(sampler_max_batch(&a) == 4);
  int32_t x[64], y[64];
  int ok_limits = 1, same = 1, dup = 0, nonempty = 1, used[62] = {0};
  for (int step = 0; step < 300; step++) {
    int n = sampler_next(&a, x), m = sampler_next(&b, y);
    same &= n == m && memcmp(x, y, (size_t)n * sizeof *x) == 0;
    nonempty &= n > 0;
    int total = 0;
    for (int k = 0; k < n; k++) {
      total += ds.num_instructions[x[k]];
      used[x[k]]++;
      for (int j = 0; j < k; j++) dup += x[j] == x[k];
    }
    ok_limits &= n <= 4 && total <= 10;
  }
  CHECK(ok_limits && same && dup == 0 && nonempty);
  CHECK(used[10] == 0 && used[41] == 0);
  int covered = 0;
  for (int i = 0; i < 62; i++) covered += used[i] > 0;
  CHECK(covered == 60);
  sampler_free(&b);
  sampler_init(&b, &ds, NULL, 0, SAMPLER_RANDOM, 4, 10, 124);
  int differ = 0;
  for (int step = 0; step < 20; step++) {
    int n = sampler_next(&a, x), m = sampler_next(&b, y);
    differ |= n != m || memcmp(x, y, (size_t)n * sizeof *x) != 0;
  }
  CHECK(differ);
  sampler_free(&a);
  sampler_free(&b);

  /* no block cap (spec §8.20) and no instruction cap: a permutation of all */
  sampler_init(&a, &ds, NULL, 0, SAMPLER_RANDOM, 0, 0, 9);
  CHECK(sampler_max_batch(&a) == 62);
  int n = sampler_next(&a, x);
  CHECK(n == 62);
  long sum = 0;
  for (int k = 0; k < n; k++) sum += x[k];
  CHECK(sum == 61 * 62 / 2);
  sampler_free(&a);

  /* ONCE: file order, cut by the limits, oversize blocks skipped, then 0 */
  sampler_init(&a, &ds, NULL, 0, SAMPLER_ONCE, 3, 10, 0);
  int next_expected = 0, order_ok = 1, batches = 0;
  for (;;) {
    n = sampler_next(&a, x);
    if (n == 0) break;
    batches++;
    int total = 0;
    for (int k = 0; k < n; k++) {
      if (next_expected == 10 || next_expected == 41) next_expected++;
      order_ok &= x[k] == next_expected++;
      total += ds.num_instructions[x[k]];
    }
    order_ok &= n <= 3 && total <= 10;
    /* the batch was closed for a reason: full, or the next block would not fit */
    if (n < 3 && next_expected < 62) {
      int nb = next_expected == 10 || next_expected == 41 ? next_expected + 1 : next_expected;
      if (nb < 62) order_ok &= total + ds.num_instructions[nb] > 10;
    }
  }
  CHECK(order_ok && next_expected == 62 && a.num_skipped == 2 && batches > 20);
  CHECK(sampler_next(&a, x) == 0);
  sampler_free(&a);

  /* SEQUENTIAL wraps around forever */
  sampler_init(&a, &ds, NULL, 0, SAMPLER_SEQUENTIAL, 5, 0, 0);
  int seen_wrap = 0, last = -1, ok = 1;
  for (int step = 0; step < 30; step++) {
    n = sampler_next(&a, x);
    ok &= n >= 1 && n <= 5;
    for (int k = 0; k < n; k++) {
      if (x[k] < last) seen_wrap = 1;
      last = x[k];
    }
  }
  CHECK(ok && seen_wrap);
  sampler_free(&a);

  /* every block alone over the cap: nothing, no hang */
  sampler_init(&a, &ds, NULL, 0, SAMPLER_SEQUENTIAL, 5, 0, 0);
  a.max_instructions = 0;
  sampler_free(&a);
  int32_t big[2] = {10, 41};
  sampler_init(&a, &ds, big, 2, SAMPLER_SEQUENTIAL, 5, 10, 0);
  CHECK(sampler_next(&a, x) == 0);
  sampler_free(&a);
  sampler_init(&a, &ds, big, 2, SAMPLER_RANDOM, 5, 10, 0);
  CHECK(sampler_next(&a, x) == 0);
  sampler_free(&a);

  /* the hash split: a partition, stable, about the asked fraction */
  int32_t *tr, *va;
  int nt, nv;
  dataset_split_by_hash(&ds, 0.25, &tr, &nt, &va, &nv);
  CHECK(nt + nv == 62 && nv > 5 && nv < 30);
  int32_t *tr2, *va2;
  int nt2, nv2;
  dataset_split_by_hash(&ds, 0.25, &tr2, &nt2, &va2, &nv2);
  CHECK(nt2 == nt && memcmp(tr, tr2, (size_t)nt * sizeof *tr) == 0);
  free(tr2);
  free(va2);
  /* a sampler over the train half never yields a validation block */
  sampler_init(&a, &ds, tr, nt, SAMPLER_RANDOM, 8, 0, 3);
  int leak = 0;
  for (int step = 0; step < 50; step++) {
    n = sampler_next(&a, x);
    for (int k = 0; k < n; k++)
      for (int j = 0; j < nv; j++) leak += x[k] == va[j];
  }
  CHECK(leak == 0);
  sampler_free(&a);
  free(tr);
  free(va);
  /* identical content gives identical hashes, different content different */
  CHECK(ds.hash[0] != ds.hash[7]);
  dataset_free(&ds);
  const char *paths2[2] = {path, path};
  DatasetOptions o;
  dataset_options_init(&o, &gopts);
  CHECK(dataset_load(&ds, paths2, 2, &o) == 0);
  CHECK(ds.num_blocks == 124 && ds.hash[3] == ds.hash[62 + 3] && ds.file_index[62 + 3] == 1);
  /* batch from the dataset equals labels and graph sizes */
  Batch bt;
  batch_init(&bt, 1);
  int32_t ids[3] = {5, 0, 64};
  dataset_fill_batch(&ds, ids, 3, &bt, NULL);
  CHECK(bt.num_blocks == 3 && bt.labels[0] == 5.0f && bt.labels[1] == 0.0f && bt.labels[2] == 2.0f);
  CHECK(bt.num_instructions == 6 + 1 + 3 && bt.delta_labels == NULL);
  batch_free(&bt);
  dataset_free(&ds);
}

/* The Gematria fixture: 35 blocks, and with FIRST selection the labels of
 * reference-model/fixture.jsonl (task 0 llvm_sim, task 1 made-up values). */
static void test_fixture(void) {
  const char *dir = shared_data_dir();
  if (!dir) {
    test_skip("../shared/data not found: the Gematria fixture test");
    return;
  }
  char path[512], tokens[512];
  snprintf(path, sizeof path, "%s/gematria-fixtures/basic_blocks_with_throughput.tfrecord", dir);
  snprintf(tokens, sizeof tokens, "%s/reference-model/tokens.txt", dir);
  Vocab v;
  CHECK(vocab_load(&v, tokens) == 0);
  GraphOptions g;
  CHECK(graph_options_init(&g, &v, "_UNKNOWN_") == 0);
  DatasetOptions o;
  dataset_options_init(&o, &g);
  const char *const filters[] = {"llvm_sim", "test: made up"};
  o.source_filters = filters;
  o.num_filters = 2;
  o.selection = THROUGHPUT_FIRST;
  Dataset ds;
  const char *p = path;
  CHECK(dataset_load(&ds, &p, 1, &o) == 0);
  CHECK(ds.num_blocks == 35 && ds.total_instructions == 120);
  CHECK(ds.node_offset[35] == 482 && ds.edge_offset[35] == 546);
  static const float want[8][2] = {{1, 5}, {2, -1}, {1, 5}};
  float l[2];
  uint8_t m[2];
  for (int i = 0; i < 3; i++) {
    labels_of(&ds, i, l, m);
    CHECK(l[0] == want[i][0] && l[1] == want[i][1] && m[1] == (want[i][1] >= 0));
  }
  dataset_free(&ds);
  /* seq2seq deltas: the llvm_sim source has one prefix entry per
   * instruction; the made-up source of record 2 has none (spec §5.2 error) */
  o.seq2seq_deltas = true;
  fprintf(stderr, "(expected error line about record 2 follows)\n");
  CHECK(dataset_load(&ds, &p, 1, &o) == -1);
  o.num_filters = 1;
  CHECK(dataset_load(&ds, &p, 1, &o) == 0 && ds.num_blocks == 35 && ds.has_deltas);
  float d[16];
  uint8_t dm[16];
  int ok = 1;
  for (int i = 0; i < 35; i++) {
    dataset_block_labels(&ds, i, NULL, l, m, d, dm);
    double sum = 0;
    for (int j = 0; j < ds.num_instructions[i]; j++) sum += d[j];
    /* the deltas add up to the last prefix value */
    int64_t last = ds.prefix_first[i] + ds.num_instructions[i] - 1;
    ok &= m[0] && dm[0] && fabs(sum - ds.prefix_values[ds.prefix_value_offset[last]]) < 1e-4;
  }
  CHECK(ok);
  dataset_free(&ds);
  vocab_free(&v);
}

int main(void) {
  setup();
  test_filters_and_aggregation();
  test_seq2seq_and_invalid();
  test_corrupt_records();
  test_samplers();
  test_fixture();
  teardown();
  return test_summary("test_dataset");
}
