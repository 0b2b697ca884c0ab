/* optim.c — parameter groups and the SGD / Adam / AdamW optimizers over the
 * flat parameter buffer (see optim.h for the formulas).
 *
 * Shapes: a group is R ranges of n_r floats; the state buffers hold
 * sum(n_r) floats, packed in range order.
 *
 * float32 arithmetic reproduces torch 1.13's CPU kernels (AVX2 build, the
 * Debian package) bit for bit; test_optim.c checks this against golden
 * numbers from torch.optim.  The ops PyTorch's `_single_tensor_*` functions
 * call compute, per element:
 *   a.add(b, alpha=x)          fmaf(x, b, a)      (ATen: vec::fmadd)
 *   a.mul_(x)                  a * x
 *   a.addcmul_(b, c, value=x)  fmaf(x * b, c, a)  (a + x*b*c, contracted by gcc)
 *   a.addcdiv_(b, c, value=x)  a + x * b / c      (no fusion through a division)
 *   a.sqrt() / x               sqrtf(a) / x
 *   a.add_(x)                  a + x
 * with x rounded to float32.  fmaf is exactly rounded everywhere (hardware
 * FMA, or glibc's software fallback), so results do not depend on the CPU.
 * Scalar coefficients (1 - beta1, lr / bias_correction1, ...) are computed
 * in double first, as Python computes them.  Everything else is plain float
 * arithmetic, compiled without contraction (-std=c11 implies
 * -ffp-contract=off in gcc).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optim.h"

/* ---- parameter groups --------------------------------------------------- */

static int range_cmp(const void *a, const void *b)
{
    const kd_range *x = a, *y = b;
    return x->offset < y->offset ? -1 : x->offset > y->offset ? 1 : 0;
}

/* Sort and merge r[0..n) in place; returns the new count, or (size_t)-1 if
 * two ranges overlap. */
static size_t sort_merge(kd_range *r, size_t n)
{
    if (n == 0)
        return 0;
    qsort(r, n, sizeof *r, range_cmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (r[i].count == 0)
            continue;
        if (m > 0 && r[m - 1].offset + r[m - 1].count > r[i].offset)
            return (size_t)-1;
        if (m > 0 && r[m - 1].offset + r[m - 1].count == r[i].offset)
            r[m - 1].count += r[i].count;
        else
            r[m++] = r[i];
    }
    return m;
}

static int group_set(kd_param_group *grp, kd_range *r, size_t n, kdr_diag *d)
{
    size_t m = sort_merge(r, n);
    if (m == (size_t)-1) {
        free(r);
        kdr_diag_push(d, KDR_ERROR, NULL, 0, 0,
                      "parameter group: overlapping parameter ranges");
        return -1;
    }
    grp->ranges = r;
    grp->nranges = m;
    grp->total = 0;
    for (size_t i = 0; i < m; i++)
        grp->total += r[i].count;
    return 0;
}

int kd_group_sel_named(kd_group_sel *sel, const kd_graph *g, const char *group,
                       uint64_t trained, kdr_diag *d)
{
    memset(sel, 0, sizeof *sel);
    sel->models = trained;
    if (!group || strcmp(group, "weights") == 0)
        return 0;
    if (strcmp(group, "arch") == 0) {
        sel->arch = 1;
        return 0;
    }
    for (int i = 0; i < g->nmodels && i < 64; i++) {
        if (!g->model_names[i] || strcmp(g->model_names[i], group) != 0)
            continue;
        uint64_t bit = (uint64_t)1 << i;
        if (trained && !(trained & bit)) {
            kdr_diag_push(d, KDR_ERROR, NULL, 0, 0,
                          "optimizer group '%s': the model is not trained in this phase",
                          group);
            return -1;
        }
        sel->models = bit;
        return 0;
    }
    kdr_diag_push(d, KDR_ERROR, NULL, 0, 0,
                  "unknown optimizer group '%s' (weights, arch, or a model name)", group);
    return -1;
}

