/* optim.h — optimizers over the flat parameter buffer, learning-rate and
 * weight schedules.
 *
 * PARAMETER GROUPS
 *   A group is a list of (offset, count) float ranges into the flat
 *   parameter buffer (kd_graph.param_count floats); the gradient buffer has
 *   the same layout.  Groups are built from the kd_param table: the
 *   trainable weights of some models (`optimizer student: ...`), or the
 *   trainable architecture parameters (`optimizer arch: ...`).  Adjacent
 *   ranges are merged.
 *
 * OPTIMIZERS
 *   One kd_optim per group.  Its state (SGD momentum buffer, Adam m and v) is
 *   allocated once by kd_optim_new; kd_optim_step allocates nothing.  The
 *   update formulas and the order of their float32 operations are those of
 *   PyTorch's single-tensor CPU code paths (torch/optim/{sgd,adam,adamw}.py,
 *   `_single_tensor_*`, which torch uses for CPU tensors), with every scalar
 *   coefficient computed in double as Python does and rounded to float32
 *   where ATen converts it:
 *
 *   sgd(lr, momentum, weight_decay, nesterov)      (dampening 0)
 *       g = g + wd*p                         if wd != 0
 *       b = g (first step) | b = mu*b + g    if mu != 0
 *       g = g + mu*b (nesterov) | g = b      if mu != 0
 *       p = p + (-lr)*g
 *   adam(lr, betas, eps, weight_decay)
 *       t = t + 1
 *       g = g + wd*p                         if wd != 0   (L2, coupled)
 *       m = beta1*m + (1-beta1)*g
 *       v = beta2*v + (1-beta2)*g*g
 *       d = sqrt(v) / sqrt(1 - beta2^t) + eps
 *       p = p + (-(lr / (1 - beta1^t)))*m / d
 *   adamw(...): as adam without the L2 term, and first p = p * (1 - lr*wd)
 *
 *   Each float32 operation is the one ATen performs, including the fused
 *   multiply-adds of its vectorized kernels (fmaf here): the results are
 *   bit-identical to torch 1.13 on the CPU (the version Debian 12 ships;
 *   tests/runtime/optim_golden.txt).  torch >= 2.0 writes the m update as
 *   m.lerp_(g, 1-beta1), which differs by an ulp now and then.
 *
 *   Elementwise loops are split by `omp parallel for schedule(static)`;
 *   each element's update is independent, so results do not depend on the
 *   number of threads.
 *
 * SCHEDULES
 *   kd_lr_sched: the learning rate of an epoch/step as a function of the
 *   optimizer's base lr.  Epochs count from 0 within a phase; `step` is the
 *   step within the epoch (0 .. steps_per_epoch-1).
 *   kd_weight_sched: a factor in a loss (ramp, until, decay), per epoch.
 *
 * Errors are values: constructors push a message without location to the
 * kdr_diag (the caller that built them from the recipe adds the location).
 */
#ifndef KD_OPTIM_H
#define KD_OPTIM_H

#include <stddef.h>
#include <stdint.h>
#include "graph.h"

/* ---- parameter groups --------------------------------------------------- */

typedef struct kd_range {
    size_t offset;                   /* in floats */
    size_t count;
} kd_range;

typedef struct kd_param_group {
    kd_range *ranges;                /* sorted by offset, disjoint, merged */
    size_t nranges;
    size_t total;                    /* sum of counts */
} kd_param_group;

/* Which parameters a group takes. */
typedef struct kd_group_sel {
    int arch;                        /* 0: weights, 1: architecture parameters */
    uint64_t models;                 /* bit i: model i; 0 means every model */
    int include_frozen;              /* 1: also parameters with trainable == 0 */
} kd_group_sel;

/* The selection for a recipe's `optimizer GROUP: ...` / `lr GROUP: ...`:
 *   NULL or "weights"  the weights of the models in `trained`
 *   "arch"             the architecture parameters of the models in `trained`
 *   a model name       that model's weights (it must be in `trained`)
 * trained: bit i for model i of g (the phase's `train a, b`); 0 means every
 * model.  0, or -1 with a message for an unknown or untrained model. */
int kd_group_sel_named(kd_group_sel *sel, const kd_graph *g, const char *group,
                       uint64_t trained, kdr_diag *d);

/* Build a group from the parameter table.  0 on success, -1 (message in d)
 * on out of memory.  An empty group (no matching parameter) is valid:
 * grp->total == 0.  Free with kd_param_group_free. */
