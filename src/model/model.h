/* The GRANITE model (spec §4): configuration, parameters in one contiguous
 * buffer, forward and backward over a Batch. */
#ifndef GRANITE_MODEL_MODEL_H
#define GRANITE_MODEL_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "graph/graph.h"

#define GRANITE_MAX_LAYERS 8
#define GRANITE_MAX_TASKS 16
#define GRANITE_MAX_RESOURCES 64 /* --granite_resource_bound */
/* Limits that keep every size product far from overflow (a config read from
 * a file is checked against them before anything is allocated). */
#define GRANITE_MAX_WIDTH 65536
#define GRANITE_MAX_VOCAB (1 << 24)

typedef struct {
  int vocab_size;
  int num_tasks;
  int node_embedding_size, edge_embedding_size, global_embedding_size; /* N, E, G */
  /* hidden sizes; the final layer (N / E / G) is implied (spec §4.1) */
  int node_update_layers[GRANITE_MAX_LAYERS], num_node_update_layers;
  int edge_update_layers[GRANITE_MAX_LAYERS], num_edge_update_layers;
  int global_update_layers[GRANITE_MAX_LAYERS], num_global_update_layers;
  int readout_layers[GRANITE_MAX_LAYERS], num_readout_layers;
  int task_readout_layers[GRANITE_MAX_LAYERS], num_task_readout_layers;
  int num_message_passing_iterations; /* K */
  bool use_sent_edges;
  bool graph_module_residual_connections;
  bool readout_residual_connections;
  bool task_readout_residual_connections;
  bool graph_module_layer_normalization;
  bool readout_input_layer_normalization;
  bool task_readout_input_layer_normalization;
  bool seq2seq;
  /* granite's options, not in Gematria (defaults = Gematria's model): */
  bool loop_carried_edges; /* graph: EDGE_LOOP_CARRIED edges (one more edge embedding row) */
  bool register_aliasing;  /* graph: sub-registers share their register's value node */
  float output_scale;      /* every output is multiplied by this (1 = Gematria) */
  /* readout: the smooth max of the GNN's output and a recurrence bound, the
   * longest loop-carried dependency cycle under learned per-instruction
   * latencies (model/critical_path.c; seq2num only) */
  bool critical_path;
  /* readout: also the smooth max with a resource-pressure bound, the largest
   * over resource_bound learned resources of the block's summed
   * per-instruction usage (model/resource_bound.c; seq2num only); 0 = off */
  int resource_bound;
  /* with critical_path: how a latency head's pre-activation z becomes a
   * latency (model/critical_path.c) */
  int critical_path_latency; /* GraniteLatency */
  /* with critical_path: a learned latency offset per instruction token and
   * task, added to the head's pre-activation (model/critical_path.c) */
  bool critical_path_token_bias;
} GraniteConfig;

typedef enum {
  GRANITE_LATENCY_SOFTPLUS, /* softplus(z), the default */
  GRANITE_LATENCY_EXP,      /* exp(z): long latencies (division) within Adam's reach */
} GraniteLatency;
/* Their names in flags and checkpoints, in enum order, NULL-terminated. */
extern const char *const granite_latency_names[];

/* Spec §4.8 defaults (N = E = G = 128, K = 8, LNs on, one task). */
void granite_config_default(GraniteConfig *c);

/* One named parameter tensor inside GraniteModel.params. */
typedef struct {
  char name[96]; /* as in shared/data/reference-model, e.g. "core/edge/layer_0/w" */
  size_t offset; /* in floats */
  int rows, cols; /* cols = 1 for vectors... rows*cols = size */
} ParamTensor;

struct ModelWork; /* activations and scratch, private to model/ */

typedef struct {
  GraniteConfig cfg;
  size_t num_params;
  float *params; /* all parameters, contiguous, carved by tensors[] */
  float *grads;  /* same layout; backward accumulates, the caller zeroes */
  int num_tensors;
  ParamTensor *tensors;
  struct ModelWork *work;
} GraniteModel;

/* The graph options a model was trained with (copied into opts, which
 * graph_options_init has filled). */
void granite_graph_options(const GraniteConfig *c, GraphOptions *opts);
/* Rows of the edge embedding table: Gematria's edge types, plus the
 * loop-carried one when enabled. */
int granite_num_edge_types(const GraniteConfig *c);

/* Validates cfg and lays out the tensors. 0, or -1 after an error line. */
int granite_model_create(GraniteModel *m, const GraniteConfig *cfg);
/* Validates cfg and counts the parameters it implies, allocating nothing
 * (a checkpoint's config is checked against its file before the model is
 * created). 0, or -1 after an error line. */
