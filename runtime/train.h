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

#include <stdint.h>
#include "../lang/kdr.h"

typedef struct kd_run_opts {
    const char *recipe;       /* path of the recipe (names the run directory) */
    const char *runs_dir;     /* default "runs" */
    int nthreads;             /* >= 1 */
    int64_t seed;             /* default seed for phases without one; -1: none given */
    int quiet;                /* errors only */
    int progress;             /* 1: a progress bar on stderr (a terminal) */
} kd_run_opts;

/* Exit statuses (the same as kdrun's). */
enum { KD_RUN_OK = 0, KD_RUN_FAILED = 1, KD_RUN_RECIPE = 3, KD_RUN_DATA = 4,
       KD_RUN_INTERRUPTED = 130 };

/* Run the program; messages go to d (located where they come from the
 * recipe).  Returns one of the statuses above. */
int kd_run(const kdr_program *p, const kd_run_opts *o, kdr_diag *d);

#endif
