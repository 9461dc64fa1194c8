/* The input pipeline of spec §5.1/§5.2, materialised in memory: records are
 * streamed from TFRecord files, each protobuf is freed right after its block
 * has been turned into a graph and label lists, and everything is stored in
 * a handful of growing arrays (see dataset.h for the layout). */
#include "io/dataset.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "io/block_io.h"
#include "io/tfrecord.h"
#include "util/common.h"

typedef Gematria__ThroughputWithSourceProto Throughput;

int throughput_selection_parse(const char *name, ThroughputSelection *out) {
  static const char *const names[] = {"MEAN", "MIN", "FIRST", "RANDOM"};
  for (int i = 0; i < 4; i++) {
    if (strcasecmp(name, names[i]) == 0) {
      *out = (ThroughputSelection)i;
      return 0;
    }
  }
  return -1;
}

void dataset_options_init(DatasetOptions *o, const GraphOptions *graph) {
  memset(o, 0, sizeof *o);
  o->mode = DATASET_TRAIN;
  o->graph = graph;
  o->selection = THROUGHPUT_MEAN;
  o->scaling = 1.0;
  o->use_seq2seq_loss = true; /* Gematria's default, spec §8.24 */
}

/* ---- growing storage ---- */

static size_t grown(size_t cap, size_t need) {
  size_t c = cap ? cap : 256;
  while (c < need) c *= 2;
  return c;
}

/* Makes room for one more block. */
static void reserve_block(Dataset *ds, bool deltas, bool raw, bool critical_path) {
  size_t need = (size_t)ds->num_blocks + 1;
  if (need <= ds->cap_blocks) return;
  size_t c = grown(ds->cap_blocks, need);
  ds->node_offset = xrealloc(ds->node_offset, (c + 1) * sizeof(int64_t));
  ds->edge_offset = xrealloc(ds->edge_offset, (c + 1) * sizeof(int64_t));
  ds->num_instructions = xrealloc(ds->num_instructions, c * sizeof(int32_t));
  ds->hash = xrealloc(ds->hash, c * sizeof(uint64_t));
  ds->valid = xrealloc(ds->valid, c);
  ds->file_index = xrealloc(ds->file_index, c * sizeof(int32_t));
  ds->record_index = xrealloc(ds->record_index, c * sizeof(int64_t));
  if (deltas) ds->prefix_first = xrealloc(ds->prefix_first, c * sizeof(int64_t));
  if (raw) ds->raw_offset = xrealloc(ds->raw_offset, (c + 1) * sizeof(int64_t));
  if (critical_path) ds->cp_offset = xrealloc(ds->cp_offset, (c + 1) * sizeof(int64_t));
  ds->cap_blocks = c;
}

static void reserve_graph(Dataset *ds, size_t nodes, size_t edges) {
  if (nodes > ds->cap_nodes) {
    size_t c = grown(ds->cap_nodes, nodes);
    ds->node_tokens = xrealloc(ds->node_tokens, c * sizeof(int32_t));
    ds->node_types = xrealloc(ds->node_types, c);
    ds->cap_nodes = c;
  }
  if (edges > ds->cap_edges) {
    size_t c = grown(ds->cap_edges, edges);
    ds->edge_types = xrealloc(ds->edge_types, c);
    ds->senders = xrealloc(ds->senders, c * sizeof(int32_t));
    ds->receivers = xrealloc(ds->receivers, c * sizeof(int32_t));
    ds->cap_edges = c;
  }
}

/* Block i's critical-path data, packed: num_deps, num_recurrences,
 * dep_from[D], dep_to[D], rec_writer[R], rec_reader_offset[R+1],
 * rec_readers[...] (dataset_graph unpacks it). */
static void store_critical_path(Dataset *ds, int i, const BlockGraph *g) {
  int D = g->num_deps, R = g->num_recurrences, readers = R ? g->rec_reader_offset[R] : 0;
  size_t len = 2 + 2 * (size_t)D + 2 * (size_t)R + 1 + (size_t)readers;
  int64_t c0 = ds->cp_offset[i];
  grow_array((void **)&ds->cp_data, &ds->cap_cp, (size_t)c0 + len, sizeof(int32_t));
  int32_t *p = ds->cp_data + c0;
  *p++ = D;
  *p++ = R;
  for (int k = 0; k < D; k++) *p++ = g->dep_from[k];
  for (int k = 0; k < D; k++) *p++ = g->dep_to[k];
  for (int r = 0; r < R; r++) *p++ = g->rec_writer[r];
  for (int r = 0; r <= R; r++) *p++ = R ? g->rec_reader_offset[r] : 0;
  for (int k = 0; k < readers; k++) *p++ = g->rec_readers[k];
  ds->cp_offset[i + 1] = c0 + (int64_t)len;
}

