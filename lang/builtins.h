/* builtins.h — every function and predefined name callable in a .kdr recipe.
 *
 * The table (lang/builtins.c, plus the ops of the registry handed in with
 * kdr_builtins_register) is the reference for recipe writers:
 * each entry lists its arguments (name, kind, default or required, allowed
 * range or symbol set), the contexts it may be used in, and a one-line doc
 * string used by `kdrun --check` and the man pages.
 *
 * The checker (lang/check.c) validates calls against it: unknown named
 * arguments, too many / too few positional arguments, missing required ones,
 * literal types and ranges, bare symbols outside their allowed set, and a
 * builtin used in the wrong kind of statement (an optimizer in a loss...).
 * The runtime looks entries up by name and context and reads the same
 * argument order.
 */
#ifndef KDR_BUILTINS_H
#define KDR_BUILTINS_H

#include <stddef.h>

/* What an argument must be. */
typedef enum kdr_argkind {
    KDR_A_ANY,      /* anything */
    KDR_A_NUM,      /* a number */
    KDR_A_INT,      /* a number with an integral value */
    KDR_A_BOOL,     /* true / false */
    KDR_A_STR,      /* a "string" (a path, a split name, a glob) */
    KDR_A_SYM,      /* a bare word from `syms` (a string with the same text is accepted too) */
    KDR_A_TENSOR,   /* a tensor: the net input, a named tensor, an op result */
    KDR_A_TENSORS,  /* several tensors: a list [a, b], or x[s, *] */
    KDR_A_LIST,     /* a list of numbers, e.g. milestones: [15, 25] */
    KDR_A_MODEL,    /* a model declared with `model` */
    KDR_A_DATA,     /* a data set (or a split of one: d.train) */
    KDR_A_ROUTE,    /* a checkpoint route declared by `checkpoint ... as R` */
    KDR_A_CALL      /* a call of a builtin from the contexts in `ctx` */
} kdr_argkind;

/* Range flags of kdr_argspec.range. */
enum {
    KDR_R_LO = 1,        /* value >= lo */
    KDR_R_HI = 2,        /* value <= hi */
    KDR_R_LO_OPEN = 4,   /* value > lo (with KDR_R_LO) */
    KDR_R_HI_OPEN = 8    /* value < hi (with KDR_R_HI) */
};

typedef struct kdr_argspec {
    const char *name;    /* NULL terminates a spec list */
    kdr_argkind kind;
    int req;             /* 1: must be given */
    int rest;            /* 1: last positional parameter, repeats (choice) */
    const char *def;     /* the default as it would be written in a recipe, or NULL */
    unsigned range;      /* KDR_R_* */
    double lo, hi;
    const char *syms;    /* KDR_A_SYM: allowed words, '|'-separated */
    unsigned ctx;        /* KDR_A_CALL: allowed contexts (KDR_CTX_*) */
} kdr_argspec;

/* Contexts: the kind of statement a builtin belongs to. */
enum {
    KDR_CTX_NET      = 1u << 0,   /* an op of a net body */
    KDR_CTX_SHAPE    = 1u << 1,   /* a shape query (a number) */
    KDR_CTX_LOSS     = 1u << 2,   /* a loss term */
    KDR_CTX_METRIC   = 1u << 3,   /* a metric of `evaluate` */
    KDR_CTX_LOADER   = 1u << 4,   /* a data loader (`data NAME = ...`) */
    KDR_CTX_AUG      = 1u << 5,   /* an augmentation (`augment SPLIT: ...`) */
    KDR_CTX_NOISE    = 1u << 6,   /* a noise model (raw_synth's noise:) */
    KDR_CTX_OPTIM    = 1u << 7,   /* an optimizer (`optimizer ...`) */
    KDR_CTX_LR       = 1u << 8,   /* a learning-rate schedule (`lr ...`) */
    KDR_CTX_WEIGHT   = 1u << 9,   /* a weight schedule: a factor in a loss */
    KDR_CTX_POOL     = 1u << 10,  /* a teacher pool constructor (`pool NAME = ...`) */
    KDR_CTX_SEARCH   = 1u << 11,  /* a searched construct (aggregate, choice) */
    KDR_CTX_FOLLOWS  = 1u << 12,  /* options of `teacher follows POOL(...)` */
    KDR_CTX_VALUE    = 1u << 13,  /* a predefined name (label, noisy, ...) */
    KDR_CTX_MATH     = 1u << 14   /* a function of numbers (max, round): valid anywhere */
};

/* Flags of kdr_builtin.flags. */
enum {
    KDR_B_TENSOR_IN = 1,  /* first positional argument is the input tensor; inside
                             choice(...) it is omitted (the candidate gets the edge's input) */
    KDR_B_VALUE     = 2,  /* a predefined name, not a function: `label` */
    KDR_B_BARE      = 4,  /* may be written without parentheses: `skip`, `top1` */
    KDR_B_AT_K      = 8   /* a metric that takes @k: `hr@10` (k = 10 when bare) */
};

typedef struct kdr_builtin {
    const char *name;
    unsigned ctx;               /* one KDR_CTX_* */
    unsigned flags;             /* KDR_B_* */
    const kdr_argspec *args;    /* terminated by { .name = NULL } */
    const char *doc;            /* one line, no trailing period */
} kdr_builtin;

/* Add the builtins of the op registry: the net ops, losses and searched
 * ops of ops/, built by runtime/op_builtins.c, and the loaders of data/
 * (runtime/loader_builtins.c), so that lang/ includes nothing from ops/ or
 * data/ (lang/builtins.c keeps only what is neither one op nor a loader:
 * skip, choice, cost, shape queries, optimizers, ...).  Called once at
 * start-up, before kdr_check; the entries are copied, the argument lists
 * they point to must outlive every use.  A second call replaces the first.
 * 0, or -1 when out of memory. */
int kdr_builtins_register(const kdr_builtin *extra, size_t n);
/* The whole table, in a fixed order (by context, then as listed). */
const kdr_builtin *kdr_builtins(size_t *n);
/* The entry named `name` whose context is in `ctx_mask` (~0u: any); NULL if none.
 * A name may have entries in several contexts (`cosine`: loss and lr schedule). */
const kdr_builtin *kdr_builtin_find(const char *name, unsigned ctx_mask);
/* Number of parameters of `b` (entries before the terminator). */
size_t kdr_builtin_nargs(const kdr_builtin *b);
/* "net op", "loss", "optimizer", ... for messages; "" for an unknown bit. */
const char *kdr_ctx_name(unsigned ctx);
/* 1 if `word` is one of the '|'-separated words in `syms`. */
int kdr_sym_in(const char *syms, const char *word);

#endif
