/* Golden test of the model math: forward activations, predictions, loss,
 * every gradient and one Adam step against shared/data/reference-model
 * (float64 PyTorch reference of spec §4-§5). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/loss.h"
#include "model/model.h"
#include "json_mini.c" /* the team's test JSON reader */
#include "testing.h"
#include "train/optimizer.h"

static const JsonValue *tensors;

static const JsonValue *tensor(const char *name) { return json_get(tensors, name); }

/* flat values of a tensor (nested arrays flattened) */
static double number(const JsonValue *v) {
  if (v->type == JSON_BOOL) return v->boolean;
  return v->type == JSON_NUMBER ? strtod(v->text, NULL) : NAN;
}

static void flatten(const JsonValue *v, double *out, int *n) {
  if (v->type == JSON_ARRAY) {
    for (size_t i = 0; i < v->n; i++) flatten(&v->items[i], out, n);
  } else {
    out[(*n)++] = number(v);
  }
}

static int count_values(const JsonValue *v) {
  if (v->type != JSON_ARRAY) return 1;
  int n = 0;
  for (size_t i = 0; i < v->n; i++) n += count_values(&v->items[i]);
  return n;
}

static double *values(const char *name, int *n) {
  const JsonValue *t = tensor(name);
  if (!t) return NULL;
  const JsonValue *vals = json_get(t, "values");
  double *out = malloc(sizeof(double) * (count_values(vals) + 1));
  *n = 0;
  flatten(vals, out, n);
  return out;
}

static int32_t *int_values(const char *name, int *n) {
  double *d = values(name, n);
  int32_t *out = malloc(sizeof(int32_t) * (*n + 1));
  for (int i = 0; i < *n; i++) out[i] = (int32_t)d[i];
  free(d);
  return out;
}

static void read_layers(const JsonValue *cfg, const char *key, int *sizes, int *count) {
  const JsonValue *a = json_get(cfg, key);
  *count = (int)a->n;
  for (size_t i = 0; i < a->n; i++) sizes[i] = (int)number(&a->items[i]);
}

static bool cfg_bool(const JsonValue *cfg, const char *key) { return number(json_get(cfg, key)) != 0; }
static int cfg_int(const JsonValue *cfg, const char *key) { return (int)number(json_get(cfg, key)); }

/* Worst error of a group: |a-b| / max(|b|, 1e-2·max|b| of the tensor, 1e-7). */
typedef struct {
  const char *name;
  double worst;
  char where[128];
} Group;

