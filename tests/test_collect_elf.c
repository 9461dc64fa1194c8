/* collect/: the ELF reader, block splitting and extract, on ELF files built
 * here byte by byte (no toolchain needed): a known function's exact block
 * boundaries, with and without symbols, and hostile files (truncated,
 * wrong class or machine, offsets past the end, overflowing sizes,
 * overlapping sections, random corruption) that must give an error or a
 * counted skip, never a read outside the buffer. */
#include <elf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collect/block_split.h"
#include "collect/elf_reader.h"
#include "collect/extract.h"
#include "io/block_io.h"
#include "testing.h"
#include "util/rng.h"

/* f: xor eax,eax; test rdi,rdi; je done      [0,7)
 * loop: add rax,rdi; dec rdi; jne loop        [7,15)
 *       call g                                [15,20)
 * done: imul rax,rax,3; ret                   [20,25)
 * g:    mov rax,rdi; syscall                  [25,30)
 *       add rax,1                             [30,34)  (h starts next: a leader only through its symbol)
 * h:    shl rax,2; ret                        [34,39) */
static const uint8_t known_code[] = {
    0x31, 0xc0, 0x48, 0x85, 0xff, 0x74, 0x0d,                   /* 0 */
    0x48, 0x01, 0xf8, 0x48, 0xff, 0xcf, 0x75, 0xf8,             /* 7 */
    0xe8, 0x05, 0x00, 0x00, 0x00,                               /* 15: call +5 = 25 */
    0x48, 0x6b, 0xc0, 0x03, 0xc3,                               /* 20 */
    0x48, 0x89, 0xf8, 0x0f, 0x05,                               /* 25 */
    0x48, 0x83, 0xc0, 0x01,                                     /* 30 */
    0x48, 0xc1, 0xe0, 0x02, 0xc3,                               /* 34 */
};
static const size_t known_offsets[] = {0, 7, 15, 20, 25, 30, 34};
static const size_t known_sizes[] = {7, 8, 5, 5, 5, 4, 5};

#define TEXT_ADDRESS 0x401000

/* Layout of the test file. */
enum { TEXT_OFF = 64, SYMTAB_OFF = 104, NUM_SYMS = 4, STRTAB_OFF = SYMTAB_OFF + NUM_SYMS * 24 };
static const char strtab[] = "\0f\0g\0h";                            /* names at 1, 3, 5 */
static const char shstrtab[] = "\0.text\0.symtab\0.strtab\0.shstrtab"; /* 1, 7, 15, 23 */
#define SHSTRTAB_OFF (STRTAB_OFF + sizeof strtab)
#define SHOFF ((SHSTRTAB_OFF + sizeof shstrtab + 7) & ~(size_t)7)
#define NUM_SECTIONS 5
#define FILE_SIZE (SHOFF + NUM_SECTIONS * sizeof(Elf64_Shdr))

/* Offset of a field of section header i. */
#define SH_FIELD(i, field) (SHOFF + (i) * sizeof(Elf64_Shdr) + offsetof(Elf64_Shdr, field))

static void put(uint8_t *buf, size_t offset, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; i++) buf[offset + i] = (uint8_t)(value >> (8 * i));
}

/* An ELF64 x86-64 executable holding known_code in .text at TEXT_ADDRESS,
 * symbols f, g, h. */
