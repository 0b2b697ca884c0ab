/* image_folder.c — PNG files through libpng's simplified API, resizing, and
 * the image_folder / cinic10 loaders (DIR/SPLIT/CLASS/NAME.png).
 *
 * Shape letters: N images, C channels (1 or 3), H = W = size. */
#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "data_int.h"
#include "loaders.h"

kd_data_status kd_png_read(const char *path, int want_c, uint8_t **pix,
                           int64_t *h, int64_t *w, int64_t *c,
                           char *err, size_t errlen)
{
    *pix = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return kd_data_fail(err, errlen, KD_DATA_ENOENT, "%s: cannot open: %s", path,
                            strerror(errno));
    unsigned char sig[8];
    size_t got = fread(sig, 1, 8, f);
    if (got < 8 || png_sig_cmp(sig, 0, 8) != 0) {
        fclose(f);
        return kd_data_fail(err, errlen, KD_DATA_EFORMAT, "%s: not a PNG file (bad "
                            "signature)", path);
    }
    rewind(f);
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_stdio(&im, f)) {
        fclose(f);
        return kd_data_fail(err, errlen, KD_DATA_EFORMAT, "%s: bad PNG header "
                            "(libpng: %s)", path, im.message);
    }
    int colour = (im.format & PNG_FORMAT_FLAG_COLOR) != 0;
    int nc = want_c == 3 || (want_c == 0 && colour) ? 3 : 1;
    im.format = nc == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    size_t bytes = PNG_IMAGE_SIZE(im);
    uint8_t *buf = malloc(bytes ? bytes : 1);
    if (!buf) {
        png_image_free(&im);
        fclose(f);
        return kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory", path);
    }
    if (!png_image_finish_read(&im, NULL, buf, 0, NULL)) {
        free(buf);
        fclose(f);
        return kd_data_fail(err, errlen, KD_DATA_EFORMAT, "%s: truncated or corrupt PNG "
                            "(libpng: %s)", path, im.message);
    }
    fclose(f);
    *pix = buf;
    *h = im.height;
    *w = im.width;
    *c = nc;
    return KD_DATA_OK;
}

kd_data_status kd_png_write(const char *path, const uint8_t *pix, int64_t h,
                            int64_t w, int64_t c, char *err, size_t errlen)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = (png_uint_32)w;
    im.height = (png_uint_32)h;
    im.format = c == 3 ? PNG_FORMAT_RGB : c == 4 ? PNG_FORMAT_RGBA : PNG_FORMAT_GRAY;
    if (!png_image_write_to_file(&im, path, 0, pix, 0, NULL))
        return kd_data_fail(err, errlen, KD_DATA_ENOENT, "%s: cannot write PNG: %s", path,
                            im.message);
    return KD_DATA_OK;
}

/* ---- resizing ---------------------------------------------------------------- */

/* 1-D resampling weights from n_in to n_out samples with a triangle filter
 * widened by the scale when shrinking (antialiasing). */
typedef struct { int lo, cnt; float *wt; } rs_tap;

static rs_tap *rs_taps(int n_in, int n_out)
{
    double scale = (double)n_in / n_out;
    double support = scale > 1 ? scale : 1.0;
    rs_tap *t = calloc((size_t)n_out, sizeof *t);
    if (!t)
        return NULL;
    for (int o = 0; o < n_out; o++) {
        double centre = (o + 0.5) * scale;
        int lo = (int)floor(centre - support), hi = (int)ceil(centre + support);
        if (lo < 0) lo = 0;
        if (hi > n_in) hi = n_in;
        t[o].lo = lo;
        t[o].cnt = hi - lo;
        t[o].wt = malloc((size_t)(hi - lo > 0 ? hi - lo : 1) * sizeof(float));
        if (!t[o].wt) {
            for (int k = 0; k <= o; k++)
                free(t[k].wt);
            free(t);
            return NULL;
        }
        double sum = 0;
        for (int i = lo; i < hi; i++) {
            double d = fabs((i + 0.5 - centre) / support);
            double wv = d < 1 ? 1 - d : 0;
            t[o].wt[i - lo] = (float)wv;
            sum += wv;
        }
        for (int i = 0; i < hi - lo; i++)
            t[o].wt[i] = sum > 0 ? (float)(t[o].wt[i] / sum) : 0.f;
    }
    return t;
}

