/* The training loop, spec §5.7, with the fixes of DESIGN.md "Compatibility,
 * and where we do better". One step: sample a batch (§5.6), forward, loss
 * (§5.3), backward, non-finite check, per-tensor clipping and the optimizer
 * (§5.4) at the scheduled learning rate (§5.5). */
#include "train/trainer.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "dist/dist.h"
#include "dist/dist_step.h"
#include "io/checkpoint.h"
#include "io/dataset.h"
#include "model/loss.h"
#include "model/model.h"
#include "train/batch_source.h"
#include "train/evaluate.h"
#include "train/metrics.h"
#include "train/model_checkpoint.h"
#include "train/summaries.h"
#include "train/optimizer.h"
#include "train/precision.h"
#include "train/predict.h"
#include "train/progress.h"
#include "train/restore.h"
#include "train/schedule.h"
#include "util/common.h"
#include "util/rng.h"

/* Set by the signal handler only; the loop finishes its step, saves, exits. */
static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig) { stop_requested = sig; }

static void install_stop_handlers(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  /* A second Ctrl-C kills at once (default action), for an impatient user. */
  sa.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

/* Random state saved in checkpoints so a resumed run continues the same
 * sample sequence. */
typedef struct {
  Rng sampler, labels, injection;
  int64_t sampler_cursor;
} SavedRandomState;

typedef struct {
  const GematriaFlags *f;
  Vocab vocab;
  GraphOptions gopts;
  Dataset data, valid_data;
  bool has_valid_file;
  int32_t *train_ids, *valid_ids;
  int num_train, num_valid;
  const Dataset *valid_ds; /* &data (split) or &valid_data (file), NULL = none */
  int num_tasks;
  char task_buf[GRANITE_MAX_TASKS][32];
  const char *task_names[GRANITE_MAX_TASKS];
  GraniteModel model;
  bool model_created;
  bool scale_restored; /* the output scale came from a checkpoint */
  Optimizer opt;
  bool opt_created;
  LrSchedule sched;
  LossType loss_type;
  LossNorm loss_norm;
  Sampler sampler;
  bool sampler_created;
  SavedRandomState rs;
  CheckpointMeta meta;
  int64_t step, last_saved_step;
  double best_valid_mape; /* percent */
  char last_checkpoint[4096];
  PercentileRanks ranks;
  Progress progress;
  Summaries summaries; /* TensorBoard */
  bool use_deltas;
  /* The random sampler's block order: after the last batch trained on (to
   * save), and as read from the checkpoint resumed from (to restore). */
  const int32_t *order_to_save;
  int32_t *restored_order;
  size_t restored_order_len;
  DistStep dist; /* this rank's part of each step (dist/dist_step.h) */
} Trainer;

static int make_dirs(const char *path) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(buf, 0777) && errno != EEXIST) break;
    *p = '/';
  }
  if (mkdir(buf, 0777) && errno != EEXIST) {
    gr_error("%s: cannot create the checkpoint directory: %s", path, strerror(errno));
    return -1;
  }
  return 0;
}

static uint64_t seed_of(const GematriaFlags *f) {
  if (f->random_seed >= 0) return (uint64_t)f->random_seed;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec;
}

static int map_selection(int flag_value, ThroughputSelection *out) {
  return throughput_selection_parse(flags_selection_name(flag_value), out);
}

