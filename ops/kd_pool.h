/* kd_pool.h — private: attributes and geometry shared by maxpool2d and
 * avgpool2d.  x [N, C, H, W] -> y [N, C, Ho, Wo], window K, stride S
 * (0 = K), zero padding Pd; Ho = (H + 2Pd - K)/S + 1. */
#ifndef KD_POOL_H
#define KD_POOL_H
#include "kd_ops_util.h"

enum { A_K, A_STRIDE, A_PAD };
static const kd_attr_spec pool_attrs[] = {
    {.name = "k", .type = KD_ATTR_INT, .def = 2, .min = 1, .max = 64, .required = 1},
    {.name = "stride", .type = KD_ATTR_INT, .def = 0, .min = 0, .max = 64},
    {.name = "pad", .type = KD_ATTR_INT, .def = 0, .min = 0, .max = 32},
    {0}};

typedef struct pgeo { int64_t N, C, H, W, K, S, Pd, Ho, Wo; } pgeo;

static inline pgeo pool_geo(const kd_op_ctx *c)
{
    pgeo g;
    g.N = c->in_shape[0].dims[0];
    g.C = c->in_shape[0].dims[1];
    g.H = c->in_shape[0].dims[2];
    g.W = c->in_shape[0].dims[3];
    g.K = KD_A_INT(c, A_K);
    g.S = KD_A_INT(c, A_STRIDE);
    if (g.S == 0) g.S = g.K;
    g.Pd = KD_A_INT(c, A_PAD);
    g.Ho = kd_conv_out(g.H, g.K, g.S, g.Pd, 1);
    g.Wo = kd_conv_out(g.W, g.K, g.S, g.Pd, 1);
    return g;
}

static inline int pool_infer_common(kd_op_ctx *c, const char *op, char *err, size_t n)
{
    const kd_shape *x = &c->in_shape[0];
    if (x->ndim != 4) return kd_err_rank(err, n, op, 4, "[N, C, H, W]", x);
    pgeo g = pool_geo(c);
    if (2 * g.Pd > g.K)
        return kd_err(err, n, "%s: pad (%lld) must be at most half the window (%lld)", op,
                      (long long)g.Pd, (long long)g.K);
    if (g.Ho <= 0 || g.Wo <= 0)
        return kd_err(err, n, "%s: window %lld does not fit input %lldx%lld", op,
                      (long long)g.K, (long long)g.H, (long long)g.W);
    c->out_shape = kd_sh4(g.N, g.C, g.Ho, g.Wo);
    return 0;
}
#endif
