/* run_dir.c — what a run writes in its directory: report.yaml,
 * metrics.csv and curves.svg (atomically), and the run directory itself.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "run_dir.h"
#include "run_logs.h"
#include "sha256.h"
#include "textbuf.h"
#include "yaml_io.h"
#include "dp.h"
#include "teacher_cache.h"

int kd_make_run_dir(const char *runs_dir, const char *recipe, char *dir, size_t dirlen,
                    char *err, size_t errlen)
{
    const char *base = strrchr(recipe, '/');
    base = base ? base + 1 : recipe;
    char name[256];
    snprintf(name, sizeof name, "%s", base);
    char *dot = strrchr(name, '.');
    if (dot && strcmp(dot, ".kdr") == 0) *dot = 0;
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    char stamp[64];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    size_t need = strlen(runs_dir) + strlen(name) + strlen(stamp) + 6;   /* "/", "/", "-NN" */
    if (need > KD_RUN_DIR_MAX || need >= dirlen) {
        snprintf(err, errlen, "the run directory %s/%s/%s would be %zu bytes long, over the %d a run "
                 "directory may have: set KDRUN_RUNS to a shorter path", runs_dir, name, stamp, need,
                 KD_RUN_DIR_MAX);
        return -1;
    }
    for (int k = 0; k < 100; k++) {
        if (k == 0) snprintf(dir, dirlen, "%s/%s/%s", runs_dir, name, stamp);
        else snprintf(dir, dirlen, "%s/%s/%s-%d", runs_dir, name, stamp, k + 1);
        char parent[1100];
        snprintf(parent, sizeof parent, "%s/%s", runs_dir, name);
        if (run_mkdirs(parent)) break;
        if (mkdir(dir, 0777) == 0) return 0;
        if (errno != EEXIST) break;
    }
    snprintf(err, errlen, "cannot create the run directory %s: %s", dir, strerror(errno));
    return -1;
}

void kd_recipe_hash(const kdr_program *p, char hex[65])
{
    kd_sha256 h;
    kd_sha256_init(&h);
    for (size_t u = 0; u < p->nunits; u++) {
        const kdr_unit *un = p->units[u];
        if (!un) continue;
        /* contents only: the same recipe named by another path is the same */
        char len[32];
        snprintf(len, sizeof len, "%zu:", un->src ? un->len : 0);
        kd_sha256_update(&h, len, strlen(len));
        if (un->src) kd_sha256_update(&h, un->src, un->len);
    }
    kd_sha256_hex(&h, hex);
}

static int run_dir_emit_csv(FILE *f, void *arg);
static int run_dir_emit_svg(FILE *f, void *arg);

/* path through fn (textbuf.h's one atomic writer) */
static int run_dir_write_atomic(run *R, const char *path, kd_write_fn fn)
{
    char err[1400];
    if (kd_write_atomic(path, fn, R, err, sizeof err)) return run_fail(R, KD_RUN_FAILED, NULL, "%s", err);
    return 0;
}

/* the final metrics by "model.metric", from the report's rows
 * ("student top1 on fmnist.test"); a later row of the same key wins */
void run_dir_finals(run *R, kd_run_result *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < R->nrows; i++) {
        if (strcmp(R->rows[i].phase, "report") != 0) continue;
        char model[96], metric[96];
        if (sscanf(R->rows[i].what, "%95s %95s", model, metric) != 2) continue;
        char key[96];
        snprintf(key, sizeof key, "%.40s.%.50s", model, metric);
        int k = 0;
        while (k < out->nfinal && strcmp(out->keys[k], key) != 0) k++;
        if (k == KD_RUN_MAX_FINAL) continue;
        if (k == out->nfinal) snprintf(out->keys[out->nfinal++], sizeof out->keys[0], "%s", key);
        out->values[k] = R->rows[i].value;
    }
}

/* If row i is the first row of an evaluated series (a phase's per-epoch
 * metric other than the loss): its best (highest) and last values. */
typedef struct best_last { double best, last; int64_t best_epoch, last_epoch; } best_last;

static int run_dir_series_best(run *R, int i, best_last *bl)
{
    const metric_row *r = &R->rows[i];
    if (r->epoch <= 0 || !strstr(r->what, " on ")) return -1;   /* evaluations only */
    for (int k = 0; k < i; k++)
        if (R->rows[k].epoch > 0 && !strcmp(R->rows[k].phase, r->phase) && !strcmp(R->rows[k].what, r->what))
            return -1;
    bl->best = bl->last = r->value;
    bl->best_epoch = bl->last_epoch = r->epoch;
    for (int k = i + 1; k < R->nrows; k++) {
        const metric_row *q = &R->rows[k];
        if (q->epoch <= 0 || strcmp(q->phase, r->phase) || strcmp(q->what, r->what)) continue;
        if (q->value > bl->best) { bl->best = q->value; bl->best_epoch = q->epoch; }
        bl->last = q->value;
        bl->last_epoch = q->epoch;
    }
    return 0;
}

