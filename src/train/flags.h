/* The --gematria_* flags of run_granite_model (spec §6), with Gematria's
 * spelling and defaults, plus granite's own additions (docs/flags.md).
 *
 * Syntax (absl style): --flag=value, --flag value, booleans --flag,
 * --flag=true|false|1|0, --noflag; enum values are case-insensitive; layer
 * lists are comma-separated positive ints; multi-string flags may be repeated
 * (the first occurrence replaces the default). */
#ifndef GRANITE_TRAIN_FLAGS_H
#define GRANITE_TRAIN_FLAGS_H

#include <stdbool.h>
#include <stdio.h>

#include "model/model.h"

typedef enum { ACTION_TRAIN, ACTION_PREDICT, ACTION_EVAL, ACTION_EXPORT_GRAPH_DEF } GematriaAction;
typedef enum { SELECT_FLAG_RANDOM, SELECT_FLAG_FIRST, SELECT_FLAG_MEAN, SELECT_FLAG_MIN } SelectionFlag;
typedef enum { NORM_NONE, NORM_PERCENTAGE_ERROR, NORM_EXPECTED_VALUE_GREATER_THAN_ONE } LossNormalizationFlag;
typedef enum { LOSS_FLAG_MSE, LOSS_FLAG_MAE, LOSS_FLAG_HUBER } LossTypeFlag;
typedef enum { OPT_FLAG_ADAM, OPT_FLAG_SGD, OPT_FLAG_RMSPROP } OptimizerFlag;
typedef enum {
  SCHED_FLAG_NONE,
  SCHED_FLAG_COSINE,
  SCHED_FLAG_EXPONENTIAL,
  SCHED_FLAG_INVERSE_TIME,
  SCHED_FLAG_LINEAR_COSINE,
  SCHED_FLAG_NATURAL_EXP,
  SCHED_FLAG_NOISY_LINEAR_COSINE,
  SCHED_FLAG_POLYNOMIAL,
  SCHED_FLAG_COSINE_RESTARTS,
} ScheduleFlag;
typedef enum { RNN_FLAG_NONE, RNN_FLAG_LSTM, RNN_FLAG_GRU } RnnFlag;
typedef enum { PRECISION_FP32, PRECISION_BF16 } PrecisionFlag;

typedef struct {
  char **items;
  int count;
} StringList;

typedef struct {
  int values[GRANITE_MAX_LAYERS];
  int count;
} IntList;

#define FLAGS_MAX 128

typedef struct {
  /* spec §6.1 */
  int action; /* GematriaAction */
  StringList input_file;
  double input_file_scaling;
  double grad_clip_norm; /* 0 = off */
  bool load_global_step_from_ckpt;
  StringList throughput_source_filter;
  StringList task_names;
  char *model_name; /* NULL = not given */
  char *output_file;
  char *master;
  int max_blocks_in_batch; /* 0 = not given: the whole data set per batch */
  int max_instructions_in_batch;
  long long training_num_epochs; /* optimizer steps; 0 = until interrupted */
  bool training_randomize_batches;
  bool drop_invalid_blocks;
  int training_throughput_selection; /* SelectionFlag */
  int numpy_print_edgeitems;
  long long random_seed;
  char *checkpoint_dir;
  int checkpoint_max_to_keep;
  char *checkpoint_file;
  char *warmstart_checkpoint_file;
  char *warmstart_checkpoint_dir;
  char *resume_from_dir;
  char *resume_to_dir;
  IntList collected_percentile_ranks;
  char *summary_dir;
  int save_checkpoint_epochs;
  int save_summaries_epochs;
  int eval_interval_secs;
  int training_task;
  int training_ps_tasks;
  bool synchronous_training;
  int loss_normalization; /* LossNormalizationFlag */
  int loss_type;          /* LossTypeFlag */
  StringList trained_variables;
  double learning_rate;
  int optimizer_type; /* OptimizerFlag */
  long long decay_steps;
  double decay_rate;
  int learning_rate_schedule; /* ScheduleFlag */
  int num_training_worker_replicas;
  int num_training_worker_replicas_to_aggregate;
  bool use_seq2seq_loss;
  bool run_tf_profiler;
  int tf_profiler_port;
  /* spec §6.2 */
  int node_embedding_size, edge_embedding_size, global_embedding_size;
  IntList node_update_layers, edge_update_layers, global_update_layers;
  bool use_sent_edges;
  bool graph_module_residual_connections;
  bool readout_residual_connections;
  bool task_readout_residual_connections;
  int rnn_output_size;
  bool rnn_bidirectional;
  double rnn_dropout;
  int rnn_type; /* RnnFlag */
  IntList readout_layers, task_readout_layers;
  bool seq2seq;
  int num_message_passing_iterations;
  bool graph_module_layer_normalization;
  bool readout_input_layer_normalization;
  bool task_readout_input_layer_normalization;
  /* spec §6.3 */
  char *tokens_file;
  char *annotation_names_file;
  char *out_of_vocabulary_replacement_token;
  double out_of_vocabulary_injection_probability;
  /* granite additions (docs/flags.md) */
  char *validation_file;
  double validation_fraction;
  int validation_epochs; /* 0 = with every checkpoint */
  char *output_csv;
  bool allow_zero_learning_rate;
  int num_threads; /* 0 = all cores */
  double log_interval_secs;
  bool json;
  bool prefetch_batches; /* train: build the next batch in a second thread */
  int precision;         /* PrecisionFlag: --granite_precision (docs/bf16.md) */
  /* eval error analysis (docs/accuracy-tools.md) */
  bool error_analysis;
  int worst;                     /* worst blocks listed */
  char *training_file_for_split; /* comma list; NULL = no seen/unseen split */
  /* granite's model options (docs/accuracy.md) */
  bool loop_carried_edges;
  bool register_aliasing;
  bool critical_path;
  int resource_bound; /* K learned resources; 0 = off */
  int critical_path_latency; /* GraniteLatency */
  bool critical_path_token_bias;
  char *output_scale; /* "auto" or a number > 0 */

  unsigned char was_set[FLAGS_MAX]; /* per table entry: given on the command line */
} GematriaFlags;

