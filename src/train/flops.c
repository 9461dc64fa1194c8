#include "train/flops.h"

#include <string.h>

/* Sizes of an update MLP: hidden layers then the implied output width. */
static int mlp_sizes(int *out, const int *hidden, int num_hidden, int final) {
  for (int i = 0; i < num_hidden; i++) out[i] = hidden[i];
  out[num_hidden] = final;
  return num_hidden + 1;
}

/* Splits an MLP row into matmul and other FLOPs. */
static void mlp_row(int in, const int *sizes, int n, int activate_last, double *matmul, double *other) {
  *matmul = 0;
  *other = 0;
  for (int j = 0; j < n; j++) {
    *matmul += 2.0 * in * sizes[j];
    *other += sizes[j]; /* bias */
    if (j + 1 < n || activate_last) *other += sizes[j]; /* leaky ReLU */
    in = sizes[j];
  }
}

double flops_mlp_row(int in, const int *sizes, int num_sizes, int activate_last) {
  double mm, other;
  mlp_row(in, sizes, num_sizes, activate_last, &mm, &other);
  return mm + other;
}

static double mlp_params(int in, const int *sizes, int n, int bias) {
  double p = 0;
  for (int j = 0; j < n; j++) {
    p += (double)in * sizes[j] + (bias ? sizes[j] : 0);
    in = sizes[j];
  }
  return p;
}

void flops_count(FlopCount *out, const GraniteConfig *c, double blocks, double nodes, double edges,
                 double instructions, double num_params) {
  memset(out, 0, sizeof *out);
  const int N = c->node_embedding_size, E = c->edge_embedding_size, G = c->global_embedding_size;
  const int T = c->num_tasks, V = c->vocab_size, s = c->use_sent_edges ? 1 : 0;
  double mm = 0, other = 0, m1, o1;
  int sizes[GRANITE_MAX_LAYERS + 1];

  /* spec §4.2 encoder: embeddings are lookups; the global layer is a dense
   * V x G matmul of the token histogram (spec §7: 2*V*G per block). */
  double enc = 2.0 * V * G * blocks;
  mm += enc;
  other += G * blocks;

  /* spec §4.3 one core iteration, K times (the last edge/global updates are
   * computed by the reference model too, so they are counted). */
  double per_iter_mm = 0, per_iter_other = 0;
  int n_e = mlp_sizes(sizes, c->edge_update_layers, c->num_edge_update_layers, E);
  mlp_row(E + 2 * N + G, sizes, n_e, 0, &m1, &o1);
  per_iter_mm += edges * m1;
  per_iter_other += edges * o1;
  int n_v = mlp_sizes(sizes, c->node_update_layers, c->num_node_update_layers, N);
  mlp_row(E * (1 + s) + N + G, sizes, n_v, 0, &m1, &o1);
  per_iter_mm += nodes * m1;
  per_iter_other += nodes * o1;
  int n_u = mlp_sizes(sizes, c->global_update_layers, c->num_global_update_layers, G);
  mlp_row(E + N + G, sizes, n_u, 0, &m1, &o1);
  per_iter_mm += blocks * m1;
  per_iter_other += blocks * o1;
  /* aggregation: edges to receivers (and senders), edges and nodes to blocks */
  per_iter_other += edges * E * (1 + s) + edges * E + nodes * N;
  double elems = edges * E + nodes * N + blocks * G;
  if (c->graph_module_residual_connections) per_iter_other += elems;
  if (c->graph_module_layer_normalization) per_iter_other += 8.0 * elems;
  mm += c->num_message_passing_iterations * per_iter_mm;
  other += c->num_message_passing_iterations * per_iter_other;

  /* spec §4.5 readout */
  double rows = c->seq2seq ? instructions : blocks;
  int width = c->seq2seq ? N : G;
  if (c->readout_input_layer_normalization) other += 8.0 * rows * width;
  if (c->num_readout_layers > 0) {
    mlp_row(width, c->readout_layers, c->num_readout_layers, 1, &m1, &o1);
    mm += rows * m1;
    other += rows * o1;
    int w = c->readout_layers[c->num_readout_layers - 1];
    if (c->readout_residual_connections) {
      if (w != width) mm += rows * 2.0 * width * w;
      other += rows * w;
    }
    width = w;
  }
  if (c->task_readout_input_layer_normalization) other += 8.0 * rows * width;
  for (int t = 0; t < T; t++) {
    int w = width;
    if (c->num_task_readout_layers > 0) {
      mlp_row(width, c->task_readout_layers, c->num_task_readout_layers, 1, &m1, &o1);
      mm += rows * m1;
      other += rows * o1;
      w = c->task_readout_layers[c->num_task_readout_layers - 1];
      if (c->task_readout_residual_connections) {
        if (w != width) mm += rows * 2.0 * width * w;
        other += rows * w;
      }
    }
    mm += rows * 2.0 * w; /* Dense(1), no bias */
  }
  if (c->seq2seq) other += instructions * T; /* deltas summed per block */

  out->fwd_matmul = mm;
  out->fwd_encoder_matmul = enc;
  out->fwd_other = other;
  out->forward = mm + other;
  /* input and weight gradient per matmul; the encoder's input is data */
  out->backward = 2.0 * (mm - enc) + enc + other;
  out->optimizer = FLOPS_PER_PARAM_UPDATE * num_params;
  out->train_step = out->forward + out->backward + out->optimizer;
}

void flops_count_batch(FlopCount *out, const GraniteConfig *cfg, const Batch *b, double num_params) {
  flops_count(out, cfg, b->num_blocks, b->num_nodes, b->num_edges, b->num_instructions, num_params);
}

double flops_reference_param_count(const GraniteConfig *c) {
  const int N = c->node_embedding_size, E = c->edge_embedding_size, G = c->global_embedding_size;
  const int V = c->vocab_size, T = c->num_tasks, s = c->use_sent_edges ? 1 : 0;
  int sizes[GRANITE_MAX_LAYERS + 1];
  double p = (double)V * N + 9.0 * E + (double)V * G + G;
  int n = mlp_sizes(sizes, c->edge_update_layers, c->num_edge_update_layers, E);
  p += mlp_params(E + 2 * N + G, sizes, n, 1);
  n = mlp_sizes(sizes, c->node_update_layers, c->num_node_update_layers, N);
  p += mlp_params(E * (1 + s) + N + G, sizes, n, 1);
  n = mlp_sizes(sizes, c->global_update_layers, c->num_global_update_layers, G);
  p += mlp_params(E + N + G, sizes, n, 1);
  if (c->graph_module_layer_normalization) p += 2.0 * c->num_message_passing_iterations * (E + N + G);
  int width = c->seq2seq ? N : G;
  if (c->readout_input_layer_normalization) p += 2.0 * width;
  if (c->num_readout_layers > 0) {
    p += mlp_params(width, c->readout_layers, c->num_readout_layers, 1);
    int w = c->readout_layers[c->num_readout_layers - 1];
    if (c->readout_residual_connections && w != width) p += (double)width * w;
    width = w;
  }
  if (c->task_readout_input_layer_normalization) p += 2.0 * width;
  for (int t = 0; t < T; t++) {
    int w = width;
    if (c->num_task_readout_layers > 0) {
      p += mlp_params(width, c->task_readout_layers, c->num_task_readout_layers, 1);
      w = c->task_readout_layers[c->num_task_readout_layers - 1];
      if (c->task_readout_residual_connections && w != width) p += (double)width * w;
    }
    p += w;
  }
  return p;
}
