/* emd.c — EMD layer mapping (BERT-EMD, Li et al. 2020; used by AdaRec,
 * Chen et al. 2021): many-to-many distillation between M teacher and N
 * student layers through an earth mover's distance transport plan.
 * Inputs: t1..tM teacher tensors, then s1..sN student tensors, all of one
 * shape [B, ...] (M = attribute m, 1 <= N, M + N <= 18).  State: layer
 * weights a [M] (init 1/M) and b [N] (init 1/N).  out scalar.
 *   D_ij = dist(s_j, t_i): mse = mean (s - t)^2, l1 = mean |s - t|,
 *          cosine = (1/B) sum_rows 1 - <s, t> / (|s| |t|);
 *   F = argmin sum F_ij D_ij  s.t. F >= 0, sum_j F_ij = a_i / sum a,
 *       sum_i F_ij = b_j / sum b  (exact, successive shortest paths);
 *   L = sum_ij F_ij D_ij.
 * Gradient: L is the optimal value of a linear program in D, so dL/dD = F
 * (where the optimal plan is unique); F is saved from forward and
 *   ds_j += dL sum_i F_ij dD_ij/ds_j,  dt_i += dL sum_j F_ij dD_ij/dt_i.
 * Training mode then updates the layer weights (BERT-EMD's cost
 * attention): c_i = sum_j F_ij D_ij / a_i, a = softmax((sum_k c_k / c_i) / T),
 * and likewise b from the student side.  Distances are deterministic block
 * sums or per-row sums; the gradient loops run over elements, pair by pair. */
#include "kd_loss.h"

enum { A_M, A_COST, A_T };
enum { C_MSE, C_L1, C_COS };
static const char *const costs[] = {"mse", "l1", "cosine", NULL};
static const kd_attr_spec attrs[] = {
    {.name = "m", .type = KD_ATTR_INT, .min = 1, .max = 17, .required = 1,
     .doc = "number of teacher layers (set from the list)", .internal = 1},
    {.name = "cost", .type = KD_ATTR_ENUM, .def = C_MSE, .enums = costs,
     .doc = "distance between two layers"},
    {.name = "T", .type = KD_ATTR_FLOAT, .def = 1, .min = 1e-3, .max = 1e3,
     .doc = "temperature of the transport weights"},
    {0}};

#define EMD_MAX 18

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    int M = (int)KD_A_INT(c, A_M), N = c->nin - M;
    char b[128];
    if (N < 1)
        return kd_err(err, n, "emd: m = %d teacher layers leaves no student layer among %d inputs",
                      M, c->nin);
    if (c->in_shape[0].ndim < 1 || c->in_shape[0].dims[0] < 1)
        return kd_err(err, n, "emd expects layer outputs [B, ...], got %s",
                      kd_shape_str(&c->in_shape[0], b, sizeof b));
    for (int i = 1; i < c->nin; i++)
        if (!kd_shape_eq(&c->in_shape[0], &c->in_shape[i])) {
            char a[128];
            return kd_err(err, n, "emd expects layers of one shape (adapt them first), got %s (%s %d) "
                          "and %s (%s %d)", kd_shape_str(&c->in_shape[0], a, sizeof a), "teacher", 1,
                          kd_shape_str(&c->in_shape[i], b, sizeof b), i < M ? "teacher" : "student",
                          i < M ? i + 1 : i - M + 1);
        }
    info->nstate = 2;
    info->state_shape[0] = kd_sh1(M);
    info->state_shape[1] = kd_sh1(N);
    info->state_init[0] = 1.0f / (float)M;
    info->state_init[1] = 1.0f / (float)N;
    info->saved_floats = (size_t)(M * N);
    c->out_shape = kd_scalar();
    return 0;
}

static size_t workspace(const kd_op_ctx *c)
{
    int64_t B = c->in_shape[0].dims[0];
    size_t a = loss_blocks(kd_shape_numel(&c->in_shape[0])), r = (size_t)B * 3;
    return sizeof(double) * (a > r ? a : r);
}

