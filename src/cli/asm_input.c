#include "cli/asm_input.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/common.h"
#include "x86/assemble.h"

int asm_input_given(const AsmInput *in) { return in->text || in->file; }

int asm_input_check(const AsmInput *in, const char *command) {
  if (in->text && in->file) {
    gr_error("%s: give --asm or --asm-file, not both", command);
    return -1;
  }
  return 0;
}

static char *read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    gr_error("%s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  size_t cap = 4096, len = 0, got;
  char *s = xmalloc(cap);
  while ((got = fread(s + len, 1, cap - len - 1, f)) > 0) {
    len += got;
    if (len + 1 == cap) s = xrealloc(s, cap *= 2);
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    gr_error("%s: read error", path);
    free(s);
    return NULL;
  }
  s[len] = 0;
  if (strlen(s) != len) {
    gr_error("%s: byte %zu: a NUL byte in an assembly file", path, strlen(s));
    free(s);
    return NULL;
  }
  return s;
}

int asm_input_assemble(const AsmInput *in, uint8_t **code, size_t *size) {
  char *owned = in->file ? read_text(in->file) : NULL;
  if (in->file && !owned) return -1;
  char err[1024];
  int rc = x86_assemble(owned ? owned : in->text, in->att, in->file ? in->file : "--asm", code, size, err, sizeof err);
  if (rc) gr_error("%s", err);
  free(owned);
  return rc;
}
