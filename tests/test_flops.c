/* FLOP counter (spec §7) against hand-computed numbers and the spec table. */
#include <string.h>

#include "testing.h"
#include "train/flops.h"

/* Spec §4.8 defaults without depending on the model library. */
static void config_defaults(GraniteConfig *c, int V) {
  memset(c, 0, sizeof *c);
  c->vocab_size = V;
  c->num_tasks = 1;
  c->node_embedding_size = c->edge_embedding_size = c->global_embedding_size = 128;
  c->num_message_passing_iterations = 8;
  c->graph_module_layer_normalization = true;
  c->readout_input_layer_normalization = true;
  c->task_readout_input_layer_normalization = true;
}

static void config_256(GraniteConfig *c, int V) {
  config_defaults(c, V);
  c->node_embedding_size = c->edge_embedding_size = c->global_embedding_size = 256;
  c->node_update_layers[0] = c->edge_update_layers[0] = c->global_update_layers[0] = 256;
  c->num_node_update_layers = c->num_edge_update_layers = c->num_global_update_layers = 1;
  c->readout_layers[0] = 256;
  c->num_readout_layers = 1;
}

/* Forward FLOPs of one block of I instructions with spec §3.8 sizes. */
static double fwd_block(const GraniteConfig *c, double I) {
  FlopCount f;
  flops_count(&f, c, 1, 4.0 * I, 4.55 * I, I, 0);
  return f.forward;
}

static void test_tiny_by_hand(void) {
  /* V=5, N=4, E=2, G=3, K=1, no hidden layers, all LNs on, one task;
   * one block: 3 nodes, 2 edges, 1 instruction. */
  GraniteConfig c;
  config_defaults(&c, 5);
  c.node_embedding_size = 4;
  c.edge_embedding_size = 2;
  c.global_embedding_size = 3;
  c.num_message_passing_iterations = 1;
  FlopCount f;
  flops_count(&f, &c, 1, 3, 2, 1, flops_reference_param_count(&c));
  /* matmuls: encoder 2*5*3 = 30; edges 2 rows * 2*(2+8+3)*2 = 104;
   * nodes 3 * 2*(2+4+3)*4 = 216; global 2*(2+4+3)*3 = 54; task 2*3 = 6 */
  CHECK_NEAR(f.fwd_encoder_matmul, 30, 0, 1e-9);
  CHECK_NEAR(f.fwd_matmul, 30 + 104 + 216 + 54 + 6, 0, 1e-9);
  /* other: encoder bias 3; biases 2*2 + 3*4 + 3; sums 2*2 + 2*2 + 3*4;
   * core LN 8*(4+12+3); readout LNs 8*3 + 8*3 */
  CHECK_NEAR(f.fwd_other, 3 + 19 + 20 + 152 + 48, 0, 1e-9);
  CHECK_NEAR(f.forward, 652, 0, 1e-9);
  CHECK_NEAR(f.backward, 2 * (410 - 30) + 30 + 242, 0, 1e-9);
  /* params: tables 20+18+15+3, edge 28, node 40, global 30, LNs 18+6+6, task 3 */
  CHECK_NEAR(flops_reference_param_count(&c), 187, 0, 1e-9);
  CHECK_NEAR(f.optimizer, 12 * 187, 0, 1e-9);
  CHECK_NEAR(f.train_step, 652 + 1032 + 2244, 0, 1e-9);

  /* One hidden layer adds an activation per hidden element. */
  int sizes[2] = {6, 2};
  CHECK_NEAR(flops_mlp_row(13, sizes, 2, 0), 2 * 13 * 6 + 2 * 6 * 2 + 6 + 2 + 6, 0, 1e-9);
  CHECK_NEAR(flops_mlp_row(13, sizes, 2, 1), 2 * 13 * 6 + 2 * 6 * 2 + 6 + 2 + 6 + 2, 0, 1e-9);
}

