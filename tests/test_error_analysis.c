/* Error analysis (train/error_analysis.h) on hand-made rows whose groups and
 * errors are known: overall MAPE, over/under shares, every group's count,
 * MAPE and share of the error, deciles, the worst list, skipped rows, and
 * the table and JSON output (JSON parsed back). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json_mini.c"
#include "testing.h"
#include "train/error_analysis.h"

static ErrorRow row(double label, double pred, int instructions, int seen) {
  ErrorRow r;
  memset(&r, 0, sizeof r);
  r.label = label;
  r.prediction = pred;
  r.features.num_instructions = instructions;
  r.seen = seen;
  return r;
}

static const ErrorGroup *group(const ErrorAnalysis *a, const char *dim, const char *name) {
  for (int i = 0; i < a->num_groups; i++)
    if (!strcmp(a->groups[i].dimension, dim) && !strncmp(a->groups[i].group, name, strlen(name))) return &a->groups[i];
  return NULL;
}

/* Four usable rows (errors .5 over, .5 under, 0, .5 under) and two skipped. */
static void make_rows(ErrorRow *r) {
  r[0] = row(1, 1.5, 1, 0);
  r[0].features.has_division = true;
  r[1] = row(2, 1, 3, 0);
  r[1].features.has_load = true;
  r[2] = row(4, 4, 6, 0);
  r[2].features.has_store = r[2].features.has_vector = true;
  r[3] = row(10, 5, 25, 1);
  r[3].features.push_pop_chain = r[3].features.loop_carried = true;
  strcpy(r[3].features.carried_register, "RSP");
  r[4] = row(0, 3, 2, 0);     /* label 0: left out */
  r[5] = row(3, NAN, 2, 0);   /* not predicted: left out */
}

static void test_numbers(void) {
  ErrorRow r[6];
  make_rows(r);
  ErrorAnalysis a;
  error_analysis_compute(&a, r, 6, 2);
  CHECK(a.count == 4 && a.skipped == 2);
  CHECK_NEAR(a.mape, 37.5, 1e-12, 0);
  CHECK(a.num_over == 1 && a.num_under == 2);
  CHECK_NEAR(a.over_error_share, 100.0 / 3, 1e-12, 0);
  CHECK_NEAR(a.under_error_share, 200.0 / 3, 1e-12, 0);
  CHECK(a.num_off_40 == 3);
  CHECK_NEAR(a.off_40_under_share, 200.0 / 3, 1e-12, 0);

  const ErrorGroup *g = group(&a, "instructions", "1");
  CHECK(g && g->count == 1 && fabs(g->mape - 50) < 1e-12 && fabs(g->error_share - 100.0 / 3) < 1e-9);
  CHECK(g && fabs(g->block_share - 25) < 1e-12 && g->under_share == 0);
  g = group(&a, "instructions", "2-4");
  CHECK(g && g->count == 1 && fabs(g->under_share - 100) < 1e-12);
  g = group(&a, "instructions", "5-9");
  CHECK(g && g->count == 1 && g->mape == 0 && g->error_share == 0);
  g = group(&a, "instructions", "10-19");
  CHECK(g && g->count == 0 && isnan(g->mape) && isnan(g->under_share) && g->error_share == 0);
  g = group(&a, "instructions", "20+");
  CHECK(g && g->count == 1 && fabs(g->mape - 50) < 1e-12);
  struct {
    const char *dim;
    int yes;
    double yes_mape;
  } binary[] = {{"division", 1, 50}, {"memory load", 1, 50}, {"memory store", 1, 0},
                {"push/pop x3+", 1, 50}, {"vector regs", 1, 0}, {"loop-carried", 1, 50}, {"graph seen", 1, 50}};
  for (size_t i = 0; i < sizeof binary / sizeof binary[0]; i++) {
    const ErrorGroup *y = group(&a, binary[i].dim, "yes"), *n = group(&a, binary[i].dim, "no");
    CHECK_MSG(y && n, "%s", binary[i].dim);
    if (!y || !n) continue;
    CHECK_MSG(y->count == binary[i].yes && n->count == 4 - binary[i].yes, "%s", binary[i].dim);
    CHECK_NEAR(y->mape, binary[i].yes_mape, 1e-12, 0);
    CHECK_NEAR(y->error_share + n->error_share, 100, 1e-12, 0);
    CHECK_NEAR(n->mape, (150 - binary[i].yes_mape) / 3, 1e-12, 1e-12);
  }
  /* deciles: by label rank; together they hold every row once */
  int64_t total = 0;
  double share = 0;
  for (int i = 0; i < a.num_groups; i++)
    if (!strcmp(a.groups[i].dimension, "label decile")) total += a.groups[i].count, share += a.groups[i].error_share;
  CHECK(total == 4);
  CHECK_NEAR(share, 100, 1e-12, 0);
  g = group(&a, "label decile", "D10");
  CHECK(g && g->count == 1 && strstr(g->group, "[10, 10]") && fabs(g->mape - 50) < 1e-12);
  g = group(&a, "label decile", "D1 ");
  CHECK(g && g->count == 0 && strstr(g->group, "empty"));
  /* the worst: three rows tie at 50%; the earlier ones come first */
  CHECK(a.num_worst == 2 && a.worst[0] == 0 && a.worst[1] == 1);
  error_analysis_free(&a);

  /* without any seen information there is no graph-seen group */
  for (int i = 0; i < 6; i++) r[i].seen = -1;
  error_analysis_compute(&a, r, 6, 100);
  CHECK(group(&a, "graph seen", "yes") == NULL);
  CHECK(a.num_worst == 4 && a.worst[3] == 2); /* more asked than rows: all, the exact one last */
  error_analysis_free(&a);

  /* nothing usable */
  error_analysis_compute(&a, r + 4, 2, 5);
  CHECK(a.count == 0 && a.skipped == 2 && isnan(a.mape) && a.num_worst == 0);
  error_analysis_free(&a);
}

