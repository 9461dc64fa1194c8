/* The C API's contract (include/granite.h, docs/reliability.md), issue 11
 * hole 10 and the API part of item 4: NULL arguments, load failures with
 * their real reason in the error buffer, exhausted memory inside
 * granite_predict_bytes / granite_predict_batch: an error code and a
 * message, never a crash, an exit() or a line on the caller's stderr. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "granite.h"
#include "io/vocab.h"
#include "testing.h"
#include "train/model_checkpoint.h"
#include "util/common.h"

static char dir[] = "/tmp/granite_api_contract_XXXXXX";
static char ckpt[600];
static const uint8_t ADD[3] = {0x48, 0x01, 0xd8}; /* add rax, rbx */

static void write_checkpoint(void) {
  Vocab v;
  CHECK(vocab_load(&v, "data/sample/vocab.txt") == 0);
  GraniteConfig cfg;
  granite_config_default(&cfg);
  cfg.vocab_size = v.size;
  cfg.node_embedding_size = cfg.edge_embedding_size = cfg.global_embedding_size = 8;
  cfg.num_message_passing_iterations = 2;
  GraniteModel m;
  CHECK(granite_model_create(&m, &cfg) == 0);
  granite_model_init_params(&m, 7);
  const char *task = "default";
  CheckpointContents c = {.global_step = 3, .model = &m, .vocab = &v, .num_tasks = 1, .task_names = &task,
                          .validation_mape = NAN};
  snprintf(ckpt, sizeof ckpt, "%s/model.ckpt-3", dir);
  CHECK(checkpoint_write_file(ckpt, &c) == 0);
  granite_model_destroy(&m);
  vocab_free(&v);
}

static void copy_with(const char *to, size_t cut, long flip) {
  size_t len;
  char *d = read_file_text(ckpt, &len);
  if (flip >= 0) d[flip] ^= 0x20;
  FILE *f = fopen(to, "wb");
  fwrite(d, 1, cut ? cut : len, f);
  fclose(f);
  free(d);
}

/* granite_load must fail with err holding want (and the path), and print
 * nothing on stderr. */
static void load_fails(const char *path, const char *want) {
  char err[512] = "unchanged", out[2048];
  StderrCapture cap;
  stderr_capture_begin(&cap);
  granite_model *g = granite_load(path, err, sizeof err);
  stderr_capture_end(&cap, out, sizeof out);
  CHECK_MSG(g == NULL, "%s loaded", path);
  granite_free(g);
  CHECK_MSG(strstr(err, want) != NULL, "load %s: err '%s', want '%s'", path, err, want);
  CHECK_MSG(strstr(err, "see stderr") == NULL, "err still points to stderr: %s", err);
  CHECK_MSG(strcmp(granite_last_error(), err) == 0, "last error '%s' vs err '%s'", granite_last_error(), err);
  CHECK_MSG(out[0] == '\0', "granite_load printed on stderr: %s", out);
}

static void test_load_failures(void) {
  char p[700];
  snprintf(p, sizeof p, "%s/none", dir);
  load_fails(p, "none");
  snprintf(p, sizeof p, "%s/flipped", dir);
  copy_with(p, 0, 300);
  load_fails(p, "CRC mismatch");
  snprintf(p, sizeof p, "%s/cut", dir);
  copy_with(p, 500, -1);
  load_fails(p, "truncated");
  snprintf(p, sizeof p, "%s/text", dir);
  FILE *f = fopen(p, "w");
  fputs("model_checkpoint_path: \"model.ckpt-3\"\n", f);
  fclose(f);
  load_fails(p, "not a granite checkpoint");
  snprintf(p, sizeof p, "%s/empty_dir", dir);
  mkdir(p, 0777);
  load_fails(p, "no model.ckpt-");
  load_fails("", "no checkpoint path");
  char err[256] = "unchanged";
  CHECK(granite_load(NULL, err, sizeof err) == NULL && strstr(err, "NULL"));
  CHECK(granite_load(p, NULL, 0) == NULL); /* no buffer: still no crash */
  CHECK(strstr(granite_last_error(), "empty_dir") != NULL);
}

