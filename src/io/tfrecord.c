#include "io/tfrecord.h"

#include <errno.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/common.h"
#include "util/crc32c.h"

static uint64_t load_u64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static uint32_t load_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void store_u32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* True if a regular file has fewer than n bytes left after the position. */
static bool exceeds_rest_of_file(FILE *f, uint64_t n) {
  struct stat st;
  off_t at = ftello(f);
  return at >= 0 && fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)(st.st_size - at) < n;
}

int tfrecord_open(TFRecordReader *r, const char *path) {
  memset(r, 0, sizeof *r);
  r->file = fopen(path, "rb");
  if (!r->file) {
    gr_error("%s: cannot open: %s", path, strerror(errno));
    return -1;
  }
  r->path = xstrdup(path);
  r->index = -1;
  return 0;
}

int tfrecord_next(TFRecordReader *r, const uint8_t **data, size_t *len) {
  uint8_t header[12], footer[4];
  long idx = r->index + 1;
  size_t got = fread(header, 1, sizeof header, r->file);
  if (got == 0 && feof(r->file)) return 0;
  if (got != sizeof header) {
    gr_error("%s: record %ld: truncated header (%zu of 12 bytes)", r->path, idx, got);
    return -1;
  }
  uint64_t n = load_u64(header);
  if (crc32c_mask(crc32c(header, 8)) != load_u32(header + 8)) {
    gr_error("%s: record %ld: bad length CRC (corrupt or not a TFRecord file)", r->path, idx);
    return -1;
  }
  if (n > ((uint64_t)1 << 31)) {
    gr_error("%s: record %ld: implausible length %llu", r->path, idx, (unsigned long long)n);
    return -1;
  }
  if (n > (1u << 20) && exceeds_rest_of_file(r->file, n + 4)) {
    /* refused before allocating: a 16-byte file must not cost gigabytes */
    gr_error("%s: record %ld: truncated payload (length %llu, the file ends before)", r->path, idx,
             (unsigned long long)n);
    return -1;
  }
  grow_array((void **)&r->buf, &r->cap, n, 1);
  if (fread(r->buf, 1, n, r->file) != n || fread(footer, 1, 4, r->file) != 4) {
    gr_error("%s: record %ld: truncated payload (file ends inside the record)", r->path, idx);
    return -1;
  }
  if (crc32c_mask(crc32c(r->buf, n)) != load_u32(footer)) {
    gr_error("%s: record %ld: bad data CRC (corrupt record)", r->path, idx);
    return -1;
  }
  r->index = idx;
  *data = r->buf;
  *len = n;
  return 1;
}

void tfrecord_close(TFRecordReader *r) {
  if (r->file) fclose(r->file);
  free(r->path);
  free(r->buf);
  memset(r, 0, sizeof *r);
}

void tfrecord_frame(uint8_t header[12], uint8_t footer[4], const void *data, size_t len) {
  for (int i = 0; i < 8; i++) header[i] = (uint8_t)((uint64_t)len >> (8 * i));
  store_u32(header + 8, crc32c_mask(crc32c(header, 8)));
  store_u32(footer, crc32c_mask(crc32c(data, len)));
}

int tfrecord_writer_open(TFRecordWriter *w, const char *path) {
  memset(w, 0, sizeof *w);
  return output_open(&w->out, path, "output file");
}

int tfrecord_write(TFRecordWriter *w, const void *data, size_t len) {
  uint8_t header[12], footer[4];
  tfrecord_frame(header, footer, data, len);
  FILE *f = w->out.file;
  if (fwrite(header, 1, 12, f) != 12 || fwrite(data, 1, len, f) != len || fwrite(footer, 1, 4, f) != 4) {
    gr_error("%s: write failed at record %ld: %s", w->out.path, w->count, strerror(errno));
    return -1;
  }
  w->count++;
  return 0;
}

int tfrecord_writer_commit(TFRecordWriter *w) { return output_commit(&w->out); }

void tfrecord_writer_abort(TFRecordWriter *w) { output_abort(&w->out); }
