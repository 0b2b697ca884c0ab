/* evaluate.h — metrics of models over a split (internal to runtime/). */
#ifndef KD_EVALUATE_H
#define KD_EVALUATE_H

#include "run_plan.h"
#include "textbuf.h"

/* What eval_split() measures for one model on a split: top-1/top-5 and the
 * ranks of the targets (classifier or next-item scores [N, K] against the
 * labels; among the sampled negatives when the data has them), and PSNR and
 * SSIM of the output against the clean images (restoration data). */
typedef struct evsum {
    double top1, top5;               /* % */
    int64_t nrank;                   /* rows ranked */
    int64_t rank_hist[KD_RANK_MAX + 1]; /* rows by 0-based rank; last: >= KD_RANK_MAX */
    double psnr, ssim;               /* means over images */
    int64_t nimg;
} evsum;

/* The metrics of each model of ev on its split.  A SIGINT ends it after
 * the current batch: KD_RUN_INTERRUPTED. */
int eval_split(run *R, pgraph *G, const peval *ev, evsum *out);
/* 1 once SIGINT came during kd_run (train.c) */
int run_interrupted(void);
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
