/* test_formats.c — the file-format loaders on generated files: IDX (plain
 * and gzip), CIFAR-10/100 binary, PNG image folders; their errors on
 * truncated and corrupted files (exact messages); and, when Debian's
 * dataset-fashion-mnist is installed, the real Fashion-MNIST. */
#include <math.h>
#include <time.h>
#include "../unit.h"
#include "data_test.h"

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"

/* ---- IDX ----------------------------------------------------------------------- */

enum { IN = 5, IH = 3, IW = 4 };

static uint8_t idx_pixel(int i, int p, int salt) { return (uint8_t)((i * 37 + p * 11 + salt) % 256); }

/* Writes an IDX images file and labels file (count images, count_l labels). */
static void write_idx_pair(const char *dir, const char *split, int gz, int count, int count_l,
                           int salt)
{
    uint8_t img[16 + 64 * IH * IW], lab[8 + 64];
    uint8_t hi[16] = { 0, 0, 8, 3, 0, 0, 0, (uint8_t)count, 0, 0, 0, IH, 0, 0, 0, IW };
    memcpy(img, hi, 16);
    for (int i = 0; i < count; i++)
        for (int p = 0; p < IH * IW; p++)
            img[16 + i * IH * IW + p] = idx_pixel(i, p, salt);
    uint8_t hl[8] = { 0, 0, 8, 1, 0, 0, 0, (uint8_t)count_l };
    memcpy(lab, hl, 8);
    for (int i = 0; i < count_l; i++)
        lab[8 + i] = (uint8_t)((i + salt) % 3);
    char pi[512], pl[512];
    snprintf(pi, sizeof pi, "%s/%s-images-idx3-ubyte%s", dir, split, gz ? ".gz" : "");
    snprintf(pl, sizeof pl, "%s/%s-labels-idx1-ubyte%s", dir, split, gz ? ".gz" : "");
    size_t ni = 16 + (size_t)count * IH * IW, nl = 8 + (size_t)count_l;
    if (gz) {
        CU_ASSERT_EQUAL_FATAL(kd_write_gz(pi, img, ni), 0);
        CU_ASSERT_EQUAL_FATAL(kd_write_gz(pl, lab, nl), 0);
    } else {
        CU_ASSERT_EQUAL_FATAL(kd_write_file(pi, img, ni), 0);
        CU_ASSERT_EQUAL_FATAL(kd_write_file(pl, lab, nl), 0);
    }
}

