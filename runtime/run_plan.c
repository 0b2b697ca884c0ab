/* run_plan.c — a phase's settings as the run uses them: epochs, batch,
 * seed, optimizer, learning-rate and loss-weight schedules, and the checks
 * made before any work (routes and checkpoint epochs).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "run.h"

/* Before any work: every phase's settings, routes and checkpoint epochs
 * make sense (a pool asking for a checkpoint that `keep last` deletes
 * would otherwise fail hours into a run). */
int plan_preflight(run *R)
{
    for (size_t i = 0; i < R->p->nphases; i++) {
        const kdr_node *ph = R->p->phase_order[i];
        R->unit = kd_program_unit_of(R->p, ph);
        psettings S;
        if (plan_phase_settings(R, ph, &S)) return -1;
        if (S.follows) {
            pool_run *pr = calloc(1, sizeof *pr);
            if (!pr) return run_fail(R, KD_RUN_FAILED, NULL, "out of memory");
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
            if (run_const_int(R, t->b, &e, 1) || route_of_model(R, t->a->name, ph, t, &ri)) return -1;
            R->unit = kd_program_unit_of(R->p, ph);
            if (route_check_epoch(R, &ri, e, t->b)) return -1;
        }
    }
    return 0;
}

/* ---- weight schedules --------------------------------------------------------------- */

int plan_weights(run *R, const kd_graph *g, kd_weight_sched *ws)
{
    for (int i = 0; i < g->nwsched; i++) {
        const kdr_node *c = g->wsched[i].call;
        const char *name = run_call_name(c);
        const kdr_unit *u = R->unit;
        R->unit = g->wsched[i].unit;
        double a, b, k;
        int rc = -1;
        if (!name) run_fail(R, KD_RUN_RECIPE, c, "expected a weight schedule");
        else if (!strcmp(name, "until")) {
            if (!run_arg_num(R, c, "epoch", 0, 0, &a)) rc = kd_weight_until(&ws[i], (int64_t)a, R->d);
        } else if (!strcmp(name, "ramp")) {
            if (!run_arg_num(R, c, "from", 0, 0, &a) && !run_arg_num(R, c, "to", 1, 1, &b) && !run_arg_num(R, c, "epochs", 2, 1, &k))
                rc = kd_weight_ramp(&ws[i], a, b, (int64_t)k, R->d);
        } else if (!strcmp(name, "decay")) {
            if (!run_arg_num(R, c, "start", 0, 1, &a) && !run_arg_num(R, c, "factor", 1, 1, &b) && !run_arg_num(R, c, "every", 2, 1, &k))
                rc = kd_weight_decay(&ws[i], a, b, (int64_t)k, R->d);
        } else run_fail(R, KD_RUN_FAILED, c, "weight schedule '%s' is not in this build yet", name);
        R->unit = u;
        if (rc) { if (!R->status) R->status = KD_RUN_RECIPE; return -1; }
    }
    return 0;
}

/* ---- the phase loop ------------------------------------------------------------ */


int plan_phase_settings(run *R, const kdr_node *ph, psettings *S)
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
        if (run_const_int(R, &id, &S->seed, 0)) return -1;
    }
    for (const kdr_node *s = ph->kids; s; s = s->next) {
        if (s->kind != KDR_SETTING) continue;
        const char *w = s->word;
        if (!strcmp(w, "train")) {
            if (S->train) return run_fail(R, KD_RUN_FAILED, s, "several train statements in one phase are not in this build yet");
            S->train = s;
        } else if (!strcmp(w, "teacher")) {
            if (s->op & KDR_F_FOLLOWS) {
                if (S->follows) return run_fail(R, KD_RUN_FAILED, s, "a phase follows one route");
                S->follows = s;
            } else if (S->nteachers < MAX_MODELS) S->teachers[S->nteachers++] = s;
        } else if (!strcmp(w, "epochs")) { if (run_const_int(R, s->a, &S->epochs, 1)) return -1; }
        else if (!strcmp(w, "batch")) { if (run_const_int(R, s->a, &S->batch, 1)) return -1; }
        else if (!strcmp(w, "seed")) { if (run_const_int(R, s->a, &S->seed, 0)) return -1; }
        else if (!strcmp(w, "optimizer")) {
            if (s->name) return run_fail(R, KD_RUN_FAILED, s, "per-group optimizers are not in this build yet");
            S->optimizer = s->a;
        } else if (!strcmp(w, "lr")) {
            if (s->name) return run_fail(R, KD_RUN_FAILED, s, "per-group schedules are not in this build yet");
            S->lr = s->a;
        } else if (!strcmp(w, "loss")) {
            if (S->nloss == MAX_MODELS) return run_fail(R, KD_RUN_FAILED, s, "too many losses in one phase");
            if (S->nloss && (!s->name || !S->owner[0]))
                return run_fail(R, KD_RUN_RECIPE, s, "a phase has one loss, or one 'loss MODEL:' per trained model");
            for (int k = 0; k < S->nloss; k++)
                if (s->name && !strcmp(S->owner[k], s->name))
                    return run_fail(R, KD_RUN_RECIPE, s, "a second loss for model '%s'", s->name);
            S->losses[S->nloss] = s->a;
            S->owner[S->nloss++] = s->name;
            S->loss = s->a;
        } else if (!strcmp(w, "checkpoint")) S->checkpoint = s;
        else if (!strcmp(w, "evaluate")) { if (S->nevals < MAX_EVALS) S->evals[S->nevals++] = s; }
        else if (!strcmp(w, "after")) continue;
        else return run_fail(R, KD_RUN_FAILED, s, "'%s' in a phase is not in this build yet", w);
    }
    if (!S->train) return run_fail(R, KD_RUN_FAILED, ph, "a phase without 'train' is not in this build yet");
    if (!S->loss) return run_fail(R, KD_RUN_RECIPE, ph, "phase '%s' has no loss", ph->name);
    return 0;
}

