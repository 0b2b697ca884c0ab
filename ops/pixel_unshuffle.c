/* pixel_unshuffle.c — space to channel blocks (inverse of pixel_shuffle).
 *
 * Shapes: x [N, C, H f, W f], y [N, C f^2, H, W], f = factor.
 * forward:  y[n, c f^2 + i f + j, h, w] = x[n, c, h f + i, w f + j]
 * backward: dx[n, c, h f + i, w f + j] += dy[n, c f^2 + i f + j, h, w]
 * Parallel over output planes forward and input rows backward; a
 * permutation, no reductions.
 */
#include "kd_ops_util.h"

enum { A_FACTOR };

static const kd_attr_spec attrs[] = {
    {.name = "factor", .type = KD_ATTR_INT, .def = 2, .min = 1, .max = 64, .required = 1,
     .doc = "downscaling factor f"},
    {0}};

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    const kd_shape *x = &c->in_shape[0];
    int64_t f = KD_A_INT(c, A_FACTOR);
    if (x->ndim != 4) return kd_err_rank(err, n, "pixel_unshuffle", 4, "[N, C, H, W]", x);
    if (x->dims[2] % f || x->dims[3] % f)
        return kd_err(err, n, "pixel_unshuffle: height and width (%lldx%lld) must be multiples "
                      "of the factor (%lld)", (long long)x->dims[2], (long long)x->dims[3],
                      (long long)f);
    c->out_shape = kd_sh4(x->dims[0], x->dims[1] * f * f, x->dims[2] / f, x->dims[3] / f);
    return 0;
}

static void forward(kd_op_ctx *c)
{
    const kd_shape *x = &c->in_shape[0];
    int64_t f = KD_A_INT(c, A_FACTOR), Ci = x->dims[1], Hi = x->dims[2], Wi = x->dims[3];
    int64_t Co = Ci * f * f, H = Hi / f, W = Wi / f;
    int64_t planes = x->dims[0] * Co;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && planes * H * W > KD_OMP_MIN)
    for (int64_t pl = 0; pl < planes; pl++) {
        int64_t n = pl / Co, co = pl % Co, ch = co / (f * f), i = (co % (f * f)) / f, j = co % f;
        const float *xp = c->in[0] + (n * Ci + ch) * Hi * Wi;
        float *y = c->out + pl * H * W;
        for (int64_t h = 0; h < H; h++)
            for (int64_t w = 0; w < W; w++) y[h * W + w] = xp[(h * f + i) * Wi + w * f + j];
    }
}

static void backward(kd_op_ctx *c)
{
    float *dx = c->grad_in[0];
    if (!dx) return;
    const kd_shape *x = &c->in_shape[0];
    int64_t f = KD_A_INT(c, A_FACTOR), Ci = x->dims[1], Hi = x->dims[2], Wi = x->dims[3];
    int64_t Co = Ci * f * f, H = Hi / f, W = Wi / f;
    int64_t rows = x->dims[0] * Ci * Hi;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && rows * Wi > KD_OMP_MIN)
    for (int64_t r = 0; r < rows; r++) {
        int64_t ih = r % Hi, nc = r / Hi, n = nc / Ci, ch = nc % Ci, h = ih / f, i = ih % f;
        float *d = dx + r * Wi;
        for (int64_t iw = 0; iw < Wi; iw++) {
            int64_t w = iw / f, j = iw % f;
            d[iw] += c->grad_out[((n * Co + ch * f * f + i * f + j) * H + h) * W + w];
        }
    }
}

static const kd_input_spec inputs[] = {
    {.name = "x", .shape = "[N, C, H*f, W*f]"},
    {NULL}};

const kd_op_def kd_op_pixel_unshuffle = {
    .name = "pixel_unshuffle", .min_inputs = 1, .max_inputs = 1, .npositional = 1,
    .attrs = attrs, .infer = infer, .forward = forward, .backward = backward,
    .use = KD_USE_NET, .flags = KD_OP_TIN,
    .doc = "move space to channels: C x H*f x W*f -> C*f*f x H x W",
    .inputs = inputs,
    .rows = kd_rows_always,
};
