/* Checkpoint files: bit-exact round trip, corruption/truncation/shape errors,
 * the directory index with max_to_keep pruning that keeps the best, newest
 * lookup, and the TF-style path forms. Uses a hand-made GraniteModel. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testing.h"
#include "train/model_checkpoint.h"
#include "util/common.h"
#include "util/crc32c.h"
#include "util/rng.h"

/* A real (tiny) model: the loader checks the stored tensors against the
 * layout the stored config implies. edge_size changes some shapes. */
static void fake_model(GraniteModel *m, int edge_size) {
  GraniteConfig c;
  granite_config_default(&c);
  c.vocab_size = 5;
  c.num_tasks = 2;
  c.node_embedding_size = 4;
  c.edge_embedding_size = edge_size;
  c.global_embedding_size = 2;
  c.node_update_layers[0] = 16, c.node_update_layers[1] = 8, c.num_node_update_layers = 2;
  c.edge_update_layers[0] = 5, c.num_edge_update_layers = 1;
  c.global_update_layers[0] = 3, c.num_global_update_layers = 1;
  c.readout_layers[0] = 12, c.num_readout_layers = 1;
  c.task_readout_layers[0] = 6, c.num_task_readout_layers = 1;
  c.num_message_passing_iterations = 3;
  c.seq2seq = true;
  if (granite_model_create(m, &c) != 0) abort();
}

static void free_model(GraniteModel *m) { granite_model_destroy(m); }

static const char *const TOKENS[5] = {"ADD", "R10", "R8", "_DISPLACEMENT_", "_D_"};
static const char *const TASKS[2] = {"skl", "hsw"};

typedef struct {
  GraniteModel model;
  Vocab vocab;
  Optimizer opt;
  CheckpointMeta meta;
  uint64_t rng[4];
} Fixture;

static void fixture_init(Fixture *f) {
  fake_model(&f->model, 3);
  Rng r;
  rng_seed(&r, 1);
  for (size_t i = 0; i < f->model.num_params; i++)
    f->model.params[i] = (float)((double)(rng_next(&r) >> 11) / 9007199254740992.0 - 0.5) * 3.0f;
  f->model.params[1] = -0.0f;
  f->model.params[2] = 1e-40f; /* denormal: must survive bit for bit */
  f->vocab.size = 5;
  f->vocab.tokens = (char **)TOKENS;
  optimizer_init(&f->opt, OPTIMIZER_ADAM, f->model.num_params);
  for (size_t i = 0; i < f->model.num_params; i++) {
    f->opt.m[i] = (float)i * 0.25f;
    f->opt.v[i] = (float)i * 0.5f + 1;
  }
  f->opt.step = 77;
  memset(&f->meta, 0, sizeof f->meta);
  checkpoint_meta_set(&f->meta, "loss_type", "MEAN_SQUARED_ERROR");
  checkpoint_meta_set(&f->meta, "learning_rate", "0.001");
  checkpoint_meta_set(&f->meta, "learning_rate", "0.002"); /* replaces */
  for (int i = 0; i < 4; i++) f->rng[i] = rng_next(&r);
}

static CheckpointContents contents(Fixture *f, int64_t step, double mape) {
  CheckpointContents c = {.global_step = step,
                          .model = &f->model,
                          .vocab = &f->vocab,
                          .num_tasks = 2,
                          .task_names = TASKS,
                          .optimizer = &f->opt,
                          .meta = &f->meta,
                          .rng_state = f->rng,
                          .rng_state_bytes = sizeof f->rng,
                          .validation_mape = mape};
  return c;
}

static char g_dir[] = "/tmp/granite_ckpt_test_XXXXXX";

