/* maxpool2d.c — max pooling.  x [N, C, H, W] -> y [N, C, Ho, Wo] (K x K
 * window), or x [N, C, T] -> y [N, C, To] (K-wide window over T, as
 * PyTorch's max_pool1d; see kd_pool.h).  y = max over the window (padding
 * never wins); backward routes dy to the first maximal element of the
 * window in row-major order (recomputed from x, nothing saved).  Parallel
 * over (n, c) planes: each thread writes its own planes only.  The 2x2 /
 * stride 2 window has an AVX-512 path with the same values and picks. */
#include "kd_pool.h"
#include "kd_simd.h"
#include "kd_sgemm_small.h"

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    return pool_infer_common(c, "maxpool2d", err, n);
}

static int64_t argmax(const pgeo *g, const float *xp, int64_t oh, int64_t ow)
{
    int64_t best = -1;
    float bv = 0;
    for (int64_t ki = 0; ki < g->KH; ki++) {
        int64_t ih = oh * g->SH - g->PH + ki;
        if (ih < 0 || ih >= g->H) continue;
        for (int64_t kj = 0; kj < g->K; kj++) {
            int64_t iw = ow * g->S - g->Pd + kj;
            if (iw < 0 || iw >= g->W) continue;
            float v = xp[ih * g->W + iw];
            if (best < 0 || v > bv || (v != v && bv == bv)) {
                best = ih * g->W + iw;
                bv = v;
            }
        }
    }
    return best;
}

/* The common 2x2 window, stride 2, no padding: every window lies inside
 * the plane; the same choice as argmax (first maximal in row-major order,
 * a NaN wins over a number), without the bounds checks. */
static int is_2x2(const pgeo *g)
{
    return g->KH == 2 && g->K == 2 && g->SH == 2 && g->S == 2 && g->PH == 0 && g->Pd == 0;
}

static inline int64_t argmax_2x2(const float *xp, int64_t W, int64_t oh, int64_t ow)
{
    int64_t i0 = 2 * oh * W + 2 * ow;
    const int64_t at[4] = { i0, i0 + 1, i0 + W, i0 + W + 1 };
    int64_t best = at[0];
    float bv = xp[at[0]];
    for (int k = 1; k < 4; k++) {
        float v = xp[at[k]];
        if (v > bv || (v != v && bv == bv)) best = at[k], bv = v;
    }
    return best;
}

#if KD_X86
/* The 2x2 / stride 2 window on AVX-512, 16 outputs of a row at a time:
 * the two input rows are split into their even and odd columns, and the
 * four candidates are compared in argmax_2x2's order with its rule (a
 * later one wins when it is greater, or a NaN over a number), so the
 * values and the positions are the same.  sel[k]: the lanes whose window
 * picked candidate k (row 0 even, row 0 odd, row 1 even, row 1 odd). */
static INL T512 __m512 pick4(const float *r0, const float *r1, int n, __mmask16 sel[4])
{
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    __mmask16 lo = first_lanes(2 * n), hi = first_lanes(2 * n - 16 > 0 ? 2 * n - 16 : 0);
    __m512 a0 = _mm512_maskz_loadu_ps(lo, r0), a1 = _mm512_maskz_loadu_ps(hi, r0 + 16);
    __m512 b0 = _mm512_maskz_loadu_ps(lo, r1), b1 = _mm512_maskz_loadu_ps(hi, r1 + 16);
    __m512 cand[4] = { _mm512_permutex2var_ps(a0, ev, a1), _mm512_permutex2var_ps(a0, od, a1),
                       _mm512_permutex2var_ps(b0, ev, b1), _mm512_permutex2var_ps(b0, od, b1) };
    __m512 bv = cand[0];
    __mmask16 m[4] = { 0, 0, 0, 0 };
    for (int k = 1; k < 4; k++) {
        __mmask16 nan_v = _mm512_cmp_ps_mask(cand[k], cand[k], _CMP_UNORD_Q);
        __mmask16 num_b = _mm512_cmp_ps_mask(bv, bv, _CMP_ORD_Q);
        m[k] = _mm512_cmp_ps_mask(cand[k], bv, _CMP_GT_OQ) | (nan_v & num_b);
        bv = _mm512_mask_mov_ps(bv, m[k], cand[k]);
    }
    sel[3] = m[3];
    sel[2] = m[2] & (__mmask16)~m[3];
    sel[1] = m[1] & (__mmask16)~(m[2] | m[3]);
    sel[0] = (__mmask16)~(m[1] | m[2] | m[3]);
    return bv;
}

static T512 void fwd_2x2_avx512(const pgeo *g, const float *xp, float *yp)
{
    for (int64_t oh = 0; oh < g->Ho; oh++) {
        const float *r0 = xp + 2 * oh * g->W, *r1 = r0 + g->W;
        for (int64_t ow = 0; ow < g->Wo; ow += 16) {
            int n = (int)(g->Wo - ow < 16 ? g->Wo - ow : 16);
            __mmask16 sel[4];
            __m512 v = pick4(r0 + 2 * ow, r1 + 2 * ow, n, sel);
            _mm512_mask_storeu_ps(yp + oh * g->Wo + ow, first_lanes(n), v);
        }
    }
}

