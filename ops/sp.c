/* sp.c — similarity-preserving KD (Tung & Mori, ICCV 2019): the batch's
 * pairwise similarities of activations, student against teacher.
 *
 * Shapes: s [N, ...] student activations, t [N, ...] teacher activations (no
 * gradient), each flattened to rows A (the widths may differ); out scalar.
 *   G = A A^T,  G~ = G with each row divided by its L2 norm
 *   L = 1/N^2 |G~_s - G~_t|_F^2
 * (the paper's loss for one layer pair; sum the op over several pairs).
 * Gradient: dG~ = 2 (G~_s - G~_t) / N^2, the row normalisation backward
 * (dG_i = (dG~_i - (dG~_i . g~_i) g~_i) / |G_i|), then ds = (dG + dG^T) A.
 * In double, serial. */
#include "kd_rel.h"

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    if (kd_rel_check_batch(c, "sp", 2, err, n)) return -1;
    c->out_shape = kd_scalar();
    return 0;
}

static size_t workspace(const kd_op_ctx *c)
{
    size_t N = (size_t)c->in_shape[0].dims[0];
    return sizeof(double) * (4 * N * N + 2 * N);
}

/* G~ of the rows of x into Gn, the norms of G's rows into r, G into G */
static void simil(const float *x, int64_t N, int64_t D, double *G, double *Gn, double *r)
{
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j <= i; j++) {
            double s = 0;
            for (int64_t k = 0; k < D; k++) s += (double)x[i * D + k] * x[j * D + k];
            G[i * N + j] = G[j * N + i] = s;
        }
    for (int64_t i = 0; i < N; i++) r[i] = kd_rel_unit_d(G + i * N, N, Gn + i * N);
}

static void forward(kd_op_ctx *c)
{
    int64_t N = c->in_shape[0].dims[0];
    double *G = c->work, *Gs = G + N * N, *Gt = Gs + N * N, *r = Gt + N * N;
    simil(c->in[1], N, kd_rel_d(&c->in_shape[1]), G, Gt, r);
    simil(c->in[0], N, kd_rel_d(&c->in_shape[0]), G, Gs, r);
    double L = 0;
    for (int64_t i = 0; i < N * N; i++) L += (Gs[i] - Gt[i]) * (Gs[i] - Gt[i]);
    c->out[0] = (float)(L / ((double)N * (double)N));
}

static void backward(kd_op_ctx *c)
{
    float *ds = c->grad_in[0];
    if (!ds) return;
    int64_t N = c->in_shape[0].dims[0], D = kd_rel_d(&c->in_shape[0]);
    double *G = c->work, *Gs = G + N * N, *Gt = Gs + N * N, *dG = Gt + N * N, *r = dG + N * N;
    simil(c->in[1], N, kd_rel_d(&c->in_shape[1]), G, Gt, r);
    simil(c->in[0], N, D, G, Gs, r);
    double g = 2 * c->grad_out[0] / ((double)N * (double)N);
    for (int64_t i = 0; i < N; i++) {
        double *d = dG + i * N;
        /* dG_i = (dGn_i - (dGn_i . gn_i) gn_i) / r_i, dGn = g (Gs - Gt) */
        double dot = 0;
        for (int64_t j = 0; j < N; j++) dot += g * (Gs[i * N + j] - Gt[i * N + j]) * Gs[i * N + j];
        double ri = r[i];
        for (int64_t j = 0; j < N; j++)
            d[j] = ri > 1e-12 ? (g * (Gs[i * N + j] - Gt[i * N + j]) - dot * Gs[i * N + j]) / ri
                              : g * (Gs[i * N + j] - Gt[i * N + j]) / ri;
    }
    const float *x = c->in[0];
    for (int64_t i = 0; i < N; i++)
        for (int64_t k = 0; k < D; k++) {
            double s = 0;
            for (int64_t j = 0; j < N; j++) s += (dG[i * N + j] + dG[j * N + i]) * x[j * D + k];
            ds[i * D + k] += (float)s;
        }
}

static const kd_input_spec inputs[] = {
    {.name = "student", .shape = "[N, ...] activations (rows)"},
    {.name = "teacher", .shape = "[N, ...] activations, no gradient"},
    {NULL}};

const kd_op_def kd_op_sp = {
    .name = "sp", .min_inputs = 2, .max_inputs = 2, .nograd = 1u << 1,
    .infer = infer, .workspace = workspace,
    .forward = forward, .backward = backward,
    .use = KD_USE_LOSS,
    .doc = "similarity-preserving KD: squared distance of row-normalised batch similarity matrices",
    .inputs = inputs,
};
