/* --granite_critical_path on blocks canonicalized from machine code: the
 * dependency DAG and recurrences the graph builder derives, their batch
 * offsets, the recurrence bound the model computes from its learned
 * latencies (softplus or exp), the smooth max with the GNN's output, and
 * the data-parallel slices. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "io/vocab.h"
#include "model/model.h"
#include "hex_graph.h"
#include "testing.h"
#include "x86/canonicalize.h"

static const char *const TOKENS[] = {"ADD", "EAX", "EBX", "EFLAGS", "IMUL", "MOV", "RAX", "RBX", "RCX", "RDX",
                                     "XOR", "_ADDRESS_", "_IMMEDIATE_", "_MEMORY_", "_UNKNOWN_"};

static Vocab make_vocab(void) { return hex_graph_vocab(TOKENS, (int)(sizeof TOKENS / sizeof TOKENS[0])); }

static int build(BlockGraph *g, const char *hex, const Vocab *v, bool critical_path) {
  GraphOptions o;
  if (graph_options_init(&o, v, "_UNKNOWN_")) return -1;
  o.critical_path = critical_path;
  return hex_graph_build(g, hex, &o);
}

/* The blocks below, with the recurrence each must have. */
static const struct {
  const char *hex, *text;
  int deps;              /* dependency edges */
  int writer;            /* the one recurrence's last writer, -1 = none */
  int readers[2], num_readers;
  int chain[3], chain_len; /* the instructions whose latencies make C */
} BLOCKS[] = {
    {"488b00", "mov rax, [rax]", 0, 0, {0}, 1, {0}, 1},
    {"4801d8480fafc1488b00", "add rax, rbx; imul rax, rcx; mov rax, [rax]", 2, 2, {0}, 1, {0, 1, 2}, 3},
    {"488b10488b02", "mov rdx, [rax]; mov rax, [rdx]", 1, 1, {0}, 1, {0, 1}, 2},
    {"4889d8488b08", "mov rax, rbx; mov rcx, [rax] (nothing carried)", 1, -1, {0}, 0, {0}, 0},
    {"4889c348c7c005000000", "mov rbx, rax; mov rax, 5 (RAX read, rewritten, no path)", 0, -1, {0}, 0, {0}, 0},
    {"31c001d8", "xor eax, eax; add eax, ebx (a zero idiom reads nothing)", 1, -1, {0}, 0, {0}, 0},
};
#define NUM_BLOCKS ((int)(sizeof BLOCKS / sizeof BLOCKS[0]))

static void test_graphs(const Vocab *v) {
  for (int k = 0; k < NUM_BLOCKS; k++) {
    BlockGraph g, off;
    CHECK_MSG(build(&g, BLOCKS[k].hex, v, true) == 0, "%s", BLOCKS[k].text);
    CHECK(build(&off, BLOCKS[k].hex, v, false) == 0);
    /* the graph itself is unchanged; without the option there is no DAG */
    CHECK(g.num_nodes == off.num_nodes && g.num_edges == off.num_edges);
    CHECK(off.num_deps == 0 && off.num_recurrences == 0);
    CHECK_MSG(g.num_deps == BLOCKS[k].deps, "%s: %d deps", BLOCKS[k].text, g.num_deps);
    for (int d = 0; d < g.num_deps; d++) CHECK(g.dep_from[d] < g.dep_to[d]);
    int want = BLOCKS[k].writer >= 0;
    CHECK_MSG(g.num_recurrences == want, "%s: %d recurrences", BLOCKS[k].text, g.num_recurrences);
    if (want && g.num_recurrences == 1) {
      CHECK(g.rec_writer[0] == BLOCKS[k].writer);
      CHECK(g.rec_reader_offset[0] == 0 && g.rec_reader_offset[1] == BLOCKS[k].num_readers);
      for (int r = 0; r < BLOCKS[k].num_readers && r < g.rec_reader_offset[1]; r++)
        CHECK(g.rec_readers[r] == BLOCKS[k].readers[r]);
    }
    block_graph_free(&g);
    block_graph_free(&off);
  }
}