int kd_param_group_build(kd_param_group *grp, const kd_param *params,
                         int32_t nparams, const kd_group_sel *sel, kdr_diag *d);
/* A group from explicit ranges (any order; sorted, merged; overlapping
 * ranges are an error).  0 or -1 with a message. */
int kd_param_group_from_ranges(kd_param_group *grp, const kd_range *r,
                               size_t n, kdr_diag *d);
void kd_param_group_free(kd_param_group *grp);
/* 1 if the two groups share a float (two optimizers must not). */
int kd_param_group_overlap(const kd_param_group *a, const kd_param_group *b);

/* ---- optimizers --------------------------------------------------------- */

typedef enum kd_optim_kind {
    KD_OPTIM_SGD,
    KD_OPTIM_ADAM,
    KD_OPTIM_ADAMW
} kd_optim_kind;

/* The arguments of the recipe's optimizer call (lang/builtins.c). */
typedef struct kd_optim_cfg {
    kd_optim_kind kind;
    double lr;                       /* base learning rate (schedules scale it) */
    double weight_decay;
    /* sgd */
    double momentum;
    int nesterov;
    /* adam, adamw: betas: [beta1, beta2] */
    double beta1, beta2;
    double eps;
} kd_optim_cfg;

/* Configurations from every argument.  A recipe's defaults for the
 * arguments it leaves out are its builtins' (lang/builtins.c: adam's lr
 * 1e-3, ...), filled in by the run plan: none are kept here. */
kd_optim_cfg kd_optim_sgd(double lr, double momentum, double weight_decay,
                          int nesterov);
kd_optim_cfg kd_optim_adam(double lr, double beta1, double beta2, double eps,
                           double weight_decay);
kd_optim_cfg kd_optim_adamw(double lr, double beta1, double beta2, double eps,
                            double weight_decay);
/* A configuration of `kind` with every number 0 (lr 0 is refused by
 * kd_optim_check: the caller sets what it uses). */
kd_optim_cfg kd_optim_of(kd_optim_kind kind);
/* Look up an optimizer by its recipe name ("sgd", "adam", "adamw"); 0 or -1. */
int kd_optim_kind_of(const char *name, kd_optim_kind *kind);
const char *kd_optim_name(kd_optim_kind kind);

/* Validate a configuration (the ranges of lang/builtins.c, plus betas in
 * [0, 1) and nesterov needing a momentum).  0, or -1 with a message. */
int kd_optim_check(const kd_optim_cfg *cfg, kdr_diag *d);

typedef struct kd_optim kd_optim;

/* An optimizer over a group (the group is copied).  State is zeroed.  NULL
 * with a message in d on a bad configuration or out of memory. */
kd_optim *kd_optim_new(const kd_optim_cfg *cfg, const kd_param_group *grp,
                       kdr_diag *d);
void kd_optim_free(kd_optim *o);

/* One update of every parameter of the group with learning rate lr (the
 * scheduled value; cfg.lr is only the base).  params and grads are the
 * whole flat buffers.  Allocates nothing. */
void kd_optim_step(kd_optim *o, float *params, const float *grads, double lr);

/* Forget the state (momentum, moments, step count), e.g. at a new phase. */
void kd_optim_reset(kd_optim *o);

const kd_optim_cfg *kd_optim_config(const kd_optim *o);
const kd_param_group *kd_optim_group(const kd_optim *o);
/* Steps taken (Adam's t). */
int64_t kd_optim_steps(const kd_optim *o);

/* State buffers for checkpoints: nbuf is 0 (plain SGD), 1 (SGD momentum
 * "momentum_buffer") or 2 (Adam "exp_avg", "exp_avg_sq"); each buffer has
 * group.total floats in the order of the group's ranges.  The SGD momentum
 * buffer is only meaningful once kd_optim_steps() > 0. */
int kd_optim_nstate(const kd_optim *o);
float *kd_optim_state(kd_optim *o, int i, const char **name);
/* Restore the step count after loading the state buffers. */
void kd_optim_set_steps(kd_optim *o, int64_t steps);

/* ---- learning-rate schedules ------------------------------------------- */

#define KD_LR_MAXMILESTONES 32
#define KD_LR_MAXDEPTH 4            /* warmup(then: warmup(then: ...)) nesting */

typedef enum kd_lr_kind {
    KD_LR_CONSTANT,
    KD_LR_STEP,                     /* step and multistep: MultiStepLR */
    KD_LR_COSINE,
    KD_LR_WARMUP,
    KD_LR_EXPONENTIAL
} kd_lr_kind;

