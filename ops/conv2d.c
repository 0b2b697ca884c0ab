/* conv2d.c — 2-D convolution (cross-correlation), groups incl. depthwise.
 *
 * Shapes: x [N, C, H, W], w [F, C/G, K, K], b [F], y [N, F, Ho, Wo]
 *   N batch, C input channels, F output channels, G groups, K kernel size,
 *   Ho = (H + 2*pad - dil*(K-1) - 1)/stride + 1 (Wo likewise), P = Ho*Wo.
 *
 * Threads: the batch is cut into c->nthreads contiguous ranges of images,
 * one per OpenMP thread; each thread does everything for its images
 * (im2col, a single-threaded sgemm, col2im) in its own slice of the
 * workspace, so no core waits on another between the memory-bound loops
 * and the products.  dW: each thread sums its images into a partial of its
 * own; dw += (p0 + p1 + ...), summed in thread order: bit-identical
 * results for a given thread count, and the same increment whatever dw
 * held before (two backward passes add exactly twice one).
 *
 * Paths, per image and group:
 *   - depthwise-like (C/G == 1 and F/G == 1): direct loops, parallel over
 *     (n, channel) planes; dW parallel over channels.
 *   - 1x1, stride 1, pad 0: straight to sgemm, no im2col.
 *   - general: im2col into col [Kg, P] (Kg = C/G*K*K), y = Wg * col;
 *     backward dW += dY * col^T, col = Wg^T * dY, col2im.
 *   - "same" stride-1 convs on AVX-512 (kd_sgemm_small_conv_ok): forward
 *     and dX read x or dY in place, im2col on the fly: the same products,
 *     the same bits, no col.
 *   - dW of one-group convs on AVX-512 with C >= 4 (hwc_dw): x copied pixel-major
 *     into col's room, then a register-blocked product over the output
 *     positions (kd_dw_hwc), no im2col; the threads' partials are
 *     tap-major and kd_dw_hwc_finish sums them into dw's layout.
 *   - 3x3, pad-1, stride-1 one-group convs with C and F multiples of 16 on
 *     AVX-512 (wino): forward, dX and dW by Winograd F(4x4, 3x3) (kd_wino),
 *     a few images at a time, the transformed weights in col's room; a
 *     quarter of the multiplies, rounded differently from the direct
 *     product (ops/README.md has the error).
 */
#include <stdlib.h>
#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "kd_ops_util.h"
#include "kd_sgemm_small.h"
#include "kd_dw_hwc.h"
#include "kd_wino.h"

enum { A_C, A_K, A_STRIDE, A_PAD, A_DIL, A_GROUPS, A_BIAS };

static const kd_attr_spec attrs[] = {
    {.name = "c", .type = KD_ATTR_INT, .def = 1, .min = 1, .max = 1 << 20, .required = 1,
     .doc = "output channels"},
    {.name = "k", .type = KD_ATTR_INT, .def = 3, .min = 1, .max = 64, .required = 1,
     .doc = "kernel size (k x k)"},
    {.name = "stride", .type = KD_ATTR_INT, .def = 1, .min = 1, .max = 64,
     .doc = "step between output positions"},
    {.name = "pad", .type = KD_ATTR_INT, .def = 0, .min = -1, .max = 64,
     .doc = "zero padding on every side; -1: dilation*(k-1)/2, the same size at stride 1"},
    {.name = "dilation", .type = KD_ATTR_INT, .def = 1, .min = 1, .max = 64,
     .doc = "spacing between kernel taps"},
    {.name = "groups", .type = KD_ATTR_INT, .def = 1, .min = 1, .max = 1 << 20,
     .doc = "channel groups; must divide the input and output channels"},
    {.name = "bias", .type = KD_ATTR_BOOL, .def = 0, .min = 0, .max = 1,
     .doc = "add a learned bias"},
    {0}};

typedef struct geo {
    int64_t N, C, H, W, F, G, K, S, Pd, D, Ho, Wo, P, Cg, Fg, Kg;
} geo;

static geo get_geo(const kd_op_ctx *c)
{
    geo g;
    g.N = c->in_shape[0].dims[0];
    g.C = c->in_shape[0].dims[1];
    g.H = c->in_shape[0].dims[2];
    g.W = c->in_shape[0].dims[3];
    g.F = KD_A_INT(c, A_C);
    g.K = KD_A_INT(c, A_K);
    g.S = KD_A_INT(c, A_STRIDE);
    g.D = KD_A_INT(c, A_DIL);
    g.Pd = KD_A_INT(c, A_PAD);
    if (g.Pd < 0) g.Pd = g.D * (g.K - 1) / 2;
    g.G = KD_A_INT(c, A_GROUPS);
    g.Ho = kd_conv_out(g.H, g.K, g.S, g.Pd, g.D);
    g.Wo = kd_conv_out(g.W, g.K, g.S, g.Pd, g.D);
    g.P = g.Ho * g.Wo;
    g.Cg = g.C / g.G;
    g.Fg = g.F / g.G;
    g.Kg = g.Cg * g.K * g.K;
    return g;
}

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    const kd_shape *x = &c->in_shape[0];
    if (x->ndim != 4) return kd_err_rank(err, n, "conv2d", 4, "[N, C, H, W]", x);
    geo g = get_geo(c);
    if (g.C % g.G || g.F % g.G)
        return kd_err(err, n, "conv2d: groups (%lld) must divide input channels (%lld) "
                      "and output channels (%lld)", (long long)g.G, (long long)g.C,
                      (long long)g.F);
    if (g.Ho <= 0 || g.Wo <= 0)
        return kd_err(err, n, "conv2d: kernel %lld (dilation %lld, pad %lld) does not fit "
                      "input %lldx%lld", (long long)g.K, (long long)g.D, (long long)g.Pd,
                      (long long)g.H, (long long)g.W);
    c->in_shape[1] = kd_sh4(g.F, g.Cg, g.K, g.K);
    info->init[1] = (kd_param_init){KD_INIT_KAIMING_NORMAL, g.Kg};
    if (KD_A_INT(c, A_BIAS)) {
        c->in_shape[2] = kd_sh1(g.F);
        info->init[2] = (kd_param_init){KD_INIT_UNIFORM_FANIN, g.Kg};
    }
    c->out_shape = kd_sh4(g.N, g.F, g.Ho, g.Wo);
    return 0;
}

