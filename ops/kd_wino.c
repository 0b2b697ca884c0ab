/* kd_wino.c — Winograd F(4x4, 3x3) for 3x3, pad-1, stride-1 convolutions:
 * see kd_wino.h.
 *
 * A group of images is copied pixel-major (channels as lanes), then its
 * tiles run in chunks of CHUNK rows: input transform into V, 36 products
 * into M, output transform into the pixel-major result; the group's
 * result is then transposed into y.  V and M of a chunk stay in the
 * cache; U (36 C F floats) is read once per chunk.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <string.h>
#include "kd_wino.h"
#include "kd_dw_hwc.h"
#include "kd_sgemm_small.h"
#include "kd_simd.h"

#define CHUNK 16   /* tiles per chunk (rows of the products) */
#define RB 8       /* rows of a register block */

int kd_wino_ok(int path, int C, int F)
{
    return KD_X86 && path == KD_SG_AVX512 && (kd_sgemm_small_conv_bits() & 64) && C > 0 &&
           F > 0 && C % 16 == 0 && F % 16 == 0;
}

static int tiles(int n) { return (n + 3) / 4; }
static size_t up16(size_t n) { return (n + 15) & ~(size_t)15; }

int kd_wino_group(int H, int W)
{
    int T = tiles(H) * tiles(W), g = (CHUNK + T - 1) / T;
    return g < 1 ? 1 : g;
}

/* U's 36 planes of C F floats, 16 floats apart more than that: with
 * planes a multiple of 4 KiB apart, the pack's 36 streams of writes
 * would all fall in the same L1 sets (32x32 channels: 20x slower) */
static size_t uplane(int C, int F) { return (size_t)C * (size_t)F + 16; }
size_t kd_wino_ufloats(int C, int F) { return 36 * uplane(C, F); }

/* one image's padded input [4 th + 2, 4 tw + 2, C] and pixel-major result [H W, F] */
static size_t xt_floats(int C, int H, int W)
{
    return (size_t)(4 * tiles(H) + 2) * (size_t)(4 * tiles(W) + 2) * (size_t)C;
}
static size_t yt_floats(int F, int H, int W) { return (size_t)H * (size_t)W * (size_t)F; }

/* V's and M's 36 planes of CHUNK rows, one cache line apart more than
 * that (as U's) */
static int64_t vplane(int C) { return (int64_t)CHUNK * C + 16; }

/* scratch: xt of the group, yt of the group, V [36][CHUNK][C], M [36][CHUNK][F] */
size_t kd_wino_floats(int C, int F, int H, int W)
{
    size_t g = (size_t)kd_wino_group(H, W);
    return up16(g * xt_floats(C, H, W)) + up16(g * yt_floats(F, H, W)) +
           up16((size_t)36 * (size_t)vplane(C)) + up16((size_t)36 * (size_t)vplane(F));
}

/* G of F(4x4, 3x3) applied to 3 values (rows 1/4 0 0; -1/6 -1/6 -1/6;
 * -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1), in double */
static inline void g6(double a, double b, double c, double o[6])
{
    const double d6 = 1.0 / 6, d12 = 1.0 / 12, d24 = 1.0 / 24;
    double s = a + c, e = a * d24 + c * d6;
    o[0] = a * 0.25;
    o[1] = -(s + b) * d6;
    o[2] = -(s - b) * d6;
    o[3] = e + b * d12;
    o[4] = e - b * d12;
    o[5] = c;
}

/* U = G g G^T for every pair, computed in double and rounded once */
void kd_wino_pack(int F, int C, const float *w, int flip, int i0, int i1, float *u)
{
    const int Ci = flip ? F : C, Fo = flip ? C : F;
    const size_t plane = uplane(Ci, Fo);
    if (i1 > Ci) i1 = Ci;
    for (int i = i0; i < i1; i++)   /* o inner: 36 streams of U written in order */
        for (int o = 0; o < Fo; o++) {
            const float *k = flip ? w + ((size_t)i * C + o) * 9 : w + ((size_t)o * C + i) * 9;
            double g[9], t0[6], t1[6], t2[6];
            for (int j = 0; j < 9; j++) g[j] = flip ? k[8 - j] : k[j];   /* flip: turned 180 */
            g6(g[0], g[3], g[6], t0);   /* G g, column by column */
            g6(g[1], g[4], g[7], t1);
            g6(g[2], g[5], g[8], t2);
            float *up = u + (size_t)i * Fo + o;
            for (int a = 0; a < 6; a++) {
                double r[6];
                g6(t0[a], t1[a], t2[a], r);   /* then G^T along the rows */
                for (int b = 0; b < 6; b++) up[(size_t)(a * 6 + b) * plane] = (float)r[b];
            }
        }
}

