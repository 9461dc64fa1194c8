#include "collect/cost.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect/block_split.h"
#include "util/common.h"

/* ---- the frequency table ---- */
static int compare_frequency(const void *a, const void *b) {
  const BlockFrequency *x = a, *y = b;
  return (x->address > y->address) - (x->address < y->address);
}

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  char *e = s + strlen(s);
  while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n')) *--e = 0;
  return s;
}

int frequency_table_load(FrequencyTable *t, const char *path) {
  memset(t, 0, sizeof *t);
  FILE *f = fopen(path, "r");
  if (!f) {
    gr_error("%s: cannot open: %s", path, strerror(errno));
    return -1;
  }
  t->path = xstrdup(path);
  size_t cap = 0;
  char line[1024];
  for (long lineno = 1; fgets(line, sizeof line, f); lineno++) {
    if (!strchr(line, '\n') && !feof(f)) {
      gr_error("%s:%ld: line longer than %zu characters", path, lineno, sizeof line - 1);
      goto fail;
    }
    char *s = trim(line);
    if (!*s || *s == '#') continue;
    char *comma = strchr(s, ',');
    if (!comma) {
      gr_error("%s:%ld: expected [SECTION:]ADDRESS,FREQUENCY, got '%s'", path, lineno, s);
      goto fail;
    }
    *comma = 0;
    char *where = trim(s), *value = trim(comma + 1);
    if (lineno == 1 && !strcasecmp(where, "address")) continue; /* header */
    BlockFrequency b = {0};
    char *colon = strrchr(where, ':');
    if (colon) {
      *colon = 0;
      snprintf(b.section, sizeof b.section, "%s", where);
      where = colon + 1;
    }
    char *end;
    errno = 0;
    b.address = strtoull(where, &end, 0);
    if (!*where || *end || errno || *where == '-') {
      gr_error("%s:%ld: '%s' is not a block address (0x... or decimal)", path, lineno, where);
      goto fail;
    }
    b.frequency = strtod(value, &end);
    if (!*value || *end || !isfinite(b.frequency) || b.frequency < 0) {
      gr_error("%s:%ld: '%s' is not a frequency (a number >= 0)", path, lineno, value);
      goto fail;
    }
    grow_array((void **)&t->items, &cap, t->n + 1, sizeof *t->items);
    t->items[t->n++] = b;
  }
  if (ferror(f)) {
    gr_error("%s: read error", path);
    goto fail;
  }
  fclose(f);
  qsort(t->items, t->n, sizeof *t->items, compare_frequency);
  return 0;
fail:
  fclose(f);
  frequency_table_free(t);
  return -1;
}

void frequency_table_free(FrequencyTable *t) {
  free(t->items);
  free(t->path);
  memset(t, 0, sizeof *t);
}

/* Sum of the table's frequencies for the block at (section name, address). */
static double lookup_frequency(FrequencyTable *t, const char *section, uint64_t address) {
  BlockFrequency key = {.address = address};
  BlockFrequency *hit = bsearch(&key, t->items, t->n, sizeof *t->items, compare_frequency);
  if (!hit) return 0;
  while (hit > t->items && hit[-1].address == address) hit--;
  double sum = 0;
  for (; hit < t->items + t->n && hit->address == address; hit++)
    if (!hit->section[0] || !strcmp(hit->section, section)) {
      sum += hit->frequency;
      hit->used = 1;
    }
  return sum;
}

/* ---- the analysis ---- */
#define PREDICT_CHUNK 512

static void predict_blocks(CostReport *r, granite_model *model) {
  int T = granite_num_tasks(model);
  const uint8_t *ptrs[PREDICT_CHUNK];
  size_t sizes[PREDICT_CHUNK];
  float *out = xmalloc((size_t)PREDICT_CHUNK * T * sizeof *out);
  for (size_t first = 0; first < r->num_blocks; first += PREDICT_CHUNK) {
    int n = r->num_blocks - first < PREDICT_CHUNK ? (int)(r->num_blocks - first) : PREDICT_CHUNK;
    for (int i = 0; i < n; i++) {
      const CostBlock *b = &r->blocks[first + i];
      const ElfCodeSection *s = &r->image.sections[b->section];
      ptrs[i] = s->data + (b->address - s->address);
      sizes[i] = b->size;
    }
    granite_predict_batch(model, ptrs, sizes, n, out); /* NaN for blocks it cannot predict */
    for (int i = 0; i < n; i++) r->blocks[first + i].prediction = out[(size_t)i * T];
  }
  free(out);
}

