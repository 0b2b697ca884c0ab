/* report_load.c — `kdrun report RUN_DIR...` (kd_report_cmd in report.h):
 * reads the report.yaml a run or a sweep left, checks it with a message
 * naming the file, line and column of the first problem, and prints one
 * table of the runs, then each sweep's tables.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "report.h"
#include "table.h"
#include "textbuf.h"
#include "yaml_io.h"

#define KD_REPORT_WIDTH 100   /* columns of `kdrun report`'s table */

/* ---- reading report.yaml ------------------------------------------------------ */

/* A per-run report.yaml: the keys the table shows, and the metric rows. */
static int check_run(kd_yfile *y)
{
    yaml_node_t *r = y->root, *n;
    const char *s;
    double v;
    int have, bad = 0;
    if (kd_ytext(y, r, "recipe", KD_Y_REQUIRED, &s)) return -1;
    if (kd_ytext(y, r, "status", KD_Y_REQUIRED, &s)) return -1;
    if (strcmp(s, "ok") && strcmp(s, "failed") && strcmp(s, "interrupted")) {
        char buf[64];
        kd_yerr(y, kd_yget(y, r, "status", &bad), "'status' is '%s', not ok, failed or interrupted",
             kd_yshow(kd_yget(y, r, "status", &bad), buf, sizeof buf));
        return -1;
    }
    if (kd_ynum(y, r, "wall_seconds", KD_Y_REQUIRED, 0, &v, &have)) return -1;
    if (have && (!isfinite(v) || v < 0)) {
        kd_yerr(y, kd_yget(y, r, "wall_seconds", &bad), "'wall_seconds' is not a duration: %g", v);
        return -1;
    }
    if (kd_ynum(y, r, "threads", 0, 1, &v, &have)) return -1;
    yaml_node_t *sw = kd_ytyped(y, r, "sweep", YAML_MAPPING_NODE, KD_Y_NULL_OK, &bad);
    if (bad || (sw && kd_ycheck_keys(y, sw, "'sweep'"))) return -1;
    yaml_node_t *m = kd_ytyped(y, r, "metrics", YAML_SEQUENCE_NODE, KD_Y_NULL_OK, &bad);
    if (bad) return -1;
    KD_YSEQ_FOR(y, m, it, n) {
        if (!n || n->type != YAML_MAPPING_NODE) {
            kd_yerr(y, n, "an entry of 'metrics' is %s, not a mapping", kd_ykind(n));
            return -1;
        }
        if (kd_ycheck_keys(y, n, "a metric") || kd_ytext(y, n, "phase", KD_Y_REQUIRED, &s) ||
            kd_ytext(y, n, "metric", KD_Y_REQUIRED, &s) || kd_ynum(y, n, "epoch", 0, 1, &v, &have) ||
            kd_ynum(y, n, "value", KD_Y_REQUIRED, 0, &v, &have))
            return -1;
    }
    yaml_node_t *fin = kd_ytyped(y, r, "final", YAML_MAPPING_NODE, KD_Y_NULL_OK, &bad);
    if (bad || (fin && kd_ycheck_keys(y, fin, "'final'"))) return -1;
    if (fin)
        for (yaml_node_pair_t *p = fin->data.mapping.pairs.start;
             p < fin->data.mapping.pairs.top; p++)
            if (kd_ynum(y, fin, kd_yscalar(kd_ynode(y, p->key)), 0, 0, &v, &have)) return -1;
    yaml_node_t *best = kd_ytyped(y, r, "best", YAML_SEQUENCE_NODE, KD_Y_NULL_OK, &bad);
    if (bad) return -1;
    KD_YSEQ_FOR(y, best, it, n) {
        if (!n || n->type != YAML_MAPPING_NODE) {
            kd_yerr(y, n, "an entry of 'best' is %s, not a mapping", kd_ykind(n));
            return -1;
        }
        if (kd_ycheck_keys(y, n, "an entry of 'best'") || kd_ytext(y, n, "phase", KD_Y_REQUIRED, &s) ||
            kd_ytext(y, n, "metric", KD_Y_REQUIRED, &s) || kd_ynum(y, n, "best", 0, 0, &v, &have) ||
            kd_ynum(y, n, "best_epoch", 0, 1, &v, &have) || kd_ynum(y, n, "last", 0, 0, &v, &have) ||
            kd_ynum(y, n, "last_epoch", 0, 1, &v, &have))
            return -1;
    }
    return 0;
}

