/* Data-parallel replicas (model/replicas.h): a batch split by blocks over
 * replicas gives the same outputs and the same summed gradients as one
 * pass over the whole batch (up to float summation order). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "model/replicas.h"
#include "random_graph.h"
#include "testing.h"
#include "util/rng.h"

#define V 23
#define BLOCKS 9

static Rng rng;

static double rel_diff(const float *a, const float *b, size_t n) {
  double worst = 0, scale = 1e-6;
  for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(b[i]));
  for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(a[i] - b[i]) / scale);
  return worst;
}

static void check_config(const char *name, const GraniteConfig *cfg, int parts) {
  const int T = cfg->num_tasks;
  BlockGraph g[BLOCKS];
  int32_t instr[BLOCKS], ids[BLOCKS];
  float labels[4] = {1, 2, 3, 4};
  uint8_t mask[4] = {1, 1, 1, 1};
  Batch whole;
  batch_init(&whole, T);
  for (int k = 0; k < BLOCKS; k++) {
    random_graph(&g[k], 3 + (int)rng_below(&rng, 12), V, granite_num_edge_types(cfg), &rng);
    instr[k] = g[k].num_instructions;
    ids[k] = k;
    batch_add(&whole, &g[k], labels, mask, NULL, NULL);
  }
  int start[9];
  granite_split_ids(ids, BLOCKS, instr, parts, start);
  CHECK(start[0] == 0 && start[parts] == BLOCKS);
  Batch part[8];
  for (int p = 0; p < parts; p++) {
    CHECK(start[p] <= start[p + 1]);
    batch_init(&part[p], T);
    for (int k = start[p]; k < start[p + 1]; k++) batch_add(&part[p], &g[k], labels, mask, NULL, NULL);
  }

  GraniteModel m;
  CHECK(granite_model_create(&m, cfg) == 0);
  granite_model_init_params(&m, 7);
  int R = granite_output_rows(&m, &whole);
  float *out = calloc((size_t)R * T, sizeof(float)), *bp = calloc((size_t)BLOCKS * T, sizeof(float));
  float *d = calloc((size_t)R * T, sizeof(float));
  for (int i = 0; i < R * T; i++) d[i] = (float)rng_uniform(&rng) - 0.5f;
  granite_forward(&m, &whole, out, bp);
  memset(m.grads, 0, sizeof(float) * m.num_params);
  granite_backward(&m, &whole, d);
  float *grads_whole = malloc(sizeof(float) * m.num_params);
  memcpy(grads_whole, m.grads, sizeof(float) * m.num_params);

  GraniteReplicas reps;
  CHECK(granite_replicas_create(&reps, &m, parts) == 0);
  float *pout[8], *pbp[8];
  const float *pd[8];
  int row = 0;
  for (int p = 0; p < parts; p++) {
    int r = granite_output_rows(&m, &part[p]);
    pout[p] = calloc((size_t)r * T + 1, sizeof(float));
    pbp[p] = calloc((size_t)part[p].num_blocks * T + 1, sizeof(float));
    pd[p] = d + (size_t)row * T;
    row += r;
  }
  CHECK(row == R);
  granite_replicas_forward(&reps, part, pout, pbp);
  memset(m.grads, 0, sizeof(float) * m.num_params);
  granite_replicas_backward(&reps, part, pd);
  row = 0;
  int blk = 0;
  for (int p = 0; p < parts; p++) {
    int r = granite_output_rows(&m, &part[p]);
    CHECK_MSG(rel_diff(pout[p], out + (size_t)row * T, (size_t)r * T) < 1e-5, "%s: outputs of part %d", name, p);
    CHECK_MSG(rel_diff(pbp[p], bp + (size_t)blk * T, (size_t)part[p].num_blocks * T) < 1e-5,
              "%s: block predictions of part %d", name, p);
    row += r;
    blk += part[p].num_blocks;
  }
  double gd = rel_diff(m.grads, grads_whole, m.num_params);
  CHECK_MSG(gd < 1e-4, "%s: summed gradients differ by %g", name, gd);
  /* the replicas really share the parameters */
  for (int p = 0; p < parts; p++) CHECK(reps.rep[p].params == m.params);

  granite_replicas_destroy(&reps);

  /* the same through granite_forward/backward with data parallelism on */
  granite_set_data_parallel(&m, parts);
  float *out2 = calloc((size_t)R * T, sizeof(float)), *bp2 = calloc((size_t)BLOCKS * T, sizeof(float));
  for (int round = 0; round < 2; round++) { /* twice: buffers are reused */
    granite_forward(&m, &whole, out2, bp2);
    CHECK_MSG(rel_diff(out2, out, (size_t)R * T) < 1e-5, "%s: data-parallel outputs", name);
    CHECK_MSG(rel_diff(bp2, bp, (size_t)BLOCKS * T) < 1e-5, "%s: data-parallel block predictions", name);
    memset(m.grads, 0, sizeof(float) * m.num_params);
    granite_backward(&m, &whole, d);
    gd = rel_diff(m.grads, grads_whole, m.num_params);
    CHECK_MSG(gd < 1e-4, "%s: data-parallel gradients differ by %g", name, gd);
  }
  int rows_, cols_;
  CHECK(granite_activation(&m, "encoder/nodes", &rows_, &cols_) == NULL);
  CHECK(granite_work_bytes(&m) > 0);
  granite_set_data_parallel(&m, 1);
  granite_forward(&m, &whole, out2, bp2);
  CHECK(granite_activation(&m, "encoder/nodes", &rows_, &cols_) != NULL);
  free(out2), free(bp2);
  for (int p = 0; p < parts; p++) free(pout[p]), free(pbp[p]), batch_free(&part[p]);
  free(out), free(bp), free(d), free(grads_whole);
  granite_model_destroy(&m);
  batch_free(&whole);
  for (int k = 0; k < BLOCKS; k++) block_graph_free(&g[k]);
}

int main(void) {
  rng_seed(&rng, 42);
  GraniteConfig c;
  granite_config_default(&c);
  c.vocab_size = V;
  c.node_embedding_size = c.edge_embedding_size = c.global_embedding_size = 16;
  c.num_message_passing_iterations = 3;
  check_config("default-like", &c, 2);
  check_config("default-like, 3 parts", &c, 3);
  c.edge_update_layers[0] = c.node_update_layers[0] = c.global_update_layers[0] = 12;
  c.num_edge_update_layers = c.num_node_update_layers = c.num_global_update_layers = 1;
  c.task_readout_layers[0] = 10;
  c.num_task_readout_layers = 1;
  c.num_tasks = 2;
  check_config("hidden layers, 2 tasks", &c, 2);
  c.resource_bound = 4; /* per-block sums and maxima over instructions split by blocks */
  c.output_scale = 2.0f;
  check_config("resource bound, 2 tasks", &c, 3);
  c.resource_bound = 0;
  c.output_scale = 1.0f;
  c.seq2seq = true;
  check_config("seq2seq", &c, 2);
  return test_summary("test_replicas");
}
