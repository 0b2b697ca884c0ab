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
 * Every per-channel reduction runs inside one thread, in double, over 8
 * lanes summed in a fixed order (see chan_sum).
 */
#include <string.h>
#include <stdlib.h>

#include "kd_ops_util.h"
#include "kd_bn.h"

enum { A_EPS, A_MOMENTUM, A_AFFINE };  /* recipe order: bn(x, eps, momentum) */
_Static_assert(A_EPS == KD_BN_ATTR_EPS, "kd_bn.h names eps's index for the executor's fold");

static const kd_attr_spec attrs[] = {
    {.name = "eps", .type = KD_ATTR_FLOAT, .def = 1e-5, .min = 0, .max = 1,
     .doc = "added to the variance"},
    {.name = "momentum", .type = KD_ATTR_FLOAT, .def = 0.1, .min = 0, .max = 1,
     .doc = "weight of the batch in the running statistics"},
    {.name = "affine", .type = KD_ATTR_BOOL, .def = 1, .min = 0, .max = 1,
     .doc = "learned scale and shift", .internal = 1},
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

/* Sums over a channel's N planes of S floats, in double, with 8
 * independent accumulators (lanes j mod 8) added in a fixed order at the
 * end: deterministic, and not bound by the latency of one addition chain. */
#define KD_LANES 8
static double lanes_total(const double *l)
{
    return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

/* 8 floats as 8 doubles (lane k = p[k]); GCC vector extensions, lowered
 * for each KD_WIDE variant (AVX-512: one conversion into a zmm) */
typedef float kd_v8f __attribute__((vector_size(32)));
typedef double kd_v8d __attribute__((vector_size(64)));
#define LOAD8D(dst, p) do { kd_v8f v8_; memcpy(&v8_, (p), sizeof v8_); (dst) = __builtin_convertvector(v8_, kd_v8d); } while (0)

static double vlanes_total(const kd_v8d *v)
{
    double l[KD_LANES];
    memcpy(l, v, sizeof l);
    return lanes_total(l);
}

KD_WIDE static double chan_sum(const float *x, int64_t N, int64_t C, int64_t S, int64_t ch)
{
    kd_v8d l = {0};
    for (int64_t i = 0; i < N; i++) {
        const float *p = x + (i * C + ch) * S;
        int64_t j = 0;
        for (; j + KD_LANES <= S; j += KD_LANES) {
            kd_v8d v;
            LOAD8D(v, p + j);
            l += v;
        }
        for (; j < S; j++) l[j % KD_LANES] += p[j];
    }
    return vlanes_total(&l);
}

KD_WIDE static double chan_sqdev(const float *x, int64_t N, int64_t C, int64_t S, int64_t ch, double mu)
{
    kd_v8d l = {0};
    for (int64_t i = 0; i < N; i++) {
        const float *p = x + (i * C + ch) * S;
        int64_t j = 0;
        for (; j + KD_LANES <= S; j += KD_LANES) {
            kd_v8d d;
            LOAD8D(d, p + j);
            d -= mu;
            l += d * d;
        }
        for (; j < S; j++) {
            double d = p[j] - mu;
            l[j % KD_LANES] += d * d;
        }
    }
    return vlanes_total(&l);
}

/* y[channel ch] = a * x + o */
KD_WIDE static void scale_shift(float *y, const float *x, int64_t N, int64_t C, int64_t S, int64_t ch, float a,
                                float o)
{
    for (int64_t i = 0; i < N; i++) {
        const float *restrict p = x + (i * C + ch) * S;
        float *restrict q = y + (i * C + ch) * S;
        for (int64_t j = 0; j < S; j++) q[j] = a * p[j] + o;
    }
}

/* dx[channel ch] += a * dy */
KD_WIDE static void scale_add(float *dx, const float *gy, int64_t N, int64_t C, int64_t S, int64_t ch, float a)
{
    for (int64_t i = 0; i < N; i++) {
        const float *restrict g = gy + (i * C + ch) * S;
        float *restrict d = dx + (i * C + ch) * S;
        for (int64_t j = 0; j < S; j++) d[j] += a * g[j];
    }
}

/* Synchronized batch norm (c->allsum set, training): the channel's mean and
 * variance over the rows of every rank, from global sums (the count, the
 * sums, then the squared deviations around the global mean), so that every
 * rank normalizes as one process would over the global batch. */
static void forward_sync(kd_op_ctx *c)
{
    int64_t N, C, S;
    dims(c, &N, &C, &S);
    const float *x = c->in[0];
    int affine = c->in_shape[1].ndim > 0;
    double mom = KD_A_FLT(c, A_MOMENTUM), eps = KD_A_FLT(c, A_EPS);
    float *mean = c->saved, *inv = c->saved + C;
    float *rm = c->state[0], *rv = c->state[1];
    double *s = malloc((size_t)(C + 1) * sizeof *s);
    if (!s) abort();
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1)
    for (int64_t ch = 0; ch < C; ch++) s[ch] = chan_sum(x, N, C, S, ch);
    s[C] = (double)(N * S);
    if (c->allsum(s, C + 1)) abort();
    double M = s[C];
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1)
    for (int64_t ch = 0; ch < C; ch++) {
        mean[ch] = (float)(s[ch] / M);
        s[ch] = chan_sqdev(x, N, C, S, ch, s[ch] / M);
    }
    if (c->allsum(s, C)) abort();
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1)
    for (int64_t ch = 0; ch < C; ch++) {
        double mu = mean[ch], var = s[ch] / M;
        rm[ch] = (float)((1 - mom) * rm[ch] + mom * mu);
        rv[ch] = (float)((1 - mom) * rv[ch] + mom * (M > 1 ? var * M / (M - 1) : var));
        float g = affine ? c->in[1][ch] : 1.0f, b = affine ? c->in[2][ch] : 0.0f, a, o;
        inv[ch] = (float)kd_bn_affine(mu, var, eps, g, b, &a, &o);
        scale_shift(c->out, x, N, C, S, ch, a, o);
    }
    free(s);
}

