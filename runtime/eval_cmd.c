/* eval_cmd.c — `kdrun eval` (eval_cmd.h).
 *
 * The command line is kdrun's (--set, --threads, --quiet, ...) with three
 * more options; the run is an ordinary run (a run directory with
 * report.yaml and metrics.csv) in which no phase runs: every evaluated
 * model takes its weights from --model NAME=FILE or from its `from` in the
 * recipe, and a model that has neither is an error before anything loads.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_cmd.h"
#include "run_plan.h"
#include "../lang/builtins.h"
#include "../lang/dym.h"

/* the value of option `name` at argv[*i] ("--name V" or "--name=V"), or NULL */
static const char *opt_value(int argc, char **argv, int *i, const char *name, int *hit)
{
    size_t l = strlen(name);
    *hit = 0;
    if (strncmp(argv[*i], name, l) != 0) return NULL;
    if (argv[*i][l] == '=') { *hit = 1; return argv[*i] + l + 1; }
    if (argv[*i][l] != 0) return NULL;
    *hit = 1;
    if (*i + 1 >= argc) return NULL;
    return argv[++*i];
}

static int metric_known(const char *m, char *dym, size_t n)
{
    char name[64];
    snprintf(name, sizeof name, "%s", m);
    char *at = strchr(name, '@');
    if (at) *at = 0;
    if (kdr_builtin_find(name, KDR_CTX_METRIC)) return 1;
    size_t nb;
    const kdr_builtin *all = kdr_builtins(&nb);
    const char *cands[256];
    size_t nc = 0;
    for (size_t i = 0; i < nb && nc < 256; i++)
        if (all[i].ctx == KDR_CTX_METRIC) cands[nc++] = all[i].name;
    kdr_dym(name, cands, nc, dym, n);
    return 0;
}

int kd_eval_args(int *argc, char **argv, kd_eval_opts *e, char *err, size_t n)
{
    int o = 1;   /* drops argv[1] = "eval" */
    memset(e, 0, sizeof *e);
    for (int i = 2; i < *argc; i++) {
        int hit;
        const char *v;
        if (strcmp(argv[i], "--") == 0) {   /* the rest is not ours */
            while (i < *argc) argv[o++] = argv[i++];
            break;
        }
        if ((v = opt_value(*argc, argv, &i, "--model", &hit)) || hit) {
            const char *eq = v ? strchr(v, '=') : NULL;
            if (!v || !eq || eq == v || !eq[1]) {
                snprintf(err, n, "--model %s: expected NAME=FILE (a model of the recipe and a "
                         ".safetensors file)", v ? v : "");
                return 2;
            }
            if (e->nmodels == KD_EVAL_MAX) { snprintf(err, n, "at most %d --model", KD_EVAL_MAX); return 2; }
            *(char *)eq = 0;   /* argv strings are writable and outlive main */
            for (int k = 0; k < e->nmodels; k++)
                if (!strcmp(e->models[k], v)) { snprintf(err, n, "--model %s given twice", v); return 2; }
            e->models[e->nmodels] = v;
            e->files[e->nmodels++] = eq + 1;
        } else if ((v = opt_value(*argc, argv, &i, "--on", &hit)) || hit) {
            if (!v || !*v) { snprintf(err, n, "--on needs DATA.SPLIT (or SPLIT)"); return 2; }
            e->on = v;
        } else if ((v = opt_value(*argc, argv, &i, "--metrics", &hit)) || hit) {
            if (!v || !*v) { snprintf(err, n, "--metrics needs a list such as top1,top5"); return 2; }
            snprintf(e->metrics_buf, sizeof e->metrics_buf, "%s", v);
            e->nmetrics = 0;
            for (char *s = strtok(e->metrics_buf, ", "); s; s = strtok(NULL, ", ")) {
                char dym[128];
                if (!metric_known(s, dym, sizeof dym)) {
                    snprintf(err, n, "--metrics: unknown metric '%s'%s", s, dym);
                    return 2;
                }
                if (e->nmetrics < 32) e->metrics[e->nmetrics++] = s;
            }
        } else {
            argv[o++] = argv[i];
        }
    }
    if (e->nmetrics && !e->on) {
        snprintf(err, n, "--metrics goes with --on DATA.SPLIT (without --on the recipe's report says what to measure)");
        return 2;
    }
    *argc = o;
    argv[o] = NULL;
    return -1;
}

/* ---- in the run ------------------------------------------------------------------ */

static int has_weights(run *R, const char *model)
{
    const kd_eval_opts *e = R->o->eval;
    for (int i = 0; i < e->nmodels; i++)
        if (!strcmp(e->models[i], model)) return 1;
    const kdr_node *d = kd_program_decl(R->p, KDR_MODEL, model, NULL);
    return d && d->b;
}

/* the only data set of the recipe, or NULL */
static const char *only_data(run *R)
{
    const char *name = NULL;
    for (size_t u = 0; u < R->p->nunits; u++)
        for (const kdr_node *t = R->p->units[u]->root ? R->p->units[u]->root->kids : NULL; t; t = t->next)
            if (t->kind == KDR_DATA) {
                if (name) return NULL;
                name = t->name;
            }
    return name;
}

