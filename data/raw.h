/* raw.h — the camera pipeline of raw_synth (data/raw_synth.c), forwards and
 * backwards, for the loader, evaluation (PSNR/SSIM after processing back to
 * sRGB, pictures) and tests.
 *
 * Unprocessing (Brooks et al. 2019), per pixel of an sRGB photo in [0, 1]:
 * inverse smoothstep tone curve, gamma expansion x^2.2, the inverse colour
 * matrix (rgb -> camera, rows summing to 1), the inverse white balance
 * (gains 1/(rgb_gain red_gain), 1/rgb_gain, 1/(rgb_gain blue_gain), with
 * highlights kept: the gain fades to 1 as the grey level goes from 0.9 to
 * 1), clipped to [0, 1].  Processing is the reverse: the gains, the colour
 * matrix cam -> rgb (the inverse), clipping, gamma x^(1/2.2), smoothstep.
 * It inverts unprocessing exactly where unprocessing did not clip and the
 * highlight mask is 0 (grey level <= 0.9). */
#ifndef KD_RAW_H
#define KD_RAW_H

#include <stdint.h>

typedef struct kd_raw_params {
    double rgb2cam[3][3], cam2rgb[3][3];
    double rgb_gain, red_gain, blue_gain;
} kd_raw_params;

/* The parameters of image `image` under `seed` (a random mix of four
 * cameras' matrices; rgb_gain 1/N(0.8, 0.1), red 1.9..2.4, blue 1.5..1.9). */
void kd_raw_params_sample(uint64_t seed, uint64_t image, kd_raw_params *p);
/* The fixed parameters evaluation processes with: the equal mix of the four
 * matrices, rgb_gain 1/0.8, red 2.15, blue 1.7 (the means). */
void kd_raw_params_mean(kd_raw_params *p);

void kd_raw_unprocess_px(const kd_raw_params *p, const double in[3], float out[3]);
void kd_raw_process_px(const kd_raw_params *p, const double in[3], float out[3]);

/* Packed RGGB [4, q, q] (R, Gr, Gb, B) -> sRGB planes [3, q, q] in [0, 1]:
 * each quad is one pixel (R, (Gr + Gb) / 2, B) through kd_raw_process_px. */
void kd_raw_packed_to_srgb(const kd_raw_params *p, const float *packed, int64_t q, float *rgb);

#endif
