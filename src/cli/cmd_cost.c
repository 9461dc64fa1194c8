/* granite cost: predicted cost of an ELF file, per function and in total,
 * optionally weighted by block frequencies (collect/cost.h does the work). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "cli/flags_simple.h"
#include "collect/cost.h"
#include "io/checkpoint.h"
#include "train/model_checkpoint.h"
#include "util/common.h"
#include "util/output_file.h"

static uint8_t *read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  struct stat st;
  if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    gr_error("%s: cannot read: %s", path, f ? "not a regular file" : strerror(errno));
    if (f) fclose(f);
    return NULL;
  }
  *size = (size_t)st.st_size;
  uint8_t *data = xmalloc(*size ? *size : 1);
  size_t got = fread(data, 1, *size, f);
  int bad = ferror(f) || got != *size;
  fclose(f);
  if (bad) {
    gr_error("%s: read error at offset %zu of %zu", path, got, *size);
    free(data);
    return NULL;
  }
  return data;
}

typedef struct {
  char s[24];
} HexText;
static HexText hex_address(uint64_t a) {
  HexText h;
  snprintf(h.s, sizeof h.s, "0x%" PRIx64, a);
  return h;
}

static const CostReport *sort_report; /* qsort has no context argument */
static int by_function_cost(const void *a, const void *b) {
  const CostFunction *x = &sort_report->functions[*(const int *)a], *y = &sort_report->functions[*(const int *)b];
  if (x->cost != y->cost) return x->cost > y->cost ? -1 : 1;
  return (x->address > y->address) - (x->address < y->address);
}
static int by_block_cost(const void *a, const void *b) {
  const CostBlock *x = &sort_report->blocks[*(const size_t *)a], *y = &sort_report->blocks[*(const size_t *)b];
  if (x->cost != y->cost) return x->cost > y->cost ? -1 : 1;
  return (x->address > y->address) - (x->address < y->address);
}

/* Through util/output_file: a failed or interrupted write keeps what was there. */
static int write_csv(const CostReport *r, const char *path) {
  OutputFile out = {.slot = -1};
  if (output_open(&out, path, "--csv")) return -1;
  FILE *f = out.file;
  fprintf(f, "section,address,function,size,instructions,frequency,prediction,cost\n");
  for (size_t k = 0; k < r->num_blocks; k++) {
    const CostBlock *b = &r->blocks[k];
    fprintf(f, "%s,0x%" PRIx64 ",%s,%zu,%d,%.17g,%.9g,%.17g\n", r->image.sections[b->section].name, b->address,
            r->functions[b->function].name, b->size, b->instructions, b->frequency, b->prediction, b->cost);
  }
  return output_commit(&out);
}

static void print_report(const CostReport *r, const char *file, const FrequencyTable *freq, int top) {
  int used = 0;
  for (int i = 0; i < r->num_functions; i++) used += r->functions[i].blocks > 0;
  if (freq)
    printf("%s: %zu blocks in %d functions, total cost %.6g (weighted by %s)\n", file, r->num_blocks, used,
           r->total, freq->path);
  else
    printf("%s: %zu blocks in %d functions, total cost %.6g (each block once)\n", file, r->num_blocks, used,
           r->total);
  if (r->unpredicted) printf("  %ld blocks could not be predicted (not counted)\n", r->unpredicted);
  int *order = xmalloc((r->num_functions + 1) * sizeof *order);
  int n = 0;
  for (int i = 0; i < r->num_functions; i++)
    if (r->functions[i].blocks) order[n++] = i;
  sort_report = r;
  qsort(order, n, sizeof *order, by_function_cost);
  printf("\n%-40s %12s %8s %14s %7s\n", "function", "address", "blocks", "cost", "share");
  for (int i = 0; i < n; i++) {
    const CostFunction *fn = &r->functions[order[i]];
    printf("%-40s %12s %8ld %14.6g %6.2f%%\n", fn->name, hex_address(fn->address).s, fn->blocks, fn->cost,
           r->total > 0 ? 100 * fn->cost / r->total : 0.0);
  }
  free(order);
  size_t *blocks = xmalloc((r->num_blocks + 1) * sizeof *blocks);
  for (size_t k = 0; k < r->num_blocks; k++) blocks[k] = k;
  qsort(blocks, r->num_blocks, sizeof *blocks, by_block_cost);
  size_t shown = (size_t)top < r->num_blocks ? (size_t)top : r->num_blocks;
  if (shown) printf("\nmost expensive blocks:\n%12s  %-32s %6s %12s %12s %14s\n", "address", "function",
                    "instrs", "frequency", "prediction", "cost");
  for (size_t i = 0; i < shown; i++) {
    const CostBlock *b = &r->blocks[blocks[i]];
    const CostFunction *fn = &r->functions[b->function];
    char where[80];
    snprintf(where, sizeof where, "%.60s+0x%" PRIx64, fn->name, b->address - fn->address);
    printf("%12s  %-32s %6d %12.6g %12.6g %14.6g\n", hex_address(b->address).s, where, b->instructions, b->frequency,
           b->prediction, b->cost);
  }
  free(blocks);
}

