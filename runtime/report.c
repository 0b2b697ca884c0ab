/* report.c — learning curves as SVG, `kdrun report`, sweep tables.
 *
 * Three parts, sharing the number formats and the table printers:
 *   kd_plot_svg      metric rows -> a two-panel SVG (loss | evaluations);
 *   kd_report_cmd    report.yaml files (libyaml document API) -> one table
 *                    of runs, or a sweep's tables;
 *   kd_sweep_report  a sweep's points -> tables (mean ± std), written as
 *                    report.yaml (libyaml emitter) and tables.md, printed.
 * A sweep's report.yaml keeps every table cell (mean, std, n, values), so
 * that kd_report_cmd prints the same tables from it without recomputing.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <yaml.h>

#include "report.h"
#include "textbuf.h"
#include "yaml_io.h"

#define KD_MDASH "\xe2\x80\x94"     /* — */
#define KD_PM "\xc2\xb1"            /* ± */
#define KD_TIMES "\xc3\x97"         /* × */

/* ---- small helpers ------------------------------------------------------- */

static char *xstrndup(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n]) n++;
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static char *xstrdup(const char *s)
{
    return xstrndup(s ? s : "", (size_t)-1);
}

/* Display width of UTF-8 text: one column per code point. */
static size_t text_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) w++;
    return w;
}

/* Length of the valid UTF-8 sequence at s (1 to 4), or 0 if invalid. */
static int utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    if (c < 0x80) return 1;
    int n;
    unsigned min;
    if ((c & 0xE0) == 0xC0) { n = 2; min = 0x80; c &= 0x1F; }
    else if ((c & 0xF0) == 0xE0) { n = 3; min = 0x800; c &= 0x0F; }
    else if ((c & 0xF8) == 0xF0) { n = 4; min = 0x10000; c &= 0x07; }
    else return 0;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    if (c == 0xFFFE || c == 0xFFFF) return 0;       /* not XML characters */
    return n;
}

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

enum { KIND_OTHER, KIND_PCT, KIND_COUNT };

static int kind_of(const char *name)
{
    if (!name) return KIND_OTHER;
    if (ends_with(name, "top1") || ends_with(name, "top5") || has_word(name, "top1") ||
        has_word(name, "top5"))
        return KIND_PCT;
    if (ends_with(name, "params") || ends_with(name, "macs") || has_word(name, "params") ||
        has_word(name, "macs"))
        return KIND_COUNT;
    return KIND_OTHER;
}

/* A value as the tables print it (see report.h). */
static void fmt_value(char *buf, size_t len, double v, int kind)
{
    if (isnan(v)) snprintf(buf, len, "nan");
    else if (isinf(v)) snprintf(buf, len, v < 0 ? "-inf" : "inf");
    else if (kind == KIND_PCT) snprintf(buf, len, "%.2f", v);
    else if (kind == KIND_COUNT && fabs(v) < 1e15) snprintf(buf, len, "%.0f", v);
    else snprintf(buf, len, "%.4g", v);
}

/* ---- SVG learning curves ------------------------------------------------- */

/* XML text: escapes markup characters, replaces control characters and
 * invalid UTF-8 with '?', cuts after maxcp code points (with "…"). */
static void xml_text(FILE *f, const char *s, size_t maxcp)
{
    size_t cp = 0;
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        if (cp == maxcp) { fputs("\xe2\x80\xa6", f); return; }
        int n = utf8_len(p);
        if (n == 0) { fputc('?', f); p++; cp++; continue; }
        switch (*p) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default:
            if (*p < 0x20) fputc(*p == '\t' ? ' ' : '?', f);
            else fwrite(p, 1, (size_t)n, f);
        }
        p += n;
        cp++;
    }
}

typedef struct axis {
    double lo, hi, step;
    int nticks;
} axis;

/* Round the range [lo, hi] out to "nice" ticks (1, 2 or 5 times a power of
 * ten, about five of them); integer: steps of at least 1. */
static void nice_axis(double lo, double hi, int integer, axis *a)
{
    if (!isfinite(lo) || !isfinite(hi) || lo > hi) { lo = 0; hi = 1; }
    double mag = fmax(fabs(lo), fabs(hi));
    if (hi - lo <= mag * 1e-9 || hi - lo < 1e-200) {
        double c = lo / 2 + hi / 2;
        double d = mag > 0 ? fmax(mag * 0.05, 1e-200) : 1;
        lo = c - d;
        hi = c + d;
    }
    double raw = (hi - lo) / 5;
    double e = floor(log10(raw));
    double p10 = pow(10, e);
    double f = raw / p10;
    double step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * p10;
    if (integer && step < 1) step = 1;
    a->step = step;
    a->lo = floor(lo / step) * step;
    a->hi = ceil(hi / step) * step;
    if (!(a->hi > a->lo)) a->hi = a->lo + step;
    double nt = (a->hi - a->lo) / step + 1;
    a->nticks = nt > 50 || !(nt >= 2) ? 2 : (int)llround(nt);
    if (a->nticks == 2) a->step = a->hi - a->lo;
}