static int load_data(Trainer *t) {
  const GematriaFlags *f = t->f;
  DatasetOptions o;
  dataset_options_init(&o, &t->gopts);
  o.mode = DATASET_TRAIN;
  o.source_filters = (const char *const *)f->throughput_source_filter.items;
  o.num_filters = f->throughput_source_filter.count;
  if (map_selection(f->training_throughput_selection, &o.selection)) return -1;
  o.scaling = f->input_file_scaling;
  o.use_seq2seq_loss = f->use_seq2seq_loss;
  o.seq2seq_deltas = t->use_deltas;
  o.drop_invalid = f->drop_invalid_blocks;
  double t0 = now_seconds();
  if (dataset_load(&t->data, (const char *const *)f->input_file.items, f->input_file.count, &o)) return -1;
  if (dist_is_root())
    fprintf(stderr, "loaded %d blocks (%ld records, %ld dropped without labels, %ld invalid dropped) in %.1fs\n",
            t->data.num_blocks, t->data.num_records, t->data.num_dropped_no_label, t->data.num_dropped_invalid,
            now_seconds() - t0);
  if (f->validation_file) {
    StringList files = {0};
    const char *p = f->validation_file;
    char **items = NULL;
    int n = 0;
    while (*p) { /* comma list, like --gematria_input_file */
      const char *comma = strchr(p, ',');
      size_t len = comma ? (size_t)(comma - p) : strlen(p);
      items = xrealloc(items, (size_t)(n + 1) * sizeof *items);
      items[n] = xmalloc(len + 1);
      memcpy(items[n], p, len);
      items[n++][len] = 0;
      if (!comma) break;
      p = comma + 1;
    }
    files.items = items;
    files.count = n;
    int rc = dataset_load(&t->valid_data, (const char *const *)files.items, files.count, &o);
    for (int i = 0; i < n; i++) free(items[i]);
    free(items);
    if (rc) return -1;
    t->has_valid_file = true;
    t->valid_ds = &t->valid_data;
    t->num_valid = t->valid_data.num_blocks;
    t->valid_ids = NULL;
    t->num_train = t->data.num_blocks;
    t->train_ids = NULL;
  } else if (f->validation_fraction > 0) {
    dataset_split_by_hash(&t->data, f->validation_fraction, &t->train_ids, &t->num_train, &t->valid_ids,
                          &t->num_valid);
    t->valid_ds = &t->data;
  } else {
    t->num_train = t->data.num_blocks;
  }
  if (t->num_train == 0) {
    gr_error("%s: no training blocks with labels matching --gematria_throughput_source_filter", f->input_file.items[0]);
    return -1;
  }
  if (t->valid_ds && dist_is_root())
    fprintf(stderr, "training on %d blocks, validating on %d held-out blocks\n", t->num_train, t->num_valid);
  if (t->valid_ds && t->num_valid == 0) {
    gr_warn("the validation set is empty; no validation will be done");
    t->valid_ds = NULL;
  }
  return 0;
}

static void fill_meta(Trainer *t) {
  const GematriaFlags *f = t->f;
  char buf[64];
  checkpoint_meta_set(&t->meta, "loss_type", flags_loss_type_name(f->loss_type));
  checkpoint_meta_set(&t->meta, "learning_rate_schedule", flags_schedule_name(f->learning_rate_schedule));
  snprintf(buf, sizeof buf, "%g", f->learning_rate);
  checkpoint_meta_set(&t->meta, "learning_rate", buf);
  snprintf(buf, sizeof buf, "%lld", f->decay_steps);
  checkpoint_meta_set(&t->meta, "decay_steps", buf);
  snprintf(buf, sizeof buf, "%g", f->decay_rate);
  checkpoint_meta_set(&t->meta, "decay_rate", buf);
  snprintf(buf, sizeof buf, "%d", f->max_blocks_in_batch);
  checkpoint_meta_set(&t->meta, "max_blocks_in_batch", buf);
  snprintf(buf, sizeof buf, "%g", f->input_file_scaling);
  checkpoint_meta_set(&t->meta, "input_file_scaling", buf);
  for (int i = 0; i < f->throughput_source_filter.count; i++) {
    char key[64];
    snprintf(key, sizeof key, "source_filter.%d", i);
    checkpoint_meta_set(&t->meta, key, f->throughput_source_filter.items[i]);
  }
  if (f->tokens_file) checkpoint_meta_set(&t->meta, "tokens_file", f->tokens_file);
}

/* t->rs holds the random state after the last batch trained on (set by
 * the loop from the batch), not the sampler's: with prefetch the sampler is
 * already past the next batch. */
static int save_checkpoint(Trainer *t, double valid_mape) {
  /* the random state, then (random sampler) the block order */
  size_t order_bytes = t->order_to_save ? (size_t)t->sampler.n * sizeof(int32_t) : 0;
  size_t blob_bytes = sizeof t->rs + order_bytes;
  uint8_t *blob = xmalloc(blob_bytes);
  memcpy(blob, &t->rs, sizeof t->rs);
  if (order_bytes) memcpy(blob + sizeof t->rs, t->order_to_save, order_bytes);
  CheckpointContents c = {
      .global_step = t->step,
      .model = &t->model,
      .vocab = &t->vocab,
      .num_tasks = t->num_tasks,
      .task_names = t->task_names,
      .optimizer = &t->opt,
      .meta = &t->meta,
      .rng_state = blob,
      .rng_state_bytes = blob_bytes,
      .validation_mape = valid_mape,
  };
  char path[4096];
  int rc = checkpoint_save(t->f->checkpoint_dir, &c, t->f->checkpoint_max_to_keep, path, sizeof path);
  free(blob);
  if (rc) return -1;
  progress_break_line(&t->progress);
  fprintf(stderr, "saved %s\n", path);
  snprintf(t->last_checkpoint, sizeof t->last_checkpoint, "%s", path);
  t->last_saved_step = t->step;
  return 0;
}

