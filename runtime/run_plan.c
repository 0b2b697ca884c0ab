/* run_plan.c — the resolved run plan (see run_plan.h).
 *
 * Defaults: a setting the recipe leaves out takes its default from the
 * settings table (lang/settings.c, as recipe text: parsed here once), an
 * optimizer's or a schedule's argument from its builtin's spec
 * (lang/builtins.c); `kdrun --check` and kdr(5) show the same tables.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_plan.h"
#include "routes.h"
#include "../lang/builtins.h"
#include "../lang/settings.h"

/* ---- defaults ------------------------------------------------------------------------ */

/* an integer setting's default (epochs, batch, seed) */
static int64_t setting_default_int(kdr_setting s)
{
    const kdr_setting_info *i = kdr_setting_info_of(s);
    return i && i->def ? strtoll(i->def, NULL, 10) : 0;
}

/* The calls the settings table gives `optimizer` and `lr` by default, parsed
 * from its text into a unit of their own (freed once the plan holds the
 * values). */
static int default_calls(run *R, kdr_unit **unit, const kdr_node **optim, const kdr_node **lr)
{
    const kdr_setting_info *o = kdr_setting_info_of(KDR_S_OPTIMIZER), *l = kdr_setting_info_of(KDR_S_LR);
    char buf[512];
    int n = snprintf(buf, sizeof buf, "phase defaults {\n  optimizer %s\n  lr %s\n}\n", o->def, l->def);
    *unit = kdr_parse_buffer("<defaults>", buf, (size_t)n, R->d);
    *optim = *lr = NULL;
    const kdr_node *ph = *unit && (*unit)->root ? (*unit)->root->kids : NULL;
    for (const kdr_node *s = ph ? ph->kids : NULL; s; s = s->next) {
        if (s->setting == KDR_S_OPTIMIZER) *optim = s->a;
        if (s->setting == KDR_S_LR) *lr = s->a;
    }
    if (!*optim || !*lr) return run_fail(R, KD_RUN_FAILED, NULL, "the settings table's defaults do not parse");
    return 0;
}

/* The default of argument `arg` of builtin `fn` (lang/builtins.c), as
 * recipe text; NULL: none (the argument is required). */
static const char *spec_default(const char *fn, unsigned ctx, const char *arg)
{
    const kdr_builtin *b = fn ? kdr_builtin_find(fn, ctx) : NULL;
    for (const kdr_argspec *s = b ? b->args : NULL; s && s->name; s++)
        if (!strcmp(s->name, arg)) return s->def;
    return NULL;
}

/* Argument `name` (or positional `pos`) of node `at` (a call or the
 * arguments of `teacher follows`) of builtin fn; when left out, its
 * default.  A required argument is there after kdr_check. */
static int spec_num(run *R, const kdr_node *at, const char *fn, unsigned ctx, const char *name, int pos,
                    double *out)
{
    const kdr_node *a = run_arg(at, name, pos);
    if (a) return run_const_num(R, a, out);
    const char *def = spec_default(fn, ctx, name);
    if (def && (!strcmp(def, "true") || !strcmp(def, "false"))) *out = def[0] == 't';
    else if (def && def[0] != '[' && def[0] != '(') *out = strtod(def, NULL);
    else return run_fail(R, KD_RUN_RECIPE, at, "%s needs %s", fn ? fn : "this call", name);
    return 0;
}

static int call_num(run *R, const kdr_node *call, unsigned ctx, const char *name, int pos, double *out)
{
    return spec_num(R, call, run_call_name(call), ctx, name, pos, out);
}

/* a two-number list argument (adam's betas), or the spec's default "[a, b]" */
static int call_pair(run *R, const kdr_node *call, unsigned ctx, const char *name, double *x, double *y)
{
    const kdr_node *a = run_arg(call, name, 99);
    if (a) {
        double v[2];
        size_t n = 0;
        if (run_const_list(R, a, v, 2, &n)) return -1;
        if (n != 2) return run_fail(R, KD_RUN_RECIPE, a, "%s takes two numbers", name);
        *x = v[0];
        *y = v[1];
        return 0;
    }
    const char *def = spec_default(run_call_name(call), ctx, name);
    if (def && sscanf(def, "[%lf, %lf]", x, y) == 2) return 0;
    return run_fail(R, KD_RUN_RECIPE, call, "%s needs %s", run_call_name(call), name);
}