static void fmt_tick(char *buf, size_t len, double v, const axis *a)
{
    double step = a->step;
    double k = round((v - a->lo) / step);
    v = a->lo + k * step;
    if (fabs(v) < step * 1e-6) v = 0;
    double mag = fmax(fabs(a->lo), fabs(a->hi));
    double ls = floor(log10(step) + 1e-9);
    if (mag < 1e6 && ls >= -6) {
        snprintf(buf, len, "%.*f", ls < 0 ? (int)-ls : 0, v);
    } else {
        double prec = floor(log10(mag)) - ls + 1;
        if (prec < 1) prec = 1;
        if (prec > 17) prec = 17;
        snprintf(buf, len, "%.*g", (int)prec, v);
    }
}

typedef struct plot_pt {
    double x, y;
    int64_t epoch;
    int order;
} plot_pt;

typedef struct series {
    char *phase, *what;
    int panel;                 /* 0: train loss, 1: the others */
    plot_pt *p;
    int n, cap;
} series;

typedef struct phase_span {
    char *name;
    int64_t maxep;
    double off;
} phase_span;

static int cmp_pt(const void *a, const void *b)
{
    const plot_pt *x = a, *y = b;
    if (x->x != y->x) return x->x < y->x ? -1 : 1;
    return (x->order > y->order) - (x->order < y->order);
}

static const char *const palette[10] = {
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
};

enum {
    SVG_W = 1000, PANEL_W = 380, PANEL_H = 300, PANEL_TOP = 60,
    LEFT_X = 80, RIGHT_X = 580, LEGEND_TOP = PANEL_TOP + PANEL_H + 60, LEGEND_LINE = 18
};

static double px_of(double x, const axis *a, double x0, double w)
{
    return x0 + (x - a->lo) / (a->hi - a->lo) * w;
}

static double py_of(double y, const axis *a)
{
    return PANEL_TOP + PANEL_H - (y - a->lo) / (a->hi - a->lo) * PANEL_H;
}

