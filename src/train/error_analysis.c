/* Error analysis by block group (train/error_analysis.h). */
#include "train/error_analysis.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/common.h"

static bool usable(const ErrorRow *r) { return r->label > 0 && isfinite(r->label) && isfinite(r->prediction); }

static double rel_error(const ErrorRow *r) { return fabs(r->prediction - r->label) / r->label; }

/* Accumulates one group: rows for which member[i] is set. */
static void fill_group(ErrorGroup *g, const ErrorRow *rows, const int64_t *ids, int64_t n, const uint8_t *member,
                       double total_error) {
  double sum = 0;
  int64_t count = 0, under = 0;
  for (int64_t k = 0; k < n; k++) {
    if (!member[k]) continue;
    const ErrorRow *r = &rows[ids[k]];
    sum += rel_error(r);
    under += r->prediction < r->label;
    count++;
  }
  g->count = count;
  g->block_share = n ? 100.0 * count / n : NAN;
  g->mape = count ? 100 * sum / count : NAN;
  g->error_share = total_error > 0 ? 100 * sum / total_error : (count ? 0 : NAN);
  g->under_share = count ? 100.0 * under / count : NAN;
}

static ErrorGroup *add_group(ErrorAnalysis *a, const char *dimension, const char *name) {
  if (a->num_groups == ERROR_ANALYSIS_MAX_GROUPS) abort(); /* the fixed group list is a bug if it overflows */
  ErrorGroup *g = &a->groups[a->num_groups++];
  memset(g, 0, sizeof *g);
  g->dimension = dimension;
  snprintf(g->group, sizeof g->group, "%s", name);
  return g;
}

/* A yes/no dimension from a per-row predicate. */
static void add_binary(ErrorAnalysis *a, const char *dimension, const ErrorRow *rows, const int64_t *ids, int64_t n,
                       uint8_t *member, double total, bool (*pred)(const ErrorRow *)) {
  for (int v = 1; v >= 0; v--) {
    for (int64_t k = 0; k < n; k++) member[k] = pred(&rows[ids[k]]) == (bool)v;
    fill_group(add_group(a, dimension, v ? "yes" : "no"), rows, ids, n, member, total);
  }
}

static bool p_div(const ErrorRow *r) { return r->features.has_division; }
static bool p_load(const ErrorRow *r) { return r->features.has_load; }
static bool p_store(const ErrorRow *r) { return r->features.has_store; }
static bool p_push(const ErrorRow *r) { return r->features.push_pop_chain; }
static bool p_vector(const ErrorRow *r) { return r->features.has_vector; }
static bool p_carried(const ErrorRow *r) { return r->features.loop_carried; }
static bool p_seen(const ErrorRow *r) { return r->seen == 1; }

/* What qsort_r sorts: positions into ids[], which index rows[]. */
typedef struct {
  const ErrorRow *rows;
  const int64_t *ids;
} SortContext;

static const ErrorRow *row_at(const void *pos, const SortContext *c) { return &c->rows[c->ids[*(const int64_t *)pos]]; }

static int by_position(const void *x, const void *y) {
  int64_t i = *(const int64_t *)x, j = *(const int64_t *)y;
  return (i > j) - (i < j);
}

static int by_label(const void *x, const void *y, void *ctx) {
  double a = row_at(x, ctx)->label, b = row_at(y, ctx)->label;
  if (a != b) return (a > b) - (a < b);
  return by_position(x, y); /* ties in block order, the same on every libc */
}

static int by_error_desc(const void *x, const void *y, void *ctx) {
  double a = rel_error(row_at(x, ctx)), b = rel_error(row_at(y, ctx));
  if (a != b) return (a < b) - (a > b);
  return by_position(x, y); /* the earlier block first */
}