int kd_param_group_build(kd_param_group *grp, const kd_param *params,
                         int32_t nparams, const kd_group_sel *sel, kdr_diag *d)
{
    memset(grp, 0, sizeof *grp);
    kd_range *r = malloc(sizeof *r * (size_t)(nparams > 0 ? nparams : 1));
    if (!r) {
        kdr_diag_push(d, KDR_ERROR, NULL, 0, 0, "parameter group: out of memory");
        return -1;
    }
    size_t n = 0;
    for (int32_t i = 0; i < nparams; i++) {
        const kd_param *p = &params[i];
        if ((p->arch != 0) != (sel->arch != 0))
            continue;
        if (!p->trainable && !sel->include_frozen)
            continue;
        if (sel->models) {
            if (p->model < 0 || p->model >= 64 ||
                !(sel->models & ((uint64_t)1 << p->model)))
                continue;
        }
        size_t count = 1;
        if (p->shape.ndim > 0)
            for (int k = 0; k < p->shape.ndim; k++)
                count *= (size_t)p->shape.dims[k];
        else if (p->shape.ndim < 0)
            count = 0;
        r[n].offset = p->offset;
        r[n].count = count;
        n++;
    }
    return group_set(grp, r, n, d);
}

int kd_param_group_from_ranges(kd_param_group *grp, const kd_range *src,
                               size_t n, kdr_diag *d)
{
    memset(grp, 0, sizeof *grp);
    kd_range *r = malloc(sizeof *r * (n > 0 ? n : 1));
    if (!r) {
        kdr_diag_push(d, KDR_ERROR, NULL, 0, 0, "parameter group: out of memory");
        return -1;
    }
    if (n)
        memcpy(r, src, sizeof *r * n);
    return group_set(grp, r, n, d);
}

void kd_param_group_free(kd_param_group *grp)
{
    if (!grp)
        return;
    free(grp->ranges);
    memset(grp, 0, sizeof *grp);
}

int kd_param_group_overlap(const kd_param_group *a, const kd_param_group *b)
{
    size_t i = 0, j = 0;
    while (i < a->nranges && j < b->nranges) {
        const kd_range *x = &a->ranges[i], *y = &b->ranges[j];
        if (x->offset + x->count <= y->offset)
            i++;
        else if (y->offset + y->count <= x->offset)
            j++;
        else
            return 1;
    }
    return 0;
}

/* ---- configurations ----------------------------------------------------- */

kd_optim_cfg kd_optim_sgd(double lr, double momentum, double weight_decay,
                          int nesterov)
{
    kd_optim_cfg c = kd_optim_of(KD_OPTIM_SGD);
    c.lr = lr;
    c.momentum = momentum;
    c.weight_decay = weight_decay;
    c.nesterov = nesterov != 0;
    return c;
}

kd_optim_cfg kd_optim_adam(double lr, double beta1, double beta2, double eps,
                           double weight_decay)
{
    kd_optim_cfg c = kd_optim_of(KD_OPTIM_ADAM);
    c.lr = lr;
    c.beta1 = beta1;
    c.beta2 = beta2;
    c.eps = eps;
    c.weight_decay = weight_decay;
    return c;
}

kd_optim_cfg kd_optim_adamw(double lr, double beta1, double beta2, double eps,
                            double weight_decay)
{
    kd_optim_cfg c = kd_optim_adam(lr, beta1, beta2, eps, weight_decay);
    c.kind = KD_OPTIM_ADAMW;
    return c;
}

kd_optim_cfg kd_optim_of(kd_optim_kind kind)
{
    kd_optim_cfg c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    return c;
}

int kd_optim_kind_of(const char *name, kd_optim_kind *kind)
{
    static const struct { const char *n; kd_optim_kind k; } t[] = {
        { "sgd", KD_OPTIM_SGD }, { "adam", KD_OPTIM_ADAM }, { "adamw", KD_OPTIM_ADAMW },
    };
    for (size_t i = 0; name && i < sizeof t / sizeof t[0]; i++)
        if (strcmp(name, t[i].n) == 0) {
            *kind = t[i].k;
            return 0;
        }
    return -1;
}

const char *kd_optim_name(kd_optim_kind kind)
{
    switch (kind) {
    case KD_OPTIM_SGD: return "sgd";
    case KD_OPTIM_ADAM: return "adam";
    case KD_OPTIM_ADAMW: return "adamw";
    }
    return "?";
}

