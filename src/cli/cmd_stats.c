/* granite stats: what a .tfrecord data set holds, read as a stream (only
 * counters and one float per label are kept, so 3M-record files are fine). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/flags_simple.h"
#include "cli/token_set.h"
#include "io/block_io.h"
#include "util/common.h"
#include "util/str_index.h"

typedef struct {
  long records, last_record; /* last_record: the record that last counted this source */
  float *labels; /* mean of the record's values for this source (spec §5.1 MEAN) */
  size_t num_labels, cap_labels;
} SourceStats;

typedef struct {
  long records, instructions, empty_blocks, no_throughput, with_machine_code;
  long *per_length; /* per_length[k] = blocks with k instructions */
  size_t cap_length, max_length;
  StrIndex source_names; /* source i is sources[i], named source_names.keys[i] */
  SourceStats *sources;
  size_t cap_sources;
  TokenSet tokens;
} Stats;

/* The source's tally, or NULL if this record already had an entry of it:
 * found by hash, so a file with 100,000 sources takes no quadratic time. */
static SourceStats *source_first_in_record(Stats *s, const char *name) {
  int added;
  size_t i = str_index_get(&s->source_names, name, &added);
  if (added) {
    grow_array((void **)&s->sources, &s->cap_sources, i + 1, sizeof *s->sources);
    memset(&s->sources[i], 0, sizeof s->sources[i]);
  } else if (s->sources[i].last_record == s->records) {
    return NULL;
  }
  s->sources[i].last_record = s->records;
  return &s->sources[i];
}

static int add_record(const Gematria__BasicBlockWithThroughputProto *rec, const char *path, long index, void *ctx) {
  Stats *s = ctx;
  s->records++;
  size_t n = rec->basic_block ? rec->basic_block->n_canonicalized_instructions : 0;
  s->instructions += n;
  if (n == 0) s->empty_blocks++;
  if (rec->basic_block && rec->basic_block->n_machine_instructions) s->with_machine_code++;
  if (n + 1 > s->cap_length) {
    size_t old = s->cap_length;
    grow_array((void **)&s->per_length, &s->cap_length, n + 1, sizeof *s->per_length);
    memset(s->per_length + old, 0, (s->cap_length - old) * sizeof *s->per_length);
  }
  s->per_length[n]++;
  if (n > s->max_length) s->max_length = n;
  token_set_add_block(&s->tokens, rec->basic_block);
  int any = 0;
  for (size_t t = 0; t < rec->n_inverse_throughputs; t++) {
    const Gematria__ThroughputWithSourceProto *tp = rec->inverse_throughputs[t];
    /* spec §5.1: the first entry of a source is the one used */
    SourceStats *src = source_first_in_record(s, tp->source);
    if (!src) continue;
    src->records++;
    if (!tp->n_inverse_throughput_cycles) continue;
    double sum = 0;
    for (size_t v = 0; v < tp->n_inverse_throughput_cycles; v++) {
      if (check_throughput_value(tp->inverse_throughput_cycles[v], path, index, tp->source)) return -1;
      sum += tp->inverse_throughput_cycles[v];
    }
    if (check_throughput_value(sum / tp->n_inverse_throughput_cycles, path, index, tp->source)) return -1;
    grow_array((void **)&src->labels, &src->cap_labels, src->num_labels + 1, sizeof *src->labels);
    src->labels[src->num_labels++] = (float)(sum / tp->n_inverse_throughput_cycles);
    any = 1;
  }
  if (!any) s->no_throughput++;
  return 0;
}

