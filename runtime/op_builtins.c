/* op_builtins.c — recipe builtins built from the op registry (see
 * op_builtins.h).
 *
 * For each op with a `use` and each of its sugar spellings: the arguments
 * are the data inputs (a tensor, or tensors for a list), then every
 * attribute that is not internal and that the spelling does not fix, named
 * as the spelling renames it.  Types map one to one (int, number, bool,
 * enum -> a bare word of the enum's names, ints -> a list); an attribute's
 * inclusive range [min, max] becomes the argument's range, so --check
 * refuses what the op would refuse, at the recipe's location; the default
 * is written as a recipe would read it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "op_builtins.h"
#include "loader_builtins.h"

static kd_recipe_op *g_ops;
static size_t g_nops;

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* "1e-05" -> "1e-5": defaults as recipes and kdr(5) write them */
static char *fmt_num(double x)
{
    char b[64];
    snprintf(b, sizeof b, "%g", x);
    char *e = strstr(b, "e-0");
    if (!e) e = strstr(b, "e+0");
    if (e) memmove(e + 2, e + 3, strlen(e + 3) + 1);
    return dupstr(b);
}

static char *join_enums(const char *const *v, const char *sep)
{
    size_t n = 1;
    for (int i = 0; v[i]; i++) n += strlen(v[i]) + strlen(sep);
    char *s = malloc(n);
    if (!s) return NULL;
    s[0] = 0;
    for (int i = 0; v[i]; i++) {
        if (i) strcat(s, sep);
        strcat(s, v[i]);
    }
    return s;
}

static const kd_attr_fix *fix_of(const kd_sugar *sg, const char *attr)
{
    for (int i = 0; sg && sg->fixed && sg->fixed[i].attr; i++)
        if (strcmp(sg->fixed[i].attr, attr) == 0) return &sg->fixed[i];
    return NULL;
}

/* the recipe's name of attribute `attr` under a sugar's renames */
static const char *recipe_name(const kd_sugar *sg, const char *attr)
{
    for (int i = 0; sg && sg->renames && sg->renames[i]; i++) {
        const char *eq = strchr(sg->renames[i], '=');
        if (eq && strcmp(eq + 1, attr) == 0) {
            char *n = malloc((size_t)(eq - sg->renames[i]) + 1);
            if (!n) return NULL;
            memcpy(n, sg->renames[i], (size_t)(eq - sg->renames[i]));
            n[eq - sg->renames[i]] = 0;
            return n;
        }
    }
    return attr;
}

static unsigned ctx_of(kd_use u)
{
    switch (u) {
    case KD_USE_NET: return KDR_CTX_NET;
    case KD_USE_LOSS: return KDR_CTX_LOSS;
    case KD_USE_SEARCH: return KDR_CTX_SEARCH;
    default: return 0;
    }
}

