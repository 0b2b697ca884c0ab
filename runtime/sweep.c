/* sweep.c — the grid of sweep points, and the command file of a run. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sweep.h"
#include "graph.h"
#include "textbuf.h"
#include "../lang/consteval.h"

/* ---- values --------------------------------------------------------------------- */

static int push(kd_sweep_var *v, const char *text, const char *label)
{
    char **nv = realloc(v->values, (size_t)(v->nvalues + 1) * sizeof *nv);
    if (!nv) return -1;
    v->values = nv;
    char **nl = realloc(v->labels, (size_t)(v->nvalues + 1) * sizeof *nl);
    if (!nl) return -1;
    v->labels = nl;
    v->values[v->nvalues] = strdup(text);
    v->labels[v->nvalues] = strdup(label);
    if (!v->values[v->nvalues] || !v->labels[v->nvalues]) {
        free(v->values[v->nvalues]);
        free(v->labels[v->nvalues]);
        return -1;
    }
    v->nvalues++;
    return 0;
}

static void fmt_num(double x, char *buf, size_t n)
{
    if (x == floor(x) && fabs(x) < 1e15) snprintf(buf, n, "%lld", (long long)x);
    else snprintf(buf, n, "%.17g", x);
}

/* A number written in the recipe (a constant: lang/consteval.h); -1 when
 * the value is not one (a symbol, a string) or cannot be computed. */
static int num_of(const kdr_program *p, const kdr_unit *u, const kdr_node *e, double *out)
{
    kdr_consteval ev;
    kdr_consteval_init(&ev, p, NULL, 0);
    if (!e || e->kind == KDR_BOOL || e->kind == KDR_STR) return -1;
    return kdr_const_num(&ev, u, e, out) == KDR_CE_OK ? 0 : -1;
}

static int add_value(const kdr_program *p, const kdr_unit *u, kd_sweep_var *v, const kdr_node *e, kdr_diag *d)
{
    char buf[64];
    double x;
    if (e->kind == KDR_STR) {
        size_t l = strlen(e->str);
        char *q = malloc(l + 3);
        if (!q) return -1;
        snprintf(q, l + 3, "\"%s\"", e->str);
        int rc = push(v, q, e->str);
        free(q);
        return rc;
    }
    if (e->kind == KDR_BOOL) return push(v, e->num ? "true" : "false", e->num ? "true" : "false");
    if (num_of(p, u, e, &x) == 0) {
        fmt_num(x, buf, sizeof buf);
        return push(v, buf, buf);
    }
    if (e->kind == KDR_IDENT) return push(v, e->name, e->name);   /* a symbol */
    kdr_diag_push(d, KDR_ERROR, u, e->beg, e->end,
                  "a sweep value must be a number, a string or a name");
    return -1;
}

