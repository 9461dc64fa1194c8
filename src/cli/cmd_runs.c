/* `granite runs DIR...`: one line per training run (the flags that differ
 * between the runs, steps, wall time, blocks/s, final and best validation
 * MAPE) and, with --plot, their validation curves as a PNG. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/flags_simple.h"
#include "cli/runs_plot.h"
#include "train/progress.h"
#include "train/run_log.h"
#include "util/common.h"

static void print_mape(double m) {
  if (isfinite(m)) printf(" %8.2f%%", m);
  else printf(" %9s", "-");
}

/* "gematria_learning_rate" reads better as "learning_rate" in a table */
static const char *short_name(const char *key) { return strncmp(key, "gematria_", 9) ? key : key + 9; }

int cmd_runs(int argc, char **argv) {
  StrList dirs = {0};
  char *plot = NULL;
  int width = 1200, height = 0;
  const FlagSpec flags[] = {
      {"plot", FLAG_STRING, &plot, "OUT.png", "also draw every run's validation MAPE against step and wall time", 0},
      {"width", FLAG_INT, &width, "PIXELS", "width of the PNG (default 1200)", 0},
      {"height", FLAG_INT, &height, "PIXELS", "height of the PNG (default 450 plus a legend line per run)", 0},
  };
  FlagTable table = {
      "runs", "[--plot OUT.png] CHECKPOINT_DIR...",
      "Compares training runs: one line per checkpoint directory with the flags that differ between the\n"
      "runs (from the flags.txt the trainer writes), the last step, the wall time, blocks per second,\n"
      "and the last and best validation MAPE (from metrics.jsonl).",
      flags, (int)ARRAY_LEN(flags), &dirs, "checkpoint directory"};
  int st = cli_flags_parse(&table, argc, argv);
  if (st) {
    str_list_free(&dirs);
    return st == 1 ? 0 : 2;
  }
  int n = dirs.n;
  if (height <= 0) height = 450 + 18 * n;
  if (width < 300 || width > 20000 || height < 200 || height > 20000) {
    gr_error("runs: --width/--height must be 300..20000 and 200..20000 pixels, got %dx%d", width, height);
    str_list_free(&dirs);
    return 2;
  }
  RunLog *runs = xcalloc((size_t)n, sizeof *runs);
  int status = 1, loaded = 0;
  for (; loaded < n; loaded++)
    if (run_log_load(&runs[loaded], dirs.items[loaded])) goto out;

  const char **diff;
  int nd = run_logs_differing(runs, n, &diff);
  size_t w = 3;
  for (int i = 0; i < n; i++)
    if (strlen(runs[i].dir) > w) w = strlen(runs[i].dir);
  printf("%-*s %9s %9s %9s %9s %9s %9s  %s\n", (int)w, "run", "steps", "wall", "blocks/s", "val MAPE", "best",
         "at step", nd ? "flags that differ" : "(no flag differs)");
  for (int i = 0; i < n; i++) {
    const RunLog *r = &runs[i];
    char wall[24];
    format_duration(r->wall_seconds, wall, sizeof wall);
    printf("%-*s %9lld %9s", (int)w, r->dir, (long long)r->steps, wall);
    if (isfinite(r->blocks_per_sec)) printf(" %9.1f", r->blocks_per_sec);
    else printf(" %9s", "-");
    print_mape(r->final_mape);
    print_mape(r->best_mape);
    if (r->best_step >= 0) printf(" %9lld ", (long long)r->best_step);
    else printf(" %9s ", "-");
    for (int k = 0; k < nd; k++) {
      const char *v = run_log_setting(r, diff[k]);
      printf(" %s=%s", short_name(diff[k]), v ? v : "(unset)");
    }
    if (r->from_flags_file < 1) printf("  [no %s: flags %s]", "flags.txt", r->from_flags_file ? "unknown" : "from the checkpoint");
    putchar('\n');
  }
  fflush(stdout);
  if (plot) {
    const char **labels = xcalloc((size_t)n, sizeof *labels);
    char **owned = xcalloc((size_t)n, sizeof *owned);
    for (int i = 0; i < n; i++) { /* the directory and what sets the run apart */
      size_t cap = strlen(runs[i].dir) + 8;
      for (int k = 0; k < nd && k < 4; k++) {
        const char *v = run_log_setting(&runs[i], diff[k]);
        cap += strlen(short_name(diff[k])) + (v ? strlen(v) : 7) + 3;
      }
      owned[i] = xmalloc(cap);
      size_t at = (size_t)snprintf(owned[i], cap, "%s", runs[i].dir);
      for (int k = 0; k < nd && k < 4; k++) {
        const char *v = run_log_setting(&runs[i], diff[k]);
        at += (size_t)snprintf(owned[i] + at, cap - at, "%s%s=%s", k ? " " : ": ", short_name(diff[k]), v ? v : "(unset)");
      }
      labels[i] = owned[i];
    }
    int rc = runs_plot_png(plot, runs, labels, n, width, height);
    for (int i = 0; i < n; i++) free(owned[i]);
    free(owned);
    free(labels);
    if (rc) {
      free(diff);
      goto out;
    }
    fprintf(stderr, "runs: wrote %s (%dx%d)\n", plot, width, height);
  }
  free(diff);
  status = 0;
out:
  for (int i = 0; i < loaded; i++) run_log_free(&runs[i]);
  free(runs);
  str_list_free(&dirs);
  return status;
}
