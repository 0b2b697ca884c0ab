/* train.c — running a recipe: data, phases, evaluation, checkpoints, report.
 *
 * One phase = one graph: the models it trains, its teachers and the models
 * it evaluates are compiled on a batch-sized input, its loss on top; the
 * executor plans the memory once; the epoch loop then only fills inputs,
 * runs forward/backward and steps the optimizer.  Trained parameters and
 * batch-norm statistics are kept by name (the recipe paths) in a store, so
 * a later phase (a distillation with the frozen teacher) or the report
 * starts from them.
 *
 * What this build runs: image classification data (idx, cifar10, cifar100,
 * cinic10, image_folder), phases with `train`, `teacher NAME [frozen]`,
 * `epochs`, `batch`, `seed`, `optimizer`, `lr`, one `loss`, `checkpoint`,
 * `evaluate`, and the report's `evaluate`.  Anything else (alternate,
 * routes, sweeps, sequence and RAW data, weight schedules) stops the run
 * before any work with a message saying what is not in this build yet.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#include "train.h"
#include "graph.h"
#include "graph_ops.h"
#include "exec.h"
#include "optim.h"
#include "safetensors.h"
#include "sha256.h"
#include "report.h"
#include "metrics.h"
#include "../data/data.h"

#define MAX_MODELS 16
#define MAX_EVALS 8
#define MAX_METRICS 8

/* ---- small utilities ---------------------------------------------------- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) { (void)sig; interrupted = 1; }

/* ---- the run ---------------------------------------------------------------- */

typedef struct stored { char *name; float *v; int64_t n; } stored;

typedef struct dataset {
    const kdr_node *decl;
    kd_dataset ds;
    int naug_train;
    kd_aug aug[KD_MAX_AUG];          /* for the split named in aug_split */
    char aug_split[64];
    int nnorm;
    float mean[KD_MAX_CHANNELS], std[KD_MAX_CHANNELS];
} dataset;

typedef kd_metric_row metric_row;  /* report.h */

typedef struct run {
    const kdr_program *p;
    const kd_run_opts *o;
    kdr_diag *d;
    const kdr_unit *unit;            /* for located messages: set per statement */
    stored *store;
    int nstore, capstore;
    dataset data[8];
    int ndata;
    char dir[1024];                  /* run directory */
    metric_row *rows;
    int nrows, caprows;
    double t0, wall_before;          /* wall time of the run before a resume */
    int status;                      /* first failure status */
    int phase_idx;                   /* index in phase_order of the phase running */
    int done;                        /* phases and report finished */
    /* a resumed run: where to continue, from run_dir/state.safetensors */
    kd_st_file *state;
    int resume_phase;
    int64_t resume_epoch, resume_step, resume_n, resume_optim_steps;
    double resume_sum;
    uint64_t resume_exec_step;
    int anchor_cur, anchor_since;    /* a route being followed (saved in the state) */
    int resume_anchor, resume_anchor_since;
} run;