static void make_config(GraniteConfig *c, int vocab, bool critical_path) {
  granite_config_default(c);
  c->vocab_size = vocab;
  c->node_embedding_size = c->edge_embedding_size = c->global_embedding_size = 8;
  c->num_message_passing_iterations = 2;
  c->num_tasks = 2;
  c->output_scale = 3.0f;
  c->critical_path = critical_path;
}

static float softplus(float x) { return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x))); }

/* The blocks above in one 2-task batch; first_instr[k] = block k's first
 * instruction. */
static void make_batch(Batch *b, BlockGraph *g, int *first_instr, const Vocab *v) {
  batch_init(b, 2);
  first_instr[0] = 0;
  for (int k = 0; k < NUM_BLOCKS; k++) {
    CHECK(build(&g[k], BLOCKS[k].hex, v, true) == 0);
    batch_add(b, &g[k], NULL, NULL, NULL, NULL);
    first_instr[k + 1] = first_instr[k] + g[k].num_instructions;
  }
}

static void free_batch(Batch *b, BlockGraph *g) {
  batch_free(b);
  for (int k = 0; k < NUM_BLOCKS; k++) block_graph_free(&g[k]);
}

static void test_bound(const Vocab *v) {
  Batch b;
  BlockGraph g[NUM_BLOCKS];
  int first_instr[NUM_BLOCKS + 1];
  make_batch(&b, g, first_instr, v);
  CHECK(b.num_recurrences == 3 && b.rec_offset[NUM_BLOCKS] == 3);
  CHECK(b.dep_offset[b.num_instructions] == b.num_deps);

  GraniteConfig c;
  make_config(&c, v->size, true);
  GraniteModel m, plain;
  CHECK(granite_model_create(&m, &c) == 0);
  make_config(&c, v->size, false);
  CHECK(granite_model_create(&plain, &c) == 0);
  CHECK(m.num_params == plain.num_params + 2 * (8 + 1));
  granite_model_init_params(&m, 5);
  granite_model_init_params(&plain, 5); /* the same GNN: the heads' tensors come last */
  const ParamTensor *bias = granite_find_tensor(&m, "critical_path/task_1/b");
  CHECK(bias && m.params[bias->offset] == 0.0f);
  int T = 2, B = b.num_blocks;
  float *out = malloc(sizeof(float) * B * T), *pred = malloc(sizeof(float) * B * T);
  float *gnn = malloc(sizeof(float) * B * T);
  granite_forward(&plain, &b, gnn, pred);
  granite_forward(&m, &b, out, pred);
  int rows, cols;
  const float *lat = granite_activation(&m, "critical_path/latency", &rows, &cols);
  const float *bound = granite_activation(&m, "critical_path/bound", &rows, &cols);
  CHECK(lat && bound && rows == B && cols == T);
  for (int k = 0; lat && bound && k < NUM_BLOCKS; k++)
    for (int t = 0; t < T; t++) {
      float want = 0;
      for (int j = 0; j < BLOCKS[k].chain_len; j++) want += lat[(size_t)(first_instr[k] + BLOCKS[k].chain[j]) * T + t];
      CHECK_MSG(fabsf(bound[k * T + t] - want) <= 1e-6f * want, "%s: C = %g, want %g", BLOCKS[k].text,
                (double)bound[k * T + t], (double)want);
      float y = gnn[k * T + t];
      CHECK_NEAR(out[k * T + t], y + 3.0f * softplus(want - y / 3.0f), 1e-5, 1e-6);
    }
  for (int i = 0; lat && i < b.num_instructions * T; i++) CHECK(lat[i] > 0);

  /* the data-parallel slices carry the same DAG: same outputs */
  float *out2 = malloc(sizeof(float) * B * T);
  granite_set_data_parallel(&m, 2);
  granite_forward(&m, &b, out2, pred);
  for (int i = 0; i < B * T; i++) CHECK_NEAR(out2[i], out[i], 1e-5, 1e-6);

  make_config(&c, v->size, true);
  c.seq2seq = true;
  GraniteModel bad;
  CHECK(granite_model_create(&bad, &c) != 0); /* block-level only */

  free(out);
  free(out2);
  free(pred);
  free(gnn);
  granite_model_destroy(&m);
  granite_model_destroy(&plain);
  free_batch(&b, g);
}

