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
 *           (nearest: the sum of dy over the f x f block, in double).
 * Nearest copies rows; bilinear runs as two 1-D passes (below), in float,
 * in a fixed order per plane; planes are cut into one contiguous range per
 * thread (the same bits for any thread count).
 */
#include <string.h>
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

/* Bilinear is separable: per plane, the rows are interpolated along w into
 * a scratch [H, Wo] and then the scratch along h (backward: the adjoint
 * scatters, along w into [Ho, W], then along h).  The taps of every output
 * coordinate are computed once per call; each thread owns one scratch. */
typedef struct tapv { int64_t i0, i1; float w0, w1; } tapv;

/* one thread's scratch: [H, Wo] or [Ho, W] (both H W f), kept 64-byte aligned */
static size_t scratch_floats(const kd_op_ctx *c)
{
    const kd_shape *x = &c->in_shape[0];
    size_t n = (size_t)(x->dims[2] * x->dims[3] * KD_A_INT(c, A_FACTOR));
    return (n + 15) & ~(size_t)15;
}

static size_t taps_bytes(const kd_op_ctx *c)
{
    const kd_shape *x = &c->in_shape[0];
    int64_t f = KD_A_INT(c, A_FACTOR);
    return ((size_t)((x->dims[2] + x->dims[3]) * f) * sizeof(tapv) + 63) & ~(size_t)63;
}

static size_t workspace(const kd_op_ctx *c)
{
    if (KD_A_INT(c, A_MODE) != M_BILINEAR) return 0;
    int t = c->nthreads > 1 ? c->nthreads : 1;
    return taps_bytes(c) + (size_t)t * scratch_floats(c) * sizeof(float);
}

/* threads the workspace has room for (a smaller one, in tests, runs fewer) */
static int usable_threads(const kd_op_ctx *c)
{
    int t = c->nthreads > 1 ? c->nthreads : 1;
    while (t > 1 && taps_bytes(c) + (size_t)t * scratch_floats(c) * sizeof(float) > c->work_size) t--;
    return t;
}

static void fill_taps(const kd_op_ctx *c, tapv *th, tapv *tw)
{
    const kd_shape *x = &c->in_shape[0];
    int64_t f = KD_A_INT(c, A_FACTOR), H = x->dims[2], W = x->dims[3];
    double w0, w1;
    for (int64_t o = 0; o < H * f; o++) {
        taps(o, f, H, &th[o].i0, &th[o].i1, &w0, &w1);
        th[o].w0 = (float)w0, th[o].w1 = (float)w1;
    }
    for (int64_t o = 0; o < W * f; o++) {
        taps(o, f, W, &tw[o].i0, &tw[o].i1, &w0, &w1);
        tw[o].w0 = (float)w0, tw[o].w1 = (float)w1;
    }
}

static void forward(kd_op_ctx *c)
{
    const kd_shape *x = &c->in_shape[0];
    int64_t f = KD_A_INT(c, A_FACTOR), H = x->dims[2], W = x->dims[3], Ho = H * f, Wo = W * f;
    int64_t planes = x->dims[0] * x->dims[1];
    if (KD_A_INT(c, A_MODE) != M_BILINEAR) {
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && planes * Ho * Wo > KD_OMP_MIN)
        for (int64_t pl = 0; pl < planes; pl++) {
            const float *xp = c->in[0] + pl * H * W;
            float *yp = c->out + pl * Ho * Wo;
            for (int64_t ih = 0; ih < H; ih++) {
                float *row = yp + ih * f * Wo;
                for (int64_t iw = 0; iw < W; iw++)
                    for (int64_t j = 0; j < f; j++) row[iw * f + j] = xp[ih * W + iw];
                for (int64_t i = 1; i < f; i++) memcpy(row + i * Wo, row, (size_t)Wo * sizeof(float));
            }
        }
        return;
    }
    tapv *th = c->work, *tw = th + Ho;
    float *scr = (float *)((char *)c->work + taps_bytes(c));
    size_t sl = scratch_floats(c);
    fill_taps(c, th, tw);
    int T = usable_threads(c);