int kd_optim_check(const kd_optim_cfg *c, kdr_diag *d)
{
    const char *nm = kd_optim_name(c->kind);
    int bad = 0;
#define BAD(...) do { kdr_diag_push(d, KDR_ERROR, NULL, 0, 0, __VA_ARGS__); bad = 1; } while (0)
    if (c->kind != KD_OPTIM_SGD && c->kind != KD_OPTIM_ADAM && c->kind != KD_OPTIM_ADAMW) {
        BAD("unknown optimizer kind %d", (int)c->kind);
        return -1;
    }
    if (!(c->lr > 0) || !isfinite(c->lr))
        BAD("%s: lr must be a finite number > 0, got %g", nm, c->lr);
    if (!(c->weight_decay >= 0) || !isfinite(c->weight_decay))
        BAD("%s: weight_decay must be a finite number >= 0, got %g", nm, c->weight_decay);
    if (c->kind == KD_OPTIM_SGD) {
        if (!(c->momentum >= 0 && c->momentum < 1))
            BAD("sgd: momentum must be in [0, 1), got %g", c->momentum);
        if (c->nesterov && !(c->momentum > 0))
            BAD("sgd: nesterov needs a momentum > 0");
    } else {
        if (!(c->beta1 >= 0 && c->beta1 < 1))
            BAD("%s: betas[0] must be in [0, 1), got %g", nm, c->beta1);
        if (!(c->beta2 >= 0 && c->beta2 < 1))
            BAD("%s: betas[1] must be in [0, 1), got %g", nm, c->beta2);
        if (!(c->eps > 0) || !isfinite(c->eps))
            BAD("%s: eps must be a finite number > 0, got %g", nm, c->eps);
    }
#undef BAD
    return bad ? -1 : 0;
}

/* ---- optimizers --------------------------------------------------------- */

struct kd_optim {
    kd_optim_cfg cfg;
    kd_param_group grp;
    int64_t steps;
    int nstate;
    float *state[2];            /* sgd: momentum; adam: m, v */
};

kd_optim *kd_optim_new(const kd_optim_cfg *cfg, const kd_param_group *grp,
                       kdr_diag *d)
{
    if (kd_optim_check(cfg, d) != 0)
        return NULL;
    kd_optim *o = calloc(1, sizeof *o);
    if (!o)
        goto oom;
    o->cfg = *cfg;
    o->grp.nranges = grp->nranges;
    o->grp.total = grp->total;
    o->grp.ranges = malloc(sizeof *grp->ranges * (grp->nranges ? grp->nranges : 1));
    if (!o->grp.ranges)
        goto oom;
    if (grp->nranges)
        memcpy(o->grp.ranges, grp->ranges, sizeof *grp->ranges * grp->nranges);
    o->nstate = cfg->kind == KD_OPTIM_SGD ? (cfg->momentum != 0 ? 1 : 0) : 2;
    for (int i = 0; i < o->nstate; i++) {
        o->state[i] = calloc(grp->total ? grp->total : 1, sizeof(float));
        if (!o->state[i])
            goto oom;
    }
    return o;
oom:
    kdr_diag_push(d, KDR_ERROR, NULL, 0, 0, "%s optimizer: out of memory (%zu parameters)",
                  kd_optim_name(cfg->kind), grp->total);
    kd_optim_free(o);
    return NULL;
}

void kd_optim_free(kd_optim *o)
{
    if (!o)
        return;
    free(o->grp.ranges);
    free(o->state[0]);
    free(o->state[1]);
    free(o);
}

void kd_optim_reset(kd_optim *o)
{
    o->steps = 0;
    for (int i = 0; i < o->nstate; i++)
        memset(o->state[i], 0, sizeof(float) * o->grp.total);
}

const kd_optim_cfg *kd_optim_config(const kd_optim *o) { return &o->cfg; }
const kd_param_group *kd_optim_group(const kd_optim *o) { return &o->grp; }
int64_t kd_optim_steps(const kd_optim *o) { return o->steps; }
void kd_optim_set_steps(kd_optim *o, int64_t steps) { o->steps = steps; }
int kd_optim_nstate(const kd_optim *o) { return o->nstate; }

float *kd_optim_state(kd_optim *o, int i, const char **name)
{
    if (i < 0 || i >= o->nstate)
        return NULL;
    if (name)
        *name = o->cfg.kind == KD_OPTIM_SGD ? "momentum_buffer"
                : i == 0 ? "exp_avg" : "exp_avg_sq";
    return o->state[i];
}

/* On x86-64, a clone of each kernel compiled for FMA hardware (picked at
 * load time) turns fmaf() into one instruction instead of a libm call; the
 * results are the same, fmaf being exactly rounded either way. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define KD_FMA_CLONES __attribute__((target_clones("fma", "default")))
#else
#define KD_FMA_CLONES
#endif

/* SGD over one range.  p, g: the range in the flat buffers; b: its part of
 * the momentum buffer (NULL without momentum). */
