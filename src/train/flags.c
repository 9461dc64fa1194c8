/* Table-driven parser for the --gematria_* flags (spec §6). Defaults are
 * written as the strings a user would type, and parsed by the same code, so
 * that --help shows exactly the default in effect. */
#include "train/flags.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util/common.h"
#include "util/flagfile.h"

typedef enum { FT_BOOL, FT_INT, FT_INT64, FT_DOUBLE, FT_STRING, FT_OPT_STRING, FT_ENUM, FT_INTLIST, FT_LIST, FT_MULTI } FlagType;

enum Group { G_RUN, G_DATA, G_TRAIN, G_OPT, G_CKPT, G_MODEL, G_TOKENS, G_OURS, G_NOEFFECT, G_COUNT };
static const char *const group_titles[G_COUNT] = {
    "Action and files",
    "Input data and batching (spec §5.1, §5.6)",
    "Training loop (spec §5.7)",
    "Loss, optimizer, learning rate (spec §5.3-§5.5)",
    "Checkpoints (spec §5.7, §5.10)",
    "Model shape (spec §6.2)",
    "Tokens (spec §6.3)",
    "granite additions (not in Gematria)",
    "Accepted for compatibility, no effect in granite (TensorFlow-only)",
};

static const char *const action_names[] = {"TRAIN", "PREDICT", "EVAL", "EXPORT_GRAPH_DEF", NULL};
static const char *const selection_names[] = {"RANDOM", "FIRST", "MEAN", "MIN", NULL};
static const char *const normalization_names[] = {"NONE", "PERCENTAGE_ERROR", "EXPECTED_VALUE_GREATER_THAN_ONE", NULL};
static const char *const loss_names[] = {"MEAN_SQUARED_ERROR", "MEAN_ABSOLUTE_ERROR", "HUBER", NULL};
static const char *const optimizer_names[] = {"ADAM", "SGD", "RMSPROP", NULL};
static const char *const schedule_names[] = {"NONE",        "COSINE",        "EXPONENTIAL",
                                             "INVERSE_TIME", "LINEAR_COSINE", "NATURAL_EXP",
                                             "NOISY_LINEAR_COSINE", "POLYNOMIAL", "COSINE_RESTARTS", NULL};
static const char *const rnn_names[] = {"NONE", "LSTM", "GRU", NULL};
static const char *const precision_names[] = {"FP32", "BF16", NULL};

typedef struct {
  const char *name; /* without the leading "--" */
  FlagType type;
  size_t offset;
  const char *def; /* default as typed; NULL = none */
  int group;
  const char *help;
  const char *const *enum_names;
  double min, max; /* for numbers and list items; min > max = unchecked */
} FlagSpec;

#define OFF(field) offsetof(GematriaFlags, field)
#define NOLIM 1, 0
#define POS 1, 1e18

