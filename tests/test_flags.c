/* The --gematria_* flag parser (spec §6): defaults, syntaxes, enums, lists,
 * multi-string flags, bad values and unknown flags. */
#include <string.h>

#include "testing.h"
#include "train/flags.h"

/* Parses the NULL-terminated argument list into f (initialized here). */
static int parse(GematriaFlags *f, const char **args) {
  char *argv[64];
  int argc = 0;
  argv[argc++] = "granite";
  for (; *args; args++) argv[argc++] = (char *)*args;
  flags_init(f);
  return flags_parse(f, argc, argv, 1);
}

static void test_defaults(void) {
  GematriaFlags f;
  const char *args[] = {NULL};
  CHECK(parse(&f, args) == 0);
  CHECK(f.action == ACTION_TRAIN);
  CHECK(f.training_num_epochs == 10000);
  CHECK(f.random_seed == 123456789);
  CHECK(f.max_instructions_in_batch == 1000000);
  CHECK(f.max_blocks_in_batch == 0);
  CHECK(f.learning_rate == 0.001);
  CHECK(f.loss_type == LOSS_FLAG_MSE);
  CHECK(f.learning_rate_schedule == SCHED_FLAG_NONE);
  CHECK(f.optimizer_type == OPT_FLAG_ADAM);
  CHECK(f.training_throughput_selection == SELECT_FLAG_MEAN);
  CHECK(f.save_checkpoint_epochs == 100 && f.checkpoint_max_to_keep == 100);
  CHECK(f.node_embedding_size == 128 && f.edge_embedding_size == 128 && f.global_embedding_size == 128);
  CHECK(f.node_update_layers.count == 0 && f.task_readout_layers.count == 0);
  CHECK(f.num_message_passing_iterations == 8);
  CHECK(f.graph_module_layer_normalization && f.readout_input_layer_normalization &&
        f.task_readout_input_layer_normalization);
  CHECK(f.use_seq2seq_loss && !f.seq2seq && f.training_randomize_batches);
  CHECK(f.throughput_source_filter.count == 1 && !strcmp(f.throughput_source_filter.items[0], ".*"));
  CHECK(f.task_names.count == 0);
  CHECK(f.collected_percentile_ranks.count == 4 && f.collected_percentile_ranks.values[3] == 99);
  CHECK(!strcmp(f.out_of_vocabulary_replacement_token, "_UNKNOWN_"));
  CHECK(f.tokens_file == NULL && f.model_name == NULL);
  CHECK(f.input_file_scaling == 1.0 && f.grad_clip_norm == 0);
  CHECK(!flags_was_set(&f, "gematria_action"));
  char buf[32];
  CHECK(flags_num_tasks(&f) == 1 && !strcmp(flags_task_name(&f, 0, buf, sizeof buf), "default"));
  GraniteConfig c;
  flags_to_config(&f, &c, 77);
  CHECK(c.vocab_size == 77 && c.num_tasks == 1 && c.node_embedding_size == 128 && c.num_message_passing_iterations == 8);
  CHECK(f.critical_path_latency == GRANITE_LATENCY_SOFTPLUS && c.critical_path_latency == GRANITE_LATENCY_SOFTPLUS);
  flags_free(&f);
}

/* Model 8 of the reference log, verbatim (spec §6, training-log.md). */
static void test_reference_log_model8(void) {
  GematriaFlags f;
  const char *args[] = {"--gematria_action=train", "--gematria_checkpoint_dir=/data/bbs_20u7_model8/",
                        "--gematria_learning_rate=0.001", "--gematria_loss_type=mean_absolute_error",
                        "--gematria_training_num_epochs=100000", "--gematria_tokens_file=/data/vocab.txt",
                        "--gematria_input_file=/data/bbs_benchmarked_20u7.tfrecord",
                        "--gematria_max_blocks_in_batch=100", "--gematria_learning_rate_schedule=cosine",
                        "--gematria_decay_steps=10000", "--gematria_node_embedding_size=256",
                        "--gematria_node_update_layers=256", "--gematria_edge_embedding_size=256",
                        "--gematria_edge_update_layers=256", "--gematria_global_embedding_size=256",
                        "--gematria_global_update_layers=256", "--gematria_task_readout_layers=256", NULL};
  CHECK(parse(&f, args) == 0);
  CHECK(f.loss_type == LOSS_FLAG_MAE);
  CHECK(f.learning_rate_schedule == SCHED_FLAG_COSINE);
  CHECK(f.decay_steps == 10000 && f.training_num_epochs == 100000 && f.max_blocks_in_batch == 100);
  CHECK(!strcmp(f.checkpoint_dir, "/data/bbs_20u7_model8/") && !strcmp(f.tokens_file, "/data/vocab.txt"));
  CHECK(f.input_file.count == 1 && !strcmp(f.input_file.items[0], "/data/bbs_benchmarked_20u7.tfrecord"));
  CHECK(f.node_update_layers.count == 1 && f.node_update_layers.values[0] == 256);
  CHECK(f.task_readout_layers.count == 1 && f.readout_layers.count == 0);
  CHECK(flags_was_set(&f, "gematria_node_embedding_size") && !flags_was_set(&f, "gematria_readout_layers"));
  GraniteConfig c;
  flags_to_config(&f, &c, 10);
  CHECK(c.node_embedding_size == 256 && c.num_edge_update_layers == 1 && c.edge_update_layers[0] == 256 &&
        c.num_task_readout_layers == 1 && c.task_readout_layers[0] == 256);
  flags_free(&f);
}

