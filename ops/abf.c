/* abf.c — the fusion of ReviewKD's attention-based fusion module (Chen et
 * al., Distilling Knowledge via Knowledge Review, CVPR 2021): two feature
 * maps of one shape weighted by two attention maps.
 *
 * Shapes: y [N, C, H, W] this level's features, r [N, C, H, W] the fused
 * features of the level below (resized to H x W), a [N, 2, H, W] the
 * attention logits (a 1x1 convolution of concat(y, r) in the recipe);
 * out [N, C, H, W].
 *   out = y * sigmoid(a[:, 0]) + r * sigmoid(a[:, 1])   (broadcast over C)
 * Gradient: dy = g s0, dr = g s1,
 *   da0 = sum over C of g y s0 (1 - s0), da1 = sum over C of g r s1 (1 - s1).
 * (n, h, w) columns in parallel; each channel sum in order. */
#include "kd_ops_util.h"

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    char a[128], b[128], x[128];
    const kd_shape *y = &c->in_shape[0], *r = &c->in_shape[1], *at = &c->in_shape[2];
    if (y->ndim != 4) return kd_err_rank(err, n, "abf", 4, "[N, C, H, W]", y);
    if (!kd_shape_eq(y, r))
        return kd_err(err, n, "abf expects the two feature maps of one shape, got %s and %s",
                      kd_shape_str(y, a, sizeof a), kd_shape_str(r, b, sizeof b));
    if (at->ndim != 4 || at->dims[0] != y->dims[0] || at->dims[1] != 2 || at->dims[2] != y->dims[2] ||
        at->dims[3] != y->dims[3])
        return kd_err(err, n, "abf expects attention logits [N, 2, H, W] for %s, got %s",
                      kd_shape_str(y, a, sizeof a), kd_shape_str(at, x, sizeof x));
    c->out_shape = *y;
    return 0;
}

static double sig(float z) { return 1 / (1 + exp(-(double)z)); }

static void forward(kd_op_ctx *c)
{
    const kd_shape *s = &c->in_shape[0];
    int64_t N = s->dims[0], C = s->dims[1], P = s->dims[2] * s->dims[3];
    const float *y = c->in[0], *r = c->in[1], *a = c->in[2];
    float *o = c->out;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && N * C * P > KD_OMP_MIN)
    for (int64_t q = 0; q < N * P; q++) {
        int64_t n = q / P, p = q % P;
        double s0 = sig(a[(n * 2) * P + p]), s1 = sig(a[(n * 2 + 1) * P + p]);
        for (int64_t ch = 0; ch < C; ch++) {
            int64_t i = (n * C + ch) * P + p;
            o[i] = (float)(y[i] * s0 + r[i] * s1);
        }
    }
}

static void backward(kd_op_ctx *c)
{
    const kd_shape *s = &c->in_shape[0];
    int64_t N = s->dims[0], C = s->dims[1], P = s->dims[2] * s->dims[3];
    const float *y = c->in[0], *r = c->in[1], *a = c->in[2], *g = c->grad_out;
    float *dy = c->grad_in[0], *dr = c->grad_in[1], *da = c->grad_in[2];
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && N * C * P > KD_OMP_MIN)
    for (int64_t q = 0; q < N * P; q++) {
        int64_t n = q / P, p = q % P;
        double s0 = sig(a[(n * 2) * P + p]), s1 = sig(a[(n * 2 + 1) * P + p]), g0 = 0, g1 = 0;
        for (int64_t ch = 0; ch < C; ch++) {
            int64_t i = (n * C + ch) * P + p;
            if (dy) dy[i] += (float)(g[i] * s0);
            if (dr) dr[i] += (float)(g[i] * s1);
            g0 += (double)g[i] * y[i];
            g1 += (double)g[i] * r[i];
        }
        if (da) {
            da[(n * 2) * P + p] += (float)(g0 * s0 * (1 - s0));
            da[(n * 2 + 1) * P + p] += (float)(g1 * s1 * (1 - s1));
        }
    }
}

static const kd_input_spec inputs[] = {
    {.name = "y", .shape = "[N, C, H, W] this level's features"},
    {.name = "r", .shape = "[N, C, H, W] the fused features of the level below, resized"},
    {.name = "a", .shape = "[N, 2, H, W] attention logits"},
    {NULL}};

const kd_op_def kd_op_abf = {
    .name = "abf", .min_inputs = 3, .max_inputs = 3,
    .infer = infer, .forward = forward, .backward = backward,
    .use = KD_USE_NET,
    .doc = "ReviewKD's attention-based fusion: y * sigmoid(a0) + r * sigmoid(a1)",
    .inputs = inputs,
};
