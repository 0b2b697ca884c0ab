/* vid.c — variational information distillation (Ahn et al., CVPR 2019):
 * the negative log-likelihood of the teacher's features under a Gaussian
 * whose mean the student predicts and whose variance is learnt per channel.
 *
 * Shapes: mu [N, C, ...] the student's prediction of the teacher's features
 * (through a regressor), t [N, C, ...] the teacher's features (no gradient),
 * the same shape; one parameter `alpha` [C] (zero at start); out scalar.
 *   sigma_c^2 = softplus(alpha_c + a0) + eps,  a0 = log(exp(init_var - eps) - 1)
 *   (so that sigma^2 starts at init_var)
 *   L = the mean over all elements of 1/2 ((t - mu)^2 / sigma_c^2 + log sigma_c^2)
 * (the paper's -log q(t | s) up to its constant, averaged over the elements).
 * Gradient: dmu = -(t - mu) / sigma_c^2 / M,
 *   dalpha_c = sum over channel c of 1/2 (1/sigma^2 - (t - mu)^2 / sigma^4)
 *              * sigmoid(alpha_c + a0) / M.
 * Channels in parallel, per-channel partials summed in order; in double. */
#include "kd_ops_util.h"

enum { A_INIT, A_EPS };
static const kd_attr_spec attrs[] = {
    {.name = "init_var", .type = KD_ATTR_FLOAT, .def = 5, .min = 1e-3, .max = 1e3,
     .doc = "the variance every channel starts at"},
    {.name = "eps", .type = KD_ATTR_FLOAT, .def = 1e-5, .min = 0, .max = 1,
     .doc = "the smallest variance"},
    {0}};

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    const kd_shape *s = &c->in_shape[0];
    if (s->ndim < 2) return kd_err_rank(err, n, "vid", 2, "[N, C, ...]", s);
    if (kd_check_same(c, 2, "vid", err, n)) return -1;
    if (KD_A_FLT(c, A_INIT) <= KD_A_FLT(c, A_EPS))
        return kd_err(err, n, "vid needs init_var > eps");
    c->in_shape[2] = kd_sh1(s->dims[1]);
    info->init[2].kind = KD_INIT_ZERO;
    c->out_shape = kd_scalar();
    return 0;
}

static size_t workspace(const kd_op_ctx *c)
{
    return sizeof(double) * (size_t)c->in_shape[0].dims[1];
}

static double offset(const kd_op_ctx *c)
{
    return log(expm1(KD_A_FLT(c, A_INIT) - KD_A_FLT(c, A_EPS)));
}

static double softplus(double x) { return x > 30 ? x : log1p(exp(x)); }

static void forward(kd_op_ctx *c)
{
    const kd_shape *s = &c->in_shape[0];
    int64_t N = s->dims[0], C = s->dims[1], P = kd_shape_numel(s) / (N * C);
    double a0 = offset(c), eps = KD_A_FLT(c, A_EPS), *part = c->work;
    const float *m = c->in[0], *t = c->in[1], *al = c->in[2];
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && N * C * P > KD_OMP_MIN)
    for (int64_t ch = 0; ch < C; ch++) {
        double v = softplus(al[ch] + a0) + eps, acc = 0;
        for (int64_t n = 0; n < N; n++)
            for (int64_t k = 0; k < P; k++) {
                double d = (double)t[(n * C + ch) * P + k] - m[(n * C + ch) * P + k];
                acc += d * d / v;
            }
        part[ch] = 0.5 * (acc + (double)(N * P) * log(v));
    }
    double L = 0;
    for (int64_t ch = 0; ch < C; ch++) L += part[ch];
    c->out[0] = (float)(L / (double)(N * C * P));
}

static void backward(kd_op_ctx *c)
{
    const kd_shape *s = &c->in_shape[0];
    int64_t N = s->dims[0], C = s->dims[1], P = kd_shape_numel(s) / (N * C);
    double a0 = offset(c), eps = KD_A_FLT(c, A_EPS), g = c->grad_out[0] / (double)(N * C * P);
    const float *m = c->in[0], *t = c->in[1], *al = c->in[2];
    float *dm = c->grad_in[0], *da = c->grad_in[2];
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && N * C * P > KD_OMP_MIN)
    for (int64_t ch = 0; ch < C; ch++) {
        double z = al[ch] + a0, v = softplus(z) + eps, acc = 0;
        for (int64_t n = 0; n < N; n++)
            for (int64_t k = 0; k < P; k++) {
                int64_t i = (n * C + ch) * P + k;
                double d = (double)t[i] - m[i];
                if (dm) dm[i] += (float)(-g * d / v);
                acc += d * d;
            }
        if (da) {
            double dv = 0.5 * ((double)(N * P) / v - acc / (v * v));
            da[ch] += (float)(g * dv / (1 + exp(-z)));
        }
    }
}

static const kd_input_spec inputs[] = {
    {.name = "mean", .shape = "[N, C, ...] the student's prediction"},
    {.name = "teacher", .shape = "[N, C, ...] the teacher's features, no gradient"},
    {NULL}};

static const char *const pnames[] = {"alpha", NULL};

const kd_op_def kd_op_vid = {
    .name = "vid", .min_inputs = 2, .max_inputs = 2, .nparams = 1, .nograd = 1u << 1,
    .attrs = attrs, .infer = infer, .workspace = workspace,
    .forward = forward, .backward = backward, .param_names = pnames,
    .use = KD_USE_LOSS,
    .doc = "variational information distillation: Gaussian NLL of the teacher's features, learnt variance per channel",
    .inputs = inputs,
};