static void test_spec_table(void) {
  GraniteConfig c;
  /* spec §7 table, V = 1000: per-row MLP costs */
  int e128[1] = {128}, h256[2] = {256, 256};
  CHECK_NEAR(flops_mlp_row(512, e128, 1, 0), 131e3, 0.01, 0);
  CHECK_NEAR(flops_mlp_row(384, e128, 1, 0), 98e3, 0.01, 0);
  CHECK_NEAR(flops_mlp_row(1024, h256, 2, 0), 656e3, 0.01, 0);
  CHECK_NEAR(flops_mlp_row(768, h256, 2, 0), 525e3, 0.01, 0);

  config_defaults(&c, 1000);
  double per_instr = fwd_block(&c, 6) - fwd_block(&c, 5);
  CHECK_NEAR(per_instr, 8.0e6, 0.02, 0);
  CHECK_NEAR(fwd_block(&c, 5) - 5 * per_instr, 1.05e6, 0.03, 0);
  CHECK_NEAR(fwd_block(&c, 5), 41e6, 0.02, 0);
  CHECK_NEAR(flops_reference_param_count(&c), 0.43e6, 0.03, 0);
  FlopCount f;
  flops_count(&f, &c, 1, 20, 22.75, 5, 0);
  CHECK_NEAR(f.train_step, 123e6, 0.03, 0); /* ≈ 3x forward */

  config_256(&c, 1000);
  CHECK_NEAR(fwd_block(&c, 6) - fwd_block(&c, 5), 40.8e6, 0.02, 0);
  CHECK_NEAR(fwd_block(&c, 5), 209e6, 0.02, 0);
  CHECK_NEAR(flops_reference_param_count(&c), 1.45e6, 0.03, 0);
  /* spec §7: 100 blocks of 5 instructions ≈ 21 GFLOP forward, 63 per step */
  flops_count(&f, &c, 100, 2000, 2275, 500, flops_reference_param_count(&c));
  CHECK_NEAR(f.forward, 21e9, 0.03, 0);
  CHECK_NEAR(f.train_step, 63e9, 0.03, 0);

  c.use_sent_edges = true;
  CHECK_NEAR(fwd_block(&c, 5), 230e6, 0.02, 0);

  /* g3doc example: layers 256,256, K=4, sent edges, residuals, seq2seq,
   * 3 tasks, no readout layers, readout LNs off */
  config_defaults(&c, 1000);
  c.node_embedding_size = c.edge_embedding_size = c.global_embedding_size = 256;
  for (int i = 0; i < 2; i++) c.node_update_layers[i] = c.edge_update_layers[i] = c.global_update_layers[i] = 256;
  c.num_node_update_layers = c.num_edge_update_layers = c.num_global_update_layers = 2;
  c.num_message_passing_iterations = 4;
  c.use_sent_edges = c.graph_module_residual_connections = c.seq2seq = true;
  c.readout_input_layer_normalization = c.task_readout_input_layer_normalization = false;
  c.num_tasks = 3;
  CHECK_NEAR(fwd_block(&c, 5), 138e6, 0.03, 0);
}

static void test_batch_matches_counts(void) {
  GraniteConfig c;
  config_defaults(&c, 300);
  Batch b;
  memset(&b, 0, sizeof b);
  b.num_blocks = 7;
  b.num_nodes = 140;
  b.num_edges = 160;
  b.num_instructions = 35;
  FlopCount a, d;
  flops_count_batch(&a, &c, &b, 1000);
  flops_count(&d, &c, 7, 140, 160, 35, 1000);
  CHECK(a.train_step == d.train_step);
  /* more edges, more work */
  flops_count(&d, &c, 7, 140, 161, 35, 1000);
  CHECK(d.forward > a.forward);
}

int main(void) {
  test_tiny_by_hand();
  test_spec_table();
  test_batch_matches_counts();
  return test_summary("test_flops");
}
