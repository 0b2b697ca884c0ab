/* test_metrics.c — PSNR, SSIM and the ranking metrics against values
 * computed by hand on tiny inputs. */
#include <math.h>
#include <string.h>
#include "../unit.h"
#include "../../runtime/metrics.h"

static void test_psnr(void)
{
    float x[4] = {0, 0, 0, 0}, r[4] = {0.1f, -0.1f, 0.1f, 0.1f};
    /* mse 0.01 (in float: 0.1f^2), peak 1: 20 dB */
    CU_ASSERT_DOUBLE_EQUAL(kd_psnr(x, r, 4, 1.0), 20.0, 1e-5);
    /* peak 2: 10 log10(4 / 0.01) = 26.0206 dB */
    CU_ASSERT_DOUBLE_EQUAL(kd_psnr(x, r, 4, 2.0), 26.020599913, 1e-5);
    /* identical images: capped at 100 dB */
    CU_ASSERT_DOUBLE_EQUAL(kd_psnr(r, r, 4, 1.0), 100.0, 1e-9);
}

static void test_ssim(void)
{
    float a[49], b[49], x[49], y[49];
    for (int i = 0; i < 49; i++) {
        a[i] = 0.5f;
        b[i] = 0.25f;
        x[i] = (float)((i / 7 + i % 7) % 2 == 0);   /* checkerboard, 25 ones */
        y[i] = 1 - x[i];
    }
    /* constant images: (2ab + C1) / (a^2 + b^2 + C1) = 0.2501 / 0.3126 */
    CU_ASSERT_DOUBLE_EQUAL(kd_ssim(a, b, 1, 7, 7, 1.0), 0.8000639795, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(kd_ssim(x, x, 1, 7, 7, 1.0), 1.0, 1e-12);
    /* checkerboard against its negative, one 7x7 window: ux = 25/49,
     * uy = 24/49, vx = vy = 600/2352, vxy = -600/2352 (sample covariances) */
    CU_ASSERT_DOUBLE_EQUAL(kd_ssim(x, y, 1, 7, 7, 1.0), -0.9956486712, 1e-9);
    /* two channels: the mean of the two values */
    float xc[98], yc[98];
    memcpy(xc, a, sizeof a); memcpy(xc + 49, x, sizeof x);
    memcpy(yc, b, sizeof b); memcpy(yc + 49, x, sizeof x);
    CU_ASSERT_DOUBLE_EQUAL(kd_ssim(xc, yc, 2, 7, 7, 1.0), (0.8000639795 + 1.0) / 2, 1e-9);
}

static void test_ranks(void)
{
    const float s[4] = {0.1f, 0.5f, 0.3f, 0.9f};
    int64_t r = kd_rank(s, 4, 2, NULL, 0);       /* 0.5 and 0.9 above 0.3 */
    CU_ASSERT_EQUAL(r, 2);
    CU_ASSERT_EQUAL(kd_hr_at(r, 1), 0.0);
    CU_ASSERT_EQUAL(kd_hr_at(r, 3), 1.0);
    CU_ASSERT_DOUBLE_EQUAL(kd_ndcg_at(r, 3), 0.5, 1e-12);        /* 1 / log2(4) */
    CU_ASSERT_DOUBLE_EQUAL(kd_mrr_at(r, 3), 1.0 / 3, 1e-12);
    CU_ASSERT_EQUAL(kd_ndcg_at(r, 2), 0.0);
    CU_ASSERT_EQUAL(kd_mrr_at(r, 2), 0.0);
    /* sampled negatives {0, 1}: only item 1 ranks above the target */
    const int32_t neg[2] = {0, 1};
    r = kd_rank(s, 4, 2, neg, 2);
    CU_ASSERT_EQUAL(r, 1);
    CU_ASSERT_DOUBLE_EQUAL(kd_ndcg_at(r, 2), 0.6309297536, 1e-9);  /* 1 / log2(3) */
    CU_ASSERT_DOUBLE_EQUAL(kd_mrr_at(r, 5), 0.5, 1e-12);
    /* ties: an equal score at a smaller index counts as better */
    const float t[3] = {0.2f, 0.2f, 0.2f};
    CU_ASSERT_EQUAL(kd_rank(t, 3, 0, NULL, 0), 0);
    CU_ASSERT_EQUAL(kd_rank(t, 3, 2, NULL, 0), 2);
}

int main(void)
{
    static const kd_unit_test tests[] = {
        KD_TEST(test_psnr), KD_TEST(test_ssim), KD_TEST(test_ranks), KD_TEST_END};
    return kd_unit_main("metrics", tests);
}
