/* exec.h — running a compiled op graph forward and backward.
 *
 * kd_exec_new() decides everything once, from the graph and the roots (the
 * nodes whose values are wanted: losses, logits):
 *
 *   live        nodes reachable backwards from the roots; only they run.
 *   needs grad  a node needs a gradient iff a trainable parameter is
 *               upstream of it through inputs that carry gradients (the
 *               op's nograd inputs, e.g. the kd teacher, carry none).  A
 *               frozen teacher (kd_param.trainable = 0 for its parameters,
 *               set BEFORE kd_exec_new) therefore gets no backward pass.
 *   backward    the live nodes that need a gradient and are upstream of a
 *               scalar root that needs one (a loss), in reverse order.
 *   memory      one flat parameter buffer and one flat gradient buffer
 *               (kd_graph.param_count floats, kd_param.offset), per-node op
 *               state (bn running statistics), one workspace of the largest
 *               op workspace, and one activation arena laid out by the
 *               memory plan (plan_mem.c): forward values, floats saved for
 *               backward and activation gradients, each with its lifetime
 *               over the forward + backward schedule.  Everything is
 *               allocated and pre-faulted here: forward, backward and
 *               zero_grad never allocate.
 *
 * Values: after kd_exec_forward, kd_exec_value() gives the value of a root
 * or an input node; other nodes' buffers are reused by the plan.  Roots and
 * inputs keep their own memory for the whole step (inputs may be refilled
 * at any time between steps).
 *
 * One step is: fill inputs, kd_exec_forward(e, 1), kd_exec_zero_grad(e)
 * (or accumulate), kd_exec_backward(e, loss), read kd_exec_grads(e).
 * kd_exec_backward may run once per forward (the forward values it reads
 * share memory with the gradients it writes); to train on several losses,
 * add them into one node.
 *
 * Training mode: kd_exec_forward(e, training) applies `training` to every
 * model that has a trainable parameter; a model whose parameters are all
 * frozen runs in eval mode (bn uses and keeps its running statistics), as
 * a KD teacher should.  kd_exec_set_model_mode() overrides this per model:
 * KD_MODE_EVAL / KD_MODE_TRAIN force a mode, KD_MODE_FOLLOW (the default)
 * restores the rule above (so a frozen model stays in eval mode).
 *
 * Threading: nodes run one after the other; each kernel parallelises
 * itself (ops/kd_op.h: OpenMP static loops with c->nthreads, sgemm threaded
 * by OpenBLAS outside OpenMP regions).  kd_exec_new sets OpenBLAS to
 * nthreads threads.  Results are bit-identical run to run for a given
 * thread count.
 */
#ifndef KD_EXEC_H
#define KD_EXEC_H

#include <stddef.h>
#include <stdint.h>
#include "graph.h"

typedef struct kd_exec kd_exec;

/* NULL with a message in err on a bad root, out of memory, ... */
kd_exec *kd_exec_new(kd_graph *g, const int32_t *roots, int nroots, int nthreads,
                     char *err, size_t errlen);
void kd_exec_free(kd_exec *e);
/* What kd_exec_new would plan, without allocating it (kdrun --check): the
 * activation arena's bytes and the parameters' (the gradients take as
 * many again).  0, or -1 (bad roots, out of memory). */
int kd_exec_plan_bytes(kd_graph *g, const int32_t *roots, int nroots, size_t *arena, size_t *params);

/* Deterministic initialisation of every parameter per kd_param.init
 * (Kaiming normal, fan-in uniform, zero, one) from a counter-based RNG keyed
 * by (seed, the parameter's path inside its model, element): independent of
 * the thread count, of the other parameters and models in the graph, and
 * of the model's name (same architecture and seed: same initial weights).  Also resets op state (bn running statistics) and
 * seeds the dropout RNG. */
void kd_exec_init_params(kd_exec *e, uint64_t seed);
/* A model's initial weights are keyed by the seed and each parameter's path
 * inside the model, so two models of one architecture start equal.  A
 * non-zero salt (set before kd_exec_init_params) gives model `model` other
 * weights: for models of one architecture trained together (mutual
 * learning), which would otherwise start and stay equal. */