/* Validation MAPE in percent (mean over tasks), logged; NaN without a set. */
static double validate(Trainer *t, bool *is_best) {
  *is_best = false;
  if (!t->valid_ds) return NAN;
  const Dataset *ds = t->valid_ds;
  float *pred = xmalloc((size_t)ds->num_blocks * (size_t)t->num_tasks * sizeof(float));
  int max_blocks = t->f->max_blocks_in_batch > 0 ? t->f->max_blocks_in_batch : PREDICT_DEFAULT_BATCH;
  if (max_blocks < 256) max_blocks = 256; /* inference batches can be bigger than training ones */
  /* every rank predicts its share; the predictions meet on rank 0 */
  predict_dataset(&t->model, ds, t->valid_ids, t->num_valid, max_blocks, t->f->max_instructions_in_batch, pred, NULL);
  if (!dist_is_root()) {
    free(pred);
    return NAN;
  }
  Metrics m;
  int rc = evaluate_predictions(&m, ds, t->valid_ids, t->num_valid, pred, &t->ranks, false);
  free(pred);
  if (rc) return NAN;
  double sum = 0;
  int n = 0;
  for (int k = 0; k < m.num_tasks; k++)
    if (isfinite(m.task[k].relative_mae)) sum += m.task[k].relative_mae, n++;
  double mape = n ? 100 * sum / n : NAN;
  *is_best = isfinite(mape) && !(mape >= t->best_valid_mape);
  if (*is_best) t->best_valid_mape = mape;
  progress_validation(&t->progress, t->step, &m, *is_best);
  return mape;
}

static void per_task_relative_mae(const float *pred, const float *labels, const uint8_t *mask, int rows, int T,
                                  double *out) {
  for (int k = 0; k < T; k++) {
    double s = 0;
    int n = 0;
    for (int r = 0; r < rows; r++) {
      size_t i = (size_t)r * T + k;
      if (!mask[i]) continue;
      s += fabs(pred[i] - labels[i]) / fabs(labels[i]);
      n++;
    }
    out[k] = n ? s / n : NAN;
  }
}

static int compare_int32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

/* Puts the random sampler's block order back as saved, so that a resumed
 * run draws the same batches as an uninterrupted one. Only if the saved
 * order is a reordering of the same blocks (same data and split); otherwise
 * the fresh order is kept (the batches are then just as random). */
static void restore_sampler_order(Trainer *t) {
  Sampler *s = &t->sampler;
  if (!t->restored_order || s->mode != SAMPLER_RANDOM || t->restored_order_len != (size_t)s->n) return;
  size_t bytes = (size_t)s->n * sizeof(int32_t);
  int32_t *a = xmalloc(bytes + sizeof(int32_t)), *b = xmalloc(bytes + sizeof(int32_t));
  memcpy(a, s->ids, bytes);
  memcpy(b, t->restored_order, bytes);
  qsort(a, (size_t)s->n, sizeof *a, compare_int32);
  qsort(b, (size_t)s->n, sizeof *b, compare_int32);
  if (memcmp(a, b, bytes) == 0)
    memcpy(s->ids, t->restored_order, bytes);
  else
    gr_warn("the checkpoint's batch order does not fit this data set; batches are drawn afresh");
  free(a);
  free(b);
}

/* Resume from the newest checkpoint in the directory, or warm start. 1 =
 * resumed, 0 = fresh model, -1 = error. */
static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* --granite_output_scale=auto: the median label of the training blocks, over
 * all tasks (per instruction for seq2seq, whose outputs are per instruction),
 * so that the read-out starts near the labels' unit whatever it is. */
static float auto_output_scale(const Trainer *t) {
  const Dataset *d = &t->data;
  size_t n = 0, cap = (size_t)t->num_train * d->num_tasks;
  double *v = xmalloc((cap ? cap : 1) * sizeof *v);
  for (int i = 0; i < t->num_train; i++) {
    int blk = t->train_ids ? t->train_ids[i] : i;
    for (int k = 0; k < d->num_tasks; k++) {
      int64_t l = (int64_t)blk * d->num_tasks + k;
      if (d->value_offset[l + 1] == d->value_offset[l]) continue;
      double x = d->values[d->value_offset[l]];
      if (t->f->seq2seq) x /= d->num_instructions[blk] > 0 ? d->num_instructions[blk] : 1;
      if (isfinite(x) && x > 0) v[n++] = x;
    }
  }
  double median = 1.0;
  if (n) {
    qsort(v, n, sizeof *v, compare_doubles);
    median = v[n / 2];
  }
  free(v);
  return (float)median;
}

