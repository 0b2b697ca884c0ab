/* cc.c — correlation congruence (Peng et al., ICCV 2019): the correlation
 * between the instances of a batch, student against teacher, through the
 * Taylor expansion of a Gaussian RBF kernel.
 *
 * Shapes: s [N, ...] student embeddings, t [N, ...] teacher embeddings (no
 * gradient), each flattened to rows (the widths may differ); out scalar.
 * With u_i = x_i / |x_i| and c_ij = <u_i, u_j> (for unit vectors
 * exp(-gamma |u_i - u_j|^2) = exp(-2 gamma) exp(2 gamma c_ij)):
 *   k(c) = exp(-2 gamma) sum_{p=0..P} (2 gamma)^p / p! c^p
 *   L = 1/N^2 sum_ij (k(cs_ij) - k(ct_ij))^2
 * Gradient: dL/dcs_ij = 2 (k(cs_ij) - k(ct_ij)) k'(cs_ij) / N^2, then
 * du_i = sum_j (dC_ij + dC_ji) u_j and the normalisation backward.
 * In double, serial. */
#include "kd_rel.h"

enum { A_GAMMA, A_P };
static const kd_attr_spec attrs[] = {
    {.name = "gamma", .type = KD_ATTR_FLOAT, .def = 0.4, .min = 0, .max = 100,
     .doc = "the RBF kernel's gamma: exp(-gamma |u_i - u_j|^2)"},
    {.name = "P", .type = KD_ATTR_INT, .def = 2, .min = 0, .max = 20,
     .doc = "order of the kernel's Taylor expansion"},
    {0}};

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    if (kd_rel_check_batch(c, "cc", 2, err, n)) return -1;
    c->out_shape = kd_scalar();
    return 0;
}

static size_t workspace(const kd_op_ctx *c)
{
    size_t N = (size_t)c->in_shape[0].dims[0];
    size_t Ds = (size_t)kd_rel_d(&c->in_shape[0]), Dt = (size_t)kd_rel_d(&c->in_shape[1]);
    return sizeof(double) * (2 * N * N + N * (Ds + Dt) + 2 * N + Ds);
}

/* the kernel at x, and into *dk (if not NULL) its derivative
 * k'(x) = exp(-a) a sum_{q=0..P-1} (a x)^q / q!,  a = 2 gamma */
static double kern(double x, double gamma, int P, double *dk)
{
    double a = 2 * gamma, term = 1, k = 1, d = 0;   /* p = 0 */
    for (int p = 1; p <= P; p++) {
        d += term;                  /* (a x)^(p-1) / (p-1)! */
        term *= a * x / (double)p;
        k += term;
    }
    double e = exp(-a);
    if (dk) *dk = e * a * d;
    return e * k;
}

static void corr(const float *x, int64_t N, int64_t D, double *u, double *r, double *C)
{
    for (int64_t i = 0; i < N; i++) r[i] = kd_rel_unit(x + i * D, D, u + i * D);
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j <= i; j++) {
            double s = 0;
            for (int64_t k = 0; k < D; k++) s += u[i * D + k] * u[j * D + k];
            C[i * N + j] = C[j * N + i] = s;
        }
}

static void forward(kd_op_ctx *c)
{
    int64_t N = c->in_shape[0].dims[0], Ds = kd_rel_d(&c->in_shape[0]), Dt = kd_rel_d(&c->in_shape[1]);
    double gamma = KD_A_FLT(c, A_GAMMA);
    int P = (int)KD_A_INT(c, A_P);
    double *Cs = c->work, *Ct = Cs + N * N, *us = Ct + N * N, *ut = us + N * Ds, *r = ut + N * Dt;
    corr(c->in[0], N, Ds, us, r, Cs);
    corr(c->in[1], N, Dt, ut, r + N, Ct);
    double L = 0;
    for (int64_t i = 0; i < N * N; i++) {
        double d = kern(Cs[i], gamma, P, NULL) - kern(Ct[i], gamma, P, NULL);
        L += d * d;
    }
    c->out[0] = (float)(L / ((double)N * (double)N));
}

static void backward(kd_op_ctx *c)
{
    float *ds = c->grad_in[0];
    if (!ds) return;
    int64_t N = c->in_shape[0].dims[0], Ds = kd_rel_d(&c->in_shape[0]), Dt = kd_rel_d(&c->in_shape[1]);
    double gamma = KD_A_FLT(c, A_GAMMA);
    int P = (int)KD_A_INT(c, A_P);
    double *Cs = c->work, *Ct = Cs + N * N, *us = Ct + N * N, *ut = us + N * Ds, *r = ut + N * Dt,
           *du = r + 2 * N;
    corr(c->in[0], N, Ds, us, r, Cs);
    corr(c->in[1], N, Dt, ut, r + N, Ct);
    double g = 2 * c->grad_out[0] / ((double)N * (double)N);
    for (int64_t i = 0; i < N * N; i++) {   /* dC in place of Cs */
        double dk, d = kern(Cs[i], gamma, P, &dk) - kern(Ct[i], gamma, P, NULL);
        Cs[i] = g * d * dk;
    }
    for (int64_t i = 0; i < N; i++) {
        for (int64_t k = 0; k < Ds; k++) {
            double s = 0;
            for (int64_t j = 0; j < N; j++) s += (Cs[i * N + j] + Cs[j * N + i]) * us[j * Ds + k];
            du[k] = s;
        }
        kd_rel_unit_back(us + i * Ds, du, r[i], Ds, ds + i * Ds);
    }
}

static const kd_input_spec inputs[] = {
    {.name = "student", .shape = "[N, ...] embeddings (rows)"},
    {.name = "teacher", .shape = "[N, ...] embeddings, no gradient"},
    {NULL}};

const kd_op_def kd_op_cc = {
    .name = "cc", .min_inputs = 2, .max_inputs = 2, .nograd = 1u << 1,
    .attrs = attrs, .infer = infer, .workspace = workspace,
    .forward = forward, .backward = backward,
    .use = KD_USE_LOSS,
    .doc = "correlation congruence: squared distance of the batch's RBF-kernel correlation matrices",
    .inputs = inputs,
};
