/* --granite_resource_bound=K: llvm-mca's throughput is at least the
 * resource-pressure bound, the busiest execution resource (a port, the
 * divider, the load ports, the dispatch width) summed over the block's
 * instructions: a max over resources of sums over instructions, which the
 * GNN's sum read-out cannot express. This read-out computes it explicitly
 * with K learned resources per task:
 *   u_ik = softplus(W_t[k] . h_i + c_t[k])  usage of resource k by instruction i
 *   R_k  = sum of u_ik over the block's instructions
 *   R    = max_k R_k, or max(C, R_1..R_K) with the critical path's bound C
 *   y    = y_gnn + s*softplus(R - y_gnn/s)  the critical path's smooth max
 * R is in units of s, as C is. Why the bounds meet in a hard max and not in
 * one smooth max s*log(exp(y_gnn/s) + exp(C) + exp(R)): that one never
 * falls below s*log 2 = 113 cycles at BHive's scale (C = 0 without a
 * recurrence, R near 0 at init), above a third of the labels; measured:
 * 37.2% validation MAPE at step 500, the recipe 16.9% (docs/accuracy.md).
 * The maxima are hard: the gradient goes to the resource (or the
 * recurrence) that attains R (ties: the lowest k, C before the resources).
 * The usage biases start at -3 (model.c) so that R starts below the GNN's
 * output. */
#include <math.h>
#include <string.h>

#include "model/model.h"
#include "model/model_internal.h"

void resource_bound_forward(GraniteModel *model, const Batch *b, const float *h, float *outputs) {
  ModelWork *w = model->work;
  const GraniteConfig *c = &model->cfg;
  const float *P = model->params;
  int T = c->num_tasks, N = c->node_embedding_size, I = b->num_instructions, B = b->num_blocks;
  int K = c->resource_bound;
  float s = c->output_scale;
  memset(w->rb_sum, 0, sizeof(float) * (size_t)B * T * K);
  for (int i = 0; i < I; i++) {
    const float *hi = h + (size_t)b->instruction_nodes[i] * N;
    for (int t = 0; t < T; t++) {
      const float *W = P + w->rb_w[t], *cb = P + w->rb_b[t];
      float z[GRANITE_MAX_RESOURCES];
      for (int k = 0; k < K; k++) z[k] = cb[k];
      for (int q = 0; q < N; q++) /* W is [N x K], row-major */
        for (int k = 0; k < K; k++) z[k] += hi[q] * W[(size_t)q * K + k];
      size_t o = ((size_t)i * T + t) * K;
      float *sum = w->rb_sum + ((size_t)b->instruction_block[i] * T + t) * K;
      for (int k = 0; k < K; k++) {
        w->rb_use[o + k] = bound_softplus(z[k]);
        w->rb_duse[o + k] = bound_sigmoid(z[k]);
        sum[k] += w->rb_use[o + k];
      }
    }
  }
  for (int k = 0; k < B; k++)
    for (int t = 0; t < T; t++) {
      size_t o = (size_t)k * T + t;
      const float *sum = w->rb_sum + o * K;
      int arg = 0;
      for (int r = 1; r < K; r++)
        if (sum[r] > sum[arg]) arg = r;
      float bound = sum[arg];
      w->rb_cp[o] = c->critical_path && w->cp_bound[o] >= bound;
      if (w->rb_cp[o]) bound = w->cp_bound[o];
      w->rb_bound[o] = bound;
      w->rb_arg[o] = arg;
      outputs[o] = bound_smooth_max(outputs[o], bound, s, &w->rb_sig[o]);
    }
}

void resource_bound_backward(GraniteModel *model, const Batch *b, const float *h, const float *d_outputs,
                             float *gh) {
  ModelWork *w = model->work;
  const GraniteConfig *c = &model->cfg;
  const float *P = model->params;
  float *D = model->grads;
  int T = c->num_tasks, N = c->node_embedding_size, I = b->num_instructions, B = b->num_blocks;
  int K = c->resource_bound;
  for (int o = 0; o < B * T; o++) {
    float g = d_outputs[o], sig = w->rb_sig[o];
    w->rb_dy[o] = g * (1.0f - sig); /* bound_smooth_max: dy/dy_gnn = 1 - sig, dy/dbound = s*sig */
    w->rb_dC[o] = w->rb_cp[o] ? g * sig * c->output_scale : 0.0f;
  }
  if (c->critical_path) critical_path_backward_bound(model, b, h, w->rb_dC, gh);
  for (int i = 0; i < I; i++)
    for (int t = 0; t < T; t++) {
      size_t o = (size_t)b->instruction_block[i] * T + t;
      if (w->rb_cp[o]) continue;
      float dR = d_outputs[o] * w->rb_sig[o] * c->output_scale;
      if (dR == 0.0f) continue;
      int k = w->rb_arg[o];
      float dz = dR * w->rb_duse[((size_t)i * T + t) * K + k];
      int node = b->instruction_nodes[i];
      const float *hi = h + (size_t)node * N, *W = P + w->rb_w[t];
      float *gi = gh + (size_t)node * N, *dW = D + w->rb_w[t];
      for (int q = 0; q < N; q++) {
        dW[(size_t)q * K + k] += dz * hi[q];
        gi[q] += dz * W[(size_t)q * K + k];
      }
      D[w->rb_b[t] + (size_t)k] += dz;
    }
}