KD_FMA_CLONES static void sgd_range(float *restrict p, const float *restrict g,
                      float *restrict b, int64_t n, float wd, int has_wd,
                      float mu, int first, int nesterov, float neg_lr)
{
    int64_t i;
#pragma omp parallel for schedule(static)
    for (i = 0; i < n; i++) {
        float d = g[i];
        if (has_wd)
            d = fmaf(wd, p[i], d);              /* d_p.add(param, alpha=wd) */
        if (b) {
            float bi;
            if (first)
                bi = d;                         /* clone(d_p) */
            else
                bi = b[i] * mu + d;             /* buf.mul_(mu).add_(d_p, alpha=1) */
            b[i] = bi;
            d = nesterov ? fmaf(mu, bi, d) : bi; /* d_p.add(buf, alpha=mu) */
        }
        p[i] = fmaf(neg_lr, d, p[i]);           /* param.add_(d_p, alpha=-lr) */
    }
}

/* Adam / AdamW over one range. */
KD_FMA_CLONES static void adam_range(float *restrict p, const float *restrict g,
                       float *restrict m, float *restrict v, int64_t n,
                       int coupled_wd, float wd, float decay_mul, int decoupled,
                       float beta1, float one_m_beta1, float beta2,
                       float one_m_beta2, float bc2_sqrt, float eps,
                       float neg_step)
{
    int64_t i;
#pragma omp parallel for schedule(static)
    for (i = 0; i < n; i++) {
        float gi = g[i];
        float pi = p[i];
        if (decoupled)
            pi = pi * decay_mul;                /* param.mul_(1 - lr*wd) */
        if (coupled_wd)
            gi = fmaf(wd, pi, gi);              /* grad.add(param, alpha=wd) */
        float mi = m[i] * beta1;                /* exp_avg.mul_(beta1) */
        mi = fmaf(one_m_beta1, gi, mi);         /* .add_(grad, alpha=1-beta1) */
        float vi = v[i] * beta2;                /* exp_avg_sq.mul_(beta2) */
        vi = fmaf(one_m_beta2 * gi, gi, vi);    /* .addcmul_(g, g, value=1-beta2) */
        m[i] = mi;
        v[i] = vi;
        float den = sqrtf(vi) / bc2_sqrt;       /* exp_avg_sq.sqrt() / bc2_sqrt */
        den = den + eps;                        /* .add_(eps) */
        p[i] = pi + neg_step * mi / den;        /* addcdiv_(m, den, value=-step_size) */
    }
}

void kd_optim_step(kd_optim *o, float *params, const float *grads, double lr)
{
    const kd_optim_cfg *c = &o->cfg;
    int first = o->steps == 0;
    o->steps++;
    size_t off = 0;             /* into the packed state */
    if (c->kind == KD_OPTIM_SGD) {
        float wd = (float)c->weight_decay;
        float mu = (float)c->momentum;
        float neg_lr = (float)-lr;
        for (size_t r = 0; r < o->grp.nranges; r++) {
            const kd_range *rg = &o->grp.ranges[r];
            sgd_range(params + rg->offset, grads + rg->offset,
                      o->nstate ? o->state[0] + off : NULL, (int64_t)rg->count,
                      wd, c->weight_decay != 0, mu, first, c->nesterov, neg_lr);
            off += rg->count;
        }
        return;
    }
    /* Adam, AdamW: scalars in double as torch computes them in Python. */
    double t = (double)o->steps;
    double bc1 = 1.0 - pow(c->beta1, t);
    double bc2 = 1.0 - pow(c->beta2, t);
    double step_size = lr / bc1;
    double bc2_sqrt = sqrt(bc2);
    int decoupled = c->kind == KD_OPTIM_ADAMW;
    float decay_mul = (float)(1.0 - lr * c->weight_decay);
    for (size_t r = 0; r < o->grp.nranges; r++) {
        const kd_range *rg = &o->grp.ranges[r];
        adam_range(params + rg->offset, grads + rg->offset, o->state[0] + off,
                   o->state[1] + off, (int64_t)rg->count,
                   !decoupled && c->weight_decay != 0, (float)c->weight_decay,
                   decay_mul, decoupled, (float)c->beta1, (float)(1.0 - c->beta1),
                   (float)c->beta2, (float)(1.0 - c->beta2), (float)bc2_sqrt,
                   (float)c->eps, (float)-step_size);
        off += rg->count;
    }
}
