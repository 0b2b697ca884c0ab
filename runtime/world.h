/* world.h — the processes a run is spread over (one, or the ranks of an
 * MPI job).
 *
 * libruntime knows only this interface; without MPI it is one process of
 * rank 0 (world.c).  kdrun built --with-mpi installs the MPI implementation
 * (world_mpi.c) at start-up when it was launched by mpirun or srun.  Every
 * collective here is deterministic: the same inputs on the same number of
 * ranks give the same bits, whatever the network does.
 */
#ifndef KD_WORLD_H
#define KD_WORLD_H

#include <stddef.h>

typedef struct kd_world_ops {
    const char *name;                       /* "mpi" */
    int rank, size;
    void (*barrier)(void);
    /* Every rank passes its own text; rank 0 gets all of them joined in
     * rank order (*out, malloc'ed, NUL-terminated), the others NULL. */
    int (*gather_text)(const char *mine, char **out);
    /* Rank 0's text to every rank (*text on the others is replaced by a
     * malloc'ed copy; the caller frees it). */
    int (*bcast_text)(char **text);
    /* x := the sum over ranks, added in rank order (so bit-identical on
     * every rank and from run to run). */
    int (*sum_f32)(float *x, size_t n);
    int (*sum_f64)(double *x, size_t n);    /* the same, for a few doubles */
    void (*abort)(int status);
} kd_world_ops;

void kd_world_set(const kd_world_ops *ops);
int kd_world_rank(void);
int kd_world_size(void);
const char *kd_world_name(void);           /* "single" without MPI */
void kd_world_barrier(void);
int kd_world_gather_text(const char *mine, char **out);
int kd_world_bcast_text(char **text);
int kd_world_sum_f32(float *x, size_t n);
int kd_world_sum_f64(double *x, size_t n);
/* Stop every rank of the job with this status (a rank that fails alone
 * while the others wait in a collective would hang the job otherwise);
 * nothing with one process. */
void kd_world_abort(int status);

/* The points 0..n-1 of a sweep that this rank runs: a fixed round-robin
 * assignment (point i on rank i mod size). */
static inline int kd_world_owns(long long point) { return point % kd_world_size() == kd_world_rank(); }

#endif
