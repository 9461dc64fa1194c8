/* A working eval action (spec §5.9: Gematria's is broken): predict every
 * labelled block of the input once and report per-task metrics. */
#include "train/evaluate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/label_sources.h"
#include "train/model_checkpoint.h"
#include "train/predict.h"
#include "train/restore.h"
#include "util/common.h"

int evaluate_predictions(Metrics *out, const Dataset *ds, const int32_t *ids, int n, const float *pred,
                         const PercentileRanks *ranks, bool with_eval) {
  int T = ds->num_tasks;
  int rows = ids ? n : ds->num_blocks;
  float *p = xmalloc((size_t)rows * T * sizeof(float));
  float *y = xmalloc((size_t)rows * T * sizeof(float));
  uint8_t *mask = xmalloc((size_t)rows * T);
  Rng rng;
  rng_seed(&rng, 1);
  for (int r = 0; r < rows; r++) {
    int i = ids ? ids[r] : r;
    dataset_block_labels(ds, i, &rng, y + (size_t)r * T, mask + (size_t)r * T, NULL, NULL);
    for (int t = 0; t < T; t++) {
      size_t j = (size_t)r * T + t;
      p[j] = pred[(size_t)i * T + t];
      if (!isfinite(p[j])) mask[j] = 0; /* not predicted (over the instruction cap) */
    }
  }
  int rc = metrics_compute(out, p, y, mask, rows, T, ranks, with_eval);
  free(p);
  free(y);
  free(mask);
  return rc;
}

int eval_main(const GematriaFlags *f) {
  if (flags_validate(f)) return 2;
  if (f->input_file.count == 0) {
    gr_error("eval needs --gematria_input_file (the .tfrecord files to evaluate on)");
    return 2;
  }
  Checkpoint ck;
  GraniteModel m;
  if (restore_model_for_inference(f, &ck, &m)) return 1;
  int T = ck.num_tasks, status = 1;
  Dataset ds;
  memset(&ds, 0, sizeof ds);
  float *pred = NULL;
  GraphOptions gopts;
  const char *repl = f->out_of_vocabulary_replacement_token[0] ? f->out_of_vocabulary_replacement_token : NULL;
  if (graph_options_init(&gopts, &ck.vocab, repl)) goto out;
  granite_graph_options(&m.cfg, &gopts);

  const char *filters[GRANITE_MAX_TASKS];
  source_filters_for(f, &ck, filters);
  DatasetOptions o;
  dataset_options_init(&o, &gopts);
  o.mode = DATASET_TRAIN;
  o.source_filters = filters;
  o.num_filters = T;
  /* spec §5.1: eval aggregates like training, except RANDOM becomes MEAN */
  ThroughputSelection sel;
  if (throughput_selection_parse(flags_selection_name(f->training_throughput_selection), &sel)) goto out;
  o.selection = sel == THROUGHPUT_RANDOM ? THROUGHPUT_MEAN : sel;
  o.scaling = label_scaling_for(f, &ck);
  o.use_seq2seq_loss = false; /* block-level labels are what eval compares */
  o.drop_invalid = f->drop_invalid_blocks;
  if (dataset_load(&ds, (const char *const *)f->input_file.items, f->input_file.count, &o)) goto out;
  if (ds.num_blocks == 0) {
    gr_error("%s: no block has a label matching the source filter '%s'", f->input_file.items[0], filters[0]);
    goto out;
  }
  int max_blocks = f->max_blocks_in_batch > 0 ? f->max_blocks_in_batch : PREDICT_DEFAULT_BATCH;
  pred = xmalloc((size_t)ds.num_blocks * T * sizeof(float));
  long skipped = 0;
  double t0 = now_seconds();
  long done = predict_dataset(&m, &ds, NULL, 0, max_blocks, f->max_instructions_in_batch, pred, &skipped);
  double secs = now_seconds() - t0;
  long nonfinite = 0;
  for (size_t i = 0; i < (size_t)ds.num_blocks * T; i++) nonfinite += !isfinite(pred[i]);
  if (nonfinite > skipped * T) { /* NaN marks only the blocks over the cap */
    gr_error("%s: the model predicts NaN or infinite values for %ld of %ld predicted values; its parameters have "
             "overflowed",
             ck.path, nonfinite - skipped * T, done * T);
    goto out;
  }
  PercentileRanks ranks;
  ranks.num_ranks = f->collected_percentile_ranks.count;
  for (int i = 0; i < ranks.num_ranks; i++) ranks.ranks[i] = f->collected_percentile_ranks.values[i];
  Metrics met;
  if (evaluate_predictions(&met, &ds, NULL, 0, pred, &ranks, true)) goto out;
  fprintf(stderr, "evaluated %s on %ld blocks in %.2fs", ck.path, done, secs);
  if (skipped) fprintf(stderr, " (%ld blocks over --gematria_max_instructions_in_batch left out)", skipped);
  fputc('\n', stderr);
  if (f->json)
    metrics_write_json(stdout, &met, (const char *const *)ck.task_names);
  else
    metrics_print_table(stdout, &met, (const char *const *)ck.task_names);
  fflush(stdout);
  /* with --json stdout holds only the JSON object */
  if (print_label_sources(f->json ? stderr : stdout, (const char *const *)f->input_file.items, f->input_file.count,
                          filters, (const char *const *)ck.task_names, T))
    goto out;
  status = 0;
out:
  free(pred);
  dataset_free(&ds);
  granite_model_destroy(&m);
  checkpoint_close(&ck);
  return status;
}
