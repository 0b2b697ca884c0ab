/* kd_sgemm_small.c — see kd_sgemm_small.h.
 *
 * Packed A: M's rows are cut into T = ceil(M / MR) tiles of near-equal
 * height (tile t: rows [M*t/T, M*(t+1)/T), at most MR of them); tile t
 * starting at row r0 with mr rows is stored at ap + r0*K as
 * ap[r0*K + k*mr + i] = op(A)[r0 + i, k], so the micro-kernel reads one
 * contiguous stream of mr broadcasts per k.
 *
 * Loop order: for each strip of NR columns of B (in L1 after the first
 * tile), for each tile of A: the micro-kernel runs the whole of K with
 * the mr x NR tile of C in registers, then writes C once.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include "kd_sgemm_small.h"
#include "kd_op.h"

#include "kd_simd.h"

enum { MR_C = 8, NR_C = 32, MR_AVX2 = 6, MR_AVX512 = 12 };

static int mr_of(int path)
{
    return path == KD_SG_AVX512 ? MR_AVX512 : path == KD_SG_AVX2 ? MR_AVX2 : MR_C;
}

/* ---- path selection ---------------------------------------------------- */
int kd_sgemm_small_supported(int path)
{
    switch (path) {
    case KD_SG_BLAS:
    case KD_SG_C: return 1;
#if KD_X86
    case KD_SG_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case KD_SG_AVX512:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f");
#endif
    default: return 0;
    }
}

static int auto_path(void)
{
    const char *e = getenv("KD_SGEMM");
    if (e) {
        for (int p = KD_SG_BLAS; p <= KD_SG_AVX512; p++)
            if (!strcmp(e, kd_sgemm_small_name(p)) && kd_sgemm_small_supported(p)) return p;
    }
    if (kd_sgemm_small_supported(KD_SG_AVX512)) return KD_SG_AVX512;
    if (kd_sgemm_small_supported(KD_SG_AVX2)) return KD_SG_AVX2;
    return KD_SG_BLAS;
}

/* -1: not chosen yet.  Written once (same value from any thread) or by
 * set_path outside parallel regions. */
static volatile int cur_path = -1;

int kd_sgemm_small_path(void)
{
    int p = cur_path;
    if (p < 0) cur_path = p = auto_path();
    return p;
}

int kd_sgemm_small_set_path(int path)
{
    cur_path = path >= 0 && kd_sgemm_small_supported(path) ? path : auto_path();
    return cur_path;
}

const char *kd_sgemm_small_name(int path)
{
    static const char *const names[] = {"blas", "c", "avx2", "avx512"};
    return path >= 0 && path <= KD_SG_AVX512 ? names[path] : "?";
}

const char *kd_conv_kernels(void)
{
    int path = kd_sgemm_small_path();
    if (path == KD_SG_AVX512 && (kd_sgemm_small_conv_bits() & 64)) return "avx512 winograd";
    return kd_sgemm_small_name(path);
}

/* ---- packing ------------------------------------------------------------ */
void kd_sgemm_small_pack(int path, int transa, int M, int K, const float *A, int lda,
                         float *ap)
{
    int MR = mr_of(path), T = (M + MR - 1) / MR;
    for (int t = 0; t < T; t++) {
        int r0 = (int)((int64_t)M * t / T), r1 = (int)((int64_t)M * (t + 1) / T), mr = r1 - r0;
        float *d = ap + (int64_t)r0 * K;
        for (int k = 0; k < K; k++)
            for (int i = 0; i < mr; i++)
                d[(int64_t)k * mr + i] = transa ? A[(int64_t)k * lda + r0 + i]
                                                : A[(int64_t)(r0 + i) * lda + k];
    }
}

/* ---- plain C ------------------------------------------------------------ */
static void run_c(int M, int N, int K, float alpha, const float *ap, const float *B,
                  int64_t ldb, float beta, float *C, int64_t ldc)
{
    const int T = (M + MR_C - 1) / MR_C;
    float acc[MR_C][NR_C];
    for (int j0 = 0; j0 < N; j0 += NR_C) {
        int nr = N - j0 < NR_C ? N - j0 : NR_C;
        for (int t = 0; t < T; t++) {
            int r0 = (int)((int64_t)M * t / T), r1 = (int)((int64_t)M * (t + 1) / T);
            int mr = r1 - r0;
            const float *a = ap + (int64_t)r0 * K;
            memset(acc, 0, sizeof acc);
            for (int k = 0; k < K; k++) {
                const float *b = B + (int64_t)k * ldb + j0;
                for (int i = 0; i < mr; i++) {
                    float av = a[(int64_t)k * mr + i];
                    for (int j = 0; j < nr; j++) acc[i][j] += av * b[j];
                }
            }
            for (int i = 0; i < mr; i++) {
                float *c = C + (int64_t)(r0 + i) * ldc + j0;
                if (beta == 0.0f)
                    for (int j = 0; j < nr; j++) c[j] = alpha * acc[i][j];
                else
                    for (int j = 0; j < nr; j++) c[j] = alpha * acc[i][j] + beta * c[j];
            }
        }
    }
}

