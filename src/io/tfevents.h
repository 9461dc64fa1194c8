/* TensorBoard event files (events.out.tfevents.<time>.<host>): TFRecord
 * framing of tensorflow.Event messages, encoded here by hand (a few fields):
 *   Event   { double wall_time = 1; int64 step = 2; string file_version = 3;
 *             Summary summary = 5; }
 *   Summary { repeated Value value = 1; }
 *   Value   { string tag = 1; float simple_value = 2; }
 * The first record is the version event "brain.Event:2". Every event is
 * flushed when written, so a run killed mid-write leaves whole records plus
 * at most one torn last record, which readers (TensorBoard too) skip. */
#ifndef GRANITE_IO_TFEVENTS_H
#define GRANITE_IO_TFEVENTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
  FILE *file;
  char *path;
} EventWriter;

typedef struct {
  const char *tag;
  double value; /* stored as float (simple_value); NaN values are skipped */
} ScalarValue;

/* Creates a new event file in dir (made if missing) named after wall_time and
 * the host name (a suffix .1, .2, ... if that name is taken) and writes the
 * version record. 0, or -1 after an error line. */
int event_writer_open(EventWriter *w, const char *dir, double wall_time);
/* One Event with a Summary of the scalars. 0, or -1 after an error line. */
int event_writer_scalars(EventWriter *w, double wall_time, int64_t step, const ScalarValue *values, int n);
void event_writer_close(EventWriter *w);

#endif