static int is_direct(const geo *g) { return g->Cg == 1 && g->Fg == 1; }
static int is_1x1(const geo *g) { return g->K == 1 && g->S == 1 && g->Pd == 0; }

static int nthreads_of(const kd_op_ctx *c) { return c->nthreads > 1 ? c->nthreads : 1; }

/* floats of one thread's column buffer (also kd_dw_hwc's pixel-major x,
 * reserved for every one-group conv whatever the path, so that the
 * layout does not move when a test switches paths after planning), and
 * of one dW partial */
static int wino_shape(const geo *g);
static size_t wino_floats(const geo *g);
static size_t col_floats(const geo *g)
{
    size_t n = is_1x1(g) ? 0 : (size_t)g->Kg * (size_t)g->P;
    if (g->G == 1 && g->D == 1) {
        size_t xt = kd_dw_hwc_floats((int)g->C, (int)g->H, (int)g->W, (int)g->Pd);
        if (xt > n) n = xt;
    }
    if (wino_shape(g) && wino_floats(g) > n) n = wino_floats(g);
    return n;
}
static size_t dw_floats(const geo *g) { return (size_t)g->F * (size_t)g->Kg; }
static size_t pad16(size_t n) { return (n + 15) & ~(size_t)15; }   /* keep slices 64-byte aligned */
/* kd_sgemm_small's path for this conv, or KD_SG_BLAS: 1x1 convs stay on
 * OpenBLAS (bench_ops: 0.75-0.95x on ResNet's 1x1 shapes, K = 16..32) */
static int small_path(const geo *g) { return g->K == 1 ? KD_SG_BLAS : kd_sgemm_small_path(); }

/* 1 if the implicit products may apply to this shape on some path: a
 * "same" stride-1 conv with k > 1 */
static int same_conv(const geo *g)
{
    return !is_1x1(g) && g->S == 1 && g->D == 1 && 2 * g->Pd == g->K - 1 &&
           g->K * g->K <= KD_SGEMM_CONV_MAXTAPS;
}
/* 1 if the stride-2 implicit forward (kd_sgemm_small_conv2) may apply to
 * this shape on some path: 3x3, pad 1, stride 2, even H and W */
static int s2_conv(const geo *g)
{
    return g->K == 3 && g->S == 2 && g->Pd == 1 && g->D == 1 && g->H % 2 == 0 && g->W % 2 == 0;
}
/* the tap masks of the implicit products (kd_sgemm_small_conv_prep), at
 * the start of the workspace, one copy shared by the threads; reserved
 * for every such shape whatever the path, so that the layout does not
 * move when a test or benchmark switches paths after planning */
static size_t mask_floats(const geo *g)
{
    size_t n = same_conv(g) ? kd_sgemm_small_conv_masks((int)g->H, (int)g->W, (int)g->K)
             : s2_conv(g)   ? kd_sgemm_small_conv2_masks((int)g->Ho, (int)g->Wo) : 0;
    return pad16((n + 1) / 2);
}
/* one thread's slice: column buffer, dW partial, packed W (kd_sgemm_small);
 * the workspace is the masks, then nt of each, and has room for nt slices
 * of this size (the masks counted in each: with room for one slice, one
 * thread runs with them) */
static size_t slice_floats(const geo *g)
{
    return pad16(col_floats(g)) + 2 * pad16(dw_floats(g)) + mask_floats(g);
}
/* where the threads' areas start */
static float *thread_area(const kd_op_ctx *c, const geo *g)
{
    return (float *)c->work + mask_floats(g);
}

/* dW from x laid out pixel by pixel (kd_dw_hwc): no im2col, no lane
 * reductions; every one-group conv on AVX-512 with at least 4 input
 * channels, but the 1x1 ones whose x is already kd_sgemm_small_nt's
 * operand.  bench_ops, backward, without it / with it: 3x3 convs of
 * ResNet-20's shapes 1.25-1.45x, 8 and 4 channels on 28x28 1.44-1.70x and
 * 1.14-1.26x, the 1x1 stride-2 shortcut 1.11x; a 1x1 on 16x16 maps 0.89x,
 * and stems of 1 and 3 channels 0.64x and 0.72x (a 16-lane vector holds
 * one window row of 3 or 9 values) */
