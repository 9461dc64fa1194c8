/* Spec §5.8 with fixes: the model comes from the checkpoint; every record is
 * written (blocks that cannot be predicted are passed through and counted);
 * the source name is fixed; the output is written to a temporary file and
 * renamed; the MAPE against the labels already in the file is printed. */
#include "train/predict.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "io/checkpoint.h"
#include "io/tfrecord.h"
#include "train/evaluate.h"
#include "train/metrics.h"
#include "train/model_checkpoint.h"
#include "train/restore.h"
#include "util/common.h"
#include "util/output_file.h"

int64_t *dataset_instruction_offsets(const Dataset *ds) {
  int64_t *first = xmalloc(((size_t)ds->num_blocks + 1) * sizeof *first);
  first[0] = 0;
  for (int i = 0; i < ds->num_blocks; i++) first[i + 1] = first[i] + ds->num_instructions[i];
  return first;
}

long predict_dataset(GraniteModel *m, const Dataset *ds, const int32_t *ids, int n, int max_blocks,
                     int max_instructions, float *out, long *skipped) {
  return predict_dataset_outputs(m, ds, ids, n, max_blocks, max_instructions, out, NULL, NULL, skipped);
}

/* The batches one process would run, in order: blocks order[start[j] ..
 * start[j+1]) form batch j. */
typedef struct {
  int32_t *order;
  int *start;
  int count;
  long skipped; /* listed blocks alone over the instruction cap */
} BatchList;

static void list_batches(const Dataset *ds, const int32_t *ids, int n, int max_blocks, int max_instructions,
                         BatchList *bl) {
  Sampler s;
  sampler_init(&s, ds, ids, ids ? n : 0, SAMPLER_ONCE, max_blocks, max_instructions, 1);
  bl->order = xmalloc(((size_t)s.n + 1) * sizeof *bl->order);
  bl->start = xmalloc(((size_t)s.n + 2) * sizeof *bl->start);
  bl->count = 0;
  bl->start[0] = 0;
  int k;
  while ((k = sampler_next(&s, bl->order + bl->start[bl->count])) > 0) {
    bl->start[bl->count + 1] = bl->start[bl->count] + k;
    bl->count++;
  }
  bl->skipped = s.num_skipped;
  sampler_free(&s);
}

/* Several ranks: rank r predicted batches [first(r), first(r+1)), a run of
 * the list, so the ranks' values in rank order are the list's blocks in
 * order. Rank 0 receives them into out (and prefix_out) at their places. */
static void gather_predictions(const BatchList *bl, const Dataset *ds, int T, float *out, const int64_t *instr_first,
                               float *prefix_out) {
  int P = dist_size(), me = dist_rank();
  size_t *count = xcalloc((size_t)P, sizeof *count), *icount = xcalloc((size_t)P, sizeof *icount);
  size_t total = 0, itotal = 0;
  for (int r = 0; r < P; r++) {
    int b0 = bl->start[(long)bl->count * r / P], b1 = bl->start[(long)bl->count * (r + 1) / P];
    count[r] = (size_t)(b1 - b0) * T;
    for (int i = b0; i < b1 && prefix_out; i++) icount[r] += (size_t)ds->num_instructions[bl->order[i]] * T;
    total += count[r];
    itotal += icount[r];
  }
  int my0 = bl->start[(long)bl->count * me / P], my1 = bl->start[(long)bl->count * (me + 1) / P];
  float *mine = xmalloc((count[me] + icount[me] + 1) * sizeof *mine), *at = mine;
  for (int i = my0; i < my1; i++, at += T) memcpy(at, out + (size_t)bl->order[i] * T, T * sizeof *at);
  for (int i = my0; i < my1 && prefix_out; i++) {
    size_t len = (size_t)ds->num_instructions[bl->order[i]] * T;
    memcpy(at, prefix_out + (size_t)instr_first[bl->order[i]] * T, len * sizeof *at);
    at += len;
  }
  float *all = dist_is_root() ? xmalloc((total + itotal + 1) * sizeof *all) : NULL;
  dist_gather_floats(mine, all, count, false);
  if (prefix_out) dist_gather_floats(mine + count[me], all ? all + total : NULL, icount, false);
  if (all) {
    at = all;
    for (int i = 0; i < bl->start[bl->count]; i++, at += T) memcpy(out + (size_t)bl->order[i] * T, at, T * sizeof *at);
    for (int i = 0; i < bl->start[bl->count] && prefix_out; i++) {
      size_t len = (size_t)ds->num_instructions[bl->order[i]] * T;
      memcpy(prefix_out + (size_t)instr_first[bl->order[i]] * T, at, len * sizeof *at);
      at += len;
    }
  }
  free(all);
  free(mine);
  free(count);
  free(icount);
}