/* ---- taps of the implicit convolutions (every path) --------------------- */
/* tap t = (ki, kj) of a same conv: input row oh + ki - pad, column
 * ow + kj - pad, i.e. the offset from output position p in a [., W] plane */
static inline int same_di(int t, int KS, int pad) { return t / KS - pad; }
static inline int same_dj(int t, int KS, int pad) { return t % KS - pad; }
static inline int same_toff(int t, int KS, int pad, int W)
{
    return same_di(t, KS, pad) * W + same_dj(t, KS, pad);
}

/* tap t = (ki, kj) of a 3x3, pad-1, stride-2 conv: input row 2 oh + ki - 1
 * is row oh + si of parity plane a (ki 0: a 1, si -1; 1: 0, 0; 2: 1, 0),
 * columns likewise (b, sj); plane a*2 + b */
static inline void conv2_tap(int t, int *plane, int *si, int *sj)
{
    static const int par[3] = {1, 0, 1}, sh[3] = {-1, 0, 0};
    *plane = par[t / 3] * 2 + par[t % 3];
    *si = sh[t / 3];
    *sj = sh[t % 3];
}

/* The dX of that conv, parity plane pl = a*2 + b of dx (rows 2i + a,
 * columns 2j + b): the taps whose input row has parity a read dY row
 * i + si: a = 0: ki 1, si 0; a = 1: ki 0, si 1, then ki 2, si 0 (columns
 * likewise).  Taps u of plane pl, ki-major; planes 1, 2, 2, 4 taps, 9 in
 * all, plane pl's first at conv2dx_first[pl] */
static const int conv2dx_first[5] = {0, 1, 3, 5, 9};
static inline void conv2dx_tap(int pl, int u, int *ki, int *kj, int *si, int *sj)
{
    static const int n[2] = {1, 2}, k[2][2] = {{1, 1}, {0, 2}}, sh[2][2] = {{0, 0}, {1, 0}};
    int a = pl >> 1, b = pl & 1, ua = u / n[b], ub = u % n[b];
    *ki = k[a][ua], *si = sh[a][ua], *kj = k[b][ub], *sj = sh[b][ub];
}

#if KD_X86
/* ---- AVX-512: mr x 32 tile, 2 zmm per row, up to 12 rows (24 accumulators) */
static INL T512 void store512(float *c, __m512 v, __mmask16 m, int full, __m512 va, __m512 vb,
                              int bzero)
{
    v = _mm512_mul_ps(va, v);
    if (full) {
        if (!bzero) v = _mm512_fmadd_ps(vb, _mm512_loadu_ps(c), v);
        _mm512_storeu_ps(c, v);
    } else {
        if (!bzero) v = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m, c), v);
        _mm512_mask_storeu_ps(c, m, v);
    }
}

static INL T512 void mk512(const int mr, const int full, int K, const float *restrict a,
                           const float *restrict b, int64_t ldb, float *restrict c, int64_t ldc,
                           float alpha, float beta, __mmask16 m0, __mmask16 m1)
{
    __m512 x[MR_AVX512], y[MR_AVX512];
#pragma GCC unroll 12
    for (int i = 0; i < MR_AVX512; i++)
        if (i < mr) x[i] = _mm512_setzero_ps(), y[i] = _mm512_setzero_ps();
    for (int k = 0; k < K; k++, a += mr, b += ldb) {
        __m512 b0, b1;
        if (full) {
            b0 = _mm512_loadu_ps(b);
            b1 = _mm512_loadu_ps(b + 16);
        } else {
            b0 = _mm512_maskz_loadu_ps(m0, b);
            b1 = _mm512_maskz_loadu_ps(m1, b + 16);
        }
#pragma GCC unroll 12
        for (int i = 0; i < MR_AVX512; i++)
            if (i < mr) {
                __m512 av = _mm512_set1_ps(a[i]);
                x[i] = _mm512_fmadd_ps(av, b0, x[i]);
                y[i] = _mm512_fmadd_ps(av, b1, y[i]);
            }
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    int bzero = beta == 0.0f;
#pragma GCC unroll 12
    for (int i = 0; i < MR_AVX512; i++)
        if (i < mr) {
            store512(c + i * ldc, x[i], m0, full, va, vb, bzero);
            store512(c + i * ldc + 16, y[i], m1, full, va, vb, bzero);
        }
}

#define MK512(R)                                                                             \
    static T512 void mk512_full_##R(int K, const float *a, const float *b, int64_t ldb,     \
                                    float *c, int64_t ldc, float al, float be, __mmask16 m0, \
                                    __mmask16 m1)                                            \
    {                                                                                        \
        mk512(R, 1, K, a, b, ldb, c, ldc, al, be, m0, m1);                                   \
    }                                                                                        \
    static T512 void mk512_edge_##R(int K, const float *a, const float *b, int64_t ldb,     \
                                    float *c, int64_t ldc, float al, float be, __mmask16 m0, \
                                    __mmask16 m1)                                            \
    {                                                                                        \
        mk512(R, 0, K, a, b, ldb, c, ldc, al, be, m0, m1);                                   \
    }