static int hwc_dw(const geo *g)
{
    int path = kd_sgemm_small_path();
    return kd_dw_hwc_ok(path, (int)g->G, (int)g->D) && g->C >= 4 &&
           !(is_1x1(g) && kd_sgemm_small_nt_ok(path, (int)g->P));
}
/* Winograd F(4x4, 3x3) may apply to this shape on some path (kd_wino):
 * reserved whatever the path, as above */
static int wino_shape(const geo *g)
{
    return g->K == 3 && g->S == 1 && g->Pd == 1 && g->D == 1 && g->G == 1 && g->C % 16 == 0 &&
           g->F % 16 == 0;
}
/* U, then the scratch of the forward (C -> F), of dX (F -> C) or of dW,
 * then dW's accumulator */
static size_t wino_scratch(const geo *g)
{
    int C = (int)g->C, F = (int)g->F, H = (int)g->H, W = (int)g->W;
    size_t f = kd_wino_floats(C, F, H, W), b = kd_wino_floats(F, C, H, W);
    size_t w = kd_wino_dw_floats(C, F, H, W), m = f > b ? f : b;
    return pad16(m > w ? m : w);
}
static size_t wino_floats(const geo *g)
{
    return pad16(kd_wino_ufloats((int)g->C, (int)g->F)) + wino_scratch(g) +
           kd_wino_macc_floats((int)g->C, (int)g->F);
}
static int wino(const geo *g, int path)
{
    return wino_shape(g) && kd_wino_ok(path, (int)g->C, (int)g->F);
}
/* forward and dX with implicit im2col (kd_sgemm_small_conv) */
static int implicit_conv(const geo *g, int path)
{
    return same_conv(g) && kd_sgemm_small_conv_ok(path, (int)g->K, (int)g->S, (int)g->Pd, (int)g->D);
}

static size_t workspace(const kd_op_ctx *c)
{
    geo g = get_geo(c);
    if (is_direct(&g)) return 0;
    size_t t = (size_t)nthreads_of(c);
    return t * slice_floats(&g) * sizeof(float);
}

/* The tap masks, written once per call before the threads start */
static const uint16_t *tap_masks(const kd_op_ctx *c, const geo *g, int backward)
{
    uint16_t *m = (uint16_t *)c->work;
    if (s2_conv(g) && backward)   /* the dX's planes (kd_sgemm_small_conv2dx) */
        kd_sgemm_small_conv2dx_prep((int)g->Ho, (int)g->Wo, m);
    else if (s2_conv(g))
        kd_sgemm_small_conv2_prep((int)g->Ho, (int)g->Wo, m);
    else
        kd_sgemm_small_conv_prep((int)g->H, (int)g->W, (int)g->K, (int)g->Pd, m);
    return m;
}
/* the stride-2 forward without im2col (kd_sgemm_small_conv2) */
static int implicit_s2(const geo *g, int path)
{
    return s2_conv(g) && kd_sgemm_small_conv2_ok(path, (int)g->K, (int)g->S, (int)g->Pd,
                                                 (int)g->D, (int)g->H, (int)g->W);
}
/* its dX without col2im (kd_sgemm_small_conv2dx) */
static int implicit_s2dx(const geo *g, int path)
{
    return s2_conv(g) && kd_sgemm_small_conv2dx_ok(path, (int)g->K, (int)g->S, (int)g->Pd,
                                                   (int)g->D, (int)g->H, (int)g->W);
}

/* Threads the workspace has room for (at least 1): the executor sizes it
 * for c->nthreads, a smaller one (tests) runs fewer threads. */
static int usable_threads(const kd_op_ctx *c, const geo *g)
{
    int t = nthreads_of(c);
    while (t > 1 && (size_t)t * slice_floats(g) * sizeof(float) > c->work_size)
        t--;
    return t;
}

/* im2col of a stride-1 conv whose output has the input's size: each row
 * of col is the whole channel shifted by one offset, so one copy of the
 * rows in range, then zeros over the columns that wrapped around and the
 * rows out of range (for small maps the per-row copies cost more than
 * the data) */
static void im2col_same(const geo *g, const float *xn, int64_t gi, float *col)
{
    const int64_t P = g->P, W = g->W, H = g->H;
    for (int64_t r = 0; r < g->Kg; r++) {
        int64_t ci = r / (g->K * g->K), ki = (r / g->K) % g->K, kj = r % g->K;
        const float *xp = xn + (gi * g->Cg + ci) * H * W;
        float *d = col + r * P;
        int64_t di = ki * g->D - g->Pd, dj = kj * g->D - g->Pd;
        /* rows oh in [r0, r1) read input row oh + di; columns [lo, hi) */
        int64_t r0 = di < 0 ? -di : 0, r1 = H - di < H ? H - di : H;
        int64_t lo = dj < 0 ? -dj : 0, hi = W - dj < W ? W - dj : W;
        if (r1 <= r0 || hi <= lo) {
            memset(d, 0, sizeof(float) * (size_t)P);
            continue;
        }
        memset(d, 0, sizeof(float) * (size_t)(r0 * W + lo));
        int64_t first = r0 * W + lo, last = (r1 - 1) * W + hi;   /* [first, last) */
        memcpy(d + first, xp + first + di * W + dj, sizeof(float) * (size_t)(last - first));
        memset(d + last, 0, sizeof(float) * (size_t)(P - last));
        for (int64_t oh = r0; oh < r1; oh++) {   /* the wrapped edge columns */
            float *drow = d + oh * W;
            for (int64_t ow = 0; ow < lo; ow++) drow[ow] = 0.0f;
            for (int64_t ow = hi; ow < W; ow++) drow[ow] = 0.0f;
        }
    }
}

