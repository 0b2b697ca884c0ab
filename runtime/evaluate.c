/* evaluate.c — metrics of models over a split (top-1/5, ranks, PSNR/SSIM)
 * and the report's `evaluate` statements.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "evaluate.h"
#include "state.h"
#include "textbuf.h"
#include "weights.h"
#include "dp.h"

double evsum_metric(const evsum *e, const char *name, int64_t k, const char **why)
{
    *why = NULL;
    if (!strcmp(name, "psnr") || !strcmp(name, "ssim")) {
        if (!e->nimg) { *why = "needs clean target images (restoration data)"; return 0; }
        return name[0] == 'p' ? e->psnr : e->ssim;
    }
    if (!strcmp(name, "psnr_srgb") || !strcmp(name, "ssim_srgb")) {
        if (!e->nsrgb) { *why = "needs packed RAW output and clean images (raw_synth)"; return 0; }
        return name[0] == 'p' ? e->psnr_srgb : e->ssim_srgb;
    }
    if (!e->nrank) { *why = "needs scores [N, K] and target labels"; return 0; }
    if (!strcmp(name, "top1")) return e->top1;
    if (!strcmp(name, "top5")) return e->top5;
    int hr = !strcmp(name, "hr"), nd = !strcmp(name, "ndcg"), mr = !strcmp(name, "mrr");
    if (!hr && !nd && !mr) { *why = "is not in this build yet"; return 0; }
    if (k < 1 || k > KD_RANK_MAX) { *why = "takes @k with k in 1..1024"; return 0; }
    double s = 0;
    for (int64_t r = 0; r < k; r++)
        s += (double)e->rank_hist[r] * (hr ? kd_hr_at(r, k) : nd ? kd_ndcg_at(r, k) : kd_mrr_at(r, k));
    return s / (double)e->nrank;
}

/* the metrics of each evaluated model on a split (see evsum), as the task
 * of G's data accumulates them */
int eval_split(run *R, pgraph *G, const peval *ev, evsum *out, kd_task_pics *pics)
{
    const kd_task *T = G->pg.task;
    kd_loader_cfg lc;
    run_loader_cfg(ev->D, ev->split, G->pg.batch, 0, 0, &lc);
    kd_loader *ld = NULL;
    kd_batch b;
    char err[1024];
    memset(&b, 0, sizeof b);
    if (kd_loader_new(&lc, &ld, err, sizeof err) != KD_DATA_OK ||
        kd_batch_alloc(ld, &b, err, sizeof err) != KD_DATA_OK) {
        kd_loader_free(ld);
        return run_fail(R, KD_RUN_DATA, NULL, "%s", err);
    }
    for (int k = 0; k < ev->nmodels; k++) memset(&out[k], 0, sizeof out[k]);
    int64_t steps = kd_loader_steps(ld);
    for (int64_t s = 0; s < steps; s++) {
        if (!kd_dp_owns(R, s)) continue;        /* data-parallel: this rank's batches */
        /* the batch before ended: stop here, promptly (data-parallel: every rank
         * finishes the evaluation, and the ranks stop together at a step) */
        if (!kd_dp_on(R) && run_interrupted()) {
            kd_batch_free(&b);
            kd_loader_free(ld);
            return run_fail(R, KD_RUN_INTERRUPTED, NULL, "interrupted during an evaluation on %s; continue with: "
                            "kdrun --resume %s (from the last saved state)", ev->split, R->dir);
        }
        if (kd_loader_fill(ld, 0, s, &b, err, sizeof err) != KD_DATA_OK) {
            kd_batch_free(&b);
            kd_loader_free(ld);
            return run_fail(R, KD_RUN_DATA, NULL, "%s", err);
        }
        pgraph_feed(G, &b);
        for (int k = 0; k < ev->nmodels; k++)
            kd_exec_set_model_mode(G->e, G->pg.m[ev->models[k]].index, KD_MODE_EVAL);
        double t0 = run_now();
        if (kd_exec_forward(G->e, 0)) {
            kd_batch_free(&b);
            kd_loader_free(ld);
            return run_fail(R, KD_RUN_FAILED, NULL, "forward pass failed");
        }
        t0 = run_now() - t0;
        for (int k = 0; k < ev->nmodels; k++) {
            out[k].seconds += t0;
            if (b.n > 0 && (!out[k].row_seconds || t0 / (double)b.n < out[k].row_seconds))
                out[k].row_seconds = t0 / (double)b.n;
            const pmodel *m = &G->pg.m[ev->models[k]];
            const float *o = kd_exec_value(G->e, m->out);
            const kd_shape *os = &G->pg.g->nodes[m->out].shape;
            T->eval_batch(&out[k], o, os, &b, &ev->D->ds);
            if (pics && T->pics_keep && pics->base + k < KD_TASK_PIC_MODELS) {
                pics->names[pics->base + k] = m->name;
                T->pics_keep(pics, pics->base + k, o, os, &b);
            }
        }
    }
    for (int k = 0; k < ev->nmodels; k++) {
        kd_exec_set_model_mode(G->e, G->pg.m[ev->models[k]].index, KD_MODE_FOLLOW);
        if (kd_dp_sum_sums(R, &out[k])) {
            kd_batch_free(&b);
            kd_loader_free(ld);
            return run_fail(R, KD_RUN_FAILED, NULL, "summing the evaluation over the ranks failed");
        }
        T->eval_end(&out[k]);
    }
    kd_batch_free(&b);
    kd_loader_free(ld);
    return 0;
}

