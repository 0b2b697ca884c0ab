/* kd_sgemm_small.h — sgemm for a small A and a wide, unpacked B (private
 * to ops/).
 *
 *   C[M, N] = alpha * op(A)[M, K] * B[K, N] + beta * C     (all row-major)
 *
 * The shape of conv2d's products: forward y = W * col (M = F, K = C*k*k,
 * N = Ho*Wo) and dX col = W^T * dY (M = C*k*k, K = F).  B's rows are read
 * in place, 32 (AVX-512) or 16 (AVX2) columns at a time, never packed or
 * copied; only A is packed, once per call site (kd_sgemm_small_pack: M*K
 * floats, a layout of the path's own).  A register-blocked micro-kernel
 * keeps a tile of up to 12 rows x 32 columns of C (AVX-512; AVX2: 6 x 16)
 * in registers over the whole of K.
 *
 * Determinism: every C element is one sum over k = 0..K-1 in order
 * (one FMA per k in the SIMD paths, a multiply and an add in the C path),
 * whatever M, N, the tile or the thread: bit-identical run to run for a
 * given path.  The paths differ from each other and from OpenBLAS in
 * rounding only.
 *
 * Paths are chosen at run time (functions with target attributes; the
 * build stays generic x86-64): AVX-512F, else AVX2+FMA, else none
 * (KD_SG_BLAS: the caller keeps OpenBLAS).  The plain C path is for tests
 * and non-x86 builds.  KD_SGEMM=blas|c|avx2|avx512 in the environment
 * overrides the choice (an unsupported path falls back to the automatic
 * one); kd_sgemm_small_set_path too (tests, benchmarks).
 */
#ifndef KD_SGEMM_SMALL_H
#define KD_SGEMM_SMALL_H

#include <stddef.h>
#include <stdint.h>

enum { KD_SG_BLAS = 0, KD_SG_C = 1, KD_SG_AVX2 = 2, KD_SG_AVX512 = 3 };

/* the path in use (chosen once, then what set_path set) */
int kd_sgemm_small_path(void);
/* 1 if this CPU runs that path */
int kd_sgemm_small_supported(int path);
/* use that path from now on (-1: the automatic choice); returns the path
 * now in use (the automatic one if `path` is not supported) */
int kd_sgemm_small_set_path(int path);
const char *kd_sgemm_small_name(int path);

/* pack op(A) [M, K] (transa 0: A[i*lda + k]; 1: A[k*lda + i]) into ap,
 * M*K floats, for `path` (not KD_SG_BLAS) */
void kd_sgemm_small_pack(int path, int transa, int M, int K, const float *A, int lda,
                         float *ap);
/* C = alpha * op(A) B + beta * C with ap from kd_sgemm_small_pack of the
 * same path, M and K.  beta == 0: C is not read (NaNs there vanish). */
void kd_sgemm_small_run(int path, int M, int N, int K, float alpha, const float *ap,
                        const float *B, int ldb, float beta, float *C, int ldc);

/* Implicit im2col for a "same" convolution: stride 1, dilation 1, odd
 * kernel KS with pad (KS-1)/2, so Ho = H, Wo = W.  Y[M, H*W] = op(A) B with
 * B[k, p] = im2col(x)[k, p], k = (ci, ki, kj) over Cg channels of x
 * ([Cg, H, W], contiguous) — the very products of kd_sgemm_small_run on the
 * im2col matrix (same FMAs in the same order: the same bits), without
 * writing it.  ap: kd_sgemm_small_pack of A [M, Cg*KS*KS].  Only where
 * kd_sgemm_small_conv_ok (AVX-512; KS*KS <= KD_SGEMM_CONV_MAXTAPS).
 * accumulate 0: Y = the product; 1: Y += the product (one rounding, the
 * bits of kd_sgemm_small_run with alpha 1, beta 1).  masks: the tap masks
 * of kd_sgemm_small_conv_prep for this H, W, KS, pad (the same for every
 * image and call: computed once per op call, not per strip).
 *
 * dX of such a convolution is again one: dx[c] += sum over f and taps of
 * W[f, c] flipped (ki, kj -> KS-1-ki, KS-1-kj) times dY[f] shifted;
 * kd_sgemm_small_pack_flip packs that A [C, F*KS*KS] from w [F, C, KS, KS]. */
#define KD_SGEMM_CONV_MAXTAPS 49
int kd_sgemm_small_conv_ok(int path, int KS, int stride, int pad, int dil);
/* bit 0 (1): conv_ok says yes where it can (else conv2d writes im2col);
 * bit 1 (2): nt_ok likewise (else conv2d's dW runs on OpenBLAS); bit 2
 * (4): unused (it was an implicit dW of few channels, which kd_dw_hwc
 * replaced); bit 3 (8): conv2_ok
 * likewise (else the stride-2 forward writes im2col); bit 4 (16):
 * kd_dw_hwc_ok likewise (else conv2d's dW takes the paths above); bit
 * 5 (32): conv2dx_ok likewise (else the stride-2 dX writes col and runs
 * col2im); bit 6 (64): kd_wino_ok likewise (else 3x3 stride-1 convs
 * take the implicit products).  Default 127 (63 when the environment has
 * KD_WINOGRAD=0 or off); returns the old setting (benchmarks) */
