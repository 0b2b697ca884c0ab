/* state.h — checkpoints and the resumable state (internal to runtime/). */
#ifndef KD_STATE_H
#define KD_STATE_H

#include "run.h"

/* checkpoints/ROUTE/epoch-NNN.safetensors: the trained models of G */
int state_save_checkpoint(run *R, pgraph *G, const char *route, int64_t epoch, const char *phase);
/* Copy the parameters and bn statistics of model `from` in checkpoint
 * `path` into model `to` of G (the same architecture, `to` may be a pool). */
int state_load_checkpoint_into(run *R, pgraph *G, const char *path, const char *from, const char *to);
/* run_dir/state.safetensors: the store (update it first), the optimizer's
 * buffers (opt may be NULL) and where the run is */
int state_save(run *R, kd_optim *opt, int64_t epoch, int64_t step, double sum, int64_t n,
               uint64_t exec_step, const char *phase);
/* read the state of a run to resume (absent: start over) */
int state_load(run *R);
/* after building the phase's optimizer: its buffers and counters */
int state_resume_optimizer(run *R, kd_optim *opt);
/* a resumed store against a phase's graph: each model whole, nothing stray */
int state_check_store(run *R, pgraph *G);
struct plan_phase;
/* the saved epoch and step inside the phase resumed (steps per epoch) */
int state_check_resume(run *R, const struct plan_phase *P, int64_t steps);

#endif
