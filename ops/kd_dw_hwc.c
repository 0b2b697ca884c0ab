/* kd_dw_hwc.c — conv2d's weight gradient from the input laid out pixel by
 * pixel: see kd_dw_hwc.h.
 *
 * The product for one kernel row kh and one chunk of up to 48 of the
 * KS*C values (kw, c) of a window row: a block of fb filters by nv
 * vectors of 16 values (fb * nv <= 24 accumulators in registers); for
 * each output position, nv loads of the window (the last one masked), fb
 * broadcasts of dY and fb * nv FMAs.  The blocks are cut evenly (16
 * filters as 8 + 8, not 12 + 4).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <string.h>
#include "kd_dw_hwc.h"
#include "kd_simd.h"
#include "kd_sgemm_small.h"

int kd_dw_hwc_ok(int path, int groups, int dil)
{
    return KD_X86 && path == KD_SG_AVX512 && groups == 1 && dil == 1 &&
           (kd_sgemm_small_conv_bits() & 16);
}

size_t kd_dw_hwc_floats(int C, int H, int W, int pad)
{
    return (size_t)(H + 2 * pad) * (size_t)(W + 2 * pad) * (size_t)C;
}

/* the zero border of xt [Hp, Wp, C] around x at (pad, pad): the rows
 * above and below, the pixels left and right of each image row */
static void zero_border(int C, int H, int W, int pad, int Hp, int Wp, float *xt)
{
    const size_t row = (size_t)Wp * (size_t)C, left = (size_t)pad * (size_t)C;
    const size_t right = (size_t)(Wp - pad - W) * (size_t)C;
    memset(xt, 0, sizeof(float) * (size_t)pad * row);
    memset(xt + (size_t)(pad + H) * row, 0, sizeof(float) * (size_t)(Hp - pad - H) * row);
    if (!left && !right) return;
    for (int h = 0; h < H; h++) {
        float *r = xt + (size_t)(h + pad) * row;
        memset(r, 0, sizeof(float) * left);
        memset(r + left + (size_t)W * C, 0, sizeof(float) * right);
    }
}

#if KD_X86

/* rows h + 2 of channels in, in + HW, ... (n of them): x was written by
 * the forward long before and is out of cache */
static INL void prefetch_rows(const float *in, int n, int64_t HW, int W)
{
    for (int i = 0; i < n; i++)
        for (int w = 0; w < W; w += 16) _mm_prefetch((const char *)(in + i * HW + 2 * W + w), _MM_HINT_T0);
}

/* at most 8 channels: rows 0-7 of a 16x16 block hold the channels at 16
 * pixels, rows 8-15 at the next 16, so each transposed vector is two
 * pixels */
static T512 void layout8_avx512(int C, int H, int W, int pad, int Wp, const float *x, float *xt)
{
    const int64_t HW = (int64_t)H * W, row = (int64_t)Wp * C;
    const __mmask16 cm = first_lanes(C);
    for (int h = 0; h < H; h++) {
        float *out = xt + (int64_t)(h + pad) * row + (int64_t)pad * C;
        const float *in = x + (int64_t)h * W;
        if (h + 2 < H) prefetch_rows(in, C, HW, W);
        for (int w0 = 0; w0 < W; w0 += 32) {
            int n0 = W - w0 < 16 ? W - w0 : 16, n1 = W - w0 - 16;
            n1 = n1 < 0 ? 0 : n1 > 16 ? 16 : n1;
            __mmask16 m0 = first_lanes(n0), m1 = first_lanes(n1);
            __m512 r[16];
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++) {
                const float *ci = in + (i < C ? i : 0) * HW + w0;
                r[i] = _mm512_maskz_loadu_ps(i < C ? m0 : 0, ci);
                r[8 + i] = _mm512_maskz_loadu_ps(i < C ? m1 : 0, ci + (n1 ? 16 : 0));
            }
            transpose16(r);
            if (C == 8 && n0 == 16 && n1 == 16) {   /* whole 32-byte pixels */
#pragma GCC unroll 16
                for (int k = 0; k < 16; k++) {
                    _mm256_storeu_ps(out + (int64_t)(w0 + k) * 8, _mm512_castps512_ps256(r[k]));
                    _mm256_storeu_ps(out + (int64_t)(w0 + 16 + k) * 8,
                                     _mm512_castps512_ps256(_mm512_shuffle_f32x4(r[k], r[k], 0xEE)));
                }
                continue;
            }
#pragma GCC unroll 16
            for (int k = 0; k < 16; k++) {
                _mm512_mask_storeu_ps(out + (int64_t)(w0 + (k < n0 ? k : 0)) * C, k < n0 ? cm : 0, r[k]);
                _mm512_mask_storeu_ps(out + (int64_t)(w0 + 16 + (k < n1 ? k : 0)) * C,
                                      k < n1 ? cm : 0, _mm512_shuffle_f32x4(r[k], r[k], 0xEE));
            }
        }
    }
}