static int restore_state(Trainer *t, const GraniteConfig *cfg, OptimizerType opt_type) {
  const GematriaFlags *f = t->f;
  char latest[4096];
  int found = checkpoint_find_latest(f->checkpoint_dir, latest, sizeof latest, NULL);
  if (found < 0) return -1;
  const char *from = NULL;
  bool resume = found == 1;
  if (resume)
    from = latest;
  else if (f->warmstart_checkpoint_file)
    from = f->warmstart_checkpoint_file;
  else if (f->warmstart_checkpoint_dir)
    from = f->warmstart_checkpoint_dir;
  if (!from) return 0;

  Checkpoint ck;
  if (checkpoint_open(&ck, from)) return -1;
  int rc = -1;
  if (check_config_against_flags(f, &ck.config, false, ck.path)) goto done;
  if (check_same_vocab(&t->vocab, &ck.vocab, f->tokens_file, ck.path)) goto done;
  for (int k = 0; k < t->num_tasks; k++) {
    if (strcmp(t->task_names[k], ck.task_names[k])) {
      gr_error("--gematria_task_names: task %d is '%s' but the checkpoint %s calls it '%s'", k + 1, t->task_names[k],
               ck.path, ck.task_names[k]);
      goto done;
    }
  }
  (void)cfg;
  if (!flags_output_scale_auto(f) && flags_was_set(f, "granite_output_scale") &&
      t->model.cfg.output_scale != ck.config.output_scale) {
    gr_error("--granite_output_scale=%s contradicts the checkpoint %s, which was trained with %.9g", f->output_scale,
             ck.path, (double)ck.config.output_scale);
    goto done;
  }
  t->model.cfg.output_scale = ck.config.output_scale; /* the scale is part of the trained model */
  t->scale_restored = true;
  if (checkpoint_load_params(&ck, &t->model)) goto done;
  if (resume) {
    if (ck.has_optimizer) {
      if (ck.optimizer_type != opt_type) {
        gr_error("--gematria_optimizer_type=%s contradicts the checkpoint %s, which was trained with %s",
                 optimizer_type_name(opt_type), ck.path, optimizer_type_name(ck.optimizer_type));
        goto done;
      }
      optimizer_free(&t->opt);
      if (checkpoint_load_optimizer(&ck, t->model.num_params, &t->opt)) {
        optimizer_init(&t->opt, opt_type, t->model.num_params);
        goto done;
      }
    }
    if (ck.rng_state && ck.rng_state_bytes >= sizeof t->rs) {
      memcpy(&t->rs, ck.rng_state, sizeof t->rs);
      size_t rest = ck.rng_state_bytes - sizeof t->rs;
      if (rest > 0 && rest % sizeof(int32_t) == 0) { /* checked against the data once it is loaded */
        t->restored_order = xmalloc(rest);
        memcpy(t->restored_order, (const uint8_t *)ck.rng_state + sizeof t->rs, rest);
        t->restored_order_len = rest / sizeof(int32_t);
      }
    }
    t->step = ck.global_step;
    t->last_saved_step = ck.global_step;
    snprintf(t->last_checkpoint, sizeof t->last_checkpoint, "%s", ck.path);
    CheckpointIndex ix;
    if (checkpoint_index_read(f->checkpoint_dir, &ix) == 0) {
      if (isfinite(ix.best_validation_mape)) t->best_valid_mape = ix.best_validation_mape;
      /* A kill between a checkpoint's rename and the index update leaves it
       * unlisted, and pruning (which follows the index) would keep it forever:
       * list it again. */
      if (ix.num_steps == 0 || ix.all_steps[ix.num_steps - 1] < ck.global_step) {
        ix.all_steps = xrealloc(ix.all_steps, (size_t)(ix.num_steps + 1) * sizeof *ix.all_steps);
        ix.all_steps[ix.num_steps++] = ck.global_step;
        ix.latest_step = ck.global_step;
        if (checkpoint_index_write(f->checkpoint_dir, &ix)) {
          checkpoint_index_free(&ix);
          goto done;
        }
      }
      checkpoint_index_free(&ix);
    }
    fprintf(stderr, "resuming from %s (global step %lld)\n", ck.path, (long long)ck.global_step);
  } else {
    if (f->load_global_step_from_ckpt) t->step = t->last_saved_step = ck.global_step;
    fprintf(stderr, "warm start from %s%s\n", ck.path, f->load_global_step_from_ckpt ? " (with its global step)" : "");
  }
  rc = resume ? 1 : 0;
done:
  checkpoint_close(&ck);
  return rc;
}

/* Rank 0 alone reads the checkpoint directory (it alone writes it, so the
 * ranks need no shared file system); the other ranks receive what it
 * restored: parameters, optimizer state, step and random state. */