static uint8_t *build_elf(size_t *size) {
  uint8_t *b = calloc(1, FILE_SIZE);
  Elf64_Ehdr h = {0};
  memcpy(h.e_ident, ELFMAG, SELFMAG);
  h.e_ident[EI_CLASS] = ELFCLASS64;
  h.e_ident[EI_DATA] = ELFDATA2LSB;
  h.e_ident[EI_VERSION] = EV_CURRENT;
  h.e_type = ET_EXEC;
  h.e_machine = EM_X86_64;
  h.e_version = EV_CURRENT;
  h.e_entry = TEXT_ADDRESS;
  h.e_ehsize = sizeof h;
  h.e_shoff = SHOFF;
  h.e_shentsize = sizeof(Elf64_Shdr);
  h.e_shnum = NUM_SECTIONS;
  h.e_shstrndx = 4;
  memcpy(b, &h, sizeof h);
  memcpy(b + TEXT_OFF, known_code, sizeof known_code);
  const uint64_t sym_values[] = {0, 0, 25, 34};
  for (int i = 1; i < NUM_SYMS; i++) {
    Elf64_Sym s = {0};
    s.st_name = 2 * i - 1;
    s.st_info = ELF64_ST_INFO(STB_GLOBAL, STT_FUNC);
    s.st_shndx = 1;
    s.st_value = TEXT_ADDRESS + sym_values[i];
    memcpy(b + SYMTAB_OFF + i * sizeof s, &s, sizeof s);
  }
  memcpy(b + STRTAB_OFF, strtab, sizeof strtab);
  memcpy(b + SHSTRTAB_OFF, shstrtab, sizeof shstrtab);
  Elf64_Shdr sh[NUM_SECTIONS] = {{0}};
  sh[1] = (Elf64_Shdr){.sh_name = 1, .sh_type = SHT_PROGBITS, .sh_flags = SHF_ALLOC | SHF_EXECINSTR,
                       .sh_addr = TEXT_ADDRESS, .sh_offset = TEXT_OFF, .sh_size = sizeof known_code, .sh_addralign = 16};
  sh[2] = (Elf64_Shdr){.sh_name = 7, .sh_type = SHT_SYMTAB, .sh_offset = SYMTAB_OFF, .sh_size = NUM_SYMS * 24,
                       .sh_link = 3, .sh_info = 1, .sh_entsize = sizeof(Elf64_Sym), .sh_addralign = 8};
  sh[3] = (Elf64_Shdr){.sh_name = 15, .sh_type = SHT_STRTAB, .sh_offset = STRTAB_OFF, .sh_size = sizeof strtab};
  sh[4] = (Elf64_Shdr){.sh_name = 23, .sh_type = SHT_STRTAB, .sh_offset = SHSTRTAB_OFF, .sh_size = sizeof shstrtab};
  memcpy(b + SHOFF, sh, sizeof sh);
  *size = FILE_SIZE;
  return b;
}

static void check_blocks(const BlockSplit *s, const size_t *offsets, const size_t *sizes, size_t n) {
  CHECK_MSG(s->num_blocks == n, "%zu blocks, expected %zu", s->num_blocks, n);
  for (size_t i = 0; i < n && i < s->num_blocks; i++)
    CHECK_MSG(s->blocks[i].offset == offsets[i] && s->blocks[i].size == sizes[i], "block %zu: [%zu,+%zu), expected [%zu,+%zu)",
              i, s->blocks[i].offset, s->blocks[i].size, offsets[i], sizes[i]);
}

static void test_block_boundaries(void) {
  const uint64_t starts[] = {TEXT_ADDRESS + 34, TEXT_ADDRESS, TEXT_ADDRESS + 25, 0x1234 /* elsewhere */};
  BlockSplit s = {0};
  block_split(known_code, sizeof known_code, TEXT_ADDRESS, starts, 4, &s);
  check_blocks(&s, known_offsets, known_sizes, 7);
  CHECK(s.instructions == 14 && s.undecodable_runs == 0 && s.misaligned_leaders == 0);
  CHECK(s.num_blocks == 7 && s.blocks[1].num_instructions == 3);
  block_split_free(&s);

  /* stripped: h is no leader; add rax,1 and h's body form one block */
  block_split(known_code, sizeof known_code, TEXT_ADDRESS, NULL, 0, &s);
  const size_t off[] = {0, 7, 15, 20, 25, 30}, size[] = {7, 8, 5, 5, 5, 9};
  check_blocks(&s, off, size, 6);
  block_split_free(&s);

  /* undecodable byte 0x06 (push es is invalid in 64-bit mode) in the middle */
  const uint8_t gap[] = {0x48, 0x01, 0xf8, 0x06, 0x06, 0x48, 0x01, 0xf8, 0xc3};
  block_split(gap, sizeof gap, 0, NULL, 0, &s);
  const size_t goff[] = {0, 5}, gsize[] = {3, 4};
  check_blocks(&s, goff, gsize, 2);
  CHECK(s.undecodable_runs == 1 && s.undecodable_bytes == 2 && s.first_undecodable == 3);
  block_split_free(&s);

  /* a jump into the middle of an instruction is counted, not followed */
  const uint8_t mid[] = {0xeb, 0x01, 0x48, 0x01, 0xf8, 0xc3};
  block_split(mid, sizeof mid, 0, NULL, 0, &s);
  const size_t moff[] = {0, 2}, msize[] = {2, 4};
  check_blocks(&s, moff, msize, 2);
  CHECK(s.misaligned_leaders == 1);
  block_split_free(&s);

  /* a section that ends inside an instruction: the partial bytes are undecodable */
  block_split(known_code, 17, TEXT_ADDRESS, NULL, 0, &s);
  CHECK(s.num_blocks == 2 && s.undecodable_bytes == 2 && s.first_undecodable == 15);
  block_split_free(&s);
}

