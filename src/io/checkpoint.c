/* granite checkpoint files and the checkpoint directory's index (see
 * checkpoint.h for the layout). DESIGN.md: never half-written, corruption
 * detected by CRC, one clear error line naming the file. */
#include "io/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/common.h"
#include "util/crc32c.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoint files are little-endian; add byte swapping for this host"
#endif

static const char CKPT_MAGIC[8] = {'G', 'R', 'N', 'T', 'C', 'K', 'P', 'T'};
#define PREAMBLE_BYTES (8 + 4 + 8 + 8) /* magic, version, header length, total length */

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

/* ------------------------------------------------- GraniteConfig fields */

typedef enum { FIELD_INT, FIELD_BOOL, FIELD_LIST, FIELD_FLOAT } FieldKind;

typedef struct {
  const char *name;
  FieldKind kind;
  size_t offset;
  size_t count_offset; /* FIELD_LIST: offset of its num_ counter */
  bool optional;       /* added after the first format: absent = granite_config_default's value */
} ConfigField;

#define INT_FIELD(f) {#f, FIELD_INT, offsetof(GraniteConfig, f), 0, false}
#define BOOL_FIELD(f) {#f, FIELD_BOOL, offsetof(GraniteConfig, f), 0, false}
#define LIST_FIELD(f) {#f, FIELD_LIST, offsetof(GraniteConfig, f), offsetof(GraniteConfig, num_##f), false}
#define NEW_BOOL_FIELD(f) {#f, FIELD_BOOL, offsetof(GraniteConfig, f), 0, true}
#define NEW_FLOAT_FIELD(f) {#f, FIELD_FLOAT, offsetof(GraniteConfig, f), 0, true}

/* Every GraniteConfig field, by name. A field added to GraniteConfig later
 * must be added here too (old files then lack it: give it a default below). */
static const ConfigField CONFIG_FIELDS[] = {
    INT_FIELD(vocab_size),
    INT_FIELD(num_tasks),
    INT_FIELD(node_embedding_size),
    INT_FIELD(edge_embedding_size),
    INT_FIELD(global_embedding_size),
    LIST_FIELD(node_update_layers),
    LIST_FIELD(edge_update_layers),
    LIST_FIELD(global_update_layers),
    LIST_FIELD(readout_layers),
    LIST_FIELD(task_readout_layers),
    INT_FIELD(num_message_passing_iterations),
    BOOL_FIELD(use_sent_edges),
    BOOL_FIELD(graph_module_residual_connections),
    BOOL_FIELD(readout_residual_connections),
    BOOL_FIELD(task_readout_residual_connections),
    BOOL_FIELD(graph_module_layer_normalization),
    BOOL_FIELD(readout_input_layer_normalization),
    BOOL_FIELD(task_readout_input_layer_normalization),
    BOOL_FIELD(seq2seq),
    NEW_BOOL_FIELD(loop_carried_edges),
    NEW_BOOL_FIELD(register_aliasing),
    NEW_FLOAT_FIELD(output_scale),
};
#define NUM_CONFIG_FIELDS ((int)ARRAY_LEN(CONFIG_FIELDS))

/* ------------------------------------------------------ text building */

typedef struct {
  char *buf;
  size_t len, cap;
} Text;

