/* The set of distinct tokens (spec §2.4 token lists) of many blocks, for
 * `granite tokens` and `granite stats`. */
#ifndef GRANITE_CLI_TOKEN_SET_H
#define GRANITE_CLI_TOKEN_SET_H

#include <stddef.h>

#include "gematria.pb-c.h"

typedef struct {
  char **slots; /* open addressing; NULL = empty */
  size_t num_slots, count;
} TokenSet;

void token_set_add(TokenSet *s, const char *token);
/* Adds every token of every canonicalized instruction of block. */
void token_set_add_block(TokenSet *s, const Gematria__BasicBlockProto *block);
/* The tokens (unsorted; pointers into the set), *n their number. Free the array only. */
char **token_set_list(const TokenSet *s, int *n);
void token_set_free(TokenSet *s);

#endif
