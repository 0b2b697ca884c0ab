/* kd_op.h — the op interface: the only header ops/ shares with runtime/.
 *
 * One file per op (ops/<name>.c) exports one `const kd_op_def kd_op_<name>`;
 * OPS_KERNELS in ops/local.mk lists the files, the build writes ops/ops.def
 * (X-macro) from it and ops/registry.c builds the table.
 *
 * Calling convention
 * ------------------
 * An op node has `ndata` data inputs (def->min_inputs..def->max_inputs, the
 * tensors written in the recipe) followed by exactly def->nparams parameter
 * slots (conv weight/bias, bn gamma/beta, linear W/b, aggregate alpha), so
 * c->nin = ndata + def->nparams.  Parameters are ordinary inputs as far as
 * the kernels are concerned; the graph keeps them in one flat buffer.
 *
 *   infer      reads c->attr and c->in_shape[0..ndata-1]; writes the
 *              parameter shapes c->in_shape[ndata..] (ndim = KD_ABSENT for an
 *              optional parameter turned off, e.g. `bias: false`), the output
 *              shape c->out_shape and kd_op_info (op state shapes and initial
 *              values, parameter initialisers, floats saved from forward to
 *              backward).  Returns 0, or -1 with a short message in err such
 *              as "conv2d expects 4-D input [N, C, H, W], got [128, 64]".
 *   workspace  bytes of scratch wanted by forward and backward (the larger);
 *              called after infer.  Kernels adapt to c->work_size when it is
 *              at least the per-op minimum (conv2d chunks its batch).
 *   forward    reads c->in[], writes c->out (overwrites), may read/update
 *              c->state[] (bn running stats, only when c->training) and write
 *              c->saved.
 *   backward   reads c->grad_out, c->in[], c->out, c->saved, and ADDS
 *              dL/d(input i) into c->grad_in[i] for every non-NULL slot.  It
 *              never overwrites a gradient: the graph sums fan-out for free.
 *              Inputs in def->nograd (labels, the kd teacher) get none.
 *
 * Tensors are dense, row-major float32.  Scalars (losses) have ndim 0 and
 * one element.  Class labels (ce) are stored as floats holding integers.
 *
 * Threading (one scheme, also in ops/README.md)
 * ---------------------------------------------------
 * - OpenBLAS runs single-threaded (the executor calls
 *   openblas_set_num_threads(1)); the ops parallelise themselves over
 *   c->nthreads OpenMP threads.  Matrix products are cut into independent
 *   pieces (conv2d: the batch, one range of images per thread; linear and
 *   the like: rows of C, kd_gemm.h) and each thread calls cblas_sgemm (or,
 *   in conv2d, ops/kd_sgemm_small.h, single-threaded too) on its piece.  Each thread does the memory-bound work of its piece too
 *   (im2col, col2im), so no core waits for another between the loops and
 *   the products, and no BLAS thread pool spins against OpenMP workers.
 * - Elementwise, per-channel and per-row loops use
 *   `#pragma omp parallel for schedule(static) num_threads(c->nthreads)`.
 *   Each output element is written by exactly one thread and every
 *   reduction is done in a fixed order inside one iteration (per channel,
 *   per row) or serially over per-row or per-thread partials; no
 *   `reduction` clauses and no atomics.  Results are therefore
 *   bit-identical run to run for a given thread count (and for any thread
 *   count except where per-thread partials are summed, as conv2d's dW).
 * - Reductions (batch statistics, losses) accumulate in double.
 */
#ifndef KD_OP_H
#define KD_OP_H

#include <stddef.h>
#include <stdint.h>

#define KD_MAXDIM   6
#define KD_MAXIN    18   /* data inputs + parameter slots */
#define KD_MAXSTATE 4
#define KD_MAXATTR  12
#define KD_MAXINTS  KD_MAXDIM
#define KD_ABSENT   (-1) /* kd_shape.ndim of an absent optional parameter */

/* KD_WIDE before a memory-bound loop function: also compiled for AVX-512
 * and AVX2, the variant picked at load time by the CPU (GCC's
 * target_clones, ifunc).  The arithmetic is the same (ISO C mode: no
 * contraction into FMA), only wider: results are the same bits on every
 * path. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define KD_WIDE __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define KD_WIDE
#endif

typedef struct kd_shape {
    int64_t dims[KD_MAXDIM];
    int ndim;                 /* 0: scalar; KD_ABSENT: no tensor */
} kd_shape;

