/* loader_builtins.c — recipe builtins from the loader registry; see
 * loader_builtins.h. */
#include <string.h>

#include "loader_builtins.h"
#include "../data/loaders.h"

#define MAX_LOADERS 32

/* per loader: its arguments and the terminator */
static kdr_argspec specs[MAX_LOADERS][KD_LOADER_MAXARGS + 1];
static int built;

static void build(void)
{
    for (int i = 0; i < kd_loader_count() && i < MAX_LOADERS; i++) {
        const kd_loader_def *d = kd_loader_at(i);
        for (int k = 0; k < d->nargs && k < KD_LOADER_MAXARGS; k++) {
            const kd_loader_argdef *a = &d->args[k];
            kdr_argspec *s = &specs[i][k];
            memset(s, 0, sizeof *s);
            s->name = a->name;
            s->req = a->req;
            s->def = a->def;
            switch (a->kind) {
            case KD_LARG_STR: s->kind = KDR_A_STR; break;
            case KD_LARG_INT: s->kind = KDR_A_INT; break;
            case KD_LARG_BOOL: s->kind = KDR_A_BOOL; break;
            case KD_LARG_SYM: s->kind = KDR_A_SYM; s->syms = a->syms; break;
            case KD_LARG_CALL: s->kind = KDR_A_CALL; s->ctx = KDR_CTX_NOISE; break;
            }
            if (a->has_lo) {
                s->range = KDR_R_LO;
                s->lo = a->lo;
            }
        }
        memset(&specs[i][d->nargs], 0, sizeof specs[i][0]);   /* { .name = NULL } */
    }
    built = 1;
}

size_t kd_loader_builtins(kdr_builtin *out, size_t max)
{
    if (!built) build();
    size_t n = (size_t)kd_loader_count();
    for (size_t i = 0; i < n && i < max && i < MAX_LOADERS; i++) {
        const kd_loader_def *d = kd_loader_at((int)i);
        memset(&out[i], 0, sizeof out[i]);
        out[i].name = d->name;
        out[i].ctx = KDR_CTX_LOADER;
        out[i].flags = 0;
        out[i].args = specs[i];
        out[i].doc = d->doc;
    }
    return n;
}