static void forward(kd_op_ctx *c)
{
    if (c->training && c->allsum) { forward_sync(c); return; }
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
            mu = chan_sum(x, N, C, S, ch) / (double)M;
            var = chan_sqdev(x, N, C, S, ch, mu) / (double)M;
            rm[ch] = (float)((1 - mom) * rm[ch] + mom * mu);
            rv[ch] = (float)((1 - mom) * rv[ch] + mom * (M > 1 ? var * M / (M - 1) : var));
        } else {
            mu = rm[ch];
            var = rv[ch];
        }
        mean[ch] = (float)mu;
        float g = affine ? c->in[1][ch] : 1.0f, b = affine ? c->in[2][ch] : 0.0f, a, o;
        inv[ch] = (float)kd_bn_affine(mu, var, eps, g, b, &a, &o);
        scale_shift(c->out, x, N, C, S, ch, a, o);
    }
}

/* Channel ch's sums over its rows: *sg = sum dy, *sgx = sum dy * xhat
 * (lane-wise partial sums, added in a fixed order). */
KD_WIDE static void dy_sums(const float *x, const float *gy, int64_t N, int64_t C, int64_t S, int64_t ch,
                            double mu, double is, double *sg, double *sgx)
{
    kd_v8d lg = {0}, lgx = {0};
    for (int64_t i = 0; i < N; i++) {
        const float *p = x + (i * C + ch) * S, *g = gy + (i * C + ch) * S;
        int64_t j = 0;
        for (; j + KD_LANES <= S; j += KD_LANES) {
            kd_v8d gv, pv;
            LOAD8D(gv, g + j);
            LOAD8D(pv, p + j);
            lg += gv;
            lgx += gv * ((pv - mu) * is);
        }
        for (; j < S; j++) {
            lg[j % KD_LANES] += g[j];
            lgx[j % KD_LANES] += g[j] * ((p[j] - mu) * is);
        }
    }
    *sg = vlanes_total(&lg);
    *sgx = vlanes_total(&lgx);
}

