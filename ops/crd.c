/* crd.c — contrastive representation distillation (Tian et al., ICLR 2020):
 * NCE with a memory bank of negatives, in both directions.
 *
 * Shapes: s [B, D] the student's embedding, t [B, D] the teacher's
 * embedding (both before normalisation: the outputs of the linear heads),
 * index [B] each row's index in the training split (floats holding
 * integers; no gradient); out scalar.  State: bank_s [n, D], bank_t [n, D]
 * (the memory banks of normalised student and teacher embeddings, one row
 * per training sample) and [3] = {initialised, Z_s, Z_t}.
 *
 *   v_s = s / |s|,  v_t = t / |t|                        (per row)
 *   k_i0 = index_i,  k_ij = a uniform draw over 0..n-1 (j = 1..K; kd_crd.h)
 *   P^s_ij = exp(<v_s,i, bank_t[k_ij]> / T) / Z_s         (student anchor)
 *   P^t_ij = exp(<v_t,i, bank_s[k_ij]> / T) / Z_t         (teacher anchor)
 *   c = K / n (the noise's K P_n with P_n = 1/n),  eps = 1e-7
 *   L(P) = -1/B sum_i [ log(P_i0 / (P_i0 + c + eps)) + sum_j>0 log(c / (P_ij + c + eps)) ]
 *   out = L(P^s) + L(P^t)
 * Z is the paper's normalising constant of the memory-bank NCE (Wu et al.
 * 2018), estimated once, on the first training batch, as n times the mean
 * of the exponentials (over all rows and K + 1 columns), then fixed (the
 * attribute z > 0 fixes it instead); a constant for the gradient.
 * Gradient: dL/dscore_i0 = -(c + eps) / (P_i0 + c + eps) / B,
 *   dL/dscore_ij = P_ij / (P_ij + c + eps) / B (j > 0), score = <v, m> / T,
 *   dv_s,i = sum_j dL/dscore^s_ij bank_t[k_ij] / T, then through the
 *   normalisation; likewise v_t against bank_s.
 * Training mode, after the scores: for each row in order,
 *   bank_s[index_i] = normalise(m bank_s[index_i] + (1 - m) v_s,i), likewise
 *   bank_t (m = momentum).  Backward uses the rows as they were before the
 *   update (saved), so the gradient is the one of the forward's value.
 * Before the first forward the banks are filled with uniform draws (kd_crd.h).
 * A row whose index is negative (padding) contributes nothing; an index
 * >= n makes the loss NaN (n must cover the training split: the runtime
 * refuses a smaller bank before the phase, runtime/index_input.c).
 * Rows in parallel, each row's sums in order; in double. */
#include <string.h>

#include "kd_crd.h"
#include "kd_rel.h"

enum { A_N, A_K, A_T, A_MOM, A_Z };
static const kd_attr_spec attrs[] = {
    {.name = "n", .type = KD_ATTR_INT, .def = 1, .min = 1, .max = 1 << 26, .required = 1,
     .doc = "rows of each memory bank: at least the training split's size"},
    {.name = "k", .type = KD_ATTR_INT, .def = 16384, .min = 1, .max = 1 << 20,
     .doc = "negatives drawn per row"},
    {.name = "T", .type = KD_ATTR_FLOAT, .def = 0.07, .min = 1e-3, .max = 100,
     .doc = "temperature of the scores"},
    {.name = "momentum", .type = KD_ATTR_FLOAT, .def = 0.5, .min = 0, .max = 1,
     .doc = "share of a bank row kept when its sample comes again"},
    {.name = "z", .type = KD_ATTR_FLOAT, .def = 0, .min = 0, .max = 1e30,
     .doc = "normalising constant; 0: estimated on the first training batch"},
    {0}};

#define CRD_EPS 1e-7

typedef struct lay {
    int64_t B, D, K, n, J;   /* J = K + 1 columns */
    float *vs, *vt, *rs, *rt, *olds, *oldt, *ps, *pt;
} lay;

