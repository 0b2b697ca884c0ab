/* test_sgemm_small.c — ops/kd_sgemm_small.c against a naive double
 * reference, on every path this CPU runs (plain C always; AVX2+FMA and
 * AVX-512F where supported; the others are reported as skipped).
 *
 * Shapes: M, N, K around the tile sizes (1..13, 16, 17, 25, 32, 33, 64,
 * 144; N from 1 to 1025; K from 0 to 577), A plain and transposed, lda /
 * ldb / ldc wider than the matrix (the padding must stay untouched),
 * alpha/beta (1, 0), (1, 1), (0.5, -2); beta 0 must ignore NaNs in C.
 * Error bound per element: 2 K u sum_k |a_ik b_kj| (u = 2^-24) plus the
 * beta term.  Each call is repeated and must give the same bits.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../unit.h"
#include "../../ops/kd_sgemm_small.h"
#include "../../ops/kd_dw_hwc.h"
#include "../../ops/kd_wino.h"

static uint64_t rng_s = 0x2545F4914F6CDD1Dull;
static float frand(void)
{
    rng_s ^= rng_s << 13;
    rng_s ^= rng_s >> 7;
    rng_s ^= rng_s << 17;
    return (float)((double)(rng_s >> 11) * (1.0 / 9007199254740992.0) - 0.5);
}

static int failures_shown;

/* one product on one path; 0 if it matches */
static int check_one(int path, int transa, int M, int N, int K, float alpha, float beta)
{
    int lda = (transa ? M : K) + 3, ldb = N + 5, ldc = N + 2;
    int arows = transa ? K : M;
    size_t na = (size_t)arows * lda + 1, nb = (size_t)K * ldb + 1, nc = (size_t)M * ldc + 1;
    float *A = malloc(sizeof(float) * na), *B = malloc(sizeof(float) * nb);
    float *C = malloc(sizeof(float) * nc), *C0 = malloc(sizeof(float) * nc);
    float *C2 = malloc(sizeof(float) * nc), *ap = malloc(sizeof(float) * ((size_t)M * K + 1));
    for (size_t i = 0; i < na; i++) A[i] = frand();
    for (size_t i = 0; i < nb; i++) B[i] = frand();
    for (size_t i = 0; i < nc; i++) C0[i] = beta == 0.0f ? NAN : frand();
    for (int i = 0; i < M; i++) /* the padding columns hold a marker */
        for (int j = N; j < ldc; j++) C0[(size_t)i * ldc + j] = 12345.0f;
    memcpy(C, C0, sizeof(float) * nc);
    kd_sgemm_small_pack(path, transa, M, K, A, lda, ap);
    kd_sgemm_small_run(path, M, N, K, alpha, ap, B, ldb, beta, C, ldc);
    memcpy(C2, C0, sizeof(float) * nc);
    kd_sgemm_small_run(path, M, N, K, alpha, ap, B, ldb, beta, C2, ldc);
    int bad = memcmp(C, C2, sizeof(float) * (size_t)M * ldc) != 0;
    for (int i = 0; i < M && !bad; i++) {
        for (int j = 0; j < ldc; j++) {
            double got = C[(size_t)i * ldc + j];
            if (j >= N) {
                if (got != 12345.0) bad = 1;
                continue;
            }
            double s = 0, sa = 0;
            for (int k = 0; k < K; k++) {
                double a = transa ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                double b = B[(size_t)k * ldb + j];
                s += a * b, sa += fabs(a * b);
            }
            double c0 = beta == 0.0f ? 0.0 : C0[(size_t)i * ldc + j];
            double ref = alpha * s + beta * c0;
            double tol = 2.0 * (K + 2) * ldexp(1.0, -24) * (fabs(alpha) * sa + fabs(beta * c0)) + 1e-30;
            if (!(fabs(got - ref) <= tol)) {
                if (failures_shown++ < 10)
                    printf("\n  %s transa=%d M=%d N=%d K=%d alpha=%g beta=%g: C[%d,%d] = %.9g, "
                           "reference %.9g\n", kd_sgemm_small_name(path), transa, M, N, K,
                           alpha, beta, i, j, got, ref);
                bad = 1;
                break;
            }
        }
    }
    free(A), free(B), free(C), free(C0), free(C2), free(ap);
    return bad;
}

