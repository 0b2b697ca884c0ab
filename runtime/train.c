/* train.c — the training loop: running a recipe phase by phase.
 *
 * One phase = one graph: the models it trains, its teachers and the models
 * it evaluates are compiled on a batch-sized input, its loss on top; the
 * executor plans the memory once; the epoch loop then only fills inputs,
 * runs forward/backward and steps the optimizer.  Trained parameters and
 * batch-norm statistics are kept by name (the recipe paths) in a store, so
 * a later phase (a distillation with the frozen teacher) or the report
 * starts from them.  The rest of a run lives in the rooms listed in run.h.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run.h"

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) { (void)sig; interrupted = 1; }

static void weight_set(pgraph *G, const kd_weight_sched *ws, int64_t ep)
{
    for (int i = 0; i < G->g->nwsched; i++) {
        float *x = kd_exec_input(G->e, G->g->wsched[i].node);
        if (x) x[0] = (float)kd_weight_at(&ws[i], ep);
    }
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

static int run_phase(run *R, const kdr_node *ph)
{
    R->unit = kd_program_unit_of(R->p, ph);
    psettings S;
    if (plan_phase_settings(R, ph, &S)) return -1;
    const char *split = NULL;
    dataset *D = run_data_ref(R, S.train->a, &split);
    if (!D) return -1;
    R->unit = kd_program_unit_of(R->p, ph);
    if (D->ds.kind != KD_DATA_IMAGES)
        return run_fail(R, KD_RUN_FAILED, S.train->a, "only image classification data trains in this build");

    pgraph G;
    memset(&G, 0, sizeof G);
    G.batch = S.batch;
    for (const kdr_node *m = S.train->kids; m; m = m->next)
        if (pgraph_add_model(R, &G, m, m->name, 1) < 0) return -1;
    for (int i = 0; i < S.nteachers; i++)
        if (pgraph_add_model(R, &G, S.teachers[i]->a, S.teachers[i]->a->name, 0) < 0) return -1;
    pool_run *pool = NULL;
    kd_weight_sched ws[32];
    if (S.follows) {
        pool = calloc(1, sizeof *pool);
        if (!pool) return run_fail(R, KD_RUN_FAILED, NULL, "out of memory");
        if (pool_setup(R, S.follows, S.epochs, pool) ||
            (pool->model = pgraph_add_model_decl(R, &G, S.follows, &pool->decl, 0)) < 0) {
            free(pool);
            return -1;
        }
        R->unit = kd_program_unit_of(R->p, ph);
    }
    peval ev[MAX_EVALS];
    int nev = 0;
    for (int i = 0; i < S.nevals; i++) {
        peval *e = &ev[nev];
        memset(e, 0, sizeof *e);
        e->at = S.evals[i];
        e->D = run_data_ref(R, S.evals[i]->a, &e->split);
        R->unit = kd_program_unit_of(R->p, ph);
        if (!e->D) { free(pool); return -1; }
        for (const kdr_node *m = S.evals[i]->kids; m; m = m->next) {
            int k = pgraph_add_model(R, &G, m, m->name, 0);
            if (k < 0) { free(pool); return -1; }
            e->models[e->nmodels++] = k;
        }
        nev++;
    }
    int rc = -1;
    kd_optim *opt = NULL;
    kd_param_group grp;
    memset(&grp, 0, sizeof grp);
    kd_batcher *bt = NULL;
    if (pgraph_build(R, &G, D, S.losses, S.owner, S.nloss, R->unit, ph->name)) goto out;

    int resuming = R->state && R->phase_idx == R->resume_phase;
    pgraph_init_salts(&G);
    kd_exec_init_params(G.e, (uint64_t)S.seed);
    pgraph_load_store(R, &G);
    if (resuming) kd_exec_set_step(G.e, R->resume_exec_step);
    if (plan_weights(R, G.g, ws)) goto out;
    R->unit = kd_program_unit_of(R->p, ph);
    /* early-stopped teachers: the checkpoint of their route at an epoch */
    for (int i = 0; i < S.nteachers; i++) {
        const kdr_node *t = S.teachers[i];
        if (!t->b) continue;
        route_info ri;
        int64_t e;
        char path[1300];
        if (run_const_int(R, t->b, &e, 1) || route_of_model(R, t->a->name, ph, t, &ri)) goto out;
        R->unit = kd_program_unit_of(R->p, ph);
        if (route_check_epoch(R, &ri, e, t->b)) goto out;
        route_path(R, &ri, e, path, sizeof path);
        if (state_load_checkpoint_into(R, &G, path, t->a->name, t->a->name)) goto out;
        if (!R->o->quiet)
            fprintf(stderr, "phase %s: teacher %s at epoch %lld (%s)\n", ph->name, t->a->name, (long long)e, path);
        char what[160];
        snprintf(what, sizeof what, "%s teacher epoch", t->a->name);
        if (!resuming) run_add_row(R, ph->name, 0, what, (double)e);
    }
    if (pool && resuming) {
        pool->cur = R->resume_anchor;
        pool->since = R->resume_anchor_since;
    }
    for (int i = 0; i < G.nm; i++)
        if (!G.m[i].trained && !(pool && i == pool->model)) {
            /* a model that is not trained here must have been trained before */
            int any = 0;
            for (int32_t k = 0; k < G.g->nparams; k++)
                if (G.g->params[k].model == G.m[i].index && run_store_find(R, G.g->params[k].name)) any = 1;
            if (!any && !R->o->quiet)
                kdr_diag_push(R->d, KDR_WARNING, R->unit, ph->beg, ph->end,
                              "model '%s' is used untrained in phase '%s'", G.m[i].name, ph->name);
        }

    kd_optim_cfg oc;
    if (plan_optimizer(R, S.optimizer, &oc)) goto out;
    kd_group_sel sel = { .arch = 0, .models = 0, .include_frozen = 0 };
    if (kd_param_group_build(&grp, G.g->params, G.g->nparams, &sel, R->d)) goto out;
    opt = kd_optim_new(&oc, &grp, R->d);
    if (!opt) { if (!R->status) R->status = KD_RUN_FAILED; goto out; }
    if (resuming && state_resume_optimizer(R, opt)) goto out;
    int64_t ep0 = resuming ? R->resume_epoch : 0;
    int64_t st0 = resuming ? R->resume_step : 0;
    if (ep0 > S.epochs) ep0 = S.epochs;
    kd_lr_sched sched;
    if (plan_lr_sched(R, S.lr, S.epochs, &sched, 0)) goto out;

    kd_loader_cfg lc;
    run_loader_cfg(D, split, S.batch, (uint64_t)S.seed, 1, &lc);
    char err[1024];
    if (ep0 < S.epochs && kd_batcher_start(&lc, ep0, S.epochs, &bt, err, sizeof err) != KD_DATA_OK) {
        run_fail(R, KD_RUN_DATA, S.train->a, "%s", err);
        goto out;
    }
    kd_loader *probe = NULL;
    int64_t steps = 0;
    if (kd_loader_new(&lc, &probe, err, sizeof err) == KD_DATA_OK) steps = kd_loader_steps(probe);
    kd_loader_free(probe);
    if (steps < 1) {
        run_fail(R, KD_RUN_DATA, S.train->a, "split '%s' has fewer samples than one batch (%lld)",
             split, (long long)S.batch);
        goto out;
    }
    int64_t every = 0, keep_last = 0;
    const char *route = ph->name;
    if (S.checkpoint) {
        if (run_const_int(R, S.checkpoint->a, &every, 1)) goto out;
        if (S.checkpoint->extra && strncmp(S.checkpoint->extra, "step", 4) == 0) {
            run_fail(R, KD_RUN_FAILED, S.checkpoint, "checkpoints every N steps are not in this build yet");
            goto out;
        }
        if ((S.checkpoint->op & KDR_F_KEEP_LAST) && run_const_int(R, S.checkpoint->b, &keep_last, 1)) goto out;
        if (S.checkpoint->name) route = S.checkpoint->name;
    }

    if (!R->o->quiet)
        fprintf(stderr, "phase %s: %lld epochs of %lld steps, batch %lld, seed %lld\n", ph->name,
                (long long)S.epochs, (long long)steps, (long long)S.batch, (long long)S.seed);
    float *P = kd_exec_params(G.e);
    const float *Gr = kd_exec_grads(G.e);
    for (int64_t ep = ep0; ep < S.epochs; ep++) {
        double t_ep = run_now(), sum = 0;
        int64_t n = 0, first = 0;
        if (ep == ep0 && st0 > 0) {
            /* resuming mid-epoch: the batches already trained on are skipped */
            first = st0;
            sum = R->resume_sum;
            n = R->resume_n;
        }
        int64_t anchor_epoch = 0;
        if (pool) {
            /* the anchor of this epoch, loaded when it changes */
            int a = pool_anchor(pool, ep, S.epochs);
            pool->cur = a;
            anchor_epoch = pool->epochs[a];
            if (a != pool->loaded) {
                char path[1300];
                route_path(R, &pool->route, anchor_epoch, path, sizeof path);
                if (state_load_checkpoint_into(R, &G, path, pool->route.model, pool->name)) goto out;
                pool->loaded = a;
            }
            R->anchor_cur = pool->cur;
            R->anchor_since = pool->since;
        }
        for (int64_t st = 0; st < steps; st++) {
            const kd_batch *b = NULL;
            int got = kd_batcher_next(bt, &b, err, sizeof err);
            if (got < 0) { run_fail(R, KD_RUN_DATA, NULL, "%s", err); goto out; }
            if (got == 0) break;
            if (st < first) continue;
            pgraph_feed(&G, b);
            weight_set(&G, ws, ep);
            kd_exec_zero_grad(G.e);
            if (kd_exec_forward(G.e, 1)) { run_fail(R, KD_RUN_FAILED, NULL, "forward pass failed"); goto out; }
            double l = kd_exec_value(G.e, G.loss)[0];
            if (!isfinite(l)) {
                R->unit = kd_program_unit_of(R->p, ph);
                /* name the first term that is not finite, where it is written */
                kdr_node term;
                memset(&term, 0, sizeof term);
                const char *tname = NULL;
                for (int k = 0; k < G.nterms && !tname; k++) {
                    double v = kd_exec_value(G.e, G.terms[k])[0];
                    if (isfinite(v)) continue;
                    const kd_node *n = &G.g->nodes[G.terms[k]];
                    tname = n->op->name;
                    term.beg = n->beg;
                    term.end = n->end;
                }
                if (tname)
                    run_fail(R, KD_RUN_FAILED, &term, "the loss is %s in phase '%s', epoch %lld, step %lld: "
                         "the first term that is not finite is this %s", isnan(l) ? "NaN" : "infinite", ph->name, (long long)ep + 1,
                         (long long)st + 1, tname);
                else
                    run_fail(R, KD_RUN_FAILED, S.loss, "the loss is %s in phase '%s', epoch %lld, step %lld",
                         isnan(l) ? "NaN" : "infinite", ph->name, (long long)ep + 1, (long long)st + 1);
                goto out;
            }
            if (kd_exec_backward(G.e, G.loss)) { run_fail(R, KD_RUN_FAILED, NULL, "backward pass failed"); goto out; }
            kd_optim_step(opt, P, Gr, kd_lr_at(&sched, oc.lr, ep, st, steps));
            sum += l;
            n++;
            progress(R, ph->name, ep, S.epochs, st, steps, sum / (double)n, run_now() - t_ep);
            if (interrupted && st + 1 < steps) {
                /* stop mid-epoch: save where we are, resumable bit for bit */
                if (R->o->progress && !R->o->quiet) fputc('\n', stderr);
                if (pgraph_save_store(R, &G, 1) == 0)
                    state_save(R, opt, ep, st + 1, sum, n, kd_exec_get_step(G.e), ph->name);
                run_fail(R, KD_RUN_INTERRUPTED, NULL, "interrupted in phase '%s', epoch %lld, step %lld; "
                     "continue with: kdrun --resume %s", ph->name, (long long)ep + 1, (long long)st + 1, R->dir);
                goto out;
            }
        }
        if (R->o->progress && !R->o->quiet) fputc('\n', stderr);
        double mean = n ? sum / (double)n : 0;
        run_add_row(R, ph->name, ep + 1, "train loss", mean);
        if (pool) {
            char what[160];
            snprintf(what, sizeof what, "%s anchor epoch", pool->name);
            run_add_row(R, ph->name, ep + 1, what, (double)anchor_epoch);
            pool_after_epoch(pool, mean);
            R->anchor_cur = pool->cur;
            R->anchor_since = pool->since;
        }
        char line[1024];
        size_t o = (size_t)snprintf(line, sizeof line, "%s epoch %lld/%lld  loss %.4f  lr %.4g",
                                    ph->name, (long long)ep + 1, (long long)S.epochs, mean,
                                    kd_lr_at(&sched, oc.lr, ep, 0, steps));
        for (int i = 0; i < nev && !interrupted; i++)
            if (eval_epoch(R, &G, &ev[i], ph, ep + 1, ep == ep0, line, sizeof line, &o)) goto out;
        if (!R->o->quiet)
            fprintf(stderr, "%s  %.1f s\n", line, run_now() - t_ep);
        if (every && ((ep + 1) % every == 0 || ep + 1 == S.epochs)) {
            if (state_save_checkpoint(R, &G, route, ep + 1, ph->name)) goto out;
            if (keep_last > 0 && ep + 1 - keep_last * every > 0) {
                char old[1400];
                snprintf(old, sizeof old, "%s/checkpoints/%s/epoch-%03lld.safetensors", R->dir, route,
                         (long long)(ep + 1 - keep_last * every));
                unlink(old);
            }
        }
        /* the resumable state after every epoch */
        if (pgraph_save_store(R, &G, 1) ||
            state_save(R, opt, ep + 1, 0, 0, 0, kd_exec_get_step(G.e), ph->name)) goto out;
        run_dir_write_curves(R);   /* the curves so far, to watch a long run */
        if (interrupted) {
            run_fail(R, KD_RUN_INTERRUPTED, NULL, "interrupted in phase '%s' after epoch %lld; "
                 "continue with: kdrun --resume %s", ph->name, (long long)ep + 1, R->dir);
            goto out;
        }
    }
    if (pgraph_save_store(R, &G, 1)) goto out;
    rc = 0;
