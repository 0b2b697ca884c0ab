/* train.c — the training loop: running a recipe's plan phase by phase.
 *
 * One phase = one graph: the models it trains, its teachers and the models
 * it evaluates are compiled on a batch-sized input, its loss on top; the
 * executor plans the memory once; the epoch loop then only fills inputs,
 * runs forward/backward and steps the optimizer.  Trained parameters and
 * batch-norm statistics are kept by name (the recipe paths) in a store, so
 * a later phase (a distillation with the frozen teacher) or the report
 * starts from them.  Everything a phase needs to know is resolved before
 * the first one starts (run_plan.c); the other rooms are listed in run.h.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run_plan.h"
#include "train_step.h"
#include "state.h"
#include "routes.h"
#include "evaluate.h"
#include "run_dir.h"
#include "textbuf.h"
#include "dp.h"
#include "index_input.h"
#include "task.h"
#include "weights.h"
#include "eval_cmd.h"
#include "run_logs.h"

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) { (void)sig; interrupted = 1; }
int run_interrupted(void) { return interrupted != 0; }   /* evaluate.h */

/* Stop here?  Data-parallel, every rank must answer the same: the ranks
 * agree (any rank's flag stops all).  The flag itself is never cleared, so
 * a signal that arrives during the agreement counts at the next one. */
static int stop_now(const run *R)
{
    return kd_dp_on(R) ? kd_dp_any(R, interrupted) : interrupted;
}

/* What a phase runs on: its graph, data, evaluations, pool, optimizer
 * units and steps (train_step.c). */
typedef struct phase_run {
    const kd_plan *PL;
    int idx;                         /* the phase's index in PL */
    const plan_phase *P;
    pgraph G;
    dataset *D;
    peval ev[MAX_EVALS];
    int nev;
    pool_run *pool;
    kd_weight_sched ws[32];
    steps_run S;
    kd_batcher *bt;
    int64_t steps;
} phase_run;

static void phase_run_free(run *R, phase_run *X)
{
    kd_batcher_stop(X->bt);
    free(X->pool);
    R->anchor_cur = R->anchor_since = 0;
    steps_free(&X->S);
    pgraph_free(&X->G);
}

/* The phase's data and graph: trained models, teachers, the pool's model,
 * the evaluated models and the losses. */
static int phase_graph(run *R, phase_run *X)
{
    const plan_phase *P = X->P;
    pgraph *G = &X->G;
    R->unit = P->unit;
    X->D = run_data_split(R, P->data, P->split, P->data_at);
    if (!X->D) return -1;
    R->unit = P->unit;
    if (!kd_task_of(X->D->ds.kind))
        return run_fail(R, KD_RUN_FAILED, P->data_at, "training on this kind of data is not in this build yet");
    if (kd_dp_check(R, P, X->D)) return -1;
    G->pg.batch = P->batch / kd_dp_ranks(R);     /* this rank's rows */
    for (int i = 0; i < P->ntrained; i++)
        if (pgraph_add_model(R, G, P->trained_at[i], P->trained[i], 1) < 0) return -1;
    for (int i = 0; i < P->nteachers; i++)
        if (pgraph_add_model(R, G, P->teachers[i].model_at, P->teachers[i].model, 0) < 0) return -1;
    if (P->pool) {
        X->pool = malloc(sizeof *X->pool);
        if (!X->pool) return run_fail(R, KD_RUN_FAILED, NULL, "out of memory");
        *X->pool = *P->pool;
        if ((X->pool->model = pgraph_add_model_decl(R, G, P->follows, &X->pool->decl, 0)) < 0) return -1;
    }
    for (int i = 0; i < P->nevals; i++) {
        const plan_eval *c = &P->evals[i];
        peval *e = &X->ev[X->nev];
        memset(e, 0, sizeof *e);
        e->cfg = c;
        e->split = c->split;
        e->D = run_data_split(R, c->data, c->split, c->data_at);
        R->unit = P->unit;
        if (!e->D) return -1;
        for (int j = 0; j < c->nmodels; j++) {
            int k = pgraph_add_model(R, G, c->model_at[j], c->models[j], 0);
            if (k < 0) return -1;
            e->models[e->nmodels++] = k;
        }
        X->nev++;
    }
    if (steps_graph(R, X->PL, X->idx, &X->S, G, X->D)) return -1;
    const kd_split *sp = kd_dataset_split(&X->D->ds, P->split);
    int64_t bank = 0;
    int32_t small = sp ? kd_index_small_bank(G->pg.g, sp->n, &bank) : -1;
    if (small >= 0) {
        const kd_node *nd = &G->pg.g->nodes[small];
        kdr_node at;                       /* where the op is written */
        memset(&at, 0, sizeof at);
        at.beg = nd->beg;
        at.end = nd->end;
        return run_fail(R, KD_RUN_RECIPE, &at,
                           "%s keeps a bank of n: %lld rows, but %s.%s has %lld (every row's index must "
                           "fit: set n: %lld or more)", nd->op->name, (long long)bank, P->data, P->split,
                           (long long)sp->n, (long long)sp->n);
    }
    kd_dp_attach(R, G->e);       /* synchronized batch norm, when asked */
    return 0;
}

