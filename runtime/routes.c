/* routes.c — checkpoint routes while a phase runs: the early-stopped
 * teachers (a route's checkpoint at an epoch) and a pool of checkpoints
 * followed anchor by anchor.  What a route and a pool are is resolved in
 * the plan (run_plan.c); this room loads their checkpoints.
 */
#include "config.h"

#include <stdio.h>
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

int pool_enter_epoch(run *R, pgraph *G, pool_run *pr, int64_t ep, int64_t epochs, int64_t *anchor_epoch)
{
    int a = pool_anchor(pr, ep, epochs);
    pr->cur = a;
    *anchor_epoch = pr->epochs[a];
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