static int fail(run *R, int status, const kdr_node *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(run *R, int status, const kdr_node *at, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    kdr_diag_push(R->d, KDR_ERROR, at ? R->unit : NULL, at ? at->beg : 0, at ? at->end : 0,
                  "%s", buf);
    if (!R->status) R->status = status;
    return -1;
}

static void add_row(run *R, const char *phase, int64_t epoch, const char *what, double v)
{
    if (R->nrows == R->caprows) {
        int cap = R->caprows ? R->caprows * 2 : 64;
        metric_row *nr = realloc(R->rows, (size_t)cap * sizeof *nr);
        if (!nr) return;
        R->rows = nr;
        R->caprows = cap;
    }
    metric_row *m = &R->rows[R->nrows++];
    snprintf(m->phase, sizeof m->phase, "%s", phase);
    m->epoch = epoch;
    snprintf(m->what, sizeof m->what, "%s", what);
    m->value = v;
}

static stored *store_find(run *R, const char *name)
{
    for (int i = 0; i < R->nstore; i++)
        if (strcmp(R->store[i].name, name) == 0) return &R->store[i];
    return NULL;
}

static int store_put(run *R, const char *name, const float *v, int64_t n)
{
    stored *s = store_find(R, name);
    if (s && s->n != n) { free(s->v); s->v = NULL; }
    if (!s) {
        if (R->nstore == R->capstore) {
            int cap = R->capstore ? R->capstore * 2 : 256;
            stored *ns = realloc(R->store, (size_t)cap * sizeof *ns);
            if (!ns) return -1;
            R->store = ns;
            R->capstore = cap;
        }
        s = &R->store[R->nstore++];
        s->name = strdup(name);
        s->v = NULL;
        if (!s->name) { R->nstore--; return -1; }
    }
    if (!s->v) s->v = malloc((size_t)n * sizeof(float));
    if (!s->v) return -1;
    memcpy(s->v, v, (size_t)n * sizeof(float));
    s->n = n;
    return 0;
}

static int write_text_atomic(run *R, const char *path, int (*fn)(run *, FILE *));
static int emit_csv(run *R, FILE *f);
static int emit_svg(run *R, FILE *f);

/* ---- constant expressions (settings) ------------------------------------------ */

static int const_num(run *R, const kdr_node *e, double *out, int depth);

static int const_ident(run *R, const kdr_node *e, double *out, int depth)
{
    const kdr_node *let = kd_program_decl(R->p, KDR_LET, e->name, NULL);
    if (let) return const_num(R, let->a, out, depth + 1);
    /* a sweep variable: its value at this point (the sweep driver sets the
     * sweep to one value with an override; otherwise the first value) */
    const kdr_node *sw = kd_program_decl(R->p, KDR_SWEEP, e->name, NULL);
    if (sw && sw->a) {
        const kdr_node *v = sw->a;
        if (v->kind == KDR_LIST && v->kids) v = v->kids;
        else if (v->kind == KDR_BINARY && v->op == KDR_OP_RANGE) v = v->a;
        return const_num(R, v, out, depth + 1);
    }
    return fail(R, KD_RUN_RECIPE, e, "'%s' is not a number", e->name);
}

static int const_num(run *R, const kdr_node *e, double *out, int depth)
{
    if (!e || depth > 64) return fail(R, KD_RUN_RECIPE, e, "expected a number");
    double a, b;
    switch (e->kind) {
    case KDR_NUM: case KDR_BOOL: *out = e->num; return 0;
    case KDR_IDENT: return const_ident(R, e, out, depth);
    case KDR_UNARY:
        if (const_num(R, e->a, &a, depth + 1)) return -1;
        *out = e->op == '-' ? -a : !a;
        return 0;
    case KDR_BINARY:
        if (const_num(R, e->a, &a, depth + 1) || const_num(R, e->b, &b, depth + 1)) return -1;
        switch (e->op) {
        case '+': *out = a + b; return 0;
        case '-': *out = a - b; return 0;
        case '*': *out = a * b; return 0;
        case '/': if (b == 0) break; *out = a / b; return 0;
        case '^': *out = pow(a, b); return 0;
        default: break;
        }
        return fail(R, KD_RUN_RECIPE, e, "cannot compute this number");
    default:
        return fail(R, KD_RUN_RECIPE, e, "expected a number");
    }
}

static int const_int(run *R, const kdr_node *e, int64_t *out, int64_t lo)
{
    double x;
    if (const_num(R, e, &x, 0)) return -1;
    if (x != floor(x) || x < (double)lo || x > 1e12)
        return fail(R, KD_RUN_RECIPE, e, "expected a whole number >= %lld, got %g", (long long)lo, x);
    *out = (int64_t)x;
    return 0;
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

static int arg_num(run *R, const kdr_node *call, const char *name, int pos, double def, double *out)
{
    const kdr_node *a = arg(call, name, pos);
    if (!a) { *out = def; return 0; }
    return const_num(R, a, out, 0);
}

static const char *call_name(const kdr_node *e)
{
    return e && e->kind == KDR_CALL && e->a->kind == KDR_IDENT ? e->a->name : NULL;
}

/* ---- data ------------------------------------------------------------------------ */

static dataset *load_data(run *R, const char *name, const kdr_node *at)
{
    for (int i = 0; i < R->ndata; i++)
        if (strcmp(R->data[i].decl->name, name) == 0) return &R->data[i];
    const kdr_node *decl = kd_program_decl(R->p, KDR_DATA, name, NULL);
    if (!decl) { fail(R, KD_RUN_RECIPE, at, "no data set named '%s'", name); return NULL; }
    if (R->ndata == (int)(sizeof R->data / sizeof R->data[0])) {
        fail(R, KD_RUN_FAILED, at, "too many data sets");
        return NULL;
    }
    const kdr_unit *saved = R->unit;
    R->unit = kd_program_unit_of(R->p, decl);
    dataset *D = &R->data[R->ndata];
    memset(D, 0, sizeof *D);
    D->decl = decl;
    const char *loader = call_name(decl->a);
    const kdr_node *dir = decl->a ? arg(decl->a, "dir", 0) : NULL;
    char err[1024] = "";
    kd_data_status st = KD_DATA_OK;
    double t = now();
    if (!loader || !dir || dir->kind != KDR_STR) {
        if (loader && (strcmp(loader, "sequences") == 0 || strcmp(loader, "synth_sequences") == 0 ||
                       strcmp(loader, "raw_synth") == 0))
            fail(R, KD_RUN_FAILED, decl->a, "training on %s data is not in this build yet", loader);
        else
            fail(R, KD_RUN_RECIPE, decl->a, "expected a loader call with a directory, e.g. idx(\"DIR\")");
        R->unit = saved;
        return NULL;
    }
    if (strcmp(loader, "idx") == 0) st = kd_load_idx(dir->str, &D->ds, err, sizeof err);
    else if (strcmp(loader, "cifar10") == 0) st = kd_load_cifar10(dir->str, &D->ds, err, sizeof err);
    else if (strcmp(loader, "cifar100") == 0) st = kd_load_cifar100(dir->str, &D->ds, err, sizeof err);
    else if (strcmp(loader, "cinic10") == 0) st = kd_load_cinic10(dir->str, NULL, &D->ds, err, sizeof err);
    else if (strcmp(loader, "image_folder") == 0) {
        double size;
        if (arg_num(R, decl->a, "size", 1, 32, &size)) { R->unit = saved; return NULL; }
        st = kd_load_image_folder(dir->str, (int64_t)size, NULL, &D->ds, err, sizeof err);
    } else {
        fail(R, KD_RUN_FAILED, decl->a, "training on %s data is not in this build yet", loader);
        R->unit = saved;
        return NULL;
    }
    if (st != KD_DATA_OK) {
        fail(R, KD_RUN_DATA, NULL, "%s", err);
        kdr_diag_push(R->d, KDR_NOTE, R->unit, decl->beg, decl->end, "data set '%s' is declared here", name);
        R->unit = saved;
        return NULL;
    }
    /* splits: rename the loader's to the recipe's names, then holdouts, limit */
    for (const kdr_node *s = decl->kids; s; s = s->next) {
        if (s->kind != KDR_SETTING) continue;
        int is_split = !strcmp(s->word, "train") || !strcmp(s->word, "test") || !strcmp(s->word, "val");
        if (!is_split || !s->a || s->a->kind != KDR_STR) continue;
        if (strcmp(s->a->str, s->word) != 0) {
            if (!kd_dataset_split(&D->ds, s->a->str)) {
                fail(R, KD_RUN_DATA, s->a, "%s: the loader has no split \"%s\"", dir->str, s->a->str);
                goto bad;
            }
            char tmp[80];
            snprintf(tmp, sizeof tmp, "\x01%s", s->word);
            if (kd_dataset_rename(&D->ds, s->a->str, tmp, err, sizeof err) != KD_DATA_OK) {
                fail(R, KD_RUN_DATA, s, "%s", err);
                goto bad;
            }
        }
    }
    for (int i = 0; i < D->ds.nsplits; i++)
        if (D->ds.splits[i].name[0] == '\x01') memmove(D->ds.splits[i].name, D->ds.splits[i].name + 1,
                                                       strlen(D->ds.splits[i].name));
    for (const kdr_node *s = decl->kids; s; s = s->next) {
        if (s->kind != KDR_SETTING) continue;
        if (!strcmp(s->word, "train") && s->b && s->name) {
            int64_t k;
            if (const_int(R, s->b, &k, 1)) goto bad;
            if (kd_dataset_holdout(&D->ds, "train", k, s->name, 0, err, sizeof err) != KD_DATA_OK) {
                fail(R, KD_RUN_DATA, s->b, "%s", err);
                goto bad;
            }
        } else if (!strcmp(s->word, "limit")) {
            int64_t n;
            if (const_int(R, s->a, &n, 1)) goto bad;
            if (kd_dataset_limit(&D->ds, "train", n, 0, err, sizeof err) != KD_DATA_OK) {
                fail(R, KD_RUN_DATA, s->a, "%s", err);
                goto bad;
            }
        } else if (!strcmp(s->word, "augment")) {
            snprintf(D->aug_split, sizeof D->aug_split, "%s", s->name);
            for (const kdr_node *c = s->kids; c; c = c->next) {
                const char *an = call_name(c);
                if (D->naug_train >= KD_MAX_AUG) break;
                kd_aug *g = &D->aug[D->naug_train];
                memset(g, 0, sizeof *g);
                if (an && !strcmp(an, "crop")) {
                    double size, pad;
                    if (arg_num(R, c, "size", 0, (double)D->ds.h, &size) ||
                        arg_num(R, c, "pad", 1, 0, &pad)) goto bad;
                    g->kind = KD_AUG_CROP;
                    g->size = (int64_t)size;
                    g->pad = (int64_t)pad;
                } else if (an && !strcmp(an, "flip")) {
                    const kdr_node *dirn = arg(c, "direction", 0);
                    const char *w = dirn && dirn->kind == KDR_IDENT ? dirn->name : "horizontal";
                    g->kind = strcmp(w, "vertical") == 0 ? KD_AUG_FLIP_V : KD_AUG_FLIP_H;
                } else {
                    fail(R, KD_RUN_FAILED, c, "augmentation '%s' is not in this build yet", an ? an : "?");
                    goto bad;
                }
                D->naug_train++;
            }
        } else if (!strcmp(s->word, "normalize")) {
            for (const kdr_node *a = s->kids; a; a = a->next) {
                if (!a->name) continue;
                float *dst = !strcmp(a->name, "mean") ? D->mean : !strcmp(a->name, "std") ? D->std : NULL;
                if (!dst) continue;
                int n = 0;
                if (a->a->kind == KDR_LIST) {
                    for (const kdr_node *v = a->a->kids; v && n < KD_MAX_CHANNELS; v = v->next) {
                        double x;
                        if (const_num(R, v, &x, 0)) goto bad;
                        dst[n++] = (float)x;
                    }
                } else {
                    double x;
                    if (const_num(R, a->a, &x, 0)) goto bad;
                    dst[n++] = (float)x;
                }
                D->nnorm = n;
            }
        }
    }
    if (!R->o->quiet) {
        fprintf(stderr, "data %s: %s (", name, D->ds.source ? D->ds.source : dir->str);
        for (int i = 0; i < D->ds.nsplits; i++)
            fprintf(stderr, "%s%s %lld", i ? ", " : "", D->ds.splits[i].name,
                    (long long)D->ds.splits[i].n);
        fprintf(stderr, ") in %.1f s\n", now() - t);
    }
    R->ndata++;
    R->unit = saved;
    return D;
bad:
    kd_dataset_free(&D->ds);
    R->unit = saved;
    return NULL;
}

/* `D.split` → data set and split name */
static dataset *data_ref(run *R, const kdr_node *e, const char **split)
{
    if (!e || e->kind != KDR_MEMBER || e->a->kind != KDR_IDENT) {
        fail(R, KD_RUN_RECIPE, e, "expected DATA.SPLIT");
        return NULL;
    }
    dataset *D = load_data(R, e->a->name, e->a);
    if (!D) return NULL;
    if (!kd_dataset_split(&D->ds, e->name)) {
        fail(R, KD_RUN_DATA, e, "data set '%s' has no split '%s'", e->a->name, e->name);
        return NULL;
    }
    *split = e->name;
    return D;
}

static void loader_cfg(const dataset *D, const char *split, int64_t batch, uint64_t seed,
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
}

/* ---- a phase's graph --------------------------------------------------------------- */

typedef struct pmodel {
    const char *name;
    const kdr_node *decl;
    int index;                       /* model index in the graph */
    int32_t input, out;
    int trained;
} pmodel;

typedef struct peval {
    int models[MAX_MODELS];          /* indices into pmodels */
    int nmodels;
    dataset *D;
    const char *split;
    const kdr_node *at;
    int top5;
} peval;

typedef struct pgraph {
    kd_graph *g;
    kd_exec *e;
    pmodel m[MAX_MODELS];
    int nm;
    int32_t label, loss;
    int32_t terms[32];               /* the loss's terms (ce, kd, ...), roots */
    int nterms;
    int64_t batch;
    int64_t classes;
} pgraph;

static void pgraph_free(pgraph *G)
{
    if (G->e) kd_exec_free(G->e);
    if (G->g) kd_graph_free(G->g);
    memset(G, 0, sizeof *G);
}

/* Add a model to the phase's graph by its declaration (decl->name may be a
 * pool's name, built like the route's model). */
static int add_model_decl(run *R, pgraph *G, const kdr_node *at, const kdr_node *decl, int trained)
{
    const char *name = decl->name;
    for (int i = 0; i < G->nm; i++)
        if (strcmp(G->m[i].name, name) == 0) {
            if (trained) G->m[i].trained = 1;
            return i;
        }
    if (G->nm == MAX_MODELS) return fail(R, KD_RUN_FAILED, at, "too many models in one phase");
    pmodel *m = &G->m[G->nm];
    memset(m, 0, sizeof *m);
    m->name = name;
    m->decl = decl;
    m->trained = trained;
    return G->nm++;
}

static int add_model(run *R, pgraph *G, const kdr_node *at, const char *name, int trained)
{
    for (int i = 0; i < G->nm; i++)
        if (strcmp(G->m[i].name, name) == 0) {
            if (trained) G->m[i].trained = 1;
            return i;
        }
    const kdr_node *decl = kd_program_decl(R->p, KDR_MODEL, name, NULL);
    if (!decl) {
        const kdr_node *pool = kd_program_decl(R->p, KDR_POOL, name, NULL);
        return fail(R, KD_RUN_RECIPE, at, pool ? "pool '%s' is not a model: use 'teacher follows %s'"
                    : "no model named '%s'", name, name);
    }
    return add_model_decl(R, G, at, decl, trained);
}

/* Is model `name` applied as a function, `name(x)`, somewhere in e? */
static int applies(const kdr_node *e, const char *name, int depth)
{
    if (!e || depth > 10000) return 0;
    if (e->kind == KDR_CALL && e->a && e->a->kind == KDR_IDENT && strcmp(e->a->name, name) == 0) return 1;
    if (applies(e->a, name, depth + 1) || applies(e->b, name, depth + 1) || applies(e->c, name, depth + 1))
        return 1;
    for (const kdr_node *k = e->kids; k; k = k->next)
        if (applies(k, name, depth + 1)) return 1;
    return 0;
}

/* Compile the models of G on data D, the losses (nloss may be 0; owner[i]
 * names the model a per-model loss trains, or is NULL), and create the
 * executor with the total loss and every model output as roots.  Models
 * applied in a loss (`adapter(student.feat)`) are compiled there. */
static int pgraph_build(run *R, pgraph *G, const dataset *D, const kdr_node *const *losses,
                        const char *const *owner, int nloss, const kdr_unit *loss_unit, const char *path)
{
    G->g = kd_graph_new();
    if (!G->g) return fail(R, KD_RUN_FAILED, NULL, "out of memory");
    kd_data_shape ds;
    memset(&ds, 0, sizeof ds);
    ds.x = kd_shape_make(3, (const int64_t[]){ D->ds.c, D->ds.h, D->ds.w });
    ds.classes = D->ds.classes;
    G->classes = D->ds.classes;
    for (int i = 0; i < G->nm; i++) {
        pmodel *m = &G->m[i];
        m->index = -1;
        m->input = m->out = -1;
        int applied = 0;
        for (int k = 0; k < nloss; k++) applied |= applies(losses[k], m->name, 0);
        if (applied) continue;
        int idx = kd_compile_model(G->g, R->p, m->decl, &ds, G->batch, R->d);
        if (idx == -2) return fail(R, KD_RUN_FAILED, NULL, "model '%s' uses an op that is not in this build yet", m->name);
        if (idx < 0) { if (!R->status) R->status = KD_RUN_RECIPE; return -1; }
        m->index = idx;
        m->input = -1;
        for (int32_t k = 0; k < G->g->nnodes; k++)
            if (G->g->nodes[k].kind == KD_NODE_INPUT && G->g->nodes[k].model == idx) { m->input = k; break; }
        char key[300];
        snprintf(key, sizeof key, "%s.out", m->name);
        m->out = kd_graph_find(G->g, key);
    }
    G->label = kd_graph_add_input(G->g, "label", kd_shape_make(1, (const int64_t[]){ G->batch }));
    G->loss = -1;
    int32_t first = G->g->nnodes;
    for (int k = 0; k < nloss; k++) {
        /* a per-model loss trains its model only: the other trained
         * models' tensors are constants in it */
        uint64_t detach = 0;
        if (owner[k])
            for (int i = 0; i < G->nm; i++)
                if (G->m[i].trained && G->m[i].index >= 0 && strcmp(G->m[i].name, owner[k]) != 0)
                    detach |= (uint64_t)1 << G->m[i].index;
        int32_t l = kd_compile_expr(G->g, R->p, loss_unit, losses[k], path, G->label, detach, R->d);
        if (l == -2) return fail(R, KD_RUN_FAILED, NULL, "the loss uses something not in this build yet");
        if (l < 0) { if (!R->status) R->status = KD_RUN_RECIPE; return -1; }
        if (G->g->nodes[l].shape.ndim != 0) {
            R->unit = loss_unit;
            return fail(R, KD_RUN_RECIPE, losses[k], "a loss must be a scalar");
        }
        if (G->loss < 0) G->loss = l;
        else {
            char e2[256];
            int32_t ins[2] = { G->loss, l };
            G->loss = kd_graph_add_op1(G->g, "add", ins, 2, NULL, 0, e2, sizeof e2);
            if (G->loss < 0) return fail(R, KD_RUN_FAILED, NULL, "summing the losses: %s", e2);
        }
    }
    /* the models applied in the losses, compiled there */
    for (int i = 0; i < G->nm; i++) {
        pmodel *m = &G->m[i];
        if (m->index >= 0) continue;
        for (int k = 0; k < G->g->nmodels; k++)
            if (strcmp(G->g->model_names[k], m->name) == 0) m->index = k;
        char key[300];
        snprintf(key, sizeof key, "%s.out", m->name);
        m->out = kd_graph_find(G->g, key);
        if (m->index < 0) return fail(R, KD_RUN_FAILED, NULL, "model '%s' was not built", m->name);
    }
    /* trainable = parameters of the trained models */
    for (int32_t i = 0; i < G->g->nparams; i++) {
        int trainable = 0;
        for (int k = 0; k < G->nm; k++)
            if (G->m[k].trained && G->g->params[i].model == G->m[k].index) trainable = 1;
        if (G->g->params[i].model < 0) trainable = 1;   /* created by the loss (adapters) */
        G->g->params[i].trainable = trainable;
    }
    /* the scalar terms of the loss stay readable, to name a NaN one */
    G->nterms = 0;
    for (int32_t k = first; k < G->g->nnodes && G->loss >= 0 && G->nterms < 32; k++) {
        const kd_node *n = &G->g->nodes[k];
        if (n->kind != KD_NODE_OP || n->shape.ndim != 0 || k == G->loss) continue;
        const char *on = n->op->name;
        if (!strcmp(on, "add") || !strcmp(on, "sub") || !strcmp(on, "mul") || !strcmp(on, "scale")) continue;
        G->terms[G->nterms++] = k;
    }
    int32_t roots[MAX_MODELS + 1 + 32];
    int nroots = 0;
    if (G->loss >= 0) roots[nroots++] = G->loss;
    for (int k = 0; k < G->nterms; k++) roots[nroots++] = G->terms[k];
    for (int i = 0; i < G->nm; i++)
        if (G->m[i].out >= 0) roots[nroots++] = G->m[i].out;
    char err[512];
    G->e = kd_exec_new(G->g, roots, nroots, R->o->nthreads, err, sizeof err);
    if (!G->e) return fail(R, KD_RUN_FAILED, NULL, "%s", err);
    return 0;
}

/* the batch-norm node's stored name: its weight's name without ".weight" */
static int bn_base(const kd_graph *g, const kd_node *n, char *buf, size_t len)
{
    if (!n->op || strcmp(n->op->name, "batchnorm2d") != 0) return -1;
    int32_t pid = n->in[n->ndata];
    if (pid < 0) return -1;
    const char *w = g->params[pid].name;
    size_t l = strlen(w);
    if (l < 7 || strcmp(w + l - 7, ".weight") != 0 || l - 7 >= len) return -1;
    memcpy(buf, w, l - 7);
    buf[l - 7] = 0;
    return 0;
}

/* parameters and bn statistics from the store (models trained before) */
static int load_from_store(run *R, pgraph *G)
{
    float *P = kd_exec_params(G->e);
    int loaded = 0;
    for (int32_t i = 0; i < G->g->nparams; i++) {
        const kd_param *q = &G->g->params[i];
        stored *s = store_find(R, q->name);
        if (!s) continue;
        if (s->n != kd_shape_numel(&q->shape))
            return fail(R, KD_RUN_FAILED, NULL, "stored parameter %s has %lld values, the graph wants %lld",
                        q->name, (long long)s->n, (long long)kd_shape_numel(&q->shape));
        memcpy(P + q->offset, s->v, (size_t)s->n * sizeof(float));
        loaded++;
    }
    for (int32_t i = 0; i < G->g->nnodes; i++) {
        char base[300], key[340];
        if (bn_base(G->g, &G->g->nodes[i], base, sizeof base)) continue;
        for (int k = 0; k < 2; k++) {
            snprintf(key, sizeof key, "%s.%s", base, k ? "running_var" : "running_mean");
            stored *s = store_find(R, key);
            float *st = kd_exec_state(G->e, i, k);
            if (s && st) memcpy(st, s->v, (size_t)s->n * sizeof(float));
        }
    }
    return loaded;
}

static int save_to_store(run *R, pgraph *G, int only_trained)
{
    const float *P = kd_exec_params(G->e);
    for (int32_t i = 0; i < G->g->nparams; i++) {
        const kd_param *q = &G->g->params[i];
        int keep = !only_trained || q->trainable;
        if (keep && store_put(R, q->name, P + q->offset, kd_shape_numel(&q->shape)))
            return fail(R, KD_RUN_FAILED, NULL, "out of memory");
    }
    for (int32_t i = 0; i < G->g->nnodes; i++) {
        char base[300], key[340];
        const kd_node *n = &G->g->nodes[i];
        if (bn_base(G->g, n, base, sizeof base)) continue;
        if (only_trained && !G->g->params[n->in[n->ndata]].trainable) continue;
        for (int k = 0; k < 2; k++) {
            snprintf(key, sizeof key, "%s.%s", base, k ? "running_var" : "running_mean");
            float *st = kd_exec_state(G->e, i, k);
            if (st && store_put(R, key, st, n->info.state_shape[k].ndim > 0 ?
                                kd_shape_numel(&n->info.state_shape[k]) : 1))
                return fail(R, KD_RUN_FAILED, NULL, "out of memory");
        }
    }
    return 0;
}

/* copy one batch into every model input and the labels */
static void feed(pgraph *G, const kd_batch *b)
{
    size_t row = (size_t)(b->c * b->h * b->w);
    for (int i = 0; i < G->nm; i++) {
        if (G->m[i].input < 0) continue;
        float *x = kd_exec_input(G->e, G->m[i].input);
        if (!x) continue;
        memcpy(x, b->x, (size_t)b->n * row * sizeof(float));
        if (b->n < G->batch)
            memset(x + (size_t)b->n * row, 0, (size_t)(G->batch - b->n) * row * sizeof(float));
    }
    for (int i = 0; i < G->g->nconsts; i++) {   /* cost tables, fixed temperatures */
        float *c = kd_exec_input(G->e, G->g->consts[i].node);
        if (c) memcpy(c, G->g->consts[i].v, (size_t)G->g->consts[i].n * sizeof(float));
    }
    float *lab = kd_exec_input(G->e, G->label);
    if (lab && b->label)
        for (int64_t r = 0; r < G->batch; r++) lab[r] = r < b->n ? (float)b->label[r] : 0.0f;
}

/* What evaluate() measures for one model on a split: top-1/top-5 and the
 * ranks of the targets (classifier or next-item scores [N, K] against the
 * labels; among the sampled negatives when the data has them), and PSNR and
 * SSIM of the output against the clean images (restoration data). */
typedef struct evsum {
    double top1, top5;               /* % */
    int64_t nrank;                   /* rows ranked */
    int64_t rank_hist[KD_RANK_MAX + 1]; /* rows by 0-based rank; last: >= KD_RANK_MAX */
    double psnr, ssim;               /* means over images */
    int64_t nimg;
} evsum;

/* The value of metric `name` (@k for hr, ndcg, mrr) from an evsum; 0 and
 * *why set when this data cannot give it. */
static double evsum_metric(const evsum *e, const char *name, int64_t k, const char **why)
{
    *why = NULL;
    if (!strcmp(name, "psnr") || !strcmp(name, "ssim")) {
        if (!e->nimg) { *why = "needs clean target images (restoration data)"; return 0; }
        return name[0] == 'p' ? e->psnr : e->ssim;
    }
    if (!e->nrank) { *why = "needs scores [N, K] and target labels"; return 0; }
    if (!strcmp(name, "top1")) return e->top1;
    if (!strcmp(name, "top5")) return e->top5;
    int hr = !strcmp(name, "hr"), nd = !strcmp(name, "ndcg"), mr = !strcmp(name, "mrr");
    if (!hr && !nd && !mr) { *why = "is not in this build yet"; return 0; }
    if (k < 1 || k > KD_RANK_MAX) { *why = "takes @k with k in 1..1024"; return 0; }
    double s = 0;
    for (int64_t r = 0; r < k; r++)
        s += (double)e->rank_hist[r] * (hr ? kd_hr_at(r, k) : nd ? kd_ndcg_at(r, k) : kd_mrr_at(r, k));
    return s / (double)e->nrank;
}

/* A metric of an `evaluate ... :` list: `top1`, `hr` (k = 10) or `hr@5`;
 * its name, with label "hr@5" in buf and k in *k.  NULL: not a metric. */
static const char *metric_ref(const kdr_node *mt, char *buf, size_t n, int64_t *k)
{
    *k = 10;
    if (mt->kind == KDR_IDENT) {
        int atk = !strcmp(mt->name, "hr") || !strcmp(mt->name, "ndcg") || !strcmp(mt->name, "mrr");
        if (atk) snprintf(buf, n, "%s@10", mt->name);
        else snprintf(buf, n, "%s", mt->name);
        return mt->name;
    }
    if (mt->kind == KDR_BINARY && mt->op == '@' && mt->a && mt->a->kind == KDR_IDENT && mt->b &&
        mt->b->kind == KDR_NUM) {
        *k = mt->b->num >= 0 && mt->b->num < 1e9 ? (int64_t)mt->b->num : 0;
        snprintf(buf, n, "%s@%lld", mt->a->name, (long long)*k);
        return mt->a->name;
    }
    return NULL;
}

/* the metrics of each evaluated model on a split (see evsum) */
static int evaluate(run *R, pgraph *G, const peval *ev, evsum *out)
{
    kd_loader_cfg lc;
    loader_cfg(ev->D, ev->split, G->batch, 0, 0, &lc);
    kd_loader *ld = NULL;
    kd_batch b;
    char err[1024];
    memset(&b, 0, sizeof b);
    if (kd_loader_new(&lc, &ld, err, sizeof err) != KD_DATA_OK ||
        kd_batch_alloc(ld, &b, err, sizeof err) != KD_DATA_OK) {
        kd_loader_free(ld);
        return fail(R, KD_RUN_DATA, NULL, "%s", err);
    }
    int64_t hit1[MAX_MODELS] = { 0 }, hit5[MAX_MODELS] = { 0 };
    for (int k = 0; k < ev->nmodels; k++) memset(&out[k], 0, sizeof out[k]);
    int64_t steps = kd_loader_steps(ld);
    int64_t nneg = ev->D->ds.negatives;
    for (int64_t s = 0; s < steps; s++) {
        if (kd_loader_fill(ld, 0, s, &b, err, sizeof err) != KD_DATA_OK) {
            kd_batch_free(&b);
            kd_loader_free(ld);
            return fail(R, KD_RUN_DATA, NULL, "%s", err);
        }
        feed(G, &b);
        for (int k = 0; k < ev->nmodels; k++)
            kd_exec_set_model_mode(G->e, G->m[ev->models[k]].index, KD_MODE_EVAL);
        if (kd_exec_forward(G->e, 0)) {
            kd_batch_free(&b);
            kd_loader_free(ld);
            return fail(R, KD_RUN_FAILED, NULL, "forward pass failed");
        }
        for (int k = 0; k < ev->nmodels; k++) {
            const pmodel *m = &G->m[ev->models[k]];
            const float *lg = kd_exec_value(G->e, m->out);
            const kd_shape *os = &G->g->nodes[m->out].shape;
            evsum *e = &out[k];
            if (b.y && os->ndim == 4 && os->dims[1] == b.c && os->dims[2] == b.h && os->dims[3] == b.w) {
                int64_t row = b.c * b.h * b.w;
                for (int64_t r = 0; r < b.n; r++) {
                    e->psnr += kd_psnr(lg + r * row, b.y + r * row, row, 1.0);
                    e->ssim += kd_ssim(lg + r * row, b.y + r * row, b.c, b.h, b.w, 1.0);
                }
                e->nimg += b.n;
            }
            if (!b.label || os->ndim != 2) continue;
            int64_t C = os->dims[1];
            for (int64_t r = 0; r < b.n; r++) {
                const float *row = lg + r * C;
                int64_t y = b.label[r];
                if (y < 0 || y >= C) continue;
                int64_t better = kd_rank(row, C, y, NULL, 0);
                hit1[k] += better == 0;
                hit5[k] += better < 5;
                int64_t rk = b.neg ? kd_rank(row, C, y, b.neg + r * nneg, nneg) : better;
                e->rank_hist[rk < KD_RANK_MAX ? rk : KD_RANK_MAX]++;
                e->nrank++;
            }
        }
    }
    for (int k = 0; k < ev->nmodels; k++) {
        kd_exec_set_model_mode(G->e, G->m[ev->models[k]].index, KD_MODE_FOLLOW);
        evsum *e = &out[k];
        e->top1 = e->nrank ? 100.0 * (double)hit1[k] / (double)e->nrank : 0;
        e->top5 = e->nrank ? 100.0 * (double)hit5[k] / (double)e->nrank : 0;
        if (e->nimg) {
            e->psnr /= (double)e->nimg;
            e->ssim /= (double)e->nimg;
        }
    }
    kd_batch_free(&b);
    kd_loader_free(ld);
    return 0;
}

/* ---- checkpoints ------------------------------------------------------------ */

static int mkdirs(const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
    return 0;
}

/* the parameters and bn statistics of the trained models, atomically */
static int save_checkpoint(run *R, pgraph *G, const char *route, int64_t epoch, const char *phase)
{
    char dir[1200], path[1300], ep[32];
    snprintf(dir, sizeof dir, "%s/checkpoints/%s", R->dir, route);
    if (mkdirs(dir)) return fail(R, KD_RUN_FAILED, NULL, "%s: %s", dir, strerror(errno));
    snprintf(path, sizeof path, "%s/epoch-%03lld.safetensors", dir, (long long)epoch);
    int n = 0, cap = G->g->nparams + 2 * G->g->nnodes;
    kd_st_tensor *t = calloc((size_t)(cap ? cap : 1), sizeof *t);
    char (*names)[340] = calloc((size_t)(cap ? cap : 1), sizeof *names);
    if (!t || !names) { free(t); free(names); return fail(R, KD_RUN_FAILED, NULL, "out of memory"); }
    const float *P = kd_exec_params(G->e);
    for (int32_t i = 0; i < G->g->nparams; i++) {
        const kd_param *q = &G->g->params[i];
        if (!q->trainable) continue;
        t[n].name = q->name;
        t[n].ndim = q->shape.ndim;
        for (int k = 0; k < q->shape.ndim; k++) t[n].shape[k] = q->shape.dims[k];
        t[n].data = P + q->offset;
        n++;
    }
    for (int32_t i = 0; i < G->g->nnodes; i++) {
        const kd_node *nd = &G->g->nodes[i];
        char base[300];
        if (bn_base(G->g, nd, base, sizeof base) || !G->g->params[nd->in[nd->ndata]].trainable) continue;
        for (int k = 0; k < 2; k++) {
            snprintf(names[n], sizeof names[n], "%s.%s", base, k ? "running_var" : "running_mean");
            t[n].name = names[n];
            t[n].ndim = 1;
            t[n].shape[0] = kd_shape_numel(&nd->info.state_shape[k]);
            t[n].data = kd_exec_state(G->e, i, k);
            if (t[n].data) n++;
        }
    }
    snprintf(ep, sizeof ep, "%lld", (long long)epoch);
    kd_st_meta meta[3] = { { "recipe", R->o->recipe }, { "phase", phase }, { "epoch", ep } };
    int rc = kd_st_write(path, t, (size_t)n, meta, 3, R->d);
    free(t);
    free(names);
    if (rc) { if (!R->status) R->status = KD_RUN_FAILED; return -1; }
    return 0;
}

/* ---- resumable state -------------------------------------------------------------- */

#define STATE_FORMAT "kdrun-state 1"

/* every metric row as text: "phase\tepoch\twhat\tvalue\n", values exact */
static char *rows_text(run *R)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    for (int i = 0; i < R->nrows; i++)
        fprintf(f, "%s\t%lld\t%s\t%.17g\n", R->rows[i].phase, (long long)R->rows[i].epoch,
                R->rows[i].what, R->rows[i].value);
    if (fclose(f) != 0) { free(buf); return NULL; }
    return buf;
}

static int rows_parse(run *R, const char *txt)
{
    R->nrows = 0;
    while (txt && *txt) {
        const char *nl = strchr(txt, '\n');
        if (!nl) return -1;
        char line[512];
        size_t l = (size_t)(nl - txt);
        if (l >= sizeof line) return -1;
        memcpy(line, txt, l);
        line[l] = 0;
        char *f[4], *p = line;
        for (int k = 0; k < 4; k++) {
            f[k] = p;
            p = k < 3 ? strchr(p, '\t') : NULL;
            if (k < 3 && !p) return -1;
            if (p) *p++ = 0;
        }
        char *end;
        long long ep = strtoll(f[1], &end, 10);
        if (*end) return -1;
        double v = strtod(f[3], &end);
        if (*end) return -1;
        add_row(R, f[0], ep, f[2], v);
        txt = nl + 1;
    }
    return 0;
}

/* Write run_dir/state.safetensors: the store (update it first), the
 * optimizer's buffers (opt may be NULL) and where the run is. */
static int save_state(run *R, kd_optim *opt, int64_t epoch, int64_t step, double sum, int64_t n,
                      uint64_t exec_step, const char *phase)
{
    int nopt = opt ? kd_optim_nstate(opt) : 0;
    size_t cap = (size_t)R->nstore + (size_t)nopt + 1;
    kd_st_tensor *t = calloc(cap, sizeof *t);
    char **names = calloc(cap, sizeof *names);
    char *rows = rows_text(R);
    int rc = -1;
    size_t k = 0;
    if (!t || !names || !rows) goto out;
    for (int i = 0; i < R->nstore; i++, k++) {
        size_t l = strlen(R->store[i].name) + 7;
        if (!(names[k] = malloc(l))) goto out;
        snprintf(names[k], l, "store/%s", R->store[i].name);
        t[k].name = names[k];
        t[k].ndim = 1;
        t[k].shape[0] = R->store[i].n;
        t[k].data = R->store[i].v;
    }
    for (int i = 0; i < nopt; i++, k++) {
        const char *bn = NULL;
        float *buf = kd_optim_state(opt, i, &bn);
        size_t l = strlen(bn ? bn : "buf") + 7;
        if (!(names[k] = malloc(l))) goto out;
        snprintf(names[k], l, "optim/%s", bn ? bn : "buf");
        t[k].name = names[k];
        t[k].ndim = 1;
        t[k].shape[0] = (int64_t)kd_optim_group(opt)->total;
        t[k].data = buf;
    }
    char sphase[32], sep[32], sst[32], ssum[40], sn[32], sexec[32], sopt[32], swall[40], sanc[32], ssince[32];
    snprintf(sanc, sizeof sanc, "%d", R->anchor_cur);
    snprintf(ssince, sizeof ssince, "%d", R->anchor_since);
    snprintf(sphase, sizeof sphase, "%d", R->phase_idx);
    snprintf(sep, sizeof sep, "%lld", (long long)epoch);
    snprintf(sst, sizeof sst, "%lld", (long long)step);
    snprintf(ssum, sizeof ssum, "%.17g", sum);
    snprintf(sn, sizeof sn, "%lld", (long long)n);
    snprintf(sexec, sizeof sexec, "%llu", (unsigned long long)exec_step);
    snprintf(sopt, sizeof sopt, "%lld", (long long)(opt ? kd_optim_steps(opt) : 0));
    snprintf(swall, sizeof swall, "%.6f", R->wall_before + now() - R->t0);
    kd_st_meta meta[] = {
        { "format", STATE_FORMAT }, { "recipe", R->o->recipe }, { "phase_index", sphase },
        { "phase", phase ? phase : "" }, { "epoch", sep }, { "step", sst }, { "loss_sum", ssum },
        { "loss_n", sn }, { "exec_step", sexec }, { "optim_steps", sopt },
        { "done", R->done ? "1" : "0" }, { "wall_seconds", swall }, { "anchor", sanc },
        { "anchor_since", ssince }, { "rows", rows },
    };
    char path[1200];
    snprintf(path, sizeof path, "%s/state.safetensors", R->dir);
    rc = kd_st_write(path, t, k, meta, sizeof meta / sizeof meta[0], R->d);
    if (rc && !R->status) R->status = KD_RUN_FAILED;
out:
    if (rc && (!t || !names || !rows)) fail(R, KD_RUN_FAILED, NULL, "out of memory");
    for (size_t i = 0; names && i < cap; i++) free(names[i]);
    free(names);
    free(t);
    free(rows);
    return rc;
}

static int meta_int(run *R, const char *path, const char *key, int64_t *out)
{
    const char *v = kd_st_meta_get(R->state, key);
    char *end;
    if (!v) return fail(R, KD_RUN_FAILED, NULL, "%s: no \"%s\" in the metadata", path, key);
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < 0)
        return fail(R, KD_RUN_FAILED, NULL, "%s: bad \"%s\": %s", path, key, v);
    *out = x;
    return 0;
}