/* Parameters (initialized, from the store, the teachers' checkpoints),
 * the optimizer, and the batches from the first epoch to train. */
static int phase_start(run *R, phase_run *X, int resuming, int64_t ep0, int64_t st0)
{
    const plan_phase *P = X->P;
    pgraph *G = &X->G;
    pgraph_init_salts(G);
    kd_exec_init_params(G->e, (uint64_t)P->seed);
    if (pgraph_load_store(R, G) < 0 || state_check_store(R, G)) return -1;
    if (weights_in_apply(R, G) < 0) return -1;
    if (resuming) kd_exec_set_step(G->e, R->resume_exec_step);
    if (plan_weights(R, G->pg.g, X->ws)) return -1;
    R->unit = P->unit;
    if (route_load_teachers(R, G, P, resuming)) return -1;
    if (X->pool && resuming) {
        X->pool->cur = R->resume_anchor;
        X->pool->since = R->resume_anchor_since;
    }
    for (int i = 0; i < G->pg.nm; i++)
        if (!G->pg.m[i].trained && !(X->pool && i == X->pool->model)) {
            /* a model that is not trained here must have been trained before */
            int any = 0;
            for (int32_t k = 0; k < G->pg.g->nparams; k++)
                if (G->pg.g->params[k].model == G->pg.m[i].index && run_store_find(R, G->pg.g->params[k].name)) any = 1;
            if (!any && !R->o->quiet)
                kdr_diag_push(R->d, KDR_WARNING, R->unit, P->node->beg, P->node->end,
                              "model '%s' is used untrained in phase '%s'", G->pg.m[i].name, P->name);
        }
    kd_loader_cfg lc;
    char err[1024];
    run_loader_cfg(X->D, P->split, P->batch, (uint64_t)P->seed, 1, &lc);
    if (ep0 < P->epochs && kd_batcher_start(&lc, ep0, P->epochs, &X->bt, err, sizeof err) != KD_DATA_OK)
        return run_fail(R, KD_RUN_DATA, P->data_at, "%s", err);
    kd_loader *probe = NULL;
    if (kd_loader_new(&lc, &probe, err, sizeof err) == KD_DATA_OK) X->steps = kd_loader_steps(probe);
    kd_loader_free(probe);
    if (X->steps < 1)
        return run_fail(R, KD_RUN_DATA, P->data_at, "split '%s' has fewer samples than one batch (%lld)",
                        P->split, (long long)P->batch);
    /* derive, the optimizer units (their state when resuming), other data streams */
    return steps_start(R, P, &X->S, G, X->D, &lc, resuming, ep0, st0, X->steps);
}

static void progress(run *R, const char *phase, int64_t epoch, int64_t epochs, int64_t step,
                     int64_t steps, double loss, double t_epoch)
{
    if (!R->o->progress || R->o->quiet) return;
    int width = 24, done = steps ? (int)(width * (step + 1) / steps) : width;
    double eta = step > 0 ? t_epoch / (double)(step + 1) * (double)(steps - step - 1) : 0;
    fprintf(stderr, "\r%s %lld/%lld [", phase, (long long)epoch + 1, (long long)epochs);
    for (int i = 0; i < width; i++) fputc(i < done ? '=' : i == done ? '>' : ' ', stderr);
    fprintf(stderr, "] %lld/%lld loss %.4f ETA %ds   ", (long long)step + 1, (long long)steps,
            loss, (int)(eta + 0.5));
    fflush(stderr);
}

