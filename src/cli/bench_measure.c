#include "cli/bench_measure.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "granite.h"
#include "io/bhive_csv.h"
#include "io/checkpoint.h"
#include "nn/gemm_kernel.h"
#include "train/flops.h"
#include "train/model_checkpoint.h"
#include "train/optimizer.h"
#include "util/common.h"
#include "util/machine.h"
#include "x86/canonicalize.h"

static double cpu_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

void bench_set_threads(int threads) {
  omp_set_num_threads(threads);
  openblas_set_num_threads(threads);
}

static void add_batch_sizes(PhaseResult *r, const Batch *b) {
  r->blocks += b->num_blocks;
  r->instructions += b->num_instructions;
  r->nodes += b->num_nodes;
  r->edges += b->num_edges;
}

static bool phase_done(const PhaseOptions *o, const PhaseResult *r) {
  if (r->steps >= o->max_steps) return true;
  return r->steps >= o->min_steps && r->seconds >= o->seconds;
}

/* dLoss/dprediction of a masked mean squared error: enough to drive a real
 * backward pass (the loss itself does not change the cost of a step). */
static void mse_gradient(const Batch *b, const float *pred, float *d, int T) {
  int count = 0;
  for (int i = 0; i < b->num_blocks * T; i++) count += b->label_mask[i] != 0;
  float scale = count ? 2.0f / count : 0.0f;
  for (int i = 0; i < b->num_blocks * T; i++)
    d[i] = b->label_mask[i] ? scale * (pred[i] - b->labels[i]) : 0.0f;
}

/* The batch and output buffers of one step (data parallelism, if on, happens
 * inside granite_forward/backward). */
typedef struct {
  Batch batch;
  float *out, *pred, *dout, *dblock;
  size_t cap_out, cap_pred, cap_dout, cap_dblock;
} StepBuffers;

static void step_buffers_init(StepBuffers *sb, int num_tasks) {
  memset(sb, 0, sizeof *sb);
  batch_init(&sb->batch, num_tasks);
}

static void step_buffers_free(StepBuffers *sb) {
  batch_free(&sb->batch);
  free(sb->out);
  free(sb->pred);
  free(sb->dout);
  free(sb->dblock);
}

/* Fills the step's batch from ids and sizes the buffers. */
static void fill_step(StepBuffers *sb, const GraniteModel *m, const Dataset *ds, const int32_t *ids, int k,
                      Rng *rng) {
  const int T = m->cfg.num_tasks;
  Batch *b = &sb->batch;
  dataset_fill_batch(ds, ids, k, b, rng);
  size_t R = (size_t)granite_output_rows(m, b) * T, B = (size_t)b->num_blocks * T;
  grow_array((void **)&sb->out, &sb->cap_out, R, sizeof(float));
  grow_array((void **)&sb->dout, &sb->cap_dout, R, sizeof(float));
  grow_array((void **)&sb->pred, &sb->cap_pred, B, sizeof(float));
  grow_array((void **)&sb->dblock, &sb->cap_dblock, B, sizeof(float));
}

static void count_step(PhaseResult *r, const StepBuffers *sb, const GraniteModel *m, bool train) {
  add_batch_sizes(r, &sb->batch);
  FlopCount f;
  flops_count_batch(&f, &m->cfg, &sb->batch, (double)m->num_params);
  r->flops += train ? f.train_step : f.forward;
}

