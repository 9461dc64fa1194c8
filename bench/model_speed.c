/* Times a GRANITE training step (forward + backward, no optimizer) on a
 * synthetic batch of 100 blocks × 5 instructions (~20 nodes, ~23 edges per
 * block) for the default and the 256-wide config; prints GFLOP/s with the
 * spec §7 counting of the reference model (train/flops.h).
 * Usage: model_speed [steps] [blocks] */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "train/flops.h"
#include "util/common.h"
#include "util/rng.h"

#define VOCAB 1000

static void make_batch(Batch *b, int blocks, int T, Rng *rng) {
  int nb = 20, eb = 23, ib = 5;
  memset(b, 0, sizeof(*b));
  b->num_blocks = blocks;
  b->num_nodes = blocks * nb;
  b->num_edges = blocks * eb;
  b->num_instructions = blocks * ib;
  b->num_tasks = T;
  int n = b->num_nodes, m = b->num_edges, I = b->num_instructions;
  b->node_tokens = xmalloc(sizeof(int32_t) * n);
  b->node_block = xmalloc(sizeof(int32_t) * n);
  b->edge_types = xmalloc(sizeof(int32_t) * m);
  b->senders = xmalloc(sizeof(int32_t) * m);
  b->receivers = xmalloc(sizeof(int32_t) * m);
  b->edge_block = xmalloc(sizeof(int32_t) * m);
  b->node_offset = xmalloc(sizeof(int32_t) * (blocks + 1));
  b->edge_offset = xmalloc(sizeof(int32_t) * (blocks + 1));
  b->instruction_nodes = xmalloc(sizeof(int32_t) * I);
  b->instruction_block = xmalloc(sizeof(int32_t) * I);
  for (int k = 0; k < blocks; k++) {
    b->node_offset[k] = k * nb;
    b->edge_offset[k] = k * eb;
    for (int i = 0; i < nb; i++) {
      b->node_tokens[k * nb + i] = (int32_t)rng_below(rng, VOCAB);
      b->node_block[k * nb + i] = k;
    }
    for (int j = 0; j < ib; j++) {
      b->instruction_nodes[k * ib + j] = k * nb + j * 4;
      b->instruction_block[k * ib + j] = k;
    }
    for (int j = 0; j < eb; j++) {
      int e = k * eb + j;
      b->edge_types[e] = (int32_t)rng_below(rng, GEMATRIA_NUM_EDGE_TYPES);
      b->senders[e] = k * nb + (int32_t)rng_below(rng, nb);
      b->receivers[e] = k * nb + (int32_t)rng_below(rng, nb);
      b->edge_block[e] = k;
    }
  }
  b->node_offset[blocks] = n;
  b->edge_offset[blocks] = m;
  b->global_tokens = b->node_tokens;
}

static void bench(const char *name, const GraniteConfig *cfg, int steps, int blocks) {
  GraniteModel model;
  if (granite_model_create(&model, cfg)) exit(1);
  granite_model_init_params(&model, 1);
  Rng rng;
  rng_seed(&rng, 7);
  Batch b;
  make_batch(&b, blocks, cfg->num_tasks, &rng);
  int R = granite_output_rows(&model, &b), T = cfg->num_tasks;
  float *out = xmalloc(sizeof(float) * R * T), *d = xmalloc(sizeof(float) * R * T);
  for (int i = 0; i < R * T; i++) d[i] = 1.0f / R;
  FlopCount fc;
  flops_count_batch(&fc, cfg, &b, (double)model.num_params);
  /* warm-up (grows the arena), then timed steps */
  granite_forward(&model, &b, out, NULL);
  granite_backward(&model, &b, d);
  double tf = 0, tb = 0;
  for (int s = 0; s < steps; s++) {
    double t0 = now_seconds();
    granite_forward(&model, &b, out, NULL);
    double t1 = now_seconds();
    memset(model.grads, 0, sizeof(float) * model.num_params);
    granite_backward(&model, &b, d);
    double t2 = now_seconds();
    tf += t1 - t0;
    tb += t2 - t1;
  }
  tf /= steps;
  tb /= steps;
  double step_flops = fc.forward + fc.backward;
  printf("%-8s params %zu  arena %.1f MB  forward %.2f ms (%.1f GFLOP/s)  fwd+bwd %.2f ms "
         "(%.1f GFLOP/s, spec §7 count %.2f GFLOP/step)  %.0f blocks/s\n",
         name, model.num_params, granite_work_bytes(&model) / 1e6, tf * 1e3, fc.forward / tf / 1e9,
         (tf + tb) * 1e3, step_flops / (tf + tb) / 1e9, step_flops / 1e9, blocks / (tf + tb));
  /* prediction: inference-only forward (two iterations' buffers) */
  GraniteModel pm;
  granite_model_create(&pm, cfg);
  memcpy(pm.params, model.params, sizeof(float) * model.num_params);
  granite_set_inference_only(&pm, true);
  granite_forward(&pm, &b, out, NULL);
  double t0 = now_seconds();
  for (int s = 0; s < steps; s++) granite_forward(&pm, &b, out, NULL);
  double tp = (now_seconds() - t0) / steps;
  printf("%-8s inference-only forward %.2f ms (%.0f blocks/s), arena %.1f MB\n", name, tp * 1e3,
         blocks / tp, granite_work_bytes(&pm) / 1e6);
  granite_model_destroy(&pm);
  free(out);
  free(d);
  granite_model_destroy(&model);
}

int main(int argc, char **argv) {
  int steps = argc > 1 ? atoi(argv[1]) : 10, blocks = argc > 2 ? atoi(argv[2]) : 100;
  printf("threads %d, %d blocks of 5 instructions, %d timed steps\n", omp_get_max_threads(), blocks,
         steps);
  GraniteConfig c;
  granite_config_default(&c);
  c.vocab_size = VOCAB;
  bench("default", &c, steps, blocks);
  c.node_embedding_size = c.edge_embedding_size = c.global_embedding_size = 256;
  c.node_update_layers[0] = c.edge_update_layers[0] = c.global_update_layers[0] = 256;
  c.num_node_update_layers = c.num_edge_update_layers = c.num_global_update_layers = 1;
  c.task_readout_layers[0] = 256;
  c.num_task_readout_layers = 1;
  bench("256-wide", &c, steps, blocks);
  return 0;
}
