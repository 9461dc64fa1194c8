/* --granite_precision for the commands that run the model (train, predict,
 * eval): switches the model to BF16 matmuls (model.h granite_set_bf16) or
 * says once, on stderr, that this CPU cannot and FP32 is used. */
#ifndef GRANITE_TRAIN_PRECISION_H
#define GRANITE_TRAIN_PRECISION_H

#include "model/model.h"
#include "train/flags.h"

void precision_apply(GraniteModel *m, int precision /* PrecisionFlag */);

#endif
