/* Latency of one block through the public C API (granite_predict_bytes on
 * one thread), for profiling the single-block path under perf or callgrind
 * without the rest of `granite bench`: a default-config model with random
 * weights and the vocabulary data/sample/vocab.txt is written as a
 * checkpoint, loaded with granite_load, and the spec §3.7 block without its
 * last instruction is predicted `calls` times.
 * Usage: api_latency [calls] [cache-size] [fp32|bf16]   (run from the source directory) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "granite.h"
#include "io/checkpoint.h"
#include "train/model_checkpoint.h"
#include "io/vocab.h"
#include "model/model.h"
#include "util/common.h"

int main(int argc, char **argv) {
  int calls = argc > 1 ? atoi(argv[1]) : 2000;
  int cache = argc > 2 ? atoi(argv[2]) : 0;
  const char *precision = argc > 3 ? argv[3] : "fp32";
  Vocab vocab;
  if (vocab_load(&vocab, "data/sample/vocab.txt") != 0) return 1;
  GraniteConfig cfg;
  granite_config_default(&cfg);
  cfg.vocab_size = vocab.size;
  GraniteModel m;
  if (granite_model_create(&m, &cfg) != 0) return 1;
  granite_model_init_params(&m, 1);
  const char *names[] = {"default"};
  CheckpointContents c = {.model = &m, .vocab = &vocab, .num_tasks = 1, .task_names = names,
                          .validation_mape = NAN};
  char path[64];
  snprintf(path, sizeof path, "/tmp/api_latency_%d.ckpt", (int)getpid());
  if (checkpoint_write_file(path, &c) != 0) return 1;
  char err[256];
  granite_model *g = granite_load(path, err, sizeof err);
  remove(path);
  if (!g) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  granite_set_num_threads(g, 1);
  granite_set_cache_size(g, cache);
  if (granite_set_precision(g, precision) != 0) fprintf(stderr, "api_latency: precision %s not available\n", precision);
  static const uint8_t code[] = {0x48, 0x29, 0xd3, 0x8b, 0x44, 0x24, 0x6c, 0x8b, 0x54,
                                 0x24, 0x68, 0x48, 0xc1, 0xfb, 0x03, 0x48, 0x29, 0xd0};
  float out[GRANITE_MAX_TASKS];
  double best = 1e9, t_all = now_seconds();
  for (int i = 0; i < calls; i++) {
    double t0 = now_seconds();
    if (granite_predict_bytes(g, code, sizeof code, out) != 0) return 1;
    double dt = now_seconds() - t0;
    if (dt < best) best = dt;
  }
  printf("%d calls: mean %.4f ms, best %.4f ms, prediction %.6g\n", calls,
         (now_seconds() - t_all) / calls * 1e3, best * 1e3, out[0]);
  granite_free(g);
  granite_model_destroy(&m);
  vocab_free(&vocab);
  return 0;
}