/* Read run_dir/state.safetensors of a run to resume (absent: start over). */
static int load_state(run *R)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/state.safetensors", R->dir);
    if (access(path, F_OK) != 0) {
        if (!R->o->quiet)
            fprintf(stderr, "%s: no state saved yet; starting the run over\n", R->dir);
        return 0;
    }
    R->state = kd_st_read(path, R->d);
    if (!R->state) { if (!R->status) R->status = KD_RUN_FAILED; return -1; }
    const char *fmt = kd_st_meta_get(R->state, "format");
    if (!fmt || strcmp(fmt, STATE_FORMAT) != 0)
        return fail(R, KD_RUN_FAILED, NULL, "%s: not a kdrun state file (format %s)", path, fmt ? fmt : "missing");
    int64_t ph, done, exec_step;
    if (meta_int(R, path, "phase_index", &ph) || meta_int(R, path, "epoch", &R->resume_epoch) ||
        meta_int(R, path, "step", &R->resume_step) || meta_int(R, path, "loss_n", &R->resume_n) ||
        meta_int(R, path, "exec_step", &exec_step) || meta_int(R, path, "optim_steps", &R->resume_optim_steps) ||
        meta_int(R, path, "done", &done))
        return -1;
    const char *sum = kd_st_meta_get(R->state, "loss_sum");
    const char *wall = kd_st_meta_get(R->state, "wall_seconds");
    R->resume_sum = sum ? strtod(sum, NULL) : 0;
    R->wall_before = wall ? strtod(wall, NULL) : 0;
    R->resume_exec_step = (uint64_t)exec_step;
    if (ph > (int64_t)R->p->nphases)
        return fail(R, KD_RUN_FAILED, NULL, "%s: phase %lld of a recipe with %zu phases", path,
                    (long long)ph, R->p->nphases);
    const char *pname = kd_st_meta_get(R->state, "phase");
    if (ph < (int64_t)R->p->nphases && pname && strcmp(pname, R->p->phase_order[ph]->name) != 0)
        return fail(R, KD_RUN_FAILED, NULL, "%s: saved in phase '%s', but the recipe's phase %lld is '%s'",
                    path, pname, (long long)ph + 1, R->p->phase_order[ph]->name);
    R->resume_phase = (int)ph;
    int64_t anc = 0, since = 0;
    if (kd_st_meta_get(R->state, "anchor") &&
        (meta_int(R, path, "anchor", &anc) || meta_int(R, path, "anchor_since", &since)))
        return -1;
    R->resume_anchor = (int)anc;
    R->resume_anchor_since = (int)since;
    if (rows_parse(R, kd_st_meta_get(R->state, "rows")))
        return fail(R, KD_RUN_FAILED, NULL, "%s: malformed metric rows", path);
    for (size_t i = 0; i < kd_st_count(R->state); i++) {
        const kd_st_tensor *t = kd_st_at(R->state, i);
        if (strncmp(t->name, "store/", 6) != 0) continue;
        if (store_put(R, t->name + 6, t->data, kd_st_numel(t))) return fail(R, KD_RUN_FAILED, NULL, "out of memory");
    }
    if (!R->o->quiet) {
        if (done) fprintf(stderr, "%s: the run had finished; writing its report again\n", R->dir);
        else if (ph < (int64_t)R->p->nphases)
            fprintf(stderr, "resuming %s: phase %s, epoch %lld, step %lld\n", R->dir,
                    R->p->phase_order[ph]->name, (long long)R->resume_epoch + 1, (long long)R->resume_step);
    }
    return 0;
}