/* A value list store: offsets[0..count] into values. */
typedef struct {
  int64_t **offset;
  double **values;
  size_t *cap_lists, *cap_values;
} ListStore;

static void list_append(ListStore s, size_t list_index, const double *v, size_t n) {
  if (list_index + 2 > *s.cap_lists) {
    size_t c = grown(*s.cap_lists, list_index + 2);
    *s.offset = xrealloc(*s.offset, c * sizeof(int64_t));
    if (*s.cap_lists == 0) (*s.offset)[0] = 0;
    *s.cap_lists = c;
  }
  int64_t start = (*s.offset)[list_index];
  if ((size_t)start + n > *s.cap_values) {
    size_t c = grown(*s.cap_values, (size_t)start + n);
    *s.values = xrealloc(*s.values, c * sizeof(double));
    *s.cap_values = c;
  }
  if (n) memcpy(*s.values + start, v, n * sizeof(double));
  (*s.offset)[list_index + 1] = start + (int64_t)n;
}

static ListStore label_store(Dataset *ds) {
  return (ListStore){&ds->value_offset, &ds->values, &ds->cap_lists, &ds->cap_values};
}
static ListStore prefix_store(Dataset *ds) {
  return (ListStore){&ds->prefix_value_offset, &ds->prefix_values, &ds->cap_plists, &ds->cap_pvalues};
}

/* ---- spec §5.1 step 3: aggregation ---- */

/* Writes the aggregated list of in[0..n) to out, returns its length. */
static size_t aggregate(ThroughputSelection sel, const double *in, size_t n, double scaling, double *out) {
  if (n == 0) return 0;
  switch (sel) {
  case THROUGHPUT_MEAN: {
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += in[i];
    out[0] = sum / (double)n * scaling;
    return 1;
  }
  case THROUGHPUT_MIN: {
    double m = in[0];
    for (size_t i = 1; i < n; i++)
      if (in[i] < m) m = in[i];
    out[0] = m * scaling;
    return 1;
  }
  case THROUGHPUT_FIRST:
    out[0] = in[0] * scaling;
    return 1;
  case THROUGHPUT_RANDOM:
  default:
    for (size_t i = 0; i < n; i++) out[i] = in[i] * scaling;
    return n;
  }
}

/* ---- content hash ---- */

static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
  const uint8_t *p = data;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001B3ull;
  }
  return h;
}

static uint64_t block_content_hash(const Gematria__BasicBlockProto *bb, uint8_t **scratch, size_t *cap) {
  uint64_t h = 0xCBF29CE484222325ull;
  if (!bb) return h;
  bool any_code = false;
  for (size_t i = 0; i < bb->n_machine_instructions; i++) {
    const ProtobufCBinaryData *code = &bb->machine_instructions[i]->machine_code;
    if (code->len) any_code = true;
    h = fnv1a(h, code->data, code->len);
  }
  if (any_code) return h;
  for (size_t i = 0; i < bb->n_canonicalized_instructions; i++) {
    const Gematria__CanonicalizedInstructionProto *ins = bb->canonicalized_instructions[i];
    size_t n = gematria__canonicalized_instruction_proto__get_packed_size(ins);
    grow_array((void **)scratch, cap, n + 1, 1);
    gematria__canonicalized_instruction_proto__pack(ins, *scratch);
    h = fnv1a(h, *scratch, n);
  }
  return h;
}

/* ---- loading ---- */

typedef struct {
  const DatasetOptions *opts;
  regex_t *filters;
  int num_filters;
  const char *path;
  long record;
  double *tmp; /* scratch for aggregated lists */
  size_t cap_tmp;
  uint8_t *hash_scratch;
  size_t cap_hash;
  char first_invalid[320];
} Loader;