/* dW: per thread, Macc [36][F][C] (planes uplane apart) sums
 * (A dY_t A^T) .* (B^T x_t B) over its tiles; dW = G^T (sum) G.  Scratch
 * for a group: x padded as for the forward, dY padded to whole tiles, V
 * and Y [36][CHUNK][C or F]. */
static size_t dyt_floats(int F, int H, int W)
{
    return (size_t)(4 * tiles(H)) * (size_t)(4 * tiles(W)) * (size_t)F;
}
size_t kd_wino_dw_floats(int C, int F, int H, int W)
{
    size_t g = (size_t)kd_wino_group(H, W);
    return up16(g * xt_floats(C, H, W)) + up16(g * dyt_floats(F, H, W)) +
           up16((size_t)36 * (size_t)vplane(C)) + up16((size_t)36 * (size_t)vplane(F));
}
size_t kd_wino_macc_floats(int C, int F) { return up16(36 * uplane(F, C)); }

/* G^T m G for one 6x6 m (plane-strided) into 3x3, in double */
void kd_wino_dw_finish(int F, int C, const float *macc, size_t stride, int T, int f0, int f1,
                       float *dw)
{
    const size_t plane = uplane(F, C);
    for (int f = f0; f < f1 && f < F; f++)
        for (int c = 0; c < C; c++) {
            double m[36], t[3][6];
            for (int k = 0; k < 36; k++) {
                const float *p = macc + (size_t)k * plane + (size_t)f * C + c;
                float sum = p[0];
                for (int j = 1; j < T; j++) sum += p[(size_t)j * stride];   /* in thread order */
                m[k] = sum;
            }
            for (int q = 0; q < 6; q++) {   /* G^T along the rows (p) */
                double o[6];
                for (int pr = 0; pr < 6; pr++) o[pr] = m[pr * 6 + q];
                t[0][q] = o[0] * 0.25 - (o[1] + o[2]) / 6 + (o[3] + o[4]) / 24;
                t[1][q] = (o[2] - o[1]) / 6 + (o[3] - o[4]) / 12;
                t[2][q] = (o[3] + o[4] - o[1] - o[2]) / 6 + o[5];
            }
            float *d = dw + ((size_t)f * C + c) * 9;
            for (int kh = 0; kh < 3; kh++) {   /* then along the columns (q) */
                const double *o = t[kh];
                d[kh * 3 + 0] += (float)(o[0] * 0.25 - (o[1] + o[2]) / 6 + (o[3] + o[4]) / 24);
                d[kh * 3 + 1] += (float)((o[2] - o[1]) / 6 + (o[3] - o[4]) / 12);
                d[kh * 3 + 2] += (float)((o[3] + o[4] - o[1] - o[2]) / 6 + o[5]);
            }
        }
}

#if KD_X86

/* B^T d for one column of 6 vectors */
static INL T512 void bt6(__m512 d0, __m512 d1, __m512 d2, __m512 d3, __m512 d4, __m512 d5,
                         __m512 o[6])
{
    const __m512 c2 = _mm512_set1_ps(2.0f), c4 = _mm512_set1_ps(4.0f), c5 = _mm512_set1_ps(5.0f);
    __m512 s12 = _mm512_add_ps(d1, d2), s34 = _mm512_add_ps(d3, d4);
    __m512 m12 = _mm512_sub_ps(d1, d2), m43 = _mm512_sub_ps(d4, d3);
    __m512 m13 = _mm512_sub_ps(d1, d3), m42 = _mm512_sub_ps(d4, d2);
    o[0] = _mm512_fmadd_ps(c4, d0, _mm512_fnmadd_ps(c5, d2, d4));
    o[1] = _mm512_fnmadd_ps(c4, s12, s34);
    o[2] = _mm512_fmadd_ps(c4, m12, m43);
    o[3] = _mm512_fnmadd_ps(c2, m13, m42);
    o[4] = _mm512_fmadd_ps(c2, m13, m42);
    o[5] = _mm512_fmadd_ps(c4, d1, _mm512_fnmadd_ps(c5, d3, d5));
}

