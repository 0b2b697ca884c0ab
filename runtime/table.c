/* table.c — the tables kdrun prints (see table.h): metric number formats,
 * grids as aligned text and as Markdown, lists of names, and the tables of
 * a sweep with their printers.  Nothing here reads or writes files: the
 * callers hand in a FILE.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lang/utf8.h"
#include "table.h"
#include "textbuf.h"
#include "yaml_io.h"

/* ---- metric values -------------------------------------------------------- */

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static int is_word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* w occurs in s as a whole word (or at the end after a '.'). */
static int has_word(const char *s, const char *w)
{
    size_t m = strlen(w);
    for (const char *p = strstr(s, w); p; p = strstr(p + 1, w))
        if ((p == s || !is_word_char(p[-1])) && !is_word_char(p[m])) return 1;
    return 0;
}

int kd_metric_kind(const char *name)
{
    if (!name) return KD_KIND_OTHER;
    if (ends_with(name, "top1") || ends_with(name, "top5") || has_word(name, "top1") ||
        has_word(name, "top5"))
        return KD_KIND_PCT;
    if (ends_with(name, "params") || ends_with(name, "macs") || has_word(name, "params") ||
        has_word(name, "macs"))
        return KD_KIND_COUNT;
    return KD_KIND_OTHER;
}

/* A value as the tables print it (see report.h). */
void kd_fmt_value(char *buf, size_t len, double v, int kind)
{
    if (isnan(v)) snprintf(buf, len, "nan");
    else if (isinf(v)) snprintf(buf, len, v < 0 ? "-inf" : "inf");
    else if (kind == KD_KIND_PCT) snprintf(buf, len, "%.2f", v);
    else if (kind == KD_KIND_COUNT && fabs(v) < 1e15) snprintf(buf, len, "%.0f", v);
    else snprintf(buf, len, "%.4g", v);
}

/* ---- grids: plain text and Markdown ---------------------------------------- */

int kd_grid_init(kd_grid *g, int nr, int nc)
{
    memset(g, 0, sizeof *g);
    g->nr = nr;
    g->nc = nc;
    g->c = calloc((size_t)nr * (size_t)nc + 1, sizeof *g->c);
    g->left = calloc((size_t)nc + 1, 1);
    if (!g->c || !g->left) { free(g->c); free(g->left); g->c = NULL; g->left = NULL; return -1; }
    g->left[0] = 1;
    return 0;
}

