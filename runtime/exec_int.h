/* exec_int.h — private to the executor's files (exec.c, exec_cache.c):
 * the executor's state.  Everyone else goes through exec.h. */
#ifndef KD_EXEC_INT_H
#define KD_EXEC_INT_H

#include "exec.h"
#include "exec_fold.h"

#define KD_ALIGN 64

typedef struct broot {
    int32_t node;
    int32_t *steps;          /* node ids to run backward, in order */
    int nsteps;
    int32_t *zstart;         /* zero list of step i: zlist[zstart[i] .. zstart[i+1]) */
    int32_t *zlist;          /* node ids whose gradient buffer to zero */
    uint32_t *slots;         /* a group's backward: grad_in slots kept per step */
    uint8_t *group;          /* its parameters (g->nparams flags); NULL: all */
    uint8_t *inb;            /* a group's backward: per node, 1 if it is a step */
} broot;

struct kd_exec {
    kd_graph *g;
    int nthreads;
    int32_t n;
    uint8_t *live, *needs_grad, *run_bwd, *is_root;
    int32_t *fwd, nfwd;       /* forward order */
    int32_t *bwd, nbwd;       /* planned backward order (union over losses) */
    int32_t *fstep, *bstep;   /* step of each node, -1 if none */
    float **val, **grad, **saved;
    kd_op_ctx *ctx;           /* per node (op nodes) */
    float *params, *grads, *state_buf, *work;
    size_t state_floats, work_size;
    char *arena;
    size_t arena_size, naive_size;
    kd_mem_buf *plan;
    int nplan;
    broot *broots;
    int nbroots, cap_broots;
    int model_mode[64];       /* KD_MODE_*: FOLLOW = the default rule */
    uint8_t model_frozen[64]; /* has parameters, none trainable */
    uint64_t init_salt[64];   /* kd_exec_set_init_salt; 0: none */
    uint64_t seed, step;
    int fwd_pending;          /* a forward ran and no backward since */
    int64_t macs_f, macs_b;
    double *prof;             /* kd_exec_set_profile */
    kd_fold *fold;            /* frozen-model conv-bn-relu folds (exec_fold.h), or NULL */
    const uint8_t *bwd_next;  /* kd_exec_forward_for: the nodes the coming backward runs */
    kd_tcache *tc;            /* the teacher cache armed for the next forward, or NULL */
};

#endif
