/* rkd.c — relational knowledge distillation (Park et al., CVPR 2019): the
 * distance-wise and angle-wise potentials of a batch of embeddings.
 *
 * Shapes: s [N, ...] student embeddings, t [N, ...] teacher embeddings (no
 * gradient), each flattened to rows (the widths may differ); out scalar.
 * With d_ij = |x_i - x_j| and mu = the mean of d_ij over the N(N-1) pairs
 * i != j (per network), e^j_i = (x_i - x_j) / |x_i - x_j| (0 for i = j) and
 * h the Huber function (smooth L1, delta 1):
 *   L_D = 1/N^2 sum_ij h(ds_ij / mu_s - dt_ij / mu_t)
 *   L_A = 1/N^3 sum_jik h(<es^j_i, es^j_k> - <et^j_i, et^j_k>)
 *   L = distance * L_D + angle * L_A
 * Everything is computed from the Gram matrix P = X X^T (in double):
 * d_ij^2 = P_ii + P_jj - 2 P_ij and <e^j_i, e^j_k> = (P_ik - P_ij - P_kj +
 * P_jj) / (d_ij d_kj), so the angle term costs N^3, not N^3 D.  Backward
 * takes dL/dP through the same expressions and ends with
 * ds = (dP + dP^T) S.  Pairs at distance 0 (equal rows) have no direction:
 * their angles count as 0 and get no gradient.  Serial (N^3 work on
 * batches of a few hundred). */
#include "kd_rel.h"

enum { A_DIST, A_ANGLE };
static const kd_attr_spec attrs[] = {
    {.name = "distance", .type = KD_ATTR_FLOAT, .def = 25, .min = 0, .max = 1e6,
     .doc = "weight of the distance-wise term (the paper's lambda_D)"},
    {.name = "angle", .type = KD_ATTR_FLOAT, .def = 50, .min = 0, .max = 1e6,
     .doc = "weight of the angle-wise term (the paper's lambda_A)"},
    {0}};

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    if (kd_rel_check_batch(c, "rkd", 2, err, n)) return -1;
    c->out_shape = kd_scalar();
    return 0;
}

static size_t workspace(const kd_op_ctx *c)
{
    size_t N = (size_t)c->in_shape[0].dims[0];
    return sizeof(double) * 3 * N * N;
}

/* P = X X^T in double */
static void gram(const float *x, int64_t N, int64_t D, double *P)
{
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j <= i; j++) {
            double s = 0;
            for (int64_t k = 0; k < D; k++) s += (double)x[i * D + k] * x[j * D + k];
            P[i * N + j] = P[j * N + i] = s;
        }
}

static double dist(const double *P, int64_t N, int64_t i, int64_t j)
{
    double q = P[i * N + i] + P[j * N + j] - 2 * P[i * N + j];
    return i == j || q <= 0 ? 0 : sqrt(q);
}

static double mean_dist(const double *P, int64_t N)
{
    if (N < 2) return 1;
    double s = 0;
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < N; j++) s += dist(P, N, i, j);
    s /= (double)(N * (N - 1));
    return s > 1e-12 ? s : 1e-12;
}

/* <e^j_i, e^j_k>, 0 when either vector is undefined */
static double cosang(const double *P, int64_t N, int64_t j, int64_t i, int64_t k,
                     double *dij, double *dkj)
{
    *dij = dist(P, N, i, j);
    *dkj = dist(P, N, k, j);
    if (*dij <= 0 || *dkj <= 0) return 0;
    return (P[i * N + k] - P[i * N + j] - P[k * N + j] + P[j * N + j]) / (*dij * *dkj);
}

static void forward(kd_op_ctx *c)
{
    int64_t N = c->in_shape[0].dims[0];
    int64_t Ds = kd_rel_d(&c->in_shape[0]), Dt = kd_rel_d(&c->in_shape[1]);
    double *Ps = c->work, *Pt = Ps + N * N;
    gram(c->in[0], N, Ds, Ps);
    gram(c->in[1], N, Dt, Pt);
    double ms = mean_dist(Ps, N), mt = mean_dist(Pt, N), ld = 0, la = 0;
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < N; j++)
            if (i != j) ld += kd_rel_huber(dist(Ps, N, i, j) / ms - dist(Pt, N, i, j) / mt);
    if (KD_A_FLT(c, A_ANGLE) != 0)
        for (int64_t j = 0; j < N; j++)
            for (int64_t i = 0; i < N; i++) {
                if (i == j) continue;
                for (int64_t k = 0; k < N; k++) {
                    if (k == j) continue;
                    double a, b;
                    double gs = cosang(Ps, N, j, i, k, &a, &b), gt = cosang(Pt, N, j, i, k, &a, &b);
                    la += kd_rel_huber(gs - gt);
                }
            }
    double n2 = (double)N * (double)N;
    c->out[0] = (float)(KD_A_FLT(c, A_DIST) * ld / n2 + KD_A_FLT(c, A_ANGLE) * la / (n2 * (double)N));
}