/* Control characters (a terminal would obey them) become '?'. */
void kd_grid_set(kd_grid *g, int r, int c, const char *s)
{
    char *d = kd_xstrdup(s);
    if (!d) g->oom = 1;
    for (char *p = d; p && *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    free(g->c[(size_t)r * (size_t)g->nc + (size_t)c]);
    g->c[(size_t)r * (size_t)g->nc + (size_t)c] = d;
}

const char *kd_grid_get(const kd_grid *g, int r, int c)
{
    const char *s = g->c[(size_t)r * (size_t)g->nc + (size_t)c];
    return s ? s : "";
}

void kd_grid_free(kd_grid *g)
{
    if (g->c)
        for (size_t i = 0; i < (size_t)g->nr * (size_t)g->nc; i++) free(g->c[i]);
    free(g->c);
    free(g->left);
    memset(g, 0, sizeof *g);
}

static void pad(FILE *f, size_t n)
{
    while (n--) fputc(' ', f);
}

/* Aligned plain text, two spaces between columns, a rule under the header;
 * no trailing blanks. */
void kd_grid_print_text(FILE *f, const kd_grid *g)
{
    size_t *w = calloc((size_t)g->nc + 1, sizeof *w);
    if (!w) return;
    for (int r = 0; r < g->nr; r++)
        for (int c = 0; c < g->nc; c++) {
            size_t k = kdr_text_width(kd_grid_get(g, r, c));
            if (k > w[c]) w[c] = k;
        }
    kd_strbuf line = { 0 };
    for (int r = 0; r < g->nr; r++) {
        line.n = 0;
        for (int c = 0; c < g->nc; c++) {
            const char *s = kd_grid_get(g, r, c);
            size_t k = kdr_text_width(s);
            if (c) kd_sb_puts(&line, "  ");
            int right = !g->left[c];
            for (size_t i = 0; right && i < w[c] - k; i++) kd_sb_put(&line, " ", 1);
            kd_sb_puts(&line, s);
            for (size_t i = 0; !right && i < w[c] - k; i++) kd_sb_put(&line, " ", 1);
        }
        if (line.oom) break;
        while (line.n && line.s[line.n - 1] == ' ') line.n--;
        if (line.n) fwrite(line.s, 1, line.n, f);
        fputc('\n', f);
        if (r == 0) {
            for (int c = 0; c < g->nc; c++) {
                if (c) fputs("  ", f);
                for (size_t i = 0; i < w[c]; i++) fputc('-', f);
            }
            fputc('\n', f);
        }
    }
    free(line.s);
    free(w);
}

void kd_grid_print_text_wrap(FILE *f, const kd_grid *g, int nkey, size_t maxw)
{
    size_t *w = calloc((size_t)g->nc + 1, sizeof *w);
    if (!w) return;
    for (int r = 0; r < g->nr; r++)
        for (int c = 0; c < g->nc; c++) {
            size_t k = kdr_text_width(kd_grid_get(g, r, c));
            if (k > w[c]) w[c] = k;
        }
    if (nkey < 0 || nkey > g->nc) nkey = 0;
    size_t key = 0;
    for (int c = 0; c < nkey; c++) key += w[c] + (c ? 2 : 0);
    for (int start = nkey, first = 1; start < g->nc || first; first = 0) {
        int end = start;
        size_t width = key;
        while (end < g->nc && (end == start || width + 2 + w[end] <= maxw)) {
            width += (width ? 2 : 0) + w[end];
            end++;
        }
        kd_grid b;
        if (kd_grid_init(&b, g->nr, nkey + end - start)) break;
        for (int c = 0; c < nkey + end - start; c++) {
            int from = c < nkey ? c : start + c - nkey;
            b.left[c] = g->left[from];
            for (int r = 0; r < g->nr; r++) kd_grid_set(&b, r, c, kd_grid_get(g, r, from));
        }
        if (!first) fputc('\n', f);
        if (!b.oom) kd_grid_print_text(f, &b);
        kd_grid_free(&b);
        if (end == start) break;
        start = end;
    }
    free(w);
}

/* Markdown cell text: escapes what GitHub would read as markup. */
char *kd_md_escape(const char *s)
{
    kd_strbuf b = { 0 };
    for (; *s; s++) {
        switch (*s) {
        case '|': kd_sb_puts(&b, "\\|"); break;
        case '\\': kd_sb_puts(&b, "\\\\"); break;
        case '<': kd_sb_puts(&b, "&lt;"); break;
        case '>': kd_sb_puts(&b, "&gt;"); break;
        case '&': kd_sb_puts(&b, "&amp;"); break;
        case '*': kd_sb_puts(&b, "\\*"); break;
        case '`': kd_sb_puts(&b, "\\`"); break;
        case '\n': case '\r': case '\t': kd_sb_puts(&b, " "); break;
        default: kd_sb_put(&b, s, 1);
        }
    }
    return kd_sb_take(&b);
}

int kd_grid_print_md(FILE *f, const kd_grid *g)
{
    kd_grid e;
    if (kd_grid_init(&e, g->nr, g->nc)) return -1;
    size_t *w = calloc((size_t)g->nc + 1, sizeof *w);
    int rc = w ? 0 : -1;
    for (int r = 0; r < g->nr && !rc; r++)
        for (int c = 0; c < g->nc && !rc; c++) {
            char *s = kd_md_escape(kd_grid_get(g, r, c));
            if (!s) { rc = -1; break; }
            e.c[(size_t)r * (size_t)g->nc + (size_t)c] = s;
            size_t k = kdr_text_width(s);
            if (k < 3) k = 3;
            if (k > w[c]) w[c] = k;
        }
    for (int r = 0; r < g->nr && !rc; r++) {
        for (int c = 0; c < g->nc; c++) {
            const char *s = kd_grid_get(&e, r, c);
            size_t k = kdr_text_width(s);
            fputs(c ? " | " : "| ", f);
            if (!g->left[c] && r > 0) pad(f, w[c] - k);
            fputs(s, f);
            if (g->left[c] || r == 0) pad(f, w[c] - k);
        }
        fputs(" |\n", f);
        if (r == 0) {
            for (int c = 0; c < g->nc; c++) {
                fputs(c ? " | " : "| ", f);
                if (g->left[c]) {
                    fputc(':', f);
                    for (size_t i = 1; i < w[c]; i++) fputc('-', f);
                } else {
                    for (size_t i = 1; i < w[c]; i++) fputc('-', f);
                    fputc(':', f);
                }
            }
            fputs(" |\n", f);
        }
    }
    free(w);
    kd_grid_free(&e);
    return rc;
}

/* ---- lists of names --------------------------------------------------------- */

int kd_sl_find(const kd_strlist *l, const char *s)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0) return i;
    return -1;
}

