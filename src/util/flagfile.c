/* --flagfile expansion (util/flagfile.h). */
#include "util/flagfile.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/common.h"

/* Where each argument read from a file came from: looked up by pointer, so
 * two equal flags from different lines keep their own places. Filled once by
 * main's expansion, read-only afterwards (the expanded arguments live as long
 * as the process, and so does this table). */
typedef struct {
  const char *arg;
  char *where;
} Origin;

static Origin *origins;
static size_t num_origins, cap_origins;

const char *flagfile_origin(const char *arg) {
  for (size_t i = 0; i < num_origins; i++)
    if (origins[i].arg == arg) return origins[i].where;
  return NULL;
}

typedef struct {
  char **items;
  size_t n, cap;
} ArgVec;

static void push(ArgVec *v, char *s) {
  grow_array((void **)&v->items, &v->cap, v->n + 2, sizeof *v->items);
  v->items[v->n++] = s;
  v->items[v->n] = NULL;
}

static void remember(const char *arg, const char *path, int line) {
  grow_array((void **)&origins, &cap_origins, num_origins + 1, sizeof *origins);
  char buf[4200];
  snprintf(buf, sizeof buf, "%s:%d", path, line);
  origins[num_origins].arg = arg;
  origins[num_origins].where = xstrdup(buf);
  num_origins++;
}

/* "--flagfile=X" / "-flagfile=X": X; "--flagfile" alone: "" (value follows); else NULL. */
static const char *flagfile_value(const char *arg) {
  if (arg[0] != '-') return NULL;
  const char *p = arg + 1 + (arg[1] == '-');
  if (strncmp(p, "flagfile", 8)) return NULL;
  if (p[8] == '=') return p + 9;
  if (p[8] == '\0') return "";
  return NULL;
}

static int expand_file(ArgVec *out, const char *path, int depth, const char *from);

/* Appends argument `arg` (from `from` = "FILE:LINE", or NULL for the
 * command line), expanding it when it is a --flagfile. *next_value is set
 * when "--flagfile" waits for its file name in the next argument. */
static int add_arg(ArgVec *out, char *arg, int depth, const char *from, int *next_value) {
  const char *file = flagfile_value(arg);
  if (!file) {
    push(out, arg);
    return 0;
  }
  if (!*file) {
    if (arg[strlen(arg) - 1] == '=') {
      gr_error("%s%s--flagfile= names no file", from ? from : "", from ? ": " : "");
      return -1;
    }
    *next_value = 1;
    return 0;
  }
  return expand_file(out, file, depth + 1, from);
}

static char *trim(char *s) {
  while (isspace((unsigned char)*s)) s++;
  size_t n = strlen(s);
  while (n && isspace((unsigned char)s[n - 1])) s[--n] = 0;
  return s;
}

static int expand_file(ArgVec *out, const char *path, int depth, const char *from) {
  const char *sep = from ? ": " : "";
  if (!from) from = "";
  if (depth > FLAGFILE_MAX_DEPTH) {
    gr_error("%s%s--flagfile=%s: flag files nested more than %d deep (does a file include itself?)", from, sep,
             path, FLAGFILE_MAX_DEPTH);
    return -1;
  }
  FILE *f = fopen(path, "r");
  if (!f) {
    gr_error("%s%s--flagfile=%s: cannot open: %s", from, sep, path, strerror(errno));
    return -1;
  }
  char *line = NULL;
  size_t cap = 0;
  int lineno = 0, rc = 0, want_file = 0;
  char where[4200] = "";
  while (getline(&line, &cap, f) >= 0) {
    lineno++;
    snprintf(where, sizeof where, "%s:%d", path, lineno);
    char *s = trim(line);
    if (want_file) { /* "--flagfile" on the line before: this line is the file */
      want_file = 0;
      if ((rc = expand_file(out, s, depth + 1, where))) break;
      continue;
    }
    if (!*s || *s == '#') continue;
    if (s[0] != '-' || !s[1]) {
      gr_error("%s: expected a flag (--name=value), got '%s'", where, s);
      rc = -1;
      break;
    }
    size_t name_len = strcspn(s, "=");
    if (s[name_len] == '\0' && strpbrk(s, " \t")) {
      gr_error("%s: '%s': write --name=value on one line (a flag file has one argument per line)", where, s);
      rc = -1;
      break;
    }
    if (flagfile_value(s)) { /* expanded here; the line itself is not kept */
      if ((rc = add_arg(out, s, depth, where, &want_file))) break;
      continue;
    }
    char *arg = xstrdup(s);
    remember(arg, path, lineno);
    push(out, arg);
  }
  if (!rc && ferror(f)) {
    gr_error("%s: read error: %s", path, strerror(errno));
    rc = -1;
  }
  if (!rc && want_file) {
    gr_error("%s: --flagfile needs a file name", where);
    rc = -1;
  }
  free(line);
  fclose(f);
  return rc;
}

int flagfile_expand(int argc, char **argv, int first, int *out_argc, char ***out_argv) {
  ArgVec out = {0};
  for (int i = 0; i < first && i < argc; i++) push(&out, argv[i]);
  for (int i = first; i < argc; i++) {
    int want_file = 0;
    if (add_arg(&out, argv[i], 0, NULL, &want_file)) goto fail;
    if (want_file) {
      if (i + 1 >= argc) {
        gr_error("--flagfile needs a file name");
        goto fail;
      }
      if (expand_file(&out, argv[++i], 1, NULL)) goto fail;
    }
  }
  grow_array((void **)&out.items, &out.cap, out.n + 1, sizeof *out.items);
  out.items[out.n] = NULL; /* also when nothing was pushed */
  *out_argc = (int)out.n;
  *out_argv = out.items;
  return 0;
fail:
  free(out.items);
  return -1;
}
