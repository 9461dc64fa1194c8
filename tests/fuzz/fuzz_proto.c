/* The Gematria messages (spec §1.1): the input is one record's payload, a
 * BasicBlockWithThroughputProto as another tool may have written it. It is
 * framed (valid CRCs) into a .tfrecord file of two copies and loaded the
 * ways train, eval and predict load it: throughput lists, source filters,
 * prefix (seq2seq) lists, graphs, batches, and predict's write-back of the
 * record with appended throughputs, which must parse again. */
#include <stdlib.h>
#include <string.h>

#include "cli/token_set.h"
#include "graph/graph.h"
#include "io/dataset.h"
#include "io/tfrecord.h"
#include "support.h"

static void load_and_batch(const char *path, const DatasetOptions *o) {
  Dataset ds;
  const char *paths[1] = {path};
  if (dataset_load(&ds, paths, 1, o) != 0) return;
  Sampler s;
  sampler_init(&s, &ds, NULL, 0, SAMPLER_ONCE, 0, 0, 7);
  int32_t *ids = malloc(((size_t)sampler_max_batch(&s) + 1) * sizeof *ids);
  Batch b;
  batch_init(&b, ds.num_tasks);
  Rng rng;
  rng_seed(&rng, 3);
  for (int k; (k = sampler_next(&s, ids)) > 0;) dataset_fill_batch(&ds, ids, k, &b, &rng);
  if (o->mode == DATASET_PREDICT) {
    uint8_t *out = NULL;
    size_t cap = 0;
    Gematria__ThroughputWithSourceProto t = GEMATRIA__THROUGHPUT_WITH_SOURCE_PROTO__INIT;
    double value = 1.5;
    t.source = "granite";
    t.n_inverse_throughput_cycles = 1;
    t.inverse_throughput_cycles = &value;
    const Gematria__ThroughputWithSourceProto *entries[1] = {&t};
    for (int i = 0; i < ds.num_blocks; i++) {
      size_t len;
      const uint8_t *raw = dataset_raw_record(&ds, i, &len);
      size_t n = record_append_throughputs(&out, &cap, raw, len, entries, 1);
      Gematria__BasicBlockWithThroughputProto *rec =
          gematria__basic_block_with_throughput_proto__unpack(NULL, n, out);
      if (!rec) abort(); /* it parsed before the entry was appended */
      gematria__basic_block_with_throughput_proto__free_unpacked(rec, NULL);
    }
    free(out);
  }
  batch_free(&b);
  free(ids);
  sampler_free(&s);
  dataset_free(&ds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 65536) return 0;
  /* the tokens command's view of the record */
  Gematria__BasicBlockWithThroughputProto *rec = gematria__basic_block_with_throughput_proto__unpack(NULL, size, data);
  if (rec) {
    if (rec->basic_block) {
      TokenSet set;
      memset(&set, 0, sizeof set);
      token_set_add_block(&set, rec->basic_block);
      int n;
      free(token_set_list(&set, &n));
      token_set_free(&set);
    }
    gematria__basic_block_with_throughput_proto__free_unpacked(rec, NULL);
  }

  size_t file_len = 2 * (size + 16);
  uint8_t *file = malloc(file_len);
  for (int copy = 0; copy < 2; copy++) {
    uint8_t *at = file + copy * (size + 16);
    tfrecord_frame(at, at + 12 + size, data, size);
    if (size) memcpy(at + 12, data, size);
  }
  const char *path = fuzz_file(0, file, file_len);
  free(file);

  GraphOptions g;
  if (graph_options_init(&g, fuzz_vocab(), "_UNKNOWN_") != 0) abort();
  DatasetOptions o;
  dataset_options_init(&o, &g);
  o.quiet = true;
  o.drop_invalid = true;
  load_and_batch(path, &o); /* train: MEAN, one task */

  static const char *const filters[2] = {"bhive: .*", ".*"};
  o.source_filters = filters;
  o.num_filters = 2;
  o.selection = THROUGHPUT_RANDOM;
  o.seq2seq_deltas = true;
  o.scaling = 0.01;
  load_and_batch(path, &o); /* train: two tasks, RANDOM, seq2seq */

  dataset_options_init(&o, &g);
  o.quiet = true;
  o.mode = DATASET_PREDICT;
  o.num_tasks = 2;
  load_and_batch(path, &o); /* predict */
  return 0;
}
