/* kd_wino.h — Winograd F(4x4, 3x3) for conv2d's 3x3, pad-1, stride-1,
 * one-group convolutions (private to ops/).
 *
 *   y[f, h, w] (+)= sum over c, kh, kw of w[f, c, kh, kw] x[c, h+kh-1, w+kw-1]
 *
 * Each 4x4 block of outputs (a tile) comes from the 6x6 inputs around it:
 * y_tile = A^T [ sum over c of (G w[f,c] G^T) .* (B^T d_c B) ] A, 36
 * multiplies per tile and channel pair instead of 144 (Lavin and Gray,
 * "Fast Algorithms for Convolutional Neural Networks", 2016; points 0,
 * +-1, +-2 and infinity).
 *
 * Layout: channels are the SIMD lanes.  x is copied pixel-major into a
 * zero-padded [4*th + 2, 4*tw + 2, C] buffer (kd_hwc_layout, th x tw
 * tiles), the input transform writes V[36][rows][C] for a chunk of rows
 * (one row per tile of each image of a group), 36 products
 * M[xi][rows][F] = V[xi] U[xi] run on registers (U: the transformed
 * weights [36][C][F] with planes a little apart, kd_wino_pack), the output transform writes the
 * tiles' pixels into [H*W, F] and a 16x16 transpose moves them into y
 * [F, H, W] (added when `accumulate`).
 *
 * The same function computes dX of such a conv: dx = conv(dY, W flipped
 * and transposed), kd_wino_pack with flip = 1.
 *
 * Determinism: every element of M is one FMA chain over c in order; the
 * transforms are fixed sequences of vector operations; an image's result
 * does not depend on the other images of its group, on the chunking or on
 * the thread.  It differs from the direct product in rounding: measured
 * against a double reference in tests/ops/test_sgemm_small and
 * ops/README.md.
 *
 * Only where kd_wino_ok: the AVX-512 path of kd_sgemm_small,
 * kd_sgemm_small_set_conv's bit 6 (64) set, C and F multiples of 16.
 */
#ifndef KD_WINO_H
#define KD_WINO_H

#include <stddef.h>

int kd_wino_ok(int path, int C, int F);
/* images run together (so that the products have enough rows) */
int kd_wino_group(int H, int W);
/* floats of the transformed weights U, and of one thread's scratch for
 * kd_wino_run on a group of kd_wino_group(H, W) images */
size_t kd_wino_ufloats(int C, int F);
size_t kd_wino_floats(int C, int F, int H, int W);
/* U from w [F, C, 3, 3] (flip = 0: the conv of C channels into F) or, for
 * dX, from the same w as the conv of F channels into C with the kernel
 * turned by 180 degrees (flip = 1); only U's rows for the conv's input
 * channels i0..i1-1 (so that threads can share the work) */
void kd_wino_pack(int F, int C, const float *w, int flip, int i0, int i1, float *u);
/* n images (at most kd_wino_group(H, W)): x n x [C, H, W] -> y n x [F, H, W],
 * y = result or y += result (accumulate); u from kd_wino_pack for (C -> F) */
void kd_wino_run(int F, int C, int H, int W, int n, const float *u, const float *x, float *y,
                 int accumulate, float *scratch);


/* dW of the same convs: dW[f, c] = G^T (sum over tiles of
 * (A dY_t A^T) .* (B^T x_t B)) G, A the output transform's transpose (the
 * transposition principle: F(3x3, 4x4) from F(4x4, 3x3)).  Each thread
 * sums its images into macc [36][F][C] (kd_wino_macc_floats, zeroed by
 * the caller): kd_wino_dw_run on groups of at most kd_wino_group(H, W)
 * images, x n x [C, H, W], dy n x [F, H, W], scratch of
 * kd_wino_dw_floats.  kd_wino_dw_finish then adds, for filters f0..f1-1,
 * G^T (macc_0 + macc_1 + ... in order, T of them `stride` floats apart) G
 * into dw [F, C, 3, 3]. */
size_t kd_wino_dw_floats(int C, int F, int H, int W);
size_t kd_wino_macc_floats(int C, int F);
void kd_wino_dw_run(int F, int C, int H, int W, int n, const float *x, const float *dy,
                    float *macc, float *scratch);
void kd_wino_dw_finish(int F, int C, const float *macc, size_t stride, int T, int f0, int f1,
                       float *dw);

#endif
