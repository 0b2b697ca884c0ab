/* metrics.c — PSNR, SSIM and ranking metrics (see metrics.h). */
#include <math.h>
#include "metrics.h"

double kd_psnr(const float *x, const float *ref, int64_t n, double peak)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)x[i] - ref[i];
        s += d * d;
    }
    double mse = n ? s / (double)n : 0, floor_ = peak * peak * 1e-10;
    if (!(mse > floor_)) mse = mse != mse ? mse : floor_;   /* keep NaN visible */
    return 10.0 * log10(peak * peak / mse);
}

double kd_ssim(const float *x, const float *y, int64_t C, int64_t H, int64_t W, double L)
{
    int64_t win = 7;
    if (H < win) win = H;
    if (W < win) win = W;
    if (win % 2 == 0) win--;
    if (win < 1) return 0;
    double np = (double)(win * win), cov = np > 1 ? np / (np - 1) : 1;
    double C1 = (0.01 * L) * (0.01 * L), C2 = (0.03 * L) * (0.03 * L), tot = 0;
    int64_t Ho = H - win + 1, Wo = W - win + 1;
    for (int64_t c = 0; c < C; c++) {
        const float *xp = x + c * H * W, *yp = y + c * H * W;
        double acc = 0;
        for (int64_t i = 0; i < Ho; i++)
            for (int64_t j = 0; j < Wo; j++) {
                double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
                for (int64_t a = 0; a < win; a++)
                    for (int64_t b = 0; b < win; b++) {
                        double u = xp[(i + a) * W + j + b], v = yp[(i + a) * W + j + b];
                        sx += u; sy += v; sxx += u * u; syy += v * v; sxy += u * v;
                    }
                double ux = sx / np, uy = sy / np;
                double vx = cov * (sxx / np - ux * ux), vy = cov * (syy / np - uy * uy);
                double vxy = cov * (sxy / np - ux * uy);
                acc += ((2 * ux * uy + C1) * (2 * vxy + C2)) /
                       ((ux * ux + uy * uy + C1) * (vx + vy + C2));
            }
        tot += acc / (double)(Ho * Wo);
    }
    return C ? tot / (double)C : 0;
}

int64_t kd_rank(const float *s, int64_t K, int64_t target, const int32_t *neg, int64_t nneg)
{
    int64_t r = 0;
    float t = s[target];
    if (!neg) {
        for (int64_t c = 0; c < K; c++) r += s[c] > t || (s[c] == t && c < target);
        return r;
    }
    for (int64_t j = 0; j < nneg; j++) {
        int64_t c = neg[j];
        if (c < 0 || c >= K || c == target) continue;
        r += s[c] > t || (s[c] == t && c < target);
    }
    return r;
}

double kd_ndcg_at(int64_t r, int64_t k) { return r < k ? 1.0 / log2((double)r + 2.0) : 0.0; }
double kd_mrr_at(int64_t r, int64_t k) { return r < k ? 1.0 / ((double)r + 1.0) : 0.0; }
