/* op_builtins.h — the recipe builtins of the op registry.
 *
 * The op registry (ops/kd_op.h) is the only spec of an op.  At start-up,
 * kd_op_builtins_register() walks kd_op_at() and hands lang/ one builtin
 * entry per recipe spelling (an op's own, and its sugar: dwconv, dconv,
 * l2, hint, ...), so that `kdrun --check` checks op arguments with the
 * registry's names, types, defaults and ranges while lang/ includes
 * nothing from ops/.  The loader registry's builtins (runtime/
 * loader_builtins.h) are registered with them.  Every program that checks
 * recipes calls it first (runtime/main.c, the tests).
 *
 * The compiler then looks the spelling up again (kd_recipe_op_find) to set
 * the op's attributes from the bound arguments.
 */
#ifndef KD_OP_BUILTINS_H
#define KD_OP_BUILTINS_H

#include "../ops/kd_op.h"
#include "../lang/builtins.h"

#define KD_RECIPE_MAXARGS 32

/* One recipe spelling of an op. */
typedef struct kd_recipe_op {
    kdr_builtin b;                        /* the entry handed to lang/ */
    const kd_op_def *op;
    const kd_sugar *sugar;                /* NULL: the op's own spelling */
    const kd_input_spec *inputs;          /* the spelling's data inputs */
    int nargs;
    int attr[KD_RECIPE_MAXARGS];          /* per argument: attribute index, -1: a data input */
    int input[KD_RECIPE_MAXARGS];         /* per input argument: index in inputs[] */
    int has_def[KD_RECIPE_MAXARGS];       /* 1: not given, the attribute is set to def[] */
    double def[KD_RECIPE_MAXARGS];        /*    (a sugar's KD_FIX_DEFAULT) */
} kd_recipe_op;

/* Build the entries (once) and register them with lang/.  0, or -1 when
 * out of memory or when an op's spec cannot be expressed (a message on
 * stderr: a bug in ops/). */
int kd_op_builtins_register(void);

/* The spelling `name` in a context of ctx_mask (KDR_CTX_*), or NULL. */
const kd_recipe_op *kd_recipe_op_find(const char *name, unsigned ctx_mask);

/* All spellings, in registry order. */
const kd_recipe_op *kd_recipe_ops(size_t *n);

#endif
