/* check_models.c — shape inference for `kdrun --check`: compile every model
 * against the data it is trained on, and print parameters, MACs and the
 * output shape of each; then build every phase's graph (its models and
 * losses, as the run will) so that a loss whose tensors do not fit is
 * refused at its location before anything runs.  Sample shapes come from
 * the loader registry: nothing is loaded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "data_decl.h"
#include "phase_graph.h"
#include "task.h"
#include "train.h"

/* The loader registry (data/loaders.h) gives the sample shape; idx reads
 * it from its header when the files are there. */
int kd_data_shape_of(const kdr_program *p, const kdr_node *decl, kd_data_shape *out,
                     kdr_diag *d)
{
    (void)d;
    return kd_data_decl_shape_of(p, decl, out);
}

/* The data set a model is trained or evaluated on: the first phase or report
 * statement naming it, else the first data declaration. */
static const kdr_node *data_for_model(const kdr_program *p, const char *model)
{
    const kdr_node *first = NULL;
    for (size_t u = 0; u < p->nunits; u++) {
        if (!p->units[u]->root) continue;
        for (const kdr_node *t = p->units[u]->root->kids; t; t = t->next) {
            if (t->kind == KDR_DATA && !first) first = t;
            if (t->kind != KDR_PHASE && t->kind != KDR_REPORT) continue;
            for (const kdr_node *s = t->kids; s; s = s->next) {
                if (s->setting != KDR_S_TRAIN && s->setting != KDR_S_EVALUATE) continue;
                int names_it = 0;
                for (const kdr_node *m = s->kids; m; m = m->next)
                    if (m->kind == KDR_IDENT && strcmp(m->name, model) == 0) names_it = 1;
                if (!names_it || !s->a) continue;
                const kdr_node *dref = s->a;
                while (dref->kind == KDR_MEMBER || dref->kind == KDR_INDEX) dref = dref->a;
                if (dref->kind != KDR_IDENT) continue;
                for (size_t v = 0; v < p->nunits; v++) {
                    if (!p->units[v]->root) continue;
                    for (const kdr_node *x = p->units[v]->root->kids; x; x = x->next)
                        if (x->kind == KDR_DATA && strcmp(x->name, dref->name) == 0) return x;
                }
            }
        }
    }
    return first;
}

static int calls_name(const kdr_node *n, const char *name)
{
    for (; n; n = n->next) {
        if (n->kind == KDR_CALL && n->a && n->a->kind == KDR_IDENT && strcmp(n->a->name, name) == 0)
            return 1;
        if (calls_name(n->a, name) || calls_name(n->b, name) || calls_name(n->c, name) ||
            calls_name(n->kids, name) || calls_name(n->params, name))
            return 1;
    }
    return 0;
}

/* A model written as a function somewhere, m(x), takes its input from that
 * call (adapters, discriminators), not from the data. */
static int applied_model(const kdr_program *p, const char *model)
{
    for (size_t u = 0; u < p->nunits; u++)
        if (p->units[u]->root && calls_name(p->units[u]->root->kids, model)) return 1;
    return 0;
}

static void human(char *buf, size_t n, int64_t x)
{
    if (x >= 1000000000) snprintf(buf, n, "%.2fG", (double)x / 1e9);
    else if (x >= 1000000) snprintf(buf, n, "%.2fM", (double)x / 1e6);
    else if (x >= 1000) snprintf(buf, n, "%.1fK", (double)x / 1e3);
    else snprintf(buf, n, "%lld", (long long)x);
}

