#include "collect/elf_reader.h"

#include <elf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/common.h"

const char *elf_skip_kind_name(ElfSkipKind kind) {
  switch (kind) {
  case ELF_SKIP_NOBITS: return "executable section without file data (SHT_NOBITS)";
  case ELF_SKIP_PAST_EOF: return "section data past the end of the file";
  case ELF_SKIP_OVERLAP: return "section overlapping an earlier executable section";
  case ELF_SKIP_BAD_SYMTAB: return "unreadable symbol table (symbols ignored)";
  default: return "?";
  }
}

static void set_error(char *err, size_t err_size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, err_size, fmt, ap);
  va_end(ap);
}

static void count_skip(ElfImage *img, ElfSkipKind kind, const char *fmt, ...) {
  if (img->skip_count[kind]++ == 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(img->skip_example[kind], sizeof img->skip_example[kind], fmt, ap);
    va_end(ap);
  }
}

/* offset + length lies inside a buffer of `size` bytes (no overflow). */
static int in_bounds(uint64_t offset, uint64_t length, size_t size) {
  return offset <= size && length <= size - offset;
}

static const char *machine_name(unsigned m) {
  switch (m) {
  case EM_386: return "Intel 80386";
  case EM_ARM: return "ARM";
  case EM_AARCH64: return "AArch64";
  case EM_RISCV: return "RISC-V";
  case EM_PPC64: return "PowerPC64";
  case EM_S390: return "S/390";
  case EM_MIPS: return "MIPS";
  default: return "not x86-64";
  }
}

/* Header checks: one error naming the field and its offset in the file. */
static int check_header(const Elf64_Ehdr *h, size_t size, char *err, size_t err_size) {
  const unsigned char *id = h->e_ident;
  if (id[EI_CLASS] != ELFCLASS64) {
    set_error(err, err_size, "offset 0x%x: EI_CLASS=%u (%s): only ELF64 x86-64 is supported", EI_CLASS,
              id[EI_CLASS], id[EI_CLASS] == ELFCLASS32 ? "32-bit ELF" : "invalid class");
    return -1;
  }
  if (id[EI_DATA] != ELFDATA2LSB) {
    set_error(err, err_size, "offset 0x%x: EI_DATA=%u: not little-endian, so not x86-64", EI_DATA, id[EI_DATA]);
    return -1;
  }
  if (h->e_machine != EM_X86_64) {
    set_error(err, err_size, "offset 0x%zx: e_machine=%u (%s): only x86-64 (62) is supported",
              offsetof(Elf64_Ehdr, e_machine), h->e_machine, machine_name(h->e_machine));
    return -1;
  }
  if (h->e_type != ET_EXEC && h->e_type != ET_DYN && h->e_type != ET_REL) {
    set_error(err, err_size, "offset 0x%zx: e_type=%u (%s): not an executable, shared library or object file",
              offsetof(Elf64_Ehdr, e_type), h->e_type, h->e_type == ET_CORE ? "core dump" : "unknown type");
    return -1;
  }
  if (h->e_shoff == 0) {
    set_error(err, err_size, "offset 0x%zx: e_shoff=0: no section headers, so no code sections to read",
              offsetof(Elf64_Ehdr, e_shoff));
    return -1;
  }
  if (h->e_shentsize != sizeof(Elf64_Shdr)) {
    set_error(err, err_size, "offset 0x%zx: e_shentsize=%u, expected %zu", offsetof(Elf64_Ehdr, e_shentsize),
              h->e_shentsize, sizeof(Elf64_Shdr));
    return -1;
  }
  if (!in_bounds(h->e_shoff, sizeof(Elf64_Shdr), size)) {
    set_error(err, err_size, "offset 0x%zx: section header table at 0x%llx is past the end of the file (%zu bytes)",
              offsetof(Elf64_Ehdr, e_shoff), (unsigned long long)h->e_shoff, size);
    return -1;
  }
  return 0;
}

/* Section headers may sit at any alignment in a hostile file: copy them. */
static Elf64_Shdr section_header(const uint8_t *data, uint64_t shoff, size_t i) {
  Elf64_Shdr s;
  memcpy(&s, data + shoff + i * sizeof s, sizeof s);
  return s;
}

/* The NUL-terminated string at `offset` of string table `strtab`, or NULL. */
static const char *table_string(const uint8_t *data, size_t size, const Elf64_Shdr *strtab, uint64_t offset) {
  if (!strtab || strtab->sh_type != SHT_STRTAB || !in_bounds(strtab->sh_offset, strtab->sh_size, size) ||
      offset >= strtab->sh_size)
    return NULL;
  const char *s = (const char *)data + strtab->sh_offset + offset;
  return memchr(s, '\0', strtab->sh_size - offset) ? s : NULL;
}