static bool latency_bias(const char *name) { return strncmp(name, "critical_path/", 14) == 0 && strstr(name, "/b"); }

/* Each tensor of a (but those skip names, if skip) has the same name and
 * values as b's tensor of the same index: two models that differ only in
 * their last tensors or in skipped ones. */
static void check_same_tensors(const GraniteModel *a, const GraniteModel *b, bool (*skip)(const char *)) {
  CHECK(a->num_tensors <= b->num_tensors);
  for (int i = 0; i < a->num_tensors && i < b->num_tensors; i++) {
    const ParamTensor *x = &a->tensors[i], *y = &b->tensors[i];
    if (skip && skip(x->name)) continue;
    CHECK_MSG(strcmp(x->name, y->name) == 0 && x->rows == y->rows && x->cols == y->cols &&
                  memcmp(a->params + x->offset, b->params + y->offset, sizeof(float) * x->rows * x->cols) == 0,
              "%s", x->name);
  }
}

/* --granite_critical_path_latency=exp: l = exp(a.h + b), b starting at
 * ln ln 2, so that with the same seed (same GNN, same heads a) every
 * latency is ln 2 * exp(z) where softplus gives softplus(z); a pre-activation
 * beyond the clamp gives a finite bound. */
static void test_exp_latencies(const Vocab *v) {
  Batch b;
  BlockGraph g[NUM_BLOCKS];
  int first_instr[NUM_BLOCKS + 1];
  make_batch(&b, g, first_instr, v);
  GraniteConfig c;
  make_config(&c, v->size, true);
  GraniteModel sp, ex;
  CHECK(granite_model_create(&sp, &c) == 0);
  c.critical_path_latency = GRANITE_LATENCY_EXP;
  CHECK(granite_model_create(&ex, &c) == 0);
  granite_model_init_params(&sp, 5);
  granite_model_init_params(&ex, 5);
  const ParamTensor *bias = granite_find_tensor(&ex, "critical_path/task_1/b");
  float b0 = logf(logf(2.0f));
  CHECK(bias && ex.params[bias->offset] == b0);
  check_same_tensors(&ex, &sp, latency_bias); /* every other parameter as softplus's */
  int T = 2, B = b.num_blocks, I = b.num_instructions, rows, cols;
  float *out = malloc(sizeof(float) * B * T), *pred = malloc(sizeof(float) * B * T);
  float *lat_sp = malloc(sizeof(float) * I * T);
  granite_forward(&sp, &b, out, pred);
  const float *lat = granite_activation(&sp, "critical_path/latency", &rows, &cols);
  CHECK(lat && rows == I && cols == T);
  if (lat) memcpy(lat_sp, lat, sizeof(float) * I * T);
  granite_forward(&ex, &b, out, pred);
  lat = granite_activation(&ex, "critical_path/latency", &rows, &cols);
  for (int i = 0; lat && i < I * T; i++) {
    float z = logf(lat[i]) - b0; /* the head's a.h */
    CHECK_NEAR(softplus(z), lat_sp[i], 1e-5, 1e-5);
  }

  /* a pre-activation of 1000: l = exp(20) (the clamp), outputs finite */
  for (int i = 0; i < ex.num_tensors; i++)
    if (latency_bias(ex.tensors[i].name)) ex.params[ex.tensors[i].offset] = 1000.0f;
  granite_forward(&ex, &b, out, pred);
  lat = granite_activation(&ex, "critical_path/latency", &rows, &cols);
  for (int i = 0; lat && i < I * T; i++) CHECK(lat[i] == expf(20.0f));
  for (int i = 0; i < B * T; i++) CHECK(isfinite(out[i]));

  /* exp latencies belong to the critical path: refused without it */
  make_config(&c, v->size, false);
  c.critical_path_latency = GRANITE_LATENCY_EXP;
  GraniteModel bad;
  CHECK(granite_model_create(&bad, &c) != 0);
  c.critical_path = true, c.critical_path_latency = GRANITE_LATENCY_EXP + 1;
  CHECK(granite_model_create(&bad, &c) != 0);

  free(out);
  free(pred);
  free(lat_sp);
  granite_model_destroy(&sp);
  granite_model_destroy(&ex);
  free_batch(&b, g);
}

