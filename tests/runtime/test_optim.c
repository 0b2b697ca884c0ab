/* test_optim.c — parameter groups, SGD / Adam / AdamW, lr and weight
 * schedules.
 *
 * Two independent checks of every optimizer:
 *   - a double-precision reference written here from the formulas of the
 *     PyTorch documentation (torch.optim.SGD / Adam / AdamW pseudo-code);
 *   - golden numbers produced by torch.optim itself (torch 1.13, CPU),
 *     tests/runtime/optim_golden.txt, written by
 *     tests/runtime/gen_optim_golden.py (see its header to regenerate).
 *     Compared bit for bit: 19 values x 5 steps written out, and 4099
 *     values x 8 steps as hashes of the parameters after each step.
 * Schedules are checked at boundary epochs by hand and against the lr
 * values torch.optim.lr_scheduler produced (same golden file).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "../unit.h"
#include "runtime/optim.h"

/* ---- helpers ------------------------------------------------------------ */

static char msgs[4096];

static void collect(kdr_diag *d)
{
    size_t o = 0;
    msgs[0] = 0;
    for (size_t i = 0; i < d->count && o + 300 < sizeof msgs; i++)
        o += (size_t)snprintf(msgs + o, sizeof msgs - o, "%s%s", i ? "|" : "",
                              d->msgs[i].text);
}

/* Distance in float32 ulps (same sign assumed for close values). */
static int64_t ulps(float a, float b)
{
    if (a == b)
        return 0;
    int32_t ia, ib;
    memcpy(&ia, &a, 4);
    memcpy(&ib, &b, 4);
    if (ia < 0) ia = INT32_MIN - ia;
    if (ib < 0) ib = INT32_MIN - ib;
    int64_t dlt = (int64_t)ia - (int64_t)ib;
    return dlt < 0 ? -dlt : dlt;
}

/* Deterministic inputs. */
static uint64_t rng_state;
static float urand(float lo, float hi)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    double u = (double)(rng_state >> 11) / 9007199254740992.0;
    return (float)(lo + (hi - lo) * u);
}

/* ---- double reference (PyTorch documentation formulas) ----------------- */

typedef struct ref_state {
    double m[64], v[64], b[64];
    int t;
} ref_state;

static void ref_step(const kd_optim_cfg *c, ref_state *s, double *p, const float *g,
                     int n, double lr)
{
    s->t++;
    for (int i = 0; i < n; i++) {
        double gi = g[i];
        if (c->kind == KD_OPTIM_SGD) {
            if (c->weight_decay != 0)
                gi += c->weight_decay * p[i];
            if (c->momentum != 0) {
                s->b[i] = s->t > 1 ? c->momentum * s->b[i] + gi : gi;
                gi = c->nesterov ? gi + c->momentum * s->b[i] : s->b[i];
            }
            p[i] -= lr * gi;
        } else {
            if (c->kind == KD_OPTIM_ADAMW)
                p[i] -= lr * c->weight_decay * p[i];
            else if (c->weight_decay != 0)
                gi += c->weight_decay * p[i];
            s->m[i] = c->beta1 * s->m[i] + (1 - c->beta1) * gi;
            s->v[i] = c->beta2 * s->v[i] + (1 - c->beta2) * gi * gi;
            double mh = s->m[i] / (1 - pow(c->beta1, s->t));
            double vh = s->v[i] / (1 - pow(c->beta2, s->t));
            p[i] -= lr * mh / (sqrt(vh) + c->eps);
        }
    }
}

/* Run cfg for `steps` steps on n floats placed in two ranges of a larger
 * buffer (with untouched guard floats around them), against the double
 * reference.  Returns the largest relative difference. */
