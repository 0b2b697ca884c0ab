/* exec_fold.h — the frozen-model inference path of the executor: batch
 * norm folded into the convolution before it, bias and ReLU applied by the
 * convolution per image (ops/conv2d.c, kd_op_ctx.post_relu).
 *
 * A fold is conv2d -> batchnorm2d [-> relu] inside one model where
 *   - no node of the chain runs a backward (nothing upstream is trained
 *     through it: a frozen teacher) and the conv's and the bn's parameters
 *     are not trainable;
 *   - the conv's only consumer is the bn, and (when the relu is fused) the
 *     bn's only consumer is the relu; neither the conv nor a fused bn is a
 *     root (a value the caller reads).
 * At a forward step in which the bn runs in eval mode (its running
 * statistics: a frozen model's default), the conv runs once with
 *   W'[f] = W[f] * a_f,  b'_f = beta_f + a_f * (bias_f - mean_f),
 *   a_f = gamma_f / sqrt(var_f + eps)
 * straight into the last node's output buffer (whose lifetime the memory
 * plan starts at the conv's step: kd_fold_first), with the ReLU applied,
 * and the bn and relu nodes are skipped.  In a train-mode step the chain
 * runs node by node as without the fold.
 *
 * The result equals conv -> bn -> relu up to float rounding (the products
 * W * a are rounded once in W'), so the fold is off by default: the
 * environment variable KDRUN_TEACHER_FOLD=1 turns it on (kdrun(1)).
 * tests/runtime/test_fold measures the difference on ResNet-56.
 */
#ifndef KD_EXEC_FOLD_H
#define KD_EXEC_FOLD_H

#include <stdint.h>

#include "graph.h"

typedef struct kd_fold kd_fold;

/* 1 if KDRUN_TEACHER_FOLD asks for the fold (set, not "0") */
int kd_fold_wanted(void);

/* The folds of graph g given the executor's decisions (per node: live,
 * runs a backward, is a root); NULL when there are none (or out of
 * memory: the executor then runs without folds). */
kd_fold *kd_fold_plan(const kd_graph *g, const uint8_t *live, const uint8_t *run_bwd,
                      const uint8_t *is_root);
/* the first step of node id's value buffer: the conv's step for a fold's
 * last node, else `first` */
int32_t kd_fold_first(const kd_fold *f, int32_t id, int32_t first, const int32_t *fstep);
/* Forward of node id at step `step` with mode `training` (the mode the
 * executor computed for the node); ctx: the executor's per-node contexts.
 * Returns 1 when the fold did the node's work (the folded conv ran, or the
 * bn / relu it covers is skipped), 0 when the caller runs the op. */
int kd_fold_forward(kd_fold *f, kd_op_ctx *ctx, int32_t id, int training, uint64_t step);
/* number of folds, and of them with a fused relu */
int kd_fold_count(const kd_fold *f, int *with_relu);
void kd_fold_free(kd_fold *f);

#endif
