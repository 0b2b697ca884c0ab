/* metrics.h — evaluation metrics beyond top-1/top-5 (runtime/metrics.c):
 * image quality (PSNR, SSIM) of a restored image against the clean one, and
 * ranking quality (HR, NDCG, MRR @k) of a score row against a target item.
 * Pure functions in double; runtime/evaluate.c accumulates them over a split. */
#ifndef KD_METRICS_H
#define KD_METRICS_H
#include <stdint.h>

/* PSNR in dB of x against ref (n values, data range `peak`):
 * 10 log10(peak^2 / mse); mse is floored at peak^2 1e-10 (100 dB). */
double kd_psnr(const float *x, const float *ref, int64_t n, double peak);

/* SSIM of one [C, H, W] image x against y (Wang et al. 2004, the
 * scikit-image defaults): a 7 x 7 uniform window (min(H, W) rounded down to
 * odd when smaller), sample covariances (NP / (NP - 1)), C1 = (0.01 L)^2,
 * C2 = (0.03 L)^2 with L the data range; the mean over the window positions
 * that fit inside the image, then over channels. */
double kd_ssim(const float *x, const float *y, int64_t C, int64_t H, int64_t W, double L);

/* 0-based rank of `target` among the candidates: all K scores (neg NULL),
 * or the target and nneg sampled negatives neg[] (item indices into s).
 * Counted as better: a higher score, or an equal one at a smaller index. */
int64_t kd_rank(const float *s, int64_t K, int64_t target, const int32_t *neg, int64_t nneg);

/* per-row values at cut-off k for a 0-based rank r */
static inline double kd_hr_at(int64_t r, int64_t k) { return r < k ? 1.0 : 0.0; }
double kd_ndcg_at(int64_t r, int64_t k);   /* 1 / log2(r + 2) if r < k */
double kd_mrr_at(int64_t r, int64_t k);    /* 1 / (r + 1) if r < k */

#define KD_RANK_MAX 1024   /* ranks kept per model; cut-offs k <= this */
#endif