/* blocks of 16 channels by 16 pixels of a row, transposed in registers
 * (the channels and pixels past the ends masked) */
static T512 void layout_avx512(int C, int H, int W, int pad, int Wp, const float *x, float *xt)
{
    const int64_t HW = (int64_t)H * W, row = (int64_t)Wp * C;
    if (C <= 8) {
        layout8_avx512(C, H, W, pad, Wp, x, xt);
        return;
    }
    for (int c0 = 0; c0 < C; c0 += 16) {
        int nc = C - c0 < 16 ? C - c0 : 16;
        __mmask16 cm = first_lanes(nc);
        for (int h = 0; h < H; h++) {
            float *out = xt + (int64_t)(h + pad) * row + (int64_t)pad * C + c0;
            const float *in = x + (int64_t)c0 * HW + (int64_t)h * W;
            if (h + 2 < H) prefetch_rows(in, nc, HW, W);
            for (int w0 = 0; w0 < W; w0 += 16) {
                int nw = W - w0 < 16 ? W - w0 : 16;
                __mmask16 wm = first_lanes(nw);
                __m512 r[16];
                /* constant indices (masks of 0 past the ends): r stays in registers */
#pragma GCC unroll 16
                for (int i = 0; i < 16; i++)
                    r[i] = _mm512_maskz_loadu_ps(i < nc ? wm : 0, in + (i < nc ? i : 0) * HW + w0);
                transpose16(r);
#pragma GCC unroll 16
                for (int k = 0; k < 16; k++)
                    _mm512_mask_storeu_ps(out + (int64_t)(w0 + (k < nw ? k : 0)) * C, k < nw ? cm : 0, r[k]);
            }
        }
    }
}

static INL T512 void dwk(const int fb, const int nv, int Ho, int Wo, int64_t rs, int64_t ps,
                         const float *dy, int64_t ldy, const float *xk, __mmask16 last,
                         float *acc, int64_t lda)
{
    __m512 s[16][3];
#pragma GCC unroll 16
    for (int i = 0; i < fb; i++)
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++) s[i][v] = _mm512_setzero_ps();
    for (int oh = 0; oh < Ho; oh++) {
        const float *xr = xk + oh * rs, *d = dy + (int64_t)oh * Wo;
        for (int ow = 0; ow < Wo; ow++) {
            const float *xp = xr + ow * ps;
            __m512 xv[3];
#pragma GCC unroll 3
            for (int v = 0; v < nv; v++)
                xv[v] = v == nv - 1 ? _mm512_maskz_loadu_ps(last, xp + 16 * v)
                                    : _mm512_loadu_ps(xp + 16 * v);
#pragma GCC unroll 16
            for (int i = 0; i < fb; i++) {
                __m512 b = _mm512_set1_ps(d[i * ldy + ow]);
#pragma GCC unroll 3
                for (int v = 0; v < nv; v++) s[i][v] = _mm512_fmadd_ps(b, xv[v], s[i][v]);
            }
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < fb; i++)
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++) {
            float *a = acc + i * lda + 16 * v;
            __mmask16 m = v == nv - 1 ? last : (__mmask16)0xFFFF;
            _mm512_mask_storeu_ps(a, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, a), s[i][v]));
        }
}

typedef void (*dwk_fn)(int, int, int64_t, int64_t, const float *, int64_t, const float *,
                       __mmask16, float *, int64_t);
#define DWK(FB, NV)                                                                          \
    static T512 void dwk_##FB##_##NV(int Ho, int Wo, int64_t rs, int64_t ps, const float *dy, \
                                     int64_t ldy, const float *xk, __mmask16 last, float *acc, \
                                     int64_t lda)                                            \
    {                                                                                        \
        dwk(FB, NV, Ho, Wo, rs, ps, dy, ldy, xk, last, acc, lda);                            \
    }