/* the picture of an evaluation (when the task draws them): RUN/pictures/NAME.png */
static void eval_pictures(run *R, const kd_task *T, kd_task_pics *pics, const char *name)
{
    char path[1400], err[512];
    snprintf(path, sizeof path, "%s/pictures", R->dir);
    if (!T->pics_write || !pics->n || !kd_dp_writer(R)) return;   /* data-parallel: rank 0 draws */
    if (run_mkdirs(path)) { run_fail(R, KD_RUN_FAILED, NULL, "cannot create %s", path); return; }
    snprintf(path, sizeof path, "%s/pictures/%s.png", R->dir, name);
    if (T->pics_write(pics, path, err, sizeof err)) run_fail(R, KD_RUN_FAILED, NULL, "%s", err);
}

/* One value of metric m (NULL: top1) of model k, or why the data cannot
 * give it; 0: not measured here (params and macs are the report's). */
static int metric_value(const evsum *es, const plan_metric *m, double *v, const char **why)
{
    const char *w = m ? m->name : "top1";
    *why = NULL;
    if (!w || !strcmp(w, "params") || !strcmp(w, "macs")) return 0;
    *v = evsum_metric(es, w, m ? m->k : 0, why);
    return 1;
}

int eval_epoch(run *R, pgraph *G, const peval *ev, const plan_phase *P, int64_t epoch, int first,
               char *line, size_t cap, size_t *o)
{
    const plan_eval *c = ev->cfg;
    evsum es[MAX_MODELS];
    kd_task_pics pics = { .want = KD_TASK_PICS };
    int rc = eval_split(R, G, ev, es, &pics);
    if (!rc && pics.n) {
        char name[300];
        snprintf(name, sizeof name, "%s-epoch-%03lld-%s.%s", P->name, (long long)epoch, c->data, c->split);
        eval_pictures(R, G->pg.task, &pics, name);
    }
    kd_task_pics_free(&pics);
    if (rc || R->status) return -1;
    for (int k = 0; k < ev->nmodels; k++) {
        /* the listed metrics, or top1 */
        for (int j = 0; j < (c->listed ? c->nmetrics : 1); j++) {
            const plan_metric *m = c->listed ? &c->metrics[j] : NULL;
            const char *why;
            double v;
            if (!metric_value(&es[k], m, &v, &why)) continue;
            const char *label = m ? m->label : "top1";
            if (why) {
                if (m && first)
                    kdr_diag_push(R->d, KDR_WARNING, P->unit, m->at->beg, m->at->end,
                                  "metric '%s' on %s.%s %s; left out", label, c->data, c->split, why);
                continue;
            }
            char what[200];
            snprintf(what, sizeof what, "%s %s on %s.%s", G->pg.m[ev->models[k]].name, label, c->data, c->split);
            run_add_row(R, P->name, epoch, what, v);
            const char *w = m ? m->name : "top1";
            int pct = !strcmp(w, "top1") || !strcmp(w, "top5");
            if (*o < cap)
                *o += (size_t)snprintf(line + *o, cap - *o, pct ? "  %s %.2f%%" : "  %s %.4g", what, v);
        }
    }
    return 0;
}

/* ---- the report --------------------------------------------------------------- */