/* D_ij for one pair */
static double dist(kd_op_ctx *c, const float *s, const float *t)
{
    int64_t E = kd_shape_numel(&c->in_shape[0]), B = c->in_shape[0].dims[0], R = E / B;
    int kind = (int)KD_A_INT(c, A_COST);
    double d;
    if (kind == C_MSE) {
        KD_BLOCK_SUM(c, E, d, ((double)s[i] - t[i]) * ((double)s[i] - t[i]));
        return d / (double)E;
    }
    if (kind == C_L1) {
        KD_BLOCK_SUM(c, E, d, fabs((double)s[i] - t[i]));
        return d / (double)E;
    }
    double *row = c->work;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && E > KD_OMP_MIN)
    for (int64_t r = 0; r < B; r++) {
        double st = 0, ss = 0, tt = 0;
        for (int64_t k = r * R; k < (r + 1) * R; k++) {
            st += (double)s[k] * t[k];
            ss += (double)s[k] * s[k];
            tt += (double)t[k] * t[k];
        }
        row[r] = 1 - st / (sqrt(ss) * sqrt(tt) + 1e-12);
    }
    d = 0;
    for (int64_t r = 0; r < B; r++) d += row[r];
    return d / (double)B;
}

/* Exact balanced transport: supplies a[M], demands b[N] (each summing to
 * 1), costs D[M*N] -> plan F.  Successive shortest paths (Bellman-Ford on
 * the residual network: source, M teachers, N students, sink). */
static void transport(int M, int N, const double *a, const double *b, const double *D, double *F)
{
    double ra[EMD_MAX], rb[EMD_MAX];   /* residual supplies and demands */
    memcpy(ra, a, sizeof(double) * (size_t)M);
    memcpy(rb, b, sizeof(double) * (size_t)N);
    for (int k = 0; k < M * N; k++) F[k] = 0;
    const double eps = 1e-12;
    for (int iter = 0; iter < 4 * (M + N) * (M + N) + 16; iter++) {
        /* nodes: teachers 0..M-1, students M..M+N-1; the source feeds every
         * teacher with residual supply, every student with residual demand
         * drains to the sink */
        double dd[2 * EMD_MAX];
        int prev[2 * EMD_MAX];
        for (int v = 0; v < M + N; v++) {
            dd[v] = v < M && ra[v] > eps ? 0 : INFINITY;
            prev[v] = -1;
        }
        for (int round = 0; round < M + N; round++) {
            int changed = 0;
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    double w = D[i * N + j];
                    if (dd[i] + w < dd[M + j] - 1e-15) { dd[M + j] = dd[i] + w; prev[M + j] = i; changed = 1; }
                    if (F[i * N + j] > eps && dd[M + j] - w < dd[i] - 1e-15) {
                        dd[i] = dd[M + j] - w;
                        prev[i] = M + j;
                        changed = 1;
                    }
                }
            if (!changed) break;
        }
        int best = -1;
        for (int j = 0; j < N; j++)
            if (rb[j] > eps && dd[M + j] < INFINITY && (best < 0 || dd[M + j] < dd[M + best])) best = j;
        if (best < 0) break;
        /* bottleneck along the path back from student `best` */
        double f = rb[best];
        int v = M + best;
        while (prev[v] >= 0) {
            int u = prev[v];
            if (u >= M) f = fmin(f, F[v * N + (u - M)]);   /* a backward edge: student u -> teacher v */
            v = u;
        }
        f = fmin(f, ra[v]);
        rb[best] -= f;
        ra[v] -= f;
        v = M + best;
        while (prev[v] >= 0) {
            int u = prev[v];
            if (u < M) F[u * N + (v - M)] += f;
            else F[v * N + (u - M)] -= f;
            v = u;
        }
    }
}

static void layer_weights(kd_op_ctx *c, int M, int N, double *a, double *b)
{
    double sa = 0, sb = 0;
    for (int i = 0; i < M; i++) sa += (a[i] = fmax(c->state[0][i], 0));
    for (int j = 0; j < N; j++) sb += (b[j] = fmax(c->state[1][j], 0));
    for (int i = 0; i < M; i++) a[i] = sa > 0 ? a[i] / sa : 1.0 / M;
    for (int j = 0; j < N; j++) b[j] = sb > 0 ? b[j] / sb : 1.0 / N;
}

