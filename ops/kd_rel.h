/* kd_rel.h — private helpers of the relational and feature-statistics
 * losses (rkd, pkt, sp, cc, nst, ft): rows of a tensor, L2 normalisation of
 * a row and its backward.  Everything in double. */
#ifndef KD_REL_H
#define KD_REL_H

#include <cblas.h>
#include "kd_ops_util.h"

/* x (float, n values) to double */
static inline void kd_rel_dbl(const float *x, int64_t n, double *y)
{
    for (int64_t i = 0; i < n; i++) y[i] = x[i];
}

/* G = A B^T for row-major A [M, D], B [K, D] (double): G [M, K] */
static inline void kd_rel_abt(const double *a, const double *b, int64_t M, int64_t K, int64_t D,
                              double *G)
{
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)K, (int)D, 1.0, a, (int)D,
                b, (int)D, 0.0, G, (int)K);
}

/* C = A B for row-major A [M, K], B [K, D] (double): C [M, D] */
static inline void kd_rel_ab(const double *a, const double *b, int64_t M, int64_t K, int64_t D,
                             double *C)
{
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)D, (int)K, 1.0, a, (int)K,
                b, (int)D, 0.0, C, (int)D);
}

/* N = dims[0], D = the product of the other dims (>= 1) */
static inline int64_t kd_rel_d(const kd_shape *s)
{
    return s->dims[0] ? kd_shape_numel(s) / s->dims[0] : 0;
}

/* "rkd expects [N, ...] inputs with the same N, got [4, 3] and [5, 3]" */
static inline int kd_rel_check_batch(const kd_op_ctx *c, const char *op, int mind,
                                     char *err, size_t n)
{
    char a[128], b[128];
    const kd_shape *s = &c->in_shape[0], *t = &c->in_shape[1];
    if (s->ndim < mind || t->ndim < mind || s->dims[0] != t->dims[0] || s->dims[0] < 1)
        return kd_err(err, n, "%s expects [N, ...] inputs of at least %d dimensions with the same N, got %s and %s",
                      op, mind, kd_shape_str(s, a, sizeof a), kd_shape_str(t, b, sizeof b));
    return 0;
}

/* u = x / max(|x|, 1e-12) (as F.normalize); returns max(|x|, 1e-12) */
static inline double kd_rel_unit(const float *x, int64_t D, double *u)
{
    double ss = 0;
    for (int64_t k = 0; k < D; k++) ss += (double)x[k] * x[k];
    double r = sqrt(ss);
    if (r < 1e-12) r = 1e-12;
    for (int64_t k = 0; k < D; k++) u[k] = x[k] / r;
    return r;
}

/* the same for a row of doubles */
static inline double kd_rel_unit_d(const double *x, int64_t D, double *u)
{
    double ss = 0;
    for (int64_t k = 0; k < D; k++) ss += x[k] * x[k];
    double r = sqrt(ss);
    if (r < 1e-12) r = 1e-12;
    for (int64_t k = 0; k < D; k++) u[k] = x[k] / r;
    return r;
}

/* backward of u = x / r: dx += (du - (du . u) u) / r (r above the clamp) */
static inline void kd_rel_unit_back(const double *u, const double *du, double r, int64_t D,
                                    float *dx)
{
    double dot = 0;
    for (int64_t k = 0; k < D; k++) dot += du[k] * u[k];
    if (r <= 1e-12) dot = 0;   /* clamped: u = x / 1e-12 is linear in x */
    for (int64_t k = 0; k < D; k++) dx[k] += (float)((du[k] - dot * u[k]) / r);
}

/* the Huber function of RKD (smooth L1, delta 1) and its derivative */
static inline double kd_rel_huber(double x)
{
    double a = fabs(x);
    return a < 1 ? 0.5 * x * x : a - 0.5;
}
static inline double kd_rel_huber_d(double x)
{
    return x > 1 ? 1 : x < -1 ? -1 : x;
}

#endif
