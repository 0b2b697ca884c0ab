/* raw_synth.c — synthetic RAW denoising data from sRGB photos (Brooks et al.
 * 2019, "Unprocessing images for learned raw denoising"): invert the camera
 * pipeline, mosaic, add Poisson-Gaussian noise.
 *
 * Shape letters: N patches, P patch side in sensor pixels (even), planes
 * [3,P,P] of linear camera RGB, packed Bayer [4,P/2,P/2] (R, Gr, Gb, B). */
#include <glob.h>
#include <strings.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "data_int.h"
#include "loaders.h"
#include "raw.h"

/* XYZ -> camera matrices of four cameras (Brooks et al., from DNG files). */
static const double xyz2cams[4][3][3] = {
    {{1.0234, -0.2969, -0.2266}, {-0.5625, 1.6328, -0.0469}, {-0.0703, 0.2188, 0.6406}},
    {{0.4913, -0.0541, -0.0202}, {-0.613, 1.3513, 0.2906}, {-0.1564, 0.2151, 0.7183}},
    {{0.838, -0.263, -0.0639}, {-0.2887, 1.0725, 0.2496}, {-0.0627, 0.1427, 0.5438}},
    {{0.6596, -0.2079, -0.0562}, {-0.4782, 1.3016, 0.1933}, {-0.097, 0.1581, 0.5181}}};
static const double rgb2xyz[3][3] = {
    {0.4124564, 0.3575761, 0.1804375},
    {0.2126729, 0.7151522, 0.0721750},
    {0.0193339, 0.1191920, 0.9503041}};

/* the 3x3 inverse (the mixed matrices are well conditioned) */
static void inv3(const double a[3][3], double o[3][3])
{
    double det = a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
                 a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
                 a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            int i1 = (j + 1) % 3, i2 = (j + 2) % 3, j1 = (i + 1) % 3, j2 = (i + 2) % 3;
            o[i][j] = (a[i1][j1] * a[i2][j2] - a[i1][j2] * a[i2][j1]) / det;
        }
}

/* rgb -> camera from weights of the four cameras */
static void mix_matrix(const double w[4], kd_raw_params *p)
{
    double ws = w[0] + w[1] + w[2] + w[3], xyz2cam[3][3] = {{0}};
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                xyz2cam[i][j] += w[k] / ws * xyz2cams[k][i][j];
    for (int i = 0; i < 3; i++) {
        double rs = 0;
        for (int j = 0; j < 3; j++) {
            double v = 0;
            for (int k = 0; k < 3; k++)
                v += xyz2cam[i][k] * rgb2xyz[k][j];
            p->rgb2cam[i][j] = v;
            rs += v;
        }
        for (int j = 0; j < 3; j++)
            p->rgb2cam[i][j] /= rs;   /* rows sum to 1: white stays white */
    }
    inv3(p->rgb2cam, p->cam2rgb);
}

void kd_raw_params_sample(uint64_t seed, uint64_t image, kd_raw_params *p)
{
    kd_rng r = kd_rng_key(seed, 0, image, KD_STREAM_UNPROCESS);
    double w[4];
    for (int k = 0; k < 4; k++)
        w[k] = 1e-8 + kd_rng_uniform(&r);
    mix_matrix(w, p);
    p->rgb_gain = 1.0 / (0.8 + 0.1 * kd_rng_normal(&r));
    p->red_gain = 1.9 + 0.5 * kd_rng_uniform(&r);
    p->blue_gain = 1.5 + 0.4 * kd_rng_uniform(&r);
}

void kd_raw_params_mean(kd_raw_params *p)
{
    const double w[4] = { 1, 1, 1, 1 };
    mix_matrix(w, p);
    p->rgb_gain = 1.0 / 0.8;
    p->red_gain = 2.15;
    p->blue_gain = 1.7;
}

static double clip01(double x) { return x < 0 ? 0 : x > 1 ? 1 : x; }

