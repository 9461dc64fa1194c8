/* The tokens (vocabulary) file, spec §1.3. */
#include "io/vocab.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/common.h"
#include "util/output_file.h"

const char *const VOCAB_STRUCTURAL_TOKENS[7] = {
    "_D_",      "_IMMEDIATE_",    "_ADDRESS_", "_MEMORY_",
    "_NO_REGISTER_", "_DISPLACEMENT_", "_UNKNOWN_",
};

static int compare_strings(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts list[0..n) by strcmp and frees duplicates; returns the new count. */
static int sort_unique(char **list, int n) {
  qsort(list, (size_t)n, sizeof *list, compare_strings);
  int kept = 0;
  for (int i = 0; i < n; i++) {
    if (kept > 0 && strcmp(list[kept - 1], list[i]) == 0) {
      free(list[i]);
      continue;
    }
    list[kept++] = list[i];
  }
  return kept;
}

/* Takes ownership of list[0..n) (heap strings), adds the structural tokens. */
static void vocab_adopt(Vocab *v, char **list, int n, size_t cap) {
  if ((size_t)n + 7 > cap) list = xrealloc(list, ((size_t)n + 7) * sizeof *list);
  for (int i = 0; i < 7; i++) list[n++] = xstrdup(VOCAB_STRUCTURAL_TOKENS[i]);
  v->size = sort_unique(list, n);
  v->tokens = list;
}

void vocab_from_list(Vocab *v, const char *const *tokens, int n) {
  char **list = xmalloc(((size_t)n + 7) * sizeof *list);
  int count = 0;
  for (int i = 0; i < n; i++) list[count++] = xstrdup(tokens[i]);
  vocab_adopt(v, list, count, (size_t)n + 7);
}

int vocab_load(Vocab *v, const char *path) {
  v->size = 0;
  v->tokens = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) {
    gr_error("%s: cannot open tokens file: %s", path, strerror(errno));
    return -1;
  }
  char **list = NULL;
  size_t cap = 0;
  int count = 0;
  char *line = NULL;
  size_t line_cap = 0;
  ssize_t len;
  while ((len = getline(&line, &line_cap, f)) >= 0) {
    /* spec §1.3: strip, drop empty and '#' lines */
    char *start = line, *end = line + len;
    while (start < end && isspace((unsigned char)*start)) start++;
    while (end > start && isspace((unsigned char)end[-1])) end--;
    if (start == end || *start == '#') continue;
    *end = '\0';
    grow_array((void **)&list, &cap, (size_t)count + 1, sizeof *list);
    list[count++] = xstrdup(start);
  }
  int read_error = ferror(f);
  free(line);
  fclose(f);
  if (read_error) {
    for (int i = 0; i < count; i++) free(list[i]);
    free(list);
    gr_error("%s: read error in tokens file", path);
    return -1;
  }
  vocab_adopt(v, list, count, cap);
  return 0;
}

int vocab_find(const Vocab *v, const char *token) {
  int lo = 0, hi = v->size - 1;
  while (lo <= hi) {
    int mid = lo + (hi - lo) / 2;
    int c = strcmp(v->tokens[mid], token);
    if (c == 0) return mid;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid - 1;
  }
  return -1;
}

void vocab_free(Vocab *v) {
  for (int i = 0; i < v->size; i++) free(v->tokens[i]);
  free(v->tokens);
  v->tokens = NULL;
  v->size = 0;
}

int vocab_write_tokens_file(const char *path, char **tokens, int n) {
  /* sort a copy of the pointers; the caller's array stays as it was */
  char **sorted = xmalloc(((size_t)n + 1) * sizeof *sorted);
  if (n > 0) memcpy(sorted, tokens, (size_t)n * sizeof *sorted);
  qsort(sorted, (size_t)n, sizeof *sorted, compare_strings);

  OutputFile out;
  if (output_open(&out, path, "tokens file")) {
    free(sorted);
    return -1;
  }
  for (int i = 0; i < n; i++) {
    if (i > 0 && strcmp(sorted[i - 1], sorted[i]) == 0) continue;
    fputs(sorted[i], out.file);
    fputc('\n', out.file);
  }
  int failed = output_commit(&out) != 0;
  free(sorted);
  return failed ? -1 : 0;
}