static void test_read_valid(void) {
  size_t size;
  uint8_t *b = build_elf(&size);
  ElfImage img;
  char err[256] = "";
  CHECK_MSG(elf_read(&img, b, size, err, sizeof err) == 0, "%s", err);
  CHECK(img.num_sections == 1 && img.type == ET_EXEC);
  if (img.num_sections == 1) {
    CHECK(!strcmp(img.sections[0].name, ".text"));
    CHECK(img.sections[0].address == TEXT_ADDRESS && img.sections[0].size == sizeof known_code);
    CHECK(img.sections[0].data == b + TEXT_OFF);
  }
  CHECK(img.num_starts == 3 && img.num_symbol_tables == 1);
  if (img.num_starts == 3) CHECK(img.starts[0].address == TEXT_ADDRESS && img.starts[2].address == TEXT_ADDRESS + 34);
  elf_image_free(&img);

  /* extract: seven blocks with the symbols, all new; the same file again: all duplicates */
  Extractor x;
  extractor_init(&x, NULL);
  CHECK(extract_buffer(&x, "t.elf", b, size, err, sizeof err) == 0);
  CHECK(x.blocks == 7 && x.written == 7 && x.duplicates == 0 && x.sections == 1 && x.bytes == sizeof known_code);
  CHECK(extract_buffer(&x, "t.elf", b, size, err, sizeof err) == 0);
  CHECK(x.blocks == 14 && x.written == 7 && x.duplicates == 7 && x.files == 2);
  extractor_free(&x);

  /* object file: symbol values are section offsets, the section at 0 */
  put(b, offsetof(Elf64_Ehdr, e_type), ET_REL, 2);
  put(b, SH_FIELD(1, sh_addr), 0, 8);
  for (int i = 1; i < NUM_SYMS; i++) {
    size_t v = SYMTAB_OFF + i * sizeof(Elf64_Sym) + offsetof(Elf64_Sym, st_value);
    uint64_t value;
    memcpy(&value, b + v, 8);
    put(b, v, value - TEXT_ADDRESS, 8);
  }
  CHECK(elf_read(&img, b, size, err, sizeof err) == 0);
  CHECK(img.num_starts == 3 && img.num_starts == 3 && img.starts[2].address == 34);
  elf_image_free(&img);

  /* stripped: no symbol table; six blocks */
  put(b, SH_FIELD(2, sh_type), SHT_NULL, 4);
  extractor_init(&x, NULL);
  CHECK(extract_buffer(&x, "s.o", b, size, err, sizeof err) == 0);
  CHECK(x.blocks == 6 && x.stripped_files == 1 && x.symbol_starts == 0);
  extractor_free(&x);
  free(b);
}

