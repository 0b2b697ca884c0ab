/* run.h — the shared run context of kd_run (internal to runtime/).
 *
 * The rooms of a run, from the bottom up (each uses only those above it):
 *   run.c       the run itself: messages (run_fail), metric rows, the store
 *               of trained parameters, constants of the recipe, data sets,
 *               a phase's graph (pgraph) and moving parameters in and out
 *   run_plan.c  the resolved plan: every phase's and report's settings as
 *               typed structs, defaults filled in, before any work
 *   state.c     checkpoints, the resumable state, resuming
 *   routes.c    following a pool of checkpoints; early-stopped teachers
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
#include "data_decl.h"
#include "phase_graph.h"

#define MAX_MODELS KD_PG_MAX_MODELS
#define MAX_EVALS 8

typedef struct stored { char *name; float *v; int64_t n; } stored;

typedef kd_data_set dataset;       /* a loaded data set (data_decl.h) */

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
    struct tcache_note *tnotes;      /* what the phases' teacher caches did (teacher_cache.h) */
    int ntnotes;
} run;

/* ---- a phase's graph --------------------------------------------------------------- */

typedef kd_pg_model pmodel;        /* a model of a phase's graph (phase_graph.h) */

typedef struct peval {
    int models[MAX_MODELS];          /* indices into pmodels */
    int nmodels;
    dataset *D;
    const char *split;
    const struct plan_eval *cfg;     /* what to measure (run_plan.h) */
} peval;

/* a phase's graph (phase_graph.h) and its executor */
typedef struct pgraph {
    kd_phase_graph pg;
    kd_exec *e;
} pgraph;

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
int run_const_num(run *R, const kdr_node *e, double *out);
int run_const_int(run *R, const kdr_node *e, int64_t *out, int64_t lo);
/* a list of numbers ([a, b], a..b, a `let` of one): up to max, count in *n */
int run_const_list(run *R, const kdr_node *e, double *xs, size_t max, size_t *n);
const kdr_node *run_arg(const kdr_node *call, const char *name, int pos);
const char *run_call_name(const kdr_node *e);

/* data sets, loaded once on first use */
dataset *run_load_data(run *R, const char *name, const kdr_node *at);
/* data set `data` with split `split` (written at `at`, a DATA.SPLIT) */
dataset *run_data_split(run *R, const char *data, const char *split, const kdr_node *at);
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
/* loss ops' state in the store (op_state.c: emd's layer weights): save
 * (1) or load (0); 0 or -1 */
int pgraph_op_states(run *R, pgraph *G, int save);
void pgraph_feed(pgraph *G, const kd_batch *b);
void pgraph_init_salts(pgraph *G);

#endif
