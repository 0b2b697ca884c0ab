/* exec_fold.h — the frozen-model inference path of the executor: a
 * convolution runs its batch norm and ReLU per image while the image is in
 * cache (ops/conv2d.c, kd_op_ctx.post_scale / post_relu).
 *
 * A fold is conv2d -> batchnorm2d [-> relu], or (KD_FOLD_EXACT only)
 * conv2d -> batchnorm2d -> add [-> relu] whose add has two operands, the
 * other computed before the conv (a ResNet block's end), inside one model
 * where
 *   - no node of the chain runs a backward (nothing upstream is trained
 *     through it: a frozen teacher) and the conv's and the bn's parameters
 *     are not trainable;
 *   - the conv's only consumer is the bn, and each fused node's only
 *     consumer is the next one; neither the conv nor a fused node other
 *     than the last is a root (a value the caller reads).
 * At a forward step in which the bn runs in eval mode (its running
 * statistics: a frozen model's default), the conv runs once straight into
 * the last node's output buffer (whose lifetime the memory plan starts at
 * the conv's step: kd_fold_first), and the bn and relu nodes are skipped.
 * In a train-mode step the chain runs node by node as without the fold.
 *
 * Two kinds (KDRUN_TEACHER_FOLD, kdrun(1)):
 *   - KD_FOLD_EXACT, the default: the conv keeps its weights and applies
 *     the bn's own y = a * y + o (a and o computed as batchnorm2d computes
 *     them in eval mode, the same float operations) and the relu to each
 *     image after its bias: the same bits as the unfolded chain, one pass
 *     over the activation instead of three;
 *   - KD_FOLD_WEIGHTS (KDRUN_TEACHER_FOLD=1): the bn is folded into the
 *     weights, W'[f] = W[f] * a_f,  b'_f = beta_f + a_f * (bias_f - mean_f),
 *     a_f = gamma_f / sqrt(var_f + eps): no per-element transform, but the
 *     products W * a are rounded once in W', so the results differ in the
 *     last bits.
 * tests/runtime/test_fold checks both on ResNet-14.
 */
#ifndef KD_EXEC_FOLD_H
#define KD_EXEC_FOLD_H

#include <stdint.h>

#include "graph.h"

typedef struct kd_fold kd_fold;

enum { KD_FOLD_OFF, KD_FOLD_EXACT, KD_FOLD_WEIGHTS };

/* the kind KDRUN_TEACHER_FOLD asks for: unset, empty or "exact":
 * KD_FOLD_EXACT; "0" or "off": KD_FOLD_OFF; anything else: KD_FOLD_WEIGHTS */
int kd_fold_wanted(void);

/* The folds of graph g given the executor's decisions (per node: live,
 * runs a backward, is a root); NULL when there are none (or out of
 * memory: the executor then runs without folds). */
kd_fold *kd_fold_plan(const kd_graph *g, const uint8_t *live, const uint8_t *run_bwd,
                      const uint8_t *is_root, int mode);
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
int kd_fold_forward(kd_fold *f, kd_op_ctx *ctx, int32_t id, int training, uint64_t step);
/* number of folds, and of them with a fused relu */
int kd_fold_count(const kd_fold *f, int *with_relu);
void kd_fold_free(kd_fold *f);

#endif
