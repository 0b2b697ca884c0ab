/* train.h — running a checked recipe: data, phases, evaluation, report.
 *
 * kd_run() loads the data sets the phases use, runs the phases in the order
 * kdr_check() worked out, keeps every trained model's parameters (and batch
 * norm statistics) between phases, evaluates, writes checkpoints and the
 * run directory runs/<recipe>/<timestamp>/ (report.yaml, metrics.csv,
 * checkpoints/), and prints one line per epoch (a progress bar on a
 * terminal).
 */
#ifndef KD_TRAIN_H
#define KD_TRAIN_H

#include <stddef.h>
#include <stdint.h>
#include "../lang/kdr.h"

#define KD_RUN_MAX_FINAL 64

/* What a finished run measured: the report's `evaluate` values by
 * "model.metric" (student.top1, student.params, ...). */
typedef struct kd_run_result {
    int nfinal;
    char keys[KD_RUN_MAX_FINAL][96];
    double values[KD_RUN_MAX_FINAL];
} kd_run_result;

typedef struct kd_run_opts {
    const char *recipe;       /* path of the recipe (names the run directory) */
    const char *runs_dir;     /* default "runs" */
    const char *run_dir;      /* the run directory (made by kd_make_run_dir) */
    int resume;               /* continue from run_dir/state.safetensors if present */
    int nsweep;               /* this run is one point of a sweep: */
    const char *const *sweep_vars, *const *sweep_values;
    kd_run_result *result;    /* filled when not NULL */
    int nthreads;             /* >= 1 */
    int64_t seed;             /* default seed for phases without one; -1: none given */
    int quiet;                /* errors only */
    int progress;             /* 1: a progress bar on stderr (a terminal) */
    const struct kd_eval_opts *eval;   /* kdrun eval: no phase runs (eval_cmd.h) */
    int dp;                   /* 1: data-parallel over the MPI ranks (runtime/dp.h) */
    int sync_bn;              /* data-parallel: batch norm over every rank's rows */
    int64_t teacher_cache;    /* the teacher cache's cap in bytes (runtime/teacher_cache.h);
                               * 0: the default, -1: off */
} kd_run_opts;

/* Exit statuses (the same as kdrun's). */
enum { KD_RUN_OK = 0, KD_RUN_FAILED = 1, KD_RUN_RECIPE = 3, KD_RUN_DATA = 4,
       KD_RUN_INTERRUPTED = 130 };

/* Run the program in o->run_dir; messages go to d (located where they
 * come from the recipe).  Returns one of the statuses above.
 *
 * Resumable state: at the end of every epoch (and on SIGINT, mid-epoch)
 * the run writes run_dir/state.safetensors atomically: every trained
 * parameter and batch-norm statistic so far, the optimizer's buffers, the
 * step counters, the loss sums of the epoch in progress and every metric
 * row.  With o->resume, kd_run loads it, skips the finished phases and
 * continues the phase in progress from the recorded epoch and step; the
 * data order, augmentation and dropout masks are keyed by (seed, epoch,
 * step), so the resumed run ends with the same numbers, bit for bit, as an
 * uninterrupted one with the same thread count. */
int kd_run(const kdr_program *p, const kd_run_opts *o, kdr_diag *d);

/* The longest run directory path: every file of a run (checkpoints/ROUTE/
 * epoch-NNN.safetensors, sweep points) must fit the run's path buffers. */
#define KD_RUN_DIR_MAX 640

/* Create runs_dir/<recipe name>/<YYYYmmdd-HHMMSS>[-N] (a fresh directory);
 * 0, or -1 with a message in err (a path over KD_RUN_DIR_MAX: nothing made). */
int kd_make_run_dir(const char *runs_dir, const char *recipe, char *dir, size_t dirlen,
                    char *err, size_t errlen);

/* The SHA-256 of the contents of the recipe and every file it uses, in
 * load order (each as "LENGTH:" and the bytes). */
void kd_recipe_hash(const kdr_program *p, char hex[65]);

#endif