static void path_in(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", g_dir, name); }

/* checkpoint_open with stderr captured: returns rc, message in msg. */
static int open_capture(Checkpoint *c, const char *path, char *msg, size_t cap) {
  StderrCapture cap_err;
  stderr_capture_begin(&cap_err);
  int rc = checkpoint_open(c, path);
  stderr_capture_end(&cap_err, msg, cap);
  return rc;
}

static void write_bytes(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  fwrite(data, 1, n, f);
  fclose(f);
}


/* The file at path with header line `from` replaced by `to`, lengths and
 * CRC fixed so that only the checks past the CRC can catch the lie. */
static void rewrite_header(const char *path, const char *out, const char *from, const char *to) {
  size_t len;
  char *d = read_file_text(path, &len);
  CHECK(d != NULL);
  if (!d) return;
  char *at = memmem(d, len, from, strlen(from));
  CHECK_MSG(at != NULL, "no '%s' in %s", from, path);
  if (!at) {
    free(d);
    return;
  }
  size_t n = len - strlen(from) + strlen(to);
  char *e = malloc(n);
  size_t pre = (size_t)(at - d);
  memcpy(e, d, pre);
  memcpy(e + pre, to, strlen(to));
  memcpy(e + pre + strlen(to), at + strlen(from), len - pre - strlen(from));
  uint64_t header_len, total;
  memcpy(&header_len, e + 12, 8);
  header_len += strlen(to) - strlen(from);
  total = n;
  memcpy(e + 12, &header_len, 8);
  memcpy(e + 20, &total, 8);
  uint32_t crc = crc32c(e, n - 4);
  memcpy(e + n - 4, &crc, 4);
  write_bytes(out, e, n);
  free(e);
  free(d);
}

/* Hole 1 of issue 11: a valid CRC around a lying num_params let the
 * optimizer write past the parameters (SGD stores no buffer, so the byte
 * total did not catch it). */
static void test_lying_num_params(Fixture *f) {
  Optimizer sgd;
  optimizer_init(&sgd, OPTIMIZER_SGD, f->model.num_params);
  CheckpointContents c = contents(f, 5, NAN);
  c.optimizer = &sgd;
  char path[4096], bad[4096], from[64], msg[2048];
  path_in(path, sizeof path, "sgd.ckpt");
  path_in(bad, sizeof bad, "sgd_lie.ckpt");
  CHECK(checkpoint_write_file(path, &c) == 0);
  snprintf(from, sizeof from, "\nnum_params=%zu\n", f->model.num_params);
  rewrite_header(path, bad, from, "\nnum_params=999999999\n");
  Checkpoint k;
  GraniteModel m2;
  fake_model(&m2, 3);
  int rc = open_capture(&k, bad, msg, sizeof msg);
  if (rc == 0) {
    StderrCapture cap;
    stderr_capture_begin(&cap);
    int rc_params = checkpoint_load_params(&k, &m2);
    Optimizer o;
    int rc_opt = checkpoint_load_optimizer(&k, m2.num_params, &o);
    stderr_capture_end(&cap, msg, sizeof msg);
    CHECK(rc_params == -1 && rc_opt == -1);
    if (rc_opt == 0) optimizer_free(&o);
    checkpoint_close(&k);
  }
  CHECK_MSG(strstr(msg, "num_params 999999999") && strstr(msg, bad), "%s", msg);
  /* the honest file loads */
  CHECK(checkpoint_open(&k, path) == 0);
  Optimizer o;
  CHECK(checkpoint_load_params(&k, &m2) == 0 && checkpoint_load_optimizer(&k, m2.num_params, &o) == 0);
  CHECK(o.type == OPTIMIZER_SGD && o.num_params == m2.num_params);
  optimizer_free(&o);
  checkpoint_close(&k);
  free_model(&m2);
  optimizer_free(&sgd);
  unlink(path);
  unlink(bad);
}

/* Hole 2: a token list longer than config.vocab_size made the embedding
 * lookup read past its table; shorter, a token had no row. */
static void test_token_list_against_vocab_size(Fixture *f) {
  CheckpointContents c = contents(f, 6, NAN);
  char path[4096], bad[4096], msg[2048];
  path_in(path, sizeof path, "tokens.ckpt");
  path_in(bad, sizeof bad, "tokens_lie.ckpt");
  CHECK(checkpoint_write_file(path, &c) == 0);
  char *extra = malloc(40 * 16 + 32);
  strcpy(extra, "token=_D_\n");
  for (int i = 0; i < 40; i++) sprintf(extra + strlen(extra), "token=ZZ%02d\n", i);
  rewrite_header(path, bad, "token=_D_\n", extra);
  Checkpoint k;
  CHECK(open_capture(&k, bad, msg, sizeof msg) == -1);
  CHECK_MSG(strstr(msg, "45 tokens") && strstr(msg, "vocab_size is 5") && strstr(msg, bad), "%s", msg);
  rewrite_header(path, bad, "token=_D_\n", "");
  CHECK(open_capture(&k, bad, msg, sizeof msg) == -1);
  CHECK_MSG(strstr(msg, "4 tokens") && strstr(msg, "vocab_size is 5"), "%s", msg);
  /* and the config itself out of the range a model can have */
  rewrite_header(path, bad, "config.vocab_size=5\n", "config.vocab_size=-3\n");
  CHECK(open_capture(&k, bad, msg, sizeof msg) == -1);
  rewrite_header(path, bad, "\nglobal_step=6\n", "\nglobal_step=-6\n");
  CHECK(open_capture(&k, bad, msg, sizeof msg) == -1);
  rewrite_header(path, bad, "rng_state_bytes=32\n", "rng_state_bytes=18446744073709551615\n");
  CHECK(open_capture(&k, bad, msg, sizeof msg) == -1);
  rewrite_header(path, bad, "tensor=readout/dense_0/b 12 1\n", "tensor=readout/dense_0/b 2147483647 2147483647\n");
  CHECK(open_capture(&k, bad, msg, sizeof msg) == -1);
  rewrite_header(path, bad, "config.num_tasks=2\n", "config.num_tasks=100000\n");
  CHECK(open_capture(&k, bad, msg, sizeof msg) == -1);
  free(extra);
  unlink(path);
  unlink(bad);
}

/* Hole 7: resume took the newest file by name; a file copied or renamed by
 * hand made it retrain from an older state. The step stored inside decides. */
static void test_latest_by_stored_step(Fixture *f) {
  char dir[4096], a[4200], b[4200], found[4200];
  path_in(dir, sizeof dir, "renamed");
  mkdir(dir, 0777);
  CheckpointContents c = contents(f, 500, NAN);
  snprintf(a, sizeof a, "%s/model.ckpt-100", dir);
  CHECK(checkpoint_write_file(a, &c) == 0); /* named 100, holds step 500 */
  c.global_step = 400;
  snprintf(b, sizeof b, "%s/model.ckpt-400", dir);
  CHECK(checkpoint_write_file(b, &c) == 0);
  int64_t step = -1;
  CHECK(checkpoint_find_latest(dir, found, sizeof found, &step) == 1);
  CHECK_MSG(strcmp(found, a) == 0 && step == 500, "%s step %lld", found, (long long)step);
  Checkpoint k;
  CHECK(checkpoint_open(&k, dir) == 0 && k.global_step == 500);
  checkpoint_close(&k);
  /* a candidate whose header cannot be read is named, not skipped silently */
  char junk[4200], msg[2048];
  snprintf(junk, sizeof junk, "%s/model.ckpt-900", dir);
  write_bytes(junk, "GRNTCKPT", 8);
  StderrCapture cap;
  stderr_capture_begin(&cap);
  int rc = checkpoint_find_latest(dir, found, sizeof found, &step);
  stderr_capture_end(&cap, msg, sizeof msg);
  CHECK(rc == -1 && strstr(msg, "model.ckpt-900"));
  unlink(junk);
  unlink(a);
  unlink(b);
  rmdir(dir);
}

static void test_round_trip(Fixture *f) {
  CheckpointContents c = contents(f, 99327, 4.5);
  char saved[4096];
  CHECK(checkpoint_save(g_dir, &c, 10, saved, sizeof saved) == 0);
  char want[4096];
  path_in(want, sizeof want, "model.ckpt-99327");
  CHECK(strcmp(saved, want) == 0);

  Checkpoint k;
  CHECK(checkpoint_open(&k, saved) == 0);
  CHECK(k.global_step == 99327);
  CHECK(memcmp(&k.config, &f->model.cfg, sizeof k.config) == 0);
  CHECK(k.vocab.size == 5);
  for (int i = 0; i < 5 && i < k.vocab.size; i++) CHECK(strcmp(k.vocab.tokens[i], TOKENS[i]) == 0);
  CHECK(k.num_tasks == 2 && strcmp(k.task_names[0], "skl") == 0 && strcmp(k.task_names[1], "hsw") == 0);
  CHECK(k.meta.count == 2);
  CHECK(checkpoint_meta_get(&k.meta, "learning_rate") && strcmp(checkpoint_meta_get(&k.meta, "learning_rate"), "0.002") == 0);
  CHECK(checkpoint_meta_get(&k.meta, "nope") == NULL);
  CHECK(k.validation_mape == 4.5);
  CHECK(k.has_optimizer && k.optimizer_type == OPTIMIZER_ADAM && k.optimizer_step == 77);
  CHECK(k.rng_state_bytes == sizeof f->rng && memcmp(k.rng_state, f->rng, sizeof f->rng) == 0);

  GraniteModel m2;
  fake_model(&m2, 3);
  CHECK(checkpoint_load_params(&k, &m2) == 0);
  for (int t = 0; t < m2.num_tensors; t++) {
    const ParamTensor *p = &m2.tensors[t];
    CHECK(memcmp(m2.params + p->offset, f->model.params + p->offset, 4 * (size_t)p->rows * p->cols) == 0);
  }
  Optimizer o2;
  CHECK(checkpoint_load_optimizer(&k, f->model.num_params, &o2) == 0);
  CHECK(o2.type == OPTIMIZER_ADAM && o2.step == 77 && o2.num_params == f->model.num_params);
  CHECK(memcmp(o2.m, f->opt.m, 4 * o2.num_params) == 0 && memcmp(o2.v, f->opt.v, 4 * o2.num_params) == 0);
  optimizer_free(&o2);
  checkpoint_close(&k);
  checkpoint_close(&k); /* idempotent */

  /* the TF-style forms of the same checkpoint */
  char other[4200];
  snprintf(other, sizeof other, "%s.index", saved);
  CHECK(checkpoint_open(&k, other) == 0 && k.global_step == 99327);
  checkpoint_close(&k);
  snprintf(other, sizeof other, "%s.data-00000-of-00001", saved);
  CHECK(checkpoint_open(&k, other) == 0 && k.global_step == 99327);
  checkpoint_close(&k);
  CHECK(checkpoint_open(&k, g_dir) == 0 && k.global_step == 99327); /* a directory: newest */
  checkpoint_close(&k);
  char msg[2048];
  path_in(other, sizeof other, "model.ckpt-5");
  CHECK(open_capture(&k, other, msg, sizeof msg) == -1 && strstr(msg, "not found"));

  /* without optimizer and RNG */
  c.optimizer = NULL;
  c.rng_state = NULL;
  c.meta = NULL;
  c.validation_mape = NAN;
  path_in(other, sizeof other, "plain.ckpt");
  CHECK(checkpoint_write_file(other, &c) == 0);
  CHECK(checkpoint_open(&k, other) == 0);
  CHECK(!k.has_optimizer && k.rng_state == NULL && isnan(k.validation_mape) && k.meta.count == 0);
  CHECK(checkpoint_load_optimizer(&k, f->model.num_params, &o2) == -1);
  checkpoint_close(&k);
  unlink(other);
  free_model(&m2);
}

static void test_bad_files(Fixture *f) {
  char path[4096], bad[4096], msg[2048];
  path_in(path, sizeof path, "model.ckpt-99327");
  size_t len;
  char *data = read_file_text(path, &len);
  CHECK(data != NULL && len > 200);
  if (!data) return;
  Checkpoint k;
  path_in(bad, sizeof bad, "bad.ckpt");

  /* one flipped bit anywhere: in the parameters, the header, the CRC */
  size_t spots[3] = {len - 30, 40, len - 1};
  for (int i = 0; i < 3; i++) {
    data[spots[i]] ^= 0x10;
    write_bytes(bad, data, len);
    data[spots[i]] ^= 0x10;
    CHECK(open_capture(&k, bad, msg, sizeof msg) == -1);
    CHECK_MSG(strstr(msg, "CRC mismatch (corrupt)") && strstr(msg, bad), "%s", msg);
  }
  /* truncated at several places */
  size_t cuts[3] = {len / 2, len - 1, 20};
  for (int i = 0; i < 3; i++) {
    write_bytes(bad, data, cuts[i]);
    CHECK(open_capture(&k, bad, msg, sizeof msg) == -1);
    CHECK_MSG(strstr(msg, "truncated") != NULL, "%s", msg);
  }
  write_bytes(bad, data, 0);
  CHECK(open_capture(&k, bad, msg, sizeof msg) == -1 && strstr(msg, "truncated"));
  /* not ours */
  write_bytes(bad, "model_checkpoint_path: \"x\"\n", 27);
  CHECK(open_capture(&k, bad, msg, sizeof msg) == -1 && strstr(msg, "not a granite checkpoint"));
  /* a newer format version */
  data[8] = 9;
  write_bytes(bad, data, len);
  data[8] = CHECKPOINT_FORMAT_VERSION;
  CHECK(open_capture(&k, bad, msg, sizeof msg) == -1 && strstr(msg, "version"));
  unlink(bad);
  free(data);

  /* a model whose tensor has another shape, or another name */
  CHECK(checkpoint_open(&k, path) == 0);
  GraniteModel m2;
  fake_model(&m2, 4);
  GraniteModel m3;
  fake_model(&m3, 3);
  StderrCapture capture;
  char cap[2048];
  stderr_capture_begin(&capture);
  int rc_shape = checkpoint_load_params(&k, &m2);
  strcpy(m3.tensors[m3.num_tensors - 1].name, "task_1/output/v");
  int rc_name = checkpoint_load_params(&k, &m3);
  m3.num_tensors--;
  int rc_count = checkpoint_load_params(&k, &m3);
  m3.num_tensors++;
  stderr_capture_end(&capture, cap, sizeof cap);
  CHECK(rc_shape == -1 && rc_name == -1 && rc_count == -1);
  CHECK_MSG(strstr(cap, "tensor encoder/edge_embedding shape mismatch: checkpoint 9x3, model 9x4") != NULL, "%s", cap);
  CHECK_MSG(strstr(cap, "task_1/output/w in the checkpoint but task_1/output/v") != NULL, "%s", cap);
  CHECK_MSG(strstr(cap, "tensors, the model") != NULL, "%s", cap);
  free_model(&m3);
  /* nothing was copied into the model on failure */
  CHECK(m2.params[0] == 0.0f);
  free_model(&m2);
  checkpoint_close(&k);
  (void)f;
}

static bool exists(const char *dir, int64_t step) {
  char path[4200];
  snprintf(path, sizeof path, "%s/model.ckpt-%lld", dir, (long long)step);
  return access(path, F_OK) == 0;
}

static void test_index_and_pruning(Fixture *f) {
  char dir[4096], latest[4096];
  snprintf(dir, sizeof dir, "%s/run/nested", g_dir); /* created on demand */
  CHECK(checkpoint_find_latest(dir, latest, sizeof latest, NULL) == 0);
  const int64_t steps[6] = {100, 200, 300, 400, 500, 600};
  const double mapes[6] = {5.0, 3.0, 4.0, NAN, 6.0, 3.5};
  for (int i = 0; i < 6; i++) {
    CheckpointContents c = contents(f, steps[i], mapes[i]);
    CHECK(checkpoint_save(dir, &c, 2, NULL, 0) == 0);
  }
  /* kept: the newest two plus the best (200) */
  CHECK(!exists(dir, 100) && exists(dir, 200) && !exists(dir, 300) && !exists(dir, 400) && exists(dir, 500) &&
        exists(dir, 600));
  CheckpointIndex ix;
  CHECK(checkpoint_index_read(dir, &ix) == 0);
  CHECK(ix.latest_step == 600 && ix.best_step == 200 && ix.best_validation_mape == 3.0);
  CHECK(ix.num_steps == 3 && ix.all_steps[0] == 200 && ix.all_steps[1] == 500 && ix.all_steps[2] == 600);
  checkpoint_index_free(&ix);
  CHECK(checkpoint_find_latest(dir, latest, sizeof latest, NULL) == 1);
  CHECK(checkpoint_step_from_path(latest) == 600);

  /* a better model later: the old best may now go */
  CheckpointContents c = contents(f, 700, 2.0);
  CHECK(checkpoint_save(dir, &c, 2, NULL, 0) == 0);
  CHECK(checkpoint_index_read(dir, &ix) == 0);
  CHECK(ix.latest_step == 700 && ix.best_step == 700 && ix.best_validation_mape == 2.0);
  CHECK(ix.num_steps == 2 && ix.all_steps[0] == 600 && ix.all_steps[1] == 700);
  checkpoint_index_free(&ix);
  CHECK(!exists(dir, 200) && !exists(dir, 500) && exists(dir, 600) && exists(dir, 700));

  /* temporary files and other names are not checkpoints */
  char path[8300];
  snprintf(path, sizeof path, "%s/model.ckpt-900.tmp-123", dir);
  write_bytes(path, "x", 1);
  snprintf(path, sizeof path, "%s/model.ckpt-1000.index", dir);
  write_bytes(path, "x", 1);
  CHECK(checkpoint_find_latest(dir, latest, sizeof latest, NULL) == 1 && checkpoint_step_from_path(latest) == 700);

  /* the index file reads like TF's */
  snprintf(path, sizeof path, "%s/checkpoint", dir);
  size_t len;
  char *text = read_file_text(path, &len);
  CHECK(text && strstr(text, "model_checkpoint_path: \"model.ckpt-700\"\n") &&
        strstr(text, "all_model_checkpoint_paths: \"model.ckpt-600\"\n") &&
        strstr(text, "best_model_checkpoint_path: \"model.ckpt-700\"\n") && strstr(text, "best_validation_mape: 2\n"));
  free(text);
}

static void test_names(void) {
  CHECK(checkpoint_step_from_path("/data/bbs_20u7_model4/model.ckpt-99327") == 99327);
  CHECK(checkpoint_step_from_path("model.ckpt-0") == 0);
  CHECK(checkpoint_step_from_path("model.ckpt-") == -1);
  CHECK(checkpoint_step_from_path("model.ckpt-12.tmp-4") == -1);
  CHECK(checkpoint_step_from_path("ckpt-3") == -1);
}

/* A 2-task model with the critical path (its latencies of kind latency,
 * per-token offsets if token_bias, and resource_bound resources, 0 = off),
 * its parameters numbered, in checkpoint contents without optimizer state. */
static CheckpointContents option_contents(Fixture *f, GraniteModel *m, int resource_bound, int latency,
                                          bool token_bias) {
  GraniteConfig c;
  granite_config_default(&c);
  c.vocab_size = 5, c.num_tasks = 2;
  c.node_embedding_size = c.edge_embedding_size = c.global_embedding_size = 4;
  c.num_message_passing_iterations = 2;
  c.critical_path = true;
  c.resource_bound = resource_bound;
  c.critical_path_latency = latency;
  c.critical_path_token_bias = token_bias;
  CHECK(granite_model_create(m, &c) == 0);
  for (size_t i = 0; i < m->num_params; i++) m->params[i] = (float)i * 0.001f;
  CheckpointContents cc = contents(f, 5, NAN);
  cc.model = m;
  cc.optimizer = NULL;
  return cc;
}

/* A model option's header line: the file at path with `line` changed to
 * `bad` is refused, naming the file and the header line; the fixture's
 * model (option off) with its line `off` removed, i.e. a file from before
 * the option, opens with the fixture's config. */
static void check_option_line(Fixture *f, const char *path, const char *tag, const char *line, const char *bad,
                              const char *off) {
  char bad_path[4096], plain[4096], old[4096], name[64], msg[512];
  Checkpoint k;
  snprintf(name, sizeof name, "%s-bad.ckpt", tag);
  path_in(bad_path, sizeof bad_path, name);
  rewrite_header(path, bad_path, line, bad);
  CHECK(open_capture(&k, bad_path, msg, sizeof msg) == -1);
  CHECK_MSG(strstr(msg, name) && strstr(msg, "header line"), "%s", msg);
  checkpoint_close(&k);

  CheckpointContents cc = contents(f, 6, NAN);
  snprintf(name, sizeof name, "%s-plain.ckpt", tag);
  path_in(plain, sizeof plain, name);
  CHECK(checkpoint_write_file(plain, &cc) == 0);
  snprintf(name, sizeof name, "%s-old.ckpt", tag);
  path_in(old, sizeof old, name);
  rewrite_header(plain, old, off, "");
  CHECK(checkpoint_open(&k, old) == 0);
  CHECK(memcmp(&k.config, &f->model.cfg, sizeof k.config) == 0);
  checkpoint_close(&k);
}

/* --granite_critical_path: stored in the config with its latency heads;
 * a file from before the field reads as off; a bad value is refused. */
static void test_critical_path_field(Fixture *f) {
  GraniteModel m;
  CheckpointContents cc = option_contents(f, &m, 0, GRANITE_LATENCY_SOFTPLUS, false);
  char path[4096];
  path_in(path, sizeof path, "cp.ckpt");
  CHECK(checkpoint_write_file(path, &cc) == 0);
  Checkpoint k;
  CHECK(checkpoint_open(&k, path) == 0);
  CHECK(k.config.critical_path);
  GraniteModel m2;
  CHECK(granite_model_create(&m2, &k.config) == 0);
  CHECK(checkpoint_load_params(&k, &m2) == 0);
  const ParamTensor *head = granite_find_tensor(&m2, "critical_path/task_1/w");
  CHECK(head && head->rows == 4 && m2.params[head->offset + 3] == m.params[head->offset + 3]);
  checkpoint_close(&k);
  granite_model_destroy(&m2);

  granite_model_destroy(&m);
  check_option_line(f, path, "cp", "config.critical_path=true\n", "config.critical_path=maybe\n",
                    "config.critical_path=false\n");
  CHECK(!f->model.cfg.critical_path); /* so the older file read it as off */
}

/* --granite_resource_bound: the count of resources stored in the config with
 * the usage heads; a file from before the field reads as off; a bad count
 * is refused. */
static void test_resource_bound_field(Fixture *f) {
  GraniteModel m;
  CheckpointContents cc = option_contents(f, &m, 3, GRANITE_LATENCY_SOFTPLUS, false);
  char path[4096];
  path_in(path, sizeof path, "rb.ckpt");
  CHECK(checkpoint_write_file(path, &cc) == 0);
  Checkpoint k;
  CHECK(checkpoint_open(&k, path) == 0);
  CHECK(k.config.resource_bound == 3 && k.config.critical_path);
  GraniteModel m2;
  CHECK(granite_model_create(&m2, &k.config) == 0);
  CHECK(checkpoint_load_params(&k, &m2) == 0);
  const ParamTensor *head = granite_find_tensor(&m2, "resource_bound/task_1/w");
  CHECK(head && head->rows == 4 && head->cols == 3 && m2.params[head->offset + 5] == m.params[head->offset + 5]);
  /* the usage heads come after every other tensor (older layouts are a prefix) */
  CHECK(strcmp(m2.tensors[m2.num_tensors - 1].name, "resource_bound/task_1/b") == 0);
  checkpoint_close(&k);
  granite_model_destroy(&m2);

  granite_model_destroy(&m);
  check_option_line(f, path, "rb", "config.resource_bound=3\n", "config.resource_bound=many\n",
                    "config.resource_bound=0\n");
  CHECK(f->model.cfg.resource_bound == 0); /* so the older file read it as off */
}

/* --granite_critical_path_latency: stored by name in the config; a file
 * from before the field reads as softplus; a bad name is refused, and so
 * are exp latencies without the critical path. */
static void test_critical_path_latency_field(Fixture *f) {
  GraniteModel m;
  CheckpointContents cc = option_contents(f, &m, 0, GRANITE_LATENCY_EXP, false);
  char path[4096], lone[4096], msg[512];
  path_in(path, sizeof path, "cpx.ckpt");
  CHECK(checkpoint_write_file(path, &cc) == 0);
  Checkpoint k;
  CHECK(checkpoint_open(&k, path) == 0);
  CHECK(k.config.critical_path_latency == GRANITE_LATENCY_EXP && k.config.critical_path);
  checkpoint_close(&k);
  granite_model_destroy(&m);

  path_in(lone, sizeof lone, "cpx-lone.ckpt");
  rewrite_header(path, lone, "config.critical_path=true\n", "config.critical_path=false\n");
  CHECK(open_capture(&k, lone, msg, sizeof msg) == -1);
  CHECK_MSG(strstr(msg, "cpx-lone.ckpt") && strstr(msg, "exp latencies"), "%s", msg);
  checkpoint_close(&k);

  check_option_line(f, path, "cpx", "config.critical_path_latency=exp\n", "config.critical_path_latency=cubic\n",
                    "config.critical_path_latency=softplus\n");
  CHECK(f->model.cfg.critical_path_latency == GRANITE_LATENCY_SOFTPLUS); /* so the older file read it so */
}

/* --granite_critical_path_token_bias: stored in the config with its tensor
 * (vocab x tasks, read back with the rest); a file from before the field
 * reads as off; a bad value is refused, and so is the option without the
 * critical path. */
static void test_token_bias_field(Fixture *f) {
  GraniteModel m;
  CheckpointContents cc = option_contents(f, &m, 0, GRANITE_LATENCY_SOFTPLUS, true);
  char path[4096], lone[4096], msg[512];
  path_in(path, sizeof path, "cpt.ckpt");
  CHECK(checkpoint_write_file(path, &cc) == 0);
  Checkpoint k;
  CHECK(checkpoint_open(&k, path) == 0);
  CHECK(k.config.critical_path_token_bias && k.config.critical_path);
  GraniteModel back;
  CHECK(granite_model_create(&back, &k.config) == 0);
  CHECK(back.num_params == m.num_params);
  CHECK(checkpoint_load_params(&k, &back) == 0);
  const ParamTensor *t = granite_find_tensor(&back, "critical_path/token_bias");
  CHECK(t && t->rows == 5 && t->cols == 2);
  if (t) CHECK(memcmp(back.params + t->offset, m.params + t->offset, sizeof(float) * 10) == 0);
  granite_model_destroy(&back);
  checkpoint_close(&k);
  granite_model_destroy(&m);

  path_in(lone, sizeof lone, "cpt-lone.ckpt");
  rewrite_header(path, lone, "config.critical_path=true\n", "config.critical_path=false\n");
  CHECK(open_capture(&k, lone, msg, sizeof msg) == -1);
  CHECK_MSG(strstr(msg, "cpt-lone.ckpt") && strstr(msg, "token latency offsets"), "%s", msg);
  checkpoint_close(&k);

  check_option_line(f, path, "cpt", "config.critical_path_token_bias=true\n",
                    "config.critical_path_token_bias=maybe\n", "config.critical_path_token_bias=false\n");
  CHECK(!f->model.cfg.critical_path_token_bias); /* so the older file read it as off */
}

int main(void) {
  if (!mkdtemp(g_dir)) {
    fprintf(stderr, "cannot create a temporary directory\n");
    return 1;
  }
  Fixture f;
  fixture_init(&f);
  test_names();
  test_round_trip(&f);
  test_bad_files(&f);
  test_index_and_pruning(&f);
  test_lying_num_params(&f);
  test_token_list_against_vocab_size(&f);
  test_latest_by_stored_step(&f);
  test_critical_path_field(&f);
  test_resource_bound_field(&f);
  test_critical_path_latency_field(&f);
  test_token_bias_field(&f);
  optimizer_free(&f.opt);
  checkpoint_meta_free(&f.meta);
  free_model(&f.model);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
  return test_summary("test_checkpoint");
}
