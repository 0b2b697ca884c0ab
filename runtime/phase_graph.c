/* phase_graph.c — a phase's models and losses compiled into one graph (no
 * executor): shared by the run and by `kdrun --check`.  See phase_graph.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "phase_graph.h"
#include "graph_ops.h"
#include "train.h"
#include "task.h"

static int fail(kdr_diag *d, int *status, int st, const kdr_unit *unit, const kdr_node *at,
                const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int fail(kdr_diag *d, int *status, int st, const kdr_unit *unit, const kdr_node *at,
                const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    kdr_diag_push(d, KDR_ERROR, at ? unit : NULL, at ? at->beg : 0, at ? at->end : 0, "%s", buf);
    if (status && !*status) *status = st;
    return -1;
}

int kd_phase_graph_add_decl(kd_phase_graph *G, const kdr_node *decl, int trained,
                            const kdr_unit *unit, const kdr_node *at, kdr_diag *d, int *status)
{
    const char *name = decl->name;
    for (int i = 0; i < G->nm; i++)
        if (strcmp(G->m[i].name, name) == 0) {
            if (trained) G->m[i].trained = 1;
            return i;
        }
    if (G->nm == KD_PG_MAX_MODELS)
        return fail(d, status, KD_RUN_FAILED, unit, at, "too many models in one phase");
    kd_pg_model *m = &G->m[G->nm];
    memset(m, 0, sizeof *m);
    m->name = name;
    m->decl = decl;
    m->trained = trained;
    return G->nm++;
}

int kd_phase_graph_add(kd_phase_graph *G, const kdr_program *p, const char *name, int trained,
                       const kdr_unit *unit, const kdr_node *at, kdr_diag *d, int *status)
{
    for (int i = 0; i < G->nm; i++)
        if (strcmp(G->m[i].name, name) == 0) {
            if (trained) G->m[i].trained = 1;
            return i;
        }
    const kdr_node *decl = kd_program_decl(p, KDR_MODEL, name, NULL);
    if (!decl) {
        const kdr_node *pool = kd_program_decl(p, KDR_POOL, name, NULL);
        if (pool)
            return fail(d, status, KD_RUN_RECIPE, unit, at,
                        "pool '%s' is not a model: use 'teacher follows %s'", name, name);
        return fail(d, status, KD_RUN_RECIPE, unit, at, "no model named '%s'", name);
    }
    return kd_phase_graph_add_decl(G, decl, trained, unit, at, d, status);
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

int kd_phase_graph_build(kd_phase_graph *G, const kdr_program *p, const kd_data_shape *data,
                         const kdr_node *const *losses, const char *const *owner, int nloss,
                         const kdr_unit *loss_unit, const char *path, kdr_diag *d)
{
    int status = 0;
    G->g = kd_graph_new();
    if (!G->g) return fail(d, &status, KD_RUN_FAILED, NULL, NULL, "out of memory"), status;
    G->classes = data->classes;
    for (int i = 0; i < G->nm; i++) {
        kd_pg_model *m = &G->m[i];
        m->index = -1;
        m->input = m->out = -1;
        int applied = 0;
        for (int k = 0; k < nloss; k++) applied |= applies(losses[k], m->name, 0);
        for (int k = 0; k < G->nuses; k++) applied |= applies(G->uses[k], m->name, 0);
        if (applied) continue;
        int idx = kd_compile_model(G->g, p, m->decl, data, G->batch, d);
        if (idx == -2) {
            fail(d, &status, KD_RUN_FAILED, NULL, NULL,
                 "model '%s' uses an op that is not in this build yet", m->name);
            return status;
        }
        if (idx < 0) return KD_RUN_RECIPE;
        m->index = idx;
        for (int32_t k = 0; k < G->g->nnodes; k++)
            if (G->g->nodes[k].kind == KD_NODE_INPUT && G->g->nodes[k].model == idx) { m->input = k; break; }
        char key[300];
        snprintf(key, sizeof key, "%s.out", m->name);
        m->out = kd_graph_find(G->g, key);
    }
    G->task = kd_task_of((kd_data_kind)data->kind);
    if (!G->task || G->task->targets(G->g, data, G->batch, &G->label))
        return fail(d, &status, KD_RUN_FAILED, NULL, NULL, G->task ? "out of memory" :
                    "training on this kind of data is not in this build yet"), status;
    G->loss = -1;
    int32_t first = G->g->nnodes;
    for (int k = 0; k < nloss; k++) {
        /* a per-model loss trains its model only: the other trained
         * models' tensors are constants in it */
        uint64_t detach = 0;
        if (owner && owner[k])
            for (int i = 0; i < G->nm; i++)
                if (G->m[i].trained && G->m[i].index >= 0 && strcmp(G->m[i].name, owner[k]) != 0)
                    detach |= (uint64_t)1 << G->m[i].index;
        int32_t l = kd_compile_expr(G->g, p, loss_unit, losses[k], path, G->label, detach, d);
        if (l == -2) {
            fail(d, &status, KD_RUN_FAILED, NULL, NULL, "the loss uses something not in this build yet");
            return status;
        }
        if (l < 0) return KD_RUN_RECIPE;
        if (G->g->nodes[l].shape.ndim != 0) {
            fail(d, &status, KD_RUN_RECIPE, loss_unit, losses[k], "a loss must be a scalar");
            return status;
        }
        G->loss_node[k] = l;
        if (G->loss < 0) G->loss = l;
        else {
            char e2[256];
            int32_t ins[2] = { G->loss, l };
            G->loss = kd_graph_add_op1(G->g, "add", ins, 2, NULL, 0, e2, sizeof e2);
            if (G->loss < 0) {
                fail(d, &status, KD_RUN_FAILED, NULL, NULL, "summing the losses: %s", e2);
                return status;
            }
        }
    }
    /* the models applied in the losses, compiled there */
    for (int i = 0; i < G->nm; i++) {
        kd_pg_model *m = &G->m[i];
        if (m->index >= 0) continue;
        for (int k = 0; k < G->g->nmodels; k++)
            if (strcmp(G->g->model_names[k], m->name) == 0) m->index = k;
        char key[300];
        snprintf(key, sizeof key, "%s.out", m->name);
        m->out = kd_graph_find(G->g, key);
        if (m->index < 0) {
            fail(d, &status, KD_RUN_FAILED, NULL, NULL, "model '%s' was not built", m->name);
            return status;
        }
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
    for (int32_t k = first; k < G->g->nnodes && G->loss >= 0 && G->nterms < KD_PG_MAX_TERMS; k++) {
        const kd_node *n = &G->g->nodes[k];
        if (n->kind != KD_NODE_OP || n->shape.ndim != 0 || k == G->loss) continue;
        const char *on = n->op->name;
        if (!strcmp(on, "add") || !strcmp(on, "sub") || !strcmp(on, "mul") || !strcmp(on, "scale")) continue;
        G->terms[G->nterms++] = k;
    }
    return 0;
}

int kd_phase_graph_roots(const kd_phase_graph *G, int32_t *roots)
{
    int n = 0;
    if (G->loss >= 0) roots[n++] = G->loss;
    for (int k = 0; k < G->nterms; k++) roots[n++] = G->terms[k];
    for (int i = 0; i < G->nm; i++)
        if (G->m[i].out >= 0) roots[n++] = G->m[i].out;
    return n;
}

void kd_phase_graph_free(kd_phase_graph *G)
{
    if (G->g) kd_graph_free(G->g);
    memset(G, 0, sizeof *G);
}
