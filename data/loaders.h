/* loaders.h — the loader registry: one entry per recipe loader
 * (`data NAME = LOADER(ARGS)`), generated from data/loaders.def.
 *
 * Each entry says, in one place:
 *   - its arguments (name, kind, required or default, lower bound, words of
 *     a symbol, a one-line description), in positional order;
 *   - the kind of data it gives (images, sequences, raw) and its splits;
 *   - its sample shape as a function of its arguments (what `kdrun --check`
 *     compiles the models against without loading anything);
 *   - load(): the whole data set into memory.  No loader streams today;
 *     a streaming one would add open/next/close here.
 *
 * ADDING A LOADER: data/<name>.c defining `const kd_loader_def
 * kd_loader_<name>` (its arguments, shape and load functions beside the
 * format code), one line KD_LOADER(<name>) in data/loaders.def, the file in
 * DATA_CSRC of data/local.mk, its man page man/kdr-<name>.7 (listed in
 * data/local.mk), and its tests in tests/data/test_loaders.c (the shape
 * function; a small file of the format if it reads one).  The recipe
 * builtin lang/builtins.c still lists the arguments a second time (until
 * the builtins are generated from the registries); test_loaders checks the
 * two agree on names and order.
 *
 * Errors are values, as in data.h: a kd_data_status and one line in err.
 */
#ifndef KD_LOADERS_H
#define KD_LOADERS_H

#include "data.h"

/* What an argument is. */
typedef enum kd_larg_kind {
    KD_LARG_STR,    /* a string: a directory, a file, a glob */
    KD_LARG_INT,    /* a whole number */
    KD_LARG_BOOL,   /* true / false (held in num as 0 / 1) */
    KD_LARG_SYM,    /* a word from `syms` ('|'-separated) */
    KD_LARG_CALL    /* a call: its name in str, its first list argument in list[]
                     * (raw_synth's noise: poisson_gauss(log_shot: [a, b])) */
} kd_larg_kind;

typedef struct kd_loader_argdef {
    const char *name;
    kd_larg_kind kind;
    int req;                /* 1: must be given */
    const char *def;        /* default as written in a recipe (NULL if required) */
    int has_lo;             /* INT: value >= lo */
    double lo;
    const char *syms;       /* SYM: allowed words; CALL: allowed callee names */
    const char *doc;        /* one line */
} kd_loader_argdef;

#define KD_LOADER_MAXARGS 8
#define KD_LARG_MAXLIST 8

/* The value of one argument. */
typedef struct kd_larg {
    int given;              /* set by the recipe (else: the default) */
    double num;             /* INT, BOOL */
    const char *str;        /* STR, SYM, CALL (name); not owned */
    int nlist;              /* CALL: its list argument */
    double list[KD_LARG_MAXLIST];
} kd_larg;

struct kd_loader_def;

/* The arguments of one call, in the order of def->args. */
typedef struct kd_loader_args {
    const struct kd_loader_def *def;
    kd_larg v[KD_LOADER_MAXARGS];
} kd_loader_args;

/* One sample as the models see it (the batch axis left out). */
typedef struct kd_sample_shape {
    kd_data_kind kind;
    int ndim;
    int64_t dims[4];        /* images [C, H, W]; raw [4, P/2, P/2]; sequences [L] */
    int64_t classes;        /* labels in [0, classes); 0 = unknown or none */
    int has_noisy;          /* raw: the input is `noisy`, the target `clean` */
    int from_files;         /* 1: read from the files, 0: declared by the loader */
} kd_sample_shape;

typedef struct kd_loader_def {
    const char *name;
    const char *doc;                    /* one line */
    kd_data_kind kind;
    const char *splits;                 /* the splits it gives, '|'-separated */
    int nargs;
    const kd_loader_argdef *args;
    /* The sample shape for these arguments: declared, or read from the
     * files' headers when they are there (idx).  Reads no more than a
     * header; never fails because the data is absent. */
    kd_data_status (*shape)(const kd_loader_args *a, kd_sample_shape *out,
                            char *err, size_t errlen);
    /* The whole data set; seed keys the loader's own random choices (none of
     * the image loaders has any). */
    kd_data_status (*load)(const kd_loader_args *a, uint64_t seed, kd_dataset *out,
                           char *err, size_t errlen);
} kd_loader_def;

/* The entry named `name`, or NULL. */
const kd_loader_def *kd_loader_find(const char *name);
int kd_loader_count(void);
const kd_loader_def *kd_loader_at(int i);     /* NULL out of range */

/* Index of the argument `name` of def, or -1. */
int kd_loader_arg_index(const kd_loader_def *def, const char *name);

/* Arguments with every default filled in (given = 0). */
void kd_loader_args_init(const kd_loader_def *def, kd_loader_args *a);
/* Set one argument by name (or by position when name is NULL, pos >= 0).
 * EARG for an unknown name ("idx: no argument 'foo' (it takes: dir)"), a
 * position past the last argument, or a value of the wrong kind. */
kd_data_status kd_loader_args_set_num(kd_loader_args *a, const char *name, int pos,
                                      double v, char *err, size_t errlen);
kd_data_status kd_loader_args_set_str(kd_loader_args *a, const char *name, int pos,
                                      const char *s, char *err, size_t errlen);
kd_data_status kd_loader_args_set_call(kd_loader_args *a, const char *name, int pos,
                                       const char *callee, const double *list, int nlist,
                                       char *err, size_t errlen);
/* Required arguments present, integers whole and >= their bound, symbols in
 * their set. */
kd_data_status kd_loader_args_check(const kd_loader_args *a, char *err, size_t errlen);

/* The value of argument `name` (which must exist in the def). */
double kd_larg_num(const kd_loader_args *a, const char *name);
const char *kd_larg_str(const kd_loader_args *a, const char *name);
const kd_larg *kd_larg_get(const kd_loader_args *a, const char *name);

/* def->shape / def->load after kd_loader_args_check. */
kd_data_status kd_loader_sample_shape(const kd_loader_args *a, kd_sample_shape *out,
                                      char *err, size_t errlen);
kd_data_status kd_loader_load_data(const kd_loader_args *a, uint64_t seed, kd_dataset *out,
                                   char *err, size_t errlen);

/* Shape helpers for the defs. */
void kd_sample_shape_set(kd_sample_shape *s, kd_data_kind kind, int ndim,
                         int64_t d0, int64_t d1, int64_t d2, int64_t classes);

#endif