int bench_train(GraniteModel *m, const Dataset *ds, const PhaseOptions *o, PhaseResult *r) {
  memset(r, 0, sizeof *r);
  machine_reset_peak_rss();
  const int T = m->cfg.num_tasks;
  /* data parallelism as the model offers it to every caller (model.h) */
  granite_set_data_parallel(m, o->data_parallel);
  Sampler s;
  sampler_init(&s, ds, NULL, 0, SAMPLER_RANDOM, o->max_blocks, o->max_instructions, o->seed);
  int32_t *ids = xmalloc((size_t)sampler_max_batch(&s) * sizeof *ids);
  StepBuffers sb;
  step_buffers_init(&sb, ds->num_tasks);
  Optimizer opt;
  optimizer_init(&opt, OPTIMIZER_ADAM, m->num_params);
  Rng label_rng;
  rng_seed(&label_rng, o->seed ^ 0x5eed);
  int rc = 0;
  for (int step = 0; !phase_done(o, r); step++) {
    bool timed = step >= o->warmup_steps;
    if (step == o->warmup_steps) granite_data_parallel_stats(m, true, NULL, NULL, NULL);
    double t0 = now_seconds(), c0 = cpu_seconds();
    int k = sampler_next(&s, ids);
    if (k == 0) {
      gr_error("bench: no block fits a batch of %d blocks / %d instructions", o->max_blocks,
               o->max_instructions);
      rc = -1;
      break;
    }
    fill_step(&sb, m, ds, ids, k, &label_rng);
    double t1 = now_seconds(), p1 = thread_cpu_seconds();
    granite_forward(m, &sb.batch, sb.out, sb.pred);
    double t2 = now_seconds(), p2 = thread_cpu_seconds();
    mse_gradient(&sb.batch, sb.pred, sb.dblock, T);
    granite_block_grad_to_outputs(m, &sb.batch, sb.dblock, sb.dout);
    memset(m->grads, 0, m->num_params * sizeof *m->grads);
    double p3 = thread_cpu_seconds();
    granite_backward(m, &sb.batch, sb.dout);
    double t3 = now_seconds(), p4 = thread_cpu_seconds();
    optimizer_update(&opt, m->params, m->grads, 1e-4f);
    double t4 = now_seconds();
    if (!timed) continue;
    r->steps++;
    r->seconds += t4 - t0;
    r->cpu_seconds += cpu_seconds() - c0;
    r->t_batch += t1 - t0;
    r->t_forward += t2 - t1;
    r->t_backward += t3 - t2;
    r->t_update += t4 - t3;
    r->pass_cpu_seconds += (p2 - p1) + (p4 - p3);
    count_step(r, &sb, m, true);
  }
  r->peak_rss_mib = machine_peak_rss_mib();
  granite_data_parallel_stats(m, false, &r->region_seconds, &r->busy_seconds, &r->busy_cpu_seconds);
  free(ids);
  step_buffers_free(&sb);
  optimizer_free(&opt);
  sampler_free(&s);
  return rc;
}

int bench_predict(GraniteModel *m, const Dataset *ds, const PhaseOptions *o, PhaseResult *r) {
  memset(r, 0, sizeof *r);
  machine_reset_peak_rss();
  granite_set_inference_only(m, true); /* as `granite predict`: no activations kept for backward */
  /* data parallelism as the model offers it to every caller (model.h) */
  granite_set_data_parallel(m, o->data_parallel);
  Sampler s;
  sampler_init(&s, ds, NULL, 0, SAMPLER_ONCE, o->max_blocks, o->max_instructions, o->seed);
  int32_t *ids = xmalloc((size_t)sampler_max_batch(&s) * sizeof *ids);
  StepBuffers sb;
  step_buffers_init(&sb, ds->num_tasks);
  for (int step = 0; !phase_done(o, r); step++) {
    if (step == o->warmup_steps) granite_data_parallel_stats(m, true, NULL, NULL, NULL);
    double t0 = now_seconds(), c0 = cpu_seconds();
    int k = sampler_next(&s, ids);
    if (k == 0) { /* end of the file: go round again */
      sampler_free(&s);
      sampler_init(&s, ds, NULL, 0, SAMPLER_ONCE, o->max_blocks, o->max_instructions, o->seed);
      k = sampler_next(&s, ids);
      if (k == 0) break;
    }
    fill_step(&sb, m, ds, ids, k, NULL);
    double t1 = now_seconds(), p1 = thread_cpu_seconds();
    granite_forward(m, &sb.batch, sb.out, sb.pred);
    double t2 = now_seconds(), p2 = thread_cpu_seconds();
    if (step < o->warmup_steps) continue;
    r->steps++;
    r->seconds += t2 - t0;
    r->cpu_seconds += cpu_seconds() - c0;
    r->t_batch += t1 - t0;
    r->t_forward += t2 - t1;
    r->pass_cpu_seconds += p2 - p1;
    count_step(r, &sb, m, false);
  }
  r->peak_rss_mib = machine_peak_rss_mib();
  granite_data_parallel_stats(m, false, &r->region_seconds, &r->busy_seconds, &r->busy_cpu_seconds);
  free(ids);
  step_buffers_free(&sb);
  sampler_free(&s);
  return 0;
}

