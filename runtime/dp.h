/* dp.h — data-parallel training over the ranks of an MPI job (world.h).
 *
 * When kdrun runs a recipe without a sweep on N > 1 ranks, every phase is
 * data-parallel: each rank reads the same global batch (the same batcher,
 * the same seed), takes its own 1/N of the rows, runs forward and backward
 * on them, and the gradients are summed over the ranks in rank order and
 * divided by N before every optimizer step, so each rank steps the same
 * parameters with the same numbers (the mean gradient of the global
 * batch).  Batch norm uses each rank's own rows, or (--sync-bn) the rows
 * of every rank.  Evaluation is sharded: batch s of a split on rank
 * s mod N, the counts and sums added over the ranks.  Rank 0 alone writes
 * the run directory and prints.  A flag (SIGINT) is agreed by all ranks at each step boundary so
 * that they stop together.
 */
#ifndef KD_DP_H
#define KD_DP_H

#include <stddef.h>

#include "run_plan.h"
#include "task.h"

/* 1 when this run is data-parallel (kd_run_opts.dp and N > 1 ranks). */
int kd_dp_on(const run *R);
/* The ranks a phase's batch is split over (1 without data parallelism). */
int kd_dp_ranks(const run *R);
/* 1: this rank evaluates and writes files (rank 0, or no parallelism). */
int kd_dp_writer(const run *R);
/* Before a phase: the batch splits evenly, the data is of a kind whose rows
 * can be split; a located error otherwise. */
int kd_dp_check(run *R, const plan_phase *P, const dataset *D);
/* This rank's rows of the global batch b (a view into b kept in *tmp). */
const kd_batch *kd_dp_slice(const run *R, const kd_batch *b, kd_batch *tmp);
/* After backward: grads := mean over the ranks; *loss likewise. */
int kd_dp_reduce(const run *R, float *grads, size_t n, double *loss);
/* --sync-bn: batch norm over the rows of every rank (kd_op_ctx.allsum). */
void kd_dp_attach(const run *R, kd_exec *e);
/* Evaluation is sharded: batch s of a split is this rank's (s mod N). */
int kd_dp_owns(const run *R, int64_t batch);
/* The evaluation's sums over the ranks (before the task's eval_end). */
int kd_dp_sum_sums(const run *R, kd_task_sums *s);
/* Any rank's flag set: 1 on every rank. */
int kd_dp_any(const run *R, int flag);

#endif
