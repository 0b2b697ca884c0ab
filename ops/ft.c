/* ft.c — factor transfer (Kim et al., NeurIPS 2018): the distance between
 * the L2-normalised factors of the teacher (its paraphraser's encoding) and
 * of the student (its translator's output).
 *
 * Shapes: s [N, ...] the student's factor, t [N, ...] the teacher's factor
 * (no gradient), the same number of values per sample D; out scalar.
 *   u = x / |x| per sample,  L = 1/(N D) sum |u_s - u_t|^p,  p = 1 or 2
 * (the paper's p-norm with p = 1, written as the mean absolute difference:
 * the scale RepDistiller's weight 200 is for).
 * Gradient: du_s = sign(u_s - u_t) / (N D) (p = 1; 0 where equal) or
 * 2 (u_s - u_t) / (N D) (p = 2), then the normalisation backward.
 * Samples in parallel into per-sample partials summed serially. */
#include "kd_rel.h"

enum { A_P };
static const kd_attr_spec attrs[] = {
    {.name = "p", .type = KD_ATTR_INT, .def = 1, .min = 1, .max = 2,
     .doc = "the norm of the factor difference: 1 (the paper's) or 2"},
    {0}};

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    char a[128], b[128];
    if (kd_rel_check_batch(c, "ft", 2, err, n)) return -1;
    if (kd_rel_d(&c->in_shape[0]) != kd_rel_d(&c->in_shape[1]))
        return kd_err(err, n, "ft expects factors with the same number of values per sample, got %s and %s",
                      kd_shape_str(&c->in_shape[0], a, sizeof a), kd_shape_str(&c->in_shape[1], b, sizeof b));
    c->out_shape = kd_scalar();
    return 0;
}

static size_t workspace(const kd_op_ctx *c)
{
    size_t N = (size_t)c->in_shape[0].dims[0], D = (size_t)kd_rel_d(&c->in_shape[0]);
    return sizeof(double) * N * (3 * D + 1);
}

static double sample(const kd_op_ctx *c, int64_t n, double *w, double g, float *ds)
{
    int64_t D = kd_rel_d(&c->in_shape[0]);
    int p = (int)KD_A_INT(c, A_P);
    double *us = w, *ut = us + D, *du = ut + D;
    double rs = kd_rel_unit(c->in[0] + n * D, D, us);
    kd_rel_unit(c->in[1] + n * D, D, ut);
    double L = 0;
    for (int64_t k = 0; k < D; k++) {
        double d = us[k] - ut[k];
        L += p == 1 ? fabs(d) : d * d;
        du[k] = p == 1 ? g * (double)((d > 0) - (d < 0)) : 2 * g * d;
    }
    if (ds) kd_rel_unit_back(us, du, rs, D, ds + n * D);
    return L;
}

static void forward(kd_op_ctx *c)
{
    int64_t N = c->in_shape[0].dims[0], D = kd_rel_d(&c->in_shape[0]);
    double *row = c->work, *w = row + N;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && N * D > KD_OMP_MIN)
    for (int64_t n = 0; n < N; n++) row[n] = sample(c, n, w + n * 3 * D, 0, NULL);
    double L = 0;
    for (int64_t n = 0; n < N; n++) L += row[n];
    c->out[0] = (float)(L / (double)(N * D));
}

static void backward(kd_op_ctx *c)
{
    float *ds = c->grad_in[0];
    if (!ds) return;
    int64_t N = c->in_shape[0].dims[0], D = kd_rel_d(&c->in_shape[0]);
    double *w = (double *)c->work + N, g = c->grad_out[0] / (double)(N * D);
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && N * D > KD_OMP_MIN)
    for (int64_t n = 0; n < N; n++) sample(c, n, w + n * 3 * D, g, ds);
}

static const kd_input_spec inputs[] = {
    {.name = "student", .shape = "[N, ...] the translator's factor"},
    {.name = "teacher", .shape = "[N, ...] the paraphraser's factor, no gradient"},
    {NULL}};

const kd_op_def kd_op_ft = {
    .name = "ft", .min_inputs = 2, .max_inputs = 2, .nograd = 1u << 1,
    .attrs = attrs, .infer = infer, .workspace = workspace,
    .forward = forward, .backward = backward,
    .use = KD_USE_LOSS,
    .doc = "factor transfer: mean p-distance of the L2-normalised factors",
    .inputs = inputs,
};