/* col[r, p] for r = (ci, ki, kj) over channels gi*Cg.. of image x_n */
static void im2col(const geo *g, const float *xn, int64_t gi, float *col)
{
    const int64_t P = g->P;
    if (g->S == 1 && g->Ho == g->H && g->Wo == g->W) {
        im2col_same(g, xn, gi, col);
        return;
    }
    for (int64_t r = 0; r < g->Kg; r++) {
        int64_t ci = r / (g->K * g->K), ki = (r / g->K) % g->K, kj = r % g->K;
        const float *xp = xn + (gi * g->Cg + ci) * g->H * g->W;
        float *d = col + r * P;
        int64_t off = kj * g->D - g->Pd;
        /* output columns whose input column iw = ow*S + off lies inside [0, W) */
        int64_t lo = off < 0 ? (-off + g->S - 1) / g->S : 0;
        int64_t hi = g->W - off <= 0 ? 0 : (g->W - off - 1) / g->S + 1;
        if (hi > g->Wo) hi = g->Wo;
        if (lo > hi) lo = hi;
        for (int64_t oh = 0; oh < g->Ho; oh++) {
            int64_t ih = oh * g->S - g->Pd + ki * g->D;
            float *drow = d + oh * g->Wo;
            if (ih < 0 || ih >= g->H) {
                memset(drow, 0, sizeof(float) * (size_t)g->Wo);
                continue;
            }
            const float *xrow = xp + ih * g->W + off;
            for (int64_t ow = 0; ow < lo; ow++) drow[ow] = 0.0f;
            if (g->S == 1) {
                memcpy(drow + lo, xrow + lo, sizeof(float) * (size_t)(hi - lo));
            } else if (g->S == 2) {   /* a constant stride: vectorized (even lanes) */
                for (int64_t ow = lo; ow < hi; ow++) drow[ow] = xrow[2 * ow];
            } else {
                for (int64_t ow = lo; ow < hi; ow++) drow[ow] = xrow[ow * g->S];
            }
            for (int64_t ow = hi; ow < g->Wo; ow++) drow[ow] = 0.0f;
        }
    }
}

/* dx_n[gi*Cg + ci] += col2im(col) */
static void col2im(const geo *g, const float *col, int64_t gi, float *dxn)
{
    for (int64_t ci = 0; ci < g->Cg; ci++) {
        float *xp = dxn + (gi * g->Cg + ci) * g->H * g->W;
        for (int64_t ki = 0; ki < g->K; ki++)
            for (int64_t kj = 0; kj < g->K; kj++) {
                const float *src = col + ((ci * g->K + ki) * g->K + kj) * g->P;
                int64_t off = kj * g->D - g->Pd;
                int64_t lo = off < 0 ? (-off + g->S - 1) / g->S : 0;
                int64_t hi = g->W - off <= 0 ? 0 : (g->W - off - 1) / g->S + 1;
                if (hi > g->Wo) hi = g->Wo;
                for (int64_t oh = 0; oh < g->Ho; oh++) {
                    int64_t ih = oh * g->S - g->Pd + ki * g->D;
                    if (ih < 0 || ih >= g->H) continue;
                    float *xrow = xp + ih * g->W + off;
                    const float *s = src + oh * g->Wo;
                    if (g->S == 1) {
                        for (int64_t ow = lo; ow < hi; ow++) xrow[ow] += s[ow];
                    } else {
                        for (int64_t ow = lo; ow < hi; ow++) xrow[ow * g->S] += s[ow];
                    }
                }
            }
    }
}

/* the fold's transform of output plane pl (channel f): a frozen bn's
 * y = a * y + o (as batchnorm2d's scale_shift) and the residual add (as
 * add's, in its operand order) in one pass, then relu (as relu's) while
 * the plane is in cache; inlined into epilogue's clones */
static inline void post_plane(const kd_op_ctx *c, int64_t pl, int64_t f, float *restrict yp, int64_t P)
{
    if (c->post_scale) {
        float a = c->post_scale[f], o = c->post_shift[f];
        const float *restrict rp = c->post_add ? c->post_add + pl * P : NULL;
        if (!rp)
            for (int64_t p = 0; p < P; p++) yp[p] = a * yp[p] + o;
        else if (c->post_add_first)
            for (int64_t p = 0; p < P; p++) yp[p] = rp[p] + (a * yp[p] + o);
        else
            for (int64_t p = 0; p < P; p++) yp[p] = (a * yp[p] + o) + rp[p];
    }
    if (c->post_relu)
        for (int64_t p = 0; p < P; p++) yp[p] = yp[p] > 0 ? yp[p] : 0.0f;
}