out:
    kd_batcher_stop(bt);
    free(pool);
    R->anchor_cur = R->anchor_since = 0;
    kd_optim_free(opt);
    kd_param_group_free(&grp);
    pgraph_free(&G);
    return rc;
}
int kd_run(const kdr_program *p, const kd_run_opts *o, kdr_diag *d)
{
    run R;
    memset(&R, 0, sizeof R);
    R.p = p;
    R.o = o;
    R.d = d;
    R.unit = p->units[0];
    R.t0 = run_now();
    if (o->result) memset(o->result, 0, sizeof *o->result);
    for (size_t u = 0; u < p->nunits; u++) {
        if (!p->units[u]->root) continue;
        for (const kdr_node *t = p->units[u]->root->kids; t; t = t->next)
            if (t->kind == KDR_SEARCH) {
                R.unit = p->units[u];
                run_fail(&R, KD_RUN_FAILED, t, "searches are not in this build yet");
                return R.status;
            }
    }
    if (!o->run_dir || !*o->run_dir) {
        run_fail(&R, KD_RUN_FAILED, NULL, "no run directory");
        return R.status;
    }
    snprintf(R.dir, sizeof R.dir, "%s", o->run_dir);
    if (run_mkdirs(R.dir)) {
        run_fail(&R, KD_RUN_FAILED, NULL, "cannot create the run directory %s: %s", R.dir, strerror(errno));
        return R.status;
    }
    if (o->resume && state_load(&R)) {
        run_free(&R);
        return R.status;
    }
    if (plan_preflight(&R)) {
        run_free(&R);
        return R.status;
    }
    int already_done = R.state && kd_st_meta_get(R.state, "done") &&
                       strcmp(kd_st_meta_get(R.state, "done"), "1") == 0;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old);
    interrupted = 0;
    if (!o->quiet) fprintf(stderr, "run directory: %s\n", R.dir);
    for (size_t i = 0; i < p->nphases && !R.status && !already_done; i++) {
        R.phase_idx = (int)i;
        if (R.state && (int)i < R.resume_phase) continue;     /* finished before */
        run_phase(&R, p->phase_order[i]);
        if (!R.status && interrupted)
            run_fail(&R, KD_RUN_INTERRUPTED, NULL, "interrupted after phase '%s'; continue with: kdrun --resume %s",
                 p->phase_order[i]->name, R.dir);
    }
    char *table = NULL;
    size_t tlen = 0;
    FILE *tf = open_memstream(&table, &tlen);
    for (size_t u = 0; u < p->nunits && !R.status && tf && !already_done; u++)
        if (p->units[u]->root)
            for (const kdr_node *t = p->units[u]->root->kids; t && !R.status; t = t->next)
                if (t->kind == KDR_REPORT) eval_report(&R, t, tf);
    if (tf) fclose(tf);
    if (!R.status && !already_done) {
        R.phase_idx = (int)p->nphases;
        R.done = 1;
        state_save(&R, NULL, 0, 0, 0, 0, 0, NULL);
    }
    int failed_before = R.status;
    run_dir_write(&R);
    if (!failed_before) run_dir_print_results(&R, table, tlen);
    if (o->result) run_dir_finals(&R, o->result);
    free(table);
    sigaction(SIGINT, &old, NULL);
    run_free(&R);
    return R.status;
}
