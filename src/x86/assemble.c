#include "x86/assemble.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void say(char *err, size_t err_size, const char *fmt, const char *a, const char *b) {
  if (err && err_size) snprintf(err, err_size, fmt, a, b);
}

int x86_elf_text_section(const uint8_t *obj, size_t n, uint8_t **code, size_t *size, char *err, size_t err_size) {
  const Elf64_Ehdr *eh = (const Elf64_Ehdr *)obj;
  if (n < sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
      eh->e_machine != EM_X86_64) {
    say(err, err_size, "the assembler's output is not an ELF64 x86-64 object%s%s", "", "");
    return -1;
  }
  /* every offset checked against n before it is followed */
  if (eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shoff > n ||
      (n - eh->e_shoff) / sizeof(Elf64_Shdr) < eh->e_shnum || eh->e_shstrndx >= eh->e_shnum) {
    say(err, err_size, "the assembler's output has a bad section table%s%s", "", "");
    return -1;
  }
  const Elf64_Shdr *sh = (const Elf64_Shdr *)(obj + eh->e_shoff);
  const Elf64_Shdr *names = &sh[eh->e_shstrndx];
  if (names->sh_offset > n || names->sh_size > n - names->sh_offset) {
    say(err, err_size, "the assembler's output has a bad section name table%s%s", "", "");
    return -1;
  }
  const char *strtab = (const char *)obj + names->sh_offset;
  for (int i = 0; i < eh->e_shnum; i++) {
    if (sh[i].sh_name >= names->sh_size) continue;
    const char *name = strtab + sh[i].sh_name;
    if (strnlen(name, names->sh_size - sh[i].sh_name) == names->sh_size - sh[i].sh_name || strcmp(name, ".text"))
      continue;
    if (sh[i].sh_type != SHT_PROGBITS || sh[i].sh_offset > n || sh[i].sh_size > n - sh[i].sh_offset) {
      say(err, err_size, "the assembler's .text section lies outside the object%s%s", "", "");
      return -1;
    }
    if (sh[i].sh_size == 0) break;
    *code = malloc(sh[i].sh_size);
    if (!*code) {
      say(err, err_size, "out of memory%s%s", "", "");
      return -1;
    }
    memcpy(*code, obj + sh[i].sh_offset, sh[i].sh_size);
    *size = sh[i].sh_size;
    return 0;
  }
  say(err, err_size, "no instructions (the assembled .text section is empty)%s%s", "", "");
  return -1;
}

static int write_file(const char *path, const char *a, const char *b) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) return -1;
  FILE *f = fdopen(fd, "w");
  if (!f) {
    close(fd);
    return -1;
  }
  int bad = fputs(a, f) < 0 || fputs(b, f) < 0 || fputs("\n", f) < 0;
  return fclose(f) != 0 || bad ? -1 : 0;
}

static uint8_t *read_whole(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, len = 0;
  uint8_t *buf = malloc(cap);
  size_t got;
  while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
    len += got;
    if (len == cap) {
      uint8_t *bigger = realloc(buf, cap *= 2);
      if (!bigger) free(buf);
      buf = bigger;
    }
  }
  fclose(f);
  *n = len;
  return buf;
}

/* as writes "FILE: Assembler messages:" then "FILE:LINE: Error: ...". The
 * first error (else warning) line, with our temporary path replaced by the
 * user's name for the text. */
static void first_message(const char *log_path, const char *tmp_source, const char *source_name, char *err,
                          size_t err_size) {
  size_t n = 0;
  char *log = (char *)read_whole(log_path, &n);
  const char *pick = NULL;
  size_t pick_len = 0;
  for (size_t pos = 0; log && pos < n;) {
    char *nl = memchr(log + pos, '\n', n - pos);
    size_t len = nl ? (size_t)(nl - (log + pos)) : n - pos;
    const char *line = log + pos;
    bool is_error = memmem(line, len, "Error:", 6) != NULL;
    if (is_error || (!pick && memmem(line, len, "Warning:", 8))) pick = line, pick_len = len;
    if (is_error) break;
    pos += len + 1;
  }
  if (!pick) {
    say(err, err_size, "%s: the assembler (as) failed without a message%s", source_name, "");
  } else {
    size_t tl = strlen(tmp_source);
    char line[1024];
    snprintf(line, sizeof line, "%.*s", (int)pick_len, pick);
    const char *rest = strncmp(line, tmp_source, tl) == 0 ? line + tl : NULL;
    if (rest)
      say(err, err_size, "%s%s", source_name, rest);
    else
      say(err, err_size, "%s: %s", source_name, line);
  }
  free(log);
}

int x86_assemble(const char *text, bool att, const char *source_name, uint8_t **code, size_t *size, char *err,
                 size_t err_size) {
  *code = NULL;
  *size = 0;
  if (!source_name) source_name = "<asm>";
  if (!text) {
    say(err, err_size, "%s: no assembly text%s", source_name, "");
    return -1;
  }
  const char *tmp = getenv("TMPDIR");
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/granite-as-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) {
    say(err, err_size, "cannot create a temporary directory %s: %s", dir, strerror(errno));
    return -1;
  }
  char src[4200], obj[4200], log[4200];
  snprintf(src, sizeof src, "%s/block.s", dir);
  snprintf(obj, sizeof obj, "%s/block.o", dir);
  snprintf(log, sizeof log, "%s/as.log", dir);
  int rc = -1;
  /* The syntax directive shares line 1 with the text (';' separates
   * statements), so as's line numbers are the user's. */
  if (write_file(src, att ? ".att_syntax prefix;" : ".intel_syntax noprefix;", text) != 0) {
    say(err, err_size, "cannot write %s: %s", src, strerror(errno));
    goto out;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  char *argv[] = {"as", "--64", "-o", obj, src, NULL};
  pid_t pid;
  int sp = posix_spawnp(&pid, "as", &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (sp != 0) {
    if (sp == ENOENT)
      say(err, err_size,
          "cannot assemble %s: the GNU assembler `as` is not on PATH (install binutils: apt-get install binutils)%s",
          source_name, "");
    else
      say(err, err_size, "cannot run the assembler `as` for %s: %s", source_name, strerror(sp));
    goto out;
  }
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) {
      say(err, err_size, "waiting for the assembler: %s%s", strerror(errno), "");
      goto out;
    }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
      say(err, err_size, "cannot assemble %s: the GNU assembler `as` could not be run%s", source_name, "");
    else
      first_message(log, src, source_name, err, err_size);
    goto out;
  }
  size_t n = 0;
  uint8_t *o = read_whole(obj, &n);
  if (!o) {
    say(err, err_size, "the assembler wrote no object file %s%s", obj, "");
    goto out;
  }
  rc = x86_elf_text_section(o, n, code, size, err, err_size);
  free(o);
out:
  unlink(src);
  unlink(obj);
  unlink(log);
  rmdir(dir);
  return rc;
}
