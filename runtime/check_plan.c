/* check_plan.c — what `kdrun --check` knows before anything is loaded,
 * beyond names, types and shapes: the run plan itself (run_plan.c resolves
 * every phase's settings, schedules, routes and reports exactly as the run
 * will) and the augmentations' ranges against the data's sample shape.
 *
 * Called from kd_check_models(), so a run refuses the same recipes, at the
 * same locations, before it makes a run directory. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "run_plan.h"
#include "../lang/consteval.h"
#include "../lang/settings.h"

/* the argument `name` (or positional pos) of a call */
static const kdr_node *call_arg(const kdr_node *call, const char *name, int pos)
{
    int i = 0;
    for (const kdr_node *a = call->kids; a; a = a->next, i++) {
        if (a->name && !strcmp(a->name, name)) return a->a;
        if (!a->name && i == pos) return a->a ? a->a : a;
    }
    return NULL;
}

static const char *name_of_call(const kdr_node *c)
{
    return c && c->kind == KDR_CALL && c->a && c->a->kind == KDR_IDENT ? c->a->name : NULL;
}

/* crop(size, pad: p): 1 <= size <= the image's height and width, 0 <= pad < size */
static int check_crop(const kdr_program *p, const kdr_unit *u, const kdr_node *c, const kd_data_shape *ds,
                      int have_shape, kdr_diag *d)
{
    const kdr_node *sz = call_arg(c, "size", 0), *pd = call_arg(c, "pad", 1);
    kdr_consteval ev;
    kdr_consteval_init(&ev, p, NULL, KDR_CE_SWEEP_FIRST);
    double size = 0, pad = 0;
    if (!sz || kdr_const_num(&ev, u, sz, &size) != KDR_CE_OK) return 0;   /* the checker's word */
    if (pd && kdr_const_num(&ev, u, pd, &pad) != KDR_CE_OK) return 0;
    int64_t h = 0, w = 0;
    if (have_shape && ds->x.ndim >= 2) {
        h = ds->x.dims[ds->x.ndim - 2];
        w = ds->x.dims[ds->x.ndim - 1];
    }
    if (have_shape && h > 0 && (size > (double)h || size > (double)w)) {
        kdr_diag_push(d, KDR_ERROR, u, sz->beg, sz->end,
                      "crop: size %.10g is larger than the %lldx%lld images", size, (long long)h, (long long)w);
        return -1;
    }
    if (!have_shape && size > 65536) {
        kdr_diag_push(d, KDR_ERROR, u, sz->beg, sz->end, "crop: size %.10g is larger than any image (at most 65536)",
                      size);
        return -1;
    }
    if (pd && !(pad < size)) {
        kdr_diag_push(d, KDR_ERROR, u, pd->beg, pd->end,
                      "crop: pad %.10g must be smaller than the crop size %.10g (the crop would hold no image)",
                      pad, size);
        return -1;
    }
    return 0;
}

/* every `augment` of every data declaration */
static int check_augments(const kdr_program *p, kdr_diag *d)
{
    int rc = 0;
    for (size_t u = 0; u < p->nunits; u++) {
        const kdr_unit *un = p->units[u];
        if (!un->root) continue;
        for (const kdr_node *t = un->root->kids; t; t = t->next) {
            if (t->kind != KDR_DATA) continue;
            kd_data_shape ds;
            memset(&ds, 0, sizeof ds);
            int have = kd_data_decl_shape_of(p, t, &ds) == 0;
            for (const kdr_node *s = t->kids; s; s = s->next) {
                if (s->kind != KDR_SETTING || s->setting != KDR_S_AUGMENT) continue;
                for (const kdr_node *c = s->kids; c; c = c->next) {
                    const char *n = name_of_call(c);
                    if (n && !strcmp(n, "crop") && check_crop(p, un, c, &ds, have, d)) rc = -1;
                }
            }
        }
    }
    return rc;
}

int kd_check_plan(const kdr_program *p, kdr_diag *d)
{
    int rc = check_augments(p, d);
    kd_run_opts o;
    memset(&o, 0, sizeof o);
    o.seed = -1;
    o.nthreads = 1;
    o.quiet = 1;
    run R;
    memset(&R, 0, sizeof R);
    R.p = p;
    R.o = &o;
    kdr_diag scratch;
    kdr_diag_init(&scratch);
    R.d = &scratch;
    R.unit = p->nunits ? p->units[0] : NULL;
    kd_plan P;
    memset(&P, 0, sizeof P);
    if (plan_resolve(&R, &P) && R.status == KD_RUN_RECIPE) {
        /* recipe errors only: what is not in this build yet (exit 1) the
         * run itself reports, before its first phase */
        for (size_t i = 0; i < scratch.count; i++) {
            const kdr_diag_msg *m = &scratch.msgs[i];
            kdr_diag_push(d, m->sev, m->unit, m->beg, m->end, "%s", m->text);
        }
        rc = -1;
    }
    plan_free(&P);
    run_free(&R);
    kdr_diag_free(&scratch);
    return rc;
}
