/* loader.c — samples to batches: per-epoch shuffling, augmentation (random
 * crop with zero padding, flips), per-channel normalization, RAW mosaicing
 * and noise; and the background batcher (one producer thread, two buffers).
 *
 * Shape letters: B batch rows, C channels, H height, W width, L = max_len,
 * K = negatives, P raw patch side.
 *
 * Threading: exactly one producer thread per kd_batcher; it owns its
 * kd_loader (the cached permutation and scratch buffers) and reads the
 * dataset, which nobody writes while batchers run.  Every random draw is
 * keyed by (seed, epoch, sample index), so the bytes of a batch do not
 * depend on which thread built it. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "data_int.h"

struct kd_loader {
    kd_loader_cfg cfg;
    const kd_dataset *ds;
    const kd_split *sp;
    int64_t c, h, w;         /* output row shape (x) */
    int64_t scratch_elems;   /* per scratch buffer */
    float *s0, *s1;          /* ping-pong scratch */
    int64_t *perm;           /* order of the cached epoch */
    int64_t perm_epoch;      /* -1: none */
};

kd_data_status kd_loader_new(const kd_loader_cfg *cfg, kd_loader **out,
                             char *err, size_t errlen)
{
    *out = NULL;
    const kd_dataset *ds = cfg->ds;
    const char *src = ds && ds->source ? ds->source : "data";
    if (!ds)
        return kd_data_fail(err, errlen, KD_DATA_EARG, "data: no dataset");
    const kd_split *sp = kd_dataset_split(ds, cfg->split ? cfg->split : "");
    if (!sp)
        return kd_data_fail(err, errlen, KD_DATA_EARG, "%s: no split \"%s\"", src,
                            cfg->split ? cfg->split : "");
    if (cfg->batch < 1)
        return kd_data_fail(err, errlen, KD_DATA_EARG, "%s: batch %lld (need at least 1)",
                            src, (long long)cfg->batch);
    if (cfg->naug < 0 || cfg->naug > KD_MAX_AUG)
        return kd_data_fail(err, errlen, KD_DATA_EARG, "%s: %d augmentations (at most %d)",
                            src, cfg->naug, KD_MAX_AUG);
    int64_t c = ds->c, h = ds->h, w = ds->w, maxe = c * h * w;
    if (ds->kind == KD_DATA_SEQUENCES && (cfg->naug || cfg->nnorm))
        return kd_data_fail(err, errlen, KD_DATA_EARG, "%s: sequences take no augment or "
                            "normalize", src);
    for (int i = 0; i < cfg->naug; i++) {
        const kd_aug *a = &cfg->aug[i];
        if (a->kind == KD_AUG_CROP) {
            if (ds->kind == KD_DATA_RAW)
                return kd_data_fail(err, errlen, KD_DATA_EARG, "%s: crop does not apply to "
                                    "raw_synth (its patches are random crops already; use "
                                    "patch:)", src);
            /* no sum that can overflow: size <= the image, pad < size */
            if (a->size < 1 || a->pad < 0 || a->pad >= a->size || a->size > h || a->size > w)
                return kd_data_fail(err, errlen, KD_DATA_EARG, "%s: crop(%lld, pad: %lld) "
                                    "does not fit %lldx%lld images", src, (long long)a->size,
                                    (long long)a->pad, (long long)h, (long long)w);
            h = w = a->size;
            if (c * h * w > maxe)
                maxe = c * h * w;
        } else if (a->kind != KD_AUG_FLIP_H && a->kind != KD_AUG_FLIP_V) {
            return kd_data_fail(err, errlen, KD_DATA_EARG, "%s: unknown augmentation %d",
                                src, (int)a->kind);
        }
    }
    if (cfg->nnorm) {
        if (ds->kind == KD_DATA_RAW)
            return kd_data_fail(err, errlen, KD_DATA_EARG, "%s: normalize does not apply "
                                "to raw_synth", src);
        if (cfg->nnorm != 1 && cfg->nnorm != c)
            return kd_data_fail(err, errlen, KD_DATA_EARG, "%s: normalize has %d values "
                                "for %lld channels", src, cfg->nnorm, (long long)c);
        for (int i = 0; i < cfg->nnorm; i++)
            if (!(cfg->std[i] > 0))
                return kd_data_fail(err, errlen, KD_DATA_EARG, "%s: normalize std %g "
                                    "(must be > 0)", src, (double)cfg->std[i]);
    }
    if (ds->kind == KD_DATA_RAW && !(cfg->noise.log_shot_min <= cfg->noise.log_shot_max))
        return kd_data_fail(err, errlen, KD_DATA_EARG, "%s: log_shot range [%g, %g] is "
                            "empty", src, cfg->noise.log_shot_min, cfg->noise.log_shot_max);
    kd_loader *ld = calloc(1, sizeof *ld);
    if (!ld)
        return kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory", src);
    ld->cfg = *cfg;
    ld->ds = ds;
    ld->sp = sp;
    ld->perm_epoch = -1;
    if (ds->kind == KD_DATA_RAW) {
        ld->c = 4;
        ld->h = ld->w = ds->h / 2;
    } else {
        ld->c = c;
        ld->h = h;
        ld->w = w;
    }
    ld->scratch_elems = maxe;
    ld->perm = malloc((size_t)(sp->n ? sp->n : 1) * sizeof *ld->perm);
    if (ds->kind != KD_DATA_SEQUENCES) {
        ld->s0 = malloc((size_t)maxe * sizeof(float));
        ld->s1 = malloc((size_t)maxe * sizeof(float));
    }
    if (!ld->perm || (ds->kind != KD_DATA_SEQUENCES && (!ld->s0 || !ld->s1))) {
        kd_loader_free(ld);
        return kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory", src);
    }
    *out = ld;
    return KD_DATA_OK;
}