/* dx += dy at each window's pick: the window's four positions get dy or 0,
 * interleaved back into the rows (each x element is in one window, so one
 * add each, as in the scalar loop) */
static T512 void bwd_2x2_avx512(const pgeo *g, const float *xp, const float *gp, float *dp)
{
    const __m512i lo_i = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi_i = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    for (int64_t oh = 0; oh < g->Ho; oh++) {
        const float *r0 = xp + 2 * oh * g->W, *r1 = r0 + g->W;
        float *d0 = dp + 2 * oh * g->W, *d1 = d0 + g->W;
        for (int64_t ow = 0; ow < g->Wo; ow += 16) {
            int n = (int)(g->Wo - ow < 16 ? g->Wo - ow : 16);
            __mmask16 sel[4], lo = first_lanes(2 * n), hi = first_lanes(2 * n - 16 > 0 ? 2 * n - 16 : 0);
            (void)pick4(r0 + 2 * ow, r1 + 2 * ow, n, sel);
            __m512 gy = _mm512_maskz_loadu_ps(first_lanes(n), gp + oh * g->Wo + ow);
            for (int r = 0; r < 2; r++) {
                float *d = (r ? d1 : d0) + 2 * ow;
                __m512 e = _mm512_maskz_mov_ps(sel[2 * r], gy), o = _mm512_maskz_mov_ps(sel[2 * r + 1], gy);
                __m512 t0 = _mm512_permutex2var_ps(e, lo_i, o), t1 = _mm512_permutex2var_ps(e, hi_i, o);
                _mm512_mask_storeu_ps(d, lo, _mm512_add_ps(_mm512_maskz_loadu_ps(lo, d), t0));
                if (hi) _mm512_mask_storeu_ps(d + 16, hi, _mm512_add_ps(_mm512_maskz_loadu_ps(hi, d + 16), t1));
            }
        }
    }
}
#endif

static void forward(kd_op_ctx *c)
{
    pgeo g = pool_geo(c);
    int64_t planes = g.N * g.C, work = pool_work(&g);
    int simd = is_2x2(&g) && kd_sgemm_small_path() == KD_SG_AVX512;
    (void)work;
    (void)simd;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && work > KD_OMP_MIN)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *xp = c->in[0] + pl * g.H * g.W;
        float *yp = c->out + pl * g.Ho * g.Wo;
#if KD_X86
        if (simd) {
            fwd_2x2_avx512(&g, xp, yp);
            continue;
        }
#endif
        if (is_2x2(&g)) {
            for (int64_t oh = 0; oh < g.Ho; oh++)
                for (int64_t ow = 0; ow < g.Wo; ow++) yp[oh * g.Wo + ow] = xp[argmax_2x2(xp, g.W, oh, ow)];
            continue;
        }
        for (int64_t oh = 0; oh < g.Ho; oh++)
            for (int64_t ow = 0; ow < g.Wo; ow++) yp[oh * g.Wo + ow] = xp[argmax(&g, xp, oh, ow)];
    }
}

static void backward(kd_op_ctx *c)
{
    float *d = c->grad_in[0];
    if (!d) return;
    pgeo g = pool_geo(c);
    int64_t planes = g.N * g.C, work = pool_work(&g);
    int simd = is_2x2(&g) && kd_sgemm_small_path() == KD_SG_AVX512;
    (void)work;
    (void)simd;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && work > KD_OMP_MIN)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *xp = c->in[0] + pl * g.H * g.W, *gp = c->grad_out + pl * g.Ho * g.Wo;
        float *dp = d + pl * g.H * g.W;
#if KD_X86
        if (simd) {
            bwd_2x2_avx512(&g, xp, gp, dp);
            continue;
        }
#endif
        if (is_2x2(&g)) {
            for (int64_t oh = 0; oh < g.Ho; oh++)
                for (int64_t ow = 0; ow < g.Wo; ow++) dp[argmax_2x2(xp, g.W, oh, ow)] += gp[oh * g.Wo + ow];
            continue;
        }
        for (int64_t oh = 0; oh < g.Ho; oh++)
            for (int64_t ow = 0; ow < g.Wo; ow++) dp[argmax(&g, xp, oh, ow)] += gp[oh * g.Wo + ow];
    }
}

static const kd_input_spec inputs[] = {
    {.name = "x", .shape = "[N, C, H, W] or [N, C, T]"},
    {NULL}};

const kd_op_def kd_op_maxpool2d = {
    .name = "maxpool2d", .alias = "maxpool", .min_inputs = 1, .max_inputs = 1,
    .npositional = 1, .attrs = pool_attrs, .infer = infer,
    .forward = forward, .backward = backward,
    .use = KD_USE_NET, .flags = KD_OP_TIN,
    .doc = "max pooling with a k-wide window (2-D on images, 1-D on sequences)",
    .inputs = inputs,
    .rows = kd_rows_always,
};