int plan_optimizer(run *R, const kdr_node *call, kd_optim_cfg *cfg)
{
    const char *name = call ? run_call_name(call) : "sgd";
    kd_optim_kind kind;
    if (!name || kd_optim_kind_of(name, &kind))
        return run_fail(R, KD_RUN_RECIPE, call, "unknown optimizer");
    *cfg = kd_optim_defaults(kind);
    if (!call) { cfg->lr = 0.1; cfg->momentum = 0.9; return 0; }
    double x;
    if (run_arg_num(R, call, "lr", 0, kind == KD_OPTIM_SGD ? -1 : cfg->lr, &x)) return -1;
    if (x < 0) return run_fail(R, KD_RUN_RECIPE, call, "sgd needs lr");
    cfg->lr = x;
    if (run_arg_num(R, call, "weight_decay", 99, cfg->weight_decay, &cfg->weight_decay)) return -1;
    if (kind == KD_OPTIM_SGD) {
        if (run_arg_num(R, call, "momentum", 99, cfg->momentum, &cfg->momentum)) return -1;
        if (run_arg_num(R, call, "nesterov", 99, cfg->nesterov, &x)) return -1;
        cfg->nesterov = x != 0;
    } else {
        const kdr_node *betas = run_arg(call, "betas", 99);
        if (betas && betas->kind == KDR_LIST && betas->kids && betas->kids->next) {
            if (run_const_num(R, betas->kids, &cfg->beta1, 0) ||
                run_const_num(R, betas->kids->next, &cfg->beta2, 0)) return -1;
        }
        if (run_arg_num(R, call, "eps", 99, cfg->eps, &cfg->eps)) return -1;
    }
    if (kd_optim_check(cfg, R->d)) { if (!R->status) R->status = KD_RUN_RECIPE; return -1; }
    return 0;
}

int plan_lr_sched(run *R, const kdr_node *call, int64_t epochs, kd_lr_sched *s, int depth)
{
    memset(s, 0, sizeof *s);
    const char *name = call ? run_call_name(call) : "constant";
    if (!name) return run_fail(R, KD_RUN_RECIPE, call, "expected a schedule call");
    if (depth > 3) return run_fail(R, KD_RUN_RECIPE, call, "schedules nested too deeply");
    double x;
    if (!strcmp(name, "constant")) return kd_lr_constant(s);
    if (!strcmp(name, "step") || !strcmp(name, "multistep")) {
        const kdr_node *ms = run_arg(call, "milestones", 0);
        double m[KD_LR_MAXMILESTONES];
        int n = 0;
        if (ms && ms->kind == KDR_LIST)
            for (const kdr_node *v = ms->kids; v && n < KD_LR_MAXMILESTONES; v = v->next)
                if (run_const_num(R, v, &m[n++], 0)) return -1;
        if (run_arg_num(R, call, "gamma", 1, 0.1, &x)) return -1;
        return kd_lr_step(s, m, n, x, R->d);
    }
    if (!strcmp(name, "cosine")) {
        if (run_arg_num(R, call, "min_lr", 0, 0, &x)) return -1;
        return kd_lr_cosine(s, x, epochs, R->d);
    }
    if (!strcmp(name, "exponential")) {
        if (run_arg_num(R, call, "gamma", 0, 0.95, &x)) return -1;
        return kd_lr_exponential(s, x, R->d);
    }
    if (!strcmp(name, "warmup")) {
        kd_lr_sched inner;
        const kdr_node *then = run_arg(call, "then", 1);
        if (plan_lr_sched(R, then, epochs, &inner, depth + 1)) return -1;
        if (run_arg_num(R, call, "epochs", 0, 1, &x)) return -1;
        if (kd_lr_warmup(s, (int64_t)x, &inner, R->d)) return -1;
        kd_lr_set_epochs(s, epochs);
        return 0;
    }
    return run_fail(R, KD_RUN_FAILED, call, "learning-rate schedule '%s' is not in this build yet", name);
}
