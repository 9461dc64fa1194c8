/* granite checkpoint files and the checkpoint directory's index (see
 * checkpoint.h for the layout): the framing only. DESIGN.md: never
 * half-written, corruption detected by CRC, one clear error line naming
 * the file. */
#include "io/checkpoint.h"
#include "train/model_checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/common.h"
#include "util/crc32c.h"
#include "util/output_file.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoint files are little-endian; add byte swapping for this host"
#endif

static const char CKPT_MAGIC[8] = {'G', 'R', 'N', 'T', 'C', 'K', 'P', 'T'};
#define PREAMBLE_BYTES CHECKPOINT_PREAMBLE_BYTES

/* ---------------------------------------------------------------- meta */

void checkpoint_meta_set(CheckpointMeta *m, const char *key, const char *value) {
  for (int i = 0; i < m->count; i++) {
    if (strcmp(m->keys[i], key) == 0) {
      free(m->values[i]);
      m->values[i] = xstrdup(value);
      return;
    }
  }
  m->keys = xrealloc(m->keys, (size_t)(m->count + 1) * sizeof *m->keys);
  m->values = xrealloc(m->values, (size_t)(m->count + 1) * sizeof *m->values);
  m->keys[m->count] = xstrdup(key);
  m->values[m->count] = xstrdup(value);
  m->count++;
}

const char *checkpoint_meta_get(const CheckpointMeta *m, const char *key) {
  for (int i = 0; i < m->count; i++)
    if (strcmp(m->keys[i], key) == 0) return m->values[i];
  return NULL;
}

void checkpoint_meta_free(CheckpointMeta *m) {
  for (int i = 0; i < m->count; i++) {
    free(m->keys[i]);
    free(m->values[i]);
  }
  free(m->keys);
  free(m->values);
  memset(m, 0, sizeof *m);
}

/* --------------------------------------------------------------- writing */

typedef struct {
  FILE *file;
  uint32_t crc;
  bool failed;
} CrcWriter;

static void cw_write(CrcWriter *w, const void *data, size_t n) {
  if (w->failed || n == 0) return;
  w->crc = crc32c_extend(w->crc, data, n);
  if (fwrite(data, 1, n, w->file) != n) w->failed = true;
}

int checkpoint_file_write(const char *path, const char *header, size_t header_len,
                          const CheckpointBlock *blocks, int num_blocks) {
  uint64_t total = PREAMBLE_BYTES + header_len + 4;
  for (int i = 0; i < num_blocks; i++) total += blocks[i].bytes;
  OutputFile out;
  if (output_open(&out, path, "checkpoint")) return -1;
  CrcWriter w = {out.file, 0, false};
  uint32_t version = CHECKPOINT_FORMAT_VERSION;
  uint64_t header_len64 = header_len;
  cw_write(&w, CKPT_MAGIC, sizeof CKPT_MAGIC);
  cw_write(&w, &version, 4);
  cw_write(&w, &header_len64, 8);
  cw_write(&w, &total, 8);
  cw_write(&w, header, header_len);
  for (int i = 0; i < num_blocks; i++) cw_write(&w, blocks[i].data, blocks[i].bytes);
  uint32_t crc = w.crc;
  cw_write(&w, &crc, 4);
  if (w.failed) {
    gr_error("%s: cannot write checkpoint: %s", path, strerror(errno));
    output_abort(&out);
    return -1;
  }
  return output_commit(&out);
}

/* --------------------------------------------------------------- reading */

int checkpoint_parse_int64(const char *s, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (end == s || *end || errno) return -1;
  *out = v;
  return 0;
}

static int read_whole_file(const char *path, uint8_t **data, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    gr_error("%s: cannot open checkpoint: %s", path, strerror(errno));
    return -1;
  }
  size_t cap = 1 << 16, len = 0;
  uint8_t *buf = xmalloc(cap);
  for (;;) {
    if (len == cap) buf = xrealloc(buf, cap *= 2);
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (got == 0) break;
  }
  bool err = ferror(f);
  fclose(f);
  if (err) {
    gr_error("%s: read error", path);
    free(buf);
    return -1;
  }
  *data = buf;
  *size = len;
  return 0;
}