/* ---- optimizers and schedules -------------------------------------------------------- */

static int plan_optimizer(run *R, const kdr_node *call, kd_optim_cfg *cfg)
{
    const char *name = run_call_name(call);
    kd_optim_kind kind;
    if (!name || kd_optim_kind_of(name, &kind))
        return run_fail(R, KD_RUN_RECIPE, call, "unknown optimizer");
    *cfg = kd_optim_of(kind);   /* every number from the call or its builtin */
    if (call_num(R, call, KDR_CTX_OPTIM, "lr", 0, &cfg->lr) ||
        call_num(R, call, KDR_CTX_OPTIM, "weight_decay", 99, &cfg->weight_decay)) return -1;
    if (kind == KD_OPTIM_SGD) {
        double x;
        if (call_num(R, call, KDR_CTX_OPTIM, "momentum", 99, &cfg->momentum) ||
            call_num(R, call, KDR_CTX_OPTIM, "nesterov", 99, &x)) return -1;
        cfg->nesterov = x != 0;
    } else {
        if (call_pair(R, call, KDR_CTX_OPTIM, "betas", &cfg->beta1, &cfg->beta2) ||
            call_num(R, call, KDR_CTX_OPTIM, "eps", 99, &cfg->eps)) return -1;
    }
    if (kd_optim_check(cfg, R->d)) { if (!R->status) R->status = KD_RUN_RECIPE; return -1; }
    return 0;
}

/* the messages pushed since n0 without a place (schedule.c's) are at `at` */
static void locate_since(run *R, size_t n0, const kdr_node *at)
{
    for (size_t i = n0; at && i < R->d->count; i++)
        if (!R->d->msgs[i].unit) {
            R->d->msgs[i].unit = R->unit;
            R->d->msgs[i].beg = at->beg;
            R->d->msgs[i].end = at->end;
        }
}

/* a learning-rate schedule; call NULL: constant() (warmup's `then` left out) */
static int plan_lr_sched(run *R, const kdr_node *call, int64_t epochs, kd_lr_sched *s, int depth)
{
    memset(s, 0, sizeof *s);
    size_t n0 = R->d->count;
    const char *name = call ? run_call_name(call) : "constant";
    if (!name) return run_fail(R, KD_RUN_RECIPE, call, "expected a schedule call");
    if (depth > 3) return run_fail(R, KD_RUN_RECIPE, call, "schedules nested too deeply");
    double x;
    int rc;
    if (!strcmp(name, "constant")) rc = kd_lr_constant(s);
    else if (!strcmp(name, "step") || !strcmp(name, "multistep")) {
        const kdr_node *ms = run_arg(call, "milestones", 0);
        double m[KD_LR_MAXMILESTONES];
        size_t n = 0;
        if (ms && run_const_list(R, ms, m, KD_LR_MAXMILESTONES, &n)) return -1;
        if (call_num(R, call, KDR_CTX_LR, "gamma", 1, &x)) return -1;
        rc = kd_lr_step(s, m, (int)n, x, R->d);
    } else if (!strcmp(name, "cosine")) {
        if (call_num(R, call, KDR_CTX_LR, "min_lr", 0, &x)) return -1;
        rc = kd_lr_cosine(s, x, epochs, R->d);
    } else if (!strcmp(name, "exponential")) {
        if (call_num(R, call, KDR_CTX_LR, "gamma", 0, &x)) return -1;
        rc = kd_lr_exponential(s, x, R->d);
    } else if (!strcmp(name, "warmup")) {
        kd_lr_sched inner;
        if (plan_lr_sched(R, run_arg(call, "then", 1), epochs, &inner, depth + 1)) return -1;
        if (call_num(R, call, KDR_CTX_LR, "epochs", 0, &x)) return -1;
        rc = kd_lr_warmup(s, (int64_t)x, &inner, R->d);
        if (!rc) kd_lr_set_epochs(s, epochs);
    } else
        return run_fail(R, KD_RUN_FAILED, call, "learning-rate schedule '%s' is not in this build yet", name);
    if (rc && !R->status) R->status = KD_RUN_RECIPE;
    if (rc) locate_since(R, n0, call);
    return rc ? -1 : 0;
}

