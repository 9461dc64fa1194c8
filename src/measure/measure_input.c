/* Reading the blocks to measure (measure_input.h). */
#include "measure/measure_input.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gematria.pb-c.h"
#include "io/bhive_csv.h"
#include "io/tfrecord.h"
#include "util/common.h"

int measure_input_is_csv(const char *path) {
  size_t n = strlen(path);
  return (n >= 4 && (!strcasecmp(path + n - 4, ".csv") || !strcasecmp(path + n - 4, ".txt")));
}

static InputBlock *push(InputBlocks *in, int file, long place) {
  grow_array((void **)&in->blocks, &in->cap, in->n + 1, sizeof *in->blocks);
  InputBlock *b = &in->blocks[in->n++];
  memset(b, 0, sizeof *b);
  b->file = file;
  b->place = place;
  return b;
}

static int read_tfrecord(const char *path, int file, InputBlocks *in) {
  TFRecordReader r;
  if (tfrecord_open(&r, path)) return -1;
  const uint8_t *data;
  size_t len;
  int rc;
  while ((rc = tfrecord_next(&r, &data, &len)) == 1) {
    InputBlock *b = push(in, file, r.index);
    Gematria__BasicBlockWithThroughputProto *rec = gematria__basic_block_with_throughput_proto__unpack(NULL, len, data);
    if (!rec) {
      gr_error("%s: record %ld: not a BasicBlockWithThroughputProto", path, r.index);
      tfrecord_close(&r);
      return -1;
    }
    const Gematria__BasicBlockProto *bb = rec->basic_block;
    size_t total = 0;
    for (size_t i = 0; bb && i < bb->n_machine_instructions; i++) total += bb->machine_instructions[i]->machine_code.len;
    if (total == 0) {
      b->problem = xstrdup("record has no machine code");
    } else {
      b->code = xmalloc(total);
      for (size_t i = 0; i < bb->n_machine_instructions; i++) {
        const ProtobufCBinaryData *mc = &bb->machine_instructions[i]->machine_code;
        memcpy(b->code + b->len, mc->data, mc->len);
        b->len += mc->len;
      }
    }
    gematria__basic_block_with_throughput_proto__free_unpacked(rec, NULL);
  }
  tfrecord_close(&r);
  return rc < 0 ? -1 : 0;
}

void measure_csv_hex_column(const char *line, const char **hex, size_t *len) {
  while (*line == ' ' || *line == '\t') line++;
  size_t n = strcspn(line, ",\r\n");
  while (n && (line[n - 1] == ' ' || line[n - 1] == '\t')) n--;
  *hex = line;
  *len = n;
}

static int read_csv(const char *path, int file, InputBlocks *in) {
  FILE *f = fopen(path, "r");
  if (!f) {
    gr_error("%s: cannot open: %s", path, strerror(errno));
    return -1;
  }
  char *line = NULL;
  size_t cap = 0;
  long lineno = 0;
  while (getline(&line, &cap, f) >= 0) {
    lineno++;
    const char *hex;
    size_t n;
    measure_csv_hex_column(line, &hex, &n);
    if (n == 0 && strspn(line, " \t\r\n") == strlen(line)) continue; /* blank line */
    int header = lineno == 1 && n > 0 && !isxdigit((unsigned char)hex[0]);
    if (header) continue;
    InputBlock *b = push(in, file, lineno);
    uint8_t *code = xmalloc(n / 2 + 1);
    int kind = bhive_decode_hex(hex, n, code);
    if (kind != BHIVE_OK) {
      char msg[96];
      snprintf(msg, sizeof msg, "bad hex: %s", bhive_line_kind_name(kind));
      b->problem = xstrdup(msg);
      free(code);
      continue;
    }
    b->code = code;
    b->len = n / 2;
  }
  int bad = ferror(f);
  free(line);
  fclose(f);
  if (bad) {
    gr_error("%s: read error after line %ld", path, lineno);
    return -1;
  }
  return 0;
}

int measure_input_read(char *const *paths, int n, InputBlocks *out) {
  for (int i = 0; i < n; i++)
    if ((measure_input_is_csv(paths[i]) ? read_csv : read_tfrecord)(paths[i], i, out)) return -1;
  return 0;
}

void measure_input_free(InputBlocks *in) {
  for (size_t i = 0; i < in->n; i++) {
    free(in->blocks[i].code);
    free(in->blocks[i].problem);
  }
  free(in->blocks);
  memset(in, 0, sizeof *in);
}
