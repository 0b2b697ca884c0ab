/* table.h — tables as kdrun prints them, shared by `kdrun report`
 * (report_load.c) and the sweep report (sweep_report.c): the number
 * formats of metrics, a grid of strings printed as aligned text or as
 * GitHub Markdown, a list of distinct strings, and the tables of a sweep
 * (mean ± std cells) with their printers.
 *
 * Number formats (see report.h): a name ending in top1/top5 (or with the
 * word top1/top5) is a percentage, "%.2f"; one ending in params/macs is a
 * count, "%.0f"; anything else "%.4g".
 */
#ifndef KD_TABLE_H
#define KD_TABLE_H

#include <stddef.h>
#include <stdio.h>

#include "textbuf.h"

#define KD_MDASH "\xe2\x80\x94"     /* — */
#define KD_PM "\xc2\xb1"            /* ± */
#define KD_TIMES "\xc3\x97"         /* × */

/* ---- metric values -------------------------------------------------------- */

enum { KD_KIND_OTHER, KD_KIND_PCT, KD_KIND_COUNT };

/* The kind of a metric or final key by its name (NULL: other). */
int kd_metric_kind(const char *name);
/* A value as the tables print it: nan, inf, -inf, or by kind. */
void kd_fmt_value(char *buf, size_t len, double v, int kind);

/* ---- grids ------------------------------------------------------------------- */

/* A table of strings; row 0 is the header.  Column 0 is left-aligned,
 * the others are right-aligned unless left[c]. */
typedef struct kd_grid {
    int nr, nc;
    char **c;                  /* nr * nc, owned */
    unsigned char *left;       /* nc */
    int oom;                   /* a kd_grid_set ran out of memory */
} kd_grid;

/* An empty nr x nc grid.  0, or -1 (out of memory). */
int kd_grid_init(kd_grid *g, int nr, int nc);
/* Set a cell to a copy of s (NULL: empty); control characters (a terminal
 * would obey them) become '?'. */
void kd_grid_set(kd_grid *g, int r, int c, const char *s);
const char *kd_grid_get(const kd_grid *g, int r, int c);
void kd_grid_free(kd_grid *g);
/* Aligned plain text, two spaces between columns, a rule under the
 * header, no trailing blanks; widths count code points. */
void kd_grid_print_text(FILE *f, const kd_grid *g);
/* The same, in blocks of columns at most maxw wide (a column wider than
 * that alone), each block led by the first nkey columns again, a blank
 * line between blocks. */
void kd_grid_print_text_wrap(FILE *f, const kd_grid *g, int nkey, size_t maxw);
/* A GitHub Markdown table (cells escaped).  0, or -1 (out of memory). */
int kd_grid_print_md(FILE *f, const kd_grid *g);
/* Markdown cell text: escapes what GitHub would read as markup.  NULL if
 * out of memory. */
char *kd_md_escape(const char *s);

/* ---- lists of names ------------------------------------------------------------ */

/* A list of distinct strings in first-seen order. */
typedef struct kd_strlist {
    char **v;
    int n, cap;
} kd_strlist;

/* Index of s, or -1. */
int kd_sl_find(const kd_strlist *l, const char *s);
/* Index of s, added (copied) if absent; -1 if memory ran out. */
int kd_sl_add(kd_strlist *l, const char *s);
void kd_sl_free(kd_strlist *l);
/* Sort numerically if every entry is a finite number (stable); else keep
 * the order.  0, or -1 (out of memory). */
int kd_sl_sort_numeric(kd_strlist *l);

/* ---- the tables of a sweep ------------------------------------------------------- */

typedef struct kd_scell {
    char *metric;
    int n;                     /* values that count */
    int expected;              /* points that match the row/col values */
    double mean, std;
    double *vals;              /* n */
} kd_scell;

typedef struct kd_stable {
    char *title;
    char *rows, *cols;         /* variable names, "" if none */
    char *metric;              /* rows and cols: the one metric; else "" */
    int nr, nc;
    char **rlab, **clab;
    kd_scell *cells;           /* nr * nc */
} kd_stable;

void kd_stable_free(kd_stable *t);
/* The title, then the table as aligned text.  0, or -1 (out of memory). */
int kd_stable_print_text(FILE *f, const kd_stable *t);
/* "### title" and the Markdown table.  0, or -1 (out of memory). */
int kd_stable_print_md(FILE *f, const kd_stable *t);

/* "6 points: 5 ok, 1 failed" (known statuses first: ok, failed,
 * interrupted; a NULL status counts as "unknown"). */
void kd_sweep_summary(kd_strbuf *b, int npts, const char *const *status);
/* "sweep DIR (RECIPE), SUMMARY" and every table, as the terminal shows
 * them.  0, or -1 (out of memory). */
int kd_sweep_print_text(FILE *f, const char *dir, const char *recipe, const char *summary,
                        const kd_stable *T, int nt);

#endif
