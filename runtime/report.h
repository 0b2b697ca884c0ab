/* report.h — what a run leaves for people to read: learning curves as SVG,
 * the one-table summary of `kdrun report RUN_DIR...`, and the tables of a
 * sweep (mean ± std over seeds).
 *
 * Where each lives: kd_plot_svg in plot_svg.c, kd_report_cmd in
 * report_load.c, kd_sweep_report in sweep_report.c; the tables both of the
 * last two print are table.c's (table.h).
 *
 * Nothing here trains or touches the graph: the inputs are metric rows (as
 * train.c collects them), report.yaml files written by train.c or by
 * kd_sweep_report(), and the final metrics of a sweep's points.
 *
 * Number formats, everywhere: a key or metric whose name ends in top1/top5
 * (or contains the word top1/top5) is a percentage, printed with two
 * decimals; one ending in params/macs is a count, printed as an integer;
 * anything else is printed with %.4g.
 */
#ifndef KD_REPORT_H
#define KD_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct kd_metric_row {
    char phase[64];     /* phase name, or "report" for final evaluation rows */
    int64_t epoch;      /* 1-based; 0 for report rows */
    char what[160];     /* "train loss", "student top1 on fmnist.val", ... */
    double value;
} kd_metric_row;

/* Learning curves as one standalone SVG document (UTF-8 XML, no external
 * resources).  Left panel: "train loss" (and "train loss (STEP)") of each
 * phase; middle panel: every other per-epoch row (phase != "report");
 * when there are any, a third panel on the right: the architecture weights
 * of searches ("NAME softmax(alpha)[k]" rows); then, when there are any,
 * a panel of the "images/s" rows (a run's timing.csv, which run_dir.c adds
 * to the rows it draws: kd_rows_with_timing).  One polyline with markers per
 * "<phase>: <what>" series, against a global epoch axis on which phase k's
 * epochs follow phase k-1's (phases in first-seen order; a phase spans as
 * many epochs as its largest epoch).  NaN and infinite values are skipped;
 * rows of phase "report" or with epoch < 1 are not plotted.  Text is
 * XML-escaped (bytes that are not valid UTF-8 become '?').  title may be
 * NULL.  Returns 0, or -1 if writing failed (or memory ran out). */
int kd_plot_svg(FILE *out, const kd_metric_row *rows, int n, const char *title);

/* `kdrun report DIR...`: reads each DIR/report.yaml and prints to out one
 * aligned table with a row per run (run directory, status, wall time, one
 * column per key of `final:` (union over the runs, first-seen order) and a
 * best/last pair per entry of `best:`, printed "72.00 @ep6"; blank where a
 * run lacks the key).  Wall time: "42.0s", "2m03s", "1h02m".  A DIR whose
 * report.yaml has `points:` is a sweep: its tables are printed instead
 * (after the run table).  Each unreadable or invalid DIR gets one line on err naming the
 * file and the problem, e.g.
 *     runs/x/report.yaml:4:15: 'wall_seconds' is not a number: 'soon'
 * and the others are still reported.  Returns 0, or 1 if any DIR failed. */
int kd_report_cmd(int ndirs, char *const *dirs, FILE *out, FILE *err);

/* One point of a sweep, as the sweep driver knows it after running it. */
typedef struct kd_sweep_point {
    const char *dir;             /* sub-run directory name, e.g. "teacher_depth=14,seed=2" */
    int nvars;
    const char *const *vars;     /* sweep variable names */
    const char *const *values;   /* their values at this point, as text ("14", "2") */
    const char *status;          /* "ok", "failed", "interrupted" */
    int nfinal;
    const char *const *final_keys;  /* "student.top1", "teacher.params", ... */
    const double *final_values;
} kd_sweep_point;

/* One `table` line of a sweep:
 *   rows R, cols C: one table per value, rows = R's values, cols = C's;
 *   rows R only:    rows = R's values, cols = the values listed;
 *   cols C only:    rows = the values listed, cols = C's values;
 *   neither:        rows = the values listed, one column.
 * nvalues == 0 means every final key of the points (first-seen order). */
typedef struct kd_table_spec {
    const char *rows;            /* a sweep variable, or NULL */
    const char *cols;            /* a sweep variable, or NULL */
    int nvalues;
    const char *const *values;   /* "student.top1", ... */
} kd_table_spec;

/* Writes DIR/report.yaml (recipe, variables, every point, every table with
 * its cells) and DIR/tables.md (GitHub Markdown), each atomically (textbuf.h:
 * kd_write_atomic), and prints the tables to term (NULL: print nothing).
 * A cell is mean ± std (sample std, n-1; the mean alone when n = 1) over the
 * points with status "ok" that match its row/col values and have the key;
 * "(n=K)" follows when fewer than all matching points count; "—" when none.
 * Row/col values come in first-seen order, sorted numerically when all of
 * them are numbers.  nspecs == 0: one table of every final key.
 * Returns 0, or -1 with a one-line message in err (errlen bytes, may be 0)
 * if a spec names no sweep variable or a file cannot be written. */
int kd_sweep_report(const char *dir, const char *recipe, const kd_sweep_point *pts, int npts,
                    const kd_table_spec *specs, int nspecs, FILE *term, char *err, size_t errlen);

#endif