int plan_weights(run *R, const kd_graph *g, kd_weight_sched *ws)
{
    for (int i = 0; i < g->nwsched; i++) {
        const kdr_node *c = g->wsched[i].call;
        const char *name = run_call_name(c);
        const kdr_unit *u = R->unit;
        R->unit = g->wsched[i].unit;
        const unsigned W = KDR_CTX_WEIGHT;
        double a, b, k;
        int rc = -1;
        if (!name) run_fail(R, KD_RUN_RECIPE, c, "expected a weight schedule");
        else if (!strcmp(name, "until")) {
            if (!call_num(R, c, W, "epoch", 0, &a)) rc = kd_weight_until(&ws[i], (int64_t)a, R->d);
        } else if (!strcmp(name, "ramp")) {
            if (!call_num(R, c, W, "from", 0, &a) && !call_num(R, c, W, "to", 1, &b) &&
                !call_num(R, c, W, "epochs", 2, &k))
                rc = kd_weight_ramp(&ws[i], a, b, (int64_t)k, R->d);
        } else if (!strcmp(name, "decay")) {
            if (!call_num(R, c, W, "start", 0, &a) && !call_num(R, c, W, "factor", 1, &b) &&
                !call_num(R, c, W, "every", 2, &k))
                rc = kd_weight_decay(&ws[i], a, b, (int64_t)k, R->d);
        } else run_fail(R, KD_RUN_FAILED, c, "weight schedule '%s' is not in this build yet", name);
        R->unit = u;
        if (rc) { if (!R->status) R->status = KD_RUN_RECIPE; return -1; }
    }
    return 0;
}

/* ---- evaluations ---------------------------------------------------------------------- */

