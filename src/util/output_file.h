/* Writing an output file without harming what is there (docs/reliability.md):
 * - a regular file is written to "<file>.tmp-<pid>" next to it and renamed
 *   over it only when complete (fsync'ed), so a failure, a full disk or a
 *   signal leaves the previous content untouched;
 * - a symbolic link is followed: its target is written and the link stays;
 * - a non-regular file (a device such as /dev/null, a FIFO) is written
 *   through, never replaced; a directory is refused;
 * - the temporary file is removed on failure and, in a process that has not
 *   installed its own handler, on SIGINT, SIGTERM and SIGHUP (SIGXFSZ is
 *   ignored so a file size limit becomes a write error);
 * - stale "<file>.tmp-<pid>" files of processes that no longer run are
 *   swept when the output is opened. */
#ifndef GRANITE_UTIL_OUTPUT_FILE_H
#define GRANITE_UTIL_OUTPUT_FILE_H

#include <stdbool.h>
#include <stdio.h>

typedef struct {
  FILE *file;
  char *path;     /* the file that receives the content (a link's target) */
  char *tmp_path; /* NULL when writing through a non-regular file */
  int slot;       /* signal-cleanup registration, -1 if none */
} OutputFile;

/* Opens path for writing as above ("what" names the output in errors, e.g.
 * "--output"). 0, or -1 after an error line. */
int output_open(OutputFile *o, const char *path, const char *what);
/* Flushes, syncs and renames into place. 0, or -1 after an error line (the
 * temporary file is then removed and the old content is untouched). */
int output_commit(OutputFile *o);
/* Removes the temporary file; safe on a zeroed or finished OutputFile. */
void output_abort(OutputFile *o);

/* Refuses an output that is one of the inputs (same device and inode, links
 * followed), which rewriting would destroy: -1 after an error line naming
 * both, else 0. Missing files are not an input. what names the output flag. */
int output_refuse_inputs(const char *output, const char *what, const char *const *inputs, int n);

/* Removes files in dir whose name starts with prefix and ends with
 * ".tmp-<pid>" for a process that no longer exists (left by a kill -9). */
void output_sweep_stale(const char *dir, const char *prefix);

/* Whether the temporary-file cleanup handlers are installed (for tests). */
bool output_cleanup_installed(void);

#endif