/* spec §5.1 step 1: first source matching each filter (NULL = none). */
static void select_throughputs(Loader *L, const Gematria__BasicBlockWithThroughputProto *rec,
                               const Throughput **chosen) {
  for (int f = 0; f < L->num_filters; f++) {
    chosen[f] = NULL;
    for (size_t k = 0; k < rec->n_inverse_throughputs; k++) {
      const Throughput *t = rec->inverse_throughputs[k];
      const char *source = t->source ? t->source : "";
      if (regexec(&L->filters[f], source, 0, NULL, 0) == 0) {
        chosen[f] = t;
        break;
      }
    }
  }
}

static bool has_any_throughput(const Throughput *const *chosen, int n, bool use_prefixes) {
  for (int f = 0; f < n; f++) {
    if (!chosen[f]) continue;
    if (chosen[f]->n_inverse_throughput_cycles > 0) return true;
    if (use_prefixes)
      for (size_t j = 0; j < chosen[f]->n_prefix_inverse_throughputs; j++)
        if (chosen[f]->prefix_inverse_throughputs[j]->n_inverse_throughput_cycles > 0) return true;
  }
  return false;
}

static double *tmp_values(Loader *L, size_t n) {
  grow_array((void **)&L->tmp, &L->cap_tmp, n + 1, sizeof(double));
  return L->tmp;
}

/* Appends the label lists (and prefix lists) of a kept TRAIN block. */
static int store_labels(Dataset *ds, Loader *L, const Throughput *const *chosen, int num_instructions) {
  const DatasetOptions *o = L->opts;
  int T = ds->num_tasks;
  size_t block = (size_t)ds->num_blocks;
  for (int t = 0; t < T; t++) {
    const Throughput *th = chosen[t];
    size_t n = th ? th->n_inverse_throughput_cycles : 0;
    for (size_t i = 0; i < n; i++)
      if (check_throughput_value(th->inverse_throughput_cycles[i] * o->scaling, L->path, L->record, th->source))
        return -1;
    double *out = tmp_values(L, n);
    size_t k = n ? aggregate(o->selection, th->inverse_throughput_cycles, n, o->scaling, out) : 0;
    list_append(label_store(ds), block * T + t, out, k);
  }
  if (!ds->has_deltas) return 0;
  /* spec §5.2: prefix lists of labelled tasks must have exactly I entries */
  int64_t first = ds->num_blocks ? ds->prefix_first[ds->num_blocks - 1] +
                                       (int64_t)T * ds->num_instructions[ds->num_blocks - 1]
                                 : 0;
  ds->prefix_first[block] = first;
  for (int t = 0; t < T; t++) {
    const Throughput *th = chosen[t];
    bool labelled = th && th->n_inverse_throughput_cycles > 0;
    if (labelled && th->n_prefix_inverse_throughputs != (size_t)num_instructions) {
      gr_error("%s: record %ld: task %d has %zu prefix throughputs for %d instructions (seq2seq "
               "needs one per instruction; use --nogematria_use_seq2seq_loss)",
               L->path, L->record, t, th->n_prefix_inverse_throughputs, num_instructions);
      return -1;
    }
    for (int j = 0; j < num_instructions; j++) {
      size_t list = (size_t)first + (size_t)t * num_instructions + (size_t)j;
      size_t k = 0;
      double *out = NULL;
      if (labelled) {
        const Gematria__ThroughputWithSourceProto__PrefixThroughputProto *p = th->prefix_inverse_throughputs[j];
        if (p->n_inverse_throughput_cycles == 0) {
          gr_error("%s: record %ld: task %d: prefix throughput %d has no value", L->path, L->record, t, j);
          return -1;
        }
        for (size_t i = 0; i < p->n_inverse_throughput_cycles; i++)
          if (check_throughput_value(p->inverse_throughput_cycles[i] * o->scaling, L->path, L->record, th->source))
            return -1;
        out = tmp_values(L, p->n_inverse_throughput_cycles);
        k = aggregate(o->selection, p->inverse_throughput_cycles, p->n_inverse_throughput_cycles, o->scaling, out);
      }
      list_append(prefix_store(ds), list, out, k);
    }
  }
  return 0;
}

static void store_raw(Dataset *ds, const uint8_t *data, size_t len) {
  int64_t start = ds->raw_offset[ds->num_blocks];
  if ((size_t)start + len > ds->cap_raw) {
    size_t c = grown(ds->cap_raw, (size_t)start + len);
    ds->raw = xrealloc(ds->raw, c);
    ds->cap_raw = c;
  }
  if (len) memcpy(ds->raw + start, data, len);
  ds->raw_offset[ds->num_blocks + 1] = start + (int64_t)len;
}