static double run_vs_ref(const kd_optim_cfg *cfg, int n, int steps, float gscale,
                         int vary_lr)
{
    enum { PAD = 3 };
    float buf[PAD + 64 + PAD + 5], grad[PAD + 64 + PAD + 5];
    double p[64];
    ref_state rs;
    memset(&rs, 0, sizeof rs);
    /* layout: [guard PAD][first half][guard 5][second half][guard PAD] */
    int h = n / 2;
    size_t off1 = PAD, off2 = PAD + (size_t)h + 5;
    kd_range r[2] = { { off2, (size_t)(n - h) }, { off1, (size_t)h } };
    kd_param_group grp;
    kdr_diag d;
    kdr_diag_init(&d);
    CU_ASSERT_EQUAL_FATAL(kd_param_group_from_ranges(&grp, r, 2, &d), 0);
    CU_ASSERT_EQUAL(grp.total, (size_t)n);
    kd_optim *o = kd_optim_new(cfg, &grp, &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    for (size_t i = 0; i < sizeof buf / sizeof buf[0]; i++) {
        buf[i] = 1234.5f;
        grad[i] = 99.0f;
    }
    for (int i = 0; i < n; i++) {
        size_t at = i < h ? off1 + (size_t)i : off2 + (size_t)(i - h);
        buf[at] = urand(-1, 1);
        p[i] = buf[at];
    }
    double worst = 0;
    for (int k = 1; k <= steps; k++) {
        float g[64];
        for (int i = 0; i < n; i++) {
            g[i] = urand(-1, 1) * gscale;
            size_t at = i < h ? off1 + (size_t)i : off2 + (size_t)(i - h);
            grad[at] = g[i];
        }
        double lr = vary_lr ? cfg->lr * (1.0 - 0.1 * k) : cfg->lr;
        kd_optim_step(o, buf, grad, lr);
        ref_step(cfg, &rs, p, g, n, lr);
        for (int i = 0; i < n; i++) {
            size_t at = i < h ? off1 + (size_t)i : off2 + (size_t)(i - h);
            double e = fabs(buf[at] - p[i]) / (fabs(p[i]) > 1e-3 ? fabs(p[i]) : 1e-3);
            if (e > worst)
                worst = e;
        }
    }
    /* the guards are untouched */
    for (int i = 0; i < PAD; i++) {
        CU_ASSERT_EQUAL(buf[i], 1234.5f);
        CU_ASSERT_EQUAL(buf[off2 + (size_t)(n - h) + (size_t)i], 1234.5f);
    }
    for (int i = 0; i < 5; i++)
        CU_ASSERT_EQUAL(buf[off1 + (size_t)h + (size_t)i], 1234.5f);
    CU_ASSERT_EQUAL(kd_optim_steps(o), steps);
    kd_optim_free(o);
    kd_param_group_free(&grp);
    kdr_diag_free(&d);
    return worst;
}

#define EXPECT_REF(cfg, n, steps, gscale, vary, tol) do { \
        double w_ = run_vs_ref(&(cfg), n, steps, gscale, vary); \
        if (!(w_ <= (tol))) \
            fprintf(stderr, "\n  %s: worst relative error %g > %g\n", #cfg, w_, (double)(tol)); \
        CU_ASSERT(w_ <= (tol)); \
    } while (0)

static void test_sgd_reference(void)
{
    rng_state = 1;
    kd_optim_cfg plain = kd_optim_sgd(0.1, 0, 0, 0);
    kd_optim_cfg mom = kd_optim_sgd(0.05, 0.9, 5e-4, 0);
    kd_optim_cfg nest = kd_optim_sgd(0.1, 0.9, 1e-4, 1);
    kd_optim_cfg wd_only = kd_optim_sgd(0.5, 0, 0.1, 0);
    EXPECT_REF(plain, 17, 6, 1.0f, 0, 1e-5);
    EXPECT_REF(mom, 17, 8, 1.0f, 1, 1e-5);
    EXPECT_REF(nest, 33, 8, 1.0f, 1, 1e-5);
    EXPECT_REF(wd_only, 5, 4, 1.0f, 0, 1e-5);
}

static void test_adam_reference(void)
{
    rng_state = 2;
    kd_optim_cfg def = kd_optim_adam(1e-3, 0.9, 0.999, 1e-8, 0);
    kd_optim_cfg l2 = kd_optim_adam(0.01, 0.8, 0.99, 1e-6, 0.01);
    kd_optim_cfg tiny = kd_optim_adam(1e-3, 0.9, 0.999, 1e-8, 0);
    EXPECT_REF(def, 17, 8, 1.0f, 0, 1e-5);
    EXPECT_REF(l2, 33, 8, 1.0f, 1, 1e-5);
    /* gradients of the order of eps: eps must be outside the sqrt */
    EXPECT_REF(tiny, 9, 6, 1e-8f, 0, 1e-5);
}

static void test_adamw_reference(void)
{
    rng_state = 3;
    kd_optim_cfg def = kd_optim_adamw(1e-3, 0.9, 0.999, 1e-8, 0.01);
    kd_optim_cfg strong = kd_optim_adamw(0.05, 0.5, 0.9, 1e-8, 0.1);
    EXPECT_REF(def, 17, 8, 1.0f, 0, 1e-5);
    EXPECT_REF(strong, 33, 8, 1.0f, 1, 1e-5);
}

/* A wrong formula must be caught by the reference: Adam without bias
 * correction differs by far more than the tolerance at step 1. */
static void test_reference_is_sensitive(void)
{
    kd_optim_cfg c = kd_optim_adam(1e-3, 0.9, 0.999, 1e-8, 0);
    ref_state rs;
    memset(&rs, 0, sizeof rs);
    double p[1] = { 0.5 };
    float g[1] = { 0.25f };
    ref_step(&c, &rs, p, g, 1, 1e-3);
    /* first Adam step: p - lr * sign(g) (up to eps) */
    CU_ASSERT_DOUBLE_EQUAL(p[0], 0.5 - 1e-3, 1e-9);
    kd_optim_cfg s = kd_optim_sgd(0.1, 0.9, 0, 0);
    memset(&rs, 0, sizeof rs);
    p[0] = 1;
    ref_step(&s, &rs, p, g, 1, 0.1);      /* b = g */
    ref_step(&s, &rs, p, g, 1, 0.1);      /* b = 0.9 g + g */
    CU_ASSERT_DOUBLE_EQUAL(p[0], 1 - 0.1 * 0.25 - 0.1 * 1.9 * 0.25, 1e-12);
}

/* ---- torch golden ---------------------------------------------------------- */

static char *golden;

static int load_golden(void)
{
    golden = kd_unit_slurp(KD_SRC("tests/runtime/optim_golden.txt"), NULL);
    return golden ? 0 : -1;
}

static int free_golden(void)
{
    free(golden);
    golden = NULL;
    return 0;
}

/* The next line starting with `tag` ("p3 ", "case ") after *pos. */
static const char *find_line(const char *from, const char *tag)
{
    size_t tl = strlen(tag);
    for (const char *s = from; s && *s;) {
        if (strncmp(s, tag, tl) == 0)
            return s + tl;
        s = strchr(s, '\n');
        if (s)
            s++;
    }
    return NULL;
}

static int read_floats(const char *s, float *v, int max)
{
    int n = 0;
    char *end;
    while (s && *s && *s != '\n' && n < max) {
        double x = strtod(s, &end);
        if (end == s)
            break;
        v[n++] = (float)x;
        s = end;
        while (*s == ' ')
            s++;
    }
    return n;
}

static double field(const char *line, const char *key)
{
    char k[64];
    snprintf(k, sizeof k, " %s=", key);
    const char *s = strstr(line, k);
    const char *eol = strchr(line, '\n');
    if (!s || (eol && s > eol))
        return NAN;
    return strtod(s + strlen(k), NULL);
}

static void test_torch_golden(void)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(golden);
    int ncases = 0;
    int64_t total = 0, exact = 0, worst = 0;
    for (const char *c = find_line(golden, "case "); c; c = find_line(c, "case ")) {
        char name[64], kind[16];
        CU_ASSERT_EQUAL_FATAL(sscanf(c, "%63s %15s", name, kind), 2);
        int n = (int)field(c, "n"), steps = (int)field(c, "steps");
        CU_ASSERT_FATAL(n > 0 && n <= 64 && steps > 0);
        kd_optim_kind k;
        CU_ASSERT_EQUAL_FATAL(kd_optim_kind_of(kind, &k), 0);
        kd_optim_cfg cfg = kd_optim_of(k);
        cfg.lr = field(c, "lr");
        cfg.weight_decay = field(c, "weight_decay");
        if (k == KD_OPTIM_SGD) {
            cfg.momentum = field(c, "momentum");
            cfg.nesterov = (int)field(c, "nesterov");
        } else {
            cfg.beta1 = field(c, "beta1");
            cfg.beta2 = field(c, "beta2");
            cfg.eps = field(c, "eps");
        }
        /* the parameters in the middle of a bigger buffer */
        float params[80], grads[80], want[64];
        for (int i = 0; i < 80; i++)
            params[i] = grads[i] = 7.0f;
        kd_range r = { 8, (size_t)n };
        kd_param_group grp;
        kdr_diag d;
        kdr_diag_init(&d);
        CU_ASSERT_EQUAL_FATAL(kd_param_group_from_ranges(&grp, &r, 1, &d), 0);
        kd_optim *o = kd_optim_new(&cfg, &grp, &d);
        CU_ASSERT_PTR_NOT_NULL_FATAL(o);
        CU_ASSERT_EQUAL(read_floats(find_line(c, "p0 "), params + 8, n), n);
        int64_t case_worst = 0;
        for (int s = 1; s <= steps; s++) {
            char tag[16];
            snprintf(tag, sizeof tag, "lr%d ", s);
            const char *l = find_line(c, tag);
            CU_ASSERT_PTR_NOT_NULL_FATAL(l);
            double lr = strtod(l, NULL);
            snprintf(tag, sizeof tag, "g%d ", s);
            CU_ASSERT_EQUAL(read_floats(find_line(c, tag), grads + 8, n), n);
            snprintf(tag, sizeof tag, "p%d ", s);
            CU_ASSERT_EQUAL(read_floats(find_line(c, tag), want, n), n);
            kd_optim_step(o, params, grads, lr);
            for (int i = 0; i < n; i++) {
                int64_t u = ulps(params[8 + i], want[i]);
                total++;
                exact += u == 0;
                if (u > case_worst)
                    case_worst = u;
            }
        }
        if (case_worst > 0)
            fprintf(stderr, "\n  torch golden %s: %lld ulps apart\n", name,
                    (long long)case_worst);
        /* the same float32 operations in the same order: bit for bit */
        CU_ASSERT_EQUAL(case_worst, 0);
        if (case_worst > worst)
            worst = case_worst;
        CU_ASSERT_EQUAL(params[7], 7.0f);
        CU_ASSERT_EQUAL(params[8 + n], 7.0f);
        kd_optim_free(o);
        kd_param_group_free(&grp);
        kdr_diag_free(&d);
        ncases++;
    }
    CU_ASSERT_EQUAL(ncases, 8);
    fprintf(stderr, "\n  torch golden: %d cases, %lld values, %lld bit-exact, worst %lld ulps ",
            ncases, (long long)total, (long long)exact, (long long)worst);
}

