/* Double-buffered training batches; see batch_source.h. */
#include "train/batch_source.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "util/common.h"

/* spec §5.6 sample, §5.2 labels, §3.3 OOV injection: the only consumers of
 * the three random streams, always in this order. */
static void build(BatchSource *s, TrainingBatch *tb) {
  tb->num_blocks = sampler_next(s->sampler, s->ids);
  if (tb->num_blocks > 0) {
    dataset_fill_batch(s->data, s->ids, tb->num_blocks, &tb->batch, &s->labels);
    if (s->oov_probability > 0) batch_inject_oov(&tb->batch, s->oov_token, s->oov_probability, &s->injection);
  }
  tb->after.sampler = s->sampler->rng;
  tb->after.sampler_cursor = s->sampler->cursor;
  tb->after.labels = s->labels;
  tb->after.injection = s->injection;
  if (tb->order_after) memcpy(tb->order_after, s->sampler->ids, (size_t)s->sampler->n * sizeof *tb->order_after);
}

static void *producer(void *arg) {
  BatchSource *s = arg;
  sigset_t stop_signals; /* SIGINT/SIGTERM go to the training thread */
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
  pthread_mutex_lock(&s->mu);
  for (;;) {
    int at = s->produce_at;
    while (!s->stop && s->state[at] != SLOT_FREE) pthread_cond_wait(&s->cv, &s->mu);
    if (s->stop) break;
    pthread_mutex_unlock(&s->mu);
    build(s, &s->slot[at]); /* the slot is ours while FREE: the consumer waits for READY */
    pthread_mutex_lock(&s->mu);
    s->state[at] = SLOT_READY;
    s->produce_at = at ^ 1;
    pthread_cond_broadcast(&s->cv);
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

int batch_source_start(BatchSource *s, const Dataset *data, Sampler *sampler, int num_tasks, int oov_token,
                       double oov_probability, const BatchRandomState *rs, bool prefetch) {
  memset(s, 0, sizeof *s);
  s->data = data;
  s->sampler = sampler;
  s->oov_token = oov_token;
  s->oov_probability = oov_probability;
  s->labels = rs->labels;
  s->injection = rs->injection;
  s->ids = xmalloc((size_t)sampler_max_batch(sampler) * sizeof *s->ids);
  for (int i = 0; i < 2; i++) {
    batch_init(&s->slot[i].batch, num_tasks);
    if (sampler->mode == SAMPLER_RANDOM)
      s->slot[i].order_after = xmalloc(((size_t)sampler->n + 1) * sizeof *s->slot[i].order_after);
  }
  s->prefetch = prefetch;
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  if (prefetch) {
    int rc = pthread_create(&s->thread, NULL, producer, s);
    if (rc) {
      gr_error("cannot start the batch prefetch thread: %s (use --nogematria_prefetch_batches)", strerror(rc));
      batch_source_stop(s);
      return -1;
    }
    s->thread_started = true;
  }
  return 0;
}

TrainingBatch *batch_source_next(BatchSource *s) {
  double t0 = now_seconds();
  if (!s->prefetch) {
    build(s, &s->slot[0]);
    s->wait_seconds += now_seconds() - t0;
    return &s->slot[0];
  }
  pthread_mutex_lock(&s->mu);
  int prev = s->consume_at ^ 1;
  if (s->state[prev] == SLOT_TAKEN) s->state[prev] = SLOT_FREE; /* the caller is done with it */
  pthread_cond_broadcast(&s->cv);
  int at = s->consume_at;
  while (s->state[at] != SLOT_READY) pthread_cond_wait(&s->cv, &s->mu);
  s->state[at] = SLOT_TAKEN;
  s->consume_at = at ^ 1;
  pthread_mutex_unlock(&s->mu);
  s->wait_seconds += now_seconds() - t0;
  return &s->slot[at];
}

void batch_source_stop(BatchSource *s) {
  if (s->thread_started) {
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    s->thread_started = false;
  }
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
  for (int i = 0; i < 2; i++) {
    batch_free(&s->slot[i].batch);
    free(s->slot[i].order_after);
  }
  free(s->ids);
  s->ids = NULL;
}
