/* feature_align.c — Feature-Align layer (Young et al., WACVW 2022): the
 * activations x are modulated by a spatially varying scale and shift
 * computed from the noisy input resized to x's resolution (like SPADE).
 * Shapes: x [N, C, H, W]; z [N, K, Hz, Wz] the noisy input; parameters
 * Ws [C, K], bs [C], Wt [C, K], bt [C] (two 1x1 convolutions, all
 * initialised to 0 so the layer starts as the identity); y [N, C, H, W].
 *   g = resize(z) [N, K, H, W]: mode avg: mean over each (Hz/H) x (Wz/W)
 *       block (the sizes must divide); mode nearest: g[h, w] =
 *       z[floor(h Hz / H), floor(w Wz / W)] (any sizes); mode auto (the
 *       default): avg when the sizes divide, else nearest;
 *   s = bs + Ws g,  t = bt + Wt g       (per pixel, over the K channels);
 *   y = x (1 + s) + t.
 * Gradient, with e = dy x (the gradient of s) and dy (that of t):
 *   dx += dy (1 + s);  dWs[c,k] += sum_{n,p} e g[k];  dbs[c] += sum e;
 *   dWt[c,k] += sum dy g[k];  dbt[c] += sum dy;
 *   dg[k] = sum_c Ws[c,k] e + Wt[c,k] dy;  dz += resize^T(dg).
 * g is saved from forward to backward; dg lives in the workspace.  Loops
 * run over (n, c) planes, channels c (weight gradients, fixed n, p, k
 * order) and (n, k) planes (dg and dz); sums in double. */
#include "kd_ops_util.h"

enum { A_MODE };
enum { M_AUTO, M_AVG, M_NEAREST };
static const char *const modes[] = {"auto", "avg", "nearest", NULL};
static const kd_attr_spec attrs[] = {
    {.name = "mode", .type = KD_ATTR_ENUM, .def = M_AUTO, .enums = modes,
     .doc = "how noisy is resized to x: auto, avg or nearest", .internal = 1},
    {0}};

static int divides(const kd_shape *x, const kd_shape *z)
{
    return z->dims[2] >= x->dims[2] && z->dims[3] >= x->dims[3] &&
           z->dims[2] % x->dims[2] == 0 && z->dims[3] % x->dims[3] == 0;
}

/* average pooling (else nearest) for these shapes */
static int use_avg(const kd_op_ctx *c)
{
    int64_t m = KD_A_INT(c, A_MODE);
    return m == M_AVG || (m == M_AUTO && divides(&c->in_shape[0], &c->in_shape[1]));
}

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    const kd_shape *x = &c->in_shape[0], *z = &c->in_shape[1];
    char a[128], b[128];
    if (x->ndim != 4) return kd_err_rank(err, n, "feature_align", 4, "x [N, C, H, W]", x);
    if (z->ndim != 4)
        return kd_err(err, n, "feature_align expects a 4-D noisy input [N, K, H, W], got %s",
                      kd_shape_str(z, b, sizeof b));
    if (z->dims[0] != x->dims[0])
        return kd_err(err, n, "feature_align: x %s and the noisy input %s have different batch sizes",
                      kd_shape_str(x, a, sizeof a), kd_shape_str(z, b, sizeof b));
    if (KD_A_INT(c, A_MODE) == M_AVG && !divides(x, z))
        return kd_err(err, n, "feature_align: average pooling the noisy input %s to the size of x %s "
                      "needs whole factors (mode auto or nearest resizes any sizes)",
                      kd_shape_str(z, b, sizeof b), kd_shape_str(x, a, sizeof a));
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3], K = z->dims[1];
    for (int s = 0; s < 2; s++) {
        c->in_shape[2 + 2 * s] = kd_sh2(C, K);
        c->in_shape[3 + 2 * s] = kd_sh1(C);
        info->init[2 + 2 * s].kind = KD_INIT_ZERO;
        info->init[3 + 2 * s].kind = KD_INIT_ZERO;
    }
    info->saved_floats = (size_t)(N * K * H * W);
    c->out_shape = *x;
    return 0;
}

static size_t workspace(const kd_op_ctx *c)
{
    const kd_shape *x = &c->in_shape[0];
    return sizeof(float) * (size_t)(x->dims[0] * c->in_shape[1].dims[1] * x->dims[2] * x->dims[3]);
}

/* source row/column of output pixel o (nearest) */
static inline int64_t near_src(int64_t o, int64_t out, int64_t in) { return o * in / out; }

static void resize(kd_op_ctx *c, float *g)
{
    const kd_shape *x = &c->in_shape[0], *zs = &c->in_shape[1];
    int64_t H = x->dims[2], W = x->dims[3], Hz = zs->dims[2], Wz = zs->dims[3];
    int64_t planes = zs->dims[0] * zs->dims[1], fh = Hz / H, fw = Wz / W;
    int avg = use_avg(c);
    const float *z = c->in[1];
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && planes * Hz * Wz > KD_OMP_MIN)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *zp = z + pl * Hz * Wz;
        float *gp = g + pl * H * W;
        for (int64_t h = 0; h < H; h++)
            for (int64_t w = 0; w < W; w++) {
                if (!avg) {
                    gp[h * W + w] = zp[near_src(h, H, Hz) * Wz + near_src(w, W, Wz)];
                    continue;
                }
                double s = 0;
                for (int64_t i = 0; i < fh; i++)
                    for (int64_t j = 0; j < fw; j++) s += zp[(h * fh + i) * Wz + w * fw + j];
                gp[h * W + w] = (float)(s / (double)(fh * fw));
            }
    }
}

