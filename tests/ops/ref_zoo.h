/* ref_zoo.h — naive double references and cases for the distillation-zoo
 * losses (rkd, pkt, sp, cc, nst, fsp, ab, vid, ft).  Included by test_ops.c
 * after its own references; ZOO_OP_CASES goes at the end of its case table
 * and ZOO_OPS names the ops test_zoo_ops runs.  The references follow the
 * papers' formulas literally (explicit difference vectors, explicit unit
 * vectors, pow for the kernel series), not the kernels' shortcuts. */

static int64_t zrow(const inst *t, int i) { return t->n[i] / D(t, i, 0); }

static void zunit(const float *x, int64_t D, double *u)
{
    double s = 0;
    for (int64_t k = 0; k < D; k++) s += (double)x[k] * x[k];
    s = fmax(sqrt(s), 1e-12);
    for (int64_t k = 0; k < D; k++) u[k] = x[k] / s;
}

static double zhuber(double x) { return fabs(x) < 1 ? 0.5 * x * x : fabs(x) - 0.5; }

/* rkd: distances and angles from the difference vectors themselves */
static double zdist(const float *x, int64_t D, int64_t i, int64_t j)
{
    double s = 0;
    for (int64_t k = 0; k < D; k++) s += pow((double)x[i * D + k] - x[j * D + k], 2);
    return sqrt(s);
}
static double zangle(const float *x, int64_t D, int64_t j, int64_t i, int64_t k)
{
    double a = 0, b = 0, ab = 0;
    for (int64_t d = 0; d < D; d++) {
        double e1 = (double)x[i * D + d] - x[j * D + d], e2 = (double)x[k * D + d] - x[j * D + d];
        a += e1 * e1, b += e2 * e2, ab += e1 * e2;
    }
    return a > 0 && b > 0 ? ab / sqrt(a * b) : 0;
}
static void ref_rkd(const inst *t, double *y)
{
    int64_t N = D(t, 0, 0), Ds = zrow(t, 0), Dt = zrow(t, 1);
    double ms = 0, mt = 0, ld = 0, la = 0;
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < N; j++)
            if (i != j) ms += zdist(IN(t, 0), Ds, i, j), mt += zdist(IN(t, 1), Dt, i, j);
    ms /= (double)(N * (N - 1)), mt /= (double)(N * (N - 1));
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < N; j++)
            ld += zhuber(zdist(IN(t, 0), Ds, i, j) / ms - zdist(IN(t, 1), Dt, i, j) / mt);
    for (int64_t j = 0; j < N; j++)
        for (int64_t i = 0; i < N; i++)
            for (int64_t k = 0; k < N; k++)
                la += zhuber(zangle(IN(t, 0), Ds, j, i, k) - zangle(IN(t, 1), Dt, j, i, k));
    y[0] = A(t, "distance") * ld / (double)(N * N) + A(t, "angle") * la / (double)(N * N * N);
}

/* pkt: the conditional probabilities of the paper */
static void ref_pkt(const inst *t, double *y)
{
    int64_t N = D(t, 0, 0), Dm = zrow(t, 0) > zrow(t, 1) ? zrow(t, 0) : zrow(t, 1);
    double *u = malloc(sizeof(double) * (size_t)(N * Dm)), *K[2], L = 0;
    for (int m = 0; m < 2; m++) {
        int64_t Dd = zrow(t, m);
        K[m] = malloc(sizeof(double) * (size_t)(N * N));
        for (int64_t i = 0; i < N; i++) zunit(IN(t, m) + i * Dd, Dd, u + i * Dd);
        for (int64_t i = 0; i < N; i++)
            for (int64_t j = 0; j < N; j++) {
                double c = 0;
                for (int64_t k = 0; k < Dd; k++) c += u[i * Dd + k] * u[j * Dd + k];
                K[m][i * N + j] = (c + 1) / 2;
            }
    }
    for (int64_t i = 0; i < N; i++) {
        double zs = 0, zt = 0;
        for (int64_t j = 0; j < N; j++)
            if (j != i) zs += K[0][i * N + j], zt += K[1][i * N + j];
        for (int64_t j = 0; j < N; j++)
            if (j != i) {
                double q = K[1][i * N + j] / zt, p = K[0][i * N + j] / zs;
                L += q * log(q / p);
            }
    }
    y[0] = L / (double)(N * N);
    free(u), free(K[0]), free(K[1]);
}

