/* granite extract: basic blocks of ELF x86-64 files → .tfrecord and/or CSV
 * (collect/extract.h does the work). */
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "cli/flags_simple.h"
#include "collect/extract.h"
#include "util/common.h"

int cmd_extract(int argc, char **argv) {
  char *output = NULL, *csv = NULL;
  StrList files = {0};
  int keep_going = 0, quiet = 0;
  const FlagSpec flags[] = {
      {"output", FLAG_STRING, &output, "OUT.tfrecord",
       "write the blocks as BasicBlockWithThroughputProto records without labels (temporary name, renamed "
       "when complete)"},
      {"csv", FLAG_STRING, &csv, "OUT.csv", "write the blocks as hex, one per line"},
      {"keep-going", FLAG_BOOL, &keep_going, NULL,
       "a file that is not a usable ELF x86-64 file is reported and skipped (default: it is an error and "
       "nothing is written)"},
      {"quiet", FLAG_BOOL, &quiet, NULL, "print only errors (no summary on stderr)"},
  };
  FlagTable table = {
      "extract", "[--output OUT.tfrecord] [--csv OUT.csv] [flags] FILE...",
      "Reads ELF64 x86-64 executables, shared libraries and object files, decodes their executable\n"
      "sections and splits them into basic blocks: a block starts at a branch or call target, after\n"
      "every jump, call, return, system call, interrupt, ud2 or hlt, at every function symbol (.symtab,\n"
      "or .dynsym of stripped files) and after undecodable bytes. Each distinct block (by machine code)\n"
      "is written once; the fingerprint field records where it was first found as\n"
      "FILE:SECTION:0xADDRESS+SIZE. Without --output and --csv, only the summary is printed.",
      flags, (int)ARRAY_LEN(flags), &files, "ELF file"};
  int st = cli_flags_parse(&table, argc, argv);
  int rc = st == 1 ? 0 : 2;
  if (st) goto done;

  rc = 1;
  double start = now_seconds();
  BlockSink sink;
  int writing = output || csv;
  if (writing && block_sink_open(&sink, output, csv, (const char *const *)files.items, files.n)) goto done;
  Extractor x;
  extractor_init(&x, writing ? &sink : NULL);
  int ok = 1;
  char err[512];
  for (int i = 0; i < files.n && ok; i++) {
    if (extract_file(&x, files.items[i], err, sizeof err) == 0) continue;
    if (!err[0]) ok = 0; /* write error: its line is printed */
    else if (keep_going) gr_warn("skipped %s", err);
    else {
      gr_error("%s", err);
      ok = 0;
    }
  }
  if (ok && x.files_failed == x.files) {
    gr_error("extract: none of the %ld files could be read", x.files);
    ok = 0;
  }
  if (ok && !quiet) extract_report(&x, stderr);
  if (writing) {
    if (ok) ok = block_sink_commit(&sink) == 0;
    else block_sink_abort(&sink);
  }
  if (ok && !quiet && writing)
    fprintf(stderr, "extract: wrote %ld blocks to %s%s%s in %.1f s\n", x.written, output ? output : "",
            output && csv ? " and " : "", csv ? csv : "", now_seconds() - start);
  extractor_free(&x);
  if (ok) rc = 0;
done:
  str_list_free(&files);
  return rc;
}
