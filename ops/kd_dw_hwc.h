/* kd_dw_hwc.h — conv2d's weight gradient from the input laid out pixel by
 * pixel (private to ops/).
 *
 * For a convolution with one group and dilation 1 (any kernel size KS,
 * stride S, pad), image by image:
 *
 *   dW[f, c, kh, kw] += sum over (oh, ow) of
 *                       dY[f, oh, ow] * x[c, oh*S + kh - pad, ow*S + kw - pad]
 *
 * kd_dw_hwc_layout writes x [C, H, W] as xt [Hp, Wp, C] (Hp = H + 2 pad,
 * Wp = W + 2 pad, zeros on the border).  Then for each kernel row kh the
 * KS*C values a window needs, (kw, c), are contiguous in xt, and the
 * product is a plain register-blocked one: up to 16 filters by up to 48
 * of those values held in registers over every output position of the
 * image, one FMA per position in order (no im2col, no lane reductions).
 * kd_dw_hwc adds each image's sums into a partial acc [F, KS, KS, C]
 * (tap-major); kd_dw_hwc_finish adds T such partials, in order, into dW's
 * [F, C, KS, KS].
 *
 * Determinism: each element of an image's sum is one FMA chain over the
 * output positions in row-major order, then one addition into acc; the
 * same bits run to run and whatever the blocking.  The result differs
 * from the im2col products (kd_sgemm_small_nt) in rounding only.
 *
 * Only where kd_dw_hwc_ok: the AVX-512 path of kd_sgemm_small, and
 * kd_sgemm_small_set_conv's bit 4 (16) set (benchmarks and tests switch
 * it off to compare).
 */
#ifndef KD_DW_HWC_H
#define KD_DW_HWC_H

#include <stddef.h>

int kd_dw_hwc_ok(int path, int groups, int dil);
/* floats of xt for x [C, H, W] and this pad */
size_t kd_dw_hwc_floats(int C, int H, int W, int pad);
void kd_dw_hwc_layout(int C, int H, int W, int pad, const float *x, float *xt);
/* the same into a larger xt [Hp, Wp, C] (Hp >= H + pad, Wp >= W + pad):
 * x at rows and columns pad.., zeros elsewhere (kd_wino's tiles) */
void kd_hwc_layout(int C, int H, int W, int pad, int Hp, int Wp, const float *x, float *xt);
/* acc[f * KS*KS*C + (kh*KS + kw)*C + c] += image's sums; dy [F, Ho*Wo]
 * with rows ldy apart; xt from kd_dw_hwc_layout with Wp = W + 2 pad */
void kd_dw_hwc(int F, int C, int Ho, int Wo, int KS, int S, int Wp, const float *dy,
               long ldy, const float *xt, float *acc);
/* dw[f, c, kh, kw] += parts[0][...] + parts[1][...] + ... (T partials of
 * F*KS*KS*C floats, `stride` floats apart, summed in order) */
void kd_dw_hwc_finish(int F, int C, int KS, const float *parts, size_t stride, int T, float *dw);

#endif
