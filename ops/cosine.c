/* cosine.c — cosine-distance loss between rows.  a, b [N, ...] same shape,
 * read as [N, D].  na = max(|a_n|, 1e-8), nb likewise, c_n = <a_n, b_n>/(na nb);
 * L = (1/N) sum_n (1 - c_n);
 * da_n += -(dL/N) (b_n/(na nb) - c_n a_n/na^2), db_n symmetric.
 * Rows in parallel into per-row partials, summed serially. */
#define KD_LOSS_NAME "cosine"
#include "kd_loss.h"

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    if (c->in_shape[0].ndim < 1) return kd_err_rank(err, n, "cosine", 2, "[N, D]", &c->in_shape[0]);
    if (kd_check_same(c, 2, "cosine", err, n)) return -1;
    c->out_shape = kd_scalar();
    return 0;
}

static size_t workspace(const kd_op_ctx *c)
{
    return sizeof(double) * (size_t)c->in_shape[0].dims[0];
}

static void row_stats(const float *a, const float *b, int64_t D, double *ab, double *na, double *nb)
{
    double s = 0, x = 0, y = 0;
    for (int64_t j = 0; j < D; j++) {
        s += (double)a[j] * b[j];
        x += (double)a[j] * a[j];
        y += (double)b[j] * b[j];
    }
    *ab = s;
    *na = fmax(sqrt(x), 1e-8);
    *nb = fmax(sqrt(y), 1e-8);
}

static void forward(kd_op_ctx *c)
{
    int64_t N = c->in_shape[0].dims[0], D = kd_shape_numel(&c->in_shape[0]) / (N ? N : 1);
    double *row = c->work;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && N * D > KD_OMP_MIN)
    for (int64_t i = 0; i < N; i++) {
        double ab, na, nb;
        row_stats(c->in[0] + i * D, c->in[1] + i * D, D, &ab, &na, &nb);
        row[i] = 1.0 - ab / (na * nb);
    }
    double t = 0;
    for (int64_t i = 0; i < N; i++) t += row[i];
    c->out[0] = (float)(t / (double)N);
}

static void backward(kd_op_ctx *c)
{
    int64_t N = c->in_shape[0].dims[0], D = kd_shape_numel(&c->in_shape[0]) / (N ? N : 1);
    double k = -c->grad_out[0] / (double)N;
    float *da = c->grad_in[0], *db = c->grad_in[1];
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && N * D > KD_OMP_MIN)
    for (int64_t i = 0; i < N; i++) {
        const float *a = c->in[0] + i * D, *b = c->in[1] + i * D;
        double ab, na, nb;
        row_stats(a, b, D, &ab, &na, &nb);
        double cs = ab / (na * nb);
        for (int64_t j = 0; j < D; j++) {
            if (da) da[i * D + j] += (float)(k * (b[j] / (na * nb) - cs * a[j] / (na * na)));
            if (db) db[i * D + j] += (float)(k * (a[j] / (na * nb) - cs * b[j] / (nb * nb)));
        }
    }
}

static const kd_input_spec inputs[] = {
    {.name = "a", .shape = "[N, ...]"},
    {.name = "b", .shape = "the shape of a"},
    {NULL}};

const kd_op_def kd_op_cosine = {
    .name = "cosine", .min_inputs = 2, .max_inputs = 2,
    .infer = infer, .workspace = workspace, .forward = forward, .backward = backward,
    .use = KD_USE_LOSS,
    .doc = "1 - cosine similarity, averaged over the batch",
    .inputs = inputs,
};