void kd_exec_set_init_salt(kd_exec *e, int model, uint64_t salt);

/* The buffer to fill for an input node (images, labels), NULL if node is
 * not a live input. */
float *kd_exec_input(kd_exec *e, int32_t node);

/* 0, or -1 if the executor is unusable. */
int kd_exec_forward(kd_exec *e, int training);
/* Backward from a scalar root: d loss = 1; ADDS parameter gradients into
 * the flat gradient buffer.  -1 if loss_node is not a scalar root that
 * needs a gradient, or if no forward ran since the last backward. */
int kd_exec_backward(kd_exec *e, int32_t loss_node);
/* The backward of loss_node for the parameters in_group[p] != 0 only (an
 * optimizer group's step): the nodes with no path to one of them are
 * skipped, and the ops compute no gradient of the other parameters, nor of
 * inputs that lead to none of them.  The group's gradients are the same
 * bits kd_exec_backward gives; the others stay as kd_exec_zero_grad left
 * them.  The first call with a group decides its steps (an allocation);
 * the next ones with equal flags reuse them.  0, or -1 (no forward
 * pending, loss_node not a planned loss, out of memory). */
int kd_exec_backward_group(kd_exec *e, int32_t loss_node, const uint8_t *in_group);
/* kd_exec_forward before a kd_exec_backward_group(e, loss_node, in_group):
 * the same values, and a frozen model's conv chain that that backward does
 * not pass through runs as one conv even when another step's backward
 * does (exec_fold.h). */
int kd_exec_forward_for(kd_exec *e, int training, int32_t loss_node, const uint8_t *in_group);
void kd_exec_zero_grad(kd_exec *e);

/* Value of a root or an input after forward; NULL for other nodes. */
const float *kd_exec_value(const kd_exec *e, int32_t node);
float *kd_exec_params(kd_exec *e);          /* g->param_count floats */
float *kd_exec_grads(kd_exec *e);           /* same layout */
/* Op state i of a node (bn: 0 running mean, 1 running var); NULL if none,
 * or if the node is an m.with(...) recomputation that shares the state of
 * a live original (kd_node.clone_of). */
float *kd_exec_state(kd_exec *e, int32_t node, int i);

enum { KD_MODE_FOLLOW = -1, KD_MODE_EVAL = 0, KD_MODE_TRAIN = 1 };
void kd_exec_set_model_mode(kd_exec *e, int model, int mode);

/* The forward counter that keys the dropout RNG (with the seed given to
 * kd_exec_init_params): saved with a resumable state, restored after
 * kd_exec_init_params so that a resumed run draws the same masks. */
uint64_t kd_exec_get_step(const kd_exec *e);
void kd_exec_set_step(kd_exec *e, uint64_t step);

/* Profiling: when times is not NULL (2 * g->nnodes doubles, caller-owned),
 * forward adds the seconds each node took to times[node] and backward to
 * times[nnodes + node].  NULL turns it off. */
void kd_exec_set_profile(kd_exec *e, double *times);
/* Synchronized batch norm in data-parallel training (kd_op_ctx.allsum);
 * NULL: every op sees this process's rows only (the default). */
void kd_exec_set_allsum(kd_exec *e, int (*allsum)(double *x, int64_t n));

/* Decisions made at creation (for tests and reports). */
int kd_exec_is_live(const kd_exec *e, int32_t node);
int kd_exec_needs_grad(const kd_exec *e, int32_t node);
int kd_exec_runs_backward(const kd_exec *e, int32_t node);

typedef struct kd_exec_stats {
    size_t arena_bytes;        /* planned activation arena */
    size_t naive_bytes;        /* sum of every planned buffer, 64-aligned */
    size_t param_bytes, grad_bytes, state_bytes, work_bytes;
    int nbuffers;              /* buffers in the plan */
    int nforward, nbackward;   /* nodes run per forward / per backward */
    int64_t macs_forward;      /* conv + linear MACs of one forward (live nodes) */
    int64_t macs_backward;     /* MACs of one backward (~2x forward of those nodes) */
} kd_exec_stats;
void kd_exec_get_stats(const kd_exec *e, kd_exec_stats *st);