int checkpoint_file_read(CheckpointFile *f, const char *path) {
  memset(f, 0, sizeof *f);
  f->path = xstrdup(path);
  if (read_whole_file(path, &f->data, &f->size)) goto fail;
  const uint8_t *d = f->data;
  size_t magic_n = f->size < 8 ? f->size : 8;
  if (memcmp(d, CKPT_MAGIC, magic_n) != 0) {
    gr_error("%s: not a granite checkpoint (bad magic)", path);
    goto fail;
  }
  if (f->size < PREAMBLE_BYTES) {
    gr_error("%s: truncated checkpoint (%zu bytes)", path, f->size);
    goto fail;
  }
  uint32_t version;
  uint64_t header_len, total;
  memcpy(&version, d + 8, 4);
  memcpy(&header_len, d + 12, 8);
  memcpy(&total, d + 20, 8);
  if (version != CHECKPOINT_FORMAT_VERSION) {
    gr_error("%s: unsupported checkpoint format version %u (this granite reads version %d)", path,
             version, CHECKPOINT_FORMAT_VERSION);
    goto fail;
  }
  if (total > f->size) {
    gr_error("%s: truncated checkpoint (%zu of %llu bytes)", path, f->size,
             (unsigned long long)total);
    goto fail;
  }
  if (total < f->size || total < PREAMBLE_BYTES + 4) {
    gr_error("%s: CRC mismatch (corrupt): file is %zu bytes, its preamble says %llu", path,
             f->size, (unsigned long long)total);
    goto fail;
  }
  uint32_t stored_crc;
  memcpy(&stored_crc, d + total - 4, 4);
  if (crc32c(d, total - 4) != stored_crc) {
    gr_error("%s: CRC mismatch (corrupt)", path);
    goto fail;
  }
  if (header_len > total - PREAMBLE_BYTES - 4) {
    gr_error("%s: malformed checkpoint: header longer than the file", path);
    goto fail;
  }
  f->header_len = header_len;
  f->payload_at = PREAMBLE_BYTES + header_len;
  f->payload_bytes = total - 4 - f->payload_at;
  return 0;
fail:
  checkpoint_file_free(f);
  return -1;
}

void checkpoint_file_free(CheckpointFile *f) {
  free(f->data);
  free(f->path);
  memset(f, 0, sizeof *f);
}

/* -------------------------------------------------- names and directories */

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

int64_t checkpoint_step_from_path(const char *path) {
  const char *b = base_name(path);
  size_t plen = strlen(CHECKPOINT_PREFIX);
  if (strncmp(b, CHECKPOINT_PREFIX, plen) != 0) return -1;
  const char *digits = b + plen;
  if (!*digits) return -1;
  for (const char *p = digits; *p; p++)
    if (*p < '0' || *p > '9') return -1;
  int64_t step;
  if (checkpoint_parse_int64(digits, &step)) return -1;
  return step;
}

static void join_path(char *out, size_t out_size, const char *dir, const char *name) {
  size_t n = strlen(dir);
  snprintf(out, out_size, "%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", name);
}

int checkpoint_file_stored_step(const char *path, int64_t *step) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    gr_error("%s: cannot open checkpoint: %s", path, strerror(errno));
    return -1;
  }
  uint8_t pre[PREAMBLE_BYTES];
  uint32_t version = 0;
  uint64_t header_len = 0, total = 0;
  bool ok = fread(pre, 1, sizeof pre, f) == sizeof pre && memcmp(pre, CKPT_MAGIC, 8) == 0;
  if (ok) {
    memcpy(&version, pre + 8, 4);
    memcpy(&header_len, pre + 12, 8);
    memcpy(&total, pre + 20, 8);
    ok = version == CHECKPOINT_FORMAT_VERSION && total >= PREAMBLE_BYTES + 4 &&
         header_len <= total - PREAMBLE_BYTES - 4 && header_len < ((uint64_t)1 << 31);
  }
  char *text = NULL;
  if (ok) {
    text = xmalloc(header_len + 1);
    ok = fread(text, 1, header_len, f) == header_len;
  }
  fclose(f);
  *step = -1;
  if (ok) {
    text[header_len] = '\0';
    for (char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
      if (strncmp(line, "global_step=", 12) != 0) continue;
      char *end;
      errno = 0;
      long long v = strtoll(line + 12, &end, 10);
      if (end != line + 12 && (*end == '\n' || !*end) && !errno && v >= 0) *step = v;
      break;
    }
  }
  free(text);
  if (*step < 0) {
    gr_error("%s: not a readable granite checkpoint (no valid preamble and global_step); move it out of the "
             "directory or delete it",
             path);
    return -1;
  }
  return 0;
}

