/* --granite_critical_path: llvm-mca's throughput is at least the recurrence
 * bound, the longest loop-carried dependency cycle (sum of latencies), and
 * a sum read-out after 8 message-passing iterations cannot measure a long
 * cycle. This read-out computes it explicitly:
 *   l_i = softplus(a_t . h_i + b_t)      learned latency of instruction i
 *         (or exp(a_t . h_i + b_t), --granite_critical_path_latency=exp)
 *   C_R = longest path (sum of l) from a first reader of register R to R's
 *         last writer in the block's dependency DAG (graph/critical_path.c)
 *   C   = max_R C_R (0 without recurrences)
 *   y   = y_gnn + s*softplus(C - y_gnn/s)  a smooth max of the two, with
 *         the temperature of the output scale s (C is in units of s)
 * The temperature: with softplus(s*C - y_gnn) (temperature one label unit)
 * the max is hard at BHive's scale (labels ~100-1000), so only the larger
 * term ever learns; the bound starts too large on chained blocks, the GNN
 * gets no gradient there: 68.6% validation MAPE at step 500 where the
 * recipe has 25.6% (docs/accuracy.md). With temperature s both terms learn
 * everywhere.
 * The max and the longest path are hard: the gradient goes to the path that
 * attains C (ties: the first one found, the same forward and backward).
 * Exp latencies: a 64-bit division needs l ≈ 70 output-scale units, most
 * instructions 0.3-1; softplus needs a pre-activation of 70 for it, which
 * Adam's steps of ~lr per parameter on a rare instruction never reach; exp
 * needs 4.25 (and -0.7 for 0.5). docs/accuracy.md, session 5.
 * Token offsets (--granite_critical_path_token_bias): z gets a learned
 * offset per instruction token (mnemonic) and task. A division's latency is
 * a property of its mnemonic; through the shared head a = the same vector
 * for every instruction, the 1% of blocks that divide pull it against the
 * 99% that do not, while an offset of its own moves at Adam's full step
 * whenever a division is in the batch. */
#include <math.h>
#include <string.h>

#include "model/model.h"
#include "model/model_internal.h"

/* exp(z) is clamped at z = 20 (l ≈ 4.9e8 output-scale units, millions of
 * times any real latency): a sum of such latencies over a block stays far
 * from float overflow, where one wild step would make the loss and every
 * gradient NaN. The derivative stays l above the clamp, so that a latency
 * pushed there is pulled back down instead of stuck without gradient. */
#define CP_EXP_MAX_Z 20.0f

/* Latency l of pre-activation z and dl/dz. */
static void latency(int kind, float z, float *l, float *dl) {
  if (kind == GRANITE_LATENCY_EXP) {
    *l = *dl = expf(fminf(z, CP_EXP_MAX_Z));
  } else {
    *l = bound_softplus(z);
    *dl = bound_sigmoid(z);
  }
}

/* Longest path ending at recurrence r's writer, starting at one of its
 * first readers, under task t's latencies; w->cp_arg holds each
 * instruction's predecessor on its best path (-1: the path starts there). */
static float recurrence_length(ModelWork *w, const Batch *b, int r, int t, int T) {
  int k0 = b->rec_reader_offset[r], k1 = b->rec_reader_offset[r + 1];
  int first = b->rec_readers[k0], last = b->rec_writer[r], stamp = r * T + t;
  for (int k = k0; k < k1; k++) w->cp_mark[b->rec_readers[k]] = stamp;
  for (int i = first; i <= last; i++) {
    float best = w->cp_mark[i] == stamp ? 0.0f : -INFINITY;
    int arg = -1;
    for (int d = b->dep_offset[i]; d < b->dep_offset[i + 1]; d++) {
      int p = b->dep_from[d];
      if (p >= first && w->cp_dist[p] > best) best = w->cp_dist[p], arg = p;
    }
    w->cp_dist[i] = best + w->cp_lat[(size_t)i * T + t];
    w->cp_arg[i] = arg;
  }
  return w->cp_dist[last];
}