long predict_dataset_outputs(GraniteModel *m, const Dataset *ds, const int32_t *ids, int n, int max_blocks,
                             int max_instructions, float *out, const int64_t *instr_first, float *prefix_out,
                             long *skipped) {
  bool per_instruction = prefix_out && m->cfg.seq2seq;
  int T = m->cfg.num_tasks;
  for (size_t i = 0; i < (size_t)ds->num_blocks * T; i++) out[i] = NAN;
  /* With several ranks each predicts a run of whole batches of this list,
   * so every block is predicted in the same batch as by one process, with
   * the same bits (dist/dist.h). */
  BatchList bl;
  list_batches(ds, ids, n, max_blocks, max_instructions, &bl);
  int P = dist_size(), me = dist_rank();
  int first = (int)((long)bl.count * me / P), end = (int)((long)bl.count * (me + 1) / P);
  Batch b;
  batch_init(&b, T);
  Rng rng; /* only used with RANDOM label selection; labels do not matter here */
  rng_seed(&rng, 1);
  float *outputs = NULL, *block = NULL;
  size_t cap_out = 0, cap_block = 0;
  for (int batch = first; batch < end; batch++) {
    const int32_t *batch_ids = bl.order + bl.start[batch];
    int k = bl.start[batch + 1] - bl.start[batch];
    dataset_fill_batch(ds, batch_ids, k, &b, &rng);
    grow_array((void **)&outputs, &cap_out, (size_t)granite_output_rows(m, &b) * T, sizeof(float));
    grow_array((void **)&block, &cap_block, (size_t)k * T, sizeof(float));
    granite_forward(m, &b, outputs, block);
    for (int j = 0; j < k; j++)
      for (int t = 0; t < T; t++) out[(size_t)batch_ids[j] * T + t] = block[(size_t)j * T + t];
    if (per_instruction) { /* seq2seq rows: the batch's instructions, block by block, in order */
      int prev = -1;
      int64_t at = 0;
      for (int r = 0; r < b.num_instructions; r++) {
        int j = b.instruction_block[r];
        if (j != prev) at = instr_first[batch_ids[j]], prev = j;
        for (int t = 0; t < T; t++) prefix_out[(size_t)at * T + t] = outputs[(size_t)r * T + t];
        at++;
      }
    }
  }
  if (P > 1) gather_predictions(&bl, ds, T, out, instr_first, per_instruction ? prefix_out : NULL);
  long done = bl.start[bl.count];
  if (skipped) *skipped = bl.skipped;
  free(outputs);
  free(block);
  free(bl.order);
  free(bl.start);
  batch_free(&b);
  return done;
}

/* Label of a record for one task as eval would see it (spec §5.1): the
 * first source matching the filter at its start, mean of its values. */
static bool record_label(const Gematria__BasicBlockWithThroughputProto *rec, const regex_t *filter, double scaling,
                         float *label, long *not_float32) {
  for (size_t i = 0; i < rec->n_inverse_throughputs; i++) {
    const Gematria__ThroughputWithSourceProto *tp = rec->inverse_throughputs[i];
    regmatch_t mt;
    if (regexec(filter, tp->source ? tp->source : "", 1, &mt, 0) || mt.rm_so != 0) continue;
    if (tp->n_inverse_throughput_cycles == 0) return false;
    double s = 0;
    for (size_t j = 0; j < tp->n_inverse_throughput_cycles; j++) s += tp->inverse_throughput_cycles[j];
    double v = s / tp->n_inverse_throughput_cycles * scaling;
    if (!isfinite(v) || fabs(v) > FLT_MAX) { /* passed through; no MAPE term */
      (*not_float32)++;
      return false;
    }
    *label = (float)v;
    return true;
  }
  return false;
}