/* Handles one record. 0 = kept or dropped, -1 = error (line printed). */
static int load_record(Dataset *ds, Loader *L, const uint8_t *data, size_t len, int file) {
  const DatasetOptions *o = L->opts;
  bool predict = o->mode == DATASET_PREDICT;
  Gematria__BasicBlockWithThroughputProto *rec = gematria__basic_block_with_throughput_proto__unpack(NULL, len, data);
  if (!rec) {
    gr_error("%s: record %ld: not a valid BasicBlockWithThroughputProto", L->path, L->record);
    return -1;
  }
  int rc = 0;
  const Throughput *chosen_small[16];
  const Throughput **chosen = ds->num_tasks <= 16 ? chosen_small : xmalloc(ds->num_tasks * sizeof *chosen);
  if (!predict) {
    select_throughputs(L, rec, chosen);
    if (!has_any_throughput(chosen, ds->num_tasks, o->use_seq2seq_loss)) {
      ds->num_dropped_no_label++; /* spec §5.1 step 2 */
      goto done;
    }
  }
  BlockGraph g;
  char err[256];
  int built = graph_build_block(&g, rec->basic_block, o->graph, err, sizeof err);
  if (built != 0) {
    if (!predict && !o->drop_invalid) {
      gr_error("%s: record %ld: block rejected: %s", L->path, L->record, err);
      rc = -1;
      goto done;
    }
    if (!predict) {
      if (ds->num_dropped_invalid == 0)
        snprintf(L->first_invalid, sizeof L->first_invalid, "%s: record %ld: %s", L->path, L->record, err);
      ds->num_dropped_invalid++;
      goto done;
    }
    memset(&g, 0, sizeof g); /* predict: kept, unbatchable, passed through */
  }
  reserve_block(ds, ds->has_deltas, predict, o->graph->critical_path);
  int i = ds->num_blocks;
  reserve_graph(ds, (size_t)ds->node_offset[i] + g.num_nodes, (size_t)ds->edge_offset[i] + g.num_edges);
  int64_t n0 = ds->node_offset[i], m0 = ds->edge_offset[i];
  if (g.num_nodes) {
    memcpy(ds->node_tokens + n0, g.node_tokens, (size_t)g.num_nodes * sizeof(int32_t));
    memcpy(ds->node_types + n0, g.node_types, (size_t)g.num_nodes);
  }
  if (g.num_edges) {
    memcpy(ds->edge_types + m0, g.edge_types, (size_t)g.num_edges);
    memcpy(ds->senders + m0, g.senders, (size_t)g.num_edges * sizeof(int32_t));
    memcpy(ds->receivers + m0, g.receivers, (size_t)g.num_edges * sizeof(int32_t));
  }
  ds->node_offset[i + 1] = n0 + g.num_nodes;
  ds->edge_offset[i + 1] = m0 + g.num_edges;
  ds->num_instructions[i] = g.num_instructions;
  if (ds->cp_offset) store_critical_path(ds, i, &g);
  ds->valid[i] = built == 0;
  ds->hash[i] = block_content_hash(rec->basic_block, &L->hash_scratch, &L->cap_hash);
  ds->file_index[i] = file;
  ds->record_index[i] = L->record;
  if (predict) {
    store_raw(ds, data, len);
    for (int t = 0; t < ds->num_tasks; t++) list_append(label_store(ds), (size_t)i * ds->num_tasks + t, NULL, 0);
  } else if (store_labels(ds, L, chosen, g.num_instructions) != 0) {
    rc = -1;
  }
  block_graph_free(&g);
  if (rc == 0) {
    ds->num_blocks++;
    ds->total_instructions += ds->num_instructions[i];
  }
done:
  if (chosen != chosen_small) free(chosen);
  gematria__basic_block_with_throughput_proto__free_unpacked(rec, NULL);
  return rc;
}

