/* A working eval action (spec §5.9: Gematria's is broken): predict every
 * labelled block of the input once and report per-task metrics. */
#include "train/evaluate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "io/checkpoint.h"
#include "train/eval_analysis.h"
#include "train/label_sources.h"
#include "train/model_checkpoint.h"
#include "train/predict.h"
#include "train/restore.h"
#include "util/common.h"
#include "util/output_file.h"

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

/* --gematria_output_csv: hex, graph seen, label and prediction per block;
 * written whole or not at all (util/output_file.h). */
static int write_csv(const char *path, const EvalAnalysis *a, const int32_t *ids, int n, const float *pred,
                     const char *const *names) {
  OutputFile out = {.slot = -1};
  if (output_open(&out, path, "--gematria_output_csv")) return -1;
  eval_analysis_write_csv(a, ids, n, pred, names, out.file);
  if (output_commit(&out)) return -1;
  fprintf(stderr, "wrote the evaluated blocks' labels and predictions to %s\n", path);
  return 0;
}

int eval_main(const GematriaFlags *f) {
  if (flags_validate(f)) return 2;
  if (f->input_file.count == 0) {
    gr_error("eval needs --gematria_input_file (the .tfrecord files to evaluate on)");
    return 2;
  }
  if (f->output_csv) { /* the per-block CSV comes from the error analysis's reading of the blocks */
    if (!f->error_analysis) {
      gr_error("--gematria_output_csv needs the error analysis (drop --noerror_analysis)");
      return 2;
    }
    const char **inputs = xmalloc(((size_t)f->input_file.count + 2) * sizeof *inputs);
    int n = 0;
    for (int i = 0; i < f->input_file.count; i++) inputs[n++] = f->input_file.items[i];
    if (f->checkpoint_file) inputs[n++] = f->checkpoint_file;
    int refused = output_refuse_inputs(f->output_csv, "--gematria_output_csv", inputs, n);
    free(inputs);
    if (refused) return 2;
  }
  Checkpoint ck;
  GraniteModel m;
  /* every rank reads the checkpoint and the input; rank 0 reports */
  int restored = restore_model_for_inference(f, &ck, &m);
  if (dist_any(restored != 0)) {
    if (restored == 0) granite_model_destroy(&m), checkpoint_close(&ck);
    return 1;
  }
  int T = ck.num_tasks, status = 1;
  Dataset ds;
  memset(&ds, 0, sizeof ds);
  float *pred = NULL;
  int32_t *ids = NULL; /* the blocks evaluated; NULL = all */
  int num_ids = 0;
  EvalAnalysis *analysis = NULL;
  GraphOptions gopts;
  const char *repl = f->out_of_vocabulary_replacement_token[0] ? f->out_of_vocabulary_replacement_token : NULL;
  bool loaded = graph_options_init(&gopts, &ck.vocab, repl) == 0;
  if (loaded) granite_graph_options(&m.cfg, &gopts);

  const char *filters[GRANITE_MAX_TASKS];
  source_filters_for(f, &ck, filters);
  DatasetOptions o;
  dataset_options_init(&o, &gopts);
  o.mode = DATASET_TRAIN;
  o.source_filters = filters;
  o.num_filters = T;
  /* spec §5.1: eval aggregates like training, except RANDOM becomes MEAN */
  ThroughputSelection sel = THROUGHPUT_MEAN;
  loaded = loaded && throughput_selection_parse(flags_selection_name(f->training_throughput_selection), &sel) == 0;
  o.selection = sel == THROUGHPUT_RANDOM ? THROUGHPUT_MEAN : sel;
  o.scaling = label_scaling_for(f, &ck);
  o.use_seq2seq_loss = false; /* block-level labels are what eval compares */
  o.drop_invalid = f->drop_invalid_blocks;
  loaded = loaded && dataset_load(&ds, (const char *const *)f->input_file.items, f->input_file.count, &o) == 0;
  if (dist_any(!loaded)) goto out;
  if (ds.num_blocks == 0) {
    gr_error_collective("%s: no block has a label matching the source filter '%s'", f->input_file.items[0],
                        filters[0]);
    goto out;
  }
  /* --gematria_validation_fraction: only the blocks training held out */
  if (f->validation_fraction > 0) {
    dataset_split_by_hash(&ds, f->validation_fraction, NULL, NULL, &ids, &num_ids);
    fprintf(stderr, "evaluating the %d of %d blocks held out by --gematria_validation_fraction=%g\n", num_ids,
            ds.num_blocks, f->validation_fraction);
    if (num_ids == 0) {
      gr_error("%s: no block falls in the held-out part of --gematria_validation_fraction=%g", f->input_file.items[0],
               f->validation_fraction);
      goto out;
    }
  }
  int max_blocks = f->max_blocks_in_batch > 0 ? f->max_blocks_in_batch : PREDICT_DEFAULT_BATCH;
  pred = xmalloc((size_t)ds.num_blocks * T * sizeof(float));
  for (size_t i = 0; i < (size_t)ds.num_blocks * T; i++) pred[i] = NAN; /* blocks not evaluated */
  long skipped = 0;
  double t0 = now_seconds();
  long done = predict_dataset(&m, &ds, ids, num_ids, max_blocks, f->max_instructions_in_batch, pred, &skipped);
  double secs = now_seconds() - t0;
  if (!dist_is_root()) { /* its predictions went to rank 0 */
    status = 0;
    goto out;
  }
  long nonfinite = 0;
  int rows = ids ? num_ids : ds.num_blocks;
  for (int r = 0; r < rows; r++)
    for (int t = 0; t < T; t++) nonfinite += !isfinite(pred[(size_t)(ids ? ids[r] : r) * T + t]);
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
  if (evaluate_predictions(&met, &ds, ids, num_ids, pred, &ranks, true)) goto out;
  fprintf(stderr, "evaluated %s on %ld blocks in %.2fs", ck.path, done, secs);
  if (skipped) fprintf(stderr, " (%ld blocks over --gematria_max_instructions_in_batch left out)", skipped);
  fputc('\n', stderr);
  if (!f->error_analysis && f->training_file_for_split)
    gr_warn("--gematria_training_file_for_split has no effect with --noerror_analysis");
  /* read what the error analysis needs first: a bad file then prints nothing */
  if (f->error_analysis && !(analysis = eval_analysis_prepare(f, &ds, ids, num_ids, &o))) goto out;
  const char *const *names = (const char *const *)ck.task_names;
  if (f->json) {
    metrics_write_json_open(stdout, &met, names);
    if (analysis) {
      fputs(", \"error_analysis\": ", stdout);
      eval_analysis_write(analysis, ids, num_ids, pred, names, true, stdout);
    }
    fputs("}\n", stdout);
  } else {
    metrics_print_table(stdout, &met, names);
    if (analysis) eval_analysis_write(analysis, ids, num_ids, pred, names, false, stdout);
  }
  fflush(stdout);
  if (f->output_csv && write_csv(f->output_csv, analysis, ids, num_ids, pred, names)) goto out;
  /* with --json stdout holds only the JSON object */
  if (print_label_sources(f->json ? stderr : stdout, (const char *const *)f->input_file.items, f->input_file.count,
                          filters, (const char *const *)ck.task_names, T))
    goto out;
  status = 0;
out:
  eval_analysis_free(analysis);
  free(ids);
  free(pred);
  dataset_free(&ds);
  granite_model_destroy(&m);
  checkpoint_close(&ck);
  return status;
}