/* ---- depthwise-like direct path (one input and one output channel per group) */
static void fwd_direct(kd_op_ctx *c, const geo *g)
{
    const float *x = c->in[0], *w = c->in[1], *bias = c->in_shape[2].ndim > 0 ? c->in[2] : NULL;
    float *y = c->out;
    int64_t planes = g->N * g->F;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1)
    for (int64_t pl = 0; pl < planes; pl++) {
        int64_t f = pl % g->F;
        const float *xp = x + pl * g->H * g->W, *wk = w + f * g->K * g->K;
        float *yp = y + pl * g->P;
        for (int64_t oh = 0; oh < g->Ho; oh++)
            for (int64_t ow = 0; ow < g->Wo; ow++) {
                float s = bias ? bias[f] : 0.0f;
                for (int64_t ki = 0; ki < g->K; ki++) {
                    int64_t ih = oh * g->S - g->Pd + ki * g->D;
                    if (ih < 0 || ih >= g->H) continue;
                    for (int64_t kj = 0; kj < g->K; kj++) {
                        int64_t iw = ow * g->S - g->Pd + kj * g->D;
                        if (iw >= 0 && iw < g->W) s += wk[ki * g->K + kj] * xp[ih * g->W + iw];
                    }
                }
                yp[oh * g->Wo + ow] = s;
            }
        post_plane(c, pl, f, yp, g->P);
    }
}
static void bwd_direct(kd_op_ctx *c, const geo *g)
{
    const float *x = c->in[0], *w = c->in[1], *gy = c->grad_out;
    float *dx = c->grad_in[0], *dw = c->grad_in[1];
    if (dx) {
        int64_t planes = g->N * g->F;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1)
        for (int64_t pl = 0; pl < planes; pl++) {
            int64_t f = pl % g->F;
            const float *wk = w + f * g->K * g->K, *gp = gy + pl * g->P;
            float *xp = dx + pl * g->H * g->W;
            for (int64_t oh = 0; oh < g->Ho; oh++)
                for (int64_t ki = 0; ki < g->K; ki++) {
                    int64_t ih = oh * g->S - g->Pd + ki * g->D;
                    if (ih < 0 || ih >= g->H) continue;
                    for (int64_t ow = 0; ow < g->Wo; ow++) {
                        float gv = gp[oh * g->Wo + ow];
                        for (int64_t kj = 0; kj < g->K; kj++) {
                            int64_t iw = ow * g->S - g->Pd + kj * g->D;
                            if (iw >= 0 && iw < g->W) xp[ih * g->W + iw] += wk[ki * g->K + kj] * gv;
                        }
                    }
                }
        }
    }
    if (dw) {
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1)
        for (int64_t f = 0; f < g->F; f++)
            for (int64_t ki = 0; ki < g->K; ki++)
                for (int64_t kj = 0; kj < g->K; kj++) {
                    double s = 0;
                    for (int64_t nn = 0; nn < g->N; nn++) {
                        const float *xp = x + (nn * g->C + f) * g->H * g->W;
                        const float *gp = gy + (nn * g->F + f) * g->P;
                        for (int64_t oh = 0; oh < g->Ho; oh++) {
                            int64_t ih = oh * g->S - g->Pd + ki * g->D;
                            if (ih < 0 || ih >= g->H) continue;
                            for (int64_t ow = 0; ow < g->Wo; ow++) {
                                int64_t iw = ow * g->S - g->Pd + kj * g->D;
                                if (iw >= 0 && iw < g->W) s += (double)gp[oh * g->Wo + ow] * xp[ih * g->W + iw];
                            }
                        }
                    }
                    dw[(f * g->K + ki) * g->K + kj] += (float)s;
                }
    }
}

/* y_n += bias, then the fold's transform (the executor's fold of a frozen
 * model's conv-bn[-relu]), for image n while it is in cache */
KD_WIDE static void epilogue(const kd_op_ctx *c, const geo *g, int64_t n)
{
    const float *b = c->in_shape[2].ndim > 0 ? c->in[2] : NULL;
    if (!b && !c->post_relu && !c->post_scale) return;
    for (int64_t pl = n * g->F; pl < (n + 1) * g->F; pl++) {
        float bv = b ? b[pl % g->F] : 0.0f;
        float *yp = c->out + pl * g->P;
        if (b)
            for (int64_t p = 0; p < g->P; p++) yp[p] += bv;
        post_plane(c, pl, pl % g->F, yp, g->P);
    }
}


/* the images of thread t of nt: [N*t/nt, N*(t+1)/nt) */
static int64_t first_image(const geo *g, int t, int nt) { return g->N * t / nt; }

/* Pack each group's Wg [Fg, Kg] (transposed: Wg^T [Kg, Fg]) for
 * kd_sgemm_small into wp, group gi at gi*Fg*Kg. */
static void pack_w(const geo *g, int path, int trans, const float *w, float *wp)
{
    for (int64_t gi = 0; gi < g->G; gi++)
        kd_sgemm_small_pack(path, trans, (int)(trans ? g->Kg : g->Fg), (int)(trans ? g->Fg : g->Kg),
                            w + gi * g->Fg * g->Kg, (int)g->Kg, wp + gi * g->Fg * g->Kg);
}

