/* conv1d.c — 1-D convolution (cross-correlation) over time.
 *
 * Shapes: x [N, C, T], w [F, C, K], b [F], y [N, F, To]
 *   N batch, C input channels, F output channels, K kernel size,
 *   D dilation, S stride; left/right padding PL/PR:
 *     causal:          PL = D*(K-1), PR = 0 (y[t] sees x[..t] only)
 *     pad -1 (default): "same": PL = D*(K-1)/2, PR = D*(K-1) - PL
 *     pad >= 0:        PL = PR = pad
 *   Causal and "same" keep the length at stride 1, so the recipe's
 *   conv1d(c, k: 5) and conv1d(c, k: 3, causal: true) are interchangeable
 *   (AdaRec's choice candidates).
 *   To = (T + PL + PR - D*(K-1) - 1)/S + 1.
 *
 * forward:  y[n,f,o] = b[f] + sum_{c,k} w[f,c,k] x[n,c,o*S - PL + k*D]
 * backward: dx[n,c,t] += sum_{f,k,o: o*S - PL + k*D = t} dy[n,f,o] w[f,c,k]
 *           dw[f,c,k] += sum_{n,o} dy[n,f,o] x[n,c,o*S - PL + k*D]
 *           db[f]     += sum_{n,o} dy[n,f,o]
 * The products are sgemm calls (see forward), cut by rows across threads
 * (kd_gemm.h): the same bits run to run for a given thread count; db is
 * summed in double.  The recipe's dconv (dilated causal conv keeping the
 * channel count) is this op with c = C, causal.
 */
#include "kd_ops_util.h"
#include "kd_gemm.h"

enum { A_C, A_K, A_STRIDE, A_PAD, A_DIL, A_CAUSAL, A_BIAS };

static const kd_attr_spec attrs[] = {
    {.name = "c", .type = KD_ATTR_INT, .def = 1, .min = 1, .max = 1 << 20, .required = 1,
     .doc = "output channels"},
    {.name = "k", .type = KD_ATTR_INT, .def = 3, .min = 1, .max = 1024, .required = 1,
     .doc = "kernel width"},
    {.name = "stride", .type = KD_ATTR_INT, .def = 1, .min = 1, .max = 1024,
     .doc = "step between output positions", .internal = 1},
    {.name = "pad", .type = KD_ATTR_INT, .def = -1, .min = -1, .max = 1 << 20,
     .doc = "padding on both sides; -1: the same length at stride 1", .internal = 1},
    {.name = "dilation", .type = KD_ATTR_INT, .def = 1, .min = 1, .max = 1 << 20,
     .doc = "spacing between kernel taps"},
    {.name = "causal", .type = KD_ATTR_BOOL, .def = 0, .min = 0, .max = 1,
     .doc = "pad on the left only (dilation*(k-1)): step t sees steps <= t"},
    {.name = "bias", .type = KD_ATTR_BOOL, .def = 1, .min = 0, .max = 1,
     .doc = "add a learned bias"},
    {0}};

typedef struct geo {
    int64_t N, C, T, F, K, S, D, PL, PR, To;
} geo;

