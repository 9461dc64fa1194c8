/* TFRecord framing: CRC32C check value, round trip, and every corruption
 * (flipped byte, truncation) detected with the record index. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/tfrecord.h"
#include "testing.h"
#include "util/crc32c.h"

/* per process: suites of several checkouts may run at once on one machine */
static char tmp[64];

static int count_records(const char *path, int *status) {
  TFRecordReader r;
  if (tfrecord_open(&r, path) != 0) {
    *status = -1;
    return 0;
  }
  const uint8_t *d;
  size_t n;
  int k = 0, rc;
  while ((rc = tfrecord_next(&r, &d, &n)) == 1) k++;
  *status = rc;
  tfrecord_close(&r);
  return k;
}

int main(void) {
  snprintf(tmp, sizeof tmp, "/tmp/granite_test_tfrecord_%ld.tfrecord", (long)getpid());
  CHECK(crc32c("123456789", 9) == 0xE3069283u);
  CHECK(crc32c_extend(crc32c("1234", 4), "56789", 5) == 0xE3069283u);

  TFRecordWriter w;
  CHECK(tfrecord_writer_open(&w, tmp) == 0);
  char payload[300];
  for (int i = 0; i < 3; i++) {
    memset(payload, 'a' + i, sizeof payload);
    CHECK(tfrecord_write(&w, payload, 100 * (i + 1)) == 0);
  }
  CHECK(tfrecord_writer_commit(&w) == 0);

  TFRecordReader r;
  CHECK(tfrecord_open(&r, tmp) == 0);
  const uint8_t *d;
  size_t n;
  for (int i = 0; i < 3; i++) {
    CHECK(tfrecord_next(&r, &d, &n) == 1);
    CHECK(n == (size_t)(100 * (i + 1)));
    CHECK(d[0] == 'a' + i && d[n - 1] == 'a' + i);
    CHECK(r.index == i);
  }
  CHECK(tfrecord_next(&r, &d, &n) == 0);
  tfrecord_close(&r);

  size_t len;
  char *bytes = read_file_text(tmp, &len);
  CHECK(len == 3 * 16 + 600);

  /* Flip one byte at every position: each must be caught (never read as good). */
  int caught = 0;
  for (size_t pos = 0; pos < len; pos++) {
    FILE *f = fopen(tmp, "wb");
    bytes[pos] ^= 0x20;
    fwrite(bytes, 1, len, f);
    fclose(f);
    bytes[pos] ^= 0x20;
    int status;
    int k = count_records(tmp, &status);
    if (status == -1 && k < 3) caught++;
  }
  CHECK_MSG(caught == (int)len, "%d of %zu flips caught", caught, len);

  /* Truncation at every length short of complete. */
  int trunc_caught = 0;
  for (size_t cut = 1; cut < len; cut++) {
    FILE *f = fopen(tmp, "wb");
    fwrite(bytes, 1, cut, f);
    fclose(f);
    int status;
    count_records(tmp, &status);
    bool boundary = cut == 116 || cut == 116 + 216;
    if (boundary ? status == 0 : status == -1) trunc_caught++;
  }
  CHECK_MSG(trunc_caught == (int)len - 1, "%d of %zu truncations handled", trunc_caught, len - 1);

  /* Abort leaves the old file untouched. */
  FILE *f = fopen(tmp, "wb");
  fwrite(bytes, 1, len, f);
  fclose(f);
  CHECK(tfrecord_writer_open(&w, tmp) == 0);
  CHECK(tfrecord_write(&w, "x", 1) == 0);
  tfrecord_writer_abort(&w);
  int status;
  CHECK(count_records(tmp, &status) == 3 && status == 0);

  free(bytes);
  remove(tmp);
  return test_summary("test_tfrecord");
}
