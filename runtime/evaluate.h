/* evaluate.h — metrics of models over a split (internal to runtime/). */
#ifndef KD_EVALUATE_H
#define KD_EVALUATE_H

#include "run_plan.h"
#include "textbuf.h"
#include "task.h"

/* What eval_split() measures for one model on a split, as the data's task
 * (task.h) accumulates it: top-1/top-5 and the ranks of the targets
 * (classifier or next-item scores [N, K] against the labels), or PSNR and
 * SSIM of the output against the clean images (restoration data). */
typedef kd_task_sums evsum;

/* The metrics of each model of ev on its split; with pics (NULL: none),
 * the task keeps a few samples and the models' outputs on them. */
int eval_split(run *R, pgraph *G, const peval *ev, evsum *out, kd_task_pics *pics);
/* The value of metric `name` (@k for hr, ndcg, mrr) from an evsum; 0 and
 * *why set when this data cannot give it. */
double evsum_metric(const evsum *e, const char *name, int64_t k, const char **why);
/* A phase's `evaluate` after epoch `epoch` (1-based): metric rows, and the
 * values appended to the epoch's line (line[*o ...]); first: the first
 * epoch evaluated (warnings are given once). */
int eval_epoch(run *R, pgraph *G, const peval *ev, const plan_phase *P, int64_t epoch, int first,
               char *line, size_t cap, size_t *o);
/* The report's evaluations: metric rows, and a line per model in table. */
int eval_report(run *R, const plan_report *rep, kd_strbuf *table);

#endif
