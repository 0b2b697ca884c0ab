/* dkd.c — decoupled knowledge distillation (Zhao et al., CVPR 2022), mean
 * over the batch.
 *
 * Shapes: s [N, K] student logits, t [N, K] teacher logits (no gradient),
 * y [N] integer class labels (no gradient); K >= 2; out scalar.
 * With p = softmax(s/T), q = softmax(t/T) and y the label of a row:
 *   TCKD = KL([q_y, 1 - q_y] || [p_y, 1 - p_y])           (target class)
 *   NCKD = KL(q^ || p^),  p^_k = p_k / (1 - p_y), k != y   (the other classes,
 *          renormalised: the softmax of the non-target logits)
 *   L = T^2 (1/N) sum_n (alpha TCKD + beta NCKD)
 * Hinton's KD is TCKD + (1 - p_y) NCKD; DKD weighs the two terms freely.
 * Gradient, with u = s/T (ds = du / T):
 *   dTCKD/du_k = (p_y - q_y) (1 - p_y) / (1 - p_y) = p_y - q_y     k = y
 *              = -(p_y - q_y) p^_k                                k != y
 *   dNCKD/du_k = p^_k - q^_k (k != y), 0 (k = y)
 *   ds_k += T (alpha dTCKD/du_k + beta dNCKD/du_k) dL / N
 * Log-probabilities come from log-sum-exps over all classes and over the
 * non-target ones (log(1 - p_y) never subtracts two probabilities).  A label
 * that is not an integer in [0, K) makes the loss and gradient NaN (as ce).
 * Rows in parallel into per-row partials, summed serially. */
#include "kd_ops_util.h"

enum { A_ALPHA, A_BETA, A_T };
static const kd_attr_spec attrs[] = {
    {.name = "alpha", .type = KD_ATTR_FLOAT, .def = 1, .min = 0, .max = 1e3,
     .doc = "weight of the target-class term (TCKD)"},
    {.name = "beta", .type = KD_ATTR_FLOAT, .def = 8, .min = 0, .max = 1e3,
     .doc = "weight of the non-target-class term (NCKD)"},
    {.name = "T", .type = KD_ATTR_FLOAT, .def = 4, .min = 1e-3, .max = 1e3,
     .doc = "temperature of both softmaxes"},
    {0}};

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    const kd_shape *s = &c->in_shape[0];
    char a[128];
    if (s->ndim != 2) return kd_err_rank(err, n, "dkd", 2, "logits [N, K]", s);
    if (kd_check_same(c, 2, "dkd", err, n)) return -1;
    if (s->dims[1] < 2)
        return kd_err(err, n, "dkd needs at least 2 classes, got logits %s",
                      kd_shape_str(s, a, sizeof a));
    if (kd_check_labels(s, &c->in_shape[2], "dkd", err, n)) return -1;
    c->out_shape = kd_scalar();
    return 0;
}

/* log-sum-exp of x/T over all k (all) and over k != y (rest), each shifted
 * by its own maximum: with the overall one, a target logit far above the
 * others underflows every term of the rest to 0 and log(0) made the loss
 * NaN */
static void lse2(const float *x, int64_t K, int y, double T, double *all, double *rest)
{
    double m = x[0] / T, mr = -INFINITY;
    for (int64_t k = 0; k < K; k++) {
        m = x[k] / T > m ? x[k] / T : m;
        if (k != y && x[k] / T > mr) mr = x[k] / T;
    }
    double sa = 0, sr = 0;
    for (int64_t k = 0; k < K; k++) {
        sa += exp(x[k] / T - m);
        if (k != y) sr += exp(x[k] / T - mr);
    }
    *all = m + log(sa);
    *rest = mr + log(sr);
}

static void forward(kd_op_ctx *c)
{
    int64_t N = c->in_shape[0].dims[0], K = c->in_shape[0].dims[1];
    double alpha = KD_A_FLT(c, A_ALPHA), beta = KD_A_FLT(c, A_BETA), T = KD_A_FLT(c, A_T);
    double *row = c->work;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && N * K > KD_OMP_MIN)
    for (int64_t i = 0; i < N; i++) {
        const float *s = c->in[0] + i * K, *t = c->in[1] + i * K;
        int y = kd_label_of(c->in[2][i], K);
        if (y < 0) {
            row[i] = NAN;
            continue;
        }
        double las, lrs, lat, lrt;
        lse2(s, K, y, T, &las, &lrs);
        lse2(t, K, y, T, &lat, &lrt);
        /* target class: log p_y, log (1 - p_y) and the teacher's */
        double lps = s[y] / T - las, l1ps = lrs - las, lqt = t[y] / T - lat, l1qt = lrt - lat;
        double tckd = exp(lqt) * (lqt - lps) + exp(l1qt) * (l1qt - l1ps);
        double nckd = 0;
        for (int64_t k = 0; k < K; k++) {
            if (k == y) continue;
            double lq = t[k] / T - lrt, lp = s[k] / T - lrs, q = exp(lq);
            if (q > 0) nckd += q * (lq - lp);
        }
        row[i] = alpha * tckd + beta * nckd;
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
    double alpha = KD_A_FLT(c, A_ALPHA), beta = KD_A_FLT(c, A_BETA), T = KD_A_FLT(c, A_T);
    double g = T * c->grad_out[0] / (double)N;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && N * K > KD_OMP_MIN)
    for (int64_t i = 0; i < N; i++) {
        const float *s = c->in[0] + i * K, *t = c->in[1] + i * K;
        float *d = ds + i * K;
        int y = kd_label_of(c->in[2][i], K);
        if (y < 0) {
            for (int64_t k = 0; k < K; k++) d[k] += NAN;
            continue;
        }
        double las, lrs, lat, lrt;
        lse2(s, K, y, T, &las, &lrs);
        lse2(t, K, y, T, &lat, &lrt);
        double dt = exp(s[y] / T - las) - exp(t[y] / T - lat);   /* p_y - q_y */
        for (int64_t k = 0; k < K; k++) {
            if (k == y) {
                d[k] += (float)(g * alpha * dt);
                continue;
            }
            double ph = exp(s[k] / T - lrs), qh = exp(t[k] / T - lrt);
            d[k] += (float)(g * (-alpha * dt * ph + beta * (ph - qh)));
        }
    }
}

static const kd_input_spec inputs[] = {
    {.name = "student", .shape = "[N, K] logits"},
    {.name = "teacher", .shape = "[N, K] logits, no gradient"},
    {.name = "label", .shape = "[N] class indices"},
    {NULL}};

const kd_op_def kd_op_dkd = {
    .name = "dkd", .min_inputs = 3, .max_inputs = 3, .nograd = (1u << 1) | (1u << 2),
    .attrs = attrs, .infer = infer, .workspace = kd_rows_workspace,
    .forward = forward, .backward = backward,
    .use = KD_USE_LOSS,
    .doc = "decoupled KD: T^2 * (alpha * target-class KL + beta * non-target-class KL)",
    .inputs = inputs,
};
