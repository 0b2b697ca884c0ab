/* batchnorm2d.c — batch normalisation over channels.
 *
 * Shapes: x [N, C, H, W] (or [N, C], read with H*W = 1), gamma [C],
 * beta [C], y like x; state running_mean [C], running_var [C];
 * saved (train) mean [C], invstd [C].  M = N*H*W values per channel.
 *
 * train: mu = mean(x), var = mean((x-mu)^2) (biased), invstd = 1/sqrt(var+eps),
 *        y = gamma*(x-mu)*invstd + beta,
 *        running_mean = (1-m)*running_mean + m*mu,
 *        running_var  = (1-m)*running_var  + m*var*M/(M-1).
 * eval:  the same with the running statistics (a fixed affine map).
 * Every per-channel reduction runs inside one thread, in double.
 */
#include "kd_ops_util.h"

enum { A_MOMENTUM, A_EPS, A_AFFINE };

static const kd_attr_spec attrs[] = {
    {.name = "momentum", .type = KD_ATTR_FLOAT, .def = 0.1, .min = 0, .max = 1},
    {.name = "eps", .type = KD_ATTR_FLOAT, .def = 1e-5, .min = 0, .max = 1},
    {.name = "affine", .type = KD_ATTR_BOOL, .def = 1, .min = 0, .max = 1},
    {0}};

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    const kd_shape *x = &c->in_shape[0];
    if (x->ndim != 4 && x->ndim != 2)
        return kd_err_rank(err, n, "batchnorm2d", 4, "[N, C, H, W]", x);
    int64_t C = x->dims[1];
    if (KD_A_INT(c, A_AFFINE)) {
        c->in_shape[1] = kd_sh1(C);
        c->in_shape[2] = kd_sh1(C);
        info->init[1].kind = KD_INIT_ONE;
        info->init[2].kind = KD_INIT_ZERO;
    }
    info->nstate = 2;
    info->state_shape[0] = kd_sh1(C);
    info->state_shape[1] = kd_sh1(C);
    info->state_init[0] = 0.0f;
    info->state_init[1] = 1.0f;
    info->saved_floats = (size_t)(2 * C);
    c->out_shape = *x;
    return 0;
}

static void dims(const kd_op_ctx *c, int64_t *N, int64_t *C, int64_t *S)
{
    const kd_shape *x = &c->in_shape[0];
    *N = x->dims[0];
    *C = x->dims[1];
    *S = x->ndim == 4 ? x->dims[2] * x->dims[3] : 1;
}

static void forward(kd_op_ctx *c)
{
    int64_t N, C, S;
    dims(c, &N, &C, &S);
    const float *x = c->in[0];
    int affine = c->in_shape[1].ndim > 0;
    double mom = KD_A_FLT(c, A_MOMENTUM), eps = KD_A_FLT(c, A_EPS);
    float *mean = c->saved, *inv = c->saved + C;
    float *rm = c->state[0], *rv = c->state[1];
    int64_t M = N * S;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1)
    for (int64_t ch = 0; ch < C; ch++) {
        double mu, var;
        if (c->training) {
            double s = 0;
            for (int64_t i = 0; i < N; i++) {
                const float *p = x + (i * C + ch) * S;
                for (int64_t j = 0; j < S; j++) s += p[j];
            }
            mu = s / (double)M;
            double v = 0;
            for (int64_t i = 0; i < N; i++) {
                const float *p = x + (i * C + ch) * S;
                for (int64_t j = 0; j < S; j++) v += (p[j] - mu) * (p[j] - mu);
            }
            var = v / (double)M;
            rm[ch] = (float)((1 - mom) * rm[ch] + mom * mu);
            rv[ch] = (float)((1 - mom) * rv[ch] + mom * (M > 1 ? var * M / (M - 1) : var));
        } else {
            mu = rm[ch];
            var = rv[ch];
        }
        double is = 1.0 / sqrt(var + eps);
        mean[ch] = (float)mu;
        inv[ch] = (float)is;
        float g = affine ? c->in[1][ch] : 1.0f, b = affine ? c->in[2][ch] : 0.0f;
        float a = (float)(g * is), o = (float)(b - g * is * mu);
        for (int64_t i = 0; i < N; i++) {
            const float *p = x + (i * C + ch) * S;
            float *q = c->out + (i * C + ch) * S;
            for (int64_t j = 0; j < S; j++) q[j] = a * p[j] + o;
        }
    }
}

static void backward(kd_op_ctx *c)
{
    int64_t N, C, S;
    dims(c, &N, &C, &S);
    const float *x = c->in[0], *gy = c->grad_out;
    const float *mean = c->saved, *inv = c->saved + C;
    int affine = c->in_shape[1].ndim > 0;
    float *dx = c->grad_in[0];
    float *dg = affine ? c->grad_in[1] : NULL, *dbeta = affine ? c->grad_in[2] : NULL;
    int64_t M = N * S;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1)
    for (int64_t ch = 0; ch < C; ch++) {
        double sg = 0, sgx = 0, mu = mean[ch], is = inv[ch];
        for (int64_t i = 0; i < N; i++) {
            const float *p = x + (i * C + ch) * S, *g = gy + (i * C + ch) * S;
            for (int64_t j = 0; j < S; j++) {
                sg += g[j];
                sgx += g[j] * ((p[j] - mu) * is);
            }
        }
        if (dg) dg[ch] += (float)sgx;
        if (dbeta) dbeta[ch] += (float)sg;
        if (!dx) continue;
        double gam = affine ? c->in[1][ch] : 1.0;
        for (int64_t i = 0; i < N; i++) {
            const float *p = x + (i * C + ch) * S, *g = gy + (i * C + ch) * S;
            float *d = dx + (i * C + ch) * S;
            for (int64_t j = 0; j < S; j++) {
                double v;
                if (c->training) {
                    double xh = (p[j] - mu) * is;
                    v = gam * is * (g[j] - sg / (double)M - xh * sgx / (double)M);
                } else {
                    v = gam * is * g[j];
                }
                d[j] += (float)v;
            }
        }
    }
}

const kd_op_def kd_op_batchnorm2d = {
    .name = "batchnorm2d",
    .alias = "bn",
    .min_inputs = 1,
    .max_inputs = 1,
    .nparams = 2,
    .attrs = attrs,
    .infer = infer,
    .forward = forward,
    .backward = backward,
};