/* After epoch ep (0-based): checkpoints, the resumable state, the curves. */
static int epoch_end(run *R, phase_run *X, int64_t ep)
{
    const plan_phase *P = X->P;
    logs_epoch_end(R, P, &X->G, ep, X->steps);
    int64_t every = P->every, done = ep + 1;
    if (every && (done % every == 0 || done == P->epochs)) {
        if (state_save_checkpoint(R, &X->G, P->route, done, P->name)) return -1;
        if (P->keep_last > 0 && done - P->keep_last * every > 0) {
            char old[1400];
            snprintf(old, sizeof old, "%s/checkpoints/%s/epoch-%03lld.safetensors", R->dir, P->route,
                     (long long)(done - P->keep_last * every));
            if (kd_dp_writer(R)) unlink(old);
        }
    }
    if (pgraph_save_store(R, &X->G, 1)) return -1;
    kd_optim *opt = steps_state_put(R, P, &X->S);
    if (R->status || state_save(R, opt, done, 0, 0, 0, kd_exec_get_step(X->G.e), P->name)) return -1;
    run_dir_write_curves(R);   /* the curves so far, to watch a long run */
    return 0;
}

/* KDRUN_PROFILE=1: after a phase, the seconds its steps spent per op
 * (forward and backward) and per model, on stderr */
static void profile_print(const run *R, const plan_phase *P, const pgraph *G, const double *t, int64_t steps)
{
    const kd_graph *g = G->pg.g;
    if (!t || steps < 1 || R->o->quiet) return;
    kd_exec_stats st;
    kd_exec_get_stats(G->e, &st);
    double tot = 0;
    for (int32_t i = 0; i < 2 * g->nnodes; i++) tot += t[i];
    fprintf(stderr, "profile of phase %s: %.1f ms per iteration in ops, %.1f M MACs forward and %.1f M "
            "backward per planned step\n", P->name, 1e3 * tot / (double)steps,
            (double)st.macs_forward / 1e6, (double)st.macs_backward / 1e6);
    int ncond = 0, nfold = kd_exec_fold_count(G->e, NULL, &ncond);
    if (nfold)
        fprintf(stderr, "  frozen conv chains run as one conv: %d, %d of them only in the steps whose "
                "backward does not pass through them\n", nfold, ncond);
    for (int pass = 0; pass < 2; pass++)
        for (int m = -1; m < g->nmodels; m++) {
            const char *seen[64];
            int ns = 0;
            for (int32_t i = 0; i < g->nnodes; i++) {
                const kd_node *a = &g->nodes[i];
                if (a->kind != KD_NODE_OP || !a->op || a->model != m) continue;
                int dup = 0;
                for (int k = 0; k < ns; k++) dup |= seen[k] == a->op->name;
                if (dup || ns == 64) continue;
                seen[ns++] = a->op->name;
                double sum = 0;
                for (int32_t j = i; j < g->nnodes; j++)
                    if (g->nodes[j].kind == KD_NODE_OP && g->nodes[j].op == a->op && g->nodes[j].model == m)
                        sum += t[pass * g->nnodes + j];
                if (sum * 1e3 / (double)steps < 0.05) continue;
                fprintf(stderr, "  %-8s %-14s %-12s %8.2f ms  %5.1f %%\n", pass ? "backward" : "forward",
                        m >= 0 && g->model_names[m] ? g->model_names[m] : "(losses)", a->op->name,
                        1e3 * sum / (double)steps, tot > 0 ? 100 * sum / tot : 0);
            }
        }
}