void kd_loader_free(kd_loader *ld)
{
    if (!ld)
        return;
    free(ld->s0);
    free(ld->s1);
    free(ld->perm);
    free(ld);
}

int64_t kd_loader_steps(const kd_loader *ld)
{
    int64_t n = ld->sp->n, b = ld->cfg.batch;
    return ld->cfg.drop_last ? n / b : (n + b - 1) / b;
}

int kd_loader_cfg_fixed(const kd_loader_cfg *c)
{
    return c && c->ds && c->ds->kind != KD_DATA_RAW && c->naug == 0;
}

void kd_loader_shape(const kd_loader *ld, int64_t *c, int64_t *h, int64_t *w)
{
    *c = ld->c;
    *h = ld->h;
    *w = ld->w;
}

void kd_batch_free(kd_batch *b)
{
    if (!b)
        return;
    free(b->x);
    free(b->y);
    free(b->level);
    free(b->label);
    free(b->items);
    free(b->next);
    free(b->neg);
    free(b->index);
    memset(b, 0, sizeof *b);
}

kd_data_status kd_batch_alloc(const kd_loader *ld, kd_batch *b, char *err, size_t errlen)
{
    memset(b, 0, sizeof *b);
    const kd_dataset *ds = ld->ds;
    size_t B = (size_t)ld->cfg.batch, row = (size_t)(ld->c * ld->h * ld->w);
    int fail = 0;
    b->c = ld->c;
    b->h = ld->h;
    b->w = ld->w;
    if (!(b->index = malloc(B * sizeof *b->index))) fail = 1;
    if (ds->kind == KD_DATA_SEQUENCES) {
        size_t L = (size_t)ds->max_len, K = (size_t)ds->negatives;
        b->len = (int64_t)L;
        b->nneg = (int64_t)K;
        if (!(b->label = malloc(B * sizeof(int32_t)))) fail = 1;
        if (!(b->items = malloc(B * L * sizeof(int32_t)))) fail = 1;
        if (!(b->next = malloc(B * L * sizeof(int32_t)))) fail = 1;
        if (!(b->neg = malloc(B * K * sizeof(int32_t)))) fail = 1;
    } else {
        if (!(b->x = malloc(B * row * sizeof(float)))) fail = 1;
        if (ds->kind == KD_DATA_RAW) {
            if (!(b->y = malloc(B * row * sizeof(float)))) fail = 1;
            if (!(b->level = malloc(B * 2 * sizeof(float)))) fail = 1;
        } else if (!(b->label = malloc(B * sizeof(int32_t)))) {
            fail = 1;
        }
    }
    if (fail) {
        kd_batch_free(b);
        return kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory for a batch "
                            "of %zu", ds->source, B);
    }
    return KD_DATA_OK;
}

