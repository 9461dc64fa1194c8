/* granite filter: keep the blocks a harness can measure, as their
 * straight-line bodies (collect/filter.h; Gematria's process_and_filter_bbs). */
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "cli/flags_simple.h"
#include "collect/filter.h"
#include "util/common.h"

int cmd_filter(int argc, char **argv) {
  char *output = NULL, *csv = NULL;
  StrList files = {0};
  FilterOptions opt = {0};
  int quiet = 0;
  const FlagSpec flags[] = {
      {"output", FLAG_STRING, &output, "OUT.tfrecord",
       "the file to write (required); temporary name, renamed when complete", 1},
      {"csv", FLAG_STRING, &csv, "OUT.csv", "also write the kept blocks as hex, one per line"},
      {"drop-memory-blocks", FLAG_BOOL, &opt.drop_memory, NULL,
       "drop blocks with an instruction that loads or stores (Gematria's --filter-memory-accessing-blocks)"},
      {"max-instructions", FLAG_INT, &opt.max_instructions, "N",
       "drop blocks with more than N instructions after stripping (default: no limit)"},
      {"min-instructions", FLAG_INT, &opt.min_instructions, "M",
       "drop blocks with fewer than M instructions after stripping (default: no limit; empty blocks always go)"},
      {"remove-instructions", FLAG_BOOL, &opt.remove_instructions, NULL,
       "remove system calls, interrupts, ud*, privileged and I/O instructions (and memory-accessing ones "
       "with --drop-memory-blocks) from the block instead of dropping the block, as Gematria's "
       "process_and_filter_bbs does"},
      {"quiet", FLAG_BOOL, &quiet, NULL, "print only errors (no summary on stderr)"},
  };
  FlagTable table = {
      "filter", "--output OUT.tfrecord [flags] IN.tfrecord...",
      "Keeps the blocks a measuring harness can run at user level, as straight-line code: every jump,\n"
      "call and return is stripped; blocks with a system call, interrupt, ud0/ud1/ud2, privileged\n"
      "instruction, port I/O or cli/sti, or undecodable bytes are dropped; blocks left empty and blocks\n"
      "identical to one kept earlier are dropped. Unchanged records are copied as they are; changed ones\n"
      "are canonicalized again and lose their labels. Every dropped block is counted under its reason.",
      flags, (int)ARRAY_LEN(flags), &files, "input .tfrecord file"};
  int st = cli_flags_parse(&table, argc, argv);
  int rc = st == 1 ? 0 : 2;
  if (st) goto done;
  if (opt.max_instructions < 0 || opt.min_instructions < 0 ||
      (opt.max_instructions > 0 && opt.min_instructions > opt.max_instructions)) {
    gr_error("filter: --min-instructions=%d and --max-instructions=%d: need 0 <= min <= max", opt.min_instructions,
             opt.max_instructions);
    goto done;
  }
  rc = 1;
  double start = now_seconds();
  BlockSink sink;
  if (block_sink_open(&sink, output, csv, (const char *const *)files.items, files.n)) goto done;
  Filter f;
  filter_init(&f, &opt, &sink);
  int ok = 1;
  for (int i = 0; i < files.n && ok; i++) ok = filter_file(&f, files.items[i]) == 0;
  if (ok && !quiet) filter_report(&f, stderr);
  if (ok) ok = block_sink_commit(&sink) == 0;
  else block_sink_abort(&sink);
  if (ok && !quiet) fprintf(stderr, "filter: wrote %ld blocks to %s in %.1f s\n", f.kept, output, now_seconds() - start);
  filter_free(&f);
  if (ok) rc = 0;
done:
  str_list_free(&files);
  return rc;
}
