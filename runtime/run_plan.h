/* run_plan.h — the resolved run plan (internal to runtime/).
 *
 * plan_resolve() turns the checked program into typed structs in one pass,
 * before any work: for every phase its data, models, teachers (and the
 * route of an early-stopped one), the pool it follows, losses and their
 * owners, optimizer, learning-rate schedule, checkpoints and evaluations;
 * for every report its evaluations.  Every default of a setting comes from
 * the settings table (lang/settings.c), every default of an optimizer's or
 * a schedule's argument from its builtin (lang/builtins.c): the run has no
 * defaults of its own.  The plan never loads data, builds a graph or
 * trains; the loop (train.c), routes.c and evaluate.c take their
 * configuration from it.  Nodes kept in the plan locate messages only.
 */
#ifndef KD_RUN_PLAN_H
#define KD_RUN_PLAN_H

#include "run.h"

#define PLAN_MAX_METRICS 32

/* A metric of an `evaluate ... :` list: top1, hr (k = 10) or hr@5. */
typedef struct plan_metric {
    const char *name;                /* "top1", "hr", ...; NULL: not a metric (skipped) */
    char label[64];                  /* "top1", "hr@5" */
    int64_t k;
    const kdr_node *at;
} plan_metric;

/* `evaluate MODEL, ... on DATA.SPLIT [: metrics]` */
typedef struct plan_eval {
    const kdr_node *at;              /* the statement */
    const char *data, *split;        /* the data set and its split */
    const kdr_node *data_at;         /* DATA.SPLIT */
    const char *models[MAX_MODELS];
    const kdr_node *model_at[MAX_MODELS];
    int nmodels;
    int listed;                      /* 1: the metrics listed; 0: top1 */
    plan_metric metrics[PLAN_MAX_METRICS];
    int nmetrics;
} plan_eval;

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
    /* while the phase runs (routes.c) */
    int model;                       /* index in the phase's models */
    int cur, loaded, since;          /* current anchor, the one in the graph, epochs on it */
} pool_run;

/* `teacher M [frozen]` or `teacher M at epoch E` */
typedef struct plan_teacher {
    const char *model;
    const kdr_node *at, *model_at;
    int64_t epoch;                   /* >= 1: route's checkpoint at this epoch; 0: the stored model */
    route_info route;                /* epoch >= 1 */
} plan_teacher;

/* An optimizer unit: a set of parameters with its own optimizer, state and
 * learning-rate schedule.  "weights": every trained weight no other unit
 * takes; "arch": the architecture weights (alpha of aggregate / choice);
 * a model name: that model's weights (`optimizer M:`, `lr M:`, or a model
 * named in an `alternate` step or, in a phase with several units, in a
 * `loss M:`). */
#define PLAN_MAX_UNITS (MAX_MODELS + 2)
#define PLAN_MAX_STEPS MAX_MODELS
typedef struct plan_unit {
    const char *name;
    kd_optim_cfg optim;
    kd_lr_sched lr;
    int arch;                        /* 1: the "arch" unit */
} plan_unit;

/* One step of an iteration: forward, backward of its loss, then each of
 * its units' optimizers steps (see train_step.c). */
typedef struct plan_step {
    const kdr_node *at;              /* the `loss` or `minimize` statement */
    const kdr_node *loss;            /* its expression; NULL: the phase's losses, summed */
    const char *owner;               /* `loss M:`: M (the other trained models detached) */
    const char *data, *split;        /* `on DATA.SPLIT`; NULL: the phase's training data */
    const kdr_node *data_at;
    int units[PLAN_MAX_UNITS];       /* indices into plan_phase.units */
    int nunits;
    char label[128];                 /* "weights", "a, b": the groups it names (", step K"
                                        added when two steps name the same groups) */
    double lr;                       /* `lr VALUE` of an alternate step: its groups' base
                                        learning rate in this step; 0: each group's own */
} plan_step;

typedef struct plan_phase {
    const kdr_node *node;            /* the phase */
    const kdr_unit *unit;
    const char *name;
    const char *data, *split;        /* train ... on DATA.SPLIT */
    const kdr_node *data_at, *train_at;
    const char *trained[MAX_MODELS];
    const kdr_node *trained_at[MAX_MODELS];
    int ntrained;
    plan_teacher teachers[MAX_MODELS];
    int nteachers;
    pool_run *pool;                  /* teacher follows POOL(...), or NULL */
    const kdr_node *follows;
    const kdr_node *losses[MAX_MODELS];  /* the loss, or one per model */
    const char *owner[MAX_MODELS];       /* per-model: the model; else NULL */
    int nloss;
    const kdr_node *loss;            /* the last loss (messages) */
    int64_t epochs, batch, seed;
    kd_optim_cfg optim;              /* the "weights" unit's (the phase's optimizer) */
    kd_lr_sched lr;
    plan_unit units[PLAN_MAX_UNITS]; /* [0] "weights", [1] "arch", then models */
    int nunits;
    plan_step steps[PLAN_MAX_STEPS];
    int nsteps;
    const char *derive[MAX_MODELS];  /* `derive NAME` of this phase (searches or models) */
    const kdr_node *derive_at[MAX_MODELS];
    int nderive;
    int64_t every, keep_last;        /* checkpoints every N epochs (0: none), kept */
    const char *route;               /* their route's name */
    plan_eval evals[MAX_EVALS];
    int nevals;
} plan_phase;

/* The report evaluates each model alone, in batches of this many samples
 * (not a recipe setting). */
#define PLAN_REPORT_BATCH 256

typedef struct plan_report {
    const kdr_node *node;
    const kdr_unit *unit;
    int64_t batch;                   /* PLAN_REPORT_BATCH */
    plan_eval *evals;
    int nevals;
} plan_report;

typedef struct kd_plan {
    plan_phase *phases;              /* in the program's phase order */
    int nphases;
    plan_report *reports;
    int nreports;
} kd_plan;

/* Resolve R->p into P (zeroed here); -1 with a message and R->status set. */
int plan_resolve(run *R, kd_plan *P);
void plan_free(kd_plan *P);

/* The loss-weight schedules of a compiled graph (calls in its losses). */
int plan_weights(run *R, const kd_graph *g, kd_weight_sched *ws);

/* Is `epoch` a checkpoint the route writes and keeps? */
int plan_route_check_epoch(run *R, const route_info *ri, int64_t epoch, const kdr_node *at);

#endif