#pragma omp parallel for schedule(static) num_threads(T) if (T > 1 && planes * Ho * Wo > KD_OMP_MIN)
    for (int t = 0; t < T; t++) {
        float *tmp = scr + (size_t)t * sl;   /* [H, Wo] */
        for (int64_t pl = planes * t / T; pl < planes * (t + 1) / T; pl++) {
            const float *xp = c->in[0] + pl * H * W;
            float *yp = c->out + pl * Ho * Wo;
            for (int64_t ih = 0; ih < H; ih++) {
                const float *xr = xp + ih * W;
                float *tr = tmp + ih * Wo;
                for (int64_t ow = 0; ow < Wo; ow++) tr[ow] = tw[ow].w0 * xr[tw[ow].i0] + tw[ow].w1 * xr[tw[ow].i1];
            }
            for (int64_t oh = 0; oh < Ho; oh++) {
                const float *r0 = tmp + th[oh].i0 * Wo, *r1 = tmp + th[oh].i1 * Wo;
                float a0 = th[oh].w0, a1 = th[oh].w1, *yr = yp + oh * Wo;
                for (int64_t ow = 0; ow < Wo; ow++) yr[ow] = a0 * r0[ow] + a1 * r1[ow];
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
    if (KD_A_INT(c, A_MODE) != M_BILINEAR) {   /* the sum of dy over each f x f block */
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && planes * Ho * Wo > KD_OMP_MIN)
        for (int64_t pl = 0; pl < planes; pl++) {
            const float *gp = c->grad_out + pl * Ho * Wo;
            float *dp = dx + pl * H * W;
            for (int64_t ih = 0; ih < H; ih++)
                for (int64_t iw = 0; iw < W; iw++) {
                    double s = 0;
                    for (int64_t i = 0; i < f; i++) {
                        const float *r = gp + (ih * f + i) * Wo + iw * f;
                        for (int64_t j = 0; j < f; j++) s += r[j];
                    }
                    dp[ih * W + iw] += (float)s;
                }
        }
        return;
    }
    tapv *th = c->work, *tw = th + Ho;
    float *scr = (float *)((char *)c->work + taps_bytes(c));
    size_t sl = scratch_floats(c);
    fill_taps(c, th, tw);
    int T = usable_threads(c);
#pragma omp parallel for schedule(static) num_threads(T) if (T > 1 && planes * Ho * Wo > KD_OMP_MIN)
    for (int t = 0; t < T; t++) {
        float *tmp = scr + (size_t)t * sl;   /* [Ho, W] */
        for (int64_t pl = planes * t / T; pl < planes * (t + 1) / T; pl++) {
            const float *gp = c->grad_out + pl * Ho * Wo;
            float *dp = dx + pl * H * W;
            memset(tmp, 0, (size_t)(Ho * W) * sizeof(float));
            for (int64_t oh = 0; oh < Ho; oh++) {
                const float *gr = gp + oh * Wo;
                float *tr = tmp + oh * W;
                for (int64_t ow = 0; ow < Wo; ow++) {
                    tr[tw[ow].i0] += tw[ow].w0 * gr[ow];
                    tr[tw[ow].i1] += tw[ow].w1 * gr[ow];
                }
            }
            for (int64_t oh = 0; oh < Ho; oh++) {
                const float *tr = tmp + oh * W;
                float *d0 = dp + th[oh].i0 * W, *d1 = dp + th[oh].i1 * W, a0 = th[oh].w0, a1 = th[oh].w1;
                for (int64_t iw = 0; iw < W; iw++) {
                    d0[iw] += a0 * tr[iw];
                    d1[iw] += a1 * tr[iw];
                }
            }
        }
    }
}

static const kd_input_spec inputs[] = {
    {.name = "x", .shape = "[N, C, H, W]"},
    {NULL}};

const kd_op_def kd_op_upsample = {
    .name = "upsample", .min_inputs = 1, .max_inputs = 1, .npositional = 1,
    .attrs = attrs, .infer = infer, .workspace = workspace, .forward = forward, .backward = backward,
    .use = KD_USE_NET, .flags = KD_OP_TIN,
    .doc = "resize by an integer factor",
    .inputs = inputs,
    .rows = kd_rows_always,
};