MK512(1) MK512(2) MK512(3) MK512(4) MK512(5) MK512(6)
MK512(7) MK512(8) MK512(9) MK512(10) MK512(11) MK512(12)

typedef void (*mk512_fn)(int, const float *, const float *, int64_t, float *, int64_t, float,
                         float, __mmask16, __mmask16);
static const mk512_fn mk512_full[MR_AVX512 + 1] = {
    NULL, mk512_full_1, mk512_full_2, mk512_full_3, mk512_full_4, mk512_full_5, mk512_full_6,
    mk512_full_7, mk512_full_8, mk512_full_9, mk512_full_10, mk512_full_11, mk512_full_12};
static const mk512_fn mk512_edge[MR_AVX512 + 1] = {
    NULL, mk512_edge_1, mk512_edge_2, mk512_edge_3, mk512_edge_4, mk512_edge_5, mk512_edge_6,
    mk512_edge_7, mk512_edge_8, mk512_edge_9, mk512_edge_10, mk512_edge_11, mk512_edge_12};

static T512 void run_avx512(int M, int N, int K, float alpha, const float *ap, const float *B,
                            int64_t ldb, float beta, float *C, int64_t ldc)
{
    const int T = (M + MR_AVX512 - 1) / MR_AVX512;
    for (int j0 = 0; j0 < N; j0 += 32) {
        int nr = N - j0 < 32 ? N - j0 : 32, full = nr == 32;
        __mmask16 m0 = (__mmask16)(nr >= 16 ? 0xFFFF : (1u << nr) - 1);
        __mmask16 m1 = (__mmask16)(nr >= 32 ? 0xFFFF : nr <= 16 ? 0 : (1u << (nr - 16)) - 1);
        for (int t = 0; t < T; t++) {
            int r0 = (int)((int64_t)M * t / T), r1 = (int)((int64_t)M * (t + 1) / T);
            (full ? mk512_full : mk512_edge)[r1 - r0](K, ap + (int64_t)r0 * K, B + j0, ldb,
                                                       C + (int64_t)r0 * ldc + j0, ldc, alpha,
                                                       beta, m0, m1);
        }
    }
}

/* ---- AVX-512, implicit im2col (see kd_sgemm_small_conv) ------------------
 * B[k, p] for k = (ci, t), t = tap (ki, kj): x[ci*HW + p + off[t]], masked
 * to 0 where the tap falls outside the image; the masks of the 32 columns
 * of a strip are computed once per strip, tap by tap. */
static INL T512 void mkc512(const int mr, int Cg, int KK, const float *restrict a,
                            const float *xb, int64_t HW, const int *toff,
                            const __mmask16 *tm, float *restrict c, int64_t ldc, __mmask16 s0,
                            __mmask16 s1, int acc)
{
    __m512 x[MR_AVX512], y[MR_AVX512];
#pragma GCC unroll 12
    for (int i = 0; i < MR_AVX512; i++)
        if (i < mr) x[i] = _mm512_setzero_ps(), y[i] = _mm512_setzero_ps();
    for (int ci = 0; ci < Cg; ci++, xb += HW) {
        /* the next channel's rows of this strip, ahead of its taps */
        _mm_prefetch((const char *)(xb + HW + toff[0]), _MM_HINT_T0);
        _mm_prefetch((const char *)(xb + HW + toff[0] + 16), _MM_HINT_T0);
        _mm_prefetch((const char *)(xb + HW + toff[KK - 1]), _MM_HINT_T0);
        _mm_prefetch((const char *)(xb + HW + toff[KK - 1] + 16), _MM_HINT_T0);
        for (int t = 0; t < KK; t++, a += mr) {
            const float *b = xb + toff[t];
            __m512 b0 = _mm512_maskz_loadu_ps(tm[2 * t], b);
            __m512 b1 = _mm512_maskz_loadu_ps(tm[2 * t + 1], b + 16);
#pragma GCC unroll 12
            for (int i = 0; i < MR_AVX512; i++)
                if (i < mr) {
                    __m512 av = _mm512_set1_ps(a[i]);
                    x[i] = _mm512_fmadd_ps(av, b0, x[i]);
                    y[i] = _mm512_fmadd_ps(av, b1, y[i]);
                }
        }
    }
#pragma GCC unroll 12
    for (int i = 0; i < MR_AVX512; i++)
        if (i < mr) {
            if (acc) {
                x[i] = _mm512_add_ps(_mm512_maskz_loadu_ps(s0, c + i * ldc), x[i]);
                y[i] = _mm512_add_ps(_mm512_maskz_loadu_ps(s1, c + i * ldc + 16), y[i]);
            }
            _mm512_mask_storeu_ps(c + i * ldc, s0, x[i]);
            _mm512_mask_storeu_ps(c + i * ldc + 16, s1, y[i]);
        }
}

