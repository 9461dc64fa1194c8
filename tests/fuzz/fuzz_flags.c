/* Flags: the input is an argv, arguments separated by NUL bytes. It goes
 * through the --gematria_* parser of train/eval/predict (then the
 * cross-flag checks and the model config, as `granite run` does) and through
 * the sub-commands' parser with a table of every flag kind. */
#include <stdlib.h>
#include <string.h>

#include "cli/flags_simple.h"
#include "support.h"
#include "train/flags.h"

#define MAX_ARGS 64

static void simple_flags(int argc, char **argv) {
  char *output = NULL;
  StrList sources = {0}, positional = {0};
  double scale = 1.0;
  int column = 0, quiet = 0;
  uint64_t address = 0;
  FlagSpec specs[] = {
      {"output|gematria_output_tfrecord", FLAG_STRING, &output, "FILE", "output", 1},
      {"source", FLAG_LIST, &sources, "NAME", "source names", 0},
      {"scale", FLAG_DOUBLE, &scale, "X", "scaling", 0},
      {"column", FLAG_INT, &column, "N", "column", 0},
      {"base-address", FLAG_UINT64, &address, "A", "address", 0},
      {"quiet|q", FLAG_BOOL, &quiet, NULL, "quiet", 0},
  };
  FlagTable t = {"fuzz", "--output OUT [flags] FILE...", "fuzzing", specs, (int)(sizeof specs / sizeof *specs),
                 &positional, "input file"};
  int rc = cli_flags_parse(&t, argc, argv);
  if (rc == 0 && (!output || positional.n < 1)) abort(); /* required ones were checked */
  str_list_free(&sources);
  str_list_free(&positional);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0;
  char *text = fuzz_string(data, size);
  char *argv[MAX_ARGS + 2];
  int argc = 0;
  argv[argc++] = "granite";
  for (char *p = text; argc <= MAX_ARGS; argc++) {
    argv[argc] = p;
    char *end = memchr(p, '\0', (size_t)(text + size - p));
    if (!end || end == text + size) {
      argc++;
      break;
    }
    p = end + 1;
  }
  argv[argc] = NULL;

  GematriaFlags f;
  flags_init(&f);
  if (flags_parse(&f, argc, argv, 1) == 0 && flags_validate(&f) == 0) {
    int tasks = flags_num_tasks(&f);
    char name[64];
    for (int i = 0; i < tasks && i < 64; i++) flags_task_name(&f, i, name, sizeof name);
    GraniteConfig cfg;
    flags_to_config(&f, &cfg, 100);
  }
  flags_free(&f);
  simple_flags(argc, argv);
  free(text);
  return 0;
}
