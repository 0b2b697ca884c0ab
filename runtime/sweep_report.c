/* sweep_report.c — the report of a sweep (kd_sweep_report in report.h):
 * its points' final metrics -> tables of mean ± std over the points that
 * match each cell, printed and written as DIR/report.yaml (every cell, so
 * that `kdrun report` prints the same tables without recomputing) and
 * DIR/tables.md.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "table.h"
#include "textbuf.h"
#include "yaml_io.h"

/* ---- computing the tables ------------------------------------------------------ */

static const char *point_value(const kd_sweep_point *p, const char *var)
{
    if (!p->vars || !p->values) return NULL;
    for (int i = 0; i < p->nvars; i++)
        if (p->vars[i] && strcmp(p->vars[i], var) == 0) return p->values[i];
    return NULL;
}

static int point_final(const kd_sweep_point *p, const char *key, double *v)
{
    if (!p->final_keys || !p->final_values) return 0;
    for (int i = 0; i < p->nfinal; i++)
        if (p->final_keys[i] && strcmp(p->final_keys[i], key) == 0) {
            *v = p->final_values[i];
            return 1;
        }
    return 0;
}

static int point_matches(const kd_sweep_point *p, const char *var, const char *val)
{
    if (!var) return 1;
    const char *v = point_value(p, var);
    return v && strcmp(v, val) == 0;
}

/* One cell: every point matching (rvar = rval, cvar = cval). */
static int cell_compute(kd_scell *c, const kd_sweep_point *pts, int npts, const char *rvar,
                        const char *rval, const char *cvar, const char *cval, const char *metric)
{
    memset(c, 0, sizeof *c);
    c->metric = kd_xstrdup(metric);
    c->vals = malloc((size_t)(npts > 0 ? npts : 1) * sizeof *c->vals);
    if (!c->metric || !c->vals) return -1;
    for (int i = 0; i < npts; i++) {
        const kd_sweep_point *p = &pts[i];
        if (!point_matches(p, rvar, rval) || !point_matches(p, cvar, cval)) continue;
        c->expected++;
        double v;
        if (p->status && strcmp(p->status, "ok") == 0 && point_final(p, metric, &v) &&
            isfinite(v))
            c->vals[c->n++] = v;
    }
    if (c->n > 0) {
        double s = 0;
        for (int i = 0; i < c->n; i++) s += c->vals[i];
        c->mean = s / c->n;
        double ss = 0;
        for (int i = 0; i < c->n; i++) ss += (c->vals[i] - c->mean) * (c->vals[i] - c->mean);
        c->std = c->n > 1 ? sqrt(ss / (c->n - 1)) : 0;
    }
    return 0;
}

static int labels_of(kd_strlist *l, const kd_sweep_point *pts, int npts, const char *var)
{
    for (int i = 0; i < npts; i++) {
        const char *v = point_value(&pts[i], var);
        if (v && kd_sl_add(l, v) < 0) return -1;
    }
    return kd_sl_sort_numeric(l);
}

/* The variables a table averages over: all but rows and cols. */
static void title_over(kd_strbuf *b, const kd_strlist *vars, const char *r, const char *c)
{
    int k = 0;
    for (int i = 0; i < vars->n; i++) {
        if ((r && strcmp(vars->v[i], r) == 0) || (c && strcmp(vars->v[i], c) == 0)) continue;
        kd_sb_puts(b, k++ ? ", " : " (mean " KD_PM " std over ");
        kd_sb_puts(b, vars->v[i]);
    }
    if (k) kd_sb_puts(b, ")");
}

/* Builds one table; metric is the metric of a rows x cols table, else the
 * metrics are the rows (no R) or the columns (R only). */