/* One image or raw sample through the augmentations; returns the buffer
 * holding the result ([c, *h, *w]). */
static float *augment(kd_loader *ld, int64_t epoch, int64_t idx, int64_t *hp, int64_t *wp)
{
    const kd_dataset *ds = ld->ds;
    int64_t c = ds->c, h = ds->h, w = ds->w, n = c * h * w;
    float *cur = ld->s0, *oth = ld->s1;
    if (ds->dtype == KD_U8) {
        const uint8_t *src = (const uint8_t *)ld->sp->x + (size_t)idx * (size_t)n;
        for (int64_t i = 0; i < n; i++)
            cur[i] = (float)src[i] / 255.0f;   /* as torchvision's ToTensor */
    } else {
        memcpy(cur, (const float *)ld->sp->x + (size_t)idx * (size_t)n,
               (size_t)n * sizeof(float));
    }
    kd_rng r = kd_rng_key(ld->cfg.seed, (uint64_t)epoch, (uint64_t)idx, KD_STREAM_AUGMENT);
    for (int a = 0; a < ld->cfg.naug; a++) {
        const kd_aug *g = &ld->cfg.aug[a];
        if (g->kind == KD_AUG_CROP) {
            int64_t s = g->size, p = g->pad;
            int64_t oy = (int64_t)kd_rng_below(&r, (uint64_t)(h + 2 * p - s + 1)) - p;
            int64_t ox = (int64_t)kd_rng_below(&r, (uint64_t)(w + 2 * p - s + 1)) - p;
            for (int64_t ch = 0; ch < c; ch++)
                for (int64_t y = 0; y < s; y++) {
                    int64_t sy = y + oy;
                    float *d = oth + (ch * s + y) * s;
                    for (int64_t x = 0; x < s; x++) {
                        int64_t sx = x + ox;
                        d[x] = sy >= 0 && sy < h && sx >= 0 && sx < w
                             ? cur[(ch * h + sy) * w + sx] : 0.0f;
                    }
                }
            float *t = cur;
            cur = oth;
            oth = t;
            h = w = s;
        } else {
            int doit = kd_rng_uniform(&r) < 0.5;
            if (!doit)
                continue;
            if (g->kind == KD_AUG_FLIP_H) {
                for (int64_t row = 0; row < c * h; row++) {
                    float *d = cur + row * w;
                    for (int64_t x = 0; x < w / 2; x++) {
                        float t = d[x];
                        d[x] = d[w - 1 - x];
                        d[w - 1 - x] = t;
                    }
                }
            } else {
                for (int64_t ch = 0; ch < c; ch++)
                    for (int64_t y = 0; y < h / 2; y++) {
                        float *a0 = cur + (ch * h + y) * w, *a1 = cur + (ch * h + h - 1 - y) * w;
                        for (int64_t x = 0; x < w; x++) {
                            float t = a0[x];
                            a0[x] = a1[x];
                            a1[x] = t;
                        }
                    }
            }
        }
    }
    *hp = h;
    *wp = w;
    return cur;
}

