#include "cli/token_set.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/common.h"
#include "x86/tokens.h"

static uint64_t hash_string(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
  return h;
}

static void insert(char **slots, size_t num_slots, char *token) {
  size_t i = hash_string(token) & (num_slots - 1);
  while (slots[i]) i = (i + 1) & (num_slots - 1);
  slots[i] = token;
}

void token_set_add(TokenSet *s, const char *token) {
  if (s->num_slots) {
    size_t i = hash_string(token) & (s->num_slots - 1);
    for (; s->slots[i]; i = (i + 1) & (s->num_slots - 1))
      if (!strcmp(s->slots[i], token)) return;
  }
  if (2 * (s->count + 1) > s->num_slots) {
    size_t n = s->num_slots ? 2 * s->num_slots : 256;
    char **slots = xcalloc(n, sizeof *slots);
    for (size_t i = 0; i < s->num_slots; i++)
      if (s->slots[i]) insert(slots, n, s->slots[i]);
    free(s->slots);
    s->slots = slots;
    s->num_slots = n;
  }
  insert(s->slots, s->num_slots, xstrdup(token));
  s->count++;
}

static void add_token(const char *token, void *ctx) { token_set_add(ctx, token); }

void token_set_add_block(TokenSet *s, const Gematria__BasicBlockProto *block) {
  if (!block) return;
  for (size_t i = 0; i < block->n_canonicalized_instructions; i++)
    instruction_token_list(block->canonicalized_instructions[i], add_token, s);
}

char **token_set_list(const TokenSet *s, int *n) {
  char **list = xmalloc((s->count + 1) * sizeof *list);
  *n = 0;
  for (size_t i = 0; i < s->num_slots; i++)
    if (s->slots[i]) list[(*n)++] = s->slots[i];
  return list;
}

void token_set_free(TokenSet *s) {
  for (size_t i = 0; i < s->num_slots; i++) free(s->slots[i]);
  free(s->slots);
  memset(s, 0, sizeof *s);
}