static const FlagSpec flag_table[] = {
    /* §6.1 */
    {"gematria_action", FT_ENUM, OFF(action), "TRAIN", G_RUN,
     "what to do: TRAIN, PREDICT, EVAL (EXPORT_GRAPH_DEF is accepted and does nothing)", action_names, NOLIM},
    {"gematria_input_file", FT_LIST, OFF(input_file), "", G_RUN, "input .tfrecord files, comma-separated", NULL, NOLIM},
    {"gematria_output_file", FT_STRING, OFF(output_file), "", G_RUN, "predict: output .tfrecord", NULL, NOLIM},
    {"gematria_model_name", FT_OPT_STRING, OFF(model_name), NULL, G_RUN,
     "predict: source name prefix of the predictions (default \"granite: <checkpoint name>\")", NULL, NOLIM},
    {"gematria_input_file_scaling", FT_DOUBLE, OFF(input_file_scaling), "1.0", G_DATA,
     "multiply every throughput by this (not in predict); must be > 0", NULL, 1e-30, 1e30},
    {"gematria_throughput_source_filter", FT_MULTI, OFF(throughput_source_filter), ".*", G_DATA,
     "regex per task, matched at the start of the source name; repeat for more tasks", NULL, NOLIM},
    {"gematria_task_names", FT_MULTI, OFF(task_names), NULL, G_DATA,
     "task names, one per filter (default: 'default', or task_1..task_k)", NULL, NOLIM},
    {"gematria_max_blocks_in_batch", FT_INT, OFF(max_blocks_in_batch), NULL, G_DATA,
     "blocks per batch (not given: the whole data set in every batch)", NULL, POS},
    {"gematria_max_instructions_in_batch", FT_INT, OFF(max_instructions_in_batch), "1000000", G_DATA,
     "instruction cap per batch; bigger blocks are skipped", NULL, POS},
    {"gematria_training_randomize_batches", FT_BOOL, OFF(training_randomize_batches), "true", G_DATA,
     "sample each batch at random (else cycle through the data in order)", NULL, NOLIM},
    {"gematria_drop_invalid_blocks", FT_BOOL, OFF(drop_invalid_blocks), "false", G_DATA,
     "drop blocks whose graph cannot be built (else they are an error)", NULL, NOLIM},
    {"gematria_training_throughput_selection", FT_ENUM, OFF(training_throughput_selection), "MEAN", G_DATA,
     "how several values of one source become a label: RANDOM, FIRST, MEAN, MIN", selection_names, NOLIM},
    {"gematria_collected_percentile_ranks", FT_INTLIST, OFF(collected_percentile_ranks), "50,90,95,99", G_DATA,
     "error percentiles reported by training and eval", NULL, 0, 100},
    {"gematria_training_num_epochs", FT_INT64, OFF(training_num_epochs), "10000", G_TRAIN,
     "number of optimizer steps (batches), not passes; 0 = until interrupted", NULL, 0, 1e18},
    {"gematria_random_seed", FT_INT64, OFF(random_seed), "123456789", G_TRAIN,
     "seed of initialization and batch sampling; negative = from the clock", NULL, NOLIM},
    {"gematria_use_seq2seq_loss", FT_BOOL, OFF(use_seq2seq_loss), "true", G_TRAIN,
     "seq2seq models: per-instruction loss (needs prefix throughputs) instead of per block", NULL, NOLIM},
    {"gematria_loss_type", FT_ENUM, OFF(loss_type), "MEAN_SQUARED_ERROR", G_OPT,
     "MEAN_SQUARED_ERROR, MEAN_ABSOLUTE_ERROR or HUBER", loss_names, NOLIM},
    {"gematria_loss_normalization", FT_ENUM, OFF(loss_normalization), "NONE", G_OPT,
     "NONE, PERCENTAGE_ERROR or EXPECTED_VALUE_GREATER_THAN_ONE", normalization_names, NOLIM},
    {"gematria_optimizer_type", FT_ENUM, OFF(optimizer_type), "ADAM", G_OPT, "ADAM, SGD or RMSPROP", optimizer_names,
     NOLIM},
    {"gematria_learning_rate", FT_DOUBLE, OFF(learning_rate), "0.001", G_OPT, "initial learning rate", NULL, 0, 1e9},
    {"gematria_learning_rate_schedule", FT_ENUM, OFF(learning_rate_schedule), "NONE", G_OPT,
     "NONE, COSINE, EXPONENTIAL, INVERSE_TIME, LINEAR_COSINE, NATURAL_EXP, NOISY_LINEAR_COSINE, POLYNOMIAL, "
     "COSINE_RESTARTS",
     schedule_names, NOLIM},
    {"gematria_decay_steps", FT_INT64, OFF(decay_steps), "0", G_OPT, "decay steps D of the schedule (>0 with a schedule)",
     NULL, 0, 1e18},
    {"gematria_decay_rate", FT_DOUBLE, OFF(decay_rate), "0.0", G_OPT, "decay rate r of the schedule", NULL, 0, 1e18},
    {"gematria_grad_clip_norm", FT_DOUBLE, OFF(grad_clip_norm), "0", G_OPT,
     "clip each gradient tensor to this L2 norm; 0 = off", NULL, 0, 1e30},
    {"gematria_checkpoint_dir", FT_STRING, OFF(checkpoint_dir), "", G_CKPT,
     "train: where model.ckpt-<step> files go (required); training resumes from its newest checkpoint", NULL, NOLIM},
    {"gematria_checkpoint_file", FT_STRING, OFF(checkpoint_file), "", G_CKPT,
     "predict/eval: the checkpoint to use (e.g. dir/model.ckpt-1000)", NULL, NOLIM},
    {"gematria_checkpoint_max_to_keep", FT_INT, OFF(checkpoint_max_to_keep), "100", G_CKPT,
     "number of newest checkpoints kept (the best one is always kept)", NULL, POS},
    {"gematria_save_checkpoint_epochs", FT_INT, OFF(save_checkpoint_epochs), "100", G_CKPT,
     "save a checkpoint every this many steps (and at the end)", NULL, POS},
    {"gematria_warmstart_checkpoint_file", FT_OPT_STRING, OFF(warmstart_checkpoint_file), NULL, G_CKPT,
     "start training from the parameters of this checkpoint (same model shape)", NULL, NOLIM},
    {"gematria_warmstart_checkpoint_dir", FT_OPT_STRING, OFF(warmstart_checkpoint_dir), NULL, G_CKPT,
     "start training from the newest checkpoint of this directory (same model shape)", NULL, NOLIM},
    {"gematria_load_global_step_from_ckpt", FT_BOOL, OFF(load_global_step_from_ckpt), "false", G_CKPT,
     "with warm start: continue the step count of the warm-start checkpoint", NULL, NOLIM},
    {"gematria_resume_from_dir", FT_OPT_STRING, OFF(resume_from_dir), NULL, G_NOEFFECT,
     "Gematria's directory copy; granite resumes from --gematria_checkpoint_dir itself", NULL, NOLIM},
    {"gematria_resume_to_dir", FT_OPT_STRING, OFF(resume_to_dir), NULL, G_NOEFFECT,
     "Gematria's directory copy; granite resumes from --gematria_checkpoint_dir itself", NULL, NOLIM},
    /* §6.2 */
    {"gematria_node_embedding_size", FT_INT, OFF(node_embedding_size), "128", G_MODEL, "node embedding size N", NULL,
     POS},
    {"gematria_edge_embedding_size", FT_INT, OFF(edge_embedding_size), "128", G_MODEL, "edge embedding size E", NULL,
     POS},
    {"gematria_global_embedding_size", FT_INT, OFF(global_embedding_size), "128", G_MODEL, "global embedding size G",
     NULL, POS},
    {"gematria_node_update_layers", FT_INTLIST, OFF(node_update_layers), "", G_MODEL,
     "hidden layer sizes of the node update MLP (comma list)", NULL, POS},
    {"gematria_edge_update_layers", FT_INTLIST, OFF(edge_update_layers), "", G_MODEL,
     "hidden layer sizes of the edge update MLP (comma list)", NULL, POS},
    {"gematria_global_update_layers", FT_INTLIST, OFF(global_update_layers), "", G_MODEL,
     "hidden layer sizes of the global update MLP (comma list)", NULL, POS},
    {"gematria_readout_layers", FT_INTLIST, OFF(readout_layers), "", G_MODEL,
     "shared readout layer sizes (leaky ReLU each)", NULL, POS},
    {"gematria_task_readout_layers", FT_INTLIST, OFF(task_readout_layers), "", G_MODEL,
     "per-task readout layer sizes (leaky ReLU each)", NULL, POS},
    {"gematria_num_message_passing_iterations", FT_INT, OFF(num_message_passing_iterations), "8", G_MODEL,
     "message passing iterations K", NULL, POS},
    {"gematria_use_sent_edges", FT_BOOL, OFF(use_sent_edges), "false", G_MODEL,
     "node update also gets the sum of outgoing edges", NULL, NOLIM},
    {"gematria_graph_module_residual_connections", FT_BOOL, OFF(graph_module_residual_connections), "false", G_MODEL,
     "residual connection around each message passing iteration", NULL, NOLIM},
    {"gematria_readout_residual_connections", FT_BOOL, OFF(readout_residual_connections), "false", G_MODEL,
     "residual connection around the shared readout", NULL, NOLIM},
    {"gematria_task_readout_residual_connections", FT_BOOL, OFF(task_readout_residual_connections), "false", G_MODEL,
     "residual connection around the task readout", NULL, NOLIM},
    {"gematria_graph_module_layer_normalization", FT_BOOL, OFF(graph_module_layer_normalization), "true", G_MODEL,
     "layer norm after each message passing iteration", NULL, NOLIM},
    {"gematria_readout_input_layer_normalization", FT_BOOL, OFF(readout_input_layer_normalization), "true", G_MODEL,
     "layer norm before the shared readout", NULL, NOLIM},
    {"gematria_task_readout_input_layer_normalization", FT_BOOL, OFF(task_readout_input_layer_normalization), "true",
     G_MODEL, "layer norm before the task readouts", NULL, NOLIM},
    {"gematria_seq2seq", FT_BOOL, OFF(seq2seq), "false", G_MODEL,
     "predict per instruction and sum per block (seq2seq)", NULL, NOLIM},
    {"gematria_rnn_type", FT_ENUM, OFF(rnn_type), "NONE", G_MODEL, "NONE (LSTM and GRU are not supported by granite)",
     rnn_names, NOLIM},
    {"gematria_rnn_output_size", FT_INT, OFF(rnn_output_size), "128", G_MODEL, "RNN variant only", NULL, POS},
    {"gematria_rnn_bidirectional", FT_BOOL, OFF(rnn_bidirectional), "false", G_MODEL, "RNN variant only", NULL, NOLIM},
    {"gematria_rnn_dropout", FT_DOUBLE, OFF(rnn_dropout), "0.0", G_MODEL, "RNN variant only", NULL, 0, 1},
    /* §6.3 */
    {"gematria_tokens_file", FT_OPT_STRING, OFF(tokens_file), NULL, G_TOKENS,
     "vocabulary file (required for train; predict/eval take it from the checkpoint)", NULL, NOLIM},
    {"gematria_annotation_names_file", FT_OPT_STRING, OFF(annotation_names_file), NULL, G_TOKENS,
     "instruction annotation names (not supported by granite)", NULL, NOLIM},
    {"gematria_out_of_vocabulary_replacement_token", FT_STRING, OFF(out_of_vocabulary_replacement_token), "_UNKNOWN_",
     G_TOKENS, "token used for unknown tokens; empty = unknown tokens are an error", NULL, NOLIM},
    {"gematria_out_of_vocabulary_injection_probability", FT_DOUBLE, OFF(out_of_vocabulary_injection_probability),
     "0.0", G_TOKENS, "training: probability of replacing a node's token by the replacement token", NULL, 0, 1},
    /* ours */
    {"gematria_validation_file", FT_OPT_STRING, OFF(validation_file), NULL, G_OURS,
     "train: held-out .tfrecord files (comma list) evaluated during training", NULL, NOLIM},
    {"gematria_validation_fraction", FT_DOUBLE, OFF(validation_fraction), "0", G_OURS,
     "train: hold out this fraction of the input blocks (chosen by a hash of the block) for validation; eval: "
     "evaluate only the blocks training held out with this fraction", NULL, 0,
     0.9},
    {"gematria_validation_epochs", FT_INT, OFF(validation_epochs), "0", G_OURS,
     "train: validate every this many steps; 0 = with every checkpoint", NULL, 0, 1e9},
    {"gematria_output_csv", FT_OPT_STRING, OFF(output_csv), NULL, G_OURS,
     "predict: also write hex,prediction... lines to this CSV file; eval: hex, graph seen and per task label and "
     "prediction of every evaluated block", NULL, NOLIM},
    {"allow_zero_learning_rate", FT_BOOL, OFF(allow_zero_learning_rate), "false", G_OURS,
     "train even with a schedule that makes the learning rate zero early (refused by default)", NULL, NOLIM},
    {"gematria_num_threads", FT_INT, OFF(num_threads), "0", G_OURS, "threads to use; 0 = all cores", NULL, 0, 4096},
    {"gematria_summary_dir", FT_STRING, OFF(summary_dir), "", G_CKPT,
     "train: directory of the TensorBoard event files (default: the checkpoint directory)", NULL, NOLIM},
    {"gematria_save_summaries_epochs", FT_INT, OFF(save_summaries_epochs), "100", G_CKPT,
     "train: write TensorBoard summaries every this many steps (0: none)", NULL, NOLIM},
    {"gematria_log_interval_secs", FT_DOUBLE, OFF(log_interval_secs), "5", G_OURS,
     "train: seconds between progress lines", NULL, 0, 1e9},
    {"json", FT_BOOL, OFF(json), "false", G_OURS, "eval: print the metrics as JSON instead of a table", NULL, NOLIM},
    {"gematria_prefetch_batches", FT_BOOL, OFF(prefetch_batches), "true", G_OURS,
     "train: build the next batch in a second thread during the current step (same results either way)", NULL,
     NOLIM},
    {"granite_precision", FT_ENUM, OFF(precision), "FP32", G_OURS,
     "train/predict/eval: FP32, or BF16 = the model's matmuls in BF16 with FP32 accumulation (AVX512_BF16; "
     "FP32 weights, optimizer state and layer norms; FP32 with a note where the CPU lacks it)", precision_names,
     NOLIM},
    {"error_analysis", FT_BOOL, OFF(error_analysis), "true", G_OURS,
     "eval: also print the error by block group and the worst blocks (--noerror_analysis: only the metrics)", NULL,
     NOLIM},
    {"worst", FT_INT, OFF(worst), "20", G_OURS, "eval: how many of the worst blocks the error analysis lists", NULL, 0,
     1e9},
    {"gematria_training_file_for_split", FT_OPT_STRING, OFF(training_file_for_split), NULL, G_OURS,
     "eval: split the error analysis into blocks whose graph occurs in these training .tfrecord files (comma list; "
     "without their --gematria_validation_fraction held-out part) and blocks whose graph does not",
     NULL, NOLIM},
    {"granite_loop_carried_edges", FT_BOOL, OFF(loop_carried_edges), "false", G_OURS,
     "model: edges from the last write of each register and memory value to the block's first read of it "
     "(the next iteration's dependency)", NULL, NOLIM},
    {"granite_register_aliasing", FT_BOOL, OFF(register_aliasing), "false", G_OURS,
     "model: EAX, AX, AL... read the value last written to any register of the same family (RAX)", NULL, NOLIM},
    {"granite_critical_path", FT_BOOL, OFF(critical_path), "false", G_OURS,
     "model: the prediction is the smooth max of the GNN's read-out and the longest loop-carried register "
     "dependency cycle under learned per-instruction latencies (the recurrence bound; seq2num)", NULL, NOLIM},
    {"granite_resource_bound", FT_INT, OFF(resource_bound), "0", G_OURS,
     "model: K > 0 = the prediction is also the smooth max with the busiest of K learned resources, each "
     "summed over the block's instructions (the resource-pressure bound; seq2num; docs/accuracy.md); 0 = off",
     NULL, 0, 64},
    {"granite_critical_path_latency", FT_ENUM, OFF(critical_path_latency), "softplus", G_OURS,
     "model, with --granite_critical_path: each instruction's latency is softplus or exp of its linear head; exp "
     "reaches long latencies (division, ~70 output-scale units) with small weights (docs/accuracy.md)",
     granite_latency_names, NOLIM},
    {"granite_critical_path_token_bias", FT_BOOL, OFF(critical_path_token_bias), "false", G_OURS,
     "model, with --granite_critical_path: each instruction token (mnemonic) also gets a learned offset of its "
     "latency's pre-activation per task, so a rare long-latency instruction (division) learns its own latency "
     "(docs/accuracy.md)",
     NULL, NOLIM},
    {"granite_output_scale", FT_STRING, OFF(output_scale), "1", G_OURS,
     "model: multiply the read-out by this to get labels' units; auto = the median training label "
     "(per instruction in seq2seq)", NULL, NOLIM},
    /* TF-only */
    {"master", FT_STRING, OFF(master), "", G_NOEFFECT,
     "TensorFlow master; granite's processes are started by mpirun (docs/distributed.md)", NULL, NOLIM},
    {"gematria_numpy_print_edgeitems", FT_INT, OFF(numpy_print_edgeitems), "20", G_NOEFFECT, "NumPy printing", NULL,
     NOLIM},
    {"gematria_eval_interval_secs", FT_INT, OFF(eval_interval_secs), "60", G_NOEFFECT,
     "continuous evaluation; granite's eval runs once", NULL, NOLIM},
    {"gematria_training_task", FT_INT, OFF(training_task), "0", G_NOEFFECT,
     "TF1 task id; under mpirun the MPI rank plays this part, rank 0 the chief", NULL, NOLIM},
    {"gematria_training_ps_tasks", FT_INT, OFF(training_ps_tasks), "0", G_NOEFFECT,
     "TF1 parameter servers; granite's ranks sum gradients with MPI_Allreduce, without servers", NULL, NOLIM},
    {"gematria_synchronous_training", FT_BOOL, OFF(synchronous_training), "true", G_NOEFFECT,
     "TF1 replicas; granite's ranks are always synchronous", NULL, NOLIM},
    {"gematria_num_training_worker_replicas", FT_INT, OFF(num_training_worker_replicas), "1", G_NOEFFECT,
     "TF1 workers; granite: `mpirun -np R granite`, with --gematria_max_blocks_in_batch the batch of all R "
     "together (R x a TF1 worker's batch)", NULL, NOLIM},
    {"gematria_num_training_worker_replicas_to_aggregate", FT_INT, OFF(num_training_worker_replicas_to_aggregate), "1",
     G_NOEFFECT, "TF1 gradients per update; granite sums the gradients of every rank at every step", NULL, NOLIM},
    {"gematria_run_tf_profiler", FT_BOOL, OFF(run_tf_profiler), "false", G_NOEFFECT, "TF profiler server", NULL, NOLIM},
    {"gematria_tf_profiler_port", FT_INT, OFF(tf_profiler_port), "6009", G_NOEFFECT, "TF profiler port", NULL, NOLIM},
    {"gematria_trained_variables", FT_LIST, OFF(trained_variables), "", G_NOEFFECT,
     "variable groups (broken in Gematria); granite trains all parameters", NULL, NOLIM},
};
#define NUM_FLAGS ((int)ARRAY_LEN(flag_table))
_Static_assert(ARRAY_LEN(flag_table) <= FLAGS_MAX, "raise FLAGS_MAX");