/* ---- attributes --------------------------------------------------------- */
typedef enum {
    KD_ATTR_INT,    /* integral double in [min, max] */
    KD_ATTR_FLOAT,  /* double in [min, max] */
    KD_ATTR_BOOL,   /* 0 or 1 */
    KD_ATTR_ENUM,   /* index into enums[] */
    KD_ATTR_INTS    /* list of 1..KD_MAXINTS integers, each in [min, max] */
} kd_attr_type;

typedef struct kd_attr_spec {
    const char *name;
    kd_attr_type type;
    double def;                    /* default (INT/FLOAT/BOOL/ENUM index) */
    double min, max;               /* inclusive range (INT/FLOAT/INTS) */
    const char *const *enums;      /* ENUM: NULL-terminated value names */
    int required;                  /* 1: must be given (def is then unused) */
    int def_nints;                 /* INTS default */
    int64_t def_ints[KD_MAXINTS];
    const char *doc;               /* one line: kdr(5), `kdrun --check`, the man page */
    int internal;                  /* 1: set by kdrun, not an argument a recipe writes */
    const char *def_text;          /* the default as a recipe reads it, when it is not
                                    * the number: "k" (pool stride), "same" */
} kd_attr_spec;                    /* arrays end with an entry whose name is NULL */

typedef struct kd_attr_val {
    double num;                    /* INT, FLOAT, BOOL, ENUM */
    int nints;                     /* INTS */
    int64_t ints[KD_MAXINTS];
} kd_attr_val;

/* ---- parameters and op state ------------------------------------------ */
typedef enum {
    KD_INIT_ZERO,
    KD_INIT_ONE,
    KD_INIT_KAIMING_NORMAL,  /* N(0, 2/fan_in): conv/linear weights */
    KD_INIT_UNIFORM_FANIN    /* U(-1/sqrt(fan_in), 1/sqrt(fan_in)): biases */
} kd_init_kind;

typedef struct kd_param_init {
    kd_init_kind kind;
    int64_t fan_in;
} kd_param_init;

typedef struct kd_op_info {
    int nstate;                          /* persistent op state tensors */
    kd_shape state_shape[KD_MAXSTATE];
    float state_init[KD_MAXSTATE];      /* every element starts at this value */
    kd_param_init init[KD_MAXIN];        /* for the parameter slots */
    size_t saved_floats;                 /* kept from forward to backward */
} kd_op_info;

/* ---- the op instance passed to every kernel ----------------------------- */
typedef struct kd_op_ctx {
    const kd_attr_val *attr;        /* one per def->attrs entry, in order */
    int nin;                        /* ndata + def->nparams */
    const float *in[KD_MAXIN];
    kd_shape in_shape[KD_MAXIN];
    float *out;
    kd_shape out_shape;
    float *state[KD_MAXSTATE];
    float *saved;
    void *work;                     /* 64-byte aligned scratch */
    size_t work_size;               /* bytes */
    const float *grad_out;          /* backward only */
    float *grad_in[KD_MAXIN];       /* backward only; NULL: not wanted */
    int training;                   /* 1: train mode (bn batch stats, dropout) */
    int nthreads;                   /* OpenMP threads for this op (>= 1) */
    uint64_t seed, step;            /* dropout RNG key */
    /* Data-parallel training with synchronized batch norm: x[0..n) := its
     * sum over the ranks (the same on every rank); NULL: statistics of this
     * process's rows only.  Only batchnorm2d uses it, in training mode. */
    int (*allsum)(double *x, int64_t n);
    /* conv2d only (the executor's frozen-model fold, runtime/exec_fold.h):
     * y = post_scale[f] * y + post_shift[f] per output channel after the
     * bias, when post_scale is set (a frozen batch norm's eval-mode
     * transform, the same float operations as batchnorm2d's); then
     * y = r + y (post_add_first) or y + r, r = post_add[same index], when
     * post_add is set (a residual add, as add's); then relu(y) when
     * post_relu; NULL and 0 everywhere else */
    const float *post_scale, *post_shift, *post_add;
    int post_add_first;
    int post_relu;
} kd_op_ctx;

