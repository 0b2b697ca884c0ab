/* maxpool2d.c — max pooling.  x [N, C, H, W] -> y [N, C, Ho, Wo] (K x K
 * window), or x [N, C, T] -> y [N, C, To] (K-wide window over T, as
 * PyTorch's max_pool1d; see kd_pool.h).  y = max over the window (padding
 * never wins); backward routes dy to the first maximal element of the
 * window in row-major order (recomputed from x, nothing saved).  Parallel
 * over (n, c) planes: each thread writes its own planes only. */
#include "kd_pool.h"

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    return pool_infer_common(c, "maxpool2d", err, n);
}

static int64_t argmax(const pgeo *g, const float *xp, int64_t oh, int64_t ow)
{
    int64_t best = -1;
    float bv = 0;
    for (int64_t ki = 0; ki < g->KH; ki++) {
        int64_t ih = oh * g->SH - g->PH + ki;
        if (ih < 0 || ih >= g->H) continue;
        for (int64_t kj = 0; kj < g->K; kj++) {
            int64_t iw = ow * g->S - g->Pd + kj;
            if (iw < 0 || iw >= g->W) continue;
            float v = xp[ih * g->W + iw];
            if (best < 0 || v > bv || (v != v && bv == bv)) {
                best = ih * g->W + iw;
                bv = v;
            }
        }
    }
    return best;
}

/* The common 2x2 window, stride 2, no padding: every window lies inside
 * the plane; the same choice as argmax (first maximal in row-major order,
 * a NaN wins over a number), without the bounds checks. */
static int is_2x2(const pgeo *g)
{
    return g->KH == 2 && g->K == 2 && g->SH == 2 && g->S == 2 && g->PH == 0 && g->Pd == 0;
}

static inline int64_t argmax_2x2(const float *xp, int64_t W, int64_t oh, int64_t ow)
{
    int64_t i0 = 2 * oh * W + 2 * ow;
    const int64_t at[4] = { i0, i0 + 1, i0 + W, i0 + W + 1 };
    int64_t best = at[0];
    float bv = xp[at[0]];
    for (int k = 1; k < 4; k++) {
        float v = xp[at[k]];
        if (v > bv || (v != v && bv == bv)) best = at[k], bv = v;
    }
    return best;
}

static void forward(kd_op_ctx *c)
{
    pgeo g = pool_geo(c);
    int64_t planes = g.N * g.C, work = pool_work(&g);
    (void)work;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && work > KD_OMP_MIN)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *xp = c->in[0] + pl * g.H * g.W;
        float *yp = c->out + pl * g.Ho * g.Wo;
        if (is_2x2(&g)) {
            for (int64_t oh = 0; oh < g.Ho; oh++)
                for (int64_t ow = 0; ow < g.Wo; ow++) yp[oh * g.Wo + ow] = xp[argmax_2x2(xp, g.W, oh, ow)];
            continue;
        }
        for (int64_t oh = 0; oh < g.Ho; oh++)
            for (int64_t ow = 0; ow < g.Wo; ow++) yp[oh * g.Wo + ow] = xp[argmax(&g, xp, oh, ow)];
    }
}

static void backward(kd_op_ctx *c)
{
    float *d = c->grad_in[0];
    if (!d) return;
    pgeo g = pool_geo(c);
    int64_t planes = g.N * g.C, work = pool_work(&g);
    (void)work;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && work > KD_OMP_MIN)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *xp = c->in[0] + pl * g.H * g.W, *gp = c->grad_out + pl * g.Ho * g.Wo;
        float *dp = d + pl * g.H * g.W;
        if (is_2x2(&g)) {
            for (int64_t oh = 0; oh < g.Ho; oh++)
                for (int64_t ow = 0; ow < g.Wo; ow++) dp[argmax_2x2(xp, g.W, oh, ow)] += gp[oh * g.Wo + ow];
            continue;
        }
        for (int64_t oh = 0; oh < g.Ho; oh++)
            for (int64_t ow = 0; ow < g.Wo; ow++) dp[argmax(&g, xp, oh, ow)] += gp[oh * g.Wo + ow];
    }
}

static const kd_input_spec inputs[] = {
    {.name = "x", .shape = "[N, C, H, W] or [N, C, T]"},
    {NULL}};

const kd_op_def kd_op_maxpool2d = {
    .name = "maxpool2d", .alias = "maxpool", .min_inputs = 1, .max_inputs = 1,
    .npositional = 1, .attrs = pool_attrs, .infer = infer,
    .forward = forward, .backward = backward,
    .use = KD_USE_NET, .flags = KD_OP_TIN,
    .doc = "max pooling with a k-wide window (2-D on images, 1-D on sequences)",
    .inputs = inputs,
    .rows = kd_rows_always,
};