static void fill_row(kd_loader *ld, int64_t epoch, int64_t idx, kd_batch *b, int64_t j)
{
    const kd_dataset *ds = ld->ds;
    const kd_split *sp = ld->sp;
    b->index[j] = idx;
    if (ds->kind == KD_DATA_SEQUENCES) {
        size_t L = (size_t)ds->max_len, K = (size_t)ds->negatives;
        b->label[j] = sp->label[idx];
        memcpy(b->items + j * (int64_t)L, sp->items + idx * (int64_t)L, L * sizeof(int32_t));
        memcpy(b->next + j * (int64_t)L, sp->next + idx * (int64_t)L, L * sizeof(int32_t));
        if (sp->neg)
            memcpy(b->neg + j * (int64_t)K, sp->neg + idx * (int64_t)K, K * sizeof(int32_t));
        else
            memset(b->neg + j * (int64_t)K, 0, K * sizeof(int32_t));
        return;
    }
    int64_t h, w;
    float *s = augment(ld, epoch, idx, &h, &w);
    int64_t row = ld->c * ld->h * ld->w;
    if (ds->kind == KD_DATA_RAW) {
        float *clean = b->y + j * row, *noisy = b->x + j * row;
        kd_mosaic_pack(s, h, clean);
        kd_rng r = kd_rng_key(ld->cfg.seed, (uint64_t)epoch, (uint64_t)idx, KD_STREAM_NOISE);
        kd_noise_pg_apply(&ld->cfg.noise, &r, clean, noisy, (size_t)row, b->level + 2 * j);
        return;
    }
    b->label[j] = sp->label[idx];
    float *d = b->x + j * row;
    int64_t plane = h * w;
    for (int64_t ch = 0; ch < ld->c; ch++) {
        const float *in = s + ch * plane;
        float *o = d + ch * plane;
        if (ld->cfg.nnorm) {
            int k = ld->cfg.nnorm == 1 ? 0 : (int)ch;
            float m = ld->cfg.mean[k], sd = ld->cfg.std[k];
            for (int64_t i = 0; i < plane; i++)
                o[i] = (in[i] - m) / sd;   /* as torchvision's Normalize */
        } else {
            memcpy(o, in, (size_t)plane * sizeof(float));
        }
    }
}

kd_data_status kd_loader_fill(kd_loader *ld, int64_t epoch, int64_t step,
                              kd_batch *b, char *err, size_t errlen)
{
    int64_t steps = kd_loader_steps(ld), n = ld->sp->n, B = ld->cfg.batch;
    if (step < 0 || step >= steps || epoch < 0)
        return kd_data_fail(err, errlen, KD_DATA_EARG, "%s: step %lld of epoch %lld out "
                            "of range (%lld steps)", ld->ds->source, (long long)step,
                            (long long)epoch, (long long)steps);
    if (ld->perm_epoch != epoch) {
        if (ld->cfg.shuffle)
            kd_shuffle(ld->cfg.seed, epoch, n, ld->perm);
        else
            for (int64_t i = 0; i < n; i++)
                ld->perm[i] = i;
        ld->perm_epoch = epoch;
    }
    int64_t beg = step * B, m = n - beg < B ? n - beg : B;
    b->epoch = epoch;
    b->step = step;
    b->n = m;
    for (int64_t j = 0; j < m; j++)
        fill_row(ld, epoch, ld->perm[beg + j], b, j);
    return KD_DATA_OK;
}

/* ---- the background batcher ------------------------------------------------------ */

struct kd_batcher {
    kd_loader *ld;
    kd_batch buf[2];
    int full[2];              /* filled and not yet released by the consumer */
    int64_t epoch_begin, epoch_end;
    int64_t produced, consumed;
    int holding;              /* consumer holds buf[(consumed - 1) % 2] */
    int done, failed, stop;
    char msg[512];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
};