static void text_printf(Text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_printf(Text *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  grow_array((void **)&t->buf, &t->cap, t->len + (size_t)n + 1, 1);
  va_start(ap, fmt);
  vsnprintf(t->buf + t->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  t->len += (size_t)n;
}

static bool has_newline(const char *s) { return strchr(s, '\n') || strchr(s, '\r'); }

static int build_header(Text *t, const CheckpointContents *c, const char *path) {
  const GraniteModel *m = c->model;
  text_printf(t, "format=granite checkpoint\n");
  text_printf(t, "global_step=%lld\n", (long long)c->global_step);
  for (int i = 0; i < NUM_CONFIG_FIELDS; i++) {
    const ConfigField *f = &CONFIG_FIELDS[i];
    const char *base = (const char *)&m->cfg + f->offset;
    if (f->kind == FIELD_INT) {
      text_printf(t, "config.%s=%d\n", f->name, *(const int *)base);
    } else if (f->kind == FIELD_BOOL) {
      text_printf(t, "config.%s=%s\n", f->name, *(const bool *)base ? "true" : "false");
    } else if (f->kind == FIELD_FLOAT) {
      text_printf(t, "config.%s=%.9g\n", f->name, (double)*(const float *)base);
    } else {
      int count = *(const int *)((const char *)&m->cfg + f->count_offset);
      text_printf(t, "config.%s=", f->name);
      for (int k = 0; k < count; k++) text_printf(t, "%s%d", k ? "," : "", ((const int *)base)[k]);
      text_printf(t, "\n");
    }
  }
  for (int k = 0; k < c->num_tasks; k++) {
    if (has_newline(c->task_names[k])) {
      gr_error("%s: task name %d contains a newline", path, k + 1);
      return -1;
    }
    text_printf(t, "task=%s\n", c->task_names[k]);
  }
  if (c->vocab) {
    for (int k = 0; k < c->vocab->size; k++) {
      if (has_newline(c->vocab->tokens[k])) {
        gr_error("%s: token %d contains a newline", path, k);
        return -1;
      }
      text_printf(t, "token=%s\n", c->vocab->tokens[k]);
    }
  }
  if (c->meta) {
    for (int k = 0; k < c->meta->count; k++) {
      const char *key = c->meta->keys[k], *value = c->meta->values[k];
      if (strchr(key, '=') || has_newline(key) || has_newline(value)) {
        gr_error("%s: training flag '%s' cannot be stored (contains '=' or a newline)", path, key);
        return -1;
      }
      text_printf(t, "meta.%s=%s\n", key, value);
    }
  }
  if (isfinite(c->validation_mape)) text_printf(t, "validation_mape=%.17g\n", c->validation_mape);
  text_printf(t, "num_params=%zu\n", m->num_params);
  if (c->optimizer) {
    text_printf(t, "optimizer=%s\n", optimizer_type_name(c->optimizer->type));
    text_printf(t, "optimizer.step=%lld\n", (long long)c->optimizer->step);
  }
  text_printf(t, "rng_state_bytes=%zu\n", c->rng_state ? c->rng_state_bytes : (size_t)0);
  for (int k = 0; k < m->num_tensors; k++) {
    const ParamTensor *p = &m->tensors[k];
    text_printf(t, "tensor=%s %d %d\n", p->name, p->rows, p->cols);
  }
  return 0;
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

static int fsync_directory_of(const char *path) {
  char *dir = xstrdup(path);
  char *slash = strrchr(dir, '/');
  if (slash) *(slash == dir ? slash + 1 : slash) = '\0';
  else strcpy(dir, ".");
  int fd = open(dir, O_RDONLY);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
  free(dir);
  return 0;
}

int checkpoint_write_file(const char *path, const CheckpointContents *c) {
  const GraniteModel *m = c->model;
  if (c->num_tasks != m->cfg.num_tasks) {
    gr_error("%s: %d task names for a model with %d tasks", path, c->num_tasks, m->cfg.num_tasks);
    return -1;
  }
  if (c->optimizer && c->optimizer->num_params != m->num_params) {
    gr_error("%s: optimizer state has %zu values, the model %zu parameters", path,
             c->optimizer->num_params, m->num_params);
    return -1;
  }
  Text header = {0};
  if (build_header(&header, c, path)) {
    free(header.buf);
    return -1;
  }
  size_t param_floats = 0;
  for (int k = 0; k < m->num_tensors; k++)
    param_floats += (size_t)m->tensors[k].rows * (size_t)m->tensors[k].cols;
  int buffers = c->optimizer ? optimizer_num_buffers(c->optimizer->type) : 0;
  size_t rng_bytes = c->rng_state ? c->rng_state_bytes : 0;
  uint64_t total = PREAMBLE_BYTES + header.len + 4 * param_floats +
                   4 * (uint64_t)buffers * m->num_params + rng_bytes + 4;

  size_t tmp_len = strlen(path) + 32;
  char *tmp = xmalloc(tmp_len);
  snprintf(tmp, tmp_len, "%s.tmp-%ld", path, (long)getpid());
  CrcWriter w = {fopen(tmp, "wb"), 0, false};
  if (!w.file) {
    gr_error("%s: cannot create: %s", tmp, strerror(errno));
    free(tmp);
    free(header.buf);
    return -1;
  }
  uint32_t version = CHECKPOINT_FORMAT_VERSION;
  uint64_t header_len = header.len;
  cw_write(&w, CKPT_MAGIC, sizeof CKPT_MAGIC);
  cw_write(&w, &version, 4);
  cw_write(&w, &header_len, 8);
  cw_write(&w, &total, 8);
  cw_write(&w, header.buf, header.len);
  for (int k = 0; k < m->num_tensors; k++) {
    const ParamTensor *p = &m->tensors[k];
    cw_write(&w, m->params + p->offset, 4 * (size_t)p->rows * (size_t)p->cols);
  }
  if (buffers >= 1) cw_write(&w, c->optimizer->m, 4 * m->num_params);
  if (buffers >= 2) cw_write(&w, c->optimizer->v, 4 * m->num_params);
  cw_write(&w, c->rng_state, rng_bytes);
  uint32_t crc = w.crc;
  cw_write(&w, &crc, 4);
  free(header.buf);
  bool ok = !w.failed && fflush(w.file) == 0 && fsync(fileno(w.file)) == 0;
  int saved_errno = errno;
  if (fclose(w.file) != 0) ok = false;
  if (ok && rename(tmp, path) != 0) {
    saved_errno = errno;
    ok = false;
  }
  if (!ok) {
    gr_error("%s: cannot write checkpoint: %s", path, strerror(saved_errno ? saved_errno : EIO));
    unlink(tmp);
    free(tmp);
    return -1;
  }
  fsync_directory_of(path);
  free(tmp);
  return 0;
}

/* --------------------------------------------------------------- reading */

static int parse_int64(const char *s, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (end == s || *end || errno) return -1;
  *out = v;
  return 0;
}

static int parse_int(const char *s, int *out) {
  int64_t v;
  if (parse_int64(s, &v) || v < -2147483647LL || v > 2147483647LL) return -1;
  *out = (int)v;
  return 0;
}

static int parse_config_value(GraniteConfig *cfg, const ConfigField *f, const char *value) {
  char *base = (char *)cfg + f->offset;
  if (f->kind == FIELD_INT) return parse_int(value, (int *)base);
  if (f->kind == FIELD_BOOL) {
    if (strcmp(value, "true") == 0) *(bool *)base = true;
    else if (strcmp(value, "false") == 0) *(bool *)base = false;
    else return -1;
    return 0;
  }
  if (f->kind == FIELD_FLOAT) {
    char *end;
    double v = strtod(value, &end);
    if (end == value || *end || !isfinite(v)) return -1;
    *(float *)base = (float)v;
    return 0;
  }
  int *count = (int *)((char *)cfg + f->count_offset);
  *count = 0;
  const char *s = value;
  while (*s) {
    if (*count == GRANITE_MAX_LAYERS) return -1;
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || v <= 0 || v > 1000000) return -1;
    ((int *)base)[(*count)++] = (int)v;
    if (*end == ',') end++;
    else if (*end) return -1;
    s = end;
  }
  return 0;
}

/* Parses one "key=value" line (NUL-terminated, value may be empty). */
static int parse_header_line(Checkpoint *c, char *line, bool *seen_config, size_t *cap_tokens,
                             size_t *cap_tensors, size_t *cap_tasks, size_t *tensor_floats) {
  char *eq = strchr(line, '=');
  if (!eq) return -1;
  *eq = '\0';
  const char *key = line, *value = eq + 1;
  if (strncmp(key, "config.", 7) == 0) {
    for (int i = 0; i < NUM_CONFIG_FIELDS; i++) {
      if (strcmp(key + 7, CONFIG_FIELDS[i].name) == 0) {
        if (parse_config_value(&c->config, &CONFIG_FIELDS[i], value)) return -1;
        seen_config[i] = true;
      }
    }
    return 0; /* unknown config keys come from a newer writer: ignored */
  }
  if (strcmp(key, "global_step") == 0) return parse_int64(value, &c->global_step);
  if (strcmp(key, "token") == 0) {
    grow_array((void **)&c->vocab.tokens, cap_tokens, (size_t)c->vocab.size + 1,
               sizeof(char *));
    c->vocab.tokens[c->vocab.size++] = xstrdup(value);
    return 0;
  }
  if (strcmp(key, "task") == 0) {
    grow_array((void **)&c->task_names, cap_tasks, (size_t)c->num_tasks + 1,
               sizeof(char *));
    c->task_names[c->num_tasks++] = xstrdup(value);
    return 0;
  }
  if (strncmp(key, "meta.", 5) == 0) {
    checkpoint_meta_set(&c->meta, key + 5, value);
    return 0;
  }
  if (strcmp(key, "validation_mape") == 0) {
    char *end;
    c->validation_mape = strtod(value, &end);
    return end == value || *end ? -1 : 0;
  }
  if (strcmp(key, "num_params") == 0) {
    int64_t n;
    if (parse_int64(value, &n) || n < 0) return -1;
    c->num_params = (size_t)n;
    return 0;
  }
  if (strcmp(key, "optimizer") == 0) {
    for (int t = 0; t <= OPTIMIZER_RMSPROP; t++) {
      if (strcmp(value, optimizer_type_name((OptimizerType)t)) == 0) {
        c->has_optimizer = true;
        c->optimizer_type = (OptimizerType)t;
        return 0;
      }
    }
    return -1;
  }
  if (strcmp(key, "optimizer.step") == 0) return parse_int64(value, &c->optimizer_step);
  if (strcmp(key, "rng_state_bytes") == 0) {
    int64_t n;
    if (parse_int64(value, &n) || n < 0) return -1;
    c->rng_state_bytes = (size_t)n;
    return 0;
  }
  if (strcmp(key, "tensor") == 0) {
    /* "<name> <rows> <cols>": the name is everything before the last two fields */
    char *last = strrchr(value, ' ');
    if (!last || last == value) return -1;
    *last = '\0';
    char *mid = strrchr(value, ' ');
    if (!mid || mid == value) return -1;
    *mid = '\0';
    int rows, cols;
    if (parse_int(mid + 1, &rows) || parse_int(last + 1, &cols) || rows <= 0 || cols <= 0 ||
        strlen(value) >= sizeof c->tensors[0].name)
      return -1;
    grow_array((void **)&c->tensors, cap_tensors, (size_t)c->num_tensors + 1,
               sizeof(ParamTensor));
    ParamTensor *p = &c->tensors[c->num_tensors++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", value);
    p->rows = rows;
    p->cols = cols;
    p->offset = *tensor_floats;
    *tensor_floats += (size_t)rows * (size_t)cols;
    return 0;
  }
  return 0; /* unknown key from a newer writer */
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

static int open_resolved(Checkpoint *c) {
  const char *path = c->path;
  if (read_whole_file(path, &c->data, &c->size)) return -1;
  const uint8_t *d = c->data;
  size_t magic_n = c->size < 8 ? c->size : 8;
  if (memcmp(d, CKPT_MAGIC, magic_n) != 0) {
    gr_error("%s: not a granite checkpoint (bad magic)", path);
    return -1;
  }
  if (c->size < PREAMBLE_BYTES) {
    gr_error("%s: truncated checkpoint (%zu bytes)", path, c->size);
    return -1;
  }
  uint32_t version;
  uint64_t header_len, total;
  memcpy(&version, d + 8, 4);
  memcpy(&header_len, d + 12, 8);
  memcpy(&total, d + 20, 8);
  if (version != CHECKPOINT_FORMAT_VERSION) {
    gr_error("%s: unsupported checkpoint format version %u (this granite reads version %d)", path,
             version, CHECKPOINT_FORMAT_VERSION);
    return -1;
  }
  if (total > c->size) {
    gr_error("%s: truncated checkpoint (%zu of %llu bytes)", path, c->size,
             (unsigned long long)total);
    return -1;
  }
  if (total < c->size || total < PREAMBLE_BYTES + 4) {
    gr_error("%s: CRC mismatch (corrupt): file is %zu bytes, its preamble says %llu", path,
             c->size, (unsigned long long)total);
    return -1;
  }
  uint32_t stored_crc;
  memcpy(&stored_crc, d + total - 4, 4);
  if (crc32c(d, total - 4) != stored_crc) {
    gr_error("%s: CRC mismatch (corrupt)", path);
    return -1;
  }
  if (header_len > total - PREAMBLE_BYTES - 4) {
    gr_error("%s: malformed checkpoint: header longer than the file", path);
    return -1;
  }
  /* header lines */
  char *text = xmalloc(header_len + 1);
  memcpy(text, d + PREAMBLE_BYTES, header_len);
  text[header_len] = '\0';
  bool seen_config[NUM_CONFIG_FIELDS] = {false};
  granite_config_default(&c->config); /* what files from before an optional field mean */
  size_t cap_tokens = 0, cap_tensors = 0, cap_tasks = 0;
  size_t tensor_floats = 0;
  c->global_step = -1;
  int line_no = 0, rc = 0;
  for (char *line = text; *line && rc == 0;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    line_no++;
    if (*line && parse_header_line(c, line, seen_config, &cap_tokens, &cap_tensors, &cap_tasks,
                                   &tensor_floats)) {
      gr_error("%s: malformed checkpoint header line %d", path, line_no);
      rc = -1;
    }
    if (!nl) break;
    line = nl + 1;
  }
  free(text);
  if (rc) return -1;
  for (int i = 0; i < NUM_CONFIG_FIELDS; i++) {
    if (!seen_config[i] && !CONFIG_FIELDS[i].optional) {
      gr_error("%s: checkpoint header lacks config.%s", path, CONFIG_FIELDS[i].name);
      return -1;
    }
  }
  if (c->global_step < 0) {
    gr_error("%s: checkpoint header lacks global_step", path);
    return -1;
  }
  if (c->num_tasks != c->config.num_tasks) {
    gr_error("%s: checkpoint names %d tasks but its config has %d", path, c->num_tasks,
             c->config.num_tasks);
    return -1;
  }
  if (c->vocab.size != c->config.vocab_size) {
    /* the graph builder's token indices are embedding rows: they must agree */
    gr_error("%s: checkpoint lists %d tokens but its config has vocab_size %d", path, c->vocab.size,
             c->config.vocab_size);
    return -1;
  }
  if (c->num_params < tensor_floats) {
    gr_error("%s: malformed checkpoint: num_params %zu < %zu tensor values", path, c->num_params,
             tensor_floats);
    return -1;
  }
  int buffers = c->has_optimizer ? optimizer_num_buffers(c->optimizer_type) : 0;
  uint64_t expect = PREAMBLE_BYTES + header_len + 4 * (uint64_t)tensor_floats +
                    4 * (uint64_t)buffers * c->num_params + c->rng_state_bytes + 4;
  if (expect != total) {
    gr_error("%s: malformed checkpoint: header describes %llu bytes, file has %llu", path,
             (unsigned long long)expect, (unsigned long long)total);
    return -1;
  }
  c->params_at = PREAMBLE_BYTES + header_len;
  c->optimizer_at = c->params_at + 4 * tensor_floats;
  size_t rng_at = c->optimizer_at + 4 * (size_t)buffers * c->num_params;
  c->rng_state = c->rng_state_bytes ? c->data + rng_at : NULL;
  return 0;
}

int checkpoint_open(Checkpoint *c, const char *path) {
  memset(c, 0, sizeof *c);
  c->validation_mape = NAN;
  char resolved[4096];
  if (checkpoint_resolve_path(path, resolved, sizeof resolved)) return -1;
  c->path = xstrdup(resolved);
  c->version = CHECKPOINT_FORMAT_VERSION;
  if (open_resolved(c)) {
    checkpoint_close(c);
    return -1;
  }
  return 0;
}

int checkpoint_load_params(const Checkpoint *c, GraniteModel *m) {
  if (m->num_tensors != c->num_tensors) {
    gr_error("%s: checkpoint has %d tensors, the model %d", c->path, c->num_tensors,
             m->num_tensors);
    return -1;
  }
  for (int k = 0; k < c->num_tensors; k++) {
    const ParamTensor *s = &c->tensors[k], *t = &m->tensors[k];
    if (strcmp(s->name, t->name) != 0) {
      gr_error("%s: tensor %d is %s in the checkpoint but %s in the model", c->path, k, s->name,
               t->name);
      return -1;
    }
    if (s->rows != t->rows || s->cols != t->cols) {
      gr_error("%s: tensor %s shape mismatch: checkpoint %dx%d, model %dx%d", c->path, s->name,
               s->rows, s->cols, t->rows, t->cols);
      return -1;
    }
  }
  if (m->num_params != c->num_params) {
    /* the optimizer state is num_params floats per buffer: a mismatch would
     * let an update write past the model's parameters */
    gr_error("%s: checkpoint has num_params=%zu, the model %zu", c->path, c->num_params, m->num_params);
    return -1;
  }
  for (int k = 0; k < c->num_tensors; k++) {
    const ParamTensor *s = &c->tensors[k];
    memcpy(m->params + m->tensors[k].offset, c->data + c->params_at + 4 * s->offset,
           4 * (size_t)s->rows * (size_t)s->cols);
  }
  return 0;
}

int checkpoint_load_optimizer(const Checkpoint *c, Optimizer *o) {
  memset(o, 0, sizeof *o);
  if (!c->has_optimizer) {
    gr_error("%s: checkpoint holds no optimizer state", c->path);
    return -1;
  }
  optimizer_init(o, c->optimizer_type, c->num_params);
  o->step = c->optimizer_step;
  size_t bytes = 4 * c->num_params;
  int buffers = optimizer_num_buffers(c->optimizer_type);
  if (buffers >= 1) memcpy(o->m, c->data + c->optimizer_at, bytes);
  if (buffers >= 2) memcpy(o->v, c->data + c->optimizer_at + bytes, bytes);
  return 0;
}

void checkpoint_close(Checkpoint *c) {
  for (int i = 0; i < c->vocab.size; i++) free(c->vocab.tokens[i]);
  free(c->vocab.tokens);
  for (int i = 0; i < c->num_tasks; i++) free(c->task_names[i]);
  free(c->task_names);
  checkpoint_meta_free(&c->meta);
  free(c->tensors);
  free(c->data);
  free(c->path);
  memset(c, 0, sizeof *c);
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
  if (parse_int64(digits, &step)) return -1;
  return step;
}

static void join_path(char *out, size_t out_size, const char *dir, const char *name) {
  size_t n = strlen(dir);
  snprintf(out, out_size, "%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", name);
}

int checkpoint_find_latest(const char *dir, char *out, size_t out_size) {
  DIR *d = opendir(dir);
  if (!d) {
    if (errno == ENOENT) return 0;
    gr_error("%s: cannot read checkpoint directory: %s", dir, strerror(errno));
    return -1;
  }
  int64_t best = -1;
  char name[512] = "";
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    int64_t step = checkpoint_step_from_path(e->d_name); /* ".tmp-PID" files fail this */
    if (step > best && strlen(e->d_name) < sizeof name) {
      best = step;
      snprintf(name, sizeof name, "%s", e->d_name);
    }
  }
  closedir(d);
  if (best < 0) return 0;
  join_path(out, out_size, dir, name);
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
    int found = checkpoint_find_latest(given, out, out_size);
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
  char path[4096], tmp[4200];
  join_path(path, sizeof path, dir, CHECKPOINT_INDEX_FILE);
  snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "w");
  if (!f) {
    gr_error("%s: cannot create: %s", tmp, strerror(errno));
    return -1;
  }
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
  bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
  if (fclose(f) != 0) ok = false;
  if (!ok || rename(tmp, path) != 0) {
    gr_error("%s: cannot write: %s", path, strerror(errno));
    unlink(tmp);
    return -1;
  }
  return 0;
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

int checkpoint_save(const char *dir, const CheckpointContents *c, int max_to_keep,
                    char *out_path, size_t out_path_size) {
  if (make_directories(dir)) return -1;
  char name[64], path[4096];
  snprintf(name, sizeof name, "%s%lld", CHECKPOINT_PREFIX, (long long)c->global_step);
  join_path(path, sizeof path, dir, name);
  if (checkpoint_write_file(path, c)) return -1;
  if (out_path) snprintf(out_path, out_path_size, "%s", path);

  CheckpointIndex ix;
  if (checkpoint_index_read(dir, &ix)) return -1;
  /* forget listed checkpoints whose files are gone (deleted by hand) */
  int kept = 0;
  for (int i = 0; i < ix.num_steps; i++) {
    char other[64], other_path[4096];
    snprintf(other, sizeof other, "%s%lld", CHECKPOINT_PREFIX, (long long)ix.all_steps[i]);
    join_path(other_path, sizeof other_path, dir, other);
    if (ix.all_steps[i] != c->global_step && is_regular_file(other_path))
      ix.all_steps[kept++] = ix.all_steps[i];
    else if (ix.all_steps[i] == ix.best_step && ix.all_steps[i] != c->global_step)
      ix.best_step = -1, ix.best_validation_mape = NAN;
  }
  ix.num_steps = kept;
  index_add_step(&ix, c->global_step); /* newest last */
  ix.latest_step = c->global_step;
  if (ix.best_step == c->global_step) ix.best_step = -1, ix.best_validation_mape = NAN;
  if (isfinite(c->validation_mape) &&
      (ix.best_step < 0 || !(c->validation_mape >= ix.best_validation_mape))) {
    ix.best_step = c->global_step;
    ix.best_validation_mape = c->validation_mape;
  }
  prune(dir, &ix, max_to_keep);
  int rc = checkpoint_index_write(dir, &ix);
  checkpoint_index_free(&ix);
  return rc;
}