/* ---- the activation memory plan (plan_mem.c) ----------------------------
 * Buffers with lifetimes [first, last] (inclusive step indices over the
 * forward + backward schedule): two buffers may share memory only if their
 * lifetimes are disjoint.  kd_plan_mem assigns offsets (multiples of
 * align) and returns the arena size, or (size_t)-1 when out of memory.  It
 * runs best-fit (ggml-alloc style: walk the schedule, allocate the buffers
 * born at a step, then free those that die there) and greedy-by-size
 * (largest first at the lowest offset that fits), and keeps the smaller. */
typedef struct kd_mem_buf {
    size_t size;               /* bytes */
    int32_t first, last;       /* lifetime in steps, first <= last */
    size_t offset;             /* assigned */
    int32_t node;              /* the executor's: owning node */
    int kind;                  /* the executor's: KD_BUF_* */
} kd_mem_buf;

enum { KD_BUF_VALUE, KD_BUF_SAVED, KD_BUF_GRAD };

size_t kd_plan_mem(kd_mem_buf *b, int n, size_t align);
/* Check a plan: every buffer inside [0, arena) and aligned, no two
 * simultaneously live buffers overlapping.  0 if valid, else -1 with the
 * first conflict in err. */
int kd_plan_check(const kd_mem_buf *b, int n, size_t arena, size_t align,
                  char *err, size_t errlen);
/* The executor's own plan (for tests). */
const kd_mem_buf *kd_exec_plan(const kd_exec *e, int *n);

/* ---- BLAS kernel selection and thread policy ------------------------------
 * Both are read once, when OpenBLAS and libgomp load, so they must be in
 * the environment before the process starts.  kd_blas_tune, called first
 * thing in main(), sets what is missing and re-executes /proc/self/exe
 * with the same argv (at most once: afterwards both are set):
 *   OPENBLAS_CORETYPE=SkylakeX  when the CPU has avx512f and the variable
 *       is unset or names an AVX2 core type (Haswell, Zen): OpenBLAS 0.3.21
 *       picks its Haswell sgemm on AVX-512 cores it does not know (Zen 4/5),
 *       and some machines preset Haswell for older OpenBLAS builds; the
 *       SkylakeX kernels are ~1.8x faster there and pass the same tests.
 *       Any other value is kept.  Never set without avx512f (the SkylakeX
 *       kernels die with SIGILL there).
 *   GOMP_SPINCOUNT=KD_GOMP_SPINCOUNT  when neither it nor OMP_WAIT_POLICY
 *       is set and the run's threads (times the MPI ranks on this host)
 *       fit the CPUs it may use (kd_threads_fit): a thread that finishes
 *       its share of an op spins that many pauses (about 1 ms) for the
 *       next op before it sleeps.  Sleeping at once (passive) cost a futex
 *       wake-up per op and thread: fmnist_kd 1.3x slower, the KD bench
 *       step 1.15-1.25x.
 *   OMP_WAIT_POLICY=passive  in the same case when the threads do not fit
 *       (another thread's spin would take the core a waiting one needs).
 * KDRUN_NO_BLAS_TUNE=1 disables all of these.  KDRUN_TUNED lists the
 * variables it set (space-separated), so that a child process that should
 * see the original environment can unset them. */
#define KD_GOMP_SPINCOUNT "30000"
/* 1 if the threads of this command line (-t/--threads, else every online
 * core) times the MPI ranks on this host fit the CPUs this process may
 * use */
int kd_threads_fit(int argc, char **argv);
/* kdrun's thread count without --threads: every online core (1..4096) */
long kd_default_threads(void);
/* Frozen-model conv-bn[-add][-relu] chains run as one conv (exec_fold.h;
 * none with KDRUN_TEACHER_FOLD=0): how many; of them, with a relu, and
 * conditional (folded only in the steps whose backward, kd_exec_forward_for,
 * does not pass through them).  Either pointer may be NULL. */