static void test_syntaxes(void) {
  GematriaFlags f;
  const char *args[] = {"--gematria_action", "PREDICT",           "--gematria_seq2seq",
                        "--nogematria_use_seq2seq_loss",        "--gematria_training_randomize_batches=0",
                        "--gematria_use_sent_edges=True",       "--gematria_input_file=a.tfrecord,b.tfrecord",
                        "--gematria_learning_rate", "1e-2",    "--gematria_readout_layers= 64, 32 ",
                        "--gematria_node_update_layers=",        NULL};
  CHECK(parse(&f, args) == 0);
  CHECK(f.action == ACTION_PREDICT);
  CHECK(f.seq2seq && !f.use_seq2seq_loss && !f.training_randomize_batches && f.use_sent_edges);
  CHECK(f.input_file.count == 2 && !strcmp(f.input_file.items[1], "b.tfrecord"));
  CHECK_NEAR(f.learning_rate, 0.01, 1e-12, 0);
  CHECK(f.readout_layers.count == 2 && f.readout_layers.values[0] == 64 && f.readout_layers.values[1] == 32);
  CHECK(f.node_update_layers.count == 0);
  flags_free(&f);
}

static void test_multi_string(void) {
  GematriaFlags f;
  const char *args[] = {"--gematria_throughput_source_filter=bhive: haswell",
                        "--gematria_throughput_source_filter", "bhive: skylake", "--gematria_task_names=hsw",
                        "--gematria_task_names=skl", NULL};
  CHECK(parse(&f, args) == 0);
  /* the first occurrence replaced the default '.*' */
  CHECK(f.throughput_source_filter.count == 2);
  CHECK(!strcmp(f.throughput_source_filter.items[0], "bhive: haswell"));
  CHECK(!strcmp(f.throughput_source_filter.items[1], "bhive: skylake"));
  CHECK(flags_num_tasks(&f) == 2);
  char buf[32];
  CHECK(!strcmp(flags_task_name(&f, 1, buf, sizeof buf), "skl"));
  CHECK(flags_validate(&f) == 0);
  flags_free(&f);

  const char *args2[] = {"--gematria_throughput_source_filter=a", "--gematria_throughput_source_filter=b",
                         "--gematria_task_names=only_one", NULL};
  CHECK(parse(&f, args2) == 0);
  CHECK(flags_validate(&f) == -1); /* 1 name for 2 filters */
  flags_free(&f);

  const char *args3[] = {"--gematria_throughput_source_filter=a", "--gematria_throughput_source_filter=b", NULL};
  CHECK(parse(&f, args3) == 0);
  CHECK(!strcmp(flags_task_name(&f, 1, buf, sizeof buf), "task_2"));
  flags_free(&f);
}

static void expect_error(const char *arg) {
  GematriaFlags f;
  const char *args[] = {arg, NULL};
  CHECK_MSG(parse(&f, args) == -1, "%s should be rejected", arg);
  flags_free(&f);
}