/* After building the phase's optimizer: its buffers and counters. */
static int resume_optimizer(run *R, kd_optim *opt)
{
    int nopt = kd_optim_nstate(opt);
    for (int i = 0; i < nopt; i++) {
        const char *bn = NULL;
        float *buf = kd_optim_state(opt, i, &bn);
        char key[128];
        snprintf(key, sizeof key, "optim/%s", bn ? bn : "buf");
        const kd_st_tensor *t = kd_st_find(R->state, key);
        int64_t total = (int64_t)kd_optim_group(opt)->total;
        if (!t) {
            if (R->resume_optim_steps == 0) continue;
            return fail(R, KD_RUN_FAILED, NULL, "the saved state has no optimizer buffer '%s'", key);
        }
        if (kd_st_numel(t) != total)
            return fail(R, KD_RUN_FAILED, NULL, "the saved optimizer buffer '%s' has %lld values, the phase wants %lld",
                        key, (long long)kd_st_numel(t), (long long)total);
        memcpy(buf, t->data, (size_t)total * sizeof(float));
    }
    kd_optim_set_steps(opt, R->resume_optim_steps);
    return 0;
}

typedef struct psettings {
    const kdr_node *train, *loss, *optimizer, *lr, *checkpoint;
    const kdr_node *follows;              /* teacher follows POOL(...) */
    const kdr_node *losses[MAX_MODELS];   /* the loss, or one per model */
    const char *owner[MAX_MODELS];        /* per-model: the model; else NULL */
    int nloss;
    const kdr_node *teachers[MAX_MODELS];
    int nteachers;
    const kdr_node *evals[MAX_EVALS];
    int nevals;
    int64_t epochs, batch, seed;
} psettings;

/* ---- teachers from checkpoints: at an epoch, and routes ------------------------------ */

static int phase_settings(run *R, const kdr_node *ph, psettings *S);

/* A checkpoint route: the phase that writes it, the model it holds, the
 * epochs it saves (every N and the last) and what it keeps. */
typedef struct route_info {
    const char *name;
    const kdr_node *phase;
    const char *model;
    int64_t epochs, every, keep_last;
} route_info;

static int route_setup(run *R, const kdr_node *ph, route_info *ri)
{
    psettings S;
    if (phase_settings(R, ph, &S)) return -1;
    memset(ri, 0, sizeof *ri);
    ri->phase = ph;
    ri->name = S.checkpoint->name ? S.checkpoint->name : ph->name;
    ri->epochs = S.epochs;
    if (const_int(R, S.checkpoint->a, &ri->every, 1)) return -1;
    if ((S.checkpoint->op & KDR_F_KEEP_LAST) && const_int(R, S.checkpoint->b, &ri->keep_last, 1)) return -1;
    const kdr_node *m = S.train->kids;
    if (!m || m->next)
        return fail(R, KD_RUN_RECIPE, S.checkpoint, "route '%s' holds several models; a teacher route trains one",
                    ri->name);
    ri->model = m->name;
    return 0;
}

/* the route named `name` */
static int route_find(run *R, const char *name, const kdr_node *at, route_info *ri)
{
    for (size_t i = 0; i < R->p->nphases; i++) {
        const kdr_node *ph = R->p->phase_order[i];
        for (const kdr_node *s = ph->kids; s; s = s->next)
            if (s->kind == KDR_SETTING && !strcmp(s->word, "checkpoint") &&
                !strcmp(s->name ? s->name : ph->name, name)) {
                const kdr_unit *u = R->unit;
                R->unit = kd_program_unit_of(R->p, ph);
                int rc = route_setup(R, ph, ri);
                R->unit = u;
                return rc;
            }
    }
    return fail(R, KD_RUN_RECIPE, at, "no checkpoint route named '%s'", name);
}

/* the route of the last phase before `cur` that trains `model` with checkpoints */
static int route_of_model(run *R, const char *model, const kdr_node *cur, const kdr_node *at, route_info *ri)
{
    const kdr_node *found = NULL;
    for (size_t i = 0; i < R->p->nphases && R->p->phase_order[i] != cur; i++) {
        const kdr_node *ph = R->p->phase_order[i], *tr = NULL, *ck = NULL;
        for (const kdr_node *s = ph->kids; s; s = s->next) {
            if (s->kind != KDR_SETTING) continue;
            if (!strcmp(s->word, "train")) tr = s;
            if (!strcmp(s->word, "checkpoint")) ck = s;
        }
        if (!tr || !ck) continue;
        for (const kdr_node *m = tr->kids; m; m = m->next)
            if (!strcmp(m->name, model)) found = ph;
    }
    if (!found)
        return fail(R, KD_RUN_RECIPE, at, "'%s' at an epoch needs an earlier phase that trains it with "
                    "'checkpoint every N epochs'", model);
    const kdr_unit *u = R->unit;
    R->unit = kd_program_unit_of(R->p, found);
    int rc = route_setup(R, found, ri);
    R->unit = u;
    return rc;
}

static void route_path(run *R, const route_info *ri, int64_t epoch, char *buf, size_t n)
{
    snprintf(buf, n, "%s/checkpoints/%s/epoch-%03lld.safetensors", R->dir, ri->name, (long long)epoch);
}