static geo get_geo(const kd_op_ctx *c)
{
    geo g;
    g.N = c->in_shape[0].dims[0];
    g.C = c->in_shape[0].dims[1];
    g.T = c->in_shape[0].dims[2];
    g.F = KD_A_INT(c, A_C);
    g.K = KD_A_INT(c, A_K);
    g.S = KD_A_INT(c, A_STRIDE);
    g.D = KD_A_INT(c, A_DIL);
    int64_t span = g.D * (g.K - 1);
    if (KD_A_INT(c, A_CAUSAL)) {
        g.PL = span;
        g.PR = 0;
    } else if (KD_A_INT(c, A_PAD) < 0) {
        g.PL = span / 2;
        g.PR = span - g.PL;
    } else {
        g.PL = g.PR = KD_A_INT(c, A_PAD);
    }
    int64_t len = g.T + g.PL + g.PR;
    g.To = len < span + 1 ? 0 : (len - span - 1) / g.S + 1;
    return g;
}

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    const kd_shape *x = &c->in_shape[0];
    if (x->ndim != 3) return kd_err_rank(err, n, "conv1d", 3, "[N, C, T]", x);
    if (KD_A_INT(c, A_CAUSAL) && KD_A_INT(c, A_PAD) > 0)
        return kd_err(err, n, "conv1d: causal pads on the left by dilation*(k-1); "
                      "pad must not be given, got %lld", (long long)KD_A_INT(c, A_PAD));
    geo g = get_geo(c);
    if (g.To <= 0)
        return kd_err(err, n, "conv1d: kernel %lld (dilation %lld, pad %lld) does not fit "
                      "input length %lld", (long long)g.K, (long long)g.D, (long long)g.PL,
                      (long long)g.T);
    c->in_shape[1] = kd_shape_make(3, (const int64_t[]){g.F, g.C, g.K});
    info->init[1] = (kd_param_init){KD_INIT_KAIMING_NORMAL, g.C * g.K};
    if (KD_A_INT(c, A_BIAS)) {
        c->in_shape[2] = kd_sh1(g.F);
        info->init[2] = (kd_param_init){KD_INIT_UNIFORM_FANIN, g.C * g.K};
    }
    c->out_shape = kd_shape_make(3, (const int64_t[]){g.N, g.F, g.To});
    return 0;
}

/* The products run on sgemm over all N*To output positions at once, rows
 * r = n*To + o:
 *   col [N*To, C*K]  col[r, ch*K + k] = x[n, ch, o*S - PL + k*D] (0 outside)
 *   Y   [N*To, F]    = col W^T               -> y[n, f, o] = Y[r, f] + b[f]
 *   G   [N*To, F]    G[r, f] = dy[n, f, o]
 *   dW  [F, C*K]    += G^T col
 *   dcol [N*To, C*K] = G W                   -> dx: scattered back (col2im)
 * workspace: col, Y (or G) and dcol. */
static size_t workspace(const kd_op_ctx *c)
{
    geo g = get_geo(c);
    size_t rows = (size_t)(g.N * g.To);
    return (rows * (size_t)(2 * g.C * g.K + g.F)) * sizeof(float) + 64;
}

static void im2col(const geo *g, const float *x, float *col, int nthreads)
{
    int64_t CK = g->C * g->K;
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && g->N * g->To * CK > KD_OMP_MIN)
    for (int64_t n = 0; n < g->N; n++)
        for (int64_t o = 0; o < g->To; o++) {
            float *cr = col + (n * g->To + o) * CK;
            for (int64_t ch = 0; ch < g->C; ch++) {
                const float *xr = x + (n * g->C + ch) * g->T;
                for (int64_t k = 0; k < g->K; k++) {
                    int64_t t = o * g->S - g->PL + k * g->D;
                    cr[ch * g->K + k] = t >= 0 && t < g->T ? xr[t] : 0.0f;
                }
            }
        }
}

static void forward(kd_op_ctx *c)
{
    geo g = get_geo(c);
    const float *x = c->in[0], *w = c->in[1];
    const float *b = c->in_shape[2].ndim > 0 ? c->in[2] : NULL;
    int64_t R = g.N * g.To, CK = g.C * g.K;
    float *col = c->work, *Y = col + R * CK;
    im2col(&g, x, col, c->nthreads);
    kd_sgemm_rows(c->nthreads, CblasNoTrans, CblasTrans, (int)R, (int)g.F, (int)CK, 1.0f, col,
                  (int)CK, w, (int)CK, 0.0f, Y, (int)g.F);
    int64_t rows = g.N * g.F;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && rows * g.To > KD_OMP_MIN)
    for (int64_t r = 0; r < rows; r++) {
        int64_t n = r / g.F, f = r % g.F;
        float *yr = c->out + r * g.To, bf = b ? b[f] : 0.0f;
        const float *Yr = Y + n * g.To * g.F + f;
        for (int64_t o = 0; o < g.To; o++) yr[o] = Yr[o * g.F] + bf;
    }
}

