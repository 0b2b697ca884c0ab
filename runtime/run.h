/* run.h — the shared run context of kd_run (internal to runtime/).
 *
 * The rooms of a run, from the bottom up (each uses only those above it):
 *   run.c       the run itself: messages (run_fail), metric rows, the store
 *               of trained parameters, constants of the recipe, data sets,
 *               a phase's graph (pgraph) and moving parameters in and out
 *   run_plan.c  a phase's settings, optimizer, schedules, checks before work
 *   state.c     checkpoints, the resumable state, resuming
 *   routes.c    checkpoint routes and pools of checkpoints
 *   evaluate.c  metrics of models over a split, the report's evaluations
 *   run_dir.c   what a run writes: report.yaml, metrics.csv, curves.svg
 *   train.c     the training loop (run_phase) and kd_run
 */
#ifndef KD_RUN_H
#define KD_RUN_H

#include <stdint.h>
#include <stdio.h>

#include "train.h"
#include "graph.h"
#include "exec.h"
#include "optim.h"
#include "safetensors.h"
#include "report.h"
#include "metrics.h"
#include "../data/data.h"

#define MAX_MODELS 16
#define MAX_EVALS 8

typedef struct stored { char *name; float *v; int64_t n; } stored;

typedef struct dataset {
    const kdr_node *decl;
    kd_dataset ds;
    int naug_train;
    kd_aug aug[KD_MAX_AUG];          /* for the split named in aug_split */
    char aug_split[64];
    int nnorm;
    float mean[KD_MAX_CHANNELS], std[KD_MAX_CHANNELS];
} dataset;

typedef kd_metric_row metric_row;  /* report.h */

typedef struct run {
    const kdr_program *p;
    const kd_run_opts *o;
    kdr_diag *d;
    const kdr_unit *unit;            /* for located messages: set per statement */
    stored *store;
    int nstore, capstore;
    dataset data[8];
    int ndata;
    char dir[1024];                  /* run directory */
    metric_row *rows;
    int nrows, caprows;
    double t0, wall_before;          /* wall time of the run before a resume */
    int status;                      /* first failure status */
    int phase_idx;                   /* index in phase_order of the phase running */
    int done;                        /* phases and report finished */
    /* a resumed run: where to continue, from run_dir/state.safetensors */
    kd_st_file *state;
    int resume_phase;
    int64_t resume_epoch, resume_step, resume_n, resume_optim_steps;
    double resume_sum;
    uint64_t resume_exec_step;
    int anchor_cur, anchor_since;    /* a route being followed (saved in the state) */
    int resume_anchor, resume_anchor_since;
} run;

/* ---- a phase's graph --------------------------------------------------------------- */

typedef struct pmodel {
    const char *name;
    const kdr_node *decl;
    int index;                       /* model index in the graph */
    int32_t input, out;
    int trained;
} pmodel;

typedef struct peval {
    int models[MAX_MODELS];          /* indices into pmodels */
    int nmodels;
    dataset *D;
    const char *split;
    const kdr_node *at;
    int top5;
} peval;

typedef struct pgraph {
    kd_graph *g;
    kd_exec *e;
    pmodel m[MAX_MODELS];
    int nm;
    int32_t label, loss;
    int32_t terms[32];               /* the loss's terms (ce, kd, ...), roots */
    int nterms;
    int64_t batch;
    int64_t classes;
} pgraph;

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

/* A phase's settings, as written (see plan_phase_settings). */
typedef struct psettings {
    const kdr_node *train, *loss, *optimizer, *lr, *checkpoint;
    const kdr_node *follows;              /* teacher follows POOL(...) */
    const kdr_node *losses[MAX_MODELS];   /* the loss, or one per model */
    const char *owner[MAX_MODELS];        /* per-model: the model; else NULL */
    int nloss;
    const kdr_node *teachers[MAX_MODELS];
    int nteachers;
    const kdr_node *evals[MAX_EVALS];
    int nevals;
    int64_t epochs, batch, seed;
} psettings;

/* A checkpoint route: the phase that writes it, the model it holds, the
 * epochs it saves (every N and the last) and what it keeps. */
typedef struct route_info {
    const char *name;
    const kdr_node *phase;
    const char *model;
    int64_t epochs, every, keep_last;
} route_info;

/* A pool of checkpoints of one route, and how a phase follows it. */
typedef struct pool_run {
    const char *name;
    route_info route;
    int64_t epochs[1024];            /* the anchors: route epochs, in order */
    int n;
    int greedy;
    double threshold;
    int64_t patience;
    kdr_node decl;                   /* the route's model, named like the pool */
    int model;                       /* index in the phase's models */
    int cur, loaded, since;          /* current anchor, the one in the graph, epochs on it */
} pool_run;