static void compare(Group *g, const char *name, const float *got, const double *want, int n) {
  double scale = 0;
  for (int i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
  for (int i = 0; i < n; i++) {
    double den = fmax(fmax(fabs(want[i]), 1e-2 * scale), 1e-7);
    double err = fabs(got[i] - want[i]) / den;
    if (getenv("REF_DEBUG") && err > 1e-3)
      fprintf(stderr, "  mismatch %s[%d] (row %d) got %.7g want %.7g\n", name, i, i, got[i], want[i]);
    if (err > g->worst || isnan(err)) {
      g->worst = isnan(err) ? INFINITY : err;
      snprintf(g->where, sizeof(g->where), "%s[%d] %.9g vs %.9g", name, i, got[i], want[i]);
    }
  }
}

static void report(Group *g, const char *file, double tol) {
  printf("  %-8s %-12s worst rel err %.3g  (%s)\n", file, g->name, g->worst, g->where);
  CHECK_MSG(g->worst <= tol, "%s %s: %.3g > %.3g at %s", file, g->name, g->worst, tol, g->where);
}

static void run_file(const char *dir, const char *file) {
  char path[512];
  snprintf(path, sizeof(path), "%s/reference-model/%s.json", dir, file);
  size_t len;
  char *text = read_file_text(path, &len);
  CHECK_MSG(text != NULL, "cannot read %s", path);
  if (!text) return;
  JsonValue root_value, *root = &root_value;
  size_t bad_at = 0;
  int parsed = json_parse(text, len, root, &bad_at);
  CHECK_MSG(parsed == 0, "bad JSON %s at offset %zu", path, bad_at);
  if (parsed != 0) return;
  tensors = json_get(root, "tensors");
  const JsonValue *cj = json_get(root, "config");

  GraniteConfig cfg;
  granite_config_default(&cfg);
  cfg.vocab_size = cfg_int(cj, "V");
  cfg.num_tasks = cfg_int(cj, "T");
  cfg.node_embedding_size = cfg_int(cj, "N");
  cfg.edge_embedding_size = cfg_int(cj, "E");
  cfg.global_embedding_size = cfg_int(cj, "G");
  read_layers(cj, "node_layers", cfg.node_update_layers, &cfg.num_node_update_layers);
  read_layers(cj, "edge_layers", cfg.edge_update_layers, &cfg.num_edge_update_layers);
  read_layers(cj, "global_layers", cfg.global_update_layers, &cfg.num_global_update_layers);
  read_layers(cj, "readout_layers", cfg.readout_layers, &cfg.num_readout_layers);
  read_layers(cj, "task_layers", cfg.task_readout_layers, &cfg.num_task_readout_layers);
  cfg.num_message_passing_iterations = cfg_int(cj, "K");
  cfg.use_sent_edges = cfg_bool(cj, "use_sent_edges");
  cfg.graph_module_residual_connections = cfg_bool(cj, "graph_residual");
  cfg.readout_residual_connections = cfg_bool(cj, "readout_residual");
  cfg.task_readout_residual_connections = cfg_bool(cj, "task_residual");
  cfg.graph_module_layer_normalization = cfg_bool(cj, "graph_ln");
  cfg.readout_input_layer_normalization = cfg_bool(cj, "readout_ln");
  cfg.task_readout_input_layer_normalization = cfg_bool(cj, "task_ln");
  cfg.seq2seq = cfg_bool(cj, "seq2seq");
  LossType lt;
  LossNorm ln;
  CHECK(loss_type_parse(json_get_string(cj, "loss_type", ""), &lt) == 0);
  CHECK(loss_norm_parse(json_get_string(cj, "loss_normalization", ""), &ln) == 0);
  double lr = number(json_get(cj, "learning_rate"));

  GraniteModel model;
  CHECK(granite_model_create(&model, &cfg) == 0);

  /* parameters: one to one with the reference's param/... */
  int num_ref_params = 0;
  for (size_t i = 0; i < tensors->n; i++) {
    const char *key = tensors->keys[i];
    if (strncmp(key, "param/", 6) != 0) continue;
    num_ref_params++;
    const ParamTensor *t = granite_find_tensor(&model, key + 6);
    CHECK_MSG(t != NULL, "%s: model has no tensor %s", file, key + 6);
    if (!t) continue;
    int n;
    double *v = values(key, &n);
    CHECK_MSG(n == t->rows * t->cols, "%s: %s has %d values, model %d", file, key, n, t->rows * t->cols);
    for (int k = 0; k < n && k < t->rows * t->cols; k++) model.params[t->offset + k] = (float)v[k];
    free(v);
  }
  CHECK_MSG(num_ref_params == model.num_tensors, "%s: reference has %d params, model %d", file,
            num_ref_params, model.num_tensors);

  /* the batch from input/... */
  Batch b;
  memset(&b, 0, sizeof(b));
  int n, B, I, cnt;
  b.node_tokens = int_values("input/node_tokens", &n);
  b.global_tokens = b.node_tokens;
  b.edge_types = int_values("input/edge_types", &b.num_edges);
  b.senders = int_values("input/senders", &cnt);
  b.receivers = int_values("input/receivers", &cnt);
  b.node_block = int_values("input/node_graph", &cnt);
  b.edge_block = int_values("input/edge_graph", &cnt);
  int32_t *n_node = int_values("input/n_node", &B), *n_edge = int_values("input/n_edge", &cnt);
  b.instruction_nodes = int_values("input/instr_idx", &I);
  b.instruction_block = int_values("input/delta_block_index", &cnt);
  b.num_nodes = n;
  b.num_blocks = B;
  b.num_instructions = I;
  b.num_tasks = cfg.num_tasks;
  b.node_offset = calloc(B + 1, sizeof(int32_t));
  b.edge_offset = calloc(B + 1, sizeof(int32_t));
  for (int i = 0; i < B; i++) {
    b.node_offset[i + 1] = b.node_offset[i] + n_node[i];
    b.edge_offset[i + 1] = b.edge_offset[i] + n_edge[i];
  }
  int T = cfg.num_tasks;
  double *lab = values("input/expected_outputs", &cnt), *msk = values("input/output_mask", &cnt);
  b.labels = malloc(sizeof(float) * B * T);
  b.label_mask = malloc(B * T);
  for (int i = 0; i < B * T; i++) b.labels[i] = (float)lab[i], b.label_mask[i] = msk[i] != 0;

  int R = granite_output_rows(&model, &b);
  float *out = malloc(sizeof(float) * R * T), *bp = malloc(sizeof(float) * B * T);
  granite_forward(&model, &b, out, bp);

  Group acts = {"activations", 0, ""}, preds = {"predictions", 0, ""}, loss_g = {"loss", 0, ""},
        grads = {"gradients", 0, ""}, adam = {"adam_step1", 0, ""};
  int acts_compared = 0;
  for (size_t i = 0; i < tensors->n; i++) {
    const char *key = tensors->keys[i];
    if (strncmp(key, "act/", 4) != 0) continue;
    int rows, cols;
    const float *a = granite_activation(&model, key + 4, &rows, &cols);
    CHECK_MSG(a != NULL, "%s: no activation %s", file, key);
    if (!a) continue;
    double *v = values(key, &cnt);
    CHECK_MSG(cnt == rows * cols, "%s: %s size %d vs %d", file, key, cnt, rows * cols);
    /* the reference's "_pre" is the update MLP output before the residual;
     * ours is the LN input (after it): subtract the iteration's input */
    int t;
    char what[32];
    float *adj = NULL;
    if (cfg.graph_module_residual_connections && strstr(key, "_pre") &&
        sscanf(key, "act/core/iter_%d/%31[a-z]", &t, what) == 2) {
      char prev[64];
      if (t == 0) snprintf(prev, sizeof(prev), "encoder/%s", what);
      else snprintf(prev, sizeof(prev), "core/iter_%d/%s", t - 1, what);
      int r2, c2;
      const float *in = granite_activation(&model, prev, &r2, &c2);
      adj = malloc(sizeof(float) * rows * cols);
      for (int k = 0; k < rows * cols; k++) adj[k] = a[k] - in[k];
      a = adj;
    }
    if (cnt == rows * cols) compare(&acts, key, a, v, cnt), acts_compared++;
    free(adj);
    free(v);
  }
  CHECK(acts_compared > 10);
  double *v = values("output/row_outputs", &cnt);
  CHECK(cnt == R * T);
  compare(&preds, "row_outputs", out, v, R * T);
  free(v);
  v = values("output/block_predictions", &cnt);
  compare(&preds, "block_predictions", bp, v, B * T);
  free(v);

  /* loss on block predictions (the reference's loss_predictions), then backward */
  float *d_block = malloc(sizeof(float) * B * T), *d_out = malloc(sizeof(float) * R * T);
  LossResult lr_res = loss_compute(lt, ln, bp, b.labels, b.label_mask, B, T, NULL, d_block);
  v = values("output/loss", &cnt);
  float loss_f = (float)lr_res.objective;
  compare(&loss_g, "loss", &loss_f, v, 1);
  free(v);
  granite_block_grad_to_outputs(&model, &b, d_block, d_out);
  memset(model.grads, 0, sizeof(float) * model.num_params);
  granite_backward(&model, &b, d_out);

  for (int i = 0; i < model.num_tensors; i++) {
    const ParamTensor *t = &model.tensors[i];
    char key[160];
    snprintf(key, sizeof(key), "grad/%s", t->name);
    int sz = t->rows * t->cols;
    v = values(key, &cnt);
    if (v) {
      CHECK(cnt == sz);
      compare(&grads, key, model.grads + t->offset, v, sz);
      free(v);
    } else {
      /* must be listed in grad_none and be exactly zero */
      bool listed = false;
      const JsonValue *none = json_get(json_get(tensors, "grad_none"), "values");
      for (size_t k = 0; none && k < none->n; k++) listed |= strcmp(none->items[k].text, t->name) == 0;
      CHECK_MSG(listed, "%s: no grad for %s", file, t->name);
      float maxabs = 0;
      for (int k = 0; k < sz; k++) maxabs = fmaxf(maxabs, fabsf(model.grads[t->offset + k]));
      CHECK_MSG(maxabs == 0.0f, "%s: gradient of %s should be 0, max |g| = %g", file, t->name, maxabs);
    }
  }

  /* one TF1 Adam step at t = 1 (spec §5.4) from zero moments */
  double b1 = 0.9, b2 = 0.999, eps = 1e-8;
  double alpha = lr * sqrt(1 - b2) / (1 - b1);
  for (int i = 0; i < model.num_tensors; i++) {
    const ParamTensor *t = &model.tensors[i];
    char key[160];
    snprintf(key, sizeof(key), "adam_step1/%s", t->name);
    v = values(key, &cnt);
    CHECK_MSG(v != NULL, "%s: no %s", file, key);
    if (!v) continue;
    int sz = t->rows * t->cols;
    float *p1 = malloc(sizeof(float) * sz);
    for (int k = 0; k < sz; k++) {
      float g = model.grads[t->offset + k];
      float mm = (float)((1 - b1) * g), vv = (float)((1 - b2) * (double)g * g);
      p1[k] = model.params[t->offset + k] - (float)(alpha * mm / (sqrt(vv) + eps));
    }
    compare(&adam, key, p1, v, sz);
    free(p1);
    free(v);
  }

  /* the same step through the trainer's optimizer (src/train/optimizer.c) */
  Group adam_opt = {"optimizer", 0, ""};
  {
    Optimizer opt;
    optimizer_init(&opt, OPTIMIZER_ADAM, model.num_params);
    float *p = malloc(sizeof(float) * model.num_params);
    memcpy(p, model.params, sizeof(float) * model.num_params);
    optimizer_update(&opt, p, model.grads, (float)lr);
    for (int i = 0; i < model.num_tensors; i++) {
      const ParamTensor *t = &model.tensors[i];
      char key[160];
      snprintf(key, sizeof(key), "adam_step1/%s", t->name);
      v = values(key, &cnt);
      if (v) compare(&adam_opt, key, p + t->offset, v, t->rows * t->cols);
      free(v);
    }
    free(p);
    optimizer_free(&opt);
  }

  report(&acts, file, 1e-4);
  report(&preds, file, 1e-4);
  report(&loss_g, file, 1e-5);
  report(&grads, file, 2e-4);
  report(&adam, file, 1e-4);
  report(&adam_opt, file, 1e-4);

  /* the reference path (concatenated inputs) gives the same numbers */
  granite_set_reference_path(&model, true);
  float *out2 = malloc(sizeof(float) * R * T);
  float *g1 = malloc(sizeof(float) * model.num_params);
  memcpy(g1, model.grads, sizeof(float) * model.num_params);
  granite_forward(&model, &b, out2, NULL);
  memset(model.grads, 0, sizeof(float) * model.num_params);
  granite_backward(&model, &b, d_out);
  double worst_o = 0, worst_g = 0, gscale = 0;
  double oscale = 0;
  for (int i = 0; i < R * T; i++) oscale = fmax(oscale, fabs(out[i]));
  for (int i = 0; i < R * T; i++) worst_o = fmax(worst_o, fabs(out2[i] - out[i]) / oscale);
  for (size_t i = 0; i < model.num_params; i++) gscale = fmax(gscale, fabs(g1[i]));
  for (size_t i = 0; i < model.num_params; i++) worst_g = fmax(worst_g, fabs(model.grads[i] - g1[i]) / gscale);
  printf("  %-8s split vs reference path: outputs %.3g, gradients %.3g (of max |value|)\n", file, worst_o, worst_g);
  CHECK(worst_o < 1e-5);
  CHECK(worst_g < 1e-5);

  free(out2); free(g1); free(out); free(bp); free(d_block); free(d_out);
  free(lab); free(msk); free(n_node); free(n_edge);
  free(b.node_tokens); free(b.edge_types); free(b.senders); free(b.receivers); free(b.node_block);
  free(b.edge_block); free(b.instruction_nodes); free(b.instruction_block); free(b.node_offset);
  free(b.edge_offset); free(b.labels); free(b.label_mask);
  granite_model_destroy(&model);
  json_free(root);
  free(text);
}

int main(void) {
  const char *dir = shared_data_dir();
  if (!dir) {
    test_skip("../shared/data not found: the golden model test");
    return test_summary("test_reference_model");
  }
  run_file(dir, "small");
  run_file(dir, "options");
  run_file(dir, "seq2seq");
  return test_summary("test_reference_model");
}
