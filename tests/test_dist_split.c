/* dist/dist_step.h without MPI: how a global batch is cut over ranks (runs
 * of whole blocks that cover the batch in order, balanced by nodes + edges,
 * empty runs when there are fewer blocks than ranks), and that one rank's
 * step is exactly the one-process step (the same code path). */
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "dist/dist_step.h"
#include "testing.h"

/* A batch of n blocks; block k has nodes[k] nodes and as many edges. */
static void make_batch(Batch *b, const int *nodes, int n) {
  batch_init(b, 1);
  for (int k = 0; k < n; k++) {
    BlockGraph g;
    memset(&g, 0, sizeof g);
    g.num_nodes = g.num_edges = nodes[k];
    g.num_instructions = 1;
    g.node_tokens = calloc((size_t)nodes[k], sizeof(int32_t));
    g.node_types = calloc((size_t)nodes[k], 1);
    g.edge_types = calloc((size_t)nodes[k], 1);
    g.senders = calloc((size_t)nodes[k], sizeof(int32_t));
    g.receivers = calloc((size_t)nodes[k], sizeof(int32_t));
    float label = 1;
    uint8_t mask = 1;
    batch_add(b, &g, &label, &mask, NULL, NULL);
    free(g.node_tokens), free(g.node_types), free(g.edge_types), free(g.senders), free(g.receivers);
  }
}

static long work(const Batch *b, int b0, int b1) {
  return (long)b->node_offset[b1] - b->node_offset[b0] + b->edge_offset[b1] - b->edge_offset[b0];
}

int main(void) {
  /* runs cover [0, n) in order and are balanced: no run is more than one
   * block's work from the mean */
  int nodes[12] = {5, 40, 3, 3, 3, 30, 8, 8, 12, 2, 2, 60};
  Batch b;
  make_batch(&b, nodes, 12);
  for (int parts = 1; parts <= 5; parts++) {
    int block0[6];
    dist_split_blocks(&b, parts, block0);
    CHECK(block0[0] == 0 && block0[parts] == 12);
    long total = work(&b, 0, 12);
    for (int p = 0; p < parts; p++) {
      CHECK(block0[p] <= block0[p + 1]);
      long w = work(&b, block0[p], block0[p + 1]), mean = total / parts;
      CHECK_MSG(labs(w - mean) <= 2 * 60, "parts %d: run %d has work %ld, mean %ld", parts, p, w, mean);
    }
  }
  /* the first parts get the blocks: [0,1) [1,2) [2,2) ... when blocks < ranks */
  Batch two;
  int small[2] = {4, 4};
  make_batch(&two, small, 2);
  int block0[5];
  dist_split_blocks(&two, 4, block0);
  int covered = 0;
  for (int p = 0; p < 4; p++) covered += block0[p + 1] - block0[p];
  CHECK(covered == 2 && block0[4] == 2);
  CHECK(block0[1] - block0[0] <= 1 && block0[2] - block0[1] <= 1);
  /* an empty batch: all runs empty */
  Batch none;
  batch_init(&none, 1);
  dist_split_blocks(&none, 3, block0);
  CHECK(block0[0] == 0 && block0[1] == 0 && block0[2] == 0 && block0[3] == 0);

  /* one rank: the one-process job */
  CHECK(dist_size() == 1 && dist_rank() == 0 && dist_is_root());
  CHECK(dist_any(true) && !dist_any(false));
  float buf[3] = {1, 2, 3}, all[3];
  dist_allreduce_sum(buf, 3);
  CHECK(buf[0] == 1 && buf[1] == 2 && buf[2] == 3);
  size_t count[1] = {3};
  dist_gather_floats(buf, all, count, false);
  CHECK(all[0] == 1 && all[2] == 3);
  batch_free(&b);
  batch_free(&two);
  batch_free(&none);
  return test_summary("test_dist_split");
}
