/* The data of --granite_critical_path, derived from a built block graph:
 * the graph builder's helper. */
#ifndef GRANITE_GRAPH_CRITICAL_PATH_H
#define GRANITE_GRAPH_CRITICAL_PATH_H

#include <stdbool.h>
#include <stdint.h>

#include "graph/graph.h"

/* Fills g's deps and recurrences (graph.h) from its nodes and edges.
 * zero_idiom[num_instructions]: instructions whose register operands are
 * not reads (xor eax, eax). carried[2k], carried[2k+1]: for each register
 * read before the block writes it and written later, the node of the value
 * the block started from and the node of its last value. */
void graph_critical_path(BlockGraph *g, const bool *zero_idiom, const int32_t *carried, int num_carried);

#endif