/* Index of s, added if absent; -1 if memory ran out. */
int kd_sl_add(kd_strlist *l, const char *s)
{
    int i = kd_sl_find(l, s);
    if (i >= 0) return i;
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 8;
        char **nv = realloc(l->v, (size_t)cap * sizeof *nv);
        if (!nv) return -1;
        l->v = nv;
        l->cap = cap;
    }
    char *d = kd_xstrdup(s);
    if (!d) return -1;
    l->v[l->n] = d;
    return l->n++;
}

void kd_sl_free(kd_strlist *l)
{
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

typedef struct numlab {
    double v;
    int order;
} numlab;

static int cmp_numlab(const void *a, const void *b)
{
    const numlab *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return (x->order > y->order) - (x->order < y->order);
}

/* Sort the labels numerically if all of them are (finite) numbers. */
int kd_sl_sort_numeric(kd_strlist *l)
{
    if (l->n < 2) return 0;
    numlab *k = malloc((size_t)l->n * sizeof *k);
    char **nv = malloc((size_t)l->n * sizeof *nv);
    if (!k || !nv) { free(k); free(nv); return -1; }
    int all = 1;
    for (int i = 0; i < l->n && all; i++) {
        all = kd_yaml_parse_num(l->v[i], &k[i].v) == 0 && isfinite(k[i].v);
        k[i].order = i;
    }
    if (all) {
        qsort(k, (size_t)l->n, sizeof *k, cmp_numlab);
        for (int i = 0; i < l->n; i++) nv[i] = l->v[k[i].order];
        memcpy(l->v, nv, (size_t)l->n * sizeof *nv);
    }
    free(k);
    free(nv);
    return 0;
}

/* ---- the tables of a sweep -------------------------------------------------- */

void kd_stable_free(kd_stable *t)
{
    free(t->title);
    free(t->rows);
    free(t->cols);
    free(t->metric);
    for (int i = 0; i < t->nr; i++) free(t->rlab[i]);
    for (int i = 0; i < t->nc; i++) free(t->clab[i]);
    free(t->rlab);
    free(t->clab);
    if (t->cells)
        for (int i = 0; i < t->nr * t->nc; i++) {
            free(t->cells[i].metric);
            free(t->cells[i].vals);
        }
    free(t->cells);
    memset(t, 0, sizeof *t);
}

/* "71.20 ± 0.35 (n=2)", "71.20", "—". */
static void cell_text(char *buf, size_t len, const kd_scell *c)
{
    if (c->n <= 0) { snprintf(buf, len, KD_MDASH); return; }
    int kind = kd_metric_kind(c->metric);
    char m[64], s[64];
    kd_fmt_value(m, sizeof m, c->mean, kind);
    size_t o;
    if (c->n > 1) {
        kd_fmt_value(s, sizeof s, c->std, kind);
        o = (size_t)snprintf(buf, len, "%s " KD_PM " %s", m, s);
    } else {
        o = (size_t)snprintf(buf, len, "%s", m);
    }
    if (c->n < c->expected && o < len) snprintf(buf + o, len - o, " (n=%d)", c->n);
}

/* The corner and the column headers. */
static const char *table_corner(const kd_stable *t, char *buf, size_t len)
{
    if (*t->rows && *t->cols) snprintf(buf, len, "%s \\ %s", t->rows, t->cols);
    else if (*t->rows) snprintf(buf, len, "%s", t->rows);
    else snprintf(buf, len, "metric");
    return buf;
}

static int stable_grid(const kd_stable *t, kd_grid *g)
{
    if (kd_grid_init(g, t->nr + 1, t->nc + 1)) return -1;
    char buf[512];
    kd_grid_set(g, 0, 0, table_corner(t, buf, sizeof buf));
    for (int c = 0; c < t->nc; c++) kd_grid_set(g, 0, c + 1, t->clab[c]);
    for (int r = 0; r < t->nr; r++) {
        kd_grid_set(g, r + 1, 0, t->rlab[r]);
        for (int c = 0; c < t->nc; c++) {
            cell_text(buf, sizeof buf, &t->cells[r * t->nc + c]);
            kd_grid_set(g, r + 1, c + 1, buf);
        }
    }
    if (g->oom) { kd_grid_free(g); return -1; }
    return 0;
}

int kd_stable_print_text(FILE *f, const kd_stable *t)
{
    kd_grid g;
    if (stable_grid(t, &g)) return -1;
    fprintf(f, "%s\n", t->title);
    kd_grid_print_text(f, &g);
    kd_grid_free(&g);
    return 0;
}

int kd_stable_print_md(FILE *f, const kd_stable *t)
{
    kd_grid g;
    if (stable_grid(t, &g)) return -1;
    char *title = kd_md_escape(t->title);
    if (!title) { kd_grid_free(&g); return -1; }
    fprintf(f, "### %s\n\n", title);
    free(title);
    int rc = kd_grid_print_md(f, &g);
    kd_grid_free(&g);
    return rc;
}

/* "6 points: 5 ok, 1 failed" */
void kd_sweep_summary(kd_strbuf *b, int npts, const char *const *status)
{
    kd_strlist seen = { 0 };
    kd_sb_printf(b, "%d point%s", npts, npts == 1 ? "" : "s");
    /* the known statuses first, in this order, then any other */
    static const char *const known[] = { "ok", "failed", "interrupted" };
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < npts; i++)
            if (status[i] && strcmp(status[i], known[k]) == 0) {
                kd_sl_add(&seen, known[k]);
                break;
            }
    for (int i = 0; i < npts; i++) kd_sl_add(&seen, status[i] ? status[i] : "unknown");
    for (int k = 0; k < seen.n; k++) {
        int cnt = 0;
        for (int i = 0; i < npts; i++)
            if (strcmp(status[i] ? status[i] : "unknown", seen.v[k]) == 0) cnt++;
        kd_sb_printf(b, "%s%d %s", k ? ", " : ": ", cnt, seen.v[k]);
    }
    kd_sl_free(&seen);
}

/* The header line and every table, as the terminal shows them. */
int kd_sweep_print_text(FILE *f, const char *dir, const char *recipe, const char *summary,
                            const kd_stable *T, int nt)
{
    fprintf(f, "sweep %s (%s), %s\n", dir, recipe && *recipe ? recipe : "?", summary);
    for (int i = 0; i < nt; i++) {
        fputc('\n', f);
        if (kd_stable_print_text(f, &T[i])) return -1;
    }
    return 0;
}
