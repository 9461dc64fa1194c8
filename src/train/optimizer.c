/* TF1 optimizers and gradient hygiene (spec §5.4). */
#include "train/optimizer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/common.h"

static const char *const OPTIMIZER_NAMES[] = {"ADAM", "SGD", "RMSPROP"};

int optimizer_type_parse(const char *name, OptimizerType *out) {
  for (size_t i = 0; i < ARRAY_LEN(OPTIMIZER_NAMES); i++) {
    if (strcasecmp(name, OPTIMIZER_NAMES[i]) == 0) {
      *out = (OptimizerType)i;
      return 0;
    }
  }
  gr_error("unknown optimizer type '%s' (expected ADAM, SGD or RMSPROP)", name);
  return -1;
}

const char *optimizer_type_name(OptimizerType type) {
  if ((int)type < 0 || (size_t)type >= ARRAY_LEN(OPTIMIZER_NAMES)) return "UNKNOWN";
  return OPTIMIZER_NAMES[type];
}

int optimizer_num_buffers(OptimizerType type) {
  switch (type) {
    case OPTIMIZER_ADAM: return 2;
    case OPTIMIZER_RMSPROP: return 1;
    default: return 0;
  }
}

void optimizer_init(Optimizer *o, OptimizerType type, size_t num_params) {
  memset(o, 0, sizeof *o);
  o->type = type;
  o->num_params = num_params;
  int nb = optimizer_num_buffers(type);
  if (nb >= 1) o->m = xcalloc(num_params ? num_params : 1, sizeof(float));
  if (nb >= 2) o->v = xcalloc(num_params ? num_params : 1, sizeof(float));
  if (type == OPTIMIZER_RMSPROP)
    for (size_t i = 0; i < num_params; i++) o->m[i] = RMSPROP_INITIAL_ACCUMULATOR;
}

void optimizer_free(Optimizer *o) {
  free(o->m);
  free(o->v);
  memset(o, 0, sizeof *o);
}

/* spec §5.4: ε-hat Adam, bias correction folded into the step size. */
static void adam_update(Optimizer *o, float *params, const float *grads, float lr) {
  double t = (double)(o->step + 1);
  float lr_t = (float)(lr * sqrt(1.0 - pow(ADAM_BETA2, t)) / (1.0 - pow(ADAM_BETA1, t)));
  const float b1 = (float)ADAM_BETA1, b2 = (float)ADAM_BETA2, eps = (float)ADAM_EPSILON;
  float *m = o->m, *v = o->v;
  long n = (long)o->num_params;
#pragma omp parallel for schedule(static)
  for (long i = 0; i < n; i++) {
    float g = grads[i];
    m[i] = b1 * m[i] + (1.0f - b1) * g;
    v[i] = b2 * v[i] + (1.0f - b2) * g * g;
    params[i] -= lr_t * m[i] / (sqrtf(v[i]) + eps);
  }
}

static void sgd_update(Optimizer *o, float *params, const float *grads, float lr) {
  long n = (long)o->num_params;
#pragma omp parallel for schedule(static)
  for (long i = 0; i < n; i++) params[i] -= lr * grads[i];
}

/* spec §5.4: TF1 RMSProp, momentum 0, ε inside the sqrt. */
static void rmsprop_update(Optimizer *o, float *params, const float *grads, float lr) {
  const float rho = (float)RMSPROP_DECAY, eps = (float)RMSPROP_EPSILON;
  float *ms = o->m;
  long n = (long)o->num_params;
#pragma omp parallel for schedule(static)
  for (long i = 0; i < n; i++) {
    float g = grads[i];
    ms[i] = rho * ms[i] + (1.0f - rho) * g * g;
    params[i] -= lr * g / sqrtf(ms[i] + eps);
  }
}

void optimizer_update(Optimizer *o, float *params, const float *grads, float lr) {
  switch (o->type) {
    case OPTIMIZER_ADAM: adam_update(o, params, grads, lr); break;
    case OPTIMIZER_SGD: sgd_update(o, params, grads, lr); break;
    case OPTIMIZER_RMSPROP: rmsprop_update(o, params, grads, lr); break;
  }
  o->step++;
}

static size_t tensor_size(const ParamTensor *t) { return (size_t)t->rows * (size_t)t->cols; }

/* spec §5.4 / §8 item 22: per tensor, not global norm. */
int clip_gradients_per_tensor(float *grads, const ParamTensor *tensors, int num_tensors,
                              float clip_norm) {
  if (!(clip_norm > 0)) return 0;
  int clipped = 0;
#pragma omp parallel for schedule(dynamic) reduction(+ : clipped)
  for (int k = 0; k < num_tensors; k++) {
    float *g = grads + tensors[k].offset;
    size_t n = tensor_size(&tensors[k]);
    double sq = 0;
    for (size_t i = 0; i < n; i++) sq += (double)g[i] * g[i];
    double norm = sqrt(sq);
    if (norm > clip_norm) {
      float scale = (float)(clip_norm / norm);
      for (size_t i = 0; i < n; i++) g[i] *= scale;
      clipped++;
    }
  }
  return clipped;
}

int find_nonfinite_gradient(const float *grads, const ParamTensor *tensors, int num_tensors,
                            size_t *bad_element) {
  for (int k = 0; k < num_tensors; k++) {
    const float *g = grads + tensors[k].offset;
    size_t n = tensor_size(&tensors[k]);
    for (size_t i = 0; i < n; i++) {
      if (!isfinite(g[i])) {
        if (bad_element) *bad_element = i;
        return k;
      }
    }
  }
  return -1;
}