static void *field(GematriaFlags *f, const FlagSpec *s) { return (char *)f + s->offset; }

static void list_free(StringList *l) {
  for (int i = 0; i < l->count; i++) free(l->items[i]);
  free(l->items);
  l->items = NULL;
  l->count = 0;
}

static void list_push(StringList *l, const char *s) {
  l->items = xrealloc(l->items, (size_t)(l->count + 1) * sizeof(char *));
  l->items[l->count++] = xstrdup(s);
}

static int find_enum(const char *const *names, const char *value) {
  for (int i = 0; names[i]; i++)
    if (!strcasecmp(names[i], value)) return i;
  return -1;
}

static int parse_bool(const char *v, bool *out) {
  static const char *const yes[] = {"true", "t", "1", "yes", "y"};
  static const char *const no[] = {"false", "f", "0", "no", "n"};
  for (size_t i = 0; i < ARRAY_LEN(yes); i++)
    if (!strcasecmp(v, yes[i])) return *out = true, 0;
  for (size_t i = 0; i < ARRAY_LEN(no); i++)
    if (!strcasecmp(v, no[i])) return *out = false, 0;
  return -1;
}

static int parse_ll(const char *v, long long *out) {
  char *end;
  errno = 0;
  long long x = strtoll(v, &end, 10);
  if (end == v || *end || errno) return -1;
  *out = x;
  return 0;
}