int kd_sweep_collect(const kdr_program *p, kd_sweep *sw, kdr_diag *d)
{
    memset(sw, 0, sizeof *sw);
    sw->npoints = 1;
    for (size_t u = 0; u < p->nunits; u++) {
        const kdr_unit *un = p->units[u];
        if (!un->root) continue;
        for (const kdr_node *t = un->root->kids; t; t = t->next) {
            if (t->kind != KDR_SWEEP) continue;
            if (sw->nvars == KD_SWEEP_MAXVARS) {
                kdr_diag_push(d, KDR_ERROR, un, t->beg, t->end, "more than %d sweeps", KD_SWEEP_MAXVARS);
                return -1;
            }
            kd_sweep_var *v = &sw->vars[sw->nvars++];
            v->name = t->name;
            const kdr_node *e = t->a;
            if (e && e->kind == KDR_LIST) {
                for (const kdr_node *k = e->kids; k; k = k->next)
                    if (add_value(p, un, v, k, d)) return -1;
            } else if (e && e->kind == KDR_BINARY && e->op == KDR_OP_RANGE) {
                double a, b;
                if (num_of(p, un, e->a, &a) || num_of(p, un, e->b, &b) || a != floor(a) || b != floor(b)) {
                    kdr_diag_push(d, KDR_ERROR, un, e->beg, e->end, "a sweep range needs whole-number ends");
                    return -1;
                }
                if (b - a >= KD_SWEEP_MAXPOINTS) {
                    kdr_diag_push(d, KDR_ERROR, un, e->beg, e->end, "a sweep of more than %d points",
                                  KD_SWEEP_MAXPOINTS);
                    return -1;
                }
                for (double x = a; x <= b; x++) {
                    char buf[64];
                    fmt_num(x, buf, sizeof buf);
                    if (push(v, buf, buf)) return -1;
                }
            } else if (e) {
                if (add_value(p, un, v, e, d)) return -1;
            }
            if (v->nvalues == 0) {
                kdr_diag_push(d, KDR_ERROR, un, t->beg, t->end, "sweep '%s' has no values", t->name);
                return -1;
            }
            if (sw->npoints * v->nvalues > KD_SWEEP_MAXPOINTS) {
                kdr_diag_push(d, KDR_ERROR, un, t->beg, t->end, "the sweeps make more than %d runs",
                              KD_SWEEP_MAXPOINTS);
                return -1;
            }
            sw->npoints *= v->nvalues;
        }
    }
    return 0;
}

void kd_sweep_free(kd_sweep *sw)
{
    for (int i = 0; i < sw->nvars; i++) {
        for (int k = 0; k < sw->vars[i].nvalues; k++) {
            free(sw->vars[i].values[k]);
            free(sw->vars[i].labels[k]);
        }
        free(sw->vars[i].values);
        free(sw->vars[i].labels);
    }
    memset(sw, 0, sizeof *sw);
}

void kd_sweep_indices(const kd_sweep *sw, int64_t i, int idx[KD_SWEEP_MAXVARS])
{
    for (int v = sw->nvars - 1; v >= 0; v--) {
        idx[v] = (int)(i % sw->vars[v].nvalues);
        i /= sw->vars[v].nvalues;
    }
}

void kd_sweep_point_name(const kd_sweep *sw, int64_t i, char *buf, size_t len)
{
    int idx[KD_SWEEP_MAXVARS];
    kd_sweep_indices(sw, i, idx);
    size_t o = 0;
    buf[0] = 0;
    for (int v = 0; v < sw->nvars && o < len; v++) {
        /* a label is used in a path: keep it to safe characters */
        char safe[80];
        const char *l = sw->vars[v].labels[idx[v]];
        size_t k = 0;
        for (; l[k] && k + 1 < sizeof safe; k++) {
            char c = l[k];
            safe[k] = (c == '/' || c == ',' || c == '=' || c == ' ' || (unsigned char)c < 0x20) ? '_' : c;
        }
        safe[k] = 0;
        o += (size_t)snprintf(buf + o, len - o, "%s%s=%s", v ? "," : "", sw->vars[v].name, safe);
    }
}

/* ---- the command file --------------------------------------------------------------- */

static int clean(const char *s) { return s && !strpbrk(s, "\t\n\r"); }

typedef struct command_out { const char *dir; const kd_command *c; } command_out;

static int write_command(FILE *f, void *arg)
{
    const command_out *o = arg;
    const kd_command *c = o->c;
    fprintf(f, "# what kdrun was given; `kdrun --resume %s` replays it\n", o->dir);
    fprintf(f, "recipe\t%s\nrecipe_abs\t%s\nrecipe_sha256\t%s\n", c->recipe, c->recipe_abs, c->hash);
    for (int i = 0; i < c->nset; i++) fprintf(f, "set\t%s=%s\n", c->keys[i], c->values[i]);
    if (c->have_seed) fprintf(f, "seed\t%ld\n", c->seed);
    fprintf(f, "threads\t%ld\n", c->threads);
    if (c->sync_bn) fprintf(f, "sync_bn\t1\n");
    return ferror(f) ? -1 : 0;
}

