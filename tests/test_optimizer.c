/* Optimizers against hand-computed values (spec §5.4), per-tensor clipping,
 * non-finite gradient detection. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h"
#include "train/optimizer.h"

/* Expected values computed by hand (double precision) from the spec §5.4
 * formulas for p0 = 1, lr = 0.1 and gradients 0.5, -0.25, 1e-7. */
static const float GRADS[3] = {0.5f, -0.25f, 1e-7f};

static void test_adam_three_steps(void) {
  const double expect[3] = {0.9000000632455132, 0.8733663743517929, 0.8527784442123101};
  enum { N = 1000 }; /* many equal elements: the OpenMP loop must treat each alike */
  float *p = malloc(N * sizeof *p), *g = malloc(N * sizeof *g);
  for (int i = 0; i < N; i++) p[i] = 1.0f;
  Optimizer o;
  optimizer_init(&o, OPTIMIZER_ADAM, N);
  CHECK(o.m && o.v && o.step == 0);
  for (int t = 0; t < 3; t++) {
    for (int i = 0; i < N; i++) g[i] = GRADS[t];
    optimizer_update(&o, p, g, 0.1f);
    CHECK(o.step == t + 1);
    CHECK_NEAR(p[0], expect[t], 2e-6, 0);
    CHECK_NEAR(p[N - 1], expect[t], 2e-6, 0);
  }
  CHECK_NEAR(o.m[0], 0.018000010000000007, 1e-5, 0);
  CHECK_NEAR(o.v[0], 0.00031193775, 5e-5, 0); /* float32 (1 - β2) */
  optimizer_free(&o);
  free(p);
  free(g);
}

/* ε outside the sqrt on the uncorrected v: with g = 1e-7 the step is 0.024,
 * where the textbook (corrected v) form would give ~0.1. */
static void test_adam_epsilon_hat(void) {
  float p = 1.0f, g = 1e-7f;
  Optimizer o;
  optimizer_init(&o, OPTIMIZER_ADAM, 1);
  optimizer_update(&o, &p, &g, 0.1f);
  CHECK_NEAR(p, 0.9759746926647958, 1e-6, 0);
  optimizer_free(&o);
}

static void test_sgd(void) {
  float p[2] = {1.0f, -2.0f}, g[2] = {0.5f, -4.0f};
  Optimizer o;
  optimizer_init(&o, OPTIMIZER_SGD, 2);
  CHECK(o.m == NULL && o.v == NULL);
  optimizer_update(&o, p, g, 0.1f);
  CHECK_NEAR(p[0], 0.95, 1e-7, 0);
  CHECK_NEAR(p[1], -1.6, 1e-7, 0);
  optimizer_update(&o, p, g, 0.01f);
  CHECK_NEAR(p[0], 0.945, 1e-7, 0);
  CHECK(o.step == 2);
  optimizer_free(&o);
}

static void test_rmsprop(void) {
  const double expect[3] = {0.9480124755118065, 0.9753100300318098, 0.9753100185221503};
  float p = 1.0f;
  Optimizer o;
  optimizer_init(&o, OPTIMIZER_RMSPROP, 1);
  CHECK(o.m[0] == 1.0f); /* TF1 quirk: accumulator starts at 1 */
  for (int t = 0; t < 3; t++) {
    float g = GRADS[t];
    optimizer_update(&o, &p, &g, 0.1f);
    CHECK_NEAR(p, expect[t], 1e-6, 0);
  }
  CHECK_NEAR(o.m[0], 0.754875, 1e-6, 0);
  optimizer_free(&o);
}

static void test_names(void) {
  OptimizerType t;
  CHECK(optimizer_type_parse("adam", &t) == 0 && t == OPTIMIZER_ADAM);
  CHECK(optimizer_type_parse("RMSPROP", &t) == 0 && t == OPTIMIZER_RMSPROP);
  CHECK(optimizer_type_parse("Sgd", &t) == 0 && t == OPTIMIZER_SGD);
  CHECK(optimizer_type_parse("adagrad", &t) == -1);
  CHECK(strcmp(optimizer_type_name(OPTIMIZER_SGD), "SGD") == 0);
  CHECK(optimizer_num_buffers(OPTIMIZER_ADAM) == 2);
}

static void fake_tensors(ParamTensor *t) {
  memset(t, 0, 3 * sizeof *t);
  strcpy(t[0].name, "a/w"); t[0].offset = 0; t[0].rows = 1; t[0].cols = 2;
  strcpy(t[1].name, "b/w"); t[1].offset = 2; t[1].rows = 2; t[1].cols = 1;
  strcpy(t[2].name, "c/b"); t[2].offset = 4; t[2].rows = 3; t[2].cols = 1;
}

static void test_clip_per_tensor(void) {
  ParamTensor t[3];
  fake_tensors(t);
  /* norms 5, 0.5, 12: clipped separately to <= 1 (not by the global norm 13.0) */
  float g[7] = {3, 4, 0.3f, 0.4f, 0, 12, 0};
  CHECK(clip_gradients_per_tensor(g, t, 3, 1.0f) == 2);
  CHECK_NEAR(g[0], 0.6, 1e-6, 0);
  CHECK_NEAR(g[1], 0.8, 1e-6, 0);
  CHECK_NEAR(g[2], 0.3, 1e-6, 0);
  CHECK_NEAR(g[3], 0.4, 1e-6, 0);
  CHECK_NEAR(g[5], 1.0, 1e-6, 0);
  float h[7] = {3, 4, 0.3f, 0.4f, 0, 12, 0};
  CHECK(clip_gradients_per_tensor(h, t, 3, 0.0f) == 0); /* off */
  CHECK(h[0] == 3 && h[5] == 12);
}

static void test_nonfinite(void) {
  ParamTensor t[3];
  fake_tensors(t);
  float g[7] = {1, 2, 3, 4, 5, 6, 7};
  size_t bad = 99;
  CHECK(find_nonfinite_gradient(g, t, 3, &bad) == -1);
  g[5] = NAN;
  CHECK(find_nonfinite_gradient(g, t, 3, &bad) == 2 && bad == 1);
  g[5] = 0;
  g[3] = -INFINITY;
  CHECK(find_nonfinite_gradient(g, t, 3, &bad) == 1 && bad == 1);
  CHECK(find_nonfinite_gradient(g, t, 3, NULL) == 1);
}

int main(void) {
  test_adam_three_steps();
  test_adam_epsilon_hat();
  test_sgd();
  test_rmsprop();
  test_names();
  test_clip_per_tensor();
  test_nonfinite();
  return test_summary("test_optimizer");
}
