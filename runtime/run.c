/* run.c — the shared run context: messages, metric rows, the store of
 * trained parameters, constants of the recipe, data sets, and a phase's
 * graph (compiled models and losses, parameters in and out of the store).
 * Every other room of a run (run.h) builds on this one.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "run.h"
#include "task.h"
#include "index_input.h"
#include "../lang/consteval.h"

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
    for (int i = 0; i < R->ndata; i++) kd_data_set_free(&R->data[i]);
    free(R->rows);
    free(R->tnotes);
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

int run_const_list(run *R, const kdr_node *e, double *xs, size_t max, size_t *n)
{
    kdr_consteval ev;
    consteval(R, &ev);
    if (kdr_const_list(&ev, R->unit, e, xs, max, n) == KDR_CE_OK) return 0;
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
    /* the loader registry (data/loaders.def) through runtime/data_decl.c */
    dataset *D = &R->data[R->ndata];
    kd_data_set_opts o = { .kinds = kd_task_kinds(), .quiet = R->o->quiet };
    int st = kd_data_set_load(R->p, decl, &o, D, R->d);
    if (st) { if (!R->status) R->status = st; return NULL; }
    R->ndata++;
    return D;
}

/* data set `data` (loaded on first use) and its split `split` */
dataset *run_data_split(run *R, const char *data, const char *split, const kdr_node *at)
{
    dataset *D = run_load_data(R, data, at ? at->a : NULL);
    if (!D) return NULL;
    if (!kd_dataset_split(&D->ds, split)) {
        run_fail(R, KD_RUN_DATA, at, "data set '%s' has no split '%s'%s", data, split,
                 D->ds.kind == KD_DATA_RAW && !strcmp(split, "val") ? " (raw_synth holds out a validation "
                 "split with 'val: true')" : "");
        return NULL;
    }
    return D;
}

void run_loader_cfg(const dataset *D, const char *split, int64_t batch, uint64_t seed,
                    int training, kd_loader_cfg *c)
{
    kd_data_set_loader_cfg(D, split, batch, seed, training, c);
}

/* ---- a phase's graph: runtime/phase_graph.c and an executor -------------------------- */

void pgraph_free(pgraph *G)
{
    if (G->e) kd_exec_free(G->e);
    kd_phase_graph_free(&G->pg);
    memset(G, 0, sizeof *G);
}

/* Add a model to the phase's graph by its declaration (decl->name may be a
 * pool's name, built like the route's model). */
int pgraph_add_model_decl(run *R, pgraph *G, const kdr_node *at, const kdr_node *decl, int trained)
{
    int status = 0;
    int i = kd_phase_graph_add_decl(&G->pg, decl, trained, R->unit, at, R->d, &status);
    if (i < 0 && !R->status) R->status = status;
    return i;
}

int pgraph_add_model(run *R, pgraph *G, const kdr_node *at, const char *name, int trained)
{
    int status = 0;
    int i = kd_phase_graph_add(&G->pg, R->p, name, trained, R->unit, at, R->d, &status);
    if (i < 0 && !R->status) R->status = status;
    return i;
}

/* Compile the models of G on data D and the losses (see
 * kd_phase_graph_build), and create the executor with the total loss, its
 * terms and every model output as roots. */
int pgraph_build(run *R, pgraph *G, const dataset *D, const kdr_node *const *losses,
                 const char *const *owner, int nloss, const kdr_unit *loss_unit, const char *path)
{
    kd_data_shape ds;
    kd_data_set_shape(D, &ds);
    int st = kd_phase_graph_build(&G->pg, R->p, &ds, losses, owner, nloss, loss_unit, path, R->d);
    if (st) { if (!R->status) R->status = st; return -1; }
    int32_t roots[1 + KD_PG_MAX_TERMS + KD_PG_MAX_MODELS];
    int nroots = kd_phase_graph_roots(&G->pg, roots);
    char err[512];
    G->e = kd_exec_new(G->pg.g, roots, nroots, R->o->nthreads, err, sizeof err);
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
    for (int32_t i = 0; i < G->pg.g->nparams; i++) {
        const kd_param *q = &G->pg.g->params[i];
        stored *s = run_store_find(R, q->name);
        if (!s) continue;
        if (s->n != kd_shape_numel(&q->shape))
            return run_fail(R, KD_RUN_FAILED, NULL, "stored parameter %s has %lld values, the graph wants %lld",
                        q->name, (long long)s->n, (long long)kd_shape_numel(&q->shape));
        memcpy(P + q->offset, s->v, (size_t)s->n * sizeof(float));
        loaded++;
    }
    for (int32_t i = 0; i < G->pg.g->nnodes; i++) {
        char base[300], key[340];
        if (pgraph_bn_base(G->pg.g, &G->pg.g->nodes[i], base, sizeof base)) continue;
        for (int k = 0; k < 2; k++) {
            snprintf(key, sizeof key, "%s.%s", base, k ? "running_var" : "running_mean");
            stored *s = run_store_find(R, key);
            float *st = kd_exec_state(G->e, i, k);
            if (s && st) memcpy(st, s->v, (size_t)s->n * sizeof(float));
        }
    }
    if (pgraph_op_states(R, G, 0)) return -1;
    return loaded;
}

int pgraph_save_store(run *R, pgraph *G, int only_trained)
{
    const float *P = kd_exec_params(G->e);
    for (int32_t i = 0; i < G->pg.g->nparams; i++) {
        const kd_param *q = &G->pg.g->params[i];
        int keep = !only_trained || q->trainable;
        if (keep && run_store_put(R, q->name, P + q->offset, kd_shape_numel(&q->shape)))
            return run_fail(R, KD_RUN_FAILED, NULL, "out of memory");
    }
    for (int32_t i = 0; i < G->pg.g->nnodes; i++) {
        char base[300], key[340];
        const kd_node *n = &G->pg.g->nodes[i];
        if (pgraph_bn_base(G->pg.g, n, base, sizeof base)) continue;
        if (only_trained && !G->pg.g->params[n->in[n->ndata]].trainable) continue;
        for (int k = 0; k < 2; k++) {
            snprintf(key, sizeof key, "%s.%s", base, k ? "running_var" : "running_mean");
            float *st = kd_exec_state(G->e, i, k);
            if (st && run_store_put(R, key, st, n->info.state_shape[k].ndim > 0 ?
                                kd_shape_numel(&n->info.state_shape[k]) : 1))
                return run_fail(R, KD_RUN_FAILED, NULL, "out of memory");
        }
    }
    return pgraph_op_states(R, G, 1);
}

/* copy one batch into every model input and the targets (the task's) */
void pgraph_feed(pgraph *G, const kd_batch *b)
{
    G->pg.task->feed(G->e, &G->pg, b);
    kd_index_feed(G->e, G->pg.g, b, G->pg.batch);   /* `index` (crd), if a loss reads it */
    for (int i = 0; i < G->pg.g->nconsts; i++) {   /* cost tables, fixed temperatures */
        float *c = kd_exec_input(G->e, G->pg.g->consts[i].node);
        if (c) memcpy(c, G->pg.g->consts[i].v, (size_t)G->pg.g->consts[i].n * sizeof(float));
    }
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
    for (int i = 0; i < G->pg.nm; i++) {
        if (!G->pg.m[i].trained) continue;
        uint64_t k = 0;
        for (int j = 0; j < i; j++)
            if (G->pg.m[j].trained && same_arch(G->pg.g, G->pg.m[j].index, G->pg.m[i].index)) k++;
        kd_exec_set_init_salt(G->e, G->pg.m[i].index, k);
    }
}