/* `D.split` → names */
static int data_split(run *R, const kdr_node *e, const char **data, const char **split)
{
    if (!e || e->kind != KDR_MEMBER || e->a->kind != KDR_IDENT)
        return run_fail(R, KD_RUN_RECIPE, e, "expected DATA.SPLIT");
    *data = e->a->name;
    *split = e->name;
    return 0;
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

static int plan_eval_of(run *R, const kdr_node *s, plan_eval *e)
{
    memset(e, 0, sizeof *e);
    e->at = s;
    e->data_at = s->a;
    if (data_split(R, s->a, &e->data, &e->split)) return -1;
    for (const kdr_node *m = s->kids; m; m = m->next) {
        if (e->nmodels == MAX_MODELS) return run_fail(R, KD_RUN_FAILED, m, "too many models in one evaluate");
        e->model_at[e->nmodels] = m;
        e->models[e->nmodels++] = m->name;
    }
    e->listed = s->b && s->b->kids;
    for (const kdr_node *mt = s->b ? s->b->kids : NULL; mt; mt = mt->next) {
        if (e->nmetrics == PLAN_MAX_METRICS) return run_fail(R, KD_RUN_FAILED, mt, "too many metrics");
        plan_metric *pm = &e->metrics[e->nmetrics++];
        pm->at = mt;
        pm->name = metric_ref(mt, pm->label, sizeof pm->label, &pm->k);
    }
    return 0;
}

/* ---- phases --------------------------------------------------------------------------- */

/* ---- optimizer groups and steps -------------------------------------------------------- */

/* the unit named `name`, added with the phase's optimizer and schedule when
 * new; -1 when full */
static int unit_of(run *R, plan_phase *P, const char *name, const kdr_node *at)
{
    for (int i = 0; i < P->nunits; i++)
        if (!strcmp(P->units[i].name, name)) return i;
    if (P->nunits == PLAN_MAX_UNITS) return run_fail(R, KD_RUN_FAILED, at, "too many optimizer groups");
    plan_unit *u = &P->units[P->nunits];
    memset(u, 0, sizeof *u);
    u->name = name;
    u->optim = P->optim;
    u->lr = P->lr;
    return P->nunits++;
}

static int trains(const plan_phase *P, const char *model)
{
    for (int i = 0; i < P->ntrained; i++)
        if (!strcmp(P->trained[i], model)) return 1;
    return 0;
}

/* step k's label: its groups, "a, b" */
static void step_label(plan_step *st, const char *name)
{
    size_t o = strlen(st->label);
    snprintf(st->label + o, sizeof st->label - o, "%s%s", o ? ", " : "", name);
}

/* two steps that name the same groups: "weights, step 1", "weights, step 3"
 * (their rows in metrics.csv) */
static void plan_step_labels(plan_phase *P)
{
    int same[PLAN_MAX_STEPS] = { 0 };
    for (int k = 0; k < P->nsteps; k++)
        for (int j = 0; j < P->nsteps; j++)
            if (j != k && !strcmp(P->steps[k].label, P->steps[j].label)) same[k] = 1;
    for (int k = 0; k < P->nsteps; k++)
        if (same[k]) {
            size_t o = strlen(P->steps[k].label);
            snprintf(P->steps[k].label + o, sizeof P->steps[k].label - o, ", step %d", k + 1);
        }
}

/* Units and steps.  Units: "weights" (the phase's optimizer), "arch", and
 * a unit per model named by `optimizer M:` / `lr M:`, an `alternate` step
 * or (with several units) `loss M:`.  Steps: the `alternate` steps; else
 * one step per `loss M:` when the phase has model units; else one step,
 * the summed loss, over every unit (a classic phase: one forward, one
 * backward, every optimizer steps). */
static int plan_groups(run *R, plan_phase *P, const kdr_node *const *named, int nnamed,
                       const kdr_node *alternate)
{
    if (unit_of(R, P, "weights", NULL) < 0 || unit_of(R, P, "arch", NULL) < 0) return -1;
    P->units[1].arch = 1;
    /* `optimizer X:` first (its lr schedule may follow), then `lr X:` */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < nnamed; i++) {
            const kdr_node *s = named[i];
            if ((s->setting == KDR_S_OPTIMIZER) != (pass == 0)) continue;
            if (strcmp(s->name, "arch") != 0 && !trains(P, s->name))
                return run_fail(R, KD_RUN_RECIPE, s, "'%s %s:': model '%s' is not trained in phase '%s'",
                                s->word, s->name, s->name, P->name);
            int u = unit_of(R, P, s->name, s);
            if (u < 0) return -1;
            if (pass == 0 && plan_optimizer(R, s->a, &P->units[u].optim)) return -1;
            if (pass == 1 && plan_lr_sched(R, s->a, P->epochs, &P->units[u].lr, 0)) return -1;
        }
    int model_units = P->nunits > 2;
    if (alternate) {
        for (const kdr_node *m = alternate->kids; m; m = m->next) {
            if (P->nsteps == PLAN_MAX_STEPS) return run_fail(R, KD_RUN_FAILED, m, "too many steps in 'alternate'");
            plan_step *st = &P->steps[P->nsteps++];
            memset(st, 0, sizeof *st);
            st->at = m;
            st->loss = m->a;
            if (m->b) {
                st->data_at = m->b;
                if (data_split(R, m->b, &st->data, &st->split)) return -1;
            }
            if (m->c && (run_const_num(R, m->c, &st->lr) || !(st->lr > 0 && st->lr < 1e6)))
                return run_fail(R, KD_RUN_RECIPE, m->c, "a step's 'lr' must be a number more than 0 and less than 1e6");
            for (const kdr_node *g = m->kids; g; g = g->next) {
                int u;
                if (!strcmp(g->name, "weights")) u = 0;
                else if (!strcmp(g->name, "arch")) u = 1;
                else {
                    if (!trains(P, g->name))
                        return run_fail(R, KD_RUN_RECIPE, g, "model '%s' is not trained in phase '%s': "
                                        "add it to 'train'", g->name, P->name);
                    if ((u = unit_of(R, P, g->name, g)) < 0) return -1;
                }
                for (int k = 0; k < st->nunits; k++)
                    if (st->units[k] == u) return run_fail(R, KD_RUN_RECIPE, g, "'%s' is named twice", g->name);
                st->units[st->nunits++] = u;
                step_label(st, g->name);
            }
        }
        plan_step_labels(P);
        /* `weights` in a step: every unit of weights (the models' too) */
        for (int k = 0; k < P->nsteps; k++) {
            plan_step *st = &P->steps[k];
            int has_w = 0;
            for (int j = 0; j < st->nunits; j++) has_w |= st->units[j] == 0;
            for (int u = 2; has_w && u < P->nunits; u++) {
                int in = 0;
                for (int j = 0; j < st->nunits; j++) in |= st->units[j] == u;
                if (!in) st->units[st->nunits++] = u;
            }
        }
    } else if (model_units && P->owner[0]) {
        for (int k = 0; k < P->nloss; k++) {
            plan_step *st = &P->steps[P->nsteps++];
            memset(st, 0, sizeof *st);
            st->at = P->losses[k];
            st->loss = P->losses[k];
            st->owner = P->owner[k];
            int u = unit_of(R, P, P->owner[k], P->losses[k]);
            if (u < 0) return -1;
            st->units[st->nunits++] = u;
            step_label(st, P->owner[k]);
        }
    } else {
        plan_step *st = &P->steps[P->nsteps++];
        memset(st, 0, sizeof *st);
        st->at = P->loss;
        for (int u = 0; u < P->nunits; u++) st->units[st->nunits++] = u;
        snprintf(st->label, sizeof st->label, "all");
    }
    return 0;
}

