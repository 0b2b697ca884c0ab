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
 * (terms whose output pixel falls outside y are skipped).  On sgemm, per
 * image n, with col [F K K, H W] in the workspace (W as [C, F K K]):
 *   forward   col = W^T x_n, scattered into y_n (after the bias);
 *   backward  col = dy_n gathered (the adjoint of the scatter),
 *             dx_n += W col,  dw += x_n col^T;  db summed in double.
 * The products are cut into row blocks per thread (kd_gemm.h): the same
 * bits for a given thread count; the scatter/gather run over f planes.
 */
#include "kd_ops_util.h"
#include "kd_gemm.h"

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

/* col [F K K, H W] of one image, col[(f,ki,kj), (ih,iw)] <-> y[f, ih S - P + ki, iw S - P + kj]:
 * scatter-add into y (forward) or gather from dy (backward; 0 outside) */
static void col2y(const geo *g, const float *col, float *y, int nthreads)
{
    int64_t HW = g->H * g->W, KK = g->K * g->K;
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && g->F * KK * HW > KD_OMP_MIN)
    for (int64_t f = 0; f < g->F; f++) {
        float *yp = y + f * g->Ho * g->Wo;
        for (int64_t ki = 0; ki < g->K; ki++)
            for (int64_t kj = 0; kj < g->K; kj++) {
                const float *cp = col + ((f * g->K + ki) * g->K + kj) * HW;
                for (int64_t ih = 0; ih < g->H; ih++) {
                    int64_t oh = ih * g->S - g->P + ki;
                    if (oh < 0 || oh >= g->Ho) continue;
                    float *yr = yp + oh * g->Wo;
                    const float *cr = cp + ih * g->W;
                    for (int64_t iw = 0; iw < g->W; iw++) {
                        int64_t ow = iw * g->S - g->P + kj;
                        if (ow >= 0 && ow < g->Wo) yr[ow] += cr[iw];
                    }
                }
            }
    }
}

static void dy2col(const geo *g, const float *dy, float *col, int nthreads)
{
    int64_t HW = g->H * g->W, KK = g->K * g->K;
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && g->F * KK * HW > KD_OMP_MIN)
    for (int64_t f = 0; f < g->F; f++) {
        const float *yp = dy + f * g->Ho * g->Wo;
        for (int64_t ki = 0; ki < g->K; ki++)
            for (int64_t kj = 0; kj < g->K; kj++) {
                float *cp = col + ((f * g->K + ki) * g->K + kj) * HW;
                for (int64_t ih = 0; ih < g->H; ih++) {
                    int64_t oh = ih * g->S - g->P + ki;
                    float *cr = cp + ih * g->W;
                    if (oh < 0 || oh >= g->Ho) {
                        for (int64_t iw = 0; iw < g->W; iw++) cr[iw] = 0;
                        continue;
                    }
                    const float *yr = yp + oh * g->Wo;
                    for (int64_t iw = 0; iw < g->W; iw++) {
                        int64_t ow = iw * g->S - g->P + kj;
                        cr[iw] = ow >= 0 && ow < g->Wo ? yr[ow] : 0.0f;
                    }
                }
            }
    }
}

static size_t workspace(const kd_op_ctx *c)
{
    geo g = get_geo(c);
    return sizeof(float) * (size_t)(g.F * g.K * g.K) * (size_t)(g.H * g.W);
}

/* per image: col = W^T x_n (sgemm, [F K K, C] x [C, H W]), scattered into y_n */
static void forward(kd_op_ctx *c)
{
    geo g = get_geo(c);
    const float *x = c->in[0], *w = c->in[1];
    const float *b = c->in_shape[2].ndim > 0 ? c->in[2] : NULL;
    int64_t FKK = g.F * g.K * g.K, HW = g.H * g.W, PO = g.Ho * g.Wo;
    float *col = c->work;
    for (int64_t n = 0; n < g.N; n++) {
        float *yn = c->out + n * g.F * PO;
        for (int64_t f = 0; f < g.F; f++) {
            float bv = b ? b[f] : 0.0f;
            for (int64_t i = 0; i < PO; i++) yn[f * PO + i] = bv;
        }
        kd_sgemm_rows(c->nthreads, CblasTrans, CblasNoTrans, (int)FKK, (int)HW, (int)g.C, 1.0f, w,
                      (int)FKK, x + n * g.C * HW, (int)HW, 0.0f, col, (int)HW);
        col2y(&g, col, yn, c->nthreads);
    }
}

/* per image: dcol gathered from dy_n; dx_n += W dcol; dW += x_n dcol^T; db += sum dy */
static void backward(kd_op_ctx *c)
{
    geo g = get_geo(c);
    const float *x = c->in[0], *w = c->in[1], *gy = c->grad_out;
    float *dx = c->grad_in[0], *dw = c->grad_in[1];
    float *db = c->in_shape[2].ndim > 0 ? c->grad_in[2] : NULL;
    int64_t FKK = g.F * g.K * g.K, HW = g.H * g.W, PO = g.Ho * g.Wo;
    float *col = c->work;
    for (int64_t n = 0; n < g.N && (dx || dw); n++) {
        dy2col(&g, gy + n * g.F * PO, col, c->nthreads);
        if (dx)
            kd_sgemm_rows(c->nthreads, CblasNoTrans, CblasNoTrans, (int)g.C, (int)HW, (int)FKK, 1.0f, w,
                          (int)FKK, col, (int)HW, 1.0f, dx + n * g.C * HW, (int)HW);
        if (dw)
            kd_sgemm_rows(c->nthreads, CblasNoTrans, CblasTrans, (int)g.C, (int)FKK, (int)HW, 1.0f,
                          x + n * g.C * HW, (int)HW, col, (int)HW, 1.0f, dw, (int)FKK);
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
    .workspace = workspace,
    .forward = forward,
    .backward = backward,
    .rows = kd_rows_always,
    .use = KD_USE_NET, .flags = KD_OP_TIN,
    .doc = "transposed 2-D convolution to c channels (upsamples by stride)",
    .inputs = inputs,
    .macs = macs,
};