/* Is `epoch` a checkpoint the route writes and keeps? */
static int route_check_epoch(run *R, const route_info *ri, int64_t epoch, const kdr_node *at)
{
    if (epoch < 1 || epoch > ri->epochs)
        return fail(R, KD_RUN_RECIPE, at, "route '%s' has epochs 1..%lld, not %lld", ri->name,
                    (long long)ri->epochs, (long long)epoch);
    if (epoch % ri->every != 0 && epoch != ri->epochs)
        return fail(R, KD_RUN_RECIPE, at, "route '%s' saves every %lld epochs: no checkpoint at epoch %lld",
                    ri->name, (long long)ri->every, (long long)epoch);
    if (ri->keep_last > 0) {
        int64_t last = ri->epochs - (ri->epochs % ri->every == 0 ? 0 : ri->epochs % ri->every);
        /* the kept ones: the last keep_last saves */
        int64_t oldest = ri->epochs % ri->every == 0 ? ri->epochs - (ri->keep_last - 1) * ri->every
                                                      : last - (ri->keep_last - 2) * ri->every;
        if (epoch < oldest && epoch != ri->epochs)
            return fail(R, KD_RUN_RECIPE, at, "route '%s' keeps its last %lld checkpoints only: epoch %lld is "
                        "deleted by then ('keep all' keeps it)", ri->name, (long long)ri->keep_last,
                        (long long)epoch);
    }
    return 0;
}

/* Copy the parameters and bn statistics of model `from` in checkpoint
 * `path` into model `to` of G (the same architecture, `to` may be a pool). */
static int load_checkpoint_into(run *R, pgraph *G, const char *path, const char *from, const char *to)
{
    kd_st_file *f = kd_st_read(path, R->d);
    if (!f) { if (!R->status) R->status = KD_RUN_FAILED; return -1; }
    float *P = kd_exec_params(G->e);
    size_t lt = strlen(to);
    char key[400];
    int n = 0;
    for (int32_t i = 0; i < G->g->nparams; i++) {
        const kd_param *q = &G->g->params[i];
        if (strncmp(q->name, to, lt) != 0 || q->name[lt] != '.') continue;
        snprintf(key, sizeof key, "%s%s", from, q->name + lt);
        const kd_st_tensor *t = kd_st_find(f, key);
        if (!t || kd_st_numel(t) != kd_shape_numel(&q->shape)) {
            fail(R, KD_RUN_FAILED, NULL, "%s: %s %s", path, key, t ? "has another shape" : "is missing");
            kd_st_free(f);
            return -1;
        }
        memcpy(P + q->offset, t->data, (size_t)kd_st_numel(t) * sizeof(float));
        n++;
    }
    for (int32_t i = 0; i < G->g->nnodes; i++) {
        char base[300];
        if (bn_base(G->g, &G->g->nodes[i], base, sizeof base) ||
            strncmp(base, to, lt) != 0 || base[lt] != '.') continue;
        for (int k = 0; k < 2; k++) {
            snprintf(key, sizeof key, "%s%s.%s", from, base + lt, k ? "running_var" : "running_mean");
            const kd_st_tensor *t = kd_st_find(f, key);
            float *st = kd_exec_state(G->e, i, k);
            if (t && st && kd_st_numel(t) == kd_shape_numel(&G->g->nodes[i].info.state_shape[k]))
                memcpy(st, t->data, (size_t)kd_st_numel(t) * sizeof(float));
        }
    }
    kd_st_free(f);
    if (n == 0) return fail(R, KD_RUN_FAILED, NULL, "%s holds no parameters of '%s'", path, from);
    return 0;
}

/* A pool of checkpoints of one route, and how a phase follows it. */
typedef struct pool_run {
    const char *name;
    route_info route;
    int64_t epochs[1024];            /* the anchors: route epochs, in order */
    int n;
    int greedy;
    double threshold;
    int64_t patience;
    kdr_node decl;                   /* the route's model, named like the pool */
    int model;                       /* index in the phase's models */
    int cur, loaded, since;          /* current anchor, the one in the graph, epochs on it */
} pool_run;

static int pool_setup(run *R, const kdr_node *follows, int64_t phase_epochs, pool_run *pr)
{
    memset(pr, 0, sizeof *pr);
    pr->name = follows->a->name;
    pr->loaded = -1;
    const kdr_node *pd = kd_program_decl(R->p, KDR_POOL, pr->name, NULL);
    if (!pd) return fail(R, KD_RUN_RECIPE, follows->a, "no pool named '%s'", pr->name);
    const kdr_unit *u = R->unit;
    const kdr_node *c = pd->a;
    if (!c || strcmp(call_name(c) ? call_name(c) : "", "checkpoints") != 0) {
        R->unit = kd_program_unit_of(R->p, pd);
        fail(R, KD_RUN_FAILED, c ? c : pd, "following a pool of models is not in this build yet; "
             "a route is a pool of checkpoints(ROUTE, ...)");
        R->unit = u;
        return -1;
    }
    R->unit = kd_program_unit_of(R->p, pd);
    const kdr_node *rt = arg(c, "route", 0);
    if (!rt || rt->kind != KDR_IDENT) { fail(R, KD_RUN_RECIPE, c, "checkpoints(ROUTE, ...) needs a route name"); goto bad; }
    if (route_find(R, rt->name, rt, &pr->route)) goto bad;
    const kdr_node *every = arg(c, "every", 1), *eps = arg(c, "epochs", 99);
    if (eps && eps->kind == KDR_LIST) {
        for (const kdr_node *v = eps->kids; v && pr->n < 1024; v = v->next) {
            int64_t e;
            if (const_int(R, v, &e, 1)) goto bad;
            if (pr->n && e <= pr->epochs[pr->n - 1]) { fail(R, KD_RUN_RECIPE, v, "pool epochs must increase"); goto bad; }
            pr->epochs[pr->n++] = e;
        }
    } else {
        int64_t k = pr->route.every;
        if (every && const_int(R, every, &k, 1)) goto bad;
        for (int64_t e = k; e <= pr->route.epochs && pr->n < 1024; e += k) pr->epochs[pr->n++] = e;
        if ((pr->n == 0 || pr->epochs[pr->n - 1] != pr->route.epochs) && pr->n < 1024)
            pr->epochs[pr->n++] = pr->route.epochs;
    }
    for (int i = 0; i < pr->n; i++)
        if (route_check_epoch(R, &pr->route, pr->epochs[i], c)) goto bad;
    R->unit = u;
    /* how to follow it */
    const kdr_node *st = arg(follows, "strategy", 0);
    const char *sn = st && st->kind == KDR_IDENT ? st->name : "equal";
    pr->greedy = !strcmp(sn, "greedy");
    if (!pr->greedy && strcmp(sn, "equal") != 0)
        return fail(R, KD_RUN_RECIPE, st, "strategy is equal or greedy, not '%s'", sn);
    double thr, pat;
    if (arg_num(R, follows, "threshold", 1, 0, &thr) || arg_num(R, follows, "patience", 2, 1, &pat)) return -1;
    pr->threshold = thr;
    pr->patience = (int64_t)pat;
    if (pr->patience < 1) return fail(R, KD_RUN_RECIPE, follows, "patience must be >= 1");
    const kdr_node *md = kd_program_decl(R->p, KDR_MODEL, pr->route.model, NULL);
    if (!md) return fail(R, KD_RUN_RECIPE, follows, "no model named '%s'", pr->route.model);
    pr->decl = *md;
    pr->decl.name = pr->name;
    (void)phase_epochs;
    return 0;
bad:
    R->unit = u;
    return -1;
}

/* The anchor for epoch ep (0-based): equal splits the epochs evenly. */
static int pool_anchor(const pool_run *pr, int64_t ep, int64_t epochs)
{
    if (!pr->greedy) {
        int64_t i = ep * pr->n / (epochs > 0 ? epochs : 1);
        return (int)(i < pr->n ? i : pr->n - 1);
    }
    return pr->cur;
}

/* Greedy: after an epoch whose mean loss is below the threshold, or after
 * `patience` epochs on one anchor, move to the next. */
static void pool_after_epoch(pool_run *pr, double loss)
{
    if (!pr->greedy) return;
    pr->since++;
    if ((loss < pr->threshold || pr->since >= pr->patience) && pr->cur + 1 < pr->n) {
        pr->cur++;
        pr->since = 0;
    }
}

/* Before any work: every phase's settings, routes and checkpoint epochs
 * make sense (a pool asking for a checkpoint that `keep last` deletes
 * would otherwise fail hours into a run). */
static int preflight(run *R)
{
    for (size_t i = 0; i < R->p->nphases; i++) {
        const kdr_node *ph = R->p->phase_order[i];
        R->unit = kd_program_unit_of(R->p, ph);
        psettings S;
        if (phase_settings(R, ph, &S)) return -1;
        if (S.follows) {
            pool_run *pr = calloc(1, sizeof *pr);
            if (!pr) return fail(R, KD_RUN_FAILED, NULL, "out of memory");
            int rc = pool_setup(R, S.follows, S.epochs, pr);
            free(pr);
            if (rc) return -1;
        }
        for (int k = 0; k < S.nteachers; k++) {
            const kdr_node *t = S.teachers[k];
            route_info ri;
            int64_t e;
            if (!t->b) continue;
            R->unit = kd_program_unit_of(R->p, ph);
            if (const_int(R, t->b, &e, 1) || route_of_model(R, t->a->name, ph, t, &ri)) return -1;
            R->unit = kd_program_unit_of(R->p, ph);
            if (route_check_epoch(R, &ri, e, t->b)) return -1;
        }
    }
    return 0;
}

/* ---- weight schedules --------------------------------------------------------------- */

static int weight_setup(run *R, const kd_graph *g, kd_weight_sched *ws)
{
    for (int i = 0; i < g->nwsched; i++) {
        const kdr_node *c = g->wsched[i].call;
        const char *name = call_name(c);
        const kdr_unit *u = R->unit;
        R->unit = g->wsched[i].unit;
        double a, b, k;
        int rc = -1;
        if (!name) fail(R, KD_RUN_RECIPE, c, "expected a weight schedule");
        else if (!strcmp(name, "until")) {
            if (!arg_num(R, c, "epoch", 0, 0, &a)) rc = kd_weight_until(&ws[i], (int64_t)a, R->d);
        } else if (!strcmp(name, "ramp")) {
            if (!arg_num(R, c, "from", 0, 0, &a) && !arg_num(R, c, "to", 1, 1, &b) && !arg_num(R, c, "epochs", 2, 1, &k))
                rc = kd_weight_ramp(&ws[i], a, b, (int64_t)k, R->d);
        } else if (!strcmp(name, "decay")) {
            if (!arg_num(R, c, "start", 0, 1, &a) && !arg_num(R, c, "factor", 1, 1, &b) && !arg_num(R, c, "every", 2, 1, &k))
                rc = kd_weight_decay(&ws[i], a, b, (int64_t)k, R->d);
        } else fail(R, KD_RUN_FAILED, c, "weight schedule '%s' is not in this build yet", name);
        R->unit = u;
        if (rc) { if (!R->status) R->status = KD_RUN_RECIPE; return -1; }
    }
    return 0;
}

static void weight_set(pgraph *G, const kd_weight_sched *ws, int64_t ep)
{
    for (int i = 0; i < G->g->nwsched; i++) {
        float *x = kd_exec_input(G->e, G->g->wsched[i].node);
        if (x) x[0] = (float)kd_weight_at(&ws[i], ep);
    }
}

/* ---- the phase loop ------------------------------------------------------------ */


static int phase_settings(run *R, const kdr_node *ph, psettings *S)
{
    memset(S, 0, sizeof *S);
    S->epochs = 1;
    S->batch = 128;
    /* a phase without `seed`: --seed, else a `sweep seed`/`let seed` of
     * the recipe (so `sweep seed in 1..3` varies every phase), else 1 */
    S->seed = 1;
    if (R->o->seed >= 0) S->seed = R->o->seed;
    else if (kd_program_decl(R->p, KDR_SWEEP, "seed", NULL) || kd_program_decl(R->p, KDR_LET, "seed", NULL)) {
        kdr_node id;
        memset(&id, 0, sizeof id);
        id.kind = KDR_IDENT;
        id.name = "seed";
        if (const_int(R, &id, &S->seed, 0)) return -1;
    }
    for (const kdr_node *s = ph->kids; s; s = s->next) {
        if (s->kind != KDR_SETTING) continue;
        const char *w = s->word;
        if (!strcmp(w, "train")) {
            if (S->train) return fail(R, KD_RUN_FAILED, s, "several train statements in one phase are not in this build yet");
            S->train = s;
        } else if (!strcmp(w, "teacher")) {
            if (s->op & KDR_F_FOLLOWS) {
                if (S->follows) return fail(R, KD_RUN_FAILED, s, "a phase follows one route");
                S->follows = s;
            } else if (S->nteachers < MAX_MODELS) S->teachers[S->nteachers++] = s;
        } else if (!strcmp(w, "epochs")) { if (const_int(R, s->a, &S->epochs, 1)) return -1; }
        else if (!strcmp(w, "batch")) { if (const_int(R, s->a, &S->batch, 1)) return -1; }
        else if (!strcmp(w, "seed")) { if (const_int(R, s->a, &S->seed, 0)) return -1; }
        else if (!strcmp(w, "optimizer")) {
            if (s->name) return fail(R, KD_RUN_FAILED, s, "per-group optimizers are not in this build yet");
            S->optimizer = s->a;
        } else if (!strcmp(w, "lr")) {
            if (s->name) return fail(R, KD_RUN_FAILED, s, "per-group schedules are not in this build yet");
            S->lr = s->a;
        } else if (!strcmp(w, "loss")) {
            if (S->nloss == MAX_MODELS) return fail(R, KD_RUN_FAILED, s, "too many losses in one phase");
            if (S->nloss && (!s->name || !S->owner[0]))
                return fail(R, KD_RUN_RECIPE, s, "a phase has one loss, or one 'loss MODEL:' per trained model");
            for (int k = 0; k < S->nloss; k++)
                if (s->name && !strcmp(S->owner[k], s->name))
                    return fail(R, KD_RUN_RECIPE, s, "a second loss for model '%s'", s->name);
            S->losses[S->nloss] = s->a;
            S->owner[S->nloss++] = s->name;
            S->loss = s->a;
        } else if (!strcmp(w, "checkpoint")) S->checkpoint = s;
        else if (!strcmp(w, "evaluate")) { if (S->nevals < MAX_EVALS) S->evals[S->nevals++] = s; }
        else if (!strcmp(w, "after")) continue;
        else return fail(R, KD_RUN_FAILED, s, "'%s' in a phase is not in this build yet", w);
    }
    if (!S->train) return fail(R, KD_RUN_FAILED, ph, "a phase without 'train' is not in this build yet");
    if (!S->loss) return fail(R, KD_RUN_RECIPE, ph, "phase '%s' has no loss", ph->name);
    return 0;
}

