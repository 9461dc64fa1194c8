/* Whole-model gradient checks: for tiny configurations covering every
 * option that changes the math, granite_backward against central finite
 * differences of granite_forward, and the split first layers (spec §7)
 * against the plain concatenated path. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "testing.h"
#include "util/rng.h"

#define V 23

static Rng rng;
static float fd_step = 3e-2f;

/* Edge types the random graphs use: the rows of the model's edge table. */
static int batch_edge_types = GEMATRIA_NUM_EDGE_TYPES;

/* true: the batches get random dependency DAGs and recurrences (--granite_critical_path). */
static bool batch_critical_path = false;

/* Random DAG over each block's instructions (each earlier instruction a
 * predecessor with probability 1/2) and two recurrences per block. */
static void make_critical_path(Batch *b) {
  int B = b->num_blocks, I = b->num_instructions;
  b->dep_offset = malloc(sizeof(int32_t) * (I + 1));
  b->dep_from = malloc(sizeof(int32_t) * (I * I + 1));
  b->rec_offset = malloc(sizeof(int32_t) * (B + 1));
  b->rec_writer = malloc(sizeof(int32_t) * 2 * B);
  b->rec_reader_offset = malloc(sizeof(int32_t) * (2 * B + 1));
  b->rec_readers = malloc(sizeof(int32_t) * 4 * B);
  int d = 0, r = 0, k = 0;
  b->dep_offset[0] = 0, b->rec_offset[0] = 0, b->rec_reader_offset[0] = 0;
  for (int i = 0, first = 0; i < I; i++) {
    if (i > 0 && b->instruction_block[i] != b->instruction_block[i - 1]) first = i;
    for (int p = first; p < i; p++)
      if (rng_below(&rng, 2)) b->dep_from[d++] = p;
    b->dep_offset[i + 1] = d;
  }
  for (int blk = 0, first = 0; blk < B; blk++) {
    int end = first;
    while (end < I && b->instruction_block[end] == blk) end++;
    for (int q = 0; q < 2 && end > first; q++) {
      int w = first + (int)rng_below(&rng, (uint64_t)(end - first));
      int a = first + (int)rng_below(&rng, (uint64_t)(w - first + 1));
      int c = first + (int)rng_below(&rng, (uint64_t)(w - first + 1));
      b->rec_readers[k++] = a < c ? a : c;
      if (a != c) b->rec_readers[k++] = a < c ? c : a;
      b->rec_writer[r] = w;
      b->rec_reader_offset[++r] = k;
    }
    b->rec_offset[blk + 1] = r;
    first = end;
  }
  b->num_deps = d, b->num_recurrences = r, b->num_rec_readers = k;
}

/* A batch of random graphs: nodes per block in sizes[], about 1.2 edges per node. */
static void make_batch(Batch *b, const int *sizes, int blocks, int T) {
  memset(b, 0, sizeof(*b));
  int n = 0, m = 0, I = 0;
  for (int k = 0; k < blocks; k++) n += sizes[k], m += sizes[k] + sizes[k] / 4, I += (sizes[k] + 2) / 3;
  b->num_blocks = blocks, b->num_nodes = n, b->num_edges = m, b->num_instructions = I, b->num_tasks = T;
  b->node_tokens = malloc(sizeof(int32_t) * n);
  b->global_tokens = malloc(sizeof(int32_t) * n);
  b->node_block = malloc(sizeof(int32_t) * n);
  b->edge_types = malloc(sizeof(int32_t) * m);
  b->senders = malloc(sizeof(int32_t) * m);
  b->receivers = malloc(sizeof(int32_t) * m);
  b->edge_block = malloc(sizeof(int32_t) * m);
  b->node_offset = malloc(sizeof(int32_t) * (blocks + 1));
  b->edge_offset = malloc(sizeof(int32_t) * (blocks + 1));
  b->instruction_nodes = malloc(sizeof(int32_t) * I);
  b->instruction_block = malloc(sizeof(int32_t) * I);
  int ni = 0, ei = 0, ii = 0;
  for (int k = 0; k < blocks; k++) {
    b->node_offset[k] = ni, b->edge_offset[k] = ei;
    int first = ni, count = sizes[k];
    for (int i = 0; i < count; i++, ni++) {
      b->node_tokens[ni] = (int32_t)rng_below(&rng, V);
      /* global tokens differ from node tokens for some nodes (OOV injection) */
      b->global_tokens[ni] = i % 3 == 1 ? (int32_t)rng_below(&rng, V) : b->node_tokens[ni];
      b->node_block[ni] = k;
      if (i % 3 == 0) b->instruction_nodes[ii] = ni, b->instruction_block[ii++] = k;
    }
    for (int j = 0; j < count + count / 4; j++, ei++) {
      b->edge_types[ei] = (int32_t)rng_below(&rng, (uint64_t)batch_edge_types);
      b->senders[ei] = first + (int32_t)rng_below(&rng, count);
      b->receivers[ei] = first + (int32_t)rng_below(&rng, count);
      b->edge_block[ei] = k;
    }
  }
  b->node_offset[blocks] = n, b->edge_offset[blocks] = m;
  if (batch_critical_path) make_critical_path(b);
}

