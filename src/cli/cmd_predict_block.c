/* `granite predict --asm TEXT | --asm-file FILE.s | --hex HEX` with a
 * checkpoint: one block in, its prediction (one value per task, tab-separated)
 * on stdout. Goes through the public C API, as a compiler would. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/asm_input.h"
#include "cli/commands.h"
#include "granite.h"
#include "io/bhive_csv.h"
#include "io/checkpoint.h"
#include "train/model_checkpoint.h"
#include "train/flags.h"
#include "util/common.h"

/* The value of --NAME=V or --NAME V at argv[*i] (advancing *i), else NULL. */
static const char *take(int argc, char **argv, int *i, const char *name, int *matched) {
  size_t n = strlen(name);
  const char *a = argv[*i];
  if (strncmp(a, "--", 2) || strncmp(a + 2, name, n)) return NULL;
  if (a[2 + n] == '=') return *matched = 1, a + 3 + n;
  if (a[2 + n] == 0 && *i + 1 < argc) return *matched = 1, argv[++*i];
  return NULL;
}

int predict_block_requested(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strncmp(a, "--asm", 5) || !strcmp(a, "--att") || !strncmp(a, "--hex", 5)) return 1;
  }
  return 0;
}

void predict_block_help(void) {
  printf("\nOne block instead of --gematria_input_file (prints its prediction per task, tab-separated):\n"
         "  --asm TEXT        the block as assembly ('add rax, rbx; imul rcx, rax'), assembled by GNU as\n"
         "  --asm-file FILE.s the block as an assembly file\n"
         "  --att             the assembly is in AT&T syntax (default: Intel, no %% prefixes)\n"
         "  --hex HEX         the block as machine code in hex\n"
         "  with --gematria_checkpoint_file=FILE (or --gematria_checkpoint_dir=DIR: its latest checkpoint)\n");
}

int cmd_predict_block(int argc, char **argv) {
  AsmInput in = {0};
  const char *hex = NULL;
  char **rest = xmalloc((argc + 1) * sizeof *rest);
  int nrest = 0, status = 2;
  rest[nrest++] = argv[0];
  for (int i = 1; i < argc; i++) {
    int m = 0;
    const char *v;
    if ((v = take(argc, argv, &i, "asm-file", &m)) || m) in.file = (char *)v;
    else if ((v = take(argc, argv, &i, "asm", &m)) || m) in.text = (char *)v;
    else if ((v = take(argc, argv, &i, "hex", &m)) || m) hex = v;
    else if (!strcmp(argv[i], "--att")) in.att = 1;
    else rest[nrest++] = argv[i];
  }
  rest[nrest] = NULL;
  GematriaFlags f;
  flags_init(&f);
  int rc = flags_parse(&f, nrest, rest, 1);
  granite_model *model = NULL;
  uint8_t *code = NULL;
  size_t size = 0;
  if (rc != 0) {
    if (rc > 0) predict_block_help();
    status = rc > 0 ? 0 : 2;
    goto out;
  }
  if ((asm_input_given(&in) != 0) + (hex != NULL) != 1) {
    gr_error("predict: give one block: --asm, --asm-file or --hex (granite predict --help)");
    goto out;
  }
  if (in.att && !asm_input_given(&in)) {
    gr_error("predict: --att applies to --asm or --asm-file only");
    goto out;
  }
  if (f.input_file.count) {
    gr_error("predict: give either one block (--asm, --asm-file, --hex) or --gematria_input_file, not both");
    goto out;
  }
  char path[4096];
  if (f.checkpoint_file && f.checkpoint_file[0]) {
    snprintf(path, sizeof path, "%s", f.checkpoint_file);
  } else if (f.checkpoint_dir && f.checkpoint_dir[0]) {
    int found = checkpoint_find_latest(f.checkpoint_dir, path, sizeof path, NULL);
    if (found <= 0) {
      if (found == 0) gr_error("%s: no checkpoint in this directory", f.checkpoint_dir);
      status = 1;
      goto out;
    }
  } else {
    gr_error("predict: --gematria_checkpoint_file (or --gematria_checkpoint_dir) is required");
    goto out;
  }
  status = 1;
  if (hex) {
    size_t len = strlen(hex);
    code = xmalloc(len / 2 + 1);
    int kind = bhive_decode_hex(hex, len, code);
    if (kind != BHIVE_OK) {
      gr_error("predict: --hex '%s': not machine code in hex (%s)", hex, bhive_line_kind_name(kind));
      goto out;
    }
    size = len / 2;
  } else if (asm_input_check(&in, "predict") || asm_input_assemble(&in, &code, &size)) {
    goto out;
  }
  char err[1024];
  model = granite_load(path, err, sizeof err);
  if (!model) {
    gr_error("%s", err);
    goto out;
  }
  if (f.num_threads > 0) granite_set_num_threads(model, f.num_threads);
  int T = granite_num_tasks(model);
  float out[GRANITE_MAX_TASKS];
  if (granite_predict_bytes(model, code, size, out) != 0) {
    gr_error("predict: %s: the block does not decode as x86-64 or cannot become a graph",
             in.file ? in.file : hex ? hex : "--asm");
    goto out;
  }
  for (int t = 0; t < T; t++) printf("%s%.6f", t ? "\t" : "", out[t]);
  printf("\n");
  status = fflush(stdout) == 0 ? 0 : 1;
out:
  granite_free(model);
  free(code);
  free(rest);
  flags_free(&f);
  return status;
}