static void svg_panel(FILE *f, int panel, const series *S, int ns, const phase_span *ph,
                      int nph, const axis *ax, double total_ep, const char *ylabel,
                      const char *empty_note)
{
    double x0 = panel ? RIGHT_X : LEFT_X;
    double ymin = INFINITY, ymax = -INFINITY;
    for (int i = 0; i < ns; i++) {
        if (S[i].panel != panel) continue;
        for (int k = 0; k < S[i].n; k++) {
            ymin = fmin(ymin, S[i].p[k].y);
            ymax = fmax(ymax, S[i].p[k].y);
        }
    }
    int have = ymin <= ymax;
    axis ay;
    nice_axis(have ? ymin : 0, have ? ymax : 1, 0, &ay);
    fprintf(f, "<g class=\"panel\">\n");
    fprintf(f, "<rect x=\"%g\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#fff\" "
               "stroke=\"#444\" stroke-width=\"1\"/>\n", x0, PANEL_TOP, PANEL_W, PANEL_H);
    /* y axis: grid lines and labels */
    char buf[64];
    if (have) {
        for (int t = 0; t < ay.nticks; t++) {
            double v = ay.lo + t * ay.step;
            double y = py_of(v, &ay);
            fmt_tick(buf, sizeof buf, v, &ay);
            fprintf(f, "<line x1=\"%g\" y1=\"%.2f\" x2=\"%g\" y2=\"%.2f\" stroke=\"#e4e4e4\"/>\n",
                    x0, y, x0 + PANEL_W, y);
            fprintf(f, "<text x=\"%g\" y=\"%.2f\" text-anchor=\"end\">%s</text>\n", x0 - 6, y + 4,
                    buf);
        }
    }
    /* x axis */
    if (total_ep > 0) {
        for (int t = 0; t < ax->nticks; t++) {
            double v = ax->lo + t * ax->step;
            double x = px_of(v, ax, x0, PANEL_W);
            fmt_tick(buf, sizeof buf, v, ax);
            fprintf(f, "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\" stroke=\"#444\"/>\n",
                    x, PANEL_TOP + PANEL_H, x, PANEL_TOP + PANEL_H + 5);
            fprintf(f, "<text x=\"%.2f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", x,
                    PANEL_TOP + PANEL_H + 18, buf);
        }
        /* phase boundaries and names */
        for (int k = 0; k < nph; k++) {
            double xb = px_of(ph[k].off + 0.5, ax, x0, PANEL_W);
            if (k > 0)
                fprintf(f, "<line class=\"phase\" x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\" "
                           "stroke=\"#999\" stroke-width=\"0.75\" stroke-dasharray=\"4 3\"/>\n",
                        xb, PANEL_TOP, xb, PANEL_TOP + PANEL_H);
            fprintf(f, "<text x=\"%.2f\" y=\"%d\" font-size=\"10\" fill=\"#777\">",
                    (k > 0 ? xb : x0) + 3, PANEL_TOP + 12);
            xml_text(f, ph[k].name, 24);
            fprintf(f, "</text>\n");
        }
    }
    fprintf(f, "<text x=\"%g\" y=\"%d\" text-anchor=\"middle\">global epoch</text>\n",
            x0 + PANEL_W / 2.0, PANEL_TOP + PANEL_H + 38);
    fprintf(f, "<text transform=\"translate(%g %g) rotate(-90)\" text-anchor=\"middle\">%s</text>\n",
            x0 - 58, PANEL_TOP + PANEL_H / 2.0, ylabel);
    if (!have)
        fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\" fill=\"#777\">%s</text>\n",
                x0 + PANEL_W / 2.0, PANEL_TOP + PANEL_H / 2.0, empty_note);
    /* the series and the legend */
    int li = 0;
    for (int i = 0; i < ns; i++) {
        if (S[i].panel != panel) continue;
        const char *color = palette[i % 10];
        const char *dash = (i / 10) % 2 ? " stroke-dasharray=\"6 3\"" : "";
        fprintf(f, "<g class=\"series\"><title>");
        xml_text(f, S[i].phase, 200);
        fputs(": ", f);
        xml_text(f, S[i].what, 200);
        fprintf(f, "</title>\n<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"%s "
                   "points=\"", color, dash);
        for (int k = 0; k < S[i].n; k++)
            fprintf(f, "%s%.2f,%.2f", k ? " " : "", px_of(S[i].p[k].x, ax, x0, PANEL_W),
                    py_of(S[i].p[k].y, &ay));
        fprintf(f, "\"/>\n");
        for (int k = 0; k < S[i].n; k++) {
            fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"2.5\" fill=\"%s\"><title>epoch %lld: "
                       "%.6g</title></circle>\n",
                    px_of(S[i].p[k].x, ax, x0, PANEL_W), py_of(S[i].p[k].y, &ay), color,
                    (long long)S[i].p[k].epoch, S[i].p[k].y);
        }
        int ly = LEGEND_TOP + li * LEGEND_LINE;
        fprintf(f, "<line x1=\"%g\" y1=\"%d\" x2=\"%g\" y2=\"%d\" stroke=\"%s\" "
                   "stroke-width=\"1.5\"%s/><circle cx=\"%g\" cy=\"%d\" r=\"2.5\" fill=\"%s\"/>\n",
                x0, ly - 4, x0 + 20, ly - 4, color, dash, x0 + 10, ly - 4, color);
        fprintf(f, "<text class=\"legend\" x=\"%g\" y=\"%d\">", x0 + 26, ly);
        xml_text(f, S[i].phase, 40);
        fputs(": ", f);
        xml_text(f, S[i].what, 60);
        if (S[i].n == 0) fputs(" (no finite values)", f);
        fprintf(f, "</text>\n</g>\n");
        li++;
    }
    fprintf(f, "</g>\n");
}

