#include "io/bhive_import.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "io/block_io.h"
#include "io/tfrecord.h"
#include "util/common.h"

void bhive_import_init(BhiveImport *imp, BlockDecodeFn decode) {
  memset(imp, 0, sizeof *imp);
  imp->columns.hex_column = 0;
  imp->columns.throughput_column = 1;
  imp->scaling = 1.0;
  imp->decode = decode;
}

void bhive_import_free(BhiveImport *imp) {
  for (size_t i = 0; i < imp->num_blocks; i++) {
    free(imp->blocks[i].code);
    free(imp->blocks[i].packed_block);
    free(imp->blocks[i].values);
  }
  free(imp->blocks);
  free(imp->slots);
  for (int s = 0; s < imp->num_sources; s++) free(imp->sources[s]);
  free(imp->sources);
  for (int k = 0; k < BHIVE_NUM_IMPORT_KINDS; k++)
    for (int e = 0; e < BHIVE_MAX_EXAMPLES; e++) free(imp->examples[k][e]);
  memset(imp, 0, sizeof *imp);
}

int bhive_import_source(BhiveImport *imp, const char *name) {
  for (int s = 0; s < imp->num_sources; s++)
    if (!strcmp(imp->sources[s], name)) return s;
  imp->sources = xrealloc(imp->sources, (imp->num_sources + 1) * sizeof *imp->sources);
  imp->sources[imp->num_sources] = xstrdup(name);
  return imp->num_sources++;
}

/* ---- the block map: bytes → index in blocks[] (FNV-1a, linear probing) ---- */

