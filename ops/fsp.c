/* fsp.c — the flow of solution procedure (Yim et al., CVPR 2017): match the
 * student's FSP matrix between two layers to the teacher's.
 *
 * Shapes: a [N, C1, H, W] and b [N, C2, H, W] the student's two layers (one
 * spatial size), ta [N, C1, H', W'] and tb [N, C2, H', W'] the teacher's (no
 * gradient; the channel counts must match the student's, the spatial size
 * need not); out scalar.
 *   G(F1, F2)_ij = 1/(H W) sum_hw F1_i,hw F2_j,hw         [C1, C2]
 *   L = 1/(N C1 C2) sum_n |G(a, b) - G(ta, tb)|^2
 * (the paper's squared L2 distance per pair of layers, averaged over the
 * batch and the matrix entries: the scale RepDistiller's weight 50 is for).
 * Gradient, with dG = 2 (Gs - Gt) / (N C1 C2):
 *   da_i = 1/(H W) sum_j dG_ij b_j,  db_j = 1/(H W) sum_i dG_ij a_i.
 * Samples in parallel, each into its own per-sample partial; in double. */
#include "kd_rel.h"

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    char x[128], y[128];
    for (int i = 0; i < 4; i++)
        if (c->in_shape[i].ndim != 4) return kd_err_rank(err, n, "fsp", 4, "[N, C, H, W]", &c->in_shape[i]);
    const kd_shape *a = &c->in_shape[0], *b = &c->in_shape[1], *ta = &c->in_shape[2], *tb = &c->in_shape[3];
    if (a->dims[0] != b->dims[0] || a->dims[2] != b->dims[2] || a->dims[3] != b->dims[3])
        return kd_err(err, n, "fsp expects the student's two layers with one batch and spatial size, got %s and %s",
                      kd_shape_str(a, x, sizeof x), kd_shape_str(b, y, sizeof y));
    if (ta->dims[0] != tb->dims[0] || ta->dims[2] != tb->dims[2] || ta->dims[3] != tb->dims[3])
        return kd_err(err, n, "fsp expects the teacher's two layers with one batch and spatial size, got %s and %s",
                      kd_shape_str(ta, x, sizeof x), kd_shape_str(tb, y, sizeof y));
    if (ta->dims[0] != a->dims[0] || ta->dims[1] != a->dims[1] || tb->dims[1] != b->dims[1])
        return kd_err(err, n, "fsp expects the teacher's layers with the student's batch and channels, got %s and %s",
                      kd_shape_str(ta, x, sizeof x), kd_shape_str(tb, y, sizeof y));
    c->out_shape = kd_scalar();
    return 0;
}

static size_t workspace(const kd_op_ctx *c)
{
    size_t N = (size_t)c->in_shape[0].dims[0];
    return sizeof(double) * N * (size_t)(2 * c->in_shape[0].dims[1] * c->in_shape[1].dims[1] + 1);
}

static void fspm(const float *f1, const float *f2, int64_t C1, int64_t C2, int64_t P, double *G)
{
    for (int64_t i = 0; i < C1; i++)
        for (int64_t j = 0; j < C2; j++) {
            double s = 0;
            for (int64_t k = 0; k < P; k++) s += (double)f1[i * P + k] * f2[j * P + k];
            G[i * C2 + j] = s / (double)P;
        }
}

/* sample n: Gs - Gt into D; returns the squared norm */
static double diff(const kd_op_ctx *c, int64_t n, double *Gs, double *Gt)
{
    const kd_shape *a = &c->in_shape[0], *ta = &c->in_shape[2];
    int64_t C1 = a->dims[1], C2 = c->in_shape[1].dims[1];
    int64_t P = a->dims[2] * a->dims[3], Q = ta->dims[2] * ta->dims[3];
    fspm(c->in[0] + n * C1 * P, c->in[1] + n * C2 * P, C1, C2, P, Gs);
    fspm(c->in[2] + n * C1 * Q, c->in[3] + n * C2 * Q, C1, C2, Q, Gt);
    double s = 0;
    for (int64_t i = 0; i < C1 * C2; i++) {
        Gs[i] -= Gt[i];
        s += Gs[i] * Gs[i];
    }
    return s;
}

static void forward(kd_op_ctx *c)
{
    const kd_shape *a = &c->in_shape[0];
    int64_t N = a->dims[0], M = a->dims[1] * c->in_shape[1].dims[1];
    double *row = c->work, *w = row + N;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1)
    for (int64_t n = 0; n < N; n++) row[n] = diff(c, n, w + 2 * n * M, w + (2 * n + 1) * M);
    double L = 0;
    for (int64_t n = 0; n < N; n++) L += row[n];
    c->out[0] = (float)(L / ((double)N * (double)M));
}

static void backward(kd_op_ctx *c)
{
    float *da = c->grad_in[0], *db = c->grad_in[1];
    if (!da && !db) return;
    const kd_shape *a = &c->in_shape[0];
    int64_t N = a->dims[0], C1 = a->dims[1], C2 = c->in_shape[1].dims[1], M = C1 * C2;
    int64_t P = a->dims[2] * a->dims[3];
    double g = 2 * c->grad_out[0] / ((double)N * (double)M) / (double)P;
    double *w = (double *)c->work + N;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1)
    for (int64_t n = 0; n < N; n++) {
        double *D = w + 2 * n * M;
        diff(c, n, D, w + (2 * n + 1) * M);
        const float *f1 = c->in[0] + n * C1 * P, *f2 = c->in[1] + n * C2 * P;
        if (da)
            for (int64_t i = 0; i < C1; i++)
                for (int64_t k = 0; k < P; k++) {
                    double s = 0;
                    for (int64_t j = 0; j < C2; j++) s += D[i * C2 + j] * f2[j * P + k];
                    da[(n * C1 + i) * P + k] += (float)(g * s);
                }
        if (db)
            for (int64_t j = 0; j < C2; j++)
                for (int64_t k = 0; k < P; k++) {
                    double s = 0;
                    for (int64_t i = 0; i < C1; i++) s += D[i * C2 + j] * f1[i * P + k];
                    db[(n * C2 + j) * P + k] += (float)(g * s);
                }
    }
}

static const kd_input_spec inputs[] = {
    {.name = "a", .shape = "[N, C1, H, W] the student's first layer"},
    {.name = "b", .shape = "[N, C2, H, W] the student's second layer"},
    {.name = "ta", .shape = "[N, C1, H', W'] the teacher's first layer, no gradient"},
    {.name = "tb", .shape = "[N, C2, H', W'] the teacher's second layer, no gradient"},
    {NULL}};

const kd_op_def kd_op_fsp = {
    .name = "fsp", .min_inputs = 4, .max_inputs = 4, .nograd = (1u << 2) | (1u << 3),
    .infer = infer, .workspace = workspace,
    .forward = forward, .backward = backward,
    .use = KD_USE_LOSS,
    .doc = "flow of solution procedure: mean squared distance of the two nets' FSP (Gram) matrices",
    .inputs = inputs,
};
