/* Checkpoints (io/checkpoint.h). The input is "<header text>\0<payload>":
 * the target wraps it in a valid preamble (magic, version, lengths) and CRC,
 * so every mutation reaches the checks past the CRC: the header's keys, the
 * config, tokens and tensor shapes, the sizes of the parameter, optimizer
 * and RNG blocks. Whatever loads is then used as the library and the trainer
 * use it: granite_load + predictions, and a resume (parameters, optimizer
 * state, one optimizer update). The corpus comes from a checkpoint trained
 * for a few steps (scripts/fuzz-seeds.sh). */
#include <stdlib.h>
#include <string.h>

#include "granite.h"
#include "io/checkpoint.h"
#include "train/model_checkpoint.h"
#include "model/model.h"
#include "train/optimizer.h"
#include "util/crc32c.h"
#include "support.h"

static const uint8_t BLOCK[] = {0x48, 0x01, 0xd8, 0x48, 0x8b, 0x44, 0x24, 0x08, 0xc3}; /* add, mov, ret */

static void resume(const char *path) {
  Checkpoint c;
  if (checkpoint_open(&c, path) != 0) return;
  GraniteModel m;
  memset(&m, 0, sizeof m);
  if (granite_model_create(&m, &c.config) == 0) {
    if (checkpoint_load_params(&c, &m) == 0) {
      Optimizer o;
      memset(&o, 0, sizeof o);
      if (c.has_optimizer && checkpoint_load_optimizer(&c, m.num_params, &o) == 0) {
        float *grads = calloc(m.num_params ? m.num_params : 1, sizeof *grads);
        optimizer_update(&o, m.params, grads, 0.001f);
        free(grads);
        optimizer_free(&o);
      }
    }
    granite_model_destroy(&m);
  }
  checkpoint_close(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > (1u << 20)) return 0;
  const uint8_t *nul = memchr(data, 0, size);
  size_t header_len = nul ? (size_t)(nul - data) : size;
  size_t payload_len = nul ? size - header_len - 1 : 0;
  size_t total = 28 + header_len + payload_len + 4;
  uint8_t *file = malloc(total);
  memcpy(file, "GRNTCKPT", 8);
  uint32_t version = CHECKPOINT_FORMAT_VERSION;
  uint64_t h = header_len, t = total;
  memcpy(file + 8, &version, 4);
  memcpy(file + 12, &h, 8);
  memcpy(file + 20, &t, 8);
  memcpy(file + 28, data, header_len);
  if (payload_len) memcpy(file + 28 + header_len, nul + 1, payload_len);
  uint32_t crc = crc32c(file, total - 4);
  memcpy(file + total - 4, &crc, 4);
  const char *path = fuzz_file(0, file, total);
  free(file);

  char err[256];
  granite_model *g = granite_load(path, err, sizeof err);
  if (g) {
    granite_set_num_threads(g, 1);
    int tasks = granite_num_tasks(g);
    if (tasks < 1 || tasks > GRANITE_MAX_TASKS) abort();
    float out[2 * GRANITE_MAX_TASKS];
    granite_predict_bytes(g, BLOCK, sizeof BLOCK, out);
    const uint8_t *blocks[2] = {BLOCK, BLOCK + 3};
    size_t sizes[2] = {sizeof BLOCK, sizeof BLOCK - 3};
    granite_predict_batch(g, blocks, sizes, 2, out);
    for (int i = 0; i < tasks; i++)
      if (!granite_task_name(g, i)) abort();
    granite_free(g);
  } else if (!memchr(err, '\0', sizeof err) || err[0] == '\0') {
    abort(); /* a failed load must say why */
  }
  resume(path);
  return 0;
}
