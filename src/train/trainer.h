/* The training loop (spec §5.7 with granite's fixes: resume from the newest
 * checkpoint, 0 steps = until interrupted, clean stop on SIGINT/SIGTERM,
 * start-up schedule check, validation and best checkpoint, non-finite loss
 * or gradient stops the run without saving a poisoned model). */
#ifndef GRANITE_TRAIN_TRAINER_H
#define GRANITE_TRAIN_TRAINER_H

#include "train/flags.h"

/* --gematria_action=train. Returns the exit status (0 also after a clean
 * stop by a signal). */
int train_main(const GematriaFlags *f);

#endif
