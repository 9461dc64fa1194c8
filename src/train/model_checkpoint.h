/* Training state in a checkpoint file (io/checkpoint.h is the container):
 * the model's configuration and parameters, the token list, task names,
 * training flags, the optimizer state and the random state.
 *
 * Header keys: every GraniteConfig field by name
 * ("config.node_embedding_size=128", lists as "128,64"), "global_step=N",
 * "task=<name>" and "token=<token>" lines in order, "meta.<key>=<value>"
 * training flags, "optimizer=ADAM", "optimizer.step=N", "num_params=N",
 * "rng_state_bytes=N", "validation_mape=X", and one
 * "tensor=<name> <rows> <cols>" line per parameter tensor in order;
 * unknown keys are ignored so later versions can add fields.
 * Payload: the tensors' float32 values in header order, then the optimizer
 * buffers (each num_params floats), then the RNG state bytes. */
#ifndef GRANITE_TRAIN_MODEL_CHECKPOINT_H
#define GRANITE_TRAIN_MODEL_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/checkpoint.h"
#include "io/vocab.h"
#include "model/model.h"
#include "train/optimizer.h"

/* What a save writes. Pointers are borrowed. */
typedef struct {
  int64_t global_step;
  const GraniteModel *model;          /* config and params */
  const Vocab *vocab;                 /* the token list the model was trained with */
  int num_tasks;                      /* == model->cfg.num_tasks */
  const char *const *task_names;      /* num_tasks names */
  const Optimizer *optimizer;         /* may be NULL (e.g. an exported model) */
  const CheckpointMeta *meta;         /* may be NULL */
  const void *rng_state;              /* opaque bytes, may be NULL */
  size_t rng_state_bytes;
  double validation_mape;             /* percent; NaN when there is no validation set */
} CheckpointContents;

/* Writes <dir>/model.ckpt-<global_step> (checkpoint_dir_save), then
 * updates <dir>/checkpoint: it becomes model_checkpoint_path; if
 * validation_mape is finite and lower than the best recorded one it becomes
 * best_model_checkpoint_path; then the checkpoints this index lists are
 * pruned to the newest max_to_keep, plus the best one, which is never
 * deleted (max_to_keep <= 0 keeps all).
 * out_path (may be NULL) receives the file's path. 0, or -1 after an error line. */
int checkpoint_save(const char *dir, const CheckpointContents *c, int max_to_keep,
                    char *out_path, size_t out_path_size);

/* Only writes the file (no index update, no pruning). */
int checkpoint_write_file(const char *path, const CheckpointContents *c);

/* A checkpoint read into memory and verified: the framing (magic, version,
 * CRC), the config (within the model's limits), the token count against
 * config.vocab_size, num_params and the tensor list against the parameter
 * count the config implies, and every block size against the file. */
typedef struct {
  const char *path;
  int version;
  int64_t global_step;
  GraniteConfig config;
  Vocab vocab;                 /* owned */
  int num_tasks;
  char **task_names;           /* owned, num_tasks */
  CheckpointMeta meta;         /* owned */
  bool has_optimizer;
  OptimizerType optimizer_type;
  int64_t optimizer_step;
  double validation_mape;      /* NaN if none was recorded */
  const void *rng_state;       /* points into data; NULL if none */
  size_t rng_state_bytes;
  /* private */
  CheckpointFile file;         /* path and bytes; path above points to file.path */
  int num_tensors;
  ParamTensor *tensors;        /* names, shapes, offsets (floats) into the stored param block */
  size_t num_params;
  size_t params_at;            /* byte offset of the param block in file.data */
  size_t optimizer_at;         /* byte offset of the optimizer buffers */
} Checkpoint;

/* Opens path — the file itself, or a TF-style prefix "dir/model.ckpt-N"
 * (which is our file name), or a directory (its newest checkpoint). Errors
 * (one line naming the file): "not a granite checkpoint", "unsupported
 * version", "truncated", "CRC mismatch (corrupt)", malformed header. */
int checkpoint_open(Checkpoint *c, const char *path);

/* Copies the parameters into m, which the caller created from c->config
 * (granite_model_create). Every tensor name and shape must match, in order:
 * else "tensor X shape mismatch" / "tensor X missing". */
int checkpoint_load_params(const Checkpoint *c, GraniteModel *m);

/* Initializes o with the stored optimizer state (type, step, buffers) for a
 * model of model_num_params parameters. -1 with an error line if the
 * checkpoint has none or its num_params differs. */
int checkpoint_load_optimizer(const Checkpoint *c, size_t model_num_params, Optimizer *o);

/* Safe on a zeroed or already closed Checkpoint. To keep the vocabulary or
 * task names after closing, move them out and zero the fields first. */
void checkpoint_close(Checkpoint *c);

#endif
