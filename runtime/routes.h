/* routes.h — checkpoints of routes while a phase runs (internal to runtime/). */
#ifndef KD_ROUTES_H
#define KD_ROUTES_H

#include "run_plan.h"

/* checkpoints/ROUTE/epoch-NNN.safetensors of the run */
void route_path(run *R, const route_info *ri, int64_t epoch, char *buf, size_t n);
/* The early-stopped teachers of P (teacher M at epoch E) into G; a metric
 * row for each unless resuming. */
int route_load_teachers(run *R, pgraph *G, const plan_phase *P, int resuming);
/* The anchor of epoch ep (0-based) of a pool: loaded into G when it
 * changes; its route epoch in *anchor_epoch. */
int pool_enter_epoch(run *R, pgraph *G, pool_run *pr, int64_t ep, int64_t epochs, int64_t *anchor_epoch);
/* Greedy: after an epoch whose mean loss is below the threshold, or after
 * `patience` epochs on one anchor, move to the next. */
void pool_after_epoch(pool_run *pr, double loss);

/* plan: `teacher follows P` of a pool of models [m1, m2, ...] (list):
 * anchor i is member i (pr->epochs[i] = i + 1, no route), pr->decl the
 * first member's declaration; -1 with a message */
int route_pool_of_models(run *R, const kdr_node *list, pool_run *pr);

#endif