static lay layout(const kd_op_ctx *c, float *saved)
{
    lay l;
    l.B = c->in_shape[0].dims[0];
    l.D = c->in_shape[0].dims[1];
    l.K = KD_A_INT(c, A_K);
    l.n = KD_A_INT(c, A_N);
    l.J = l.K + 1;
    l.vs = saved;
    l.vt = l.vs + l.B * l.D;
    l.rs = l.vt + l.B * l.D;
    l.rt = l.rs + l.B;
    l.olds = l.rt + l.B;
    l.oldt = l.olds + l.B * l.D;
    l.ps = l.oldt + l.B * l.D;
    l.pt = l.ps + l.B * l.J;
    return l;
}

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    char a[128], b[128], x[128];
    const kd_shape *s = &c->in_shape[0], *t = &c->in_shape[1], *ix = &c->in_shape[2];
    if (s->ndim != 2 || !kd_shape_eq(s, t))
        return kd_err(err, n, "crd expects embeddings [B, D] of the same shape, got %s and %s",
                      kd_shape_str(s, a, sizeof a), kd_shape_str(t, b, sizeof b));
    if (ix->ndim != 1 || ix->dims[0] != s->dims[0])
        return kd_err(err, n, "crd expects the indices [B] of the embeddings' rows, got %s for %s",
                      kd_shape_str(ix, x, sizeof x), kd_shape_str(s, a, sizeof a));
    int64_t rows = KD_A_INT(c, A_N), D = s->dims[1], B = s->dims[0], J = KD_A_INT(c, A_K) + 1;
    info->nstate = 3;
    info->state_shape[0] = info->state_shape[1] = kd_shape_make(2, (const int64_t[]){ rows, D });
    info->state_shape[2] = kd_sh1(3);
    info->saved_floats = (size_t)(4 * B * D + 2 * B + 2 * B * J);
    c->out_shape = kd_scalar();
    return 0;
}

static size_t workspace(const kd_op_ctx *c)
{
    size_t B = (size_t)c->in_shape[0].dims[0], D = (size_t)c->in_shape[0].dims[1];
    size_t pos = ((size_t)KD_A_INT(c, A_N) * sizeof(int32_t) + 63) / 64 * 64;
    return pos + sizeof(double) * B * 2 * D;
}

static int64_t row_index(const kd_op_ctx *c, int64_t i) { return (int64_t)c->in[2][i]; }

/* bank row of k at forward time: the saved row when k is an index of the batch */
static const float *bank_row(const float *bank, const float *old, const int32_t *pos, int64_t k, int64_t D)
{
    return pos && pos[k] >= 0 ? old + (int64_t)pos[k] * D : bank + k * D;
}

/* exp(<v_i, bank[k_ij]> / T) for j = 0..K into p[i*J ..] */
static void scores(const kd_op_ctx *c, const lay *l, int64_t i, const float *v, const float *bank, float *p)
{
    double T = KD_A_FLT(c, A_T);
    int64_t idx = row_index(c, i);
    for (int64_t j = 0; j < l->J; j++) {
        int64_t k = j == 0 ? idx : kd_crd_neg(c->seed, c->step, i, j - 1, l->K, l->n);
        const float *m = bank + k * l->D, *vi = v + i * l->D;
        double d = 0;
        for (int64_t e = 0; e < l->D; e++) d += (double)vi[e] * m[e];
        p[i * l->J + j] = (float)exp(d / T);
    }
}

/* the row's NCE terms; p holds exp / Z after the division */
static double nce_row(const lay *l, const float *p, int64_t i)
{
    double cn = (double)l->K / (double)l->n, L = 0;
    const float *q = p + i * l->J;
    L += log((double)q[0] / ((double)q[0] + cn + CRD_EPS));
    for (int64_t j = 1; j < l->J; j++) L += log(cn / ((double)q[j] + cn + CRD_EPS));
    return -L;
}