int kd_plot_svg(FILE *out, const kd_metric_row *rows, int n, const char *title)
{
    if (!out) return -1;
    if (!rows || n < 0) n = 0;
    phase_span *ph = NULL;
    series *S = NULL;
    int nph = 0, ns = 0, rc = -1;
    /* phases (first-seen order) and their lengths */
    for (int i = 0; i < n; i++) {
        const kd_metric_row *r = &rows[i];
        if (r->epoch < 1 || strncmp(r->phase, "report", sizeof r->phase) == 0) continue;
        int k = 0;
        while (k < nph && strncmp(ph[k].name, r->phase, sizeof r->phase) != 0) k++;
        if (k == nph) {
            phase_span *np = realloc(ph, (size_t)(nph + 1) * sizeof *np);
            if (!np) goto out;
            ph = np;
            ph[nph].name = xstrndup(r->phase, sizeof r->phase);
            ph[nph].maxep = 0;
            if (!ph[nph].name) goto out;
            nph++;
        }
        if (r->epoch > ph[k].maxep) ph[k].maxep = r->epoch;
    }
    double total = 0;
    for (int k = 0; k < nph; k++) {
        ph[k].off = total;
        total += (double)ph[k].maxep;
    }
    /* series */
    for (int i = 0; i < n; i++) {
        const kd_metric_row *r = &rows[i];
        if (r->epoch < 1 || strncmp(r->phase, "report", sizeof r->phase) == 0) continue;
        int k = 0;
        while (strncmp(ph[k].name, r->phase, sizeof r->phase) != 0) k++;
        int s = 0;
        while (s < ns && !(strncmp(S[s].phase, r->phase, sizeof r->phase) == 0 &&
                           strncmp(S[s].what, r->what, sizeof r->what) == 0))
            s++;
        if (s == ns) {
            series *nsr = realloc(S, (size_t)(ns + 1) * sizeof *nsr);
            if (!nsr) goto out;
            S = nsr;
            memset(&S[ns], 0, sizeof S[ns]);
            ns++;
            S[s].phase = xstrndup(r->phase, sizeof r->phase);
            S[s].what = xstrndup(r->what, sizeof r->what);
            if (!S[s].phase || !S[s].what) goto out;
            S[s].panel = strcmp(S[s].what, "train loss") != 0;
        }
        if (!isfinite(r->value)) continue;
        if (S[s].n == S[s].cap) {
            int cap = S[s].cap ? S[s].cap * 2 : 16;
            plot_pt *np = realloc(S[s].p, (size_t)cap * sizeof *np);
            if (!np) goto out;
            S[s].p = np;
            S[s].cap = cap;
        }
        plot_pt *p = &S[s].p[S[s].n];
        p->x = ph[k].off + (double)r->epoch;
        p->y = fmax(-1e300, fmin(1e300, r->value));
        p->epoch = r->epoch;
        p->order = S[s].n++;
    }
    for (int s = 0; s < ns; s++)
        if (S[s].n > 1) qsort(S[s].p, (size_t)S[s].n, sizeof *S[s].p, cmp_pt);

    axis ax;
    nice_axis(0, total > 1 ? total : 2, 1, &ax);
    int nleg[2] = { 0, 0 };
    for (int s = 0; s < ns; s++) nleg[S[s].panel]++;
    int lines = nleg[0] > nleg[1] ? nleg[0] : nleg[1];
    int height = LEGEND_TOP + lines * LEGEND_LINE + 10;

    fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
                 "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" "
                 "font-size=\"12\">\n", SVG_W, height, SVG_W, height);
    fprintf(out, "<title>");
    xml_text(out, title ? title : "learning curves", 300);
    fprintf(out, "</title>\n<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n");
    fprintf(out, "<text x=\"%d\" y=\"28\" text-anchor=\"middle\" font-size=\"16\">", SVG_W / 2);
    xml_text(out, title ? title : "learning curves", 120);
    fprintf(out, "</text>\n");
    if (n == 0 || ns == 0)
        fprintf(out, "<text x=\"%d\" y=\"46\" text-anchor=\"middle\" fill=\"#777\">"
                     "no per-epoch metrics to plot</text>\n", SVG_W / 2);
    svg_panel(out, 0, S, ns, ph, nph, &ax, total, "train loss", "no train loss");
    svg_panel(out, 1, S, ns, ph, nph, &ax, total, "evaluation", "no per-epoch evaluation");
    fprintf(out, "</svg>\n");
    rc = (fflush(out) != 0 || ferror(out)) ? -1 : 0;
out:
    for (int k = 0; k < nph; k++) free(ph[k].name);
    free(ph);
    for (int s = 0; s < ns; s++) {
        free(S[s].phase);
        free(S[s].what);
        free(S[s].p);
    }
    free(S);
    return rc;
}

/* ---- tables: plain text and Markdown -------------------------------------- */

/* A table of strings; row 0 is the header.  Column 0 is left-aligned,
 * the others are right-aligned unless left[c]. */
typedef struct grid {
    int nr, nc;
    char **c;                  /* nr * nc, owned */
    unsigned char *left;       /* nc */
    int oom;
} grid;

