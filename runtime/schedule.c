/* schedule.c — learning-rate schedules (`lr [GROUP:] ...`) and weight
 * schedules (factors in a loss: ramp, until, decay).  See optim.h.
 *
 * Epochs count from 0 within a phase.  A schedule is a value: a small
 * struct of plain numbers, copied freely; warmup(then: ...) nests by
 * levels (level[0] outermost), at most KD_LR_MAXDEPTH deep.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optim.h"

#define KD_PI 3.14159265358979323846
#define ERR(...) kdr_diag_push(d, KDR_ERROR, NULL, 0, 0, __VA_ARGS__)

static void one_level(kd_lr_sched *s, kd_lr_kind kind)
{
    memset(s, 0, sizeof *s);
    s->depth = 1;
    s->level[0].kind = kind;
    s->level[0].gamma = 1;
}

int kd_lr_constant(kd_lr_sched *s)
{
    one_level(s, KD_LR_CONSTANT);
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int kd_lr_step(kd_lr_sched *s, const double *milestones, int n, double gamma,
               kdr_diag *d)
{
    one_level(s, KD_LR_STEP);
    if (n < 0 || n > KD_LR_MAXMILESTONES) {
        ERR("step: %d milestones, at most %d are supported", n, KD_LR_MAXMILESTONES);
        return -1;
    }
    if (!(gamma > 0) || !isfinite(gamma)) {
        ERR("step: gamma must be a finite number > 0, got %g", gamma);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        double m = milestones[i];
        if (!(m >= 0) || m > 1e15 || m != floor(m)) {
            ERR("step: milestone %g is not an epoch number (an integer >= 0)", m);
            return -1;
        }
        s->level[0].milestones[i] = (int64_t)m;
    }
    s->level[0].nmilestones = n;
    s->level[0].gamma = gamma;
    qsort(s->level[0].milestones, (size_t)n, sizeof(int64_t), cmp_i64);
    return 0;
}

int kd_lr_cosine(kd_lr_sched *s, double min_lr, int64_t epochs, kdr_diag *d)
{
    one_level(s, KD_LR_COSINE);
    if (!(min_lr >= 0) || !isfinite(min_lr)) {
        ERR("cosine: min_lr must be a finite number >= 0, got %g", min_lr);
        return -1;
    }
    if (epochs < 0) {
        ERR("cosine: %lld epochs", (long long)epochs);
        return -1;
    }
    s->level[0].min_lr = min_lr;
    s->level[0].epochs = epochs;
    return 0;
}

int kd_lr_warmup(kd_lr_sched *s, int64_t epochs, const kd_lr_sched *then,
                 kdr_diag *d)
{
    kd_lr_sched inner;
    if (then)
        inner = *then;
    else
        kd_lr_constant(&inner);
    one_level(s, KD_LR_WARMUP);
    if (epochs < 0) {
        ERR("warmup: epochs must be >= 0, got %lld", (long long)epochs);
        return -1;
    }
    if (inner.depth < 1 || inner.depth + 1 > KD_LR_MAXDEPTH) {
        ERR("warmup: schedules nested more than %d deep", KD_LR_MAXDEPTH);
        return -1;
    }
    s->level[0].epochs = epochs;
    memcpy(&s->level[1], &inner.level[0], sizeof inner.level[0] * (size_t)inner.depth);
    s->depth = inner.depth + 1;
    return 0;
}

int kd_lr_exponential(kd_lr_sched *s, double gamma, kdr_diag *d)
{
    one_level(s, KD_LR_EXPONENTIAL);
    if (!(gamma > 0) || !isfinite(gamma)) {
        ERR("exponential: gamma must be a finite number > 0, got %g", gamma);
        return -1;
    }
    s->level[0].gamma = gamma;
    return 0;
}

void kd_lr_set_epochs(kd_lr_sched *s, int64_t phase_epochs)
{
    int64_t e = phase_epochs;
    for (int i = 0; i < s->depth; i++) {
        kd_lr_level *l = &s->level[i];
        if (l->kind == KD_LR_COSINE) {
            l->epochs = e < 1 ? 1 : e;
        } else if (l->kind == KD_LR_WARMUP) {
            e -= l->epochs;
        }
    }
}

/* Schedule from level `lv` on at (epoch, global step s within the level). */
static double lr_level(const kd_lr_sched *s, int lv, double base, int64_t epoch,
                       int64_t step, int64_t spe)
{
    if (lv >= s->depth)
        return base;
    const kd_lr_level *l = &s->level[lv];
    if (epoch < 0)
        epoch = 0;
    switch (l->kind) {
    case KD_LR_CONSTANT:
        return base;
    case KD_LR_STEP: {
        /* bisect_right(milestones, epoch) as MultiStepLR's closed form */
        int k = 0;
        while (k < l->nmilestones && l->milestones[k] <= epoch)
            k++;
        return base * pow(l->gamma, (double)k);
    }
    case KD_LR_COSINE: {
        if (l->epochs <= 0)
            return base;
        int64_t e = epoch < l->epochs ? epoch : l->epochs;
        return l->min_lr + (base - l->min_lr) *
               (1 + cos(KD_PI * (double)e / (double)l->epochs)) / 2;
    }
    case KD_LR_EXPONENTIAL:
        return base * pow(l->gamma, (double)epoch);
    case KD_LR_WARMUP: {
        if (epoch >= l->epochs)
            return lr_level(s, lv + 1, base, epoch - l->epochs, step, spe);
        double target = lr_level(s, lv + 1, base, 0, 0, spe);
        if (step < 0)
            step = 0;
        if (step >= spe)
            step = spe - 1;
        double done = (double)(epoch * spe + step + 1);
        return target * done / ((double)l->epochs * (double)spe);
    }
    }
    return base;
}

