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
 * their angles count as 0 and get no gradient.  The products run on
 * cblas_dgemm; the N^3 loops are serial. */
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
    size_t D = (size_t)(kd_rel_d(&c->in_shape[0]) > kd_rel_d(&c->in_shape[1]) ? kd_rel_d(&c->in_shape[0])
                                                                              : kd_rel_d(&c->in_shape[1]));
    return sizeof(double) * (5 * N * N + 2 * N * D);
}

typedef struct {
    double *Ps, *Pt, *Rs, *Rt, *dP, *x, *dx;   /* Gram matrices, distances, dL/dP, rows */
} rkd_ws;

/* the Gram matrix P = X X^T and the distances R of one input */
static void gram(const float *xf, int64_t N, int64_t D, double *x, double *P, double *R)
{
    kd_rel_dbl(xf, N * D, x);
    kd_rel_abt(x, x, N, N, D, P);
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < N; j++) {
            double q = P[i * N + i] + P[j * N + j] - 2 * P[i * N + j];
            R[i * N + j] = i == j || q <= 0 ? 0 : sqrt(q);
        }
}

static rkd_ws setup(const kd_op_ctx *c)
{
    int64_t N = c->in_shape[0].dims[0];
    int64_t Ds = kd_rel_d(&c->in_shape[0]), Dt = kd_rel_d(&c->in_shape[1]);
    rkd_ws w;
    w.Ps = c->work;
    w.Pt = w.Ps + N * N;
    w.Rs = w.Pt + N * N;
    w.Rt = w.Rs + N * N;
    w.dP = w.Rt + N * N;
    w.x = w.dP + N * N;
    w.dx = w.x + N * (Ds > Dt ? Ds : Dt);
    gram(c->in[1], N, Dt, w.x, w.Pt, w.Rt);
    gram(c->in[0], N, Ds, w.x, w.Ps, w.Rs);   /* x keeps the student's rows */
    return w;
}

static double mean_dist(const double *R, int64_t N)
{
    if (N < 2) return 1;
    double s = 0;
    for (int64_t i = 0; i < N * N; i++) s += R[i];
    s /= (double)(N * (N - 1));
    return s > 1e-12 ? s : 1e-12;
}

/* <e^j_i, e^j_k>, 0 when either vector is undefined */
static inline double cosang(const double *P, const double *R, int64_t N, int64_t j, int64_t i, int64_t k)
{
    double dij = R[i * N + j], dkj = R[k * N + j];
    if (dij <= 0 || dkj <= 0) return 0;
    return (P[i * N + k] - P[i * N + j] - P[k * N + j] + P[j * N + j]) / (dij * dkj);
}

static void forward(kd_op_ctx *c)
{
    int64_t N = c->in_shape[0].dims[0];
    rkd_ws w = setup(c);
    double ms = mean_dist(w.Rs, N), mt = mean_dist(w.Rt, N), ld = 0, la = 0;
    for (int64_t i = 0; i < N * N; i++) ld += kd_rel_huber(w.Rs[i] / ms - w.Rt[i] / mt);
    if (KD_A_FLT(c, A_ANGLE) != 0)
        for (int64_t j = 0; j < N; j++)
            for (int64_t i = 0; i < N; i++) {
                if (i == j) continue;
                for (int64_t k = 0; k < N; k++)
                    if (k != j) la += kd_rel_huber(cosang(w.Ps, w.Rs, N, j, i, k) - cosang(w.Pt, w.Rt, N, j, i, k));
            }
    double n2 = (double)N * (double)N;
    c->out[0] = (float)(KD_A_FLT(c, A_DIST) * ld / n2 + KD_A_FLT(c, A_ANGLE) * la / (n2 * (double)N));
}

/* d(d_ij) = b: into dP */
static inline void dist_back(double *dP, int64_t N, int64_t i, int64_t j, double d, double b)
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
    int64_t N = c->in_shape[0].dims[0], Ds = kd_rel_d(&c->in_shape[0]);
    rkd_ws w = setup(c);
    double *dP = w.dP;
    memset(dP, 0, sizeof(double) * (size_t)(N * N));
    double n2 = (double)N * (double)N, g = c->grad_out[0];
    double wd = KD_A_FLT(c, A_DIST) * g / n2, wa = KD_A_FLT(c, A_ANGLE) * g / (n2 * (double)N);
    if (wd != 0 && N >= 2) {
        /* psi_ij = d_ij / mu, mu = sum d / M: dL/dd_kl = a_kl / mu - sum(a d) / (mu^2 M) */
        double ms = mean_dist(w.Rs, N), mt = mean_dist(w.Rt, N), sad = 0, M = (double)(N * (N - 1));
        for (int64_t i = 0; i < N * N; i++)
            sad += wd * kd_rel_huber_d(w.Rs[i] / ms - w.Rt[i] / mt) * w.Rs[i];
        double shift = ms <= 1e-12 ? 0 : sad / (ms * ms * M);
        for (int64_t i = 0; i < N; i++)
            for (int64_t j = 0; j < N; j++)
                if (i != j) {
                    double d = w.Rs[i * N + j];
                    double a = wd * kd_rel_huber_d(d / ms - w.Rt[i * N + j] / mt);
                    dist_back(dP, N, i, j, d, a / ms - shift);
                }
    }
    if (wa != 0)
        for (int64_t j = 0; j < N; j++)
            for (int64_t i = 0; i < N; i++) {
                double dij = w.Rs[i * N + j];
                if (i == j || dij <= 0) continue;
                for (int64_t k = 0; k < N; k++) {
                    double dkj = w.Rs[k * N + j];
                    if (k == j || dkj <= 0) continue;
                    double gs = cosang(w.Ps, w.Rs, N, j, i, k), gt = cosang(w.Pt, w.Rt, N, j, i, k);
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
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < i; j++) {
            double v = dP[i * N + j] + dP[j * N + i];
            dP[i * N + j] = dP[j * N + i] = v;
        }
    for (int64_t i = 0; i < N; i++) dP[i * N + i] *= 2;
    kd_rel_ab(dP, w.x, N, N, Ds, w.dx);
    for (int64_t i = 0; i < N * Ds; i++) ds[i] += (float)w.dx[i];
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
