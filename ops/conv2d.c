/* conv2d.c — 2-D convolution (cross-correlation), groups incl. depthwise.
 *
 * Shapes: x [N, C, H, W], w [F, C/G, K, K], b [F], y [N, F, Ho, Wo]
 *   N batch, C input channels, F output channels, G groups, K kernel size,
 *   Ho = (H + 2*pad - dil*(K-1) - 1)/stride + 1 (Wo likewise), P = Ho*Wo.
 *
 * Paths:
 *   - depthwise-like (C/G == 1 and F/G == 1): direct loops, parallel over
 *     (n, channel) planes; dW parallel over channels.
 *   - 1x1, stride 1, pad 0: straight to sgemm per image, no workspace.
 *   - general: per group, im2col over a chunk of nb images into
 *     col [Kg, nb*P] (Kg = C/G*K*K), then tmp[Fg, nb*P] = Wg * col, then a
 *     scatter to y.  Backward: dW += dYt * col^T, dcol = Wg^T * dYt, col2im.
 *     nb is chosen from c->work_size.
 */
#include <stdlib.h>
#include <cblas.h>
#include "kd_ops_util.h"

enum { A_C, A_K, A_STRIDE, A_PAD, A_DIL, A_GROUPS, A_BIAS };

static const kd_attr_spec attrs[] = {
    {.name = "c", .type = KD_ATTR_INT, .def = 1, .min = 1, .max = 1 << 20, .required = 1},
    {.name = "k", .type = KD_ATTR_INT, .def = 3, .min = 1, .max = 64, .required = 1},
    {.name = "stride", .type = KD_ATTR_INT, .def = 1, .min = 1, .max = 64},
    {.name = "pad", .type = KD_ATTR_INT, .def = 0, .min = -1, .max = 64},
    {.name = "dilation", .type = KD_ATTR_INT, .def = 1, .min = 1, .max = 64},
    {.name = "groups", .type = KD_ATTR_INT, .def = 1, .min = 1, .max = 1 << 20},
    {.name = "bias", .type = KD_ATTR_BOOL, .def = 0, .min = 0, .max = 1},
    {0}};

/* Threads for the memory-bound loops that alternate with sgemm calls
 * (im2col, col2im, scatter/gather, bias): one, the calling thread.
 * Measured on 2 cores: OpenMP workers spinning after these loops steal the
 * cores OpenBLAS needs for the next sgemm (and OpenBLAS's spinning threads
 * slow the loops); threading them cost 1.5-3x overall unless
 * OMP_WAIT_POLICY=passive, and even then gained nothing.  The compute-bound
 * direct (depthwise) path and the db reduction use c->nthreads. */
static int gemm_threads(const kd_op_ctx *c)
{
    (void)c;
    return 1;
}

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

/* floats per image in the general path: col + dcol + tmp */
static size_t per_image(const geo *g) { return (size_t)(2 * g->Kg + g->Fg) * (size_t)g->P; }

#define KD_CONV_BUDGET ((size_t)16 << 20) /* bytes of workspace we ask for */

static size_t workspace(const kd_op_ctx *c)
{
    geo g = get_geo(c);
    if (is_direct(&g) || is_1x1(&g)) return 0;
    size_t one = per_image(&g) * sizeof(float);
    size_t nb = KD_CONV_BUDGET / one;
    if (nb < 1) nb = 1;
    if (nb > (size_t)g.N) nb = (size_t)g.N;
    return nb * one;
}

static int64_t chunk_images(const kd_op_ctx *c, const geo *g)
{
    int64_t nb = (int64_t)(c->work_size / (per_image(g) * sizeof(float)));
    if (nb < 1) nb = 1; /* work_size below one image violates the contract */
    if (nb > g->N) nb = g->N;
    return nb;
}