/* Gives the arrays back their unused tails once loading is done. */
static void shrink(Dataset *ds) {
  size_t B = (size_t)ds->num_blocks, T = (size_t)ds->num_tasks;
  size_t n = (size_t)ds->node_offset[B], m = (size_t)ds->edge_offset[B];
  ds->node_offset = xrealloc(ds->node_offset, (B + 1) * sizeof(int64_t));
  ds->edge_offset = xrealloc(ds->edge_offset, (B + 1) * sizeof(int64_t));
  if (ds->cp_offset) {
    ds->cp_offset = xrealloc(ds->cp_offset, (B + 1) * sizeof(int64_t));
    if (ds->cp_offset[B]) ds->cp_data = xrealloc(ds->cp_data, (size_t)ds->cp_offset[B] * sizeof(int32_t));
  }
  if (B) {
    ds->num_instructions = xrealloc(ds->num_instructions, B * sizeof(int32_t));
    ds->hash = xrealloc(ds->hash, B * sizeof(uint64_t));
    ds->valid = xrealloc(ds->valid, B);
    ds->file_index = xrealloc(ds->file_index, B * sizeof(int32_t));
    ds->record_index = xrealloc(ds->record_index, B * sizeof(int64_t));
    if (ds->prefix_first) ds->prefix_first = xrealloc(ds->prefix_first, B * sizeof(int64_t));
  }
  if (n) {
    ds->node_tokens = xrealloc(ds->node_tokens, n * sizeof(int32_t));
    ds->node_types = xrealloc(ds->node_types, n);
  }
  if (m) {
    ds->edge_types = xrealloc(ds->edge_types, m);
    ds->senders = xrealloc(ds->senders, m * sizeof(int32_t));
    ds->receivers = xrealloc(ds->receivers, m * sizeof(int32_t));
  }
  size_t lists = B * T;
  ds->value_offset = xrealloc(ds->value_offset, (lists + 1) * sizeof(int64_t));
  ds->value_offset[0] = lists ? ds->value_offset[0] : 0;
  if (ds->value_offset[lists]) ds->values = xrealloc(ds->values, (size_t)ds->value_offset[lists] * sizeof(double));
  if (ds->has_deltas && B) {
    size_t plists = (size_t)ds->prefix_first[B - 1] + T * (size_t)ds->num_instructions[B - 1];
    if (plists) {
      ds->prefix_value_offset = xrealloc(ds->prefix_value_offset, (plists + 1) * sizeof(int64_t));
      size_t pv = (size_t)ds->prefix_value_offset[plists];
      if (pv) ds->prefix_values = xrealloc(ds->prefix_values, pv * sizeof(double));
    }
  }
  if (ds->raw && ds->raw_offset[B]) ds->raw = xrealloc(ds->raw, (size_t)ds->raw_offset[B]);
  if (ds->raw_offset) ds->raw_offset = xrealloc(ds->raw_offset, (B + 1) * sizeof(int64_t));
}

int dataset_load(Dataset *ds, const char *const *paths, int num_paths, const DatasetOptions *opts) {
  memset(ds, 0, sizeof *ds);
  bool predict = opts->mode == DATASET_PREDICT;
  static const char *const default_filter[] = {".*"};
  const char *const *filters = opts->num_filters > 0 ? opts->source_filters : default_filter;
  int num_filters = opts->num_filters > 0 ? opts->num_filters : 1;
  ds->num_tasks = predict && opts->num_tasks > 0 ? opts->num_tasks : num_filters;
  ds->selection = opts->selection;
  ds->has_deltas = !predict && opts->seq2seq_deltas;

  Loader L = {0};
  L.opts = opts;
  L.filters = xcalloc((size_t)num_filters, sizeof(regex_t));
  int rc = 0;
  if (!predict) {
    for (int f = 0; f < num_filters; f++) {
      /* Python re.match: anchored at the start only */
      size_t n = strlen(filters[f]) + 4;
      char *pattern = xmalloc(n);
      snprintf(pattern, n, "^(%s)", filters[f]);
      int err = regcomp(&L.filters[f], pattern, REG_EXTENDED | REG_NOSUB);
      free(pattern);
      if (err != 0) {
        char msg[128];
        regerror(err, &L.filters[f], msg, sizeof msg);
        gr_error("throughput source filter '%s' is not a valid regular expression: %s", filters[f], msg);
        rc = -1;
        break;
      }
      L.num_filters++;
    }
  }
  reserve_block(ds, ds->has_deltas, predict, opts->graph->critical_path);
  ds->node_offset[0] = ds->edge_offset[0] = 0;
  if (ds->cp_offset) ds->cp_offset[0] = 0;
  if (predict) ds->raw_offset[0] = 0;
  list_append(label_store(ds), 0, NULL, 0); /* allocates value_offset[0] */
  ds->value_offset[0] = 0;
  ds->files = xcalloc((size_t)(num_paths > 0 ? num_paths : 1), sizeof(char *));

  for (int f = 0; rc == 0 && f < num_paths; f++) {
    ds->files[f] = xstrdup(paths[f]);
    ds->num_files = f + 1;
    TFRecordReader r;
    if (tfrecord_open(&r, paths[f]) != 0) {
      rc = -1;
      break;
    }
    L.path = paths[f];
    const uint8_t *data;
    size_t len;
    int got;
    while ((got = tfrecord_next(&r, &data, &len)) == 1) {
      L.record = r.index;
      ds->num_records++;
      if (load_record(ds, &L, data, len, f) != 0) {
        rc = -1;
        break;
      }
    }
    if (got < 0) rc = -1; /* tfrecord_next printed the error line */
    tfrecord_close(&r);
  }
  if (rc == 0 && ds->num_dropped_invalid > 0 && !opts->quiet)
    gr_warn("dropped %ld invalid blocks (first: %s)", ds->num_dropped_invalid, L.first_invalid);

  for (int f = 0; f < L.num_filters; f++) regfree(&L.filters[f]);
  free(L.filters);
  free(L.tmp);
  free(L.hash_scratch);
  if (rc != 0) {
    dataset_free(ds);
    return -1;
  }
  shrink(ds);
  return 0;
}