static int compare_starts(const void *a, const void *b) {
  const struct ElfSymbolStart *x = a, *y = b;
  if (x->section != y->section) return x->section < y->section ? -1 : 1;
  return (x->address > y->address) - (x->address < y->address);
}

static int compare_by_offset(const void *a, const void *b) {
  const ElfCodeSection *x = *(ElfCodeSection *const *)a, *y = *(ElfCodeSection *const *)b;
  if (x->file_offset != y->file_offset) return x->file_offset < y->file_offset ? -1 : 1;
  return (x->index > y->index) - (x->index < y->index);
}

/* A hostile file can point thousands of section headers at the same bytes;
 * decode each file byte once: later sections overlapping a kept one go. */
static void drop_overlapping_sections(ElfImage *img) {
  int n = img->num_sections;
  if (n < 2) return;
  ElfCodeSection **order = xmalloc(n * sizeof *order);
  for (int i = 0; i < n; i++) order[i] = &img->sections[i];
  qsort(order, n, sizeof *order, compare_by_offset);
  char *drop = xcalloc(n, 1);
  uint64_t kept_end = 0;
  const ElfCodeSection *kept = NULL;
  for (int i = 0; i < n; i++) {
    ElfCodeSection *s = order[i];
    if (kept && s->file_offset < kept_end) {
      drop[s - img->sections] = 1;
      count_skip(img, ELF_SKIP_OVERLAP, "section %s [%u] at offset 0x%llx overlaps section %s [%u]", s->name,
                 s->index, (unsigned long long)s->file_offset, kept->name, kept->index);
      continue;
    }
    kept = s;
    kept_end = s->file_offset + s->size;
  }
  int m = 0;
  for (int i = 0; i < n; i++)
    if (!drop[i]) img->sections[m++] = img->sections[i];
  img->num_sections = m;
  free(order);
  free(drop);
}

/* position_of[shndx]: index into img->sections of that section header, or -1. */
static void read_symbols(ElfImage *img, const uint8_t *data, size_t size, const Elf64_Shdr *symtab,
                         unsigned symtab_index, const char *symtab_name, const int *position_of,
                         uint64_t shnum, const Elf64_Shdr *strtab) {
  if (symtab->sh_entsize != sizeof(Elf64_Sym) || !in_bounds(symtab->sh_offset, symtab->sh_size, size)) {
    count_skip(img, ELF_SKIP_BAD_SYMTAB, "symbol table %s [%u]: offset 0x%llx, size 0x%llx, entry size %llu",
               symtab_name, symtab_index, (unsigned long long)symtab->sh_offset,
               (unsigned long long)symtab->sh_size, (unsigned long long)symtab->sh_entsize);
    return;
  }
  img->num_symbol_tables++;
  size_t count = symtab->sh_size / sizeof(Elf64_Sym);
  size_t cap = img->num_starts;
  for (size_t i = 1; i < count; i++) { /* entry 0 is the undefined symbol */
    Elf64_Sym sym;
    memcpy(&sym, data + symtab->sh_offset + i * sizeof sym, sizeof sym);
    int type = ELF64_ST_TYPE(sym.st_info);
    if (type != STT_FUNC && type != STT_NOTYPE) continue;
    if (sym.st_shndx == SHN_UNDEF || sym.st_shndx >= SHN_LORESERVE) continue;
    int pos = sym.st_shndx < shnum ? position_of[sym.st_shndx] : -1;
    if (pos < 0) continue;
    const ElfCodeSection *s = &img->sections[pos];
    /* object files give symbol values relative to their section */
    uint64_t address = img->type == ET_REL ? s->address + sym.st_value : sym.st_value;
    if (address < s->address || address - s->address >= s->size) continue;
    grow_array((void **)&img->starts, &cap, img->num_starts + 1, sizeof *img->starts);
    const char *name = table_string(data, size, strtab, sym.st_name);
    img->starts[img->num_starts++] = (struct ElfSymbolStart){pos, address, name && *name ? name : NULL};
  }
}

