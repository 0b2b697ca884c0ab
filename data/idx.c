/* idx.c — MNIST-style IDX files (plain or gzip) and the idx(dir) loader.
 *
 * Shape letters: N images, H rows, W columns (C = 1). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>
#include "data_int.h"
#include "loaders.h"

#define FMNIST_PACKAGE "dataset-fashion-mnist"

/* Reads exactly n bytes; returns the count read (< n at end of file), or
 * -1 on a gzip error (message in *why). */
static int64_t gz_read_all(gzFile g, void *buf, int64_t n, const char **why)
{
    int64_t got = 0;
    while (got < n) {
        int64_t want = n - got;
        if (want > (1 << 30))
            want = 1 << 30;
        int r = gzread(g, (char *)buf + got, (unsigned)want);
        if (r < 0) {
            int e;
            *why = gzerror(g, &e);   /* "PATH: message": keep the message */
            const char *colon = strstr(*why, ": ");
            if (colon)
                *why = colon + 2;
            return -1;
        }
        if (r == 0)
            break;
        got += r;
    }
    return got;
}

kd_data_status kd_idx_read(const char *path, uint8_t **data, int *ndim,
                           int64_t dims[4], char *err, size_t errlen)
{
    *data = NULL;
    *ndim = 0;
    gzFile g = gzopen(path, "rb");
    if (!g)
        return kd_data_fail(err, errlen, KD_DATA_ENOENT, "%s: cannot open: %s", path,
                            errno ? strerror(errno) : "out of memory");
    gzbuffer(g, 1 << 17);
    const char *why = NULL;
    kd_data_status st = KD_DATA_EFORMAT;
    uint8_t hdr[4 + 16];
    int64_t got = gz_read_all(g, hdr, 4, &why);
    if (got < 0) {
        kd_data_fail(err, errlen, st, "%s: corrupt gzip data: %s", path, why);
        goto out;
    }
    if (got < 4) {
        kd_data_fail(err, errlen, st, "%s: truncated: the IDX header needs 4 bytes, "
                     "the file has %lld", path, (long long)got);
        goto out;
    }
    if (hdr[0] != 0 || hdr[1] != 0 || hdr[3] < 1 || hdr[3] > 4) {
        kd_data_fail(err, errlen, st, "%s: not an IDX file (magic %02x %02x %02x %02x; "
                     "expected 00 00 08 and 1 to 4 dimensions)", path,
                     hdr[0], hdr[1], hdr[2], hdr[3]);
        goto out;
    }
    if (hdr[2] != 0x08) {
        kd_data_fail(err, errlen, st, "%s: IDX data type 0x%02x is not supported "
                     "(only unsigned byte, 0x08)", path, hdr[2]);
        goto out;
    }
    int nd = hdr[3];
    got = gz_read_all(g, hdr + 4, 4 * nd, &why);
    if (got < 0) {
        kd_data_fail(err, errlen, st, "%s: corrupt gzip data: %s", path, why);
        goto out;
    }
    if (got < 4 * nd) {
        kd_data_fail(err, errlen, st, "%s: truncated: the IDX header needs %d bytes, "
                     "the file has %lld", path, 4 + 4 * nd, (long long)(4 + got));
        goto out;
    }
    int64_t total = 1;
    for (int i = 0; i < nd; i++) {
        const uint8_t *p = hdr + 4 + 4 * i;
        dims[i] = ((int64_t)p[0] << 24) | ((int64_t)p[1] << 16) | ((int64_t)p[2] << 8) | p[3];
        if (dims[i] == 0) {
            kd_data_fail(err, errlen, st, "%s: dimension %d is 0", path, i + 1);
            goto out;
        }
        if (total > ((int64_t)1 << 40) / dims[i]) {
            kd_data_fail(err, errlen, st, "%s: dimensions too large", path);
            goto out;
        }
        total *= dims[i];
    }
    uint8_t *buf = malloc((size_t)total);
    if (!buf) {
        st = kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory (%lld bytes)",
                          path, (long long)total);
        goto out;
    }
    got = gz_read_all(g, buf, total, &why);
    if (got < 0) {
        free(buf);
        kd_data_fail(err, errlen, st, "%s: corrupt gzip data: %s", path, why);
        goto out;
    }
    if (got < total) {
        free(buf);
        kd_data_fail(err, errlen, st, "%s: truncated: %lld bytes of data expected, "
                     "%lld found", path, (long long)total, (long long)got);
        goto out;
    }
    uint8_t extra[256];
    got = gz_read_all(g, extra, sizeof extra, &why);
    if (got != 0) {
        free(buf);
        if (got < 0)
            kd_data_fail(err, errlen, st, "%s: corrupt gzip data: %s", path, why);
        else
            kd_data_fail(err, errlen, st, "%s: unexpected bytes after the %lld bytes "
                         "of data", path, (long long)total);
        goto out;
    }
    *data = buf;
    *ndim = nd;
    st = KD_DATA_OK;
