/* kd_kl.h — private: the KL divergence of tempered softmaxes that kl and kd
 * share (kd is T^2 times kl, Hinton et al.).
 *
 * Shapes: s [N, K] learner logits, t [N, K] target logits (no gradient);
 * out scalar.  ps = softmax(s/T), pt = softmax(t/T):
 *   kl = (1/N) sum_n sum_k pt (log pt - log ps)   (KL(pt || ps), 0 log 0 = 0)
 *   ds += (ps - pt) dL / (T N)
 * and kd = T^2 kl, so ds += T (ps - pt) dL / N.  The caller passes the
 * factor of the loss (1 or T^2) and of the gradient (1/(T N) or T/N, each
 * written as the op always wrote it, so results stay bit-identical).
 * Rows in parallel into per-row partials, summed serially. */
#ifndef KD_KL_H
#define KD_KL_H
#include "kd_ops_util.h"

static inline int kl_infer_as(kd_op_ctx *c, const char *op, char *err, size_t n)
{
    if (c->in_shape[0].ndim != 2)
        return kd_err_rank(err, n, op, 2, "logits [N, K]", &c->in_shape[0]);
    if (kd_check_same(c, 2, op, err, n)) return -1;
    c->out_shape = kd_scalar();
    return 0;
}

/* the maxima of s/T and t/T over a row (m*), and the sums of exp(x/T - m*) */
static inline void kl_row_sums(const float *s, const float *t, int64_t K, double T,
                               double *ms, double *mt, double *ss, double *st)
{
    double a = s[0] / T, b = t[0] / T;
    for (int64_t k = 1; k < K; k++) {
        a = s[k] / T > a ? s[k] / T : a;
        b = t[k] / T > b ? t[k] / T : b;
    }
    double x = 0, y = 0;
    for (int64_t k = 0; k < K; k++) {
        x += exp(s[k] / T - a);
        y += exp(t[k] / T - b);
    }
    *ms = a, *mt = b, *ss = x, *st = y;
}

/* out = scale * (sum over rows of KL(pt || ps)) / N */
static inline void kl_forward_scaled(kd_op_ctx *c, double T, double scale)
{
    int64_t N = c->in_shape[0].dims[0], K = c->in_shape[0].dims[1];
    double *row = c->work;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && N * K > KD_OMP_MIN)
    for (int64_t i = 0; i < N; i++) {
        const float *s = c->in[0] + i * K, *t = c->in[1] + i * K;
        double acc = 0;
        /* two passes of K each, no scratch: compute both log-sum-exps first */
        double ms, mt, ss, st;
        kl_row_sums(s, t, K, T, &ms, &mt, &ss, &st);
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
    c->out[0] = (float)(scale * tot / (double)N);
}

/* ds += k (ps - pt), k the whole factor (dL, 1/N and the temperature) */
static inline void kl_backward_scaled(kd_op_ctx *c, double T, double k)
{
    float *ds = c->grad_in[0];
    if (!ds) return;
    int64_t N = c->in_shape[0].dims[0], K = c->in_shape[0].dims[1];
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && N * K > KD_OMP_MIN)
    for (int64_t i = 0; i < N; i++) {
        const float *s = c->in[0] + i * K, *t = c->in[1] + i * K;
        double ms, mt, ss, st;
        kl_row_sums(s, t, K, T, &ms, &mt, &ss, &st);
        for (int64_t j = 0; j < K; j++) {
            double ps = exp(s[j] / T - ms) / ss, pt = exp(t[j] / T - mt) / st;
            ds[i * K + j] += (float)(k * (ps - pt));
        }
    }
}
#endif
