/* granite: the command-line front end. Dispatches to one file per command. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "util/common.h"
#include "util/machine.h"

typedef struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} Command;

static const Command commands[] = {
    {"extract", cmd_extract, "basic blocks of ELF x86-64 files -> .tfrecord / CSV"},
    {"filter", cmd_filter, "keep measurable blocks, branches stripped (process_and_filter_bbs)"},
    {"import-bhive", cmd_import_bhive, "BHive CSV files (hex,throughput) -> one .tfrecord"},
    {"tokens", cmd_tokens, "write the tokens (vocabulary) file of .tfrecord files"},
    {"show", cmd_show, "print a block as assembly, canonical tokens and graph size"},
    {"stats", cmd_stats, "records, instructions, sources and labels of a .tfrecord"},
    {"train", cmd_train, "train a model (same as --gematria_action=train)"},
    {"predict", cmd_predict, "predict throughputs (same as --gematria_action=predict)"},
    {"eval", cmd_eval, "MAPE, MAE, RMSE, percentiles, Kendall's tau of a checkpoint"},
    {"cost", cmd_cost, "predicted cost of an ELF file per function, weighted by block frequencies"},
    {"bench", cmd_bench, "measure training/prediction speed and latency"},
};

static void usage(FILE *out) {
  fprintf(out,
          "usage: granite <command> [flags]    (granite <command> --help for its flags)\n"
          "       granite --gematria_action=train|predict|eval --gematria_... flags\n"
          "\n"
          "granite predicts the inverse throughput of x86-64 basic blocks with the\n"
          "GRANITE graph neural network: import data, train, evaluate, predict.\n"
          "\ncommands:\n");
  for (size_t i = 0; i < ARRAY_LEN(commands); i++)
    fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
  machine_select_blas_kernels(argc, argv); /* may re-exec once (util/machine.h) */
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
  for (size_t i = 0; i < ARRAY_LEN(commands); i++)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
  gr_error("unknown command '%s' (granite --help lists them)", argv[1]);
  return 2;
}