/* Storage for the prefix_inverse_throughputs of one record (all tasks). */
typedef struct {
  Gematria__ThroughputWithSourceProto__PrefixThroughputProto *entries;
  Gematria__ThroughputWithSourceProto__PrefixThroughputProto **ptrs;
  double *values;
  size_t cap;
} PrefixEntries;

/* Seq2seq: gives each task entry one prefix_inverse_throughputs entry per
 * instruction holding the CUMULATIVE prediction for instructions 0..j (what
 * the field means). Gematria writes the per-instruction deltas there (spec
 * §5.8); docs/training.md notes the difference. deltas[I*T]: the model's
 * per-instruction outputs of this block. */
static void attach_prefixes(PrefixEntries *pe, Gematria__ThroughputWithSourceProto *entries, int T,
                            const float *deltas, int I) {
  size_t need = (size_t)I * T;
  if (need > pe->cap) {
    pe->entries = xrealloc(pe->entries, need * sizeof *pe->entries);
    pe->ptrs = xrealloc(pe->ptrs, need * sizeof *pe->ptrs);
    pe->values = xrealloc(pe->values, need * sizeof *pe->values);
    pe->cap = need;
  }
  for (int t = 0; t < T; t++) {
    double sum = 0;
    for (int j = 0; j < I; j++) {
      size_t k = (size_t)t * I + j;
      sum += deltas[(size_t)j * T + t];
      pe->values[k] = sum;
      gematria__throughput_with_source_proto__prefix_throughput_proto__init(&pe->entries[k]);
      pe->entries[k].n_inverse_throughput_cycles = 1;
      pe->entries[k].inverse_throughput_cycles = &pe->values[k];
      pe->ptrs[k] = &pe->entries[k];
    }
    entries[t].n_prefix_inverse_throughputs = (size_t)I;
    entries[t].prefix_inverse_throughputs = pe->ptrs + (size_t)t * I;
  }
}

static void write_csv_row(FILE *csv, const Gematria__BasicBlockWithThroughputProto *rec, const float *pred, int T) {
  const Gematria__BasicBlockProto *bb = rec ? rec->basic_block : NULL;
  if (bb)
    for (size_t i = 0; i < bb->n_machine_instructions; i++) {
      const ProtobufCBinaryData *code = &bb->machine_instructions[i]->machine_code;
      for (size_t j = 0; j < code->len; j++) fprintf(csv, "%02x", code->data[j]);
    }
  for (int t = 0; t < T; t++) fprintf(csv, ",%.6f", pred[t]);
  fputc('\n', csv);
}

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

/* Neither output may be an input (the data, the checkpoint, the tokens
 * file) nor the other output: rewriting it would destroy it. */
static int refuse_overwriting_inputs(const GematriaFlags *f) {
  int n = 0;
  const char **inputs = xmalloc(((size_t)f->input_file.count + 4) * sizeof *inputs);
  for (int i = 0; i < f->input_file.count; i++) inputs[n++] = f->input_file.items[i];
  inputs[n++] = f->checkpoint_file;
  if (f->tokens_file) inputs[n++] = f->tokens_file;
  int rc = output_refuse_inputs(f->output_file, "--gematria_output_file", inputs, n);
  if (rc == 0 && f->output_csv && strcmp(f->output_csv, f->output_file) == 0) {
    gr_error("--gematria_output_csv and --gematria_output_file are both %s", f->output_csv);
    rc = -1;
  }
  if (rc == 0 && f->output_csv) {
    inputs[n++] = f->output_file;
    rc = output_refuse_inputs(f->output_csv, "--gematria_output_csv", inputs, n);
  }
  free(inputs);
  return rc;
}

