/* deconv.c — transposed 2-D convolution (the adjoint of a strided conv2d).
 *
 * Shapes: x [N, C, H, W], w [C, F, K, K] (PyTorch ConvTranspose2d layout),
 *   b [F], y [N, F, Ho, Wo], Ho = (H-1)*S - 2*P + K (Wo likewise).
 *
 * forward:  y[n,f,oh,ow] = b[f] + sum over c, ki, kj and input pixels with
 *           ih*S - P + ki = oh, iw*S - P + kj = ow of x[n,c,ih,iw] w[c,f,ki,kj]
 * backward: dx[n,c,ih,iw] += sum_{f,ki,kj} dy[n,f,ih*S-P+ki, iw*S-P+kj] w[c,f,ki,kj]
 *           dw[c,f,ki,kj] += sum_{n,ih,iw} x[n,c,ih,iw] dy[n,f,ih*S-P+ki, iw*S-P+kj]
 *           db[f]         += sum dy[n,f,.,.]
 * (terms whose output pixel falls outside y are skipped).  Direct loops,
 * gathering: parallel over (n,f) planes for y, (n,c) planes for dx, (c,f)
 * pairs for dw, f for db; each output is summed by one iteration in double
 * in a fixed order (same bits for any thread count).
 */
#include "kd_ops_util.h"

enum { A_C, A_K, A_STRIDE, A_PAD, A_BIAS };

static const kd_attr_spec attrs[] = {
    {.name = "c", .type = KD_ATTR_INT, .def = 1, .min = 1, .max = 1 << 20, .required = 1,
     .doc = "output channels"},
    {.name = "k", .type = KD_ATTR_INT, .def = 2, .min = 1, .max = 64,
     .doc = "kernel size (k x k)"},
    {.name = "stride", .type = KD_ATTR_INT, .def = 2, .min = 1, .max = 64,
     .doc = "upsampling factor (step between input positions in the output)"},
    {.name = "pad", .type = KD_ATTR_INT, .def = 0, .min = 0, .max = 64,
     .doc = "cropped from every side of the output", .internal = 1},
    {.name = "bias", .type = KD_ATTR_BOOL, .def = 1, .min = 0, .max = 1,
     .doc = "add a learned bias", .internal = 1},
    {0}};

typedef struct geo {
    int64_t N, C, H, W, F, K, S, P, Ho, Wo;
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
    g.P = KD_A_INT(c, A_PAD);
    g.Ho = (g.H - 1) * g.S - 2 * g.P + g.K;
    g.Wo = (g.W - 1) * g.S - 2 * g.P + g.K;
    return g;
}

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    const kd_shape *x = &c->in_shape[0];
    if (x->ndim != 4) return kd_err_rank(err, n, "deconv", 4, "[N, C, H, W]", x);
    geo g = get_geo(c);
    if (g.H < 1 || g.W < 1 || g.Ho < 1 || g.Wo < 1)
        return kd_err(err, n, "deconv: pad %lld leaves no output for input %lldx%lld "
                      "(k %lld, stride %lld)", (long long)g.P, (long long)g.H, (long long)g.W,
                      (long long)g.K, (long long)g.S);
    /* each output pixel sees about C * ceil(K/S)^2 inputs */
    int64_t taps = (g.K + g.S - 1) / g.S, fan = g.C * taps * taps;
    c->in_shape[1] = kd_sh4(g.C, g.F, g.K, g.K);
    info->init[1] = (kd_param_init){KD_INIT_KAIMING_NORMAL, fan};
    if (KD_A_INT(c, A_BIAS)) {
        c->in_shape[2] = kd_sh1(g.F);
        info->init[2] = (kd_param_init){KD_INIT_UNIFORM_FANIN, fan};
    }
    c->out_shape = kd_sh4(g.N, g.F, g.Ho, g.Wo);
    return 0;
}

static void forward(kd_op_ctx *c)
{
    geo g = get_geo(c);
    const float *x = c->in[0], *w = c->in[1];
    const float *b = c->in_shape[2].ndim > 0 ? c->in[2] : NULL;
    int64_t planes = g.N * g.F, KK = g.K * g.K;
    int64_t work = g.N * g.C * g.H * g.W * g.F * KK;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && work > KD_OMP_MIN)
    for (int64_t pl = 0; pl < planes; pl++) {
        int64_t n = pl / g.F, f = pl % g.F;
        float *yp = c->out + pl * g.Ho * g.Wo;
        for (int64_t oh = 0; oh < g.Ho; oh++)
            for (int64_t ow = 0; ow < g.Wo; ow++) {
                double s = b ? b[f] : 0.0;
                for (int64_t ch = 0; ch < g.C; ch++) {
                    const float *xp = x + (n * g.C + ch) * g.H * g.W;
                    const float *wk = w + (ch * g.F + f) * KK;
                    for (int64_t ki = 0; ki < g.K; ki++) {
                        int64_t u = oh + g.P - ki;
                        if (u < 0 || u % g.S) continue;
                        int64_t ih = u / g.S;
                        if (ih >= g.H) continue;
                        for (int64_t kj = 0; kj < g.K; kj++) {
                            int64_t v = ow + g.P - kj;
                            if (v < 0 || v % g.S) continue;
                            int64_t iw = v / g.S;
                            if (iw < g.W) s += (double)xp[ih * g.W + iw] * wk[ki * g.K + kj];
                        }
                    }
                }
                yp[oh * g.Wo + ow] = (float)s;
            }
    }
}

