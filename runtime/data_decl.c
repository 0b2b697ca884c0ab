/* data_decl.c — `data NAME = LOADER(ARGS) { settings }`: arguments bound
 * through the loader registry, the sample shape for --check, and the whole
 * load (loader, split names, holdout, limit, augment, normalize) for a run.
 * See data_decl.h. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "data_decl.h"
#include "consteval.h"
#include "graph.h"
#include "train.h"

/* ---- where messages go -------------------------------------------------------- */

typedef struct dctx {
    const kdr_program *p;
    const kdr_unit *unit;            /* the declaration's */
    kdr_diag *d;                     /* NULL: quiet */
    int status;                      /* first failure */
} dctx;

static int fail(dctx *C, int status, const kdr_node *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(dctx *C, int status, const kdr_node *at, const char *fmt, ...)
{
    if (!C->status) C->status = status;
    if (!C->d) return -1;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    kdr_diag_push(C->d, KDR_ERROR, at ? C->unit : NULL, at ? at->beg : 0, at ? at->end : 0,
                  "%s", buf);
    return -1;
}

/* ---- constant expressions: lang's one evaluator ---------------------------------- */

/* With messages (strict: "expected a number" for what is not a constant)
 * when C->d is set; a sweep is its current value (the sweep driver sets
 * each to one value with an override). */
static void ev_init(dctx *C, kdr_consteval *ev)
{
    kdr_consteval_init(ev, C->p, C->d, (C->d ? KDR_CE_STRICT : 0) | KDR_CE_SWEEP_FIRST);
}

static int const_num(dctx *C, const kdr_node *e, double *out)
{
    kdr_consteval ev;
    ev_init(C, &ev);
    if (kdr_const_num(&ev, C->unit, e, out) == KDR_CE_OK) return 0;
    if (!C->status) C->status = KD_RUN_RECIPE;
    return -1;
}

static int const_int(dctx *C, const kdr_node *e, int64_t *out, int64_t lo)
{
    kdr_consteval ev;
    ev_init(C, &ev);
    if (kdr_const_int(&ev, C->unit, e, lo, 1e12, out) == KDR_CE_OK) return 0;
    if (!C->status) C->status = KD_RUN_RECIPE;
    return -1;
}

int kd_recipe_const_num(const kdr_program *p, const kdr_node *e, double *out)
{
    dctx C = { .p = p };
    return const_num(&C, e, out);
}

/* the argument `name` (or positional `pos`) of a call node */
static const kdr_node *arg(const kdr_node *call, const char *name, int pos)
{
    int i = 0;
    for (const kdr_node *a = call->kids; a; a = a->next) {
        if (a->name && strcmp(a->name, name) == 0) return a->a;
        if (!a->name && !a->b && i++ == pos) return a->a;
    }
    return NULL;
}

static int arg_num(dctx *C, const kdr_node *call, const char *name, int pos, double def, double *out)
{
    const kdr_node *a = arg(call, name, pos);
    if (!a) { *out = def; return 0; }
    return const_num(C, a, out);
}

static const char *call_name(const kdr_node *e)
{
    return e && e->kind == KDR_CALL && e->a->kind == KDR_IDENT ? e->a->name : NULL;
}

/* ---- binding a loader call -------------------------------------------------------- */

/* a string argument: a literal, or a `let` holding one; a symbol may also
 * be a bare word (format: movielens) */
static const char *const_str(dctx *C, const kdr_node *e, int sym)
{
    kdr_consteval ev;
    kdr_cval v;
    kdr_consteval_init(&ev, C->p, NULL, KDR_CE_SWEEP_FIRST);
    if (kdr_const_eval(&ev, C->unit, e, &v) != KDR_CE_OK) return NULL;
    if (v.kind == KDR_CV_STR || (sym && v.kind == KDR_CV_SYM)) return v.str;
    return NULL;
}

static int bind(dctx *C, const kdr_node *call, const kd_loader_def *def, kd_loader_args *la)
{
    kd_loader_args_init(def, la);
    int pos = 0;
    for (const kdr_node *x = call->kids; x; x = x->next) {
        if (x->b) continue;                                  /* a substitution: not here */
        const kdr_node *v = x->a;
        int i = x->name ? kd_loader_arg_index(def, x->name) : pos++;
        char err[512];
        if (i < 0 || i >= def->nargs) {
            kd_loader_args_set_num(la, x->name, i < 0 ? 0 : i, 0, err, sizeof err);
            return fail(C, KD_RUN_RECIPE, x, "%s", err);
        }
        const char *an = def->args[i].name;
        kd_data_status st = KD_DATA_OK;
        switch (def->args[i].kind) {
        case KD_LARG_STR: case KD_LARG_SYM: {
            const char *s = const_str(C, v, def->args[i].kind == KD_LARG_SYM);
            if (!s) return fail(C, KD_RUN_RECIPE, v, "%s: %s must be a string", def->name, an);
            st = kd_loader_args_set_str(la, an, -1, s, err, sizeof err);
            break;
        }
        case KD_LARG_INT: case KD_LARG_BOOL: {
            double n;
            if (const_num(C, v, &n)) return -1;
            st = kd_loader_args_set_num(la, an, -1, n, err, sizeof err);
            break;
        }
        case KD_LARG_CALL: {
            const char *cn = call_name(v);
            if (!cn) return fail(C, KD_RUN_RECIPE, v, "%s: %s must be a call, e.g. %s(...)",
                                 def->name, an, def->args[i].syms ? def->args[i].syms : "f");
            double list[KD_LARG_MAXLIST];
            int n = 0;
            for (const kdr_node *y = v->kids; y; y = y->next) {
                if (!y->a || y->a->kind != KDR_LIST) continue;
                for (const kdr_node *e = y->a->kids; e && n < KD_LARG_MAXLIST; e = e->next)
                    if (const_num(C, e, &list[n++])) return -1;
                break;
            }
            st = kd_loader_args_set_call(la, an, -1, cn, list, n, err, sizeof err);
            break;
        }
        }
        if (st != KD_DATA_OK) return fail(C, KD_RUN_RECIPE, v, "%s", err);
    }
    char err[512];
    if (kd_loader_args_check(la, err, sizeof err) != KD_DATA_OK)
        return fail(C, KD_RUN_RECIPE, call, "%s", err);
    return 0;
}

int kd_data_decl_args(const kdr_program *p, const kdr_node *decl, const kd_loader_def **def,
                      kd_loader_args *a, kdr_diag *d)
{
    dctx C = { .p = p, .unit = kd_program_unit_of(p, decl), .d = d };
    *def = kd_loader_find(call_name(decl->a));
    memset(a, 0, sizeof *a);
    if (!*def) {
        fail(&C, KD_RUN_RECIPE, decl->a ? decl->a : decl,
             "expected a loader call with a directory, e.g. idx(\"DIR\")");
        return C.status;
    }
    bind(&C, decl->a, *def, a);
    return C.status;
}

int kd_data_decl_shape(const kdr_program *p, const kdr_node *decl, kd_sample_shape *out)
{
    const kd_loader_def *def;
    kd_loader_args a;
    char err[512];
    memset(out, 0, sizeof *out);
    if (kd_data_decl_args(p, decl, &def, &a, NULL) != 0) return -1;
    return kd_loader_sample_shape(&a, out, err, sizeof err) == KD_DATA_OK ? 0 : -1;
}

static void to_data_shape(const kd_sample_shape *s, kd_data_shape *out)
{
    memset(out, 0, sizeof *out);
    out->x = kd_shape_make(s->ndim, s->dims);
    out->classes = s->classes;
    out->has_noisy = s->has_noisy;
    out->kind = (int)s->kind;
}

int kd_data_decl_shape_of(const kdr_program *p, const kdr_node *decl, kd_data_shape *out)
{
    kd_sample_shape s;
    memset(out, 0, sizeof *out);
    if (kd_data_decl_shape(p, decl, &s)) return -1;
    to_data_shape(&s, out);
    return 0;
}

void kd_data_set_shape(const kd_data_set *D, kd_data_shape *out)
{
    memset(out, 0, sizeof *out);
    if (D->ds.kind == KD_DATA_SEQUENCES) {
        out->x = kd_shape_make(1, (const int64_t[]){ D->ds.max_len });
    } else if (D->ds.kind == KD_DATA_RAW) {
        out->x = kd_shape_make(3, (const int64_t[]){ 4, D->ds.h / 2, D->ds.w / 2 });
        out->has_noisy = 1;
    } else {
        out->x = kd_shape_make(3, (const int64_t[]){ D->ds.c, D->ds.h, D->ds.w });
    }
    out->classes = D->ds.classes;
    out->kind = (int)D->ds.kind;
}

/* ---- the whole load ----------------------------------------------------------------- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* split names: the loader's renamed to the recipe's (`val "valid"`) */
static int rename_splits(dctx *C, kd_data_set *D, const char *src)
{
    char err[1024];
    for (const kdr_node *s = D->decl->kids; s; s = s->next) {
        if (s->kind != KDR_SETTING) continue;
        int is_split = s->setting == KDR_S_SPLIT_TRAIN || s->setting == KDR_S_SPLIT_TEST ||
                       s->setting == KDR_S_SPLIT_VAL;
        if (!is_split || !s->a || s->a->kind != KDR_STR) continue;
        if (strcmp(s->a->str, s->word) != 0) {
            if (!kd_dataset_split(&D->ds, s->a->str))
                return fail(C, KD_RUN_DATA, s->a, "%s: the loader has no split \"%s\"", src, s->a->str);
            char tmp[80];
            snprintf(tmp, sizeof tmp, "\x01%s", s->word);
            if (kd_dataset_rename(&D->ds, s->a->str, tmp, err, sizeof err) != KD_DATA_OK)
                return fail(C, KD_RUN_DATA, s, "%s", err);
        }
    }
    for (int i = 0; i < D->ds.nsplits; i++)
        if (D->ds.splits[i].name[0] == '\x01') memmove(D->ds.splits[i].name, D->ds.splits[i].name + 1,
                                                       strlen(D->ds.splits[i].name));
    return 0;
}

static int augment(dctx *C, kd_data_set *D, const kdr_node *s)
{
    snprintf(D->aug_split, sizeof D->aug_split, "%s", s->name);
    for (const kdr_node *c = s->kids; c; c = c->next) {
        const char *an = call_name(c);
        if (D->naug_train >= KD_MAX_AUG) break;
        kd_aug *g = &D->aug[D->naug_train];
        memset(g, 0, sizeof *g);
        if (an && !strcmp(an, "crop")) {
            double size, pad;
            if (arg_num(C, c, "size", 0, (double)D->ds.h, &size) ||
                arg_num(C, c, "pad", 1, 0, &pad)) return -1;
            g->kind = KD_AUG_CROP;
            g->size = (int64_t)size;
            g->pad = (int64_t)pad;
        } else if (an && !strcmp(an, "flip")) {
            const kdr_node *dirn = arg(c, "direction", 0);
            const char *w = dirn && dirn->kind == KDR_IDENT ? dirn->name : "horizontal";
            g->kind = strcmp(w, "vertical") == 0 ? KD_AUG_FLIP_V : KD_AUG_FLIP_H;
        } else {
            return fail(C, KD_RUN_FAILED, c, "augmentation '%s' is not in this build yet", an ? an : "?");
        }
        D->naug_train++;
    }
    return 0;
}

static int normalize(dctx *C, kd_data_set *D, const kdr_node *s)
{
    for (const kdr_node *a = s->kids; a; a = a->next) {
        if (!a->name) continue;
        float *dst = !strcmp(a->name, "mean") ? D->mean : !strcmp(a->name, "std") ? D->std : NULL;
        if (!dst) continue;
        int n = 0;
        if (a->a->kind == KDR_LIST) {
            for (const kdr_node *v = a->a->kids; v && n < KD_MAX_CHANNELS; v = v->next) {
                double x;
                if (const_num(C, v, &x)) return -1;
                dst[n++] = (float)x;
            }
        } else {
            double x;
            if (const_num(C, a->a, &x)) return -1;
            dst[n++] = (float)x;
        }
        D->nnorm = n;
    }
    return 0;
}

/* holdouts, limit, augment, normalize, in the order written */
static int settings(dctx *C, kd_data_set *D)
{
    char err[1024];
    for (const kdr_node *s = D->decl->kids; s; s = s->next) {
        if (s->kind != KDR_SETTING) continue;
        switch (s->setting) {
        case KDR_S_SPLIT_TRAIN: {
            if (!s->b || !s->name) break;
            int64_t k;
            if (const_int(C, s->b, &k, 1)) return -1;
            if (kd_dataset_holdout(&D->ds, "train", k, s->name, 0, err, sizeof err) != KD_DATA_OK)
                return fail(C, KD_RUN_DATA, s->b, "%s", err);
            break;
        }
        case KDR_S_LIMIT: {
            int64_t n;
            if (const_int(C, s->a, &n, 1)) return -1;
            if (kd_dataset_limit(&D->ds, "train", n, 0, err, sizeof err) != KD_DATA_OK)
                return fail(C, KD_RUN_DATA, s->a, "%s", err);
            break;
        }
        case KDR_S_AUGMENT:
            if (augment(C, D, s)) return -1;
            break;
        case KDR_S_NORMALIZE:
            if (normalize(C, D, s)) return -1;
            break;
        default:
            break;
        }
    }
    return 0;
}

int kd_data_set_load(const kdr_program *p, const kdr_node *decl, const kd_data_set_opts *o,
                     kd_data_set *out, kdr_diag *d)
{
    dctx C = { .p = p, .unit = kd_program_unit_of(p, decl), .d = d };
    kd_data_set *D = out;
    memset(D, 0, sizeof *D);
    D->decl = decl;
    const char *name = call_name(decl->a);
    const kd_loader_def *def = kd_loader_find(name);
    if (!def) {
        fail(&C, KD_RUN_RECIPE, decl->a, "expected a loader call with a directory, e.g. idx(\"DIR\")");
        return C.status;
    }
    if (o && o->kinds && !(o->kinds & KD_DATA_KIND_BIT(def->kind))) {
        fail(&C, KD_RUN_FAILED, decl->a, "training on %s data is not in this build yet", name);
        return C.status;
    }
    D->loader = def;
    kd_loader_args la;
    if (bind(&C, decl->a, def, &la)) return C.status;
    const kd_larg *noise = kd_larg_get(&la, "noise");
    if (noise && noise->nlist == 2) {
        D->noise.log_shot_min = noise->list[0];
        D->noise.log_shot_max = noise->list[1];
    }
    char err[1024] = "";
    double t = now();
    if (kd_loader_load_data(&la, 0, &D->ds, err, sizeof err) != KD_DATA_OK) {
        fail(&C, KD_RUN_DATA, NULL, "%s", err);
        if (d) kdr_diag_push(d, KDR_NOTE, C.unit, decl->beg, decl->end, "data set '%s' is declared here",
                             decl->name);
        memset(D, 0, sizeof *D);
        return C.status;
    }
    const char *src = la.v[0].str ? la.v[0].str : name;   /* the directory, file or glob */
    if (rename_splits(&C, D, src) || settings(&C, D)) {
        kd_data_set_free(D);
        return C.status;
    }
    if (!o || !o->quiet) {
        fprintf(stderr, "data %s: %s (", decl->name, D->ds.source ? D->ds.source : src);
        for (int i = 0; i < D->ds.nsplits; i++)
            fprintf(stderr, "%s%s %lld", i ? ", " : "", D->ds.splits[i].name,
                    (long long)D->ds.splits[i].n);
        fprintf(stderr, ") in %.1f s\n", now() - t);
    }
    return 0;
}

void kd_data_set_free(kd_data_set *D)
{
    if (!D) return;
    kd_dataset_free(&D->ds);
    memset(D, 0, sizeof *D);
}

void kd_data_set_loader_cfg(const kd_data_set *D, const char *split, int64_t batch, uint64_t seed,
                            int training, kd_loader_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->ds = &D->ds;
    c->split = split;
    c->batch = batch;
    c->seed = seed;
    c->shuffle = training;
    c->drop_last = training;
    if (training && strcmp(D->aug_split, split) == 0) {
        c->naug = D->naug_train;
        memcpy(c->aug, D->aug, sizeof c->aug);
    }
    c->nnorm = D->nnorm;
    memcpy(c->mean, D->mean, sizeof c->mean);
    memcpy(c->std, D->std, sizeof c->std);
    c->noise = D->noise;
}