out:
    gzclose(g);
    return st;
}

/* DIR/BASE.gz if it exists, else DIR/BASE if it exists, else NULL (*path
 * gets DIR/BASE.gz for messages). */
static int find_file(const char *dir, const char *base, char **path)
{
    char gz[256];
    snprintf(gz, sizeof gz, "%s.gz", base);
    struct stat st;
    char *p = kd_path_join(dir, gz);
    if (p && stat(p, &st) == 0) {
        *path = p;
        return 1;
    }
    char *q = kd_path_join(dir, base);
    if (q && stat(q, &st) == 0) {
        free(p);
        *path = q;
        return 1;
    }
    free(q);
    *path = p;
    return 0;
}

/* the classes idx declares (its shape): a label is 0..9 */
#define IDX_CLASSES 10

static kd_data_status load_idx_split(kd_dataset *ds, const char *dir, const char *split,
                                     int *found, char *err, size_t errlen)
{
    char bi[64], bl[64];
    snprintf(bi, sizeof bi, "%s-images-idx3-ubyte", split);
    snprintf(bl, sizeof bl, "%s-labels-idx1-ubyte", split);
    char *pi = NULL, *pl = NULL;
    int hi = find_file(dir, bi, &pi), hl = find_file(dir, bl, &pl);
    kd_data_status st = KD_DATA_OK;
    uint8_t *img = NULL, *lab = NULL;
    *found = hi || hl;
    if (!pi || !pl) {
        st = kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory", dir);
        goto out;
    }
    if (!hi && !hl)
        goto out;
    if (!hi || !hl) {
        st = kd_data_fail(err, errlen, KD_DATA_ENOENT, "%s: missing (%s is there)",
                          hi ? pl : pi, hi ? pi : pl);
        goto out;
    }
    int ni, nl;
    int64_t di[4], dl[4];
    if ((st = kd_idx_read(pi, &img, &ni, di, err, errlen)) != KD_DATA_OK)
        goto out;
    if (ni != 3) {
        st = kd_data_fail(err, errlen, KD_DATA_EFORMAT, "%s: %d dimensions; images need "
                          "3 (count, rows, columns)", pi, ni);
        goto out;
    }
    if ((st = kd_idx_read(pl, &lab, &nl, dl, err, errlen)) != KD_DATA_OK)
        goto out;
    if (nl != 1) {
        st = kd_data_fail(err, errlen, KD_DATA_EFORMAT, "%s: %d dimensions; labels need "
                          "1 (count)", pl, nl);
        goto out;
    }
    if (dl[0] != di[0]) {
        st = kd_data_fail(err, errlen, KD_DATA_EFORMAT, "%s: %lld labels for %lld images "
                          "in %s", pl, (long long)dl[0], (long long)di[0], pi);
        goto out;
    }
    if (ds->nsplits == 0) {
        ds->c = 1;
        ds->h = di[1];
        ds->w = di[2];
    } else if (ds->h != di[1] || ds->w != di[2]) {
        st = kd_data_fail(err, errlen, KD_DATA_EFORMAT, "%s: images are %lldx%lld but "
                          "those of the first split are %lldx%lld", pi, (long long)di[1],
                          (long long)di[2], (long long)ds->h, (long long)ds->w);
        goto out;
    }
    kd_split sp = { 0 };
    sp.n = di[0];
    sp.x = img;
    sp.label = malloc((size_t)sp.n * sizeof(int32_t));
    if (!sp.label) {
        st = kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory", pl);
        goto out;
    }
    img = NULL;
    for (int64_t i = 0; i < sp.n; i++) {
        if (lab[i] >= IDX_CLASSES) {   /* the models are checked against 10 classes */
            st = kd_data_fail(err, errlen, KD_DATA_EFORMAT, "%s: record %lld: label %d out of "
                              "range (0..%d)", pl, (long long)i, lab[i], IDX_CLASSES - 1);
            free(sp.x);
            free(sp.label);
            goto out;
        }
        sp.label[i] = lab[i];
        if (lab[i] + 1 > ds->classes)
            ds->classes = lab[i] + 1;
    }
    st = kd_dataset_add_split(ds, split, &sp, err, errlen);
out:
    free(img);
    free(lab);
    free(pi);
    free(pl);
    return st;
}

