/* The validation curves of several training runs as one PNG, drawn with
 * cairo: validation MAPE against step (left panel) and against wall time
 * (right panel), one colour per run, log-scaled MAPE axis. Only the granite
 * program links cairo; the library does not need it. */
#ifndef GRANITE_CLI_RUNS_PLOT_H
#define GRANITE_CLI_RUNS_PLOT_H

#include "train/run_log.h"

/* labels[i] names run i in the legend. Writes path through a temporary file
 * renamed into place. 0, or -1 after an error line. */
int runs_plot_png(const char *path, const RunLog *runs, const char *const *labels, int n, int width, int height);

#endif