int kd_command_write(const char *dir, const kd_command *c, char *err, size_t errlen)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/command", dir);
    if (!clean(c->recipe) || !clean(c->recipe_abs) || !clean(c->hash)) {
        snprintf(err, errlen, "the recipe path contains a tab or a newline; --resume could not replay it");
        return -1;
    }
    for (int i = 0; i < c->nset; i++)
        if (!clean(c->keys[i]) || !clean(c->values[i])) {
            snprintf(err, errlen, "--set %s: a tab or a newline in a value; --resume could not replay it",
                     c->keys[i]);
            return -1;
        }
    command_out o = { dir, c };
    return kd_write_atomic(path, write_command, &o, err, errlen);
}

int kd_command_read(const char *dir, kd_command *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    char path[1100];
    snprintf(path, sizeof path, "%s/command", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s (is %s a kdrun run directory?)", path, strerror(errno), dir);
        return -1;
    }
    char line[8192];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t l = strlen(line);
        if (l && line[l - 1] == '\n') line[--l] = 0;
        else if (!feof(f)) { snprintf(err, errlen, "%s:%d: line too long", path, lineno); rc = -1; break; }
        if (!line[0] || line[0] == '#') continue;
        char *tab = strchr(line, '\t');
        if (!tab) { snprintf(err, errlen, "%s:%d: expected KEY<TAB>VALUE", path, lineno); rc = -1; break; }
        *tab = 0;
        const char *k = line, *v = tab + 1;
        char *end;
        if (!strcmp(k, "recipe")) { free(c->recipe); c->recipe = strdup(v); }
        else if (!strcmp(k, "recipe_abs")) { free(c->recipe_abs); c->recipe_abs = strdup(v); }
        else if (!strcmp(k, "recipe_sha256")) { free(c->hash); c->hash = strdup(v); }
        else if (!strcmp(k, "set")) {
            const char *eq = strchr(v, '=');
            char **nk = realloc(c->keys, (size_t)(c->nset + 1) * sizeof *nk);
            if (nk) c->keys = nk;
            char **nv = realloc(c->values, (size_t)(c->nset + 1) * sizeof *nv);
            if (nv) c->values = nv;
            if (!eq || eq == v || !nk || !nv) {
                snprintf(err, errlen, "%s:%d: expected set<TAB>KEY=VALUE", path, lineno);
                rc = -1;
                break;
            }
            c->keys[c->nset] = strndup(v, (size_t)(eq - v));
            c->values[c->nset] = strdup(eq + 1);
            c->nset++;
        } else if (!strcmp(k, "sync_bn")) {
            c->sync_bn = !strcmp(v, "1");
        } else if (!strcmp(k, "seed") || !strcmp(k, "threads")) {
            errno = 0;
            long x = strtol(v, &end, 10);
            if (errno || end == v || *end || x < 0) {
                snprintf(err, errlen, "%s:%d: bad %s '%s'", path, lineno, k, v);
                rc = -1;
                break;
            }
            if (k[0] == 's') { c->seed = x; c->have_seed = 1; } else c->threads = x;
        } else {
            snprintf(err, errlen, "%s:%d: unknown key '%s'", path, lineno, k);
            rc = -1;
            break;
        }
    }
    if (!rc && ferror(f)) { snprintf(err, errlen, "%s: read error", path); rc = -1; }
    fclose(f);
    if (!rc && (!c->recipe || !c->recipe_abs)) {
        snprintf(err, errlen, "%s: no recipe recorded", path);
        rc = -1;
    }
    if (rc) kd_command_free(c);
    return rc;
}

void kd_command_free(kd_command *c)
{
    free(c->recipe);
    free(c->recipe_abs);
    free(c->hash);
    for (int i = 0; i < c->nset; i++) { free(c->keys[i]); free(c->values[i]); }
    free(c->keys);
    free(c->values);
    memset(c, 0, sizeof *c);
}