static int optimizer_cfg(run *R, const kdr_node *call, kd_optim_cfg *cfg)
{
    const char *name = call ? call_name(call) : "sgd";
    kd_optim_kind kind;
    if (!name || kd_optim_kind_of(name, &kind))
        return fail(R, KD_RUN_RECIPE, call, "unknown optimizer");
    *cfg = kd_optim_defaults(kind);
    if (!call) { cfg->lr = 0.1; cfg->momentum = 0.9; return 0; }
    double x;
    if (arg_num(R, call, "lr", 0, kind == KD_OPTIM_SGD ? -1 : cfg->lr, &x)) return -1;
    if (x < 0) return fail(R, KD_RUN_RECIPE, call, "sgd needs lr");
    cfg->lr = x;
    if (arg_num(R, call, "weight_decay", 99, cfg->weight_decay, &cfg->weight_decay)) return -1;
    if (kind == KD_OPTIM_SGD) {
        if (arg_num(R, call, "momentum", 99, cfg->momentum, &cfg->momentum)) return -1;
        if (arg_num(R, call, "nesterov", 99, cfg->nesterov, &x)) return -1;
        cfg->nesterov = x != 0;
    } else {
        const kdr_node *betas = arg(call, "betas", 99);
        if (betas && betas->kind == KDR_LIST && betas->kids && betas->kids->next) {
            if (const_num(R, betas->kids, &cfg->beta1, 0) ||
                const_num(R, betas->kids->next, &cfg->beta2, 0)) return -1;
        }
        if (arg_num(R, call, "eps", 99, cfg->eps, &cfg->eps)) return -1;
    }
    if (kd_optim_check(cfg, R->d)) { if (!R->status) R->status = KD_RUN_RECIPE; return -1; }
    return 0;
}

static int lr_sched(run *R, const kdr_node *call, int64_t epochs, kd_lr_sched *s, int depth)
{
    memset(s, 0, sizeof *s);
    const char *name = call ? call_name(call) : "constant";
    if (!name) return fail(R, KD_RUN_RECIPE, call, "expected a schedule call");
    if (depth > 3) return fail(R, KD_RUN_RECIPE, call, "schedules nested too deeply");
    double x;
    if (!strcmp(name, "constant")) return kd_lr_constant(s);
    if (!strcmp(name, "step") || !strcmp(name, "multistep")) {
        const kdr_node *ms = arg(call, "milestones", 0);
        double m[KD_LR_MAXMILESTONES];
        int n = 0;
        if (ms && ms->kind == KDR_LIST)
            for (const kdr_node *v = ms->kids; v && n < KD_LR_MAXMILESTONES; v = v->next)
                if (const_num(R, v, &m[n++], 0)) return -1;
        if (arg_num(R, call, "gamma", 1, 0.1, &x)) return -1;
        return kd_lr_step(s, m, n, x, R->d);
    }
    if (!strcmp(name, "cosine")) {
        if (arg_num(R, call, "min_lr", 0, 0, &x)) return -1;
        return kd_lr_cosine(s, x, epochs, R->d);
    }
    if (!strcmp(name, "exponential")) {
        if (arg_num(R, call, "gamma", 0, 0.95, &x)) return -1;
        return kd_lr_exponential(s, x, R->d);
    }
    if (!strcmp(name, "warmup")) {
        kd_lr_sched inner;
        const kdr_node *then = arg(call, "then", 1);
        if (lr_sched(R, then, epochs, &inner, depth + 1)) return -1;
        if (arg_num(R, call, "epochs", 0, 1, &x)) return -1;
        if (kd_lr_warmup(s, (int64_t)x, &inner, R->d)) return -1;
        kd_lr_set_epochs(s, epochs);
        return 0;
    }
    return fail(R, KD_RUN_FAILED, call, "learning-rate schedule '%s' is not in this build yet", name);
}

static void progress(run *R, const char *phase, int64_t epoch, int64_t epochs, int64_t step,
                     int64_t steps, double loss, double t_epoch)
{
    if (!R->o->progress || R->o->quiet) return;
    int width = 24, done = steps ? (int)(width * (step + 1) / steps) : width;
    double eta = step > 0 ? t_epoch / (double)(step + 1) * (double)(steps - step - 1) : 0;
    fprintf(stderr, "\r%s %lld/%lld [", phase, (long long)epoch + 1, (long long)epochs);
    for (int i = 0; i < width; i++) fputc(i < done ? '=' : i == done ? '>' : ' ', stderr);
    fprintf(stderr, "] %lld/%lld loss %.4f ETA %ds   ", (long long)step + 1, (long long)steps,
            loss, (int)(eta + 0.5));
    fflush(stderr);
}

/* 1 when trained models a and b (graph model indices) have the same
 * parameters: paths inside the model and shapes, in order */
static int same_arch(const kd_graph *g, int a, int b)
{
    int32_t i = 0, j = 0;
    for (;;) {
        while (i < g->nparams && g->params[i].model != a) i++;
        while (j < g->nparams && g->params[j].model != b) j++;
        if (i == g->nparams || j == g->nparams) return i == g->nparams && j == g->nparams;
        const char *pa = strchr(g->params[i].name, '.'), *pb = strchr(g->params[j].name, '.');
        if (!pa || !pb || strcmp(pa, pb) != 0 || !kd_shape_eq(&g->params[i].shape, &g->params[j].shape))
            return 0;
        i++, j++;
    }
}

/* Models of one architecture trained in one phase (mutual learning) would
 * start with equal weights and, with symmetric losses, stay equal: the
 * k-th repeat of an architecture gets init salt k.  A model trained alone
 * or first keeps the weights it would have in any other phase. */
static void init_salts(pgraph *G)
{
    for (int i = 0; i < G->nm; i++) {
        if (!G->m[i].trained) continue;
        uint64_t k = 0;
        for (int j = 0; j < i; j++)
            if (G->m[j].trained && same_arch(G->g, G->m[j].index, G->m[i].index)) k++;
        kd_exec_set_init_salt(G->e, G->m[i].index, k);
    }
}