/* A^T m for one column of 6 vectors */
static INL T512 void at6(__m512 m0, __m512 m1, __m512 m2, __m512 m3, __m512 m4, __m512 m5,
                         __m512 o[4])
{
    const __m512 c2 = _mm512_set1_ps(2.0f), c4 = _mm512_set1_ps(4.0f), c8 = _mm512_set1_ps(8.0f);
    __m512 a = _mm512_add_ps(m1, m2), b = _mm512_sub_ps(m1, m2);
    __m512 c = _mm512_add_ps(m3, m4), d = _mm512_sub_ps(m3, m4);
    o[0] = _mm512_add_ps(_mm512_add_ps(m0, a), c);
    o[1] = _mm512_fmadd_ps(c2, d, b);
    o[2] = _mm512_fmadd_ps(c4, c, a);
    o[3] = _mm512_fmadd_ps(c8, d, _mm512_add_ps(b, m5));
}

/* A dY for one column of 4 vectors (A: the output transform's transpose) */
static INL T512 void ay6(__m512 d0, __m512 d1, __m512 d2, __m512 d3, __m512 o[6])
{
    const __m512 c2 = _mm512_set1_ps(2.0f), c4 = _mm512_set1_ps(4.0f);
    __m512 e = _mm512_add_ps(d0, d2), od = _mm512_add_ps(d1, d3);
    __m512 e4 = _mm512_fmadd_ps(c4, d2, d0), o4 = _mm512_fmadd_ps(c4, d3, d1);
    o[0] = d0;
    o[1] = _mm512_add_ps(e, od);
    o[2] = _mm512_sub_ps(e, od);
    o[3] = _mm512_fmadd_ps(c2, o4, e4);
    o[4] = _mm512_fnmadd_ps(c2, o4, e4);
    o[5] = d3;
}

/* the 36 vectors of a tile's 6x6 transform, for 16 lanes: n = 6, V =
 * B^T d B of the 6x6 inputs; n = 4, Y = A dY A^T of the 4x4 output
 * gradients.  d's pixels rs (rows) and ps (pixels) floats apart, the 36
 * vectors vs floats apart; n is a constant after inlining */
static INL T512 void xf6(const int n, const __m512 *in, __m512 o[6])
{
    if (n == 6)
        bt6(in[0], in[1], in[2], in[3], in[4], in[5], o);
    else
        ay6(in[0], in[1], in[2], in[3], o);
}
static INL T512 void tile6(const int n, const float *d, int64_t rs, int64_t ps, float *v,
                           int64_t vs)
{
    __m512 t[6][6];
#pragma GCC unroll 6
    for (int s = 0; s < n; s++) {   /* columns */
        const float *p = d + s * ps;
        __m512 in[6], o[6];
#pragma GCC unroll 6
        for (int r = 0; r < n; r++) in[r] = _mm512_loadu_ps(p + r * rs);
        xf6(n, in, o);
#pragma GCC unroll 6
        for (int a = 0; a < 6; a++) t[a][s] = o[a];
    }
#pragma GCC unroll 6
    for (int a = 0; a < 6; a++) {   /* then rows */
        __m512 o[6];
        xf6(n, t[a], o);
#pragma GCC unroll 6
        for (int b = 0; b < 6; b++) _mm512_storeu_ps(v + (a * 6 + b) * vs, o[b]);
    }
}

/* the tile's 4x4 pixels of 16 filters from M's 36 vectors (ms floats
 * apart) into yt [H W, F] at (oh, ow), those inside H x W */