/* A phase's own settings, defaults filled in (its routes come later). */
static int plan_phase_settings(run *R, const kdr_node *ph, plan_phase *P, const kdr_node *const defaults[2])
{
    memset(P, 0, sizeof *P);
    P->node = ph;
    P->unit = R->unit = kd_program_unit_of(R->p, ph);
    P->name = ph->name;
    P->epochs = setting_default_int(KDR_S_EPOCHS);
    P->batch = setting_default_int(KDR_S_BATCH);
    /* a phase without `seed`: --seed, else a `sweep seed`/`let seed` of
     * the recipe (so `sweep seed in 1..3` varies every phase), else the
     * default */
    P->seed = setting_default_int(KDR_S_SEED);
    if (R->o->seed >= 0) P->seed = R->o->seed;
    else if (kd_program_decl(R->p, KDR_SWEEP, "seed", NULL) || kd_program_decl(R->p, KDR_LET, "seed", NULL)) {
        kdr_node id;
        memset(&id, 0, sizeof id);
        id.kind = KDR_IDENT;
        id.name = "seed";
        if (run_const_int(R, &id, &P->seed, 0)) return -1;
    }
    const kdr_node *train = NULL, *optimizer = defaults[0], *lr = defaults[1], *checkpoint = NULL;
    const kdr_node *evals[MAX_EVALS], *named[PLAN_MAX_UNITS * 2], *alternate = NULL;
    int nevals = 0, nnamed = 0, opt_set = 0, lr_set = 0;
    for (const kdr_node *s = ph->kids; s; s = s->next) {
        if (s->kind != KDR_SETTING) continue;
        switch (s->setting) {
        case KDR_S_TRAIN:
            if (train) return run_fail(R, KD_RUN_FAILED, s, "several train statements in one phase are not in this build yet");
            train = s;
            break;
        case KDR_S_TEACHER:
            if (s->op & KDR_F_FOLLOWS) {
                if (P->follows) return run_fail(R, KD_RUN_FAILED, s, "a phase follows one route");
                P->follows = s;
            } else if (P->nteachers < MAX_MODELS) {
                plan_teacher *t = &P->teachers[P->nteachers++];
                t->at = s;
                t->model_at = s->a;
                t->model = s->a->name;
            }
            break;
        case KDR_S_EPOCHS: if (run_const_int(R, s->a, &P->epochs, 1)) return -1; break;
        case KDR_S_BATCH: if (run_const_int(R, s->a, &P->batch, 1)) return -1; break;
        case KDR_S_SEED: if (run_const_int(R, s->a, &P->seed, 0)) return -1; break;
        case KDR_S_OPTIMIZER:
        case KDR_S_LR: {
            int is_opt = s->setting == KDR_S_OPTIMIZER;
            if (!s->name || !strcmp(s->name, "weights")) {
                if (is_opt ? opt_set : lr_set)
                    return run_fail(R, KD_RUN_RECIPE, s, "'%s' and '%s weights:' set the same group; keep one",
                                    s->word, s->word);
                if (is_opt) optimizer = s->a, opt_set = 1;
                else lr = s->a, lr_set = 1;
                break;
            }
            if (nnamed == PLAN_MAX_UNITS * 2) return run_fail(R, KD_RUN_FAILED, s, "too many optimizer groups");
            named[nnamed++] = s;
            break;
        }
        case KDR_S_ALTERNATE:
            if (alternate) return run_fail(R, KD_RUN_RECIPE, s, "a phase has one 'alternate' block");
            alternate = s;
            break;
        case KDR_S_DERIVE:
            if (P->nderive == MAX_MODELS) return run_fail(R, KD_RUN_FAILED, s, "too many derives");
            if (!s->a || s->a->kind != KDR_IDENT) return run_fail(R, KD_RUN_RECIPE, s, "'derive' needs a name");
            P->derive_at[P->nderive] = s->a;
            P->derive[P->nderive++] = s->a->name;
            break;
        case KDR_S_LOSS:
            if (P->nloss == MAX_MODELS) return run_fail(R, KD_RUN_FAILED, s, "too many losses in one phase");
            if (P->nloss && (!s->name || !P->owner[0]))
                return run_fail(R, KD_RUN_RECIPE, s, "a phase has one loss, or one 'loss MODEL:' per trained model");
            for (int k = 0; k < P->nloss; k++)
                if (s->name && !strcmp(P->owner[k], s->name))
                    return run_fail(R, KD_RUN_RECIPE, s, "a second loss for model '%s'", s->name);
            P->losses[P->nloss] = s->a;
            P->owner[P->nloss++] = s->name;
            P->loss = s->a;
            break;
        case KDR_S_CHECKPOINT: checkpoint = s; break;
        case KDR_S_EVALUATE: if (nevals < MAX_EVALS) evals[nevals++] = s; break;
        case KDR_S_AFTER: break;
        default: return run_fail(R, KD_RUN_FAILED, s, "'%s' in a phase is not in this build yet", s->word);
        }
    }
    if (!train) return run_fail(R, KD_RUN_FAILED, ph, "a phase without 'train' is not in this build yet");
    if (!P->loss && !alternate) return run_fail(R, KD_RUN_RECIPE, ph, "phase '%s' has no loss", ph->name);
    if (P->loss && alternate)
        return run_fail(R, KD_RUN_RECIPE, P->loss, "a phase with 'alternate' has its losses in the "
                        "'minimize' steps, not in 'loss'");
    P->train_at = train;
    P->data_at = train->a;
    if (data_split(R, train->a, &P->data, &P->split)) return -1;
    for (const kdr_node *m = train->kids; m; m = m->next) {
        if (P->ntrained == MAX_MODELS) return run_fail(R, KD_RUN_FAILED, m, "too many models in one phase");
        P->trained_at[P->ntrained] = m;
        P->trained[P->ntrained++] = m->name;
    }
    if (plan_optimizer(R, optimizer, &P->optim) || plan_lr_sched(R, lr, P->epochs, &P->lr, 0)) return -1;
    if (plan_groups(R, P, named, nnamed, alternate)) return -1;
    P->route = ph->name;
    if (checkpoint) {
        if (run_const_int(R, checkpoint->a, &P->every, 1)) return -1;
        if (checkpoint->extra && strncmp(checkpoint->extra, "step", 4) == 0)
            return run_fail(R, KD_RUN_FAILED, checkpoint, "checkpoints every N steps are not in this build yet");
        if ((checkpoint->op & KDR_F_KEEP_LAST) && run_const_int(R, checkpoint->b, &P->keep_last, 1)) return -1;
        if (checkpoint->name) P->route = checkpoint->name;
    }
    for (int i = 0; i < nevals; i++)
        if (plan_eval_of(R, evals[i], &P->evals[P->nevals++])) return -1;
    return 0;
}