static void test_null_arguments(granite_model *g) {
  float out[4];
  const uint8_t *blocks[2] = {ADD, ADD};
  size_t sizes[2] = {3, 3};
  CHECK(granite_predict_bytes(NULL, ADD, 3, out) == GRANITE_ERROR_ARGUMENT);
  CHECK(strstr(granite_last_error(), "model is NULL") != NULL);
  CHECK(granite_predict_bytes(g, NULL, 5, out) == GRANITE_ERROR_ARGUMENT);
  CHECK(strstr(granite_last_error(), "code is NULL") != NULL);
  CHECK(granite_predict_bytes(g, ADD, 3, NULL) == GRANITE_ERROR_ARGUMENT);
  CHECK(granite_predict_bytes(g, NULL, 0, out) == GRANITE_ERROR_INPUT); /* empty block */
  CHECK(granite_predict_hex(NULL, "4801d8", out) == GRANITE_ERROR_ARGUMENT);
  CHECK(granite_predict_hex(g, NULL, out) == GRANITE_ERROR_ARGUMENT);
  CHECK(strstr(granite_last_error(), "hex is NULL") != NULL);
  CHECK(granite_predict_hex(g, "4801d8", NULL) == GRANITE_ERROR_ARGUMENT);
  CHECK(granite_predict_batch(NULL, blocks, sizes, 2, out) == GRANITE_ERROR_ARGUMENT);
  CHECK(granite_predict_batch(g, NULL, sizes, 2, out) == GRANITE_ERROR_ARGUMENT);
  CHECK(strstr(granite_last_error(), "blocks array is NULL") != NULL);
  CHECK(granite_predict_batch(g, blocks, NULL, 2, out) == GRANITE_ERROR_ARGUMENT);
  CHECK(granite_predict_batch(g, blocks, sizes, 2, NULL) == GRANITE_ERROR_ARGUMENT);
  CHECK(granite_predict_batch(g, blocks, sizes, -1, out) == GRANITE_ERROR_ARGUMENT);
  const uint8_t *with_null[2] = {ADD, NULL};
  out[0] = out[1] = 42;
  CHECK(granite_predict_batch(g, with_null, sizes, 2, out) == GRANITE_ERROR_ARGUMENT);
  CHECK(out[0] == 42 && out[1] == 42); /* nothing written */
  CHECK(strstr(granite_last_error(), "block 1 is NULL") != NULL);
  CHECK(granite_predict_batch(g, NULL, NULL, 0, NULL) == GRANITE_OK);
  CHECK(granite_num_tasks(NULL) == 0 && granite_task_name(NULL, 0) == NULL);
  granite_set_num_threads(NULL, 2);
  granite_free(NULL);
  /* bad input: an error code and a reason, the model still works */
  CHECK(granite_predict_hex(g, "48zz", out) == GRANITE_ERROR_INPUT && strstr(granite_last_error(), "hex"));
  const uint8_t junk[2] = {0x0f, 0x0b}; /* ud2 alone decodes; 0x0f 0xff does not */
  (void)junk;
  const uint8_t bad[1] = {0x0f};
  CHECK(granite_predict_bytes(g, bad, 1, out) == GRANITE_ERROR_INPUT);
  CHECK(strstr(granite_last_error(), "do not decode") != NULL);
  CHECK(granite_predict_bytes(g, ADD, 3, out) == GRANITE_OK && isfinite(out[0]));
  CHECK(granite_last_error()[0] == '\0');
}

/* Out of memory inside granite_predict_bytes / _batch, in a child process
 * whose address space is then limited: an error code, no exit, and the
 * model predicts again once memory is back. */
static int oom_child(int threads) {
  granite_model *g = granite_load(ckpt, NULL, 0);
  if (!g) return 10;
  granite_set_num_threads(g, threads);
  float out[64], ref, batch_ref[16];
  const uint8_t *few[16];
  size_t few_sizes[16];
  for (int i = 0; i < 16; i++) few[i] = ADD, few_sizes[i] = 3;
  if (granite_predict_bytes(g, ADD, 3, &ref) != 0) return 11;
  if (granite_predict_batch(g, few, few_sizes, 16, batch_ref) != 0) return 12; /* threads and replicas exist */
  size_t n = 3u << 18; /* 262144 instructions */
  uint8_t *huge = malloc(n);
  for (size_t i = 0; i < n; i += 3) memcpy(huge + i, ADD, 3);
  struct rlimit old, lim;
  getrlimit(RLIMIT_AS, &old);
  long pages = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f || fscanf(f, "%ld", &pages) != 1) return 13;
  fclose(f);
  lim = old;
  lim.rlim_cur = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (16u << 20);
  if (setrlimit(RLIMIT_AS, &lim) != 0) return 14;
  float big_out;
  int rc = granite_predict_bytes(g, huge, n, &big_out);
  const uint8_t *blocks[16];
  size_t sizes[16];
  for (int i = 0; i < 16; i++) blocks[i] = huge, sizes[i] = n / 16 / 3 * 3;
  int rc_batch = granite_predict_batch(g, blocks, sizes, 16, out);
  setrlimit(RLIMIT_AS, &old);
  if (rc != GRANITE_ERROR_MEMORY) return 20;
  if (rc_batch != GRANITE_ERROR_MEMORY) return 21;
  if (!strstr(granite_last_error(), "out of memory")) return 22;
  float again;
  if (granite_predict_bytes(g, ADD, 3, &again) != 0 || again != ref) return 23;
  if (granite_predict_batch(g, few, few_sizes, 16, out) != 0 || memcmp(out, batch_ref, sizeof batch_ref)) return 24;
  granite_free(g);
  free(huge);
  return 0;
}

/* Under AddressSanitizer (make check-sanitize) an allocation that fails must
 * return NULL as the C library's does, not abort: the state a program linking
 * granite is in. Read by the ASan runtime at start-up; unused elsewhere. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

static void test_out_of_memory(void) {
  for (int threads = 1; threads <= 2; threads++) {
    char err_text[4096];
    StderrCapture cap;
    stderr_capture_begin(&cap);
    pid_t pid = fork();
    if (pid == 0) _exit(oom_child(threads));
    int st = 0;
    waitpid(pid, &st, 0);
    stderr_capture_end(&cap, err_text, sizeof err_text);
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%d thread(s): child %s %d; stderr: %s", threads,
              WIFEXITED(st) ? "exited with" : "killed by signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
              err_text);
    CHECK_MSG(strstr(err_text, "granite") == NULL, "the library printed: %s", err_text);
  }
}

int main(void) {
  if (!mkdtemp(dir)) return 1;
  write_checkpoint();
  /* First, before this process has opened an OpenMP team: libgomp's thread
   * pool does not survive fork(), and a child that opens a region after its
   * parent did hangs (docs/reliability.md, the API's contract). */
  test_out_of_memory();
  test_load_failures();
  char err[512];
  granite_model *g = granite_load(ckpt, err, sizeof err);
  CHECK_MSG(g != NULL, "%s", err);
  if (g) {
    test_null_arguments(g);
    granite_free(g);
  }
  char cmd[700];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
  return test_summary("test_api_contract");
}