/* images [n0, n1) of thread t of T: y = the conv of x (flip 0: the
 * forward) or dx += the conv of dY with W flipped (flip 1),
 * kd_wino_group images at a time.  U is shared: in thread 0's col room,
 * each thread packs a share of its rows (a barrier before, where thread
 * 0's col was in use, and after); each thread's scratch is after U in its
 * own col room.  Called by every thread of the team. */
static void wino_images(const kd_op_ctx *c, const geo *g, int64_t n0, int64_t n1, int flip,
                        float *col, int t, int T)
{
    float *col0 = thread_area(c, g);
    int Ci = (int)(flip ? g->F : g->C), Fo = (int)(flip ? g->C : g->F), P = (int)g->P;
    int H = (int)g->H, W = (int)g->W, gr = kd_wino_group(H, W);
    const float *in = flip ? c->grad_out : c->in[0];
    float *out = flip ? c->grad_in[0] : c->out, *scratch = col + pad16(kd_wino_ufloats(Ci, Fo));
    if (flip) {
#pragma omp barrier
    }
    kd_wino_pack((int)g->F, (int)g->C, c->in[1], flip, (int)((int64_t)Ci * t / T),
                 (int)((int64_t)Ci * (t + 1) / T), col0);
#pragma omp barrier
    for (int64_t nn = n0; nn < n1; nn += gr) {
        int n = (int)(n1 - nn < gr ? n1 - nn : gr);
        kd_wino_run(Fo, Ci, H, W, n, col0, in + nn * Ci * P, out + nn * Fo * P, flip, scratch);
        if (!flip)
            for (int i = 0; i < n; i++) epilogue(c, g, nn + i);
    }
}

/* dW of the images [n0, n1) of thread t of T by Winograd: each thread
 * sums its images into its accumulator (after U and the scratch in its
 * col room), then, after a barrier, thread t adds the accumulators (in
 * thread order) of its share of the filters into dw.  Called by every
 * thread of the team. */
static void wino_dw_images(const kd_op_ctx *c, const geo *g, int64_t n0, int64_t n1, float *col,
                           int t, int T)
{
    int C = (int)g->C, F = (int)g->F, H = (int)g->H, W = (int)g->W, gr = kd_wino_group(H, W);
    const int64_t P = g->P;
    size_t off = pad16(kd_wino_ufloats(C, F)), macc_off = off + wino_scratch(g);
    float *macc = col + macc_off;
    memset(macc, 0, sizeof(float) * kd_wino_macc_floats(C, F));
    for (int64_t nn = n0; nn < n1; nn += gr) {
        int n = (int)(n1 - nn < gr ? n1 - nn : gr);
        kd_wino_dw_run(F, C, H, W, n, c->in[0] + nn * C * P, c->grad_out + nn * F * P, macc,
                       col + off);
    }
#pragma omp barrier
    kd_wino_dw_finish(F, C, thread_area(c, g) + macc_off, pad16(col_floats(g)), T,
                      (int)((int64_t)F * t / T), (int)((int64_t)F * (t + 1) / T), c->grad_in[1]);
}

/* path: KD_SG_BLAS (cblas_sgemm) or a kd_sgemm_small path with wp = pack_w
 * of W, untransposed */
static void forward_images(kd_op_ctx *c, const geo *g, int t, int T, float *col, int path,
                           float *wp, const uint16_t *masks)
{
    const float *x = c->in[0], *w = c->in[1];
    const int64_t n0 = first_image(g, t, T), n1 = first_image(g, t + 1, T);
    if (wino(g, path)) {
        wino_images(c, g, n0, n1, 0, col, t, T);
        return;
    }
    if (path != KD_SG_BLAS) pack_w(g, path, 0, w, wp);
    int implicit = masks && implicit_conv(g, path), s2 = masks && implicit_s2(g, path);
    for (int64_t nn = n0; nn < n1; nn++) {
        const float *xn = x + nn * g->C * g->H * g->W;
        for (int64_t gi = 0; gi < g->G; gi++) {
            const float *src = xn + gi * g->Cg * g->P;   /* 1x1: x_n's channels are the columns */
            if (s2) {   /* stride 2: parity planes into col, then the implicit product */
                kd_sgemm_small_conv2_split((int)g->Cg, (int)g->H, (int)g->W,
                                           xn + gi * g->Cg * g->H * g->W, col);
                kd_sgemm_small_conv2(path, (int)g->Fg, (int)g->Cg, (int)g->Ho, (int)g->Wo,
                                     wp + gi * g->Fg * g->Kg, col,
                                     c->out + (nn * g->F + gi * g->Fg) * g->P, (int)g->P, masks);
                continue;
            }
            if (implicit) {   /* "same" conv: im2col on the fly, Ho*Wo = H*W = P */
                kd_sgemm_small_conv(path, (int)g->Fg, (int)g->Cg, (int)g->H, (int)g->W, (int)g->K,
                                    (int)g->Pd, wp + gi * g->Fg * g->Kg, src,
                                    c->out + (nn * g->F + gi * g->Fg) * g->P, (int)g->P, 0,
                                    masks);
                continue;
            }
            if (!is_1x1(g)) {
                im2col(g, xn, gi, col);
                src = col;
            }
            float *yp = c->out + (nn * g->F + gi * g->Fg) * g->P;
            if (path != KD_SG_BLAS)
                kd_sgemm_small_run(path, (int)g->Fg, (int)g->P, (int)g->Kg, 1.0f,
                                   wp + gi * g->Fg * g->Kg, src, (int)g->P, 0.0f, yp, (int)g->P);
            else
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->Fg, (int)g->P,
                            (int)g->Kg, 1.0f, w + gi * g->Fg * g->Kg, (int)g->Kg, src,
                            (int)g->P, 0.0f, yp, (int)g->P);
        }
        epilogue(c, g, nn);
    }
}