/* sp: G = A A^T, row-normalised, squared Frobenius distance / N^2 */
static void ref_sp(const inst *t, double *y)
{
    int64_t N = D(t, 0, 0);
    double *G[2];
    for (int m = 0; m < 2; m++) {
        int64_t Dd = zrow(t, m);
        G[m] = malloc(sizeof(double) * (size_t)(N * N));
        for (int64_t i = 0; i < N; i++) {
            double nn = 0;
            for (int64_t j = 0; j < N; j++) {
                double s = 0;
                for (int64_t k = 0; k < Dd; k++) s += (double)IN(t, m)[i * Dd + k] * IN(t, m)[j * Dd + k];
                G[m][i * N + j] = s;
                nn += s * s;
            }
            for (int64_t j = 0; j < N; j++) G[m][i * N + j] /= fmax(sqrt(nn), 1e-12);
        }
    }
    double L = 0;
    for (int64_t i = 0; i < N * N; i++) L += pow(G[0][i] - G[1][i], 2);
    y[0] = L / (double)(N * N);
    free(G[0]), free(G[1]);
}

/* cc: the Taylor series of exp(-gamma |u_i - u_j|^2) written with pow */
static void ref_cc(const inst *t, double *y)
{
    int64_t N = D(t, 0, 0);
    double g = A(t, "gamma"), L = 0;
    int P = (int)A(t, "P");
    double *K[2];
    for (int m = 0; m < 2; m++) {
        int64_t Dd = zrow(t, m);
        double *u = malloc(sizeof(double) * (size_t)(N * Dd));
        K[m] = malloc(sizeof(double) * (size_t)(N * N));
        for (int64_t i = 0; i < N; i++) zunit(IN(t, m) + i * Dd, Dd, u + i * Dd);
        for (int64_t i = 0; i < N; i++)
            for (int64_t j = 0; j < N; j++) {
                double c = 0, k = 0, fact = 1;
                for (int64_t d = 0; d < Dd; d++) c += u[i * Dd + d] * u[j * Dd + d];
                for (int p = 0; p <= P; p++) {
                    if (p) fact *= p;
                    k += exp(-2 * g) * pow(2 * g, p) / fact * pow(c, p);
                }
                K[m][i * N + j] = k;
            }
        free(u);
    }
    for (int64_t i = 0; i < N * N; i++) L += pow(K[0][i] - K[1][i], 2);
    y[0] = L / (double)(N * N);
    free(K[0]), free(K[1]);
}

/* nst: MMD^2 with k(a, b) = (a . b)^2 over normalised channel maps */
static void ref_nst(const inst *t, double *y)
{
    int64_t N = D(t, 0, 0), Cs = D(t, 0, 1), Ct = D(t, 1, 1), P = D(t, 0, 2) * D(t, 0, 3);
    double *f = malloc(sizeof(double) * (size_t)((Cs + Ct) * P)), L = 0;
    for (int64_t n = 0; n < N; n++) {
        for (int64_t i = 0; i < Cs; i++) zunit(IN(t, 0) + (n * Cs + i) * P, P, f + i * P);
        for (int64_t i = 0; i < Ct; i++) zunit(IN(t, 1) + (n * Ct + i) * P, P, f + (Cs + i) * P);
        for (int64_t i = 0; i < Cs + Ct; i++)
            for (int64_t j = 0; j < Cs + Ct; j++) {
                double d = 0;
                for (int64_t k = 0; k < P; k++) d += f[i * P + k] * f[j * P + k];
                double w = i < Cs && j < Cs ? 1.0 / (double)(Cs * Cs)
                         : i >= Cs && j >= Cs ? 1.0 / (double)(Ct * Ct) : -1.0 / (double)(Cs * Ct);
                L += w * d * d;   /* the cross term appears twice: -2/(Cs Ct) */
            }
    }
    y[0] = L / (double)N;
    free(f);
}