/* One level of a schedule; warm-ups wrap the next level. */
typedef struct kd_lr_level {
    kd_lr_kind kind;
    int64_t milestones[KD_LR_MAXMILESTONES];   /* step: sorted, >= 0 */
    int nmilestones;
    double gamma;                   /* step, exponential */
    double min_lr;                  /* cosine */
    int64_t epochs;                 /* cosine: T_max; warmup: warm-up epochs */
} kd_lr_level;

typedef struct kd_lr_sched {
    kd_lr_level level[KD_LR_MAXDEPTH];  /* level[0] outermost */
    int depth;                          /* levels used (>= 1) */
} kd_lr_sched;

/* Constructors (arguments and defaults of lang/builtins.c):
 *   constant()
 *   step(milestones, gamma: 0.1) / multistep(milestones, gamma: 0.1):
 *       lr = base * gamma^(number of milestones <= epoch); milestones are
 *       epoch numbers (integral, >= 0; sorted here; a repeated milestone
 *       counts twice, as in torch.optim.lr_scheduler.MultiStepLR).
 *   cosine(min_lr: 0) over `epochs` epochs (CosineAnnealingLR, T_max =
 *       epochs): min_lr + (base - min_lr) * (1 + cos(pi * e / epochs)) / 2,
 *       e clamped to epochs (min_lr after the end).  Pass the phase's
 *       epochs, or 0 and call kd_lr_set_epochs later.
 *   warmup(epochs, then: constant()): during the first `epochs` epochs the
 *       lr rises linearly per step, (s + 1) / (epochs * steps_per_epoch) of
 *       the inner schedule's first value (s = steps since the phase began);
 *       then the inner schedule runs with epochs counted from the end of the
 *       warm-up.  `then` may be NULL (constant).
 *   exponential(gamma): base * gamma^epoch.
 * Each returns 0, or -1 with a message in d. */
int kd_lr_constant(kd_lr_sched *s);
int kd_lr_step(kd_lr_sched *s, const double *milestones, int n, double gamma,
               kdr_diag *d);
int kd_lr_cosine(kd_lr_sched *s, double min_lr, int64_t epochs, kdr_diag *d);
int kd_lr_warmup(kd_lr_sched *s, int64_t epochs, const kd_lr_sched *then,
                 kdr_diag *d);
int kd_lr_exponential(kd_lr_sched *s, double gamma, kdr_diag *d);

/* Set the length of cosine annealings from the phase's epoch count: a
 * cosine at the top gets T_max = phase_epochs; inside warmup(w, ...) it gets
 * phase_epochs - w (at least 1). */
void kd_lr_set_epochs(kd_lr_sched *s, int64_t phase_epochs);

/* The learning rate at (epoch, step).  steps_per_epoch >= 1 (smaller values
 * count as 1). */
double kd_lr_at(const kd_lr_sched *s, double base_lr, int64_t epoch,
                int64_t step, int64_t steps_per_epoch);

/* ---- weight schedules (factors in a loss) ------------------------------ */

typedef enum kd_weight_kind {
    KD_WEIGHT_CONST,                /* a plain number */
    KD_WEIGHT_RAMP,
    KD_WEIGHT_UNTIL,
    KD_WEIGHT_DECAY
} kd_weight_kind;

typedef struct kd_weight_sched {
    kd_weight_kind kind;
    double from, to;                /* ramp; const: `to` is the value */
    int64_t epochs;                 /* ramp */
    int64_t epoch;                  /* until */
    double start, factor;           /* decay */
    int64_t every;                  /* decay */
} kd_weight_sched;

/*   ramp(from, to, epochs): from + (to - from) * e / epochs for e < epochs,
 *       then `to` (per epoch; epochs >= 1)
 *   until(epoch): 1 for e < epoch, 0 from it on (epoch >= 0)
 *   decay(start, factor, every): start * factor^floor(e / every)
 *       (start > 0, factor > 0, every >= 1)
 * Each returns 0, or -1 with a message in d. */
int kd_weight_const(kd_weight_sched *w, double value);
int kd_weight_ramp(kd_weight_sched *w, double from, double to, int64_t epochs,
                   kdr_diag *d);
int kd_weight_until(kd_weight_sched *w, int64_t epoch, kdr_diag *d);
int kd_weight_decay(kd_weight_sched *w, double start, double factor,
                    int64_t every, kdr_diag *d);

/* The factor at epoch e (0-based, within the phase). */
double kd_weight_at(const kd_weight_sched *w, int64_t epoch);

#endif