int checkpoint_find_latest(const char *dir, char *out, size_t out_size, int64_t *step) {
  DIR *d = opendir(dir);
  if (!d) {
    if (errno == ENOENT) return 0;
    gr_error("%s: cannot read checkpoint directory: %s", dir, strerror(errno));
    return -1;
  }
  int64_t best = -1, best_name_step = -1;
  char best_path[4096] = "";
  int rc = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    int64_t name_step = checkpoint_step_from_path(e->d_name); /* ".tmp-PID" files fail this */
    if (name_step < 0) continue;
    char path[4096];
    join_path(path, sizeof path, dir, e->d_name);
    int64_t stored;
    if (checkpoint_file_stored_step(path, &stored)) {
      rc = -1;
      break;
    }
    /* the step stored inside decides; on a tie, the file whose name agrees */
    if (stored > best || (stored == best && name_step == stored)) {
      best = stored;
      best_name_step = name_step;
      snprintf(best_path, sizeof best_path, "%s", path);
    }
  }
  closedir(d);
  if (rc) return -1;
  if (best < 0) return 0;
  if (best_name_step != best)
    gr_warn("%s holds global step %lld although its name says %lld; it is the newest checkpoint by the step "
            "stored inside",
            best_path, (long long)best, (long long)best_name_step);
  snprintf(out, out_size, "%s", best_path);
  if (step) *step = best;
  return 1;
}

