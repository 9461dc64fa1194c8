/* granite bench: training and prediction speed, latency and memory on real
 * blocks, as blocks/s and as a fraction of the machine's FP32 peak
 * (DESIGN.md "Speed"; FLOPs of the reference model, spec §7). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cblas.h>

#include "cli/bench_measure.h"
#include "cli/commands.h"
#include "cli/flags_simple.h"
#include "io/dataset.h"
#include "io/vocab.h"
#include "nn/gemm_kernel.h"
#include "train/flops.h"
#include "util/common.h"
#include "util/machine.h"

#define MAX_CONFIGS 4
#define MAX_THREAD_COUNTS 8
#define MAX_RUNS (4 * MAX_THREAD_COUNTS) /* x 2 parallel modes x 2 precisions */

/* Spec §3.7 worked example without its last instruction: 5 instructions
 * (sub, mov, mov, sar, sub), the block the latency is measured on. */
static const char LATENCY_BLOCK_HEX[] = "4829d38b44246c8b54246848c1fb034829d0";

typedef struct {
  const char *name;
  GraniteConfig cfg;
  struct {
    int threads;
    bool data_parallel;
    bool bf16;
    PhaseResult train, predict;
    bool has_train, has_predict;
  } runs[MAX_RUNS];
  int num_runs;
  LatencyResult latency[2], latency_api[2]; /* [0] FP32, [1] BF16 */
  CacheResult cache;                        /* with the first precision measured */
  bool has_latency[2], has_latency_api[2], has_cache;
  size_t num_params;
} ConfigResult;

static void config_default(GraniteConfig *c, int vocab_size, int num_tasks) {
  granite_config_default(c);
  c->vocab_size = vocab_size;
  c->num_tasks = num_tasks;
}

/* Models 8/9 of the reference training log: embeddings 256, update layers
 * 256, task readout layers 256, K = 8 (spec §4.8). */
static void config_256(GraniteConfig *c, int vocab_size, int num_tasks) {
  config_default(c, vocab_size, num_tasks);
  c->node_embedding_size = c->edge_embedding_size = c->global_embedding_size = 256;
  c->node_update_layers[0] = c->edge_update_layers[0] = c->global_update_layers[0] = 256;
  c->num_node_update_layers = c->num_edge_update_layers = c->num_global_update_layers = 1;
  c->task_readout_layers[0] = 256;
  c->num_task_readout_layers = 1;
}

/* Runs this same granite binary with args (a sub-command); 0 on exit 0. */
static int run_self(char *const *args) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) {
    gr_error("bench: cannot find the granite binary (/proc/self/exe)");
    return -1;
  }
  exe[n] = 0;
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    gr_error("bench: fork: %s", strerror(errno));
    return -1;
  }
  if (pid == 0) {
    char *argv[16];
    int k = 0;
    argv[k++] = exe;
    for (int i = 0; args[i] && k < 15; i++) argv[k++] = args[i];
    argv[k] = NULL;
    execv(exe, argv);
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    gr_error("bench: 'granite %s' failed", args[0]);
    return -1;
  }
  return 0;
}

static bool file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* A cached product is fresh if it is newer than its source. */
static bool fresh(const char *product, const char *source) {
  struct stat a, b;
  if (stat(product, &a) != 0 || stat(source, &b) != 0) return false;
  return a.st_mtime >= b.st_mtime;
}

