/* The tokens file (spec §1.3): loaded, then checked sorted and unique, every
 * token found at its own index, and used to set up the graph builder. */
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "io/vocab.h"
#include "support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Vocab v;
  if (vocab_load(&v, fuzz_file(0, data, size)) != 0) return 0;
  for (int i = 0; i < v.size; i++) {
    if (i > 0 && strcmp(v.tokens[i - 1], v.tokens[i]) >= 0) abort();
    if (vocab_find(&v, v.tokens[i]) != i) abort();
  }
  GraphOptions g;
  if (graph_options_init(&g, &v, "_UNKNOWN_") != 0) abort(); /* structural tokens are always added */
  graph_options_init(&g, &v, NULL);
  vocab_free(&v);
  return 0;
}
