/* evaluate.c — metrics of models over a split (top-1/5, ranks, PSNR/SSIM)
 * and the report's `evaluate` statements.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "run.h"
#include "metrics.h"

/* The value of metric `name` (@k for hr, ndcg, mrr) from an evsum; 0 and
 * *why set when this data cannot give it. */
double evsum_metric(const evsum *e, const char *name, int64_t k, const char **why)
{
    *why = NULL;
    if (!strcmp(name, "psnr") || !strcmp(name, "ssim")) {
        if (!e->nimg) { *why = "needs clean target images (restoration data)"; return 0; }
        return name[0] == 'p' ? e->psnr : e->ssim;
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

/* A metric of an `evaluate ... :` list: `top1`, `hr` (k = 10) or `hr@5`;
 * its name, with label "hr@5" in buf and k in *k.  NULL: not a metric. */
const char *eval_metric_ref(const kdr_node *mt, char *buf, size_t n, int64_t *k)
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

/* the metrics of each evaluated model on a split (see evsum) */
int eval_split(run *R, pgraph *G, const peval *ev, evsum *out)
{
    kd_loader_cfg lc;
    run_loader_cfg(ev->D, ev->split, G->batch, 0, 0, &lc);
    kd_loader *ld = NULL;
    kd_batch b;
    char err[1024];
    memset(&b, 0, sizeof b);
    if (kd_loader_new(&lc, &ld, err, sizeof err) != KD_DATA_OK ||
        kd_batch_alloc(ld, &b, err, sizeof err) != KD_DATA_OK) {
        kd_loader_free(ld);
        return run_fail(R, KD_RUN_DATA, NULL, "%s", err);
    }
    int64_t hit1[MAX_MODELS] = { 0 }, hit5[MAX_MODELS] = { 0 };
    for (int k = 0; k < ev->nmodels; k++) memset(&out[k], 0, sizeof out[k]);
    int64_t steps = kd_loader_steps(ld);
    int64_t nneg = ev->D->ds.negatives;
    for (int64_t s = 0; s < steps; s++) {
        if (kd_loader_fill(ld, 0, s, &b, err, sizeof err) != KD_DATA_OK) {
            kd_batch_free(&b);
            kd_loader_free(ld);
            return run_fail(R, KD_RUN_DATA, NULL, "%s", err);
        }
        pgraph_feed(G, &b);
        for (int k = 0; k < ev->nmodels; k++)
            kd_exec_set_model_mode(G->e, G->m[ev->models[k]].index, KD_MODE_EVAL);
        if (kd_exec_forward(G->e, 0)) {
            kd_batch_free(&b);
            kd_loader_free(ld);
            return run_fail(R, KD_RUN_FAILED, NULL, "forward pass failed");
        }
        for (int k = 0; k < ev->nmodels; k++) {
            const pmodel *m = &G->m[ev->models[k]];
            const float *lg = kd_exec_value(G->e, m->out);
            const kd_shape *os = &G->g->nodes[m->out].shape;
            evsum *e = &out[k];
            if (b.y && os->ndim == 4 && os->dims[1] == b.c && os->dims[2] == b.h && os->dims[3] == b.w) {
                int64_t row = b.c * b.h * b.w;
                for (int64_t r = 0; r < b.n; r++) {
                    e->psnr += kd_psnr(lg + r * row, b.y + r * row, row, 1.0);
                    e->ssim += kd_ssim(lg + r * row, b.y + r * row, b.c, b.h, b.w, 1.0);
                }
                e->nimg += b.n;
            }
            if (!b.label || os->ndim != 2) continue;
            int64_t C = os->dims[1];
            for (int64_t r = 0; r < b.n; r++) {
                const float *row = lg + r * C;
                int64_t y = b.label[r];
                if (y < 0 || y >= C) continue;
                int64_t better = kd_rank(row, C, y, NULL, 0);
                hit1[k] += better == 0;
                hit5[k] += better < 5;
                int64_t rk = b.neg ? kd_rank(row, C, y, b.neg + r * nneg, nneg) : better;
                e->rank_hist[rk < KD_RANK_MAX ? rk : KD_RANK_MAX]++;
                e->nrank++;
            }
        }
    }
    for (int k = 0; k < ev->nmodels; k++) {
        kd_exec_set_model_mode(G->e, G->m[ev->models[k]].index, KD_MODE_FOLLOW);
        evsum *e = &out[k];
        e->top1 = e->nrank ? 100.0 * (double)hit1[k] / (double)e->nrank : 0;
        e->top5 = e->nrank ? 100.0 * (double)hit5[k] / (double)e->nrank : 0;
        if (e->nimg) {
            e->psnr /= (double)e->nimg;
            e->ssim /= (double)e->nimg;
        }
    }
    kd_batch_free(&b);
    kd_loader_free(ld);
    return 0;
}
/* A phase's `evaluate` after epoch `epoch` (1-based): the listed metrics of
 * each model (params and macs only in the report), or top1, as metric rows
 * and on the epoch's line (line[*o...]); warnings for metrics the data
 * cannot give on the first epoch evaluated. */
int eval_epoch(run *R, pgraph *G, const peval *ev, const kdr_node *ph, int64_t epoch, int first,
               char *line, size_t cap, size_t *o)
{
    evsum es[MAX_MODELS];
    if (eval_split(R, G, ev, es)) return -1;
    const kdr_node *mlist = ev->at->b ? ev->at->b->kids : NULL;
    for (int k = 0; k < ev->nmodels; k++) {
        for (const kdr_node *mt = mlist; ; mt = mt->next) {
            char label[64];
            int64_t kk;
            if (mlist && !mt) break;
            const char *w = mlist ? eval_metric_ref(mt, label, sizeof label, &kk) : "top1";
            if (!mlist) { snprintf(label, sizeof label, "top1"); kk = 0; }
            if (w && (!strcmp(w, "params") || !strcmp(w, "macs"))) w = NULL;
            const char *why = NULL;
            double v = w ? evsum_metric(&es[k], w, kk, &why) : 0;
            if (mlist && w && why && first)
                kdr_diag_push(R->d, KDR_WARNING, kd_program_unit_of(R->p, ph), mt->beg, mt->end,
                              "metric '%s' on %s.%s %s; left out", label, ev->D->decl->name, ev->split, why);
            if (w && !why) {
                char what[200];
                snprintf(what, sizeof what, "%s %s on %s.%s", G->m[ev->models[k]].name, label,
                         ev->D->decl->name, ev->split);
                run_add_row(R, ph->name, epoch, what, v);
                int pct = !strcmp(w, "top1") || !strcmp(w, "top5");
                if (*o < cap)
                    *o += (size_t)snprintf(line + *o, cap - *o, pct ? "  %s %.2f%%" : "  %s %.4g", what, v);
            }
            if (!mlist) break;
        }
    }
    return 0;
}

/* ---- the report --------------------------------------------------------------- */

int eval_report(run *R, const kdr_node *rep, FILE *table)
{
    R->unit = kd_program_unit_of(R->p, rep);
    for (const kdr_node *s = rep->kids; s; s = s->next) {
        if (s->kind != KDR_SETTING) continue;
        if (strcmp(s->word, "table") == 0) continue;     /* the sweep's, over its points */
        if (strcmp(s->word, "evaluate") != 0)
            return run_fail(R, KD_RUN_FAILED, s, "'%s' in a report is not in this build yet", s->word);
        const char *split;
        dataset *D = run_data_ref(R, s->a, &split);
        R->unit = kd_program_unit_of(R->p, rep);
        if (!D) return -1;
        for (const kdr_node *m = s->kids; m; m = m->next) {
            pgraph G;
            memset(&G, 0, sizeof G);
            G.batch = 256;
            peval ev;
            memset(&ev, 0, sizeof ev);
            ev.D = D;
            ev.split = split;
            int k = pgraph_add_model(R, &G, m, m->name, 0);
            if (k < 0) return -1;
            ev.models[ev.nmodels++] = k;
            if (pgraph_build(R, &G, D, NULL, NULL, 0, R->unit, "report")) { pgraph_free(&G); return -1; }
            kd_exec_init_params(G.e, 0);
            if (pgraph_load_store(R, &G) <= 0 && !R->o->quiet)
                kdr_diag_push(R->d, KDR_WARNING, R->unit, m->beg, m->end,
                              "model '%s' was never trained; it is evaluated as initialized", m->name);
            evsum es;
            if (eval_split(R, &G, &ev, &es)) { pgraph_free(&G); return -1; }
            int64_t params = kd_graph_model_params(G.g, G.m[k].index);
            int64_t macs = kd_graph_model_macs(G.g, G.m[k].index) / G.batch;
            char what[200];
            const char *on = D->decl->name;
            for (const kdr_node *mt = s->b ? s->b->kids : NULL; mt; mt = mt->next) {
                char label[64];
                int64_t kk;
                const char *w = eval_metric_ref(mt, label, sizeof label, &kk);
                if (!w) continue;
                double v;
                const char *why = NULL;
                if (!strcmp(w, "params")) v = (double)params;
                else if (!strcmp(w, "macs")) v = (double)macs;
                else v = evsum_metric(&es, w, kk, &why);
                if (why) { kdr_diag_push(R->d, KDR_WARNING, R->unit, mt->beg, mt->end,
                                         "metric '%s' on %s.%s %s; left out", label, on, split, why); continue; }
                snprintf(what, sizeof what, "%s %s on %s.%s", m->name, label, on, split);
                run_add_row(R, "report", 0, what, v);
            }
            double t1 = es.top1, t5 = es.top5;
            if (es.nimg && !es.nrank)
                fprintf(table, "  %-12s %s.%-6s psnr %6.2f dB  ssim %6.4f  params %lld  MACs %lld\n",
                        m->name, on, split, es.psnr, es.ssim, (long long)params, (long long)macs);
            else
                fprintf(table, "  %-12s %s.%-6s top1 %6.2f%%  top5 %6.2f%%  params %lld  MACs %lld\n",
                        m->name, on, split, t1, t5, (long long)params, (long long)macs);
            pgraph_free(&G);
        }
    }
    return 0;
}
