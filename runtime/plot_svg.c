/* plot_svg.c — learning curves as one standalone SVG document (curves.svg
 * of a run): a panel of train losses, a panel of the other per-epoch
 * metrics, for searches a panel of architecture weights and, in a run
 * directory, a panel of images/s per epoch (timing.csv), against a
 * global epoch axis (see kd_plot_svg in report.h).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lang/utf8.h"
#include "report.h"
#include "textbuf.h"

/* XML text: escapes markup characters, replaces control characters and
 * invalid UTF-8 with '?', cuts after maxcp code points (with "…"). */
static void xml_text(FILE *f, const char *s, size_t maxcp)
{
    size_t cp = 0;
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t left = strlen((const char *)p);
    while (*p) {
        if (cp == maxcp) { fputs("\xe2\x80\xa6", f); return; }
        uint32_t c;
        int n = kdr_utf8_len(p, left, &c);
        if (n && (c == 0xFFFE || c == 0xFFFF)) n = 0;       /* not XML characters */
        if (n == 0) { fputc('?', f); p++; left--; cp++; continue; }
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
        left -= (size_t)n;
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
    int panel;                 /* 0: train losses, 1: the others, 2: architecture weights,
                                  3: images/s (timing.csv, added by run_dir.c) */
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
    /* panels from the left: 0, 1, then the optional ones that have series */
    int slot = panel;
    if (panel == 3) {
        slot = 2;
        for (int i = 0; i < ns; i++) if (S[i].panel == 2) { slot = 3; break; }
    }
    double x0 = LEFT_X + slot * (RIGHT_X - LEFT_X);
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
            ph[nph].name = kd_xstrndup(r->phase, sizeof r->phase);
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
            S[s].phase = kd_xstrndup(r->phase, sizeof r->phase);
            S[s].what = kd_xstrndup(r->what, sizeof r->what);
            if (!S[s].phase || !S[s].what) goto out;
            /* "train loss", "train loss (arch)": the losses; a mixture's
             * "NAME softmax(alpha)[k]": the architecture weights */
            S[s].panel = strncmp(S[s].what, "train loss", 10) == 0 ? 0
                         : strstr(S[s].what, " softmax(alpha)[") ? 2
                         : strcmp(S[s].what, "images/s") == 0 ? 3 : 1;
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
    int nleg[4] = { 0, 0, 0, 0 };
    for (int s = 0; s < ns; s++) nleg[S[s].panel]++;
    int lines = 0;
    for (int k = 0; k < 4; k++) if (nleg[k] > lines) lines = nleg[k];
    int height = LEGEND_TOP + lines * LEGEND_LINE + 10;
    /* more panels to the right: searches' weights, then the throughput */
    int width = SVG_W + (nleg[2] ? RIGHT_X - LEFT_X : 0) + (nleg[3] ? RIGHT_X - LEFT_X : 0);

    fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
                 "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" "
                 "font-size=\"12\">\n", width, height, width, height);
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
    if (nleg[2]) svg_panel(out, 2, S, ns, ph, nph, &ax, total, "softmax(alpha)", "");
    if (nleg[3]) svg_panel(out, 3, S, ns, ph, nph, &ax, total, "images/s (wall clock)", "");
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
