/* kd_pool.h — private: attributes and geometry shared by maxpool2d and
 * avgpool2d.  x [N, C, H, W] -> y [N, C, Ho, Wo] with a K x K window, or a
 * sequence x [N, C, T] -> y [N, C, To] with a K-wide window; stride S
 * (0 = K), zero padding Pd; Ho = (H + 2Pd - K)/S + 1 (floor).
 *
 * A sequence is pooled as an image of height 1 with a window of height 1
 * (KH = 1, SH = 1, no padding along H), so the 2-D loops serve both ranks:
 * T is W, and the K x K window becomes KH x K. */
#ifndef KD_POOL_H
#define KD_POOL_H
#include "kd_ops_util.h"

enum { A_K, A_STRIDE, A_PAD };
static const kd_attr_spec pool_attrs[] = {
    {.name = "k", .type = KD_ATTR_INT, .def = 2, .min = 1, .max = 64, .required = 1,
     .doc = "window width (k x k on images)"},
    {.name = "stride", .type = KD_ATTR_INT, .def = 0, .min = 0, .max = 64,
     .doc = "step between windows; 0: k", .def_text = "k"},
    {.name = "pad", .type = KD_ATTR_INT, .def = 0, .min = 0, .max = 32,
     .doc = "zero padding on every side"},
    {0}};

/* window KH x K, strides SH / S, paddings PH / Pd along H / W */
typedef struct pgeo { int64_t N, C, H, W, KH, K, SH, S, PH, Pd, Ho, Wo; } pgeo;

static inline pgeo pool_geo(const kd_op_ctx *c)
{
    const kd_shape *x = &c->in_shape[0];
    pgeo g;
    g.N = x->dims[0];
    g.C = x->dims[1];
    g.K = KD_A_INT(c, A_K);
    g.S = KD_A_INT(c, A_STRIDE);
    if (g.S == 0) g.S = g.K;
    g.Pd = KD_A_INT(c, A_PAD);
    if (x->ndim == 3) {            /* [N, C, T]: height 1, 1-high window */
        g.H = 1;
        g.W = x->dims[2];
        g.KH = 1, g.SH = 1, g.PH = 0;
    } else {
        g.H = x->dims[2];
        g.W = x->dims[3];
        g.KH = g.K, g.SH = g.S, g.PH = g.Pd;
    }
    g.Ho = kd_conv_out(g.H, g.KH, g.SH, g.PH, 1);
    g.Wo = kd_conv_out(g.W, g.K, g.S, g.Pd, 1);
    return g;
}

/* work of a pass over the whole output, for the OpenMP threshold */
static inline int64_t pool_work(const pgeo *g)
{
    return g->N * g->C * g->Ho * g->Wo * g->KH * g->K;
}

static inline int pool_infer_common(kd_op_ctx *c, const char *op, char *err, size_t n)
{
    const kd_shape *x = &c->in_shape[0];
    if (x->ndim != 3 && x->ndim != 4) {
        char b[128];
        return kd_err(err, n, "%s expects 3-D input [N, C, T] or 4-D input [N, C, H, W], got %s",
                      op, kd_shape_str(x, b, sizeof b));
    }
    pgeo g = pool_geo(c);
    if (2 * g.Pd > g.K)
        return kd_err(err, n, "%s: pad (%lld) must be at most half the window (%lld)", op,
                      (long long)g.Pd, (long long)g.K);
    if (x->ndim == 3) {
        if (g.Wo <= 0)
            return kd_err(err, n, "%s: window %lld does not fit sequence length %lld", op,
                          (long long)g.K, (long long)g.W);
        kd_shape s = {{g.N, g.C, g.Wo}, 3};
        c->out_shape = s;
        return 0;
    }
    if (g.Ho <= 0 || g.Wo <= 0)
        return kd_err(err, n, "%s: window %lld does not fit input %lldx%lld", op,
                      (long long)g.K, (long long)g.H, (long long)g.W);
    c->out_shape = kd_sh4(g.N, g.C, g.Ho, g.Wo);
    return 0;
}
#endif