/* dx[channel ch] += a * dy + b * (x - mean) + c0 */
KD_WIDE static void dx_add(float *dx, const float *x, const float *gy, int64_t N, int64_t C, int64_t S, int64_t ch,
                   float a, float b, float muf, float c0)
{
    for (int64_t i = 0; i < N; i++) {
        const float *restrict p = x + (i * C + ch) * S, *restrict g = gy + (i * C + ch) * S;
        float *restrict d = dx + (i * C + ch) * S;
        for (int64_t j = 0; j < S; j++) d[j] += a * g[j] + b * (p[j] - muf) + c0;
    }
}

static void backward_sync(kd_op_ctx *c);

/* dx = gamma*invstd * (dy - mean(dy) - xhat * mean(dy*xhat)) in training,
 * computed per element in float as a*dy + b*(x - mu) + c0 with the
 * channel's coefficients in double; the sums of dy and dy*xhat as above. */
static void backward(kd_op_ctx *c)
{
    if (c->training && c->allsum) { backward_sync(c); return; }
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
        double mu = mean[ch], is = inv[ch];
        double sg = 0, sgx = 0;
        if (!c->training && !dg && !dbeta) {
            /* eval mode, frozen (a teacher's path): dx = gamma*invstd * dy,
             * no sums needed */
            if (!dx) continue;
            float a = (float)((affine ? c->in[1][ch] : 1.0) * is);
            scale_add(dx, gy, N, C, S, ch, a);
            continue;
        }
        dy_sums(x, gy, N, C, S, ch, mu, is, &sg, &sgx);
        if (dg) dg[ch] += (float)sgx;
        if (dbeta) dbeta[ch] += (float)sg;
        if (!dx) continue;
        double gam = affine ? c->in[1][ch] : 1.0;
        float a = (float)(gam * is), b = 0.0f, c0 = 0.0f, muf = (float)mu;
        if (c->training) {
            b = (float)(-gam * is * is * sgx / (double)M);
            c0 = (float)(-gam * is * sg / (double)M);
        }
        dx_add(dx, x, gy, N, C, S, ch, a, b, muf, c0);
    }
}

/* Synchronized: dx from the sums of dy and dy*xhat over every rank's rows
 * (each rank's dy is its own loss's), the count over the ranks; dgamma and
 * dbeta from this rank's rows (the data-parallel step sums them). */
static void backward_sync(kd_op_ctx *c)
{
    int64_t N, C, S;
    dims(c, &N, &C, &S);
    const float *x = c->in[0], *gy = c->grad_out;
    const float *mean = c->saved, *inv = c->saved + C;
    int affine = c->in_shape[1].ndim > 0;
    float *dx = c->grad_in[0];
    float *dg = affine ? c->grad_in[1] : NULL, *dbeta = affine ? c->grad_in[2] : NULL;
    double *s = malloc((size_t)(2 * C + 1) * sizeof *s);
    if (!s) abort();
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1)
    for (int64_t ch = 0; ch < C; ch++) {
        double mu = mean[ch], is = inv[ch];
        dy_sums(x, gy, N, C, S, ch, mu, is, &s[ch], &s[C + ch]);
        if (dg) dg[ch] += (float)s[C + ch];
        if (dbeta) dbeta[ch] += (float)s[ch];
    }
    s[2 * C] = (double)(N * S);
    if (dx && c->allsum(s, 2 * C + 1)) abort();
    double M = s[2 * C];
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1)
    for (int64_t ch = 0; ch < C; ch++) {
        if (!dx) continue;
        double is = inv[ch], sg = s[ch], sgx = s[C + ch];
        double gam = affine ? c->in[1][ch] : 1.0;
        float a = (float)(gam * is), muf = mean[ch];
        float b = (float)(-gam * is * is * sgx / M), c0 = (float)(-gam * is * sg / M);
        dx_add(dx, x, gy, N, C, S, ch, a, b, muf, c0);
    }
    free(s);
}

static const kd_input_spec inputs[] = {
    {.name = "x", .shape = "[N, C, H, W] or [N, C]"},
    {NULL}};

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
    .rows = kd_rows_always,
    .bwd_reads = KD_BWD_SET | 1u,   /* x (and the saved mean, 1/std), not y */
    .use = KD_USE_NET, .flags = KD_OP_TIN,
    .doc = "batch normalization over channels (learned scale and shift)",
    .inputs = inputs,
};