static void share_restored_state(Trainer *t, int *restored) {
  if (dist_size() == 1) return;
  int64_t head[5] = {*restored, t->step, t->last_saved_step, (int64_t)t->restored_order_len, t->scale_restored};
  dist_broadcast(head, sizeof head);
  *restored = (int)head[0];
  t->step = head[1];
  t->last_saved_step = head[2];
  t->scale_restored = head[4] != 0;
  dist_broadcast(&t->model.cfg.output_scale, sizeof t->model.cfg.output_scale);
  dist_broadcast(&t->best_valid_mape, sizeof t->best_valid_mape);
  dist_broadcast(t->last_checkpoint, sizeof t->last_checkpoint);
  dist_broadcast(&t->rs, sizeof t->rs);
  dist_broadcast(t->model.params, t->model.num_params * sizeof(float));
  dist_broadcast(&t->opt.step, sizeof t->opt.step);
  size_t state = t->opt.num_params * sizeof(float);
  if (t->opt.m) dist_broadcast(t->opt.m, state);
  if (t->opt.v) dist_broadcast(t->opt.v, state);
  if (head[3] > 0) {
    if (!dist_is_root()) {
      t->restored_order = xmalloc((size_t)head[3] * sizeof(int32_t));
      t->restored_order_len = (size_t)head[3];
    }
    dist_broadcast(t->restored_order, (size_t)head[3] * sizeof(int32_t));
  }
}

static int check_required(const GematriaFlags *f) {
  if (!f->tokens_file) {
    gr_error("--gematria_tokens_file is required for training (write one with `granite tokens`)");
    return -1;
  }
  if (f->input_file.count == 0) {
    gr_error("--gematria_input_file is required (one or more .tfrecord files, comma-separated)");
    return -1;
  }
  if (!f->checkpoint_dir[0]) {
    gr_error("--gematria_checkpoint_dir is required for training");
    return -1;
  }
  return 0;
}

static void trainer_free(Trainer *t) {
  if (t->sampler_created) sampler_free(&t->sampler);
  if (t->opt_created) optimizer_free(&t->opt);
  if (t->model_created) granite_model_destroy(&t->model);
  dataset_free(&t->data);
  if (t->has_valid_file) dataset_free(&t->valid_data);
  free(t->train_ids);
  free(t->valid_ids);
  free(t->restored_order);
  dist_step_free(&t->dist);
  vocab_free(&t->vocab);
  checkpoint_meta_free(&t->meta);
  progress_close(&t->progress);
  summaries_close(&t->summaries);
}

/* One optimizer step on batch b. 0, or -1 after an error line (non-finite). */
static int train_step(Trainer *t, Batch *b, float **bufs, size_t *caps, double *loss_out, double *mae_out) {
  GraniteModel *m = &t->model;
  int T = t->num_tasks;
  int R = granite_output_rows(m, b);
  size_t need_out = (size_t)R * T, need_block = (size_t)b->num_blocks * T;
  grow_array((void **)&bufs[0], &caps[0], need_out, sizeof(float));   /* outputs */
  grow_array((void **)&bufs[1], &caps[1], need_block, sizeof(float)); /* block predictions */
  grow_array((void **)&bufs[2], &caps[2], need_out, sizeof(float));   /* d outputs */
  grow_array((void **)&bufs[3], &caps[3], need_block, sizeof(float)); /* d block predictions */
  float *out = bufs[0], *block = bufs[1], *d_out = bufs[2], *d_block = bufs[3];

  dist_forward(&t->dist, m, b, out, block);
  double loss;
  if (t->use_deltas) {
    loss = loss_compute(t->loss_type, t->loss_norm, out, b->delta_labels, b->delta_mask, R, T, NULL, d_out).objective;
    /* The progress MAPE stays per block (spec §5.3 would give per-instruction
     * delta errors, NaN whenever a delta label is 0): comparable across modes. */
    per_task_relative_mae(block, b->labels, b->label_mask, b->num_blocks, T, mae_out);
  } else {
    loss = loss_compute(t->loss_type, t->loss_norm, block, b->labels, b->label_mask, b->num_blocks, T, NULL, d_block)
               .objective;
    granite_block_grad_to_outputs(m, b, d_block, d_out);
    per_task_relative_mae(block, b->labels, b->label_mask, b->num_blocks, T, mae_out);
  }
  *loss_out = loss;
  if (!isfinite(loss)) {
    progress_break_line(&t->progress);
    gr_error_collective("step %lld: the loss is %s; stopping without saving this model (last checkpoint: %s); try a "
                        "lower --gematria_learning_rate or --gematria_grad_clip_norm",
                        (long long)t->step + 1, isnan(loss) ? "NaN" : "infinite",
                        t->last_checkpoint[0] ? t->last_checkpoint : "none");
    return -1;
  }
  memset(m->grads, 0, m->num_params * sizeof(float));
  dist_backward(&t->dist, m, b, d_out); /* with several ranks, the gradient summed over all */
  size_t bad_element;
  int bad = find_nonfinite_gradient(m->grads, m->tensors, m->num_tensors, &bad_element);
  if (bad >= 0) {
    progress_break_line(&t->progress);
    gr_error_collective("step %lld: the gradient of %s has a NaN or infinite value (element %zu); stopping without "
                        "saving this model (last checkpoint: %s); try a lower --gematria_learning_rate or "
                        "--gematria_grad_clip_norm",
                        (long long)t->step + 1, m->tensors[bad].name, bad_element,
                        t->last_checkpoint[0] ? t->last_checkpoint : "none");
    return -1;
  }
  if (t->f->grad_clip_norm > 0)
    clip_gradients_per_tensor(m->grads, m->tensors, m->num_tensors, (float)t->f->grad_clip_norm);
  /* spec §5.4: update k (0-based) uses the LR at global step k */
  double lr = lr_schedule_value(&t->sched, t->step);
  optimizer_update(&t->opt, m->params, m->grads, (float)lr);
  /* A finite gradient times a huge learning rate can still overflow: never
   * let such parameters reach a checkpoint (the save may be this step). */
  bad = find_nonfinite_gradient(m->params, m->tensors, m->num_tensors, &bad_element);
  if (bad >= 0) {
    progress_break_line(&t->progress);
    gr_error_collective("step %lld: the update made parameter %s NaN or infinite (element %zu, learning rate %g); "
                        "stopping without saving this model (last checkpoint: %s); try a lower "
                        "--gematria_learning_rate or --gematria_grad_clip_norm",
                        (long long)t->step + 1, m->tensors[bad].name, bad_element, lr,
                        t->last_checkpoint[0] ? t->last_checkpoint : "none");
    return -1;
  }
  t->step++;
  return 0;
}

