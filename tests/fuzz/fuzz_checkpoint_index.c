/* The checkpoint directory's "checkpoint" index file (TF text format,
 * io/checkpoint.h): any content is read without harm, and an index that
 * reads is written back and reads again the same. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "train/model_checkpoint.h"
#include "support.h"

/* tmpfs: the writer fsyncs every index */
static char dir[] = "/dev/shm/granite-fuzz-index-XXXXXX";

static void remove_dir(void) {
  char path[64];
  snprintf(path, sizeof path, "%s/" CHECKPOINT_INDEX_FILE, dir);
  unlink(path);
  rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 65536) return 0;
  if (dir[sizeof dir - 2] == 'X') {
    if (!mkdtemp(dir)) abort();
    atexit(remove_dir);
  }
  char path[64];
  snprintf(path, sizeof path, "%s/" CHECKPOINT_INDEX_FILE, dir);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) abort();
  CheckpointIndex ix;
  if (checkpoint_index_read(dir, &ix) == 0) {
    if (checkpoint_index_write(dir, &ix) != 0) abort();
    CheckpointIndex again;
    if (checkpoint_index_read(dir, &again) != 0 || again.latest_step != ix.latest_step ||
        again.best_step != ix.best_step || again.num_steps != ix.num_steps)
      abort();
    checkpoint_index_free(&again);
    checkpoint_index_free(&ix);
  }
  return 0;
}
