/* test_raw_val.c — the validation split of raw_synth (`val: true`): photo i
 * with i % 5 == 3 is held out whole as "val" (i % 5 == 4 stays "test"), its
 * patches cut exactly as they are without it (the same fixed crops, keyed by
 * the seed and the photo), so no photo has patches in two splits; without
 * `val` nothing changes; with it fewer than 5 usable photos is an error
 * saying how many are needed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../unit.h"
#include "data_test.h"
#include "raw.h"

#define P 16                /* patch */
#define PH 32
#define PW 40               /* (32/16) x (40/16) = 4 patches per photo */

static void photos(int n)
{
    kd_tmp_mkdir("val");
    for (int k = 0; k < n; k++) {
        uint8_t pix[PH * PW * 3];
        for (int y = 0; y < PH; y++)
            for (int x = 0; x < PW; x++)
                for (int c = 0; c < 3; c++)
                    pix[(y * PW + x) * 3 + c] = (uint8_t)(((x / 5 + y / 7 + 3 * k) % 7) * 30 + 20 * c + 5);
        char rel[64];
        snprintf(rel, sizeof rel, "val/p%d.png", k);
        CU_ASSERT_EQUAL_FATAL(kd_png_write(kd_tmp_path(rel), pix, PH, PW, 3, kd_err, sizeof kd_err), KD_DATA_OK);
    }
}

static void test_val_split(void)
{
    photos(7);                /* photos 0..6: train 0,1,2,5,6; val 3; test 4 */
    char pat[512];
    snprintf(pat, sizeof pat, "%s/val/p*.png", kd_tmp());
    kd_dataset a, b;
    CU_ASSERT_EQUAL_FATAL(kd_load_raw_synth(pat, 1, P, 3, &a, kd_err, sizeof kd_err), KD_DATA_OK);
    CU_ASSERT_EQUAL_FATAL(kd_load_raw_synth_val(pat, 1, P, 3, 1, &b, kd_err, sizeof kd_err), KD_DATA_OK);
    kd_split *atr = kd_dataset_split(&a, "train"), *ate = kd_dataset_split(&a, "test");
    kd_split *btr = kd_dataset_split(&b, "train"), *bte = kd_dataset_split(&b, "test");
    kd_split *bva = kd_dataset_split(&b, "val");
    CU_ASSERT_FATAL(atr && ate && btr && bte && bva);
    CU_ASSERT_PTR_NULL(kd_dataset_split(&a, "val"));   /* without val: train and test only */
    CU_ASSERT_EQUAL(atr->n, 6 * 4);
    CU_ASSERT_EQUAL(ate->n, 4);
    CU_ASSERT_EQUAL(btr->n, 5 * 4);
    CU_ASSERT_EQUAL(bva->n, 4);
    CU_ASSERT_EQUAL(bte->n, 4);
    size_t row = (size_t)3 * P * P;   /* a patch: linear camera RGB [3, P, P] */
    const float *ax = atr->x, *bx = btr->x, *vx = bva->x;
    /* val = photo 3's patches as the train split without val holds them (photos 0,1,2,3,...) */
    CU_ASSERT(memcmp(vx, ax + 3 * 4 * row, 4 * row * sizeof(float)) == 0);
    /* train: photos 0-2 then 5, 6, cut the same */
    CU_ASSERT(memcmp(bx, ax, 3 * 4 * row * sizeof(float)) == 0);
    CU_ASSERT(memcmp(bx + 3 * 4 * row, ax + 4 * 4 * row, 2 * 4 * row * sizeof(float)) == 0);
    /* test: the same */
    CU_ASSERT(memcmp(bte->x, ate->x, 4 * row * sizeof(float)) == 0);
    /* val is not a copy of a train patch */
    for (int64_t k = 0; k < btr->n; k++)
        CU_ASSERT(memcmp(bx + (size_t)k * row, vx, row * sizeof(float)) != 0);
    kd_dataset_free(&a);
    kd_dataset_free(&b);
}

static void test_val_needs_five_photos(void)
{
    kd_tmp_mkdir("few");
    uint8_t pix[PH * PW * 3];
    memset(pix, 90, sizeof pix);
    for (int k = 0; k < 4; k++) {
        char rel[64];
        snprintf(rel, sizeof rel, "few/p%d.png", k);
        CU_ASSERT_EQUAL_FATAL(kd_png_write(kd_tmp_path(rel), pix, PH, PW, 3, kd_err, sizeof kd_err), KD_DATA_OK);
    }
    char pat[512];
    snprintf(pat, sizeof pat, "%s/few/p*.png", kd_tmp());
    kd_dataset d;
    CU_ASSERT_EQUAL_FATAL(kd_load_raw_synth(pat, 1, P, 3, &d, kd_err, sizeof kd_err), KD_DATA_OK);
    kd_dataset_free(&d);
    CU_ASSERT_EQUAL(kd_load_raw_synth_val(pat, 1, P, 3, 1, &d, kd_err, sizeof kd_err), KD_DATA_EFORMAT);
    CU_ASSERT(strstr(kd_err, ": 4 images of at least 16x16; need 5 (every 5th image is a test image and "
                             "the one before it a validation image)") != NULL);
    if (!strstr(kd_err, "need 5")) fprintf(stderr, "\n%s\n", kd_err);
}

int main(void)
{
    static const kd_unit_test tests[] = {
        KD_TEST(test_val_split),
        KD_TEST(test_val_needs_five_photos),
        KD_TEST_END
    };
    return kd_unit_main("raw_val", tests);
}
