/* task_restore.c — the task of restoration data (raw_synth's noisy/clean
 * pairs; task.h).  The graph's targets are `clean` and `noisy`
 * [B, C, H, W] (the model input is the noisy batch too); a loss names them
 * (`l1(student.denoised, clean)`); there is no `label`.  Evaluation: PSNR
 * and SSIM of a model's output against clean, in linear RAW (data range 1)
 * and after processing both back to sRGB with fixed camera parameters
 * (data/raw.h, kd_raw_params_mean); pictures of a few held-out samples,
 * noisy | model ... | clean, processed to sRGB. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "task.h"
#include "phase_graph.h"
#include "../data/raw.h"

static int rst_targets(kd_graph *g, const kd_data_shape *ds, int64_t batch, int32_t *label)
{
    int64_t dims[KD_MAXDIM];
    dims[0] = batch;
    for (int i = 0; i < ds->x.ndim; i++) dims[i + 1] = ds->x.dims[i];
    kd_shape s = kd_shape_make(ds->x.ndim + 1, dims);
    *label = -1;
    if (kd_graph_add_input(g, "clean", s) < 0 || kd_graph_add_input(g, "noisy", s) < 0) return -1;
    return 0;
}

static void put(kd_exec *e, const kd_graph *g, const char *name, const float *v, const kd_batch *b,
                int64_t batch)
{
    int32_t id = kd_graph_find(g, name);
    float *x = id >= 0 ? kd_exec_input(e, id) : NULL;
    if (!x || !v) return;
    size_t row = (size_t)(b->c * b->h * b->w);
    memcpy(x, v, (size_t)b->n * row * sizeof(float));
    if (b->n < batch) memset(x + (size_t)b->n * row, 0, (size_t)(batch - b->n) * row * sizeof(float));
}

static void rst_feed(kd_exec *e, const kd_phase_graph *pg, const kd_batch *b)
{
    kd_task_feed_inputs(e, pg, b);
    put(e, pg->g, "clean", b->y, b, pg->batch);
    put(e, pg->g, "noisy", b->x, b, pg->batch);
}

static int fits(const kd_shape *os, const kd_batch *b)
{
    return b->y && os->ndim == 4 && os->dims[1] == b->c && os->dims[2] == b->h && os->dims[3] == b->w;
}

static void rst_eval_batch(kd_task_sums *e, const float *out, const kd_shape *os, const kd_batch *b,
                           const kd_dataset *ds)
{
    (void)ds;
    if (!fits(os, b)) return;
    int64_t row = b->c * b->h * b->w;
    int srgb = b->c == 4 && b->h == b->w;
    float *ro = NULL, *rc = NULL;
    int64_t q = b->h, rgb = 3 * q * q;
    kd_raw_params mp;
    if (srgb) {
        kd_raw_params_mean(&mp);
        ro = malloc((size_t)rgb * sizeof(float));
        rc = malloc((size_t)rgb * sizeof(float));
        if (!ro || !rc) srgb = 0;
    }
    for (int64_t r = 0; r < b->n; r++) {
        const float *x = out + r * row, *y = b->y + r * row;
        e->psnr += kd_psnr(x, y, row, 1.0);
        e->ssim += kd_ssim(x, y, b->c, b->h, b->w, 1.0);
        if (srgb) {
            kd_raw_packed_to_srgb(&mp, x, q, ro);
            kd_raw_packed_to_srgb(&mp, y, q, rc);
            e->psnr_srgb += kd_psnr(ro, rc, rgb, 1.0);
            e->ssim_srgb += kd_ssim(ro, rc, 3, q, q, 1.0);
        }
    }
    e->nimg += b->n;
    free(ro);
    free(rc);
}

static void rst_eval_end(kd_task_sums *e)
{
    if (!e->nimg) return;
    e->psnr /= (double)e->nimg;
    e->ssim /= (double)e->nimg;
    e->psnr_srgb /= (double)e->nimg;
    e->ssim_srgb /= (double)e->nimg;
}

static void rst_report_line(kd_strbuf *t, const char *model, const char *data, const char *split,
                            const kd_task_sums *s, int64_t params, int64_t macs)
{
    kd_sb_printf(t, "  %-12s %s.%-6s psnr %6.2f dB  ssim %6.4f  (sRGB %6.2f dB, %6.4f)  params %lld  MACs %lld\n",
                 model, data, split, s->psnr, s->ssim, s->psnr_srgb, s->ssim_srgb, (long long)params,
                 (long long)macs);
}

/* ---- pictures ------------------------------------------------------------------- */