/* Sets every flag to its default. */
void flags_init(GematriaFlags *f);
void flags_free(GematriaFlags *f);

/* Parses argv[first..argc-1]. Returns 0 on success, 1 when --help was printed
 * (exit 0), -1 after one error line (unknown flag, bad value: exit 2). Warns
 * once for every given flag that has no effect in granite. */
int flags_parse(GematriaFlags *f, int argc, char **argv, int first);

/* True if the flag (full name without dashes, e.g. "gematria_loss_type") was
 * given on the command line. */
bool flags_was_set(const GematriaFlags *f, const char *name);

/* Every flag that has an effect, with its value in effect, one "--name=value"
 * per line (a --flagfile that sets them all again; options not set and
 * TensorFlow-only flags are left out). The trainer writes it to
 * <checkpoint_dir>/flags.txt for `granite runs`. */
void flags_write(FILE *out, const GematriaFlags *f);

#define FLAGS_RUN_FILE "flags.txt"
/* Writes flags_write's lines to <dir>/flags.txt (replaced atomically). 0, or
 * -1 after an error line. */
int flags_write_run_file(const char *dir, const GematriaFlags *f);

/* Help text: every flag, grouped, with default and meaning. */
void flags_print_help(FILE *out);

/* Name of an enum value as spelled in the flag (e.g. "MEAN_ABSOLUTE_ERROR"). */
const char *flags_loss_type_name(int v);
const char *flags_schedule_name(int v);
const char *flags_optimizer_name(int v);
const char *flags_action_name(int v);
const char *flags_selection_name(int v);
const char *flags_normalization_name(int v);

/* Number of tasks (spec §5.1): #filters; task names must match if given. */
int flags_num_tasks(const GematriaFlags *f);
/* Task name i: --gematria_task_names, else "default" (one task) or task_<i+1>. */
const char *flags_task_name(const GematriaFlags *f, int i, char *buf, int buf_size);
/* Checks cross-flag rules (task names vs filters, unsupported options for this
 * build). 0, or -1 after an error line. */
int flags_validate(const GematriaFlags *f);

/* Model configuration from the flags (spec §6.2), vocab_size set by the caller. */
void flags_to_config(const GematriaFlags *f, GraniteConfig *cfg, int vocab_size);
/* true if --granite_output_scale=auto (the trainer sets the scale from the labels). */
bool flags_output_scale_auto(const GematriaFlags *f);

/* Levenshtein distance, used for "did you mean". */
int flags_edit_distance(const char *a, const char *b);

#endif
