/* index_input.h — `index`, the graph input that holds each batch row's
 * index in the split (crd's memory banks are read and written by it). */
#ifndef KD_INDEX_INPUT_H
#define KD_INDEX_INPUT_H

#include "graph.h"
#include "exec.h"
#include "../data/data.h"

/* The node `index` [batch] of g, added on first use (the batch is the
 * first dimension of the graph's first model input); -1 when g has no
 * model input or is full. */
int32_t kd_index_input(kd_graph *g);
/* b's row indices into the node `index` of g, if it has one (as floats;
 * rows past b->n, padding, get -1). */
void kd_index_feed(kd_exec *e, const kd_graph *g, const kd_batch *b, int64_t batch);

/* The first op node of g that reads `index` and keeps a bank of `n:` rows
 * (an attribute named "n") smaller than rows, the split's size; -1 when
 * none (*bank: that n). */
int32_t kd_index_small_bank(const kd_graph *g, int64_t rows, int64_t *bank);

#endif
