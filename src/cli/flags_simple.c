#include "cli/flags_simple.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/common.h"
#include "util/flagfile.h"

void str_list_push(StrList *l, char *s) {
  l->items = xrealloc(l->items, (l->n + 1) * sizeof *l->items);
  l->items[l->n++] = s;
}

void str_list_free(StrList *l) {
  free(l->items); /* the strings belong to argv */
  l->items = NULL;
  l->n = 0;
}

/* Does name[0..len) equal one of the '|'-separated spellings? */
static int matches(const char *names, const char *name, size_t len) {
  const char *p = names;
  while (*p) {
    const char *bar = strchr(p, '|');
    size_t n = bar ? (size_t)(bar - p) : strlen(p);
    if (n == len && !strncmp(p, name, len)) return 1;
    if (!bar) break;
    p = bar + 1;
  }
  return 0;
}

static int parse_bool(const char *v, int *out) {
  if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes")) *out = 1;
  else if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no")) *out = 0;
  else return -1;
  return 0;
}

static int set_value(const char *cmd, const char *flag, const FlagSpec *f, char *value) {
  char *end;
  errno = 0;
  switch (f->kind) {
  case FLAG_STRING: *(char **)f->dest = value; return 0;
  case FLAG_LIST: str_list_push(f->dest, value); return 0;
  case FLAG_DOUBLE: {
    double d = strtod(value, &end);
    if (*value && !*end && !errno && isfinite(d)) {
      *(double *)f->dest = d;
      return 0;
    }
    break;
  }
  case FLAG_INT: {
    long v = strtol(value, &end, 0);
    if (*value && !*end && !errno && v >= -2147483647L && v <= 2147483647L) {
      *(int *)f->dest = (int)v;
      return 0;
    }
    break;
  }
  case FLAG_UINT64: {
    unsigned long long v = strtoull(value, &end, 0);
    if (*value && *value != '-' && !*end && !errno) {
      *(uint64_t *)f->dest = v;
      return 0;
    }
    break;
  }
  case FLAG_BOOL:
    if (!parse_bool(value, f->dest)) return 0;
    break;
  }
  gr_error("%s: bad value '%s' for --%s", cmd, value, flag);
  return -1;
}

void cli_flags_print_help(const FlagTable *t) {
  printf("usage: granite %s %s\n\n%s\n\nflags:\n", t->command, t->usage, t->about);
  for (int i = 0; i < t->num_flags; i++) {
    const FlagSpec *f = &t->flags[i];
    char line[256];
    size_t pos = 0;
    const char *p = f->names;
    while (*p && pos < sizeof line - 40) {
      const char *bar = strchr(p, '|');
      size_t n = bar ? (size_t)(bar - p) : strlen(p);
      pos += snprintf(line + pos, sizeof line - pos, "%s--%.*s", pos ? ", " : "", (int)n, p);
      if (!bar) break;
      p = bar + 1;
    }
    if (f->kind != FLAG_BOOL && f->metavar) snprintf(line + pos, sizeof line - pos, " %s", f->metavar);
    printf("  %s\n      %s\n", line, f->help);
  }
  printf("  --help\n      print this help and exit\n");
}

static int parse_args(const FlagTable *t, int argc, char **argv, char *given) {
  const char *cmd = t->command;
  int only_positional = 0;
  for (int i = 1; i < argc; i++) {
    char *arg = argv[i];
    gr_error_place(flagfile_origin(arg)); /* errors about a flag from a file name its FILE:LINE */
    if (only_positional || arg[0] != '-' || !strcmp(arg, "-")) {
      if (!t->positional) {
        gr_error("%s: unexpected argument '%s' (granite %s --help)", cmd, arg, cmd);
        return 2;
      }
      str_list_push(t->positional, arg);
      continue;
    }
    if (!strcmp(arg, "--")) {
      only_positional = 1;
      continue;
    }
    if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
      cli_flags_print_help(t);
      return 1;
    }
    const char *name = arg + (arg[1] == '-' ? 2 : 1);
    char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const FlagSpec *f = NULL;
    int negated = 0;
    for (int k = 0; k < t->num_flags && !f; k++)
      if (matches(t->flags[k].names, name, len)) f = &t->flags[k];
    /* absl style --noFLAG for booleans */
    for (int k = 0; k < t->num_flags && !f && len > 2 && !strncmp(name, "no", 2); k++)
      if (t->flags[k].kind == FLAG_BOOL && matches(t->flags[k].names, name + 2, len - 2)) {
        f = &t->flags[k];
        negated = 1;
      }
    if (!f) {
      gr_error("%s: unknown flag '--%.*s' (granite %s --help lists the flags)", cmd, (int)len, name, cmd);
      return 2;
    }
    char flag[128];
    snprintf(flag, sizeof flag, "%.*s", (int)len, name);
    if (f->kind == FLAG_BOOL && (!eq || negated)) {
      if (eq) {
        gr_error("%s: --%s takes no value", cmd, flag);
        return 2;
      }
      *(int *)f->dest = !negated;
      given[f - t->flags] = 1;
      continue;
    }
    char *value = eq ? eq + 1 : NULL;
    if (!value) {
      if (i + 1 >= argc) {
        gr_error("%s: --%s needs a value", cmd, flag);
        return 2;
      }
      if (strncmp(argv[i + 1], "--", 2) == 0) { /* never swallow the next flag as this one's value */
        gr_error("%s: --%s needs a value, but the next argument is the flag %s (write --%s=VALUE)", cmd, flag,
                 argv[i + 1], flag);
        return 2;
      }
      value = argv[++i];
    }
    if (set_value(cmd, flag, f, value)) return 2;
    given[f - t->flags] = 1;
  }
  return 0;
}

int cli_flags_parse(const FlagTable *t, int argc, char **argv) {
  const char *cmd = t->command;
  char given[t->num_flags + 1]; /* which flags were set, for the required ones */
  memset(given, 0, sizeof given);
  int rc = parse_args(t, argc, argv, given);
  gr_error_place(NULL);
  if (rc) return rc;
  for (int k = 0; k < t->num_flags; k++)
    if (t->flags[k].required && !given[k]) {
      char first[64];
      snprintf(first, sizeof first, "%.*s", (int)strcspn(t->flags[k].names, "|"), t->flags[k].names);
      gr_error("%s: --%s is required (granite %s --help)", cmd, first, cmd);
      return 2;
    }
  if (t->positional_required && t->positional->n == 0) {
    gr_error("%s: no %s given (granite %s --help)", cmd, t->positional_required, cmd);
    return 2;
  }
  return 0;
}
