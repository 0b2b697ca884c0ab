/* avgpool2d.c — average pooling.  x [N, C, H, W] -> y [N, C, Ho, Wo] (K x K
 * window), or x [N, C, T] -> y [N, C, To] (K-wide window over T, as
 * PyTorch's avg_pool1d; see kd_pool.h).  y = sum over the window divided by
 * the full window size (K^2, or K for a sequence): zero padding is counted,
 * on both ranks (PyTorch's count_include_pad = true);  dx += dy / size over
 * each window.  Parallel over (n, c) planes: each thread writes its own
 * planes only. */
#include "kd_pool.h"

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    return pool_infer_common(c, "avgpool2d", err, n);
}

static void forward(kd_op_ctx *c)
{
    pgeo g = pool_geo(c);
    int64_t planes = g.N * g.C, work = pool_work(&g);
    (void)work;
    float inv = 1.0f / (float)(g.KH * g.K);
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && work > KD_OMP_MIN)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *xp = c->in[0] + pl * g.H * g.W;
        float *yp = c->out + pl * g.Ho * g.Wo;
        for (int64_t oh = 0; oh < g.Ho; oh++)
            for (int64_t ow = 0; ow < g.Wo; ow++) {
                float s = 0;
                for (int64_t ki = 0; ki < g.KH; ki++) {
                    int64_t ih = oh * g.SH - g.PH + ki;
                    if (ih < 0 || ih >= g.H) continue;
                    for (int64_t kj = 0; kj < g.K; kj++) {
                        int64_t iw = ow * g.S - g.Pd + kj;
                        if (iw >= 0 && iw < g.W) s += xp[ih * g.W + iw];
                    }
                }
                yp[oh * g.Wo + ow] = s * inv;
            }
    }
}

static void backward(kd_op_ctx *c)
{
    float *d = c->grad_in[0];
    if (!d) return;
    pgeo g = pool_geo(c);
    int64_t planes = g.N * g.C, work = pool_work(&g);
    (void)work;
    float inv = 1.0f / (float)(g.KH * g.K);
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && work > KD_OMP_MIN)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *gp = c->grad_out + pl * g.Ho * g.Wo;
        float *dp = d + pl * g.H * g.W;
        for (int64_t oh = 0; oh < g.Ho; oh++)
            for (int64_t ow = 0; ow < g.Wo; ow++) {
                float v = gp[oh * g.Wo + ow] * inv;
                for (int64_t ki = 0; ki < g.KH; ki++) {
                    int64_t ih = oh * g.SH - g.PH + ki;
                    if (ih < 0 || ih >= g.H) continue;
                    for (int64_t kj = 0; kj < g.K; kj++) {
                        int64_t iw = ow * g.S - g.Pd + kj;
                        if (iw >= 0 && iw < g.W) dp[ih * g.W + iw] += v;
                    }
                }
            }
    }
}

static const kd_input_spec inputs[] = {
    {.name = "x", .shape = "[N, C, H, W] or [N, C, T]"},
    {NULL}};

const kd_op_def kd_op_avgpool2d = {
    .name = "avgpool2d", .alias = "avgpool", .min_inputs = 1, .max_inputs = 1,
    .npositional = 1, .attrs = pool_attrs, .infer = infer,
    .forward = forward, .backward = backward,
    .use = KD_USE_NET, .flags = KD_OP_TIN,
    .doc = "average pooling with a k-wide window (2-D on images, 1-D on sequences)",
    .inputs = inputs,
    .rows = kd_rows_always,
};