int kd_sgemm_small_set_conv(int on);
int kd_sgemm_small_conv_bits(void);
void kd_sgemm_small_conv(int path, int M, int Cg, int H, int W, int KS, int pad,
                         const float *ap, const float *x, float *Y, int ldy, int accumulate,
                         const uint16_t *masks);
/* the tap masks of a "same" conv on [H, W] maps: for tap t = (ki, kj) and
 * chunk c of 16 output positions, bit l of masks[t * ceil(H*W/16) + c]
 * says whether position p = 16c + l exists (p < H*W) and its tap lies
 * inside the image; kd_sgemm_small_conv_masks(H, W, KS) uint16 */
size_t kd_sgemm_small_conv_masks(int H, int W, int KS);
void kd_sgemm_small_conv_prep(int H, int W, int KS, int pad, uint16_t *masks);
void kd_sgemm_small_pack_flip(int path, int F, int C, int KS, const float *w, float *ap);

/* C[M, N] += A[M, K] B[N, K]^T (both row-major, rows contiguous along K):
 * conv2d's dW += dY col^T, neither operand packed.  Each element: 16
 * lane-partial sums over k (lane k mod 16, k in order), then a fixed
 * reduction tree, then added to C: bit-identical run to run.  Only where
 * kd_sgemm_small_nt_ok: AVX-512 and K >= KD_SGEMM_NT_MIN_K (below, the 16
 * reductions per 4x4 tile cost more than OpenBLAS's packing: bench_ops,
 * 8x8 maps (K = 64) 0.95-1.0x, 16x16 (256) 1.15x, 32x32 (1024) 1.9x;
 * single-thread dW microbenchmark after the transposing reduction, nt vs
 * OpenBLAS both after im2col: 64x64 8x8 90 vs 108 GFLOP/s, 32x32 16x16
 * 123 vs 92, 16x16 32x32 119 vs 59). */
#define KD_SGEMM_NT_MIN_K 256
int kd_sgemm_small_nt_ok(int path, int K);
void kd_sgemm_small_nt(int path, int M, int N, int K, const float *A, int lda, const float *B,
                       int ldb, float *C, int ldc);

/* The forward of a 3x3, pad-1, stride-2 conv on even H and W without
 * im2col: kd_sgemm_small_conv2_split copies each channel of x [Cg, H, W]
 * into its four parity planes q [Cg, 4, H/2, W/2] (rows and columns even
 * or odd), where every tap is a plane shifted by 0 or -1: then
 * kd_sgemm_small_conv2 is the implicit product on q, Y[M, Ho*Wo] = A B
 * (ap packed as for kd_sgemm_small_conv) -- the same FMAs in the same
 * order as kd_sgemm_small_run on im2col(x), so the same bits.  masks:
 * kd_sgemm_small_conv2_masks(Ho, Wo) uint16 from kd_sgemm_small_conv2_prep.
 * Only where kd_sgemm_small_conv2_ok. */
int kd_sgemm_small_conv2_ok(int path, int KS, int stride, int pad, int dil, int H, int W);
size_t kd_sgemm_small_conv2_masks(int Ho, int Wo);
void kd_sgemm_small_conv2_prep(int Ho, int Wo, uint16_t *masks);
void kd_sgemm_small_conv2_split(int Cg, int H, int W, const float *x, float *q);
void kd_sgemm_small_conv2(int path, int M, int Cg, int Ho, int Wo, const float *ap,
                          const float *q, float *Y, int ldy, const uint16_t *masks);

/* The dX of the same convs without col2im.  Each parity plane (a, b) of
 * dx (rows 2i + a, columns 2j + b) is a stride-1 implicit product on dY
 * [Cg, Ho, Wo] with the taps of that parity (1, 2, 2 or 4 of the nine,
 * shifted by 0 or +1): kd_sgemm_small_conv2dx writes planes [4][M, Ho*Wo]
 * from ap (kd_sgemm_small_pack_conv2dx of w [Cg, M, 3, 3]: M*Cg*9 floats)
 * and the masks of kd_sgemm_small_conv2dx_prep (kd_sgemm_small_conv2_masks
 * uint16); kd_sgemm_small_conv2_merge adds them into dx [M, H, W].  Each dx
 * element is one FMA chain over (f, tap), then one addition: deterministic,
 * rounded differently from col = W^T dY and col2im.  Only where
 * kd_sgemm_small_conv2dx_ok. */
int kd_sgemm_small_conv2dx_ok(int path, int KS, int stride, int pad, int dil, int H, int W);
void kd_sgemm_small_conv2dx_prep(int Ho, int Wo, uint16_t *masks);
void kd_sgemm_small_pack_conv2dx(int path, int F, int C, const float *w, float *ap);
void kd_sgemm_small_conv2dx(int path, int M, int Cg, int Ho, int Wo, const float *ap,
                            const float *dy, float *planes, const uint16_t *masks);
void kd_sgemm_small_conv2_merge(int C, int H, int W, const float *planes, float *dx);

#endif
