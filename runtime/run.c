/* run.c — the shared run context: messages, metric rows, the store of
 * trained parameters, constants of the recipe, data sets, and a phase's
 * graph (compiled models and losses, parameters in and out of the store).
 * Every other room of a run (run.h) builds on this one.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "run.h"
#include "../lang/consteval.h"
#include "graph_ops.h"
#include "metrics.h"

/* ---- small utilities ---------------------------------------------------- */

double run_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}
int run_fail(run *R, int status, const kdr_node *at, const char *fmt, ...)
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

void run_add_row(run *R, const char *phase, int64_t epoch, const char *what, double v)
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

stored *run_store_find(run *R, const char *name)
{
    for (int i = 0; i < R->nstore; i++)
        if (strcmp(R->store[i].name, name) == 0) return &R->store[i];
    return NULL;
}

void run_free(run *R)
{
    for (int i = 0; i < R->nstore; i++) { free(R->store[i].name); free(R->store[i].v); }
    free(R->store);
    for (int i = 0; i < R->ndata; i++) kd_dataset_free(&R->data[i].ds);
    free(R->rows);
    kd_st_free(R->state);
}

int run_store_put(run *R, const char *name, const float *v, int64_t n)
{
    stored *s = run_store_find(R, name);
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

/* ---- constant expressions (settings): lang/consteval.h ------------------------ */

/* the evaluator as the run wants it: a value or a located message, a
 * sweep variable at its value (the sweep driver sets it with an override) */
static void consteval(run *R, kdr_consteval *ev)
{
    kdr_consteval_init(ev, R->p, R->d, KDR_CE_STRICT | KDR_CE_SWEEP_FIRST);
}

int run_const_num(run *R, const kdr_node *e, double *out)
{
    kdr_consteval ev;
    consteval(R, &ev);
    if (kdr_const_num(&ev, R->unit, e, out) == KDR_CE_OK) return 0;
    if (!R->status) R->status = KD_RUN_RECIPE;
    return -1;
}

int run_const_int(run *R, const kdr_node *e, int64_t *out, int64_t lo)
{
    kdr_consteval ev;
    consteval(R, &ev);
    if (kdr_const_int(&ev, R->unit, e, lo, 1e12, out) == KDR_CE_OK) return 0;
    if (!R->status) R->status = KD_RUN_RECIPE;
    return -1;
}

/* the argument `name` (or positional `pos`) of a call node */
const kdr_node *run_arg(const kdr_node *call, const char *name, int pos)
{
    int i = 0;
    for (const kdr_node *a = call->kids; a; a = a->next) {
        if (a->name && strcmp(a->name, name) == 0) return a->a;
        if (!a->name && !a->b && i++ == pos) return a->a;
    }
    return NULL;
}

int run_arg_num(run *R, const kdr_node *call, const char *name, int pos, double def, double *out)
{
    const kdr_node *a = run_arg(call, name, pos);
    if (!a) { *out = def; return 0; }
    return run_const_num(R, a, out);
}

const char *run_call_name(const kdr_node *e)
{
    return e && e->kind == KDR_CALL && e->a->kind == KDR_IDENT ? e->a->name : NULL;
}
/* ---- data ------------------------------------------------------------------------ */

dataset *run_load_data(run *R, const char *name, const kdr_node *at)
{
    for (int i = 0; i < R->ndata; i++)
        if (strcmp(R->data[i].decl->name, name) == 0) return &R->data[i];
    const kdr_node *decl = kd_program_decl(R->p, KDR_DATA, name, NULL);
    if (!decl) { run_fail(R, KD_RUN_RECIPE, at, "no data set named '%s'", name); return NULL; }
    if (R->ndata == (int)(sizeof R->data / sizeof R->data[0])) {
        run_fail(R, KD_RUN_FAILED, at, "too many data sets");
        return NULL;
    }
    const kdr_unit *saved = R->unit;
    R->unit = kd_program_unit_of(R->p, decl);
    dataset *D = &R->data[R->ndata];
    memset(D, 0, sizeof *D);
    D->decl = decl;
    const char *loader = run_call_name(decl->a);
    const kdr_node *dir = decl->a ? run_arg(decl->a, "dir", 0) : NULL;
    char err[1024] = "";
    kd_data_status st = KD_DATA_OK;
    double t = run_now();
    if (!loader || !dir || dir->kind != KDR_STR) {
        if (loader && (strcmp(loader, "sequences") == 0 || strcmp(loader, "synth_sequences") == 0 ||
                       strcmp(loader, "raw_synth") == 0))
            run_fail(R, KD_RUN_FAILED, decl->a, "training on %s data is not in this build yet", loader);
        else
            run_fail(R, KD_RUN_RECIPE, decl->a, "expected a loader call with a directory, e.g. idx(\"DIR\")");
        R->unit = saved;
        return NULL;
    }
    if (strcmp(loader, "idx") == 0) st = kd_load_idx(dir->str, &D->ds, err, sizeof err);
    else if (strcmp(loader, "cifar10") == 0) st = kd_load_cifar10(dir->str, &D->ds, err, sizeof err);
    else if (strcmp(loader, "cifar100") == 0) st = kd_load_cifar100(dir->str, &D->ds, err, sizeof err);
    else if (strcmp(loader, "cinic10") == 0) st = kd_load_cinic10(dir->str, NULL, &D->ds, err, sizeof err);
    else if (strcmp(loader, "image_folder") == 0) {
        double size;
        if (run_arg_num(R, decl->a, "size", 1, 32, &size)) { R->unit = saved; return NULL; }
        st = kd_load_image_folder(dir->str, (int64_t)size, NULL, &D->ds, err, sizeof err);
    } else {
        run_fail(R, KD_RUN_FAILED, decl->a, "training on %s data is not in this build yet", loader);
        R->unit = saved;
        return NULL;
    }
    if (st != KD_DATA_OK) {
        run_fail(R, KD_RUN_DATA, NULL, "%s", err);
        kdr_diag_push(R->d, KDR_NOTE, R->unit, decl->beg, decl->end, "data set '%s' is declared here", name);
        R->unit = saved;
        return NULL;
    }
    /* splits: rename the loader's to the recipe's names, then holdouts, limit */
    for (const kdr_node *s = decl->kids; s; s = s->next) {
        if (s->kind != KDR_SETTING) continue;
        int is_split = s->setting == KDR_S_SPLIT_TRAIN || s->setting == KDR_S_SPLIT_TEST ||
                       s->setting == KDR_S_SPLIT_VAL;   /* the split is named by its word */
        if (!is_split || !s->a || s->a->kind != KDR_STR) continue;
        if (strcmp(s->a->str, s->word) != 0) {
            if (!kd_dataset_split(&D->ds, s->a->str)) {
                run_fail(R, KD_RUN_DATA, s->a, "%s: the loader has no split \"%s\"", dir->str, s->a->str);
                goto bad;
            }
            char tmp[80];
            snprintf(tmp, sizeof tmp, "\x01%s", s->word);
            if (kd_dataset_rename(&D->ds, s->a->str, tmp, err, sizeof err) != KD_DATA_OK) {
                run_fail(R, KD_RUN_DATA, s, "%s", err);
                goto bad;
            }
        }
    }
    for (int i = 0; i < D->ds.nsplits; i++)
        if (D->ds.splits[i].name[0] == '\x01') memmove(D->ds.splits[i].name, D->ds.splits[i].name + 1,
                                                       strlen(D->ds.splits[i].name));
    for (const kdr_node *s = decl->kids; s; s = s->next) {
        if (s->kind != KDR_SETTING) continue;
        if (s->setting == KDR_S_SPLIT_TRAIN && s->b && s->name) {
            int64_t k;
            if (run_const_int(R, s->b, &k, 1)) goto bad;
            if (kd_dataset_holdout(&D->ds, "train", k, s->name, 0, err, sizeof err) != KD_DATA_OK) {
                run_fail(R, KD_RUN_DATA, s->b, "%s", err);
                goto bad;
            }
        } else if (s->setting == KDR_S_LIMIT) {
            int64_t n;
            if (run_const_int(R, s->a, &n, 1)) goto bad;
            if (kd_dataset_limit(&D->ds, "train", n, 0, err, sizeof err) != KD_DATA_OK) {
                run_fail(R, KD_RUN_DATA, s->a, "%s", err);
                goto bad;
            }
        } else if (s->setting == KDR_S_AUGMENT) {
            snprintf(D->aug_split, sizeof D->aug_split, "%s", s->name);
            for (const kdr_node *c = s->kids; c; c = c->next) {
                const char *an = run_call_name(c);
                if (D->naug_train >= KD_MAX_AUG) break;
                kd_aug *g = &D->aug[D->naug_train];
                memset(g, 0, sizeof *g);
                if (an && !strcmp(an, "crop")) {
                    double size, pad;
                    if (run_arg_num(R, c, "size", 0, (double)D->ds.h, &size) ||
                        run_arg_num(R, c, "pad", 1, 0, &pad)) goto bad;
                    g->kind = KD_AUG_CROP;
                    g->size = (int64_t)size;
                    g->pad = (int64_t)pad;
                } else if (an && !strcmp(an, "flip")) {
                    const kdr_node *dirn = run_arg(c, "direction", 0);
                    const char *w = dirn && dirn->kind == KDR_IDENT ? dirn->name : "horizontal";
                    g->kind = strcmp(w, "vertical") == 0 ? KD_AUG_FLIP_V : KD_AUG_FLIP_H;
                } else {
                    run_fail(R, KD_RUN_FAILED, c, "augmentation '%s' is not in this build yet", an ? an : "?");
                    goto bad;
                }
                D->naug_train++;
            }
        } else if (s->setting == KDR_S_NORMALIZE) {
            for (const kdr_node *a = s->kids; a; a = a->next) {
                if (!a->name) continue;
                float *dst = !strcmp(a->name, "mean") ? D->mean : !strcmp(a->name, "std") ? D->std : NULL;
                if (!dst) continue;
                int n = 0;
                if (a->a->kind == KDR_LIST) {
                    for (const kdr_node *v = a->a->kids; v && n < KD_MAX_CHANNELS; v = v->next) {
                        double x;
                        if (run_const_num(R, v, &x)) goto bad;
                        dst[n++] = (float)x;
                    }
                } else {
                    double x;
                    if (run_const_num(R, a->a, &x)) goto bad;
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
        fprintf(stderr, ") in %.1f s\n", run_now() - t);
    }
    R->ndata++;
    R->unit = saved;
    return D;
bad:
    kd_dataset_free(&D->ds);
    R->unit = saved;
    return NULL;
}

/* data set `data` (loaded on first use) and its split `split` */
dataset *run_data_split(run *R, const char *data, const char *split, const kdr_node *at)
{
    dataset *D = run_load_data(R, data, at ? at->a : NULL);
    if (!D) return NULL;
    if (!kd_dataset_split(&D->ds, split)) {
        run_fail(R, KD_RUN_DATA, at, "data set '%s' has no split '%s'", data, split);
        return NULL;
    }
    return D;
}

void run_loader_cfg(const dataset *D, const char *split, int64_t batch, uint64_t seed,
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
void pgraph_free(pgraph *G)
{
    if (G->e) kd_exec_free(G->e);
    if (G->g) kd_graph_free(G->g);
    memset(G, 0, sizeof *G);
}

/* Add a model to the phase's graph by its declaration (decl->name may be a
 * pool's name, built like the route's model). */
int pgraph_add_model_decl(run *R, pgraph *G, const kdr_node *at, const kdr_node *decl, int trained)
{
    const char *name = decl->name;
    for (int i = 0; i < G->nm; i++)
        if (strcmp(G->m[i].name, name) == 0) {
            if (trained) G->m[i].trained = 1;
            return i;
        }
    if (G->nm == MAX_MODELS) return run_fail(R, KD_RUN_FAILED, at, "too many models in one phase");
    pmodel *m = &G->m[G->nm];
    memset(m, 0, sizeof *m);
    m->name = name;
    m->decl = decl;
    m->trained = trained;
    return G->nm++;
}

int pgraph_add_model(run *R, pgraph *G, const kdr_node *at, const char *name, int trained)
{
    for (int i = 0; i < G->nm; i++)
        if (strcmp(G->m[i].name, name) == 0) {
            if (trained) G->m[i].trained = 1;
            return i;
        }
    const kdr_node *decl = kd_program_decl(R->p, KDR_MODEL, name, NULL);
    if (!decl) {
        const kdr_node *pool = kd_program_decl(R->p, KDR_POOL, name, NULL);
        return run_fail(R, KD_RUN_RECIPE, at, pool ? "pool '%s' is not a model: use 'teacher follows %s'"
                    : "no model named '%s'", name, name);
    }
    return pgraph_add_model_decl(R, G, at, decl, trained);
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
int pgraph_build(run *R, pgraph *G, const dataset *D, const kdr_node *const *losses,
                        const char *const *owner, int nloss, const kdr_unit *loss_unit, const char *path)
{
    G->g = kd_graph_new();
    if (!G->g) return run_fail(R, KD_RUN_FAILED, NULL, "out of memory");
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
        if (idx == -2) return run_fail(R, KD_RUN_FAILED, NULL, "model '%s' uses an op that is not in this build yet", m->name);
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
        if (l == -2) return run_fail(R, KD_RUN_FAILED, NULL, "the loss uses something not in this build yet");
        if (l < 0) { if (!R->status) R->status = KD_RUN_RECIPE; return -1; }
        if (G->g->nodes[l].shape.ndim != 0) {
            R->unit = loss_unit;
            return run_fail(R, KD_RUN_RECIPE, losses[k], "a loss must be a scalar");
        }
        if (G->loss < 0) G->loss = l;
        else {
            char e2[256];
            int32_t ins[2] = { G->loss, l };
            G->loss = kd_graph_add_op1(G->g, "add", ins, 2, NULL, 0, e2, sizeof e2);
            if (G->loss < 0) return run_fail(R, KD_RUN_FAILED, NULL, "summing the losses: %s", e2);
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
        if (m->index < 0) return run_fail(R, KD_RUN_FAILED, NULL, "model '%s' was not built", m->name);
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
    if (!G->e) return run_fail(R, KD_RUN_FAILED, NULL, "%s", err);
    return 0;
}

/* the batch-norm node's stored name: its weight's name without ".weight" */
int pgraph_bn_base(const kd_graph *g, const kd_node *n, char *buf, size_t len)
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
int pgraph_load_store(run *R, pgraph *G)
{
    float *P = kd_exec_params(G->e);
    int loaded = 0;
    for (int32_t i = 0; i < G->g->nparams; i++) {
        const kd_param *q = &G->g->params[i];
        stored *s = run_store_find(R, q->name);
        if (!s) continue;
        if (s->n != kd_shape_numel(&q->shape))
            return run_fail(R, KD_RUN_FAILED, NULL, "stored parameter %s has %lld values, the graph wants %lld",
                        q->name, (long long)s->n, (long long)kd_shape_numel(&q->shape));
        memcpy(P + q->offset, s->v, (size_t)s->n * sizeof(float));
        loaded++;
    }
    for (int32_t i = 0; i < G->g->nnodes; i++) {
        char base[300], key[340];
        if (pgraph_bn_base(G->g, &G->g->nodes[i], base, sizeof base)) continue;
        for (int k = 0; k < 2; k++) {
            snprintf(key, sizeof key, "%s.%s", base, k ? "running_var" : "running_mean");
            stored *s = run_store_find(R, key);
            float *st = kd_exec_state(G->e, i, k);
            if (s && st) memcpy(st, s->v, (size_t)s->n * sizeof(float));
        }
    }
    return loaded;
}

int pgraph_save_store(run *R, pgraph *G, int only_trained)
{
    const float *P = kd_exec_params(G->e);
    for (int32_t i = 0; i < G->g->nparams; i++) {
        const kd_param *q = &G->g->params[i];
        int keep = !only_trained || q->trainable;
        if (keep && run_store_put(R, q->name, P + q->offset, kd_shape_numel(&q->shape)))
            return run_fail(R, KD_RUN_FAILED, NULL, "out of memory");
    }
    for (int32_t i = 0; i < G->g->nnodes; i++) {
        char base[300], key[340];
        const kd_node *n = &G->g->nodes[i];
        if (pgraph_bn_base(G->g, n, base, sizeof base)) continue;
        if (only_trained && !G->g->params[n->in[n->ndata]].trainable) continue;
        for (int k = 0; k < 2; k++) {
            snprintf(key, sizeof key, "%s.%s", base, k ? "running_var" : "running_mean");
            float *st = kd_exec_state(G->e, i, k);
            if (st && run_store_put(R, key, st, n->info.state_shape[k].ndim > 0 ?
                                kd_shape_numel(&n->info.state_shape[k]) : 1))
                return run_fail(R, KD_RUN_FAILED, NULL, "out of memory");
        }
    }
    return 0;
}

/* copy one batch into every model input and the labels */
void pgraph_feed(pgraph *G, const kd_batch *b)
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

/* ---- directories ------------------------------------------------------------ */

int run_mkdirs(const char *path)
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
void pgraph_init_salts(pgraph *G)
{
    for (int i = 0; i < G->nm; i++) {
        if (!G->m[i].trained) continue;
        uint64_t k = 0;
        for (int j = 0; j < i; j++)
            if (G->m[j].trained && same_arch(G->g, G->m[j].index, G->m[i].index)) k++;
        kd_exec_set_init_salt(G->e, G->m[i].index, k);
    }
}
