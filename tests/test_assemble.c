/* Assembly in (x86/assemble.h, granite_assemble, granite_canonicalize_hex):
 * Intel and AT&T text give the bytes GNU as documents; as's errors come back
 * with the line number; no `as` on PATH is a clear error; a corrupt or foreign
 * object is refused without crashing; no temporary files are left behind. */
#include <dirent.h>
#include <elf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "granite.h"
#include "testing.h"
#include "x86/assemble.h"

static int assemble_hex(const char *text, int att, char *hex, size_t hex_size, char *err, size_t err_size) {
  uint8_t *code;
  size_t n;
  if (x86_assemble(text, att, "t.s", &code, &n, err, err_size) != 0) return -1;
  hex[0] = 0;
  for (size_t i = 0; i < n && 2 * i + 2 < hex_size; i++) sprintf(hex + 2 * i, "%02x", code[i]);
  free(code);
  return 0;
}

static int count_temp_dirs(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  for (struct dirent *e; d && (e = readdir(d));) n += !strncmp(e->d_name, "granite-as-", 11);
  if (d) closedir(d);
  return n;
}

int main(void) {
  char hex[256], err[512];
  /* private TMPDIR: count what is left behind */
  char tmp[] = "/tmp/granite_test_assemble_XXXXXX";
  CHECK(mkdtemp(tmp) != NULL);
  setenv("TMPDIR", tmp, 1);

  CHECK(assemble_hex("add rax, rbx; imul rcx, rax", 0, hex, sizeof hex, err, sizeof err) == 0);
  CHECK_MSG(!strcmp(hex, "4801d8480fafc8"), "intel: %s", hex);
  CHECK(assemble_hex("addq %rbx, %rax\nimulq %rax, %rcx\n", 1, hex, sizeof hex, err, sizeof err) == 0);
  CHECK_MSG(!strcmp(hex, "4801d8480fafc8"), "att: %s", hex);
  CHECK(assemble_hex("mov eax, dword ptr [rsp+0x6c] # a comment", 0, hex, sizeof hex, err, sizeof err) == 0);
  CHECK_MSG(!strcmp(hex, "8b44246c"), "memory operand: %s", hex);
  /* labels inside the block resolve */
  CHECK(assemble_hex("top: dec rcx\njnz top", 0, hex, sizeof hex, err, sizeof err) == 0);
  CHECK_MSG(!strcmp(hex, "48ffc975fb"), "loop: %s", hex);

  /* as's message, with our name for the text and its line number */
  CHECK(assemble_hex("nop\nnop\nfrobnicate rax", 0, hex, sizeof hex, err, sizeof err) == -1);
  CHECK_MSG(strstr(err, "t.s:3:") && strstr(err, "frobnicate"), "error: %s", err);
  CHECK(assemble_hex("add rax, rbx", 1, hex, sizeof hex, err, sizeof err) == -1); /* Intel given as AT&T */
  CHECK_MSG(strstr(err, "t.s:1:") != NULL, "error: %s", err);
  CHECK(assemble_hex("", 0, hex, sizeof hex, err, sizeof err) == -1);
  CHECK_MSG(strstr(err, "no instructions") != NULL, "empty: %s", err);
  CHECK(assemble_hex(".data\n.byte 1", 0, hex, sizeof hex, err, sizeof err) == -1);
  CHECK_MSG(strstr(err, "no instructions") != NULL, "data only: %s", err);

  /* the C API */
  uint8_t *code = NULL;
  size_t size = 0;
  CHECK(granite_assemble("ret", GRANITE_SYNTAX_INTEL, &code, &size, err, sizeof err) == 0 && size == 1 &&
        code[0] == 0xc3);
  granite_buffer_free(code);
  CHECK(granite_assemble(NULL, GRANITE_SYNTAX_INTEL, &code, &size, err, sizeof err) == GRANITE_ERROR_ARGUMENT);
  char tokens[256];
  long n = granite_canonicalize_hex("4801d8", tokens, sizeof tokens, err, sizeof err);
  CHECK_MSG(n > 0 && !strcmp(tokens, "ADD _D_ RAX EFLAGS _D_ RAX RBX _D_\n"), "tokens: %s", tokens);
  CHECK(granite_canonicalize_hex("4801d8", tokens, 5, err, sizeof err) == n && strlen(tokens) == 4);
  CHECK(granite_canonicalize_hex("4801d", tokens, sizeof tokens, err, sizeof err) == -1);
  CHECK(granite_canonicalize_hex("zz", tokens, sizeof tokens, err, sizeof err) == -1);
  CHECK(granite_canonicalize_hex("0f0b0f", tokens, sizeof tokens, err, sizeof err) == -1);
  CHECK_MSG(strstr(err, "offset") != NULL, "undecodable: %s", err);

  /* corrupt objects: refused, never read out of bounds */
  uint8_t obj[512];
  memset(obj, 0, sizeof obj);
  Elf64_Ehdr *eh = (Elf64_Ehdr *)obj;
  CHECK(x86_elf_text_section(obj, sizeof obj, &code, &size, err, sizeof err) == -1); /* no magic */
  memcpy(eh->e_ident, ELFMAG, SELFMAG);
  eh->e_ident[EI_CLASS] = ELFCLASS64;
  eh->e_machine = EM_X86_64;
  eh->e_shentsize = sizeof(Elf64_Shdr);
  eh->e_shoff = 64;
  eh->e_shnum = 100; /* more headers than the file holds */
  CHECK(x86_elf_text_section(obj, sizeof obj, &code, &size, err, sizeof err) == -1);
  eh->e_shnum = 2;
  eh->e_shstrndx = 1;
  Elf64_Shdr *sh = (Elf64_Shdr *)(obj + 64);
  sh[1].sh_offset = 400;
  sh[1].sh_size = 7;
  memcpy(obj + 400, "\0.text", 7);
  sh[0].sh_name = 1;
  sh[0].sh_type = SHT_PROGBITS;
  sh[0].sh_offset = 300;
  sh[0].sh_size = 1000; /* .text past the end */
  CHECK(x86_elf_text_section(obj, sizeof obj, &code, &size, err, sizeof err) == -1);
  CHECK_MSG(strstr(err, "outside") != NULL, "%s", err);
  sh[0].sh_size = 2;
  obj[300] = 0x90, obj[301] = 0xc3;
  CHECK(x86_elf_text_section(obj, sizeof obj, &code, &size, err, sizeof err) == 0 && size == 2 && code[1] == 0xc3);
  free(code);
  sh[0].sh_name = 1000; /* name outside the string table */
  CHECK(x86_elf_text_section(obj, sizeof obj, &code, &size, err, sizeof err) == -1);
  CHECK(x86_elf_text_section(obj, 40, &code, &size, err, sizeof err) == -1); /* truncated header */

  /* no assembler on PATH */
  char *path = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
  setenv("PATH", "", 1);
  CHECK(assemble_hex("nop", 0, hex, sizeof hex, err, sizeof err) == -1);
  CHECK_MSG(strstr(err, "`as` is not on PATH") != NULL, "no as: %s", err);
  if (path) setenv("PATH", path, 1);
  free(path);

  CHECK_MSG(count_temp_dirs(tmp) == 0, "%d temporary directories left in %s", count_temp_dirs(tmp), tmp);
  rmdir(tmp);
  return test_summary("test_assemble");
}
