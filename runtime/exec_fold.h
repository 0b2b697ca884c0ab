/* exec_fold.h — the frozen-model inference path of the executor: a
 * convolution runs its batch norm, residual add and ReLU per image while
 * the image is in cache (ops/conv2d.c, kd_op_ctx.post_scale / post_shift /
 * post_add / post_relu).
 *
 * A fold is conv2d -> batchnorm2d [-> relu], or conv2d -> batchnorm2d ->
 * add [-> relu] whose add has two operands, the other computed before the
 * conv (a ResNet block's end), inside one model where
 *   - the conv's and the bn's parameters are not trainable (a frozen
 *     teacher);
 *   - no node of the chain runs a backward, or (a conditional fold) the
 *     forward is one of kd_exec_forward_for, whose backward does not pass
 *     through the chain: in a search's alternate steps, a frozen teacher's
 *     path that only one of the steps differentiates;
 *   - the conv's only consumer is the bn, and each fused node's only
 *     consumer is the next one; neither the conv nor a fused node other
 *     than the last is a root (a value the caller reads).
 * At a forward step in which the bn runs in eval mode (its running
 * statistics: a frozen model's default), the conv runs once with its own
 * weights straight into the last node's output buffer, then applies, to
 * each image after its bias, the bn's own y = a * y + o (a and o computed
 * as batchnorm2d computes them in eval mode), the residual (in the add's
 * operand order) and the relu: the same float operations as the separate
 * nodes, so the same bits, with one pass over the activation instead of
 * three or four.  The bn, add and relu nodes are skipped.  In a train-mode
 * step the chain runs node by node as without the fold.
 *
 * KDRUN_TEACHER_FOLD=0 (or off) turns the folds off (kdrun(1)).  Until
 * 2026-12-04 a second kind folded the bn into the conv's weights; it
 * changed the rounding and, after Winograd and this kind, was the slowest
 * of the three, so it is gone.  tests/runtime/test_fold checks the bits on
 * ResNet-14.
 */
#ifndef KD_EXEC_FOLD_H
#define KD_EXEC_FOLD_H

#include <stdint.h>

#include "graph.h"

typedef struct kd_fold kd_fold;

/* 0 when KDRUN_TEACHER_FOLD is "0" or "off", else 1 */
int kd_fold_wanted(void);

/* The folds of graph g given the executor's decisions (per node: live,
 * runs a backward, is a root); NULL when there are none (or out of
 * memory: the executor then runs without folds). */
kd_fold *kd_fold_plan(const kd_graph *g, const uint8_t *live, const uint8_t *run_bwd,
                      const uint8_t *is_root);
/* the first step of node id's value buffer: the conv's step for a fold's
 * last node, else `first` */
int32_t kd_fold_first(const kd_fold *f, int32_t id, int32_t first, const int32_t *fstep);
/* The earlier node of its fold whose value buffer node id's value shares,
 * or -1: a fold's last node when it is a relu or an add shares the conv's
 * (the folded conv writes the chain's result there; unfolded, the conv's
 * value is dead once the bn has read it, and the relu or add, which read
 * the bn's buffer, write into it); an add followed by the fold's relu
 * shares the bn's (unfolded, add runs in place: element i read, then
 * written).  So a chain needs no more memory than unfolded. */
int32_t kd_fold_alias(const kd_fold *f, int32_t id);
/* Forward of node id at step `step` with mode `training` (the mode the
 * executor computed for the node); ctx: the executor's per-node contexts.
 * Returns 1 when the fold did the node's work (the folded conv ran, or the
 * bn / relu it covers is skipped), 0 when the caller runs the op. */
int kd_fold_forward(kd_fold *f, kd_op_ctx *ctx, int32_t id, int training, uint64_t step,
                    const uint8_t *bwd_next);
/* number of folds, of them with a fused relu, and conditional ones */
int kd_fold_count(const kd_fold *f, int *with_relu, int *cond);
void kd_fold_free(kd_fold *f);

#endif