/* ---- routes and pools ----------------------------------------------------------------- */

/* the route a planned phase writes (it has checkpoints) */
static int route_of_phase(run *R, const plan_phase *P, route_info *ri)
{
    memset(ri, 0, sizeof *ri);
    ri->phase = P->node;
    ri->name = P->route;
    ri->epochs = P->epochs;
    ri->every = P->every;
    ri->keep_last = P->keep_last;
    if (P->ntrained != 1) {
        const kdr_unit *u = R->unit;
        R->unit = P->unit;
        for (const kdr_node *s = P->node->kids; s; s = s->next)
            if (s->kind == KDR_SETTING && s->setting == KDR_S_CHECKPOINT)
                run_fail(R, KD_RUN_RECIPE, s, "route '%s' holds several models; a teacher route trains one", ri->name);
        R->unit = u;
        return -1;
    }
    ri->model = P->trained[0];
    return 0;
}

/* the route named `name` */
static int route_find(run *R, const kd_plan *PL, const char *name, const kdr_node *at, route_info *ri)
{
    for (int i = 0; i < PL->nphases; i++)
        if (PL->phases[i].every > 0 && !strcmp(PL->phases[i].route, name))
            return route_of_phase(R, &PL->phases[i], ri);
    return run_fail(R, KD_RUN_RECIPE, at, "no checkpoint route named '%s'", name);
}

