/* kd_ops_util.h — private helpers shared by the kernels in ops/ (not part
 * of the op interface; runtime/ must not include it). */
#ifndef KD_OPS_UTIL_H
#define KD_OPS_UTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <math.h>
#include "kd_op.h"

/* attribute accessors (index = position in the op's attr spec array) */
#define KD_A_INT(c, i)   ((int64_t)(c)->attr[(i)].num)
#define KD_A_FLT(c, i)   ((c)->attr[(i)].num)

/* OpenMP: static partition, fixed thread count, serial when nthreads < 2
 * or the loop is small. */
#define KD_OMP_MIN 4096

static inline int kd_err(char *err, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline int kd_err(char *err, size_t n, const char *fmt, ...)
{
    if (err && n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* "conv2d expects 4-D input [N, C, H, W], got [128, 64]" */
static inline int kd_err_rank(char *err, size_t n, const char *op, int want,
                              const char *letters, const kd_shape *got)
{
    char b[128];
    return kd_err(err, n, "%s expects %d-D input %s, got %s", op, want, letters,
                  kd_shape_str(got, b, sizeof b));
}

static inline kd_shape kd_sh1(int64_t a) { kd_shape s = {{a}, 1}; return s; }
static inline kd_shape kd_sh2(int64_t a, int64_t b) { kd_shape s = {{a, b}, 2}; return s; }
static inline kd_shape kd_sh4(int64_t a, int64_t b, int64_t c, int64_t d)
{ kd_shape s = {{a, b, c, d}, 4}; return s; }
static inline kd_shape kd_scalar(void) { kd_shape s = {{0}, 0}; return s; }

/* convolution-style output size; <= 0 means the window does not fit */
static inline int64_t kd_conv_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d)
{
    int64_t span = d * (k - 1) + 1;
    if (in + 2 * p < span) return 0;
    return (in + 2 * p - span) / s + 1;
}

/* same-shape check for elementwise binary/n-ary ops */
static inline int kd_check_same(const kd_op_ctx *c, int n, const char *op,
                                char *err, size_t errlen)
{
    for (int i = 1; i < n; i++)
        if (!kd_shape_eq(&c->in_shape[0], &c->in_shape[i])) {
            char a[128], b[128];
            return kd_err(err, errlen, "%s expects inputs of the same shape, got %s and %s",
                          op, kd_shape_str(&c->in_shape[0], a, sizeof a),
                          kd_shape_str(&c->in_shape[i], b, sizeof b));
        }
    return 0;
}

/* ---- losses over rows of logits ---------------------------------------- */

/* class labels y [N] (or [N, 1]) for logits z [N, K]: 0, or -1 with
 * "ce expects labels [N] for logits [4, 10], got [4, 3]" */
static inline int kd_check_labels(const kd_shape *z, const kd_shape *y, const char *op,
                                  char *err, size_t n)
{
    char a[128], b[128];
    if (!(y->ndim == 1 || (y->ndim == 2 && y->dims[1] == 1)) || y->dims[0] != z->dims[0])
        return kd_err(err, n, "%s expects labels [N] for logits %s, got %s", op,
                      kd_shape_str(z, a, sizeof a), kd_shape_str(y, b, sizeof b));
    return 0;
}

/* the class of a label stored as a float, or -1 if it is not an integer in
 * [0, K) (the loss then reads NaN) */
static inline int kd_label_of(float v, int64_t K)
{
    return (v >= 0 && v < (float)K && v == floorf(v)) ? (int)v : -1;
}

/* one double per row of in_shape[0] [N, ...]: per-row partials summed
 * serially after a parallel loop */
static inline size_t kd_rows_workspace(const kd_op_ctx *c)
{
    return sizeof(double) * (size_t)c->in_shape[0].dims[0];
}

/* MACs of a layer with weight w = in_shape[1] [F, ...]: every element of
 * `per` (the output, or the input of a transposed conv) meets one row of
 * w (numel(w) / F weights) */
static inline int64_t kd_macs_rows(const kd_op_ctx *c, const kd_shape *per)
{
    const kd_shape *w = &c->in_shape[1];
    int64_t row = w->dims[0] ? kd_shape_numel(w) / w->dims[0] : 0;
    return kd_shape_numel(per) * row;
}

#endif