static int build(kd_recipe_op *r, const kd_op_def *op, const kd_sugar *sg)
{
    memset(r, 0, sizeof *r);
    r->op = op;
    r->sugar = sg;
    r->inputs = sg && sg->inputs ? sg->inputs : op->inputs;
    kdr_argspec *a = calloc(KD_RECIPE_MAXARGS + 1, sizeof *a);
    if (!a) return -1;
    int n = 0;
    for (int i = 0; r->inputs && r->inputs[i].name; i++) {
        if (n == KD_RECIPE_MAXARGS) goto too_many;
        a[n].name = r->inputs[i].name;
        a[n].kind = r->inputs[i].kind == KD_IN_ONE ? KDR_A_TENSOR : KDR_A_TENSORS;
        a[n].rest = r->inputs[i].kind == KD_IN_REST;
        a[n].req = 1;
        r->attr[n] = -1;
        r->input[n] = i;
        n++;
    }
    for (int i = 0; op->attrs && op->attrs[i].name; i++) {
        const kd_attr_spec *s = &op->attrs[i];
        const kd_attr_fix *fx = fix_of(sg, s->name);
        if (s->internal || (fx && fx->kind != KD_FIX_DEFAULT)) continue;
        if (n == KD_RECIPE_MAXARGS) goto too_many;
        kdr_argspec *p = &a[n];
        p->name = recipe_name(sg, s->name);
        if (!p->name) return -1;
        switch (s->type) {
        case KD_ATTR_INT: p->kind = KDR_A_INT; break;
        case KD_ATTR_FLOAT: p->kind = KDR_A_NUM; break;
        case KD_ATTR_BOOL: p->kind = KDR_A_BOOL; break;
        case KD_ATTR_ENUM: p->kind = KDR_A_SYM; break;
        case KD_ATTR_INTS: p->kind = KDR_A_LIST; break;
        }
        if (s->type == KD_ATTR_INT || s->type == KD_ATTR_FLOAT || s->type == KD_ATTR_INTS) {
            /* (a list: each element; lang/ checks a list's range per element) */
            p->range = KDR_R_LO | KDR_R_HI;
            p->lo = s->min;
            p->hi = s->max;
        }
        if (s->type == KD_ATTR_ENUM && !(p->syms = join_enums(s->enums, "|"))) return -1;
        p->req = s->required && !fx;
        if (fx) {
            r->has_def[n] = 1;
            r->def[n] = fx->value;
            p->def = fmt_num(fx->value);
        } else if (!p->req) {
            if (s->def_text) p->def = s->def_text;
            else if (s->type == KD_ATTR_BOOL) p->def = s->def ? "true" : "false";
            else if (s->type == KD_ATTR_ENUM) p->def = s->enums[(int)s->def];
            else if (s->type == KD_ATTR_INTS) p->def = NULL;
            else p->def = fmt_num(s->def);
        }
        r->attr[n] = i;
        n++;
    }
    a[n].name = NULL;
    r->nargs = n;
    r->b.name = sg ? sg->name : op->alias ? op->alias : op->name;
    r->b.ctx = ctx_of(op->use);
    r->b.flags = ((op->flags & KD_OP_TIN) ? KDR_B_TENSOR_IN : 0u) |
                 ((op->flags & KD_OP_BARE) ? KDR_B_BARE : 0u);
    if (sg && sg->doc) r->b.doc = sg->doc;
    else if (sg) {
        char buf[128];
        snprintf(buf, sizeof buf, "same as %s", op->alias ? op->alias : op->name);
        if (!(r->b.doc = dupstr(buf))) return -1;
    } else r->b.doc = op->doc;
    r->b.args = a;
    if (!r->b.doc || !r->b.doc[0]) {
        fprintf(stderr, "kdrun: op '%s' is used in recipes but has no doc line\n", op->name);
        return -1;
    }
    return 0;
too_many:
    fprintf(stderr, "kdrun: op '%s' has more than %d recipe arguments\n", op->name,
            KD_RECIPE_MAXARGS);
    return -1;
}

static int build_all(void)
{
    size_t n = 0;
    for (int i = 0; i < kd_op_count(); i++) {
        const kd_op_def *op = kd_op_at(i);
        if (op->use == KD_USE_NONE) continue;
        n++;
        for (int k = 0; op->sugar && op->sugar[k].name; k++) n++;
    }
    kd_recipe_op *v = calloc(n ? n : 1, sizeof *v);
    if (!v) return -1;
    size_t m = 0;
    for (int i = 0; i < kd_op_count(); i++) {
        const kd_op_def *op = kd_op_at(i);
        if (op->use == KD_USE_NONE) continue;
        if (build(&v[m++], op, NULL)) return -1;
        for (int k = 0; op->sugar && op->sugar[k].name; k++)
            if (build(&v[m++], op, &op->sugar[k])) return -1;
    }
    g_ops = v;
    g_nops = m;
    return 0;
}

int kd_op_builtins_register(void)
{
    if (!g_ops && build_all()) return -1;
    size_t nl = kd_loader_builtins(NULL, 0);     /* and the loader registry's */
    kdr_builtin *b = calloc(g_nops + nl ? g_nops + nl : 1, sizeof *b);
    if (!b) return -1;
    for (size_t i = 0; i < g_nops; i++) b[i] = g_ops[i].b;
    kd_loader_builtins(b + g_nops, nl);
    int rc = kdr_builtins_register(b, g_nops + nl);   /* copies the entries */
    free(b);
    return rc;
}

const kd_recipe_op *kd_recipe_op_find(const char *name, unsigned ctx_mask)
{
    if (!g_ops && build_all()) return NULL;
    for (size_t i = 0; i < g_nops; i++)
        if ((g_ops[i].b.ctx & ctx_mask) && strcmp(g_ops[i].b.name, name) == 0) return &g_ops[i];
    return NULL;
}

const kd_recipe_op *kd_recipe_ops(size_t *n)
{
    if (!g_ops && build_all()) {
        if (n) *n = 0;
        return NULL;
    }
    if (n) *n = g_nops;
    return g_ops;
}