static void test_path(int path)
{
    if (!kd_sgemm_small_supported(path)) {
        printf("(%s not supported here: skipped) ", kd_sgemm_small_name(path));
        return;
    }
    static const int Ms[] = {1, 2, 3, 5, 6, 7, 8, 11, 12, 13, 16, 17, 25, 32, 33, 64, 144};
    static const int Ns[] = {1, 7, 8, 15, 16, 17, 31, 32, 33, 64, 100};
    static const int Ks[] = {0, 1, 3, 16, 27, 144};
    static const float ab[][2] = {{1, 0}, {1, 1}, {0.5f, -2}};
    int fails = 0, n = 0;
    for (size_t mi = 0; mi < sizeof Ms / sizeof *Ms; mi++)
        for (size_t ni = 0; ni < sizeof Ns / sizeof *Ns; ni++)
            for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks; ki++)
                for (int ta = 0; ta < 2; ta++) {
                    size_t v = (mi + ni + ki + (size_t)ta) % 3;
                    fails += check_one(path, ta, Ms[mi], Ns[ni], Ks[ki], ab[v][0], ab[v][1]);
                    n++;
                }
    /* conv2d's shapes: forward (M = F, K = 9C, N = P) and dX (M = 9C, K = F) */
    static const int conv[][3] = {{16, 1024, 144}, {32, 256, 288}, {64, 64, 576},
                                  {144, 1024, 16}, {576, 64, 64}, {10, 1025, 577},
                                  {13, 49, 1201}};
    for (size_t s = 0; s < sizeof conv / sizeof *conv; s++)
        for (int v = 0; v < 3; v++) {
            fails += check_one(path, s >= 3 && s < 5, conv[s][0], conv[s][1], conv[s][2],
                               ab[v][0], ab[v][1]);
            n++;
        }
    if (fails) printf("\n  %s: %d of %d products wrong\n", kd_sgemm_small_name(path), fails, n);
    CU_ASSERT_EQUAL(fails, 0);
}

static void test_c(void) { test_path(KD_SG_C); }
static void test_avx2(void) { test_path(KD_SG_AVX2); }
static void test_avx512(void) { test_path(KD_SG_AVX512); }

/* col [Cg*KS*KS, H*W] = im2col of x [Cg, H, W] for a stride-1 conv */
static void im2col_ref(const float *x, int Cg, int H, int W, int KS, int pad, float *col)
{
    int P = H * W;
    for (int k = 0; k < Cg * KS * KS; k++) {
        int ci = k / (KS * KS), di = k / KS % KS - pad, dj = k % KS - pad;
        for (int p = 0; p < P; p++) {
            int ih = p / W + di, iw = p % W + dj;
            col[(size_t)k * P + p] =
                ih >= 0 && ih < H && iw >= 0 && iw < W ? x[((size_t)ci * H + ih) * W + iw] : 0.0f;
        }
    }
}

/* kd_sgemm_small_conv (implicit im2col) gives the bits of im2col +
 * kd_sgemm_small_run on the same path; that one is checked above */
static void test_conv_implicit(void)
{
    if (!kd_sgemm_small_conv_ok(KD_SG_AVX512, 3, 1, 1, 1) ||
        !kd_sgemm_small_supported(KD_SG_AVX512)) {
        printf("(no AVX-512: skipped) ");
        return;
    }
    CU_ASSERT(!kd_sgemm_small_conv_ok(KD_SG_AVX512, 3, 2, 1, 1));
    CU_ASSERT(!kd_sgemm_small_conv_ok(KD_SG_AVX512, 3, 1, 0, 1));
    CU_ASSERT(!kd_sgemm_small_conv_ok(KD_SG_AVX2, 3, 1, 1, 1));
    static const int sh[][5] = {/* M, Cg, H, W, KS */
                                {16, 16, 32, 32, 3}, {5, 3, 7, 6, 3}, {13, 2, 5, 9, 5},
                                {32, 4, 1, 1, 3}, {12, 3, 8, 8, 1}, {64, 8, 8, 8, 3},
                                {7, 2, 3, 17, 7}, {25, 5, 16, 16, 3}, {3, 1, 2, 40, 3}};
    for (size_t s = 0; s < sizeof sh / sizeof *sh; s++) {
        int M = sh[s][0], Cg = sh[s][1], H = sh[s][2], W = sh[s][3], KS = sh[s][4];
        int pad = (KS - 1) / 2, P = H * W, Kg = Cg * KS * KS, ldy = P + 3;
        float *x = malloc(sizeof(float) * (size_t)Cg * P), *A = malloc(sizeof(float) * (size_t)M * Kg);
        float *ap = malloc(sizeof(float) * (size_t)M * Kg), *col = malloc(sizeof(float) * (size_t)Kg * P);
        float *y1 = malloc(sizeof(float) * (size_t)M * ldy), *y2 = malloc(sizeof(float) * (size_t)M * ldy);
        for (int i = 0; i < Cg * P; i++) x[i] = frand();
        for (int i = 0; i < M * Kg; i++) A[i] = frand();
        im2col_ref(x, Cg, H, W, KS, pad, col);
        for (int i = 0; i < M * ldy; i++) y1[i] = y2[i] = 777.0f;
        kd_sgemm_small_pack(KD_SG_AVX512, 0, M, Kg, A, Kg, ap);
        kd_sgemm_small_run(KD_SG_AVX512, M, P, Kg, 1.0f, ap, col, P, 0.0f, y1, ldy);
        uint16_t *masks = malloc(sizeof(uint16_t) * kd_sgemm_small_conv_masks(H, W, KS));
        kd_sgemm_small_conv_prep(H, W, KS, pad, masks);
        kd_sgemm_small_conv(KD_SG_AVX512, M, Cg, H, W, KS, pad, ap, x, y2, ldy, 0, masks);
        int same = memcmp(y1, y2, sizeof(float) * (size_t)M * ldy) == 0;
        /* accumulate: Y += product, the bits of run with beta 1 */
        kd_sgemm_small_run(KD_SG_AVX512, M, P, Kg, 1.0f, ap, col, P, 1.0f, y1, ldy);
        kd_sgemm_small_conv(KD_SG_AVX512, M, Cg, H, W, KS, pad, ap, x, y2, ldy, 1, masks);
        same = same && memcmp(y1, y2, sizeof(float) * (size_t)M * ldy) == 0;
        if (!same) printf("\n  implicit conv M=%d Cg=%d H=%d W=%d KS=%d differs\n", M, Cg, H, W, KS);
        CU_ASSERT(same);
        CU_ASSERT_EQUAL(y2[P], 777.0f); /* the padding of Y untouched */
        free(x), free(A), free(ap), free(col), free(y1), free(y2), free(masks);
    }
}