static void check_idx_loaded(const char *dir)
{
    kd_dataset ds;
    kd_err[0] = 0;
    CU_ASSERT_EQUAL_FATAL(kd_load_idx(dir, &ds, kd_err, sizeof kd_err), KD_DATA_OK);
    KD_ASSERT_STR_EQ(kd_err, "");
    CU_ASSERT_EQUAL(ds.kind, KD_DATA_IMAGES);
    CU_ASSERT_EQUAL(ds.dtype, KD_U8);
    CU_ASSERT_EQUAL(ds.c, 1);
    CU_ASSERT_EQUAL(ds.h, IH);
    CU_ASSERT_EQUAL(ds.w, IW);
    CU_ASSERT_EQUAL(ds.classes, 3);
    CU_ASSERT_EQUAL(ds.nsplits, 2);
    kd_split *tr = kd_dataset_split(&ds, "train"), *te = kd_dataset_split(&ds, "t10k");
    CU_ASSERT_PTR_NOT_NULL_FATAL(tr);
    CU_ASSERT_PTR_NOT_NULL_FATAL(te);
    CU_ASSERT_EQUAL(tr->n, IN);
    CU_ASSERT_EQUAL(te->n, 2);
    int bad = 0;
    for (int i = 0; i < IN; i++) {
        bad += tr->label[i] != (i + 0) % 3;
        for (int p = 0; p < IH * IW; p++)
            bad += ((uint8_t *)tr->x)[i * IH * IW + p] != idx_pixel(i, p, 0);
    }
    for (int i = 0; i < 2; i++) {
        bad += te->label[i] != (i + 1) % 3;
        for (int p = 0; p < IH * IW; p++)
            bad += ((uint8_t *)te->x)[i * IH * IW + p] != idx_pixel(i, p, 1);
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_PTR_NULL(kd_dataset_split(&ds, "test"));
    kd_dataset_free(&ds);
    CU_ASSERT_EQUAL(ds.nsplits, 0);
}

static void test_idx_plain_and_gzip(void)
{
    kd_tmp_mkdir("idx_plain");
    kd_tmp_mkdir("idx_gz");
    write_idx_pair(kd_tmp_path("idx_plain"), "train", 0, IN, IN, 0);
    write_idx_pair(kd_tmp_path("idx_plain"), "t10k", 0, 2, 2, 1);
    write_idx_pair(kd_tmp_path("idx_gz"), "train", 1, IN, IN, 0);
    write_idx_pair(kd_tmp_path("idx_gz"), "t10k", 1, 2, 2, 1);
    check_idx_loaded(kd_tmp_path("idx_plain"));
    check_idx_loaded(kd_tmp_path("idx_gz"));
    /* one file on its own */
    uint8_t *data;
    int nd;
    int64_t dims[4];
    CU_ASSERT_EQUAL(kd_idx_read(kd_tmp_path("idx_gz/t10k-labels-idx1-ubyte.gz"), &data, &nd,
                                dims, kd_err, sizeof kd_err), KD_DATA_OK);
    CU_ASSERT_EQUAL(nd, 1);
    CU_ASSERT_EQUAL(dims[0], 2);
    free(data);
}

/* Loads DIR expecting failure with status st and message want. */
static void expect_idx_error(const char *dir, kd_data_status st, const char *want)
{
    kd_dataset ds;
    kd_err[0] = 0;
    CU_ASSERT_EQUAL(kd_load_idx(dir, &ds, kd_err, sizeof kd_err), st);
    KD_ASSERT_STR_EQ(kd_err, want);
    CU_ASSERT_EQUAL(ds.nsplits, 0);
    CU_ASSERT_PTR_NULL(ds.splits);
}

static void test_idx_errors(void)
{
    char want[2048], d[512];
    /* missing directory: the Debian package to install */
    expect_idx_error("/nonexistent/datasets/fashion-mnist", KD_DATA_ENOENT,
                     "/nonexistent/datasets/fashion-mnist: no such directory: install the "
                     "Debian package dataset-fashion-mnist (apt-get install "
                     "dataset-fashion-mnist)");
    expect_idx_error("/nonexistent/mnist", KD_DATA_ENOENT,
                     "/nonexistent/mnist: no such directory");
    /* an empty directory */
    kd_tmp_mkdir("idx_empty");
    snprintf(d, sizeof d, "%s", kd_tmp_path("idx_empty"));
    snprintf(want, sizeof want, "%s: no IDX files (train-images-idx3-ubyte[.gz], "
             "train-labels-idx1-ubyte[.gz], t10k-...)", d);
    expect_idx_error(d, KD_DATA_ENOENT, want);

    /* wrong magic */
    kd_tmp_mkdir("idx_magic");
    snprintf(d, sizeof d, "%s", kd_tmp_path("idx_magic"));
    write_idx_pair(d, "train", 0, IN, IN, 0);
    const char *pi = kd_tmp_path("idx_magic/train-images-idx3-ubyte");
    const char *pl = kd_tmp_path("idx_magic/train-labels-idx1-ubyte");
    FILE *f = fopen(pi, "r+b");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputc(0x01, f);
    fclose(f);
    snprintf(want, sizeof want, "%s: not an IDX file (magic 01 00 08 03; expected 00 00 08 "
             "and 1 to 4 dimensions)", pi);
    expect_idx_error(d, KD_DATA_EFORMAT, want);

    /* unsupported data type (0x0D = float) */
    write_idx_pair(d, "train", 0, IN, IN, 0);
    f = fopen(pi, "r+b");
    fseek(f, 2, SEEK_SET);
    fputc(0x0D, f);
    fclose(f);
    snprintf(want, sizeof want, "%s: IDX data type 0x0d is not supported (only unsigned "
             "byte, 0x08)", pi);
    expect_idx_error(d, KD_DATA_EFORMAT, want);

    /* wrong number of dimensions: images with 2 (count 5, 12) */
    {
        uint8_t buf[12 + 60] = { 0, 0, 8, 2, 0, 0, 0, 5, 0, 0, 0, 12 };
        CU_ASSERT_EQUAL(kd_write_file(pi, buf, sizeof buf), 0);
    }
    snprintf(want, sizeof want, "%s: 2 dimensions; images need 3 (count, rows, columns)", pi);
    expect_idx_error(d, KD_DATA_EFORMAT, want);

    /* a zero dimension */
    {
        uint8_t buf[16] = { 0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 4 };
        CU_ASSERT_EQUAL(kd_write_file(pi, buf, sizeof buf), 0);
    }
    snprintf(want, sizeof want, "%s: dimension 2 is 0", pi);
    expect_idx_error(d, KD_DATA_EFORMAT, want);

    /* image and label counts differ */
    write_idx_pair(d, "train", 0, IN, IN - 1, 0);
    snprintf(want, sizeof want, "%s: 4 labels for 5 images in %s", pl, pi);
    expect_idx_error(d, KD_DATA_EFORMAT, want);

    /* truncated data and truncated header */
    write_idx_pair(d, "train", 0, IN, IN, 0);
    CU_ASSERT_EQUAL(kd_cut_file(pi, 16 + 50), 0);
    snprintf(want, sizeof want, "%s: truncated: 60 bytes of data expected, 50 found", pi);
    expect_idx_error(d, KD_DATA_EFORMAT, want);
    CU_ASSERT_EQUAL(kd_cut_file(pi, 10), 0);
    snprintf(want, sizeof want, "%s: truncated: the IDX header needs 16 bytes, the file "
             "has 10", pi);
    expect_idx_error(d, KD_DATA_EFORMAT, want);
    CU_ASSERT_EQUAL(kd_cut_file(pi, 0), 0);
    snprintf(want, sizeof want, "%s: truncated: the IDX header needs 4 bytes, the file "
             "has 0", pi);
    expect_idx_error(d, KD_DATA_EFORMAT, want);

    /* trailing bytes */
    write_idx_pair(d, "train", 0, IN, IN, 0);
    {
        FILE *g = fopen(pl, "ab");
        fputs("xyz", g);
        fclose(g);
    }
    snprintf(want, sizeof want, "%s: unexpected bytes after the 5 bytes of data", pl);
    expect_idx_error(d, KD_DATA_EFORMAT, want);

    /* a labels file missing */
    write_idx_pair(d, "train", 0, IN, IN, 0);
    unlink(pl);
    snprintf(want, sizeof want, "%s/train-labels-idx1-ubyte.gz: missing (%s is there)", d, pi);
    expect_idx_error(d, KD_DATA_ENOENT, want);

    /* a truncated gzip stream */
    kd_tmp_mkdir("idx_gzcut");
    snprintf(d, sizeof d, "%s", kd_tmp_path("idx_gzcut"));
    write_idx_pair(d, "train", 1, 60, 60, 0);
    const char *gi = kd_tmp_path("idx_gzcut/train-images-idx3-ubyte.gz");
    long sz = kd_file_size(gi);
    CU_ASSERT_FATAL(sz > 40);
    CU_ASSERT_EQUAL(kd_cut_file(gi, sz - 12), 0);   /* cuts the trailer and some data */
    kd_dataset ds;
    CU_ASSERT_EQUAL(kd_load_idx(d, &ds, kd_err, sizeof kd_err), KD_DATA_EFORMAT);
    snprintf(want, sizeof want, "%s: truncated: 720 bytes of data expected, ", gi);
    CU_ASSERT_EQUAL(strncmp(kd_err, want, strlen(want)), 0);
    /* corrupt gzip data: flip bytes in the middle of the deflate stream */
    write_idx_pair(d, "train", 1, 60, 60, 0);
    f = fopen(gi, "r+b");
    fseek(f, 20, SEEK_SET);
    for (int i = 0; i < 8; i++)
        fputc(0xff, f);
    fclose(f);
    CU_ASSERT_EQUAL(kd_load_idx(d, &ds, kd_err, sizeof kd_err), KD_DATA_EFORMAT);
    snprintf(want, sizeof want, "%s: corrupt gzip data: ", gi);
    CU_ASSERT_EQUAL(strncmp(kd_err, want, strlen(want)), 0);
    CU_ASSERT_PTR_NULL(strstr(kd_err + strlen(want), gi));   /* the path once */
    if (strncmp(kd_err, want, strlen(want)) != 0)
        fprintf(stderr, "\n  got: %s\n", kd_err);
}

/* ---- CIFAR --------------------------------------------------------------------------- */

static uint8_t cifar_pixel(int file, int rec, int p) { return (uint8_t)((file * 7 + rec * 13 + p) % 251); }

static void write_cifar(const char *path, int file, int nrec, int label_bytes, int bad_rec)
{
    int rl = label_bytes + 3072;
    uint8_t *b = malloc((size_t)nrec * rl);
    for (int r = 0; r < nrec; r++) {
        uint8_t *q = b + (size_t)r * rl;
        if (label_bytes == 1) {
            q[0] = (uint8_t)((file + r) % 10);
        } else {
            q[0] = (uint8_t)((file + r) % 20);
            q[1] = (uint8_t)((file * 31 + r * 17) % 100);
        }
        if (r == bad_rec)
            q[label_bytes - 1] = label_bytes == 1 ? 10 : 100;
        for (int p = 0; p < 3072; p++)
            q[label_bytes + p] = cifar_pixel(file, r, p);
    }
    CU_ASSERT_EQUAL(kd_write_file(path, b, (size_t)nrec * rl), 0);
    free(b);
}

static void test_cifar10(void)
{
    kd_tmp_mkdir("c10");
    char p[512], want[1024];
    for (int f = 1; f <= 5; f++) {
        snprintf(p, sizeof p, "%s/data_batch_%d.bin", kd_tmp_path("c10"), f);
        write_cifar(p, f, 2, 1, -1);
    }
    snprintf(p, sizeof p, "%s/test_batch.bin", kd_tmp_path("c10"));
    write_cifar(p, 0, 3, 1, -1);
    kd_dataset ds;
    CU_ASSERT_EQUAL_FATAL(kd_load_cifar10(kd_tmp_path("c10"), &ds, kd_err, sizeof kd_err),
                          KD_DATA_OK);
    CU_ASSERT_EQUAL(ds.c, 3);
    CU_ASSERT_EQUAL(ds.h, 32);
    CU_ASSERT_EQUAL(ds.w, 32);
    CU_ASSERT_EQUAL(ds.classes, 10);
    kd_split *tr = kd_dataset_split(&ds, "train"), *te = kd_dataset_split(&ds, "test");
    CU_ASSERT_PTR_NOT_NULL_FATAL(tr);
    CU_ASSERT_PTR_NOT_NULL_FATAL(te);
    CU_ASSERT_EQUAL(tr->n, 10);
    CU_ASSERT_EQUAL(te->n, 3);
    int bad = 0;
    for (int i = 0; i < 10; i++) {
        int f = 1 + i / 2, r = i % 2;
        bad += tr->label[i] != (f + r) % 10;
        for (int q = 0; q < 3072; q++)
            bad += ((uint8_t *)tr->x)[(size_t)i * 3072 + q] != cifar_pixel(f, r, q);
    }
    for (int r = 0; r < 3; r++)
        bad += te->label[r] != r % 10 ||
               ((uint8_t *)te->x)[(size_t)r * 3072 + 1024] != cifar_pixel(0, r, 1024);
    CU_ASSERT_EQUAL(bad, 0);
    kd_dataset_free(&ds);

    /* truncated record */
    snprintf(p, sizeof p, "%s/data_batch_3.bin", kd_tmp_path("c10"));
    CU_ASSERT_EQUAL(kd_cut_file(p, 2 * 3073 - 100), 0);
    CU_ASSERT_EQUAL(kd_load_cifar10(kd_tmp_path("c10"), &ds, kd_err, sizeof kd_err),
                    KD_DATA_EFORMAT);
    snprintf(want, sizeof want, "%s: size 6046 is not a multiple of the record size 3073 "
             "(1 label byte + 3072 pixels): truncated or not a CIFAR-10 file", p);
    KD_ASSERT_STR_EQ(kd_err, want);
    CU_ASSERT_EQUAL(ds.nsplits, 0);
    /* label out of range */
    write_cifar(p, 3, 2, 1, 1);
    CU_ASSERT_EQUAL(kd_load_cifar10(kd_tmp_path("c10"), &ds, kd_err, sizeof kd_err),
                    KD_DATA_EFORMAT);
    snprintf(want, sizeof want, "%s: record 1: label 10 out of range (0..9)", p);
    KD_ASSERT_STR_EQ(kd_err, want);
    /* missing batch */
    unlink(p);
    CU_ASSERT_EQUAL(kd_load_cifar10(kd_tmp_path("c10"), &ds, kd_err, sizeof kd_err),
                    KD_DATA_ENOENT);
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", p);
    KD_ASSERT_STR_EQ(kd_err, want);
    /* empty file */
    CU_ASSERT_EQUAL(kd_write_file(p, "", 0), 0);
    CU_ASSERT_EQUAL(kd_load_cifar10(kd_tmp_path("c10"), &ds, kd_err, sizeof kd_err),
                    KD_DATA_EFORMAT);
    snprintf(want, sizeof want, "%s: size 0 is not a multiple of the record size 3073 "
             "(1 label byte + 3072 pixels): truncated or not a CIFAR-10 file", p);
    KD_ASSERT_STR_EQ(kd_err, want);
    CU_ASSERT_EQUAL(kd_load_cifar10("/nonexistent/cifar-10", &ds, kd_err, sizeof kd_err),
                    KD_DATA_ENOENT);
    KD_ASSERT_STR_EQ(kd_err, "/nonexistent/cifar-10: no such directory (the binary "
                     "version of CIFAR-10)");
}

static void test_cifar100(void)
{
    kd_tmp_mkdir("c100");
    char p[512], q[512], want[1024];
    snprintf(p, sizeof p, "%s/train.bin", kd_tmp_path("c100"));
    snprintf(q, sizeof q, "%s/test.bin", kd_tmp_path("c100"));
    write_cifar(p, 1, 4, 2, -1);
    write_cifar(q, 2, 2, 2, -1);
    kd_dataset ds;
    CU_ASSERT_EQUAL_FATAL(kd_load_cifar100(kd_tmp_path("c100"), &ds, kd_err, sizeof kd_err),
                          KD_DATA_OK);
    CU_ASSERT_EQUAL(ds.classes, 100);
    kd_split *tr = kd_dataset_split(&ds, "train"), *te = kd_dataset_split(&ds, "test");
    CU_ASSERT_PTR_NOT_NULL_FATAL(tr);
    CU_ASSERT_PTR_NOT_NULL_FATAL(te);
    CU_ASSERT_EQUAL(tr->n, 4);
    CU_ASSERT_EQUAL(te->n, 2);
    int bad = 0;
    for (int r = 0; r < 4; r++) {
        bad += tr->label[r] != (31 + r * 17) % 100;   /* the fine label */
        for (int k = 0; k < 3072; k += 97)
            bad += ((uint8_t *)tr->x)[(size_t)r * 3072 + k] != cifar_pixel(1, r, k);
    }
    bad += te->label[1] != (62 + 17) % 100;
    CU_ASSERT_EQUAL(bad, 0);
    kd_dataset_free(&ds);
    /* a CIFAR-10 sized record count is not CIFAR-100 */
    CU_ASSERT_EQUAL(kd_cut_file(p, 3 * 3074 + 3073), 0);
    CU_ASSERT_EQUAL(kd_load_cifar100(kd_tmp_path("c100"), &ds, kd_err, sizeof kd_err),
                    KD_DATA_EFORMAT);
    snprintf(want, sizeof want, "%s: size 12295 is not a multiple of the record size 3074 "
             "(2 label bytes + 3072 pixels): truncated or not a CIFAR-100 file", p);
    KD_ASSERT_STR_EQ(kd_err, want);
    write_cifar(p, 1, 4, 2, 2);
    CU_ASSERT_EQUAL(kd_load_cifar100(kd_tmp_path("c100"), &ds, kd_err, sizeof kd_err),
                    KD_DATA_EFORMAT);
    snprintf(want, sizeof want, "%s: record 2: label 100 out of range (0..99)", p);
    KD_ASSERT_STR_EQ(kd_err, want);
    /* a bad coarse label */
    write_cifar(p, 1, 4, 2, -1);
    FILE *f = fopen(p, "r+b");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fseek(f, 3074 * 3, SEEK_SET);
    fputc(20, f);
    fclose(f);
    CU_ASSERT_EQUAL(kd_load_cifar100(kd_tmp_path("c100"), &ds, kd_err, sizeof kd_err),
                    KD_DATA_EFORMAT);
    snprintf(want, sizeof want, "%s: record 3: coarse label 20 out of range (0..19)", p);
    KD_ASSERT_STR_EQ(kd_err, want);
}

/* ---- PNG folders ---------------------------------------------------------------------- */

static void write_png(const char *rel, int h, int w, int c, int seed)
{
    uint8_t *pix = malloc((size_t)h * w * c);
    for (int i = 0; i < h * w * c; i++)
        pix[i] = (uint8_t)((i * 29 + seed * 53) % 256);
    CU_ASSERT_EQUAL(kd_png_write(kd_tmp_path(rel), pix, h, w, c, kd_err, sizeof kd_err),
                    KD_DATA_OK);
    free(pix);
}

static void test_image_folder(void)
{
    kd_tmp_mkdir("imf/train/dog");
    kd_tmp_mkdir("imf/train/cat");
    kd_tmp_mkdir("imf/test/cat");
    kd_tmp_mkdir("imf/test/bird");
    write_png("imf/train/dog/b.png", 4, 4, 3, 1);
    write_png("imf/train/dog/a.png", 4, 4, 3, 2);
    write_png("imf/train/cat/z.png", 4, 4, 3, 3);
    write_png("imf/test/cat/x.png", 4, 4, 3, 4);
    write_png("imf/test/bird/y.png", 4, 4, 3, 5);
    kd_write_text(kd_tmp_path("imf/train/dog/notes.txt"), "ignored");
    kd_dataset ds;
    CU_ASSERT_EQUAL_FATAL(kd_load_image_folder(kd_tmp_path("imf"), 4, NULL, &ds, kd_err,
                                               sizeof kd_err), KD_DATA_OK);
    CU_ASSERT_EQUAL(ds.c, 3);
    CU_ASSERT_EQUAL(ds.h, 4);
    CU_ASSERT_EQUAL(ds.classes, 3);
    KD_ASSERT_STR_EQ(ds.class_names[0], "bird");
    KD_ASSERT_STR_EQ(ds.class_names[1], "cat");
    KD_ASSERT_STR_EQ(ds.class_names[2], "dog");
    CU_ASSERT_EQUAL(ds.nsplits, 2);
    kd_split *tr = kd_dataset_split(&ds, "train"), *te = kd_dataset_split(&ds, "test");
    CU_ASSERT_PTR_NOT_NULL_FATAL(tr);
    CU_ASSERT_PTR_NOT_NULL_FATAL(te);
    CU_ASSERT_EQUAL_FATAL(tr->n, 3);
    CU_ASSERT_EQUAL(te->n, 2);
    /* class order, then file order: cat/z, dog/a, dog/b */
    CU_ASSERT_EQUAL(tr->label[0], 1);
    CU_ASSERT_EQUAL(tr->label[1], 2);
    CU_ASSERT_EQUAL(tr->label[2], 2);
    CU_ASSERT_EQUAL(te->label[0], 0);
    CU_ASSERT_EQUAL(te->label[1], 1);
    /* planar [3,4,4] from interleaved pixels, unchanged at the same size */
    static const int seeds[3] = { 3, 2, 1 };
    int bad = 0;
    for (int s = 0; s < 3; s++)
        for (int ch = 0; ch < 3; ch++)
            for (int q = 0; q < 16; q++)
                bad += ((uint8_t *)tr->x)[s * 48 + ch * 16 + q] !=
                       (uint8_t)(((q * 3 + ch) * 29 + seeds[s] * 53) % 256);
    CU_ASSERT_EQUAL(bad, 0);
    kd_dataset_free(&ds);
    /* only some splits */
    const char *only[] = { "test", NULL };
    CU_ASSERT_EQUAL_FATAL(kd_load_image_folder(kd_tmp_path("imf"), 4, only, &ds, kd_err,
                                               sizeof kd_err), KD_DATA_OK);
    CU_ASSERT_EQUAL(ds.nsplits, 1);
    CU_ASSERT_EQUAL(ds.classes, 2);
    kd_dataset_free(&ds);
}

static void test_image_folder_resize_and_grey(void)
{
    /* constant images survive resizing exactly; 6x9 -> shorter side 3 */
    kd_tmp_mkdir("imr/train/a");
    uint8_t pix[6 * 9 * 3];
    for (int i = 0; i < 6 * 9; i++) {
        pix[3 * i] = 10;
        pix[3 * i + 1] = 200;
        pix[3 * i + 2] = 77;
    }
    CU_ASSERT_EQUAL(kd_png_write(kd_tmp_path("imr/train/a/0.png"), pix, 6, 9, 3, kd_err,
                                 sizeof kd_err), KD_DATA_OK);
    /* a grey ramp 2x2 upscaled to 4: centre symmetric, inside the range */
    uint8_t ramp[4] = { 0, 100, 100, 200 };
    kd_tmp_mkdir("img/train/a");
    kd_tmp_mkdir("img/train/b");
    CU_ASSERT_EQUAL(kd_png_write(kd_tmp_path("img/train/a/0.png"), ramp, 2, 2, 1, kd_err,
                                 sizeof kd_err), KD_DATA_OK);
    CU_ASSERT_EQUAL(kd_png_write(kd_tmp_path("img/train/b/0.png"), ramp, 2, 2, 1, kd_err,
                                 sizeof kd_err), KD_DATA_OK);
    kd_dataset ds;
    CU_ASSERT_EQUAL_FATAL(kd_load_image_folder(kd_tmp_path("imr"), 3, NULL, &ds, kd_err,
                                               sizeof kd_err), KD_DATA_OK);
    CU_ASSERT_EQUAL(ds.c, 3);
    CU_ASSERT_EQUAL(ds.h, 3);
    CU_ASSERT_EQUAL(ds.w, 3);
    const uint8_t *x = ds.splits[0].x;
    int bad = 0;
    for (int q = 0; q < 9; q++)
        bad += x[q] != 10 || x[9 + q] != 200 || x[18 + q] != 77;
    CU_ASSERT_EQUAL(bad, 0);
    kd_dataset_free(&ds);
    CU_ASSERT_EQUAL_FATAL(kd_load_image_folder(kd_tmp_path("img"), 4, NULL, &ds, kd_err,
                                               sizeof kd_err), KD_DATA_OK);
    CU_ASSERT_EQUAL(ds.c, 1);   /* every image grey */
    CU_ASSERT_EQUAL(ds.splits[0].n, 2);
    x = ds.splits[0].x;
    CU_ASSERT_EQUAL(x[0], 0);          /* corners keep the extremes */
    CU_ASSERT_EQUAL(x[15], 200);
    CU_ASSERT(x[5] > 0 && x[5] < 100); /* interpolated inside */
    CU_ASSERT_EQUAL(x[1], x[4]);       /* the ramp is symmetric */
    CU_ASSERT_EQUAL(x[6], x[9]);
    for (int q = 0; q < 16; q++)        /* and antisymmetric about its centre */
        CU_ASSERT(abs(x[q] + x[15 - q] - 200) <= 1);
    CU_ASSERT_EQUAL(memcmp(x, x + 16, 16), 0);
    kd_dataset_free(&ds);
}

static void test_image_folder_errors(void)
{
    char want[1024];
    kd_dataset ds;
    /* garbage PNG */
    kd_tmp_mkdir("ime/train/a");
    write_png("ime/train/a/0.png", 4, 4, 3, 0);
    kd_write_text(kd_tmp_path("ime/train/a/1.png"), "this is not a PNG file at all");
    CU_ASSERT_EQUAL(kd_load_image_folder(kd_tmp_path("ime"), 4, NULL, &ds, kd_err,
                                         sizeof kd_err), KD_DATA_EFORMAT);
    snprintf(want, sizeof want, "%s: not a PNG file (bad signature)",
             kd_tmp_path("ime/train/a/1.png"));
    KD_ASSERT_STR_EQ(kd_err, want);
    CU_ASSERT_EQUAL(ds.nsplits, 0);
    /* truncated PNG: the right signature, cut in the image data */
    write_png("ime/train/a/1.png", 16, 16, 3, 7);
    long sz = kd_file_size(kd_tmp_path("ime/train/a/1.png"));
    CU_ASSERT_EQUAL(kd_cut_file(kd_tmp_path("ime/train/a/1.png"), sz - 30), 0);
    CU_ASSERT_EQUAL(kd_load_image_folder(kd_tmp_path("ime"), 4, NULL, &ds, kd_err,
                                         sizeof kd_err), KD_DATA_EFORMAT);
    snprintf(want, sizeof want, "%s: truncated or corrupt PNG (libpng: ",
             kd_tmp_path("ime/train/a/1.png"));
    CU_ASSERT_EQUAL(strncmp(kd_err, want, strlen(want)), 0);
    if (strncmp(kd_err, want, strlen(want)) != 0)
        fprintf(stderr, "\n  got: %s\n", kd_err);
    /* an empty folder */
    kd_tmp_mkdir("ime_empty");
    CU_ASSERT_EQUAL(kd_load_image_folder(kd_tmp_path("ime_empty"), 4, NULL, &ds, kd_err,
                                         sizeof kd_err), KD_DATA_EFORMAT);
    snprintf(want, sizeof want, "%s: no class folders (expected %s/SPLIT/CLASS/NAME.png)",
             kd_tmp_path("ime_empty"), kd_tmp_path("ime_empty"));
    KD_ASSERT_STR_EQ(kd_err, want);
    /* class folders without images */
    kd_tmp_mkdir("ime_noimg/train/a");
    kd_tmp_mkdir("ime_noimg/train/b");
    CU_ASSERT_EQUAL(kd_load_image_folder(kd_tmp_path("ime_noimg"), 4, NULL, &ds, kd_err,
                                         sizeof kd_err), KD_DATA_EFORMAT);
    snprintf(want, sizeof want, "%s: no PNG images in the class folders",
             kd_tmp_path("ime_noimg/train"));
    KD_ASSERT_STR_EQ(kd_err, want);
    /* missing directory; CINIC-10 needs 10 classes */
    CU_ASSERT_EQUAL(kd_load_image_folder("/nonexistent/imgs", 4, NULL, &ds, kd_err,
                                         sizeof kd_err), KD_DATA_ENOENT);
    KD_ASSERT_STR_EQ(kd_err, "/nonexistent/imgs: no such directory");
    kd_rm_tree(kd_tmp_path("ime/train/a/1.png"));
    CU_ASSERT_EQUAL(kd_load_cinic10(kd_tmp_path("ime"), NULL, &ds, kd_err, sizeof kd_err),
                    KD_DATA_EFORMAT);
    snprintf(want, sizeof want, "%s: 1 class folders; CINIC-10 has 10", kd_tmp_path("ime"));
    KD_ASSERT_STR_EQ(kd_err, want);
}

/* ---- the real Fashion-MNIST ------------------------------------------------------------ */

static void test_fashion_mnist(void)
{
    struct stat st;
    if (stat(FMNIST_DIR, &st) != 0) {
        fprintf(stderr, "\n  (skipped: %s absent; apt-get install dataset-fashion-mnist) ",
                FMNIST_DIR);
        return;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    kd_dataset ds;
    CU_ASSERT_EQUAL_FATAL(kd_load_idx(FMNIST_DIR, &ds, kd_err, sizeof kd_err), KD_DATA_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    fprintf(stderr, "\n  Fashion-MNIST loaded in %.3f s ", sec);
    CU_ASSERT_EQUAL(ds.classes, 10);
    CU_ASSERT_EQUAL(ds.c, 1);
    CU_ASSERT_EQUAL(ds.h, 28);
    CU_ASSERT_EQUAL(ds.w, 28);
    kd_split *tr = kd_dataset_split(&ds, "train"), *te = kd_dataset_split(&ds, "t10k");
    CU_ASSERT_PTR_NOT_NULL_FATAL(tr);
    CU_ASSERT_PTR_NOT_NULL_FATAL(te);
    CU_ASSERT_EQUAL(tr->n, 60000);
    CU_ASSERT_EQUAL(te->n, 10000);
    double sum = 0;
    const uint8_t *x = tr->x;
    for (int64_t i = 0; i < tr->n * 784; i++)
        sum += x[i];
    double mean = sum / (double)(tr->n * 784) / 255.0;
    fprintf(stderr, "mean pixel %.4f ", mean);
    CU_ASSERT(fabs(mean - 0.2860) < 0.0005);
    int64_t count[10] = { 0 };
    for (int64_t i = 0; i < tr->n; i++)
        count[tr->label[i]]++;
    for (int k = 0; k < 10; k++)
        CU_ASSERT_EQUAL(count[k], 6000);
    /* the recipe's `train "train" holdout 5000 as val` */
    CU_ASSERT_EQUAL(kd_dataset_holdout(&ds, "train", 5000, "val", 0, kd_err, sizeof kd_err),
                    KD_DATA_OK);
    CU_ASSERT_EQUAL(kd_dataset_split(&ds, "train")->n, 55000);
    CU_ASSERT_EQUAL(kd_dataset_split(&ds, "val")->n, 5000);
    kd_dataset_free(&ds);
}

int main(void)
{
    static const kd_unit_test tests[] = {
        KD_TEST(test_idx_plain_and_gzip),
        KD_TEST(test_idx_errors),
        KD_TEST(test_cifar10),
        KD_TEST(test_cifar100),
        KD_TEST(test_image_folder),
        KD_TEST(test_image_folder_resize_and_grey),
        KD_TEST(test_image_folder_errors),
        KD_TEST(test_fashion_mnist),
        KD_TEST_END
    };
    int rc = kd_unit_main("data formats", tests);
    kd_tmp_cleanup();
    return rc;
}