/* The generator of gen_optim_golden.py (class Lcg, vec, f32). */
static uint64_t lcg_s;
static float lcg_f32(double lo, double hi, double scale)
{
    lcg_s = lcg_s * 6364136223846793005ULL + 1442695040888963407ULL;
    double u = (double)(lcg_s >> 11) / 9007199254740992.0;
    float v = (float)(lo + (hi - lo) * u);
    return (float)((double)v * scale);
}

static uint64_t fnv1a(const float *v, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, &v[i], 4);
        for (int k = 0; k < 4; k++) {       /* little-endian bytes */
            h ^= (b >> (8 * k)) & 0xff;
            h *= 0x100000001b3ULL;
        }
    }
    return h;
}

static void test_torch_golden_big(void)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(golden);
    int ncases = 0;
    for (const char *b = find_line(golden, "big "); b; b = find_line(b, "big ")) {
        char name[64], tag[80];
        CU_ASSERT_EQUAL_FATAL(sscanf(b, "%63s", name), 1);
        snprintf(tag, sizeof tag, "case %s ", name);
        const char *c = find_line(golden, tag);
        CU_ASSERT_PTR_NOT_NULL_FATAL(c);
        char kind[16];
        CU_ASSERT_EQUAL_FATAL(sscanf(c, "%15s", kind), 1);
        kd_optim_kind k;
        CU_ASSERT_EQUAL_FATAL(kd_optim_kind_of(kind, &k), 0);
        kd_optim_cfg cfg = kd_optim_of(k);
        cfg.lr = field(c, "lr");
        cfg.weight_decay = field(c, "weight_decay");
        cfg.momentum = k == KD_OPTIM_SGD ? field(c, "momentum") : 0;
        cfg.nesterov = k == KD_OPTIM_SGD ? (int)field(c, "nesterov") : 0;
        if (k != KD_OPTIM_SGD) {
            cfg.beta1 = field(c, "beta1");
            cfg.beta2 = field(c, "beta2");
            cfg.eps = field(c, "eps");
        }
        int n = (int)field(b, "n"), steps = (int)field(b, "steps");
        double gscale = field(b, "gscale");
        lcg_s = (uint64_t)field(b, "seed");
        CU_ASSERT_FATAL(n > 0 && n <= 100000 && steps > 0 && steps <= 64);
        float *p = malloc(sizeof(float) * (size_t)n), *g = malloc(sizeof(float) * (size_t)n);
        CU_ASSERT_FATAL(p && g);
        kd_range r = { 0, (size_t)n };
        kd_param_group grp;
        kdr_diag d;
        kdr_diag_init(&d);
        CU_ASSERT_EQUAL_FATAL(kd_param_group_from_ranges(&grp, &r, 1, &d), 0);
        kd_optim *o = kd_optim_new(&cfg, &grp, &d);
        CU_ASSERT_PTR_NOT_NULL_FATAL(o);
        for (int i = 0; i < n; i++)
            p[i] = lcg_f32(-1, 1, 1);
        const char *lrs = strstr(b, " lrs=");
        CU_ASSERT_PTR_NOT_NULL_FATAL(lrs);
        lrs += 5;
        const char *hs = strchr(lrs, ' ');
        int matched = 0;
        for (int s = 1; s <= steps; s++) {
            char *end;
            double lr = strtod(lrs, &end);
            CU_ASSERT_FATAL(end != lrs);
            lrs = *end == ',' ? end + 1 : end;
            for (int i = 0; i < n; i++)
                g[i] = lcg_f32(-1, 1, gscale);
            kd_optim_step(o, p, g, lr);
            unsigned long long want = strtoull(hs, &end, 16);
            CU_ASSERT_FATAL(end != hs);
            hs = end;
            unsigned long long got = fnv1a(p, (size_t)n);
            if (got != want)
                fprintf(stderr, "\n  torch golden big %s step %d: hash %016llx, torch %016llx\n",
                        name, s, got, want);
            matched += got == want;
        }
        CU_ASSERT_EQUAL(matched, steps);
        kd_optim_free(o);
        kd_param_group_free(&grp);
        kdr_diag_free(&d);
        free(p);
        free(g);
        ncases++;
    }
    CU_ASSERT_EQUAL(ncases, 8);
}