static void forward(kd_op_ctx *c)
{
    lay l = layout(c, c->saved);
    float *bs = c->state[0], *bt = c->state[1], *st = c->state[2];
    const float *s = c->in[0], *t = c->in[1];
    int par = c->nthreads > 1 && l.B * l.J * l.D > KD_OMP_MIN;
    if (st[0] == 0) {   /* the banks before any update: a function of the seed only */
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && l.n * l.D > KD_OMP_MIN)
        for (int64_t r = 0; r < l.n; r++)
            for (int64_t e = 0; e < l.D; e++) {
                bs[r * l.D + e] = kd_crd_bank0(c->seed, 0, r * l.D + e, l.D);
                bt[r * l.D + e] = kd_crd_bank0(c->seed, 1, r * l.D + e, l.D);
            }
        st[0] = 1;
    }
    int bad = 0;
    for (int64_t i = 0; i < l.B; i++)
        if (row_index(c, i) >= l.n) bad = 1;
    if (bad) { c->out[0] = NAN; return; }
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (par)
    for (int64_t i = 0; i < l.B; i++) {
        double ss = 0, tt = 0;
        for (int64_t e = 0; e < l.D; e++) {
            ss += (double)s[i * l.D + e] * s[i * l.D + e];
            tt += (double)t[i * l.D + e] * t[i * l.D + e];
        }
        double rs = sqrt(ss) < 1e-12 ? 1e-12 : sqrt(ss), rt = sqrt(tt) < 1e-12 ? 1e-12 : sqrt(tt);
        l.rs[i] = (float)rs;
        l.rt[i] = (float)rt;
        for (int64_t e = 0; e < l.D; e++) {
            l.vs[i * l.D + e] = (float)(s[i * l.D + e] / rs);
            l.vt[i * l.D + e] = (float)(t[i * l.D + e] / rt);
        }
        if (row_index(c, i) < 0) {
            for (int64_t j = 0; j < l.J; j++) l.ps[i * l.J + j] = l.pt[i * l.J + j] = 0;
            continue;
        }
        scores(c, &l, i, l.vs, bt, l.ps);
        scores(c, &l, i, l.vt, bs, l.pt);
    }
    /* the normalising constants */
    double z[2];
    for (int d = 0; d < 2; d++) {
        z[d] = KD_A_FLT(c, A_Z) > 0 ? KD_A_FLT(c, A_Z) : st[1 + d];
        if (z[d] > 0) continue;
        const float *p = d ? l.pt : l.ps;
        double sum = 0;
        int64_t rows = 0;
        for (int64_t i = 0; i < l.B; i++) {
            if (row_index(c, i) < 0) continue;
            rows++;
            for (int64_t j = 0; j < l.J; j++) sum += p[i * l.J + j];
        }
        z[d] = rows ? sum / (double)(rows * l.J) * (double)l.n : 1;
        if (c->training) st[1 + d] = (float)z[d];
        z[d] = (float)z[d];
    }
    double L = 0;
    for (int64_t i = 0; i < l.B; i++) {
        if (row_index(c, i) < 0) continue;
        for (int64_t j = 0; j < l.J; j++) {
            l.ps[i * l.J + j] = (float)(l.ps[i * l.J + j] / z[0]);
            l.pt[i * l.J + j] = (float)(l.pt[i * l.J + j] / z[1]);
        }
        L += nce_row(&l, l.ps, i) + nce_row(&l, l.pt, i);
    }
    c->out[0] = (float)(L / (double)l.B);
    /* the rows of the batch as they were, then the momentum update */
    for (int64_t i = 0; i < l.B; i++) {
        int64_t k = row_index(c, i);
        if (k < 0) continue;
        memcpy(l.olds + i * l.D, bs + k * l.D, sizeof(float) * (size_t)l.D);
        memcpy(l.oldt + i * l.D, bt + k * l.D, sizeof(float) * (size_t)l.D);
    }
    if (!c->training) return;
    double mom = KD_A_FLT(c, A_MOM);
    for (int64_t i = 0; i < l.B; i++) {
        int64_t k = row_index(c, i);
        if (k < 0) continue;
        for (int b = 0; b < 2; b++) {
            float *m = (b ? bt : bs) + k * l.D;
            const float *v = (b ? l.vt : l.vs) + i * l.D;
            double ss = 0;
            for (int64_t e = 0; e < l.D; e++) {
                double x = mom * m[e] + (1 - mom) * v[e];
                ss += x * x;
            }
            double r = sqrt(ss) < 1e-12 ? 1e-12 : sqrt(ss);
            for (int64_t e = 0; e < l.D; e++) m[e] = (float)((mom * m[e] + (1 - mom) * v[e]) / r);
        }
    }
}