int cmd_cost(int argc, char **argv) {
  char *checkpoint = NULL, *checkpoint_dir = NULL, *freq_path = NULL, *csv = NULL;
  int top = 10;
  StrList files = {0};
  const FlagSpec flags[] = {
      {"checkpoint|gematria_checkpoint_file", FLAG_STRING, &checkpoint, "FILE", "the model (model.ckpt-N)"},
      {"checkpoint-dir|gematria_checkpoint_dir", FLAG_STRING, &checkpoint_dir, "DIR",
       "the latest checkpoint of this directory (instead of --checkpoint)"},
      {"frequencies", FLAG_STRING, &freq_path, "FREQ.csv",
       "block frequencies, lines [SECTION:]ADDRESS,FREQUENCY (ADDRESS = the block's first byte); blocks not "
       "listed count 0 times. Without it every block counts once"},
      {"top", FLAG_INT, &top, "N", "list the N most expensive blocks (default 10)"},
      {"csv", FLAG_STRING, &csv, "OUT.csv",
       "also write every block: section,address,function,size,instructions,frequency,prediction,cost"},
  };
  FlagTable table = {
      "cost", "--checkpoint FILE [--frequencies FREQ.csv] [flags] FILE",
      "What Gematria's llvm-cm does: splits the executable sections of an ELF64 x86-64 file into basic\n"
      "blocks (as granite extract does), predicts each block with the model (task 0), multiplies it by\n"
      "the block's frequency and sums per function (the nearest symbol at or before the block; code\n"
      "before any symbol counts as <SECTION>) and in total. The unit is the model's (BHive: cycles per\n"
      "100 iterations) times the frequency's.",
      flags, (int)ARRAY_LEN(flags), &files, "ELF file"};
  int st = cli_flags_parse(&table, argc, argv);
  int rc = st == 1 ? 0 : 2;
  granite_model *model = NULL;
  FrequencyTable freq;
  int have_freq = 0;
  uint8_t *data = NULL;
  CostReport report;
  int have_report = 0;
  if (st) goto done;
  if (files.n != 1) {
    gr_error("cost: give exactly one ELF file (granite cost --help)");
    goto done;
  }
  if (top < 0) {
    gr_error("cost: --top must be >= 0");
    goto done;
  }
  if (!checkpoint == !checkpoint_dir) {
    gr_error("cost: give --checkpoint FILE or --checkpoint-dir DIR (one of them)");
    goto done;
  }
  rc = 1;
  char path[4096];
  if (checkpoint_dir) {
    int found = checkpoint_find_latest(checkpoint_dir, path, sizeof path, NULL);
    if (found == 0) gr_error("%s: no checkpoint in this directory", checkpoint_dir);
    if (found <= 0) goto done;
  } else {
    snprintf(path, sizeof path, "%s", checkpoint);
  }
  const char *inputs[] = {files.items[0], path, freq_path};
  if (csv && output_refuse_inputs(csv, "--csv", inputs, 3)) goto done;
  if (freq_path) {
    if (frequency_table_load(&freq, freq_path)) goto done;
    have_freq = 1;
  }
  size_t size;
  if (!(data = read_file(files.items[0], &size))) goto done;
  char err[512];
  if (!(model = granite_load(path, err, sizeof err))) {
    gr_error("%s", err);
    goto done;
  }
  if (cost_analyze(&report, data, size, model, have_freq ? &freq : NULL, err, sizeof err)) {
    gr_error("%s: %s", files.items[0], err);
    goto done;
  }
  have_report = 1;
  if (report.num_blocks == 0) {
    gr_error("%s: no executable code", files.items[0]);
    goto done;
  }
  if (report.frequencies_unmatched)
    gr_warn("%s: %ld lines name no block start of %s (e.g. %s); they are ignored", freq_path,
            report.frequencies_unmatched, files.items[0], report.unmatched_example);
  if (csv && write_csv(&report, csv)) goto done;
  print_report(&report, files.items[0], have_freq ? &freq : NULL, top);
  rc = fflush(stdout) == 0 ? 0 : 1;
done:
  if (have_report) cost_report_free(&report);
  granite_free(model);
  if (have_freq) frequency_table_free(&freq);
  free(data);
  str_list_free(&files);
  return rc;
}