/* ---- groups, state, configuration -------------------------------------- */

static kd_param mkparam(size_t off, int64_t a, int64_t b, int model, int arch, int trainable)
{
    kd_param p;
    memset(&p, 0, sizeof p);
    p.name = "x";
    p.offset = off;
    p.shape.ndim = b ? 2 : 1;
    p.shape.dims[0] = a;
    p.shape.dims[1] = b;
    p.model = model;
    p.arch = arch;
    p.trainable = trainable;
    return p;
}

static void test_groups(void)
{
    /* model 0: [0,6) [6,10)   model 1 (frozen teacher): [10,30)
     * model 2: [30,34) arch [34,37) [40,48) */
    kd_param ps[] = {
        mkparam(0, 2, 3, 0, 0, 1), mkparam(6, 4, 0, 0, 0, 1),
        mkparam(10, 4, 5, 1, 0, 0), mkparam(30, 4, 0, 2, 0, 1),
        mkparam(34, 3, 0, 2, 1, 1), mkparam(40, 2, 4, 0, 1, 1),
    };
    kdr_diag d;
    kdr_diag_init(&d);
    kd_param_group all, m0, arch, m1, m1f;
    kd_group_sel sel = { 0, 0, 0 };
    CU_ASSERT_EQUAL(kd_param_group_build(&all, ps, 6, &sel, &d), 0);
    CU_ASSERT_EQUAL(all.nranges, 2);              /* [0,10) merged, [30,34) */
    CU_ASSERT_EQUAL(all.ranges[0].offset, 0);
    CU_ASSERT_EQUAL(all.ranges[0].count, 10);
    CU_ASSERT_EQUAL(all.ranges[1].offset, 30);
    CU_ASSERT_EQUAL(all.total, 14);
    sel.models = 1;                               /* model 0 */
    CU_ASSERT_EQUAL(kd_param_group_build(&m0, ps, 6, &sel, &d), 0);
    CU_ASSERT_EQUAL(m0.nranges, 1);
    CU_ASSERT_EQUAL(m0.total, 10);
    sel.models = 0;
    sel.arch = 1;
    CU_ASSERT_EQUAL(kd_param_group_build(&arch, ps, 6, &sel, &d), 0);
    CU_ASSERT_EQUAL(arch.nranges, 2);
    CU_ASSERT_EQUAL(arch.total, 11);
    sel.arch = 0;
    sel.models = 2;                               /* the frozen teacher */
    CU_ASSERT_EQUAL(kd_param_group_build(&m1, ps, 6, &sel, &d), 0);
    CU_ASSERT_EQUAL(m1.total, 0);
    sel.include_frozen = 1;
    CU_ASSERT_EQUAL(kd_param_group_build(&m1f, ps, 6, &sel, &d), 0);
    CU_ASSERT_EQUAL(m1f.total, 20);
    CU_ASSERT_EQUAL(kd_param_group_overlap(&all, &arch), 0);
    CU_ASSERT_EQUAL(kd_param_group_overlap(&all, &m0), 1);
    CU_ASSERT_EQUAL(kd_param_group_overlap(&m1f, &all), 0);
    CU_ASSERT_EQUAL(d.count, 0);

    /* an empty group is valid and stepping it does nothing */
    kd_optim_cfg c = kd_optim_sgd(0.1, 0.9, 0, 0);
    kd_optim *o = kd_optim_new(&c, &m1, &d);
    CU_ASSERT_PTR_NOT_NULL(o);
    float p[1] = { 3 }, g[1] = { 1 };
    kd_optim_step(o, p, g, 0.1);
    CU_ASSERT_EQUAL(p[0], 3.0f);
    kd_optim_free(o);

    kd_range bad[2] = { { 0, 10 }, { 5, 10 } };
    kd_param_group x;
    CU_ASSERT_EQUAL(kd_param_group_from_ranges(&x, bad, 2, &d), -1);
    collect(&d);
    CU_ASSERT_STRING_EQUAL(msgs, "parameter group: overlapping parameter ranges");

    kd_param_group_free(&all);
    kd_param_group_free(&m0);
    kd_param_group_free(&arch);
    kd_param_group_free(&m1);
    kd_param_group_free(&m1f);
    kdr_diag_free(&d);
}

static void test_group_names(void)
{
    kd_graph *g = kd_graph_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    g->nmodels = 3;
    g->model_names[0] = "teacher";
    g->model_names[1] = "student";
    g->model_names[2] = "assistant";
    kdr_diag d;
    kdr_diag_init(&d);
    kd_group_sel s;
    uint64_t trained = 2 | 4;        /* student, assistant */
    CU_ASSERT_EQUAL(kd_group_sel_named(&s, g, NULL, trained, &d), 0);
    CU_ASSERT_EQUAL(s.arch, 0);
    CU_ASSERT_EQUAL(s.models, trained);
    CU_ASSERT_EQUAL(kd_group_sel_named(&s, g, "weights", trained, &d), 0);
    CU_ASSERT_EQUAL(s.models, trained);
    CU_ASSERT_EQUAL(kd_group_sel_named(&s, g, "arch", trained, &d), 0);
    CU_ASSERT_EQUAL(s.arch, 1);
    CU_ASSERT_EQUAL(kd_group_sel_named(&s, g, "assistant", trained, &d), 0);
    CU_ASSERT_EQUAL(s.arch, 0);
    CU_ASSERT_EQUAL(s.models, 4);
    CU_ASSERT_EQUAL(d.count, 0);
    CU_ASSERT_EQUAL(kd_group_sel_named(&s, g, "teacher", trained, &d), -1);
    CU_ASSERT_EQUAL(kd_group_sel_named(&s, g, "studnet", trained, &d), -1);
    collect(&d);
    KD_ASSERT_STR_EQ(msgs,
        "optimizer group 'teacher': the model is not trained in this phase|"
        "unknown optimizer group 'studnet' (weights, arch, or a model name)");
    kdr_diag_free(&d);
    kd_graph_free(g);
}