static void *producer(void *arg)
{
    kd_batcher *bt = arg;
    int64_t steps = kd_loader_steps(bt->ld);
    for (int64_t e = bt->epoch_begin; e < bt->epoch_end; e++) {
        for (int64_t s = 0; s < steps; s++) {
            pthread_mutex_lock(&bt->mu);
            int slot = (int)(bt->produced % 2);
            while (bt->full[slot] && !bt->stop)
                pthread_cond_wait(&bt->cv, &bt->mu);
            int stop = bt->stop;
            pthread_mutex_unlock(&bt->mu);
            if (stop)
                goto finish;
            char msg[512];
            kd_data_status st = kd_loader_fill(bt->ld, e, s, &bt->buf[slot], msg, sizeof msg);
            pthread_mutex_lock(&bt->mu);
            if (st != KD_DATA_OK) {
                bt->failed = 1;
                memcpy(bt->msg, msg, sizeof msg);
                pthread_mutex_unlock(&bt->mu);
                goto finish;
            }
            bt->full[slot] = 1;
            bt->produced++;
            pthread_cond_broadcast(&bt->cv);
            pthread_mutex_unlock(&bt->mu);
        }
    }
finish:
    pthread_mutex_lock(&bt->mu);
    bt->done = 1;
    pthread_cond_broadcast(&bt->cv);
    pthread_mutex_unlock(&bt->mu);
    return NULL;
}

kd_data_status kd_batcher_start(const kd_loader_cfg *cfg, int64_t epoch_begin,
                                int64_t epoch_end, kd_batcher **out,
                                char *err, size_t errlen)
{
    *out = NULL;
    kd_batcher *bt = calloc(1, sizeof *bt);
    if (!bt)
        return kd_data_fail(err, errlen, KD_DATA_ENOMEM, "data: out of memory");
    kd_data_status st = kd_loader_new(cfg, &bt->ld, err, errlen);
    if (st == KD_DATA_OK)
        st = kd_batch_alloc(bt->ld, &bt->buf[0], err, errlen);
    if (st == KD_DATA_OK)
        st = kd_batch_alloc(bt->ld, &bt->buf[1], err, errlen);
    if (st != KD_DATA_OK) {
        kd_batch_free(&bt->buf[0]);
        kd_loader_free(bt->ld);
        free(bt);
        return st;
    }
    bt->epoch_begin = epoch_begin;
    bt->epoch_end = epoch_end;
    pthread_mutex_init(&bt->mu, NULL);
    pthread_cond_init(&bt->cv, NULL);
    if (pthread_create(&bt->th, NULL, producer, bt) != 0) {
        pthread_mutex_destroy(&bt->mu);
        pthread_cond_destroy(&bt->cv);
        kd_batch_free(&bt->buf[0]);
        kd_batch_free(&bt->buf[1]);
        kd_loader_free(bt->ld);
        free(bt);
        return kd_data_fail(err, errlen, KD_DATA_ETHREAD, "%s: cannot start the batch "
                            "thread", cfg->ds->source);
    }
    *out = bt;
    return KD_DATA_OK;
}

int kd_batcher_next(kd_batcher *bt, const kd_batch **b, char *err, size_t errlen)
{
    *b = NULL;
    pthread_mutex_lock(&bt->mu);
    if (bt->holding) {
        bt->full[(bt->consumed - 1) % 2] = 0;
        bt->holding = 0;
        pthread_cond_broadcast(&bt->cv);
    }
    int slot = (int)(bt->consumed % 2);
    while (!bt->full[slot] && !bt->done)
        pthread_cond_wait(&bt->cv, &bt->mu);
    int rc;
    if (bt->full[slot]) {
        *b = &bt->buf[slot];
        bt->consumed++;
        bt->holding = 1;
        rc = 1;
    } else if (bt->failed) {
        kd_data_fail(err, errlen, KD_DATA_EFORMAT, "%s", bt->msg);
        rc = -1;
    } else {
        rc = 0;
    }
    pthread_mutex_unlock(&bt->mu);
    return rc;
}

void kd_batcher_stop(kd_batcher *bt)
{
    if (!bt)
        return;
    pthread_mutex_lock(&bt->mu);
    bt->stop = 1;
    pthread_cond_broadcast(&bt->cv);
    pthread_mutex_unlock(&bt->mu);
    pthread_join(bt->th, NULL);
    pthread_mutex_destroy(&bt->mu);
    pthread_cond_destroy(&bt->cv);
    kd_batch_free(&bt->buf[0]);
    kd_batch_free(&bt->buf[1]);
    kd_loader_free(bt->ld);
    free(bt);
}
