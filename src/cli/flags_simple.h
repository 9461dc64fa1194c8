/* A tiny flag parser for the data sub-commands (import-bhive, tokens, show,
 * stats): --name=value or --name value, several spellings per flag, a
 * --help text built from the table, and one error line + exit status 2 for
 * anything unknown. */
#ifndef GRANITE_CLI_FLAGS_SIMPLE_H
#define GRANITE_CLI_FLAGS_SIMPLE_H

#include <stdint.h>

typedef enum { FLAG_STRING, FLAG_LIST, FLAG_DOUBLE, FLAG_INT, FLAG_UINT64, FLAG_BOOL } FlagKind;

/* Repeatable values, in the order given. */
typedef struct {
  char **items;
  int n;
} StrList;

typedef struct {
  const char *names;   /* spellings without "--", separated by '|': "output|gematria_output_tfrecord" */
  FlagKind kind;
  void *dest;          /* char **, StrList *, double *, int *, uint64_t *, int * (bool) */
  const char *metavar; /* "FILE", "X", ... (ignored for bools) */
  const char *help;
  int required;        /* 1: parsing fails unless the flag is given */
} FlagSpec;

typedef struct {
  const char *command;    /* "import-bhive" */
  const char *usage;      /* "--output OUT.tfrecord [flags] FILE.csv..." */
  const char *about;      /* a paragraph printed by --help */
  const FlagSpec *flags;
  int num_flags;
  StrList *positional;    /* receives the non-flag arguments (NULL: none allowed) */
  const char *positional_required; /* "input CSV file": at least one is needed; NULL: none */
} FlagTable;

/* Parses argv[1..argc). Returns 0 to go on, 1 if --help was printed (exit
 * 0), 2 after one error line (exit 2). Integer flags accept hex (0x...). */
int cli_flags_parse(const FlagTable *t, int argc, char **argv);
void cli_flags_print_help(const FlagTable *t);
void str_list_push(StrList *l, char *s);
void str_list_free(StrList *l);

#endif