static int run_phase(run *R, const kd_plan *PL, int idx)
{
    const plan_phase *P = &PL->phases[idx];
    phase_run X;
    memset(&X, 0, sizeof X);
    X.PL = PL;
    X.idx = idx;
    X.P = P;
    pgraph *G = &X.G;
    int resuming = R->state && R->phase_idx == R->resume_phase;
    int64_t ep0 = resuming ? R->resume_epoch : 0, st0 = resuming ? R->resume_step : 0;
    if (ep0 > P->epochs) ep0 = P->epochs;
    int rc = -1;
    double *prof = NULL;
    int64_t prof_steps = 0;
    if (phase_graph(R, &X) || phase_start(R, &X, resuming, ep0, ep0 < P->epochs ? st0 : 0) ||
        (resuming && state_check_resume(R, P, X.steps))) goto out;
    if (!R->o->quiet)
        fprintf(stderr, "phase %s: %lld epochs of %lld steps, batch %lld, seed %lld\n", P->name,
                (long long)P->epochs, (long long)X.steps, (long long)P->batch, (long long)P->seed);
    char err[1024];
    if (getenv("KDRUN_PROFILE") && (prof = calloc(2 * (size_t)G->pg.g->nnodes + 1, sizeof *prof)))
        kd_exec_set_profile(G->e, prof);
    for (int64_t ep = ep0; ep < P->epochs; ep++) {
        double t_ep = run_now(), sum = 0;
        int64_t n = 0, first = 0, anchor_epoch = 0;
        if (ep == ep0 && st0 > 0) {
            /* resuming mid-epoch: the batches already trained on are skipped */
            first = st0;
            sum = R->resume_sum;
            n = R->resume_n;
        }
        if (X.pool) {
            if (pool_enter_epoch(R, G, X.pool, ep, P->epochs, &anchor_epoch)) goto out;
            R->anchor_cur = X.pool->cur;
            R->anchor_since = X.pool->since;
        }
        if (steps_cache_epoch(R, &X.S, G)) goto out;
        for (int64_t st = 0; st < X.steps; st++) {
            const kd_batch *b = NULL;
            int got = kd_batcher_next(X.bt, &b, err, sizeof err);
            if (got < 0) { run_fail(R, KD_RUN_DATA, NULL, "%s", err); goto out; }
            if (got == 0) break;
            if (st < first) continue;
            double l;
            if (steps_iterate(R, P, &X.S, G, b, X.ws, ep, st, X.steps, &l)) goto out;
            prof_steps++;
            sum += l;
            n++;
            logs_step(R, G, ep);
            int stop = stop_now(R);
            progress(R, P->name, ep, P->epochs, st, X.steps, sum / (double)n, run_now() - t_ep);
            if (stop) {
                /* stop mid-epoch (or after its last step, before the epoch's
                 * rows and evaluations): save where we are, resumable bit
                 * for bit; a resume at step == steps goes straight to the
                 * epoch's end */
                if (R->o->progress && !R->o->quiet) fputc('\n', stderr);
                if (pgraph_save_store(R, G, 1) == 0) {
                    kd_optim *opt = steps_state_put(R, P, &X.S);
                    if (!R->status) state_save(R, opt, ep, st + 1, sum, n, kd_exec_get_step(G->e), P->name);
                }
                run_fail(R, KD_RUN_INTERRUPTED, NULL, "interrupted in phase '%s', epoch %lld, step %lld; "
                         "continue with: kdrun --resume %s", P->name, (long long)ep + 1, (long long)st + 1, R->dir);
                goto out;
            }
        }
        if (R->o->progress && !R->o->quiet) fputc('\n', stderr);
        double mean = n ? sum / (double)n : 0;
        run_add_row(R, P->name, ep + 1, "train loss", mean);
        steps_epoch_rows(R, P, &X.S, G, ep + 1);
        if (X.pool) {
            char what[160];
            snprintf(what, sizeof what, "%s anchor epoch", X.pool->name);
            run_add_row(R, P->name, ep + 1, what, (double)anchor_epoch);
            pool_after_epoch(X.pool, mean);
            R->anchor_cur = X.pool->cur;
            R->anchor_since = X.pool->since;
        }
        char line[1024], lrs[400];
        steps_lr_text(&X.S, P, ep, X.steps, lrs, sizeof lrs);
        size_t o = (size_t)snprintf(line, sizeof line, "%s epoch %lld/%lld  loss %.4f  %s", P->name,
                                    (long long)ep + 1, (long long)P->epochs, mean, lrs);
        if (prof) kd_exec_set_profile(G->e, NULL);   /* the profile is of the training steps */
        for (int i = 0; i < X.nev && (kd_dp_on(R) || !interrupted); i++)   /* data-parallel: all ranks evaluate */
            if (eval_epoch(R, G, &X.ev[i], P, ep + 1, ep == ep0, line, sizeof line, &o)) goto out;
        if (prof) kd_exec_set_profile(G->e, prof);
        if (!R->o->quiet) fprintf(stderr, "%s  %.1f s\n", line, run_now() - t_ep);
        if (epoch_end(R, &X, ep)) goto out;
        if (stop_now(R)) {
            run_fail(R, KD_RUN_INTERRUPTED, NULL, "interrupted in phase '%s' after epoch %lld; "
                     "continue with: kdrun --resume %s", P->name, (long long)ep + 1, R->dir);
            goto out;
        }
    }
    if (pgraph_save_store(R, G, 1) || models_out_write(R, G, P->name)) goto out;
    rc = 0;
out:
    if (prof) {
        kd_exec_set_profile(G->e, NULL);
        profile_print(R, P, G, prof, prof_steps);
        free(prof);
    }
    steps_cache_finish(R, &X.S);
    phase_run_free(R, &X);
    return rc;
}