static int compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Sorts the call times (ms) and fills the median and percentiles. */
static void summarize_latency(LatencyResult *r, double *ms, int calls, float prediction) {
  qsort(ms, calls, sizeof *ms, compare_double);
  r->calls = calls;
  r->min_ms = ms[0];
  r->median_ms = ms[calls / 2];
  r->p10_ms = ms[calls / 10];
  r->p90_ms = ms[(calls * 9) / 10];
  r->prediction = prediction;
}

int bench_latency(GraniteModel *m, const GraphOptions *g, const uint8_t *code, size_t len, int calls,
                  LatencyResult *r) {
  memset(r, 0, sizeof *r);
  if (calls < 1) calls = 1;
  granite_set_inference_only(m, true);
  const int T = m->cfg.num_tasks;
  Batch b;
  batch_init(&b, T);
  float labels[GRANITE_MAX_TASKS] = {0};
  uint8_t mask[GRANITE_MAX_TASKS] = {0};
  float *out = xcalloc(64 * (size_t)T, sizeof *out), pred[GRANITE_MAX_TASKS];
  double *ms = xmalloc((size_t)calls * sizeof *ms);
  int rc = 0;
  for (int i = -3; i < calls && rc == 0; i++) { /* three untimed warm-up calls */
    double t0 = now_seconds();
    Gematria__BasicBlockProto block;
    gematria__basic_block_proto__init(&block);
    size_t bad = 0;
    int n = x86_canonicalize_block(code, len, 0, &block, &bad);
    if (n < 0) {
      gr_error("bench: latency block does not decode at byte %zu", bad);
      rc = -1;
      break;
    }
    BlockGraph graph;
    char err[200];
    if (graph_build_block(&graph, &block, g, err, sizeof err) != 0) {
      gr_error("bench: latency block rejected by the graph builder: %s", err);
      x86_block_clear(&block);
      rc = -1;
      break;
    }
    batch_clear(&b);
    batch_add(&b, &graph, labels, mask, NULL, NULL);
    if (granite_output_rows(m, &b) > 64) {
      gr_error("bench: latency block too long");
      rc = -1;
    } else {
      granite_forward(m, &b, out, pred);
    }
    r->num_instructions = graph.num_instructions;
    block_graph_free(&graph);
    x86_block_clear(&block);
    double t1 = now_seconds();
    if (i >= 0) ms[i] = (t1 - t0) * 1e3;
  }
  if (rc == 0) summarize_latency(r, ms, calls, pred[0]);
  free(ms);
  free(out);
  batch_free(&b);
  return rc;
}

/* Reads up to max_blocks blocks of a BHive CSV (hex, throughput) into one
 * buffer: *code, offsets[k]..offsets[k+1] for block k. Returns the count. */
static int read_csv_blocks(const char *csv, int max_blocks, uint8_t **code, size_t **offsets) {
  FILE *f = fopen(csv, "r");
  if (!f) return 0;
  BhiveCsvColumns cols = {0, 1};
  char *line = NULL;
  size_t line_cap = 0, code_cap = 0, off_cap = 0, used = 0;
  uint8_t *buf = NULL;
  size_t buf_cap = 0;
  int n = 0, first = 1;
  ssize_t len;
  grow_array((void **)offsets, &off_cap, 1, sizeof **offsets);
  (*offsets)[0] = 0;
  while (n < max_blocks && (len = getline(&line, &line_cap, f)) > 0) {
    BhiveCsvLine l;
    if (bhive_csv_parse_line(line, (size_t)len, &cols, first, &buf, &buf_cap, &l) == BHIVE_OK) {
      grow_array((void **)code, &code_cap, used + l.code_len, 1);
      memcpy(*code + used, l.code, l.code_len);
      used += l.code_len;
      grow_array((void **)offsets, &off_cap, (size_t)n + 2, sizeof **offsets);
      (*offsets)[++n] = used;
    }
    first = 0;
  }
  free(line);
  free(buf);
  fclose(f);
  return n;
}

/* Mean ms per call of predicting blocks one at a time; counts failures as calls. */
static double stream_ms(granite_model *g, const uint8_t *code, const size_t *off, int n) {
  float out[GRANITE_MAX_TASKS];
  double t0 = now_seconds();
  for (int k = 0; k < n; k++) granite_predict_bytes(g, code + off[k], off[k + 1] - off[k], out);
  return (now_seconds() - t0) * 1e3 / n;
}

