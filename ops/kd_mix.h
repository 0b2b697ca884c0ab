/* kd_mix.h — the weighted sum of K same-shape candidates shared by the
 * search mixtures (aggregate, choice; private to ops/).  Candidates are
 * c->in[first .. first+K-1], the architecture parameter alpha [K] is the
 * slot right after them (grad c->grad_in[first + K]); w = the mixture's
 * weights (softmax of alpha, or of (alpha + noise) / tau).
 *   y = sum_k w_k x_k
 *   dx_k += w_k dy;  dalpha_k += dz w_k (g_k - sum_j w_j g_j), g_k = <dy, x_k>
 * where dz is d(softmax input)/d(alpha) (1, or 1/tau).  The K dot products
 * are deterministic block sums (kd_loss.h). */
#ifndef KD_MIX_H
#define KD_MIX_H
#include "kd_loss.h"

static inline void kd_mix_forward(kd_op_ctx *c, int first, int K, const double *w)
{
    float wf[16];
    for (int k = 0; k < K; k++) wf[k] = (float)w[k];
    float *y = c->out;
    int64_t n = kd_shape_numel(&c->in_shape[first]);
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && n > KD_OMP_MIN)
    for (int64_t i = 0; i < n; i++) {
        float s = 0;
        for (int k = 0; k < K; k++) s += wf[k] * c->in[first + k][i];
        y[i] = s;
    }
}

static inline void kd_mix_backward(kd_op_ctx *c, int first, int K, const double *w, double dz)
{
    double gk[16], gw = 0;
    int64_t n = kd_shape_numel(&c->in_shape[first]);
    const float *g = c->grad_out;
    for (int k = 0; k < K; k++) {
        float *d = c->grad_in[first + k];
        if (!d) continue;
        float wk = (float)w[k];
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && n > KD_OMP_MIN)
        for (int64_t i = 0; i < n; i++) d[i] += wk * g[i];
    }
    float *da = c->grad_in[first + K];
    if (!da) return;
    for (int k = 0; k < K; k++) {
        const float *x = c->in[first + k];
        KD_BLOCK_SUM(c, n, gk[k], (double)g[i] * x[i]);
        gw += w[k] * gk[k];
    }
    for (int k = 0; k < K; k++) da[k] += (float)(dz * w[k] * (gk[k] - gw));
}
#endif