#define MKC512(R)                                                                            \
    static T512 void mkc512_##R(int Cg, int KK, const float *a, const float *xb, int64_t HW, \
                                const int *toff, const __mmask16 *tm, float *c, int64_t ldc, \
                                __mmask16 s0, __mmask16 s1, int acc)                         \
    {                                                                                        \
        mkc512(R, Cg, KK, a, xb, HW, toff, tm, c, ldc, s0, s1, acc);                         \
    }
MKC512(1) MKC512(2) MKC512(3) MKC512(4) MKC512(5) MKC512(6)
MKC512(7) MKC512(8) MKC512(9) MKC512(10) MKC512(11) MKC512(12)

typedef void (*mkc512_fn)(int, int, const float *, const float *, int64_t, const int *,
                          const __mmask16 *, float *, int64_t, __mmask16, __mmask16, int);
static const mkc512_fn mkc512_tab[MR_AVX512 + 1] = {
    NULL, mkc512_1, mkc512_2, mkc512_3, mkc512_4, mkc512_5, mkc512_6,
    mkc512_7, mkc512_8, mkc512_9, mkc512_10, mkc512_11, mkc512_12};

/* Y[M, P] (+)= A B with B[(ci, t), p] = x[ci*cs + p + toff[t]], masked
 * by masks[t * ceil(P/16) + p/16] (0 where unset): the implicit im2col of
 * a same conv (cs = P, toff the shifts of the taps) or of a stride-2 conv
 * on the input split by parity (kd_sgemm_small_conv2_split: cs = 4P, toff
 * a plane and a shift per tap) */
static T512 void convg_avx512(int M, int Cg, int KK, int P, int64_t cs, const int *toff,
                              const uint16_t *masks, const float *ap, const float *x, float *Y,
                              int64_t ldy, int acc)
{
    const int T = (M + MR_AVX512 - 1) / MR_AVX512, Kg = Cg * KK, nchunk = (P + 15) / 16;
    __mmask16 tm[2 * KD_SGEMM_CONV_MAXTAPS];
    for (int j0 = 0; j0 < P; j0 += 32) {
        /* the tap masks of the strip's two chunks of 16 output positions */
        int c0 = j0 / 16;
        for (int t = 0; t < KK; t++) {
            tm[2 * t] = (__mmask16)masks[(int64_t)t * nchunk + c0];
            tm[2 * t + 1] = c0 + 1 < nchunk ? (__mmask16)masks[(int64_t)t * nchunk + c0 + 1] : 0;
        }
        int nr = P - j0 < 32 ? P - j0 : 32;
        unsigned sm = nr == 32 ? 0xFFFFFFFFu : (1u << nr) - 1;
        for (int t = 0; t < T; t++) {
            int r0 = (int)((int64_t)M * t / T), r1 = (int)((int64_t)M * (t + 1) / T);
            mkc512_tab[r1 - r0](Cg, KK, ap + (int64_t)r0 * Kg, x + j0, cs, toff, tm,
                                Y + (int64_t)r0 * ldy + j0, ldy, (__mmask16)(sm & 0xFFFF),
                                (__mmask16)(sm >> 16), acc);
        }
    }
}

static T512 void conv_avx512(int M, int Cg, int H, int W, int KS, int pad, const float *ap,
                             const float *x, float *Y, int64_t ldy, int acc,
                             const uint16_t *masks)
{
    int toff[KD_SGEMM_CONV_MAXTAPS];
    for (int t = 0; t < KS * KS; t++) toff[t] = same_toff(t, KS, pad, W);
    convg_avx512(M, Cg, KS * KS, H * W, (int64_t)H * W, toff, masks, ap, x, Y, ldy, acc);
}

static T512 void conv2_avx512(int M, int Cg, int Ho, int Wo, const float *ap, const float *q,
                              float *Y, int64_t ldy, const uint16_t *masks)
{
    const int P = Ho * Wo;
    int toff[9];
    for (int t = 0; t < 9; t++) {
        int pl, si, sj;
        conv2_tap(t, &pl, &si, &sj);
        toff[t] = pl * P + si * Wo + sj;
    }
    convg_avx512(M, Cg, 9, P, 4 * (int64_t)P, toff, masks, ap, q, Y, ldy, 0);
}

/* the four planes [4][M, Ho*Wo] of dX: implicit products on dY [Cg, Ho, Wo] */
static T512 void conv2dx_avx512(int M, int Cg, int Ho, int Wo, const float *ap, const float *dy,
                                float *planes, const uint16_t *masks)
{
    const int P = Ho * Wo, nchunk = (P + 15) / 16;
    for (int pl = 0; pl < 4; pl++) {
        int f0 = conv2dx_first[pl], KK = conv2dx_first[pl + 1] - f0, toff[4];
        for (int u = 0; u < KK; u++) {
            int ki, kj, si, sj;
            conv2dx_tap(pl, u, &ki, &kj, &si, &sj);
            toff[u] = si * Wo + sj;
        }
        convg_avx512(M, Cg, KK, P, P, toff, masks + (int64_t)f0 * nchunk,
                     ap + (int64_t)M * Cg * f0, dy, planes + (int64_t)pl * M * P, P, 0);
    }
}