static void test_output(void) {
  ErrorRow r[6];
  make_rows(r);
  ErrorAnalysis a;
  error_analysis_compute(&a, r, 6, 2);
  WorstBlockText text[2] = {{"4801d8", "add rax, rbx"}, {"f7f1", "div \"ecx\"\\"}};
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  error_analysis_write_json(f, &a, r, text, "hsw");
  fclose(f);
  JsonValue v;
  size_t bad = 0;
  CHECK_MSG(json_parse(buf, len, &v, &bad) == 0, "invalid JSON at %zu: %s", bad, buf);
  if (!bad) {
    CHECK(!strcmp(json_get_string(&v, "task", ""), "hsw"));
    CHECK(json_int(json_get(&v, "count")) == 4 && json_int(json_get(&v, "skipped")) == 2);
    CHECK_NEAR(json_number(json_get(&v, "mape")), 37.5, 1e-9, 0);
    CHECK(json_int(json_get(json_get(&v, "under"), "count")) == 2);
    CHECK(json_array_len(&v, "groups") == (size_t)a.num_groups);
    const JsonValue *groups = json_get(&v, "groups");
    int nulls = 0;
    for (size_t i = 0; groups && i < groups->n; i++) nulls += json_get(&groups->items[i], "mape")->type == JSON_NULL;
    CHECK(nulls >= 1); /* the empty 10-19 group: null, not nan */
    const JsonValue *worst = json_get(&v, "worst");
    CHECK(worst && worst->n == 2);
    if (worst && worst->n == 2) {
      CHECK(!strcmp(json_get_string(&worst->items[1], "assembly", ""), "div \"ecx\"\\"));
      CHECK(!strcmp(json_get_string(&worst->items[0], "hex", ""), "4801d8"));
      CHECK_NEAR(json_number(json_get(&worst->items[0], "relative_error")), 0.5, 1e-12, 0);
      CHECK_NEAR(json_number(json_get(&worst->items[0], "prediction")), 1.5, 1e-12, 0);
    }
    json_free(&v);
  }
  free(buf);

  f = open_memstream(&buf, &len);
  error_analysis_print_table(f, &a, r, text, "hsw");
  fclose(f);
  CHECK(strstr(buf, "error analysis of task hsw: 4 blocks, MAPE 37.50% (2 left out"));
  CHECK(strstr(buf, "under-predicted: 2 blocks (50.0%), 66.7% of the total error"));
  CHECK(strstr(buf, "  division       yes                                1   25.00%   50.00%   33.33%    0.00%"));
  CHECK(strstr(buf, "4801d8  add rax, rbx"));
  free(buf);
  error_analysis_free(&a);
}

int main(void) {
  test_numbers();
  test_output();
  return test_summary("test_error_analysis");
}