static int run_phase(run *R, const kdr_node *ph)
{
    R->unit = kd_program_unit_of(R->p, ph);
    psettings S;
    if (phase_settings(R, ph, &S)) return -1;
    const char *split = NULL;
    dataset *D = data_ref(R, S.train->a, &split);
    if (!D) return -1;
    R->unit = kd_program_unit_of(R->p, ph);
    if (D->ds.kind != KD_DATA_IMAGES)
        return fail(R, KD_RUN_FAILED, S.train->a, "only image classification data trains in this build");

    pgraph G;
    memset(&G, 0, sizeof G);
    G.batch = S.batch;
    for (const kdr_node *m = S.train->kids; m; m = m->next)
        if (add_model(R, &G, m, m->name, 1) < 0) return -1;
    for (int i = 0; i < S.nteachers; i++)
        if (add_model(R, &G, S.teachers[i]->a, S.teachers[i]->a->name, 0) < 0) return -1;
    pool_run *pool = NULL;
    kd_weight_sched ws[32];
    if (S.follows) {
        pool = calloc(1, sizeof *pool);
        if (!pool) return fail(R, KD_RUN_FAILED, NULL, "out of memory");
        if (pool_setup(R, S.follows, S.epochs, pool) ||
            (pool->model = add_model_decl(R, &G, S.follows, &pool->decl, 0)) < 0) {
            free(pool);
            return -1;
        }
        R->unit = kd_program_unit_of(R->p, ph);
    }
    peval ev[MAX_EVALS];
    int nev = 0;
    for (int i = 0; i < S.nevals; i++) {
        peval *e = &ev[nev];
        memset(e, 0, sizeof *e);
        e->at = S.evals[i];
        e->D = data_ref(R, S.evals[i]->a, &e->split);
        R->unit = kd_program_unit_of(R->p, ph);
        if (!e->D) { free(pool); return -1; }
        for (const kdr_node *m = S.evals[i]->kids; m; m = m->next) {
            int k = add_model(R, &G, m, m->name, 0);
            if (k < 0) { free(pool); return -1; }
            e->models[e->nmodels++] = k;
        }
        nev++;
    }
    int rc = -1;
    kd_optim *opt = NULL;
    kd_param_group grp;
    memset(&grp, 0, sizeof grp);
    kd_batcher *bt = NULL;
    if (pgraph_build(R, &G, D, S.losses, S.owner, S.nloss, R->unit, ph->name)) goto out;

    int resuming = R->state && R->phase_idx == R->resume_phase;
    init_salts(&G);
    kd_exec_init_params(G.e, (uint64_t)S.seed);
    load_from_store(R, &G);
    if (resuming) kd_exec_set_step(G.e, R->resume_exec_step);
    if (weight_setup(R, G.g, ws)) goto out;
    R->unit = kd_program_unit_of(R->p, ph);
    /* early-stopped teachers: the checkpoint of their route at an epoch */
    for (int i = 0; i < S.nteachers; i++) {
        const kdr_node *t = S.teachers[i];
        if (!t->b) continue;
        route_info ri;
        int64_t e;
        char path[1300];
        if (const_int(R, t->b, &e, 1) || route_of_model(R, t->a->name, ph, t, &ri)) goto out;
        R->unit = kd_program_unit_of(R->p, ph);
        if (route_check_epoch(R, &ri, e, t->b)) goto out;
        route_path(R, &ri, e, path, sizeof path);
        if (load_checkpoint_into(R, &G, path, t->a->name, t->a->name)) goto out;
        if (!R->o->quiet)
            fprintf(stderr, "phase %s: teacher %s at epoch %lld (%s)\n", ph->name, t->a->name, (long long)e, path);
        char what[160];
        snprintf(what, sizeof what, "%s teacher epoch", t->a->name);
        if (!resuming) add_row(R, ph->name, 0, what, (double)e);
    }
    if (pool && resuming) {
        pool->cur = R->resume_anchor;
        pool->since = R->resume_anchor_since;
    }
    for (int i = 0; i < G.nm; i++)
        if (!G.m[i].trained && !(pool && i == pool->model)) {
            /* a model that is not trained here must have been trained before */
            int any = 0;
            for (int32_t k = 0; k < G.g->nparams; k++)
                if (G.g->params[k].model == G.m[i].index && store_find(R, G.g->params[k].name)) any = 1;
            if (!any && !R->o->quiet)
                kdr_diag_push(R->d, KDR_WARNING, R->unit, ph->beg, ph->end,
                              "model '%s' is used untrained in phase '%s'", G.m[i].name, ph->name);
        }

    kd_optim_cfg oc;
    if (optimizer_cfg(R, S.optimizer, &oc)) goto out;
    kd_group_sel sel = { .arch = 0, .models = 0, .include_frozen = 0 };
    if (kd_param_group_build(&grp, G.g->params, G.g->nparams, &sel, R->d)) goto out;
    opt = kd_optim_new(&oc, &grp, R->d);
    if (!opt) { if (!R->status) R->status = KD_RUN_FAILED; goto out; }
    if (resuming && resume_optimizer(R, opt)) goto out;
    int64_t ep0 = resuming ? R->resume_epoch : 0;
    int64_t st0 = resuming ? R->resume_step : 0;
    if (ep0 > S.epochs) ep0 = S.epochs;
    kd_lr_sched sched;
    if (lr_sched(R, S.lr, S.epochs, &sched, 0)) goto out;

    kd_loader_cfg lc;
    loader_cfg(D, split, S.batch, (uint64_t)S.seed, 1, &lc);
    char err[1024];
    if (ep0 < S.epochs && kd_batcher_start(&lc, ep0, S.epochs, &bt, err, sizeof err) != KD_DATA_OK) {
        fail(R, KD_RUN_DATA, S.train->a, "%s", err);
        goto out;
    }
    kd_loader *probe = NULL;
    int64_t steps = 0;
    if (kd_loader_new(&lc, &probe, err, sizeof err) == KD_DATA_OK) steps = kd_loader_steps(probe);
    kd_loader_free(probe);
    if (steps < 1) {
        fail(R, KD_RUN_DATA, S.train->a, "split '%s' has fewer samples than one batch (%lld)",
             split, (long long)S.batch);
        goto out;
    }
    int64_t every = 0, keep_last = 0;
    const char *route = ph->name;
    if (S.checkpoint) {
        if (const_int(R, S.checkpoint->a, &every, 1)) goto out;
        if (S.checkpoint->extra && strncmp(S.checkpoint->extra, "step", 4) == 0) {
            fail(R, KD_RUN_FAILED, S.checkpoint, "checkpoints every N steps are not in this build yet");
            goto out;
        }
        if ((S.checkpoint->op & KDR_F_KEEP_LAST) && const_int(R, S.checkpoint->b, &keep_last, 1)) goto out;
        if (S.checkpoint->name) route = S.checkpoint->name;
    }

    if (!R->o->quiet)
        fprintf(stderr, "phase %s: %lld epochs of %lld steps, batch %lld, seed %lld\n", ph->name,
                (long long)S.epochs, (long long)steps, (long long)S.batch, (long long)S.seed);
    float *P = kd_exec_params(G.e);
    const float *Gr = kd_exec_grads(G.e);
    for (int64_t ep = ep0; ep < S.epochs; ep++) {
        double t_ep = now(), sum = 0;
        int64_t n = 0, first = 0;
        if (ep == ep0 && st0 > 0) {
            /* resuming mid-epoch: the batches already trained on are skipped */
            first = st0;
            sum = R->resume_sum;
            n = R->resume_n;
        }
        int64_t anchor_epoch = 0;
        if (pool) {
            /* the anchor of this epoch, loaded when it changes */
            int a = pool_anchor(pool, ep, S.epochs);
            pool->cur = a;
            anchor_epoch = pool->epochs[a];
            if (a != pool->loaded) {
                char path[1300];
                route_path(R, &pool->route, anchor_epoch, path, sizeof path);
                if (load_checkpoint_into(R, &G, path, pool->route.model, pool->name)) goto out;
                pool->loaded = a;
            }
            R->anchor_cur = pool->cur;
            R->anchor_since = pool->since;
        }
        for (int64_t st = 0; st < steps; st++) {
            const kd_batch *b = NULL;
            int got = kd_batcher_next(bt, &b, err, sizeof err);
            if (got < 0) { fail(R, KD_RUN_DATA, NULL, "%s", err); goto out; }
            if (got == 0) break;
            if (st < first) continue;
            feed(&G, b);
            weight_set(&G, ws, ep);
            kd_exec_zero_grad(G.e);
            if (kd_exec_forward(G.e, 1)) { fail(R, KD_RUN_FAILED, NULL, "forward pass failed"); goto out; }
            double l = kd_exec_value(G.e, G.loss)[0];
            if (!isfinite(l)) {
                R->unit = kd_program_unit_of(R->p, ph);
                /* name the first term that is not finite, where it is written */
                kdr_node term;
                memset(&term, 0, sizeof term);
                const char *tname = NULL;
                for (int k = 0; k < G.nterms && !tname; k++) {
                    double v = kd_exec_value(G.e, G.terms[k])[0];
                    if (isfinite(v)) continue;
                    const kd_node *n = &G.g->nodes[G.terms[k]];
                    tname = n->op->name;
                    term.beg = n->beg;
                    term.end = n->end;
                }
                if (tname)
                    fail(R, KD_RUN_FAILED, &term, "the loss is %s in phase '%s', epoch %lld, step %lld: "
                         "the first term that is not finite is this %s", isnan(l) ? "NaN" : "infinite", ph->name, (long long)ep + 1,
                         (long long)st + 1, tname);
                else
                    fail(R, KD_RUN_FAILED, S.loss, "the loss is %s in phase '%s', epoch %lld, step %lld",
                         isnan(l) ? "NaN" : "infinite", ph->name, (long long)ep + 1, (long long)st + 1);
                goto out;
            }
            if (kd_exec_backward(G.e, G.loss)) { fail(R, KD_RUN_FAILED, NULL, "backward pass failed"); goto out; }
            kd_optim_step(opt, P, Gr, kd_lr_at(&sched, oc.lr, ep, st, steps));
            sum += l;
            n++;
            progress(R, ph->name, ep, S.epochs, st, steps, sum / (double)n, now() - t_ep);
            if (interrupted && st + 1 < steps) {
                /* stop mid-epoch: save where we are, resumable bit for bit */
                if (R->o->progress && !R->o->quiet) fputc('\n', stderr);
                if (save_to_store(R, &G, 1) == 0)
                    save_state(R, opt, ep, st + 1, sum, n, kd_exec_get_step(G.e), ph->name);
                fail(R, KD_RUN_INTERRUPTED, NULL, "interrupted in phase '%s', epoch %lld, step %lld; "
                     "continue with: kdrun --resume %s", ph->name, (long long)ep + 1, (long long)st + 1, R->dir);
                goto out;
            }
        }
        if (R->o->progress && !R->o->quiet) fputc('\n', stderr);
        double mean = n ? sum / (double)n : 0;
        add_row(R, ph->name, ep + 1, "train loss", mean);
        if (pool) {
            char what[160];
            snprintf(what, sizeof what, "%s anchor epoch", pool->name);
            add_row(R, ph->name, ep + 1, what, (double)anchor_epoch);
            pool_after_epoch(pool, mean);
            R->anchor_cur = pool->cur;
            R->anchor_since = pool->since;
        }
        char line[1024];
        size_t o = (size_t)snprintf(line, sizeof line, "%s epoch %lld/%lld  loss %.4f  lr %.4g",
                                    ph->name, (long long)ep + 1, (long long)S.epochs, mean,
                                    kd_lr_at(&sched, oc.lr, ep, 0, steps));
        for (int i = 0; i < nev && !interrupted; i++) {
            evsum es[MAX_MODELS];
            if (evaluate(R, &G, &ev[i], es)) goto out;
            const kdr_node *mlist = ev[i].at->b ? ev[i].at->b->kids : NULL;
            for (int k = 0; k < ev[i].nmodels; k++) {
                /* the listed metrics (params and macs only in the report), or top1 */
                for (const kdr_node *mt = mlist; ; mt = mt->next) {
                    char label[64];
                    int64_t kk;
                    if (mlist && !mt) break;
                    const char *w = mlist ? metric_ref(mt, label, sizeof label, &kk) : "top1";
                    if (!mlist) { snprintf(label, sizeof label, "top1"); kk = 0; }
                    if (w && (!strcmp(w, "params") || !strcmp(w, "macs"))) w = NULL;
                    const char *why = NULL;
                    double v = w ? evsum_metric(&es[k], w, kk, &why) : 0;
                    if (mlist && w && why && ep == ep0)
                        kdr_diag_push(R->d, KDR_WARNING, kd_program_unit_of(R->p, ph), mt->beg, mt->end,
                                      "metric '%s' on %s.%s %s; left out", label,
                                      ev[i].D->decl->name, ev[i].split, why);
                    if (w && !why) {
                        char what[200];
                        snprintf(what, sizeof what, "%s %s on %s.%s", G.m[ev[i].models[k]].name, label,
                                 ev[i].D->decl->name, ev[i].split);
                        add_row(R, ph->name, ep + 1, what, v);
                        int pct = !strcmp(w, "top1") || !strcmp(w, "top5");
                        if (o < sizeof line)
                            o += (size_t)snprintf(line + o, sizeof line - o, pct ? "  %s %.2f%%" : "  %s %.4g",
                                                  what, v);
                    }
                    if (!mlist) break;
                }
            }
        }
        if (!R->o->quiet)
            fprintf(stderr, "%s  %.1f s\n", line, now() - t_ep);
        if (every && ((ep + 1) % every == 0 || ep + 1 == S.epochs)) {
            if (save_checkpoint(R, &G, route, ep + 1, ph->name)) goto out;
            if (keep_last > 0 && ep + 1 - keep_last * every > 0) {
                char old[1400];
                snprintf(old, sizeof old, "%s/checkpoints/%s/epoch-%03lld.safetensors", R->dir, route,
                         (long long)(ep + 1 - keep_last * every));
                unlink(old);
            }
        }
        /* the resumable state after every epoch */
        if (save_to_store(R, &G, 1) ||
            save_state(R, opt, ep + 1, 0, 0, 0, kd_exec_get_step(G.e), ph->name)) goto out;
        {   /* the curves so far, to watch a long run */
            char path[1200];
            snprintf(path, sizeof path, "%s/metrics.csv", R->dir);
            write_text_atomic(R, path, emit_csv);
            snprintf(path, sizeof path, "%s/curves.svg", R->dir);
            write_text_atomic(R, path, emit_svg);
        }
        if (interrupted) {
            fail(R, KD_RUN_INTERRUPTED, NULL, "interrupted in phase '%s' after epoch %lld; "
                 "continue with: kdrun --resume %s", ph->name, (long long)ep + 1, R->dir);
            goto out;
        }
    }
    if (save_to_store(R, &G, 1)) goto out;
    rc = 0;
out:
    kd_batcher_stop(bt);
    free(pool);
    R->anchor_cur = R->anchor_since = 0;
    kd_optim_free(opt);
    kd_param_group_free(&grp);
    pgraph_free(&G);
    return rc;
}

/* ---- the report --------------------------------------------------------------- */

static int run_report(run *R, const kdr_node *rep, FILE *table)
{
    R->unit = kd_program_unit_of(R->p, rep);
    for (const kdr_node *s = rep->kids; s; s = s->next) {
        if (s->kind != KDR_SETTING) continue;
        if (strcmp(s->word, "table") == 0) continue;     /* the sweep's, over its points */
        if (strcmp(s->word, "evaluate") != 0)
            return fail(R, KD_RUN_FAILED, s, "'%s' in a report is not in this build yet", s->word);
        const char *split;
        dataset *D = data_ref(R, s->a, &split);
        R->unit = kd_program_unit_of(R->p, rep);
        if (!D) return -1;
        for (const kdr_node *m = s->kids; m; m = m->next) {
            pgraph G;
            memset(&G, 0, sizeof G);
            G.batch = 256;
            peval ev;
            memset(&ev, 0, sizeof ev);
            ev.D = D;
            ev.split = split;
            int k = add_model(R, &G, m, m->name, 0);
            if (k < 0) return -1;
            ev.models[ev.nmodels++] = k;
            if (pgraph_build(R, &G, D, NULL, NULL, 0, R->unit, "report")) { pgraph_free(&G); return -1; }
            kd_exec_init_params(G.e, 0);
            if (load_from_store(R, &G) <= 0 && !R->o->quiet)
                kdr_diag_push(R->d, KDR_WARNING, R->unit, m->beg, m->end,
                              "model '%s' was never trained; it is evaluated as initialized", m->name);
            evsum es;
            if (evaluate(R, &G, &ev, &es)) { pgraph_free(&G); return -1; }
            int64_t params = kd_graph_model_params(G.g, G.m[k].index);
            int64_t macs = kd_graph_model_macs(G.g, G.m[k].index) / G.batch;
            char what[200];
            const char *on = D->decl->name;
            for (const kdr_node *mt = s->b ? s->b->kids : NULL; mt; mt = mt->next) {
                char label[64];
                int64_t kk;
                const char *w = metric_ref(mt, label, sizeof label, &kk);
                if (!w) continue;
                double v;
                const char *why = NULL;
                if (!strcmp(w, "params")) v = (double)params;
                else if (!strcmp(w, "macs")) v = (double)macs;
                else v = evsum_metric(&es, w, kk, &why);
                if (why) { kdr_diag_push(R->d, KDR_WARNING, R->unit, mt->beg, mt->end,
                                         "metric '%s' on %s.%s %s; left out", label, on, split, why); continue; }
                snprintf(what, sizeof what, "%s %s on %s.%s", m->name, label, on, split);
                add_row(R, "report", 0, what, v);
            }
            double t1 = es.top1, t5 = es.top5;
            if (es.nimg && !es.nrank)
                fprintf(table, "  %-12s %s.%-6s psnr %6.2f dB  ssim %6.4f  params %lld  MACs %lld\n",
                        m->name, on, split, es.psnr, es.ssim, (long long)params, (long long)macs);
            else
                fprintf(table, "  %-12s %s.%-6s top1 %6.2f%%  top5 %6.2f%%  params %lld  MACs %lld\n",
                        m->name, on, split, t1, t5, (long long)params, (long long)macs);
            pgraph_free(&G);
        }
    }
    return 0;
}

/* ---- run directory, report.yaml, metrics.csv ------------------------------------ */