static const char *base_name(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

/* The default data: the shared BHive/llvm-mca blocks when present, else the
 * bundled sample. */
static const char *default_csv(void) {
  static char path[PATH_MAX];
  const char *env = getenv("GRANITE_SHARED_DATA");
  const char *dirs[] = {env, "../shared/data", "/work/shared/data"};
  for (size_t i = 0; i < ARRAY_LEN(dirs); i++) {
    if (!dirs[i]) continue;
    snprintf(path, sizeof path, "%s/bhive-mca/skylake.csv", dirs[i]);
    if (file_exists(path)) return path;
  }
  return NULL;
}

static int prepare_inputs(StrList *inputs, const char *csv, const char *cache_dir, char **tokens) {
  static char imported[PATH_MAX + 64], vocab[PATH_MAX + 64];
  if (inputs->n == 0) {
    if (!csv) csv = default_csv();
    if (csv) {
      mkdir(cache_dir, 0777);
      snprintf(imported, sizeof imported, "%s/%s.tfrecord", cache_dir, base_name(csv));
      if (!fresh(imported, csv)) {
        fprintf(stderr, "bench: importing %s -> %s\n", csv, imported);
        char *args[] = {"import-bhive", "--quiet", "--output", imported, (char *)csv, NULL};
        if (run_self(args) != 0) return -1;
      }
      str_list_push(inputs, imported);
    } else if (file_exists("data/sample/sample.tfrecord")) {
      str_list_push(inputs, "data/sample/sample.tfrecord");
    } else {
      gr_error("bench: no input: give --input FILE.tfrecord or --csv FILE.csv "
               "(neither shared/data/bhive-mca nor data/sample/sample.tfrecord was found)");
      return -1;
    }
  }
  if (!*tokens) {
    mkdir(cache_dir, 0777);
    snprintf(vocab, sizeof vocab, "%s/%s.vocab", cache_dir, base_name(inputs->items[0]));
    if (inputs->n > 1 || !fresh(vocab, inputs->items[0])) {
      char *args[16] = {"tokens", "--quiet", "--output", vocab};
      int k = 4;
      for (int i = 0; i < inputs->n && k < 15; i++) args[k++] = inputs->items[i];
      args[k] = NULL;
      if (run_self(args) != 0) return -1;
    }
    *tokens = vocab;
  }
  return 0;
}

/* --dump-graphs: the graphs the benchmark trains on, one JSON object a line. */
static int dump_graphs(const Dataset *ds, const char *path) {
  FILE *f = fopen(path, "w");
  if (!f) {
    gr_error("bench: cannot write %s: %s", path, strerror(errno));
    return -1;
  }
  float labels[GRANITE_MAX_TASKS];
  uint8_t mask[GRANITE_MAX_TASKS];
  for (int i = 0; i < ds->num_blocks; i++) {
    if (!ds->valid[i]) continue;
    BlockGraph g;
    dataset_graph(ds, i, &g);
    dataset_block_labels(ds, i, NULL, labels, mask, NULL, NULL);
    fputs("{\"node_tokens\": [", f);
    for (int j = 0; j < g.num_nodes; j++) fprintf(f, "%s%d", j ? ", " : "", g.node_tokens[j]);
    fputs("], \"edge_types\": [", f);
    for (int j = 0; j < g.num_edges; j++) fprintf(f, "%s%d", j ? ", " : "", g.edge_types[j]);
    fputs("], \"senders\": [", f);
    for (int j = 0; j < g.num_edges; j++) fprintf(f, "%s%d", j ? ", " : "", g.senders[j]);
    fputs("], \"receivers\": [", f);
    for (int j = 0; j < g.num_edges; j++) fprintf(f, "%s%d", j ? ", " : "", g.receivers[j]);
    fputs("], \"instruction_node_mask\": [", f);
    for (int j = 0; j < g.num_nodes; j++)
      fprintf(f, "%s%d", j ? ", " : "", g.node_types[j] == NODE_INSTRUCTION);
    fputs("], \"throughput\": [", f);
    for (int t = 0; t < ds->num_tasks; t++) {
      if (mask[t])
        fprintf(f, "%s%.9g", t ? ", " : "", labels[t]);
      else
        fprintf(f, "%snull", t ? ", " : "");
    }
    fputs("]}\n", f);
  }
  if (fclose(f) != 0) {
    gr_error("bench: error writing %s", path);
    return -1;
  }
  return 0;
}

/* "1,2" -> counts; "all" means every core. */
static int parse_threads(const char *text, int cores, int *out) {
  int n = 0;
  const char *p = text;
  while (*p && n < MAX_THREAD_COUNTS) {
    char *end;
    long v;
    if (!strncmp(p, "all", 3)) {
      v = cores;
      end = (char *)p + 3;
    } else {
      v = strtol(p, &end, 10);
    }
    if (end == p || v < 1 || v > 1024 || (*end && *end != ',')) {
      gr_error("bench: --threads=%s: expected comma-separated counts like 1,2 or all", text);
      return -1;
    }
    out[n++] = (int)v;
    p = *end ? end + 1 : end;
  }
  return n;
}

/* The 1-minute load average: on a shared machine, other jobs' load is the
 * first thing to check before trusting a number (multi-thread runs suffer
 * most: an OpenMP barrier waits for a thread the scheduler parked). */
static double load_average(void) {
  double l = -1;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) {
    if (fscanf(f, "%lf", &l) != 1) l = -1;
    fclose(f);
  }
  return l;
}

static double gflops(const PhaseResult *r) { return r->seconds > 0 ? r->flops / r->seconds * 1e-9 : 0; }

static void print_phase_row(FILE *out, const char *cfg, int threads, bool data_parallel, bool bf16, const char *what,
                            const PhaseResult *r, double peak, double nominal_peak) {
  double g = gflops(r);
  double blocks = r->seconds > 0 ? r->blocks / r->seconds : 0;
  double steps = r->seconds > 0 ? r->steps / r->seconds : 0;
  double fwd = r->t_forward / r->seconds * 100, bwd = r->t_backward / r->seconds * 100,
         upd = r->t_update / r->seconds * 100, bat = r->t_batch / r->seconds * 100;
  char th[16];
  snprintf(th, sizeof th, "%d%s", threads, threads > 1 ? (data_parallel ? " data" : " kern") : "");
  fprintf(out, "%-8s %7s  %-4s  %-8s %10.0f %10.0f %9.2f %9.1f %6.1f%% %7.1f%%  %5.0f%%/%3.0f%%/%3.0f%%/%3.0f%%  %8.0f\n", cfg,
          th, bf16 ? "bf16" : "fp32", what, blocks, r->cpu_seconds > 0 ? r->blocks / r->cpu_seconds : 0, steps, g, peak > 0 ? g / peak * 100 : 0,
          nominal_peak > 0 ? g / nominal_peak * 100 : 0, bat, fwd, bwd, upd, r->peak_rss_mib);
  (void)threads;
}

