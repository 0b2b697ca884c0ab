/* kd_loss.h — private helpers for loss ops: scalar output, deterministic
 * block sums (fixed 4096-element blocks summed in double in parallel, the
 * block partials then summed serially — same bits for any thread count). */
#ifndef KD_LOSS_H
#define KD_LOSS_H
#include "kd_ops_util.h"

#ifndef KD_LOSS_NAME
#define KD_LOSS_NAME "loss"
#endif

#define KD_LBLK 4096

static inline size_t loss_blocks(int64_t n) { return (size_t)((n + KD_LBLK - 1) / KD_LBLK); }

/* sum over i in [0, n) of the double expression `term` (uses i) */
#define KD_BLOCK_SUM(c, n, result, term)                                               \
    do {                                                                               \
        int64_t nb_ = (int64_t)loss_blocks(n);                                         \
        double *part_ = (double *)(c)->work;                                           \
        _Pragma("omp parallel for schedule(static) num_threads((c)->nthreads) if ((c)->nthreads > 1 && nb_ > 1)") \
        for (int64_t b_ = 0; b_ < nb_; b_++) {                                         \
            double s_ = 0;                                                             \
            int64_t e_ = (b_ + 1) * KD_LBLK < (n) ? (b_ + 1) * KD_LBLK : (n);           \
            for (int64_t i = b_ * KD_LBLK; i < e_; i++) s_ += (term);                  \
            part_[b_] = s_;                                                            \
        }                                                                              \
        double t_ = 0;                                                                 \
        for (int64_t b_ = 0; b_ < nb_; b_++) t_ += part_[b_];                          \
        (result) = t_;                                                                 \
    } while (0)

/* elementwise pair loss: a, b same shape, mean over all elements */
static inline int pair_infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    if (kd_check_same(c, 2, KD_LOSS_NAME, err, n)) return -1;
    c->out_shape = kd_scalar();
    return 0;
}

static inline size_t pair_workspace(const kd_op_ctx *c)
{
    return sizeof(double) * loss_blocks(kd_shape_numel(&c->in_shape[0]));
}
#endif
