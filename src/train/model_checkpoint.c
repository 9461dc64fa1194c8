/* Training state in a checkpoint (see model_checkpoint.h for the header
 * keys): building and parsing the header, checking its sizes against the
 * file and the model, loading parameters and optimizer state. */
#include "train/model_checkpoint.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/common.h"

/* ------------------------------------------------- GraniteConfig fields */

typedef enum { FIELD_INT, FIELD_BOOL, FIELD_LIST, FIELD_FLOAT, FIELD_ENUM } FieldKind;

typedef struct {
  const char *name;
  FieldKind kind;
  size_t offset;
  size_t count_offset; /* FIELD_LIST: offset of its num_ counter */
  bool optional;       /* added after the first format: absent = granite_config_default's value */
  const char *const *names; /* FIELD_ENUM: an int stored as names[value] (NULL-terminated) */
} ConfigField;

#define INT_FIELD(f) {#f, FIELD_INT, offsetof(GraniteConfig, f), 0, false}
#define BOOL_FIELD(f) {#f, FIELD_BOOL, offsetof(GraniteConfig, f), 0, false}
#define LIST_FIELD(f) {#f, FIELD_LIST, offsetof(GraniteConfig, f), offsetof(GraniteConfig, num_##f), false}
#define NEW_BOOL_FIELD(f) {#f, FIELD_BOOL, offsetof(GraniteConfig, f), 0, true}
#define NEW_INT_FIELD(f) {#f, FIELD_INT, offsetof(GraniteConfig, f), 0, true}
#define NEW_FLOAT_FIELD(f) {#f, FIELD_FLOAT, offsetof(GraniteConfig, f), 0, true}
#define NEW_ENUM_FIELD(f, names) {#f, FIELD_ENUM, offsetof(GraniteConfig, f), 0, true, names}

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
    NEW_BOOL_FIELD(critical_path),
    NEW_INT_FIELD(resource_bound),
    NEW_ENUM_FIELD(critical_path_latency, granite_latency_names),
    NEW_BOOL_FIELD(critical_path_token_bias),
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
    } else if (f->kind == FIELD_ENUM) {
      text_printf(t, "config.%s=%s\n", f->name, f->names[*(const int *)base]);
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

/* The header and payload blocks of c; blocks[4]. Returns how many blocks. */
static int describe(const CheckpointContents *c, const char *path, Text *header,
                    CheckpointBlock *blocks) {
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
  if (build_header(header, c, path)) return -1;
  /* the tensors are stored back to back: the model's layout may have gaps */
  size_t param_floats = 0;
  for (int k = 0; k < m->num_tensors; k++)
    param_floats += (size_t)m->tensors[k].rows * (size_t)m->tensors[k].cols;
  float *packed = xmalloc(4 * param_floats + 4);
  size_t at = 0;
  for (int k = 0; k < m->num_tensors; k++) {
    const ParamTensor *p = &m->tensors[k];
    size_t n = (size_t)p->rows * (size_t)p->cols;
    memcpy(packed + at, m->params + p->offset, 4 * n);
    at += n;
  }
  int n = 0;
  blocks[n++] = (CheckpointBlock){packed, 4 * param_floats};
  int buffers = c->optimizer ? optimizer_num_buffers(c->optimizer->type) : 0;
  if (buffers >= 1) blocks[n++] = (CheckpointBlock){c->optimizer->m, 4 * m->num_params};
  if (buffers >= 2) blocks[n++] = (CheckpointBlock){c->optimizer->v, 4 * m->num_params};
  if (c->rng_state) blocks[n++] = (CheckpointBlock){c->rng_state, c->rng_state_bytes};
  return n;
}

int checkpoint_write_file(const char *path, const CheckpointContents *c) {
  Text header = {0};
  CheckpointBlock blocks[4];
  int n = describe(c, path, &header, blocks);
  int rc = n < 0 ? -1 : checkpoint_file_write(path, header.buf, header.len, blocks, n);
  if (n > 0) free((void *)blocks[0].data);
  free(header.buf);
  return rc;
}

int checkpoint_save(const char *dir, const CheckpointContents *c, int max_to_keep,
                    char *out_path, size_t out_path_size) {
  Text header = {0};
  CheckpointBlock blocks[4];
  int n = describe(c, dir, &header, blocks);
  int rc = n < 0 ? -1
                 : checkpoint_dir_save(dir, c->global_step, c->validation_mape, max_to_keep,
                                       header.buf, header.len, blocks, n, out_path, out_path_size);
  if (n > 0) free((void *)blocks[0].data);
  free(header.buf);
  return rc;
}

/* --------------------------------------------------------------- reading */

static int parse_int(const char *s, int *out) {
  int64_t v;
  if (checkpoint_parse_int64(s, &v) || v < -2147483647LL || v > 2147483647LL) return -1;
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
  if (f->kind == FIELD_ENUM) {
    for (int k = 0; f->names[k]; k++)
      if (strcmp(value, f->names[k]) == 0) return *(int *)base = k, 0;
    return -1;
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
  if (strcmp(key, "global_step") == 0) return checkpoint_parse_int64(value, &c->global_step);
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
    if (!isfinite(c->validation_mape) || c->validation_mape < 0) c->validation_mape = NAN; /* none */
    return end == value || *end ? -1 : 0;
  }
  if (strcmp(key, "num_params") == 0) {
    int64_t n;
    if (checkpoint_parse_int64(value, &n) || n < 0) return -1;
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
  if (strcmp(key, "optimizer.step") == 0) return checkpoint_parse_int64(value, &c->optimizer_step);
  if (strcmp(key, "rng_state_bytes") == 0) {
    int64_t n;
    if (checkpoint_parse_int64(value, &n) || n < 0) return -1;
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
    if (*tensor_floats > ((size_t)1 << 48)) return -1; /* far beyond any file */
    return 0;
  }
  return 0; /* unknown key from a newer writer */
}

static int open_resolved(Checkpoint *c) {
  if (checkpoint_file_read(&c->file, c->path)) return -1;
  const char *path = c->file.path;
  c->path = path;
  size_t header_len = c->file.header_len;
  /* header lines */
  char *text = xmalloc(header_len + 1);
  memcpy(text, c->file.data + CHECKPOINT_PREAMBLE_BYTES, header_len);
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
    gr_error("%s: malformed checkpoint: %d tokens but its config.vocab_size is %d", path, c->vocab.size,
             c->config.vocab_size);
    return -1;
  }
  /* every count is checked against the config and the file before use */
  char why[256];
  size_t implied;
  gr_error_capture_begin(why, sizeof why);
  int bad_config = granite_config_num_params(&c->config, &implied);
  gr_error_capture_end();
  if (bad_config) {
    gr_error("%s: malformed checkpoint: %s", path, why);
    return -1;
  }
  if (c->num_params != implied || tensor_floats != implied) {
    gr_error("%s: malformed checkpoint: num_params %zu and %zu tensor values, but its config makes %zu parameters",
             path, c->num_params, tensor_floats, implied);
    return -1;
  }
  int buffers = c->has_optimizer ? optimizer_num_buffers(c->optimizer_type) : 0;
  size_t payload = c->file.payload_bytes, rest = payload;
  bool fits = tensor_floats <= rest / 4;
  if (fits) rest -= 4 * tensor_floats;
  fits = fits && (buffers == 0 || c->num_params <= rest / (4 * (size_t)buffers));
  if (fits) rest -= 4 * (size_t)buffers * c->num_params;
  if (!fits || rest != c->rng_state_bytes) {
    gr_error("%s: malformed checkpoint: the header describes %zu parameters, %d optimizer buffer(s) and %zu "
             "random-state bytes, which do not make the %zu payload bytes of the file",
             path, tensor_floats, buffers, c->rng_state_bytes, payload);
    return -1;
  }
  if (c->optimizer_step < 0) {
    gr_error("%s: malformed checkpoint: optimizer.step %lld", path, (long long)c->optimizer_step);
    return -1;
  }
  c->params_at = c->file.payload_at;
  c->optimizer_at = c->params_at + 4 * tensor_floats;
  size_t rng_at = c->optimizer_at + 4 * (size_t)buffers * c->num_params;
  c->rng_state = c->rng_state_bytes ? c->file.data + rng_at : NULL;
  return 0;
}

int checkpoint_open(Checkpoint *c, const char *path) {
  memset(c, 0, sizeof *c);
  c->validation_mape = NAN;
  char resolved[4096];
  if (checkpoint_resolve_path(path, resolved, sizeof resolved)) return -1;
  c->path = resolved;
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
  if (c->num_params != m->num_params) {
    gr_error("%s: checkpoint has num_params %zu, the model %zu", c->path, c->num_params, m->num_params);
    return -1;
  }
  for (int k = 0; k < c->num_tensors; k++) {
    const ParamTensor *s = &c->tensors[k];
    memcpy(m->params + m->tensors[k].offset, c->file.data + c->params_at + 4 * s->offset,
           4 * (size_t)s->rows * (size_t)s->cols);
  }
  return 0;
}

int checkpoint_load_optimizer(const Checkpoint *c, size_t model_num_params, Optimizer *o) {
  memset(o, 0, sizeof *o);
  if (!c->has_optimizer) {
    gr_error("%s: checkpoint holds no optimizer state", c->path);
    return -1;
  }
  if (c->num_params != model_num_params) {
    gr_error("%s: checkpoint has num_params %zu, the model %zu", c->path, c->num_params, model_num_params);
    return -1;
  }
  optimizer_init(o, c->optimizer_type, c->num_params);
  o->step = c->optimizer_step;
  size_t bytes = 4 * c->num_params;
  int buffers = optimizer_num_buffers(c->optimizer_type);
  if (buffers >= 1) memcpy(o->m, c->file.data + c->optimizer_at, bytes);
  if (buffers >= 2) memcpy(o->v, c->file.data + c->optimizer_at + bytes, bytes);
  return 0;
}

void checkpoint_close(Checkpoint *c) {
  for (int i = 0; i < c->vocab.size; i++) free(c->vocab.tokens[i]);
  free(c->vocab.tokens);
  for (int i = 0; i < c->num_tasks; i++) free(c->task_names[i]);
  free(c->task_names);
  checkpoint_meta_free(&c->meta);
  free(c->tensors);
  checkpoint_file_free(&c->file);
  memset(c, 0, sizeof *c);
}