static void rs_free(rs_tap *t, int n)
{
    if (!t)
        return;
    for (int i = 0; i < n; i++)
        free(t[i].wt);
    free(t);
}

/* Interleaved src [h, w, c] -> planar dst [c, size, size]: the shorter side
 * scaled to size, the centre kept.  0 on success, -1 out of memory. */
static int resize_center(const uint8_t *src, int h, int w, int c, int size, uint8_t *dst)
{
    int rh, rw;   /* resized dimensions */
    if (h <= w) {
        rh = size;
        rw = (int)((int64_t)w * size / h);
        if (rw < size) rw = size;
    } else {
        rw = size;
        rh = (int)((int64_t)h * size / w);
        if (rh < size) rh = size;
    }
    int oy = (rh - size) / 2, ox = (rw - size) / 2;
    if (rh == h && rw == w) {
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                    dst[((size_t)ch * size + y) * size + x] =
                        src[((size_t)(y + oy) * w + (x + ox)) * c + ch];
        return 0;
    }
    rs_tap *ty = rs_taps(h, rh), *tx = rs_taps(w, rw);
    float *row = malloc((size_t)w * c * sizeof(float));
    int rc = -1;
    if (!ty || !tx || !row)
        goto out;
    for (int y = 0; y < size; y++) {
        const rs_tap *a = &ty[y + oy];
        for (int i = 0; i < w * c; i++)
            row[i] = 0;
        for (int k = 0; k < a->cnt; k++) {
            const uint8_t *s = src + (size_t)(a->lo + k) * w * c;
            for (int i = 0; i < w * c; i++)
                row[i] += a->wt[k] * s[i];
        }
        for (int x = 0; x < size; x++) {
            const rs_tap *b = &tx[x + ox];
            for (int ch = 0; ch < c; ch++) {
                float v = 0;
                for (int k = 0; k < b->cnt; k++)
                    v += b->wt[k] * row[(size_t)(b->lo + k) * c + ch];
                long q = lrintf(v);
                dst[((size_t)ch * size + y) * size + x] =
                    (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
            }
        }
    }
    rc = 0;
out:
    rs_free(ty, rh);
    rs_free(tx, rw);
    free(row);
    return rc;
}

/* ---- the loader ------------------------------------------------------------------ */

static int has_png_suffix(const char *s)
{
    size_t n = strlen(s);
    return n > 4 && (strcmp(s + n - 4, ".png") == 0 || strcmp(s + n - 4, ".PNG") == 0);
}

static int wanted(const char *const *only, const char *name)
{
    if (!only)
        return 1;
    for (; *only; only++)
        if (strcmp(*only, name) == 0)
            return 1;
    return 0;
}

static int64_t name_index(char **names, int64_t n, const char *s)
{
    for (int64_t i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

kd_data_status kd_load_image_folder(const char *dir, int64_t size,
                                    const char *const *only, kd_dataset *out,
                                    char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (size < 1 || size > 4096)
        return kd_data_fail(err, errlen, KD_DATA_EARG, "%s: image size %lld out of range "
                            "(1..4096)", dir, (long long)size);
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return kd_data_fail(err, errlen, KD_DATA_ENOENT, "%s: no such directory", dir);
    out->kind = KD_DATA_IMAGES;
    out->dtype = KD_U8;
    out->h = out->w = size;
    out->c = 3;
    if (!(out->source = kd_data_strdup(dir)))
        return kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory", dir);

    char **splits = NULL, **cls = NULL;
    size_t nsplits = 0;
    int64_t ncls = 0;
    size_t capcls = 0;
    uint8_t *pix = NULL;
    kd_split sp = { 0 };
    kd_data_status st;
    int colour = 0;
    if ((st = kd_list_dir(dir, 1, &splits, &nsplits, err, errlen)) != KD_DATA_OK)
        goto fail;
    /* pass 1: the union of the class names */
    for (size_t s = 0; s < nsplits; s++) {
        if (!wanted(only, splits[s]))
            continue;
        char *sd = kd_path_join(dir, splits[s]);
        char **c = NULL;
        size_t nc = 0;
        st = sd ? kd_list_dir(sd, 1, &c, &nc, err, errlen)
                : kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory", dir);
        free(sd);
        if (st != KD_DATA_OK)
            goto fail;
        for (size_t i = 0; i < nc; i++) {
            if (name_index(cls, ncls, c[i]) >= 0)
                continue;
            if ((size_t)ncls == capcls) {
                capcls = capcls ? 2 * capcls : 16;
                char **nn = realloc(cls, capcls * sizeof *nn);
                if (!nn) {
                    kd_free_names(c, nc);
                    st = kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory", dir);
                    goto fail;
                }
                cls = nn;
            }
            cls[ncls++] = c[i];
            c[i] = NULL;
        }
        kd_free_names(c, nc);
    }
    if (ncls == 0) {
        st = kd_data_fail(err, errlen, KD_DATA_EFORMAT, "%s: no class folders "
                          "(expected %s/SPLIT/CLASS/NAME.png)", dir, dir);
        goto fail;
    }
    qsort(cls, (size_t)ncls, sizeof *cls, cmp_str);
    out->class_names = cls;
    out->classes = ncls;
    cls = NULL;
    /* pass 2: the images of each split */
    size_t plane = (size_t)size * size;
    for (size_t s = 0; s < nsplits; s++) {
        if (!wanted(only, splits[s]))
            continue;
        int64_t cap = 0;
        memset(&sp, 0, sizeof sp);
        char *sd = kd_path_join(dir, splits[s]);
        if (!sd) {
            st = kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory", dir);
            goto fail;
        }
        for (int64_t k = 0; k < out->classes; k++) {
            char *cd = kd_path_join(sd, out->class_names[k]);
            char **files = NULL;
            size_t nf = 0;
            if (!cd) {
                free(sd);
                st = kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory", dir);
                goto fail;
            }
            if (stat(cd, &sb) != 0) {   /* class absent from this split */
                free(cd);
                continue;
            }
            if ((st = kd_list_dir(cd, 0, &files, &nf, err, errlen)) != KD_DATA_OK) {
                free(cd);
                free(sd);
                goto fail;
            }
            for (size_t i = 0; i < nf; i++) {
                if (!has_png_suffix(files[i]))
                    continue;
                char *fp = kd_path_join(cd, files[i]);
                int64_t h, w, c;
                st = fp ? kd_png_read(fp, 3, &pix, &h, &w, &c, err, errlen)
                        : kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory", dir);
                if (st == KD_DATA_OK && sp.n == cap) {
                    cap = cap ? 2 * cap : 256;
                    uint8_t *nx = realloc(sp.x, (size_t)cap * 3 * plane);
                    if (nx)
                        sp.x = nx;
                    int32_t *nl = nx ? realloc(sp.label, (size_t)cap * sizeof(int32_t)) : NULL;
                    if (nl)
                        sp.label = nl;
                    if (!nl)
                        st = kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory", fp);
                }
                if (st == KD_DATA_OK) {
                    uint8_t *dst = (uint8_t *)sp.x + (size_t)sp.n * 3 * plane;
                    if (resize_center(pix, (int)h, (int)w, 3, (int)size, dst) != 0)
                        st = kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory", fp);
                    for (size_t q = 0; st == KD_DATA_OK && !colour && q < plane; q++)
                        colour = dst[q] != dst[plane + q] || dst[q] != dst[2 * plane + q];
                    sp.label[sp.n++] = (int32_t)k;
                }
                free(pix);
                pix = NULL;
                free(fp);
                if (st != KD_DATA_OK) {
                    kd_free_names(files, nf);
                    free(cd);
                    free(sd);
                    goto fail;
                }
            }
            kd_free_names(files, nf);
            free(cd);
        }
        if (sp.n == 0) {
            st = kd_data_fail(err, errlen, KD_DATA_EFORMAT, "%s: no PNG images in the "
                              "class folders", sd);
            free(sd);
            goto fail;
        }
        free(sd);
        if ((st = kd_dataset_add_split(out, splits[s], &sp, err, errlen)) != KD_DATA_OK)
            goto fail;
    }
    if (out->nsplits == 0) {
        st = kd_data_fail(err, errlen, KD_DATA_EARG, "%s: none of the requested splits "
                          "is there", dir);
        goto fail;
    }
    if (!colour) {   /* every image grey: keep one channel */
        for (int s = 0; s < out->nsplits; s++) {
            kd_split *p = &out->splits[s];
            for (int64_t i = 0; i < p->n; i++)
                memmove((uint8_t *)p->x + (size_t)i * plane,
                        (uint8_t *)p->x + (size_t)i * 3 * plane, plane);
        }
        out->c = 1;
    }
    kd_free_names(splits, nsplits);
    return KD_DATA_OK;
fail:
    free(sp.x);
    free(sp.label);
    if (cls) {
        for (int64_t i = 0; i < ncls; i++)
            free(cls[i]);
        free(cls);
    }
    kd_free_names(splits, nsplits);
    kd_dataset_free(out);
    return st;
}

kd_data_status kd_load_cinic10(const char *dir, const char *const *only,
                               kd_dataset *out, char *err, size_t errlen)
{
    kd_data_status st = kd_load_image_folder(dir, 32, only, out, err, errlen);
    if (st != KD_DATA_OK)
        return st;
    if (out->classes != 10) {
        int64_t n = out->classes;
        kd_dataset_free(out);
        return kd_data_fail(err, errlen, KD_DATA_EFORMAT, "%s: %lld class folders; "
                            "CINIC-10 has 10", dir, (long long)n);
    }
    return KD_DATA_OK;
}

/* ---- the registry entries ----------------------------------------------------- */


/* [3, size, size]: the images are converted to RGB (a folder of grey images
 * only gives C = 1, which shows when it is loaded); classes are known when
 * loaded (the class folders) */
static kd_data_status image_folder_shape(const kd_loader_args *a, kd_sample_shape *out,
                                         char *err, size_t errlen)
{
    (void)err; (void)errlen;
    int64_t s = (int64_t)kd_larg_num(a, "size");
    kd_sample_shape_set(out, KD_DATA_IMAGES, 3, 3, s, s, 0);
    return KD_DATA_OK;
}

static kd_data_status image_folder_load(const kd_loader_args *a, uint64_t seed,
                                        kd_dataset *out, char *err, size_t errlen)
{
    (void)seed;
    return kd_load_image_folder(kd_larg_str(a, "dir"), (int64_t)kd_larg_num(a, "size"),
                                NULL, out, err, errlen);
}

static const kd_loader_argdef image_folder_args[] = {
    { .name = "dir", .kind = KD_LARG_STR, .req = 1,
      .doc = "directory of SPLIT/CLASS/NAME.png" },
    { .name = "size", .kind = KD_LARG_INT, .def = "32", .has_lo = 1, .lo = 1,
      .doc = "side of the square images (shorter side resized, centre kept)" },
};

const kd_loader_def kd_loader_image_folder = {
    .name = "image_folder",
    .doc = "one sub-directory per class per split, images resized to size",
    .kind = KD_DATA_IMAGES, .splits = "",   /* every sub-directory */
    .nargs = 2, .args = image_folder_args,
    .shape = image_folder_shape, .load = image_folder_load,
};

static kd_data_status cinic10_shape(const kd_loader_args *a, kd_sample_shape *out,
                                    char *err, size_t errlen)
{
    (void)a; (void)err; (void)errlen;
    kd_sample_shape_set(out, KD_DATA_IMAGES, 3, 3, 32, 32, 10);
    return KD_DATA_OK;
}

static kd_data_status cinic10_load(const kd_loader_args *a, uint64_t seed, kd_dataset *out,
                                   char *err, size_t errlen)
{
    (void)seed;
    return kd_load_cinic10(kd_larg_str(a, "dir"), NULL, out, err, errlen);
}

static const kd_loader_argdef cinic10_args[] = {
    { .name = "dir", .kind = KD_LARG_STR, .req = 1,
      .doc = "directory of {train,valid,test}/CLASS/NAME.png" },
};

const kd_loader_def kd_loader_cinic10 = {
    .name = "cinic10",
    .doc = "CINIC-10 image tree in a directory (train/valid/test)",
    .kind = KD_DATA_IMAGES, .splits = "train|valid|test",
    .nargs = 1, .args = cinic10_args,
    .shape = cinic10_shape, .load = cinic10_load,
};
