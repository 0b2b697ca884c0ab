/* avgpool2d.c — average pooling.  x [N, C, H, W] -> y [N, C, Ho, Wo].
 * y = (1/K^2) * sum over the window, zero padding counted (PyTorch's
 * count_include_pad = true);  dx += dy / K^2 over each window.
 * Parallel over (n, c) planes. */
#include "kd_pool.h"

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    return pool_infer_common(c, "avgpool2d", err, n);
}

static void forward(kd_op_ctx *c)
{
    pgeo g = pool_geo(c);
    int64_t planes = g.N * g.C;
    float inv = 1.0f / (float)(g.K * g.K);
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *xp = c->in[0] + pl * g.H * g.W;
        float *yp = c->out + pl * g.Ho * g.Wo;
        for (int64_t oh = 0; oh < g.Ho; oh++)
            for (int64_t ow = 0; ow < g.Wo; ow++) {
                float s = 0;
                for (int64_t ki = 0; ki < g.K; ki++) {
                    int64_t ih = oh * g.S - g.Pd + ki;
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
    int64_t planes = g.N * g.C;
    float inv = 1.0f / (float)(g.K * g.K);
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *gp = c->grad_out + pl * g.Ho * g.Wo;
        float *dp = d + pl * g.H * g.W;
        for (int64_t oh = 0; oh < g.Ho; oh++)
            for (int64_t ow = 0; ow < g.Wo; ow++) {
                float v = gp[oh * g.Wo + ow] * inv;
                for (int64_t ki = 0; ki < g.K; ki++) {
                    int64_t ih = oh * g.S - g.Pd + ki;
                    if (ih < 0 || ih >= g.H) continue;
                    for (int64_t kj = 0; kj < g.K; kj++) {
                        int64_t iw = ow * g.S - g.Pd + kj;
                        if (iw >= 0 && iw < g.W) dp[ih * g.W + iw] += v;
                    }
                }
            }
    }
}

const kd_op_def kd_op_avgpool2d = {
    .name = "avgpool2d", .alias = "avgpool", .min_inputs = 1, .max_inputs = 1,
    .npositional = 1, .attrs = pool_attrs, .infer = infer,
    .forward = forward, .backward = backward,
};
