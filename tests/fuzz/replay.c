/* Replays inputs through a fuzz target without libFuzzer: the regression
 * inputs of tests/fuzz/regressions/<target> run as CTest cases in every
 * build (make check, and make check-sanitize where leaks and undefined
 * behaviour are reported too). Arguments: files or directories of files. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "replay: cannot open %s\n", path);
    return -1;
  }
  size_t cap = 4096, len = 0, got;
  uint8_t *buf = malloc(cap);
  while ((got = fread(buf + len, 1, cap - len, f)) > 0)
    if ((len += got) == cap) buf = realloc(buf, cap *= 2);
  fclose(f);
  fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
  LLVMFuzzerTestOneInput(buf, len);
  free(buf);
  return 0;
}

int main(int argc, char **argv) {
  int replayed = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "replay: %s: no such file or directory\n", argv[i]);
      return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
      if (replay_file(argv[i]) != 0) return 1;
      replayed++;
      continue;
    }
    struct dirent **names;
    int n = scandir(argv[i], &names, NULL, alphasort);
    for (int k = 0; k < n; k++) {
      char path[4096];
      snprintf(path, sizeof path, "%s/%s", argv[i], names[k]->d_name);
      if (names[k]->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
        if (replay_file(path) != 0) return 1;
        replayed++;
      }
      free(names[k]);
    }
    free(names);
  }
  printf("replay: %d inputs ran without a failure\n", replayed);
  return replayed > 0 ? 0 : 77; /* nothing replayed: show the test as skipped */
}
