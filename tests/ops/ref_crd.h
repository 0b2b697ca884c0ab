/* ref_crd.h — naive double reference and cases of crd (ops/crd.c), and
 * its training-mode checks: the constant Z taken from the first training
 * batch, the momentum update of both banks, and a backward that reads the
 * banks as the forward read them.  Included by test_ops.c after
 * ref_zoo.h; CRD_OP_CASES goes at the end of its case table.
 *
 * The reference reads the banks from the op's state (after the forward
 * under test has filled them; in eval mode it does not change them) and
 * draws the negatives with kd_crd.h, as the op; everything else (unit
 * vectors, scores, the NCE terms of both directions) is written out from
 * the paper's formula. */
#include "../../ops/kd_crd.h"

static double ref_crd_dir(const inst *t, const float *emb, const float *bank, double Z)
{
    int64_t B = D(t, 0, 0), Dd = D(t, 0, 1), n = (int64_t)A(t, "n"), K = (int64_t)A(t, "k");
    double T = A(t, "T"), c = (double)K / (double)n, L = 0;
    double *u = malloc(sizeof(double) * (size_t)Dd);
    for (int64_t i = 0; i < B; i++) {
        int64_t idx = (int64_t)IN(t, 2)[i];
        if (idx < 0) continue;
        zunit(emb + i * Dd, Dd, u);
        for (int64_t j = 0; j <= K; j++) {
            int64_t k = j == 0 ? idx : kd_crd_neg(t->c.seed, t->c.step, i, j - 1, K, n);
            double d = 0;
            for (int64_t e = 0; e < Dd; e++) d += u[e] * bank[k * Dd + e];
            double P = exp(d / T) / Z;
            L += j == 0 ? log(P / (P + c + 1e-7)) : log(c / (P + c + 1e-7));
        }
    }
    free(u);
    return -L / (double)B;
}

static void ref_crd(const inst *t, double *y)
{
    double Z = A(t, "z");   /* the cases fix Z: eval mode, no estimate */
    y[0] = ref_crd_dir(t, IN(t, 0), t->c.state[1], Z) + ref_crd_dir(t, IN(t, 1), t->c.state[0], Z);
}

/* embeddings of width 3-5, banks of 5-9 rows (indices drawn below D, so
 * n >= D), 1 to 7 negatives, the default temperature and a softer one */
#define CRD_OP_CASES \
    {"crd", "n=6 k=5 z=2", 3, {S2(4, 5), S2(4, 5), S1(4)}, {G_N, G_N, G_LABEL}, 0, 3e-3, ref_crd, 1}, \
    {"crd", "n=9 k=7 T=0.5 momentum=0.9 z=0.3", 3, {S2(3, 4), S2(3, 4), S1(3)}, {G_N, G_WIDE, G_LABEL}, 0, 3e-3, ref_crd, 2}, \
    {"crd", "n=5 k=1 T=1 z=5", 3, {S2(2, 3), S2(2, 3), S1(2)}, {G_N, G_N, G_LABEL}, 0, 3e-3, ref_crd, 1},

/* Training mode against eval mode on the same inputs and banks: the same
 * value (eval given the Z that training estimated), the same gradients (the
 * rows before the update), Z = n mean(exp), and each batch row's bank rows
 * moved to normalise(m old + (1 - m) v).  Then a second training forward
 * keeps Z; an index >= n gives NaN. */