/* ---- AVX-512, C += A B^T (kd_sgemm_small_nt): 4 rows of A x 4 rows of B,
 * 16 zmm of 16 lane-partial sums over k (k in order; the last, partial
 * step masked), reduced by a fixed tree at the end.  Edge tiles repeat the
 * last valid row (the extra sums are not stored). */
static INL T512 void nt_step(const float *const *a, const float *const *b, int k, __mmask16 m,
                             __m512 acc[4][4])
{
    __m512 va[4];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) va[i] = _mm512_maskz_loadu_ps(m, a[i] + k);
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        __m512 vb = _mm512_maskz_loadu_ps(m, b[j] + k);
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) acc[i][j] = _mm512_fmadd_ps(va[i], vb, acc[i][j]);
    }
}

/* lane l of the result: the sum of the 16 lanes of acc[l / 4][l % 4], by a
 * fixed tree (pairs of lanes, then of 128-bit blocks) */
static INL T512 __m512 reduce16(__m512 acc[4][4])
{
    __m512 u[4];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        __m512 s01 = _mm512_add_ps(_mm512_unpacklo_ps(acc[i][0], acc[i][1]),
                                   _mm512_unpackhi_ps(acc[i][0], acc[i][1]));
        __m512 s23 = _mm512_add_ps(_mm512_unpacklo_ps(acc[i][2], acc[i][3]),
                                   _mm512_unpackhi_ps(acc[i][2], acc[i][3]));
        /* each 128-bit block: the partial sums of acc[i][0..3] over its 4 lanes */
        u[i] = _mm512_add_ps(_mm512_shuffle_ps(s01, s23, _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_ps(s01, s23, _MM_SHUFFLE(3, 2, 3, 2)));
    }
    __m512 x01 = _mm512_add_ps(_mm512_shuffle_f32x4(u[0], u[1], _MM_SHUFFLE(1, 0, 1, 0)),
                               _mm512_shuffle_f32x4(u[0], u[1], _MM_SHUFFLE(3, 2, 3, 2)));
    __m512 x23 = _mm512_add_ps(_mm512_shuffle_f32x4(u[2], u[3], _MM_SHUFFLE(1, 0, 1, 0)),
                               _mm512_shuffle_f32x4(u[2], u[3], _MM_SHUFFLE(3, 2, 3, 2)));
    return _mm512_add_ps(_mm512_shuffle_f32x4(x01, x23, _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f32x4(x01, x23, _MM_SHUFFLE(3, 1, 3, 1)));
}

static T512 void nt_avx512(int M, int N, int K, const float *A, int64_t lda, const float *B,
                           int64_t ldb, float *C, int64_t ldc)
{
    const int K16 = K & ~15;
    const __mmask16 tail = (__mmask16)((1u << (K - K16)) - 1);
    for (int j0 = 0; j0 < N; j0 += 4) {
        const float *b[4];
        for (int j = 0; j < 4; j++) b[j] = B + (int64_t)(j0 + j < N ? j0 + j : N - 1) * ldb;
        for (int i0 = 0; i0 < M; i0 += 4) {
            const float *a[4];
            for (int i = 0; i < 4; i++) a[i] = A + (int64_t)(i0 + i < M ? i0 + i : M - 1) * lda;
            __m512 acc[4][4];
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++)
#pragma GCC unroll 4
                for (int j = 0; j < 4; j++) acc[i][j] = _mm512_setzero_ps();
            for (int k = 0; k < K16; k += 16) nt_step(a, b, k, (__mmask16)0xFFFF, acc);
            if (tail) nt_step(a, b, K16, tail, acc);
            __m512 sum = reduce16(acc); /* block i: row i0 + i, columns j0..j0+3 */
            if (i0 + 4 <= M && j0 + 4 <= N) {
                /* the lane index of _mm512_extractf32x4_ps must be a
                 * constant expression (clang refuses a loop variable) */
                float *c = C + (int64_t)i0 * ldc + j0;
                _mm_storeu_ps(c, _mm_add_ps(_mm_loadu_ps(c), _mm512_extractf32x4_ps(sum, 0)));
                c += ldc;
                _mm_storeu_ps(c, _mm_add_ps(_mm_loadu_ps(c), _mm512_extractf32x4_ps(sum, 1)));
                c += ldc;
                _mm_storeu_ps(c, _mm_add_ps(_mm_loadu_ps(c), _mm512_extractf32x4_ps(sum, 2)));
                c += ldc;
                _mm_storeu_ps(c, _mm_add_ps(_mm_loadu_ps(c), _mm512_extractf32x4_ps(sum, 3)));
            } else {
                float r[16];
                _mm512_storeu_ps(r, sum);
                for (int i = 0; i < 4 && i0 + i < M; i++)
                    for (int j = 0; j < 4 && j0 + j < N; j++)
                        C[(int64_t)(i0 + i) * ldc + j0 + j] += r[4 * i + j];
            }
        }
    }
}