static float *keep(float **dst, const float *src, size_t n)
{
    if (!*dst) *dst = malloc(n * sizeof(float));
    if (*dst) memcpy(*dst, src, n * sizeof(float));
    return *dst;
}

/* the first rows of the first batch */
static void rst_pics_keep(kd_task_pics *p, int k, const float *out, const kd_shape *os, const kd_batch *b)
{
    if (!p->want || b->step != 0 || !fits(os, b) || k < 0 || k >= KD_TASK_PIC_MODELS) return;
    int n = p->want < b->n ? p->want : (int)b->n;
    if (p->n && (p->n != n || p->c != b->c || p->h != b->h || p->w != b->w)) return;
    size_t sz = (size_t)n * (size_t)(b->c * b->h * b->w);
    p->c = b->c;
    p->h = b->h;
    p->w = b->w;
    if (!keep(&p->input, b->x, sz) || !keep(&p->target, b->y, sz) || !keep(&p->out[k], out, sz)) return;
    p->n = n;
    if (k >= p->nmodels) p->nmodels = k + 1;
}

/* one tile: a packed sample [4, q, q] processed to sRGB, each quad as 2x2 pixels */
static void tile(uint8_t *img, int64_t W, int64_t y0, int64_t x0, const float *packed, int64_t q, float *rgb)
{
    kd_raw_params mp;
    kd_raw_params_mean(&mp);
    kd_raw_packed_to_srgb(&mp, packed, q, rgb);
    for (int64_t y = 0; y < 2 * q; y++)
        for (int64_t x = 0; x < 2 * q; x++)
            for (int c = 0; c < 3; c++) {
                float v = rgb[(c * q + y / 2) * q + x / 2] * 255.0f + 0.5f;
                img[((y0 + y) * W + x0 + x) * 3 + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
}

static int rst_pics_write(const kd_task_pics *p, const char *path, char *err, size_t errlen)
{
    if (!p->n || p->c != 4 || p->h != p->w) {
        snprintf(err, errlen, "%s: no 4-channel samples kept for a picture", path);
        return -1;
    }
    int64_t q = p->h, s = 2 * q, gap = 2, cols = p->nmodels + 2;
    int64_t W = cols * s + (cols - 1) * gap, H = p->n * s + (p->n - 1) * gap;
    uint8_t *img = malloc((size_t)(W * H * 3));
    float *rgb = malloc((size_t)(3 * q * q) * sizeof(float));
    if (!img || !rgb) {
        free(img);
        free(rgb);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    memset(img, 255, (size_t)(W * H * 3));
    size_t row = (size_t)(p->c * q * q);
    for (int r = 0; r < p->n; r++) {
        int64_t y0 = r * (s + gap);
        tile(img, W, y0, 0, p->input + r * row, q, rgb);
        for (int k = 0; k < p->nmodels; k++)
            if (p->out[k]) tile(img, W, y0, (k + 1) * (s + gap), p->out[k] + r * row, q, rgb);
        tile(img, W, y0, (cols - 1) * (s + gap), p->target + r * row, q, rgb);
    }
    int rc = kd_png_write(path, img, H, W, 3, err, errlen) == KD_DATA_OK ? 0 : -1;
    free(img);
    free(rgb);
    return rc;
}

const kd_task kd_task_restore = {
    .name = "restore",
    .kind = KD_DATA_RAW,
    .targets = rst_targets,
    .feed = rst_feed,
    .eval_batch = rst_eval_batch,
    .eval_end = rst_eval_end,
    .report_line = rst_report_line,
    .pics_keep = rst_pics_keep,
    .pics_write = rst_pics_write,
};