static void json_phase(FILE *f, const char *name, const PhaseResult *r, double peak, double nominal_peak) {
  double g = gflops(r);
  fprintf(f,
          "\"%s\": {\"steps\": %d, \"seconds\": %.6f, \"blocks\": %.0f, \"instructions\": %.0f, "
          "\"nodes\": %.0f, \"edges\": %.0f, \"blocks_per_s\": %.3f, \"steps_per_s\": %.4f, "
          "\"cpu_seconds\": %.6f, \"flops\": %.0f, \"gflops_per_s\": %.3f, \"fraction_of_peak\": %.4f, \"fraction_of_nominal_peak\": %.4f, "
          "\"seconds_batch\": %.6f, \"seconds_forward\": %.6f, \"seconds_backward\": %.6f, "
          "\"seconds_update\": %.6f, \"peak_rss_mib\": %.1f, \"seconds_parallel_region\": %.6f, "
          "\"replica_busy_seconds\": %.6f, \"replica_busy_cpu_seconds\": %.6f, \"pass_cpu_seconds\": %.6f}",
          name, r->steps, r->seconds, r->blocks, r->instructions, r->nodes, r->edges,
          r->seconds > 0 ? r->blocks / r->seconds : 0, r->seconds > 0 ? r->steps / r->seconds : 0, r->cpu_seconds, r->flops, g,
          peak > 0 ? g / peak : 0, nominal_peak > 0 ? g / nominal_peak : 0, r->t_batch, r->t_forward, r->t_backward, r->t_update, r->peak_rss_mib,
          r->region_seconds, r->busy_seconds, r->busy_cpu_seconds, r->pass_cpu_seconds);
}

static void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') fputc('\\', f);
    if ((unsigned char)*s >= 0x20) fputc(*s, f);
  }
  fputc('"', f);
}

/* The command, with the inputs, vocabulary and data set owned by cmd_bench so
 * that every return path frees them. */