static int build_table(kd_stable *t, const kd_sweep_point *pts, int npts, const kd_strlist *vars,
                       const char *R, const char *C, const char *metric, const kd_strlist *metrics)
{
    memset(t, 0, sizeof *t);
    kd_strlist rl = { 0 }, cl = { 0 };
    int rc = -1;
    kd_strbuf title = { 0 };
    if (R) {
        if (labels_of(&rl, pts, npts, R)) goto out;
    } else {
        for (int i = 0; i < metrics->n; i++)
            if (kd_sl_add(&rl, metrics->v[i]) < 0) goto out;
    }
    if (C) {
        if (labels_of(&cl, pts, npts, C)) goto out;
    } else if (R) {
        for (int i = 0; i < metrics->n; i++)
            if (kd_sl_add(&cl, metrics->v[i]) < 0) goto out;
    } else {
        if (kd_sl_add(&cl, "mean " KD_PM " std") < 0) goto out;
    }
    if (R && C) {
        kd_sb_printf(&title, "%s by %s " KD_TIMES " %s", metric, R, C);
    } else if (R || C) {
        for (int i = 0; i < metrics->n; i++) kd_sb_printf(&title, "%s%s", i ? ", " : "", metrics->v[i]);
        kd_sb_printf(&title, " by %s", R ? R : C);
    } else {
        kd_sb_puts(&title, "all points");
    }
    title_over(&title, vars, R, C);
    t->title = kd_sb_take(&title);
    t->rows = kd_xstrdup(R ? R : "");
    t->cols = kd_xstrdup(C ? C : "");
    t->metric = kd_xstrdup(R && C ? metric : "");
    t->nr = rl.n;
    t->nc = cl.n;
    t->rlab = rl.v;
    t->clab = cl.v;
    memset(&rl, 0, sizeof rl);
    memset(&cl, 0, sizeof cl);
    t->cells = calloc((size_t)t->nr * (size_t)t->nc + 1, sizeof *t->cells);
    if (!t->title || !t->rows || !t->cols || !t->metric || !t->cells) goto out;
    for (int r = 0; r < t->nr; r++)
        for (int c = 0; c < t->nc; c++) {
            const char *m = R && C ? metric : R ? t->clab[c] : t->rlab[r];
            int ok = cell_compute(&t->cells[r * t->nc + c], pts, npts, R, R ? t->rlab[r] : NULL,
                                  C, C ? t->clab[c] : NULL, m);
            if (ok) goto out;
        }
    rc = 0;
out:
    kd_sl_free(&rl);
    kd_sl_free(&cl);
    if (rc) kd_stable_free(t);
    return rc;
}

/* ---- writing files ---------------------------------------------------------- */

typedef struct sweep_out {
    const char *dir, *recipe, *summary;
    const kd_strlist *vars;
    const kd_sweep_point *pts;
    int npts;
    const kd_stable *T;
    int nt;
} sweep_out;