int kd_make_run_dir(const char *runs_dir, const char *recipe, char *dir, size_t dirlen,
                    char *err, size_t errlen)
{
    const char *base = strrchr(recipe, '/');
    base = base ? base + 1 : recipe;
    char name[256];
    snprintf(name, sizeof name, "%s", base);
    char *dot = strrchr(name, '.');
    if (dot && strcmp(dot, ".kdr") == 0) *dot = 0;
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    char stamp[64];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    for (int k = 0; k < 100; k++) {
        if (k == 0) snprintf(dir, dirlen, "%s/%s/%s", runs_dir, name, stamp);
        else snprintf(dir, dirlen, "%s/%s/%s-%d", runs_dir, name, stamp, k + 1);
        char parent[1100];
        snprintf(parent, sizeof parent, "%s/%s", runs_dir, name);
        if (mkdirs(parent)) break;
        if (mkdir(dir, 0777) == 0) return 0;
        if (errno != EEXIST) break;
    }
    snprintf(err, errlen, "cannot create the run directory %s: %s", dir, strerror(errno));
    return -1;
}

void kd_recipe_hash(const kdr_program *p, char hex[65])
{
    kd_sha256 h;
    kd_sha256_init(&h);
    for (size_t u = 0; u < p->nunits; u++) {
        const kdr_unit *un = p->units[u];
        if (!un) continue;
        /* contents only: the same recipe named by another path is the same */
        char len[32];
        snprintf(len, sizeof len, "%zu:", un->src ? un->len : 0);
        kd_sha256_update(&h, len, strlen(len));
        if (un->src) kd_sha256_update(&h, un->src, un->len);
    }
    kd_sha256_hex(&h, hex);
}

static void yaml_str(yaml_emitter_t *em, const char *s)
{
    yaml_event_t ev;
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
                                 YAML_ANY_SCALAR_STYLE);
    yaml_emitter_emit(em, &ev);
}

static void yaml_num(yaml_emitter_t *em, double v)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.10g", v);
    yaml_str(em, buf);
}

static void yaml_begin(yaml_emitter_t *em, int map)
{
    yaml_event_t ev;
    if (map) yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
    else yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
    yaml_emitter_emit(em, &ev);
}

static void yaml_end(yaml_emitter_t *em, int map)
{
    yaml_event_t ev;
    if (map) yaml_mapping_end_event_initialize(&ev);
    else yaml_sequence_end_event_initialize(&ev);
    yaml_emitter_emit(em, &ev);
}

static int write_text_atomic(run *R, const char *path, int (*fn)(run *, FILE *))
{
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return fail(R, KD_RUN_FAILED, NULL, "%s: %s", tmp, strerror(errno));
    int rc = fn(R, f);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) rc = -1;
    if (fclose(f) != 0) rc = -1;
    if (rc == 0 && rename(tmp, path) != 0) rc = -1;
    if (rc) { unlink(tmp); return fail(R, KD_RUN_FAILED, NULL, "cannot write %s", path); }
    return 0;
}

/* the final metrics by "model.metric", from the report's rows
 * ("student top1 on fmnist.test"); a later row of the same key wins */
static void finals(run *R, kd_run_result *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < R->nrows; i++) {
        if (strcmp(R->rows[i].phase, "report") != 0) continue;
        char model[96], metric[96];
        if (sscanf(R->rows[i].what, "%95s %95s", model, metric) != 2) continue;
        char key[96];
        snprintf(key, sizeof key, "%.40s.%.50s", model, metric);
        int k = 0;
        while (k < out->nfinal && strcmp(out->keys[k], key) != 0) k++;
        if (k == KD_RUN_MAX_FINAL) continue;
        if (k == out->nfinal) snprintf(out->keys[out->nfinal++], sizeof out->keys[0], "%s", key);
        out->values[k] = R->rows[i].value;
    }
}

typedef struct best_last { double best, last; int64_t best_epoch, last_epoch; } best_last;

/* If row i is the first row of an evaluated series (a phase's per-epoch
 * metric other than the loss): its best (highest) and last values. */
static int series_best(run *R, int i, best_last *bl)
{
    const metric_row *r = &R->rows[i];
    if (r->epoch <= 0 || !strstr(r->what, " on ")) return -1;   /* evaluations only */
    for (int k = 0; k < i; k++)
        if (R->rows[k].epoch > 0 && !strcmp(R->rows[k].phase, r->phase) && !strcmp(R->rows[k].what, r->what))
            return -1;
    bl->best = bl->last = r->value;
    bl->best_epoch = bl->last_epoch = r->epoch;
    for (int k = i + 1; k < R->nrows; k++) {
        const metric_row *q = &R->rows[k];
        if (q->epoch <= 0 || strcmp(q->phase, r->phase) || strcmp(q->what, r->what)) continue;
        if (q->value > bl->best) { bl->best = q->value; bl->best_epoch = q->epoch; }
        bl->last = q->value;
        bl->last_epoch = q->epoch;
    }
    return 0;
}

static int emit_yaml(run *R, FILE *f)
{
    yaml_emitter_t em;
    yaml_event_t ev;
    if (!yaml_emitter_initialize(&em)) return -1;
    yaml_emitter_set_output_file(&em, f);
    yaml_emitter_set_unicode(&em, 1);
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    yaml_emitter_emit(&em, &ev);
    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
    yaml_emitter_emit(&em, &ev);
    yaml_begin(&em, 1);
    char hex[65];
    kd_recipe_hash(R->p, hex);
    yaml_str(&em, "recipe"); yaml_str(&em, R->o->recipe);
    yaml_str(&em, "recipe_sha256"); yaml_str(&em, hex);
    yaml_str(&em, "kdrun"); yaml_str(&em, PACKAGE_VERSION);
    yaml_str(&em, "threads"); yaml_num(&em, R->o->nthreads);
    yaml_str(&em, "blas"); yaml_str(&em, kd_blas_kernels());
    if (R->o->nsweep > 0) {
        yaml_str(&em, "sweep");
        yaml_begin(&em, 1);
        for (int i = 0; i < R->o->nsweep; i++) {
            yaml_str(&em, R->o->sweep_vars[i]);
            yaml_str(&em, R->o->sweep_values[i]);
        }
        yaml_end(&em, 1);
    }
    yaml_str(&em, "wall_seconds"); yaml_num(&em, R->wall_before + now() - R->t0);
    yaml_str(&em, "status");
    yaml_str(&em, R->status == KD_RUN_INTERRUPTED ? "interrupted" : R->status ? "failed" : "ok");
    yaml_str(&em, "metrics");
    yaml_begin(&em, 0);
    for (int i = 0; i < R->nrows; i++) {
        yaml_begin(&em, 1);
        yaml_str(&em, "phase"); yaml_str(&em, R->rows[i].phase);
        if (R->rows[i].epoch) { yaml_str(&em, "epoch"); yaml_num(&em, (double)R->rows[i].epoch); }
        yaml_str(&em, "metric"); yaml_str(&em, R->rows[i].what);
        yaml_str(&em, "value"); yaml_num(&em, R->rows[i].value);
        yaml_end(&em, 1);
    }
    yaml_end(&em, 0);
    kd_run_result fin;
    finals(R, &fin);
    yaml_str(&em, "final");
    yaml_begin(&em, 1);
    for (int i = 0; i < fin.nfinal; i++) { yaml_str(&em, fin.keys[i]); yaml_num(&em, fin.values[i]); }
    yaml_end(&em, 1);
    yaml_str(&em, "best");
    yaml_begin(&em, 0);
    for (int i = 0; i < R->nrows; i++) {
        best_last bl;
        if (series_best(R, i, &bl)) continue;
        yaml_begin(&em, 1);
        yaml_str(&em, "phase"); yaml_str(&em, R->rows[i].phase);
        yaml_str(&em, "metric"); yaml_str(&em, R->rows[i].what);
        yaml_str(&em, "best"); yaml_num(&em, bl.best);
        yaml_str(&em, "best_epoch"); yaml_num(&em, (double)bl.best_epoch);
        yaml_str(&em, "last"); yaml_num(&em, bl.last);
        yaml_str(&em, "last_epoch"); yaml_num(&em, (double)bl.last_epoch);
        yaml_end(&em, 1);
    }
    yaml_end(&em, 0);
    yaml_end(&em, 1);
    yaml_document_end_event_initialize(&ev, 0);   /* an explicit "...": a cut file is detectable */
    yaml_emitter_emit(&em, &ev);
    yaml_stream_end_event_initialize(&ev);
    int ok = yaml_emitter_emit(&em, &ev);
    yaml_emitter_delete(&em);
    return ok ? 0 : -1;
}

static int emit_svg(run *R, FILE *f)
{
    return kd_plot_svg(f, R->rows, R->nrows, R->o->recipe);
}

static int emit_csv(run *R, FILE *f)
{
    fprintf(f, "phase,epoch,metric,value\n");
    for (int i = 0; i < R->nrows; i++)
        fprintf(f, "%s,%lld,\"%s\",%.10g\n", R->rows[i].phase, (long long)R->rows[i].epoch,
                R->rows[i].what, R->rows[i].value);
    return ferror(f) ? -1 : 0;
}

int kd_run(const kdr_program *p, const kd_run_opts *o, kdr_diag *d)
{
    run R;
    memset(&R, 0, sizeof R);
    R.p = p;
    R.o = o;
    R.d = d;
    R.unit = p->units[0];
    R.t0 = now();
    if (o->result) memset(o->result, 0, sizeof *o->result);
    for (size_t u = 0; u < p->nunits; u++) {
        if (!p->units[u]->root) continue;
        for (const kdr_node *t = p->units[u]->root->kids; t; t = t->next)
            if (t->kind == KDR_SEARCH) {
                R.unit = p->units[u];
                fail(&R, KD_RUN_FAILED, t, "searches are not in this build yet");
                return R.status;
            }
    }
    if (!o->run_dir || !*o->run_dir) {
        fail(&R, KD_RUN_FAILED, NULL, "no run directory");
        return R.status;
    }
    snprintf(R.dir, sizeof R.dir, "%s", o->run_dir);
    if (mkdirs(R.dir)) {
        fail(&R, KD_RUN_FAILED, NULL, "cannot create the run directory %s: %s", R.dir, strerror(errno));
        return R.status;
    }
    if (o->resume && load_state(&R)) {
        kd_st_free(R.state);
        for (int i = 0; i < R.nstore; i++) { free(R.store[i].name); free(R.store[i].v); }
        free(R.store);
        free(R.rows);
        return R.status;
    }
    if (preflight(&R)) {
        kd_st_free(R.state);
        for (int i = 0; i < R.nstore; i++) { free(R.store[i].name); free(R.store[i].v); }
        free(R.store);
        free(R.rows);
        return R.status;
    }
    int already_done = R.state && kd_st_meta_get(R.state, "done") &&
                       strcmp(kd_st_meta_get(R.state, "done"), "1") == 0;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old);
    interrupted = 0;
    if (!o->quiet) fprintf(stderr, "run directory: %s\n", R.dir);
    for (size_t i = 0; i < p->nphases && !R.status && !already_done; i++) {
        R.phase_idx = (int)i;
        if (R.state && (int)i < R.resume_phase) continue;     /* finished before */
        run_phase(&R, p->phase_order[i]);
        if (!R.status && interrupted)
            fail(&R, KD_RUN_INTERRUPTED, NULL, "interrupted after phase '%s'; continue with: kdrun --resume %s",
                 p->phase_order[i]->name, R.dir);
    }
    char *table = NULL;
    size_t tlen = 0;
    FILE *tf = open_memstream(&table, &tlen);
    for (size_t u = 0; u < p->nunits && !R.status && tf && !already_done; u++)
        if (p->units[u]->root)
            for (const kdr_node *t = p->units[u]->root->kids; t && !R.status; t = t->next)
                if (t->kind == KDR_REPORT) run_report(&R, t, tf);
    if (tf) fclose(tf);
    if (!R.status && !already_done) {
        R.phase_idx = (int)p->nphases;
        R.done = 1;
        save_state(&R, NULL, 0, 0, 0, 0, 0, NULL);
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/report.yaml", R.dir);
    int failed_before = R.status;
    write_text_atomic(&R, path, emit_yaml);
    snprintf(path, sizeof path, "%s/metrics.csv", R.dir);
    write_text_atomic(&R, path, emit_csv);
    snprintf(path, sizeof path, "%s/curves.svg", R.dir);
    write_text_atomic(&R, path, emit_svg);
    if (!failed_before) {
        printf("results (%s):\n", R.dir);
        if (table && tlen) fputs(table, stdout);
        else
            for (int i = 0; i < R.nrows; i++)
                if (!strcmp(R.rows[i].phase, "report"))
                    printf("  %-40s %g\n", R.rows[i].what, R.rows[i].value);
        for (int i = 0; i < R.nrows; i++) {
            best_last bl;
            if (series_best(&R, i, &bl) == 0 && bl.best_epoch != bl.last_epoch)
                printf("  %s, %s: best %.2f (epoch %lld), last %.2f (epoch %lld)\n", R.rows[i].phase,
                       R.rows[i].what, bl.best, (long long)bl.best_epoch, bl.last, (long long)bl.last_epoch);
        }
        fflush(stdout);
    }
    if (o->result) finals(&R, o->result);
    free(table);
    sigaction(SIGINT, &old, NULL);
    for (int i = 0; i < R.nstore; i++) { free(R.store[i].name); free(R.store[i].v); }
    free(R.store);
    for (int i = 0; i < R.ndata; i++) kd_dataset_free(&R.data[i].ds);
    free(R.rows);
    kd_st_free(R.state);
    return R.status;
}