static int bench(int argc, char **argv, StrList *inputs, Vocab *vocab, Dataset *ds) {
  char *csv = NULL, *tokens = NULL, *configs = "default,256", *threads_text = NULL, *json = NULL;
  char *dump = NULL, *cache_dir = "/tmp/granite-bench", *parallel = "data", *precision = "fp32";
  double seconds = 4.0;
  int max_steps = 100000, warmup = 2, max_blocks = 100, max_instructions = 1000000, predict_batch = 1000;
  int repeat = 1, latency_calls = 2000, cache_stream = 20000, skip_train = 0, skip_predict = 0, skip_latency = 0, skip_sgemm = 0;
  uint64_t seed = 123456789;
  FlagSpec flags[] = {
      {"input|gematria_input_file", FLAG_LIST, inputs, "FILE.tfrecord",
       "blocks to train and predict on (repeatable); default: shared/data/bhive-mca/skylake.csv "
       "imported with import-bhive (cached), else data/sample/sample.tfrecord"},
      {"csv", FLAG_STRING, &csv, "FILE.csv", "a BHive CSV to import and use instead of the default"},
      {"tokens|gematria_tokens_file", FLAG_STRING, &tokens, "FILE",
       "vocabulary; default: the tokens of the input (granite tokens, cached)"},
      {"cache-dir", FLAG_STRING, &cache_dir, "DIR", "where imported data and vocabularies are cached "
                                                     "(default /tmp/granite-bench)"},
      {"configs", FLAG_STRING, &configs, "LIST",
       "model configurations, comma-separated: default (spec §4.8) and/or 256 (Models 8/9 of the "
       "reference log: N=E=G=256, update layers 256, task readout layers 256, K=8); default both"},
      {"threads", FLAG_STRING, &threads_text, "LIST",
       "thread counts to compare, e.g. 1,2 or all (default: 1,all)"},
      {"parallel", FLAG_STRING, &parallel, "MODE",
       "how several threads share a step: data (the batch split by blocks, one single-threaded "
       "model pass per thread, gradients summed; default), kernels (one pass, every kernel and "
       "sgemm multi-threaded), or data,kernels to measure both"},
      {"precision", FLAG_STRING, &precision, "LIST",
       "fp32 (default), bf16 (matmuls in BF16 with FP32 accumulation, AVX512_BF16), or fp32,bf16 to compare "
       "them in one run (interleaved with --repeat); %peak of a bf16 row is of the BF16 (vdpbf16ps) peak"},
      {"repeat", FLAG_INT, &repeat, "N",
       "run every measurement N times and keep the fastest (on a shared machine the fastest run is "
       "the one least disturbed by other jobs); default 1"},
      {"seconds", FLAG_DOUBLE, &seconds, "S", "time to spend on each training / prediction measurement (default 4)"},
      {"steps", FLAG_INT, &max_steps, "N", "at most N timed steps (batches) per measurement"},
      {"warmup", FLAG_INT, &warmup, "N", "untimed steps before each measurement (default 2)"},
      {"max-blocks|gematria_max_blocks_in_batch", FLAG_INT, &max_blocks, "N",
       "blocks per training batch (default 100, as the reference log)"},
      {"max-instructions|gematria_max_instructions_in_batch", FLAG_INT, &max_instructions, "N",
       "instructions per batch cap (default 1000000)"},
      {"predict-batch", FLAG_INT, &predict_batch, "N", "blocks per prediction batch (default 1000)"},
      {"latency-calls", FLAG_INT, &latency_calls, "N", "single-block predictions timed (default 2000)"},
      {"cache-stream", FLAG_INT, &cache_stream, "N",
       "blocks of the BHive CSV (--csv or the default one) predicted one call each in file order, with "
       "the C API's prediction cache and without, for its hit rate (default 20000; 0: skip)"},
      {"seed", FLAG_UINT64, &seed, "N", "random seed of parameters and batches"},
      {"json", FLAG_STRING, &json, "FILE", "also write the results as JSON to FILE ('--json' alone or "
                                           "'--json -': to stdout, the table then goes to stderr)"},
      {"dump-graphs", FLAG_STRING, &dump, "FILE.jsonl",
       "write the graphs benchmarked on, one block per line, and print the vocabulary size"},
      {"skip-train", FLAG_BOOL, &skip_train, NULL, "no training measurement"},
      {"skip-predict", FLAG_BOOL, &skip_predict, NULL, "no prediction measurement"},
      {"skip-latency", FLAG_BOOL, &skip_latency, NULL, "no single-block latency measurement"},
      {"skip-sgemm", FLAG_BOOL, &skip_sgemm, NULL, "no sgemm reference measurement (OpenBLAS and granite's own kernel)"},
  };
  FlagTable table = {
      "bench", "[flags]",
      "Measures, for each model configuration and thread count: training (randomized batches\n"
      "of --max-blocks blocks, forward + backward + Adam) and batched prediction in blocks/s,\n"
      "steps/s and GFLOP/s; single-block prediction latency (one thread); peak memory (RSS).\n"
      "FLOPs are those the reference model defines for the actual batches (spec §7: un-split\n"
      "first layers, dense histogram encoder, backward = 2x the matmuls, Adam 12/param),\n"
      "shown as a fraction of the FP32 peak (cores x FMA units x SIMD lanes x 2 x clock) and\n"
      "next to the sgemm rates OpenBLAS and granite's own kernel reach on this machine.",
      flags, (int)ARRAY_LEN(flags), NULL};
  /* "--json" with no value means stdout */
  char **args = xmalloc((size_t)(argc + 1) * sizeof *args);
  for (int i = 0; i < argc; i++) {
    args[i] = argv[i];
    if (!strcmp(argv[i], "--json") && (i + 1 == argc || !strncmp(argv[i + 1], "--", 2))) args[i] = "--json=-";
  }
  args[argc] = NULL;
  int st = cli_flags_parse(&table, argc, args);
  free(args);
  if (st) return st == 1 ? 0 : 2;

  double load_start = load_average();
  MachinePeak mp;
  machine_detect_peak(&mp, true);
  int thread_counts[MAX_THREAD_COUNTS], num_thread_counts;
  if (threads_text) {
    num_thread_counts = parse_threads(threads_text, mp.cores, thread_counts);
    if (num_thread_counts < 0) return 2;
  } else {
    thread_counts[0] = 1;
    thread_counts[1] = mp.cores;
    num_thread_counts = mp.cores > 1 ? 2 : 1;
  }
  if (max_blocks < 1 || predict_batch < 1 || seconds < 0 || latency_calls < 1 || repeat < 1) {
    gr_error("bench: --max-blocks, --predict-batch, --latency-calls, --repeat must be >= 1 and --seconds >= 0");
    return 2;
  }
  bool modes[2] = {strstr(parallel, "data") != NULL, strstr(parallel, "kernels") != NULL};
  if (!modes[0] && !modes[1]) {
    gr_error("bench: --parallel=%s: expected data, kernels or data,kernels", parallel);
    return 2;
  }
  bool precisions[2] = {false, false};
  for (const char *p = precision; *p;) {
    size_t n = strcspn(p, ",");
    if (n == 4 && !strncasecmp(p, "fp32", 4))
      precisions[0] = true;
    else if (n == 4 && !strncasecmp(p, "bf16", 4))
      precisions[1] = true;
    else {
      gr_error("bench: --precision=%s: expected fp32, bf16 or fp32,bf16", precision);
      return 2;
    }
    p += n + (p[n] == ',');
  }
  if (precisions[1] && !mp.has_avx512_bf16) {
    fprintf(stderr, "bench: note: this CPU lacks AVX512_BF16: --precision bf16 runs in FP32\n");
    precisions[1] = false;
    precisions[0] = true;
  }
  FILE *out = json && !strcmp(json, "-") ? stderr : stdout;

  /* --- data --- */
  const char *stream_csv = csv ? csv : inputs->n == 0 ? default_csv() : NULL;
  if (prepare_inputs(inputs, csv, cache_dir, &tokens) != 0) return 1;
  if (vocab_load(vocab, tokens) != 0) return 1;
  GraphOptions gopts;
  if (graph_options_init(&gopts, vocab, "_UNKNOWN_") != 0) return 1;
  DatasetOptions dopts;
  dataset_options_init(&dopts, &gopts);
  dopts.drop_invalid = true;
  dopts.quiet = true;
  double rss_before = machine_rss_mib(), t0 = now_seconds();
  if (dataset_load(ds, (const char *const *)inputs->items, inputs->n, &dopts) != 0) return 1;
  double load_seconds = now_seconds() - t0, rss_data = machine_rss_mib();
  long total_nodes = (long)ds->node_offset[ds->num_blocks], total_edges = (long)ds->edge_offset[ds->num_blocks];
  fprintf(out, "data: %s (%d blocks, %ld instructions, %.2f nodes and %.2f edges per instruction, %d tasks; "
               "%ld dropped), vocabulary %d tokens; loaded in %.1f s, %.0f MiB resident\n",
          inputs->items[0], ds->num_blocks, ds->total_instructions,
          ds->total_instructions ? (double)total_nodes / ds->total_instructions : 0,
          ds->total_instructions ? (double)total_edges / ds->total_instructions : 0, ds->num_tasks,
          ds->num_dropped_invalid + ds->num_dropped_no_label, vocab->size, load_seconds, rss_data - rss_before);
  if (ds->num_blocks == 0) {
    gr_error("bench: %s: no usable block", inputs->items[0]);
    return 1;
  }
  if (dump) {
    if (dump_graphs(ds, dump) != 0) return 1;
    fprintf(out, "graphs written to %s (vocabulary size %d)\n", dump, vocab->size);
  }

  /* --- machine and the sgemm reference --- */
  char desc[256];
  machine_describe_peak(&mp, mp.cores, desc, sizeof desc);
  char bf16_desc[256];
  machine_describe_bf16_peak(&mp, mp.cores, bf16_desc, sizeof bf16_desc);
  fprintf(out, "machine: %s (%s), %d cores; clock %.3f GHz on one busy core, %.3f GHz with all %d busy\n"
               "FP32 peak: %s\nBF16 peak: %s\n",
          mp.cpu_name, mp.cpu_id, mp.cores, mp.measured_ghz, mp.measured_ghz_all_cores, mp.cores, desc, bf16_desc);
  fprintf(out, "OpenBLAS %s, kernels for %s\n", openblas_get_config(), openblas_get_corename());
  const char *coretype = getenv("OPENBLAS_CORETYPE");
  if (mp.simd_lanes == 16 && (strcasestr(openblas_get_corename(), "haswell") || strcasestr(openblas_get_corename(), "zen")))
    fprintf(out, "note: OpenBLAS uses its AVX2 kernels on this AVX-512 CPU%s%s%s; OPENBLAS_CORETYPE=SkylakeX "
                 "selects the AVX-512 ones (about 2x the sgemm rate here)\n",
            coretype ? " because OPENBLAS_CORETYPE=" : "", coretype ? coretype : "",
            coretype ? " is set in the environment" : "");
  const char *kernels = gemm_kernel_isa();
  fprintf(out, "matmuls: %s%s\n", kernels ? kernels : "OpenBLAS",
          kernels ? " kernels of granite (OpenBLAS where they do not apply; GRANITE_NO_AVX512=1, GRANITE_NO_AVX2=1 "
                    "force the lower paths)"
                  : " (no granite kernel for this CPU, or GRANITE_NO_AVX2=1)");
  double sgemm[MAX_THREAD_COUNTS] = {0}, own[MAX_THREAD_COUNTS] = {0};
  const int SG_M = 2000, SG_N = 256, SG_K = 256;
  if (!skip_sgemm)
    for (int i = 0; i < num_thread_counts; i++) {
      bench_set_threads(thread_counts[i]);
      sgemm[i] = bench_sgemm_gflops(SG_M, SG_N, SG_K, 1.0, false);
      own[i] = kernels ? bench_sgemm_gflops(SG_M, SG_N, SG_K, 1.0, true) : 0;
      double peak = machine_peak_for_threads(&mp, thread_counts[i]);
      fprintf(out, "achievable: OpenBLAS sgemm %dx%dx%d, %d thread%s: %.0f GFLOP/s = %.0f%% of peak\n", SG_M, SG_N,
              SG_K, thread_counts[i], thread_counts[i] == 1 ? "" : "s", sgemm[i], sgemm[i] / peak * 100);
      if (kernels)
        fprintf(out, "achievable: granite %s kernel, same shape: %.0f GFLOP/s = %.0f%% of peak\n", kernels, own[i],
                own[i] / peak * 100);
    }

  /* --- per configuration --- */
  ConfigResult results[MAX_CONFIGS];
  int num_results = 0;
  char *cfg_list = xstrdup(configs);
  int rc = 0;
  for (char *save = NULL, *name = strtok_r(cfg_list, ",", &save); name && rc == 0;
       name = strtok_r(NULL, ",", &save)) {
    if (num_results == MAX_CONFIGS) break;
    ConfigResult *cr = &results[num_results];
    memset(cr, 0, sizeof *cr);
    if (!strcmp(name, "default")) {
      cr->name = "default";
      config_default(&cr->cfg, vocab->size, ds->num_tasks);
    } else if (!strcmp(name, "256")) {
      cr->name = "256";
      config_256(&cr->cfg, vocab->size, ds->num_tasks);
    } else {
      gr_error("bench: --configs: unknown configuration '%s' (default, 256)", name);
      rc = 2;
      break;
    }
    num_results++;
    /* A fresh model per phase, so that each phase's peak RSS is its own
     * (the activation arena grows to the largest batch and stays). */
    GraniteModel model;
    if (granite_model_create(&model, &cr->cfg) != 0) {
      rc = 1;
      break;
    }
    cr->num_params = model.num_params;
    granite_model_destroy(&model);
    PhaseOptions train_opts = {max_blocks, max_instructions, warmup, max_steps, seconds, 3, seed, 1};
    PhaseOptions predict_opts = {predict_batch, max_instructions, 1, max_steps, seconds, 2, seed, 1};
    for (int i = 0; i < num_thread_counts; i++)
      for (int mode = 0; mode < 2; mode++)
        for (int p = 0; p < 2; p++) {
          int t = thread_counts[i];
          if (!modes[mode] || (t == 1 && mode == 1 && modes[0]) || !precisions[p]) continue; /* 1 thread: one mode */
          cr->runs[cr->num_runs].threads = t;
          cr->runs[cr->num_runs].data_parallel = mode == 0 && t > 1;
          cr->runs[cr->num_runs].bf16 = p == 1;
          cr->num_runs++;
        }
    /* --repeat goes round all runs (A B A B ...), so that the precisions and
     * thread counts compared see the same moments of a shared machine; the
     * fastest of each is kept */
    for (int rep = 0; rep < repeat && rc == 0; rep++)
      for (int k = 0; k < cr->num_runs && rc == 0; k++) {
        int t = cr->runs[k].threads;
        bench_set_threads(t);
        train_opts.data_parallel = predict_opts.data_parallel = cr->runs[k].data_parallel || t == 1 ? t : 1;
        for (int phase = 0; phase < 2 && rc == 0; phase++) {
          if (phase == 0 ? skip_train : skip_predict) continue;
          if (granite_model_create(&model, &cr->cfg) != 0) {
            rc = 1;
            break;
          }
          granite_model_init_params(&model, seed);
          granite_set_bf16(&model, cr->runs[k].bf16);
          PhaseResult *best = phase == 0 ? &cr->runs[k].train : &cr->runs[k].predict, pr;
          if ((phase == 0 ? bench_train(&model, ds, &train_opts, &pr)
                          : bench_predict(&model, ds, &predict_opts, &pr)) != 0)
            rc = 1;
          else if (rep == 0 || pr.blocks / pr.seconds > best->blocks / best->seconds)
            *best = pr;
          if (phase == 0)
            cr->runs[k].has_train = rc == 0;
          else
            cr->runs[k].has_predict = rc == 0;
          granite_model_destroy(&model);
        }
      }
    if (!skip_latency && rc == 0 && granite_model_create(&model, &cr->cfg) == 0) {
      granite_model_init_params(&model, seed);
      bench_set_threads(1);
      uint8_t code[sizeof LATENCY_BLOCK_HEX / 2];
      size_t len = strlen(LATENCY_BLOCK_HEX) / 2;
      for (size_t k = 0; k < len; k++) sscanf(LATENCY_BLOCK_HEX + 2 * k, "%2hhx", &code[k]);
      char ckpt[PATH_MAX + 64];
      snprintf(ckpt, sizeof ckpt, "%s/bench-latency-%s-%d.ckpt", cache_dir, cr->name, (int)getpid());
      mkdir(cache_dir, 0777);
      for (int rep = 0; rep < repeat; rep++)
        for (int p = 0; p < 2; p++) {
          if (!precisions[p]) continue;
          LatencyResult lr;
          granite_set_bf16(&model, p == 1);
          if (bench_latency(&model, &gopts, code, len, latency_calls, &lr) == 0 &&
              (!cr->has_latency[p] || lr.median_ms < cr->latency[p].median_ms)) {
            cr->latency[p] = lr;
            cr->has_latency[p] = true;
          }
          bool with_cache = !cr->has_cache;
          if (bench_latency_api(&model, vocab, ckpt, code, len, latency_calls, p == 1 ? "bf16" : "fp32", &lr,
                                stream_csv, cache_stream, with_cache ? &cr->cache : NULL) == 0) {
            cr->has_cache = true;
            if (!cr->has_latency_api[p] || lr.median_ms < cr->latency_api[p].median_ms) {
              cr->latency_api[p] = lr;
              cr->has_latency_api[p] = true;
            }
          }
        }
      granite_model_destroy(&model);
    }
  }
  free(cfg_list);

  /* --- report --- */
  fprintf(out, "\n%-8s %7s  %-4s  %-8s %10s %10s %9s %9s %7s %8s  %-22s  %8s\n", "config", "threads", "prec", "phase",
          "blocks/s", "blocks/cpu-s", "steps/s", "GFLOP/s", "%peak", "%nominal", "time: batch/fwd/bwd/upd", "RSS MiB");
  double nominal_scale = mp.ghz > 0 && mp.nominal_ghz > 0 ? mp.nominal_ghz / mp.ghz : 0;
  for (int c = 0; c < num_results; c++)
    for (int i = 0; i < results[c].num_runs; i++) {
      int t = results[c].runs[i].threads;
      bool bf = results[c].runs[i].bf16;
      double peak = bf ? machine_bf16_peak_for_threads(&mp, t) : machine_peak_for_threads(&mp, t);
      if (results[c].runs[i].has_train)
        print_phase_row(out, results[c].name, t, results[c].runs[i].data_parallel, bf, "train", &results[c].runs[i].train,
                        peak, peak * nominal_scale);
      if (results[c].runs[i].has_predict)
        print_phase_row(out, results[c].name, t, results[c].runs[i].data_parallel, bf, "predict",
                        &results[c].runs[i].predict, peak, peak * nominal_scale);
    }
  /* where the rest of multi-thread scaling goes (bench/README.md "Two cores") */
  for (int c = 0; c < num_results; c++)
    for (int i = 0; i < results[c].num_runs; i++) {
      const ConfigResult *cr = &results[c];
      if (!cr->runs[i].data_parallel) continue;
      const PhaseResult *one[2] = {NULL, NULL};
      for (int j = 0; j < cr->num_runs; j++)
        if (cr->runs[j].threads == 1 && cr->runs[j].bf16 == cr->runs[i].bf16) {
          one[0] = cr->runs[j].has_train ? &cr->runs[j].train : NULL;
          one[1] = cr->runs[j].has_predict ? &cr->runs[j].predict : NULL;
        }
      for (int ph = 0; ph < 2; ph++) {
        const PhaseResult *r = ph ? &cr->runs[i].predict : &cr->runs[i].train;
        if (!(ph ? cr->runs[i].has_predict : cr->runs[i].has_train) || r->seconds <= 0 || r->region_seconds <= 0)
          continue;
        int t = cr->runs[i].threads;
        double thread_time = r->region_seconds * t;
        fprintf(out, "scaling  %-8s %d threads %s %-7s: %.0f%% of the time in the replicas' parallel passes, "
                     "where threads were busy %.0f%% and waited %.0f%% (imbalance, gradient sum); %.0f%% outside "
                     "(batches, Adam)",
                cr->name, t, cr->runs[i].bf16 ? "bf16" : "fp32", ph ? "predict" : "train",
                100 * r->region_seconds / r->seconds, 100 * r->busy_seconds / thread_time,
                100 * (1 - r->busy_seconds / thread_time), 100 * (1 - r->region_seconds / r->seconds));
        const PhaseResult *o = one[ph];
        double o_pass = o ? o->t_forward + o->t_backward : 0;
        if (o && o_pass > 0 && o->blocks > 0)
          fprintf(out, "; a replica's pass per block takes %.2fx the 1-thread time (shared caches, memory, clock)",
                  (r->busy_seconds / r->blocks) / (o_pass / o->blocks));
        /* in CPU time, the share of other jobs' time slices is taken out:
         * what is left is the cost of sharing caches, memory and the clock */
        if (o && o->pass_cpu_seconds > 0 && o->blocks > 0 && r->busy_cpu_seconds > 0)
          fprintf(out, ", %.2fx in CPU time (%.0f%% of its wall time it had the core)",
                  (r->busy_cpu_seconds / r->blocks) / (o->pass_cpu_seconds / o->blocks),
                  100 * r->busy_cpu_seconds / r->busy_seconds);
        fputc('\n', out);
      }
    }
  for (int c = 0; c < num_results; c++)
    for (int p = 0; p < 2; p++)
      if (results[c].has_latency_api[p])
        fprintf(out, "latency %-8s %s 1 thread, C API granite_predict_bytes, %d-instruction block, cache off: median "
                     "%.3f ms (p10 %.3f, p90 %.3f, %d calls)\n",
                results[c].name, p ? "bf16" : "fp32", results[c].latency[p].num_instructions,
                results[c].latency_api[p].median_ms, results[c].latency_api[p].p10_ms,
                results[c].latency_api[p].p90_ms, results[c].latency_api[p].calls);
  for (int c = 0; c < num_results; c++) {
    const CacheResult *k = &results[c].cache;
    if (!results[c].has_cache) continue;
    fprintf(out, "cache    %-8s %d entries: a hit takes %.4f ms (median); ", results[c].name, k->cache_size,
            k->hit.median_ms);
    if (k->stream_blocks > 0)
      fprintf(out, "%ld blocks of %s one call each: hit rate %.1f%%, %.4f ms per block (%.4f without the cache)\n",
              k->stream_blocks, base_name(stream_csv), 100.0 * k->stream_hits / k->stream_blocks,
              k->stream_ms_per_block, k->stream_uncached_ms_per_block);
    else
      fprintf(out, "no block stream (give --csv FILE.csv for a hit rate)\n");
  }
  for (int c = 0; c < num_results; c++)
    for (int p = 0; p < 2; p++)
      if (results[c].has_latency[p])
        fprintf(out, "latency %-8s %s 1 thread, one %d-instruction block (internal path: bytes -> canonicalize -> "
                     "graph -> forward): median %.3f ms (p10 %.3f, p90 %.3f, %d calls)\n",
                results[c].name, p ? "bf16" : "fp32", results[c].latency[p].num_instructions,
                results[c].latency[p].median_ms, results[c].latency[p].p10_ms, results[c].latency[p].p90_ms,
                results[c].latency[p].calls);
  double load_end = load_average();
  fprintf(out, "load average (1 min) at start %.2f, at end %.2f on %d cores%s\n", load_start, load_end, mp.cores,
          load_start > 0.5 || load_end > mp.cores * 0.75 ? " (other jobs, or runs just before, were busy: multi-thread figures suffer most)"
                                                         : "");
  fprintf(out, "train: %d-block randomized batches; predict: %d-block batches; FLOPs of the reference model "
               "(spec §7); %%peak against the peak of the threads used at the measured clock, %%nominal at the "
               "/proc/cpuinfo clock; blocks/cpu-s per CPU-second the process got (steadier than blocks/s when other jobs share the cores); RSS = peak of the phase incl. the "
               "loaded data set\n",
          max_blocks, predict_batch);

  if (json) {
    FILE *jf = strcmp(json, "-") ? fopen(json, "w") : stdout;
    if (!jf) {
      gr_error("bench: cannot write %s: %s", json, strerror(errno));
      return 1;
    }
    fprintf(jf, "{\"machine\": {\"cpu\": ");
    json_string(jf, mp.cpu_name);
    fprintf(jf, ", \"cpu_id\": ");
    json_string(jf, mp.cpu_id);
    fprintf(jf, ", \"openblas_core\": \"%s\", \"nominal_ghz\": %.4f, \"measured_ghz\": %.4f, "
                "\"measured_fma512_per_cycle\": %.3f, \"measured_fma256_per_cycle\": %.3f, "
                "\"measured_dpbf16_per_cycle\": %.3f, \"measured_ghz_all_cores\": %.4f", openblas_get_corename(), mp.nominal_ghz, mp.measured_ghz,
            mp.fma512_per_cycle, mp.fma256_per_cycle, mp.dpbf16_per_cycle, mp.measured_ghz_all_cores);
    fprintf(jf, ", \"cores\": %d, \"ghz\": %.4f, \"isa\": \"%s\", \"simd_lanes\": %d, \"peak_isa\": \"%s\", "
                "\"peak_lanes\": %d, \"fma_per_cycle\": %g, \"fma_per_cycle_measured\": %s, "
                "\"peak_gflops\": %.2f, \"peak_gflops_per_core\": %.2f, \"nominal_peak_gflops\": %.2f, "
                "\"bf16_peak_gflops\": %.2f, \"derivation\": ",
            mp.cores, mp.ghz, mp.isa, mp.simd_lanes, mp.peak_isa, mp.peak_lanes, mp.fma_per_cycle,
            mp.fma_measured ? "true" : "false", mp.peak_gflops, mp.core_gflops, mp.peak_gflops * nominal_scale,
            machine_bf16_peak_for_threads(&mp, mp.cores));
    json_string(jf, desc);
    fprintf(jf, ", \"bf16_derivation\": ");
    json_string(jf, bf16_desc);
    fprintf(jf, ", \"load_average_start\": %.2f, \"load_average_end\": %.2f, \"matmul_kernels\": \"%s\"},\n \"sgemm\": [",
            load_start, load_end, kernels ? kernels : "OpenBLAS");
    for (int i = 0; i < num_thread_counts && !skip_sgemm; i++)
      fprintf(jf, "%s{\"threads\": %d, \"m\": %d, \"n\": %d, \"k\": %d, \"gflops_per_s\": %.2f, "
                  "\"granite_kernel_gflops_per_s\": %.2f}",
              i ? ", " : "", thread_counts[i], SG_M, SG_N, SG_K, sgemm[i], own[i]);
    fprintf(jf, "],\n \"data\": {\"input\": ");
    json_string(jf, inputs->items[0]);
    fprintf(jf, ", \"blocks\": %d, \"instructions\": %ld, \"nodes\": %ld, \"edges\": %ld, \"vocab_size\": %d, "
                "\"tasks\": %d, \"load_seconds\": %.3f, \"rss_mib\": %.1f},\n \"results\": [",
            ds->num_blocks, ds->total_instructions, total_nodes, total_edges, vocab->size, ds->num_tasks,
            load_seconds, rss_data - rss_before);
    for (int c = 0; c < num_results; c++) {
      const ConfigResult *cr = &results[c];
      fprintf(jf, "%s\n  {\"config\": \"%s\", \"params\": %zu, \"runs\": [", c ? "," : "", cr->name, cr->num_params);
      for (int i = 0; i < cr->num_runs; i++) {
        double peak = cr->runs[i].bf16 ? machine_bf16_peak_for_threads(&mp, cr->runs[i].threads)
                                       : machine_peak_for_threads(&mp, cr->runs[i].threads);
        fprintf(jf, "%s{\"threads\": %d, \"parallel\": \"%s\", \"precision\": \"%s\", \"peak_gflops\": %.2f",
                i ? ", " : "", cr->runs[i].threads, cr->runs[i].data_parallel ? "data" : "kernels",
                cr->runs[i].bf16 ? "bf16" : "fp32", peak);
        if (cr->runs[i].has_train) {
          fputs(", ", jf);
          json_phase(jf, "train", &cr->runs[i].train, peak, peak * nominal_scale);
        }
        if (cr->runs[i].has_predict) {
          fputs(", ", jf);
          json_phase(jf, "predict", &cr->runs[i].predict, peak, peak * nominal_scale);
        }
        fputs("}", jf);
      }
      fputs("]", jf);
      for (int p = 0; p < 2; p++) {
        const char *suffix = p ? "_bf16" : "";
        if (cr->has_latency[p])
          fprintf(jf, ", \"latency%s\": {\"threads\": 1, \"instructions\": %d, \"calls\": %d, \"median_ms\": %.5f, "
                      "\"p10_ms\": %.5f, \"p90_ms\": %.5f, \"min_ms\": %.5f}",
                  suffix, cr->latency[p].num_instructions, cr->latency[p].calls, cr->latency[p].median_ms,
                  cr->latency[p].p10_ms, cr->latency[p].p90_ms, cr->latency[p].min_ms);
        if (cr->has_latency_api[p])
          fprintf(jf, ", \"latency_api%s\": {\"threads\": 1, \"cache\": false, \"calls\": %d, \"median_ms\": %.5f, "
                      "\"p10_ms\": %.5f, \"p90_ms\": %.5f, \"min_ms\": %.5f}",
                  suffix, cr->latency_api[p].calls, cr->latency_api[p].median_ms, cr->latency_api[p].p10_ms,
                  cr->latency_api[p].p90_ms, cr->latency_api[p].min_ms);
      }
      if (cr->has_cache)
        fprintf(jf, ", \"cache\": {\"entries\": %d, \"hit_median_ms\": %.5f, \"stream_blocks\": %ld, "
                    "\"stream_hits\": %ld, \"hit_rate\": %.4f, \"stream_ms_per_block\": %.5f, "
                    "\"stream_uncached_ms_per_block\": %.5f}",
                cr->cache.cache_size, cr->cache.hit.median_ms, cr->cache.stream_blocks, cr->cache.stream_hits,
                cr->cache.stream_blocks ? (double)cr->cache.stream_hits / cr->cache.stream_blocks : 0,
                cr->cache.stream_ms_per_block, cr->cache.stream_uncached_ms_per_block);
      fputs("}", jf);
    }
    fputs("\n]}\n", jf);
    if (jf != stdout && fclose(jf) != 0) {
      gr_error("bench: error writing %s", json);
      rc = 1;
    }
  }
  return rc;
}

int cmd_bench(int argc, char **argv) {
  StrList inputs = {0};
  Vocab vocab = {0};
  Dataset ds;
  memset(&ds, 0, sizeof ds);
  int rc = bench(argc, argv, &inputs, &vocab, &ds);
  dataset_free(&ds);
  vocab_free(&vocab);
  str_list_free(&inputs);
  return rc;
}