/* col[r, b*P + p] for r = (ci, ki, kj) over channels gi*Cg.. of images n0.. */
static void im2col(const kd_op_ctx *c, const geo *g, const float *x, int64_t n0,
                   int64_t nb, int64_t gi, float *col)
{
    int64_t rows = g->Kg, ld = nb * g->P;
#pragma omp parallel for schedule(static) num_threads(gemm_threads(c)) if (gemm_threads(c) > 1 && rows * ld > KD_OMP_MIN)
    for (int64_t r = 0; r < rows; r++) {
        int64_t ci = r / (g->K * g->K), ki = (r / g->K) % g->K, kj = r % g->K;
        float *dst = col + r * ld;
        for (int64_t b = 0; b < nb; b++) {
            const float *xp = x + ((n0 + b) * g->C + gi * g->Cg + ci) * g->H * g->W;
            float *d = dst + b * g->P;
            for (int64_t oh = 0; oh < g->Ho; oh++) {
                int64_t ih = oh * g->S - g->Pd + ki * g->D;
                float *drow = d + oh * g->Wo;
                if (ih < 0 || ih >= g->H) {
                    memset(drow, 0, sizeof(float) * (size_t)g->Wo);
                    continue;
                }
                const float *xrow = xp + ih * g->W;
                int64_t off = kj * g->D - g->Pd;
                for (int64_t ow = 0; ow < g->Wo; ow++) {
                    int64_t iw = ow * g->S + off;
                    drow[ow] = (iw >= 0 && iw < g->W) ? xrow[iw] : 0.0f;
                }
            }
        }
    }
}