static int run_dir_emit_yaml(FILE *f, void *arg)
{
    run *R = arg;
    kd_yemit em;
    if (kd_ye_open(&em, f, 0)) return -1;
    kd_ye_map(&em, 0);
    char hex[65];
    kd_recipe_hash(R->p, hex);
    kd_ye_str(&em, "recipe"); kd_ye_str(&em, R->o->recipe);
    kd_ye_str(&em, "recipe_sha256"); kd_ye_str(&em, hex);
    kd_ye_str(&em, "kdrun"); kd_ye_str(&em, PACKAGE_VERSION);
    kd_ye_str(&em, "threads"); kd_ye_num_prec(&em, R->o->nthreads, 10);
    kd_ye_str(&em, "blas"); kd_ye_str(&em, kd_blas_kernels());
    kd_ye_str(&em, "conv"); kd_ye_str(&em, kd_conv_kernels());
    if (R->o->nsweep > 0) {
        kd_ye_str(&em, "sweep");
        kd_ye_map(&em, 0);
        for (int i = 0; i < R->o->nsweep; i++) {
            kd_ye_str(&em, R->o->sweep_vars[i]);
            kd_ye_str(&em, R->o->sweep_values[i]);
        }
        kd_ye_map_end(&em);
    }
    kd_ye_str(&em, "wall_seconds"); kd_ye_num_prec(&em, R->wall_before + run_now() - R->t0, 10);
    kd_ye_str(&em, "status");
    kd_ye_str(&em, R->status == KD_RUN_INTERRUPTED ? "interrupted" : R->status ? "failed" : "ok");
    char err[1200];
    if (R->status && run_error_text(R, err, sizeof err)) { kd_ye_str(&em, "error"); kd_ye_str(&em, err); }
    kd_ye_str(&em, "metrics");
    kd_ye_seq(&em, 0);
    for (int i = 0; i < R->nrows; i++) {
        kd_ye_map(&em, 0);
        kd_ye_str(&em, "phase"); kd_ye_str(&em, R->rows[i].phase);
        if (R->rows[i].epoch) { kd_ye_str(&em, "epoch"); kd_ye_num_prec(&em, (double)R->rows[i].epoch, 10); }
        kd_ye_str(&em, "metric"); kd_ye_str(&em, R->rows[i].what);
        kd_ye_str(&em, "value"); kd_ye_num_prec(&em, R->rows[i].value, 10);
        kd_ye_map_end(&em);
    }
    kd_ye_seq_end(&em);
    kd_run_result fin;
    run_dir_finals(R, &fin);
    kd_ye_str(&em, "final");
    kd_ye_map(&em, 0);
    for (int i = 0; i < fin.nfinal; i++) { kd_ye_str(&em, fin.keys[i]); kd_ye_num_prec(&em, fin.values[i], 10); }
    kd_ye_map_end(&em);
    kd_ye_str(&em, "best");
    kd_ye_seq(&em, 0);
    for (int i = 0; i < R->nrows; i++) {
        best_last bl;
        if (run_dir_series_best(R, i, &bl)) continue;
        kd_ye_map(&em, 0);
        kd_ye_str(&em, "phase"); kd_ye_str(&em, R->rows[i].phase);
        kd_ye_str(&em, "metric"); kd_ye_str(&em, R->rows[i].what);
        kd_ye_str(&em, "best"); kd_ye_num_prec(&em, bl.best, 10);
        kd_ye_str(&em, "best_epoch"); kd_ye_num_prec(&em, (double)bl.best_epoch, 10);
        kd_ye_str(&em, "last"); kd_ye_num_prec(&em, bl.last, 10);
        kd_ye_str(&em, "last_epoch"); kd_ye_num_prec(&em, (double)bl.last_epoch, 10);
        kd_ye_map_end(&em);
    }
    kd_ye_seq_end(&em);
    if (R->ntnotes > 0) {      /* what the phases' teacher caches did (teacher_cache.h) */
        kd_ye_str(&em, "teacher_cache");
        kd_ye_seq(&em, 0);
        for (int i = 0; i < R->ntnotes; i++) {
            const tcache_note *t = &R->tnotes[i];
            kd_ye_map(&em, 0);
            kd_ye_str(&em, "phase"); kd_ye_str(&em, t->phase);
            kd_ye_str(&em, "data"); kd_ye_str(&em, t->data);
            kd_ye_str(&em, "state"); kd_ye_str(&em, t->on ? "on" : "off");
            if (!t->on) { kd_ye_str(&em, "reason"); kd_ye_str(&em, t->why); }
            kd_ye_str(&em, "record_bytes"); kd_ye_num_prec(&em, (double)t->st.record_bytes, 15);
            kd_ye_str(&em, "macs_per_step"); kd_ye_num_prec(&em, (double)t->st.macs_saved, 15);
            if (t->on) {
                kd_ye_str(&em, "samples_kept"); kd_ye_num_prec(&em, (double)t->st.kept, 15);
                kd_ye_str(&em, "bytes_kept");
                kd_ye_num_prec(&em, (double)t->st.kept * (double)t->st.record_bytes, 15);
                kd_ye_str(&em, "steps_served"); kd_ye_num_prec(&em, (double)t->st.hits, 15);
                kd_ye_str(&em, "steps_run"); kd_ye_num_prec(&em, (double)t->st.misses, 15);
                kd_ye_str(&em, "fill_passes"); kd_ye_num_prec(&em, (double)t->passes, 15);
                kd_ye_str(&em, "records_dropped"); kd_ye_num_prec(&em, (double)t->st.drops, 15);
            }
            kd_ye_map_end(&em);
        }
        kd_ye_seq_end(&em);
    }
    kd_ye_map_end(&em);
    return kd_ye_close(&em);   /* an explicit "...": a cut file is detectable */
}

