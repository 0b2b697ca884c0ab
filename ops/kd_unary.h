/* kd_unary.h — private boilerplate for elementwise unary ops: same-shape
 * infer and static-partition loops.  Each op file still defines its own
 * kd_op_def (one op per file). */
#ifndef KD_UNARY_H
#define KD_UNARY_H
#include "kd_ops_util.h"

static inline int unary_infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info; (void)err; (void)n;
    c->out_shape = c->in_shape[0];
    return 0;
}

/* y[i] = EXPR(x[i]) ; names available: x (const float*), y, i */
#define KD_UNARY_LOOP(c, body)                                                       \
    do {                                                                             \
        int64_t n_ = kd_shape_numel(&(c)->in_shape[0]);                              \
        _Pragma("omp parallel for schedule(static) num_threads((c)->nthreads) if ((c)->nthreads > 1 && n_ > KD_OMP_MIN)") \
        for (int64_t i = 0; i < n_; i++) { body; }                                   \
    } while (0)
#endif