/* dx[n0+b, gi*Cg+ci] += col2im(dcol); parallel over (b, ci) planes */
static void col2im(const kd_op_ctx *c, const geo *g, const float *dcol, int64_t n0,
                   int64_t nb, int64_t gi, float *dx)
{
    int64_t planes = nb * g->Cg, ld = nb * g->P;
#pragma omp parallel for schedule(static) num_threads(gemm_threads(c)) if (gemm_threads(c) > 1 && planes * g->H * g->W > KD_OMP_MIN)
    for (int64_t pl = 0; pl < planes; pl++) {
        int64_t b = pl / g->Cg, ci = pl % g->Cg;
        float *xp = dx + ((n0 + b) * g->C + gi * g->Cg + ci) * g->H * g->W;
        for (int64_t ki = 0; ki < g->K; ki++)
            for (int64_t kj = 0; kj < g->K; kj++) {
                const float *src = dcol + ((ci * g->K + ki) * g->K + kj) * ld + b * g->P;
                int64_t off = kj * g->D - g->Pd;
                for (int64_t oh = 0; oh < g->Ho; oh++) {
                    int64_t ih = oh * g->S - g->Pd + ki * g->D;
                    if (ih < 0 || ih >= g->H) continue;
                    float *xrow = xp + ih * g->W;
                    const float *s = src + oh * g->Wo;
                    for (int64_t ow = 0; ow < g->Wo; ow++) {
                        int64_t iw = ow * g->S + off;
                        if (iw >= 0 && iw < g->W) xrow[iw] += s[ow];
                    }
                }
            }
    }
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

static void add_bias(kd_op_ctx *c, const geo *g)
{
    if (c->in_shape[2].ndim <= 0) return;
    const float *b = c->in[2];
    int64_t planes = g->N * g->F;
#pragma omp parallel for schedule(static) num_threads(gemm_threads(c)) if (gemm_threads(c) > 1 && planes * g->P > KD_OMP_MIN)
    for (int64_t pl = 0; pl < planes; pl++) {
        float bv = b[pl % g->F];
        float *yp = c->out + pl * g->P;
        for (int64_t p = 0; p < g->P; p++) yp[p] += bv;
    }
}

static void forward(kd_op_ctx *c)
{
    geo g = get_geo(c);
    if (is_direct(&g)) {
        fwd_direct(c, &g);
        return;
    }
    const float *x = c->in[0], *w = c->in[1];
    if (is_1x1(&g)) {
        for (int64_t nn = 0; nn < g.N; nn++)
            for (int64_t gi = 0; gi < g.G; gi++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g.Fg, (int)g.P,
                            (int)g.Cg, 1.0f, w + gi * g.Fg * g.Kg, (int)g.Kg,
                            x + (nn * g.C + gi * g.Cg) * g.P, (int)g.P, 0.0f,
                            c->out + (nn * g.F + gi * g.Fg) * g.P, (int)g.P);
        add_bias(c, &g);
        return;
    }
    int64_t nbmax = chunk_images(c, &g);
    float *col = c->work;
    float *tmp = col + g.Kg * nbmax * g.P;
    for (int64_t n0 = 0; n0 < g.N; n0 += nbmax) {
        int64_t nb = g.N - n0 < nbmax ? g.N - n0 : nbmax;
        for (int64_t gi = 0; gi < g.G; gi++) {
            im2col(c, &g, x, n0, nb, gi, col);
            float *dst = tmp;
            int ldd = (int)(nb * g.P);
            if (nb == 1) { /* [Fg, P] block of y is contiguous */
                dst = c->out + (n0 * g.F + gi * g.Fg) * g.P;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g.Fg, (int)(nb * g.P),
                        (int)g.Kg, 1.0f, w + gi * g.Fg * g.Kg, (int)g.Kg, col,
                        (int)(nb * g.P), 0.0f, dst, ldd);
            if (nb == 1) continue;
            int64_t rows = nb * g.Fg;
#pragma omp parallel for schedule(static) num_threads(gemm_threads(c)) if (gemm_threads(c) > 1 && rows * g.P > KD_OMP_MIN)
            for (int64_t r = 0; r < rows; r++) {
                int64_t b = r / g.Fg, f = r % g.Fg;
                memcpy(c->out + ((n0 + b) * g.F + gi * g.Fg + f) * g.P,
                       tmp + f * nb * g.P + b * g.P, sizeof(float) * (size_t)g.P);
            }
        }
    }
    add_bias(c, &g);
}

static void backward(kd_op_ctx *c)
{
    geo g = get_geo(c);
    const float *x = c->in[0], *w = c->in[1], *gy = c->grad_out;
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
    if (is_1x1(&g)) {
        for (int64_t nn = 0; nn < g.N; nn++)
            for (int64_t gi = 0; gi < g.G; gi++) {
                const float *gyp = gy + (nn * g.F + gi * g.Fg) * g.P;
                const float *xp = x + (nn * g.C + gi * g.Cg) * g.P;
                if (dw)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)g.Fg, (int)g.Cg,
                                (int)g.P, 1.0f, gyp, (int)g.P, xp, (int)g.P, 1.0f,
                                dw + gi * g.Fg * g.Kg, (int)g.Kg);
                if (dx)
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)g.Cg, (int)g.P,
                                (int)g.Fg, 1.0f, w + gi * g.Fg * g.Kg, (int)g.Kg, gyp, (int)g.P,
                                1.0f, dx + (nn * g.C + gi * g.Cg) * g.P, (int)g.P);
            }
        return;
    }
    if (!dx && !dw) return;
    int64_t nbmax = chunk_images(c, &g);
    float *col = c->work;
    float *dcol = col + g.Kg * nbmax * g.P;
    float *dyt = dcol + g.Kg * nbmax * g.P;
    for (int64_t n0 = 0; n0 < g.N; n0 += nbmax) {
        int64_t nb = g.N - n0 < nbmax ? g.N - n0 : nbmax;
        int ld = (int)(nb * g.P);
        for (int64_t gi = 0; gi < g.G; gi++) {
            const float *gsrc = dyt;
            if (nb == 1) {
                gsrc = gy + (n0 * g.F + gi * g.Fg) * g.P;
            } else {
                int64_t rows = nb * g.Fg;
#pragma omp parallel for schedule(static) num_threads(gemm_threads(c)) if (gemm_threads(c) > 1 && rows * g.P > KD_OMP_MIN)
                for (int64_t r = 0; r < rows; r++) {
                    int64_t b = r / g.Fg, f = r % g.Fg;
                    memcpy(dyt + f * nb * g.P + b * g.P,
                           gy + ((n0 + b) * g.F + gi * g.Fg + f) * g.P, sizeof(float) * (size_t)g.P);
                }
            }
            if (dw) {
                im2col(c, &g, x, n0, nb, gi, col);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)g.Fg, (int)g.Kg, ld,
                            1.0f, gsrc, ld, col, ld, 1.0f, dw + gi * g.Fg * g.Kg, (int)g.Kg);
            }
            if (dx) {
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)g.Kg, ld, (int)g.Fg,
                            1.0f, w + gi * g.Fg * g.Kg, (int)g.Kg, gsrc, ld, 0.0f, dcol, ld);
                col2im(c, &g, dcol, n0, nb, gi, dx);
            }
        }
    }
}

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
};
