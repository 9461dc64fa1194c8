/* `granite eval` error analysis on a dataset (train/eval_analysis.h). */
#include "train/eval_analysis.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph_key.h"
#include "io/tfrecord.h"
#include "model/model.h"
#include "train/error_analysis.h"
#include "util/common.h"
#include "x86/canonicalize.h"

/* What the analysis needs of each dataset block besides its graph. */
typedef struct {
  BlockFeatures *features; /* [num_blocks] */
  int64_t *code_offset;    /* [num_blocks + 1] into code */
  uint8_t *code;           /* machine code, all instructions concatenated */
  char **mnemonics;        /* [num_blocks] "MOV; ADD" when a record has no machine code, else NULL */
} BlockFacts;

static void facts_free(BlockFacts *b, int num_blocks) {
  if (b->mnemonics)
    for (int i = 0; i < num_blocks; i++) free(b->mnemonics[i]);
  free(b->features);
  free(b->code_offset);
  free(b->code);
  free(b->mnemonics);
}

static void append(char **s, size_t *len, size_t *cap, const char *text) {
  size_t n = strlen(text);
  grow_array((void **)s, cap, *len + n + 1, 1);
  memcpy(*s + *len, text, n + 1);
  *len += n;
}

/* The facts of one record's block into slot j. */
static void add_facts(BlockFacts *b, int j, const Gematria__BasicBlockProto *bb, size_t *code_len, size_t *code_cap) {
  block_features_compute(bb, &b->features[j]);
  size_t n_mi = bb ? bb->n_machine_instructions : 0;
  for (size_t k = 0; k < n_mi; k++) {
    ProtobufCBinaryData mc = bb->machine_instructions[k]->machine_code;
    grow_array((void **)&b->code, code_cap, *code_len + mc.len + 1, 1);
    memcpy(b->code + *code_len, mc.data, mc.len);
    *code_len += mc.len;
  }
  if (*code_len == (size_t)b->code_offset[j] && bb) { /* no machine code: the canonical mnemonics */
    char *s = NULL;
    size_t len = 0, cap = 0;
    append(&s, &len, &cap, "");
    for (size_t k = 0; k < bb->n_canonicalized_instructions; k++) {
      if (k) append(&s, &len, &cap, "; ");
      const char *m = bb->canonicalized_instructions[k]->mnemonic;
      append(&s, &len, &cap, m ? m : "?");
    }
    b->mnemonics[j] = s;
  }
}

/* Reads ds's files again (the blocks are their records in file order) and
 * decodes the records of the blocks ids[0..n) (NULL = all); the others keep
 * empty facts. */
static int read_facts(const Dataset *ds, const int32_t *ids, int n, BlockFacts *b) {
  int N = ds->num_blocks;
  b->features = xcalloc((size_t)N + 1, sizeof *b->features);
  b->code_offset = xcalloc((size_t)N + 1, sizeof *b->code_offset);
  b->mnemonics = xcalloc((size_t)N + 1, sizeof *b->mnemonics);
  b->code = NULL;
  uint8_t *wanted = xcalloc((size_t)N + 1, 1);
  for (int k = 0; k < (ids ? n : N); k++) wanted[ids ? ids[k] : k] = 1;
  size_t code_len = 0, code_cap = 0;
  int j = 0, rc = 0;
  for (int fi = 0; fi < ds->num_files && j < N && !rc; fi++) {
    TFRecordReader r;
    if (tfrecord_open(&r, ds->files[fi])) {
      rc = -1;
      break;
    }
    const uint8_t *data;
    size_t len;
    int got = 0;
    while (j < N && ds->file_index[j] == fi && (got = tfrecord_next(&r, &data, &len)) == 1) {
      if (r.index != ds->record_index[j]) continue; /* a record the dataset dropped */
      if (wanted[j]) {
        Gematria__BasicBlockWithThroughputProto *rec = gematria__basic_block_with_throughput_proto__unpack(NULL, len, data);
        if (!rec) {
          gr_error("%s: record %ld: not a valid BasicBlockWithThroughputProto (protobuf parse error)", r.path, r.index);
          rc = -1;
          break;
        }
        add_facts(b, j, rec->basic_block, &code_len, &code_cap);
        gematria__basic_block_with_throughput_proto__free_unpacked(rec, NULL);
      }
      b->code_offset[++j] = (int64_t)code_len;
    }
    tfrecord_close(&r);
    if (got < 0) rc = -1; /* the reader named the file and record */
    if (!rc && j < N && ds->file_index[j] == fi) {
      gr_error("%s: record %lld of the evaluated data can no longer be read (was the file changed?)", ds->files[fi],
               (long long)ds->record_index[j]);
      rc = -1;
    }
  }
  free(wanted);
  return rc;
}