#define DWK8(NV) DWK(1, NV) DWK(2, NV) DWK(3, NV) DWK(4, NV) DWK(5, NV) DWK(6, NV) DWK(7, NV) DWK(8, NV)
DWK8(1) DWK8(2) DWK8(3)
DWK(9, 1) DWK(10, 1) DWK(11, 1) DWK(12, 1) DWK(13, 1) DWK(14, 1) DWK(15, 1) DWK(16, 1)
DWK(9, 2) DWK(10, 2) DWK(11, 2) DWK(12, 2)
#define DWT8(NV) dwk_1_##NV, dwk_2_##NV, dwk_3_##NV, dwk_4_##NV, dwk_5_##NV, dwk_6_##NV, dwk_7_##NV, dwk_8_##NV
static const dwk_fn dwk_tab[3][16] = {
    {DWT8(1), dwk_9_1, dwk_10_1, dwk_11_1, dwk_12_1, dwk_13_1, dwk_14_1, dwk_15_1, dwk_16_1},
    {DWT8(2), dwk_9_2, dwk_10_2, dwk_11_2, dwk_12_2},
    {DWT8(3)}};
/* the most filters per block for nv vectors: at most 24 accumulators */
static const int fb_max[3] = {16, 12, 8};

static T512 void dw_avx512(int F, int C, int Ho, int Wo, int KS, int S, int Wp, const float *dy,
                           int64_t ldy, const float *xt, float *acc)
{
    const int L = KS * C;
    const int64_t Kg = (int64_t)KS * L, rs = (int64_t)S * Wp * C, ps = (int64_t)S * C;
    for (int kh = 0; kh < KS; kh++)
        for (int j0 = 0; j0 < L; j0 += 48) {
            int n = L - j0 < 48 ? L - j0 : 48, nv = (n + 15) / 16;
            __mmask16 last = first_lanes(n - 16 * (nv - 1));
            int nb = (F + fb_max[nv - 1] - 1) / fb_max[nv - 1];
            for (int b = 0; b < nb; b++) {
                int f0 = (int)((int64_t)F * b / nb), f1 = (int)((int64_t)F * (b + 1) / nb);
                dwk_tab[nv - 1][f1 - f0 - 1](Ho, Wo, rs, ps, dy + f0 * ldy, ldy,
                                             xt + (int64_t)kh * Wp * C + j0, last,
                                             acc + f0 * Kg + (int64_t)kh * L + j0, Kg);
            }
        }
}
#endif /* KD_X86 */

void kd_hwc_layout(int C, int H, int W, int pad, int Hp, int Wp, const float *x, float *xt)
{
    zero_border(C, H, W, pad, Hp, Wp, xt);
#if KD_X86
    layout_avx512(C, H, W, pad, Wp, x, xt);
#else
    const size_t HW = (size_t)H * W, row = (size_t)Wp * C;
    for (size_t h = 0; h < (size_t)H; h++)
        for (size_t w = 0; w < (size_t)W; w++)
            for (size_t c = 0; c < (size_t)C; c++)
                xt[(h + pad) * row + (w + pad) * C + c] = x[c * HW + h * W + w];
#endif
}

void kd_dw_hwc_layout(int C, int H, int W, int pad, const float *x, float *xt)
{
    kd_hwc_layout(C, H, W, pad, H + 2 * pad, W + 2 * pad, x, xt);
}

void kd_dw_hwc(int F, int C, int Ho, int Wo, int KS, int S, int Wp, const float *dy, long ldy,
               const float *xt, float *acc)
{
    if (F <= 0 || C <= 0 || Ho <= 0 || Wo <= 0) return;
#if KD_X86
    dw_avx512(F, C, Ho, Wo, KS, S, Wp, dy, ldy, xt, acc);
#else
    (void)KS, (void)S, (void)Wp, (void)dy, (void)ldy, (void)xt, (void)acc;
#endif
}

void kd_dw_hwc_finish(int F, int C, int KS, const float *parts, size_t stride, int T, float *dw)
{
    const size_t KK = (size_t)KS * KS;
    for (size_t f = 0; f < (size_t)F; f++)
        for (size_t c = 0; c < (size_t)C; c++)
            for (size_t t = 0; t < KK; t++) {
                size_t i = (f * KK + t) * (size_t)C + c;
                float s = parts[i];
                for (int k = 1; k < T; k++) s += parts[(size_t)k * stride + i];
                dw[(f * C + c) * KK + t] += s;
            }
}