/* Before any work: a run directory, the state to resume. */
static int run_open(run *R)
{
    if (!R->o->run_dir || !*R->o->run_dir) return run_fail(R, KD_RUN_FAILED, NULL, "no run directory");
    snprintf(R->dir, sizeof R->dir, "%s", R->o->run_dir);
    if (run_mkdirs(R->dir))
        return run_fail(R, KD_RUN_FAILED, NULL, "cannot create the run directory %s: %s", R->dir, strerror(errno));
    /* data-parallel: the ranks share the directory; rank 0 holds the lock
     * and tidies it */
    if (kd_dp_writer(R) && state_lock(R)) return -1;
    if (R->o->resume && kd_dp_writer(R)) state_remove_stale(R);
    if (R->o->resume && state_load(R)) return -1;
    return 0;
}

int kd_run(const kdr_program *p, const kd_run_opts *o, kdr_diag *d)
{
    run R;
    kd_plan plan;
    memset(&R, 0, sizeof R);
    memset(&plan, 0, sizeof plan);
    R.p = p;
    R.o = o;
    R.d = d;
    R.unit = p->units[0];
    R.t0 = run_now();
    size_t errors0 = d->errors;   /* any error below fails the run */
    if (o->result) memset(o->result, 0, sizeof *o->result);
    if (run_open(&R) || plan_resolve(&R, &plan) || (o->eval && eval_cmd_plan(&R, &plan))) {
        plan_free(&plan);
        run_free(&R);
        return R.status;
    }
    const char *done = R.state ? kd_st_meta_get(R.state, "done") : NULL;
    int already_done = done && strcmp(done, "1") == 0;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old);
    interrupted = 0;
    if (!o->quiet) fprintf(stderr, "run directory: %s\n", R.dir);
    for (int i = 0; i < plan.nphases && !R.status && !already_done && !o->eval; i++) {
        R.phase_idx = i;
        if (R.state && i < R.resume_phase) continue;     /* finished before */
        run_phase(&R, &plan, i);
        int stop = stop_now(&R);
        if (!R.status && d->errors > errors0) R.status = KD_RUN_FAILED;
        if (!R.status && stop)
            run_fail(&R, KD_RUN_INTERRUPTED, NULL, "interrupted after phase '%s'; continue with: kdrun --resume %s",
                     plan.phases[i].name, R.dir);
    }
    kd_strbuf table = { 0 };   /* the report's lines */
    for (int i = 0; i < plan.nreports && !R.status && !already_done; i++)
        eval_report(&R, &plan.reports[i], &table);
    if (!R.status && d->errors > errors0) R.status = KD_RUN_FAILED;
    if (!R.status && !already_done) {
        R.phase_idx = plan.nphases;
        R.done = 1;
        state_save(&R, NULL, 0, 0, 0, 0, 0, NULL);
    }
    int failed_before = R.status;
    run_dir_write(&R);
    if (!failed_before) run_dir_print_results(&R, table.oom ? NULL : table.s, table.oom ? 0 : table.n);
    if (o->result) run_dir_finals(&R, o->result);
    kd_sb_free(&table);
    sigaction(SIGINT, &old, NULL);
    plan_free(&plan);
    run_free(&R);
    return R.status;
}