static int compare_floats(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

typedef struct {
  double min, median, mean, max;
} Summary;

static Summary summarize_floats(float *v, size_t n) {
  Summary s = {0, 0, 0, 0};
  if (!n) return s;
  qsort(v, n, sizeof *v, compare_floats);
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += v[i];
  s.min = v[0];
  s.max = v[n - 1];
  s.mean = sum / n;
  s.median = n % 2 ? v[n / 2] : 0.5 * ((double)v[n / 2 - 1] + v[n / 2]);
  return s;
}

/* k-th smallest block length (0-based) from the per-length counts */
static size_t length_at(const Stats *s, long k) {
  long seen = 0;
  for (size_t len = 0; len <= s->max_length; len++) {
    seen += s->per_length[len];
    if (seen > k) return len;
  }
  return s->max_length;
}

static Summary summarize_lengths(const Stats *s) {
  Summary r = {0, 0, 0, 0};
  if (!s->records) return r;
  r.min = (double)length_at(s, 0);
  r.max = (double)s->max_length;
  r.mean = (double)s->instructions / s->records;
  r.median = s->records % 2 ? (double)length_at(s, s->records / 2)
                            : 0.5 * ((double)length_at(s, s->records / 2 - 1) + length_at(s, s->records / 2));
  return r;
}

/* Histogram bins of block lengths: 0, 1, 2, 3-4, 5-8, ..., 257+. */
#define NUM_BINS 11
static void histogram(const Stats *s, long bins[NUM_BINS], char labels[NUM_BINS][16]) {
  size_t lo[NUM_BINS] = {0, 1, 2, 3, 5, 9, 17, 33, 65, 129, 257};
  for (int b = 0; b < NUM_BINS; b++) {
    bins[b] = 0;
    if (b == NUM_BINS - 1) snprintf(labels[b], 16, "%zu+", lo[b]);
    else if (lo[b + 1] - 1 == lo[b]) snprintf(labels[b], 16, "%zu", lo[b]);
    else snprintf(labels[b], 16, "%zu-%zu", lo[b], lo[b + 1] - 1);
  }
  for (size_t len = 0; len <= s->max_length && s->cap_length; len++) {
    int b = NUM_BINS - 1;
    while (b > 0 && len < lo[b]) b--;
    bins[b] += s->per_length[len];
  }
}

static void print_json_string(const char *str) {
  putchar('"');
  for (const unsigned char *p = (const unsigned char *)str; *p; p++) {
    if (*p == '"' || *p == '\\') printf("\\%c", *p);
    else if (*p < 0x20) printf("\\u%04x", *p);
    else putchar(*p);
  }
  putchar('"');
}

static void print_text(Stats *s) {
  Summary len = summarize_lengths(s);
  long bins[NUM_BINS];
  char labels[NUM_BINS][16];
  histogram(s, bins, labels);
  printf("records: %ld\n", s->records);
  printf("instructions: %ld (per block: min %.0f, median %g, mean %.2f, max %.0f)\n", s->instructions, len.min,
         len.median, len.mean, len.max);
  printf("block length histogram:\n");
  long peak = 1;
  for (int b = 0; b < NUM_BINS; b++) peak = bins[b] > peak ? bins[b] : peak;
  for (int b = 0; b < NUM_BINS; b++) {
    if (!bins[b]) continue;
    int bar = (int)(40.0 * bins[b] / peak + 0.5);
    printf("  %8s %9ld  %.*s\n", labels[b], bins[b], bar > 0 ? bar : 1, "########################################");
  }
  printf("sources: %zu\n", s->source_names.count);
  for (size_t i = 0; i < s->source_names.count; i++) {
    SourceStats *src = &s->sources[i];
    Summary l = summarize_floats(src->labels, src->num_labels);
    printf("  \"%s\": %ld records, %zu labels (min %g, median %g, mean %g, max %g)\n", s->source_names.keys[i],
           src->records, src->num_labels, l.min, l.median, l.mean, l.max);
  }
  printf("records with no throughput: %ld\n", s->no_throughput);
  printf("records with machine code: %ld\n", s->with_machine_code);
  if (s->empty_blocks) printf("records with no instructions: %ld (training rejects them)\n", s->empty_blocks);
  printf("distinct tokens: %zu\n", s->tokens.count);
}

static void print_json(Stats *s) {
  Summary len = summarize_lengths(s);
  long bins[NUM_BINS];
  char labels[NUM_BINS][16];
  histogram(s, bins, labels);
  printf("{\"records\": %ld, \"instructions\": %ld, ", s->records, s->instructions);
  printf("\"block_length\": {\"min\": %.0f, \"median\": %g, \"mean\": %.6g, \"max\": %.0f, \"histogram\": {", len.min,
         len.median, len.mean, len.max);
  for (int b = 0, first = 1; b < NUM_BINS; b++) {
    if (!bins[b]) continue;
    printf("%s\"%s\": %ld", first ? "" : ", ", labels[b], bins[b]);
    first = 0;
  }
  printf("}}, \"sources\": [");
  for (size_t i = 0; i < s->source_names.count; i++) {
    SourceStats *src = &s->sources[i];
    Summary l = summarize_floats(src->labels, src->num_labels);
    printf("%s{\"source\": ", i ? ", " : "");
    print_json_string(s->source_names.keys[i]);
    printf(", \"records\": %ld, \"labels\": %zu, \"min\": %.9g, \"median\": %.9g, \"mean\": %.9g, \"max\": %.9g}",
           src->records, src->num_labels, l.min, l.median, l.mean, l.max);
  }
  printf("], \"records_without_throughput\": %ld, \"records_with_machine_code\": %ld, "
         "\"records_without_instructions\": %ld, \"distinct_tokens\": %zu}\n",
         s->no_throughput, s->with_machine_code, s->empty_blocks, s->tokens.count);
}

int cmd_stats(int argc, char **argv) {
  StrList files = {0};
  int json = 0;
  const FlagSpec flags[] = {
      {"json", FLAG_BOOL, &json, NULL, "print one JSON object instead of text"},
  };
  FlagTable table = {
      "stats", "[--json] FILE.tfrecord...",
      "Reads the records of the files one after another (streaming) and prints: the record\n"
      "count; instructions per block (min, median, mean, max, histogram); each throughput\n"
      "source with its record count and label min/median/mean/max (label = mean of the\n"
      "record's values, as training uses by default); the number of distinct tokens.",
      flags, (int)ARRAY_LEN(flags), &files, "input .tfrecord file"};
  int st = cli_flags_parse(&table, argc, argv);
  if (st) {
    str_list_free(&files);
    return st == 1 ? 0 : 2;
  }
  Stats s;
  memset(&s, 0, sizeof s);
  int ok = block_files_visit(files.items, files.n, add_record, &s) >= 0;
  if (ok) {
    if (json) print_json(&s);
    else print_text(&s);
  }
  for (size_t i = 0; i < s.source_names.count; i++) free(s.sources[i].labels);
  free(s.sources);
  str_index_free(&s.source_names);
  free(s.per_length);
  token_set_free(&s.tokens);
  str_list_free(&files);
  return ok ? 0 : 1;
}