/* Before a save: the updated model must still predict finite values on the
 * batch it was just trained on. Finite parameters can be large enough that
 * activations overflow (a huge learning rate), and such a model must not be
 * saved. Costs one forward per save. 0, or -1 after one error line naming
 * the step and the largest parameter tensor. */
static int check_updated_model(Trainer *t, const Batch *b, float **bufs, size_t *caps) {
  GraniteModel *m = &t->model;
  int T = t->num_tasks;
  grow_array((void **)&bufs[0], &caps[0], (size_t)granite_output_rows(m, b) * T, sizeof(float));
  grow_array((void **)&bufs[1], &caps[1], (size_t)b->num_blocks * T, sizeof(float));
  granite_forward(m, b, bufs[0], bufs[1]);
  size_t n = (size_t)b->num_blocks * T, bad = n;
  for (size_t i = 0; i < n && bad == n; i++)
    if (!isfinite(bufs[1][i])) bad = i;
  if (bad == n) return 0;
  int big = 0;
  float big_value = 0;
  for (int k = 0; k < m->num_tensors; k++) {
    const ParamTensor *pt = &m->tensors[k];
    for (size_t i = 0; i < (size_t)pt->rows * pt->cols; i++)
      if (fabsf(m->params[pt->offset + i]) > big_value) big_value = fabsf(m->params[pt->offset + i]), big = k;
  }
  progress_break_line(&t->progress);
  gr_error("step %lld: after the update the model predicts NaN or infinite values (block %zu of the batch; largest "
           "parameter: %s, |value| %.3g); stopping without saving this model (last checkpoint: %s); try a lower "
           "--gematria_learning_rate or --gematria_grad_clip_norm",
           (long long)t->step, bad / T, m->tensors[big].name, big_value,
           t->last_checkpoint[0] ? t->last_checkpoint : "none");
  return -1;
}