/* A sweep's report.yaml -> its tables and status summary. */
static int read_sweep(kd_yfile *y, kd_stable **Tout, int *ntout, char **summary)
{
    yaml_node_t *r = y->root, *n, *e;
    const char *s;
    double v;
    int have, bad = 0, rc = -1, nt = 0;
    kd_stable *T = NULL;
    const char **status = NULL;
    *Tout = NULL;
    *ntout = 0;
    *summary = NULL;
    if (kd_ytext(y, r, "recipe", KD_Y_REQUIRED, &s)) return -1;
    yaml_node_t *vars = kd_ytyped(y, r, "variables", YAML_SEQUENCE_NODE, KD_Y_NULL_OK, &bad);
    if (bad) return -1;
    KD_YSEQ_FOR(y, vars, it, n)
        if (!kd_yscalar(n)) { kd_yerr(y, n, "a sweep variable is %s, not a name", kd_ykind(n)); return -1; }
    yaml_node_t *pts = kd_ytyped(y, r, "points", YAML_SEQUENCE_NODE, KD_Y_REQUIRED, &bad);
    if (bad) return -1;
    size_t npts = (size_t)(pts->data.sequence.items.top - pts->data.sequence.items.start);
    status = calloc(npts + 1, sizeof *status);
    if (!status) { kd_yerr(y, NULL, "out of memory"); return -1; }
    size_t ip = 0;
    KD_YSEQ_FOR(y, pts, it, n) {
        if (!n || n->type != YAML_MAPPING_NODE) {
            kd_yerr(y, n, "a point is %s, not a mapping", kd_ykind(n));
            goto out;
        }
        if (kd_ycheck_keys(y, n, "a point") || kd_ytext(y, n, "dir", KD_Y_REQUIRED, &s) ||
            kd_ytext(y, n, "status", KD_Y_REQUIRED, &status[ip++]))
            goto out;
        yaml_node_t *vals = kd_ytyped(y, n, "values", YAML_MAPPING_NODE, KD_Y_NULL_OK, &bad);
        if (bad || (vals && kd_ycheck_keys(y, vals, "'values'"))) goto out;
        yaml_node_t *fin = kd_ytyped(y, n, "final", YAML_MAPPING_NODE, KD_Y_NULL_OK, &bad);
        if (bad || (fin && kd_ycheck_keys(y, fin, "'final'"))) goto out;
        if (fin)
            for (yaml_node_pair_t *p = fin->data.mapping.pairs.start;
                 p < fin->data.mapping.pairs.top; p++)
                if (kd_ynum(y, fin, kd_yscalar(kd_ynode(y, p->key)), 0, 0, &v, &have)) goto out;
    }
    yaml_node_t *tabs = kd_ytyped(y, r, "tables", YAML_SEQUENCE_NODE, KD_Y_NULL_OK, &bad);
    if (bad) goto out;
    size_t ntab = tabs ? (size_t)(tabs->data.sequence.items.top - tabs->data.sequence.items.start)
                       : 0;
    T = calloc(ntab + 1, sizeof *T);
    if (!T) { kd_yerr(y, NULL, "out of memory"); goto out; }
    KD_YSEQ_FOR(y, tabs, it, n) {
        if (!n || n->type != YAML_MAPPING_NODE) {
            kd_yerr(y, n, "a table is %s, not a mapping", kd_ykind(n));
            goto out;
        }
        kd_stable *t = &T[nt++];
        const char *title, *rows, *cols, *metric;
        if (kd_ycheck_keys(y, n, "a table") || kd_ytext(y, n, "title", KD_Y_REQUIRED, &title) ||
            kd_ytext(y, n, "rows", KD_Y_NULL_OK, &rows) || kd_ytext(y, n, "cols", KD_Y_NULL_OK, &cols) ||
            kd_ytext(y, n, "metric", KD_Y_NULL_OK, &metric))
            goto out;
        t->title = kd_xstrdup(title);
        t->rows = kd_xstrdup(rows);
        t->cols = kd_xstrdup(cols);
        t->metric = kd_xstrdup(metric);
        yaml_node_t *rl = kd_ytyped(y, n, "row_labels", YAML_SEQUENCE_NODE, KD_Y_REQUIRED, &bad);
        if (bad) goto out;
        yaml_node_t *cl = kd_ytyped(y, n, "col_labels", YAML_SEQUENCE_NODE, KD_Y_REQUIRED, &bad);
        if (bad) goto out;
        kd_strlist L[2] = { { 0 }, { 0 } };
        yaml_node_t *ls[2] = { rl, cl };
        for (int k = 0; k < 2; k++) {
            KD_YSEQ_FOR(y, ls[k], it2, e) {
                const char *lab = kd_yscalar(e);
                if (!lab) {
                    kd_yerr(y, e, "a table label is %s, not text", kd_ykind(e));
                    kd_sl_free(&L[0]); kd_sl_free(&L[1]);
                    goto out;
                }
                if (kd_sl_find(&L[k], lab) >= 0) {
                    kd_yerr(y, e, "the label '%s' is given twice", lab);
                    kd_sl_free(&L[0]); kd_sl_free(&L[1]);
                    goto out;
                }
                if (kd_sl_add(&L[k], lab) < 0) {
                    kd_yerr(y, NULL, "out of memory");
                    kd_sl_free(&L[0]); kd_sl_free(&L[1]);
                    goto out;
                }
            }
        }
        t->rlab = L[0].v; t->nr = L[0].n;
        t->clab = L[1].v; t->nc = L[1].n;
        t->cells = calloc((size_t)t->nr * (size_t)t->nc + 1, sizeof *t->cells);
        if (!t->title || !t->rows || !t->cols || !t->metric || !t->cells) {
            kd_yerr(y, NULL, "out of memory");
            goto out;
        }
        yaml_node_t *cells = kd_ytyped(y, n, "cells", YAML_SEQUENCE_NODE, KD_Y_REQUIRED, &bad);
        if (bad) goto out;
        KD_YSEQ_FOR(y, cells, it2, e) {
            const char *row, *col, *cm;
            if (!e || e->type != YAML_MAPPING_NODE) {
                kd_yerr(y, e, "a table cell is %s, not a mapping", kd_ykind(e));
                goto out;
            }
            if (kd_ycheck_keys(y, e, "a table cell") || kd_ytext(y, e, "row", KD_Y_REQUIRED, &row) ||
                kd_ytext(y, e, "col", KD_Y_REQUIRED, &col) || kd_ytext(y, e, "metric", KD_Y_REQUIRED, &cm))
                goto out;
            int ri = kd_sl_find(&(kd_strlist){ t->rlab, t->nr, t->nr }, row);
            int ci = kd_sl_find(&(kd_strlist){ t->clab, t->nc, t->nc }, col);
            if (ri < 0 || ci < 0) {
                kd_yerr(y, e, "the cell's %s '%s' is not one of the table's labels",
                     ri < 0 ? "row" : "col", ri < 0 ? row : col);
                goto out;
            }
            kd_scell *c = &t->cells[ri * t->nc + ci];
            if (c->metric) {
                kd_yerr(y, e, "a second cell for row '%s', col '%s'", row, col);
                goto out;
            }
            double nn, np, mean = 0, sd = 0;
            int hn, hp, hm, hs;
            if (kd_ynum(y, e, "n", KD_Y_REQUIRED, 1, &nn, &hn) ||
                kd_ynum(y, e, "points", KD_Y_REQUIRED, 1, &np, &hp) ||
                kd_ynum(y, e, "mean", KD_Y_REQUIRED, 0, &mean, &hm) ||
                kd_ynum(y, e, "std", KD_Y_REQUIRED, 0, &sd, &hs))
                goto out;
            if (!hn || !hp || nn < 0 || np < 0 || nn > 1e9 || np > 1e9 || (nn > 0 && !hm) ||
                (nn > 1 && !hs)) {
                kd_yerr(y, e, "the cell for row '%s', col '%s' has no valid n, points, mean or std",
                     row, col);
                goto out;
            }
            c->metric = kd_xstrdup(cm);
            if (!c->metric) { kd_yerr(y, NULL, "out of memory"); goto out; }
            c->n = (int)nn;
            c->expected = (int)np;
            c->mean = mean;
            c->std = sd;
        }
        for (int i = 0; i < t->nr * t->nc; i++)
            if (!t->cells[i].metric && !(t->cells[i].metric = kd_xstrdup(""))) {
                kd_yerr(y, NULL, "out of memory");
                goto out;
            }
    }
    kd_strbuf b = { 0 };
    kd_sweep_summary(&b, (int)npts, status);
    *summary = kd_sb_take(&b);
    if (!*summary) { kd_yerr(y, NULL, "out of memory"); goto out; }
    rc = 0;
out:
    free(status);
    if (rc) {
        for (int i = 0; i < nt; i++) kd_stable_free(&T[i]);
        free(T);
    } else {
        *Tout = T;
        *ntout = nt;
    }
    return rc;
}

