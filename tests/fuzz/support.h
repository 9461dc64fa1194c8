/* Shared by the libFuzzer targets of tests/fuzz (docs/reliability.md):
 * the loaders take file paths, so each input is handed to them as a file in
 * memory, and the small models and vocabularies the targets need are built
 * once per process. */
#ifndef GRANITE_FUZZ_SUPPORT_H
#define GRANITE_FUZZ_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include "io/vocab.h"

/* The input's bytes as the content of an in-memory file (memfd); returns a
 * path that opens it ("/proc/self/fd/N"), valid until the next call with the
 * same slot (0..3). Aborts if the kernel refuses (the fuzzer cannot run). */
const char *fuzz_file(int slot, const void *data, size_t len);

/* A vocabulary of real tokens (structural tokens, common registers and
 * mnemonics), so that graphs of decoded code are mostly in vocabulary. */
const Vocab *fuzz_vocab(void);

/* A NUL-terminated copy of data[0..len) (free it). */
char *fuzz_string(const uint8_t *data, size_t len);

#endif