/* C += A B^T (conv2d's dW) against a double reference, C's padding
 * untouched, the same bits twice */
static void test_nt(void)
{
    if (!kd_sgemm_small_nt_ok(KD_SG_AVX512, 256) || !kd_sgemm_small_supported(KD_SG_AVX512)) {
        printf("(no AVX-512: skipped) ");
        return;
    }
    CU_ASSERT(!kd_sgemm_small_nt_ok(KD_SG_AVX2, 256));
    CU_ASSERT(!kd_sgemm_small_nt_ok(KD_SG_AVX512, 64));
    static const int sh[][3] = {/* M, N, K */
                                {16, 144, 1024}, {32, 288, 256}, {64, 576, 64}, {1, 1, 1},
                                {3, 5, 17}, {5, 7, 15}, {6, 9, 16}, {7, 3, 33}, {4, 4, 0},
                                {9, 13, 49}, {2, 27, 1025}};
    int fails = 0;
    for (size_t s = 0; s < sizeof sh / sizeof *sh; s++) {
        int M = sh[s][0], N = sh[s][1], K = sh[s][2], lda = K + 3, ldb = K + 1, ldc = N + 2;
        float *A = malloc(sizeof(float) * ((size_t)M * lda + 1)),
              *B = malloc(sizeof(float) * ((size_t)N * ldb + 1)),
              *C = malloc(sizeof(float) * (size_t)M * ldc),
              *C0 = malloc(sizeof(float) * (size_t)M * ldc),
              *C2 = malloc(sizeof(float) * (size_t)M * ldc);
        for (int i = 0; i < M * lda; i++) A[i] = frand();
        for (int i = 0; i < N * ldb; i++) B[i] = frand();
        for (int i = 0; i < M * ldc; i++) C0[i] = i % ldc >= N ? 12345.0f : frand();
        memcpy(C, C0, sizeof(float) * (size_t)M * ldc);
        memcpy(C2, C0, sizeof(float) * (size_t)M * ldc);
        kd_sgemm_small_nt(KD_SG_AVX512, M, N, K, A, lda, B, ldb, C, ldc);
        kd_sgemm_small_nt(KD_SG_AVX512, M, N, K, A, lda, B, ldb, C2, ldc);
        int bad = memcmp(C, C2, sizeof(float) * (size_t)M * ldc) != 0;
        for (int i = 0; i < M; i++)
            for (int j = 0; j < ldc; j++) {
                double got = C[(size_t)i * ldc + j], c0 = C0[(size_t)i * ldc + j];
                if (j >= N) {
                    bad |= got != 12345.0;
                    continue;
                }
                double sum = c0, sa = fabs(c0);
                for (int k = 0; k < K; k++) {
                    double p = (double)A[(size_t)i * lda + k] * B[(size_t)j * ldb + k];
                    sum += p, sa += fabs(p);
                }
                if (!(fabs(got - sum) <= 2.0 * (K + 2) * ldexp(1.0, -24) * sa + 1e-30)) {
                    if (!bad) printf("\n  nt M=%d N=%d K=%d: C[%d,%d] = %.9g, reference %.9g\n",
                                     M, N, K, i, j, got, sum);
                    bad = 1;
                }
            }
        fails += bad;
        free(A), free(B), free(C), free(C0), free(C2);
    }
    CU_ASSERT_EQUAL(fails, 0);
}