static int emit_sweep_yaml(FILE *f, void *arg)
{
    const sweep_out *s = arg;
    kd_yemit y;
    if (kd_ye_open(&y, f, -1)) return -1;
    kd_ye_map(&y, 0);
    kd_ye_str(&y, "recipe"); kd_ye_str(&y, s->recipe);
    kd_ye_str(&y, "kdrun"); kd_ye_str(&y, PACKAGE_VERSION);
    kd_ye_str(&y, "variables");
    kd_ye_seq(&y, 1);
    for (int i = 0; i < s->vars->n; i++) kd_ye_str(&y, s->vars->v[i]);
    kd_ye_seq_end(&y);
    kd_ye_str(&y, "points");
    kd_ye_seq(&y, 0);
    for (int i = 0; i < s->npts; i++) {
        const kd_sweep_point *p = &s->pts[i];
        kd_ye_map(&y, 0);
        kd_ye_str(&y, "dir"); kd_ye_quoted(&y, p->dir);
        kd_ye_str(&y, "status"); kd_ye_str(&y, p->status ? p->status : "unknown");
        kd_ye_str(&y, "values");
        kd_ye_map(&y, 1);
        for (int k = 0; k < p->nvars && p->vars && p->values; k++) {
            if (!p->vars[k] || !p->values[k]) continue;
            kd_ye_str(&y, p->vars[k]);
            kd_ye_quoted(&y, p->values[k]);
        }
        kd_ye_map_end(&y);
        kd_ye_str(&y, "final");
        kd_ye_map(&y, 1);
        for (int k = 0; k < p->nfinal && p->final_keys && p->final_values; k++) {
            if (!p->final_keys[k]) continue;
            kd_ye_str(&y, p->final_keys[k]);
            kd_ye_num(&y, p->final_values[k]);
        }
        kd_ye_map_end(&y);
        kd_ye_map_end(&y);
    }
    kd_ye_seq_end(&y);
    kd_ye_str(&y, "tables");
    kd_ye_seq(&y, 0);
    for (int i = 0; i < s->nt; i++) {
        const kd_stable *t = &s->T[i];
        kd_ye_map(&y, 0);
        kd_ye_str(&y, "title"); kd_ye_str(&y, t->title);
        kd_ye_str(&y, "rows");
        if (*t->rows) kd_ye_str(&y, t->rows); else kd_ye_null(&y);
        kd_ye_str(&y, "cols");
        if (*t->cols) kd_ye_str(&y, t->cols); else kd_ye_null(&y);
        kd_ye_str(&y, "metric");
        if (*t->metric) kd_ye_str(&y, t->metric); else kd_ye_null(&y);
        kd_ye_str(&y, "row_labels");
        kd_ye_seq(&y, 1);
        for (int r = 0; r < t->nr; r++) kd_ye_quoted(&y, t->rlab[r]);
        kd_ye_seq_end(&y);
        kd_ye_str(&y, "col_labels");
        kd_ye_seq(&y, 1);
        for (int c = 0; c < t->nc; c++) kd_ye_quoted(&y, t->clab[c]);
        kd_ye_seq_end(&y);
        kd_ye_str(&y, "cells");
        kd_ye_seq(&y, 0);
        for (int r = 0; r < t->nr; r++)
            for (int c = 0; c < t->nc; c++) {
                const kd_scell *e = &t->cells[r * t->nc + c];
                kd_ye_map(&y, 1);
                kd_ye_str(&y, "row"); kd_ye_quoted(&y, t->rlab[r]);
                kd_ye_str(&y, "col"); kd_ye_quoted(&y, t->clab[c]);
                kd_ye_str(&y, "metric"); kd_ye_str(&y, e->metric);
                kd_ye_str(&y, "n"); kd_ye_int(&y, e->n);
                kd_ye_str(&y, "points"); kd_ye_int(&y, e->expected);
                kd_ye_str(&y, "mean");
                if (e->n > 0) kd_ye_num(&y, e->mean); else kd_ye_null(&y);
                kd_ye_str(&y, "std");
                if (e->n > 1) kd_ye_num(&y, e->std); else kd_ye_null(&y);
                kd_ye_str(&y, "values");
                kd_ye_seq(&y, 1);
                for (int k = 0; k < e->n; k++) kd_ye_num(&y, e->vals[k]);
                kd_ye_seq_end(&y);
                kd_ye_map_end(&y);
            }
        kd_ye_seq_end(&y);
        kd_ye_map_end(&y);
    }
    kd_ye_seq_end(&y);
    kd_ye_map_end(&y);
    return kd_ye_close(&y);
}

static int emit_sweep_md(FILE *f, void *arg)
{
    const sweep_out *s = arg;
    char *dir = kd_md_escape(s->dir), *recipe = kd_md_escape(s->recipe);
    if (!dir || !recipe) { free(dir); free(recipe); errno = 0; return -1; }
    fprintf(f, "## Sweep %s\n\nRecipe %s, %s.\n", dir, recipe, s->summary);
    free(dir);
    free(recipe);
    for (int i = 0; i < s->nt; i++) {
        fputc('\n', f);
        if (kd_stable_print_md(f, &s->T[i])) { errno = 0; return -1; }
    }
    return ferror(f) ? -1 : 0;
}