int elf_read(ElfImage *img, const uint8_t *data, size_t size, char *err, size_t err_size) {
  memset(img, 0, sizeof *img);
  if (size < SELFMAG || memcmp(data, ELFMAG, SELFMAG) != 0) {
    set_error(err, err_size, "offset 0: not an ELF file (no \\177ELF magic)");
    return -1;
  }
  if (size < sizeof(Elf64_Ehdr)) {
    set_error(err, err_size, "offset %zu: file ends inside the ELF header (%zu of %zu bytes)", size, size,
              sizeof(Elf64_Ehdr));
    return -1;
  }
  Elf64_Ehdr h;
  memcpy(&h, data, sizeof h);
  if (check_header(&h, size, err, err_size)) return -1;
  img->type = h.e_type;

  /* Extended numbering (gABI): more than 0xff00 sections keep their count
   * and the string table index in section header 0. */
  Elf64_Shdr first = section_header(data, h.e_shoff, 0);
  uint64_t shnum = h.e_shnum ? h.e_shnum : first.sh_size;
  uint64_t shstrndx = h.e_shstrndx == SHN_XINDEX ? first.sh_link : h.e_shstrndx;
  if (shnum == 0 || shnum > (size - h.e_shoff) / sizeof(Elf64_Shdr)) {
    set_error(err, err_size, "offset 0x%llx: section header table of %llu entries runs past the end of the file (%zu bytes)",
              (unsigned long long)h.e_shoff, (unsigned long long)shnum, size);
    return -1;
  }
  Elf64_Shdr names;
  int have_names = shstrndx < shnum;
  if (have_names) names = section_header(data, h.e_shoff, shstrndx);

  size_t cap_sections = 0;
  for (uint64_t i = 0; i < shnum; i++) {
    Elf64_Shdr s = section_header(data, h.e_shoff, i);
    if (!(s.sh_flags & SHF_EXECINSTR) || s.sh_size == 0) continue;
    const char *name = have_names ? table_string(data, size, &names, s.sh_name) : NULL;
    char label[64];
    if (name) snprintf(label, sizeof label, "%s", name);
    else snprintf(label, sizeof label, "[%llu]", (unsigned long long)i);
    if (s.sh_type == SHT_NOBITS) {
      count_skip(img, ELF_SKIP_NOBITS, "section %s [%llu]", label, (unsigned long long)i);
      continue;
    }
    if (!in_bounds(s.sh_offset, s.sh_size, size)) {
      count_skip(img, ELF_SKIP_PAST_EOF, "section %s [%llu] at offset 0x%llx, size 0x%llx: file has %zu bytes",
                 label, (unsigned long long)i, (unsigned long long)s.sh_offset, (unsigned long long)s.sh_size,
                 size);
      continue;
    }
    grow_array((void **)&img->sections, &cap_sections, (size_t)img->num_sections + 1, sizeof *img->sections);
    ElfCodeSection *c = &img->sections[img->num_sections++];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", label);
    c->index = (unsigned)i;
    c->address = s.sh_addr;
    c->file_offset = s.sh_offset;
    c->data = data + s.sh_offset;
    c->size = s.sh_size;
  }
  drop_overlapping_sections(img);

  int *position_of = xmalloc(shnum * sizeof *position_of);
  for (uint64_t i = 0; i < shnum; i++) position_of[i] = -1;
  for (int p = 0; p < img->num_sections; p++) position_of[img->sections[p].index] = p;
  for (uint64_t i = 0; i < shnum && img->num_sections; i++) {
    Elf64_Shdr s = section_header(data, h.e_shoff, i);
    if (s.sh_type != SHT_SYMTAB && s.sh_type != SHT_DYNSYM) continue;
    Elf64_Shdr strtab = section_header(data, h.e_shoff, s.sh_link < shnum ? s.sh_link : 0);
    read_symbols(img, data, size, &s, (unsigned)i, s.sh_type == SHT_SYMTAB ? ".symtab" : ".dynsym", position_of,
                 shnum, s.sh_link < shnum ? &strtab : NULL);
  }
  free(position_of);
  if (img->num_starts) {
    qsort(img->starts, img->num_starts, sizeof *img->starts, compare_starts);
    size_t m = 1; /* .symtab and .dynsym name the same functions: keep each start once */
    for (size_t i = 1; i < img->num_starts; i++) {
      if (compare_starts(&img->starts[i], &img->starts[m - 1])) img->starts[m++] = img->starts[i];
      else if (!img->starts[m - 1].name) img->starts[m - 1].name = img->starts[i].name;
    }
    img->num_starts = m;
  }
  return 0;
}

void elf_image_free(ElfImage *img) {
  free(img->sections);
  free(img->starts);
  memset(img, 0, sizeof *img);
}