static int run(Trainer *t) {
  const GematriaFlags *f = t->f;
  /* Up to the first file read, errors follow from the command line alone:
   * every rank meets them, rank 0 says them (train_main switches back). */
  gr_set_errors_collective(true);
  if (flags_validate(f) || check_required(f)) return 2;
  if (f->num_threads > 0) omp_set_num_threads(f->num_threads);
  t->best_valid_mape = INFINITY;
  t->num_tasks = flags_num_tasks(f);
  for (int k = 0; k < t->num_tasks; k++) t->task_names[k] = flags_task_name(f, k, t->task_buf[k], 32);
  t->use_deltas = f->seq2seq && f->use_seq2seq_loss;
  t->ranks.num_ranks = f->collected_percentile_ranks.count;
  for (int i = 0; i < t->ranks.num_ranks; i++) t->ranks.ranks[i] = f->collected_percentile_ranks.values[i];

  /* Everything that can be refused cheaply comes before loading the data. */
  LrScheduleType sched_type;
  OptimizerType opt_type;
  if (lr_schedule_type_parse(flags_schedule_name(f->learning_rate_schedule), &sched_type) ||
      optimizer_type_parse(flags_optimizer_name(f->optimizer_type), &opt_type))
    return 1;
  uint64_t seed = seed_of(f);
  dist_broadcast(&seed, sizeof seed); /* a clock seed too: one model, one seed */
  if (lr_schedule_init(&t->sched, sched_type, f->learning_rate, f->decay_steps, f->decay_rate, seed)) return 2;
  if (loss_type_parse(flags_loss_type_name(f->loss_type), &t->loss_type) ||
      loss_norm_parse(flags_normalization_name(f->loss_normalization), &t->loss_norm))
    return 2;
  gr_set_errors_collective(false);
  /* each rank reads the tokens file and the data itself (docs/distributed.md) */
  if (dist_any(vocab_load(&t->vocab, f->tokens_file) != 0)) return 1;
  const char *repl = f->out_of_vocabulary_replacement_token[0] ? f->out_of_vocabulary_replacement_token : NULL;
  if (graph_options_init(&t->gopts, &t->vocab, repl)) return 1;

  GraniteConfig cfg;
  flags_to_config(f, &cfg, t->vocab.size);
  granite_graph_options(&cfg, &t->gopts);
  if (granite_model_create(&t->model, &cfg)) return 2;
  /* each thread runs the model on its own slice of the batch: two syncs per
   * step, robust when other jobs share the cores (model/replicas.h) */
  granite_set_data_parallel(&t->model, omp_get_max_threads());
  precision_apply(&t->model, f->precision);
  t->model_created = true;
  granite_model_init_params(&t->model, seed);
  optimizer_init(&t->opt, opt_type, t->model.num_params);
  t->opt_created = true;
  rng_seed(&t->rs.sampler, seed ^ 0x5a5a5a5aull);
  rng_seed(&t->rs.labels, seed ^ 0x1234567ull);
  rng_seed(&t->rs.injection, seed ^ 0x7654321ull);

  int restored = dist_is_root() ? restore_state(t, &cfg, opt_type) : 0;
  if (dist_any(restored < 0)) return 1;
  share_restored_state(t, &restored);
  dist_step_init(&t->dist, t->num_tasks);

  int64_t target = f->training_num_epochs; /* global step to reach; 0 = forever */
  if (target > 0 && t->step >= target) {
    if (dist_is_root())
      fprintf(stderr, "%s is already at global step %lld >= --gematria_training_num_epochs=%lld: nothing to do\n",
            t->last_checkpoint, (long long)t->step, (long long)target);
    return 0;
  }
  ScheduleCheckOptions sco = {.allow_zero_learning_rate = f->allow_zero_learning_rate};
  gr_set_errors_collective(true);
  if (schedule_check(&t->sched, t->step, target > 0 ? target - t->step : 0, &sco) < 0) return 2;
  gr_set_errors_collective(false);

  if (dist_any(load_data(t) != 0)) return 1;
  if (flags_output_scale_auto(f) && !t->scale_restored) {
    /* the same on every rank: all load the same training blocks */
    t->model.cfg.output_scale = auto_output_scale(t);
    if (dist_is_root())
      fprintf(stderr, "output scale %.6g (the median training label%s)\n", (double)t->model.cfg.output_scale,
              f->seq2seq ? " per instruction" : "");
  }
  fill_meta(t);
  if (dist_any(dist_is_root() && make_dirs(f->checkpoint_dir))) return 1;
  if (dist_any(dist_is_root() && flags_write_run_file(f->checkpoint_dir, f))) return 1; /* for `granite runs` */

  SamplerMode mode = f->training_randomize_batches ? SAMPLER_RANDOM : SAMPLER_SEQUENTIAL;
  sampler_init(&t->sampler, &t->data, t->train_ids, t->train_ids ? t->num_train : 0, mode, f->max_blocks_in_batch,
               f->max_instructions_in_batch, seed);
  t->sampler_created = true;
  if (restored == 1) {
    t->sampler.rng = t->rs.sampler;
    if (t->rs.sampler_cursor >= 0 && t->rs.sampler_cursor < t->sampler.n) t->sampler.cursor = (int)t->rs.sampler_cursor;
    restore_sampler_order(t);
  }

  char jsonl[4200];
  snprintf(jsonl, sizeof jsonl, "%s/metrics.jsonl", f->checkpoint_dir);
  /* rank 0 alone logs: progress lines, metrics.jsonl, TensorBoard, validation, checkpoints */
  if (dist_any(dist_is_root() &&
               progress_init(&t->progress, t->step, target, f->log_interval_secs, t->num_tasks, t->task_names, jsonl)))
    return 1;
  if (dist_any(dist_is_root() && summaries_open(&t->summaries, f, t->num_tasks, t->task_names, &t->ranks))) return 1;
  char until[64] = "until interrupted", ranks[64] = "";
  if (target > 0) snprintf(until, sizeof until, "to %lld", (long long)target);
  if (dist_size() > 1)
    snprintf(ranks, sizeof ranks, " on %d ranks x %d threads", dist_size(), omp_get_max_threads());
  if (dist_is_root())
    fprintf(stderr, "training %s: %zu parameters, %d tasks, from step %lld %s%s\n", f->seq2seq ? "seq2seq" : "seq2num",
            t->model.num_params, t->num_tasks, (long long)t->step, until, ranks);

  BatchRandomState start_rs = {t->rs.sampler, t->rs.labels, t->rs.injection, t->rs.sampler_cursor};
  BatchSource source;
  if (batch_source_start(&source, &t->data, &t->sampler, t->num_tasks, t->gopts.replacement_token,
                         f->out_of_vocabulary_injection_probability, &start_rs, f->prefetch_batches))
    return 1;
  install_stop_handlers();
  TrainingBatch *tb = NULL;
  float *bufs[4] = {0};
  size_t caps[4] = {0};
  int status = 0;
  int valid_every = f->validation_epochs > 0 ? f->validation_epochs : f->save_checkpoint_epochs;
  double last_lr = lr_schedule_value(&t->sched, t->step);
  /* All ranks stop at the same step: a signal may reach them steps apart. */
  bool stopping = dist_any(stop_requested != 0);
  while (!stopping && (target == 0 || t->step < target)) {
    tb = batch_source_next(&source);
    int k = tb->num_blocks;
    if (k == 0) {
      gr_error_collective("no training block fits in a batch of --gematria_max_instructions_in_batch=%d instructions",
               f->max_instructions_in_batch);
      status = 1;
      break;
    }
    last_lr = lr_schedule_value(&t->sched, t->step);
    double loss, mae[GRANITE_MAX_TASKS];
    if (train_step(t, &tb->batch, bufs, caps, &loss, mae)) {
      status = 1;
      break;
    }
    t->rs.sampler = tb->after.sampler;
    t->rs.sampler_cursor = tb->after.sampler_cursor;
    t->rs.labels = tb->after.labels;
    t->rs.injection = tb->after.injection;
    t->order_to_save = tb->order_after;
    bool last = target > 0 && t->step >= target;
    stopping = dist_any(stop_requested != 0);
    if (dist_is_root()) progress_step(&t->progress, t->step, k, loss, mae, last_lr, last || stopping);
    bool save_now = t->step % f->save_checkpoint_epochs == 0;
    double vmape = NAN;
    bool best = false, validated = t->valid_ds && (t->step % valid_every == 0 || last || stopping);
    if (validated) {
      vmape = validate(t, &best); /* best: rank 0 only */
      if (best) save_now = true; /* keep the best model by validation MAPE */
    }
    if (dist_is_root()) summaries_step(&t->summaries, t->step, &tb->batch, bufs[1], loss, last_lr, vmape);
    /* rank 0 saves; every rank learns whether that failed */
    if ((save_now || validated) &&
        dist_any(dist_is_root() && save_now &&
                 (check_updated_model(t, &tb->batch, bufs, caps) || save_checkpoint(t, vmape)))) {
      status = 1;
      break;
    }
  }
  /* final save (also after SIGINT/SIGTERM): never lose the last steps */
  if (status == 0 && dist_any(dist_is_root() && t->step != t->last_saved_step &&
                              (check_updated_model(t, &tb->batch, bufs, caps) || save_checkpoint(t, NAN))))
    status = 1;
  if (dist_is_root() && status == 0) {
    if (stopping && stop_requested)
      fprintf(stderr, "stopped by signal %d at global step %lld; run the same command again to resume\n",
              (int)stop_requested, (long long)t->step);
    else if (stopping)
      fprintf(stderr, "stopped at global step %lld (another rank received a signal); run the same command again "
              "to resume\n", (long long)t->step);
    else
      fprintf(stderr, "finished at global step %lld (%.0fs, of which %.2fs waiting for batches%s)\n",
              (long long)t->step, now_seconds() - t->progress.start_time, source.wait_seconds,
              f->prefetch_batches ? ", built in a second thread" : "");
    if (isfinite(t->best_valid_mape))
      fprintf(stderr, "best validation MAPE %.3f%% (see %s/checkpoint)\n", t->best_valid_mape, f->checkpoint_dir);
  }
  for (int i = 0; i < 4; i++) free(bufs[i]);
  batch_source_stop(&source);
  return status;
}

int train_main(const GematriaFlags *f) {
  Trainer t;
  memset(&t, 0, sizeof t);
  t.f = f;
  stop_requested = 0;
  int status = run(&t);
  gr_set_errors_collective(false);
  trainer_free(&t);
  return status;
}
