/* Regression tests for what the fuzzers and sanitizers found
 * (docs/reliability.md, "Fuzzing"): each case is the smallest input that
 * crashed, leaked, misbehaved or tripped a sanitizer before its fix. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "granite.h"
#include "io/checkpoint.h"
#include "train/model_checkpoint.h"
#include "io/tfrecord.h"
#include "model/model.h"
#include "testing.h"
#include "util/common.h"
#include "util/crc32c.h"

/* per process: another build's suite may run this test at the same time */
static char tmp[64];

static void write_bytes(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  CHECK(f && fwrite(data, 1, n, f) == n);
  if (f) fclose(f);
}

/* A TFRecord header announcing a 2 GiB payload in a 20-byte file: refused
 * as truncated before the reader allocates the 2 GiB. */
static void test_tfrecord_huge_length(void) {
  uint8_t file[20] = {0};
  uint8_t payload = 0, footer[4];
  tfrecord_frame(file, footer, &payload, 1);
  uint64_t n = (uint64_t)1 << 31;
  for (int i = 0; i < 8; i++) file[i] = (uint8_t)(n >> (8 * i));
  uint32_t masked = crc32c_mask(crc32c(file, 8));
  memcpy(file + 8, &masked, 4);
  write_bytes(tmp, file, sizeof file);
  TFRecordReader r;
  CHECK(tfrecord_open(&r, tmp) == 0);
  const uint8_t *d;
  size_t len;
  StderrCapture cap;
  char msg[512];
  stderr_capture_begin(&cap);
  CHECK(tfrecord_next(&r, &d, &len) == -1);
  stderr_capture_end(&cap, msg, sizeof msg);
  CHECK_MSG(strstr(msg, "record 0: truncated payload"), "%s", msg);
  CHECK_MSG(r.cap < (1u << 20), "allocated %zu bytes for a 20-byte file", r.cap);
  tfrecord_close(&r);
}

/* ---- checkpoints with a valid CRC around inconsistent contents ---- */

static char ckpt[64];
static const char *const TOKENS[] = {"ADD", "MOV", "RAX", "RBX"};

/* Writes a small SGD checkpoint whose config says vocab_size, listing the
 * structural tokens plus `extra` of TOKENS. */
static void write_checkpoint(int vocab_size, int extra) {
  GraniteConfig cfg;
  granite_config_default(&cfg);
  cfg.vocab_size = vocab_size;
  cfg.num_tasks = 1;
  cfg.node_embedding_size = cfg.edge_embedding_size = cfg.global_embedding_size = 4;
  GraniteModel m;
  CHECK(granite_model_create(&m, &cfg) == 0);
  Vocab v;
  vocab_from_list(&v, TOKENS, extra);
  const char *task = "default";
  CheckpointContents c = {.global_step = 3, .model = &m, .vocab = &v, .num_tasks = 1,
                          .task_names = &task, .validation_mape = NAN};
  CHECK(checkpoint_write_file(ckpt, &c) == 0);
  vocab_free(&v);
  granite_model_destroy(&m);
}

/* Replaces `from` by `to` in the checkpoint's header, then fixes the
 * preamble's lengths and the CRC, as a hostile or buggy writer would. */
static void edit_header(const char *from, const char *to) {
  size_t len;
  char *d = read_file_text(ckpt, &len);
  uint64_t hl;
  memcpy(&hl, d + 12, 8);
  char *at = strstr(d + 28, from);
  CHECK(at && at < d + 28 + hl);
  if (!at) return;
  size_t nf = strlen(from), nt = strlen(to), out_len = len - nf + nt;
  char *out = xmalloc(out_len);
  size_t head = (size_t)(at - d);
  memcpy(out, d, head);
  memcpy(out + head, to, nt);
  memcpy(out + head + nt, at + nf, len - head - nf);
  uint64_t new_hl = hl - nf + nt, total = out_len;
  memcpy(out + 12, &new_hl, 8);
  memcpy(out + 20, &total, 8);
  uint32_t crc = crc32c(out, out_len - 4);
  memcpy(out + out_len - 4, &crc, 4);
  write_bytes(ckpt, out, out_len);
  free(out);
  free(d);
}

/* A failed open says why in one line naming the file. */
static void check_open_fails(const char *expect) {
  Checkpoint c;
  StderrCapture cap;
  char msg[512];
  stderr_capture_begin(&cap);
  CHECK(checkpoint_open(&c, ckpt) == -1);
  stderr_capture_end(&cap, msg, sizeof msg);
  CHECK_MSG(strstr(msg, ckpt) && strstr(msg, expect), "%s", msg);
}

/* Hole 1 of issue 11: num_params larger than the tensors, with no optimizer
 * buffers to betray it in the byte count; loading the parameters must refuse
 * it, or an optimizer update writes past them. */
static void test_checkpoint_num_params(void) {
  write_checkpoint(11, 4);
  Checkpoint c;
  CHECK(checkpoint_open(&c, ckpt) == 0);
  char from[64], to[64];
  snprintf(from, sizeof from, "num_params=%zu\n", c.num_params);
  snprintf(to, sizeof to, "num_params=%zu\n", c.num_params + 999999);
  checkpoint_close(&c);
  edit_header(from, to);
  /* refused when the file is opened: the count is checked against the
   * parameters the config implies (train/model_checkpoint.c) */
  check_open_fails("num_params");
  char err[256] = "";
  CHECK(granite_load(ckpt, err, sizeof err) == NULL); /* and no leak of the model (LeakSanitizer) */
}

/* Hole 2: a token list longer (or shorter) than the embedding table. */
static void test_checkpoint_vocab_size(void) {
  write_checkpoint(11, 4);
  Checkpoint c;
  CHECK(checkpoint_open(&c, ckpt) == 0);
  checkpoint_close(&c);
  write_checkpoint(10, 4);
  check_open_fails("11 tokens but its config.vocab_size is 10");
  write_checkpoint(12, 4);
  check_open_fails("11 tokens but its config.vocab_size is 12");
}

int main(void) {
  snprintf(tmp, sizeof tmp, "/tmp/granite_test_fuzz_regressions_%ld.bin", (long)getpid());
  snprintf(ckpt, sizeof ckpt, "/tmp/granite_test_fuzz_regressions_%ld.ckpt-3", (long)getpid());
  test_tfrecord_huge_length();
  test_checkpoint_num_params();
  test_checkpoint_vocab_size();
  unlink(tmp);
  unlink(ckpt);
  return test_summary("test_fuzz_regressions");
}