static void test_crd_training(void)
{
    static const tcase tr = {"crd", "n=7 k=6 T=0.2 momentum=0.5", 3, {{{4, 3}, 2}, {{4, 3}, 2}, {{4}, 1}},
                             {G_N, G_N, G_LABEL}, 1, 0, NULL, 1};
    inst a, b;
    rng_seed(91);
    if (inst_make(&a, &tr)) return;
    /* distinct rows, so that each bank row moves once */
    for (int i = 0; i < 4; i++) a.buf[2][i] = (float)(2 * i % 7);
    a.buf[2][3] = 5;
    a.d->forward(&a.c);
    float Z = a.c.state[2][1];
    CU_ASSERT(a.c.state[2][0] == 1 && Z > 0 && a.c.state[2][2] > 0);
    /* Z = n times the mean of exp(score / T) over rows and K + 1 columns */
    {
        int64_t B = 4, Dd = 3, n = 7, K = 6;
        double s = 0, u[3];
        for (int64_t i = 0; i < B; i++) {
            zunit(a.buf[0] + i * Dd, Dd, u);
            for (int64_t j = 0; j <= K; j++) {
                int64_t k = j == 0 ? (int64_t)a.buf[2][i] : kd_crd_neg(a.c.seed, a.c.step, i, j - 1, K, n);
                double d = 0;
                for (int64_t e = 0; e < Dd; e++) d += u[e] * kd_crd_bank0(a.c.seed, 1, k * Dd + e, Dd);
                s += exp(d / 0.2);
            }
        }
        CU_ASSERT_DOUBLE_EQUAL(Z, s / (double)(B * (K + 1)) * (double)n, 1e-4 * Z);
    }
    /* the moved rows */
    for (int b2 = 0; b2 < 2; b2++)
        for (int i = 0; i < 4; i++) {
            int64_t k = (int64_t)a.buf[2][i];
            double u[3], x[3], r = 0;
            zunit(a.buf[b2] + i * 3, 3, u);
            for (int e = 0; e < 3; e++) {
                x[e] = 0.5 * kd_crd_bank0(a.c.seed, b2, k * 3 + e, 3) + 0.5 * u[e];
                r += x[e] * x[e];
            }
            for (int e = 0; e < 3; e++) CU_ASSERT_DOUBLE_EQUAL(a.c.state[b2][k * 3 + e], x[e] / sqrt(r), 1e-6);
        }
    /* a row not in the batch did not move */
    CU_ASSERT_EQUAL(a.c.state[0][1 * 3], kd_crd_bank0(a.c.seed, 0, 3, 3));
    /* eval mode with that Z on the banks before the update: same value and gradients */
    tcase ev = tr;
    ev.training = 0;
    if (inst_make(&b, &ev)) { inst_free(&a); return; }
    for (int i = 0; i < 3; i++) memcpy(b.buf[i], a.buf[i], sizeof(float) * (size_t)a.n[i]);
    b.c.state[2][1] = a.c.state[2][1];   /* the banks are filled by its first forward */
    b.c.state[2][2] = a.c.state[2][2];
    b.d->forward(&b.c);
    CU_ASSERT_DOUBLE_EQUAL(b.c.out[0], a.c.out[0], 1e-5 * (1 + fabs(a.c.out[0])));
    float go = 1.3f, ga[2][12], gb[2][12];
    memset(ga, 0, sizeof ga), memset(gb, 0, sizeof gb);
    a.c.grad_out = b.c.grad_out = &go;
    a.c.grad_in[0] = ga[0], a.c.grad_in[1] = ga[1];
    b.c.grad_in[0] = gb[0], b.c.grad_in[1] = gb[1];
    a.d->backward(&a.c);
    b.d->backward(&b.c);
    double worst = 0;
    for (int k = 0; k < 2; k++)
        for (int e = 0; e < 12; e++) worst = fmax(worst, fabs(ga[k][e] - gb[k][e]) / (1 + fabs(gb[k][e])));
    CU_ASSERT(worst < 1e-5);
    if (!(worst < 1e-5)) fprintf(stderr, "\ncrd: training backward differs from eval's by %g\n", worst);
    /* eval mode moved no bank row */
    for (int64_t e = 0; e < 21; e++) CU_ASSERT_EQUAL(b.c.state[0][e], kd_crd_bank0(b.c.seed, 0, e, 3));
    /* a second training forward keeps Z */
    a.c.step++;
    a.d->forward(&a.c);
    CU_ASSERT_EQUAL(a.c.state[2][1], Z);
    CU_ASSERT(isfinite(a.c.out[0]));
    /* an index beyond the bank */
    a.buf[2][2] = 7;
    a.d->forward(&a.c);
    CU_ASSERT(isnan(a.c.out[0]));
    inst_free(&a);
    inst_free(&b);
}

/* infer's messages */
static void crd_op_checks(void)
{
    char err[256];
    kd_op_ctx c;
    kd_shape a[3] = {{{4, 3}, 2}, {{4, 5}, 2}, {{4}, 1}};
    CU_ASSERT(net_infer("crd", "n=10", 3, a, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "crd expects embeddings [B, D] of the same shape, got [4, 3] and [4, 5]");
    kd_shape b[3] = {{{4, 3}, 2}, {{4, 3}, 2}, {{3}, 1}};
    CU_ASSERT(net_infer("crd", "n=10", 3, b, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "crd expects the indices [B] of the embeddings' rows, got [3] for [4, 3]");
}