int predict_main(const GematriaFlags *f) {
  if (flags_validate(f)) return 2;
  if (f->input_file.count == 0 || !f->output_file[0]) {
    gr_error("predict needs --gematria_input_file and --gematria_output_file");
    return 2;
  }
  if (refuse_overwriting_inputs(f)) return 2;
  Checkpoint ck;
  GraniteModel m;
  /* every rank reads the checkpoint and the whole input (to cut it into the
   * batches of one process); rank 0 alone writes */
  int restored = restore_model_for_inference(f, &ck, &m);
  if (dist_any(restored != 0)) {
    if (restored == 0) granite_model_destroy(&m), checkpoint_close(&ck);
    return 1;
  }
  const double label_scaling = label_scaling_for(f, &ck);
  int T = ck.num_tasks, status = 1;
  GraphOptions gopts;
  Dataset ds;
  memset(&ds, 0, sizeof ds);
  const char *repl = f->out_of_vocabulary_replacement_token[0] ? f->out_of_vocabulary_replacement_token : NULL;
  float *pred = NULL, *labels = NULL;
  uint8_t *mask = NULL;
  int64_t *instr_first = NULL; /* seq2seq only */
  float *deltas = NULL;
  PrefixEntries prefixes = {0};
  regex_t filters[GRANITE_MAX_TASKS];
  int num_regex = 0;
  OutputFile csv_out = {.slot = -1};
  FILE *csv = NULL;
  uint8_t *rec_buf = NULL;
  size_t rec_cap = 0;
  TFRecordWriter w;
  bool writer_open = false;

  DatasetOptions o;
  bool loaded = graph_options_init(&gopts, &ck.vocab, repl) == 0;
  if (loaded) granite_graph_options(&m.cfg, &gopts);
  dataset_options_init(&o, &gopts);
  o.mode = DATASET_PREDICT;
  o.num_tasks = T;
  o.quiet = true;
  loaded = loaded && dataset_load(&ds, (const char *const *)f->input_file.items, f->input_file.count, &o) == 0;
  if (dist_any(!loaded)) goto out;

  const char *filter_text[GRANITE_MAX_TASKS];
  source_filters_for(f, &ck, filter_text);
  for (; num_regex < T; num_regex++) {
    if (regcomp(&filters[num_regex], filter_text[num_regex], REG_EXTENDED)) {
      gr_error("--gematria_throughput_source_filter='%s': not a valid regular expression", filter_text[num_regex]);
      goto out;
    }
  }

  int max_blocks = f->max_blocks_in_batch > 0 ? f->max_blocks_in_batch : PREDICT_DEFAULT_BATCH;
  pred = xmalloc((size_t)ds.num_blocks * T * sizeof(float));
  double t0 = now_seconds();
  long skipped = 0;
  if (m.cfg.seq2seq) {
    instr_first = dataset_instruction_offsets(&ds);
    deltas = xmalloc(((size_t)instr_first[ds.num_blocks] * T + 1) * sizeof(float));
  }
  long predicted = predict_dataset_outputs(&m, &ds, NULL, 0, max_blocks, f->max_instructions_in_batch, pred,
                                           instr_first, deltas, &skipped);
  double secs = now_seconds() - t0;
  if (!dist_is_root()) { /* its predictions went to rank 0 */
    status = 0;
    goto out;
  }

  char default_name[600];
  snprintf(default_name, sizeof default_name, "granite: %s", base_name(ck.path));
  const char *model_name = f->model_name ? f->model_name : default_name;
  char sources[GRANITE_MAX_TASKS][700];
  for (int t = 0; t < T; t++) snprintf(sources[t], sizeof sources[t], "%s, task=%s", model_name, ck.task_names[t]);

  if (tfrecord_writer_open(&w, f->output_file)) goto out;
  writer_open = true;
  if (f->output_csv) {
    if (output_open(&csv_out, f->output_csv, "--gematria_output_csv")) goto out;
    csv = csv_out.file;
  }
  labels = xcalloc((size_t)ds.num_blocks * T, sizeof(float));
  mask = xcalloc((size_t)ds.num_blocks * T, 1);
  long passed_through = 0, bad_labels = 0;
  for (int i = 0; i < ds.num_blocks; i++) {
    size_t len;
    const uint8_t *raw = dataset_raw_record(&ds, i, &len);
    const float *p = pred + (size_t)i * T;
    bool ok = true;
    for (int t = 0; t < T; t++) ok = ok && isfinite(p[t]);
    Gematria__BasicBlockWithThroughputProto *rec = gematria__basic_block_with_throughput_proto__unpack(NULL, len, raw);
    if (rec && ok)
      for (int t = 0; t < T; t++) mask[(size_t)i * T + t] = record_label(rec, &filters[t], label_scaling, &labels[(size_t)i * T + t], &bad_labels);
    int rc;
    if (ok) {
      Gematria__ThroughputWithSourceProto entries[GRANITE_MAX_TASKS];
      const Gematria__ThroughputWithSourceProto *ptrs[GRANITE_MAX_TASKS];
      double values[GRANITE_MAX_TASKS];
      for (int t = 0; t < T; t++) {
        gematria__throughput_with_source_proto__init(&entries[t]);
        entries[t].source = sources[t];
        values[t] = p[t];
        entries[t].n_inverse_throughput_cycles = 1;
        entries[t].inverse_throughput_cycles = &values[t];
        ptrs[t] = &entries[t];
      }
      if (deltas) attach_prefixes(&prefixes, entries, T, deltas + (size_t)instr_first[i] * T, ds.num_instructions[i]);
      size_t n = record_append_throughputs(&rec_buf, &rec_cap, raw, len, ptrs, T);
      rc = tfrecord_write(&w, rec_buf, n);
      if (csv) write_csv_row(csv, rec, p, T);
    } else {
      passed_through++;
      rc = tfrecord_write(&w, raw, len);
    }
    if (rec) gematria__basic_block_with_throughput_proto__free_unpacked(rec, NULL);
    if (rc) goto out;
  }
  /* both outputs complete in their temporary files: commit them */
  if (tfrecord_writer_commit(&w)) {
    writer_open = false;
    goto out;
  }
  writer_open = false;
  csv = NULL;
  if (f->output_csv && output_commit(&csv_out)) goto out;
  fprintf(stderr, "predicted %ld of %d blocks in %.2fs (%.0f blocks/s); wrote %s as '%s'\n", predicted, ds.num_blocks,
          secs, secs > 0 ? predicted / secs : 0.0, f->output_file, sources[0]);
  if (passed_through)
    fprintf(stderr,
            "%ld record(s) passed through without a prediction: %ld over --gematria_max_instructions_in_batch=%d, "
            "%ld whose graph could not be built\n",
            passed_through, skipped, f->max_instructions_in_batch, passed_through - skipped);
  if (bad_labels)
    gr_warn("%ld label(s) in the input are not finite float32 values; left out of the MAPE below", bad_labels);
  /* The reference log's user computes this by hand: give it directly. */
  Metrics met;
  PercentileRanks ranks;
  percentile_ranks_default(&ranks);
  if (metrics_compute(&met, pred, labels, mask, ds.num_blocks, T, &ranks, false) == 0) {
    for (int t = 0; t < T; t++) {
      if (met.task[t].count == 0) continue;
      fprintf(stderr, "task %s: MAPE %.4f%% (relative error %.6f) against the '%s' labels of %lld blocks\n",
              ck.task_names[t], 100 * met.task[t].relative_mae, met.task[t].relative_mae, filter_text[t],
              (long long)met.task[t].count);
    }
  }
  status = 0;
out:
  if (writer_open) tfrecord_writer_abort(&w);
  output_abort(&csv_out);
  for (int i = 0; i < num_regex; i++) regfree(&filters[i]);
  free(rec_buf);
  free(instr_first);
  free(deltas);
  free(prefixes.entries);
  free(prefixes.ptrs);
  free(prefixes.values);
  free(pred);
  free(labels);
  free(mask);
  dataset_free(&ds);
  granite_model_destroy(&m);
  checkpoint_close(&ck);
  return status;
}
