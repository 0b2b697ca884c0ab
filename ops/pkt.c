/* pkt.c — probabilistic knowledge transfer (Passalis & Tefas, ECCV 2018):
 * match the conditional probabilities that a cosine-similarity kernel
 * assigns to the pairs of a batch.
 *
 * Shapes: s [N, ...] student features, t [N, ...] teacher features (no
 * gradient), each flattened to rows (the widths may differ); N >= 2; out
 * scalar.  With u_i = x_i / |x_i|, the kernel K_ij = (1 + <u_i, u_j>) / 2
 * and, for each sample i, the conditional distribution over the others
 *   p_j|i = K_ij / sum_{k != i} K_ik      (j != i)
 * (q from the teacher, p from the student):
 *   L = 1/N^2 sum_i sum_{j != i} q_j|i log(q_j|i / p_j|i)
 * (each sample's KL, summed and divided by N^2: the scale RepDistiller's
 * weight of 30000 was chosen for).  Gradient, for j != i:
 *   dL/dK_ij = (1/N^2) (1 / Z_i - q_j|i / K_ij),  Z_i = sum_{k != i} K_ik
 *   dL/d<u_i, u_j> = dL/dK_ij / 2, then through the normalisation.
 * A pair with K_ij = 0 (opposite directions) and q_j|i > 0 makes the loss
 * infinite, as the formula does.  Serial, in double. */
#include "kd_rel.h"

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    if (kd_rel_check_batch(c, "pkt", 2, err, n)) return -1;
    if (c->in_shape[0].dims[0] < 2)
        return kd_err(err, n, "pkt needs a batch of at least 2 samples");
    c->out_shape = kd_scalar();
    return 0;
}

static size_t workspace(const kd_op_ctx *c)
{
    size_t N = (size_t)c->in_shape[0].dims[0];
    size_t D = (size_t)(kd_rel_d(&c->in_shape[0]) + kd_rel_d(&c->in_shape[1]));
    return sizeof(double) * (2 * N * N + 2 * N * D + 2 * N + (size_t)kd_rel_d(&c->in_shape[0]) * N);
}

/* rows of x to unit rows u (norms r), then K = (1 + U U^T) / 2 */
static void kernel(const float *x, int64_t N, int64_t D, double *u, double *r, double *K)
{
    for (int64_t i = 0; i < N; i++) r[i] = kd_rel_unit(x + i * D, D, u + i * D);
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j <= i; j++) {
            double s = 0;
            for (int64_t k = 0; k < D; k++) s += u[i * D + k] * u[j * D + k];
            K[i * N + j] = K[j * N + i] = 0.5 * (1 + s);
        }
}

typedef struct {
    double *Ks, *Kt, *us, *ut, *rs, *rt, *du;
} bufs;

static bufs split(const kd_op_ctx *c)
{
    int64_t N = c->in_shape[0].dims[0], Ds = kd_rel_d(&c->in_shape[0]), Dt = kd_rel_d(&c->in_shape[1]);
    bufs b;
    b.Ks = c->work;
    b.Kt = b.Ks + N * N;
    b.us = b.Kt + N * N;
    b.ut = b.us + N * Ds;
    b.rs = b.ut + N * Dt;
    b.rt = b.rs + N;
    b.du = b.rt + N;
    kernel(c->in[0], N, Ds, b.us, b.rs, b.Ks);
    kernel(c->in[1], N, Dt, b.ut, b.rt, b.Kt);
    return b;
}

static double rowsum(const double *K, int64_t N, int64_t i)
{
    double z = 0;
    for (int64_t k = 0; k < N; k++)
        if (k != i) z += K[i * N + k];
    return z;
}

static void forward(kd_op_ctx *c)
{
    int64_t N = c->in_shape[0].dims[0];
    bufs b = split(c);
    double L = 0;
    for (int64_t i = 0; i < N; i++) {
        double zs = rowsum(b.Ks, N, i), zt = rowsum(b.Kt, N, i);
        for (int64_t j = 0; j < N; j++) {
            if (j == i) continue;
            double q = b.Kt[i * N + j] / zt, p = b.Ks[i * N + j] / zs;
            if (q > 0) L += q * log(q / p);
        }
    }
    c->out[0] = (float)(L / ((double)N * (double)N));
}

static void backward(kd_op_ctx *c)
{
    float *ds = c->grad_in[0];
    if (!ds) return;
    int64_t N = c->in_shape[0].dims[0], D = kd_rel_d(&c->in_shape[0]);
    bufs b = split(c);
    double g = c->grad_out[0] / ((double)N * (double)N);
    /* dC_ij (C = U U^T) into Ks's place, row by row: dL/dK_ij / 2 */
    double *dC = b.Ks;
    for (int64_t i = 0; i < N; i++) {
        double zs = rowsum(b.Ks, N, i), zt = rowsum(b.Kt, N, i);
        for (int64_t j = 0; j < N; j++) {
            double q = b.Kt[i * N + j] / zt;
            dC[i * N + j] = j == i ? 0 : 0.5 * g * (1 / zs - q / b.Ks[i * N + j]);
        }
    }
    for (int64_t i = 0; i < N; i++) {
        double *du = b.du;
        for (int64_t k = 0; k < D; k++) {
            double s = 0;
            for (int64_t j = 0; j < N; j++) s += (dC[i * N + j] + dC[j * N + i]) * b.us[j * D + k];
            du[k] = s;
        }
        kd_rel_unit_back(b.us + i * D, du, b.rs[i], D, ds + i * D);
    }
}

static const kd_input_spec inputs[] = {
    {.name = "student", .shape = "[N, ...] features (rows)"},
    {.name = "teacher", .shape = "[N, ...] features, no gradient"},
    {NULL}};

const kd_op_def kd_op_pkt = {
    .name = "pkt", .min_inputs = 2, .max_inputs = 2, .nograd = 1u << 1,
    .infer = infer, .workspace = workspace,
    .forward = forward, .backward = backward,
    .use = KD_USE_LOSS,
    .doc = "probabilistic knowledge transfer: KL of cosine-kernel conditional probabilities",
    .inputs = inputs,
};