/* sRGB pixel triple (0..1) -> linear camera RGB. */
void kd_raw_unprocess_px(const kd_raw_params *p, const double in[3], float out[3])
{
    double lin[3], cam[3];
    for (int c = 0; c < 3; c++) {
        double x = clip01(in[c]);
        x = 0.5 - sin(asin(1.0 - 2.0 * x) / 3.0);       /* inverse smoothstep */
        lin[c] = pow(x > 1e-8 ? x : 1e-8, 2.2);          /* gamma expansion */
    }
    for (int i = 0; i < 3; i++)
        cam[i] = p->rgb2cam[i][0] * lin[0] + p->rgb2cam[i][1] * lin[1] +
                 p->rgb2cam[i][2] * lin[2];
    double gains[3] = { 1.0 / p->red_gain / p->rgb_gain, 1.0 / p->rgb_gain,
                        1.0 / p->blue_gain / p->rgb_gain };
    double gray = (cam[0] + cam[1] + cam[2]) / 3.0, m = gray - 0.9;
    double mask = m > 0 ? (m / 0.1) * (m / 0.1) : 0;
    for (int c = 0; c < 3; c++) {
        double safe = mask + (1 - mask) * gains[c];
        if (safe < gains[c])
            safe = gains[c];
        out[c] = (float)clip01(cam[c] * safe);
    }
}

/* linear camera RGB -> sRGB (0..1) */
void kd_raw_process_px(const kd_raw_params *p, const double in[3], float out[3])
{
    double g[3] = { p->red_gain * p->rgb_gain, p->rgb_gain, p->blue_gain * p->rgb_gain };
    double cam[3];
    for (int c = 0; c < 3; c++)
        cam[c] = clip01(in[c] * g[c]);
    for (int i = 0; i < 3; i++) {
        double v = clip01(p->cam2rgb[i][0] * cam[0] + p->cam2rgb[i][1] * cam[1] +
                          p->cam2rgb[i][2] * cam[2]);
        v = pow(v > 1e-8 ? v : 1e-8, 1.0 / 2.2);
        out[i] = (float)(3 * v * v - 2 * v * v * v);       /* smoothstep */
    }
}

void kd_raw_packed_to_srgb(const kd_raw_params *p, const float *packed, int64_t q, float *rgb)
{
    int64_t ql = q * q;
    for (int64_t i = 0; i < ql; i++) {
        double in[3] = { packed[i], 0.5 * ((double)packed[ql + i] + packed[2 * ql + i]),
                         packed[3 * ql + i] };
        float o[3];
        kd_raw_process_px(p, in, o);
        for (int c = 0; c < 3; c++)
            rgb[c * ql + i] = o[c];
    }
}

void kd_mosaic_pack(const float *rgb, int64_t p, float *packed)
{
    int64_t q = p / 2, pl = p * p, ql = q * q;
    for (int64_t y = 0; y < q; y++)
        for (int64_t x = 0; x < q; x++) {
            int64_t o = y * q + x, r0 = (2 * y) * p + 2 * x, r1 = r0 + p;
            packed[o] = rgb[r0];                    /* R  at (even, even) */
            packed[ql + o] = rgb[pl + r0 + 1];      /* Gr at (even, odd)  */
            packed[2 * ql + o] = rgb[pl + r1];      /* Gb at (odd, even)  */
            packed[3 * ql + o] = rgb[2 * pl + r1 + 1]; /* B at (odd, odd) */
        }
}

void kd_noise_pg_apply(const kd_noise_pg *pg, kd_rng *r, const float *clean,
                       float *noisy, size_t n, float level[2])
{
    double log_shot = pg->log_shot_min +
                      (pg->log_shot_max - pg->log_shot_min) * kd_rng_uniform(r);
    double shot = exp(log_shot);
    double log_read = 2.18 * log_shot + 1.20 + 0.26 * kd_rng_normal(r);
    double read = exp(log_read);
    for (size_t i = 0; i < n; i++) {
        double var = clean[i] * shot + read;
        noisy[i] = (float)(clean[i] + sqrt(var > 0 ? var : 0) * kd_rng_normal(r));
    }
    level[0] = (float)shot;
    level[1] = (float)read;
}