/* --granite_critical_path_token_bias: one more tensor, [vocab][tasks], zero
 * at first (the same model as without it, same seed); an offset on one
 * token and task scales exactly that token's exp latencies in that task;
 * refused without the critical path. */
static void test_token_offsets(const Vocab *v) {
  Batch b;
  BlockGraph g[NUM_BLOCKS];
  int first_instr[NUM_BLOCKS + 1];
  make_batch(&b, g, first_instr, v);
  GraniteConfig c;
  make_config(&c, v->size, true);
  c.critical_path_latency = GRANITE_LATENCY_EXP;
  GraniteModel ex, tok;
  CHECK(granite_model_create(&ex, &c) == 0);
  c.critical_path_token_bias = true;
  CHECK(granite_model_create(&tok, &c) == 0);
  int T = 2, B = b.num_blocks, I = b.num_instructions, rows, cols;
  CHECK(tok.num_params == ex.num_params + (size_t)v->size * T);
  granite_model_init_params(&ex, 5);
  granite_model_init_params(&tok, 5);
  const ParamTensor *off = granite_find_tensor(&tok, "critical_path/token_bias");
  CHECK(off && off->rows == v->size && off->cols == T);
  check_same_tensors(&ex, &tok, NULL); /* every other tensor as without the option */
  for (int k = 0; off && k < off->rows * off->cols; k++) CHECK(tok.params[off->offset + k] == 0.0f);
  float *out = malloc(sizeof(float) * B * T), *pred = malloc(sizeof(float) * B * T);
  float *lat_ex = malloc(sizeof(float) * I * T);
  granite_forward(&ex, &b, out, pred);
  const float *lat = granite_activation(&ex, "critical_path/latency", &rows, &cols);
  CHECK(lat && rows == I && cols == T);
  if (lat) memcpy(lat_ex, lat, sizeof(float) * I * T);
  int imul = vocab_find(v, "IMUL");
  CHECK(imul >= 0 && off);
  if (off && imul >= 0) tok.params[off->offset + (size_t)imul * T + 1] = logf(50.0f);
  granite_forward(&tok, &b, out, pred);
  lat = granite_activation(&tok, "critical_path/latency", &rows, &cols);
  int imul_at = first_instr[1] + 1, scaled = 0; /* add rax, rbx; imul rax, rcx; ... */
  for (int i = 0; lat && i < I; i++)
    for (int t = 0; t < T; t++) {
      bool is_imul = i == imul_at && t == 1;
      float want = lat_ex[(size_t)i * T + t] * (is_imul ? 50.0f : 1.0f);
      CHECK_NEAR(lat[(size_t)i * T + t], want, 1e-5, 1e-6);
      scaled += is_imul;
    }
  CHECK(scaled == 1);

  make_config(&c, v->size, false);
  c.critical_path_token_bias = true;
  GraniteModel bad;
  CHECK(granite_model_create(&bad, &c) != 0);

  free(out);
  free(pred);
  free(lat_ex);
  granite_model_destroy(&ex);
  granite_model_destroy(&tok);
  free_batch(&b, g);
}

int main(void) {
  Vocab v = make_vocab();
  test_graphs(&v);
  test_bound(&v);
  test_exp_latencies(&v);
  test_token_offsets(&v);
  vocab_free(&v);
  return test_summary("test_critical_path");
}
