/* data_decl.h — a recipe's `data NAME = LOADER(ARGS) { settings }` turned
 * into data: the loader found in the registry (data/loaders.h), its
 * arguments bound and evaluated, then either its sample shape (for
 * `kdrun --check`, nothing loaded) or the loaded data set with the
 * declaration's settings applied (split names, holdout, limit, augment,
 * normalize).
 *
 * Statuses are kdrun's exit statuses (train.h): 0, KD_RUN_RECIPE (the
 * recipe is wrong), KD_RUN_DATA (the data is), KD_RUN_FAILED (not in this
 * build, out of memory).  Every failure leaves a message in d, located in
 * the recipe where it comes from it.
 */
#ifndef KD_DATA_DECL_H
#define KD_DATA_DECL_H

#include "graph.h"
#include "../data/data.h"
#include "../data/loaders.h"

/* A loaded data set and what its declaration says about batches. */
typedef struct kd_data_set {
    const kdr_node *decl;            /* `data NAME = ...` */
    const kd_loader_def *loader;
    kd_dataset ds;
    int naug_train;
    kd_aug aug[KD_MAX_AUG];          /* for the split named in aug_split */
    char aug_split[64];
    int nnorm;
    float mean[KD_MAX_CHANNELS], std[KD_MAX_CHANNELS];
    kd_noise_pg noise;               /* raw_synth's noise: poisson_gauss(log_shot: [lo, hi]) */
} kd_data_set;

/* Kinds of data a caller can use (bits 1 << kd_data_kind). */
#define KD_DATA_KINDS_ALL 0u
#define KD_DATA_KIND_BIT(k) (1u << (k))

typedef struct kd_data_set_opts {
    unsigned kinds;     /* 0: every kind; else a loader of another kind is refused
                         * before loading: "training on LOADER data is not in this
                         * build yet" (KD_RUN_FAILED) */
    int quiet;          /* 0: one line on stderr, "data NAME: SOURCE (splits) in T s" */
} kd_data_set_opts;

/* Load the data set declared by `decl` (a KDR_DATA node of p): everything
 * kdrun does before its first batch.  The loader's own random choices and
 * holdout/limit are keyed by seed 0.  On success *out owns the data
 * (kd_data_set_free); on failure *out is zeroed.  Returns a status. */
int kd_data_set_load(const kdr_program *p, const kdr_node *decl, const kd_data_set_opts *o,
                     kd_data_set *out, kdr_diag *d);
void kd_data_set_free(kd_data_set *D);

/* The batcher configuration of split `split` of D: training = shuffled,
 * last partial batch dropped, augmented if the split is D's augment split;
 * normalization always. */
void kd_data_set_loader_cfg(const kd_data_set *D, const char *split, int64_t batch,
                            uint64_t seed, int training, kd_loader_cfg *c);

/* A number the recipe writes as a constant expression (literals, `let`,
 * a sweep's current value, + - * / ^), without messages; 0 or -1. */
int kd_recipe_const_num(const kdr_program *p, const kdr_node *e, double *out);

/* What the models of a phase on D see per sample: x [C, H, W] (raw: the
 * packed mosaic [4, H/2, W/2], `noisy`), the classes. */
void kd_data_set_shape(const kd_data_set *D, kd_data_shape *out);

/* The loader call of `decl` bound to its registry entry: arguments by
 * position and by name, each evaluated (literals, `let` constants, a
 * sweep's current value, arithmetic).  With d NULL nothing is reported
 * (for --check's quiet inference).  Returns a status; *def is the entry
 * (NULL when the call names no loader). */
int kd_data_decl_args(const kdr_program *p, const kdr_node *decl, const kd_loader_def **def,
                      kd_loader_args *a, kdr_diag *d);

/* The per-sample shape `decl` gives, from the registry (nothing is loaded;
 * idx reads its header when the files are there).  0, or -1 when it cannot
 * be known before loading (an argument that is not a constant). */
int kd_data_decl_shape(const kdr_program *p, const kdr_node *decl, kd_sample_shape *out);
/* The same as the compiler takes it. */
int kd_data_decl_shape_of(const kdr_program *p, const kdr_node *decl, kd_data_shape *out);

#endif