static int grid_init(grid *g, int nr, int nc)
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
static void grid_set(grid *g, int r, int c, const char *s)
{
    char *d = xstrdup(s);
    if (!d) g->oom = 1;
    for (char *p = d; p && *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    free(g->c[(size_t)r * (size_t)g->nc + (size_t)c]);
    g->c[(size_t)r * (size_t)g->nc + (size_t)c] = d;
}

static const char *grid_get(const grid *g, int r, int c)
{
    const char *s = g->c[(size_t)r * (size_t)g->nc + (size_t)c];
    return s ? s : "";
}

static void grid_free(grid *g)
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
static void grid_print_text(FILE *f, const grid *g)
{
    size_t *w = calloc((size_t)g->nc + 1, sizeof *w);
    if (!w) return;
    for (int r = 0; r < g->nr; r++)
        for (int c = 0; c < g->nc; c++) {
            size_t k = text_width(grid_get(g, r, c));
            if (k > w[c]) w[c] = k;
        }
    kd_strbuf line = { 0 };
    for (int r = 0; r < g->nr; r++) {
        line.n = 0;
        for (int c = 0; c < g->nc; c++) {
            const char *s = grid_get(g, r, c);
            size_t k = text_width(s);
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

/* Markdown cell text: escapes what GitHub would read as markup. */
static char *md_escape(const char *s)
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

static int grid_print_md(FILE *f, const grid *g)
{
    grid e;
    if (grid_init(&e, g->nr, g->nc)) return -1;
    size_t *w = calloc((size_t)g->nc + 1, sizeof *w);
    int rc = w ? 0 : -1;
    for (int r = 0; r < g->nr && !rc; r++)
        for (int c = 0; c < g->nc && !rc; c++) {
            char *s = md_escape(grid_get(g, r, c));
            if (!s) { rc = -1; break; }
            e.c[(size_t)r * (size_t)g->nc + (size_t)c] = s;
            size_t k = text_width(s);
            if (k < 3) k = 3;
            if (k > w[c]) w[c] = k;
        }
    for (int r = 0; r < g->nr && !rc; r++) {
        for (int c = 0; c < g->nc; c++) {
            const char *s = grid_get(&e, r, c);
            size_t k = text_width(s);
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
    grid_free(&e);
    return rc;
}

/* ---- sweep tables ---------------------------------------------------------- */

typedef struct scell {
    char *metric;
    int n;                     /* values that count */
    int expected;              /* points that match the row/col values */
    double mean, std;
    double *vals;              /* n */
} scell;

typedef struct stable {
    char *title;
    char *rows, *cols;         /* variable names, "" if none */
    char *metric;              /* rows and cols: the one metric; else "" */
    int nr, nc;
    char **rlab, **clab;
    scell *cells;              /* nr * nc */
} stable;

static void stable_free(stable *t)
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
static void cell_text(char *buf, size_t len, const scell *c)
{
    if (c->n <= 0) { snprintf(buf, len, KD_MDASH); return; }
    int kind = kind_of(c->metric);
    char m[64], s[64];
    fmt_value(m, sizeof m, c->mean, kind);
    size_t o;
    if (c->n > 1) {
        fmt_value(s, sizeof s, c->std, kind);
        o = (size_t)snprintf(buf, len, "%s " KD_PM " %s", m, s);
    } else {
        o = (size_t)snprintf(buf, len, "%s", m);
    }
    if (c->n < c->expected && o < len) snprintf(buf + o, len - o, " (n=%d)", c->n);
}

/* The corner and the column headers. */
static const char *table_corner(const stable *t, char *buf, size_t len)
{
    if (*t->rows && *t->cols) snprintf(buf, len, "%s \\ %s", t->rows, t->cols);
    else if (*t->rows) snprintf(buf, len, "%s", t->rows);
    else snprintf(buf, len, "metric");
    return buf;
}

static int stable_grid(const stable *t, grid *g)
{
    if (grid_init(g, t->nr + 1, t->nc + 1)) return -1;
    char buf[512];
    grid_set(g, 0, 0, table_corner(t, buf, sizeof buf));
    for (int c = 0; c < t->nc; c++) grid_set(g, 0, c + 1, t->clab[c]);
    for (int r = 0; r < t->nr; r++) {
        grid_set(g, r + 1, 0, t->rlab[r]);
        for (int c = 0; c < t->nc; c++) {
            cell_text(buf, sizeof buf, &t->cells[r * t->nc + c]);
            grid_set(g, r + 1, c + 1, buf);
        }
    }
    if (g->oom) { grid_free(g); return -1; }
    return 0;
}

static int stable_print_text(FILE *f, const stable *t)
{
    grid g;
    if (stable_grid(t, &g)) return -1;
    fprintf(f, "%s\n", t->title);
    grid_print_text(f, &g);
    grid_free(&g);
    return 0;
}

static int stable_print_md(FILE *f, const stable *t)
{
    grid g;
    if (stable_grid(t, &g)) return -1;
    char *title = md_escape(t->title);
    if (!title) { grid_free(&g); return -1; }
    fprintf(f, "### %s\n\n", title);
    free(title);
    int rc = grid_print_md(f, &g);
    grid_free(&g);
    return rc;
}

/* A list of distinct strings in first-seen order. */
typedef struct strlist {
    char **v;
    int n, cap;
} strlist;

static int sl_find(const strlist *l, const char *s)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0) return i;
    return -1;
}

/* Index of s, added if absent; -1 if memory ran out. */
static int sl_add(strlist *l, const char *s)
{
    int i = sl_find(l, s);
    if (i >= 0) return i;
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 8;
        char **nv = realloc(l->v, (size_t)cap * sizeof *nv);
        if (!nv) return -1;
        l->v = nv;
        l->cap = cap;
    }
    char *d = xstrdup(s);
    if (!d) return -1;
    l->v[l->n] = d;
    return l->n++;
}

static void sl_free(strlist *l)
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
static int sl_sort_numeric(strlist *l)
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
static int cell_compute(scell *c, const kd_sweep_point *pts, int npts, const char *rvar,
                        const char *rval, const char *cvar, const char *cval, const char *metric)
{
    memset(c, 0, sizeof *c);
    c->metric = xstrdup(metric);
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

static int labels_of(strlist *l, const kd_sweep_point *pts, int npts, const char *var)
{
    for (int i = 0; i < npts; i++) {
        const char *v = point_value(&pts[i], var);
        if (v && sl_add(l, v) < 0) return -1;
    }
    return sl_sort_numeric(l);
}

/* The variables a table averages over: all but rows and cols. */
static void title_over(kd_strbuf *b, const strlist *vars, const char *r, const char *c)
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
static int build_table(stable *t, const kd_sweep_point *pts, int npts, const strlist *vars,
                       const char *R, const char *C, const char *metric, const strlist *metrics)
{
    memset(t, 0, sizeof *t);
    strlist rl = { 0 }, cl = { 0 };
    int rc = -1;
    kd_strbuf title = { 0 };
    if (R) {
        if (labels_of(&rl, pts, npts, R)) goto out;
    } else {
        for (int i = 0; i < metrics->n; i++)
            if (sl_add(&rl, metrics->v[i]) < 0) goto out;
    }
    if (C) {
        if (labels_of(&cl, pts, npts, C)) goto out;
    } else if (R) {
        for (int i = 0; i < metrics->n; i++)
            if (sl_add(&cl, metrics->v[i]) < 0) goto out;
    } else {
        if (sl_add(&cl, "mean " KD_PM " std") < 0) goto out;
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
    t->rows = xstrdup(R ? R : "");
    t->cols = xstrdup(C ? C : "");
    t->metric = xstrdup(R && C ? metric : "");
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
    sl_free(&rl);
    sl_free(&cl);
    if (rc) stable_free(t);
    return rc;
}

/* "6 points: 5 ok, 1 failed" */
static void status_summary(kd_strbuf *b, int npts, const char *const *status)
{
    strlist seen = { 0 };
    kd_sb_printf(b, "%d point%s", npts, npts == 1 ? "" : "s");
    /* the known statuses first, in this order, then any other */
    static const char *const known[] = { "ok", "failed", "interrupted" };
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < npts; i++)
            if (status[i] && strcmp(status[i], known[k]) == 0) {
                sl_add(&seen, known[k]);
                break;
            }
    for (int i = 0; i < npts; i++) sl_add(&seen, status[i] ? status[i] : "unknown");
    for (int k = 0; k < seen.n; k++) {
        int cnt = 0;
        for (int i = 0; i < npts; i++)
            if (strcmp(status[i] ? status[i] : "unknown", seen.v[k]) == 0) cnt++;
        kd_sb_printf(b, "%s%d %s", k ? ", " : ": ", cnt, seen.v[k]);
    }
    sl_free(&seen);
}

/* The header line and every table, as the terminal shows them. */
static int print_sweep_text(FILE *f, const char *dir, const char *recipe, const char *summary,
                            const stable *T, int nt)
{
    fprintf(f, "sweep %s (%s), %s\n", dir, recipe && *recipe ? recipe : "?", summary);
    for (int i = 0; i < nt; i++) {
        fputc('\n', f);
        if (stable_print_text(f, &T[i])) return -1;
    }
    return 0;
}

/* ---- writing files ---------------------------------------------------------- */

typedef struct sweep_out {
    const char *dir, *recipe, *summary;
    const strlist *vars;
    const kd_sweep_point *pts;
    int npts;
    const stable *T;
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
        const stable *t = &s->T[i];
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
                const scell *e = &t->cells[r * t->nc + c];
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
    char *dir = md_escape(s->dir), *recipe = md_escape(s->recipe);
    if (!dir || !recipe) { free(dir); free(recipe); errno = 0; return -1; }
    fprintf(f, "## Sweep %s\n\nRecipe %s, %s.\n", dir, recipe, s->summary);
    free(dir);
    free(recipe);
    for (int i = 0; i < s->nt; i++) {
        fputc('\n', f);
        if (stable_print_md(f, &s->T[i])) { errno = 0; return -1; }
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
    strlist vars = { 0 }, keys = { 0 };
    stable *T = NULL;
    int nt = 0, rc = -1;
    const char **status = NULL;
    kd_strbuf sum = { 0 };
    char *summary = NULL, *path = NULL;
    for (int i = 0; i < npts; i++) {
        for (int k = 0; k < pts[i].nvars && pts[i].vars; k++)
            if (pts[i].vars[k] && sl_add(&vars, pts[i].vars[k]) < 0) goto oom;
        for (int k = 0; k < pts[i].nfinal && pts[i].final_keys; k++)
            if (pts[i].final_keys[k] && sl_add(&keys, pts[i].final_keys[k]) < 0) goto oom;
    }
    /* check the specs before doing anything */
    for (int s = 0; s < nspecs; s++) {
        const char *names[2] = { specs[s].rows, specs[s].cols };
        for (int k = 0; k < 2; k++) {
            if (!names[k] || sl_find(&vars, names[k]) >= 0) continue;
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
        strlist metrics = { 0 };
        for (int k = 0; k < specs[s].nvalues; k++)
            if (specs[s].values[k] && sl_add(&metrics, specs[s].values[k]) < 0) {
                sl_free(&metrics);
                goto oom;
            }
        if (specs[s].nvalues == 0)
            for (int k = 0; k < keys.n; k++)
                if (sl_add(&metrics, keys.v[k]) < 0) { sl_free(&metrics); goto oom; }
        int per = specs[s].rows && specs[s].cols ? metrics.n : 1;
        stable *nT = realloc(T, (size_t)(nt + per + 1) * sizeof *nT);
        if (!nT) { sl_free(&metrics); goto oom; }
        T = nT;
        for (int m = 0; m < per; m++) {
            if (build_table(&T[nt], pts, npts, &vars, specs[s].rows, specs[s].cols,
                            metrics.n ? metrics.v[m] : NULL, &metrics)) {
                sl_free(&metrics);
                goto oom;
            }
            nt++;
        }
        sl_free(&metrics);
    }
    status = calloc((size_t)npts + 1, sizeof *status);
    if (!status) goto oom;
    for (int i = 0; i < npts; i++) status[i] = pts[i].status;
    status_summary(&sum, npts, status);
    summary = kd_sb_take(&sum);
    memset(&sum, 0, sizeof sum);
    if (!summary) goto oom;

    sweep_out so = { dir, recipe, summary, &vars, pts, npts, T, nt };
    if (term) {
        if (print_sweep_text(term, dir, recipe, summary, T, nt)) goto oom;
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
    for (int i = 0; i < nt; i++) stable_free(&T[i]);
    free(T);
    sl_free(&vars);
    sl_free(&keys);
    return rc;
}

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
static int read_sweep(kd_yfile *y, stable **Tout, int *ntout, char **summary)
{
    yaml_node_t *r = y->root, *n, *e;
    const char *s;
    double v;
    int have, bad = 0, rc = -1, nt = 0;
    stable *T = NULL;
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
        stable *t = &T[nt++];
        const char *title, *rows, *cols, *metric;
        if (kd_ycheck_keys(y, n, "a table") || kd_ytext(y, n, "title", KD_Y_REQUIRED, &title) ||
            kd_ytext(y, n, "rows", KD_Y_NULL_OK, &rows) || kd_ytext(y, n, "cols", KD_Y_NULL_OK, &cols) ||
            kd_ytext(y, n, "metric", KD_Y_NULL_OK, &metric))
            goto out;
        t->title = xstrdup(title);
        t->rows = xstrdup(rows);
        t->cols = xstrdup(cols);
        t->metric = xstrdup(metric);
        yaml_node_t *rl = kd_ytyped(y, n, "row_labels", YAML_SEQUENCE_NODE, KD_Y_REQUIRED, &bad);
        if (bad) goto out;
        yaml_node_t *cl = kd_ytyped(y, n, "col_labels", YAML_SEQUENCE_NODE, KD_Y_REQUIRED, &bad);
        if (bad) goto out;
        strlist L[2] = { { 0 }, { 0 } };
        yaml_node_t *ls[2] = { rl, cl };
        for (int k = 0; k < 2; k++) {
            KD_YSEQ_FOR(y, ls[k], it2, e) {
                const char *lab = kd_yscalar(e);
                if (!lab) {
                    kd_yerr(y, e, "a table label is %s, not text", kd_ykind(e));
                    sl_free(&L[0]); sl_free(&L[1]);
                    goto out;
                }
                if (sl_find(&L[k], lab) >= 0) {
                    kd_yerr(y, e, "the label '%s' is given twice", lab);
                    sl_free(&L[0]); sl_free(&L[1]);
                    goto out;
                }
                if (sl_add(&L[k], lab) < 0) {
                    kd_yerr(y, NULL, "out of memory");
                    sl_free(&L[0]); sl_free(&L[1]);
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
            int ri = sl_find(&(strlist){ t->rlab, t->nr, t->nr }, row);
            int ci = sl_find(&(strlist){ t->clab, t->nc, t->nc }, col);
            if (ri < 0 || ci < 0) {
                kd_yerr(y, e, "the cell's %s '%s' is not one of the table's labels",
                     ri < 0 ? "row" : "col", ri < 0 ? row : col);
                goto out;
            }
            scell *c = &t->cells[ri * t->nc + ci];
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
            c->metric = xstrdup(cm);
            if (!c->metric) { kd_yerr(y, NULL, "out of memory"); goto out; }
            c->n = (int)nn;
            c->expected = (int)np;
            c->mean = mean;
            c->std = sd;
        }
        for (int i = 0; i < t->nr * t->nc; i++)
            if (!t->cells[i].metric && !(t->cells[i].metric = xstrdup(""))) {
                kd_yerr(y, NULL, "out of memory");
                goto out;
            }
    }
    kd_strbuf b = { 0 };
    status_summary(&b, (int)npts, status);
    *summary = kd_sb_take(&b);
    if (!*summary) { kd_yerr(y, NULL, "out of memory"); goto out; }
    rc = 0;
out:
    free(status);
    if (rc) {
        for (int i = 0; i < nt; i++) stable_free(&T[i]);
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
    fmt_value(buf, len, v, kind);
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
    strlist fk = { 0 }, bp = { 0 }, bm = { 0 };
    int rc = -1, bad = 0;
    yaml_node_t *n;
    for (int i = 0; i < nrun; i++) {
        yaml_node_t *fin = kd_yget(&Y[i], Y[i].root, "final", &bad);
        if (fin && fin->type == YAML_MAPPING_NODE)
            for (yaml_node_pair_t *p = fin->data.mapping.pairs.start;
                 p < fin->data.mapping.pairs.top; p++)
                if (sl_add(&fk, kd_yscalar(kd_ynode(&Y[i], p->key))) < 0) goto out;
        yaml_node_t *best = kd_yget(&Y[i], Y[i].root, "best", &bad);
        if (best && best->type == YAML_SEQUENCE_NODE)
            KD_YSEQ_FOR(&Y[i], best, it, n) {
                const char *ph = kd_yscalar(kd_yget(&Y[i], n, "phase", &bad));
                const char *me = kd_yscalar(kd_yget(&Y[i], n, "metric", &bad));
                int k;
                for (k = 0; k < bp.n; k++)
                    if (strcmp(bp.v[k], ph) == 0 && strcmp(bm.v[k], me) == 0) break;
                if (k < bp.n) continue;
                /* parallel lists: not sl_add, which would merge equal phases */
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
                bp.v[bp.n] = xstrdup(ph);
                bm.v[bm.n] = xstrdup(me);
                bp.n++;
                bm.n++;
                if (!bp.v[bp.n - 1] || !bm.v[bm.n - 1]) goto out;
            }
    }
    grid g;
    int nc = 3 + fk.n + 2 * bp.n;
    if (grid_init(&g, nrun + 1, nc)) goto out;
    g.left[1] = 1;
    grid_set(&g, 0, 0, "run");
    grid_set(&g, 0, 1, "status");
    grid_set(&g, 0, 2, "wall");
    for (int k = 0; k < fk.n; k++) grid_set(&g, 0, 3 + k, fk.v[k]);
    char buf[512];
    for (int k = 0; k < bp.n; k++) {
        snprintf(buf, sizeof buf, "%s: %s best", bp.v[k], bm.v[k]);
        grid_set(&g, 0, 3 + fk.n + 2 * k, buf);
        snprintf(buf, sizeof buf, "%s: %s last", bp.v[k], bm.v[k]);
        grid_set(&g, 0, 4 + fk.n + 2 * k, buf);
    }
    for (int i = 0; i < nrun; i++) {
        kd_yfile *y = &Y[i];
        double v;
        int have;
        grid_set(&g, i + 1, 0, names[i]);
        grid_set(&g, i + 1, 1, kd_yscalar(kd_yget(y, y->root, "status", &bad)));
        if (kd_ynum(y, y->root, "wall_seconds", 0, 0, &v, &have) == 0 && have) {
            fmt_wall(buf, sizeof buf, v);
            grid_set(&g, i + 1, 2, buf);
        }
        yaml_node_t *fin = kd_yget(y, y->root, "final", &bad);
        for (int k = 0; k < fk.n; k++) {
            if (!fin || fin->type != YAML_MAPPING_NODE) break;
            if (kd_ynum(y, fin, fk.v[k], 0, 0, &v, &have) == 0 && have) {
                fmt_value(buf, sizeof buf, v, kind_of(fk.v[k]));
                grid_set(&g, i + 1, 3 + k, buf);
            }
        }
        for (int k = 0; k < bp.n; k++) {
            yaml_node_t *b = find_best(y, bp.v[k], bm.v[k]);
            if (!b) continue;
            int kind = kind_of(bm.v[k]);
            fmt_at(buf, sizeof buf, y, b, "best", "best_epoch", kind);
            grid_set(&g, i + 1, 3 + fk.n + 2 * k, buf);
            fmt_at(buf, sizeof buf, y, b, "last", "last_epoch", kind);
            grid_set(&g, i + 1, 4 + fk.n + 2 * k, buf);
        }
    }
    if (!g.oom) {
        grid_print_text(out, &g);
        rc = 0;
    }
    grid_free(&g);
out:
    sl_free(&fk);
    sl_free(&bp);
    sl_free(&bm);
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
        names[i] = xstrndup(d, n);
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
        stable *T;
        int nt;
        char *summary;
        if (read_sweep(&Y[i], &T, &nt, &summary)) { failed = 1; continue; }
        const char *recipe = kd_yscalar(kd_yget(&Y[i], Y[i].root, "recipe", &(int){ 0 }));
        if (printed++) fputc('\n', out);
        if (print_sweep_text(out, names[i], recipe, summary, T, nt)) {
            if (err) fprintf(err, "report: out of memory\n");
            failed = 1;
        }
        for (int k = 0; k < nt; k++) stable_free(&T[k]);
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