/* cost attention: w = softmax((sum_k c_k / c_i) / T) with c_i = cost_i / w_i */
static void attend(float *w, const double *wn, const double *cost, int K, double T)
{
    double cbar[EMD_MAX], tot = 0, z[EMD_MAX], mx = -INFINITY, s = 0;
    for (int k = 0; k < K; k++) tot += (cbar[k] = wn[k] > 0 ? cost[k] / wn[k] : 0);
    for (int k = 0; k < K; k++) {
        z[k] = (cbar[k] > 1e-30 ? tot / cbar[k] : 1e30) / T;
        mx = fmax(mx, z[k]);
    }
    for (int k = 0; k < K; k++) s += (z[k] = exp(z[k] - mx));
    for (int k = 0; k < K; k++) w[k] = (float)(z[k] / s);
}

static void forward(kd_op_ctx *c)
{
    int M = (int)KD_A_INT(c, A_M), N = c->nin - M;
    double D[EMD_MAX * EMD_MAX], F[EMD_MAX * EMD_MAX], a[EMD_MAX], b[EMD_MAX], L = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) D[i * N + j] = dist(c, c->in[M + j], c->in[i]);
    layer_weights(c, M, N, a, b);
    transport(M, N, a, b, D, F);
    for (int k = 0; k < M * N; k++) {
        L += F[k] * D[k];
        c->saved[k] = (float)F[k];
    }
    c->out[0] = (float)L;
    if (!c->training) return;
    double ca[EMD_MAX] = {0}, cb[EMD_MAX] = {0};
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            ca[i] += F[i * N + j] * D[i * N + j];
            cb[j] += F[i * N + j] * D[i * N + j];
        }
    attend(c->state[0], a, ca, M, KD_A_FLT(c, A_T));
    attend(c->state[1], b, cb, N, KD_A_FLT(c, A_T));
}

static void backward(kd_op_ctx *c)
{
    int M = (int)KD_A_INT(c, A_M), N = c->nin - M, kind = (int)KD_A_INT(c, A_COST);
    int64_t E = kd_shape_numel(&c->in_shape[0]), B = c->in_shape[0].dims[0], R = E / B;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double f = (double)c->saved[i * N + j] * c->grad_out[0];
            float *dt = c->grad_in[i], *ds = c->grad_in[M + j];
            const float *t = c->in[i], *s = c->in[M + j];
            if (f == 0 || (!dt && !ds)) continue;
            if (kind != C_COS) {
                double k = f / (double)E;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && E > KD_OMP_MIN)
                for (int64_t e = 0; e < E; e++) {
                    double d = (double)s[e] - t[e];
                    float g = (float)(k * (kind == C_MSE ? 2 * d : (d > 0) - (d < 0)));
                    if (ds) ds[e] += g;
                    if (dt) dt[e] -= g;
                }
                continue;
            }
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && E > KD_OMP_MIN)
            for (int64_t r = 0; r < B; r++) {
                double st = 0, ss = 0, tt = 0;
                for (int64_t k = r * R; k < (r + 1) * R; k++) {
                    st += (double)s[k] * t[k];
                    ss += (double)s[k] * s[k];
                    tt += (double)t[k] * t[k];
                }
                double ns = sqrt(ss), nt = sqrt(tt), q = ns * nt + 1e-12, k = f / (double)B;
                for (int64_t e = r * R; e < (r + 1) * R; e++) {
                    /* d(1 - st/q)/ds = -(t/q - st s nt / (ns q^2)) */
                    if (ds) ds[e] += (float)(-k * (t[e] / q - st * s[e] * nt / (ns * q * q + 1e-30)));
                    if (dt) dt[e] += (float)(-k * (s[e] / q - st * t[e] * ns / (nt * q * q + 1e-30)));
                }
            }
        }
}

static const kd_input_spec inputs[] = {
    {.name = "teacher", .shape = "teacher layers, [N, ...] each", .kind = KD_IN_LIST, .count_attr = "m"},
    {.name = "student", .shape = "student layers, the shape of the teacher layers", .kind = KD_IN_LIST},
    {NULL}};

const kd_op_def kd_op_emd = {
    .name = "emd", .min_inputs = 2, .max_inputs = EMD_MAX,
    .attrs = attrs, .infer = infer, .workspace = workspace,
    .forward = forward, .backward = backward,
    .use = KD_USE_LOSS,
    .doc = "EMD layer mapping: transport-weighted distances between teacher and student layers",
    .inputs = inputs,
};
