#include "train/label_sources.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "gematria.pb-c.h"
#include "io/tfrecord.h"
#include "model/model.h"
#include "util/common.h"
#include "util/str_index.h"

typedef struct {
  int task, file;
  long records;
} SourceTally;

/* One tally per (task, file, source), found by hash: a file with 100,000
 * sources must not make training's start quadratic. */
typedef struct {
  StrIndex keys; /* "TASK FILE SOURCE"; key i is items[i] */
  SourceTally *items;
  size_t cap;
} TallyList;

static void tally(TallyList *l, int task, int file, const char *source) {
  size_t n = strlen(source) + 32;
  char *key = xmalloc(n);
  snprintf(key, n, "%d %d %s", task, file, source);
  int added;
  size_t i = str_index_get(&l->keys, key, &added);
  free(key);
  if (added) {
    grow_array((void **)&l->items, &l->cap, i + 1, sizeof *l->items);
    l->items[i] = (SourceTally){task, file, 0};
  }
  l->items[i].records++;
}

/* The source part of tally i's key. */
static const char *tally_source(const TallyList *l, size_t i) {
  const char *k = strchr(l->keys.keys[i], ' ');
  return strchr(k + 1, ' ') + 1;
}

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

/* The source a record's label for one task comes from, or NULL (none, or
 * the first matching entry has no values: the label is absent). */
static const char *label_source(const Gematria__BasicBlockWithThroughputProto *rec, const regex_t *filter) {
  for (size_t i = 0; i < rec->n_inverse_throughputs; i++) {
    const Gematria__ThroughputWithSourceProto *tp = rec->inverse_throughputs[i];
    const char *source = tp->source ? tp->source : "";
    regmatch_t m;
    if (regexec(filter, source, 1, &m, 0) || m.rm_so != 0) continue;
    return tp->n_inverse_throughput_cycles ? source : NULL;
  }
  return NULL;
}

int print_label_sources(FILE *out, const char *const *files, int num_files, const char *const *filters,
                        const char *const *task_names, int num_tasks) {
  regex_t re[GRANITE_MAX_TASKS];
  int compiled = 0, rc = -1;
  if (num_tasks > GRANITE_MAX_TASKS) num_tasks = GRANITE_MAX_TASKS;
  TallyList list = {0};
  for (; compiled < num_tasks; compiled++) {
    if (regcomp(&re[compiled], filters[compiled], REG_EXTENDED)) {
      gr_error("--gematria_throughput_source_filter='%s': not a valid regular expression", filters[compiled]);
      goto out;
    }
  }
  for (int f = 0; f < num_files; f++) {
    TFRecordReader r;
    if (tfrecord_open(&r, files[f])) goto out;
    const uint8_t *data;
    size_t len;
    int got;
    while ((got = tfrecord_next(&r, &data, &len)) == 1) {
      Gematria__BasicBlockWithThroughputProto *rec = gematria__basic_block_with_throughput_proto__unpack(NULL, len, data);
      if (!rec) continue; /* the data set loader already reported and refused bad records */
      for (int t = 0; t < num_tasks; t++) {
        const char *source = label_source(rec, &re[t]);
        if (source) tally(&list, t, f, source);
      }
      gematria__basic_block_with_throughput_proto__free_unpacked(rec, NULL);
    }
    tfrecord_close(&r);
    if (got < 0) goto out;
  }
  for (int t = 0; t < num_tasks; t++) {
    fprintf(out, "labels of task %s (filter '%s'):", task_names[t], filters[t]);
    int shown = 0;
    for (size_t i = 0; i < list.keys.count; i++) {
      const SourceTally *s = &list.items[i];
      if (s->task != t) continue;
      fprintf(out, "%s \"%s\" in %s (%ld records)", shown++ ? ";" : "", tally_source(&list, i),
              base_name(files[s->file]), s->records);
    }
    fprintf(out, "%s\n", shown ? "" : " none");
  }
  rc = 0;
out:
  for (int i = 0; i < compiled; i++) regfree(&re[i]);
  str_index_free(&list.keys);
  free(list.items);
  return rc;
}