/* kd_sgemm_small_conv2 (stride-2 3x3 forward on parity planes) gives the
 * bits of stride-2 im2col + kd_sgemm_small_run; Y's padding untouched */
static void test_conv2(void)
{
    if (!kd_sgemm_small_conv2_ok(KD_SG_AVX512, 3, 2, 1, 1, 4, 4) ||
        !kd_sgemm_small_supported(KD_SG_AVX512)) {
        printf("(no AVX-512: skipped) ");
        return;
    }
    CU_ASSERT(!kd_sgemm_small_conv2_ok(KD_SG_AVX512, 3, 2, 1, 1, 5, 4));   /* odd H */
    CU_ASSERT(!kd_sgemm_small_conv2_ok(KD_SG_AVX512, 3, 1, 1, 1, 4, 4));
    CU_ASSERT(!kd_sgemm_small_conv2_ok(KD_SG_AVX512, 3, 2, 0, 1, 4, 4));
    CU_ASSERT(!kd_sgemm_small_conv2_ok(KD_SG_AVX2, 3, 2, 1, 1, 4, 4));
    static const int sh[][4] = {/* M, Cg, H, W */
                                {16, 8, 28, 28}, {32, 16, 14, 14}, {5, 3, 2, 2}, {13, 2, 6, 40},
                                {12, 4, 64, 8}, {7, 1, 32, 32}};
    for (size_t s = 0; s < sizeof sh / sizeof *sh; s++) {
        int M = sh[s][0], Cg = sh[s][1], H = sh[s][2], W = sh[s][3];
        int Ho = H / 2, Wo = W / 2, P = Ho * Wo, Kg = Cg * 9, ldy = P + 3;
        float *x = malloc(sizeof(float) * (size_t)Cg * H * W), *A = malloc(sizeof(float) * (size_t)M * Kg);
        float *ap = malloc(sizeof(float) * (size_t)M * Kg), *col = malloc(sizeof(float) * (size_t)Kg * P);
        float *q = malloc(sizeof(float) * (size_t)Cg * H * W);
        float *y1 = malloc(sizeof(float) * (size_t)M * ldy), *y2 = malloc(sizeof(float) * (size_t)M * ldy);
        uint16_t *masks = malloc(sizeof(uint16_t) * kd_sgemm_small_conv2_masks(Ho, Wo));
        for (int i = 0; i < Cg * H * W; i++) x[i] = frand();
        for (int i = 0; i < M * Kg; i++) A[i] = frand();
        for (int k = 0; k < Kg; k++) {   /* stride-2 im2col, pad 1 */
            int ci = k / 9, di = k / 3 % 3 - 1, dj = k % 3 - 1;
            for (int p = 0; p < P; p++) {
                int ih = 2 * (p / Wo) + di, iw = 2 * (p % Wo) + dj;
                col[(size_t)k * P + p] =
                    ih >= 0 && ih < H && iw >= 0 && iw < W ? x[((size_t)ci * H + ih) * W + iw] : 0.0f;
            }
        }
        for (int i = 0; i < M * ldy; i++) y1[i] = y2[i] = 777.0f;
        kd_sgemm_small_pack(KD_SG_AVX512, 0, M, Kg, A, Kg, ap);
        kd_sgemm_small_run(KD_SG_AVX512, M, P, Kg, 1.0f, ap, col, P, 0.0f, y1, ldy);
        kd_sgemm_small_conv2_prep(Ho, Wo, masks);
        kd_sgemm_small_conv2_split(Cg, H, W, x, q);
        kd_sgemm_small_conv2(KD_SG_AVX512, M, Cg, Ho, Wo, ap, q, y2, ldy, masks);
        int same = memcmp(y1, y2, sizeof(float) * (size_t)M * ldy) == 0;
        if (!same) printf("\n  stride-2 conv M=%d Cg=%d H=%d W=%d differs\n", M, Cg, H, W);
        CU_ASSERT(same);
        CU_ASSERT_EQUAL(y2[P], 777.0f);
        free(x), free(A), free(ap), free(col), free(q), free(y1), free(y2), free(masks);
    }
}

/* kd_sgemm_small_conv2dx + conv2_merge (the stride-2 dX on parity
 * planes) against a double reference of the transposed conv; dx starts
 * nonzero (the merge adds); the same bits when repeated */