static void backward(kd_op_ctx *c)
{
    geo g = get_geo(c);
    const float *x = c->in[0], *w = c->in[1], *gy = c->grad_out;
    float *dx = c->grad_in[0], *dw = c->grad_in[1];
    float *db = c->in_shape[2].ndim > 0 ? c->grad_in[2] : NULL;
    int64_t R = g.N * g.To, CK = g.C * g.K;
    float *col = c->work, *G = col + R * CK, *dcol = G + R * g.F;
    /* G [N*To, F] from dy [N, F, To] */
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && R * g.F > KD_OMP_MIN)
    for (int64_t n = 0; n < g.N; n++)
        for (int64_t f = 0; f < g.F; f++) {
            const float *gr = gy + (n * g.F + f) * g.To;
            float *Gr = G + n * g.To * g.F + f;
            for (int64_t o = 0; o < g.To; o++) Gr[o * g.F] = gr[o];
        }
    if (dw) {
        im2col(&g, x, col, c->nthreads);
        kd_sgemm_rows(c->nthreads, CblasTrans, CblasNoTrans, (int)g.F, (int)CK, (int)R, 1.0f, G,
                      (int)g.F, col, (int)CK, 1.0f, dw, (int)CK);
    }
    if (dx) {
        kd_sgemm_rows(c->nthreads, CblasNoTrans, CblasNoTrans, (int)R, (int)CK, (int)g.F, 1.0f, G,
                      (int)g.F, w, (int)CK, 0.0f, dcol, (int)CK);
        /* col2im: each (n, ch) row of dx by one iteration, taps in (o, k) order */
        int64_t rows = g.N * g.C;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && R * CK > KD_OMP_MIN)
        for (int64_t r = 0; r < rows; r++) {
            int64_t n = r / g.C, ch = r % g.C;
            float *dr = dx + r * g.T;
            for (int64_t o = 0; o < g.To; o++) {
                const float *dc = dcol + (n * g.To + o) * CK + ch * g.K;
                for (int64_t k = 0; k < g.K; k++) {
                    int64_t t = o * g.S - g.PL + k * g.D;
                    if (t >= 0 && t < g.T) dr[t] += dc[k];
                }
            }
        }
    }
    if (db) {
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && g.N * g.F * g.To > KD_OMP_MIN)
        for (int64_t f = 0; f < g.F; f++) {
            double s = 0;
            for (int64_t n = 0; n < g.N; n++)
                for (int64_t o = 0; o < g.To; o++) s += gy[(n * g.F + f) * g.To + o];
            db[f] += (float)s;
        }
    }
}

static const kd_input_spec inputs[] = {
    {.name = "x", .shape = "[N, C, T]"},
    {NULL}};
static const kd_sugar sugar[] = {
    {.name = "dconv",
     .doc = "dilated causal 1-D convolution keeping the channel count (NextItNet, AdaRec)",
     .renames = (const char *const[]){"d=dilation", NULL},
     .fixed = (const kd_attr_fix[]){{.attr = "c", .kind = KD_FIX_CHANNELS}, {.attr = "k", .kind = KD_FIX_DEFAULT, .value = 3},
                                    {.attr = "causal", .kind = KD_FIX_VALUE, .value = 1}, {.attr = "bias", .kind = KD_FIX_VALUE, .value = 1},
                                    {NULL}}},
    {NULL}};

static int64_t macs(const kd_op_ctx *c) { return kd_macs_rows(c, &c->out_shape); }

const kd_op_def kd_op_conv1d = {
    .name = "conv1d",
    .min_inputs = 1,
    .max_inputs = 1,
    .nparams = 2,
    .npositional = 2,
    .attrs = attrs,
    .infer = infer,
    .workspace = workspace,
    .forward = forward,
    .backward = backward,
    .bwd_reads = KD_BWD_SET | 1u,   /* x (dW), not y */
    .use = KD_USE_NET, .flags = KD_OP_TIN,
    .doc = "1-D convolution over time to c channels (causal: pad on the left only)",
    .inputs = inputs,
    .sugar = sugar,
    .macs = macs,
};
