/* TF1 optimizers (spec §5.4): Adam, SGD, RMSProp over the model's contiguous
 * parameter buffer, plus per-tensor gradient clipping and a non-finite
 * gradient check. State buffers have the same layout as the parameters. */
#ifndef GRANITE_TRAIN_OPTIMIZER_H
#define GRANITE_TRAIN_OPTIMIZER_H

#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

typedef enum { OPTIMIZER_ADAM = 0, OPTIMIZER_SGD = 1, OPTIMIZER_RMSPROP = 2 } OptimizerType;

/* spec §5.4 constants (TF1 tf.compat.v1.train defaults) */
#define ADAM_BETA1 0.9
#define ADAM_BETA2 0.999
#define ADAM_EPSILON 1e-8
#define RMSPROP_DECAY 0.9
#define RMSPROP_EPSILON 1e-10
#define RMSPROP_INITIAL_ACCUMULATOR 1.0f /* TF1 quirk: starts at 1, not 0 */

typedef struct {
  OptimizerType type;
  size_t num_params;
  int64_t step;  /* updates applied so far; Adam's t of the next update is step+1 */
  float *m;      /* Adam: first moment; RMSProp: mean square ms; SGD: NULL */
  float *v;      /* Adam: second moment; otherwise NULL */
} Optimizer;

/* "ADAM", "SGD", "RMSPROP" (case-insensitive). 0, or -1 after an error line. */
int optimizer_type_parse(const char *name, OptimizerType *out);
const char *optimizer_type_name(OptimizerType type);
/* Number of state buffers of num_params floats (Adam 2, RMSProp 1, SGD 0). */
int optimizer_num_buffers(OptimizerType type);

/* Allocates zeroed state (RMSProp accumulator = 1), step = 0. */
void optimizer_init(Optimizer *o, OptimizerType type, size_t num_params);
void optimizer_free(Optimizer *o);

/* One update θ ← θ − ... with learning rate lr (already scheduled for this
 * step, spec §5.5); then step++. OpenMP-parallel. */
void optimizer_update(Optimizer *o, float *params, const float *grads, float lr);

/* spec §5.4: each tensor's gradient separately scaled to L2 norm <= clip_norm
 * (g ← g·c/max(‖g‖, c)). clip_norm <= 0 does nothing. Returns how many
 * tensors were scaled down. */
int clip_gradients_per_tensor(float *grads, const ParamTensor *tensors, int num_tensors,
                              float clip_norm);

/* Index of the first tensor whose gradient has a NaN or Inf (and in
 * *bad_element the offset inside that tensor, if not NULL), or -1 when all
 * are finite. The trainer then skips the update and says which tensor. */
int find_nonfinite_gradient(const float *grads, const ParamTensor *tensors, int num_tensors,
                            size_t *bad_element);

#endif