void error_analysis_compute(ErrorAnalysis *a, const ErrorRow *rows, int64_t n, int worst_n) {
  memset(a, 0, sizeof *a);
  int64_t *ids = xmalloc((size_t)(n > 0 ? n : 1) * sizeof *ids);
  int64_t m = 0;
  bool any_seen = false;
  for (int64_t i = 0; i < n; i++) {
    if (!usable(&rows[i])) {
      a->skipped++;
      continue;
    }
    ids[m++] = i;
    any_seen |= rows[i].seen >= 0;
  }
  a->count = m;
  double total = 0, over_err = 0, under_err = 0;
  for (int64_t k = 0; k < m; k++) {
    const ErrorRow *r = &rows[ids[k]];
    double e = rel_error(r);
    total += e;
    if (r->prediction > r->label) a->num_over++, over_err += e;
    if (r->prediction < r->label) a->num_under++, under_err += e;
    if (e > 0.4) {
      a->num_off_40++;
      a->off_40_under_share += r->prediction < r->label;
    }
  }
  a->mape = m ? 100 * total / m : NAN;
  a->over_error_share = total > 0 ? 100 * over_err / total : NAN;
  a->under_error_share = total > 0 ? 100 * under_err / total : NAN;
  a->off_40_under_share = a->num_off_40 ? 100 * a->off_40_under_share / a->num_off_40 : NAN;

  uint8_t *member = xmalloc((size_t)(m > 0 ? m : 1));
  static const struct {
    int lo, hi;
    const char *name;
  } sizes[] = {{1, 1, "1"}, {2, 4, "2-4"}, {5, 9, "5-9"}, {10, 19, "10-19"}, {20, 1 << 30, "20+"}};
  for (size_t s = 0; s < ARRAY_LEN(sizes); s++) {
    for (int64_t k = 0; k < m; k++) {
      int ni = rows[ids[k]].features.num_instructions;
      member[k] = ni >= sizes[s].lo && ni <= sizes[s].hi;
    }
    fill_group(add_group(a, "instructions", sizes[s].name), rows, ids, m, member, total);
  }
  add_binary(a, "division", rows, ids, m, member, total, p_div);
  add_binary(a, "memory load", rows, ids, m, member, total, p_load);
  add_binary(a, "memory store", rows, ids, m, member, total, p_store);
  add_binary(a, "push/pop x3+", rows, ids, m, member, total, p_push);
  add_binary(a, "vector regs", rows, ids, m, member, total, p_vector);
  add_binary(a, "loop-carried", rows, ids, m, member, total, p_carried);
  if (any_seen) add_binary(a, "graph seen", rows, ids, m, member, total, p_seen);

  /* label deciles by rank, so that every decile holds a tenth of the
   * blocks; order[] holds positions into ids[] */
  int64_t *order = xmalloc((size_t)(m > 0 ? m : 1) * sizeof *order);
  for (int64_t k = 0; k < m; k++) order[k] = k;
  SortContext ctx = {rows, ids};
  qsort_r(order, (size_t)m, sizeof *order, by_label, &ctx);
  for (int d = 0; d < 10 && m > 0; d++) {
    int64_t lo = m * d / 10, hi = m * (d + 1) / 10; /* ranks [lo, hi) */
    memset(member, 0, (size_t)m);
    for (int64_t k = lo; k < hi; k++) member[order[k]] = 1;
    char name[64];
    if (hi > lo)
      snprintf(name, sizeof name, "D%d [%.4g, %.4g]", d + 1, rows[ids[order[lo]]].label, rows[ids[order[hi - 1]]].label);
    else
      snprintf(name, sizeof name, "D%d (empty)", d + 1);
    fill_group(add_group(a, "label decile", name), rows, ids, m, member, total);
  }

  /* the worst blocks */
  qsort_r(order, (size_t)m, sizeof *order, by_error_desc, &ctx);
  a->num_worst = worst_n < m ? worst_n : (int)m;
  if (a->num_worst < 0) a->num_worst = 0;
  a->worst = xmalloc((size_t)(a->num_worst > 0 ? a->num_worst : 1) * sizeof *a->worst);
  for (int i = 0; i < a->num_worst; i++) a->worst[i] = ids[order[i]];
  free(order);
  free(member);
  free(ids);
}

void error_analysis_free(ErrorAnalysis *a) {
  free(a->worst);
  memset(a, 0, sizeof *a);
}

static void pct(FILE *f, double x) {
  if (isfinite(x)) fprintf(f, "%8.2f%%", x);
  else fprintf(f, "%9s", "-");
}

/* Long blocks would fill screens: the table shows the start ("--json" has all). */
static void print_clipped(FILE *f, const char *s, size_t max) {
  size_t n = strlen(s);
  if (n <= max) fputs(s, f);
  else fprintf(f, "%.*s...", (int)(max - 3), s);
}