static void test_errors(void) {
  expect_error("--gematria_node_update_layers=256,,256");
  expect_error("--gematria_node_update_layers=256,0");
  expect_error("--gematria_node_update_layers=-3");
  expect_error("--gematria_node_update_layers=12a");
  expect_error("--gematria_loss_type=mean_cubed_error");
  expect_error("--gematria_learning_rate=fast");
  expect_error("--gematria_learning_rate=nan");
  expect_error("--gematria_training_num_epochs=-1");
  expect_error("--gematria_max_blocks_in_batch=0");
  expect_error("--gematria_node_embedding_size=99999999999");
  expect_error("--gematria_seq2seq=maybe");
  expect_error("--gematria_learning_rat=0.1");      /* unknown */
  expect_error("--nogematria_learning_rate");      /* --no only for booleans */
  expect_error("--nogematria_seq2seq=true");
  expect_error("--gematria_out_of_vocabulary_injection_probability=1.5");
  expect_error("positional");
  expect_error("--gematria_tokens_file"); /* needs a value */
  expect_error("--gematria_collected_percentile_ranks=50,101");
  expect_error("--granite_critical_path_latency=cubic");
}

static void test_validate(void) {
  GematriaFlags f;
  const char *args[] = {"--gematria_rnn_type=lstm", NULL};
  CHECK(parse(&f, args) == 0);
  CHECK(f.rnn_type == RNN_FLAG_LSTM);
  CHECK(flags_validate(&f) == -1);
  flags_free(&f);
  const char *args2[] = {"--gematria_validation_file=v.tfrecord", "--gematria_validation_fraction=0.1", NULL};
  CHECK(parse(&f, args2) == 0);
  CHECK(flags_validate(&f) == -1);
  flags_free(&f);
  /* TF-only flags are accepted (with a warning) */
  const char *args3[] = {"--master=local", "--gematria_numpy_print_edgeitems=3", "--gematria_run_tf_profiler",
                         "--allow_zero_learning_rate", "--json", NULL};
  CHECK(parse(&f, args3) == 0);
  CHECK(f.numpy_print_edgeitems == 3 && f.allow_zero_learning_rate && f.json);
  CHECK(flags_validate(&f) == 0);
  flags_free(&f);
  /* exp latencies are the critical path's: refused without it, naming both flags */
  const char *args4[] = {"--granite_critical_path_latency=exp", NULL};
  CHECK(parse(&f, args4) == 0);
  StderrCapture cap;
  char msg[512];
  stderr_capture_begin(&cap);
  CHECK(flags_validate(&f) == -1);
  stderr_capture_end(&cap, msg, sizeof msg);
  CHECK_MSG(strstr(msg, "--granite_critical_path_latency=exp") && strstr(msg, "needs --granite_critical_path"), "%s",
            msg);
  flags_free(&f);
  const char *args5[] = {"--granite_critical_path", "--granite_critical_path_latency=exp", NULL};
  CHECK(parse(&f, args5) == 0);
  CHECK(flags_validate(&f) == 0);
  GraniteConfig c;
  flags_to_config(&f, &c, 5);
  CHECK(c.critical_path && c.critical_path_latency == GRANITE_LATENCY_EXP && !c.critical_path_token_bias);
  flags_free(&f);
  /* token latency offsets likewise */
  const char *args6[] = {"--granite_critical_path_token_bias", NULL};
  CHECK(parse(&f, args6) == 0);
  stderr_capture_begin(&cap);
  CHECK(flags_validate(&f) == -1);
  stderr_capture_end(&cap, msg, sizeof msg);
  CHECK_MSG(strstr(msg, "--granite_critical_path_token_bias") && strstr(msg, "needs --granite_critical_path"), "%s",
            msg);
  flags_free(&f);
  const char *args7[] = {"--granite_critical_path", "--granite_critical_path_token_bias", NULL};
  CHECK(parse(&f, args7) == 0);
  CHECK(flags_validate(&f) == 0);
  flags_to_config(&f, &c, 5);
  CHECK(c.critical_path && c.critical_path_token_bias && c.critical_path_latency == GRANITE_LATENCY_SOFTPLUS);
  flags_free(&f);
}

static void test_edit_distance(void) {
  CHECK(flags_edit_distance("kitten", "sitting") == 3);
  CHECK(flags_edit_distance("", "abc") == 3);
  CHECK(flags_edit_distance("gematria_learning_rat", "gematria_learning_rate") == 1);
}

int main(void) {
  test_defaults();
  test_reference_log_model8();
  test_syntaxes();
  test_multi_string();
  test_errors();
  test_validate();
  test_edit_distance();
  return test_summary("test_flags");
}
