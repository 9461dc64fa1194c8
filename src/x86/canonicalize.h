/* x86-64 machine code → Gematria canonical instructions (spec §2), on Zydis. */
#ifndef GRANITE_X86_CANONICALIZE_H
#define GRANITE_X86_CANONICALIZE_H

#include <stddef.h>
#include <stdint.h>

#include "gematria.pb-c.h"

/* Decodes all of code[0..len) starting at `address` and appends, per
 * instruction, one MachineInstructionProto (address, AT&T assembly with a
 * leading tab, bytes) and one CanonicalizedInstructionProto to *block (which
 * must be initialised with gematria__basic_block_proto__init). Everything is
 * allocated piecewise with malloc, so protobuf_c_message_free_unpacked(block,
 * NULL) frees it (after the caller frees the outer struct if it is on the
 * stack: use x86_block_clear). Returns the number of instructions, or -1 if
 * some bytes do not decode; then *bad_offset is the byte offset of the first
 * undecodable instruction and *block is left empty. */
int x86_canonicalize_block(const uint8_t *code, size_t len, uint64_t address,
                           Gematria__BasicBlockProto *block, size_t *bad_offset);

/* Frees the contents of a block filled by x86_canonicalize_block and
 * re-initialises it (the struct itself is the caller's). */
void x86_block_clear(Gematria__BasicBlockProto *block);

/* Intel-syntax text of one instruction ("mov eax, dword ptr [rsp+0x6c]"),
 * for `granite show`. Returns the instruction length, or -1 if undecodable. */
int x86_format_intel(const uint8_t *code, size_t len, uint64_t address, char *out, size_t out_size);

#endif