void critical_path_forward(GraniteModel *model, const Batch *b, const float *h, float *outputs) {
  ModelWork *w = model->work;
  const GraniteConfig *c = &model->cfg;
  const float *P = model->params;
  int T = c->num_tasks, N = c->node_embedding_size, I = b->num_instructions, B = b->num_blocks;
  float s = c->output_scale;
  for (int i = 0; i < I; i++) {
    const float *hi = h + (size_t)b->instruction_nodes[i] * N;
    const float *offset = /* this instruction token's offsets, one per task */
        c->critical_path_token_bias ? P + w->cp_tok + (size_t)b->node_tokens[b->instruction_nodes[i]] * T : NULL;
    for (int t = 0; t < T; t++) {
      const float *a = P + w->cp_w[t];
      float z = P[w->cp_b[t]];
      if (offset) z += offset[t];
      for (int k = 0; k < N; k++) z += a[k] * hi[k];
      latency(c->critical_path_latency, z, &w->cp_lat[(size_t)i * T + t], &w->cp_dlat[(size_t)i * T + t]);
    }
  }
  memset(w->cp_mark, 0xff, sizeof(int32_t) * (size_t)(I ? I : 1)); /* -1: no stamp */
  for (int k = 0; k < B; k++)
    for (int t = 0; t < T; t++) {
      float bound = 0.0f;
      int rec = -1;
      for (int r = b->rec_offset[k]; r < b->rec_offset[k + 1]; r++) {
        float len = recurrence_length(w, b, r, t, T);
        if (len > bound) bound = len, rec = r;
      }
      size_t o = (size_t)k * T + t;
      w->cp_bound[o] = bound;
      w->cp_rec[o] = rec;
      if (c->resource_bound) continue; /* resource_bound_forward combines max(C, R) */
      w->cp_gnn[o] = outputs[o];
      outputs[o] = bound_smooth_max(outputs[o], bound, s, &w->cp_sig[o]);
    }
}

void critical_path_backward_bound(GraniteModel *model, const Batch *b, const float *h, const float *d_bound,
                                  float *gh) {
  ModelWork *w = model->work;
  const GraniteConfig *c = &model->cfg;
  const float *P = model->params;
  float *D = model->grads;
  int T = c->num_tasks, N = c->node_embedding_size, B = b->num_blocks;
  for (int k = 0; k < B; k++)
    for (int t = 0; t < T; t++) {
      size_t o = (size_t)k * T + t;
      int r = w->cp_rec[o];
      float dC = d_bound[o];
      if (r < 0 || dC == 0.0f) continue;
      recurrence_length(w, b, r, t, T); /* the forward's path again, into cp_arg */
      const float *a = P + w->cp_w[t];
      float *da = D + w->cp_w[t];
      for (int i = b->rec_writer[r]; i >= 0; i = w->cp_arg[i]) {
        float dz = dC * w->cp_dlat[(size_t)i * T + t];
        int node = b->instruction_nodes[i];
        const float *hi = h + (size_t)node * N;
        float *gi = gh + (size_t)node * N;
        for (int q = 0; q < N; q++) {
          da[q] += dz * hi[q];
          gi[q] += dz * a[q];
        }
        D[w->cp_b[t]] += dz;
        if (c->critical_path_token_bias) D[w->cp_tok + (size_t)b->node_tokens[node] * T + t] += dz;
      }
    }
}

void critical_path_backward(GraniteModel *model, const Batch *b, const float *h, const float *d_outputs,
                            float *gh) {
  ModelWork *w = model->work;
  float s = model->cfg.output_scale;
  for (int o = 0; o < b->num_blocks * model->cfg.num_tasks; o++) {
    float g = d_outputs[o], sig = w->cp_sig[o];
    w->cp_dy[o] = g * (1.0f - sig); /* bound_smooth_max: dy/dy_gnn = 1 - sig, dy/dC = s*sig */
    w->cp_dC[o] = g * sig * s;
  }
  critical_path_backward_bound(model, b, h, w->cp_dC, gh);
}