static void test_conv2dx(void)
{
    if (!kd_sgemm_small_conv2dx_ok(KD_SG_AVX512, 3, 2, 1, 1, 4, 4) ||
        !kd_sgemm_small_supported(KD_SG_AVX512)) {
        printf("(no AVX-512: skipped) ");
        return;
    }
    CU_ASSERT(!kd_sgemm_small_conv2dx_ok(KD_SG_AVX512, 3, 2, 1, 1, 4, 5));   /* odd W */
    CU_ASSERT(!kd_sgemm_small_conv2dx_ok(KD_SG_AVX512, 3, 1, 1, 1, 4, 4));
    static const int sh[][4] = {/* C (dx rows), F (dY channels), H, W */
                                {16, 32, 32, 32}, {8, 16, 28, 28}, {32, 64, 16, 16}, {3, 5, 2, 2},
                                {13, 2, 6, 40},   {4, 12, 64, 8},  {1, 7, 14, 14}};
    for (size_t s = 0; s < sizeof sh / sizeof *sh; s++) {
        int C = sh[s][0], F = sh[s][1], H = sh[s][2], W = sh[s][3], Ho = H / 2, Wo = W / 2;
        int P = Ho * Wo, n = C * H * W;
        float *w = malloc(sizeof(float) * (size_t)F * C * 9), *dy = malloc(sizeof(float) * (size_t)F * P);
        float *ap = malloc(sizeof(float) * (size_t)F * C * 9), *planes = malloc(sizeof(float) * (size_t)n);
        float *dx = malloc(sizeof(float) * (size_t)n), *dx2 = malloc(sizeof(float) * (size_t)n);
        double *ref = malloc(sizeof(double) * (size_t)n), *mag = calloc((size_t)n, sizeof(double));
        uint16_t *masks = malloc(sizeof(uint16_t) * kd_sgemm_small_conv2_masks(Ho, Wo));
        for (int i = 0; i < F * C * 9; i++) w[i] = frand();
        for (int i = 0; i < F * P; i++) dy[i] = frand();
        for (int i = 0; i < n; i++) dx[i] = dx2[i] = frand(), ref[i] = dx[i];
        for (int f = 0; f < F; f++)   /* dx[c, 2 oh + ki - 1, 2 ow + kj - 1] += w dy */
            for (int c = 0; c < C; c++)
                for (int t = 0; t < 9; t++)
                    for (int p = 0; p < P; p++) {
                        int ih = 2 * (p / Wo) + t / 3 - 1, iw = 2 * (p % Wo) + t % 3 - 1;
                        if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                        double v = (double)w[((size_t)f * C + c) * 9 + t] * dy[(size_t)f * P + p];
                        ref[((size_t)c * H + ih) * W + iw] += v, mag[((size_t)c * H + ih) * W + iw] += fabs(v);
                    }
        kd_sgemm_small_conv2dx_prep(Ho, Wo, masks);
        kd_sgemm_small_pack_conv2dx(KD_SG_AVX512, F, C, w, ap);
        for (int r = 0; r < 2; r++) {
            kd_sgemm_small_conv2dx(KD_SG_AVX512, C, F, Ho, Wo, ap, dy, planes, masks);
            kd_sgemm_small_conv2_merge(C, H, W, planes, r ? dx2 : dx);
        }
        int bad = memcmp(dx, dx2, sizeof(float) * (size_t)n) != 0;
        for (int i = 0; i < n && !bad; i++)
            if (fabs(dx[i] - ref[i]) > 2.0 * (4 * F + 2) * 0x1p-24 * (mag[i] + fabs(ref[i])) + 1e-30)
                bad = 1, printf("\n  stride-2 dX C=%d F=%d %dx%d: element %d %g, want %g", C, F, H,
                                W, i, dx[i], ref[i]);
        CU_ASSERT(!bad);
        free(w), free(dy), free(ap), free(planes), free(dx), free(dx2), free(ref), free(mag), free(masks);
    }
}

/* kd_dw_hwc (dW from x laid out pixel by pixel) against a double
 * reference on strides 1-3, pads 0-2, kernels 1-5, channel counts off
 * the 16-lane and 48-value chunks, filter counts off the blocks; two
 * images summed into a partial that starts nonzero; the same bits when
 * repeated; kd_dw_hwc_finish's permutation and thread-order sum */