void dataset_free(Dataset *ds) {
  free(ds->node_offset);
  free(ds->edge_offset);
  free(ds->num_instructions);
  free(ds->node_tokens);
  free(ds->node_types);
  free(ds->edge_types);
  free(ds->senders);
  free(ds->receivers);
  free(ds->cp_offset);
  free(ds->cp_data);
  free(ds->hash);
  free(ds->valid);
  free(ds->value_offset);
  free(ds->values);
  free(ds->prefix_first);
  free(ds->prefix_value_offset);
  free(ds->prefix_values);
  free(ds->raw_offset);
  free(ds->raw);
  free(ds->file_index);
  free(ds->record_index);
  for (int f = 0; f < ds->num_files; f++) free(ds->files[f]);
  free(ds->files);
  memset(ds, 0, sizeof *ds);
}

size_t dataset_memory_bytes(const Dataset *ds) {
  size_t B = (size_t)ds->num_blocks, T = (size_t)ds->num_tasks;
  size_t n = B ? (size_t)ds->node_offset[B] : 0, m = B ? (size_t)ds->edge_offset[B] : 0;
  size_t bytes = (B + 1) * 16 + B * (4 + 8 + 1 + 4 + 8) + n * 5 + m * 9;
  bytes += (B * T + 1) * 8 + (size_t)ds->value_offset[B * T] * 8;
  if (ds->has_deltas && B) {
    size_t plists = (size_t)ds->prefix_first[B - 1] + T * (size_t)ds->num_instructions[B - 1];
    bytes += B * 8 + (plists + 1) * 8 + (plists ? (size_t)ds->prefix_value_offset[plists] * 8 : 0);
  }
  if (ds->raw_offset) bytes += (B + 1) * 8 + (size_t)ds->raw_offset[B];
  if (ds->cp_offset) bytes += (B + 1) * 8 + (size_t)ds->cp_offset[B] * 4;
  return bytes;
}

void dataset_graph(const Dataset *ds, int i, BlockGraph *view) {
  int64_t n0 = ds->node_offset[i], m0 = ds->edge_offset[i];
  view->num_nodes = (int)(ds->node_offset[i + 1] - n0);
  view->num_edges = (int)(ds->edge_offset[i + 1] - m0);
  view->num_instructions = ds->num_instructions[i];
  view->node_tokens = ds->node_tokens + n0;
  view->node_types = ds->node_types + n0;
  view->edge_types = ds->edge_types + m0;
  view->senders = ds->senders + m0;
  view->receivers = ds->receivers + m0;
  view->num_deps = view->num_recurrences = 0;
  view->dep_from = view->dep_to = view->rec_writer = view->rec_reader_offset = view->rec_readers = NULL;
  if (ds->cp_offset) {
    int32_t *p = ds->cp_data + ds->cp_offset[i];
    int D = p[0], R = p[1];
    view->num_deps = D;
    view->num_recurrences = R;
    view->dep_from = p + 2;
    view->dep_to = view->dep_from + D;
    view->rec_writer = view->dep_to + D;
    view->rec_reader_offset = view->rec_writer + R;
    view->rec_readers = view->rec_reader_offset + R + 1;
  }
}

