/* granite: the command-line front end. Dispatches to one file per command. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "dist/dist.h"
#include "util/common.h"
#include "util/flagfile.h"
#include "util/machine.h"

typedef struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} Command;

static const Command commands[] = {
    {"extract", cmd_extract, "basic blocks of ELF x86-64 files -> .tfrecord / CSV"},
    {"filter", cmd_filter, "keep measurable blocks, branches stripped (process_and_filter_bbs)"},
    {"measure", cmd_measure, "measure blocks' throughput on this CPU (sandboxed, BHive's method)"},
    {"import-bhive", cmd_import_bhive, "BHive CSV files (hex,throughput) -> one .tfrecord"},
    {"tokens", cmd_tokens, "write the tokens (vocabulary) file of .tfrecord files"},
    {"show", cmd_show, "print a block as assembly, canonical tokens and graph size"},
    {"stats", cmd_stats, "records, instructions, sources and labels of a .tfrecord"},
    {"train", cmd_train, "train a model (same as --gematria_action=train)"},
    {"predict", cmd_predict, "predict throughputs (same as --gematria_action=predict)"},
    {"eval", cmd_eval, "MAPE, MAE, RMSE, percentiles, Kendall's tau of a checkpoint"},
    {"runs", cmd_runs, "compare training runs: flags, steps, time, validation MAPE, --plot PNG"},
    {"cost", cmd_cost, "predicted cost of an ELF file per function, weighted by block frequencies"},
    {"bench", cmd_bench, "measure training/prediction speed and latency"},
};

static void usage(FILE *out) {
  fprintf(out,
          "usage: granite <command> [flags]    (granite <command> --help for its flags)\n"
          "       granite --gematria_action=train|predict|eval --gematria_... flags\n"
          "       --flagfile=FILE anywhere: FILE's flags (one per line) in its place\n"
          "\n"
          "granite predicts the inverse throughput of x86-64 basic blocks with the\n"
          "GRANITE graph neural network: import data, train, evaluate, predict.\n"
          "\ncommands:\n");
  for (size_t i = 0; i < ARRAY_LEN(commands); i++)
    fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
}

static int dispatch(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return 0;
  }
  /* The reference log's form: gematria flags straight after the launcher. */
  if (!strncmp(argv[1], "--", 2)) return cmd_gematria(argc, argv);
  for (size_t i = 0; i < ARRAY_LEN(commands); i++) {
    if (strcmp(argv[1], commands[i].name)) continue;
    if (dist_size() > 1 && commands[i].run != cmd_train && commands[i].run != cmd_predict &&
        commands[i].run != cmd_eval) {
      /* every rank would do the same work and write the same files */
      gr_error_collective("`granite %s` runs in one process; under mpirun only train, predict and eval share "
                          "the work", argv[1]);
      return 2;
    }
    return commands[i].run(argc - 1, argv + 1);
  }
  gr_error("unknown command '%s' (granite --help lists them)", argv[1]);
  return 2;
}

int main(int argc, char **argv) {
  machine_select_blas_kernels(argc, argv); /* may re-exec once (util/machine.h) */
  /* --flagfile=FILE becomes the file's flags in its place (util/flagfile.h);
   * before any command name it is the Gematria form `granite --flagfile=F` */
  char **expanded;
  if (flagfile_expand(argc, argv, 1, &argc, &expanded)) return 2;
  argv = expanded;
  /* a rank of an MPI job if started by mpirun, else one process as always */
  if (dist_init(&argc, &argv)) {
    free(expanded);
    return 1;
  }
  int rc = dist_finalize(dispatch(argc, argv));
  free(expanded);
  return rc;
}
