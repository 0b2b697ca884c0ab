/* pixel_shuffle.c — channel blocks to space (sub-pixel convolution).
 *
 * Shapes: x [N, C f^2, H, W], y [N, C, H f, W f], f = factor.
 * forward:  y[n, c, h f + i, w f + j] = x[n, c f^2 + i f + j, h, w]
 * backward: dx[n, c f^2 + i f + j, h, w] += dy[n, c, h f + i, w f + j]
 * Parallel over output rows (n, c, oh) forward and input planes backward;
 * a permutation, no reductions.  pixel_unshuffle is the inverse.
 */
#include "kd_ops_util.h"

enum { A_FACTOR };

static const kd_attr_spec attrs[] = {
    {.name = "factor", .type = KD_ATTR_INT, .def = 2, .min = 1, .max = 64, .required = 1,
     .doc = "upscaling factor f"},
    {0}};

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    const kd_shape *x = &c->in_shape[0];
    int64_t f = KD_A_INT(c, A_FACTOR);
    if (x->ndim != 4) return kd_err_rank(err, n, "pixel_shuffle", 4, "[N, C, H, W]", x);
    if (x->dims[1] % (f * f))
        return kd_err(err, n, "pixel_shuffle: channels (%lld) must be a multiple of factor^2 (%lld)",
                      (long long)x->dims[1], (long long)(f * f));
    c->out_shape = kd_sh4(x->dims[0], x->dims[1] / (f * f), x->dims[2] * f, x->dims[3] * f);
    return 0;
}

static void forward(kd_op_ctx *c)
{
    const kd_shape *x = &c->in_shape[0];
    int64_t f = KD_A_INT(c, A_FACTOR), Ci = x->dims[1], H = x->dims[2], W = x->dims[3];
    int64_t Co = Ci / (f * f), Ho = H * f, Wo = W * f;
    int64_t rows = x->dims[0] * Co * Ho;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && rows * Wo > KD_OMP_MIN)
    for (int64_t r = 0; r < rows; r++) {
        int64_t oh = r % Ho, nc = r / Ho, n = nc / Co, ch = nc % Co, h = oh / f, i = oh % f;
        float *y = c->out + r * Wo;
        for (int64_t ow = 0; ow < Wo; ow++) {
            int64_t w = ow / f, j = ow % f;
            y[ow] = c->in[0][((n * Ci + ch * f * f + i * f + j) * H + h) * W + w];
        }
    }
}

static void backward(kd_op_ctx *c)
{
    float *dx = c->grad_in[0];
    if (!dx) return;
    const kd_shape *x = &c->in_shape[0];
    int64_t f = KD_A_INT(c, A_FACTOR), Ci = x->dims[1], H = x->dims[2], W = x->dims[3];
    int64_t Co = Ci / (f * f), Ho = H * f, Wo = W * f;
    int64_t planes = x->dims[0] * Ci;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && planes * H * W > KD_OMP_MIN)
    for (int64_t pl = 0; pl < planes; pl++) {
        int64_t n = pl / Ci, ci = pl % Ci, ch = ci / (f * f), i = (ci % (f * f)) / f, j = ci % f;
        const float *gy = c->grad_out + (n * Co + ch) * Ho * Wo;
        float *d = dx + pl * H * W;
        for (int64_t h = 0; h < H; h++)
            for (int64_t w = 0; w < W; w++) d[h * W + w] += gy[(h * f + i) * Wo + w * f + j];
    }
}

static const kd_input_spec inputs[] = {
    {.name = "x", .shape = "[N, C*f*f, H, W]"},
    {NULL}};

const kd_op_def kd_op_pixel_shuffle = {
    .name = "pixel_shuffle", .min_inputs = 1, .max_inputs = 1, .npositional = 1,
    .attrs = attrs, .infer = infer, .forward = forward, .backward = backward,
    .use = KD_USE_NET, .flags = KD_OP_TIN,
    .doc = "move channel blocks to space: C*f*f x H x W -> C x H*f x W*f",
    .inputs = inputs,
    .rows = kd_rows_always,
};
