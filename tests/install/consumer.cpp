// The same outside program in C++: granite.h must compile as C++ (extern "C").
#include <granite.h>

#include <cstdio>
#include <cstring>
#include <string>

int main(int argc, char **argv) {
  if (argc != 4) return 2;
  if (std::string(granite_version()) != GRANITE_VERSION_STRING) return 1;
  char err[512];
  granite_model *m = granite_load(argv[1], err, sizeof err);
  if (!m) {
    std::fprintf(stderr, "%s\n", err);
    return 1;
  }
  float hex[16], asm_out[16];
  int bad = granite_predict_hex(m, argv[2], hex) != 0 ||
            granite_predict_asm(m, argv[3], GRANITE_SYNTAX_INTEL, asm_out, err, sizeof err) != 0 ||
            hex[0] != asm_out[0];
  granite_free(m);
  if (bad) return 1;
  std::printf("%.6f\n", hex[0]);
  return 0;
}
