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
 * In double; the products on cblas_dgemm. */
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
    size_t Ds = (size_t)kd_rel_d(&c->in_shape[0]), Dt = (size_t)kd_rel_d(&c->in_shape[1]);
    return sizeof(double) * (4 * N * N + 2 * N + (Ds > Dt ? Ds : Dt) * N + Ds * N);
}

/* G~ of the rows of xf into Gn, the norms of G's rows into r; x holds the
 * rows in double, G the Gram matrix */
static void simil(const float *xf, int64_t N, int64_t D, double *x, double *G, double *Gn, double *r)
{
    kd_rel_dbl(xf, N * D, x);
    kd_rel_abt(x, x, N, N, D, G);
    for (int64_t i = 0; i < N; i++) r[i] = kd_rel_unit_d(G + i * N, N, Gn + i * N);
}

typedef struct {
    double *G, *Gs, *Gt, *dG, *r, *x, *dx;
} sp_ws;

static sp_ws setup(const kd_op_ctx *c)
{
    int64_t N = c->in_shape[0].dims[0], Ds = kd_rel_d(&c->in_shape[0]), Dt = kd_rel_d(&c->in_shape[1]);
    sp_ws w;
    w.G = c->work;
    w.Gs = w.G + N * N;
    w.Gt = w.Gs + N * N;
    w.dG = w.Gt + N * N;
    w.r = w.dG + N * N;
    w.x = w.r + 2 * N;
    w.dx = w.x + N * (Ds > Dt ? Ds : Dt);
    simil(c->in[1], N, Dt, w.x, w.G, w.Gt, w.r + N);
    simil(c->in[0], N, Ds, w.x, w.G, w.Gs, w.r);   /* x keeps the student's rows */
    return w;
}

static void forward(kd_op_ctx *c)
{
    int64_t N = c->in_shape[0].dims[0];
    sp_ws w = setup(c);
    double L = 0;
    for (int64_t i = 0; i < N * N; i++) L += (w.Gs[i] - w.Gt[i]) * (w.Gs[i] - w.Gt[i]);
    c->out[0] = (float)(L / ((double)N * (double)N));
}

static void backward(kd_op_ctx *c)
{
    float *ds = c->grad_in[0];
    if (!ds) return;
    int64_t N = c->in_shape[0].dims[0], D = kd_rel_d(&c->in_shape[0]);
    sp_ws w = setup(c);
    double g = 2 * c->grad_out[0] / ((double)N * (double)N);
    for (int64_t i = 0; i < N; i++) {
        /* dG_i = (dGn_i - (dGn_i . gn_i) gn_i) / r_i, dGn = g (Gs - Gt) */
        const double *gs = w.Gs + i * N, *gt = w.Gt + i * N;
        double dot = 0, ri = w.r[i];
        for (int64_t j = 0; j < N; j++) dot += g * (gs[j] - gt[j]) * gs[j];
        if (ri <= 1e-12) dot = 0;
        for (int64_t j = 0; j < N; j++) w.dG[i * N + j] = (g * (gs[j] - gt[j]) - dot * gs[j]) / ri;
    }
    for (int64_t i = 0; i < N; i++)   /* dG + dG^T */
        for (int64_t j = 0; j <= i; j++) {
            double v = w.dG[i * N + j] + w.dG[j * N + i];
            w.dG[i * N + j] = w.dG[j * N + i] = v;
        }
    kd_rel_ab(w.dG, w.x, N, N, D, w.dx);
    for (int64_t i = 0; i < N * D; i++) ds[i] += (float)w.dx[i];
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