/* ---- the recipe side: how a .kdr recipe writes the op ---------------------
 *
 * The registry is the only spec of an op: runtime/op_builtins.c turns every
 * def with a `use` into entries of the recipe language's builtin table
 * (lang/builtins.h) at start-up, so `kdrun --check` checks argument names,
 * types, defaults and ranges against the attrs[] below, at the recipe's
 * location, and the compiler sets the attributes from the same entries.
 *
 * Recipe arguments, in order: the data inputs (inputs[]), then every attr
 * that is not `internal`.  Sugar spellings (dwconv, dconv, l2, hint) are
 * the same op with some attributes fixed by the spelling. */
typedef enum {
    KD_USE_NONE,      /* not written in recipes (add, scale, detach: kdrun inserts them) */
    KD_USE_NET,       /* an op of a net body */
    KD_USE_LOSS,      /* a loss term */
    KD_USE_SEARCH     /* a searched construct (aggregate) */
} kd_use;

enum {
    KD_OP_TIN  = 1,   /* the first input is the tensor the op applies to; inside
                       * choice(...) it is left out (the edge's input) */
    KD_OP_BARE = 2    /* may be written without parentheses (`zero`) */
};

typedef enum {
    KD_IN_ONE,        /* one tensor */
    KD_IN_LIST,       /* a list of tensors: [a, b] or x[s, *] */
    KD_IN_REST        /* every remaining positional argument (or one list) */
} kd_in_kind;

typedef struct kd_input_spec {
    const char *name;               /* as the recipe names it: "student" */
    const char *shape;              /* "[N, K] logits": documentation */
    kd_in_kind kind;
    const char *count_attr;         /* LIST: attribute set to its length (emd's m) */
} kd_input_spec;                    /* arrays end with an entry whose name is NULL */

typedef enum {
    KD_FIX_VALUE,     /* the attribute is set to `value`; not an argument */
    KD_FIX_CHANNELS,  /* set to the channels (dims[1]) of the first input; not an argument */
    KD_FIX_DEFAULT    /* still an argument, but optional with default `value` */
} kd_fix_kind;

typedef struct kd_attr_fix {
    const char *attr;
    kd_fix_kind kind;
    double value;
} kd_attr_fix;                      /* arrays end with an entry whose attr is NULL */

typedef struct kd_sugar {
    const char *name;               /* recipe spelling: "dwconv" */
    const char *doc;                /* one line; NULL: "same as <the op's spelling>" */
    const kd_input_spec *inputs;    /* NULL: the op's */
    const char *const *renames;     /* "recipe=attr" pairs ("d=dilation"), NULL-terminated */
    const kd_attr_fix *fixed;       /* NULL: none */
} kd_sugar;                         /* arrays end with an entry whose name is NULL */

/* kd_op_def.bwd_reads: the backward's reads are declared (bit 31), bit k:
 * data input k, bit 30: the output */
#define KD_BWD_SET (1u << 31)
#define KD_BWD_OUT (1u << 30)

