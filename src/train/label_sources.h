/* Which throughput source gave each task its labels, per input file (spec
 * §5.1 step 1: a task's label is the first inverse_throughputs entry whose
 * source matches the task's filter at its start). Eval prints this under
 * its table so that a filter like ".*" cannot silently mix CPUs. */
#ifndef GRANITE_TRAIN_LABEL_SOURCES_H
#define GRANITE_TRAIN_LABEL_SOURCES_H

#include <stdio.h>

/* Reads files[0..num_files) and prints, per task, one line naming each
 * (file, source) pair that supplied labels with its record count, e.g.
 *   labels of task default: "bhive: haswell" in sample.tfrecord (2157 records)
 * 0, or -1 after an error line (unreadable file, bad regex). */
int print_label_sources(FILE *out, const char *const *files, int num_files, const char *const *filters,
                        const char *const *task_names, int num_tasks);

#endif