/* The report's metric rows of one model (params < 0: a baseline, no
 * params or MACs). */
static void report_rows(run *R, const plan_eval *c, const char *model, const evsum *es,
                        int64_t params, int64_t macs)
{
    for (int q = 0; q < c->nmetrics; q++) {
        const plan_metric *m = &c->metrics[q];
        if (!m->name) continue;
        double v;
        const char *why = NULL;
        if (!strcmp(m->name, "params") || !strcmp(m->name, "macs")) {
            if (params < 0) continue;
            v = (double)(m->name[0] == 'p' ? params : macs);
        } else {
            v = evsum_metric(es, m->name, m->k, &why);
        }
        if (why) {
            if (params >= 0)
                kdr_diag_push(R->d, KDR_WARNING, R->unit, m->at->beg, m->at->end,
                              "metric '%s' on %s.%s %s; left out", m->label, c->data, c->split, why);
            continue;
        }
        char what[200];
        snprintf(what, sizeof what, "%s %s on %s.%s", model, m->label, c->data, c->split);
        run_add_row(R, "report", 0, what, v);
    }
}

int eval_report(run *R, const plan_report *rep, kd_strbuf *table)
{
    for (int i = 0; i < rep->nevals; i++) {
        const plan_eval *c = &rep->evals[i];
        R->unit = rep->unit;
        dataset *D = run_data_split(R, c->data, c->split, c->data_at);
        R->unit = rep->unit;
        if (!D) return -1;
        kd_task_pics pics = { .want = KD_TASK_PICS };   /* the report's picture: every model */
        const kd_task *T = NULL, *TB = kd_task_of(D->ds.kind);
        evsum bs;
        const char *bname = TB && TB->baseline ? TB->baseline(&D->ds, c->split, &bs) : NULL;
        if (bname) {   /* a model-free baseline first (sequences: popularity) */
            report_rows(R, c, bname, &bs, -1, 0);
            TB->report_line(table, bname, c->data, c->split, &bs, -1, 0);
        }
        for (int j = 0; j < c->nmodels; j++) {
            pgraph G;
            memset(&G, 0, sizeof G);
            G.pg.batch = rep->batch;
            peval ev;
            memset(&ev, 0, sizeof ev);
            ev.D = D;
            ev.split = c->split;
            ev.cfg = c;
            int k = pgraph_add_model(R, &G, c->model_at[j], c->models[j], 0);
            if (k < 0 || pgraph_build(R, &G, D, NULL, NULL, 0, R->unit, "report")) {
                pgraph_free(&G);
                kd_task_pics_free(&pics);
                return -1;
            }
            ev.models[ev.nmodels++] = k;
            kd_exec_init_params(G.e, 0);
            if (state_check_store(R, &G)) { pgraph_free(&G); kd_task_pics_free(&pics); return -1; }
            int got = pgraph_load_store(R, &G), wi = got < 0 ? -1 : weights_in_apply(R, &G);
            if (wi < 0) { pgraph_free(&G); kd_task_pics_free(&pics); return -1; }
            if (got + wi <= 0 && !R->o->quiet &&
                kd_graph_model_params(G.pg.g, G.pg.m[k].index) > 0)   /* a parameter-free model needs no training */
                kdr_diag_push(R->d, KDR_WARNING, R->unit, c->model_at[j]->beg, c->model_at[j]->end,
                              "model '%s' was never trained; it is evaluated as initialized", c->models[j]);
            evsum es;
            T = G.pg.task;
            pics.base = j;
            if (eval_split(R, &G, &ev, &es, j < KD_TASK_PIC_MODELS ? &pics : NULL)) {
                pgraph_free(&G);
                kd_task_pics_free(&pics);
                return -1;
            }
            int64_t params = kd_graph_model_params(G.pg.g, G.pg.m[k].index);
            int64_t macs = kd_graph_model_macs(G.pg.g, G.pg.m[k].index) / G.pg.batch;
            report_rows(R, c, c->models[j], &es, params, macs);
            T->report_line(table, c->models[j], c->data, c->split, &es, params, macs);
            pgraph_free(&G);
        }
        if (T && pics.n) {
            char name[300];
            snprintf(name, sizeof name, "report-%s.%s", c->data, c->split);
            eval_pictures(R, T, &pics, name);
        }
        kd_task_pics_free(&pics);
        if (R->status) return -1;
    }
    return 0;
}
