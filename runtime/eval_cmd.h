/* eval_cmd.h — `kdrun eval RECIPE.kdr --model NAME=FILE ... [--on DATA.SPLIT]
 * [--metrics M,...]`: the recipe's report (or the given evaluation) on
 * given weights, no phase runs. */
#ifndef KD_EVAL_CMD_H
#define KD_EVAL_CMD_H

#include <stddef.h>

#define KD_EVAL_MAX 16

typedef struct kd_eval_opts {
    int nmodels;                     /* --model NAME=FILE */
    const char *models[KD_EVAL_MAX], *files[KD_EVAL_MAX];
    const char *on;                  /* --on DATA.SPLIT or SPLIT, or NULL: the report */
    const char *metrics[32];         /* --metrics a,b (with --on; default top1) */
    int nmetrics;
    char metrics_buf[512];
} kd_eval_opts;

/* argv[1] is "eval": take out "eval" and the eval options (in place; the
 * rest is kdrun's usual command line).  -1 to go on, else 2 with a
 * message in err. */
int kd_eval_args(int *argc, char **argv, kd_eval_opts *e, char *err, size_t n);

/* In a run (kd_run with o->eval): check that every evaluated model has
 * weights and, with --on, replace the plan's reports with that one
 * evaluation.  0, or -1 with the run failed. */
struct run;
struct kd_plan;
int eval_cmd_plan(struct run *R, struct kd_plan *plan);

#endif