/* fsp: Gram matrices between the two layers, mean squared difference */
static void ref_fsp(const inst *t, double *y)
{
    int64_t N = D(t, 0, 0), C1 = D(t, 0, 1), C2 = D(t, 1, 1);
    int64_t P = D(t, 0, 2) * D(t, 0, 3), Q = D(t, 2, 2) * D(t, 2, 3);
    double L = 0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t i = 0; i < C1; i++)
            for (int64_t j = 0; j < C2; j++) {
                double gs = 0, gt = 0;
                for (int64_t k = 0; k < P; k++)
                    gs += (double)IN(t, 0)[(n * C1 + i) * P + k] * IN(t, 1)[(n * C2 + j) * P + k];
                for (int64_t k = 0; k < Q; k++)
                    gt += (double)IN(t, 2)[(n * C1 + i) * Q + k] * IN(t, 3)[(n * C2 + j) * Q + k];
                L += pow(gs / (double)P - gt / (double)Q, 2);
            }
    y[0] = L / (double)(N * C1 * C2);
}

static void ref_ab(const inst *t, double *y)
{
    double mu = A(t, "margin"), L = 0;
    for (int64_t i = 0; i < t->n[0]; i++) {
        double s = IN(t, 0)[i];
        L += IN(t, 1)[i] > 0 ? pow(fmax(0, mu - s), 2) : pow(fmax(0, mu + s), 2);
    }
    y[0] = L / (double)t->n[0];
}

static void ref_vid(const inst *t, double *y)
{
    int64_t N = D(t, 0, 0), C = D(t, 0, 1), P = t->n[0] / (N * C);
    double iv = A(t, "init_var"), eps = A(t, "eps"), L = 0;
    for (int64_t i = 0; i < t->n[0]; i++) {
        int64_t c = (i / P) % C;
        /* softplus(alpha + a0) + eps with softplus(a0) = init_var - eps */
        double a0 = log(exp(iv - eps) - 1), v = log(1 + exp(IN(t, 2)[c] + a0)) + eps;
        double d = (double)IN(t, 1)[i] - IN(t, 0)[i];
        L += 0.5 * (d * d / v + log(v));
    }
    y[0] = L / (double)t->n[0];
}

static void ref_ft(const inst *t, double *y)
{
    int64_t N = D(t, 0, 0), Dd = zrow(t, 0);
    double *us = malloc(sizeof(double) * (size_t)Dd), *ut = malloc(sizeof(double) * (size_t)Dd), L = 0;
    int p = (int)A(t, "p");
    for (int64_t n = 0; n < N; n++) {
        zunit(IN(t, 0) + n * Dd, Dd, us);
        zunit(IN(t, 1) + n * Dd, Dd, ut);
        for (int64_t k = 0; k < Dd; k++) L += pow(fabs(us[k] - ut[k]), p);
    }
    y[0] = L / (double)(N * Dd);
    free(us), free(ut);
}