/* ---- run.c: the run, its messages, rows and store ---------------------------------- */

double run_now(void);
int run_mkdirs(const char *path);
/* a located error (at in R->unit; NULL: none); the first status is kept; -1 */
int run_fail(run *R, int status, const kdr_node *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void run_add_row(run *R, const char *phase, int64_t epoch, const char *what, double v);
stored *run_store_find(run *R, const char *name);
int run_store_put(run *R, const char *name, const float *v, int64_t n);
void run_free(run *R);

/* constant expressions of the recipe (settings, arguments) */
int run_const_num(run *R, const kdr_node *e, double *out, int depth);
int run_const_int(run *R, const kdr_node *e, int64_t *out, int64_t lo);
const kdr_node *run_arg(const kdr_node *call, const char *name, int pos);
int run_arg_num(run *R, const kdr_node *call, const char *name, int pos, double def, double *out);
const char *run_call_name(const kdr_node *e);

/* data sets, loaded once on first use */
dataset *run_load_data(run *R, const char *name, const kdr_node *at);
dataset *run_data_ref(run *R, const kdr_node *e, const char **split);
void run_loader_cfg(const dataset *D, const char *split, int64_t batch, uint64_t seed,
                    int training, kd_loader_cfg *c);

/* a phase's graph */
void pgraph_free(pgraph *G);
int pgraph_add_model_decl(run *R, pgraph *G, const kdr_node *at, const kdr_node *decl, int trained);
int pgraph_add_model(run *R, pgraph *G, const kdr_node *at, const char *name, int trained);
int pgraph_build(run *R, pgraph *G, const dataset *D, const kdr_node *const *losses,
                 const char *const *owner, int nloss, const kdr_unit *loss_unit, const char *path);
int pgraph_bn_base(const kd_graph *g, const kd_node *n, char *buf, size_t len);
int pgraph_load_store(run *R, pgraph *G);
int pgraph_save_store(run *R, pgraph *G, int only_trained);
void pgraph_feed(pgraph *G, const kd_batch *b);
void pgraph_init_salts(pgraph *G);

/* ---- run_plan.c: settings before work ----------------------------------------------- */

int plan_phase_settings(run *R, const kdr_node *ph, psettings *S);
int plan_preflight(run *R);
int plan_optimizer(run *R, const kdr_node *call, kd_optim_cfg *cfg);
int plan_lr_sched(run *R, const kdr_node *call, int64_t epochs, kd_lr_sched *s, int depth);
int plan_weights(run *R, const kd_graph *g, kd_weight_sched *ws);
void plan_weight_set(pgraph *G, const kd_weight_sched *ws, int64_t ep);

/* ---- state.c: checkpoints and the resumable state ---------------------------------- */

int state_save_checkpoint(run *R, pgraph *G, const char *route, int64_t epoch, const char *phase);
int state_save(run *R, kd_optim *opt, int64_t epoch, int64_t step, double sum, int64_t n,
               uint64_t exec_step, const char *phase);
int state_load(run *R);
int state_resume_optimizer(run *R, kd_optim *opt);
int state_load_checkpoint_into(run *R, pgraph *G, const char *path, const char *from, const char *to);

/* ---- routes.c: checkpoint routes and pools ------------------------------------------ */

int route_find(run *R, const char *name, const kdr_node *at, route_info *ri);
int route_of_model(run *R, const char *model, const kdr_node *cur, const kdr_node *at, route_info *ri);
void route_path(run *R, const route_info *ri, int64_t epoch, char *buf, size_t n);
int route_check_epoch(run *R, const route_info *ri, int64_t epoch, const kdr_node *at);
int pool_setup(run *R, const kdr_node *follows, int64_t phase_epochs, pool_run *pr);
int pool_anchor(const pool_run *pr, int64_t ep, int64_t epochs);
void pool_after_epoch(pool_run *pr, double loss);

/* ---- evaluate.c: metrics over a split ------------------------------------------------ */

double evsum_metric(const evsum *e, const char *name, int64_t k, const char **why);
const char *eval_metric_ref(const kdr_node *mt, char *buf, size_t n, int64_t *k);
int eval_split(run *R, pgraph *G, const peval *ev, evsum *out);
int eval_epoch(run *R, pgraph *G, const peval *ev, const kdr_node *ph, int64_t epoch, int first,
               char *line, size_t cap, size_t *o);
int eval_report(run *R, const kdr_node *rep, FILE *table);

/* ---- run_dir.c: what a run writes ---------------------------------------------------- */

void run_dir_write(run *R);          /* report.yaml, metrics.csv, curves.svg */
void run_dir_write_curves(run *R);   /* metrics.csv, curves.svg */
void run_dir_print_results(run *R, const char *table, size_t tlen);
void run_dir_finals(run *R, kd_run_result *out);

#endif
