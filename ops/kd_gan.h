/* kd_gan.h — private helpers of the GAN losses (gan_g.c, gan_d.c): the
 * per-element terms of the least-squares and the logistic (bce) GAN losses
 * against a target of 1 (real) or 0 (fake), and their derivatives. */
#ifndef KD_GAN_H
#define KD_GAN_H
#include "kd_loss.h"

enum { KD_GAN_LSGAN, KD_GAN_BCE };
static const char *const kd_gan_kinds[] = {"lsgan", "bce", NULL};

/* lsgan: (d - t)^2;  bce: softplus(d) - t d = max(d,0) - t d + log(1 + e^-|d|) */
static inline double gan_term(int kind, double d, double t)
{
    if (kind == KD_GAN_LSGAN) return (d - t) * (d - t);
    return (d > 0 ? d : 0) - t * d + log1p(exp(-fabs(d)));
}

/* d/dd of gan_term */
static inline double gan_grad(int kind, double d, double t)
{
    if (kind == KD_GAN_LSGAN) return 2 * (d - t);
    double sg = d >= 0 ? 1.0 / (1.0 + exp(-d)) : exp(d) / (1.0 + exp(d));
    return sg - t;
}

/* mean over the M elements of x of gan_term(kind, x, t) */
static inline double gan_mean(kd_op_ctx *c, const float *x, int64_t M, int kind, double t)
{
    double s;
    KD_BLOCK_SUM(c, M, s, gan_term(kind, x[i], t));
    return s / (double)M;
}

/* dx += k * gan_grad(kind, x, t) */
static inline void gan_back(const kd_op_ctx *c, const float *x, float *dx, int64_t M, int kind,
                            double t, double k)
{
    if (!dx) return;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && M > KD_OMP_MIN)
    for (int64_t i = 0; i < M; i++) dx[i] += (float)(k * gan_grad(kind, x[i], t));
}

static inline int gan_check(const kd_shape *s, const char *op, const char *what, char *err, size_t n)
{
    char b[128];
    if (s->ndim < 1 || kd_shape_numel(s) < 1)
        return kd_err(err, n, "%s expects discriminator outputs %s [N, ...], got %s", op, what,
                      kd_shape_str(s, b, sizeof b));
    return 0;
}
#endif
