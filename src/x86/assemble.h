/* Assembly text -> x86-64 machine code, by GNU as (every machine with a C
 * compiler has it): `as --64` runs directly (no shell) on a file in a private
 * temporary directory, and the .text section is read out of the ELF object
 * it writes. */
#ifndef GRANITE_X86_ASSEMBLE_H
#define GRANITE_X86_ASSEMBLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Assembles `text` (Intel syntax without register prefixes, or AT&T when
 * att is set; instructions separated by newlines or ';'). On success sets
 * *code (malloc'd) and *size and returns 0. On failure returns -1 and writes
 * one line to err: as's first error with the line number in `text`, named
 * `source_name` ("<asm>" if NULL), or why as could not run. */
int x86_assemble(const char *text, bool att, const char *source_name, uint8_t **code, size_t *size, char *err,
                 size_t err_size);

/* The contents of the .text section of an ELF64 x86-64 relocatable object in
 * obj[0..n). 0, or -1 with the reason in err. Exposed for tests. */
int x86_elf_text_section(const uint8_t *obj, size_t n, uint8_t **code, size_t *size, char *err, size_t err_size);

#endif