void error_analysis_print_table(FILE *f, const ErrorAnalysis *a, const ErrorRow *rows, const WorstBlockText *text,
                                const char *task_name) {
  fprintf(f, "\nerror analysis of task %s: %lld blocks, MAPE %.2f%%", task_name, (long long)a->count, a->mape);
  if (a->skipped) fprintf(f, " (%lld left out: label <= 0 or no prediction)", (long long)a->skipped);
  fputc('\n', f);
  if (a->count == 0) return;
  fprintf(f, "  over-predicted:  %lld blocks (%.1f%%), %.1f%% of the total error\n", (long long)a->num_over,
          100.0 * a->num_over / a->count, a->over_error_share);
  fprintf(f, "  under-predicted: %lld blocks (%.1f%%), %.1f%% of the total error\n", (long long)a->num_under,
          100.0 * a->num_under / a->count, a->under_error_share);
  fprintf(f, "  off by more than 40%%: %lld blocks (%.1f%%)", (long long)a->num_off_40,
          100.0 * a->num_off_40 / a->count);
  if (a->num_off_40) fprintf(f, ", %.0f%% of them under-predicted", a->off_40_under_share);
  fputc('\n', f);
  fprintf(f, "\n  %-14s %-26s %9s %9s %9s %9s %9s\n", "group", "blocks with", "count", "% blocks", "MAPE",
          "% error", "% under");
  const char *last = "";
  for (int i = 0; i < a->num_groups; i++) {
    const ErrorGroup *g = &a->groups[i];
    fprintf(f, "  %-14s %-26s %9lld", strcmp(last, g->dimension) ? g->dimension : "", g->group, (long long)g->count);
    last = g->dimension;
    pct(f, g->block_share);
    pct(f, g->mape);
    pct(f, g->error_share);
    pct(f, g->under_share);
    fputc('\n', f);
  }
  if (a->num_worst == 0) return;
  fprintf(f, "\n  the %d worst blocks (relative error, label, prediction, machine code, assembly; --json has long ones in "
          "full):\n", a->num_worst);
  for (int i = 0; i < a->num_worst; i++) {
    const ErrorRow *r = &rows[a->worst[i]];
    fprintf(f, "  %3d %8.1f%% %10.4g %10.4g  ", i + 1, 100 * rel_error(r), r->label, r->prediction);
    print_clipped(f, text && text[i].hex ? text[i].hex : "-", 64);
    fputs("  ", f);
    print_clipped(f, text && text[i].assembly ? text[i].assembly : "-", 160);
    fputc('\n', f);
  }
}

static void json_number(FILE *f, double x) {
  if (isfinite(x)) fprintf(f, "%.10g", x);
  else fputs("null", f);
}

static void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c < 0x20) fprintf(f, "\\u%04x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

void error_analysis_write_json(FILE *f, const ErrorAnalysis *a, const ErrorRow *rows, const WorstBlockText *text,
                               const char *task_name) {
  fputs("{\"task\": ", f);
  json_string(f, task_name);
  fprintf(f, ", \"count\": %lld, \"skipped\": %lld, \"mape\": ", (long long)a->count, (long long)a->skipped);
  json_number(f, a->mape);
  fprintf(f, ", \"over\": {\"count\": %lld, \"error_share\": ", (long long)a->num_over);
  json_number(f, a->over_error_share);
  fprintf(f, "}, \"under\": {\"count\": %lld, \"error_share\": ", (long long)a->num_under);
  json_number(f, a->under_error_share);
  fprintf(f, "}, \"off_by_more_than_40_percent\": {\"count\": %lld, \"under_share\": ", (long long)a->num_off_40);
  json_number(f, a->off_40_under_share);
  fputs("}, \"groups\": [", f);
  for (int i = 0; i < a->num_groups; i++) {
    const ErrorGroup *g = &a->groups[i];
    fputs(i ? ", {\"dimension\": " : "{\"dimension\": ", f);
    json_string(f, g->dimension);
    fputs(", \"group\": ", f);
    json_string(f, g->group);
    fprintf(f, ", \"count\": %lld, \"block_share\": ", (long long)g->count);
    json_number(f, g->block_share);
    fputs(", \"mape\": ", f);
    json_number(f, g->mape);
    fputs(", \"error_share\": ", f);
    json_number(f, g->error_share);
    fputs(", \"under_share\": ", f);
    json_number(f, g->under_share);
    fputc('}', f);
  }
  fputs("], \"worst\": [", f);
  for (int i = 0; i < a->num_worst; i++) {
    const ErrorRow *r = &rows[a->worst[i]];
    fputs(i ? ", {\"hex\": " : "{\"hex\": ", f);
    json_string(f, text && text[i].hex ? text[i].hex : "");
    fputs(", \"assembly\": ", f);
    json_string(f, text && text[i].assembly ? text[i].assembly : "");
    fputs(", \"label\": ", f);
    json_number(f, r->label);
    fputs(", \"prediction\": ", f);
    json_number(f, r->prediction);
    fputs(", \"relative_error\": ", f);
    json_number(f, rel_error(r));
    fputs(", \"loop_carried_register\": ", f);
    json_string(f, r->features.carried_register);
    fputc('}', f);
  }
  fputs("]}", f);
}