static uint64_t hash_bytes(const uint8_t *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static void rehash(BhiveImport *imp, size_t num_slots) {
  free(imp->slots);
  imp->slots = xcalloc(num_slots, sizeof *imp->slots);
  imp->num_slots = num_slots;
  for (size_t i = 0; i < imp->num_blocks; i++) {
    size_t s = hash_bytes(imp->blocks[i].code, imp->blocks[i].code_len) & (num_slots - 1);
    while (imp->slots[s]) s = (s + 1) & (num_slots - 1);
    imp->slots[s] = (uint32_t)(i + 1);
  }
}

/* Index of the block with these bytes; *is_new tells whether it was added. */
static size_t find_or_add_block(BhiveImport *imp, const uint8_t *code, size_t len, int *is_new) {
  if (2 * (imp->num_blocks + 1) > imp->num_slots) rehash(imp, imp->num_slots ? 2 * imp->num_slots : 1024);
  size_t mask = imp->num_slots - 1;
  size_t s = hash_bytes(code, len) & mask;
  for (; imp->slots[s]; s = (s + 1) & mask) {
    ImportBlock *b = &imp->blocks[imp->slots[s] - 1];
    if (b->code_len == len && !memcmp(b->code, code, len)) {
      *is_new = 0;
      return imp->slots[s] - 1;
    }
  }
  grow_array((void **)&imp->blocks, &imp->cap_blocks, imp->num_blocks + 1, sizeof *imp->blocks);
  ImportBlock *b = &imp->blocks[imp->num_blocks];
  memset(b, 0, sizeof *b);
  b->code = xmalloc(len);
  memcpy(b->code, code, len);
  b->code_len = len;
  imp->slots[s] = (uint32_t)(imp->num_blocks + 1);
  *is_new = 1;
  return imp->num_blocks++;
}

/* ---- reading lines ---- */

static void count_kind(BhiveImport *imp, int kind, const char *name, long line_no, const char *fmt, ...) {
  long n = imp->kind_count[kind]++;
  if (n >= BHIVE_MAX_EXAMPLES) return;
  char detail[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  size_t size = strlen(name) + strlen(detail) + 32;
  imp->examples[kind][n] = xmalloc(size);
  snprintf(imp->examples[kind][n], size, "%s:%ld: %s", name, line_no, detail);
}

/* Canonicalizes a new block once and keeps only its serialized form. */
static void decode_block(BhiveImport *imp, ImportBlock *b) {
  Gematria__BasicBlockProto block = GEMATRIA__BASIC_BLOCK_PROTO__INIT;
  size_t bad_offset = 0;
  int n = imp->decode(b->code, b->code_len, imp->base_address, &block, &bad_offset);
  if (n < 0) {
    b->undecodable = 1;
    b->num_instructions = (int)bad_offset; /* remembered for later reports */
    return;
  }
  b->num_instructions = n;
  b->packed_len = gematria__basic_block_proto__get_packed_size(&block);
  b->packed_block = xmalloc(b->packed_len ? b->packed_len : 1);
  gematria__basic_block_proto__pack(&block, b->packed_block);
  /* free the pieces, not the struct on our stack */
  for (size_t i = 0; i < block.n_machine_instructions; i++)
    protobuf_c_message_free_unpacked(&block.machine_instructions[i]->base, NULL);
  for (size_t i = 0; i < block.n_canonicalized_instructions; i++)
    protobuf_c_message_free_unpacked(&block.canonicalized_instructions[i]->base, NULL);
  free(block.machine_instructions);
  free(block.canonicalized_instructions);
  if (block.fingerprint && block.fingerprint != protobuf_c_empty_string) free(block.fingerprint);
}

static void import_line(BhiveImport *imp, const char *name, long line_no, const char *line, size_t len,
                        int source, uint8_t **buf, size_t *cap) {
  BhiveCsvLine parsed;
  imp->lines_read++;
  int kind = bhive_csv_parse_line(line, len, &imp->columns, line_no == 1, buf, cap, &parsed);
  if (kind != BHIVE_OK) {
    int shown = (int)(len > 60 ? 60 : len);
    while (shown > 0 && (line[shown - 1] == '\n' || line[shown - 1] == '\r')) shown--;
    count_kind(imp, kind, name, line_no, "%s: \"%.*s%s\"", bhive_line_kind_name(kind), shown, line,
               len > 60 ? "..." : "");
    return;
  }
  int is_new;
  size_t i = find_or_add_block(imp, parsed.code, parsed.code_len, &is_new);
  ImportBlock *b = &imp->blocks[i];
  if (is_new) decode_block(imp, b);
  if (b->undecodable) {
    count_kind(imp, BHIVE_UNDECODABLE, name, line_no, "undecodable bytes at offset %d",
               b->num_instructions);
    return;
  }
  for (int v = 0; v < b->num_values; v++)
    if (b->values[v].source == source) {
      count_kind(imp, BHIVE_DUPLICATE, name, line_no,
                 "block already seen for source \"%s\" (first value %g kept, %g dropped)",
                 imp->sources[source], b->values[v].value, parsed.throughput * imp->scaling);
      return;
    }
  double scaled = parsed.throughput * imp->scaling;
  if (!isfinite(scaled) || fabs(scaled) > FLT_MAX) {
    count_kind(imp, BHIVE_NONFINITE_THROUGHPUT, name, line_no, "throughput %g times the scaling %g is not a finite "
               "float32 value", parsed.throughput, imp->scaling);
    return;
  }
  if (b->num_values == b->cap_values) {
    b->cap_values = b->cap_values ? 2 * b->cap_values : 2;
    b->values = xrealloc(b->values, b->cap_values * sizeof *b->values);
  }
  b->values[b->num_values++] = (ImportValue){source, scaled};
  imp->lines_accepted++;
}

void bhive_import_text(BhiveImport *imp, const char *name, const char *text, size_t len, int source) {
  uint8_t *buf = NULL;
  size_t cap = 0, pos = 0;
  long line_no = 0;
  while (pos < len) {
    const char *nl = memchr(text + pos, '\n', len - pos);
    size_t end = nl ? (size_t)(nl - text) + 1 : len;
    import_line(imp, name, ++line_no, text + pos, end - pos, source, &buf, &cap);
    pos = end;
  }
  free(buf);
}

int bhive_import_file(BhiveImport *imp, const char *path, int source) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    gr_error("%s: cannot open: %s", path, strerror(errno));
    return -1;
  }
  char *line = NULL;
  size_t line_cap = 0, cap = 0;
  uint8_t *buf = NULL;
  long line_no = 0;
  ssize_t n;
  while ((n = getline(&line, &line_cap, f)) > 0) import_line(imp, path, ++line_no, line, (size_t)n, source, &buf, &cap);
  int rc = 0;
  if (ferror(f)) {
    gr_error("%s: read error after line %ld: %s", path, line_no, strerror(errno));
    rc = -1;
  }
  free(line);
  free(buf);
  fclose(f);
  return rc;
}

