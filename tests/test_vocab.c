/* Tokens file (spec §1.3): loading rules, byte order, structural tokens,
 * and the writer used by `granite tokens`. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/vocab.h"
#include "testing.h"

static void test_load_rules(const char *dir) {
  char path[512];
  snprintf(path, sizeof path, "%s/tokens.txt", dir);
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (!f) return;
  /* whitespace, comments, empty lines, duplicates, a structural token, CRLF */
  fputs("  MOV  \n# a comment\n\nR8\nR10\r\nMOV\n_D_\nret\n\t\n  #indented comment\nADD", f);
  fclose(f);
  Vocab v;
  CHECK(vocab_load(&v, path) == 0);
  static const char *const want[] = {"ADD",      "MOV",          "R10",        "R8",
                                     "_ADDRESS_", "_DISPLACEMENT_", "_D_",        "_IMMEDIATE_",
                                     "_MEMORY_",  "_NO_REGISTER_", "_UNKNOWN_", "ret"};
  CHECK(v.size == 12);
  for (int i = 0; i < 12 && i < v.size; i++)
    CHECK_MSG(strcmp(v.tokens[i], want[i]) == 0, "token %d = %s, want %s", i, v.tokens[i], want[i]);
  CHECK(vocab_find(&v, "R8") == 3);
  CHECK(vocab_find(&v, "ret") == 11);
  CHECK(vocab_find(&v, "RET") == -1);
  CHECK(vocab_find(&v, "#indented comment") == -1);
  vocab_free(&v);
  CHECK(v.size == 0 && v.tokens == NULL);

  /* an empty file still gives the 7 structural tokens */
  f = fopen(path, "w");
  fclose(f);
  CHECK(vocab_load(&v, path) == 0);
  CHECK(v.size == 7);
  for (int i = 0; i < 7; i++) CHECK(vocab_find(&v, VOCAB_STRUCTURAL_TOKENS[i]) >= 0);
  vocab_free(&v);

  snprintf(path, sizeof path, "%s/does-not-exist.txt", dir);
  fprintf(stderr, "(expected error line follows)\n");
  CHECK(vocab_load(&v, path) == -1);
}

static void test_writer(const char *dir) {
  char path[512];
  snprintf(path, sizeof path, "%s/out.txt", dir);
  char *tokens[] = {"MOV", "_D_", "ret", "ADD", "MOV", "R8", "R10"};
  CHECK(vocab_write_tokens_file(path, tokens, 7) == 0);
  CHECK(strcmp(tokens[0], "MOV") == 0 && strcmp(tokens[3], "ADD") == 0); /* caller's order kept */
  size_t len;
  char *text = read_file_text(path, &len);
  /* only the tokens given: no structural tokens added (spec §1.3 step 3) */
  CHECK(text && strcmp(text, "ADD\nMOV\nR10\nR8\n_D_\nret\n") == 0);
  free(text);
  CHECK(vocab_write_tokens_file(path, NULL, 0) == 0);
  text = read_file_text(path, &len);
  CHECK(text && len == 0);
  free(text);
  snprintf(path, sizeof path, "%s/no-such-dir/out.txt", dir);
  fprintf(stderr, "(expected error line follows)\n");
  CHECK(vocab_write_tokens_file(path, tokens, 7) == -1);

  /* from_list applies the same rules */
  Vocab v;
  vocab_from_list(&v, (const char *const *)tokens, 7);
  CHECK(v.size == 6 + 6); /* ADD MOV R10 R8 ret + _D_ and the other 6 structural */
  vocab_free(&v);
}

static void test_reference_tokens(void) {
  const char *dir = shared_data_dir();
  if (!dir) {
    test_skip("../shared/data not found: the reference model's token list");
    return;
  }
  char path[512];
  snprintf(path, sizeof path, "%s/reference-model/tokens.txt", dir);
  Vocab v;
  CHECK(vocab_load(&v, path) == 0);
  CHECK(v.size == 56);
  /* byte order: uppercase < '_' < lowercase (spec §8.9) */
  CHECK(vocab_find(&v, "R10") < vocab_find(&v, "R8"));
  CHECK(vocab_find(&v, "_DISPLACEMENT_") < vocab_find(&v, "_D_"));
  for (int i = 1; i < v.size; i++) CHECK(strcmp(v.tokens[i - 1], v.tokens[i]) < 0);
  vocab_free(&v);
}

int main(void) {
  char dir[256];
  snprintf(dir, sizeof dir, "/tmp/granite_test_vocab_%ld", (long)getpid());
  char cmd[300];
  snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
  CHECK(system(cmd) == 0);
  test_load_rules(dir);
  test_writer(dir);
  test_reference_tokens();
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  CHECK(system(cmd) == 0);
  return test_summary("test_vocab");
}