int granite_config_num_params(const GraniteConfig *cfg, size_t *num_params);
/* Spec §4.6 initializers (glorot normal/uniform, LN gamma 1 beta 0), seeded. */
void granite_model_init_params(GraniteModel *m, uint64_t seed);
void granite_model_destroy(GraniteModel *m);

/* Rows of the readout: B (seq2num) or I (seq2seq, per-instruction deltas). */
int granite_output_rows(const GraniteModel *m, const Batch *b);

/* Forward pass. outputs [R*T] (R = granite_output_rows); block_predictions
 * [B*T] (seq2seq: per-block sums of the instruction outputs). Keeps the
 * activations that granite_backward needs. */
void granite_forward(GraniteModel *m, const Batch *b, float *outputs, float *block_predictions);
/* d_outputs [R*T] = dLoss/d outputs; accumulates into m->grads. */
void granite_backward(GraniteModel *m, const Batch *b, const float *d_outputs);

/* ---- additions (model engineer) ---- */

/* The tensor named name (reference-model naming, without "param/"), or NULL. */
const ParamTensor *granite_find_tensor(const GraniteModel *m, const char *name);
/* The gradient of block predictions [B*T] turned into d_outputs [R*T]: a copy
 * in seq2num; in seq2seq every instruction gets its block's gradient (the
 * block prediction is the sum of its instructions' outputs, spec §4.5). */
void granite_block_grad_to_outputs(const GraniteModel *m, const Batch *b, const float *d_block,
                                   float *d_outputs);
/* true: the plain path (concatenate each MLP's inputs, one matmul) instead of
 * the split first layer of spec §7. Same math up to float rounding; for tests. */
void granite_set_reference_path(GraniteModel *m, bool reference);
/* An activation kept by the last granite_forward, by reference-model name
 * without "act/" (e.g. "encoder/nodes", "core/iter_1/edges_pre",
 * "readout/x0"), with its shape; NULL if unknown. For tests and debugging. */
const float *granite_activation(const GraniteModel *m, const char *name, int *rows, int *cols);
/* With critical_path also "critical_path/latency" [I x T] (learned
 * latencies) and "critical_path/bound" [B x T] (the recurrence bound C).
 * With resource_bound also "resource_bound/usage" [I x T*K] (learned usage
 * of each resource) and "resource_bound/bound" [B x T] (the bound R). */
/* true: granite_forward keeps only what the next iteration needs (two
 * iterations' buffers instead of K), for prediction of large batches;
 * granite_backward then refuses to run. Outputs are bit-identical. */
void granite_set_inference_only(GraniteModel *m, bool inference_only);
/* threads > 1: granite_forward/granite_backward split every batch of at
 * least 2*threads blocks by blocks over `threads` replicas that share the
 * parameters, each running single-threaded in its own thread; gradients are
 * summed (model/replicas.h says why: robust on busy machines). Results equal
 * the one-pass ones up to float summation order; granite_activation then
 * returns NULL. threads <= 1 (the default): one pass, multi-threaded kernels. */
void granite_set_data_parallel(GraniteModel *m, int threads);
/* true: every matmul whose output width is a multiple of 16 runs in BF16
 * with FP32 accumulation (AVX512_BF16, nn/gemm_bf16.h), forward and
 * backward; parameters, gradients, optimizer state, embeddings, layer norms
 * and all other operations stay FP32. Returns false, and the model stays
 * FP32, when bf16 is asked for and the CPU lacks AVX512_BF16. In
 * inference-only mode the weights are rounded once, at the first forward:
 * after changing parameters there, call it again. */
bool granite_set_bf16(GraniteModel *m, bool bf16);
bool granite_bf16(const GraniteModel *m);
/* Where data-parallel passes spent their time since the last reset: wall
 * time inside the parallel regions, and the replicas' own pass time summed
 * over threads (threads × region minus busy = time threads waited for each
 * other at the region's end, plus the gradient sum), in wall time and in the
 * threads' CPU time (busy_cpu < busy: other jobs held the core). Zeros
 * without replicas; any output may be NULL. */
void granite_data_parallel_stats(GraniteModel *m, bool reset, double *region_seconds, double *busy_seconds,
                                 double *busy_cpu_seconds);
/* Bytes of activation memory the model holds now (grows to the largest batch). */
size_t granite_work_bytes(const GraniteModel *m);

#endif