/* Block i's machine code as hex (a malloc'ed string). */
static char *block_hex(const BlockFacts *b, int i) {
  const uint8_t *code = b->code ? b->code + b->code_offset[i] : NULL; /* NULL: no code was kept */
  size_t len = (size_t)(b->code_offset[i + 1] - b->code_offset[i]);
  char *hex = xmalloc(2 * len + 1);
  for (size_t k = 0; k < len; k++) sprintf(hex + 2 * k, "%02x", code[k]);
  hex[2 * len] = 0;
  return hex;
}

/* Hex and "; "-separated Intel assembly of block i (malloc'ed strings). */
static void block_text(const BlockFacts *b, int i, char **hex, char **assembly) {
  const uint8_t *code = b->code ? b->code + b->code_offset[i] : NULL;
  size_t len = (size_t)(b->code_offset[i + 1] - b->code_offset[i]);
  *hex = block_hex(b, i);
  if (b->mnemonics[i]) {
    *assembly = xstrdup(b->mnemonics[i]);
    return;
  }
  char *s = NULL;
  size_t slen = 0, cap = 0;
  append(&s, &slen, &cap, "");
  size_t at = 0;
  while (at < len) {
    char line[256];
    int n = x86_format_intel(code + at, len - at, at, line, sizeof line);
    if (n <= 0) {
      append(&s, &slen, &cap, at ? "; (undecodable)" : "(undecodable)");
      break;
    }
    if (at) append(&s, &slen, &cap, "; ");
    append(&s, &slen, &cap, line);
    at += (size_t)n;
  }
  *assembly = s;
}

static char **split_commas(const char *list, int *n) {
  char **items = NULL;
  *n = 0;
  const char *p = list;
  while (*p) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    if (len) {
      items = xrealloc(items, (size_t)(*n + 1) * sizeof *items);
      items[*n] = xmalloc(len + 1);
      memcpy(items[*n], p, len);
      items[(*n)++][len] = 0;
    }
    if (!comma) break;
    p = comma + 1;
  }
  return items;
}

/* Does the comma list name exactly the files ds was loaded from, in order? */
static bool same_files(char **files, int n, const Dataset *ds) {
  if (n != ds->num_files) return false;
  for (int i = 0; i < n; i++)
    if (strcmp(files[i], ds->files[i])) return false;
  return true;
}

/* The graph keys of the training file's blocks (its training part when a
 * validation fraction is given). When it is the evaluated file itself (the
 * usual held-out evaluation), the loaded dataset is used instead of a second
 * load. */
static int training_keys(const GematriaFlags *f, const Dataset *ds, const DatasetOptions *load_opts,
                         const Vocab *vocab, GraphKeySet *set) {
  int nfiles;
  char **files = split_commas(f->training_file_for_split, &nfiles);
  DatasetOptions o = *load_opts;
  o.drop_invalid = true; /* blocks the vocabulary cannot build were never trained on */
  o.quiet = true;
  Dataset loaded;
  memset(&loaded, 0, sizeof loaded);
  const Dataset *train = ds;
  int rc = 0;
  if (!nfiles) {
    gr_error("--gematria_training_file_for_split names no file");
    rc = -1;
  } else if (!same_files(files, nfiles, ds)) {
    rc = dataset_load(&loaded, (const char *const *)files, nfiles, &o);
    train = &loaded;
  }
  for (int i = 0; i < nfiles; i++) free(files[i]);
  free(files);
  if (rc) return -1;
  int32_t *ids = NULL;
  int n = train->num_blocks;
  if (f->validation_fraction > 0) dataset_split_by_hash(train, f->validation_fraction, &ids, &n, NULL, NULL);
  uint64_t *keys = xmalloc((size_t)(n > 0 ? n : 1) * sizeof *keys);
  for (int k = 0; k < n; k++) {
    BlockGraph g;
    dataset_graph(train, ids ? ids[k] : k, &g);
    keys[k] = graph_key(&g, vocab);
  }
  graph_key_set_init(set, keys, n);
  fprintf(stderr, "graph split: %lld distinct graphs in %d training blocks of %s\n", (long long)set->n, n,
          f->training_file_for_split);
  free(ids);
  dataset_free(&loaded);
  return 0;
}

struct EvalAnalysis {
  const GematriaFlags *f;
  const Dataset *ds;
  const Vocab *vocab;
  BlockFacts facts;
  bool split;
  GraphKeySet seen;
};

