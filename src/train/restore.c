#include "train/restore.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/optimizer.h"
#include "train/precision.h"
#include "util/common.h"

static void layers_text(const int *v, int n, char *buf, size_t size) {
  size_t k = 0;
  buf[0] = 0;
  for (int i = 0; i < n && k < size; i++) k += (size_t)snprintf(buf + k, size - k, i ? ",%d" : "%d", v[i]);
}

/* One field of GraniteConfig and the flag that sets it. */
typedef enum { F_INT, F_BOOL, F_LAYERS, F_ENUM } FieldKind;
typedef struct {
  const char *flag;
  FieldKind kind;
  size_t offset, count_offset;
  const char *const *names; /* F_ENUM: the int's names */
} ConfigField;

#define INT_FIELD(flag, member) {flag, F_INT, offsetof(GraniteConfig, member), 0}
#define BOOL_FIELD(flag, member) {flag, F_BOOL, offsetof(GraniteConfig, member), 0}
#define ENUM_FIELD(flag, member, names) {flag, F_ENUM, offsetof(GraniteConfig, member), 0, names}
#define LAYER_FIELD(flag, member) \
  {flag, F_LAYERS, offsetof(GraniteConfig, member), offsetof(GraniteConfig, num_##member)}

static const ConfigField config_fields[] = {
    INT_FIELD("gematria_node_embedding_size", node_embedding_size),
    INT_FIELD("gematria_edge_embedding_size", edge_embedding_size),
    INT_FIELD("gematria_global_embedding_size", global_embedding_size),
    LAYER_FIELD("gematria_node_update_layers", node_update_layers),
    LAYER_FIELD("gematria_edge_update_layers", edge_update_layers),
    LAYER_FIELD("gematria_global_update_layers", global_update_layers),
    LAYER_FIELD("gematria_readout_layers", readout_layers),
    LAYER_FIELD("gematria_task_readout_layers", task_readout_layers),
    INT_FIELD("gematria_num_message_passing_iterations", num_message_passing_iterations),
    BOOL_FIELD("gematria_use_sent_edges", use_sent_edges),
    BOOL_FIELD("gematria_graph_module_residual_connections", graph_module_residual_connections),
    BOOL_FIELD("gematria_readout_residual_connections", readout_residual_connections),
    BOOL_FIELD("gematria_task_readout_residual_connections", task_readout_residual_connections),
    BOOL_FIELD("gematria_graph_module_layer_normalization", graph_module_layer_normalization),
    BOOL_FIELD("gematria_readout_input_layer_normalization", readout_input_layer_normalization),
    BOOL_FIELD("gematria_task_readout_input_layer_normalization", task_readout_input_layer_normalization),
    BOOL_FIELD("gematria_seq2seq", seq2seq),
    BOOL_FIELD("granite_loop_carried_edges", loop_carried_edges),
    BOOL_FIELD("granite_register_aliasing", register_aliasing),
    BOOL_FIELD("granite_critical_path", critical_path),
    INT_FIELD("granite_resource_bound", resource_bound),
    ENUM_FIELD("granite_critical_path_latency", critical_path_latency, granite_latency_names),
    BOOL_FIELD("granite_critical_path_token_bias", critical_path_token_bias),
};

int check_config_against_flags(const GematriaFlags *f, const GraniteConfig *ckpt, bool only_explicit,
                               const char *ckpt_path) {
  GraniteConfig want;
  flags_to_config(f, &want, ckpt->vocab_size);
  for (size_t i = 0; i < ARRAY_LEN(config_fields); i++) {
    const ConfigField *cf = &config_fields[i];
    if (only_explicit && !flags_was_set(f, cf->flag)) continue;
    const char *a = (const char *)&want + cf->offset, *b = (const char *)ckpt + cf->offset;
    char va[96], vb[96];
    bool differ;
    if (cf->kind == F_INT) {
      differ = *(const int *)a != *(const int *)b;
      snprintf(va, sizeof va, "%d", *(const int *)a);
      snprintf(vb, sizeof vb, "%d", *(const int *)b);
    } else if (cf->kind == F_BOOL) {
      differ = *(const bool *)a != *(const bool *)b;
      snprintf(va, sizeof va, "%s", *(const bool *)a ? "true" : "false");
      snprintf(vb, sizeof vb, "%s", *(const bool *)b ? "true" : "false");
    } else if (cf->kind == F_ENUM) {
      differ = *(const int *)a != *(const int *)b;
      snprintf(va, sizeof va, "%s", cf->names[*(const int *)a]);
      snprintf(vb, sizeof vb, "%s", cf->names[*(const int *)b]);
    } else {
      int na = *(const int *)((const char *)&want + cf->count_offset);
      int nb = *(const int *)((const char *)ckpt + cf->count_offset);
      differ = na != nb || memcmp(a, b, (size_t)na * sizeof(int));
      layers_text((const int *)a, na, va, sizeof va);
      layers_text((const int *)b, nb, vb, sizeof vb);
    }
    if (differ) {
      gr_error("--%s='%s' contradicts the checkpoint %s, which was trained with '%s'", cf->flag, va, ckpt_path, vb);
      return -1;
    }
  }
  bool tasks_given = flags_was_set(f, "gematria_throughput_source_filter") || flags_was_set(f, "gematria_task_names");
  if ((!only_explicit || tasks_given) && want.num_tasks != ckpt->num_tasks) {
    gr_error("--gematria_throughput_source_filter gives %d task(s) but the checkpoint %s has %d", want.num_tasks,
             ckpt_path, ckpt->num_tasks);
    return -1;
  }
  return 0;
}

int check_same_vocab(const Vocab *a, const Vocab *b, const char *tokens_path, const char *ckpt_path) {
  for (int i = 0; i < a->size && i < b->size; i++) {
    if (strcmp(a->tokens[i], b->tokens[i])) {
      gr_error("--gematria_tokens_file=%s differs from the token list of the checkpoint %s (token %d is '%s' there, "
               "'%s' here); a model is only valid with its own token list (spec §8.9)",
               tokens_path, ckpt_path, i, b->tokens[i], a->tokens[i]);
      return -1;
    }
  }
  if (a->size != b->size) {
    gr_error("--gematria_tokens_file=%s has %d tokens but the checkpoint %s was trained with %d; a model is only valid "
             "with its own token list (spec §8.9)",
             tokens_path, a->size, ckpt_path, b->size);
    return -1;
  }
  return 0;
}

int check_tasks_against_flags(const GematriaFlags *f, const Checkpoint *c) {
  if (!flags_was_set(f, "gematria_task_names")) return 0;
  for (int t = 0; t < c->num_tasks && t < f->task_names.count; t++) {
    if (strcmp(f->task_names.items[t], c->task_names[t])) {
      gr_error("--gematria_task_names: task %d is '%s' but the checkpoint %s calls it '%s'", t + 1,
               f->task_names.items[t], c->path, c->task_names[t]);
      return -1;
    }
  }
  if (f->task_names.count != c->num_tasks) {
    gr_error("--gematria_task_names gives %d task(s) but the checkpoint %s has %d", f->task_names.count, c->path,
             c->num_tasks);
    return -1;
  }
  return 0;
}

int restore_model_for_inference(const GematriaFlags *f, Checkpoint *ck, GraniteModel *m) {
  if (!f->checkpoint_file[0]) {
    gr_error("--gematria_checkpoint_file is required (e.g. --gematria_checkpoint_file=DIR/model.ckpt-1000)");
    return -1;
  }
  if (checkpoint_open(ck, f->checkpoint_file)) return -1;
  if (check_config_against_flags(f, &ck->config, true, ck->path) || check_tasks_against_flags(f, ck)) goto fail;
  if (f->tokens_file) {
    Vocab v;
    if (vocab_load(&v, f->tokens_file)) goto fail;
    int bad = check_same_vocab(&v, &ck->vocab, f->tokens_file, ck->path);
    vocab_free(&v);
    if (bad) goto fail;
  }
  if (granite_model_create(m, &ck->config)) goto fail;
  if (checkpoint_load_params(ck, m)) {
    granite_model_destroy(m);
    goto fail;
  }
  size_t bad_element;
  int bad = find_nonfinite_gradient(m->params, m->tensors, m->num_tensors, &bad_element);
  if (bad >= 0) { /* the trainer never saves such a model; refuse a foreign one */
    gr_error("%s: parameter %s holds a NaN or infinite value (element %zu); this checkpoint cannot predict",
             ck->path, m->tensors[bad].name, bad_element);
    granite_model_destroy(m);
    goto fail;
  }
  granite_set_inference_only(m, true); /* predict/eval never run backward: less memory */
  granite_set_data_parallel(m, omp_get_max_threads()); /* one batch slice per thread (model/replicas.h) */
  precision_apply(m, f->precision);
  return 0;
fail:
  checkpoint_close(ck);
  return -1;
}

void source_filters_for(const GematriaFlags *f, const Checkpoint *ck, const char **out) {
  bool given = flags_was_set(f, "gematria_throughput_source_filter");
  for (int t = 0; t < ck->num_tasks; t++) {
    char key[64];
    snprintf(key, sizeof key, "source_filter.%d", t);
    const char *stored = checkpoint_meta_get(&ck->meta, key);
    if (given && t < f->throughput_source_filter.count)
      out[t] = f->throughput_source_filter.items[t];
    else
      out[t] = stored ? stored : ".*";
  }
}

double label_scaling_for(const GematriaFlags *f, const Checkpoint *ck) {
  if (flags_was_set(f, "gematria_input_file_scaling")) return f->input_file_scaling;
  const char *stored = checkpoint_meta_get(&ck->meta, "input_file_scaling");
  double v = stored ? strtod(stored, NULL) : 1.0;
  return isfinite(v) && v > 0 ? v : 1.0;
}