static INL T512 void out_tile(const float *m, int64_t ms, float *yt, int oh, int ow, int H, int W,
                              int64_t F)
{
    __m512 t[4][6];
#pragma GCC unroll 6
    for (int b = 0; b < 6; b++) {
        const float *p = m + b * ms;
        __m512 o[4];
        at6(_mm512_loadu_ps(p), _mm512_loadu_ps(p + 6 * ms), _mm512_loadu_ps(p + 12 * ms),
            _mm512_loadu_ps(p + 18 * ms), _mm512_loadu_ps(p + 24 * ms),
            _mm512_loadu_ps(p + 30 * ms), o);
#pragma GCC unroll 4
        for (int a = 0; a < 4; a++) t[a][b] = o[a];
    }
    const int nh = H - oh < 4 ? H - oh : 4, nw = W - ow < 4 ? W - ow : 4;
#pragma GCC unroll 4
    for (int a = 0; a < 4; a++) {
        __m512 o[4];
        at6(t[a][0], t[a][1], t[a][2], t[a][3], t[a][4], t[a][5], o);
        if (a >= nh) break;
        float *row = yt + ((int64_t)(oh + a) * W + ow) * F;
        if (nw == 4) {
#pragma GCC unroll 4
            for (int b = 0; b < 4; b++) _mm512_storeu_ps(row + b * F, o[b]);
        } else {
            for (int b = 0; b < nw; b++) _mm512_storeu_ps(row + b * F, o[b]);
        }
    }
}

/* tr = 0: c[rb, 16 nv] = a[rb, K] b[K, 16 nv]; tr = 1: c += a^T b with
 * a [K, rb] (row k holds the rb values of step k; dW's products).  One
 * FMA chain over k per element (after c's value when tr) */
static INL T512 void wk(const int rb, const int nv, const int tr, int K, const float *a,
                        int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc)
{
    __m512 s[RB][2];
#pragma GCC unroll 8
    for (int i = 0; i < rb; i++)
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++)
            s[i][v] = tr ? _mm512_loadu_ps(c + i * ldc + 16 * v) : _mm512_setzero_ps();
    for (int k = 0; k < K; k++) {
        const float *bk = b + k * ldb;
        __m512 b0 = _mm512_loadu_ps(bk), b1 = nv > 1 ? _mm512_loadu_ps(bk + 16) : b0;
#pragma GCC unroll 8
        for (int i = 0; i < rb; i++) {
            __m512 av = _mm512_set1_ps(tr ? a[k * lda + i] : a[i * lda + k]);
            s[i][0] = _mm512_fmadd_ps(av, b0, s[i][0]);
            if (nv > 1) s[i][1] = _mm512_fmadd_ps(av, b1, s[i][1]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < rb; i++)
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++) _mm512_storeu_ps(c + i * ldc + 16 * v, s[i][v]);
}

typedef void (*wk_fn)(int, const float *, int64_t, const float *, int64_t, float *, int64_t);
#define WK(RBN, NV)                                                                           \
    static T512 void wk_##RBN##_##NV(int K, const float *a, int64_t lda, const float *b,      \
                                     int64_t ldb, float *c, int64_t ldc)                      \
    {                                                                                         \
        wk(RBN, NV, 0, K, a, lda, b, ldb, c, ldc);                                            \
    }
#define WK8(NV) WK(1, NV) WK(2, NV) WK(3, NV) WK(4, NV) WK(5, NV) WK(6, NV) WK(7, NV) WK(8, NV)
WK8(1) WK8(2)
#define WT8(NV) wk_1_##NV, wk_2_##NV, wk_3_##NV, wk_4_##NV, wk_5_##NV, wk_6_##NV, wk_7_##NV, wk_8_##NV
static const wk_fn wk_tab[2][RB] = {{WT8(1)}, {WT8(2)}};

/* M[nr, F] = V[nr, C] U[C, F], row blocks of at most RB cut evenly */
static T512 void products(int nr, int C, int F, const float *v, const float *u, float *m)
{
    const int nb = (nr + RB - 1) / RB;
    for (int f0 = 0; f0 < F; f0 += 32) {
        const int nv = F - f0 >= 32 ? 2 : 1;
        for (int b = 0; b < nb; b++) {
            int r0 = nr * b / nb, r1 = nr * (b + 1) / nb;
            wk_tab[nv - 1][r1 - r0 - 1](C, v + (int64_t)r0 * C, C, u + f0, F,
                                        m + (int64_t)r0 * F + f0, F);
        }
    }
}