kd_data_status kd_load_raw_synth_val(const char *pattern, int unprocess,
                                 int64_t patch, uint64_t seed, int val, kd_dataset *out,
                                 char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (patch < 2 || patch % 2 || patch > 8192)
        return kd_data_fail(err, errlen, KD_DATA_EARG, "%s: patch %lld must be even "
                            "(whole RGGB quads), 2..8192", pattern, (long long)patch);
    glob_t g;
    memset(&g, 0, sizeof g);
    int gr = glob(pattern, 0, NULL, &g);
    if (gr == GLOB_NOMATCH || (gr == 0 && g.gl_pathc == 0)) {
        globfree(&g);
        return kd_data_fail(err, errlen, KD_DATA_ENOENT, "%s: no file matches", pattern);
    }
    if (gr != 0) {
        globfree(&g);
        return kd_data_fail(err, errlen, gr == GLOB_NOSPACE ? KD_DATA_ENOMEM : KD_DATA_ENOENT,
                            "%s: cannot expand the pattern", pattern);
    }

    out->kind = KD_DATA_RAW;
    out->dtype = KD_F32;
    out->c = 3;
    out->h = out->w = patch;
    kd_split sp[3];   /* train, test, val (`val: true`) */
    memset(sp, 0, sizeof sp);
    int64_t cap[3] = { 0, 0, 0 };
    kd_data_status st = KD_DATA_OK;
    uint8_t *pix = NULL;
    float *lin = NULL;
    size_t sb = (size_t)(3 * patch * patch) * sizeof(float);
    if (!(out->source = kd_data_strdup(pattern))) {
        st = kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory", pattern);
        goto out;
    }
    size_t used = 0;   /* images kept (not smaller than the patch) */
    for (size_t gi = 0; gi < g.gl_pathc; gi++) {
        const char *path = g.gl_pathv[gi];
        size_t len = strlen(path), i = used;
        int64_t h, w, c = 3;
        int jpeg = (len > 4 && !strcasecmp(path + len - 4, ".jpg")) ||
                   (len > 5 && !strcasecmp(path + len - 5, ".jpeg"));
        free(pix);
        pix = NULL;
        st = jpeg ? kd_jpeg_read(path, &pix, &h, &w, err, errlen)
                  : kd_png_read(path, 3, &pix, &h, &w, &c, err, errlen);
        if (st != KD_DATA_OK)
            goto out;
        if (h < patch || w < patch)
            continue;   /* too small for one patch: left out (the tiny test images of a folder) */
        used++;
        /* the whole image to linear camera RGB, planar [3, h, w] */
        free(lin);
        lin = malloc((size_t)(3 * h * w) * sizeof(float));
        if (!lin) {
            st = kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory", path);
            goto out;
        }
        kd_raw_params prm;
        kd_raw_params_sample(seed, i, &prm);
        for (int64_t q = 0; q < h * w; q++) {
            double in[3] = { pix[3 * q] / 255.0, pix[3 * q + 1] / 255.0, pix[3 * q + 2] / 255.0 };
            float o[3];
            if (unprocess)
                kd_raw_unprocess_px(&prm, in, o);
            else
                for (int k = 0; k < 3; k++)
                    o[k] = (float)in[k];
            for (int k = 0; k < 3; k++)
                lin[k * h * w + q] = o[k];
        }
        free(pix);
        pix = NULL;
        int t = i % 5 == 4 ? 1 : val && i % 5 == 3 ? 2 : 0;
        int64_t np = (h / patch) * (w / patch);
        if (sp[t].n + np > cap[t]) {
            cap[t] = 2 * (sp[t].n + np);
            float *nx = realloc(sp[t].x, (size_t)cap[t] * sb);
            if (!nx) {
                st = kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory", path);
                goto out;
            }
            sp[t].x = nx;
        }
        kd_rng r = kd_rng_key(seed, 0, i, KD_STREAM_PATCH);
        for (int64_t k = 0; k < np; k++) {
            int64_t oy = 2 * (int64_t)kd_rng_below(&r, (uint64_t)((h - patch) / 2 + 1));
            int64_t ox = 2 * (int64_t)kd_rng_below(&r, (uint64_t)((w - patch) / 2 + 1));
            float *dst = (float *)sp[t].x + (size_t)sp[t].n * 3 * patch * patch;
            for (int ch = 0; ch < 3; ch++)
                for (int64_t y = 0; y < patch; y++)
                    memcpy(dst + (ch * patch + y) * patch,
                           lin + (ch * h + oy + y) * w + ox, (size_t)patch * sizeof(float));
            sp[t].n++;
        }
    }
    if (used < (val ? 5u : 2u)) {
        st = kd_data_fail(err, errlen, KD_DATA_EFORMAT, "%s: %zu image%s of at least %lldx%lld; "
                          "need %d (every 5th image is a test image%s)", pattern, used,
                          used == 1 ? "" : "s", (long long)patch, (long long)patch, val ? 5 : 2,
                          val ? " and the one before it a validation image" : "");
        goto out;
    }
    static const char *const names[3] = { "train", "test", "val" };
    for (int t = 0; t < (val ? 3 : 2); t++)
        if ((st = kd_dataset_add_split(out, names[t], &sp[t], err, errlen)) != KD_DATA_OK)
            goto out;
out:
    globfree(&g);
    free(pix);
    free(lin);
    free(sp[0].x);
    free(sp[1].x);
    free(sp[2].x);
    if (st != KD_DATA_OK)
        kd_dataset_free(out);
    return st;
}