/* ---- kdrun report ------------------------------------------------------------- */

static void fmt_wall(char *buf, size_t len, double s)
{
    if (s < 60) snprintf(buf, len, "%.1fs", s);
    else if (s < 3600) snprintf(buf, len, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else if (s < 1e9) snprintf(buf, len, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else snprintf(buf, len, "%.3gs", s);
}

/* "72.00 @ep6" */
static void fmt_at(char *buf, size_t len, kd_yfile *y, yaml_node_t *m, const char *vk,
                   const char *ek, int kind)
{
    double v, ep;
    int hv = 0, he = 0;
    buf[0] = 0;
    if (kd_ynum(y, m, vk, 0, 0, &v, &hv) || !hv) return;
    kd_fmt_value(buf, len, v, kind);
    if (kd_ynum(y, m, ek, 0, 1, &ep, &he) == 0 && he) {
        size_t o = strlen(buf);
        snprintf(buf + o, len - o, " @ep%.0f", ep);
    }
}

/* The entry of 'best' for (phase, metric), or NULL. */
static yaml_node_t *find_best(kd_yfile *y, const char *phase, const char *metric)
{
    int bad = 0;
    yaml_node_t *best = kd_yget(y, y->root, "best", &bad), *n;
    if (!best || best->type != YAML_SEQUENCE_NODE) return NULL;
    KD_YSEQ_FOR(y, best, it, n) {
        const char *p = kd_yscalar(kd_yget(y, n, "phase", &bad));
        const char *m = kd_yscalar(kd_yget(y, n, "metric", &bad));
        if (p && m && strcmp(p, phase) == 0 && strcmp(m, metric) == 0) return n;
    }
    return NULL;
}

static int print_runs(FILE *out, kd_yfile *Y, char **names, int nrun)
{
    kd_strlist fk = { 0 }, bp = { 0 }, bm = { 0 };
    int rc = -1, bad = 0;
    yaml_node_t *n;
    for (int i = 0; i < nrun; i++) {
        yaml_node_t *fin = kd_yget(&Y[i], Y[i].root, "final", &bad);
        if (fin && fin->type == YAML_MAPPING_NODE)
            for (yaml_node_pair_t *p = fin->data.mapping.pairs.start;
                 p < fin->data.mapping.pairs.top; p++)
                if (kd_sl_add(&fk, kd_yscalar(kd_ynode(&Y[i], p->key))) < 0) goto out;
        yaml_node_t *best = kd_yget(&Y[i], Y[i].root, "best", &bad);
        if (best && best->type == YAML_SEQUENCE_NODE)
            KD_YSEQ_FOR(&Y[i], best, it, n) {
                const char *ph = kd_yscalar(kd_yget(&Y[i], n, "phase", &bad));
                const char *me = kd_yscalar(kd_yget(&Y[i], n, "metric", &bad));
                int k;
                for (k = 0; k < bp.n; k++)
                    if (strcmp(bp.v[k], ph) == 0 && strcmp(bm.v[k], me) == 0) break;
                if (k < bp.n) continue;
                /* parallel lists: not kd_sl_add, which would merge equal phases */
                if (bp.n == bp.cap) {
                    int cap = bp.cap ? bp.cap * 2 : 8;
                    char **a = realloc(bp.v, (size_t)cap * sizeof *a);
                    if (!a) goto out;
                    bp.v = a;
                    char **b = realloc(bm.v, (size_t)cap * sizeof *b);
                    if (!b) goto out;
                    bm.v = b;
                    bp.cap = bm.cap = cap;
                }
                bp.v[bp.n] = kd_xstrdup(ph);
                bm.v[bm.n] = kd_xstrdup(me);
                bp.n++;
                bm.n++;
                if (!bp.v[bp.n - 1] || !bm.v[bm.n - 1]) goto out;
            }
    }
    kd_grid g;
    int nc = 3 + fk.n + 2 * bp.n;
    if (kd_grid_init(&g, nrun + 1, nc)) goto out;
    g.left[1] = 1;
    kd_grid_set(&g, 0, 0, "run");
    kd_grid_set(&g, 0, 1, "status");
    kd_grid_set(&g, 0, 2, "wall");
    for (int k = 0; k < fk.n; k++) kd_grid_set(&g, 0, 3 + k, fk.v[k]);
    char buf[512];
    for (int k = 0; k < bp.n; k++) {   /* [k] best, [k] last; the series under the table */
        snprintf(buf, sizeof buf, "[%d] best", k + 1);
        kd_grid_set(&g, 0, 3 + fk.n + 2 * k, buf);
        snprintf(buf, sizeof buf, "[%d] last", k + 1);
        kd_grid_set(&g, 0, 4 + fk.n + 2 * k, buf);
    }
    for (int i = 0; i < nrun; i++) {
        kd_yfile *y = &Y[i];
        double v;
        int have;
        kd_grid_set(&g, i + 1, 0, names[i]);
        kd_grid_set(&g, i + 1, 1, kd_yscalar(kd_yget(y, y->root, "status", &bad)));
        if (kd_ynum(y, y->root, "wall_seconds", 0, 0, &v, &have) == 0 && have) {
            fmt_wall(buf, sizeof buf, v);
            kd_grid_set(&g, i + 1, 2, buf);
        }
        yaml_node_t *fin = kd_yget(y, y->root, "final", &bad);
        for (int k = 0; k < fk.n; k++) {
            if (!fin || fin->type != YAML_MAPPING_NODE) break;
            if (kd_ynum(y, fin, fk.v[k], 0, 0, &v, &have) == 0 && have) {
                kd_fmt_value(buf, sizeof buf, v, kd_metric_kind(fk.v[k]));
                kd_grid_set(&g, i + 1, 3 + k, buf);
            }
        }
        for (int k = 0; k < bp.n; k++) {
            yaml_node_t *b = find_best(y, bp.v[k], bm.v[k]);
            if (!b) continue;
            int kind = kd_metric_kind(bm.v[k]);
            fmt_at(buf, sizeof buf, y, b, "best", "best_epoch", kind);
            kd_grid_set(&g, i + 1, 3 + fk.n + 2 * k, buf);
            fmt_at(buf, sizeof buf, y, b, "last", "last_epoch", kind);
            kd_grid_set(&g, i + 1, 4 + fk.n + 2 * k, buf);
        }
    }
    if (!g.oom) {
        /* 100 columns: blocks of columns, each led by the run's name */
        kd_grid_print_text_wrap(out, &g, 1, KD_REPORT_WIDTH);
        for (int k = 0; k < bp.n; k++)
            fprintf(out, "%s[%d] %s: %s\n", k ? "" : "\n", k + 1, bp.v[k], bm.v[k]);
        for (int i = 0, first = 1; i < nrun; i++) {   /* why the failed runs failed */
            const char *e = kd_yscalar(kd_yget(&Y[i], Y[i].root, "error", &bad));
            if (!e) continue;
            fprintf(out, "%s%s: %s\n", first ? "\n" : "", names[i], e);
            first = 0;
        }
        rc = 0;
    }
    kd_grid_free(&g);
out:
    kd_sl_free(&fk);
    kd_sl_free(&bp);
    kd_sl_free(&bm);
    return rc;
}

int kd_report_cmd(int ndirs, char *const *dirs, FILE *out, FILE *err)
{
    if (ndirs <= 0 || !dirs || !out) {
        if (err) fprintf(err, "report: no run directory given\n");
        return 1;
    }
    kd_yfile *Y = calloc((size_t)ndirs, sizeof *Y);
    char **names = calloc((size_t)ndirs, sizeof *names);
    char **paths = calloc((size_t)ndirs, sizeof *paths);
    int *is_sweep = calloc((size_t)ndirs, sizeof *is_sweep);
    int *ok = calloc((size_t)ndirs, sizeof *ok);
    int failed = 0, nrun = 0;
    if (!Y || !names || !paths || !is_sweep || !ok) {
        if (err) fprintf(err, "report: out of memory\n");
        failed = 1;
        goto out;
    }
    for (int i = 0; i < ndirs; i++) {
        const char *d = dirs[i] ? dirs[i] : "";
        size_t n = strlen(d);
        while (n > 1 && d[n - 1] == '/') n--;
        names[i] = kd_xstrndup(d, n);
        paths[i] = malloc(n + 16);
        if (!names[i] || !paths[i]) {
            if (err) fprintf(err, "report: out of memory\n");
            failed = 1;
            goto out;
        }
        snprintf(paths[i], n + 16, "%s%sreport.yaml", names[i],
                 n && names[i][n - 1] == '/' ? "" : "/");
        Y[i].err = err;
        struct stat st;
        if (!*names[i] || stat(names[i], &st) != 0) {
            if (err) fprintf(err, "%s: cannot open the run directory: %s\n", names[i],
                             *names[i] ? strerror(errno) : "empty name");
            failed = 1;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (err) fprintf(err, "%s: not a run directory\n", names[i]);
            failed = 1;
            continue;
        }
        Y[i].path = paths[i];
        if (kd_yload(&Y[i], "report")) {
            failed = 1;
            continue;
        }
        int bad = 0;
        is_sweep[i] = kd_yget(&Y[i], Y[i].root, "points", &bad) != NULL;
        if (bad) { failed = 1; continue; }
        if (!is_sweep[i]) {
            if (check_run(&Y[i])) { failed = 1; continue; }
            nrun++;
        }
        ok[i] = 1;
    }
    /* the runs, then each sweep */
    if (nrun) {
        kd_yfile *R = calloc((size_t)nrun, sizeof *R);
        char **rn = calloc((size_t)nrun, sizeof *rn);
        if (!R || !rn) {
            if (err) fprintf(err, "report: out of memory\n");
            failed = 1;
        } else {
            int k = 0;
            for (int i = 0; i < ndirs; i++)
                if (ok[i] && !is_sweep[i]) { R[k] = Y[i]; rn[k++] = names[i]; }
            if (print_runs(out, R, rn, nrun)) {
                if (err) fprintf(err, "report: out of memory\n");
                failed = 1;
            }
        }
        free(R);
        free(rn);
    }
    int printed = nrun > 0;
    for (int i = 0; i < ndirs; i++) {
        if (!ok[i] || !is_sweep[i]) continue;
        kd_stable *T;
        int nt;
        char *summary;
        if (read_sweep(&Y[i], &T, &nt, &summary)) { failed = 1; continue; }
        const char *recipe = kd_yscalar(kd_yget(&Y[i], Y[i].root, "recipe", &(int){ 0 }));
        if (printed++) fputc('\n', out);
        if (kd_sweep_print_text(out, names[i], recipe, summary, T, nt)) {
            if (err) fprintf(err, "report: out of memory\n");
            failed = 1;
        }
        for (int k = 0; k < nt; k++) kd_stable_free(&T[k]);
        free(T);
        free(summary);
    }
    if (fflush(out) != 0 || ferror(out)) {
        if (err) fprintf(err, "report: cannot write the output: %s\n", strerror(errno));
        failed = 1;
    }
out:
    for (int i = 0; Y && i < ndirs; i++) kd_yfree(&Y[i]);
    for (int i = 0; names && i < ndirs; i++) free(names[i]);
    for (int i = 0; paths && i < ndirs; i++) free(paths[i]);
    free(Y);
    free(names);
    free(paths);
    free(is_sweep);
    free(ok);
    return failed ? 1 : 0;
}