static void free_batch(Batch *b) {
  free(b->node_tokens); free(b->global_tokens); free(b->node_block); free(b->edge_types);
  free(b->senders); free(b->receivers); free(b->edge_block); free(b->node_offset);
  free(b->edge_offset); free(b->instruction_nodes); free(b->instruction_block);
  free(b->dep_offset); free(b->dep_from); free(b->rec_offset); free(b->rec_writer);
  free(b->rec_reader_offset); free(b->rec_readers);
}

/* L = Σ c·block_predictions, in double */
static double objective(GraniteModel *m, const Batch *b, const float *c, float *out, float *bp) {
  granite_forward(m, b, out, bp);
  double L = 0;
  for (int i = 0; i < b->num_blocks * m->cfg.num_tasks; i++) L += (double)c[i] * bp[i];
  return L;
}

static void check_config(const char *name, const GraniteConfig *cfg) {
  GraniteModel m;
  CHECK(granite_model_create(&m, cfg) == 0);
  granite_model_init_params(&m, 99);
  /* LN parameters away from 1/0 so that their gradients are generic */
  for (int i = 0; i < m.num_tensors; i++) {
    const ParamTensor *t = &m.tensors[i];
    if (strstr(t->name, "/gamma") || strstr(t->name, "/beta"))
      for (int k = 0; k < t->rows; k++) m.params[t->offset + k] += (float)(0.4 * (rng_uniform(&rng) - 0.5));
    /* usages from near 0 to a few units, so that with the critical path on
     * some blocks' bound is C and others' a resource (both gradients tested) */
    if (strncmp(t->name, "resource_bound/", 15) == 0 && strstr(t->name, "/b"))
      for (int k = 0; k < t->rows; k++) m.params[t->offset + k] = (float)(2.0 * rng_uniform(&rng) - 2.5);
    /* token latency offsets away from their zero start */
    if (strcmp(t->name, "critical_path/token_bias") == 0)
      for (int k = 0; k < t->rows * t->cols; k++) m.params[t->offset + k] = (float)(0.5 * rng_uniform(&rng) - 0.25);
  }
  int sizes[3] = {7, 4, 9}, T = cfg->num_tasks;
  Batch b;
  make_batch(&b, sizes, 3, T);
  int R = granite_output_rows(&m, &b), B = b.num_blocks;
  float *out = malloc(sizeof(float) * R * T), *bp = malloc(sizeof(float) * B * T);
  float *c = malloc(sizeof(float) * B * T), *d_out = malloc(sizeof(float) * R * T);
  for (int i = 0; i < B * T; i++) c[i] = (float)(rng_uniform(&rng) * 2 - 1);

  objective(&m, &b, c, out, bp);
  granite_block_grad_to_outputs(&m, &b, c, d_out);
  memset(m.grads, 0, sizeof(float) * m.num_params);
  granite_backward(&m, &b, d_out);
  float *grad = malloc(sizeof(float) * m.num_params);
  memcpy(grad, m.grads, sizeof(float) * m.num_params);

  /* finite differences: per tensor the largest-gradient entry and two random ones */
  double worst = 0;
  char worst_at[256] = "";
  int probes = 0, zero_tensors = 0;
  for (int i = 0; i < m.num_tensors; i++) {
    const ParamTensor *t = &m.tensors[i];
    int size = t->rows * t->cols, best = 0;
    double gmax = 0;
    for (int k = 0; k < size; k++)
      if (fabs(grad[t->offset + k]) > gmax) gmax = fabs(grad[t->offset + k]), best = k;
    if (gmax == 0) {
      /* allowed only for a tensor the output does not read (e.g. the
       * last iteration's unread LN): then moving the whole tensor at once,
       * along a random direction, leaves the objective exactly unchanged. A
       * tensor the backward pass forgot changes it. */
      float *save = malloc(sizeof(float) * size), h = fd_step * 0.1f;
      memcpy(save, m.params + t->offset, sizeof(float) * size);
      float *dir = malloc(sizeof(float) * size);
      for (int k = 0; k < size; k++) dir[k] = rng_below(&rng, 2) ? 1.0f : -1.0f;
      for (int k = 0; k < size; k++) m.params[t->offset + k] = save[k] + h * dir[k];
      double Lp = objective(&m, &b, c, out, bp);
      for (int k = 0; k < size; k++) m.params[t->offset + k] = save[k] - h * dir[k];
      double Lm = objective(&m, &b, c, out, bp);
      memcpy(m.params + t->offset, save, sizeof(float) * size);
      free(save), free(dir);
      zero_tensors++;
      CHECK_MSG(Lp == Lm, "%s: %s: backward gives an all-zero gradient, but the objective moves with it "
                "(directional finite difference %.6g)", name, t->name, (Lp - Lm) / (2.0 * h));
      continue;
    }
    if (getenv("GRAD_PROBE") && strcmp(getenv("GRAD_PROBE"), t->name) == 0) {
      /* debugging aid: the finite difference of one entry over a sweep of steps */
      size_t at = t->offset + atoi(getenv("GRAD_PROBE_INDEX") ? getenv("GRAD_PROBE_INDEX") : "0");
      for (double hh = 1e-1; hh > 1e-4; hh /= 2) {
        float save = m.params[at];
        m.params[at] = save + (float)hh;
        double Lp = objective(&m, &b, c, out, bp);
        m.params[at] = save - (float)hh;
        double Lm = objective(&m, &b, c, out, bp);
        m.params[at] = save;
        printf("  %s h %.5f fd %.7g backward %.7g\n", name, hh, (Lp - Lm) / (2 * hh), grad[at]);
      }
    }
    int idx[3] = {best, (int)rng_below(&rng, size), (int)rng_below(&rng, size)};
    for (int p = 0; p < 3; p++) {
      size_t at = t->offset + idx[p];
      /* float32 forward passes: rounding noise dominates small steps, leaky
       * ReLU kinks and curvature large ones; take the best of three steps
       * (a wrong gradient agrees with none of them) */
      double err = INFINITY, fd = 0;
      for (int s = 0; s < 3; s++) {
        float save = m.params[at], h = fd_step * (s == 0 ? 1.0f : s == 1 ? 0.1f : 0.02f);
        m.params[at] = save + h;
        double Lp = objective(&m, &b, c, out, bp);
        m.params[at] = save - h;
        double Lm = objective(&m, &b, c, out, bp);
        m.params[at] = save;
        double fd_s = (Lp - Lm) / (2.0 * h);
        double err_s = fabs(fd_s - grad[at]) / fmax(fabs(grad[at]), fmax(0.05 * gmax, 1e-3));
        if (err_s < err) err = err_s, fd = fd_s;
      }
      probes++;
      if (err > worst) {
        worst = err;
        snprintf(worst_at, sizeof(worst_at), "%s[%d]: fd %.6g, backward %.6g", t->name, idx[p], fd, grad[at]);
      }
    }
  }
  printf("%-22s %3d tensors (%d with zero gradient, checked unread), %3d probes, worst FD rel err %.3g (%s)\n", name,
         m.num_tensors, zero_tensors, probes, worst, worst_at);
  CHECK_MSG(worst < 2e-2, "%s: %s", name, worst_at);

  /* split vs reference path: same outputs and gradients up to rounding */
  float *out_ref = malloc(sizeof(float) * R * T);
  objective(&m, &b, c, out, bp);
  granite_set_reference_path(&m, true);
  granite_forward(&m, &b, out_ref, NULL);
  memset(m.grads, 0, sizeof(float) * m.num_params);
  granite_backward(&m, &b, d_out);
  double oscale = 1e-6, gscale = 1e-12, dout = 0, dgrad = 0;
  for (int i = 0; i < R * T; i++) oscale = fmax(oscale, fabs(out[i]));
  for (int i = 0; i < R * T; i++) dout = fmax(dout, fabs(out[i] - out_ref[i]) / oscale);
  for (size_t i = 0; i < m.num_params; i++) gscale = fmax(gscale, fabs(grad[i]));
  for (size_t i = 0; i < m.num_params; i++) dgrad = fmax(dgrad, fabs(grad[i] - m.grads[i]) / gscale);
  printf("%-22s split vs reference path: outputs %.3g, gradients %.3g\n", name, dout, dgrad);
  CHECK(dout < 1e-5);
  CHECK(dgrad < 1e-5);
  granite_set_reference_path(&m, false);

  /* a second, larger batch and then the first again: the arena is reused */
  int sizes2[3] = {15, 12, 20};
  Batch b2;
  make_batch(&b2, sizes2, 3, T);
  int R2 = granite_output_rows(&m, &b2);
  float *out2 = malloc(sizeof(float) * R2 * T);
  granite_forward(&m, &b2, out2, NULL);
  size_t bytes = granite_work_bytes(&m);
  float *again = malloc(sizeof(float) * R * T);
  granite_forward(&m, &b, again, NULL);
  CHECK(granite_work_bytes(&m) == bytes);
  CHECK(memcmp(again, out, sizeof(float) * R * T) == 0); /* deterministic */
  /* inference-only mode: same outputs bit for bit, less memory, no backward */
  GraniteModel mi;
  CHECK(granite_model_create(&mi, cfg) == 0);
  memcpy(mi.params, m.params, sizeof(float) * m.num_params);
  granite_set_inference_only(&mi, true);
  granite_forward(&mi, &b, again, NULL);
  CHECK(memcmp(again, out, sizeof(float) * R * T) == 0);
  if (cfg->num_message_passing_iterations > 2) CHECK(granite_work_bytes(&mi) < bytes);
  memset(mi.grads, 0, sizeof(float) * mi.num_params);
  granite_backward(&mi, &b, d_out); /* refused with an error line */
  CHECK(mi.grads[0] == 0.0f);
  granite_model_destroy(&mi);
  free(out2); free(again); free_batch(&b2);

  free(out_ref); free(grad); free(out); free(bp); free(c); free(d_out);
  free_batch(&b);
  granite_model_destroy(&m);
}