static void test_dw_hwc(void)
{
    if (!kd_dw_hwc_ok(KD_SG_AVX512, 1, 1) || !kd_sgemm_small_supported(KD_SG_AVX512)) {
        printf("(no AVX-512: skipped) ");
        return;
    }
    CU_ASSERT(!kd_dw_hwc_ok(KD_SG_AVX512, 2, 1));
    CU_ASSERT(!kd_dw_hwc_ok(KD_SG_AVX512, 1, 2));
    CU_ASSERT(!kd_dw_hwc_ok(KD_SG_AVX2, 1, 1));
    static const int sh[][7] = {/* F, C, H, W, KS, S, pad */
                                {16, 16, 32, 32, 3, 1, 1}, {32, 16, 32, 32, 3, 2, 1},
                                {8, 8, 28, 28, 3, 1, 1},   {16, 8, 28, 28, 3, 2, 1},
                                {32, 32, 7, 7, 3, 1, 1},   {64, 64, 8, 8, 3, 1, 1},
                                {32, 16, 32, 32, 1, 2, 0}, {5, 3, 9, 11, 3, 1, 1},
                                {13, 1, 17, 19, 7, 1, 3},  {37, 24, 6, 5, 5, 3, 2},
                                {17, 4, 14, 14, 1, 1, 0},  {9, 33, 5, 8, 3, 2, 0},
                                {1, 2, 3, 3, 3, 1, 2},     {25, 20, 4, 4, 2, 1, 0}};
    for (size_t s = 0; s < sizeof sh / sizeof *sh; s++) {
        int F = sh[s][0], C = sh[s][1], H = sh[s][2], W = sh[s][3], KS = sh[s][4], S = sh[s][5];
        int pad = sh[s][6], Ho = (H + 2 * pad - KS) / S + 1, Wo = (W + 2 * pad - KS) / S + 1;
        int P = Ho * Wo, ldy = P + 3, KK = KS * KS, nw = F * C * KK;
        size_t nxt = kd_dw_hwc_floats(C, H, W, pad);
        float *x = malloc(sizeof(float) * 2 * (size_t)C * H * W);
        float *dy = malloc(sizeof(float) * 2 * (size_t)F * ldy);
        float *xt = malloc(sizeof(float) * nxt);
        float *acc = malloc(sizeof(float) * 2 * (size_t)nw), *acc2 = malloc(sizeof(float) * (size_t)nw);
        float *dw = malloc(sizeof(float) * (size_t)nw);
        double *ref = calloc((size_t)nw, sizeof(double)), *mag = calloc((size_t)nw, sizeof(double));
        for (int i = 0; i < 2 * C * H * W; i++) x[i] = frand();
        for (int i = 0; i < 2 * F * ldy; i++) dy[i] = frand();
        for (int i = 0; i < nw; i++) acc[i] = acc2[i] = frand(), acc[nw + i] = 0.0f, dw[i] = 0.0f;
        for (int i = 0; i < nw; i++) ref[i] = acc[i];   /* tap-major, as acc */
        for (int n = 0; n < 2; n++)
            for (int f = 0; f < F; f++)
                for (int c = 0; c < C; c++)
                    for (int t = 0; t < KK; t++)
                        for (int p = 0; p < P; p++) {
                            int ih = p / Wo * S + t / KS - pad, iw = p % Wo * S + t % KS - pad;
                            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                            double v = (double)dy[(size_t)(n * F + f) * ldy + p] *
                                       x[((size_t)(n * C + c) * H + ih) * W + iw];
                            ref[(f * KK + t) * C + c] += v, mag[(f * KK + t) * C + c] += fabs(v);
                        }
        for (int n = 0; n < 2; n++) {
            for (size_t i = 0; i < nxt; i++) xt[i] = NAN;   /* the border must be written */
            kd_dw_hwc_layout(C, H, W, pad, x + (size_t)n * C * H * W, xt);
            kd_dw_hwc(F, C, Ho, Wo, KS, S, W + 2 * pad, dy + (size_t)n * F * ldy, ldy, xt, acc);
            kd_dw_hwc(F, C, Ho, Wo, KS, S, W + 2 * pad, dy + (size_t)n * F * ldy, ldy, xt, acc2);
        }
        int bad = memcmp(acc, acc2, sizeof(float) * (size_t)nw) != 0;
        for (int i = 0; i < nw && !bad; i++)
            if (fabs(acc[i] - ref[i]) > 2.0 * (2 * P + 2) * 0x1p-24 * (mag[i] + fabs(ref[i])) + 1e-30)
                bad = 1, printf("\n  dW F=%d C=%d %dx%d KS=%d S=%d pad=%d: element %d %g, want %g", F,
                                C, H, W, KS, S, pad, i, acc[i], ref[i]);
        CU_ASSERT(!bad);
        /* two partials (the second zero) into dw's layout */
        kd_dw_hwc_finish(F, C, KS, acc, (size_t)nw, 2, dw);
        int perm = 1;
        for (int f = 0; f < F && perm; f++)
            for (int c = 0; c < C && perm; c++)
                for (int t = 0; t < KK; t++)
                    if (dw[(f * C + c) * KK + t] != acc[(f * KK + t) * C + c]) perm = 0;
        CU_ASSERT(perm);
        free(x), free(dy), free(xt), free(acc), free(acc2), free(dw), free(ref), free(mag);
    }
}