/* ---- AVX2: mr x 16 tile, 2 ymm per row, up to 6 rows (12 accumulators) */
static INL T256 void store256(float *c, __m256 v, __m256i m, int full, __m256 va, __m256 vb,
                              int bzero)
{
    v = _mm256_mul_ps(va, v);
    if (full) {
        if (!bzero) v = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c), v);
        _mm256_storeu_ps(c, v);
    } else {
        if (!bzero) v = _mm256_fmadd_ps(vb, _mm256_maskload_ps(c, m), v);
        _mm256_maskstore_ps(c, m, v);
    }
}

static INL T256 void mk256(const int mr, const int full, int K, const float *restrict a,
                           const float *restrict b, int64_t ldb, float *restrict c, int64_t ldc,
                           float alpha, float beta, __m256i m0, __m256i m1)
{
    __m256 x[MR_AVX2], y[MR_AVX2];
#pragma GCC unroll 6
    for (int i = 0; i < MR_AVX2; i++)
        if (i < mr) x[i] = _mm256_setzero_ps(), y[i] = _mm256_setzero_ps();
    for (int k = 0; k < K; k++, a += mr, b += ldb) {
        __m256 b0, b1;
        if (full) {
            b0 = _mm256_loadu_ps(b);
            b1 = _mm256_loadu_ps(b + 8);
        } else {
            b0 = _mm256_maskload_ps(b, m0);
            b1 = _mm256_maskload_ps(b + 8, m1);
        }
#pragma GCC unroll 6
        for (int i = 0; i < MR_AVX2; i++)
            if (i < mr) {
                __m256 av = _mm256_broadcast_ss(a + i);
                x[i] = _mm256_fmadd_ps(av, b0, x[i]);
                y[i] = _mm256_fmadd_ps(av, b1, y[i]);
            }
    }
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    int bzero = beta == 0.0f;
#pragma GCC unroll 6
    for (int i = 0; i < MR_AVX2; i++)
        if (i < mr) {
            store256(c + i * ldc, x[i], m0, full, va, vb, bzero);
            store256(c + i * ldc + 8, y[i], m1, full, va, vb, bzero);
        }
}

#define MK256(R)                                                                             \
    static T256 void mk256_full_##R(int K, const float *a, const float *b, int64_t ldb,     \
                                    float *c, int64_t ldc, float al, float be, __m256i m0,   \
                                    __m256i m1)                                              \
    {                                                                                        \
        mk256(R, 1, K, a, b, ldb, c, ldc, al, be, m0, m1);                                   \
    }                                                                                        \
    static T256 void mk256_edge_##R(int K, const float *a, const float *b, int64_t ldb,     \
                                    float *c, int64_t ldc, float al, float be, __m256i m0,   \
                                    __m256i m1)                                              \
    {                                                                                        \
        mk256(R, 0, K, a, b, ldb, c, ldc, al, be, m0, m1);                                   \
    }
MK256(1) MK256(2) MK256(3) MK256(4) MK256(5) MK256(6)

typedef void (*mk256_fn)(int, const float *, const float *, int64_t, float *, int64_t, float,
                         float, __m256i, __m256i);
static const mk256_fn mk256_full[MR_AVX2 + 1] = {NULL, mk256_full_1, mk256_full_2, mk256_full_3,
                                                 mk256_full_4, mk256_full_5, mk256_full_6};
static const mk256_fn mk256_edge[MR_AVX2 + 1] = {NULL, mk256_edge_1, mk256_edge_2, mk256_edge_3,
                                                 mk256_edge_4, mk256_edge_5, mk256_edge_6};

