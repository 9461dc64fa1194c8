/* The granite checkpoint file format and checkpoint directory, without
 * knowing what a model is: train/model_checkpoint.h puts a model, its
 * optimizer state and its token list into this container.
 *
 * One self-describing file "model.ckpt-<global step>" per save in a
 * checkpoint directory, plus a TF-style text index file "checkpoint" in
 * that directory (DESIGN.md: names as in the reference log).
 *
 * File layout (little-endian):
 *   "GRNTCKPT" magic (8 bytes), u32 format version, u64 header length,
 *   u64 total file length (so truncation is told apart from corruption),
 *   header: UTF-8 text, one "key=value" per line (the keys are listed in
 *     train/model_checkpoint.h; "global_step=N" is read here too),
 *   payload: binary blocks the header describes,
 *   u32 CRC32C of every byte before it.
 * Written to a temporary file, fsync'ed and renamed: never half-written. */
#ifndef GRANITE_IO_CHECKPOINT_H
#define GRANITE_IO_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHECKPOINT_PREFIX "model.ckpt-"
#define CHECKPOINT_INDEX_FILE "checkpoint"
#define CHECKPOINT_FORMAT_VERSION 1
#define CHECKPOINT_PREAMBLE_BYTES (8 + 4 + 8 + 8) /* magic, version, header length, total length */

/* Training flags and other text facts stored with a checkpoint
 * (loss type, normalization, learning rate, schedule, validation MAPE ...). */
typedef struct {
  int count;
  char **keys;
  char **values;
} CheckpointMeta;

/* Sets (or replaces) key; key must not contain '=' or newlines, value no newlines. */
void checkpoint_meta_set(CheckpointMeta *m, const char *key, const char *value);
/* The value of key, or NULL. */
const char *checkpoint_meta_get(const CheckpointMeta *m, const char *key);
void checkpoint_meta_free(CheckpointMeta *m);

/* ------------------------------------------------------------ one file */

/* One stretch of the payload, written in order. */
typedef struct {
  const void *data;
  size_t bytes;
} CheckpointBlock;

/* Writes path: preamble, header text, blocks, CRC, through "path.tmp-PID"
 * (fsync'ed, renamed, directory fsync'ed). 0, or -1 after an error line. */
int checkpoint_file_write(const char *path, const char *header, size_t header_len,
                          const CheckpointBlock *blocks, int num_blocks);

/* A checkpoint file read into memory with its framing verified: magic,
 * version, total length against the file size (truncation), CRC
 * (corruption), header length inside the file. */
typedef struct {
  char *path;
  uint8_t *data;
  size_t size;
  size_t header_len;    /* header text at data + CHECKPOINT_PREAMBLE_BYTES */
  size_t payload_at;    /* first payload byte */
  size_t payload_bytes; /* up to the CRC */
} CheckpointFile;

/* Errors (one line naming the file): "not a granite checkpoint",
 * "unsupported version", "truncated", "CRC mismatch (corrupt)". */
int checkpoint_file_read(CheckpointFile *f, const char *path);
void checkpoint_file_free(CheckpointFile *f);

/* ---------------------------------------------------- the directory */

/* Writes <dir>/model.ckpt-<step> (creating dir if needed) from header and
 * blocks, then updates <dir>/checkpoint: it becomes model_checkpoint_path;
 * if validation_mape is finite and lower than the best recorded one it
 * becomes best_model_checkpoint_path; then the checkpoints this index lists
 * are pruned to the newest max_to_keep, plus the best one, which is never
 * deleted (max_to_keep <= 0 keeps all). out_path (may be NULL) receives the
 * file's path. 0, or -1 after an error line. */
int checkpoint_dir_save(const char *dir, int64_t step, double validation_mape, int max_to_keep,
                        const char *header, size_t header_len, const CheckpointBlock *blocks,
                        int num_blocks, char *out_path, size_t out_path_size);

/* Resolves what a user passed as a checkpoint: an existing file; a TF-style
 * prefix "dir/model.ckpt-N" (also with a TF ".index" / ".data-*" suffix);
 * or a directory (its newest checkpoint). 0, or -1 after an error line. */
int checkpoint_resolve_path(const char *given, char *out, size_t out_size);

/* Global step N of a name "…/model.ckpt-N", or -1 if it is not one. */
int64_t checkpoint_step_from_path(const char *path);

/* The newest checkpoint in dir (for resume, and for a directory given as a
 * checkpoint): the model.ckpt-* file whose header stores the highest global
 * step — the name can lie (a file copied or renamed by hand), and a warning
 * says so. *step (may be NULL) receives that step. 1 found, 0 none (or dir
 * missing), -1 after an error line naming an unreadable candidate.
 * Temporary files are ignored; the index file does not matter. */
int checkpoint_find_latest(const char *dir, char *out, size_t out_size, int64_t *step);

/* The global_step stored in the header of path, reading the preamble and
 * header only (the CRC is checked when the checkpoint is opened). 0, or -1
 * after an error line. */
int checkpoint_file_stored_step(const char *path, int64_t *step);

/* The "checkpoint" index file. */
typedef struct {
  int64_t latest_step;       /* -1 if none */
  int64_t best_step;         /* -1 if none */
  double best_validation_mape; /* NaN if none */
  int num_steps;
  int64_t *all_steps;        /* ascending */
} CheckpointIndex;

/* Reads <dir>/checkpoint. A missing file gives an empty index (0). */
int checkpoint_index_read(const char *dir, CheckpointIndex *ix);
/* Writes it (temp file + rename). Lines:
 *   model_checkpoint_path: "model.ckpt-N"
 *   all_model_checkpoint_paths: "model.ckpt-K"   (one per kept checkpoint)
 *   best_model_checkpoint_path: "model.ckpt-M"
 *   best_validation_mape: 4.25 */
int checkpoint_index_write(const char *dir, const CheckpointIndex *ix);
void checkpoint_index_free(CheckpointIndex *ix);

/* A header value that must be a whole decimal int64 (no sign junk, no
 * trailing text, no overflow). 0, or -1 if it is not one. */
int checkpoint_parse_int64(const char *s, int64_t *out);

#endif