static bool in_range(const FlagSpec *s, double x) { return s->min > s->max || (x >= s->min && x <= s->max); }

static void range_error(const FlagSpec *s, const char *v) {
  if (s->max >= 1e17)
    gr_error("--%s=%s: must be at least %g", s->name, v, s->min);
  else
    gr_error("--%s=%s: must be between %g and %g", s->name, v, s->min, s->max);
}

/* Comma list of ints: empty or blank = no items; empty items and values out of
 * range are errors (spec §6.2: the validator rejects "256,,256"). */
static int parse_intlist(const FlagSpec *s, const char *v, IntList *out) {
  IntList l = {{0}, 0};
  const char *p = v;
  while (isspace((unsigned char)*p)) p++;
  if (*p) {
    for (;;) {
      const char *comma = strchr(p, ',');
      size_t n = comma ? (size_t)(comma - p) : strlen(p);
      char item[64];
      if (n >= sizeof item) n = sizeof item - 1;
      memcpy(item, p, n);
      item[n] = 0;
      char *t = item;
      while (isspace((unsigned char)*t)) t++;
      for (char *e = t + strlen(t); e > t && isspace((unsigned char)e[-1]);) *--e = 0;
      long long x;
      if (!*t) {
        gr_error("--%s=%s: empty item in the comma-separated list", s->name, v);
        return -1;
      }
      if (parse_ll(t, &x)) {
        gr_error("--%s=%s: '%s' is not an integer", s->name, v, t);
        return -1;
      }
      if (!in_range(s, (double)x)) {
        gr_error("--%s=%s: item %lld must be %s", s->name, v, x, s->max > 1e17 ? "positive" : "between 0 and 100");
        return -1;
      }
      if (l.count == GRANITE_MAX_LAYERS) {
        gr_error("--%s=%s: at most %d items", s->name, v, GRANITE_MAX_LAYERS);
        return -1;
      }
      l.values[l.count++] = (int)x;
      if (!comma) break;
      p = comma + 1;
    }
  }
  *out = l;
  return 0;
}