EvalAnalysis *eval_analysis_prepare(const GematriaFlags *f, const Dataset *ds, const int32_t *ids, int n,
                                    const DatasetOptions *load_opts) {
  EvalAnalysis *e = xcalloc(1, sizeof *e);
  e->f = f;
  e->ds = ds;
  e->vocab = load_opts->graph->vocab;
  e->split = f->training_file_for_split != NULL;
  if (read_facts(ds, ids, n, &e->facts) || (e->split && training_keys(f, ds, load_opts, e->vocab, &e->seen))) {
    eval_analysis_free(e);
    return NULL;
  }
  return e;
}

void eval_analysis_free(EvalAnalysis *e) {
  if (!e) return;
  graph_key_set_free(&e->seen);
  facts_free(&e->facts, e->ds->num_blocks);
  free(e);
}

void eval_analysis_write_csv(const EvalAnalysis *e, const int32_t *ids, int n, const float *pred,
                             const char *const *task_names, FILE *out) {
  const Dataset *ds = e->ds;
  int rows_n = ids ? n : ds->num_blocks, T = ds->num_tasks;
  float labels[GRANITE_MAX_TASKS];
  uint8_t mask[GRANITE_MAX_TASKS];
  Rng rng; /* eval selects MEAN, FIRST or MIN: labels draw nothing from it */
  rng_seed(&rng, 1);
  fputs("hex,graph_seen", out);
  for (int t = 0; t < T; t++) fprintf(out, ",%s_label,%s_prediction", task_names[t], task_names[t]);
  fputc('\n', out);
  for (int r = 0; r < rows_n; r++) {
    int i = ids ? ids[r] : r;
    char *hex = block_hex(&e->facts, i);
    fputs(hex, out);
    free(hex);
    fputc(',', out);
    if (e->split) {
      BlockGraph g;
      dataset_graph(ds, i, &g);
      fputc(graph_key_set_contains(&e->seen, graph_key(&g, e->vocab)) ? '1' : '0', out);
    }
    dataset_block_labels(ds, i, &rng, labels, mask, NULL, NULL);
    for (int t = 0; t < T; t++) {
      float p = pred[(size_t)i * T + t];
      if (mask[t]) fprintf(out, ",%.9g", labels[t]);
      else fputc(',', out);
      if (isfinite(p)) fprintf(out, ",%.9g", p);
      else fputc(',', out);
    }
    fputc('\n', out);
  }
}

void eval_analysis_write(const EvalAnalysis *e, const int32_t *ids, int n, const float *pred,
                         const char *const *task_names, bool json, FILE *out) {
  const Dataset *ds = e->ds;
  int rows_n = ids ? n : ds->num_blocks, T = ds->num_tasks;
  ErrorRow *rows = xmalloc((size_t)(rows_n > 0 ? rows_n : 1) * sizeof *rows);
  int *row_block = xmalloc((size_t)(rows_n > 0 ? rows_n : 1) * sizeof *row_block);
  float labels[GRANITE_MAX_TASKS];
  uint8_t mask[GRANITE_MAX_TASKS];
  Rng rng; /* eval selects MEAN, FIRST or MIN: labels draw nothing from it */
  rng_seed(&rng, 1);
  if (json) fputc('[', out);
  for (int t = 0; t < T; t++) {
    int m = 0;
    for (int r = 0; r < rows_n; r++) {
      int i = ids ? ids[r] : r;
      dataset_block_labels(ds, i, &rng, labels, mask, NULL, NULL);
      if (!mask[t]) continue;
      ErrorRow *row = &rows[m];
      row->label = labels[t];
      row->prediction = pred[(size_t)i * T + t];
      row->features = e->facts.features[i];
      row->seen = -1;
      if (e->split) {
        BlockGraph g;
        dataset_graph(ds, i, &g);
        row->seen = graph_key_set_contains(&e->seen, graph_key(&g, e->vocab));
      }
      row_block[m++] = i;
    }
    ErrorAnalysis a;
    error_analysis_compute(&a, rows, m, e->f->worst);
    WorstBlockText *text = xcalloc((size_t)a.num_worst + 1, sizeof *text);
    for (int w = 0; w < a.num_worst; w++)
      block_text(&e->facts, row_block[a.worst[w]], (char **)&text[w].hex, (char **)&text[w].assembly);
    if (json) {
      if (t) fputs(", ", out);
      error_analysis_write_json(out, &a, rows, text, task_names[t]);
    } else {
      error_analysis_print_table(out, &a, rows, text, task_names[t]);
    }
    for (int w = 0; w < a.num_worst; w++) {
      free((char *)text[w].hex);
      free((char *)text[w].assembly);
    }
    free(text);
    error_analysis_free(&a);
  }
  if (json) fputc(']', out);
  free(rows);
  free(row_block);
}