static void forward(kd_op_ctx *c)
{
    geo g = get_geo(c);
    if (is_direct(&g)) {
        fwd_direct(c, &g);
        return;
    }
    int nt = usable_threads(c, &g), path = small_path(&g);
    float *work = thread_area(c, &g);
    float *packs = work + (size_t)nt * (pad16(col_floats(&g)) + pad16(dw_floats(&g)));
    const uint16_t *masks =
        implicit_conv(&g, path) || implicit_s2(&g, path) ? tap_masks(c, &g, 0) : NULL;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int t = 0, T = 1;
#ifdef _OPENMP
        t = omp_get_thread_num(), T = omp_get_num_threads();
#endif
        forward_images(c, &g, t, T, work + (size_t)t * pad16(col_floats(&g)), path,
                       packs + (size_t)t * pad16(dw_floats(&g)), masks);
    }
}

/* dW (into dwt), dX for the images of thread t of T */
static void backward_images(kd_op_ctx *c, const geo *g, int t, int T, float *col, float *dwt,
                            int path, float *wp, const uint16_t *masks)
{
    const int64_t n0 = first_image(g, t, T), n1 = first_image(g, t + 1, T);
    const float *x = c->in[0], *w = c->in[1], *gy = c->grad_out;
    float *dx = c->grad_in[0];
    const int P = (int)g->P;
    /* "same" stride-1 conv: dX_n += conv(dY_n, W flipped), implicit im2col,
     * no col2im */
    int implicit = masks && implicit_conv(g, path), hwc = hwc_dw(g);
    int s2dx = masks && implicit_s2dx(g, path), wdx = dx && wino(g, path);
    int wdw = dwt && wino(g, path);
    if (wdw) dwt = NULL;   /* dW by kd_wino after the loop */
    if (wdx)   /* dX likewise */
        dx = NULL, implicit = 0;
    else if (dx && implicit)
        for (int64_t gi = 0; gi < g->G; gi++)
            kd_sgemm_small_pack_flip(path, (int)g->Fg, (int)g->Cg, (int)g->K,
                                     w + gi * g->Fg * g->Kg, wp + gi * g->Fg * g->Kg);
    else if (dx && s2dx)
        for (int64_t gi = 0; gi < g->G; gi++)
            kd_sgemm_small_pack_conv2dx(path, (int)g->Fg, (int)g->Cg, w + gi * g->Fg * g->Kg,
                                        wp + gi * g->Fg * g->Kg);
    else if (dx && path != KD_SG_BLAS)
        pack_w(g, path, 1, w, wp);
    for (int64_t nn = n0; nn < n1; nn++) {
        const float *xn = x + nn * g->C * g->H * g->W;
        for (int64_t gi = 0; gi < g->G; gi++) {
            const float *gyp = gy + (nn * g->F + gi * g->Fg) * g->P;
            const float *wg = w + gi * g->Fg * g->Kg;
            if (dwt && hwc) {   /* one group: gi == 0 */
                kd_dw_hwc_layout((int)g->C, (int)g->H, (int)g->W, (int)g->Pd, xn, col);
                kd_dw_hwc((int)g->F, (int)g->C, (int)g->Ho, (int)g->Wo, (int)g->K, (int)g->S,
                          (int)(g->W + 2 * g->Pd), gyp, P, col, dwt);
            } else if (dwt) {
                const float *src = xn + gi * g->Cg * g->P;
                if (!is_1x1(g)) {
                    im2col(g, xn, gi, col);
                    src = col;
                }
                if (kd_sgemm_small_nt_ok(path, P))
                    kd_sgemm_small_nt(path, (int)g->Fg, (int)g->Kg, P, gyp, P, src, P,
                                      dwt + gi * g->Fg * g->Kg, (int)g->Kg);
                else
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)g->Fg, (int)g->Kg,
                                P, 1.0f, gyp, P, src, P, 1.0f, dwt + gi * g->Fg * g->Kg,
                                (int)g->Kg);
            }
            if (dx) {
                float *dxn = dx + nn * g->C * g->H * g->W;
                if (implicit) {
                    kd_sgemm_small_conv(path, (int)g->Cg, (int)g->Fg, (int)g->H, (int)g->W,
                                        (int)g->K, (int)g->Pd, wp + gi * g->Fg * g->Kg, gyp,
                                        dxn + gi * g->Cg * g->P, P, 1, masks);
                    continue;
                }
                if (s2dx) {   /* dx's parity planes into col, then added */
                    kd_sgemm_small_conv2dx(path, (int)g->Cg, (int)g->Fg, (int)g->Ho, (int)g->Wo,
                                           wp + gi * g->Fg * g->Kg, gyp, col, masks);
                    kd_sgemm_small_conv2_merge((int)g->Cg, (int)g->H, (int)g->W, col,
                                               dxn + gi * g->Cg * g->H * g->W);
                    continue;
                }
                /* 1x1: dX_n's channels += Wg^T dY; else col = Wg^T dY, col2im */
                float *dst = is_1x1(g) ? dxn + gi * g->Cg * g->P : col;
                float beta = is_1x1(g) ? 1.0f : 0.0f;
                if (path != KD_SG_BLAS)
                    kd_sgemm_small_run(path, (int)g->Kg, P, (int)g->Fg, 1.0f,
                                       wp + gi * g->Fg * g->Kg, gyp, P, beta, dst, P);
                else
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)g->Kg, P,
                                (int)g->Fg, 1.0f, wg, (int)g->Kg, gyp, P, beta, dst, P);
                if (!is_1x1(g)) col2im(g, col, gi, dxn);
            }
        }
    }
    if (wdw) wino_dw_images(c, g, n0, n1, col, t, T);
    if (wdx) wino_images(c, g, n0, n1, 1, col, t, T);
}

