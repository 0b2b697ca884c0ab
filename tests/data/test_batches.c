/* test_batches.c — holdout and limit, shuffling, augmentation and
 * normalization, batches on the background thread vs the synchronous path,
 * sequences batches, and raw_synth (unprocessing, mosaic, noise). */
#include <math.h>
#include "../unit.h"
#include "data_test.h"
#include "data_int.h"

/* An in-memory image dataset: n samples [c,h,w], pixel (i, q) = (i*7+q)%256,
 * label i % 10, one split "train". */
static void make_images(kd_dataset *ds, int64_t n, int64_t c, int64_t h, int64_t w)
{
    memset(ds, 0, sizeof *ds);
    ds->kind = KD_DATA_IMAGES;
    ds->dtype = KD_U8;
    ds->c = c;
    ds->h = h;
    ds->w = w;
    ds->classes = 10;
    ds->source = kd_data_strdup("mem");
    kd_split sp = { 0 };
    sp.n = n;
    sp.x = malloc((size_t)(n * c * h * w));
    sp.label = malloc((size_t)n * sizeof(int32_t));
    for (int64_t i = 0; i < n; i++) {
        sp.label[i] = (int32_t)(i % 10);
        for (int64_t q = 0; q < c * h * w; q++)
            ((uint8_t *)sp.x)[i * c * h * w + q] = (uint8_t)((i * 7 + q) % 256);
    }
    CU_ASSERT_EQUAL_FATAL(kd_dataset_add_split(ds, "train", &sp, kd_err, sizeof kd_err),
                          KD_DATA_OK);
}

/* The sample index of a row: pixel 0 of sample i is (7 i) % 256; the tests
 * keep n <= 36 distinct, or use labels. */
static int sorted_subset(const kd_split *sp, int64_t *seen, int64_t n)
{
    int ok = 1;
    for (int64_t j = 0; j < sp->n; j++) {
        int64_t i = ((uint8_t *)sp->x)[j * 4] / 7;   /* 1x2x2 samples, i < 37 */
        if (j > 0 && i <= ((uint8_t *)sp->x)[(j - 1) * 4] / 7)
            ok = 0;
        if (i >= n || seen[i]++)
            ok = 0;
        if (sp->label[j] != i % 10)
            ok = 0;
    }
    return ok;
}

