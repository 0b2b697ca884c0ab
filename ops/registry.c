/* registry.c — the op table, built from ops/ops.def: one KD_OP(name) per
 * file of OPS_KERNELS in ops/local.mk, generated at build time. */
#include <string.h>
#include "kd_op.h"

#define KD_OP(n) extern const kd_op_def kd_op_##n;
#include "ops/ops.def"
#undef KD_OP

static const kd_op_def *const kd_op_table[] = {
#define KD_OP(n) &kd_op_##n,
#include "ops/ops.def"
#undef KD_OP
};

#define KD_NOPS ((int)(sizeof kd_op_table / sizeof kd_op_table[0]))

const kd_op_def *kd_op_find(const char *name)
{
    for (int i = 0; i < KD_NOPS; i++) {
        const kd_op_def *d = kd_op_table[i];
        if (strcmp(d->name, name) == 0 || (d->alias && strcmp(d->alias, name) == 0))
            return d;
    }
    return NULL;
}

int kd_op_count(void) { return KD_NOPS; }

int kd_rows_always(const kd_op_ctx *c) { (void)c; return 1; }

const kd_op_def *kd_op_at(int i)
{
    return i >= 0 && i < KD_NOPS ? kd_op_table[i] : NULL;
}
