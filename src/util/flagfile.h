/* --flagfile=FILE, as absl reads it: the file's flags are inserted where the
 * --flagfile argument stood, so flags given after it override them (the
 * parsers keep the last value) and flags before it are overridden.
 *
 * File format: one flag per line ("--name=value" or a bare boolean "--name"),
 * surrounding whitespace ignored; blank lines and lines starting with '#' are
 * skipped; a line "--flagfile=OTHER" includes OTHER there (relative paths are
 * relative to the working directory, as in absl), up to FLAGFILE_MAX_DEPTH
 * files deep. Anything else (a line not starting with '-', "--name value"
 * with a space instead of '=') is an error naming FILE:LINE. */
#ifndef GRANITE_UTIL_FLAGFILE_H
#define GRANITE_UTIL_FLAGFILE_H

#define FLAGFILE_MAX_DEPTH 8

/* Expands every "--flagfile=FILE" and "--flagfile FILE" of argv[first..argc)
 * (argv[0..first) are copied unchanged). On success returns 0 and a new
 * NULL-terminated argument vector in *out_argv / *out_argc; its strings are
 * argv's own or owned by this module, and live until the process ends.
 * Returns -1 after one error line (unreadable file, bad line, too deep). */
int flagfile_expand(int argc, char **argv, int first, int *out_argc, char ***out_argv);

/* "FILE:LINE" if arg (the very pointer found in the expanded vector) was read
 * from a flag file, else NULL. The flag parsers use it to say where a bad
 * flag came from. */
const char *flagfile_origin(const char *arg);

#endif