int bench_latency_api(const GraniteModel *m, const Vocab *vocab, const char *path, const uint8_t *code,
                      size_t len, int calls, const char *precision, LatencyResult *r, const char *csv,
                      int stream_blocks, CacheResult *cache) {
  memset(r, 0, sizeof *r);
  if (calls < 1) calls = 1;
  const char *names[GRANITE_MAX_TASKS];
  for (int t = 0; t < m->cfg.num_tasks; t++) names[t] = "default";
  CheckpointContents c = {0};
  c.model = m;
  c.vocab = vocab;
  c.num_tasks = m->cfg.num_tasks;
  c.task_names = names;
  c.validation_mape = NAN;
  if (checkpoint_write_file(path, &c) != 0) return -1;
  char err[256];
  granite_model *g = granite_load(path, err, sizeof err);
  remove(path);
  if (!g) {
    gr_error("bench: %s", err);
    return -1;
  }
  granite_set_num_threads(g, 1);
  granite_set_precision(g, precision);
  granite_set_cache_size(g, 0); /* the model's own latency */
  float out[GRANITE_MAX_TASKS];
  double *ms = xmalloc((size_t)calls * sizeof *ms);
  int rc = 0;
  for (int i = -3; i < calls; i++) {
    double t0 = now_seconds();
    if (granite_predict_bytes(g, code, len, out) != 0) {
      gr_error("bench: granite_predict_bytes failed on the latency block");
      rc = -1;
      break;
    }
    if (i >= 0) ms[i] = (now_seconds() - t0) * 1e3;
  }
  if (rc == 0) summarize_latency(r, ms, calls, out[0]);
  if (rc == 0 && cache) {
    memset(cache, 0, sizeof *cache);
    cache->cache_size = GRANITE_DEFAULT_CACHE_SIZE;
    granite_set_cache_size(g, GRANITE_DEFAULT_CACHE_SIZE);
    for (int i = -1; i < calls; i++) { /* the first call fills the cache */
      double t0 = now_seconds();
      granite_predict_bytes(g, code, len, out);
      if (i >= 0) ms[i] = (now_seconds() - t0) * 1e3;
    }
    summarize_latency(&cache->hit, ms, calls, out[0]);
    uint8_t *blocks = NULL;
    size_t *off = NULL;
    int n = csv && stream_blocks > 0 ? read_csv_blocks(csv, stream_blocks, &blocks, &off) : 0;
    if (n > 0) {
      granite_set_cache_size(g, 0);
      cache->stream_uncached_ms_per_block = stream_ms(g, blocks, off, n);
      granite_set_cache_size(g, GRANITE_DEFAULT_CACHE_SIZE);
      cache->stream_ms_per_block = stream_ms(g, blocks, off, n);
      granite_cache_stats(g, &cache->stream_hits, &cache->stream_blocks);
    }
    free(blocks);
    free(off);
  }
  free(ms);
  granite_free(g);
  return rc;
}

static bool gemm_once(float *c, const float *a, const float *bm, int M, int N, int K, bool own_kernel) {
  if (own_kernel) return gemm_kernel_nn(c, N, a, K, bm, M, K, N, 0.0f);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, bm, N, 0.0f, c, N);
  return true;
}

double bench_sgemm_gflops(int M, int N, int K, double seconds, bool own_kernel) {
  float *a = xmalloc((size_t)M * K * sizeof *a), *bm = xmalloc((size_t)K * N * sizeof *bm);
  float *c = xmalloc((size_t)M * N * sizeof *c);
  for (size_t i = 0; i < (size_t)M * K; i++) a[i] = (float)((i * 7919) % 1000) * 1e-3f;
  for (size_t i = 0; i < (size_t)K * N; i++) bm[i] = (float)((i * 104729) % 1000) * 1e-3f;
  double best = 0, start = now_seconds();
  if (gemm_once(c, a, bm, M, N, K, own_kernel)) /* a warm-up; false: no kernel for this CPU */
    for (int runs = 0; runs < 3 || (runs < 100000 && now_seconds() - start < seconds); runs++) {
      double t0 = now_seconds();
      gemm_once(c, a, bm, M, N, K, own_kernel);
      double g = 2.0 * M * N * K / (now_seconds() - t0) * 1e-9;
      if (g > best) best = g;
    }
  free(a);
  free(bm);
  free(c);
  return best;
}