static void backward(kd_op_ctx *c)
{
    geo g = get_geo(c);
    const float *x = c->in[0], *w = c->in[1], *gy = c->grad_out;
    float *dx = c->grad_in[0], *dw = c->grad_in[1];
    float *db = c->in_shape[2].ndim > 0 ? c->grad_in[2] : NULL;
    int64_t KK = g.K * g.K, HW = g.H * g.W, PO = g.Ho * g.Wo;
    int64_t work = g.N * g.C * HW * g.F * KK;
    if (dx) {
        int64_t planes = g.N * g.C;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && work > KD_OMP_MIN)
        for (int64_t pl = 0; pl < planes; pl++) {
            int64_t n = pl / g.C, ch = pl % g.C;
            float *dp = dx + pl * HW;
            for (int64_t ih = 0; ih < g.H; ih++)
                for (int64_t iw = 0; iw < g.W; iw++) {
                    double s = 0;
                    for (int64_t f = 0; f < g.F; f++) {
                        const float *gp = gy + (n * g.F + f) * PO, *wk = w + (ch * g.F + f) * KK;
                        for (int64_t ki = 0; ki < g.K; ki++) {
                            int64_t oh = ih * g.S - g.P + ki;
                            if (oh < 0 || oh >= g.Ho) continue;
                            for (int64_t kj = 0; kj < g.K; kj++) {
                                int64_t ow = iw * g.S - g.P + kj;
                                if (ow >= 0 && ow < g.Wo) s += (double)gp[oh * g.Wo + ow] * wk[ki * g.K + kj];
                            }
                        }
                    }
                    dp[ih * g.W + iw] += (float)s;
                }
        }
    }
    if (dw) {
        int64_t pairs = g.C * g.F;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && work > KD_OMP_MIN)
        for (int64_t pr = 0; pr < pairs; pr++) {
            int64_t ch = pr / g.F, f = pr % g.F;
            for (int64_t ki = 0; ki < g.K; ki++)
                for (int64_t kj = 0; kj < g.K; kj++) {
                    double s = 0;
                    for (int64_t n = 0; n < g.N; n++) {
                        const float *xp = x + (n * g.C + ch) * HW, *gp = gy + (n * g.F + f) * PO;
                        for (int64_t ih = 0; ih < g.H; ih++) {
                            int64_t oh = ih * g.S - g.P + ki;
                            if (oh < 0 || oh >= g.Ho) continue;
                            for (int64_t iw = 0; iw < g.W; iw++) {
                                int64_t ow = iw * g.S - g.P + kj;
                                if (ow >= 0 && ow < g.Wo) s += (double)xp[ih * g.W + iw] * gp[oh * g.Wo + ow];
                            }
                        }
                    }
                    dw[pr * KK + ki * g.K + kj] += (float)s;
                }
        }
    }
    if (db) {
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && g.N * g.F * PO > KD_OMP_MIN)
        for (int64_t f = 0; f < g.F; f++) {
            double s = 0;
            for (int64_t n = 0; n < g.N; n++) {
                const float *gp = gy + (n * g.F + f) * PO;
                for (int64_t i = 0; i < PO; i++) s += gp[i];
            }
            db[f] += (float)s;
        }
    }
}

static const kd_input_spec inputs[] = {
    {.name = "x", .shape = "[N, C, H, W]"},
    {NULL}};

/* w [C, F, K, K]: every input value meets F K K weights */
static int64_t macs(const kd_op_ctx *c) { return kd_macs_rows(c, &c->in_shape[0]); }

const kd_op_def kd_op_deconv = {
    .name = "deconv",
    .min_inputs = 1,
    .max_inputs = 1,
    .nparams = 2,
    .npositional = 1,
    .attrs = attrs,
    .infer = infer,
    .forward = forward,
    .backward = backward,
    .use = KD_USE_NET, .flags = KD_OP_TIN,
    .doc = "transposed 2-D convolution to c channels (upsamples by stride)",
    .inputs = inputs,
    .macs = macs,
};