int cost_analyze(CostReport *r, const uint8_t *data, size_t size, granite_model *model, FrequencyTable *freq,
                 char *err, size_t err_size) {
  memset(r, 0, sizeof *r);
  if (elf_read(&r->image, data, size, err, err_size)) return -1;
  const ElfImage *img = &r->image;
  /* functions: one per symbol start, plus one "<SECTION>" per section for
   * code before its first symbol (all of it in a stripped file) */
  int S = img->num_sections;
  r->num_functions = (int)img->num_starts + S;
  r->functions = xcalloc(r->num_functions > 0 ? r->num_functions : 1, sizeof *r->functions);
  r->section_labels = xcalloc(S > 0 ? S : 1, sizeof *r->section_labels);
  for (int s = 0; s < S; s++) {
    snprintf(r->section_labels[s], sizeof r->section_labels[s], "<%s>", img->sections[s].name);
    r->functions[s] = (CostFunction){r->section_labels[s], img->sections[s].address, 0, 0};
  }
  for (size_t i = 0; i < img->num_starts; i++)
    r->functions[S + i] = (CostFunction){img->starts[i].name ? img->starts[i].name : "<unnamed>",
                                         img->starts[i].address, 0, 0};
  size_t cap = 0, start = 0; /* img->starts is sorted by (section, address) */
  for (int s = 0; s < S; s++) {
    const ElfCodeSection *sec = &img->sections[s];
    size_t first = start;
    while (start < img->num_starts && img->starts[start].section == s) start++;
    uint64_t *addresses = xmalloc((start - first + 1) * sizeof *addresses);
    for (size_t i = first; i < start; i++) addresses[i - first] = img->starts[i].address;
    BlockSplit split;
    memset(&split, 0, sizeof split);
    block_split(sec->data, sec->size, sec->address, addresses, start - first, &split);
    free(addresses);
    size_t sym = first; /* the last symbol at or before the block */
    for (size_t k = 0; k < split.num_blocks; k++) {
      uint64_t address = sec->address + split.blocks[k].offset;
      while (sym < start && img->starts[sym].address <= address) sym++;
      grow_array((void **)&r->blocks, &cap, r->num_blocks + 1, sizeof *r->blocks);
      CostBlock *b = &r->blocks[r->num_blocks++];
      *b = (CostBlock){s, address, split.blocks[k].size, split.blocks[k].num_instructions,
                       sym > first ? S + (int)(sym - 1) : s, 1.0, NAN, 0};
      if (freq) b->frequency = lookup_frequency(freq, sec->name, address);
    }
    block_split_free(&split);
  }
  predict_blocks(r, model);
  for (size_t k = 0; k < r->num_blocks; k++) {
    CostBlock *b = &r->blocks[k];
    CostFunction *fn = &r->functions[b->function];
    fn->blocks++;
    if (!isfinite(b->prediction)) {
      r->unpredicted++;
      continue;
    }
    b->cost = (double)b->prediction * b->frequency;
    fn->cost += b->cost;
    r->total += b->cost;
  }
  if (freq)
    for (size_t i = 0; i < freq->n; i++)
      if (!freq->items[i].used && r->frequencies_unmatched++ == 0)
        snprintf(r->unmatched_example, sizeof r->unmatched_example, "%s%s0x%" PRIx64, freq->items[i].section,
                 freq->items[i].section[0] ? ":" : "", freq->items[i].address);
  return 0;
}

void cost_report_free(CostReport *r) {
  elf_image_free(&r->image);
  free(r->blocks);
  free(r->functions);
  free(r->section_labels);
  memset(r, 0, sizeof *r);
}