/* Winograd F(4x4, 3x3) (kd_wino): forward and dX against a double
 * reference, on maps that are and are not multiples of 4 and on groups of
 * images; every image of a group must give the bits it gives alone, and
 * accumulate must add to y.  The error is measured relative to
 * sum |w x| of each output (the direct product's bound is 9 C u of it);
 * the largest ratio seen is printed. */
static int wino_check(const char *what, int Fo, int Ci, int H, int W, int n, const float *in,
                      const float *u, const double *ref, const double *mag, double *worst)
{
    size_t P = (size_t)H * W, ny = (size_t)n * Fo * P;
    float *y = malloc(sizeof(float) * ny), *y1 = malloc(sizeof(float) * Fo * P);
    float *ya = malloc(sizeof(float) * ny);
    float *scr = malloc(sizeof(float) * kd_wino_floats(Ci, Fo, H, W));
    int bad = 0;
    for (size_t i = 0; i < ny; i++) y[i] = NAN, ya[i] = frand();
    float *y0 = malloc(sizeof(float) * ny);
    memcpy(y0, ya, sizeof(float) * ny);
    kd_wino_run(Fo, Ci, H, W, n, u, in, y, 0, scr);
    kd_wino_run(Fo, Ci, H, W, n, u, in, ya, 1, scr);
    for (size_t i = 0; i < ny && !bad; i++) {
        double e = fabs(y[i] - ref[i]), r = e / (mag[i] + 1e-30) / 0x1p-24;
        if (r > *worst) *worst = r;
        if (!(e <= 128.0 * 0x1p-24 * mag[i] + 1e-30))
            bad = 1, printf("\n  wino %s F=%d C=%d %dx%d n=%d: element %zu %g, want %g", what, Fo,
                            Ci, H, W, n, i, y[i], ref[i]);
        if (ya[i] != y0[i] + y[i])
            bad = 1, printf("\n  wino %s accumulate: element %zu %g, want %g", what, i, ya[i],
                            y0[i] + y[i]);
    }
    for (int k = 0; k < n && !bad; k++) {   /* each image alone: the same bits */
        kd_wino_run(Fo, Ci, H, W, 1, u, in + (size_t)k * Ci * P, y1, 0, scr);
        if (memcmp(y1, y + (size_t)k * Fo * P, sizeof(float) * Fo * P))
            bad = 1, printf("\n  wino %s %dx%d: image %d alone differs", what, H, W, k);
    }
    free(y), free(y1), free(ya), free(y0), free(scr);
    return bad;
}