static void backward(kd_op_ctx *c)
{
    lay l = layout(c, c->saved);
    float *ds = c->grad_in[0], *dt = c->grad_in[1];
    if (!ds && !dt) return;
    const float *bs = c->state[0], *bt = c->state[1];
    int32_t *pos = c->work;
    size_t off = ((size_t)l.n * sizeof(int32_t) + 63) / 64 * 64;
    double *du = (double *)((char *)c->work + off);
    for (int64_t k = 0; k < l.n; k++) pos[k] = -1;
    for (int64_t i = 0; i < l.B; i++) {
        int64_t k = row_index(c, i);
        if (k >= 0 && k < l.n && pos[k] < 0) pos[k] = (int32_t)i;
    }
    double T = KD_A_FLT(c, A_T), g = c->grad_out[0] / (double)l.B, cn = (double)l.K / (double)l.n;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && l.B * l.J * l.D > KD_OMP_MIN)
    for (int64_t i = 0; i < l.B; i++) {
        int64_t idx = row_index(c, i);
        if (idx < 0 || idx >= l.n) continue;
        for (int d = 0; d < 2; d++) {
            float *dx = d ? dt : ds;
            if (!dx) continue;
            const float *p = (d ? l.pt : l.ps) + i * l.J, *bank = d ? bs : bt, *old = d ? l.olds : l.oldt;
            double *u = du + i * 2 * l.D, *dv = u + l.D;
            for (int64_t e = 0; e < l.D; e++) dv[e] = 0, u[e] = (d ? l.vt : l.vs)[i * l.D + e];
            for (int64_t j = 0; j < l.J; j++) {
                int64_t k = j == 0 ? idx : kd_crd_neg(c->seed, c->step, i, j - 1, l.K, l.n);
                double q = p[j];
                double gs = j == 0 ? -(cn + CRD_EPS) / (q + cn + CRD_EPS) : q / (q + cn + CRD_EPS);
                gs *= g / T;
                const float *m = bank_row(bank, old, pos, k, l.D);
                for (int64_t e = 0; e < l.D; e++) dv[e] += gs * m[e];
            }
            kd_rel_unit_back(u, dv, (double)(d ? l.rt : l.rs)[i], l.D, dx + i * l.D);
        }
    }
}

static const kd_input_spec inputs[] = {
    {.name = "student", .shape = "[B, D] the student's embedding (a linear head's output)"},
    {.name = "teacher", .shape = "[B, D] the teacher's embedding (a linear head's output)"},
    {.name = "index", .shape = "[B] each row's index in the training split (`index`)"},
    {NULL}};

const kd_op_def kd_op_crd = {
    .name = "crd", .min_inputs = 3, .max_inputs = 3, .nograd = 1u << 2,
    .attrs = attrs, .infer = infer, .workspace = workspace,
    .forward = forward, .backward = backward,
    .use = KD_USE_LOSS,
    .doc = "contrastive representation distillation: NCE against memory banks of both nets' embeddings",
    .inputs = inputs,
};