/* Stores value v into flag s. explicit: from the command line. */
static int set_value(GematriaFlags *f, int index, const char *v, bool explicit) {
  const FlagSpec *s = &flag_table[index];
  void *p = field(f, s);
  switch (s->type) {
    case FT_BOOL:
      if (parse_bool(v, p)) {
        gr_error("--%s=%s: expected true or false", s->name, v);
        return -1;
      }
      break;
    case FT_INT:
    case FT_INT64: {
      long long x;
      if (parse_ll(v, &x) || (s->type == FT_INT && (x > INT_MAX || x < INT_MIN))) {
        gr_error("--%s=%s: expected an integer", s->name, v);
        return -1;
      }
      if (!in_range(s, (double)x)) return range_error(s, v), -1;
      if (s->type == FT_INT)
        *(int *)p = (int)x;
      else
        *(long long *)p = x;
      break;
    }
    case FT_DOUBLE: {
      char *end;
      errno = 0;
      double x = strtod(v, &end);
      if (end == v || *end || errno || !isfinite(x)) {
        gr_error("--%s=%s: expected a number", s->name, v);
        return -1;
      }
      if (!in_range(s, x)) return range_error(s, v), -1;
      *(double *)p = x;
      break;
    }
    case FT_STRING:
    case FT_OPT_STRING:
      free(*(char **)p);
      *(char **)p = xstrdup(v);
      break;
    case FT_ENUM: {
      int e = find_enum(s->enum_names, v);
      if (e < 0) {
        char choices[512] = "";
        for (int i = 0; s->enum_names[i]; i++) {
          if (i) strncat(choices, ", ", sizeof choices - strlen(choices) - 1);
          strncat(choices, s->enum_names[i], sizeof choices - strlen(choices) - 1);
        }
        gr_error("--%s=%s: expected one of %s", s->name, v, choices);
        return -1;
      }
      *(int *)p = e;
      break;
    }
    case FT_INTLIST:
      return parse_intlist(s, v, p);
    case FT_LIST: {
      /* A repeated comma-list flag replaces the previous value (absl). */
      StringList *l = p;
      list_free(l);
      const char *q = v;
      while (*q) {
        const char *comma = strchr(q, ',');
        size_t n = comma ? (size_t)(comma - q) : strlen(q);
        char *item = xmalloc(n + 1);
        memcpy(item, q, n);
        item[n] = 0;
        if (*item) list_push(l, item);
        free(item);
        if (!comma) break;
        q = comma + 1;
      }
      break;
    }
    case FT_MULTI: {
      StringList *l = p;
      /* The first occurrence on the command line replaces the default list. */
      if (explicit && !f->was_set[index]) list_free(l);
      list_push(l, v);
      break;
    }
  }
  if (explicit) f->was_set[index] = 1;
  return 0;
}