static void test_wino(void)
{
    if (!kd_wino_ok(KD_SG_AVX512, 16, 16) || !kd_sgemm_small_supported(KD_SG_AVX512)) {
        printf("(no AVX-512: skipped) ");
        return;
    }
    CU_ASSERT(!kd_wino_ok(KD_SG_AVX512, 8, 16));
    CU_ASSERT(!kd_wino_ok(KD_SG_AVX512, 16, 24));
    CU_ASSERT(!kd_wino_ok(KD_SG_AVX2, 16, 16));
    static const int sh[][4] = {/* F, C, H, W; n = the group */
                                {16, 16, 32, 32}, {32, 16, 16, 16}, {16, 32, 14, 14},
                                {64, 64, 8, 8},   {16, 16, 7, 7},   {32, 48, 5, 9},
                                {48, 16, 3, 3},   {16, 16, 1, 1},   {16, 32, 28, 28}};
    double worst_f = 0, worst_d = 0, worst_w = 0;
    for (size_t s = 0; s < sizeof sh / sizeof *sh; s++) {
        int F = sh[s][0], C = sh[s][1], H = sh[s][2], W = sh[s][3];
        int n = kd_wino_group(H, W);
        size_t P = (size_t)H * W, nw = (size_t)F * C * 9;
        float *x = malloc(sizeof(float) * n * C * P), *dy = malloc(sizeof(float) * n * F * P);
        float *w = malloc(sizeof(float) * nw);
        float *u = malloc(sizeof(float) * kd_wino_ufloats(C, F));
        double *ref = calloc((size_t)n * F * P, sizeof(double)), *mag = calloc((size_t)n * F * P, sizeof(double));
        double *rdx = calloc((size_t)n * C * P, sizeof(double)), *mdx = calloc((size_t)n * C * P, sizeof(double));
        double *rw = calloc(nw, sizeof(double)), *mw = calloc(nw, sizeof(double));   /* dW */
        for (size_t i = 0; i < (size_t)n * C * P; i++) x[i] = frand();
        for (size_t i = 0; i < (size_t)n * F * P; i++) dy[i] = frand();
        for (size_t i = 0; i < nw; i++) w[i] = frand();
        for (int k = 0; k < n; k++)
            for (int f = 0; f < F; f++)
                for (int c = 0; c < C; c++)
                    for (int t = 0; t < 9; t++)
                        for (int h = 0; h < H; h++)
                            for (int v = 0; v < W; v++) {
                                int ih = h + t / 3 - 1, iw = v + t % 3 - 1;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                double wv = w[((size_t)f * C + c) * 9 + t];
                                size_t o = ((size_t)k * F + f) * P + (size_t)h * W + v;
                                size_t i = ((size_t)k * C + c) * P + (size_t)ih * W + iw;
                                ref[o] += wv * x[i], mag[o] += fabs(wv * x[i]);
                                rdx[i] += wv * dy[o], mdx[i] += fabs(wv * dy[o]);
                                double e = (double)dy[o] * x[i];
                                rw[((size_t)f * C + c) * 9 + t] += e;
                                mw[((size_t)f * C + c) * 9 + t] += fabs(e);
                            }
        /* dW: images 0..n/2-1 into one accumulator, the rest into a
         * second (two threads), summed onto dw0 in two filter ranges */
        {
            size_t nm = kd_wino_macc_floats(C, F);
            float *macc = calloc(2 * nm, sizeof(float)), *dwv = malloc(sizeof(float) * nw);
            float *scr = malloc(sizeof(float) * kd_wino_dw_floats(C, F, H, W));
            for (size_t i = 0; i < nw; i++) rw[i] += dwv[i] = frand();   /* dw's value before */
            int h1 = n / 2;
            kd_wino_dw_run(F, C, H, W, h1, x, dy, macc, scr);
            kd_wino_dw_run(F, C, H, W, n - h1, x + (size_t)h1 * C * P, dy + (size_t)h1 * F * P,
                           macc + nm, scr);
            kd_wino_dw_finish(F, C, macc, nm, 2, 0, F / 2, dwv);
            kd_wino_dw_finish(F, C, macc, nm, 2, F / 2, F, dwv);
            int bad = 0;
            for (size_t i = 0; i < nw && !bad; i++) {
                double e = fabs(dwv[i] - rw[i]), r = e / (mw[i] + 1e-30) / 0x1p-24;
                if (r > worst_w) worst_w = r;
                if (!(e <= 128.0 * 0x1p-24 * mw[i] + 2 * 0x1p-24 * fabs(rw[i]) + 1e-30))
                    bad = 1, printf("\n  wino dW F=%d C=%d %dx%d n=%d: element %zu %g, want %g", F, C,
                                    H, W, n, i, dwv[i], rw[i]);
            }
            CU_ASSERT(!bad);
            free(macc), free(dwv), free(scr);
        }
        kd_wino_pack(F, C, w, 0, 0, C, u);
        CU_ASSERT(!wino_check("forward", F, C, H, W, n, x, u, ref, mag, &worst_f));
        kd_wino_pack(F, C, w, 1, 0, 5, u);   /* in two parts */
        kd_wino_pack(F, C, w, 1, 5, F, u);
        CU_ASSERT(!wino_check("dX", C, F, H, W, n, dy, u, rdx, mdx, &worst_d));
        free(x), free(dy), free(w), free(u), free(ref), free(mag), free(rdx), free(mdx);
        free(rw), free(mw);
    }
    printf("(largest error / (u sum |w x|): forward %.2f, dX %.2f, dW %.2f) ", worst_f, worst_d,
           worst_w);
}

/* the automatic choice never picks the plain C path; set_path falls back
 * to it for an unsupported path; KD_SGEMM is read by the first choice */
static void test_selection(void)
{
    int p = kd_sgemm_small_set_path(-1);
    CU_ASSERT(p != KD_SG_C);
    CU_ASSERT(kd_sgemm_small_supported(p));
    CU_ASSERT_EQUAL(kd_sgemm_small_set_path(KD_SG_C), KD_SG_C);
    CU_ASSERT_EQUAL(kd_sgemm_small_path(), KD_SG_C);
    CU_ASSERT_EQUAL(kd_sgemm_small_set_path(99), p);
    CU_ASSERT_STRING_EQUAL(kd_sgemm_small_name(KD_SG_AVX512), "avx512");
}

int main(void)
{
    static const kd_unit_test tests[] = {
        KD_TEST(test_c),
        KD_TEST(test_avx2),
        KD_TEST(test_avx512),
        KD_TEST(test_conv_implicit),
        KD_TEST(test_nt),
        KD_TEST(test_conv2),
        KD_TEST(test_dw_hwc),
        KD_TEST(test_conv2dx),
        KD_TEST(test_wino),
        KD_TEST(test_selection),
        KD_TEST_END
    };
    return kd_unit_main("sgemm_small", tests);
}