static void test_config_checks(void)
{
    kdr_diag d;
    kd_optim_cfg c;
    kd_optim_kind k;
    CU_ASSERT_EQUAL(kd_optim_kind_of("adamw", &k), 0);
    CU_ASSERT_EQUAL(k, KD_OPTIM_ADAMW);
    CU_ASSERT_EQUAL(kd_optim_kind_of("rmsprop", &k), -1);
    CU_ASSERT_STRING_EQUAL(kd_optim_name(KD_OPTIM_SGD), "sgd");

    c = kd_optim_of(KD_OPTIM_ADAMW);
    CU_ASSERT_EQUAL(c.kind, KD_OPTIM_ADAMW);
    CU_ASSERT_DOUBLE_EQUAL(c.lr, 0, 0);   /* no default here: the builtin's, via the plan */

    struct { kd_optim_cfg c; const char *want; } cases[] = {
        { kd_optim_of(KD_OPTIM_SGD), "sgd: lr must be a finite number > 0, got 0" },
        { kd_optim_sgd(0.1, 1.0, 0, 0), "sgd: momentum must be in [0, 1), got 1" },
        { kd_optim_sgd(0.1, 0, 0, 1), "sgd: nesterov needs a momentum > 0" },
        { kd_optim_sgd(0.1, 0.9, -1, 0), "sgd: weight_decay must be a finite number >= 0, got -1" },
        { kd_optim_adam(1e-3, 1.0, 0.999, 1e-8, 0), "adam: betas[0] must be in [0, 1), got 1" },
        { kd_optim_adamw(1e-3, 0.9, -0.5, 1e-8, 0), "adamw: betas[1] must be in [0, 1), got -0.5" },
        { kd_optim_adam(1e-3, 0.9, 0.999, 0, 0), "adam: eps must be a finite number > 0, got 0" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kdr_diag_init(&d);
        kd_param_group grp = { NULL, 0, 0 };
        CU_ASSERT_PTR_NULL(kd_optim_new(&cases[i].c, &grp, &d));
        collect(&d);
        KD_ASSERT_STR_EQ(msgs, cases[i].want);
        kdr_diag_free(&d);
    }
    kdr_diag_init(&d);
    c = kd_optim_sgd(0.1, 0.9, 5e-4, 1);
    CU_ASSERT_EQUAL(kd_optim_check(&c, &d), 0);
    CU_ASSERT_EQUAL(d.count, 0);
    kdr_diag_free(&d);
}

/* State buffers, reset, and resuming from saved state. */
static void test_state_and_reset(void)
{
    kdr_diag d;
    kdr_diag_init(&d);
    kd_range r = { 0, 8 };
    kd_param_group grp;
    CU_ASSERT_EQUAL_FATAL(kd_param_group_from_ranges(&grp, &r, 1, &d), 0);
    kd_optim_cfg c = kd_optim_adam(0.01, 0.9, 0.999, 1e-8, 0);
    kd_optim *a = kd_optim_new(&c, &grp, &d), *b = kd_optim_new(&c, &grp, &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(kd_optim_nstate(a), 2);
    const char *nm;
    CU_ASSERT_PTR_NOT_NULL(kd_optim_state(a, 1, &nm));
    CU_ASSERT_STRING_EQUAL(nm, "exp_avg_sq");
    CU_ASSERT_PTR_NULL(kd_optim_state(a, 2, &nm));
    float pa[8], pb[8], g[8];
    rng_state = 9;
    for (int i = 0; i < 8; i++)
        pa[i] = pb[i] = urand(-1, 1);
    for (int s = 0; s < 3; s++) {
        for (int i = 0; i < 8; i++)
            g[i] = urand(-1, 1);
        kd_optim_step(a, pa, g, 0.01);
    }
    /* b resumes from a's saved state and step count: identical from then on */
    memcpy(pb, pa, sizeof pa);
    memcpy(kd_optim_state(b, 0, NULL), kd_optim_state(a, 0, NULL), 8 * sizeof(float));
    memcpy(kd_optim_state(b, 1, NULL), kd_optim_state(a, 1, NULL), 8 * sizeof(float));
    kd_optim_set_steps(b, kd_optim_steps(a));
    for (int s = 0; s < 3; s++) {
        for (int i = 0; i < 8; i++)
            g[i] = urand(-1, 1);
        kd_optim_step(a, pa, g, 0.005);
        kd_optim_step(b, pb, g, 0.005);
    }
    CU_ASSERT_EQUAL(memcmp(pa, pb, sizeof pa), 0);
    /* after a reset, a behaves as a fresh optimizer */
    kd_optim_reset(a);
    CU_ASSERT_EQUAL(kd_optim_steps(a), 0);
    kd_optim *f = kd_optim_new(&c, &grp, &d);
    memcpy(pb, pa, sizeof pa);
    for (int i = 0; i < 8; i++)
        g[i] = urand(-1, 1);
    kd_optim_step(a, pa, g, 0.01);
    kd_optim_step(f, pb, g, 0.01);
    CU_ASSERT_EQUAL(memcmp(pa, pb, sizeof pa), 0);
    /* SGD without momentum keeps no state */
    kd_optim_cfg s = kd_optim_sgd(0.1, 0, 0, 0);
    kd_optim *p = kd_optim_new(&s, &grp, &d);
    CU_ASSERT_EQUAL(kd_optim_nstate(p), 0);
    kd_optim_free(p);
    s.momentum = 0.9;
    p = kd_optim_new(&s, &grp, &d);
    CU_ASSERT_EQUAL(kd_optim_nstate(p), 1);
    CU_ASSERT_PTR_NOT_NULL(kd_optim_state(p, 0, &nm));
    CU_ASSERT_STRING_EQUAL(nm, "momentum_buffer");
    kd_optim_free(p);
    kd_optim_free(a);
    kd_optim_free(b);
    kd_optim_free(f);
    kd_param_group_free(&grp);
    CU_ASSERT_EQUAL(d.count, 0);
    kdr_diag_free(&d);
}

/* The result does not depend on the number of OpenMP threads. */
static void test_threads_deterministic(void)
{
#ifdef _OPENMP
    enum { N = 10007 };
    static float p1[N], p2[N], g[N];
    rng_state = 11;
    for (int i = 0; i < N; i++) {
        p1[i] = p2[i] = urand(-1, 1);
        g[i] = urand(-1, 1);
    }
    kdr_diag d;
    kdr_diag_init(&d);
    kd_range r = { 0, N };
    kd_param_group grp;
    CU_ASSERT_EQUAL_FATAL(kd_param_group_from_ranges(&grp, &r, 1, &d), 0);
    kd_optim_cfg c = kd_optim_adamw(1e-3, 0.9, 0.999, 1e-8, 0.01);
    kd_optim *a = kd_optim_new(&c, &grp, &d), *b = kd_optim_new(&c, &grp, &d);
    int saved = omp_get_max_threads();
    for (int s = 0; s < 3; s++) {
        omp_set_num_threads(1);
        kd_optim_step(a, p1, g, 1e-3);
        omp_set_num_threads(2);
        kd_optim_step(b, p2, g, 1e-3);
    }
    omp_set_num_threads(saved);
    CU_ASSERT_EQUAL(memcmp(p1, p2, sizeof p1), 0);
    kd_optim_free(a);
    kd_optim_free(b);
    kd_param_group_free(&grp);
    kdr_diag_free(&d);
#else
    CU_PASS("built without OpenMP");
#endif
}

/* ---- lr schedules ---------------------------------------------------------- */

#define LR(s, e) kd_lr_at(&(s), 0.1, (e), 0, 100)

static void test_lr_constant_step_exponential(void)
{
    kdr_diag d;
    kdr_diag_init(&d);
    kd_lr_sched s;
    kd_lr_constant(&s);
    CU_ASSERT_DOUBLE_EQUAL(LR(s, 0), 0.1, 0);
    CU_ASSERT_DOUBLE_EQUAL(LR(s, 1000), 0.1, 0);

    /* milestones given unsorted; MultiStepLR: gamma^(#milestones <= epoch) */
    double ms[] = { 25, 15 };
    CU_ASSERT_EQUAL(kd_lr_step(&s, ms, 2, 0.1, &d), 0);
    CU_ASSERT_DOUBLE_EQUAL(LR(s, 0), 0.1, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(LR(s, 14), 0.1, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(LR(s, 15), 0.01, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(LR(s, 24), 0.01, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(LR(s, 25), 0.001, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(LR(s, 99), 0.001, 1e-15);
    /* the step within the epoch does not matter */
    CU_ASSERT_DOUBLE_EQUAL(kd_lr_at(&s, 0.1, 15, 99, 100), 0.01, 1e-15);
    /* a repeated milestone counts twice; milestone 0 applies from the start */
    double dup[] = { 0, 3, 3 };
    CU_ASSERT_EQUAL(kd_lr_step(&s, dup, 3, 0.5, &d), 0);
    CU_ASSERT_DOUBLE_EQUAL(kd_lr_at(&s, 1, 0, 0, 1), 0.5, 0);
    CU_ASSERT_DOUBLE_EQUAL(kd_lr_at(&s, 1, 2, 0, 1), 0.5, 0);
    CU_ASSERT_DOUBLE_EQUAL(kd_lr_at(&s, 1, 3, 0, 1), 0.125, 0);
    /* no milestones: constant */
    CU_ASSERT_EQUAL(kd_lr_step(&s, NULL, 0, 0.1, &d), 0);
    CU_ASSERT_DOUBLE_EQUAL(LR(s, 50), 0.1, 0);

    CU_ASSERT_EQUAL(kd_lr_exponential(&s, 0.9, &d), 0);
    CU_ASSERT_DOUBLE_EQUAL(LR(s, 0), 0.1, 0);
    CU_ASSERT_DOUBLE_EQUAL(LR(s, 1), 0.09, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(LR(s, 10), 0.1 * pow(0.9, 10), 1e-15);
    CU_ASSERT_EQUAL(d.count, 0);

    double bad[] = { 2.5 };
    CU_ASSERT_EQUAL(kd_lr_step(&s, bad, 1, 0.1, &d), -1);
    double neg[] = { -1 };
    CU_ASSERT_EQUAL(kd_lr_step(&s, neg, 1, 0.1, &d), -1);
    CU_ASSERT_EQUAL(kd_lr_step(&s, ms, 2, 0, &d), -1);
    CU_ASSERT_EQUAL(kd_lr_step(&s, ms, KD_LR_MAXMILESTONES + 1, 0.1, &d), -1);
    CU_ASSERT_EQUAL(kd_lr_exponential(&s, -0.5, &d), -1);
    collect(&d);
    KD_ASSERT_STR_EQ(msgs,
        "step: milestone 2.5 is not an epoch number (an integer >= 0)|"
        "step: milestone -1 is not an epoch number (an integer >= 0)|"
        "step: gamma must be a finite number > 0, got 0|"
        "step: 33 milestones, at most 32 are supported|"
        "exponential: gamma must be a finite number > 0, got -0.5");
    kdr_diag_free(&d);
}

static void test_lr_cosine(void)
{
    kdr_diag d;
    kdr_diag_init(&d);
    kd_lr_sched s;
    CU_ASSERT_EQUAL(kd_lr_cosine(&s, 0, 10, &d), 0);
    CU_ASSERT_DOUBLE_EQUAL(LR(s, 0), 0.1, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(LR(s, 5), 0.05, 1e-15);        /* half way */
    CU_ASSERT_DOUBLE_EQUAL(LR(s, 9), 0.05 * (1 + cos(3.14159265358979323846 * 0.9)), 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(LR(s, 10), 0, 1e-15);           /* the end */
    CU_ASSERT_DOUBLE_EQUAL(LR(s, 12), 0, 1e-15);           /* stays at min_lr */
    CU_ASSERT_EQUAL(kd_lr_cosine(&s, 0.001, 4, &d), 0);
    CU_ASSERT_DOUBLE_EQUAL(LR(s, 2), 0.001 + 0.099 / 2, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(LR(s, 4), 0.001, 1e-15);
    /* the phase's epochs set later */
    CU_ASSERT_EQUAL(kd_lr_cosine(&s, 0, 0, &d), 0);
    kd_lr_set_epochs(&s, 20);
    CU_ASSERT_DOUBLE_EQUAL(LR(s, 10), 0.05, 1e-15);
    CU_ASSERT_EQUAL(kd_lr_cosine(&s, -1, 10, &d), -1);
    collect(&d);
    KD_ASSERT_STR_EQ(msgs, "cosine: min_lr must be a finite number >= 0, got -1");
    kdr_diag_free(&d);
}

static void test_lr_warmup(void)
{
    kdr_diag d;
    kdr_diag_init(&d);
    kd_lr_sched s, inner;
    /* warmup(2) then constant, 4 steps per epoch: 1/8 .. 8/8 of the lr */
    CU_ASSERT_EQUAL(kd_lr_warmup(&s, 2, NULL, &d), 0);
    CU_ASSERT_DOUBLE_EQUAL(kd_lr_at(&s, 0.8, 0, 0, 4), 0.1, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(kd_lr_at(&s, 0.8, 0, 3, 4), 0.4, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(kd_lr_at(&s, 0.8, 1, 0, 4), 0.5, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(kd_lr_at(&s, 0.8, 1, 3, 4), 0.8, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(kd_lr_at(&s, 0.8, 2, 0, 4), 0.8, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(kd_lr_at(&s, 0.8, 50, 2, 4), 0.8, 1e-15);

    /* warmup(5, then: cosine) in a 25-epoch phase: cosine over 20 epochs */
    CU_ASSERT_EQUAL(kd_lr_cosine(&inner, 0, 0, &d), 0);
    CU_ASSERT_EQUAL(kd_lr_warmup(&s, 5, &inner, &d), 0);
    kd_lr_set_epochs(&s, 25);
    CU_ASSERT_EQUAL(s.depth, 2);
    CU_ASSERT_EQUAL(s.level[1].epochs, 20);
    CU_ASSERT_DOUBLE_EQUAL(kd_lr_at(&s, 0.1, 4, 9, 10), 0.1, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(kd_lr_at(&s, 0.1, 5, 0, 10), 0.1, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(kd_lr_at(&s, 0.1, 15, 0, 10), 0.05, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(kd_lr_at(&s, 0.1, 25, 0, 10), 0.0, 1e-15);

    /* warmup then step: milestones count from the end of the warm-up */
    double ms[] = { 3 };
    CU_ASSERT_EQUAL(kd_lr_step(&inner, ms, 1, 0.1, &d), 0);
    CU_ASSERT_EQUAL(kd_lr_warmup(&s, 1, &inner, &d), 0);
    CU_ASSERT_DOUBLE_EQUAL(kd_lr_at(&s, 1, 0, 0, 2), 0.5, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(kd_lr_at(&s, 1, 3, 0, 2), 1, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(kd_lr_at(&s, 1, 4, 0, 2), 0.1, 1e-15);

    /* warmup(0) is the inner schedule */
    CU_ASSERT_EQUAL(kd_lr_warmup(&s, 0, &inner, &d), 0);
    CU_ASSERT_DOUBLE_EQUAL(kd_lr_at(&s, 1, 3, 0, 2), 0.1, 1e-15);

    /* nesting depth */
    kd_lr_sched a, b;
    CU_ASSERT_EQUAL(kd_lr_warmup(&a, 1, NULL, &d), 0);     /* depth 2 */
    CU_ASSERT_EQUAL(kd_lr_warmup(&b, 1, &a, &d), 0);       /* depth 3 */
    CU_ASSERT_EQUAL(kd_lr_warmup(&a, 1, &b, &d), 0);       /* depth 4 */
    CU_ASSERT_EQUAL(a.depth, 4);
    CU_ASSERT_EQUAL(d.count, 0);
    CU_ASSERT_EQUAL(kd_lr_warmup(&b, 1, &a, &d), -1);
    CU_ASSERT_EQUAL(kd_lr_warmup(&b, -1, NULL, &d), -1);
    collect(&d);
    KD_ASSERT_STR_EQ(msgs, "warmup: schedules nested more than 4 deep|"
                     "warmup: epochs must be >= 0, got -1");
    kdr_diag_free(&d);
}

/* The lr values torch.optim.lr_scheduler produced, epoch by epoch. */
static void test_lr_torch_golden(void)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(golden);
    kdr_diag d;
    kdr_diag_init(&d);
    int n = 0;
    for (const char *l = find_line(golden, "sched "); l; l = find_line(l, "sched ")) {
        char name[64];
        CU_ASSERT_EQUAL_FATAL(sscanf(l, "%63s", name), 1);
        double base = field(l, "base");
        int epochs = (int)field(l, "epochs");
        kd_lr_sched s;
        if (strcmp(name, "multistep_3_5_0.1") == 0) {
            double ms[] = { 3, 5 };
            kd_lr_step(&s, ms, 2, 0.1, &d);
        } else if (strcmp(name, "multistep_dup_2_2_0.5") == 0) {
            double ms[] = { 2, 2 };
            kd_lr_step(&s, ms, 2, 0.5, &d);
        } else if (strcmp(name, "cosine_10_0") == 0) {
            kd_lr_cosine(&s, 0, 10, &d);
        } else if (strcmp(name, "cosine_7_0.001") == 0) {
            kd_lr_cosine(&s, 0.001, 7, &d);
        } else if (strcmp(name, "exponential_0.9") == 0) {
            kd_lr_exponential(&s, 0.9, &d);
        } else {
            CU_FAIL("unknown schedule in the golden file");
            continue;
        }
        /* the values after "epochs=E " */
        const char *v = strstr(l, " epochs=");
        CU_ASSERT_PTR_NOT_NULL_FATAL(v);
        v = strchr(v + 1, ' ');
        for (int e = 0; e < epochs; e++) {
            char *end;
            double want = strtod(v, &end);
            CU_ASSERT_FATAL(end != v);
            v = end;
            double got = kd_lr_at(&s, base, e, 0, 10);
            if (fabs(got - want) > 1e-12 * base)
                fprintf(stderr, "\n  %s epoch %d: %.17g, torch %.17g\n", name, e, got, want);
            CU_ASSERT(fabs(got - want) <= 1e-12 * base);
        }
        n++;
    }
    CU_ASSERT_EQUAL(n, 5);
    CU_ASSERT_EQUAL(d.count, 0);
    kdr_diag_free(&d);
}

/* ---- weight schedules ------------------------------------------------------ */

static void test_weight_schedules(void)
{
    kdr_diag d;
    kdr_diag_init(&d);
    kd_weight_sched w;
    kd_weight_const(&w, 0.7);
    CU_ASSERT_DOUBLE_EQUAL(kd_weight_at(&w, 0), 0.7, 0);
    CU_ASSERT_DOUBLE_EQUAL(kd_weight_at(&w, 99), 0.7, 0);

    CU_ASSERT_EQUAL(kd_weight_ramp(&w, 0, 1, 4, &d), 0);
    CU_ASSERT_DOUBLE_EQUAL(kd_weight_at(&w, 0), 0, 0);
    CU_ASSERT_DOUBLE_EQUAL(kd_weight_at(&w, 1), 0.25, 0);
    CU_ASSERT_DOUBLE_EQUAL(kd_weight_at(&w, 3), 0.75, 0);
    CU_ASSERT_DOUBLE_EQUAL(kd_weight_at(&w, 4), 1, 0);
    CU_ASSERT_DOUBLE_EQUAL(kd_weight_at(&w, 40), 1, 0);
    CU_ASSERT_EQUAL(kd_weight_ramp(&w, 2, 0.5, 3, &d), 0);    /* ramps down too */
    CU_ASSERT_DOUBLE_EQUAL(kd_weight_at(&w, 1), 1.5, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(kd_weight_at(&w, 3), 0.5, 0);

    CU_ASSERT_EQUAL(kd_weight_until(&w, 3, &d), 0);
    CU_ASSERT_DOUBLE_EQUAL(kd_weight_at(&w, 0), 1, 0);
    CU_ASSERT_DOUBLE_EQUAL(kd_weight_at(&w, 2), 1, 0);
    CU_ASSERT_DOUBLE_EQUAL(kd_weight_at(&w, 3), 0, 0);
    CU_ASSERT_DOUBLE_EQUAL(kd_weight_at(&w, 10), 0, 0);
    CU_ASSERT_EQUAL(kd_weight_until(&w, 0, &d), 0);
    CU_ASSERT_DOUBLE_EQUAL(kd_weight_at(&w, 0), 0, 0);

    CU_ASSERT_EQUAL(kd_weight_decay(&w, 5, 0.5, 2, &d), 0);
    CU_ASSERT_DOUBLE_EQUAL(kd_weight_at(&w, 0), 5, 0);
    CU_ASSERT_DOUBLE_EQUAL(kd_weight_at(&w, 1), 5, 0);
    CU_ASSERT_DOUBLE_EQUAL(kd_weight_at(&w, 2), 2.5, 0);
    CU_ASSERT_DOUBLE_EQUAL(kd_weight_at(&w, 5), 1.25, 0);
    CU_ASSERT_DOUBLE_EQUAL(kd_weight_at(&w, 6), 0.625, 0);
    CU_ASSERT_EQUAL(d.count, 0);

    CU_ASSERT_EQUAL(kd_weight_ramp(&w, 0, 1, 0, &d), -1);
    CU_ASSERT_EQUAL(kd_weight_until(&w, -2, &d), -1);
    CU_ASSERT_EQUAL(kd_weight_decay(&w, 0, 0.5, 1, &d), -1);
    CU_ASSERT_EQUAL(kd_weight_decay(&w, 1, 0.5, 0, &d), -1);
    collect(&d);
    KD_ASSERT_STR_EQ(msgs, "ramp: epochs must be >= 1, got 0|"
                     "until: epoch must be >= 0, got -2|"
                     "decay: start must be a finite number > 0, got 0|"
                     "decay: every must be >= 1, got 0");
    kdr_diag_free(&d);
}

int main(void)
{
    static const kd_unit_test optim_tests[] = {
        KD_TEST(test_reference_is_sensitive),
        KD_TEST(test_sgd_reference),
        KD_TEST(test_adam_reference),
        KD_TEST(test_adamw_reference),
        KD_TEST(test_groups),
        KD_TEST(test_group_names),
        KD_TEST(test_config_checks),
        KD_TEST(test_state_and_reset),
        KD_TEST(test_threads_deterministic),
        KD_TEST_END
    };
    static const kd_unit_test golden_tests[] = {
        KD_TEST(test_torch_golden),
        KD_TEST(test_torch_golden_big),
        KD_TEST(test_lr_torch_golden),
        KD_TEST_END
    };
    static const kd_unit_test sched_tests[] = {
        KD_TEST(test_lr_constant_step_exponential),
        KD_TEST(test_lr_cosine),
        KD_TEST(test_lr_warmup),
        KD_TEST(test_weight_schedules),
        KD_TEST_END
    };
    if (kd_unit_init() != 0)
        return 2;
    if (kd_unit_suite("optim", optim_tests) != 0 ||
        kd_unit_suite_full("torch_golden", load_golden, free_golden, golden_tests) != 0 ||
        kd_unit_suite("schedules", sched_tests) != 0) {
        CU_cleanup_registry();
        return 2;
    }
    return kd_unit_run();
}
