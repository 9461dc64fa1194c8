#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/common.h"

const char *fuzz_file(int slot, const void *data, size_t len) {
  static int fds[4] = {-1, -1, -1, -1};
  static char paths[4][64];
  if (fds[slot] < 0) {
    fds[slot] = memfd_create("granite-fuzz", 0);
    if (fds[slot] < 0) {
      perror("memfd_create");
      abort();
    }
    snprintf(paths[slot], sizeof paths[slot], "/proc/self/fd/%d", fds[slot]);
  }
  if (ftruncate(fds[slot], 0) != 0 || pwrite(fds[slot], data, len, 0) != (ssize_t)len) {
    perror("memfd write");
    abort();
  }
  return paths[slot];
}

static const char *const TOKENS[] = {
    "RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RSP", "RBP", "R8", "R9", "EAX", "EBX", "ECX",
    "EDX", "XMM0", "XMM1", "YMM0", "EFLAGS", "RIP", "MOV", "ADD", "SUB", "XOR", "LEA", "PUSH",
    "POP", "CMP", "JMP", "CALL", "IMUL", "VADDPS", "MOVAPS", "LOCK", "REP", "_UNKNOWN_"};

/* The sample vocabulary of the checkout (the tokens real data has), or a
 * short list when the target runs elsewhere. */
const Vocab *fuzz_vocab(void) {
  static Vocab v;
  if (!v.tokens && (access(GRANITE_SOURCE_DIR "/data/sample/vocab.txt", R_OK) != 0 ||
                    vocab_load(&v, GRANITE_SOURCE_DIR "/data/sample/vocab.txt") != 0))
    vocab_from_list(&v, TOKENS, (int)ARRAY_LEN(TOKENS));
  return &v;
}

char *fuzz_string(const uint8_t *data, size_t len) {
  char *s = xmalloc(len + 1);
  memcpy(s, data, len);
  s[len] = '\0';
  return s;
}