static T256 __m256i lanes_below(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static T256 void run_avx2(int M, int N, int K, float alpha, const float *ap, const float *B,
                          int64_t ldb, float beta, float *C, int64_t ldc)
{
    const int T = (M + MR_AVX2 - 1) / MR_AVX2;
    for (int j0 = 0; j0 < N; j0 += 16) {
        int nr = N - j0 < 16 ? N - j0 : 16, full = nr == 16;
        __m256i m0 = lanes_below(nr), m1 = lanes_below(nr - 8);
        for (int t = 0; t < T; t++) {
            int r0 = (int)((int64_t)M * t / T), r1 = (int)((int64_t)M * (t + 1) / T);
            (full ? mk256_full : mk256_edge)[r1 - r0](K, ap + (int64_t)r0 * K, B + j0, ldb,
                                                       C + (int64_t)r0 * ldc + j0, ldc, alpha,
                                                       beta, m0, m1);
        }
    }
}
#endif /* KD_X86 */


/* -1 until first read: then 127, or 63 (no Winograd) when KD_WINOGRAD is
 * 0 or off */
static volatile int conv_on = -1;
int kd_sgemm_small_conv_bits(void)
{
    if (conv_on < 0) {
        const char *e = getenv("KD_WINOGRAD");
        conv_on = e && (!strcmp(e, "0") || !strcmp(e, "off")) ? 63 : 127;
    }
    return conv_on;
}
int kd_sgemm_small_set_conv(int on)
{
    int was = kd_sgemm_small_conv_bits();
    conv_on = on;
    return was;
}

int kd_sgemm_small_nt_ok(int path, int K)
{
    return KD_X86 && (kd_sgemm_small_conv_bits() & 2) && path == KD_SG_AVX512 && K >= KD_SGEMM_NT_MIN_K;
}

void kd_sgemm_small_nt(int path, int M, int N, int K, const float *A, int lda, const float *B,
                       int ldb, float *C, int ldc)
{
    (void)path;
    if (M <= 0 || N <= 0) return;
#if KD_X86
    nt_avx512(M, N, K, A, lda, B, ldb, C, ldc);
#else
    (void)K, (void)A, (void)lda, (void)B, (void)ldb, (void)C, (void)ldc;
#endif
}

size_t kd_sgemm_small_conv_masks(int H, int W, int KS)
{
    return (size_t)((H * W + 15) / 16) * (size_t)(KS * KS);
}

/* masks[t * nchunk + p / 16] bit p % 16: output position p = (oh, ow) of
 * an [H, W] output reads, for tap t, position (oh + di[t], ow + dj[t]) of
 * an [H, W] plane, and that lies inside it */
static void write_masks(int H, int W, int KK, const int *di, const int *dj, uint16_t *masks)
{
    const int P = H * W, nchunk = (P + 15) / 16;
    memset(masks, 0, sizeof(uint16_t) * (size_t)nchunk * (size_t)KK);
    /* position p = (oh, ow), walked in order: no divisions */
    for (int p = 0, oh = 0, ow = 0; p < P; p++) {
        for (int t = 0; t < KK; t++) {
            int ih = oh + di[t], iw = ow + dj[t];
            if (ih >= 0 && ih < H && iw >= 0 && iw < W)
                masks[(size_t)t * nchunk + (size_t)(p >> 4)] |= (uint16_t)(1u << (p & 15));
        }
        if (++ow == W) ow = 0, oh++;
    }
}

void kd_sgemm_small_conv_prep(int H, int W, int KS, int pad, uint16_t *masks)
{
    const int KK = KS * KS <= KD_SGEMM_CONV_MAXTAPS ? KS * KS : KD_SGEMM_CONV_MAXTAPS;
    int di[KD_SGEMM_CONV_MAXTAPS], dj[KD_SGEMM_CONV_MAXTAPS];
    for (int t = 0; t < KK; t++) di[t] = same_di(t, KS, pad), dj[t] = same_dj(t, KS, pad);
    write_masks(H, W, KK, di, dj, masks);
}

int kd_sgemm_small_conv_ok(int path, int KS, int stride, int pad, int dil)
{
    return KD_X86 && (kd_sgemm_small_conv_bits() & 1) && path == KD_SG_AVX512 && stride == 1 && dil == 1 && 2 * pad == KS - 1 &&
           KS * KS <= KD_SGEMM_CONV_MAXTAPS;
}

void kd_sgemm_small_conv(int path, int M, int Cg, int H, int W, int KS, int pad,
                         const float *ap, const float *x, float *Y, int ldy, int accumulate,
                         const uint16_t *masks)
{
    (void)path;
#if KD_X86
    conv_avx512(M, Cg, H, W, KS, pad, ap, x, Y, ldy, accumulate, masks);
#else
    (void)M, (void)Cg, (void)H, (void)W, (void)KS, (void)pad, (void)ap, (void)x, (void)Y, (void)ldy;
    (void)accumulate, (void)masks;
#endif
}

int kd_sgemm_small_conv2_ok(int path, int KS, int stride, int pad, int dil, int H, int W)
{
    return KD_X86 && (kd_sgemm_small_conv_bits() & 8) && path == KD_SG_AVX512 && KS == 3 && stride == 2 &&
           pad == 1 && dil == 1 && H % 2 == 0 && W % 2 == 0 && H > 0 && W > 0;
}

size_t kd_sgemm_small_conv2_masks(int Ho, int Wo) { return (size_t)((Ho * Wo + 15) / 16) * 9; }

void kd_sgemm_small_conv2_prep(int Ho, int Wo, uint16_t *masks)
{
    int di[9], dj[9], pl;
    for (int t = 0; t < 9; t++) conv2_tap(t, &pl, &di[t], &dj[t]);
    write_masks(Ho, Wo, 9, di, dj, masks);   /* the planes are [Ho, Wo] */
}

void kd_sgemm_small_conv2_split(int Cg, int H, int W, const float *x, float *q)
{
    const int Ho = H / 2, Wo = W / 2;
    const size_t P = (size_t)Ho * Wo;
    for (int ci = 0; ci < Cg; ci++) {
        const float *xc = x + (size_t)ci * H * W;
        float *q0 = q + (size_t)ci * 4 * P;
        for (int i = 0; i < Ho; i++)
            for (int a = 0; a < 2; a++) {
                const float *row = xc + (size_t)(2 * i + a) * W;
                float *e = q0 + (size_t)(a * 2) * P + (size_t)i * Wo, *o = e + P;
                for (int j = 0; j < Wo; j++) {   /* constant stride 2: vectorizes */
                    e[j] = row[2 * j];
                    o[j] = row[2 * j + 1];
                }
            }
    }
}

void kd_sgemm_small_conv2(int path, int M, int Cg, int Ho, int Wo, const float *ap,
                          const float *q, float *Y, int ldy, const uint16_t *masks)
{
    (void)path;
#if KD_X86
    conv2_avx512(M, Cg, Ho, Wo, ap, q, Y, ldy, masks);
#else
    (void)M, (void)Cg, (void)Ho, (void)Wo, (void)ap, (void)q, (void)Y, (void)ldy, (void)masks;
#endif
}

void kd_sgemm_small_conv2dx_prep(int Ho, int Wo, uint16_t *masks)
{
    int di[9], dj[9];
    for (int pl = 0; pl < 4; pl++)
        for (int u = 0, t = conv2dx_first[pl]; t < conv2dx_first[pl + 1]; u++, t++) {
            int ki, kj;
            conv2dx_tap(pl, u, &ki, &kj, &di[t], &dj[t]);
        }
    write_masks(Ho, Wo, 9, di, dj, masks);
}

void kd_sgemm_small_pack_conv2dx(int path, int F, int C, const float *w, float *ap)
{
    const int MR = mr_of(path), T = (C + MR - 1) / MR;
    for (int pl = 0; pl < 4; pl++) {
        const int f0 = conv2dx_first[pl], KK = conv2dx_first[pl + 1] - f0, K = F * KK;
        int ki[4], kj[4];
        for (int u = 0; u < KK; u++) {
            int si, sj;
            conv2dx_tap(pl, u, &ki[u], &kj[u], &si, &sj);
        }
        for (int t = 0; t < T; t++) {
            int r0 = (int)((int64_t)C * t / T), r1 = (int)((int64_t)C * (t + 1) / T), mr = r1 - r0;
            float *d = ap + (int64_t)C * F * f0 + (int64_t)r0 * K;
            for (int f = 0; f < F; f++)
                for (int u = 0; u < KK; u++)
                    for (int i = 0; i < mr; i++)
                        d[((int64_t)f * KK + u) * mr + i] =
                            w[((int64_t)f * C + r0 + i) * 9 + ki[u] * 3 + kj[u]];
        }
    }
}

int kd_sgemm_small_conv2dx_ok(int path, int KS, int stride, int pad, int dil, int H, int W)
{
    return (kd_sgemm_small_conv_bits() & 32) && kd_sgemm_small_conv2_ok(path, KS, stride, pad, dil, H, W);
}

void kd_sgemm_small_conv2dx(int path, int M, int Cg, int Ho, int Wo, const float *ap,
                            const float *dy, float *planes, const uint16_t *masks)
{
    (void)path;
#if KD_X86
    conv2dx_avx512(M, Cg, Ho, Wo, ap, dy, planes, masks);
#else
    (void)M, (void)Cg, (void)Ho, (void)Wo, (void)ap, (void)dy, (void)planes, (void)masks;
#endif
}

void kd_sgemm_small_conv2_merge(int C, int H, int W, const float *planes, float *dx)
{
    const int Ho = H / 2, Wo = W / 2;
    const size_t P = (size_t)Ho * Wo, CP = (size_t)C * P;
    for (int c = 0; c < C; c++)
        for (int i = 0; i < Ho; i++)
            for (int a = 0; a < 2; a++) {
                float *row = dx + ((size_t)c * H + 2 * i + a) * W;
                const float *e = planes + 2 * a * CP + (size_t)c * P + (size_t)i * Wo, *o = e + CP;
                for (int j = 0; j < Wo; j++) {
                    row[2 * j] += e[j];
                    row[2 * j + 1] += o[j];
                }
            }
}

void kd_sgemm_small_pack_flip(int path, int F, int C, int KS, const float *w, float *ap)
{
    const int KK = KS * KS, M = C, K = F * KK, MR = mr_of(path), T = (M + MR - 1) / MR;
    for (int t = 0; t < T; t++) {
        int r0 = (int)((int64_t)M * t / T), r1 = (int)((int64_t)M * (t + 1) / T), mr = r1 - r0;
        float *d = ap + (int64_t)r0 * K;
        for (int f = 0; f < F; f++)
            for (int u = 0; u < KK; u++)
                for (int i = 0; i < mr; i++)
                    d[((int64_t)f * KK + u) * mr + i] =
                        w[((int64_t)f * C + r0 + i) * KK + (KK - 1 - u)];
    }
}

void kd_sgemm_small_run(int path, int M, int N, int K, float alpha, const float *ap,
                        const float *B, int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0) return;
    switch (path) {
#if KD_X86
    case KD_SG_AVX512: run_avx512(M, N, K, alpha, ap, B, ldb, beta, C, ldc); return;
    case KD_SG_AVX2: run_avx2(M, N, K, alpha, ap, B, ldb, beta, C, ldc); return;
#endif
    default: run_c(M, N, K, alpha, ap, B, ldb, beta, C, ldc); return;
    }
}