/* d(d_ij) = b: into dP */
static void dist_back(double *dP, int64_t N, int64_t i, int64_t j, double d, double b)
{
    if (d <= 0) return;
    dP[i * N + i] += b / (2 * d);
    dP[j * N + j] += b / (2 * d);
    dP[i * N + j] -= b / d;
}

static void backward(kd_op_ctx *c)
{
    float *ds = c->grad_in[0];
    if (!ds) return;
    int64_t N = c->in_shape[0].dims[0];
    int64_t Ds = kd_rel_d(&c->in_shape[0]), Dt = kd_rel_d(&c->in_shape[1]);
    double *Ps = c->work, *Pt = Ps + N * N, *dP = Pt + N * N;
    gram(c->in[0], N, Ds, Ps);
    gram(c->in[1], N, Dt, Pt);
    memset(dP, 0, sizeof(double) * (size_t)(N * N));
    double n2 = (double)N * (double)N, g = c->grad_out[0];
    double wd = KD_A_FLT(c, A_DIST) * g / n2, wa = KD_A_FLT(c, A_ANGLE) * g / (n2 * (double)N);
    if (wd != 0 && N >= 2) {
        /* psi_ij = d_ij / mu, mu = sum d / M: dL/dd_kl = a_kl / mu - sum(a d) / (mu^2 M) */
        double ms = mean_dist(Ps, N), mt = mean_dist(Pt, N), sad = 0, M = (double)(N * (N - 1));
        for (int64_t i = 0; i < N; i++)
            for (int64_t j = 0; j < N; j++)
                if (i != j) {
                    double d = dist(Ps, N, i, j);
                    sad += wd * kd_rel_huber_d(d / ms - dist(Pt, N, i, j) / mt) * d;
                }
        int clamped = ms <= 1e-12;
        for (int64_t i = 0; i < N; i++)
            for (int64_t j = 0; j < N; j++)
                if (i != j) {
                    double d = dist(Ps, N, i, j);
                    double a = wd * kd_rel_huber_d(d / ms - dist(Pt, N, i, j) / mt);
                    dist_back(dP, N, i, j, d, a / ms - (clamped ? 0 : sad / (ms * ms * M)));
                }
    }
    if (wa != 0)
        for (int64_t j = 0; j < N; j++)
            for (int64_t i = 0; i < N; i++) {
                if (i == j) continue;
                for (int64_t k = 0; k < N; k++) {
                    if (k == j) continue;
                    double dij, dkj, a, b;
                    double gs = cosang(Ps, N, j, i, k, &dij, &dkj), gt = cosang(Pt, N, j, i, k, &a, &b);
                    if (dij <= 0 || dkj <= 0) continue;
                    double e = wa * kd_rel_huber_d(gs - gt), dq = e / (dij * dkj);
                    dP[i * N + k] += dq;
                    dP[i * N + j] -= dq;
                    dP[k * N + j] -= dq;
                    dP[j * N + j] += dq;
                    dist_back(dP, N, i, j, dij, -e * gs / dij);
                    dist_back(dP, N, k, j, dkj, -e * gs / dkj);
                }
            }
    /* ds = (dP + dP^T) S */
    const float *x = c->in[0];
    for (int64_t i = 0; i < N; i++)
        for (int64_t k = 0; k < Ds; k++) {
            double s = 0;
            for (int64_t j = 0; j < N; j++) s += (dP[i * N + j] + dP[j * N + i]) * x[j * Ds + k];
            ds[i * Ds + k] += (float)s;
        }
}

static const kd_input_spec inputs[] = {
    {.name = "student", .shape = "[N, ...] embeddings (rows)"},
    {.name = "teacher", .shape = "[N, ...] embeddings, no gradient"},
    {NULL}};

const kd_op_def kd_op_rkd = {
    .name = "rkd", .min_inputs = 2, .max_inputs = 2, .nograd = 1u << 1,
    .attrs = attrs, .infer = infer, .workspace = workspace,
    .forward = forward, .backward = backward,
    .use = KD_USE_LOSS,
    .doc = "relational KD: distance * Huber(normalised pair distances) + angle * Huber(triplet angles)",
    .inputs = inputs,
};