/* The file with one field changed must fail with `want` in the message. */
static void expect_error(size_t offset, uint64_t value, int bytes, size_t truncate, const char *want) {
  size_t size;
  uint8_t *b = build_elf(&size);
  if (bytes) put(b, offset, value, bytes);
  if (truncate) size = truncate;
  uint8_t *exact = malloc(size ? size : 1); /* exactly sized, so a sanitizer sees any overread */
  memcpy(exact, b, size);
  ElfImage img;
  char err[256] = "";
  CHECK_MSG(elf_read(&img, exact, size, err, sizeof err) == -1, "no error for '%s'", want);
  CHECK_MSG(strstr(err, want) != NULL, "error '%s' does not say '%s'", err, want);
  CHECK(img.num_sections == 0 && img.sections == NULL);
  free(exact);
  free(b);
}

static void test_bad_headers(void) {
  expect_error(0, 0, 0, 3, "offset 0: not an ELF file");
  expect_error(0, 0x7f454c47, 4, 0, "not an ELF file");
  expect_error(0, 0, 0, 40, "offset 40: file ends inside the ELF header (40 of 64 bytes)");
  expect_error(EI_CLASS, ELFCLASS32, 1, 0, "offset 0x4: EI_CLASS=1 (32-bit ELF)");
  expect_error(EI_DATA, ELFDATA2MSB, 1, 0, "offset 0x5: EI_DATA=2: not little-endian");
  expect_error(offsetof(Elf64_Ehdr, e_machine), EM_AARCH64, 2, 0, "offset 0x12: e_machine=183 (AArch64)");
  expect_error(offsetof(Elf64_Ehdr, e_machine), EM_386, 2, 0, "e_machine=3 (Intel 80386)");
  expect_error(offsetof(Elf64_Ehdr, e_type), ET_CORE, 2, 0, "e_type=4 (core dump)");
  expect_error(offsetof(Elf64_Ehdr, e_shoff), 0, 8, 0, "e_shoff=0: no section headers");
  expect_error(offsetof(Elf64_Ehdr, e_shoff), 1u << 30, 8, 0, "section header table at 0x40000000 is past the end");
  expect_error(offsetof(Elf64_Ehdr, e_shoff), UINT64_MAX - 8, 8, 0, "past the end of the file");
  expect_error(offsetof(Elf64_Ehdr, e_shentsize), 40, 2, 0, "e_shentsize=40, expected 64");
  expect_error(offsetof(Elf64_Ehdr, e_shnum), 5000, 2, 0, "table of 5000 entries runs past the end");
  expect_error(0, 0, 0, FILE_SIZE - 1, "table of 5 entries runs past the end of the file");
  /* extended numbering: e_shnum 0 sends the reader to section 0's sh_size */
  expect_error(offsetof(Elf64_Ehdr, e_shnum), 0, 2, 0, "table of 0 entries");
}

/* The file with one field changed is read, with one counted skip of `kind`. */
static void expect_skip(size_t offset, uint64_t value, int bytes, ElfSkipKind kind, const char *want,
                        int sections_left) {
  size_t size;
  uint8_t *b = build_elf(&size);
  put(b, offset, value, bytes);
  ElfImage img;
  char err[256] = "";
  CHECK_MSG(elf_read(&img, b, size, err, sizeof err) == 0, "error instead of a skip: %s", err);
  CHECK_MSG(img.skip_count[kind] == 1, "kind %s counted %ld times", elf_skip_kind_name(kind), img.skip_count[kind]);
  CHECK_MSG(strstr(img.skip_example[kind], want) != NULL, "'%s' does not say '%s'", img.skip_example[kind], want);
  CHECK(img.num_sections == sections_left);
  for (int i = 0; i < img.num_sections; i++)
    CHECK(img.sections[i].data >= b && img.sections[i].data + img.sections[i].size <= b + size);
  Extractor x; /* and extraction goes on with what is left */
  extractor_init(&x, NULL);
  CHECK(extract_buffer(&x, "f", b, size, err, sizeof err) == 0 && x.elf_skips[kind] == 1);
  extractor_free(&x);
  elf_image_free(&img);
  free(b);
}

