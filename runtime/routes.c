/* routes.c — checkpoint routes (the checkpoints a phase writes) and pools
 * of them (a teacher that follows a route's checkpoints, epoch by epoch).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "run.h"


static int route_setup(run *R, const kdr_node *ph, route_info *ri)
{
    psettings S;
    if (plan_phase_settings(R, ph, &S)) return -1;
    memset(ri, 0, sizeof *ri);
    ri->phase = ph;
    ri->name = S.checkpoint->name ? S.checkpoint->name : ph->name;
    ri->epochs = S.epochs;
    if (run_const_int(R, S.checkpoint->a, &ri->every, 1)) return -1;
    if ((S.checkpoint->op & KDR_F_KEEP_LAST) && run_const_int(R, S.checkpoint->b, &ri->keep_last, 1)) return -1;
    const kdr_node *m = S.train->kids;
    if (!m || m->next)
        return run_fail(R, KD_RUN_RECIPE, S.checkpoint, "route '%s' holds several models; a teacher route trains one",
                    ri->name);
    ri->model = m->name;
    return 0;
}

/* the route named `name` */
int route_find(run *R, const char *name, const kdr_node *at, route_info *ri)
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
    return run_fail(R, KD_RUN_RECIPE, at, "no checkpoint route named '%s'", name);
}

/* the route of the last phase before `cur` that trains `model` with checkpoints */
int route_of_model(run *R, const char *model, const kdr_node *cur, const kdr_node *at, route_info *ri)
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
        return run_fail(R, KD_RUN_RECIPE, at, "'%s' at an epoch needs an earlier phase that trains it with "
                    "'checkpoint every N epochs'", model);
    const kdr_unit *u = R->unit;
    R->unit = kd_program_unit_of(R->p, found);
    int rc = route_setup(R, found, ri);
    R->unit = u;
    return rc;
}

void route_path(run *R, const route_info *ri, int64_t epoch, char *buf, size_t n)
{
    snprintf(buf, n, "%s/checkpoints/%s/epoch-%03lld.safetensors", R->dir, ri->name, (long long)epoch);
}