/* y [F, P] (+)= yt [P, F]^T, 16 pixels by 16 filters at a time */
static T512 void to_chw(int F, int P, const float *yt, float *y, int accumulate)
{
    for (int f0 = 0; f0 < F; f0 += 16)
        for (int p0 = 0; p0 < P; p0 += 16) {
            int np = P - p0 < 16 ? P - p0 : 16;
            __mmask16 pm = first_lanes(np);
            __m512 r[16];
#pragma GCC unroll 16
            for (int k = 0; k < 16; k++)
                r[k] = _mm512_maskz_loadu_ps(k < np ? 0xFFFF : 0,
                                             yt + (int64_t)(p0 + (k < np ? k : 0)) * F + f0);
            transpose16(r);
#pragma GCC unroll 16
            for (int i = 0; i < 16; i++) {
                float *yp = y + (int64_t)(f0 + i) * P + p0;
                __m512 v = accumulate ? _mm512_add_ps(_mm512_maskz_loadu_ps(pm, yp), r[i]) : r[i];
                _mm512_mask_storeu_ps(yp, pm, v);
            }
        }
}

/* tile6 of rows r0..r0+nr-1 (tile t of image t / T) of the pixel-major
 * images src (C lanes per pixel, rows Wp pixels long, images xs floats
 * apart) into V: n = 6, the forward's input; n = 4, dW's dY */
static INL T512 void chunk6(const int n, int C, int T, int tw, int64_t Wp, int64_t xs,
                            const float *src, int r0, int nr, float *v, int64_t vs)
{
    for (int r = 0; r < nr; r++) {
        int img = (r0 + r) / T, t = (r0 + r) % T, ti = t / tw, tj = t % tw;
        const float *d = src + img * xs + ((int64_t)4 * ti * Wp + 4 * tj) * C;
        for (int c0 = 0; c0 < C; c0 += 16) tile6(n, d + c0, Wp * C, C, v + (int64_t)r * C + c0, vs);
    }
}
static __attribute__((noinline)) T512 void in_chunk(int C, int T, int tw, int64_t Wp, int64_t xs,
                                                    const float *xt, int r0, int nr, float *v,
                                                    int64_t vs)
{
    chunk6(6, C, T, tw, Wp, xs, xt, r0, nr, v, vs);
}
static __attribute__((noinline)) T512 void dy_chunk(int F, int T, int tw, int64_t Wq, int64_t ds,
                                                    const float *dyt, int r0, int nr, float *v,
                                                    int64_t vs)
{
    chunk6(4, F, T, tw, Wq, ds, dyt, r0, nr, v, vs);
}

/* the output transform of rows r0..r0+nr-1 from M into the images' yt */
static __attribute__((noinline)) T512 void out_chunk(int F, int T, int tw, int H, int W,
                                                     int64_t ys, const float *m, int64_t ms,
                                                     int r0, int nr, float *yt)
{
    for (int r = 0; r < nr; r++) {
        int img = (r0 + r) / T, t = (r0 + r) % T, ti = t / tw, tj = t % tw;
        for (int f0 = 0; f0 < F; f0 += 16)
            out_tile(m + (int64_t)r * F + f0, ms, yt + img * ys + f0, 4 * ti, 4 * tj, H, W, F);
    }
}

static T512 void wino_avx512(int F, int C, int H, int W, int n, const float *u, const float *x,
                             float *y, int accumulate, float *scratch)
{
    const int tw = tiles(W), T = tiles(H) * tw, Hp = 4 * tiles(H) + 2, Wp = 4 * tw + 2;
    const int64_t P = (int64_t)H * W, xs = (int64_t)xt_floats(C, H, W), ys = (int64_t)yt_floats(F, H, W);
    const int g = kd_wino_group(H, W);
    float *xt = scratch, *yt = xt + up16((size_t)g * (size_t)xs);
    float *v = yt + up16((size_t)g * (size_t)ys), *m = v + up16((size_t)36 * (size_t)vplane(C));
    const int64_t vs = vplane(C), ms = vplane(F), us = (int64_t)uplane(C, F);
    for (int i = 0; i < n; i++) kd_hwc_layout(C, H, W, 1, Hp, Wp, x + i * C * P, xt + i * xs);
    const int R = n * T;
    for (int r0 = 0; r0 < R; r0 += CHUNK) {
        const int nr = R - r0 < CHUNK ? R - r0 : CHUNK;
        in_chunk(C, T, tw, Wp, xs, xt, r0, nr, v, vs);
        for (int xi = 0; xi < 36; xi++) products(nr, C, F, v + xi * vs, u + xi * us, m + xi * ms);
        out_chunk(F, T, tw, H, W, ys, m, ms, r0, nr, yt);
    }
    for (int i = 0; i < n; i++) to_chw(F, (int)P, yt + i * ys, y + i * F * P, accumulate);
}

