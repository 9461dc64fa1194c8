/* granite tokens: the tokens (vocabulary) file of .tfrecord files (spec
 * §1.3), the counterpart of Gematria's extract_tokens_file. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "cli/flags_simple.h"
#include "cli/token_set.h"
#include "io/block_io.h"
#include "io/vocab.h"
#include "util/common.h"
#include "util/output_file.h"

static int add_block_tokens(const Gematria__BasicBlockWithThroughputProto *rec, const char *path, long index,
                            void *set) {
  token_set_add_block(set, rec->basic_block);
  return 0;
}

int cmd_tokens(int argc, char **argv) {
  char *output = NULL;
  StrList files = {0};
  int quiet = 0;
  const FlagSpec flags[] = {
      {"output|gematria_output_tokens_file", FLAG_STRING, &output, "vocab.txt",
       "the tokens file to write (required); temporary name, renamed when complete", 1},
      {"gematria_input_tfrecord", FLAG_LIST, &files, "FILE.tfrecord",
       "an input file (repeatable; same as giving it as an argument)"},
      {"quiet", FLAG_BOOL, &quiet, NULL, "no summary line on stderr"},
  };
  FlagTable table = {
      "tokens", "--output vocab.txt FILE.tfrecord...",
      "Writes the sorted set (strcmp order) of all tokens of all instructions' token lists\n"
      "(spec §2.4: prefixes, mnemonics, registers, _D_, _ADDRESS_, _MEMORY_, ...), one per\n"
      "line. The structural tokens are not added unless they occur (as in Gematria).",
      flags, (int)ARRAY_LEN(flags), &files, "input .tfrecord file"};
  int st = cli_flags_parse(&table, argc, argv);
  int rc = st == 1 ? 0 : 2;
  if (st) goto done;
  if (output_refuse_inputs(output, "--output", (const char *const *)files.items, files.n)) {
    rc = 2;
    goto done;
  }
  rc = 1;
  TokenSet set = {0};
  long records = block_files_visit(files.items, files.n, add_block_tokens, &set);
  int ok = records >= 0;
  if (ok) {
    int n;
    char **list = token_set_list(&set, &n);
    ok = vocab_write_tokens_file(output, list, n) == 0;
    if (ok && !quiet) fprintf(stderr, "tokens: %d tokens of %ld records written to %s\n", n, records, output);
    free(list);
  }
  token_set_free(&set);
  if (ok) rc = 0;
done:
  str_list_free(&files);
  return rc;
}