static void test_holdout_and_limit(void)
{
    kd_dataset ds;
    make_images(&ds, 36, 1, 2, 2);
    CU_ASSERT_EQUAL_FATAL(kd_dataset_holdout(&ds, "train", 10, "val", 5, kd_err,
                                             sizeof kd_err), KD_DATA_OK);
    kd_split *tr = kd_dataset_split(&ds, "train"), *va = kd_dataset_split(&ds, "val");
    CU_ASSERT_FATAL(tr && va);
    CU_ASSERT_EQUAL(tr->n, 26);
    CU_ASSERT_EQUAL(va->n, 10);
    int64_t seen[36] = { 0 };
    CU_ASSERT(sorted_subset(tr, seen, 36));
    CU_ASSERT(sorted_subset(va, seen, 36));
    for (int i = 0; i < 36; i++)
        CU_ASSERT_EQUAL(seen[i], 1);   /* a partition */
    /* the documented rule: the last K of a Fisher-Yates permutation keyed
     * (seed, 0, 0, KD_STREAM_HOLDOUT) */
    int64_t perm[36];
    for (int i = 0; i < 36; i++)
        perm[i] = i;
    kd_rng r = kd_rng_key(5, 0, 0, KD_STREAM_HOLDOUT);
    for (int i = 35; i > 0; i--) {
        int j = (int)kd_rng_below(&r, (uint64_t)i + 1);
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    int in_val[36] = { 0 };
    for (int i = 26; i < 36; i++)
        in_val[perm[i]] = 1;
    int bad = 0;
    for (int j = 0; j < 10; j++)
        bad += !in_val[((uint8_t *)va->x)[j * 4] / 7];
    CU_ASSERT_EQUAL(bad, 0);
    /* same seed, same split; another seed, another */
    kd_dataset d2, d3;
    make_images(&d2, 36, 1, 2, 2);
    make_images(&d3, 36, 1, 2, 2);
    kd_dataset_holdout(&d2, "train", 10, "val", 5, kd_err, sizeof kd_err);
    kd_dataset_holdout(&d3, "train", 10, "val", 6, kd_err, sizeof kd_err);
    CU_ASSERT_EQUAL(memcmp(kd_dataset_split(&d2, "val")->x, va->x, 40), 0);
    CU_ASSERT_NOT_EQUAL(memcmp(kd_dataset_split(&d3, "val")->x, va->x, 40), 0);
    kd_dataset_free(&d2);
    kd_dataset_free(&d3);
    /* errors */
    CU_ASSERT_EQUAL(kd_dataset_holdout(&ds, "train", 26, "v2", 0, kd_err, sizeof kd_err),
                    KD_DATA_EARG);
    KD_ASSERT_STR_EQ(kd_err, "mem: cannot hold out 26 of the 26 samples of \"train\" "
                     "(need 0 < holdout < 26)");
    CU_ASSERT_EQUAL(kd_dataset_holdout(&ds, "train", 3, "val", 0, kd_err, sizeof kd_err),
                    KD_DATA_EARG);
    KD_ASSERT_STR_EQ(kd_err, "mem: split \"val\" already exists");
    CU_ASSERT_EQUAL(kd_dataset_holdout(&ds, "valid", 3, "v2", 0, kd_err, sizeof kd_err),
                    KD_DATA_EARG);
    KD_ASSERT_STR_EQ(kd_err, "mem: no split \"valid\" to hold samples out of");
    /* limit */
    CU_ASSERT_EQUAL(kd_dataset_limit(&ds, "train", 100, 1, kd_err, sizeof kd_err), KD_DATA_OK);
    CU_ASSERT_EQUAL(tr->n, 26);
    CU_ASSERT_EQUAL(kd_dataset_limit(&ds, "train", 7, 1, kd_err, sizeof kd_err), KD_DATA_OK);
    tr = kd_dataset_split(&ds, "train");
    CU_ASSERT_EQUAL(tr->n, 7);
    memset(seen, 0, sizeof seen);
    CU_ASSERT(sorted_subset(tr, seen, 36));
    for (int i = 0; i < 36; i++)
        bad += seen[i] && in_val[i];
    CU_ASSERT_EQUAL(bad, 0);   /* a subset of the training part */
    CU_ASSERT_EQUAL(kd_dataset_limit(&ds, "train", 0, 1, kd_err, sizeof kd_err), KD_DATA_EARG);
    KD_ASSERT_STR_EQ(kd_err, "mem: limit 0 (need at least 1)");
    CU_ASSERT_EQUAL(kd_dataset_rename(&ds, "val", "valid", kd_err, sizeof kd_err), KD_DATA_OK);
    CU_ASSERT_PTR_NOT_NULL(kd_dataset_split(&ds, "valid"));
    CU_ASSERT_PTR_NULL(kd_dataset_split(&ds, "val"));
    kd_dataset_free(&ds);
}

static void test_shuffle(void)
{
    int64_t a[1000], b[1000], c[1000];
    kd_shuffle(3, 0, 1000, a);
    kd_shuffle(3, 0, 1000, b);
    kd_shuffle(3, 1, 1000, c);
    CU_ASSERT_EQUAL(memcmp(a, b, sizeof a), 0);
    CU_ASSERT_NOT_EQUAL(memcmp(a, c, sizeof a), 0);
    int seen[1000] = { 0 }, fixed = 0;
    for (int i = 0; i < 1000; i++) {
        seen[a[i]]++;
        fixed += a[i] == i;
    }
    int bad = 0;
    for (int i = 0; i < 1000; i++)
        bad += seen[i] != 1;
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(fixed < 10);   /* about 1 expected */
    /* the generator: uniform mean and normal moments */
    kd_rng r = kd_rng_key(1, 2, 3, 4);
    double s = 0, s2 = 0, u = 0;
    for (int i = 0; i < 20000; i++) {
        double z = kd_rng_normal(&r);
        s += z;
        s2 += z * z;
        u += kd_rng_uniform(&r);
    }
    CU_ASSERT(fabs(s / 20000) < 0.03);
    CU_ASSERT(fabs(s2 / 20000 - 1) < 0.05);
    CU_ASSERT(fabs(u / 20000 - 0.5) < 0.01);
}

static kd_loader *new_loader(const kd_loader_cfg *cfg)
{
    kd_loader *ld = NULL;
    kd_err[0] = 0;
    CU_ASSERT_EQUAL(kd_loader_new(cfg, &ld, kd_err, sizeof kd_err), KD_DATA_OK);
    KD_ASSERT_STR_EQ(kd_err, "");
    return ld;
}

static void test_crop_flip_normalize(void)
{
    kd_dataset ds;
    make_images(&ds, 4, 2, 3, 3);
    const uint8_t *x = ds.splits[0].x;
    /* crop(3, pad: 1): every output is the sample shifted by (dy, dx) in
     * [-1, 1]^2 with zeros coming in; all nine shifts occur */
    kd_loader_cfg cfg = { .ds = &ds, .split = "train", .batch = 4, .seed = 9, .naug = 1 };
    cfg.aug[0] = (kd_aug){ KD_AUG_CROP, 3, 1 };
    kd_loader *ld = new_loader(&cfg);
    kd_batch b;
    CU_ASSERT_EQUAL_FATAL(kd_batch_alloc(ld, &b, kd_err, sizeof kd_err), KD_DATA_OK);
    int shifts[9] = { 0 }, bad = 0;
    for (int e = 0; e < 60; e++) {
        CU_ASSERT_EQUAL(kd_loader_fill(ld, e, 0, &b, kd_err, sizeof kd_err), KD_DATA_OK);
        CU_ASSERT_EQUAL(b.n, 4);
        for (int j = 0; j < 4; j++) {
            int64_t i = b.index[j], found = -1;
            bad += i != j;   /* no shuffle: identity order */
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int match = 1;
                    for (int ch = 0; ch < 2; ch++)
                        for (int y = 0; y < 3; y++)
                            for (int xx = 0; xx < 3; xx++) {
                                int sy = y + dy, sx = xx + dx;
                                float want = sy >= 0 && sy < 3 && sx >= 0 && sx < 3
                                    ? x[i * 18 + ch * 9 + sy * 3 + sx] / 255.0f : 0.0f;
                                match &= b.x[j * 18 + ch * 9 + y * 3 + xx] == want;
                            }
                    if (match)
                        found = (dy + 1) * 3 + (dx + 1);
                }
            if (found < 0)
                bad++;
            else
                shifts[found]++;
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    for (int k = 0; k < 9; k++)
        CU_ASSERT(shifts[k] > 5);
    kd_batch_free(&b);
    kd_loader_free(ld);

    /* flips and per-channel normalize */
    cfg.naug = 2;
    cfg.aug[0] = (kd_aug){ KD_AUG_FLIP_H, 0, 0 };
    cfg.aug[1] = (kd_aug){ KD_AUG_FLIP_V, 0, 0 };
    cfg.nnorm = 2;
    cfg.mean[0] = 0.5f;
    cfg.std[0] = 0.25f;
    cfg.mean[1] = 0.1f;
    cfg.std[1] = 2.0f;
    ld = new_loader(&cfg);
    CU_ASSERT_EQUAL_FATAL(kd_batch_alloc(ld, &b, kd_err, sizeof kd_err), KD_DATA_OK);
    int kinds[4] = { 0 };
    for (int e = 0; e < 40; e++) {
        kd_loader_fill(ld, e, 0, &b, kd_err, sizeof kd_err);
        for (int j = 0; j < 4; j++) {
            int found = -1;
            for (int k = 0; k < 4; k++) {
                int fh = k & 1, fv = k >> 1, match = 1;
                for (int ch = 0; ch < 2; ch++)
                    for (int y = 0; y < 3; y++)
                        for (int xx = 0; xx < 3; xx++) {
                            int sy = fv ? 2 - y : y, sx = fh ? 2 - xx : xx;
                            float v = x[j * 18 + ch * 9 + sy * 3 + sx] / 255.0f;
                            float want = (v - cfg.mean[ch]) / cfg.std[ch];
                            match &= b.x[j * 18 + ch * 9 + y * 3 + xx] == want;
                        }
                if (match && found < 0)
                    found = k;
            }
            if (found < 0)
                bad++;
            else
                kinds[found]++;
            CU_ASSERT_EQUAL(b.label[j], j % 10);
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    for (int k = 0; k < 4; k++)
        CU_ASSERT(kinds[k] > 15);   /* 160 draws, 40 expected each */
    kd_batch_free(&b);
    kd_loader_free(ld);

    /* configuration errors */
    kd_loader *bad_ld = NULL;
    cfg.nnorm = 3;
    CU_ASSERT_EQUAL(kd_loader_new(&cfg, &bad_ld, kd_err, sizeof kd_err), KD_DATA_EARG);
    KD_ASSERT_STR_EQ(kd_err, "mem: normalize has 3 values for 2 channels");
    cfg.nnorm = 0;
    cfg.naug = 1;
    cfg.aug[0] = (kd_aug){ KD_AUG_CROP, 6, 1 };
    CU_ASSERT_EQUAL(kd_loader_new(&cfg, &bad_ld, kd_err, sizeof kd_err), KD_DATA_EARG);
    KD_ASSERT_STR_EQ(kd_err, "mem: crop(6, pad: 1) does not fit 3x3 images");
    /* a padding near 2^62 once overflowed h + 2 * pad (UBSan) */
    cfg.aug[0] = (kd_aug){ KD_AUG_CROP, 3, (int64_t)1 << 62 };
    CU_ASSERT_EQUAL(kd_loader_new(&cfg, &bad_ld, kd_err, sizeof kd_err), KD_DATA_EARG);
    KD_ASSERT_STR_EQ(kd_err, "mem: crop(3, pad: 4611686018427387904) does not fit 3x3 images");
    cfg.naug = 0;
    cfg.split = "test";
    CU_ASSERT_EQUAL(kd_loader_new(&cfg, &bad_ld, kd_err, sizeof kd_err), KD_DATA_EARG);
    KD_ASSERT_STR_EQ(kd_err, "mem: no split \"test\"");
    CU_ASSERT_PTR_NULL(bad_ld);
    kd_dataset_free(&ds);
}

/* Every batch of the background batcher equals the synchronous one. */
static void compare_batcher(const kd_loader_cfg *cfg, int64_t e0, int64_t e1)
{
    kd_loader *ld = new_loader(cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ld);
    kd_batch b;
    CU_ASSERT_EQUAL_FATAL(kd_batch_alloc(ld, &b, kd_err, sizeof kd_err), KD_DATA_OK);
    kd_batcher *bt = NULL;
    CU_ASSERT_EQUAL_FATAL(kd_batcher_start(cfg, e0, e1, &bt, kd_err, sizeof kd_err),
                          KD_DATA_OK);
    int64_t steps = kd_loader_steps(ld), got = 0, bad = 0;
    size_t row = (size_t)(b.c * b.h * b.w);
    const kd_dataset *ds = cfg->ds;
    const kd_batch *q;
    for (int64_t e = e0; e < e1; e++) {
        char *hit = calloc((size_t)kd_dataset_split(ds, cfg->split)->n, 1);
        for (int64_t s = 0; s < steps; s++) {
            CU_ASSERT_EQUAL_FATAL(kd_batcher_next(bt, &q, kd_err, sizeof kd_err), 1);
            CU_ASSERT_EQUAL(kd_loader_fill(ld, e, s, &b, kd_err, sizeof kd_err), KD_DATA_OK);
            got++;
            bad += q->epoch != e || q->step != s || q->n != b.n;
            size_t n = (size_t)b.n;
            bad += memcmp(q->index, b.index, n * sizeof *b.index) != 0;
            if (b.x)
                bad += memcmp(q->x, b.x, n * row * sizeof(float)) != 0;
            if (b.y)
                bad += memcmp(q->y, b.y, n * row * sizeof(float)) != 0;
            if (b.level)
                bad += memcmp(q->level, b.level, n * 2 * sizeof(float)) != 0;
            if (b.label)
                bad += memcmp(q->label, b.label, n * sizeof(int32_t)) != 0;
            if (b.items) {
                size_t L = (size_t)ds->max_len, K = (size_t)ds->negatives;
                bad += memcmp(q->items, b.items, n * L * sizeof(int32_t)) != 0;
                bad += memcmp(q->next, b.next, n * L * sizeof(int32_t)) != 0;
                bad += memcmp(q->neg, b.neg, n * K * sizeof(int32_t)) != 0;
            }
            for (size_t j = 0; j < n; j++)
                bad += hit[b.index[j]]++ != 0;
        }
        int64_t covered = 0;
        for (int64_t i = 0; i < kd_dataset_split(ds, cfg->split)->n; i++)
            covered += hit[i];
        int64_t n = kd_dataset_split(ds, cfg->split)->n;
        CU_ASSERT_EQUAL(covered, cfg->drop_last ? n / cfg->batch * cfg->batch : n);
        free(hit);
    }
    CU_ASSERT_EQUAL(kd_batcher_next(bt, &q, kd_err, sizeof kd_err), 0);
    CU_ASSERT_EQUAL(kd_batcher_next(bt, &q, kd_err, sizeof kd_err), 0);
    CU_ASSERT_EQUAL(got, (e1 - e0) * steps);
    CU_ASSERT_EQUAL(bad, 0);
    kd_batcher_stop(bt);
    kd_batch_free(&b);
    kd_loader_free(ld);
}

static void test_batcher_images(void)
{
    kd_dataset ds;
    make_images(&ds, 103, 3, 6, 5);
    kd_loader_cfg cfg = { .ds = &ds, .split = "train", .batch = 16, .seed = 42,
                          .shuffle = 1, .naug = 3, .nnorm = 1 };
    cfg.aug[0] = (kd_aug){ KD_AUG_CROP, 4, 2 };
    cfg.aug[1] = (kd_aug){ KD_AUG_FLIP_H, 0, 0 };
    cfg.aug[2] = (kd_aug){ KD_AUG_FLIP_V, 0, 0 };
    cfg.mean[0] = 0.3f;
    cfg.std[0] = 0.4f;
    kd_loader *ld = new_loader(&cfg);
    int64_t c, h, w;
    kd_loader_shape(ld, &c, &h, &w);
    CU_ASSERT(c == 3 && h == 4 && w == 4);
    CU_ASSERT_EQUAL(kd_loader_steps(ld), 7);
    /* the last batch is partial; step out of range is an error */
    kd_batch b;
    kd_batch_alloc(ld, &b, kd_err, sizeof kd_err);
    CU_ASSERT_EQUAL(kd_loader_fill(ld, 0, 6, &b, kd_err, sizeof kd_err), KD_DATA_OK);
    CU_ASSERT_EQUAL(b.n, 7);
    CU_ASSERT_EQUAL(kd_loader_fill(ld, 0, 7, &b, kd_err, sizeof kd_err), KD_DATA_EARG);
    KD_ASSERT_STR_EQ(kd_err, "mem: step 7 of epoch 0 out of range (7 steps)");
    /* filling out of order gives the same bytes as in order */
    kd_batch b2;
    kd_batch_alloc(ld, &b2, kd_err, sizeof kd_err);
    kd_loader_fill(ld, 2, 3, &b, kd_err, sizeof kd_err);
    kd_loader_fill(ld, 5, 1, &b2, kd_err, sizeof kd_err);
    kd_loader_fill(ld, 2, 3, &b2, kd_err, sizeof kd_err);
    CU_ASSERT_EQUAL(memcmp(b.x, b2.x, 16 * 48 * sizeof(float)), 0);
    kd_batch_free(&b);
    kd_batch_free(&b2);
    kd_loader_free(ld);

    compare_batcher(&cfg, 0, 4);
    cfg.drop_last = 1;
    compare_batcher(&cfg, 3, 5);
    cfg.shuffle = 0;
    cfg.batch = 1;
    compare_batcher(&cfg, 0, 1);
    cfg.batch = 200;    /* larger than the split: one partial batch, or none */
    cfg.drop_last = 0;
    compare_batcher(&cfg, 0, 2);
    cfg.drop_last = 1;
    compare_batcher(&cfg, 0, 2);

    /* stopping mid-epoch, and right away */
    cfg.batch = 8;
    cfg.drop_last = 0;
    kd_batcher *bt;
    const kd_batch *q;
    CU_ASSERT_EQUAL_FATAL(kd_batcher_start(&cfg, 0, 1000, &bt, kd_err, sizeof kd_err),
                          KD_DATA_OK);
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(kd_batcher_next(bt, &q, kd_err, sizeof kd_err), 1);
    kd_batcher_stop(bt);
    CU_ASSERT_EQUAL_FATAL(kd_batcher_start(&cfg, 0, 1000, &bt, kd_err, sizeof kd_err),
                          KD_DATA_OK);
    kd_batcher_stop(bt);
    kd_batcher_stop(NULL);
    kd_dataset_free(&ds);
}

static void test_batcher_sequences(void)
{
    kd_dataset ds;
    CU_ASSERT_EQUAL_FATAL(kd_synth_sequences(37, 30, 8, 6, 4, 3, &ds, kd_err, sizeof kd_err),
                          KD_DATA_OK);
    kd_loader_cfg cfg = { .ds = &ds, .split = "train", .batch = 5, .seed = 1, .shuffle = 1 };
    compare_batcher(&cfg, 0, 3);
    cfg.split = "test";
    cfg.shuffle = 0;
    compare_batcher(&cfg, 0, 1);
    kd_loader *ld = new_loader(&cfg);
    kd_batch b;
    kd_batch_alloc(ld, &b, kd_err, sizeof kd_err);
    kd_loader_fill(ld, 0, 1, &b, kd_err, sizeof kd_err);
    const kd_split *te = kd_dataset_split(&ds, "test");
    CU_ASSERT_EQUAL(b.index[0], 5);
    CU_ASSERT_EQUAL(memcmp(b.items, te->items + 5 * 6, 5 * 6 * sizeof(int32_t)), 0);
    CU_ASSERT_EQUAL(memcmp(b.neg, te->neg + 5 * 4, 5 * 4 * sizeof(int32_t)), 0);
    CU_ASSERT_EQUAL(b.label[2], te->label[7]);
    kd_batch_free(&b);
    kd_loader_free(ld);
    kd_loader *bad = NULL;
    cfg.naug = 1;
    cfg.aug[0] = (kd_aug){ KD_AUG_FLIP_H, 0, 0 };
    CU_ASSERT_EQUAL(kd_loader_new(&cfg, &bad, kd_err, sizeof kd_err), KD_DATA_EARG);
    KD_ASSERT_STR_EQ(kd_err, "synth_sequences: sequences take no augment or normalize");
    kd_dataset_free(&ds);
}

/* ---- raw_synth ----------------------------------------------------------------------- */

static void write_photos(int count)
{
    kd_tmp_mkdir("photos");
    for (int k = 0; k < count; k++) {
        uint8_t pix[20 * 26 * 3];
        for (int y = 0; y < 20; y++)
            for (int x = 0; x < 26; x++)
                for (int c = 0; c < 3; c++)
                    pix[(y * 26 + x) * 3 + c] = (uint8_t)(20 + 7 * y + 5 * x + 30 * c + k);
        char rel[64];
        snprintf(rel, sizeof rel, "photos/p%02d.png", k);
        CU_ASSERT_EQUAL(kd_png_write(kd_tmp_path(rel), pix, 20, 26, 3, kd_err, sizeof kd_err),
                        KD_DATA_OK);
    }
}

static void test_mosaic(void)
{
    float rgb[3 * 4 * 4], packed[4 * 2 * 2];
    for (int i = 0; i < 48; i++)
        rgb[i] = (float)i;
    kd_mosaic_pack(rgb, 4, packed);
    /* R (0,0) (0,2) (2,0) (2,2); Gr (0,1)...; Gb (1,0)...; B (1,1)... */
    static const float want[16] = { 0, 2, 8, 10, 17, 19, 25, 27,
                                    20, 22, 28, 30, 37, 39, 45, 47 };
    CU_ASSERT_EQUAL(memcmp(packed, want, sizeof want), 0);
}

static void test_raw_synth(void)
{
    write_photos(5);
    char pat[512];
    snprintf(pat, sizeof pat, "%s/photos/*.png", kd_tmp());
    kd_dataset ds, lin;
    CU_ASSERT_EQUAL_FATAL(kd_load_raw_synth(pat, 0, 8, 1, &lin, kd_err, sizeof kd_err),
                          KD_DATA_OK);
    CU_ASSERT_EQUAL(lin.kind, KD_DATA_RAW);
    CU_ASSERT_EQUAL(lin.c, 3);
    CU_ASSERT_EQUAL(lin.h, 8);
    kd_split *tr = kd_dataset_split(&lin, "train"), *te = kd_dataset_split(&lin, "test");
    CU_ASSERT_FATAL(tr && te);
    CU_ASSERT_EQUAL(tr->n, 4 * 6);   /* (20/8) * (26/8) patches per image */
    CU_ASSERT_EQUAL(te->n, 6);       /* image 4 of 0..4 */
    /* without unprocessing a patch is pixel/255 at an even offset of its image */
    int bad = 0;
    for (int64_t i = 0; i < tr->n; i++) {
        const float *p = (const float *)tr->x + i * 192;
        int k = (int)(i / 6), found = 0;
        for (int oy = 0; oy + 8 <= 20 && !found; oy += 2)
            for (int ox = 0; ox + 8 <= 26 && !found; ox += 2) {
                int m = 1;
                for (int c = 0; c < 3 && m; c++)
                    for (int y = 0; y < 8; y++)
                        for (int x = 0; x < 8; x++)
                            m &= p[c * 64 + y * 8 + x] ==
                                 (float)((uint8_t)(20 + 7 * (y + oy) + 5 * (x + ox) + 30 * c + k) / 255.0);
                found = m;
            }
        bad += !found;
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL_FATAL(kd_load_raw_synth(pat, 1, 8, 1, &ds, kd_err, sizeof kd_err),
                          KD_DATA_OK);
    /* unprocessing: same patch positions, linear values in [0, 1], darker */
    const kd_split *ut = kd_dataset_split(&ds, "train");
    double su = 0, sl = 0;
    for (int64_t q = 0; q < ut->n * 192; q++) {
        float v = ((const float *)ut->x)[q];
        bad += !(v >= 0 && v <= 1);
        su += v;
        sl += ((const float *)tr->x)[q];
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(su < 0.6 * sl);

    /* batches: noisy/clean packed [4,4,4], level = (shot, read) */
    kd_loader_cfg cfg = { .ds = &ds, .split = "train", .batch = 24, .seed = 3,
                          .shuffle = 1, .naug = 2 };
    cfg.aug[0] = (kd_aug){ KD_AUG_FLIP_H, 0, 0 };
    cfg.aug[1] = (kd_aug){ KD_AUG_FLIP_V, 0, 0 };
    cfg.noise.log_shot_min = cfg.noise.log_shot_max = log(0.01);
    kd_loader *ld = new_loader(&cfg);
    int64_t c, h, w;
    kd_loader_shape(ld, &c, &h, &w);
    CU_ASSERT(c == 4 && h == 4 && w == 4);
    kd_batch b;
    kd_batch_alloc(ld, &b, kd_err, sizeof kd_err);
    double z = 0;
    int nz = 0;
    for (int e = 0; e < 20; e++) {
        kd_loader_fill(ld, e, 0, &b, kd_err, sizeof kd_err);
        for (int j = 0; j < 24; j++) {
            CU_ASSERT(fabs(b.level[2 * j] - 0.01) < 1e-6);
            double read = b.level[2 * j + 1];
            /* log read = 2.18 log shot + 1.20 + N(0, 0.26) */
            CU_ASSERT(fabs(log(read) - (2.18 * log(0.01) + 1.20)) < 0.26 * 5);
            for (int q = 0; q < 64; q++) {
                double cl = b.y[j * 64 + q], d = b.x[j * 64 + q] - cl;
                z += d * d / (cl * 0.01 + read);
                nz++;
            }
        }
    }
    CU_ASSERT(fabs(z / nz - 1) < 0.05);   /* standardized residuals: variance 1 */
    /* the clean target is the RGGB packing of a (flipped) clean patch */
    kd_loader_fill(ld, 0, 0, &b, kd_err, sizeof kd_err);
    float packed[64];
    const float *src = (const float *)ut->x + b.index[0] * 192;
    float flipped[192];
    int match = 0;
    for (int k = 0; k < 4; k++) {
        for (int ch = 0; ch < 3; ch++)
            for (int y = 0; y < 8; y++)
                for (int x = 0; x < 8; x++)
                    flipped[ch * 64 + y * 8 + x] =
                        src[ch * 64 + ((k >> 1) ? 7 - y : y) * 8 + ((k & 1) ? 7 - x : x)];
        kd_mosaic_pack(flipped, 8, packed);
        match |= memcmp(packed, b.y, sizeof packed) == 0;
    }
    CU_ASSERT(match);
    kd_batch_free(&b);
    kd_loader_free(ld);
    cfg.noise.log_shot_min = -9.2;
    cfg.noise.log_shot_max = -4.4;
    cfg.batch = 7;
    compare_batcher(&cfg, 0, 2);
    cfg.split = "test";
    compare_batcher(&cfg, 0, 1);

    /* errors */
    kd_loader *bad_ld = NULL;
    cfg.naug = 1;
    cfg.aug[0] = (kd_aug){ KD_AUG_CROP, 4, 0 };
    CU_ASSERT_EQUAL(kd_loader_new(&cfg, &bad_ld, kd_err, sizeof kd_err), KD_DATA_EARG);
    char want[1024];
    snprintf(want, sizeof want, "%s: crop does not apply to raw_synth (its patches are "
             "random crops already; use patch:)", pat);
    KD_ASSERT_STR_EQ(kd_err, want);
    kd_dataset_free(&ds);
    kd_dataset_free(&lin);
    CU_ASSERT_EQUAL(kd_load_raw_synth(pat, 1, 7, 1, &ds, kd_err, sizeof kd_err), KD_DATA_EARG);
    snprintf(want, sizeof want, "%s: patch 7 must be even (whole RGGB quads), 2..8192", pat);
    KD_ASSERT_STR_EQ(kd_err, want);
    CU_ASSERT_EQUAL(kd_load_raw_synth(pat, 1, 22, 1, &ds, kd_err, sizeof kd_err),
                    KD_DATA_EFORMAT);
    snprintf(want, sizeof want, "%s: 20x26 is smaller than the patch (22)",
             kd_tmp_path("photos/p00.png"));
    KD_ASSERT_STR_EQ(kd_err, want);
    snprintf(pat, sizeof pat, "%s/photos/*.jpg", kd_tmp());
    CU_ASSERT_EQUAL(kd_load_raw_synth(pat, 1, 8, 1, &ds, kd_err, sizeof kd_err),
                    KD_DATA_ENOENT);
    snprintf(want, sizeof want, "%s: no file matches", pat);
    KD_ASSERT_STR_EQ(kd_err, want);
    CU_ASSERT_EQUAL(ds.nsplits, 0);
}

int main(void)
{
    static const kd_unit_test tests[] = {
        KD_TEST(test_holdout_and_limit),
        KD_TEST(test_shuffle),
        KD_TEST(test_crop_flip_normalize),
        KD_TEST(test_batcher_images),
        KD_TEST(test_batcher_sequences),
        KD_TEST(test_mosaic),
        KD_TEST(test_raw_synth),
        KD_TEST_END
    };
    int rc = kd_unit_main("batches", tests);
    kd_tmp_cleanup();
    return rc;
}