static void base(GraniteConfig *c) {
  granite_config_default(c);
  c->vocab_size = V;
  c->node_embedding_size = 4;
  c->edge_embedding_size = 3;
  c->global_embedding_size = 5;
  c->num_message_passing_iterations = 2;
}

int main(void) {
  rng_seed(&rng, 5);
  if (getenv("FD_STEP")) fd_step = (float)atof(getenv("FD_STEP"));
  GraniteConfig c;

  base(&c);
  check_config("defaults", &c);

  base(&c); /* hidden update layers, sent edges, graph residuals, 3 iterations */
  c.use_sent_edges = true;
  c.graph_module_residual_connections = true;
  c.num_message_passing_iterations = 3;
  c.edge_update_layers[0] = 6, c.edge_update_layers[1] = 4, c.num_edge_update_layers = 2;
  c.node_update_layers[0] = 5, c.num_node_update_layers = 1;
  c.global_update_layers[0] = 3, c.num_global_update_layers = 1;
  check_config("layers+sent+residual", &c);

  base(&c); /* granite's options: loop-carried edge type, scaled output */
  c.loop_carried_edges = true;
  c.output_scale = 3.0f;
  batch_edge_types = granite_num_edge_types(&c);
  check_config("loop-carried+scale", &c);
  batch_edge_types = GEMATRIA_NUM_EDGE_TYPES;


  base(&c); /* every LN off, readout and task layers with projected residuals, 2 tasks */
  c.graph_module_layer_normalization = false;
  c.readout_input_layer_normalization = false;
  c.task_readout_input_layer_normalization = false;
  c.readout_layers[0] = 6, c.num_readout_layers = 1;
  c.task_readout_layers[0] = 4, c.task_readout_layers[1] = 3, c.num_task_readout_layers = 2;
  c.readout_residual_connections = true;
  c.task_readout_residual_connections = true;
  c.num_tasks = 2;
  check_config("no LN, projections", &c);

  base(&c); /* residuals without projection (equal widths), LNs on */
  c.readout_layers[0] = 4, c.readout_layers[1] = 5, c.num_readout_layers = 2; /* ends at G */
  c.task_readout_layers[0] = 5, c.num_task_readout_layers = 1;
  c.readout_residual_connections = true;
  c.task_readout_residual_connections = true;
  c.num_tasks = 3;
  check_config("identity residuals", &c);

  base(&c); /* seq2seq with graph residuals, sent edges, task layers, 2 tasks */
  c.seq2seq = true;
  c.use_sent_edges = true;
  c.graph_module_residual_connections = true;
  c.readout_input_layer_normalization = false;
  c.task_readout_layers[0] = 3, c.num_task_readout_layers = 1;
  c.num_tasks = 2;
  check_config("seq2seq", &c);

  base(&c); /* seq2seq, graph LN off, readout layers, mixed LN switches */
  c.seq2seq = true;
  c.graph_module_layer_normalization = false;
  c.task_readout_input_layer_normalization = false;
  c.readout_layers[0] = 3, c.num_readout_layers = 1;
  c.readout_residual_connections = true;
  c.node_update_layers[0] = 4, c.num_node_update_layers = 1;
  check_config("seq2seq, graph LN off", &c);

  base(&c); /* the critical-path read-out: latency heads, longest paths, smooth max; 2 tasks */
  c.critical_path = true;
  c.output_scale = 3.0f;
  c.num_tasks = 2;
  batch_critical_path = true;
  check_config("critical path", &c);
  c.graph_module_residual_connections = true;
  c.num_message_passing_iterations = 3;
  check_config("critical path, residual", &c);
  c.resource_bound = 3; /* both bounds: the smooth max of three terms */
  check_config("critical path and resource bound", &c);
  batch_critical_path = false;

  base(&c); /* the resource-bound read-out alone: usage heads, sums, hard max over resources */
  c.resource_bound = 4;
  c.output_scale = 2.0f;
  c.num_tasks = 2;
  check_config("resource bound", &c);
  c.resource_bound = 1;
  c.num_tasks = 1;
  check_config("resource bound, one resource", &c);

  /* log-scale latencies, dl/dz = l (last: the configs above keep their random probes) */
  base(&c);
  c.critical_path = true, c.critical_path_latency = GRANITE_LATENCY_EXP;
  c.output_scale = 3.0f;
  c.num_tasks = 2;
  batch_critical_path = true;
  check_config("critical path, exp latencies", &c);
  c.critical_path_token_bias = true;
  check_config("critical path, exp latencies, token offsets", &c);
  c.critical_path_latency = GRANITE_LATENCY_SOFTPLUS;
  check_config("critical path, token offsets", &c);
  batch_critical_path = false;

  /* bad configurations give an error, not a crash */
  base(&c);
  c.num_tasks = 0;
  GraniteModel m;
  CHECK(granite_model_create(&m, &c) == -1);
  base(&c);
  c.num_readout_layers = 1, c.readout_layers[0] = 0;
  CHECK(granite_model_create(&m, &c) == -1);
  base(&c);
  c.vocab_size = 0;
  CHECK(granite_model_create(&m, &c) == -1);
  base(&c);
  c.resource_bound = GRANITE_MAX_RESOURCES + 1;
  CHECK(granite_model_create(&m, &c) == -1);
  base(&c);
  c.resource_bound = 2, c.seq2seq = true;
  CHECK(granite_model_create(&m, &c) == -1);
  base(&c);
  c.critical_path_latency = GRANITE_LATENCY_EXP; /* without the critical path */
  CHECK(granite_model_create(&m, &c) == -1);
  base(&c);
  c.critical_path_token_bias = true; /* likewise */
  CHECK(granite_model_create(&m, &c) == -1);

  /* parameter count of the spec §4.8 default with V = 1000 ≈ 0.43 M (spec §4.7) */
  granite_config_default(&c);
  c.vocab_size = 1000;
  CHECK(granite_model_create(&m, &c) == 0);
  printf("default config, V = 1000: %zu parameters in %d tensors\n", m.num_params, m.num_tensors);
  CHECK(m.num_params > 420000 && m.num_params < 440000);
  /* init: LN gamma 1, beta 0; glorot-normal embeddings truncated at 2 sigma */
  granite_model_init_params(&m, 1);
  const ParamTensor *g = granite_find_tensor(&m, "core/iter_7/ln_node/gamma");
  const ParamTensor *emb = granite_find_tensor(&m, "encoder/node_embedding");
  CHECK(g && m.params[g->offset] == 1.0f);
  CHECK(emb && emb->rows == 1000 && emb->cols == 128);
  if (emb) {
    double sigma = sqrt(2.0 / (1000 + 128)) / 0.87962566103423978, sum2 = 0, maxabs = 0;
    size_t cnt = (size_t)emb->rows * emb->cols;
    for (size_t k = 0; k < cnt; k++) {
      double x = m.params[emb->offset + k];
      sum2 += x * x;
      maxabs = fmax(maxabs, fabs(x));
    }
    CHECK(maxabs <= 2 * sigma * 1.0001);
    CHECK_NEAR(sqrt(sum2 / cnt), sqrt(2.0 / (1000 + 128)), 0.03, 0); /* truncation restores the Glorot std */
  }
  granite_model_destroy(&m);
  return test_summary("test_model_grad");
}