static bool is_regular_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool is_directory(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int checkpoint_resolve_path(const char *given, char *out, size_t out_size) {
  if (!given || !*given) {
    gr_error("no checkpoint path given");
    return -1;
  }
  if (is_directory(given)) {
    int found = checkpoint_find_latest(given, out, out_size, NULL);
    if (found < 0) return -1;
    if (found == 0) {
      gr_error("%s: no %s<step> checkpoint in this directory", given, CHECKPOINT_PREFIX);
      return -1;
    }
    return 0;
  }
  if (is_regular_file(given)) {
    snprintf(out, out_size, "%s", given);
    return 0;
  }
  /* TF writes PREFIX.index and PREFIX.data-00000-of-00001; accept those names too */
  static const char *const suffixes[] = {".index", ".data-"};
  for (size_t i = 0; i < ARRAY_LEN(suffixes); i++) {
    const char *at = strstr(given, suffixes[i]);
    if (at && at > given) {
      snprintf(out, out_size, "%.*s", (int)(at - given), given);
      if (is_regular_file(out)) return 0;
    }
  }
  gr_error("%s: checkpoint not found (give the file, e.g. DIR/%s1000, or the directory)", given,
           CHECKPOINT_PREFIX);
  return -1;
}

/* ------------------------------------------------------------ the index */

void checkpoint_index_free(CheckpointIndex *ix) {
  free(ix->all_steps);
  memset(ix, 0, sizeof *ix);
  ix->latest_step = ix->best_step = -1;
  ix->best_validation_mape = NAN;
}

static void index_add_step(CheckpointIndex *ix, int64_t step) {
  for (int i = 0; i < ix->num_steps; i++)
    if (ix->all_steps[i] == step) return;
  ix->all_steps = xrealloc(ix->all_steps, (size_t)(ix->num_steps + 1) * sizeof(int64_t));
  ix->all_steps[ix->num_steps++] = step;
}

/* "key: "model.ckpt-N"" → N, or -1 */
static int64_t quoted_step(const char *value) {
  while (*value == ' ') value++;
  if (*value != '"') return -1;
  const char *end = strrchr(value + 1, '"');
  if (!end) return -1;
  char buf[1024];
  snprintf(buf, sizeof buf, "%.*s", (int)(end - value - 1), value + 1);
  return checkpoint_step_from_path(buf);
}

int checkpoint_index_read(const char *dir, CheckpointIndex *ix) {
  memset(ix, 0, sizeof *ix);
  checkpoint_index_free(ix);
  char path[4096];
  join_path(path, sizeof path, dir, CHECKPOINT_INDEX_FILE);
  FILE *f = fopen(path, "r");
  if (!f) {
    if (errno == ENOENT) return 0;
    gr_error("%s: cannot read: %s", path, strerror(errno));
    return -1;
  }
  char line[2048];
  while (fgets(line, sizeof line, f)) {
    char *colon = strchr(line, ':');
    if (!colon) continue;
    *colon = '\0';
    const char *key = line, *value = colon + 1;
    if (strcmp(key, "model_checkpoint_path") == 0) {
      ix->latest_step = quoted_step(value);
    } else if (strcmp(key, "all_model_checkpoint_paths") == 0) {
      int64_t s = quoted_step(value);
      if (s >= 0) index_add_step(ix, s);
    } else if (strcmp(key, "best_model_checkpoint_path") == 0) {
      ix->best_step = quoted_step(value);
    } else if (strcmp(key, "best_validation_mape") == 0) {
      ix->best_validation_mape = strtod(value, NULL);
    }
  }
  fclose(f);
  if (ix->best_step < 0) ix->best_validation_mape = NAN;
  return 0;
}

int checkpoint_index_write(const char *dir, const CheckpointIndex *ix) {
  char path[4096];
  join_path(path, sizeof path, dir, CHECKPOINT_INDEX_FILE);
  OutputFile out;
  if (output_open(&out, path, "checkpoint index")) return -1;
  FILE *f = out.file;
  if (ix->latest_step >= 0)
    fprintf(f, "model_checkpoint_path: \"%s%lld\"\n", CHECKPOINT_PREFIX,
            (long long)ix->latest_step);
  for (int i = 0; i < ix->num_steps; i++)
    fprintf(f, "all_model_checkpoint_paths: \"%s%lld\"\n", CHECKPOINT_PREFIX,
            (long long)ix->all_steps[i]);
  if (ix->best_step >= 0) {
    fprintf(f, "best_model_checkpoint_path: \"%s%lld\"\n", CHECKPOINT_PREFIX,
            (long long)ix->best_step);
    fprintf(f, "best_validation_mape: %.9g\n", ix->best_validation_mape);
  }
  return output_commit(&out);
}

static int make_directories(const char *dir) {
  char *p = xstrdup(dir);
  for (char *s = p + 1; *s; s++) {
    if (*s != '/') continue;
    *s = '\0';
    if (mkdir(p, 0777) != 0 && errno != EEXIST) break;
    *s = '/';
  }
  int rc = 0;
  if (mkdir(p, 0777) != 0 && errno != EEXIST) {
    gr_error("%s: cannot create checkpoint directory: %s", dir, strerror(errno));
    rc = -1;
  }
  free(p);
  return rc;
}

/* Keeps the newest max_to_keep checkpoints listed in the index (save order)
 * and the best one on top of them; deletes the other listed ones. Files the
 * index does not list (another run's) are never touched. */
static void prune(const char *dir, CheckpointIndex *ix, int max_to_keep) {
  if (max_to_keep <= 0) return;
  int first_newest = ix->num_steps - max_to_keep;
  int kept = 0;
  for (int i = 0; i < ix->num_steps; i++) {
    int64_t s = ix->all_steps[i];
    if (i < first_newest && s != ix->best_step && s != ix->latest_step) {
      char name[64], path[4096];
      snprintf(name, sizeof name, "%s%lld", CHECKPOINT_PREFIX, (long long)s);
      join_path(path, sizeof path, dir, name);
      if (unlink(path) != 0 && errno != ENOENT)
        gr_warn("%s: cannot delete old checkpoint: %s", path, strerror(errno));
      continue;
    }
    ix->all_steps[kept++] = s;
  }
  ix->num_steps = kept;
}

int checkpoint_dir_save(const char *dir, int64_t step, double validation_mape, int max_to_keep,
                        const char *header, size_t header_len, const CheckpointBlock *blocks,
                        int num_blocks, char *out_path, size_t out_path_size) {
  if (make_directories(dir)) return -1;
  /* temporaries of saves killed with -9 (model.ckpt-N.tmp-PID, checkpoint.tmp-PID) */
  output_sweep_stale(dir, CHECKPOINT_PREFIX);
  output_sweep_stale(dir, CHECKPOINT_INDEX_FILE ".tmp-");
  char name[64], path[4096];
  snprintf(name, sizeof name, "%s%lld", CHECKPOINT_PREFIX, (long long)step);
  join_path(path, sizeof path, dir, name);
  if (checkpoint_file_write(path, header, header_len, blocks, num_blocks)) return -1;
  if (out_path) snprintf(out_path, out_path_size, "%s", path);

  CheckpointIndex ix;
  if (checkpoint_index_read(dir, &ix)) return -1;
  /* forget listed checkpoints whose files are gone (deleted by hand) */
  int kept = 0;
  for (int i = 0; i < ix.num_steps; i++) {
    char other[64], other_path[4096];
    snprintf(other, sizeof other, "%s%lld", CHECKPOINT_PREFIX, (long long)ix.all_steps[i]);
    join_path(other_path, sizeof other_path, dir, other);
    if (ix.all_steps[i] != step && is_regular_file(other_path))
      ix.all_steps[kept++] = ix.all_steps[i];
    else if (ix.all_steps[i] == ix.best_step && ix.all_steps[i] != step)
      ix.best_step = -1, ix.best_validation_mape = NAN;
  }
  ix.num_steps = kept;
  index_add_step(&ix, step); /* newest last */
  ix.latest_step = step;
  if (ix.best_step == step) ix.best_step = -1, ix.best_validation_mape = NAN;
  if (isfinite(validation_mape) &&
      (ix.best_step < 0 || !(validation_mape >= ix.best_validation_mape))) {
    ix.best_step = step;
    ix.best_validation_mape = validation_mape;
  }
  prune(dir, &ix, max_to_keep);
  int rc = checkpoint_index_write(dir, &ix);
  checkpoint_index_free(&ix);
  return rc;
}