int kd_sweep_report(const char *dir, const char *recipe, const kd_sweep_point *pts, int npts,
                    const kd_table_spec *specs, int nspecs, FILE *term, char *err, size_t errlen)
{
    kd_set_err(err, errlen, "%s", "");
    if (!dir || !*dir) { kd_set_err(err, errlen, "sweep report: no directory"); return -1; }
    if (npts < 0 || (npts > 0 && !pts) || nspecs < 0 || (nspecs > 0 && !specs)) {
        kd_set_err(err, errlen, "%s: sweep report: invalid arguments", dir);
        return -1;
    }
    recipe = recipe ? recipe : "";
    kd_strlist vars = { 0 }, keys = { 0 };
    kd_stable *T = NULL;
    int nt = 0, rc = -1;
    const char **status = NULL;
    kd_strbuf sum = { 0 };
    char *summary = NULL, *path = NULL;
    for (int i = 0; i < npts; i++) {
        for (int k = 0; k < pts[i].nvars && pts[i].vars; k++)
            if (pts[i].vars[k] && kd_sl_add(&vars, pts[i].vars[k]) < 0) goto oom;
        for (int k = 0; k < pts[i].nfinal && pts[i].final_keys; k++)
            if (pts[i].final_keys[k] && kd_sl_add(&keys, pts[i].final_keys[k]) < 0) goto oom;
    }
    /* check the specs before doing anything */
    for (int s = 0; s < nspecs; s++) {
        const char *names[2] = { specs[s].rows, specs[s].cols };
        for (int k = 0; k < 2; k++) {
            if (!names[k] || kd_sl_find(&vars, names[k]) >= 0) continue;
            kd_strbuf known = { 0 };
            for (int i = 0; i < vars.n; i++) kd_sb_printf(&known, "%s%s", i ? ", " : "", vars.v[i]);
            char *kn = kd_sb_take(&known);
            kd_set_err(err, errlen, "%s: table %d: %s '%s' is not a sweep variable (%s%s)", dir,
                    s + 1, k ? "cols" : "rows", names[k], vars.n ? "variables: " : "the sweep has none",
                    kn ? kn : "");
            free(kn);
            goto out;
        }
        if (specs[s].rows && specs[s].cols && strcmp(specs[s].rows, specs[s].cols) == 0) {
            kd_set_err(err, errlen, "%s: table %d: rows and cols are both '%s'", dir, s + 1,
                    specs[s].rows);
            goto out;
        }
        if (specs[s].nvalues < 0 || (specs[s].nvalues > 0 && !specs[s].values)) {
            kd_set_err(err, errlen, "%s: table %d: invalid list of values", dir, s + 1);
            goto out;
        }
    }
    static const kd_table_spec all = { NULL, NULL, 0, NULL };
    if (nspecs == 0) {
        specs = &all;
        nspecs = 1;
    }
    for (int s = 0; s < nspecs; s++) {
        kd_strlist metrics = { 0 };
        for (int k = 0; k < specs[s].nvalues; k++)
            if (specs[s].values[k] && kd_sl_add(&metrics, specs[s].values[k]) < 0) {
                kd_sl_free(&metrics);
                goto oom;
            }
        if (specs[s].nvalues == 0)
            for (int k = 0; k < keys.n; k++)
                if (kd_sl_add(&metrics, keys.v[k]) < 0) { kd_sl_free(&metrics); goto oom; }
        int per = specs[s].rows && specs[s].cols ? metrics.n : 1;
        kd_stable *nT = realloc(T, (size_t)(nt + per + 1) * sizeof *nT);
        if (!nT) { kd_sl_free(&metrics); goto oom; }
        T = nT;
        for (int m = 0; m < per; m++) {
            if (build_table(&T[nt], pts, npts, &vars, specs[s].rows, specs[s].cols,
                            metrics.n ? metrics.v[m] : NULL, &metrics)) {
                kd_sl_free(&metrics);
                goto oom;
            }
            nt++;
        }
        kd_sl_free(&metrics);
    }
    status = calloc((size_t)npts + 1, sizeof *status);
    if (!status) goto oom;
    for (int i = 0; i < npts; i++) status[i] = pts[i].status;
    kd_sweep_summary(&sum, npts, status);
    summary = kd_sb_take(&sum);
    memset(&sum, 0, sizeof sum);
    if (!summary) goto oom;

    sweep_out so = { dir, recipe, summary, &vars, pts, npts, T, nt };
    if (term) {
        if (kd_sweep_print_text(term, dir, recipe, summary, T, nt)) goto oom;
        fflush(term);
    }
    size_t dl = strlen(dir);
    path = malloc(dl + 16);
    if (!path) goto oom;
    snprintf(path, dl + 16, "%s/tables.md", dir);
    if (kd_write_atomic(path, emit_sweep_md, &so, err, errlen)) goto out;
    snprintf(path, dl + 16, "%s/report.yaml", dir);
    if (kd_write_atomic(path, emit_sweep_yaml, &so, err, errlen)) goto out;
    rc = 0;
    goto out;
oom:
    kd_set_err(err, errlen, "%s: sweep report: out of memory", dir);
out:
    free(path);
    free(summary);
    free(sum.s);
    free(status);
    for (int i = 0; i < nt; i++) kd_stable_free(&T[i]);
    free(T);
    kd_sl_free(&vars);
    kd_sl_free(&keys);
    return rc;
}
