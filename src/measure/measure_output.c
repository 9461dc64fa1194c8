/* Outputs of a measurement run (measure_run.h): the CSV of every block and
 * the input records with one more inverse_throughputs entry. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gematria.pb-c.h"
#include "io/block_io.h"
#include "io/tfrecord.h"
#include "measure/measure_run.h"
#include "util/common.h"
#include "x86/canonicalize.h"

double measure_label_value(const MeasureRunConfig *c, const MeasureResult *r) {
  double cycles = c->use_median ? r->cycles_median : r->cycles_min;
  return c->per_iteration ? cycles : 100 * cycles;
}

static void put_csv_text(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

int measure_write_csv(const char *path, char *const *inputs, const InputBlocks *blocks, const MeasureResult *results) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp-%d", path, (int)getpid());
  FILE *f = fopen(tmp, "w");
  if (!f) {
    gr_error("%s: cannot create: %s", tmp, strerror(errno));
    return -1;
  }
  fprintf(f, "file,record,hex,status,cycles_per_iteration,cycles_per_100_iterations,"
             "cycles_per_iteration_median,cycles_per_100_iterations_median,spread,pages,runs,detail\n");
  for (size_t i = 0; i < blocks->n; i++) {
    const InputBlock *b = &blocks->blocks[i];
    const MeasureResult *r = &results[i];
    put_csv_text(f, inputs[b->file]);
    fprintf(f, ",%ld,", b->place);
    for (size_t k = 0; k < b->len; k++) fprintf(f, "%02x", b->code[k]);
    fprintf(f, ",%s,", measure_status_name(r->status));
    if (r->cycles_min > 0) /* unstable blocks keep their numbers for inspection */
      fprintf(f, "%.4f,%.2f,%.4f,%.2f,%.4f,", r->cycles_min, 100 * r->cycles_min, r->cycles_median,
              100 * r->cycles_median, r->spread);
    else
      fprintf(f, ",,,,,");
    fprintf(f, "%d,%d,", r->pages, r->children);
    put_csv_text(f, r->detail);
    fputc('\n', f);
  }
  int bad = ferror(f);
  if (fclose(f) || bad || rename(tmp, path)) {
    gr_error("%s: cannot write: %s", path, strerror(errno));
    unlink(tmp);
    return -1;
  }
  return 0;
}

/* Field 2 (inverse_throughputs) of BasicBlockWithThroughputProto, appended
 * to an already serialized record: concatenated fields are a valid message. */
static void append_measured(uint8_t **buf, size_t *len, size_t *cap, const char *source, double value) {
  Gematria__ThroughputWithSourceProto t = GEMATRIA__THROUGHPUT_WITH_SOURCE_PROTO__INIT;
  t.source = (char *)source;
  t.n_inverse_throughput_cycles = 1;
  t.inverse_throughput_cycles = &value;
  size_t n = gematria__throughput_with_source_proto__get_packed_size(&t);
  uint8_t *p = xmalloc(n);
  gematria__throughput_with_source_proto__pack(&t, p);
  wire_append_len_field(buf, len, cap, 2, p, n);
  free(p);
}

/* A record for a block read from CSV: the decoded block (field 1). */
static int csv_block_record(const InputBlock *b, uint8_t **buf, size_t *len, size_t *cap) {
  Gematria__BasicBlockProto bb = GEMATRIA__BASIC_BLOCK_PROTO__INIT;
  size_t bad = 0;
  if (x86_canonicalize_block(b->code, b->len, 0, &bb, &bad) < 0) return -1;
  size_t n = gematria__basic_block_proto__get_packed_size(&bb);
  uint8_t *p = xmalloc(n);
  gematria__basic_block_proto__pack(&bb, p);
  wire_append_len_field(buf, len, cap, 1, p, n);
  free(p);
  x86_block_clear(&bb);
  return 0;
}

static int wanted(const MeasureRunConfig *c, const MeasureResult *r) {
  return r->status == MEASURE_OK || c->keep_unmeasured;
}

int measure_write_tfrecord(const MeasureRunConfig *c, const char *source, char *const *inputs, int num_inputs,
                           const InputBlocks *blocks, const MeasureResult *results, long *written) {
  TFRecordWriter w;
  if (tfrecord_writer_open(&w, c->output)) return -1;
  uint8_t *buf = NULL;
  size_t cap = 0;
  size_t next = 0; /* blocks[] are in input order */
  int rc = 0;
  *written = 0;
  for (int fi = 0; fi < num_inputs && rc == 0; fi++) {
    if (measure_input_is_csv(inputs[fi])) {
      for (; next < blocks->n && blocks->blocks[next].file == fi && rc == 0; next++) {
        const MeasureResult *r = &results[next];
        size_t len = 0;
        if (!wanted(c, r) || blocks->blocks[next].problem) continue;
        if (csv_block_record(&blocks->blocks[next], &buf, &len, &cap)) continue; /* undecodable: in the CSV */
        if (r->status == MEASURE_OK) append_measured(&buf, &len, &cap, source, measure_label_value(c, r));
        rc = tfrecord_write(&w, buf, len);
        (*written)++;
      }
      continue;
    }
    TFRecordReader rd;
    if (tfrecord_open(&rd, inputs[fi])) {
      rc = -1;
      break;
    }
    const uint8_t *data;
    size_t dlen;
    int more;
    while (rc == 0 && (more = tfrecord_next(&rd, &data, &dlen)) == 1) {
      if (next >= blocks->n || blocks->blocks[next].file != fi || blocks->blocks[next].place != rd.index) {
        gr_error("%s: record %ld: the file changed while it was measured", inputs[fi], rd.index);
        rc = -1;
        break;
      }
      const MeasureResult *r = &results[next++];
      if (!wanted(c, r)) continue;
      size_t len = 0;
      grow_array((void **)&buf, &cap, dlen, 1);
      memcpy(buf, data, dlen);
      len = dlen;
      if (r->status == MEASURE_OK) append_measured(&buf, &len, &cap, source, measure_label_value(c, r));
      rc = tfrecord_write(&w, buf, len);
      (*written)++;
    }
    if (more < 0) rc = -1;
    tfrecord_close(&rd);
  }
  free(buf);
  if (rc) {
    tfrecord_writer_abort(&w);
    return -1;
  }
  return tfrecord_writer_commit(&w);
}
