/* test_raw.c — the camera pipeline of raw_synth (data/raw.h), its noise and
 * its photo formats:
 *   - on a flat image the synthesized noise has the variance shot x + read
 *     it claims, per level, within sampling error (a chi-square bound);
 *   - unprocess then process returns the photo within 1e-4 where
 *     unprocessing neither clipped nor touched highlights (sRGB values in
 *     [0.05, 0.95]), and within 0.02 mean absolute error over the whole
 *     RGB cube, clipping included;
 *   - JPEG photos are read (libjpeg) next to PNG ones, photos smaller than
 *     the patch are left out, and a file that is not a JPEG is an error
 *     naming it. */
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include "../unit.h"
#include "data_test.h"
#include "raw.h"

/* ---- noise ------------------------------------------------------------------- */

static void test_noise_variance_flat(void)
{
    /* a flat image at each of three brightnesses, levels fixed by a
     * one-point log_shot range; read is drawn per sample, so each sample
     * is standardized by its own (shot x + read) */
    const double xs[3] = { 0.05, 0.3, 0.8 }, shots[2] = { 1e-4, 1e-2 };
    enum { N = 4096, REPS = 40 };
    float *clean = malloc(N * sizeof(float)), *noisy = malloc(N * sizeof(float));
    CU_ASSERT_FATAL(clean && noisy);
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 2; b++) {
            kd_noise_pg pg = { log(shots[b]), log(shots[b]) };
            for (int i = 0; i < N; i++) clean[i] = (float)xs[a];
            double z = 0, m = 0;
            for (int r = 0; r < REPS; r++) {
                kd_rng g = kd_rng_key(7, (uint64_t)r, (uint64_t)(a * 2 + b), KD_STREAM_NOISE);
                float level[2];
                kd_noise_pg_apply(&pg, &g, clean, noisy, N, level);
                CU_ASSERT(fabs(level[0] - shots[b]) < 1e-6 * shots[b] + 1e-12);
                double var = xs[a] * level[0] + level[1];
                for (int i = 0; i < N; i++) {
                    double d = noisy[i] - xs[a];
                    z += d * d / var;
                    m += d / sqrt(var);
                }
            }
            /* sum of N*REPS chi-square(1): mean 1, sd sqrt(2 / (N REPS)) ~ 0.0035;
             * 6 sd */
            double n = (double)N * REPS;
            CU_ASSERT(fabs(z / n - 1) < 6 * sqrt(2 / n));
            CU_ASSERT(fabs(m / n) < 6 / sqrt(n));   /* zero mean */
        }
    free(clean);
    free(noisy);
}

/* ---- unprocess / process -------------------------------------------------------- */

static void test_unprocess_process_roundtrip(void)
{
    double worst = 0, sum = 0;
    int exact = 0, n = 0;
    for (uint64_t img = 0; img < 8; img++) {
        kd_raw_params p;
        kd_raw_params_sample(3, img, &p);
        for (int r = 0; r <= 20; r++)
            for (int g = 0; g <= 20; g++)
                for (int b = 0; b <= 20; b++) {
                    double in[3] = { r / 20.0, g / 20.0, b / 20.0 };
                    float lin[3], back[3];
                    kd_raw_unprocess_px(&p, in, lin);
                    double dlin[3] = { lin[0], lin[1], lin[2] };
                    kd_raw_process_px(&p, dlin, back);
                    double err = 0;
                    for (int c = 0; c < 3; c++) err = fmax(err, fabs(back[c] - in[c]));
                    sum += err;
                    n++;
                    /* unclipped, below the highlight mask and away from 0 and 1 (where
                     * gamma's and the tone curve's slopes blow up the float32 rounding
                     * of the linear values): exact up to that rounding */
                    int inside = r > 0 && r < 20 && g > 0 && g < 20 && b > 0 && b < 20;
                    for (int c = 0; c < 3; c++) inside &= lin[c] > 1e-6 && lin[c] < 1 - 1e-6;
                    double gains[3] = { p.red_gain * p.rgb_gain, p.rgb_gain, p.blue_gain * p.rgb_gain };
                    double grey = (lin[0] * gains[0] + lin[1] * gains[1] + lin[2] * gains[2]) / 3;
                    if (inside && grey < 0.85) {
                        exact++;
                        if (err > worst) worst = err;
                    }
                }
    }
    CU_ASSERT(exact > n / 3);          /* most of the cube is inside */
    CU_ASSERT(worst < 1e-4);
    CU_ASSERT(sum / n < 0.02);         /* over everything, clipping included */
    /* the fixed evaluation parameters are the means, and invertible */
    kd_raw_params m;
    kd_raw_params_mean(&m);
    CU_ASSERT_DOUBLE_EQUAL(m.red_gain, 2.15, 1e-12);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double s = 0;
            for (int k = 0; k < 3; k++) s += m.rgb2cam[i][k] * m.cam2rgb[k][j];
            CU_ASSERT_DOUBLE_EQUAL(s, i == j, 1e-9);
        }
    /* packed grey quads process to grey sRGB pixels */
    float packed[4 * 4], rgb[3 * 4];
    for (int q = 0; q < 4; q++) {
        double lin = 0.1 * (q + 1);
        packed[q] = (float)(lin / (m.red_gain * m.rgb_gain));
        packed[4 + q] = packed[8 + q] = (float)(lin / m.rgb_gain);
        packed[12 + q] = (float)(lin / (m.blue_gain * m.rgb_gain));
    }
    kd_raw_packed_to_srgb(&m, packed, 2, rgb);
    for (int q = 0; q < 4; q++) {
        CU_ASSERT(fabs(rgb[q] - rgb[4 + q]) < 1e-5 && fabs(rgb[q] - rgb[8 + q]) < 1e-5);
        CU_ASSERT(q == 0 || rgb[q] > rgb[q - 1]);
    }
}

