/* A set of byte strings (machine code of blocks), to drop duplicates: a
 * block is the same block wherever it was found. */
#ifndef GRANITE_COLLECT_CODE_SET_H
#define GRANITE_COLLECT_CODE_SET_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  struct CodeSetEntry {
    uint8_t *code;
    size_t len;
    uint64_t hash;
  } *entries;     /* open addressing; code == NULL is empty */
  size_t num_slots, count;
} CodeSet;

/* Adds code[0..len) unless present; 1 if it was new, 0 if already there. */
int code_set_add(CodeSet *set, const uint8_t *code, size_t len);
void code_set_free(CodeSet *set);

#endif