void flags_init(GematriaFlags *f) {
  memset(f, 0, sizeof *f);
  for (int i = 0; i < NUM_FLAGS; i++)
    if (flag_table[i].def && set_value(f, i, flag_table[i].def, false)) abort(); /* a bad table is a bug */
}

void flags_free(GematriaFlags *f) {
  for (int i = 0; i < NUM_FLAGS; i++) {
    void *p = field(f, &flag_table[i]);
    if (flag_table[i].type == FT_STRING || flag_table[i].type == FT_OPT_STRING) free(*(char **)p);
    if (flag_table[i].type == FT_LIST || flag_table[i].type == FT_MULTI) list_free(p);
  }
  memset(f, 0, sizeof *f);
}

static int lookup(const char *name) {
  for (int i = 0; i < NUM_FLAGS; i++)
    if (!strcmp(flag_table[i].name, name)) return i;
  return -1;
}

bool flags_was_set(const GematriaFlags *f, const char *name) {
  int i = lookup(name);
  return i >= 0 && f->was_set[i];
}

int flags_edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  int *row = xmalloc((lb + 1) * sizeof(int));
  for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
  for (size_t i = 1; i <= la; i++) {
    int diag = row[0];
    row[0] = (int)i;
    for (size_t j = 1; j <= lb; j++) {
      int up = row[j];
      int best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  int d = row[lb];
  free(row);
  return d;
}

static void unknown_flag(const char *name) {
  int best = -1, best_d = 1 << 30;
  for (int i = 0; i < NUM_FLAGS; i++) {
    int d = flags_edit_distance(name, flag_table[i].name);
    if (d < best_d) best_d = d, best = i;
  }
  /* Also try with the gematria_ prefix the user may have left out. */
  char prefixed[300];
  snprintf(prefixed, sizeof prefixed, "gematria_%.255s", name);
  int j = lookup(prefixed);
  if (j >= 0) best = j, best_d = 0;
  int limit = (int)strlen(name) / 3 + 1;
  if (best >= 0 && best_d <= (limit < 4 ? limit : 4))
    gr_error("unknown flag --%s (did you mean --%s?)", name, flag_table[best].name);
  else
    gr_error("unknown flag --%s (granite --help lists the flags)", name);
}

static int parse_args(GematriaFlags *f, int argc, char **argv, int first) {
  for (int i = first; i < argc; i++) {
    const char *arg = argv[i];
    gr_error_place(flagfile_origin(arg)); /* errors about a flag from a file name its FILE:LINE */
    if (!strcmp(arg, "--help") || !strcmp(arg, "-h") || !strcmp(arg, "--helpfull")) {
      flags_print_help(stdout);
      return 1;
    }
    if (arg[0] != '-' || !arg[1]) {
      gr_error("unexpected argument '%s' (flags are written --name=value)", arg);
      return -1;
    }
    const char *body = arg + (arg[1] == '-' ? 2 : 1);
    char name[256];
    const char *eq = strchr(body, '=');
    size_t n = eq ? (size_t)(eq - body) : strlen(body);
    if (n >= sizeof name) n = sizeof name - 1;
    memcpy(name, body, n);
    name[n] = 0;
    int index = lookup(name);
    const char *value = eq ? eq + 1 : NULL;
    if (index < 0 && !strncmp(name, "no", 2)) {
      int neg = lookup(name + 2);
      if (neg >= 0 && flag_table[neg].type == FT_BOOL) {
        if (value) {
          gr_error("--%s takes no value", name);
          return -1;
        }
        index = neg;
        value = "false";
      } else if (neg >= 0) {
        gr_error("--%s: the 'no' prefix is only for boolean flags; --%s takes a value", name, name + 2);
        return -1;
      }
    }
    if (index < 0) {
      unknown_flag(name);
      return -1;
    }
    if (!value) {
      if (flag_table[index].type == FT_BOOL) {
        value = "true";
      } else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
        value = argv[++i];
      } else if (i + 1 < argc) { /* never swallow the next flag as this one's value */
        gr_error("--%s needs a value, but the next argument is the flag %s (write --%s=VALUE)", name, argv[i + 1],
                 name);
        return -1;
      } else {
        gr_error("--%s needs a value", name);
        return -1;
      }
    }
    if (set_value(f, index, value, true)) return -1;
  }
  return 0;
}