double kd_lr_at(const kd_lr_sched *s, double base_lr, int64_t epoch,
                int64_t step, int64_t steps_per_epoch)
{
    if (steps_per_epoch < 1)
        steps_per_epoch = 1;
    return lr_level(s, 0, base_lr, epoch, step, steps_per_epoch);
}

/* ---- weight schedules ---------------------------------------------------- */

int kd_weight_const(kd_weight_sched *w, double value)
{
    memset(w, 0, sizeof *w);
    w->kind = KD_WEIGHT_CONST;
    w->from = w->to = value;
    return 0;
}

int kd_weight_ramp(kd_weight_sched *w, double from, double to, int64_t epochs,
                   kdr_diag *d)
{
    memset(w, 0, sizeof *w);
    w->kind = KD_WEIGHT_RAMP;
    if (!isfinite(from) || !isfinite(to)) {
        ERR("ramp: from and to must be finite numbers");
        return -1;
    }
    if (epochs < 1) {
        ERR("ramp: epochs must be >= 1, got %lld", (long long)epochs);
        return -1;
    }
    w->from = from;
    w->to = to;
    w->epochs = epochs;
    return 0;
}

int kd_weight_until(kd_weight_sched *w, int64_t epoch, kdr_diag *d)
{
    memset(w, 0, sizeof *w);
    w->kind = KD_WEIGHT_UNTIL;
    if (epoch < 0) {
        ERR("until: epoch must be >= 0, got %lld", (long long)epoch);
        return -1;
    }
    w->epoch = epoch;
    return 0;
}

int kd_weight_decay(kd_weight_sched *w, double start, double factor,
                    int64_t every, kdr_diag *d)
{
    memset(w, 0, sizeof *w);
    w->kind = KD_WEIGHT_DECAY;
    if (!(start > 0) || !isfinite(start)) {
        ERR("decay: start must be a finite number > 0, got %g", start);
        return -1;
    }
    if (!(factor > 0) || !isfinite(factor)) {
        ERR("decay: factor must be a finite number > 0, got %g", factor);
        return -1;
    }
    if (every < 1) {
        ERR("decay: every must be >= 1, got %lld", (long long)every);
        return -1;
    }
    w->start = start;
    w->factor = factor;
    w->every = every;
    return 0;
}

double kd_weight_at(const kd_weight_sched *w, int64_t epoch)
{
    if (epoch < 0)
        epoch = 0;
    switch (w->kind) {
    case KD_WEIGHT_CONST:
        return w->to;
    case KD_WEIGHT_RAMP:
        if (epoch >= w->epochs)
            return w->to;
        return w->from + (w->to - w->from) * (double)epoch / (double)w->epochs;
    case KD_WEIGHT_UNTIL:
        return epoch < w->epoch ? 1.0 : 0.0;
    case KD_WEIGHT_DECAY:
        return w->start * pow(w->factor, (double)(epoch / w->every));
    }
    return 0;
}