static void forward(kd_op_ctx *c)
{
    const kd_shape *x = &c->in_shape[0];
    int64_t N = x->dims[0], C = x->dims[1], HW = x->dims[2] * x->dims[3], K = c->in_shape[1].dims[1];
    float *g = c->saved;
    resize(c, g);
    const float *xi = c->in[0], *Ws = c->in[2], *bs = c->in[3], *Wt = c->in[4], *bt = c->in[5];
    float *y = c->out;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && N * C * HW * K > KD_OMP_MIN)
    for (int64_t nc = 0; nc < N * C; nc++) {
        int64_t n = nc / C, ch = nc % C;
        const float *gn = g + n * K * HW;
        for (int64_t p = 0; p < HW; p++) {
            double s = bs[ch], t = bt[ch];
            for (int64_t k = 0; k < K; k++) {
                s += (double)Ws[ch * K + k] * gn[k * HW + p];
                t += (double)Wt[ch * K + k] * gn[k * HW + p];
            }
            y[nc * HW + p] = (float)((double)xi[nc * HW + p] * (1 + s) + t);
        }
    }
}

static void backward(kd_op_ctx *c)
{
    const kd_shape *x = &c->in_shape[0], *zs = &c->in_shape[1];
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3], HW = H * W;
    int64_t K = zs->dims[1], Hz = zs->dims[2], Wz = zs->dims[3];
    const float *g = c->saved, *xi = c->in[0], *dy = c->grad_out;
    const float *Ws = c->in[2], *bs = c->in[3], *Wt = c->in[4];
    float *dx = c->grad_in[0], *dz = c->grad_in[1];
    float *dWs = c->grad_in[2], *dbs = c->grad_in[3], *dWt = c->grad_in[4], *dbt = c->grad_in[5];
    int64_t work = N * C * HW * K;
    if (dx) {
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && work > KD_OMP_MIN)
        for (int64_t nc = 0; nc < N * C; nc++) {
            int64_t n = nc / C, ch = nc % C;
            const float *gn = g + n * K * HW;
            for (int64_t p = 0; p < HW; p++) {
                double s = bs[ch];
                for (int64_t k = 0; k < K; k++) s += (double)Ws[ch * K + k] * gn[k * HW + p];
                dx[nc * HW + p] += (float)((double)dy[nc * HW + p] * (1 + s));
            }
        }
    }
    if (dWs || dbs || dWt || dbt) {
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && work > KD_OMP_MIN)
        for (int64_t ch = 0; ch < C; ch++) {
            double se = 0, st = 0;
            for (int64_t k = 0; k < K; k++) {
                double ae = 0, at = 0;
                for (int64_t n = 0; n < N; n++) {
                    const float *d = dy + (n * C + ch) * HW, *xp = xi + (n * C + ch) * HW;
                    const float *gk = g + (n * K + k) * HW;
                    for (int64_t p = 0; p < HW; p++) {
                        ae += (double)d[p] * xp[p] * gk[p];
                        at += (double)d[p] * gk[p];
                    }
                }
                if (dWs) dWs[ch * K + k] += (float)ae;
                if (dWt) dWt[ch * K + k] += (float)at;
            }
            for (int64_t n = 0; n < N; n++) {
                const float *d = dy + (n * C + ch) * HW, *xp = xi + (n * C + ch) * HW;
                for (int64_t p = 0; p < HW; p++) {
                    se += (double)d[p] * xp[p];
                    st += d[p];
                }
            }
            if (dbs) dbs[ch] += (float)se;
            if (dbt) dbt[ch] += (float)st;
        }
    }
    if (!dz) return;
    float *dg = c->work;
    int avg = use_avg(c);
    int64_t fh = Hz / H, fw = Wz / W;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && work > KD_OMP_MIN)
    for (int64_t nk = 0; nk < N * K; nk++) {
        int64_t n = nk / K, k = nk % K;
        float *dgp = dg + nk * HW;
        for (int64_t p = 0; p < HW; p++) {
            double s = 0;
            for (int64_t ch = 0; ch < C; ch++) {
                double d = dy[(n * C + ch) * HW + p];
                s += (double)Ws[ch * K + k] * d * xi[(n * C + ch) * HW + p] + (double)Wt[ch * K + k] * d;
            }
            dgp[p] = (float)s;
        }
        float *dzp = dz + nk * Hz * Wz;
        if (avg) {
            float inv = 1.0f / (float)(fh * fw);
            for (int64_t h = 0; h < Hz; h++)
                for (int64_t w = 0; w < Wz; w++) dzp[h * Wz + w] += dgp[(h / fh) * W + w / fw] * inv;
        } else {
            for (int64_t h = 0; h < H; h++)
                for (int64_t w = 0; w < W; w++)
                    dzp[near_src(h, H, Hz) * Wz + near_src(w, W, Wz)] += dgp[h * W + w];
        }
    }
}

static const kd_input_spec inputs[] = {
    {.name = "x", .shape = "[N, C, H, W]"},
    {.name = "noisy", .shape = "[N, Cn, Hn, Wn]"},
    {NULL}};

/* two 1x1 convs on the resized noisy input, and the product */
static int64_t macs(const kd_op_ctx *c)
{
    return kd_shape_numel(&c->out_shape) * (2 * c->in_shape[2].dims[1] + 1);
}

static const char *const param_names[] = {"scale_weight", "scale_bias", "shift_weight",
                                          "shift_bias", NULL};

const kd_op_def kd_op_feature_align = {
    .name = "feature_align", .min_inputs = 2, .max_inputs = 2, .nparams = 4,
    .attrs = attrs, .infer = infer, .workspace = workspace,
    .forward = forward, .backward = backward,
    .use = KD_USE_NET, .flags = KD_OP_TIN,
    .doc = "modulate x by a scale and shift computed from the noisy input resized to x",
    .inputs = inputs,
    .macs = macs, .param_names = param_names,
};