/* ---- JPEG --------------------------------------------------------------------------- */

static int write_jpeg(const char *path, int h, int w, int seed)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 95, TRUE);
    jpeg_start_compress(&c, TRUE);
    unsigned char *row = malloc((size_t)w * 3);
    while (c.next_scanline < c.image_height) {
        int y = (int)c.next_scanline;
        for (int x = 0; x < w; x++)
            for (int k = 0; k < 3; k++) row[x * 3 + k] = (unsigned char)(40 + 2 * y + x + 30 * k + seed);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(row);
    fclose(f);
    return 0;
}

static void test_jpeg_and_small_photos(void)
{
    kd_tmp_mkdir("mixed");
    for (int k = 0; k < 4; k++) {
        char rel[64];
        snprintf(rel, sizeof rel, "mixed/p%d.jpg", k);
        CU_ASSERT_EQUAL_FATAL(write_jpeg(kd_tmp_path(rel), 24, 32, k), 0);
    }
    uint8_t png[16 * 16 * 3], tiny[6 * 6 * 3];
    for (int i = 0; i < 16 * 16 * 3; i++) png[i] = (uint8_t)(i % 200);
    memset(tiny, 128, sizeof tiny);
    CU_ASSERT_EQUAL(kd_png_write(kd_tmp_path("mixed/p4.png"), png, 16, 16, 3, kd_err, sizeof kd_err), KD_DATA_OK);
    CU_ASSERT_EQUAL(kd_png_write(kd_tmp_path("mixed/p5.png"), tiny, 6, 6, 3, kd_err, sizeof kd_err), KD_DATA_OK);
    /* a JPEG read back: the gradient it was written with, within JPEG's loss */
    uint8_t *pix = NULL;
    int64_t h = 0, w = 0;
    CU_ASSERT_EQUAL_FATAL(kd_jpeg_read(kd_tmp_path("mixed/p1.jpg"), &pix, &h, &w, kd_err, sizeof kd_err),
                          KD_DATA_OK);
    CU_ASSERT(h == 24 && w == 32);
    double e = 0;
    for (int y = 0; y < 24; y++)
        for (int x = 0; x < 32; x++)
            for (int k = 0; k < 3; k++) e += fabs((double)pix[(y * 32 + x) * 3 + k] - (40 + 2 * y + x + 30 * k + 1));
    CU_ASSERT(e / (24 * 32 * 3) < 3);
    free(pix);
    /* the folder: 4 JPEGs + 1 PNG of at least 8x8 (the 6x6 one is left out):
     * image 4 (the PNG) is the test image */
    char pat[512];
    snprintf(pat, sizeof pat, "%s/mixed/p*", kd_tmp());
    kd_dataset ds;
    CU_ASSERT_EQUAL_FATAL(kd_load_raw_synth(pat, 1, 8, 1, &ds, kd_err, sizeof kd_err), KD_DATA_OK);
    kd_split *tr = kd_dataset_split(&ds, "train"), *te = kd_dataset_split(&ds, "test");
    CU_ASSERT_FATAL(tr && te);
    CU_ASSERT_EQUAL(tr->n, 4 * 3 * 4);   /* (24/8) x (32/8) per JPEG */
    CU_ASSERT_EQUAL(te->n, 2 * 2);       /* (16/8)^2 from the PNG */
    kd_dataset_free(&ds);
    /* a .jpg that is not a JPEG */
    CU_ASSERT_EQUAL(kd_write_file(kd_tmp_path("mixed/p6.jpg"), "not a jpeg", 10), 0);
    CU_ASSERT_EQUAL(kd_load_raw_synth(pat, 1, 8, 1, &ds, kd_err, sizeof kd_err), KD_DATA_EFORMAT);
    CU_ASSERT(strncmp(kd_err, kd_tmp_path("mixed/p6.jpg"), strlen(kd_tmp_path("mixed/p6.jpg"))) == 0);
    CU_ASSERT(strstr(kd_err, "not a JPEG file libjpeg can read") != NULL);
}

int main(void)
{
    static const kd_unit_test tests[] = {
        KD_TEST(test_noise_variance_flat),
        KD_TEST(test_unprocess_process_roundtrip),
        KD_TEST(test_jpeg_and_small_photos),
        KD_TEST_END
    };
    int rc = kd_unit_main("raw", tests);
    kd_tmp_cleanup();
    return rc;
}
