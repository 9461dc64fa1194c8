/* The assembly-input flags shared by `granite show` and `granite predict`:
 * --asm TEXT, --asm-file FILE.s, --att (AT&T instead of Intel syntax). */
#ifndef GRANITE_CLI_ASM_INPUT_H
#define GRANITE_CLI_ASM_INPUT_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  char *text; /* --asm */
  char *file; /* --asm-file */
  int att;    /* --att */
} AsmInput;

/* Three FlagSpec entries (cli/flags_simple.h) filling an AsmInput. */
#define ASM_INPUT_FLAGS(in)                                                                                \
  {"asm", FLAG_STRING, &(in).text, "TEXT",                                                                 \
   "the block as assembly text, instructions separated by ';' or newlines (assembled by GNU as)"},        \
      {"asm-file", FLAG_STRING, &(in).file, "FILE.s", "the block as an assembly file (assembled by GNU as)"}, \
      {"att", FLAG_BOOL, &(in).att, NULL, "the assembly is in AT&T syntax (default: Intel, no % prefixes)"}

int asm_input_given(const AsmInput *in);
/* One error line and -1 if both --asm and --asm-file are given. */
int asm_input_check(const AsmInput *in, const char *command);
/* Assembles the input; *code is malloc'd. -1 after one error line (as's
 * message with the file and line, or why as could not run). */
int asm_input_assemble(const AsmInput *in, uint8_t **code, size_t *size);

#endif