#define ZOO_OP_CASES \
    /* rkd: widths differ, 4-D rows, angle or distance alone */ \
    {"rkd", NULL, 2, {S2(5, 3), S2(5, 4)}, {G_N, G_N}, 0, 3e-3, ref_rkd, 1}, \
    {"rkd", "distance=1 angle=0", 2, {S4(4, 2, 1, 2), S2(4, 3)}, {G_N, G_N}, 0, 3e-3, ref_rkd, 1}, \
    {"rkd", "distance=0 angle=2", 2, {S2(6, 2), S2(6, 5)}, {G_N, G_WIDE}, 0, 3e-3, ref_rkd, 2}, \
    /* pkt */ \
    {"pkt", NULL, 2, {S2(5, 4), S2(5, 6)}, {G_N, G_N}, 0, 2e-3, ref_pkt, 1}, \
    {"pkt", NULL, 2, {S4(3, 2, 2, 1), S2(3, 2)}, {G_N, G_N}, 0, 2e-3, ref_pkt, 2}, \
    /* sp */ \
    {"sp", NULL, 2, {S4(4, 2, 2, 2), S4(4, 3, 2, 1)}, {G_N, G_N}, 0, 2e-3, ref_sp, 1}, \
    {"sp", NULL, 2, {S2(6, 3), S2(6, 3)}, {G_N, G_N}, 0, 2e-3, ref_sp, 2}, \
    /* cc: the paper's P = 2, a longer series, a larger gamma */ \
    {"cc", NULL, 2, {S2(5, 4), S2(5, 3)}, {G_N, G_N}, 0, 2e-3, ref_cc, 1}, \
    {"cc", "gamma=1.5 P=5", 2, {S2(4, 6), S2(4, 6)}, {G_N, G_N}, 0, 2e-3, ref_cc, 2}, \
    {"cc", "P=0", 2, {S2(3, 2), S2(3, 2)}, {G_N, G_N}, 0, 2e-3, ref_cc, 1}, \
    /* nst: channels differ, 2 threads */ \
    {"nst", NULL, 2, {S4(2, 3, 2, 3), S4(2, 5, 2, 3)}, {G_N, G_N}, 0, 2e-3, ref_nst, 1}, \
    {"nst", NULL, 2, {S4(3, 2, 3, 2), S4(3, 2, 3, 2)}, {G_N, G_N}, 0, 2e-3, ref_nst, 2}, \
    /* fsp: the teacher at another spatial size */ \
    {"fsp", NULL, 4, {S4(2, 3, 2, 3), S4(2, 2, 2, 3), S4(2, 3, 3, 3), S4(2, 2, 3, 3)}, {G_N, G_N, G_N, G_N}, 0, 2e-3, ref_fsp, 1}, \
    {"fsp", NULL, 4, {S4(3, 2, 2, 2), S4(3, 4, 2, 2), S4(3, 2, 2, 2), S4(3, 4, 2, 2)}, {G_N, G_N, G_N, G_N}, 0, 2e-3, ref_fsp, 2}, \
    /* ab */ \
    {"ab", NULL, 2, {S4(2, 3, 2, 2), S4(2, 3, 2, 2)}, {G_WIDE, G_N}, 0, 2e-3, ref_ab, 1}, \
    {"ab", "margin=0.5", 2, {S2(3, 5), S2(3, 5)}, {G_N, G_N}, 0, 2e-3, ref_ab, 2}, \
    /* vid: the parameter alpha is checked too */ \
    {"vid", NULL, 2, {S4(2, 3, 2, 2), S4(2, 3, 2, 2)}, {G_N, G_WIDE}, 0, 2e-3, ref_vid, 1}, \
    {"vid", "init_var=0.5 eps=0.01", 2, {S2(4, 3), S2(4, 3)}, {G_N, G_N}, 0, 2e-3, ref_vid, 2}, \
    /* ft: p = 1 (the paper's) and 2 */ \
    {"ft", NULL, 2, {S4(3, 2, 2, 2), S2(3, 8)}, {G_N, G_N}, 0, 2e-3, ref_ft, 1}, \
    {"ft", "p=2", 2, {S2(2, 5), S2(2, 5)}, {G_N, G_N}, 0, 2e-3, ref_ft, 2},

#define ZOO_OPS "rkd", "pkt", "sp", "cc", "nst", "fsp", "ab", "vid", "ft"

/* ---- shape errors ------------------------------------------------------------- */
static void zoo_op_checks(void)
{
    char err[256];
    kd_op_ctx c;
    kd_shape a[4] = {{{4, 3}, 2}, {{5, 3}, 2}};
    CU_ASSERT(net_infer("rkd", NULL, 2, a, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "rkd expects [N, ...] inputs of at least 2 dimensions with the same N, got [4, 3] and [5, 3]");
    kd_shape one[2] = {{{1, 3}, 2}, {{1, 3}, 2}};
    CU_ASSERT(net_infer("pkt", NULL, 2, one, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "pkt needs a batch of at least 2 samples");
    kd_shape m[2] = {{{2, 3, 4, 4}, 4}, {{2, 5, 2, 2}, 4}};
    CU_ASSERT(net_infer("nst", NULL, 2, m, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "nst expects the same batch and spatial size, got [2, 3, 4, 4] and [2, 5, 2, 2]");
    kd_shape f[4] = {{{2, 3, 4, 4}, 4}, {{2, 5, 4, 4}, 4}, {{2, 4, 2, 2}, 4}, {{2, 5, 2, 2}, 4}};
    CU_ASSERT(net_infer("fsp", NULL, 4, f, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "fsp expects the teacher's layers with the student's batch and channels, got [2, 4, 2, 2] and [2, 5, 2, 2]");
    kd_shape v[2] = {{{2, 3, 4, 4}, 4}, {{2, 3, 4, 4}, 4}};
    CU_ASSERT(net_infer("vid", NULL, 2, v, err, sizeof err, &c) == 0);
    CU_ASSERT(c.in_shape[2].ndim == 1 && c.in_shape[2].dims[0] == 3);   /* alpha [C] */
    kd_shape ft[2] = {{{2, 3, 4, 4}, 4}, {{2, 47}, 2}};
    CU_ASSERT(net_infer("ft", NULL, 2, ft, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "ft expects factors with the same number of values per sample, got [2, 3, 4, 4] and [2, 47]");
}