/* spec §5.2: the first value, or a random one under RANDOM selection. */
static double pick(const Dataset *ds, const int64_t *offset, const double *values, size_t list, Rng *rng) {
  int64_t a = offset[list], b = offset[list + 1];
  if (ds->selection == THROUGHPUT_RANDOM && b - a > 1 && rng) a += (int64_t)rng_below(rng, (uint64_t)(b - a));
  return values[a];
}

void dataset_block_labels(const Dataset *ds, int i, Rng *rng, float *labels, uint8_t *mask, float *deltas,
                          uint8_t *delta_mask) {
  int T = ds->num_tasks;
  for (int t = 0; t < T; t++) {
    size_t l = (size_t)i * T + t;
    bool present = ds->value_offset[l + 1] > ds->value_offset[l];
    labels[t] = present ? (float)pick(ds, ds->value_offset, ds->values, l, rng) : -1.0f;
    mask[t] = present;
  }
  if (!deltas) return;
  int I = ds->num_instructions[i];
  for (int t = 0; t < T; t++) {
    double prev = 0.0;
    for (int j = 0; j < I; j++) {
      double p = -1.0; /* spec §5.2: absent task => all -1, then differenced */
      if (ds->has_deltas && mask[t])
        p = pick(ds, ds->prefix_value_offset, ds->prefix_values,
                 (size_t)ds->prefix_first[i] + (size_t)t * I + (size_t)j, rng);
      deltas[(size_t)j * T + t] = (float)(j == 0 ? p : p - prev);
      if (delta_mask) delta_mask[(size_t)j * T + t] = ds->has_deltas && mask[t];
      prev = p;
    }
  }
}

void dataset_fill_batch(const Dataset *ds, const int32_t *ids, int n, Batch *b, Rng *rng) {
  batch_clear(b);
  int T = ds->num_tasks;
  float labels[T > 0 ? T : 1];
  uint8_t mask[T > 0 ? T : 1];
  enum { SMALL = 4096 };
  float small_deltas[SMALL];
  uint8_t small_mask[SMALL];
  for (int k = 0; k < n; k++) {
    int i = ids[k];
    BlockGraph g;
    dataset_graph(ds, i, &g);
    float *deltas = NULL;
    uint8_t *dmask = NULL;
    size_t rows = (size_t)g.num_instructions * T;
    if (ds->has_deltas) {
      deltas = rows <= SMALL ? small_deltas : xmalloc(rows * sizeof(float));
      dmask = rows <= SMALL ? small_mask : xmalloc(rows);
    }
    dataset_block_labels(ds, i, rng, labels, mask, deltas, dmask);
    batch_add(b, &g, labels, mask, deltas, dmask);
    if (deltas && deltas != small_deltas) {
      free(deltas);
      free(dmask);
    }
  }
}

void dataset_split_by_hash(const Dataset *ds, double valid_fraction, int32_t **train, int *num_train,
                           int32_t **valid, int *num_valid) {
  int32_t *tr = xmalloc(((size_t)ds->num_blocks + 1) * sizeof(int32_t));
  int32_t *va = xmalloc(((size_t)ds->num_blocks + 1) * sizeof(int32_t));
  int nt = 0, nv = 0;
  for (int i = 0; i < ds->num_blocks; i++) {
    if (!ds->valid[i]) continue;
    uint64_t state = ds->hash[i];
    double u = (double)(splitmix64(&state) >> 11) * 0x1.0p-53;
    if (u < valid_fraction)
      va[nv++] = i;
    else
      tr[nt++] = i;
  }
  if (train) *train = tr; else free(tr);
  if (valid) *valid = va; else free(va);
  if (num_train) *num_train = nt;
  if (num_valid) *num_valid = nv;
}

const uint8_t *dataset_raw_record(const Dataset *ds, int i, size_t *len) {
  if (!ds->raw_offset) {
    *len = 0;
    return NULL;
  }
  *len = (size_t)(ds->raw_offset[i + 1] - ds->raw_offset[i]);
  if (!ds->raw) return (const uint8_t *)""; /* only empty records so far: nothing allocated */
  return ds->raw + ds->raw_offset[i];
}