/* the route of the last phase before phase `cur` that trains `model` with checkpoints */
static int route_of_model(run *R, const kd_plan *PL, const char *model, int cur, const kdr_node *at,
                          route_info *ri)
{
    const plan_phase *found = NULL;
    for (int i = 0; i < cur; i++) {
        const plan_phase *P = &PL->phases[i];
        if (P->every <= 0) continue;
        for (int k = 0; k < P->ntrained; k++)
            if (!strcmp(P->trained[k], model)) found = P;
    }
    if (!found)
        return run_fail(R, KD_RUN_RECIPE, at, "'%s' at an epoch needs an earlier phase that trains it with "
                        "'checkpoint every N epochs'", model);
    return route_of_phase(R, found, ri);
}

int plan_route_check_epoch(run *R, const route_info *ri, int64_t epoch, const kdr_node *at)
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

/* `teacher follows POOL(strategy, threshold, patience)` of a pool of
 * checkpoints(ROUTE, every | epochs) */
static int plan_pool(run *R, const kd_plan *PL, const kdr_node *follows, pool_run *pr)
{
    memset(pr, 0, sizeof *pr);
    pr->name = follows->a->name;
    pr->loaded = -1;
    const kdr_node *pd = kd_program_decl(R->p, KDR_POOL, pr->name, NULL);
    if (!pd) return run_fail(R, KD_RUN_RECIPE, follows->a, "no pool named '%s'", pr->name);
    const kdr_unit *u = R->unit;
    const kdr_node *c = pd->a;
    R->unit = kd_program_unit_of(R->p, pd);
    if (c && c->kind == KDR_LIST) {   /* a pool of models: anchor i is member i (routes.c) */
        if (route_pool_of_models(R, c, pr)) goto bad;
        R->unit = u;
        goto how;
    }
    if (!c || strcmp(run_call_name(c) ? run_call_name(c) : "", "checkpoints") != 0) {
        run_fail(R, KD_RUN_FAILED, c ? c : pd, "a pool is a list of models or checkpoints(ROUTE, ...)");
        goto bad;
    }
    const kdr_node *rt = run_arg(c, "route", 0);
    if (!rt || rt->kind != KDR_IDENT) { run_fail(R, KD_RUN_RECIPE, c, "checkpoints(ROUTE, ...) needs a route name"); goto bad; }
    if (route_find(R, PL, rt->name, rt, &pr->route)) goto bad;
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
        if (plan_route_check_epoch(R, &pr->route, pr->epochs[i], c)) goto bad;
    R->unit = u;
how:;
    /* how to follow it */
    const kdr_node *st = run_arg(follows, "strategy", 0);
    const char *sn = st && st->kind == KDR_IDENT ? st->name : spec_default("follows", KDR_CTX_FOLLOWS, "strategy");
    if (!sn) return run_fail(R, KD_RUN_RECIPE, follows, "follows needs a strategy");
    pr->greedy = !strcmp(sn, "greedy");
    if (!pr->greedy && strcmp(sn, "equal") != 0)
        return run_fail(R, KD_RUN_RECIPE, st, "strategy is equal or greedy, not '%s'", sn);
    double thr, pat;
    if (spec_num(R, follows, "follows", KDR_CTX_FOLLOWS, "threshold", 1, &thr) ||
        spec_num(R, follows, "follows", KDR_CTX_FOLLOWS, "patience", 2, &pat))
        return -1;
    pr->threshold = thr;
    pr->patience = (int64_t)pat;
    if (pr->patience < 1) return run_fail(R, KD_RUN_RECIPE, follows, "patience must be >= 1");
    if (!pr->route.name) return 0;   /* a pool of models */
    const kdr_node *md = kd_program_decl(R->p, KDR_MODEL, pr->route.model, NULL);
    if (!md) return run_fail(R, KD_RUN_RECIPE, follows, "no model named '%s'", pr->route.model);
    pr->decl = *md;
    pr->decl.name = pr->name;
    return 0;
bad:
    R->unit = u;
    return -1;
}