static void test_counted_skips(void) {
  expect_skip(SH_FIELD(1, sh_offset), FILE_SIZE + 1, 8, ELF_SKIP_PAST_EOF, "section .text [1] at offset 0x", 0);
  expect_skip(SH_FIELD(1, sh_size), UINT64_MAX - 16, 8, ELF_SKIP_PAST_EOF, ".text [1]", 0); /* offset+size wraps */
  expect_skip(SH_FIELD(1, sh_size), FILE_SIZE, 8, ELF_SKIP_PAST_EOF, "size 0x", 0);
  expect_skip(SH_FIELD(1, sh_type), SHT_NOBITS, 4, ELF_SKIP_NOBITS, ".text [1]", 0);
  expect_skip(SH_FIELD(2, sh_entsize), 0, 8, ELF_SKIP_BAD_SYMTAB, ".symtab [2]", 1);
  expect_skip(SH_FIELD(2, sh_offset), 1u << 31, 8, ELF_SKIP_BAD_SYMTAB, "offset 0x80000000", 1);
  /* .strtab turned into a second executable section over the same bytes */
  size_t size;
  uint8_t *b = build_elf(&size);
  put(b, SH_FIELD(3, sh_flags), SHF_ALLOC | SHF_EXECINSTR, 8);
  put(b, SH_FIELD(3, sh_type), SHT_PROGBITS, 4);
  put(b, SH_FIELD(3, sh_offset), TEXT_OFF + 4, 8);
  put(b, SH_FIELD(3, sh_size), 8, 8);
  ElfImage img;
  char err[256];
  CHECK(elf_read(&img, b, size, err, sizeof err) == 0);
  CHECK(img.num_sections == 1 && img.skip_count[ELF_SKIP_OVERLAP] == 1);
  CHECK(strstr(img.skip_example[ELF_SKIP_OVERLAP], "section .strtab [3] at offset 0x44 overlaps section .text [1]"));
  elf_image_free(&img);
  free(b);

  /* unreadable section names: "[N]" */
  b = build_elf(&size);
  put(b, offsetof(Elf64_Ehdr, e_shstrndx), 99, 2);
  CHECK(elf_read(&img, b, size, err, sizeof err) == 0 && img.num_sections == 1 && !strcmp(img.sections[0].name, "[1]"));
  elf_image_free(&img);
  put(b, offsetof(Elf64_Ehdr, e_shstrndx), 4, 2);
  put(b, SH_FIELD(1, sh_name), 1000, 4);
  CHECK(elf_read(&img, b, size, err, sizeof err) == 0 && !strcmp(img.sections[0].name, "[1]"));
  elf_image_free(&img);
  /* a name that is not NUL-terminated inside its table */
  put(b, SH_FIELD(1, sh_name), 1, 4);
  put(b, SH_FIELD(4, sh_size), 3, 8);
  CHECK(elf_read(&img, b, size, err, sizeof err) == 0 && !strcmp(img.sections[0].name, "[1]"));
  elf_image_free(&img);
  free(b);
}

/* Every prefix of the file, and random corruption of its headers: an error
 * or a result inside the buffer, never a crash. */
static void test_corruption(void) {
  size_t size;
  uint8_t *b = build_elf(&size);
  char err[256];
  long errors = 0, reads = 0;
  for (size_t n = 0; n <= size; n++) {
    uint8_t *exact = malloc(n ? n : 1);
    memcpy(exact, b, n);
    ElfImage img;
    if (elf_read(&img, exact, n, err, sizeof err)) errors++;
    else reads++;
    for (int i = 0; i < img.num_sections; i++) CHECK(img.sections[i].data + img.sections[i].size <= exact + n);
    elf_image_free(&img);
    free(exact);
  }
  CHECK(reads == 1 && errors == (long)size); /* only the whole file has its section table */

  Rng rng;
  rng_seed(&rng, 8);
  long ok = 0;
  for (int iter = 0; iter < 20000; iter++) {
    uint8_t *c = malloc(size);
    memcpy(c, b, size);
    int flips = 1 + (int)((uint32_t)rng_next(&rng) % 4);
    for (int k = 0; k < flips; k++) {
      /* mostly the headers, where the offsets and sizes live */
      size_t at = (uint32_t)rng_next(&rng) % 3 ? ((uint32_t)rng_next(&rng) % 2 ? (uint32_t)rng_next(&rng) % 64
                                                                   : SHOFF + (uint32_t)rng_next(&rng) % (size - SHOFF))
                                         : (uint32_t)rng_next(&rng) % size;
      c[at] = (uint8_t)(uint32_t)rng_next(&rng);
    }
    Extractor x;
    extractor_init(&x, NULL);
    if (extract_buffer(&x, "fuzz", c, size, err, sizeof err) == 0) ok++;
    else CHECK(strncmp(err, "fuzz: ", 6) == 0);
    extractor_free(&x);
    free(c);
  }
  CHECK(ok > 1000); /* many corruptions still leave a readable file */
  free(b);
}