/* Is `epoch` a checkpoint the route writes and keeps? */
int route_check_epoch(run *R, const route_info *ri, int64_t epoch, const kdr_node *at)
{
    if (epoch < 1 || epoch > ri->epochs)
        return run_fail(R, KD_RUN_RECIPE, at, "route '%s' has epochs 1..%lld, not %lld", ri->name,
                    (long long)ri->epochs, (long long)epoch);
    if (epoch % ri->every != 0 && epoch != ri->epochs)
        return run_fail(R, KD_RUN_RECIPE, at, "route '%s' saves every %lld epochs: no checkpoint at epoch %lld",
                    ri->name, (long long)ri->every, (long long)epoch);
    if (ri->keep_last > 0) {
        int64_t last = ri->epochs - (ri->epochs % ri->every == 0 ? 0 : ri->epochs % ri->every);
        /* the kept ones: the last keep_last saves */
        int64_t oldest = ri->epochs % ri->every == 0 ? ri->epochs - (ri->keep_last - 1) * ri->every
                                                      : last - (ri->keep_last - 2) * ri->every;
        if (epoch < oldest && epoch != ri->epochs)
            return run_fail(R, KD_RUN_RECIPE, at, "route '%s' keeps its last %lld checkpoints only: epoch %lld is "
                        "deleted by then ('keep all' keeps it)", ri->name, (long long)ri->keep_last,
                        (long long)epoch);
    }
    return 0;
}
int pool_setup(run *R, const kdr_node *follows, int64_t phase_epochs, pool_run *pr)
{
    memset(pr, 0, sizeof *pr);
    pr->name = follows->a->name;
    pr->loaded = -1;
    const kdr_node *pd = kd_program_decl(R->p, KDR_POOL, pr->name, NULL);
    if (!pd) return run_fail(R, KD_RUN_RECIPE, follows->a, "no pool named '%s'", pr->name);
    const kdr_unit *u = R->unit;
    const kdr_node *c = pd->a;
    if (!c || strcmp(run_call_name(c) ? run_call_name(c) : "", "checkpoints") != 0) {
        R->unit = kd_program_unit_of(R->p, pd);
        run_fail(R, KD_RUN_FAILED, c ? c : pd, "following a pool of models is not in this build yet; "
             "a route is a pool of checkpoints(ROUTE, ...)");
        R->unit = u;
        return -1;
    }
    R->unit = kd_program_unit_of(R->p, pd);
    const kdr_node *rt = run_arg(c, "route", 0);
    if (!rt || rt->kind != KDR_IDENT) { run_fail(R, KD_RUN_RECIPE, c, "checkpoints(ROUTE, ...) needs a route name"); goto bad; }
    if (route_find(R, rt->name, rt, &pr->route)) goto bad;
    const kdr_node *every = run_arg(c, "every", 1), *eps = run_arg(c, "epochs", 99);
    if (eps && eps->kind == KDR_LIST) {
        for (const kdr_node *v = eps->kids; v && pr->n < 1024; v = v->next) {
            int64_t e;
            if (run_const_int(R, v, &e, 1)) goto bad;
            if (pr->n && e <= pr->epochs[pr->n - 1]) { run_fail(R, KD_RUN_RECIPE, v, "pool epochs must increase"); goto bad; }
            pr->epochs[pr->n++] = e;
        }
    } else {
        int64_t k = pr->route.every;
        if (every && run_const_int(R, every, &k, 1)) goto bad;
        for (int64_t e = k; e <= pr->route.epochs && pr->n < 1024; e += k) pr->epochs[pr->n++] = e;
        if ((pr->n == 0 || pr->epochs[pr->n - 1] != pr->route.epochs) && pr->n < 1024)
            pr->epochs[pr->n++] = pr->route.epochs;
    }
    for (int i = 0; i < pr->n; i++)
        if (route_check_epoch(R, &pr->route, pr->epochs[i], c)) goto bad;
    R->unit = u;
    /* how to follow it */
    const kdr_node *st = run_arg(follows, "strategy", 0);
    const char *sn = st && st->kind == KDR_IDENT ? st->name : "equal";
    pr->greedy = !strcmp(sn, "greedy");
    if (!pr->greedy && strcmp(sn, "equal") != 0)
        return run_fail(R, KD_RUN_RECIPE, st, "strategy is equal or greedy, not '%s'", sn);
    double thr, pat;
    if (run_arg_num(R, follows, "threshold", 1, 0, &thr) || run_arg_num(R, follows, "patience", 2, 1, &pat)) return -1;
    pr->threshold = thr;
    pr->patience = (int64_t)pat;
    if (pr->patience < 1) return run_fail(R, KD_RUN_RECIPE, follows, "patience must be >= 1");
    const kdr_node *md = kd_program_decl(R->p, KDR_MODEL, pr->route.model, NULL);
    if (!md) return run_fail(R, KD_RUN_RECIPE, follows, "no model named '%s'", pr->route.model);
    pr->decl = *md;
    pr->decl.name = pr->name;
    (void)phase_epochs;
    return 0;
bad:
    R->unit = u;
    return -1;
}

/* The anchor for epoch ep (0-based): equal splits the epochs evenly. */
int pool_anchor(const pool_run *pr, int64_t ep, int64_t epochs)
{
    if (!pr->greedy) {
        int64_t i = ep * pr->n / (epochs > 0 ? epochs : 1);
        return (int)(i < pr->n ? i : pr->n - 1);
    }
    return pr->cur;
}

/* Greedy: after an epoch whose mean loss is below the threshold, or after
 * `patience` epochs on one anchor, move to the next. */
void pool_after_epoch(pool_run *pr, double loss)
{
    if (!pr->greedy) return;
    pr->since++;
    if ((loss < pr->threshold || pr->since >= pr->patience) && pr->cur + 1 < pr->n) {
        pr->cur++;
        pr->since = 0;
    }
}
