/* weights.h — a model's weights as named tensors, in and out of
 * safetensors files (internal to runtime/).
 *
 * A model's tensors are its parameters and its batch-norm statistics, named
 * by their path inside the model, without the model's name: "conv0.weight",
 * "block[1,2].bn1.running_var", "linear0.bias" (kdr(5), WEIGHTS FILES).
 * The same names are used
 *   - by `model M = ... from "FILE"[: part, ...]` (weights_in.c): the file's
 *     tensors initialize the model, strictly: a tensor of the model (under
 *     the parts) that the file lacks, a tensor of the file (under the parts)
 *     that the model lacks, or a shape that differs is an error;
 *   - by models/<M>.safetensors (models_out.c), written at the end of every
 *     phase that trains M, with shapes as the graph has them and metadata
 *     (the template call, the recipe's hash) — so a trained model is a valid
 *     `from` file for another recipe;
 *   - by tools/kdrun_weights.py, which converts them to and from PyTorch.
 */
#ifndef KD_WEIGHTS_H
#define KD_WEIGHTS_H

#include "run.h"

typedef struct weights_entry {
    char path[320];                  /* inside the model */
    kd_shape shape;
    float *data;                     /* in the executor */
    int64_t n;
} weights_entry;

/* The tensors of model G->pg.m[mi] in graph order (parameters, then
 * batch-norm statistics): a malloc'd array, count in *n; NULL on out of
 * memory (*n = -1) or when the model has none (*n = 0). */
weights_entry *weights_entries(pgraph *G, int mi, int *n);

/* Initialize every model of G that has a weights file (its `from`, or a
 * `kdrun eval --model NAME=FILE`) and whose parameters are not in the store
 * yet (trained or loaded before): read, check, copy into the executor and
 * put the whole model in the store.  The number of models loaded, or -1
 * (a located error). */
int weights_in_apply(run *R, pgraph *G);

/* Write models/<name>.safetensors in the run directory for every model
 * phase `phase` trains (models_out.c).  0 or -1. */
int models_out_write(run *R, pgraph *G, const char *phase);

#endif