/* 20,000 section headers over the same code: decoded once, the rest counted. */
static void test_many_overlapping_sections(void) {
  size_t size;
  uint8_t *b = build_elf(&size);
  const int n = 20000;
  size_t big_size = size + (size_t)n * sizeof(Elf64_Shdr);
  uint8_t *big = malloc(big_size);
  memcpy(big, b, size);
  Elf64_Shdr text;
  memcpy(&text, b + SHOFF + sizeof text, sizeof text);
  memset(big + size, 0, sizeof text);
  for (int i = 1; i < n; i++) memcpy(big + size + (size_t)i * sizeof text, &text, sizeof text);
  put(big, offsetof(Elf64_Ehdr, e_shoff), size, 8);
  put(big, offsetof(Elf64_Ehdr, e_shnum), n, 2);
  put(big, offsetof(Elf64_Ehdr, e_shstrndx), 0, 2);
  Extractor x;
  extractor_init(&x, NULL);
  char err[256];
  CHECK(extract_buffer(&x, "many", big, big_size, err, sizeof err) == 0);
  CHECK(x.sections == 1 && x.elf_skips[ELF_SKIP_OVERLAP] == n - 2 && x.written == 6);
  extractor_free(&x);
  free(big);
  free(b);
}

/* Records written through a sink: fingerprint, addresses, no labels. */
static void test_records(void) {
  size_t size;
  uint8_t *b = build_elf(&size);
  char path[] = "/tmp/granite_test_collect_XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  BlockSink sink;
  CHECK(block_sink_open(&sink, path, NULL, NULL, 0) == 0);
  Extractor x;
  extractor_init(&x, &sink);
  char err[256];
  CHECK(extract_buffer(&x, "dir/t.elf", b, size, err, sizeof err) == 0);
  CHECK(block_sink_commit(&sink) == 0);
  extractor_free(&x);
  BlockReader r;
  CHECK(block_reader_open(&r, path) == 0);
  Gematria__BasicBlockWithThroughputProto *rec;
  int n = 0;
  while (block_reader_next(&r, &rec) == 1) {
    const Gematria__BasicBlockProto *bb = rec->basic_block;
    char want[64];
    snprintf(want, sizeof want, "dir/t.elf:.text:0x%x+%zu", TEXT_ADDRESS + (unsigned)known_offsets[n], known_sizes[n]);
    CHECK_MSG(!strcmp(bb->fingerprint, want), "fingerprint %s, expected %s", bb->fingerprint, want);
    CHECK(rec->n_inverse_throughputs == 0);
    CHECK(bb->n_machine_instructions == bb->n_canonicalized_instructions && bb->n_machine_instructions > 0);
    CHECK(bb->machine_instructions[0]->address == TEXT_ADDRESS + known_offsets[n]);
    size_t bytes = 0;
    for (size_t i = 0; i < bb->n_machine_instructions; i++) bytes += bb->machine_instructions[i]->machine_code.len;
    CHECK(bytes == known_sizes[n]);
    block_record_free(rec);
    n++;
  }
  CHECK(n == 7);
  block_reader_close(&r);
  unlink(path);
  free(b);
}

int main(void) {
  test_block_boundaries();
  test_read_valid();
  test_bad_headers();
  test_counted_skips();
  test_corruption();
  test_many_overlapping_sections();
  test_records();
  return test_summary("test_collect_elf");
}
