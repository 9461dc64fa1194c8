/* ELF64 x86-64 files (executables, shared libraries, relocatable objects)
 * read from memory with <elf.h>: the executable sections and the addresses
 * where symbols start. Every offset and size is checked against the buffer,
 * so a corrupt or hostile file gives an error message or a counted skip,
 * never an out-of-bounds read. Nothing here prints or exits. */
#ifndef GRANITE_COLLECT_ELF_READER_H
#define GRANITE_COLLECT_ELF_READER_H

#include <stddef.h>
#include <stdint.h>

/* Why a section or symbol table was left out (the file itself was usable). */
typedef enum {
  ELF_SKIP_NOBITS,         /* executable section with no bytes in the file (SHT_NOBITS) */
  ELF_SKIP_PAST_EOF,       /* section data runs past the end of the file */
  ELF_SKIP_OVERLAP,        /* same file bytes as an earlier executable section */
  ELF_SKIP_BAD_SYMTAB,     /* symbol table past the end of the file or with a bad entry size */
  ELF_SKIP_NUM_KINDS
} ElfSkipKind;

typedef struct {
  char name[64];        /* ".text"; "[N]" when the name cannot be read */
  unsigned index;       /* section header index */
  uint64_t address;     /* sh_addr: run-time address (0 in most object files) */
  uint64_t file_offset; /* sh_offset */
  const uint8_t *data;  /* points into the caller's buffer */
  size_t size;
} ElfCodeSection;

typedef struct {
  int type;                 /* ET_EXEC, ET_DYN or ET_REL */
  ElfCodeSection *sections; /* executable sections with bytes, in header order */
  int num_sections;
  /* Start addresses of function (and untyped) symbols from .symtab and
   * .dynsym that lie in one of `sections`, as (section position, address)
   * pairs sorted by both; addresses are in the section's address space. */
  struct ElfSymbolStart {
    int section; /* index into sections[] */
    uint64_t address;
    const char *name; /* in the caller's buffer; NULL if unreadable (for granite cost) */
  } *starts;
  size_t num_starts;
  int num_symbol_tables;    /* symbol tables read (0: stripped) */
  long skip_count[ELF_SKIP_NUM_KINDS];
  char skip_example[ELF_SKIP_NUM_KINDS][160]; /* the first of each kind: "section .text [13]: ..." */
} ElfImage;

/* Reads the ELF file held in data[0..size) (which must outlive *img).
 * Returns 0, or -1 with err set to one line naming the place ("offset 0x12:
 * EI_CLASS=1 (32-bit ELF): only ELF64 x86-64 is supported"); *img is then
 * empty. */
int elf_read(ElfImage *img, const uint8_t *data, size_t size, char *err, size_t err_size);
void elf_image_free(ElfImage *img);

const char *elf_skip_kind_name(ElfSkipKind kind);

#endif
