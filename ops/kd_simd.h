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
#else
#define KD_X86 0
#endif

#endif
