#include "io/tfevents.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/tfrecord.h"
#include "util/common.h"

/* ---- protobuf wire format, the few shapes an Event needs ---- */
typedef struct {
  uint8_t *p;
  size_t len, cap;
} Buf;

static void put(Buf *b, const void *data, size_t n) {
  if (n == 0) return;
  grow_array((void **)&b->p, &b->cap, b->len + n, 1);
  memcpy(b->p + b->len, data, n);
  b->len += n;
}

static void put_varint(Buf *b, uint64_t v) {
  uint8_t tmp[10];
  int n = 0;
  do {
    tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  put(b, tmp, n);
}

static void put_key(Buf *b, int field, int wire) { put_varint(b, (uint64_t)field << 3 | wire); }

static void put_double(Buf *b, int field, double v) {
  uint8_t le[8];
  uint64_t u;
  memcpy(&u, &v, 8);
  for (int i = 0; i < 8; i++) le[i] = (uint8_t)(u >> (8 * i));
  put_key(b, field, 1);
  put(b, le, 8);
}

static void put_float(Buf *b, int field, float v) {
  uint8_t le[4];
  uint32_t u;
  memcpy(&u, &v, 4);
  for (int i = 0; i < 4; i++) le[i] = (uint8_t)(u >> (8 * i));
  put_key(b, field, 5);
  put(b, le, 4);
}

static void put_bytes(Buf *b, int field, const void *data, size_t n) {
  put_key(b, field, 2);
  put_varint(b, n);
  put(b, data, n);
}

/* ---- the file ---- */
static int write_event(EventWriter *w, const Buf *event) {
  uint8_t header[12], footer[4];
  tfrecord_frame(header, footer, event->p, event->len);
  if (fwrite(header, 1, 12, w->file) != 12 || fwrite(event->p, 1, event->len, w->file) != event->len ||
      fwrite(footer, 1, 4, w->file) != 4 || fflush(w->file) != 0) {
    gr_error("%s: write failed: %s", w->path, strerror(errno));
    return -1;
  }
  return 0;
}

static int make_dir(const char *dir) {
  char *p = xstrdup(dir);
  for (char *s = p + 1; *s; s++) {
    if (*s != '/') continue;
    *s = 0;
    mkdir(p, 0777);
    *s = '/';
  }
  int rc = mkdir(p, 0777) == 0 || errno == EEXIST ? 0 : -1;
  if (rc) gr_error("%s: cannot create the summary directory: %s", dir, strerror(errno));
  free(p);
  return rc;
}

int event_writer_open(EventWriter *w, const char *dir, double wall_time) {
  memset(w, 0, sizeof *w);
  if (make_dir(dir)) return -1;
  char host[256] = "localhost";
  if (gethostname(host, sizeof host - 1) != 0) snprintf(host, sizeof host, "localhost");
  host[sizeof host - 1] = 0;
  size_t size = strlen(dir) + strlen(host) + 64;
  w->path = xmalloc(size);
  int fd = -1;
  for (int k = 0; k < 1000 && fd < 0; k++) {
    /* TensorBoard reads every events.out.tfevents.* file of the directory */
    if (k == 0)
      snprintf(w->path, size, "%s/events.out.tfevents.%lld.%s", dir, (long long)wall_time, host);
    else
      snprintf(w->path, size, "%s/events.out.tfevents.%lld.%s.%d", dir, (long long)wall_time, host, k);
    fd = open(w->path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND, 0644);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0 || !(w->file = fdopen(fd, "ab"))) {
    gr_error("%s: cannot create: %s", w->path, strerror(errno));
    if (fd >= 0) close(fd);
    free(w->path);
    w->path = NULL;
    return -1;
  }
  Buf e = {0};
  put_double(&e, 1, wall_time);
  put_bytes(&e, 3, "brain.Event:2", 13);
  int rc = write_event(w, &e);
  free(e.p);
  if (rc) event_writer_close(w);
  return rc;
}

int event_writer_scalars(EventWriter *w, double wall_time, int64_t step, const ScalarValue *values, int n) {
  if (!w->file) return -1;
  Buf summary = {0}, value = {0}, e = {0};
  for (int i = 0; i < n; i++) {
    if (isnan(values[i].value)) continue; /* no point: a task without labels in this batch */
    value.len = 0;
    put_bytes(&value, 1, values[i].tag, strlen(values[i].tag));
    put_float(&value, 2, (float)values[i].value);
    put_bytes(&summary, 1, value.p, value.len);
  }
  put_double(&e, 1, wall_time);
  put_key(&e, 2, 0);
  put_varint(&e, (uint64_t)step);
  put_bytes(&e, 5, summary.p, summary.len);
  int rc = write_event(w, &e);
  free(summary.p);
  free(value.p);
  free(e.p);
  return rc;
}

void event_writer_close(EventWriter *w) {
  if (w->file) fclose(w->file);
  free(w->path);
  memset(w, 0, sizeof *w);
}
