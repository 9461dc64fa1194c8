/* A program outside the granite tree, built against the installed library
 * (tests/e2e_install.sh): loads a checkpoint, predicts one block given in
 * hex and the same block given as assembly, prints the first prediction. */
#include <granite.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#if GRANITE_VERSION < 200
#error "GRANITE_VERSION macro missing or too old"
#endif

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: consumer CHECKPOINT HEX ASM\n");
    return 2;
  }
  if (strcmp(granite_version(), GRANITE_VERSION_STRING) != 0) {
    fprintf(stderr, "library %s, header %s\n", granite_version(), GRANITE_VERSION_STRING);
    return 1;
  }
  char err[512];
  granite_model *m = granite_load(argv[1], err, sizeof err);
  if (!m) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  float hex[16], asm_out[16];
  if (granite_predict_hex(m, argv[2], hex) != 0 ||
      granite_predict_asm(m, argv[3], GRANITE_SYNTAX_INTEL, asm_out, err, sizeof err) != 0) {
    fprintf(stderr, "prediction failed: %s\n", err);
    granite_free(m);
    return 1;
  }
  granite_free(m);
  if (hex[0] != asm_out[0]) {
    fprintf(stderr, "hex %.9g and assembly %.9g differ\n", hex[0], asm_out[0]);
    return 1;
  }
  printf("%.6f\n", hex[0]);
  return isfinite(hex[0]) ? 0 : 1;
}