int flags_parse(GematriaFlags *f, int argc, char **argv, int first) {
  int rc = parse_args(f, argc, argv, first);
  gr_error_place(NULL);
  if (rc) return rc;
  for (int i = 0; i < NUM_FLAGS; i++)
    if (f->was_set[i] && flag_table[i].group == G_NOEFFECT)
      gr_warn("--%s has no effect in granite (%s)", flag_table[i].name, flag_table[i].help);
  return 0;
}

/* Shortest %g text that reads back as the same double. */
static void write_double(FILE *out, double x) {
  char buf[40];
  for (int digits = 6; digits <= 17; digits++) {
    snprintf(buf, sizeof buf, "%.*g", digits, x);
    if (strtod(buf, NULL) == x) break;
  }
  fputs(buf, out);
}

void flags_write(FILE *out, const GematriaFlags *f) {
  for (int i = 0; i < NUM_FLAGS; i++) {
    const FlagSpec *s = &flag_table[i];
    const void *p = (const char *)f + s->offset;
    if (s->group == G_NOEFFECT) continue;
    if (!s->def && !f->was_set[i]) continue; /* "not given" is no value a flag can be set to */
    switch (s->type) {
      case FT_BOOL: fprintf(out, "--%s=%s\n", s->name, *(const bool *)p ? "true" : "false"); break;
      case FT_INT: fprintf(out, "--%s=%d\n", s->name, *(const int *)p); break;
      case FT_INT64: fprintf(out, "--%s=%lld\n", s->name, *(const long long *)p); break;
      case FT_DOUBLE:
        fprintf(out, "--%s=", s->name);
        write_double(out, *(const double *)p);
        fputc('\n', out);
        break;
      case FT_STRING:
      case FT_OPT_STRING:
        if (*(char *const *)p) fprintf(out, "--%s=%s\n", s->name, *(char *const *)p);
        break;
      case FT_ENUM: fprintf(out, "--%s=%s\n", s->name, s->enum_names[*(const int *)p]); break;
      case FT_INTLIST: {
        const IntList *l = p;
        fprintf(out, "--%s=", s->name);
        for (int k = 0; k < l->count; k++) fprintf(out, "%s%d", k ? "," : "", l->values[k]);
        fputc('\n', out);
        break;
      }
      case FT_LIST: {
        const StringList *l = p;
        fprintf(out, "--%s=", s->name);
        for (int k = 0; k < l->count; k++) fprintf(out, "%s%s", k ? "," : "", l->items[k]);
        fputc('\n', out);
        break;
      }
      case FT_MULTI: {
        const StringList *l = p;
        for (int k = 0; k < l->count; k++) fprintf(out, "--%s=%s\n", s->name, l->items[k]);
        break;
      }
    }
  }
}

int flags_write_run_file(const char *dir, const GematriaFlags *f) {
  char path[4200], tmp[4300];
  snprintf(path, sizeof path, "%s/%s", dir, FLAGS_RUN_FILE);
  snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
  FILE *out = fopen(tmp, "w");
  if (!out) {
    gr_error("%s: cannot write the run's flags: %s", tmp, strerror(errno));
    return -1;
  }
  fputs("# the flags of this training run, as `granite runs` reads them; granite --flagfile=THIS_FILE resumes it\n",
        out);
  flags_write(out, f);
  if (ferror(out) | fclose(out) || rename(tmp, path)) {
    gr_error("%s: cannot write the run's flags: %s", path, strerror(errno));
    unlink(tmp);
    return -1;
  }
  return 0;
}

static void default_text(const FlagSpec *s, char *buf, size_t size) {
  if (!s->def) {
    snprintf(buf, size, "not set");
  } else if (s->type == FT_STRING || s->type == FT_LIST || s->type == FT_INTLIST || s->type == FT_MULTI) {
    snprintf(buf, size, "'%s'", s->def);
  } else {
    snprintf(buf, size, "%s", s->def);
  }
}

void flags_print_help(FILE *out) {
  fprintf(out,
          "usage: granite --gematria_action=train|predict|eval [flags]\n"
          "       granite train|predict|eval [flags]\n"
          "Flags are Gematria's run_granite_model flags, spelled the same way:\n"
          "--flag=value or --flag value; booleans --flag, --noflag, --flag=false.\n");
  for (int g = 0; g < G_COUNT; g++) {
    fprintf(out, "\n%s:\n", group_titles[g]);
    for (int i = 0; i < NUM_FLAGS; i++) {
      const FlagSpec *s = &flag_table[i];
      if (s->group != g) continue;
      char def[128];
      default_text(s, def, sizeof def);
      fprintf(out, "  --%s (default: %s)\n      %s\n", s->name, def, s->help);
    }
  }
}

const char *flags_loss_type_name(int v) { return loss_names[v]; }
const char *flags_schedule_name(int v) { return schedule_names[v]; }
const char *flags_optimizer_name(int v) { return optimizer_names[v]; }
const char *flags_action_name(int v) { return action_names[v]; }
const char *flags_selection_name(int v) { return selection_names[v]; }
const char *flags_normalization_name(int v) { return normalization_names[v]; }