static int run_dir_emit_svg(FILE *f, void *arg)
{
    run *R = arg;
    int n;   /* with the epochs' images/s from timing.csv (curves.svg only) */
    kd_metric_row *rows = kd_rows_with_timing(R->dir, R->rows, R->nrows, &n);
    int rc = rows ? kd_plot_svg(f, rows, n, R->o->recipe) : kd_plot_svg(f, R->rows, R->nrows, R->o->recipe);
    free(rows);
    return rc;
}

static int run_dir_emit_csv(FILE *f, void *arg)
{
    run *R = arg;
    fprintf(f, "phase,epoch,metric,value\n");
    for (int i = 0; i < R->nrows; i++)
        fprintf(f, "%s,%lld,\"%s\",%.10g\n", R->rows[i].phase, (long long)R->rows[i].epoch,
                R->rows[i].what, R->rows[i].value);
    return ferror(f) ? -1 : 0;
}

/* metrics.csv and curves.svg: the curves so far */
void run_dir_write_curves(run *R)
{
    if (!kd_dp_writer(R)) return;              /* data-parallel: rank 0 writes */
    char path[1200];
    snprintf(path, sizeof path, "%s/metrics.csv", R->dir);
    run_dir_write_atomic(R, path, run_dir_emit_csv);
    snprintf(path, sizeof path, "%s/curves.svg", R->dir);
    run_dir_write_atomic(R, path, run_dir_emit_svg);
}

/* everything a run writes at its end; report.yaml last, so that its
 * status says whether the others were written (a full disk fails the run) */
void run_dir_write(run *R)
{
    if (!kd_dp_writer(R)) return;
    char path[1200];
    run_dir_write_curves(R);
    snprintf(path, sizeof path, "%s/report.yaml", R->dir);
    run_dir_write_atomic(R, path, run_dir_emit_yaml);
}

/* the results on stdout: the report's table (or its rows) and the best
 * epoch of every evaluated series when it is not the last */
void run_dir_print_results(run *R, const char *table, size_t tlen)
{
    if (!kd_dp_writer(R)) return;
    printf("results (%s):\n", R->dir);
    if (table && tlen) fputs(table, stdout);
    else
        for (int i = 0; i < R->nrows; i++)
            if (!strcmp(R->rows[i].phase, "report"))
                printf("  %-40s %g\n", R->rows[i].what, R->rows[i].value);
    for (int i = 0; i < R->nrows; i++) {
        best_last bl;
        if (run_dir_series_best(R, i, &bl) == 0 && bl.best_epoch != bl.last_epoch)
            printf("  %s, %s: best %.2f (epoch %lld), last %.2f (epoch %lld)\n", R->rows[i].phase,
                   R->rows[i].what, bl.best, (long long)bl.best_epoch, bl.last, (long long)bl.last_epoch);
    }
    fflush(stdout);
}