/* ---- writing ---- */

static int is_written(const ImportBlock *b) { return !b->undecodable && b->num_values > 0; }

size_t bhive_import_num_records(const BhiveImport *imp) {
  size_t n = 0;
  for (size_t i = 0; i < imp->num_blocks; i++) n += is_written(&imp->blocks[i]);
  return n;
}

static int compare_values_by_source(const void *a, const void *b) {
  const ImportValue *x = a, *y = b;
  return (x->source > y->source) - (x->source < y->source);
}

size_t bhive_import_pack_record(const BhiveImport *imp, size_t i, uint8_t **buf, size_t *cap) {
  const ImportBlock *b = &imp->blocks[i];
  if (!is_written(b)) return 0;
  /* field order as Python writes it: basic_block (1), then inverse_throughputs (2) */
  size_t len = 0;
  wire_append_len_field(buf, &len, cap, 1, b->packed_block, b->packed_len);
  ImportValue sorted[b->num_values];
  memcpy(sorted, b->values, sizeof sorted);
  qsort(sorted, b->num_values, sizeof *sorted, compare_values_by_source);
  uint8_t tmp[1024];
  for (int v = 0; v < b->num_values; v++) {
    Gematria__ThroughputWithSourceProto t = GEMATRIA__THROUGHPUT_WITH_SOURCE_PROTO__INIT;
    t.source = imp->sources[sorted[v].source];
    t.n_inverse_throughput_cycles = 1;
    t.inverse_throughput_cycles = &sorted[v].value;
    size_t n = gematria__throughput_with_source_proto__get_packed_size(&t);
    uint8_t *p = n <= sizeof tmp ? tmp : xmalloc(n);
    gematria__throughput_with_source_proto__pack(&t, p);
    wire_append_len_field(buf, &len, cap, 2, p, n);
    if (p != tmp) free(p);
  }
  return len;
}

int bhive_import_write(const BhiveImport *imp, const char *path) {
  TFRecordWriter w;
  if (tfrecord_writer_open(&w, path)) return -1;
  uint8_t *buf = NULL;
  size_t cap = 0;
  for (size_t i = 0; i < imp->num_blocks; i++) {
    size_t n = bhive_import_pack_record(imp, i, &buf, &cap);
    if (!n) continue;
    if (tfrecord_write(&w, buf, n)) {
      free(buf);
      tfrecord_writer_abort(&w);
      return -1;
    }
  }
  free(buf);
  return tfrecord_writer_commit(&w);
}

static const char *import_kind_name(int kind) {
  if (kind == BHIVE_UNDECODABLE) return "undecodable bytes";
  if (kind == BHIVE_DUPLICATE) return "duplicate block for a source";
  return bhive_line_kind_name(kind);
}

void bhive_import_report(const BhiveImport *imp, FILE *out) {
  long skipped = imp->lines_read - imp->lines_accepted;
  fprintf(out, "import: %ld lines read, %ld accepted, %ld skipped; %zu records, %d sources\n",
          imp->lines_read, imp->lines_accepted, skipped, bhive_import_num_records(imp), imp->num_sources);
  for (int k = 1; k < BHIVE_NUM_IMPORT_KINDS; k++) {
    if (!imp->kind_count[k]) continue;
    fprintf(out, "  skipped %ld line%s: %s\n", imp->kind_count[k], imp->kind_count[k] == 1 ? "" : "s",
            import_kind_name(k));
    for (int e = 0; e < BHIVE_MAX_EXAMPLES && imp->examples[k][e]; e++)
      fprintf(out, "    e.g. %s\n", imp->examples[k][e]);
  }
}

char *bhive_default_source_name(const char *path) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  size_t n = strlen(base);
  if (n > 4 && !strcmp(base + n - 4, ".csv")) n -= 4;
  size_t size = n + 8;
  char *name = xmalloc(size);
  snprintf(name, size, "bhive: %.*s", (int)n, base);
  return name;
}
