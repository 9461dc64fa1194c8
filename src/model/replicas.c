#include "model/replicas.h"

#include <omp.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "util/common.h"

int granite_replicas_create(GraniteReplicas *r, GraniteModel *model, int count) {
  memset(r, 0, sizeof *r);
  if (count < 1) count = 1;
  r->model = model;
  r->rep = xcalloc((size_t)count, sizeof *r->rep);
  r->own_params = xcalloc((size_t)count, sizeof *r->own_params);
  r->busy_seconds = xcalloc((size_t)count, sizeof *r->busy_seconds);
  r->busy_cpu_seconds = xcalloc((size_t)count, sizeof *r->busy_cpu_seconds);
  for (int i = 0; i < count; i++) {
    if (granite_model_create(&r->rep[i], &model->cfg) != 0) {
      r->count = i;
      granite_replicas_destroy(r);
      return -1;
    }
    r->count = i + 1;
    r->own_params[i] = r->rep[i].params;
    r->rep[i].params = model->params;
    r->rep[i].work->reference_path = model->work->reference_path;
    r->rep[i].work->inference_only = model->work->inference_only;
    r->rep[i].work->bf16 = model->work->bf16;
  }
  return 0;
}

void granite_replicas_destroy(GraniteReplicas *r) {
  for (int i = 0; i < r->count; i++) {
    r->rep[i].params = r->own_params[i];
    granite_model_destroy(&r->rep[i]);
  }
  free(r->rep);
  free(r->own_params);
  free(r->busy_seconds);
  free(r->busy_cpu_seconds);
  memset(r, 0, sizeof *r);
}

/* Each replica runs single-threaded inside its own thread: nested OpenMP
 * regions of the kernels are inactive, and OpenBLAS (OpenMP build) runs
 * one thread when called inside a parallel region. */
void granite_replicas_forward(GraniteReplicas *r, const Batch *parts, float *const *outputs,
                              float *const *block_predictions) {
  int saved = omp_get_max_active_levels();
  omp_set_max_active_levels(1);
  /* an allocation failure in a worker is caught there and reported in the
   * calling thread, whose out-of-memory guard (if any) then applies */
  int failed = 0;
  double t0 = now_seconds();
#pragma omp parallel for num_threads(r->count) schedule(static, 1)
  for (int i = 0; i < r->count; i++) {
    if (parts[i].num_blocks == 0) continue;
    jmp_buf env;
    jmp_buf *volatile outer = gr_oom_guard_set(&env);
    const volatile double t = now_seconds(), c = thread_cpu_seconds(); /* read after a longjmp */
    if (setjmp(env) == 0) {
      granite_forward_single(&r->rep[i], &parts[i], outputs[i], block_predictions ? block_predictions[i] : NULL);
    } else {
#pragma omp atomic write
      failed = 1;
    }
    r->busy_seconds[i] += now_seconds() - t;
    r->busy_cpu_seconds[i] += thread_cpu_seconds() - c;
    gr_oom_guard_set(outer);
  }
  r->region_seconds += now_seconds() - t0;
  omp_set_max_active_levels(saved);
  if (failed) gr_out_of_memory(0);
}

void granite_replicas_backward(GraniteReplicas *r, const Batch *parts, const float *const *d_outputs) {
  int saved = omp_get_max_active_levels();
  omp_set_max_active_levels(1);
  size_t np = r->model->num_params;
  double t0 = now_seconds();
#pragma omp parallel num_threads(r->count)
  {
    int i = omp_get_thread_num();
    if (i < r->count) {
      double t = now_seconds(), c = thread_cpu_seconds();
      memset(r->rep[i].grads, 0, np * sizeof(float));
      if (parts[i].num_blocks > 0) granite_backward_single(&r->rep[i], &parts[i], d_outputs[i]);
      r->busy_seconds[i] += now_seconds() - t;
      r->busy_cpu_seconds[i] += thread_cpu_seconds() - c;
    }
#pragma omp barrier
    /* sum the parts' gradients, each thread a slice of the parameters */
    int nt = omp_get_num_threads(), t = omp_get_thread_num();
    size_t lo = np * t / nt, hi = np * (t + 1) / nt;
    float *g = r->model->grads;
    for (int k = 0; k < r->count; k++) {
      const float *src = r->rep[k].grads;
#pragma omp simd
      for (size_t j = lo; j < hi; j++) g[j] += src[j];
    }
  }
  r->region_seconds += now_seconds() - t0;
  omp_set_max_active_levels(saved);
}

void granite_split_ids(const int32_t *ids, int n, const int32_t *instructions, int parts, int *start) {
  long total = 0;
  for (int i = 0; i < n; i++) total += instructions[ids[i]];
  start[0] = 0;
  long seen = 0;
  int p = 1;
  for (int i = 0; i < n && p < parts; i++) {
    seen += instructions[ids[i]];
    while (p < parts && seen * parts >= total * p) start[p++] = i + 1;
  }
  while (p < parts) start[p++] = n;
  start[parts] = n;
}
