/* run_logs.h — per-term losses, lr and timing of each epoch (run_logs.c). */
#ifndef KD_RUN_LOGS_H
#define KD_RUN_LOGS_H

#include "run.h"
#include "run_plan.h"
#include "report.h"

/* after a training step of epoch ep (0-based): add the loss terms' values */
void logs_step(run *R, pgraph *G, int64_t ep);
/* at the end of epoch ep, before the state is saved: the rows
 * "train loss: TERM" and "lr" of the epoch, and a line of timing.csv */
void logs_epoch_end(run *R, const plan_phase *P, pgraph *G, int64_t ep, int64_t steps);

/* the label `TERM as NAME` of the phase's loss term whose text is [beg, end)
 * in P->unit, or NULL (term_label.c) */
const char *kd_term_label(const plan_phase *P, uint32_t beg, uint32_t end);

/* rows + a row "images/s" per line of DIR/timing.csv (its phase and epoch;
 * a repeated epoch: the last line), for curves.svg; *nout rows, malloc'ed
 * (NULL: out of memory) (timing_rows.c) */
kd_metric_row *kd_rows_with_timing(const char *dir, const kd_metric_row *rows, int n, int *nout);

/* The run's first error as "file:line:col: message" (or the message), for
 * report.yaml's `error`; NULL when there is none. */
const char *run_error_text(run *R, char *buf, size_t n);

#endif
