/* Checking a checkpoint against the command line, and loading a model from
 * it for predict and eval (spec §5.8 with fixes: the model shape and the
 * token list come from the checkpoint; contradicting flags are errors). */
#ifndef GRANITE_TRAIN_RESTORE_H
#define GRANITE_TRAIN_RESTORE_H

#include <stdbool.h>

#include "io/vocab.h"
#include "model/model.h"
#include "train/flags.h"
#include "train/model_checkpoint.h"

/* Compares the model-shape flags (spec §6.2, and the task count) with a
 * checkpoint's config. only_explicit: only flags given on the command line
 * are compared (predict/eval); otherwise every flag, defaults included
 * (resume). 0, or -1 after one error line naming the flag and both values. */
int check_config_against_flags(const GematriaFlags *f, const GraniteConfig *ckpt, bool only_explicit,
                               const char *ckpt_path);

/* 0 if a and b hold the same tokens in the same order; else -1 after an
 * error line naming what (a token or the size) differs. */
int check_same_vocab(const Vocab *from_flag, const Vocab *from_ckpt, const char *tokens_path, const char *ckpt_path);

/* Task names of the checkpoint given explicitly on the command line must
 * match (names and count). 0 or -1. */
int check_tasks_against_flags(const GematriaFlags *f, const Checkpoint *c);

/* Opens --gematria_checkpoint_file, checks it against the flags (shape,
 * tokens file if given, tasks) and creates the model with its parameters.
 * 0, or -1 after an error line (then nothing needs freeing). */
int restore_model_for_inference(const GematriaFlags *f, Checkpoint *ck, GraniteModel *m);

/* Source filters to use with a checkpoint: the flag if given, else the ones
 * stored in the checkpoint meta at training ("meta.source_filter.<i>"), else
 * ".*" per task. Fills out[num_tasks] (pointers borrowed). */
void source_filters_for(const GematriaFlags *f, const Checkpoint *ck, const char **out);

/* Factor that turns the labels of an input file into the model's unit: the
 * --gematria_input_file_scaling flag if given, else the scaling the model was
 * trained with (checkpoint meta "input_file_scaling"), else 1. So eval and
 * predict compare like with like for a model trained on scaled labels. */
double label_scaling_for(const GematriaFlags *f, const Checkpoint *ck);

#endif
