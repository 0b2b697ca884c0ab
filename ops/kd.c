/* kd.c — Hinton knowledge-distillation loss, mean over the batch.
 * Shapes: s [N, K] student logits, t [N, K] teacher logits (no gradient);
 * out scalar.  ps = softmax(s/T), pt = softmax(t/T):
 * L = T^2 (1/N) sum_n sum_k pt (log pt - log ps)   (KL(pt || ps), 0 log 0 = 0);
 * ds += T (ps - pt) dL / N.
 * Rows in parallel into per-row partials, summed serially. */
#define KD_LOSS_NAME "kd"
#include "kd_loss.h"

enum { A_T };
static const kd_attr_spec attrs[] = {
    {.name = "T", .type = KD_ATTR_FLOAT, .def = 4, .min = 1e-3, .max = 1e3},
    {0}};

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    if (c->in_shape[0].ndim != 2)
        return kd_err_rank(err, n, "kd", 2, "logits [N, K]", &c->in_shape[0]);
    if (kd_check_same(c, 2, "kd", err, n)) return -1;
    c->out_shape = kd_scalar();
    return 0;
}

static size_t workspace(const kd_op_ctx *c)
{
    return sizeof(double) * (size_t)c->in_shape[0].dims[0];
}


static void forward(kd_op_ctx *c)
{
    int64_t N = c->in_shape[0].dims[0], K = c->in_shape[0].dims[1];
    double T = KD_A_FLT(c, A_T);
    double *row = c->work;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && N * K > KD_OMP_MIN)
    for (int64_t i = 0; i < N; i++) {
        const float *s = c->in[0] + i * K, *t = c->in[1] + i * K;
        double acc = 0;
        /* two passes of K each, no scratch: compute both log-sum-exps first */
        double ms = s[0] / T, mt = t[0] / T;
        for (int64_t k = 1; k < K; k++) {
            ms = s[k] / T > ms ? s[k] / T : ms;
            mt = t[k] / T > mt ? t[k] / T : mt;
        }
        double ss = 0, st = 0;
        for (int64_t k = 0; k < K; k++) {
            ss += exp(s[k] / T - ms);
            st += exp(t[k] / T - mt);
        }
        double ls = log(ss) + ms, lt = log(st) + mt;
        for (int64_t k = 0; k < K; k++) {
            double lpt = t[k] / T - lt, lps = s[k] / T - ls;
            double pt = exp(lpt);
            if (pt > 0) acc += pt * (lpt - lps);
        }
        row[i] = acc;
    }
    double tot = 0;
    for (int64_t i = 0; i < N; i++) tot += row[i];
    c->out[0] = (float)(T * T * tot / (double)N);
}

static void backward(kd_op_ctx *c)
{
    float *ds = c->grad_in[0];
    if (!ds) return;
    int64_t N = c->in_shape[0].dims[0], K = c->in_shape[0].dims[1];
    double T = KD_A_FLT(c, A_T), k = T * c->grad_out[0] / (double)N;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && N * K > KD_OMP_MIN)
    for (int64_t i = 0; i < N; i++) {
        const float *s = c->in[0] + i * K, *t = c->in[1] + i * K;
        double ms = s[0] / T, mt = t[0] / T;
        for (int64_t j = 1; j < K; j++) {
            ms = s[j] / T > ms ? s[j] / T : ms;
            mt = t[j] / T > mt ? t[j] / T : mt;
        }
        double ss = 0, st = 0;
        for (int64_t j = 0; j < K; j++) {
            ss += exp(s[j] / T - ms);
            st += exp(t[j] / T - mt);
        }
        for (int64_t j = 0; j < K; j++) {
            double ps = exp(s[j] / T - ms) / ss, pt = exp(t[j] / T - mt) / st;
            ds[i * K + j] += (float)(k * (ps - pt));
        }
    }
}

const kd_op_def kd_op_kd = {
    .name = "kd", .min_inputs = 2, .max_inputs = 2, .nograd = 1u << 1,
    .attrs = attrs, .infer = infer, .workspace = workspace,
    .forward = forward, .backward = backward,
};