int eval_cmd_plan(run *R, kd_plan *plan)
{
    const kd_eval_opts *e = R->o->eval;
    for (int i = 0; i < e->nmodels; i++)
        if (!kd_program_decl(R->p, KDR_MODEL, e->models[i], NULL)) {
            const char *cands[64];
            size_t nc = 0;
            for (size_t u = 0; u < R->p->nunits; u++)
                for (const kdr_node *t = R->p->units[u]->root ? R->p->units[u]->root->kids : NULL; t; t = t->next)
                    if (t->kind == KDR_MODEL && nc < 64) cands[nc++] = t->name;
            char dym[128];
            return run_fail(R, KD_RUN_RECIPE, NULL, "--model %s: the recipe has no model '%s'%s",
                            e->models[i], e->models[i], kdr_dym(e->models[i], cands, nc, dym, sizeof dym));
        }
    if (e->on) {
        /* one evaluation replaces the recipe's reports */
        static char data[128], split[128];
        const char *dot = strchr(e->on, '.');
        if (dot) {
            snprintf(data, sizeof data, "%.*s", (int)(dot - e->on), e->on);
            snprintf(split, sizeof split, "%s", dot + 1);
        } else {
            const char *only = only_data(R);
            if (!only)
                return run_fail(R, KD_RUN_RECIPE, NULL, "--on %s: the recipe has several data sets; "
                                "write --on DATA.%s", e->on, e->on);
            snprintf(data, sizeof data, "%s", only);
            snprintf(split, sizeof split, "%s", e->on);
        }
        if (!kd_program_decl(R->p, KDR_DATA, data, NULL))
            return run_fail(R, KD_RUN_RECIPE, NULL, "--on %s: the recipe has no data set '%s'", e->on, data);
        for (int i = 0; i < plan->nreports; i++) free(plan->reports[i].evals);
        if (!plan->nreports) {
            free(plan->reports);
            plan->reports = calloc(1, sizeof *plan->reports);
            if (!plan->reports) return run_fail(R, KD_RUN_FAILED, NULL, "out of memory");
        }
        plan_report *rep = &plan->reports[0];
        memset(rep, 0, sizeof *rep);
        plan->nreports = 1;
        rep->unit = R->p->units[0];
        rep->node = R->p->units[0]->root;
        rep->batch = PLAN_REPORT_BATCH;
        rep->evals = calloc(1, sizeof *rep->evals);
        if (!rep->evals) return run_fail(R, KD_RUN_FAILED, NULL, "out of memory");
        rep->nevals = 1;
        plan_eval *pe = &rep->evals[0];
        static kdr_node nowhere;   /* messages about the metrics: the recipe's first byte */
        pe->at = pe->data_at = NULL;
        pe->data = data;
        pe->split = split;
        for (int i = 0; i < e->nmodels && pe->nmodels < MAX_MODELS; i++) {
            pe->model_at[pe->nmodels] = &nowhere;
            pe->models[pe->nmodels++] = e->models[i];
        }
        for (size_t u = 0; u < R->p->nunits && !e->nmodels; u++)   /* no --model: those with `from` */
            for (const kdr_node *t = R->p->units[u]->root ? R->p->units[u]->root->kids : NULL; t; t = t->next)
                if (t->kind == KDR_MODEL && t->b && pe->nmodels < MAX_MODELS) {
                    pe->model_at[pe->nmodels] = t->c ? t->c : t;
                    pe->models[pe->nmodels++] = t->name;
                }
        if (!pe->nmodels)
            return run_fail(R, KD_RUN_RECIPE, NULL, "kdrun eval: no model to evaluate; give --model NAME=FILE");
        static const char *top1[] = { "top1" };
        const char *const *ms = e->nmetrics ? e->metrics : top1;
        int nm = e->nmetrics ? e->nmetrics : 1;
        pe->listed = 1;
        for (int i = 0; i < nm && pe->nmetrics < PLAN_MAX_METRICS; i++) {
            plan_metric *m = &pe->metrics[pe->nmetrics++];
            m->at = &nowhere;
            m->k = 10;
            snprintf(m->label, sizeof m->label, "%s", ms[i]);
            char *at = strchr(m->label, '@');
            static char names[PLAN_MAX_METRICS][64];
            snprintf(names[i], sizeof names[i], "%s", ms[i]);
            if (at) {
                names[i][at - m->label] = 0;
                m->k = atoll(at + 1);
            } else if (!strcmp(ms[i], "hr") || !strcmp(ms[i], "ndcg") || !strcmp(ms[i], "mrr")) {
                snprintf(m->label, sizeof m->label, "%s@10", ms[i]);
            }
            m->name = names[i];
        }
    }
    /* every evaluated model needs weights: evaluating an initialized one is not what eval is for */
    for (int r = 0; r < plan->nreports; r++)
        for (int i = 0; i < plan->reports[r].nevals; i++) {
            const plan_eval *pe = &plan->reports[r].evals[i];
            for (int k = 0; k < pe->nmodels; k++)
                if (!has_weights(R, pe->models[k])) {
                    R->unit = plan->reports[r].unit;
                    return run_fail(R, KD_RUN_RECIPE, pe->model_at[k] && pe->model_at[k]->end ? pe->model_at[k] : NULL,
                                    "kdrun eval: model '%s' has no weights; give --model %s=FILE "
                                    "(or `from \"FILE\"` in its declaration)", pe->models[k], pe->models[k]);
                }
        }
    if (!plan->nreports)
        return run_fail(R, KD_RUN_RECIPE, NULL, "kdrun eval: the recipe has no report; say what to "
                        "evaluate with --on DATA.SPLIT [--metrics M,...]");
    return 0;
}