int kd_exec_fold_count(const kd_exec *e, int *with_relu, int *cond);
void kd_blas_tune(int argc, char **argv);
int kd_cpu_has_avx512f(void);
/* OpenBLAS's name for the kernels it loaded ("SkylakeX", "Haswell", ...) */
const char *kd_blas_kernels(void);

/* ---- the teacher cache (exec_cache.c) -------------------------------------
 * A frozen model in eval mode gives a sample the same output whatever batch
 * it is in (kd_op_def.rows).  When the data feeding it is the same every
 * time a sample comes back (no random augmentation, no noise), its outputs
 * can be kept per sample and the model not run again.
 *
 * kd_exec_cache_new plans it for the keyed inputs (input nodes whose row r
 * is a pure function of sample key r, e.g. the images of a split without
 * augmentation; keys 0..nkeys-1): the cached nodes are the live op nodes of
 * frozen models (every parameter untrainable, not forced to train mode)
 * whose op is row-wise for its attributes and shapes, whose rows are the
 * batch's and whose data inputs are keyed inputs or cached nodes; it keeps
 * the cached nodes that a node outside them (or a root) reads: a record of
 * their rows per key.  NULL with the reason in why when there is nothing to
 * cache, when nkeys records need more than cap bytes, or out of memory.
 *
 * kd_exec_cache_next arms the next kd_exec_forward with the keys of the
 * batch's rows (n <= the batch; the keys array must stay valid until that
 * forward).  If every row is kept (n equal to the batch), that forward
 * fills the kept nodes from the records and skips the cached nodes;
 * otherwise it runs them and keeps the n rows.  The values are the same
 * bits either way.  Before arming, the frozen parameters and op state the
 * cached nodes read are compared (memcmp) with those the records were made
 * with: any change (a route's next anchor, weights loaded) drops every
 * record.  A model forced to train mode (kd_exec_set_model_mode) disarms
 * it.  Returns 1 when the forward will be served from the records, 0 when
 * it will run (and keep), -1 when the cache is not armed (bad keys).  A
 * forward not armed (evaluation) runs as always. */
typedef struct kd_tcache kd_tcache;
typedef struct kd_tcache_stats {
    int nout;                  /* nodes kept per sample */
    int ncached;               /* nodes not run on a hit */
    int64_t keys;              /* samples that can be kept */
    size_t record_bytes;       /* bytes per sample */
    size_t bytes;              /* keys * record_bytes (allocated, touched as filled) */
    int64_t kept;              /* samples kept now */
    int64_t hits, misses;      /* forwards served from the records / run */
    int64_t prefills;          /* kd_exec_cache_prefill batches that ran */
    int64_t drops;             /* times the frozen values changed and records were dropped */
    int64_t macs_saved;        /* conv + linear MACs of the cached nodes, per hit */
} kd_tcache_stats;
kd_tcache *kd_exec_cache_new(kd_exec *e, const int32_t *inputs, int ninputs, int64_t nkeys, size_t cap,
                             char *why, size_t whylen);
int kd_exec_cache_next(kd_exec *e, kd_tcache *c, const int64_t *keys, int64_t n);
/* Keep the rows of a batch fed to the keyed inputs (keys as above) by
 * running the cached nodes only, without a step: to fill the records
 * before training.  0, or -1 (bad keys, a model forced to train mode). */
int kd_exec_cache_prefill(kd_exec *e, kd_tcache *c, const int64_t *keys, int64_t n);
/* 1 if every key is kept for the current frozen values (records of other
 * values are dropped first) */
int kd_exec_cache_complete(kd_exec *e, kd_tcache *c);
void kd_tcache_get_stats(const kd_tcache *c, kd_tcache_stats *st);
/* 1 if node is cached / kept (tests) */
int kd_tcache_is_cached(const kd_tcache *c, int32_t node);
int kd_tcache_is_kept(const kd_tcache *c, int32_t node);
/* Free before the executor.  NULL ok. */
void kd_tcache_free(kd_tcache *c);

#endif
