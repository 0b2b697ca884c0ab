/* train_step.h — a phase's optimizer units and steps at run time
 * (internal to runtime/; the plan's units and steps: run_plan.h).
 *
 * One iteration of a phase runs its steps in the plan's order (the
 * `alternate` steps as written; the `loss M:` statements as written; or
 * the one summed loss).  A step:
 *   1. takes its batch: the phase's batch of this iteration when it trains
 *      on the phase's data, else the next batch of its own stream (one
 *      shuffled, endless stream per other DATA.SPLIT, seeded like the
 *      phase);
 *   2. runs forward on the CURRENT parameters, i.e. after the updates of
 *      the steps before it in this iteration (a discriminator step sees
 *      the generator's updated weights; DARTS' arch step sees the weights
 *      just updated: first-order, no unrolling);
 *   3. zeroes the gradients, runs backward from its loss, only the part
 *      that reaches its units' parameters (kd_exec_backward_group);
 *   4. steps the optimizer of each of its units, in unit order, each with
 *      its own learning rate at (epoch, step) and its own state.
 * A phase with one step and the summed loss does exactly what a classic
 * phase did: one forward, one backward, one optimizer (plus the "arch"
 * unit when the graph has architecture weights).
 */
#ifndef KD_TRAIN_STEP_H
#define KD_TRAIN_STEP_H

#include "run_plan.h"
#include "teacher_cache.h"

typedef struct unit_run {
    const plan_unit *cfg;
    kd_param_group grp;
    kd_optim *opt;
} unit_run;

typedef struct stream_run {
    const char *data, *split;
    dataset *D;
    kd_batcher *bt;
    int64_t steps;                   /* batches per epoch of the split */
} stream_run;

typedef struct step_run {
    const plan_step *cfg;
    int32_t loss;                    /* its loss node */
    int stream;                      /* index into streams, -1: the phase's batch */
    uint8_t *group;                  /* its units' parameters (flags), NULL: every trainable one */
    double sum;                      /* this epoch's losses, for the rows */
    int64_t n;
} step_run;

typedef struct steps_run {
    unit_run u[PLAN_MAX_UNITS];
    int nu;
    step_run s[PLAN_MAX_STEPS];
    int ns;
    stream_run st[PLAN_MAX_STEPS];
    int nst;
    int classic;                     /* only the "weights" unit has parameters */
    tcache_run tc[PLAN_MAX_STEPS + 1];   /* teacher caches: [0] the phase's batch, [1 + k] stream k */
} steps_run;

/* The expressions the phase's graph compiles as losses (the steps' or the
 * phase's `loss` statements) and their owners; returns their count. */
int steps_losses(const plan_phase *P, const kdr_node **losses, const char **owner);

/* Build the phase's graph and executor (pgraph_build with the steps'
 * losses as separate roots, a search's bridges applying models, and the
 * architecture weights of what `derive` froze, in this phase or before,
 * not trainable). */
int steps_graph(run *R, const kd_plan *PL, int phase, steps_run *S, pgraph *G, const dataset *D);

/* After the parameters are loaded: `derive` (print; a choice becomes its
 * argmax), the units' groups and optimizers (and their state when
 * resuming), the teacher cache of the phase's batch (lc: its loader) and
 * the other data streams positioned at iteration ep0*steps + st0 (their
 * samples must have the shape of D's, the phase's data), with theirs. */
int steps_start(run *R, const plan_phase *P, steps_run *S, pgraph *G, const dataset *D,
                const kd_loader_cfg *lc, int resuming, int64_t ep0, int64_t st0, int64_t steps);

/* One iteration on batch b (the phase's) at (ep, st): every step.  The sum
 * of the steps' losses in *loss.  -1 after a message (a loss not finite). */
int steps_iterate(run *R, const plan_phase *P, steps_run *S, pgraph *G, const kd_batch *b,
                  const kd_weight_sched *ws, int64_t ep, int64_t st, int64_t steps, double *loss);

/* The resumable state of the units: the classic one in state.safetensors'
 * optim/ buffers (returned for state_save), several in the store. */
kd_optim *steps_state_put(run *R, const plan_phase *P, steps_run *S);
int steps_state_get(run *R, const plan_phase *P, steps_run *S);

/* Rows after an epoch: each step's mean loss (several steps) and
 * softmax(alpha) of every mixture whose alpha is trained here. */
void steps_epoch_rows(run *R, const plan_phase *P, steps_run *S, pgraph *G, int64_t epoch);

/* "lr 0.1" (classic), or each unit's: "lr weights 0.05  lr arch 0.003" */
void steps_lr_text(const steps_run *S, const plan_phase *P, int64_t ep, int64_t steps, char *buf, size_t len);

/* at an epoch's start: the teacher caches filled (tcache_epoch); 0 or -1 */
int steps_cache_epoch(run *R, steps_run *S, pgraph *G);
/* the teacher caches' lines and notes (teacher_cache.h), at the phase's end */
void steps_cache_finish(run *R, steps_run *S);
void steps_free(steps_run *S);

#endif