int flags_num_tasks(const GematriaFlags *f) { return f->throughput_source_filter.count; }

const char *flags_task_name(const GematriaFlags *f, int i, char *buf, int buf_size) {
  if (f->task_names.count) return f->task_names.items[i];
  if (flags_num_tasks(f) == 1) return "default";
  snprintf(buf, (size_t)buf_size, "task_%d", i + 1);
  return buf;
}

bool flags_output_scale_auto(const GematriaFlags *f) { return strcasecmp(f->output_scale, "auto") == 0; }

/* The number of --granite_output_scale, or 0 if it is not one. */
static double output_scale_value(const GematriaFlags *f) {
  char *end;
  double v = strtod(f->output_scale, &end);
  if (end == f->output_scale || *end || !isfinite(v) || v <= 0 || v > 1e30) return 0;
  return v;
}

int flags_validate(const GematriaFlags *f) {
  if (!flags_output_scale_auto(f) && output_scale_value(f) == 0) {
    gr_error("--granite_output_scale='%s': expected auto or a finite number > 0", f->output_scale);
    return -1;
  }
  if (f->critical_path_latency != GRANITE_LATENCY_SOFTPLUS && !f->critical_path) {
    gr_error("--granite_critical_path_latency=%s needs --granite_critical_path (it shapes that read-out's latencies)",
             granite_latency_names[f->critical_path_latency]);
    return -1;
  }
  if (f->critical_path_token_bias && !f->critical_path) {
    gr_error("--granite_critical_path_token_bias needs --granite_critical_path (it offsets that read-out's latencies)");
    return -1;
  }
  int tasks = flags_num_tasks(f);
  if (tasks < 1) {
    gr_error("--gematria_throughput_source_filter: at least one filter is needed");
    return -1;
  }
  if (tasks > GRANITE_MAX_TASKS) {
    gr_error("--gematria_throughput_source_filter: %d filters, granite supports at most %d tasks", tasks,
             GRANITE_MAX_TASKS);
    return -1;
  }
  if (f->task_names.count && f->task_names.count != tasks) {
    gr_error("--gematria_task_names has %d names but there are %d --gematria_throughput_source_filter values",
             f->task_names.count, tasks);
    return -1;
  }
  if (f->rnn_type != RNN_FLAG_NONE) {
    gr_error("--gematria_rnn_type=%s: the RNN variant is not supported by granite (use NONE)", rnn_names[f->rnn_type]);
    return -1;
  }
  if (f->annotation_names_file) {
    gr_error("--gematria_annotation_names_file: instruction annotations are not supported by granite");
    return -1;
  }
  if (f->warmstart_checkpoint_file && f->warmstart_checkpoint_dir) {
    gr_error("--gematria_warmstart_checkpoint_file and --gematria_warmstart_checkpoint_dir exclude each other");
    return -1;
  }
  if (f->out_of_vocabulary_injection_probability > 0 && !f->out_of_vocabulary_replacement_token[0]) {
    gr_error("--gematria_out_of_vocabulary_injection_probability needs a --gematria_out_of_vocabulary_replacement_token");
    return -1;
  }
  if (f->validation_file && f->validation_fraction > 0) {
    gr_error("--gematria_validation_file and --gematria_validation_fraction exclude each other");
    return -1;
  }
  return 0;
}

static void copy_layers(int *dst, int *count, const IntList *src) {
  for (int i = 0; i < src->count; i++) dst[i] = src->values[i];
  *count = src->count;
}

void flags_to_config(const GematriaFlags *f, GraniteConfig *c, int vocab_size) {
  granite_config_default(c);
  c->vocab_size = vocab_size;
  c->num_tasks = flags_num_tasks(f);
  c->node_embedding_size = f->node_embedding_size;
  c->edge_embedding_size = f->edge_embedding_size;
  c->global_embedding_size = f->global_embedding_size;
  copy_layers(c->node_update_layers, &c->num_node_update_layers, &f->node_update_layers);
  copy_layers(c->edge_update_layers, &c->num_edge_update_layers, &f->edge_update_layers);
  copy_layers(c->global_update_layers, &c->num_global_update_layers, &f->global_update_layers);
  copy_layers(c->readout_layers, &c->num_readout_layers, &f->readout_layers);
  copy_layers(c->task_readout_layers, &c->num_task_readout_layers, &f->task_readout_layers);
  c->num_message_passing_iterations = f->num_message_passing_iterations;
  c->use_sent_edges = f->use_sent_edges;
  c->graph_module_residual_connections = f->graph_module_residual_connections;
  c->readout_residual_connections = f->readout_residual_connections;
  c->task_readout_residual_connections = f->task_readout_residual_connections;
  c->graph_module_layer_normalization = f->graph_module_layer_normalization;
  c->readout_input_layer_normalization = f->readout_input_layer_normalization;
  c->task_readout_input_layer_normalization = f->task_readout_input_layer_normalization;
  c->seq2seq = f->seq2seq;
  c->loop_carried_edges = f->loop_carried_edges;
  c->register_aliasing = f->register_aliasing;
  c->critical_path = f->critical_path;
  c->resource_bound = f->resource_bound;
  c->critical_path_latency = f->critical_path_latency;
  c->critical_path_token_bias = f->critical_path_token_bias;
  if (!flags_output_scale_auto(f) && output_scale_value(f) > 0) c->output_scale = (float)output_scale_value(f);
}
