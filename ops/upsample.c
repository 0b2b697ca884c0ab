/* upsample.c — resize [N, C, H, W] by an integer factor f.
 *
 * Shapes: x [N, C, H, W], y [N, C, H f, W f].
 * nearest:  y[n,c,oh,ow] = x[n,c,oh/f,ow/f]
 * bilinear: PyTorch's align_corners=False: for each output coordinate o,
 *           src = max((o + 0.5)/f - 0.5, 0), i0 = floor(src),
 *           i1 = min(i0 + 1, in - 1), l = src - i0; the weight of input i is
 *           a(o, i) = (1 - l)[i == i0] + l[i == i1], and
 *           y[oh,ow] = sum_{ih,iw} a_h(oh, ih) a_w(ow, iw) x[ih,iw].
 * backward: dx[ih,iw] += sum_{oh,ow} a_h(oh, ih) a_w(ow, iw) dy[oh,ow]
 *           (nearest: the sum of dy over the f x f block).  Computed as a
 *           gather over the outputs that can reach (ih, iw), in double, in a
 *           fixed order; parallel over (n, c) planes.
 */
#include "kd_ops_util.h"

enum { A_FACTOR, A_MODE };
enum { M_NEAREST, M_BILINEAR };

static const char *const modes[] = {"nearest", "bilinear", NULL};
static const kd_attr_spec attrs[] = {
    {.name = "factor", .type = KD_ATTR_INT, .def = 2, .min = 1, .max = 64,
     .doc = "integer scale factor"},
    {.name = "mode", .type = KD_ATTR_ENUM, .def = M_NEAREST, .enums = modes,
     .doc = "nearest copies, bilinear interpolates"},
    {0}};

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    const kd_shape *x = &c->in_shape[0];
    int64_t f = KD_A_INT(c, A_FACTOR);
    if (x->ndim != 4) return kd_err_rank(err, n, "upsample", 4, "[N, C, H, W]", x);
    c->out_shape = kd_sh4(x->dims[0], x->dims[1], x->dims[2] * f, x->dims[3] * f);
    return 0;
}

/* bilinear taps of output coordinate o: inputs i0, i1 with weights w0, w1 */
static void taps(int64_t o, int64_t f, int64_t in, int64_t *i0, int64_t *i1, double *w0, double *w1)
{
    double src = ((double)o + 0.5) / (double)f - 0.5;
    if (src < 0) src = 0;
    *i0 = (int64_t)src;
    if (*i0 > in - 1) *i0 = in - 1;
    *i1 = *i0 + 1 < in ? *i0 + 1 : in - 1;
    *w1 = src - (double)*i0;
    *w0 = 1.0 - *w1;
}

/* weight of input i in output o (0 if o does not read i) */
static double weight(int64_t o, int64_t i, int64_t f, int64_t in)
{
    int64_t i0, i1;
    double w0, w1;
    taps(o, f, in, &i0, &i1, &w0, &w1);
    return (i == i0 ? w0 : 0.0) + (i == i1 ? w1 : 0.0);
}

static void forward(kd_op_ctx *c)
{
    const kd_shape *x = &c->in_shape[0];
    int64_t f = KD_A_INT(c, A_FACTOR), H = x->dims[2], W = x->dims[3], Ho = H * f, Wo = W * f;
    int64_t planes = x->dims[0] * x->dims[1];
    int bil = KD_A_INT(c, A_MODE) == M_BILINEAR;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && planes * Ho * Wo > KD_OMP_MIN)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *xp = c->in[0] + pl * H * W;
        float *yp = c->out + pl * Ho * Wo;
        for (int64_t oh = 0; oh < Ho; oh++) {
            int64_t h0, h1;
            double a0, a1;
            taps(oh, f, H, &h0, &h1, &a0, &a1);
            for (int64_t ow = 0; ow < Wo; ow++) {
                if (!bil) {
                    yp[oh * Wo + ow] = xp[(oh / f) * W + ow / f];
                    continue;
                }
                int64_t w0, w1;
                double b0, b1;
                taps(ow, f, W, &w0, &w1, &b0, &b1);
                double v = a0 * (b0 * xp[h0 * W + w0] + b1 * xp[h0 * W + w1]) +
                           a1 * (b0 * xp[h1 * W + w0] + b1 * xp[h1 * W + w1]);
                yp[oh * Wo + ow] = (float)v;
            }
        }
    }
}

static void backward(kd_op_ctx *c)
{
    float *dx = c->grad_in[0];
    if (!dx) return;
    const kd_shape *x = &c->in_shape[0];
    int64_t f = KD_A_INT(c, A_FACTOR), H = x->dims[2], W = x->dims[3], Ho = H * f, Wo = W * f;
    int64_t planes = x->dims[0] * x->dims[1];
    int bil = KD_A_INT(c, A_MODE) == M_BILINEAR;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && planes * Ho * Wo > KD_OMP_MIN)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *gp = c->grad_out + pl * Ho * Wo;
        float *dp = dx + pl * H * W;
        for (int64_t ih = 0; ih < H; ih++)
            for (int64_t iw = 0; iw < W; iw++) {
                double s = 0;
                if (!bil) {
                    for (int64_t i = 0; i < f; i++)
                        for (int64_t j = 0; j < f; j++) s += gp[(ih * f + i) * Wo + iw * f + j];
                } else {
                    /* outputs reading input i lie in [(i - 1) f, (i + 2) f) */
                    int64_t oh0 = ih > 0 ? (ih - 1) * f : 0, oh1 = (ih + 2) * f < Ho ? (ih + 2) * f : Ho;
                    int64_t ow0 = iw > 0 ? (iw - 1) * f : 0, ow1 = (iw + 2) * f < Wo ? (iw + 2) * f : Wo;
                    for (int64_t oh = oh0; oh < oh1; oh++) {
                        double a = weight(oh, ih, f, H);
                        if (a == 0) continue;
                        for (int64_t ow = ow0; ow < ow1; ow++) {
                            double b = weight(ow, iw, f, W);
                            if (b != 0) s += a * b * gp[oh * Wo + ow];
                        }
                    }
                }
                dp[ih * W + iw] += (float)s;
            }
    }
}

static const kd_input_spec inputs[] = {
    {.name = "x", .shape = "[N, C, H, W]"},
    {NULL}};

const kd_op_def kd_op_upsample = {
    .name = "upsample", .min_inputs = 1, .max_inputs = 1, .npositional = 1,
    .attrs = attrs, .infer = infer, .forward = forward, .backward = backward,
    .use = KD_USE_NET, .flags = KD_OP_TIN,
    .doc = "resize by an integer factor",
    .inputs = inputs,
};