kd_data_status kd_load_raw_synth(const char *pattern, int unprocess, int64_t patch, uint64_t seed,
                                 kd_dataset *out, char *err, size_t errlen)
{
    return kd_load_raw_synth_val(pattern, unprocess, patch, seed, 0, out, err, errlen);
}

/* ---- the registry entry ------------------------------------------------------- */


/* what the models see: the RGGB mosaic packed to [4, patch/2, patch/2] */
static kd_data_status raw_shape(const kd_loader_args *a, kd_sample_shape *out,
                                char *err, size_t errlen)
{
    (void)err; (void)errlen;
    int64_t s = (int64_t)kd_larg_num(a, "patch") / 2;
    kd_sample_shape_set(out, KD_DATA_RAW, 3, 4, s, s, 0);
    out->has_noisy = 1;
    return KD_DATA_OK;
}

/* the clean camera RGB; the noise (the `noise:` argument) is added by the
 * batcher (kd_loader_cfg.noise) */
static kd_data_status raw_load(const kd_loader_args *a, uint64_t seed, kd_dataset *out,
                               char *err, size_t errlen)
{
    return kd_load_raw_synth_val(kd_larg_str(a, "images"), kd_larg_num(a, "unprocess") != 0,
                                 (int64_t)kd_larg_num(a, "patch"), seed, kd_larg_num(a, "val") != 0, out,
                                 err, errlen);
}

static const kd_loader_argdef raw_args[] = {
    { .name = "images", .kind = KD_LARG_STR, .req = 1,
      .doc = "glob of sRGB PNG photos (at least 2)" },
    { .name = "unprocess", .kind = KD_LARG_BOOL, .def = "true",
      .doc = "invert a camera pipeline (Brooks et al. 2019); false: pixel/255 is linear" },
    { .name = "noise", .kind = KD_LARG_CALL, .req = 1, .syms = "poisson_gauss",
      .doc = "poisson_gauss(log_shot: [lo, hi]): the noise added to each sample" },
    { .name = "patch", .kind = KD_LARG_INT, .def = "64", .has_lo = 1, .lo = 2,
      .doc = "side of the square patches in sensor pixels (even)" },
    { .name = "val", .kind = KD_LARG_BOOL, .def = "false",
      .doc = "hold out every 5th photo but one (i % 5 == 3) whole as split val" },
};

const kd_loader_def kd_loader_raw_synth = {
    .name = "raw_synth",
    .doc = "synthetic RAW denoising pairs from sRGB images (noisy, clean)",
    .kind = KD_DATA_RAW, .splits = "train|test|val",
    .nargs = 5, .args = raw_args,
    .shape = raw_shape, .load = raw_load,
};
