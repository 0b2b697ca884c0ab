/* kd_simd.h — what ops/'s hand-vectorized kernels share (private to ops/):
 * KD_X86, the intrinsics, and the target attributes that let one generic
 * x86-64 build carry AVX-512 and AVX2 functions chosen at run time.
 * -DKD_NO_X86 compiles the portable code only (to check that a non-x86
 * build compiles, on an x86 machine). */
#ifndef KD_SIMD_H
#define KD_SIMD_H

#if (defined(__x86_64__) || defined(__i386__)) && !defined(KD_NO_X86)
#define KD_X86 1
#include <immintrin.h>
#define T512 __attribute__((target("avx512f,fma")))
#define T256 __attribute__((target("avx2,fma")))
#define INL __attribute__((always_inline)) inline

/* r[i][j] -> r[j][i] for 16 vectors of 16 floats: unpack pairs of rows,
 * then pairs of pairs, then 128-bit lanes twice */
static INL T512 void transpose16(__m512 r[16])
{
    __m512 t[16];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {   /* r[4i + m], lane L: column 4L + m of rows 4i..4i+3 */
        __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
        __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
        r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
#pragma GCC unroll 2
    for (int j = 0; j < 2; j++)
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            t[8 * j + k] = _mm512_shuffle_f32x4(r[8 * j + k], r[8 * j + 4 + k], 0x88);
            t[8 * j + k + 4] = _mm512_shuffle_f32x4(r[8 * j + k], r[8 * j + 4 + k], 0xdd);
        }
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++) {
        r[k] = _mm512_shuffle_f32x4(t[k], t[k + 8], 0x88);
        r[k + 8] = _mm512_shuffle_f32x4(t[k], t[k + 8], 0xdd);
    }
}

/* lanes 0..n-1 of 16 (n in 0..16) */
static inline __mmask16 first_lanes(int n)
{
    return (__mmask16)(n >= 16 ? 0xFFFF : (1u << n) - 1);
}
#else
#define KD_X86 0
#endif

#endif