kd_data_status kd_load_idx(const char *dir, kd_dataset *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        if (strstr(dir, "fashion-mnist"))
            return kd_data_fail(err, errlen, KD_DATA_ENOENT, "%s: no such directory: "
                                "install the Debian package " FMNIST_PACKAGE
                                " (apt-get install " FMNIST_PACKAGE ")", dir);
        return kd_data_fail(err, errlen, KD_DATA_ENOENT, "%s: no such directory", dir);
    }
    out->kind = KD_DATA_IMAGES;
    out->dtype = KD_U8;
    if (!(out->source = kd_data_strdup(dir)))
        return kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory", dir);
    static const char *const splits[] = { "train", "t10k" };
    int any = 0;
    for (int i = 0; i < 2; i++) {
        int found;
        kd_data_status st = load_idx_split(out, dir, splits[i], &found, err, errlen);
        if (st != KD_DATA_OK) {
            kd_dataset_free(out);
            return st;
        }
        any |= found;
    }
    if (!any) {
        kd_dataset_free(out);
        return kd_data_fail(err, errlen, KD_DATA_ENOENT, "%s: no IDX files "
                            "(train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
                            "t10k-...)", dir);
    }
    return KD_DATA_OK;
}

/* ---- the registry entry ------------------------------------------------------- */


/* [1, rows, columns] from the header of DIR/train-images (or t10k-images)
 * when one is readable, else the declared [1, 28, 28]. */
static kd_data_status idx_shape(const kd_loader_args *a, kd_sample_shape *out,
                                char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    kd_sample_shape_set(out, KD_DATA_IMAGES, 3, 1, 28, 28, IDX_CLASSES);
    const char *dir = kd_larg_str(a, "dir");
    static const char *const bases[] = { "train-images-idx3-ubyte", "t10k-images-idx3-ubyte" };
    for (int i = 0; i < 2 && dir; i++) {
        char *path = NULL;
        int found = find_file(dir, bases[i], &path);
        gzFile g = found ? gzopen(path, "rb") : NULL;
        free(path);
        if (!g)
            continue;
        uint8_t h[16];
        const char *why;
        int64_t got = gz_read_all(g, h, 16, &why);
        gzclose(g);
        if (got == 16 && h[0] == 0 && h[1] == 0 && h[2] == 8 && h[3] == 3) {
            int64_t rows = (int64_t)h[8] << 24 | (int64_t)h[9] << 16 | h[10] << 8 | h[11];
            int64_t cols = (int64_t)h[12] << 24 | (int64_t)h[13] << 16 | h[14] << 8 | h[15];
            if (rows > 0 && cols > 0) {
                out->dims[1] = rows;
                out->dims[2] = cols;
                out->from_files = 1;
            }
        }
        break;
    }
    return KD_DATA_OK;
}

static kd_data_status idx_load(const kd_loader_args *a, uint64_t seed, kd_dataset *out,
                               char *err, size_t errlen)
{
    (void)seed;
    return kd_load_idx(kd_larg_str(a, "dir"), out, err, errlen);
}

static const kd_loader_argdef idx_args[] = {
    { .name = "dir", .kind = KD_LARG_STR, .req = 1,
      .doc = "directory of {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]" },
};

const kd_loader_def kd_loader_idx = {
    .name = "idx",
    .doc = "MNIST-style IDX files in a directory (train/t10k splits)",
    .kind = KD_DATA_IMAGES, .splits = "train|t10k",
    .nargs = 1, .args = idx_args,
    .shape = idx_shape, .load = idx_load,
};