static size_t put_varint(uint8_t *out, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    out[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  out[n++] = (uint8_t)v;
  return n;
}

size_t record_append_throughputs(uint8_t **out, size_t *cap, const uint8_t *record, size_t len,
                                 const Gematria__ThroughputWithSourceProto *const *entries, int n) {
  size_t need = len;
  for (int k = 0; k < n; k++) need += 11 + gematria__throughput_with_source_proto__get_packed_size(entries[k]);
  grow_array((void **)out, cap, need + 1, 1);
  if (len) memcpy(*out, record, len);
  size_t pos = len;
  for (int k = 0; k < n; k++) {
    size_t size = gematria__throughput_with_source_proto__get_packed_size(entries[k]);
    (*out)[pos++] = 0x12; /* field 2, wire type LEN (spec §1.1) */
    pos += put_varint(*out + pos, size);
    pos += gematria__throughput_with_source_proto__pack(entries[k], *out + pos);
  }
  return pos;
}

/* ---- samplers (spec §5.6) ---- */

void sampler_init(Sampler *s, const Dataset *ds, const int32_t *ids, int n, SamplerMode mode, int max_blocks,
                  int max_instructions, uint64_t seed) {
  memset(s, 0, sizeof *s);
  s->ds = ds;
  s->mode = mode;
  int total = ids ? n : ds->num_blocks;
  s->ids = xmalloc(((size_t)total + 1) * sizeof(int32_t));
  for (int k = 0; k < total; k++) {
    int i = ids ? ids[k] : k;
    if (ds->valid[i]) s->ids[s->n++] = i;
  }
  s->max_blocks = max_blocks;
  s->max_instructions = max_instructions;
  rng_seed(&s->rng, seed);
}

static int effective_max_blocks(const Sampler *s) {
  return s->max_blocks > 0 && s->max_blocks < s->n ? s->max_blocks : s->n;
}

int sampler_max_batch(const Sampler *s) {
  int m = effective_max_blocks(s);
  return m > 0 ? m : 1;
}

static bool alone_too_big(const Sampler *s, int block) {
  return s->max_instructions > 0 && s->ds->num_instructions[block] > s->max_instructions;
}

static int next_random(Sampler *s, int32_t *out) {
  int max_blocks = effective_max_blocks(s);
  long cap_blocks = s->max_blocks > 0 ? s->max_blocks : s->n;
  /* spec §5.6: oversample by 1.5 when an instruction cap is set */
  long k = s->max_instructions > 0 ? (3 * cap_blocks) / 2 : cap_blocks;
  if (k > s->n) k = s->n;
  int count = 0;
  long instructions = 0;
  for (long j = 0; j < k && count < max_blocks; j++) {
    /* partial Fisher-Yates: ids[0..j] becomes a uniform sample without replacement */
    long r = j + (long)rng_below(&s->rng, (uint64_t)(s->n - j));
    int32_t tmp = s->ids[j];
    s->ids[j] = s->ids[r];
    s->ids[r] = tmp;
    int block = s->ids[j];
    int I = s->ds->num_instructions[block];
    if (s->max_instructions > 0 && instructions + I > s->max_instructions) continue;
    out[count++] = block;
    instructions += I;
  }
  return count;
}

static int next_sequential(Sampler *s, int32_t *out) {
  int max_blocks = effective_max_blocks(s);
  int count = 0;
  long instructions = 0;
  /* visit each position at most once per batch so a wrap never repeats a block */
  for (int visited = 0; visited < s->n && count < max_blocks; visited++) {
    if (s->cursor >= s->n) {
      if (s->mode == SAMPLER_ONCE) break;
      s->cursor = 0;
    }
    int block = s->ids[s->cursor];
    if (alone_too_big(s, block)) {
      s->cursor++;
      if (s->mode == SAMPLER_ONCE) s->num_skipped++;
      continue;
    }
    int I = s->ds->num_instructions[block];
    if (s->max_instructions > 0 && instructions + I > s->max_instructions) break;
    out[count++] = block;
    instructions += I;
    s->cursor++;
  }
  return count;
}

int sampler_next(Sampler *s, int32_t *out) {
  if (s->n == 0) return 0;
  return s->mode == SAMPLER_RANDOM ? next_random(s, out) : next_sequential(s, out);
}

void sampler_free(Sampler *s) {
  free(s->ids);
  memset(s, 0, sizeof *s);
}