/* a phase's pool and early-stopped teachers: checked before any work (a
 * pool asking for a checkpoint that `keep last` deletes would otherwise
 * fail hours into a run) */
static int plan_phase_routes(run *R, kd_plan *PL, int i)
{
    plan_phase *P = &PL->phases[i];
    R->unit = P->unit;
    if (P->follows) {
        P->pool = calloc(1, sizeof *P->pool);
        if (!P->pool) return run_fail(R, KD_RUN_FAILED, NULL, "out of memory");
        if (plan_pool(R, PL, P->follows, P->pool)) return -1;
    }
    for (int k = 0; k < P->nteachers; k++) {
        plan_teacher *t = &P->teachers[k];
        if (!t->at->b) continue;
        R->unit = P->unit;
        if (run_const_int(R, t->at->b, &t->epoch, 1) || route_of_model(R, PL, t->model, i, t->at, &t->route))
            return -1;
        R->unit = P->unit;
        if (plan_route_check_epoch(R, &t->route, t->epoch, t->at->b)) return -1;
    }
    return 0;
}

/* ---- reports -------------------------------------------------------------------------- */

static int plan_report_of(run *R, const kdr_node *rep, plan_report *P)
{
    memset(P, 0, sizeof *P);
    P->node = rep;
    P->unit = R->unit = kd_program_unit_of(R->p, rep);
    P->batch = PLAN_REPORT_BATCH;
    int n = 0;
    for (const kdr_node *s = rep->kids; s; s = s->next) n++;
    P->evals = calloc((size_t)(n ? n : 1), sizeof *P->evals);
    if (!P->evals) return run_fail(R, KD_RUN_FAILED, NULL, "out of memory");
    for (const kdr_node *s = rep->kids; s; s = s->next) {
        if (s->kind != KDR_SETTING) continue;
        if (s->setting == KDR_S_TABLE) continue;     /* the sweep's, over its points */
        if (s->setting != KDR_S_EVALUATE)
            return run_fail(R, KD_RUN_FAILED, s, "'%s' in a report is not in this build yet", s->word);
        if (plan_eval_of(R, s, &P->evals[P->nevals++])) return -1;
    }
    return 0;
}

/* ---- the plan ------------------------------------------------------------------------- */

static int resolve(run *R, kd_plan *P, const kdr_node *const defaults[2])
{
    P->phases = calloc(R->p->nphases ? R->p->nphases : 1, sizeof *P->phases);
    if (!P->phases) return run_fail(R, KD_RUN_FAILED, NULL, "out of memory");
    for (size_t i = 0; i < R->p->nphases; i++) {
        if (plan_phase_settings(R, R->p->phase_order[i], &P->phases[i], defaults)) return -1;
        P->nphases++;
    }
    for (int i = 0; i < P->nphases; i++)
        if (plan_phase_routes(R, P, i)) return -1;
    int n = 0;
    for (size_t u = 0; u < R->p->nunits; u++)
        for (const kdr_node *t = R->p->units[u]->root ? R->p->units[u]->root->kids : NULL; t; t = t->next)
            n += t->kind == KDR_REPORT;
    P->reports = calloc((size_t)(n ? n : 1), sizeof *P->reports);
    if (!P->reports) return run_fail(R, KD_RUN_FAILED, NULL, "out of memory");
    for (size_t u = 0; u < R->p->nunits; u++)
        for (const kdr_node *t = R->p->units[u]->root ? R->p->units[u]->root->kids : NULL; t; t = t->next)
            if (t->kind == KDR_REPORT && plan_report_of(R, t, &P->reports[P->nreports++])) return -1;
    return 0;
}

int plan_resolve(run *R, kd_plan *P)
{
    memset(P, 0, sizeof *P);
    const kdr_node *defaults[2];
    kdr_unit *du = NULL;
    int rc = default_calls(R, &du, &defaults[0], &defaults[1]);
    if (!rc) rc = resolve(R, P, defaults);
    if (du) kdr_unit_free(du);   /* the plan keeps values, not these nodes */
    return rc;
}

void plan_free(kd_plan *P)
{
    for (int i = 0; i < P->nphases; i++) free(P->phases[i].pool);
    free(P->phases);
    for (int i = 0; i < P->nreports; i++) free(P->reports[i].evals);
    free(P->reports);
    memset(P, 0, sizeof *P);
}
