/* nst.c — neuron selectivity transfer (Huang & Wang, 2017): the squared
 * maximum mean discrepancy between the distributions of the student's and
 * the teacher's channel activation maps, with a polynomial kernel.
 *
 * Shapes: s [N, Cs, H, W] student maps, t [N, Ct, H, W] teacher maps (no
 * gradient; the channel counts may differ, the sizes may not); out scalar.
 * For each sample, f_i = channel i's map (H*W values) divided by its L2
 * norm, and k(a, b) = (<a, b>)^2 (the paper's polynomial kernel, d = 2,
 * c = 0):
 *   MMD^2 = 1/Cs^2 sum_ij k(fs_i, fs_j) + 1/Ct^2 sum_ij k(ft_i, ft_j)
 *         - 2/(Cs Ct) sum_ij k(fs_i, ft_j)
 *   L = 1/N sum_n MMD^2
 * Gradient: dfs_i = 4/Cs^2 sum_j <fs_i, fs_j> fs_j - 4/(Cs Ct) sum_j
 * <fs_i, ft_j> ft_j, then the normalisation backward.  In double; samples
 * in parallel into per-sample partials summed serially. */
#include "kd_rel.h"

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    const kd_shape *s = &c->in_shape[0], *t = &c->in_shape[1];
    char a[128], b[128];
    if (s->ndim != 4) return kd_err_rank(err, n, "nst", 4, "[N, C, H, W]", s);
    if (t->ndim != 4 || t->dims[0] != s->dims[0] || t->dims[2] != s->dims[2] || t->dims[3] != s->dims[3])
        return kd_err(err, n, "nst expects the same batch and spatial size, got %s and %s",
                      kd_shape_str(s, a, sizeof a), kd_shape_str(t, b, sizeof b));
    c->out_shape = kd_scalar();
    return 0;
}

static size_t per_sample(const kd_op_ctx *c)
{
    const kd_shape *s = &c->in_shape[0];
    size_t Cs = (size_t)s->dims[1], Ct = (size_t)c->in_shape[1].dims[1], P = (size_t)(s->dims[2] * s->dims[3]);
    return (Cs + Ct) * P + Cs + Ct + P;
}

static size_t workspace(const kd_op_ctx *c)
{
    size_t N = (size_t)c->in_shape[0].dims[0];
    return sizeof(double) * N * (per_sample(c) + 1);
}

static double dot(const double *a, const double *b, int64_t P)
{
    double s = 0;
    for (int64_t k = 0; k < P; k++) s += a[k] * b[k];
    return s;
}

/* one sample: unit maps into us, ut (norms rs, rt); returns MMD^2; with
 * ds, adds its gradient */
static double sample(const kd_op_ctx *c, int64_t n, double *w, double g, float *ds)
{
    const kd_shape *sh = &c->in_shape[0];
    int64_t Cs = sh->dims[1], Ct = c->in_shape[1].dims[1], P = sh->dims[2] * sh->dims[3];
    double *us = w, *ut = us + Cs * P, *rs = ut + Ct * P, *rt = rs + Cs, *du = rt + Ct;
    const float *xs = c->in[0] + n * Cs * P, *xt = c->in[1] + n * Ct * P;
    for (int64_t i = 0; i < Cs; i++) rs[i] = kd_rel_unit(xs + i * P, P, us + i * P);
    for (int64_t i = 0; i < Ct; i++) rt[i] = kd_rel_unit(xt + i * P, P, ut + i * P);
    double ss = 0, tt = 0, st = 0, cs = (double)Cs, ct = (double)Ct;
    for (int64_t i = 0; i < Cs; i++)
        for (int64_t j = 0; j < Cs; j++) { double k = dot(us + i * P, us + j * P, P); ss += k * k; }
    for (int64_t i = 0; i < Ct; i++)
        for (int64_t j = 0; j < Ct; j++) { double k = dot(ut + i * P, ut + j * P, P); tt += k * k; }
    for (int64_t i = 0; i < Cs; i++)
        for (int64_t j = 0; j < Ct; j++) { double k = dot(us + i * P, ut + j * P, P); st += k * k; }
    if (ds)
        for (int64_t i = 0; i < Cs; i++) {
            for (int64_t k = 0; k < P; k++) du[k] = 0;
            for (int64_t j = 0; j < Cs; j++) {
                double a = g * 4 / (cs * cs) * dot(us + i * P, us + j * P, P);
                for (int64_t k = 0; k < P; k++) du[k] += a * us[j * P + k];
            }
            for (int64_t j = 0; j < Ct; j++) {
                double a = -g * 4 / (cs * ct) * dot(us + i * P, ut + j * P, P);
                for (int64_t k = 0; k < P; k++) du[k] += a * ut[j * P + k];
            }
            kd_rel_unit_back(us + i * P, du, rs[i], P, ds + (n * Cs + i) * P);
        }
    return ss / (cs * cs) + tt / (ct * ct) - 2 * st / (cs * ct);
}

static void forward(kd_op_ctx *c)
{
    int64_t N = c->in_shape[0].dims[0];
    size_t ps = per_sample(c);
    double *row = c->work, *w = row + N;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1)
    for (int64_t n = 0; n < N; n++) row[n] = sample(c, n, w + (size_t)n * ps, 0, NULL);
    double L = 0;
    for (int64_t n = 0; n < N; n++) L += row[n];
    c->out[0] = (float)(L / (double)N);
}

static void backward(kd_op_ctx *c)
{
    float *ds = c->grad_in[0];
    if (!ds) return;
    int64_t N = c->in_shape[0].dims[0];
    size_t ps = per_sample(c);
    double *w = (double *)c->work + N, g = c->grad_out[0] / (double)N;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1)
    for (int64_t n = 0; n < N; n++) sample(c, n, w + (size_t)n * ps, g, ds);
}

static const kd_input_spec inputs[] = {
    {.name = "student", .shape = "[N, Cs, H, W] maps"},
    {.name = "teacher", .shape = "[N, Ct, H, W] maps, no gradient"},
    {NULL}};

const kd_op_def kd_op_nst = {
    .name = "nst", .min_inputs = 2, .max_inputs = 2, .nograd = 1u << 1,
    .infer = infer, .workspace = workspace,
    .forward = forward, .backward = backward,
    .use = KD_USE_LOSS,
    .doc = "neuron selectivity transfer: MMD^2 of normalised channel maps, polynomial kernel",
    .inputs = inputs,
};