#define WKT(RBN, NV)                                                                          \
    static T512 void wkt_##RBN##_##NV(int K, const float *a, int64_t lda, const float *b,     \
                                      int64_t ldb, float *c, int64_t ldc)                     \
    {                                                                                         \
        wk(RBN, NV, 1, K, a, lda, b, ldb, c, ldc);                                            \
    }
WKT(8, 1) WKT(8, 2)

/* macc[F, C] += Y[nr, F]^T V[nr, C]: blocks of 8 filters by 32 (or 16) channels */
static T512 void dw_products(int nr, int C, int F, const float *y, const float *v, float *macc)
{
    for (int f0 = 0; f0 < F; f0 += RB)
        for (int c0 = 0; c0 < C; c0 += 32) {
            if (C - c0 >= 32)
                wkt_8_2(nr, y + f0, F, v + c0, C, macc + (int64_t)f0 * C + c0, C);
            else
                wkt_8_1(nr, y + f0, F, v + c0, C, macc + (int64_t)f0 * C + c0, C);
        }
}

static T512 void wino_dw_avx512(int F, int C, int H, int W, int n, const float *x,
                                const float *dy, float *macc, float *scratch)
{
    const int tw = tiles(W), th = tiles(H), T = th * tw, Hp = 4 * th + 2, Wp = 4 * tw + 2;
    const int64_t P = (int64_t)H * W, xs = (int64_t)xt_floats(C, H, W), ds = (int64_t)dyt_floats(F, H, W);
    const int g = kd_wino_group(H, W);
    float *xt = scratch, *dyt = xt + up16((size_t)g * (size_t)xs);
    float *v = dyt + up16((size_t)g * (size_t)ds), *y = v + up16((size_t)36 * (size_t)vplane(C));
    const int64_t vs = vplane(C), ys = vplane(F), ms = (int64_t)uplane(F, C);
    for (int i = 0; i < n; i++) {
        kd_hwc_layout(C, H, W, 1, Hp, Wp, x + i * C * P, xt + i * xs);
        kd_hwc_layout(F, H, W, 0, 4 * th, 4 * tw, dy + i * F * P, dyt + i * ds);
    }
    const int R = n * T;
    for (int r0 = 0; r0 < R; r0 += CHUNK) {
        const int nr = R - r0 < CHUNK ? R - r0 : CHUNK;
        in_chunk(C, T, tw, Wp, xs, xt, r0, nr, v, vs);
        dy_chunk(F, T, tw, 4 * tw, ds, dyt, r0, nr, y, ys);
        for (int xi = 0; xi < 36; xi++) dw_products(nr, C, F, y + xi * ys, v + xi * vs, macc + xi * ms);
    }
}
#endif /* KD_X86 */

void kd_wino_run(int F, int C, int H, int W, int n, const float *u, const float *x, float *y,
                 int accumulate, float *scratch)
{
    if (F <= 0 || C <= 0 || H <= 0 || W <= 0 || n <= 0) return;
#if KD_X86
    wino_avx512(F, C, H, W, n, u, x, y, accumulate, scratch);
#else
    (void)u, (void)x, (void)y, (void)accumulate, (void)scratch;   /* kd_wino_ok is 0 */
#endif
}

void kd_wino_dw_run(int F, int C, int H, int W, int n, const float *x, const float *dy,
                    float *macc, float *scratch)
{
    if (F <= 0 || C <= 0 || H <= 0 || W <= 0 || n <= 0) return;
#if KD_X86
    wino_dw_avx512(F, C, H, W, n, x, dy, macc, scratch);
#else
    (void)x, (void)dy, (void)macc, (void)scratch;   /* kd_wino_ok is 0 */
#endif
}
