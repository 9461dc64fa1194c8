/* Training batches (spec §5.6 sampling, §5.2 labels, §3.3 OOV injection),
 * optionally built one step ahead in a second thread (double buffering) so
 * the next batch is ready when the current step ends.
 *
 * The random streams (sampler, RANDOM label choice, OOV injection) are
 * consumed in the same order either way, so the same seed gives the same
 * batches with and without prefetch. Each batch carries the random state as
 * it was right after building it: that is what a checkpoint saved after
 * training on it must record, even if the next batch is already built. */
#ifndef GRANITE_TRAIN_BATCH_SOURCE_H
#define GRANITE_TRAIN_BATCH_SOURCE_H

#include <pthread.h>
#include <stdbool.h>

#include "io/dataset.h"
#include "util/rng.h"

/* Random state that determines every later batch. */
typedef struct {
  Rng sampler, labels, injection;
  int64_t sampler_cursor;
} BatchRandomState;

typedef struct {
  Batch batch;
  int num_blocks; /* 0: no block fits in a batch (an error for training) */
  BatchRandomState after; /* the random state right after building this batch */
  /* The random sampler's order of the blocks right after building this batch
   * (its partial shuffles carry over from step to step): with the random
   * state, what a resumed run needs to draw the same batches. NULL for the
   * sequential sampler, whose order never changes. [sampler->n] */
  int32_t *order_after;
} TrainingBatch;

typedef struct {
  /* what to build from (borrowed) */
  const Dataset *data;
  Sampler *sampler;
  int oov_token;
  double oov_probability;
  /* random streams of labels and OOV injection (the sampler has its own) */
  Rng labels, injection;
  int32_t *ids;
  /* double buffer: the producer fills slots 0, 1, 0, ... and the consumer
   * takes them in the same order */
  TrainingBatch slot[2];
  enum { SLOT_FREE, SLOT_READY, SLOT_TAKEN } state[2];
  int produce_at, consume_at;
  bool prefetch;
  bool stop;
  double wait_seconds; /* time the consumer spent in batch_source_next */
  pthread_t thread;
  bool thread_started;
  pthread_mutex_t mu;
  pthread_cond_t cv;
} BatchSource;

/* Starts the source: rs gives the label and injection streams (the sampler
 * carries its own state). prefetch: build in a second thread. 0, or -1
 * after an error line (thread creation failed). */
int batch_source_start(BatchSource *s, const Dataset *data, Sampler *sampler, int num_tasks, int oov_token,
                       double oov_probability, const BatchRandomState *rs, bool prefetch);

/* The next batch; valid until the next call to batch_source_next or
 * batch_source_stop. */
TrainingBatch *batch_source_next(BatchSource *s);

/* Stops the thread (if any) and frees everything. */
void batch_source_stop(BatchSource *s);

#endif
