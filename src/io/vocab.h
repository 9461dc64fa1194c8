/* The tokens (vocabulary) file, spec §1.3. A token's index in the sorted
 * list is its embedding row and its slot in the global histogram. */
#ifndef GRANITE_IO_VOCAB_H
#define GRANITE_IO_VOCAB_H

typedef struct {
  int size;
  char **tokens; /* sorted by strcmp, no duplicates */
} Vocab;

/* Structural tokens always added to a loaded vocabulary (spec §1.3). */
extern const char *const VOCAB_STRUCTURAL_TOKENS[7];

/* Loads a tokens file: strip whitespace, drop empty and '#' lines, de-duplicate,
 * sort, union with the structural tokens. 0, or -1 after an error line. */
int vocab_load(Vocab *v, const char *path);
/* Builds a vocabulary from n strings (copied), same rules as vocab_load. */
void vocab_from_list(Vocab *v, const char *const *tokens, int n);
/* Index of token, or -1. */
int vocab_find(const Vocab *v, const char *token);
void vocab_free(Vocab *v);
/* Writes tokens[0..n) sorted by strcmp and de-duplicated, one per line with
 * '\n' (spec §1.3 step 3: only the tokens given, no structural tokens are
 * added), to a temporary file renamed over path. 0, or -1 after an error line. */
int vocab_write_tokens_file(const char *path, char **tokens, int n);

#endif