static void sample_shape(char *buf, size_t n, const kd_shape *s)
{
    size_t o = (size_t)snprintf(buf, n, "[");
    for (int i = 1; i < s->ndim && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%lld", i > 1 ? ", " : "", (long long)s->dims[i]);
    if (o < n) snprintf(buf + o, n - o, "]");
}

/* ---- every phase's graph: the losses' shapes ------------------------------------- */

/* the data declaration of DATA.SPLIT */
static const kdr_node *data_decl_of(const kdr_program *p, const kdr_node *ref)
{
    while (ref && (ref->kind == KDR_MEMBER || ref->kind == KDR_INDEX)) ref = ref->a;
    return ref && ref->kind == KDR_IDENT ? kd_program_decl(p, KDR_DATA, ref->name, NULL) : NULL;
}

/* The model a pool of checkpoints(ROUTE, ...) holds: the one trained by the
 * phase that writes ROUTE; NULL if that is not plain. */
static const kdr_node *pool_model(const kdr_program *p, const char *pool)
{
    const kdr_node *pd = kd_program_decl(p, KDR_POOL, pool, NULL);
    const kdr_node *c = pd ? pd->a : NULL;
    if (!c || c->kind != KDR_CALL || c->a->kind != KDR_IDENT || strcmp(c->a->name, "checkpoints") != 0)
        return NULL;
    const kdr_node *route = NULL;
    for (const kdr_node *a = c->kids; a && !route; a = a->next)
        if ((a->name && strcmp(a->name, "route") == 0) || (!a->name && !a->b)) route = a->a;
    if (!route || route->kind != KDR_IDENT) return NULL;
    for (size_t i = 0; i < p->nphases; i++) {
        const kdr_node *ph = p->phase_order[i], *train = NULL, *ck = NULL;
        for (const kdr_node *s = ph->kids; s; s = s->next) {
            if (s->kind != KDR_SETTING) continue;
            if (s->setting == KDR_S_TRAIN) train = s;
            if (s->setting == KDR_S_CHECKPOINT && !strcmp(s->name ? s->name : ph->name, route->name))
                ck = s;
        }
        if (ck && train && train->kids && !train->kids->next && train->kids->kind == KDR_IDENT)
            return kd_program_decl(p, KDR_MODEL, train->kids->name, NULL);
    }
    return NULL;
}

static int listed(const char *const *names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return 1;
    return 0;
}

/* Build phase ph's graph as the run will (its data's sample shape from the
 * registry) and pass on the messages if the recipe is wrong.  Left to the
 * run: what this build cannot run (searches, alternating steps, sequence
 * and RAW training) and phases whose models did not compile on their own
 * (already reported). */
static int check_phase(const kdr_program *p, const kdr_node *ph, const char *const *bad, int nbad,
                       kdr_diag *d)
{
    const kdr_unit *u = kd_program_unit_of(p, ph);
    const kdr_node *train = NULL, *losses[KD_PG_MAX_MODELS];
    const char *owner[KD_PG_MAX_MODELS];
    int nloss = 0, ntrain = 0, anon = 0;
    double batch = 128;
    for (const kdr_node *s = ph->kids; s; s = s->next) {
        if (s->kind != KDR_SETTING) continue;
        /* names a search derives (agg[1]) are made by the run */
        if (s->setting == KDR_S_DERIVE || s->setting == KDR_S_ALTERNATE) return 0;
        if (s->setting == KDR_S_TRAIN) { train = s; ntrain++; }
        else if (s->setting == KDR_S_BATCH) {
            if (kd_recipe_const_num(p, s->a, &batch) || batch < 1 || batch > 1e6) return 0;
        } else if (s->setting == KDR_S_LOSS) {
            if (nloss == KD_PG_MAX_MODELS) return 0;
            anon |= !s->name;
            losses[nloss] = s->a;
            owner[nloss++] = s->name;
        }
    }
    if (ntrain != 1 || nloss == 0 || (anon && nloss > 1)) return 0;
    const kdr_node *data = data_decl_of(p, train->a);
    kd_data_shape ds;
    kd_sample_shape ss;
    /* the loss compiler knows the labels of images; the targets of
     * sequences and the clean images of raw data come with their training */
    if (!data || kd_data_decl_shape(p, data, &ss) != 0 || !kd_task_of(ss.kind)) return 0;
    if (kd_data_decl_shape_of(p, data, &ds) != 0) return 0;

    kdr_diag scratch;
    kdr_diag_init(&scratch);
    kd_phase_graph G;
    memset(&G, 0, sizeof G);
    G.batch = (int64_t)batch;
    kdr_node pool;                   /* a followed pool: the route's model, named like the pool */
    int st = 0, ok = 1;
    for (const kdr_node *m = train->kids; m && ok; m = m->next)
        ok = kd_phase_graph_add(&G, p, m->name, 1, u, m, &scratch, &st) >= 0;
    for (const kdr_node *s = ph->kids; s && ok; s = s->next) {
        if (s->kind != KDR_SETTING) continue;
        if (s->setting == KDR_S_TEACHER && (s->op & KDR_F_FOLLOWS)) {
            const kdr_node *md = s->a && s->a->kind == KDR_IDENT ? pool_model(p, s->a->name) : NULL;
            if (!md || listed(bad, nbad, md->name)) ok = 0;
            else {
                pool = *md;
                pool.name = s->a->name;
                ok = kd_phase_graph_add_decl(&G, &pool, 0, u, s, &scratch, &st) >= 0;
            }
        } else if (s->setting == KDR_S_TEACHER && s->a && s->a->kind == KDR_IDENT) {
            ok = kd_phase_graph_add(&G, p, s->a->name, 0, u, s->a, &scratch, &st) >= 0;
        } else if (s->setting == KDR_S_EVALUATE) {
            for (const kdr_node *m = s->kids; m && ok; m = m->next)
                ok = kd_phase_graph_add(&G, p, m->name, 0, u, m, &scratch, &st) >= 0;
        }
    }
    for (int i = 0; i < G.nm && ok; i++)
        if (listed(bad, nbad, G.m[i].decl->name)) ok = 0;
    if (ok) st = kd_phase_graph_build(&G, p, &ds, losses, owner, nloss, u, ph->name, &scratch);
    int rc = 0;
    if (ok && st == KD_RUN_RECIPE) {
        for (size_t i = 0; i < scratch.count; i++) {
            const kdr_diag_msg *m = &scratch.msgs[i];
            kdr_diag_push(d, m->sev, m->unit, m->beg, m->end, "%s", m->text);
        }
        rc = -1;
    }
    kd_phase_graph_free(&G);
    kdr_diag_free(&scratch);
    return rc;
}

int kd_check_models(const kdr_program *p, FILE *out, kdr_diag *d)
{
    int rc = 0, header = 0, nbad = 0, capbad = 0;
    const char **bad = NULL;         /* models not compiled here: their phases are not checked */
    kd_graph *g = kd_graph_new();
    if (!g) return -1;
    for (size_t u = 0; u < p->nunits; u++) {
        if (!p->units[u]->root) continue;
        for (const kdr_node *t = p->units[u]->root->kids; t; t = t->next) {
            if (t->kind != KDR_MODEL) continue;
            if (applied_model(p, t->name)) continue;
            const kdr_node *data = data_for_model(p, t->name);
            kd_data_shape ds;
            int m = -2;
            if (!data || kd_data_shape_of(p, data, &ds, d) != 0)
                kdr_diag_push(d, KDR_NOTE, p->units[u], t->beg, t->end,
                              "shapes of model '%s' not inferred: its data set's input shape "
                              "is known only when the data is loaded", t->name);
            else
                m = kd_compile_model(g, p, t, &ds, 2, d);
            if (m < 0) {
                if (nbad == capbad) {
                    capbad = capbad ? 2 * capbad : 16;
                    const char **nb = realloc(bad, (size_t)capbad * sizeof *nb);
                    if (!nb) { rc = -1; break; }
                    bad = nb;
                }
                bad[nbad++] = t->name;
                if (m == -1) rc = -1;
                continue;
            }
            if (!header) {
                fprintf(out, "shapes (per sample; the batch axis is left out):\n");
                header = 1;
            }
            char key[300], ins[96], outs[96], pa[32], ma[32];
            snprintf(key, sizeof key, "%s.out", t->name);
            int32_t o = kd_graph_find(g, key);
            int32_t in = -1;
            for (int32_t i = 0; i < g->nnodes; i++)
                if (g->nodes[i].model == m && g->nodes[i].kind == KD_NODE_INPUT) { in = i; break; }
            if (o < 0 || in < 0) continue;
            sample_shape(ins, sizeof ins, &g->nodes[in].shape);
            sample_shape(outs, sizeof outs, &g->nodes[o].shape);
            human(pa, sizeof pa, kd_graph_model_params(g, m));
            human(ma, sizeof ma, kd_graph_model_macs(g, m) / 2);   /* per sample */
            int named = 0;
            size_t len = strlen(t->name);
            for (int32_t i = 0; i < g->nnamed; i++)
                if (strncmp(g->named[i].name, t->name, len) == 0 && g->named[i].name[len] == '.')
                    named++;
            fprintf(out, "  %-12s %s -> %s   params %s   MACs %s   named tensors %d\n",
                    t->name, ins, outs, pa, ma, named);
        }
    }
    kd_graph_free(g);
    for (size_t i = 0; i < p->nphases; i++)
        if (check_phase(p, p->phase_order[i], bad, nbad, d)) rc = -1;
    free(bad);
    return rc;
}
