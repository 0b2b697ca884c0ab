/* ce.c — cross-entropy on logits with label smoothing, mean over the batch.
 * Shapes: z [N, K] logits, y [N] class indices stored as floats (no
 * gradient); out scalar.  p = softmax(z), eps = smoothing,
 * q = (1 - eps) onehot(y) + eps/K.
 * L = -(1/N) sum_n sum_k q_nk log p_nk;   dz += (p - q) dL / N.
 * A label outside [0, K) makes the loss NaN (the runtime's NaN check
 * reports it) rather than reading out of bounds.
 * Rows are processed in parallel into per-row partials, summed serially. */
#define KD_LOSS_NAME "ce"
#include "kd_loss.h"

enum { A_SMOOTHING };
static const kd_attr_spec attrs[] = {
    {.name = "smoothing", .type = KD_ATTR_FLOAT, .def = 0, .min = 0, .max = 1,
     .doc = "label smoothing: weight of the uniform distribution"},
    {0}};

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    const kd_shape *z = &c->in_shape[0];
    if (z->ndim != 2) return kd_err_rank(err, n, "ce", 2, "logits [N, K]", z);
    if (kd_check_labels(z, &c->in_shape[1], "ce", err, n)) return -1;
    c->out_shape = kd_scalar();
    return 0;
}


static void forward(kd_op_ctx *c)
{
    int64_t N = c->in_shape[0].dims[0], K = c->in_shape[0].dims[1];
    double eps = KD_A_FLT(c, A_SMOOTHING);
    double *row = c->work;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && N * K > KD_OMP_MIN)
    for (int64_t i = 0; i < N; i++) {
        const float *z = c->in[0] + i * K;
        int y = kd_label_of(c->in[1][i], K);
        if (y < 0) {
            row[i] = NAN;
            continue;
        }
        float mx = z[0];
        for (int64_t k = 1; k < K; k++) mx = z[k] > mx ? z[k] : mx;
        double s = 0, sz = 0;
        for (int64_t k = 0; k < K; k++) {
            s += exp((double)z[k] - mx);
            sz += (double)z[k] - mx;
        }
        double lse = log(s); /* log-softmax_k = z_k - mx - lse */
        double nll = -((double)z[y] - mx - lse);
        double smooth = -(sz - (double)K * lse) / (double)K;
        row[i] = (1 - eps) * nll + eps * smooth;
    }
    double t = 0;
    for (int64_t i = 0; i < N; i++) t += row[i];
    c->out[0] = (float)(t / (double)N);
}

static void backward(kd_op_ctx *c)
{
    float *dz = c->grad_in[0];
    if (!dz) return;
    int64_t N = c->in_shape[0].dims[0], K = c->in_shape[0].dims[1];
    double eps = KD_A_FLT(c, A_SMOOTHING), k = c->grad_out[0] / (double)N;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && N * K > KD_OMP_MIN)
    for (int64_t i = 0; i < N; i++) {
        const float *z = c->in[0] + i * K;
        float *d = dz + i * K;
        int y = kd_label_of(c->in[1][i], K);
        if (y < 0) {
            for (int64_t j = 0; j < K; j++) d[j] += NAN;
            continue;
        }
        float mx = z[0];
        for (int64_t j = 1; j < K; j++) mx = z[j] > mx ? z[j] : mx;
        double s = 0;
        for (int64_t j = 0; j < K; j++) s += exp((double)z[j] - mx);
        for (int64_t j = 0; j < K; j++) {
            double p = exp((double)z[j] - mx) / s;
            double q = eps / (double)K + (j == y ? 1 - eps : 0);
            d[j] += (float)(k * (p - q));
        }
    }
}

static const kd_input_spec inputs[] = {
    {.name = "logits", .shape = "[N, K]"},
    {.name = "label", .shape = "[N] class indices"},
    {NULL}};

const kd_op_def kd_op_ce = {
    .name = "ce", .min_inputs = 2, .max_inputs = 2, .nograd = 1u << 1,
    .attrs = attrs, .infer = infer, .workspace = kd_rows_workspace,
    .forward = forward, .backward = backward,
    .use = KD_USE_LOSS,
    .doc = "cross-entropy of logits against integer labels, optional label smoothing",
    .inputs = inputs,
};
