/* routes.c — checkpoint routes while a phase runs: the early-stopped
 * teachers (a route's checkpoint at an epoch) and a pool of checkpoints
 * followed anchor by anchor; pools of models (`pool P = [t1, t2]`): their
 * members as the phase's teachers, and, followed, one member at a time.  What a route and a pool are is resolved in
 * the plan (run_plan.c); this room loads their checkpoints.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routes.h"
#include "state.h"

void route_path(run *R, const route_info *ri, int64_t epoch, char *buf, size_t n)
{
    snprintf(buf, n, "%s/checkpoints/%s/epoch-%03lld.safetensors", R->dir, ri->name, (long long)epoch);
}

int route_load_teachers(run *R, pgraph *G, const plan_phase *P, int resuming)
{
    for (int i = 0; i < P->nteachers; i++) {
        const plan_teacher *t = &P->teachers[i];
        if (t->epoch < 1) continue;
        char path[1300];
        route_path(R, &t->route, t->epoch, path, sizeof path);
        if (state_load_checkpoint_into(R, G, path, t->model, t->model)) return -1;
        if (!R->o->quiet)
            fprintf(stderr, "phase %s: teacher %s at epoch %lld (%s)\n", P->name, t->model,
                    (long long)t->epoch, path);
        char what[160];
        snprintf(what, sizeof what, "%s teacher epoch", t->model);
        if (!resuming) run_add_row(R, P->name, 0, what, (double)t->epoch);
    }
    return 0;
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

/* A followed pool of models: POOL.x is the current member's x (the weights
 * of the pool's mean, compile_expr.c, set to 1 for it and 0 for the rest). */
static int pool_models_select(run *R, pgraph *G, const pool_run *pr, int a)
{
    kd_graph *g = G->pg.g;
    char want[300];
    size_t wl = (size_t)snprintf(want, sizeof want, "pool %s[", pr->name);
    int found = 0;
    for (int32_t i = 0; i < g->nnodes; i++) {
        kd_node *n = &g->nodes[i];
        if (n->kind != KD_NODE_OP || !n->label || strncmp(n->label, want, wl) != 0) continue;
        int k = atoi(n->label + wl) - 1;
        int ai = kd_attr_index(n->op, "s");
        if (ai < 0) continue;
        n->attr[ai].num = k == a ? 1.0 : 0.0;
        found++;
    }
    if (!found)
        return run_fail(R, KD_RUN_RECIPE, NULL, "phase follows pool '%s' but its losses use none of its "
                        "tensors (write %s.logits)", pr->name, pr->name);
    return 0;
}

int pool_enter_epoch(run *R, pgraph *G, pool_run *pr, int64_t ep, int64_t epochs, int64_t *anchor_epoch)
{
    int a = pool_anchor(pr, ep, epochs);
    pr->cur = a;
    *anchor_epoch = pr->epochs[a];
    if (pr->route.name == NULL) {   /* a pool of models: the anchors are its members */
        if (pool_models_select(R, G, pr, a)) return -1;
        pr->loaded = a;
        return 0;
    }
    if (a != pr->loaded) {
        char path[1300];
        route_path(R, &pr->route, *anchor_epoch, path, sizeof path);
        if (state_load_checkpoint_into(R, G, path, pr->route.model, pr->name)) return -1;
        pr->loaded = a;
    }
    return 0;
}

void pool_after_epoch(pool_run *pr, double loss)
{
    if (!pr->greedy) return;
    pr->since++;
    if ((loss < pr->threshold || pr->since >= pr->patience) && pr->cur + 1 < pr->n) {
        pr->cur++;
        pr->since = 0;
    }
}

/* ---- pools of models -------------------------------------------------------------- */

int kd_pg_add_pool_members(kd_phase_graph *G, const kdr_program *p, const kdr_node *pool,
                           const kdr_unit *unit, const kdr_node *at, kdr_diag *d, int *status)
{
    int last = -1;
    for (const kdr_node *m = pool->a->kids; m; m = m->next) {
        if (m->kind != KDR_IDENT) continue;   /* the checker said so */
        last = kd_phase_graph_add(G, p, m->name, 0, unit, at ? at : m, d, status);
        if (last < 0) return -1;
    }
    return last;
}

int kd_pg_add_used_pools(kd_phase_graph *G, const kdr_program *p, const kdr_node *e,
                         const kdr_unit *unit, kdr_diag *d, int *status, int depth)
{
    if (!e || depth > 10000) return 0;
    if (e->kind == KDR_MEMBER && e->a && e->a->kind == KDR_IDENT) {
        const kdr_node *pool = kd_program_decl(p, KDR_POOL, e->a->name, NULL);
        if (pool && pool->a && pool->a->kind == KDR_LIST &&
            kd_pg_add_pool_members(G, p, pool, unit, e, d, status) < 0)
            return -1;
    }
    if (kd_pg_add_used_pools(G, p, e->a, unit, d, status, depth + 1) < 0 ||
        kd_pg_add_used_pools(G, p, e->b, unit, d, status, depth + 1) < 0 ||
        kd_pg_add_used_pools(G, p, e->c, unit, d, status, depth + 1) < 0)
        return -1;
    for (const kdr_node *k = e->kids; k; k = k->next)
        if (kd_pg_add_used_pools(G, p, k, unit, d, status, depth + 1) < 0) return -1;
    return 0;
}

int route_pool_of_models(run *R, const kdr_node *list, pool_run *pr)
{
    const kdr_node *first = NULL;
    for (const kdr_node *m = list->kids; m; m = m->next) {
        const kdr_node *md = m->kind == KDR_IDENT ? kd_program_decl(R->p, KDR_MODEL, m->name, NULL) : NULL;
        if (!md) return run_fail(R, KD_RUN_RECIPE, m, "a pool member must be a model");
        if (pr->n == (int)(sizeof pr->epochs / sizeof pr->epochs[0]))
            return run_fail(R, KD_RUN_RECIPE, m, "a pool has at most %d members",
                            (int)(sizeof pr->epochs / sizeof pr->epochs[0]));
        if (!first) first = md;
        pr->epochs[pr->n] = pr->n + 1;
        pr->n++;
    }
    if (!first) return run_fail(R, KD_RUN_RECIPE, list, "the pool is empty");
    pr->decl = *first;
    return 0;
}