typedef struct kd_op_def {
    const char *name;               /* registry name, e.g. "conv2d" */
    const char *alias;              /* recipe spelling if different ("conv"), or NULL */
    int min_inputs, max_inputs;     /* data inputs written in the recipe */
    int nparams;                    /* parameter slots appended after them */
    uint32_t nograd;                /* bit i: data input i gets no gradient */
    int npositional;                /* first n attrs may be given positionally */
    const kd_attr_spec *attrs;      /* NULL-name terminated; may be NULL */
    int (*infer)(kd_op_ctx *c, kd_op_info *info, char *err, size_t errlen);
    size_t (*workspace)(const kd_op_ctx *c);   /* NULL: none */
    void (*forward)(kd_op_ctx *c);
    void (*backward)(kd_op_ctx *c);            /* NULL: not differentiable */
    /* how a graph holds it */
    const char *const *param_names; /* per parameter slot ("weight", "bias"); NULL:
                                     * weight, bias, param2, ... */
    int mixture;                    /* 1: a mixture of candidates (aggregate, choice):
                                     * its parameters are architecture weights, its data
                                     * inputs from first_candidate on are the candidates */
    int first_candidate;
    /* multiply-accumulates of one call (the layers that dominate: convs,
     * linear), from the inferred shapes; NULL: not counted */
    int64_t (*macs)(const kd_op_ctx *c);
    /* 1 if, in eval mode and for these attributes and shapes, row r of the
     * output (axis 0, the batch) depends on row r of each data input and on
     * the parameters only, and the op draws no random numbers: a frozen
     * model built of such ops gives each sample the same output in any
     * batch (the teacher cache, runtime/exec_cache.h, relies on it; bit for
     * bit, so the kernels must not change their order of operations with a
     * row's position: linear and conv1d, whose products run on OpenBLAS
     * with the batch's rows folded into one matrix, are not, since OpenBLAS
     * computes a row at the end of its blocks in another order).  NULL: no.
     * kd_rows_always for ops that always are.  tests/ops checks it. */
    int (*rows)(const kd_op_ctx *c);
    /* the values the backward reads besides grad_out, the parameters, the
     * saved floats and the state, for the memory plan (a value that no
     * backward reads is freed after its last forward use): 0, the default,
     * for every data input and the output; else KD_BWD_SET | (1u << k) for
     * each data input k read | KD_BWD_OUT if the output is read.  A wrong
     * declaration lets the plan reuse a buffer the backward still reads:
     * declare only what the backward's code shows. */
    uint32_t bwd_reads;
    /* the recipe side (see above) */
    kd_use use;
    unsigned flags;                 /* KD_OP_* */
    const char *doc;                /* one line, no trailing period */
    const kd_input_spec *inputs;    /* names of the data inputs; NULL-name terminated */
    const kd_sugar *sugar;          /* further spellings; NULL-name terminated; may be NULL */
} kd_op_def;

/* ---- registry and helpers (ops/registry.c, ops/attr.c) ------------------ */
const kd_op_def *kd_op_find(const char *name);   /* by name or alias; NULL */
/* Index of the attribute a recipe argument sets: `renames` (a sugar's
 * "d=dilation" pairs, NULL for none) first, then the attribute of that
 * name; -1 if none. */
int kd_attr_index_renamed(const kd_op_def *d, const char *const *renames, const char *arg);
int kd_op_count(void);
int kd_rows_always(const kd_op_ctx *c);           /* kd_op_def.rows: 1 */
/* the convolutions' kernels in use, which decide their rounding:
 * "avx512 winograd", "avx512", "avx2", "c" or "blas" (KD_SGEMM and
 * KD_WINOGRAD in kdrun(1)); recorded with a run's state */
const char *kd_conv_kernels(void);
const kd_op_def *kd_op_at(int i);

int kd_attr_count(const kd_op_def *d);
int kd_attr_index(const kd_op_def *d, const char *name);   /* -1: unknown */
void kd_attrs_default(const kd_op_def *d, kd_attr_val *v);
/* Set attribute idx from a number / an enum name / a list, checking type,
 * integrality and range.  0 or -1 with a message in err. */
int kd_attr_set_num(const kd_op_def *d, kd_attr_val *v, int idx, double x,
                    char *err, size_t errlen);
int kd_attr_set_enum(const kd_op_def *d, kd_attr_val *v, int idx,
                     const char *name, char *err, size_t errlen);
int kd_attr_set_ints(const kd_op_def *d, kd_attr_val *v, int idx,
                     const int64_t *x, int n, char *err, size_t errlen);

/* Checks the data-input count, clears info and the parameter slots, then
 * calls d->infer.  c->nin must be ndata + d->nparams. */
int kd_op_infer(const kd_op_def *d, kd_op_ctx *c, kd_op_info *info,
                char *err, size_t errlen);

int64_t kd_shape_numel(const kd_shape *s);          /* 1 for scalars, 0 absent */
int kd_shape_eq(const kd_shape *a, const kd_shape *b);
/* "[128, 64]" into buf; returns buf */
char *kd_shape_str(const kd_shape *s, char *buf, size_t n);
kd_shape kd_shape_make(int ndim, const int64_t *dims);

#endif