static void backward(kd_op_ctx *c)
{
    geo g = get_geo(c);
    const float *gy = c->grad_out;
    float *dx = c->grad_in[0], *dw = c->grad_in[1];
    float *db = c->in_shape[2].ndim > 0 ? c->grad_in[2] : NULL;
    if (db) {
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1)
        for (int64_t f = 0; f < g.F; f++) {
            double s = 0;
            for (int64_t nn = 0; nn < g.N; nn++) {
                const float *gp = gy + (nn * g.F + f) * g.P;
                for (int64_t p = 0; p < g.P; p++) s += gp[p];
            }
            db[f] += (float)s;
        }
    }
    if (is_direct(&g)) {
        bwd_direct(c, &g);
        return;
    }
    if (!dx && !dw) return;
    int nt = usable_threads(c, &g), path = small_path(&g);
    float *work = thread_area(c, &g);
    float *partials = work + (size_t)nt * pad16(col_floats(&g));
    float *packs = partials + (size_t)nt * pad16(dw_floats(&g));
    int used = 1;
    const uint16_t *masks =
        dx && (implicit_conv(&g, path) || implicit_s2dx(&g, path)) ? tap_masks(c, &g, 1) : NULL;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int t = 0, T = 1;
#ifdef _OPENMP
        t = omp_get_thread_num(), T = omp_get_num_threads();
#endif
        float *dwt = NULL;
        if (dw) {   /* Winograd sums dW in its own accumulators: its partial stays unused */
            dwt = partials + (size_t)t * pad16(dw_floats(&g));
            if (!wino(&g, path)) memset(dwt, 0, dw_floats(&g) * sizeof(float));
        }
        backward_images(c, &g, t, T, work + (size_t)t * pad16(col_floats(&g)), dwt, path,
                        packs + (size_t)t * pad16(dw_floats(&g)), masks);
        if (t == 0) used = T;
    }
    if (!dw || wino(&g, path)) return;   /* kd_wino added dW */
    /* the partials summed in thread order, then added */
    size_t nw = dw_floats(&g), stride = pad16(nw);
    if (hwc_dw(&g)) {   /* tap-major partials */
        kd_dw_hwc_finish((int)g.F, (int)g.C, (int)g.K, partials, stride, used, dw);
        return;
    }
    for (size_t i = 0; i < nw; i++) {
        float s = partials[i];
        for (int t = 1; t < used; t++) s += partials[(size_t)t * stride + i];
        dw[i] += s;
    }
}

static const kd_input_spec inputs[] = {
    {.name = "x", .shape = "[N, C, H, W]"},
    {NULL}};
static const kd_sugar sugar[] = {
    {.name = "dwconv",
     .doc = "depthwise 2-D convolution (one k x k filter per channel, channels kept)",
     .fixed = (const kd_attr_fix[]){{.attr = "c", .kind = KD_FIX_CHANNELS}, {.attr = "groups", .kind = KD_FIX_CHANNELS},
                                    {.attr = "bias", .kind = KD_FIX_VALUE, .value = 0}, {NULL}}},
    {NULL}};

static int64_t macs(const kd_op_ctx *c) { return kd_macs_rows(c, &c->out_shape); }

const kd_op_def kd_op_conv2d = {
    .name = "conv2d",
    .alias = "conv",
    .min_inputs = 1,
    .max_inputs = 1,
    .nparams = 2,
    .npositional = 2,
    .attrs = attrs,
    .infer = infer,
    .workspace = workspace,
    .forward = forward,
    .backward = backward,
    .rows = kd_rows_always,
    .bwd_reads = KD_BWD_SET | 1u,   /* x (dW), not y */
    .use = KD_USE_NET, .flags = KD_OP_TIN,
    .doc = "2-D convolution to c channels, k x k kernel",
    .inputs = inputs,
    .sugar = sugar,
    .macs = macs,
};
