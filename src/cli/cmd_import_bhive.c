/* granite import-bhive: BHive CSV files → one .tfrecord (spec §1.4), the
 * counterpart of Gematria's import_from_bhive, with several files merged into
 * one multi-source record per block. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/flags_simple.h"
#include "io/bhive_import.h"
#include "util/common.h"
#include "util/output_file.h"
#include "x86/canonicalize.h"

int cmd_import_bhive(int argc, char **argv) {
  char *output = NULL, *llvm_triple = NULL;
  StrList files = {0}, sources = {0};
  double scaling = 1.0;
  uint64_t base_address = 0;
  int hex_column = 0, throughput_column = 1, quiet = 0;
  const FlagSpec flags[] = {
      {"output|gematria_output_tfrecord", FLAG_STRING, &output, "OUT.tfrecord",
       "the file to write (required); written to a temporary name, renamed when complete", 1},
      {"gematria_input_csv", FLAG_LIST, &files, "FILE.csv",
       "an input CSV file (repeatable; same as giving FILE.csv as an argument)"},
      {"source|gematria_throughput_source_name", FLAG_LIST, &sources, "NAME",
       "throughput source name: give it once per input file (in order), or once for all files "
       "(then the files are parts of one data set and a block seen twice is a duplicate); "
       "default \"bhive: <file name without .csv>\", e.g. \"bhive: haswell\""},
      {"scaling|gematria_throughput_scaling", FLAG_DOUBLE, &scaling, "X",
       "multiply every throughput by X (BHive: cycles per 100 iterations; 0.01 gives cycles per "
       "iteration); default 1"},
      {"base-address", FLAG_UINT64, &base_address, "A",
       "address of the first instruction in machine_instructions (default 0; 0x... allowed)"},
      {"machine_code_hex_column_index", FLAG_INT, &hex_column, "N", "CSV column of the hex code (default 0)"},
      {"throughput_column_index", FLAG_INT, &throughput_column, "N", "CSV column of the throughput (default 1)"},
      {"gematria_llvm_triple", FLAG_STRING, &llvm_triple, "TRIPLE",
       "accepted for Gematria scripts; only x86_64 targets are supported"},
      {"quiet", FLAG_BOOL, &quiet, NULL, "print only errors (no summary on stderr)"},
  };
  FlagTable table = {
      "import-bhive", "--output OUT.tfrecord [flags] FILE.csv...",
      "Reads BHive CSV files (one block per line: hex,throughput; no header) and writes one\n"
      "TFRecord file of BasicBlockWithThroughputProto records. Each file is one throughput\n"
      "source; a block found in several files becomes ONE record with one inverse_throughputs\n"
      "entry per source, in the order of the files. Records keep the order in which blocks\n"
      "first appear. Lines that cannot be used (empty, header, bad hex, bad or non-finite or\n"
      "negative throughput, undecodable code, the same block twice for one source: the first\n"
      "value is kept) are counted and summarized on stderr with file:line examples.",
      flags, (int)ARRAY_LEN(flags), &files, "input CSV file"};
  int st = cli_flags_parse(&table, argc, argv);
  int rc = st == 1 ? 0 : 2;
  if (st) goto done;
  rc = 2;
  if (sources.n > 1 && sources.n != files.n) {
    gr_error("import-bhive: %d --source names for %d files (give one per file, or one for all)", sources.n,
             files.n);
    goto done;
  }
  if (hex_column < 0 || throughput_column < 0 || hex_column == throughput_column) {
    gr_error("import-bhive: the hex and throughput column indices must be different and >= 0");
    goto done;
  }
  if (llvm_triple && strncmp(llvm_triple, "x86_64", 6)) {
    gr_error("import-bhive: --gematria_llvm_triple=%s: only x86_64 is supported", llvm_triple);
    goto done;
  }
  if (output_refuse_inputs(output, "--output", (const char *const *)files.items, files.n)) goto done;
  rc = 1;
  double start = now_seconds();
  BhiveImport imp;
  bhive_import_init(&imp, x86_canonicalize_block);
  imp.columns.hex_column = hex_column;
  imp.columns.throughput_column = throughput_column;
  imp.scaling = scaling;
  imp.base_address = base_address;
  int ok = 1;
  for (int i = 0; i < files.n && ok; i++) {
    char *name = sources.n ? xstrdup(sources.items[sources.n == 1 ? 0 : i]) : bhive_default_source_name(files.items[i]);
    int source = bhive_import_source(&imp, name);
    free(name);
    ok = bhive_import_file(&imp, files.items[i], source) == 0;
  }
  if (ok) {
    if (!quiet) bhive_import_report(&imp, stderr);
    if (bhive_import_num_records(&imp) == 0) gr_warn("import-bhive: no usable block; writing an empty file");
    ok = bhive_import_write(&imp, output) == 0;
    if (ok && !quiet)
      fprintf(stderr, "import: wrote %zu records to %s in %.1f s\n", bhive_import_num_records(&imp), output,
              now_seconds() - start);
  }
  bhive_import_free(&imp);
  if (ok) rc = 0;
done:
  str_list_free(&files);
  str_list_free(&sources);
  return rc;
}
