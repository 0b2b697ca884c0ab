/* check_calls.c — calls, against the builtins table and net templates.
 *
 * A call of a net template binds its parameters (positionally, after the
 * input inside a net, and by name); a call of a builtin (lang/builtins.c)
 * is matched against its argument specs: names, arity, kinds, symbol
 * values, routes, nested calls of the right context and number ranges.
 */
#include <math.h>
#include <string.h>
#include "check_int.h"
#include "dym.h"

/* ---- calls --------------------------------------------------------------- */

/* a call of a net template: params bind positionally (after the input inside
 * a net) and by name */
ty ck_tcall(chk *c, const kdr_node *n, const kdr_node *net, unsigned ctx, int omit_input)
{
    char buf[128];
    size_t np = 0;
    for (const kdr_node *p = net->params; p; p = p->next) np++;
    const kdr_node *bound[64] = { 0 };
    if (np > 64) np = 64;
    int want_input = c->in_net && !omit_input;
    int got_input = 0;
    size_t pi = 0;
    for (const kdr_node *a = n->kids; a; a = a->next) {
        if (a->b) {
            ck_err(c, a, "'point = value' arguments are only valid in '.with(...)'");
            ck_ex(c, a->b, ctx);
            ck_ex(c, a->a, ctx);
            continue;
        }
        if (a->name) {
            size_t i = 0;
            const kdr_node *p = net->params;
            for (; p && i < np; p = p->next, i++)
                if (ck_streq(p->name, a->name))
                    break;
            if (!p || i >= np) {
                sugg sg = { 0 };
                for (const kdr_node *q = net->params; q; q = q->next)
                    ck_consider(&sg, a->name, q->name);
                const char *to = sg.name ? NULL : kdr_dym_alias(a->name, 'a');   /* num_classes */
                for (const kdr_node *q = net->params; to && q; q = q->next)
                    if (ck_streq(q->name, to)) sg.name = q->name;
                ck_err(c, a, "net '%s' has no parameter '%s'%s", net->name, a->name, ck_dym(&sg, buf, sizeof buf));
            } else if (bound[i]) {
                ck_err(c, a, "argument '%s' of net '%s' is given twice", a->name, net->name);
            } else
                bound[i] = a;
            ck_ex(c, a->a, ctx);
            continue;
        }
        if (want_input && !got_input) {
            got_input = 1;
            ty t = ck_ex(c, a->a, ctx);
            if (t.k == V_NUM || t.k == V_STR || t.k == V_BOOL || ck_bad_operand(t.k))
                ck_err(c, a, "the first argument of net '%s' inside a net is its input tensor, got %s",
                    net->name, ck_kind_desc(t, buf, sizeof buf));
            continue;
        }
        while (pi < np && bound[pi]) pi++;
        if (pi >= np) {
            ck_err(c, a, "too many arguments to net '%s' (it has %zu parameter%s%s)", net->name, np,
                np == 1 ? "" : "s", want_input ? " after its input" : "");
            ck_ex(c, a->a, ctx);
            continue;
        }
        bound[pi++] = a;
        ck_ex(c, a->a, ctx);
    }
    if (want_input && !got_input)
        ck_err(c, n, "net '%s' is called inside a net: its input tensor must be the first argument", net->name);
    size_t i = 0;
    for (const kdr_node *p = net->params; p && i < np; p = p->next, i++)
        if (!p->a && !bound[i])
            ck_err(c, n, "missing argument '%s' of net '%s'", p->name, net->name);
    ty r = ck_ty(c->in_net ? V_TENSOR : V_MODEL);
    return r;
}

/* v, the value of e, against the range of its argument spec */
static void range_check(chk *c, const kdr_builtin *b, const kdr_argspec *sp, const kdr_node *e, double v,
                        const char *each)
{
    char b2[64];
    ck_fmt_num(b2, sizeof b2, v);
    int lo_bad = (sp->range & KDR_R_LO) && ((sp->range & KDR_R_LO_OPEN) ? !(v > sp->lo) : !(v >= sp->lo));
    int hi_bad = (sp->range & KDR_R_HI) && ((sp->range & KDR_R_HI_OPEN) ? !(v < sp->hi) : !(v <= sp->hi));
    if (lo_bad || hi_bad) {
        char lo[32], hi[32];
        ck_fmt_num(lo, sizeof lo, sp->lo);
        ck_fmt_num(hi, sizeof hi, sp->hi);
        if ((sp->range & KDR_R_HI) && (sp->range & KDR_R_LO))
            ck_err(c, e, "%s'%s' of '%s' must be in %s%s, %s%s, got %s", each, sp->name, b->name, "[", lo, hi,
                   (sp->range & KDR_R_HI_OPEN) ? ")" : "]", b2);
        else
            ck_err(c, e, "%s'%s' of '%s' must be %s %s, got %s", each, sp->name, b->name,
                   (sp->range & KDR_R_LO_OPEN) ? ">" : ">=", lo, b2);
    }
}

/* check one argument against its spec */
void ck_arg_value(chk *c, const kdr_builtin *b, const kdr_argspec *sp,
                  const kdr_node *e, unsigned ctx)
{
    char b1[128], b2[160];
    if (!e)
        return;
    switch (sp->kind) {
    case KDR_A_SYM: {
        const char *word = NULL;
        if (e->kind == KDR_IDENT) {
            if (kdr_sym_in(sp->syms, e->name))
                return;
            if (ck_is_scoped(c, e->name) || ck_find_var(c, e->name) || ck_find_sym_kind(c, e->name, S_LET)
                || ck_find_sym_kind(c, e->name, S_SWEEP)) {
                ck_ex(c, e, ctx);
                return;
            }
            word = e->name;
        } else if (e->kind == KDR_STR) {
            if (kdr_sym_in(sp->syms, e->str))
                return;
            word = e->str;
        } else {
            ty t = ck_ex(c, e, ctx);
            if (t.k != V_ANY && t.k != V_STR)
                ck_err(c, e, "'%s' of '%s' must be one of %s, got %s", sp->name, b->name, sp->syms,
                    ck_kind_desc(t, b1, sizeof b1));
            return;
        }
        sugg sg = { 0 };
        const char *p = sp->syms;
        char w[64];
        while (p && *p) {
            const char *q = strchr(p, '|');
            size_t len = q ? (size_t)(q - p) : strlen(p);
            if (len < sizeof w) {
                memcpy(w, p, len);
                w[len] = 0;
                if (ck_edit_distance(word, w) <= 2 && (int)ck_edit_distance(word, w) < (int)strlen(word)
                    && (!sg.name || ck_edit_distance(word, w) < sg.dist)) {
                    /* keep a pointer into the static spec string: copy into b2 */
                    snprintf(b2, sizeof b2, "%s", w);
                    sg.name = b2;
                    sg.dist = ck_edit_distance(word, w);
                }
            }
            p = q ? q + 1 : NULL;
        }
        char syms[128];
        snprintf(syms, sizeof syms, "%s", sp->syms ? sp->syms : "");
        char list[200];
        size_t o = 0;
        for (char *q = syms; *q && o + 3 < sizeof list; q++) {
            if (*q == '|') { list[o++] = ','; list[o++] = ' '; }
            else list[o++] = *q;
        }
        list[o] = 0;
        ck_err(c, e, "'%s' is not a valid value of '%s' in '%s' (one of: %s)%s", word, sp->name, b->name, list,
            ck_dym(&sg, b1, sizeof b1));
        return;
    }
    case KDR_A_ROUTE: {
        if (e->kind == KDR_IDENT) {
            if (ck_find_sym_kind(c, e->name, S_ROUTE))
                return;
            const sym *s = ck_find_sym(c, e->name);
            if (s) {
                ck_err(c, e, "'%s' is a %s, not a checkpoint route (declare one with 'checkpoint every N as ROUTE')",
                    e->name, ck_sym_kind_name[s->k]);
                return;
            }
            sugg sg = { 0 };
            for (size_t i = 0; i < c->nsyms; i++)
                if (c->syms[i].k == S_ROUTE)
                    ck_consider(&sg, e->name, c->syms[i].name);
            ck_err(c, e, "undefined checkpoint route '%s'%s", e->name, ck_dym(&sg, b1, sizeof b1));
            return;
        }
        ty t = ck_ex(c, e, ctx);
        ck_err(c, e, "'%s' of '%s' must be a checkpoint route, got %s", sp->name, b->name,
            ck_kind_desc(t, b1, sizeof b1));
        return;
    }
    case KDR_A_CALL: {
        ty t;
        if (e->kind == KDR_CALL)
            t = ck_call(c, e, sp->ctx, 0);
        else
            t = ck_ex(c, e, sp->ctx);
        if (t.k == V_ANY || (t.k == V_CALL && (t.ctx & sp->ctx)))
            return;
        if (t.k == V_CALL || e->kind == KDR_CALL)
            return;   /* a wrong builtin was already reported by ck_call() */
        ck_err(c, e, "'%s' of '%s' must be a %s call, got %s", sp->name, b->name, kdr_ctx_name(sp->ctx),
            ck_kind_desc(t, b1, sizeof b1));
        return;
    }
    default:
        break;
    }
    if (sp->kind == KDR_A_NUM || sp->kind == KDR_A_INT)
        ctx |= KDR_CTX_WEIGHT | KDR_CTX_MATH | KDR_CTX_SHAPE;
    ty t = ck_ex(c, e, ctx);
    const char *want = NULL;
    int bad = 0;
    switch (sp->kind) {
    case KDR_A_NUM:
    case KDR_A_INT:
        want = sp->kind == KDR_A_INT ? "an integer" : "a number";
        bad = !(t.k == V_NUM || t.k == V_ANY || (t.k == V_CALL && (t.ctx & (KDR_CTX_SHAPE | KDR_CTX_MATH | KDR_CTX_WEIGHT))));
        break;
    case KDR_A_BOOL:
        want = "true or false";
        bad = !(t.k == V_BOOL || t.k == V_ANY);
        break;
    case KDR_A_STR:
        want = "a string";
        bad = !(t.k == V_STR || t.k == V_ANY);
        break;
    case KDR_A_TENSOR:
        want = "a tensor";
        bad = !(t.k == V_TENSOR || t.k == V_ANY || t.k == V_NUM
                || (t.k == V_CALL && !(t.ctx & (KDR_CTX_OPTIM | KDR_CTX_LR | KDR_CTX_LOADER | KDR_CTX_AUG
                                               | KDR_CTX_NOISE | KDR_CTX_POOL | KDR_CTX_METRIC))));
        break;
    case KDR_A_TENSORS:
        want = "tensors (a list, or x[i, *])";
        bad = !(t.k == V_TENSOR || t.k == V_ANY || t.k == V_LIST);
        break;
    case KDR_A_LIST:
        want = "a list";
        bad = !(t.k == V_LIST || t.k == V_ANY);
        break;
    case KDR_A_MODEL:
        want = "a model";
        bad = !(t.k == V_MODEL || t.k == V_ANY);
        break;
    case KDR_A_DATA:
        want = "a data set";
        bad = !(t.k == V_DATA || t.k == V_ANY);
        break;
    default:
        break;
    }
    if (bad) {
        if (t.k == V_MODEL && sp->kind == KDR_A_TENSOR)
            ck_err(c, e, "'%s' of '%s' must be a tensor, got %s; use one of its tensors, such as %s.logits",
                sp->name, b->name, ck_kind_desc(t, b1, sizeof b1), t.decl && t.decl->name ? t.decl->name : "model");
        else
            ck_err(c, e, "'%s' of '%s' must be %s, got %s", sp->name, b->name, want, ck_kind_desc(t, b1, sizeof b1));
        return;
    }
    if (sp->kind == KDR_A_NUM || sp->kind == KDR_A_INT) {
        double v;
        if (!ck_cval(c, e, &v))
            return;
        ck_fmt_num(b2, sizeof b2, v);
        if (sp->kind == KDR_A_INT && v != floor(v)) {
            ck_err(c, e, "'%s' of '%s' must be an integer, got %s", sp->name, b->name, b2);
            return;
        }
        range_check(c, b, sp, e, v, "");
        return;
    }
    if (sp->kind == KDR_A_LIST && sp->range) {
        /* a range on a list argument holds for each element: betas of adam */
        kdr_consteval ev;
        kdr_cval l;
        kdr_consteval_init(&ev, c->p, NULL, 0);
        if (kdr_const_eval(&ev, c->u, e, &l) != KDR_CE_OK || l.kind != KDR_CV_LIST || l.node->kind != KDR_LIST)
            return;
        const kdr_unit *saved = c->u;
        for (const kdr_node *k = l.node->kids; k; k = k->next) {
            double v;
            if (ck_cval_in(c, l.unit, k, &v)) {
                c->u = l.unit;
                range_check(c, b, sp, k, v, "each of ");
                c->u = saved;
            }
        }
    }
}

/* where a builtin call may appear, described for "not valid in ..." */
ty ck_bcall(chk *c, const kdr_node *n, const kdr_builtin *b, unsigned ctx, int omit_input)
{
    char buf[128];
    size_t np = kdr_builtin_nargs(b);
    const kdr_node *bound[32] = { 0 };
    if (np > 32) np = 32;
    size_t pi = 0;
    int rest_used = 0;
    int is_choice = ck_streq(b->name, "choice");
    if (omit_input && (b->flags & KDR_B_TENSOR_IN) && np > 0) {
        bound[0] = n;
        pi = 1;
    }
    for (const kdr_node *a = n->kids; a; a = a->next) {
        if (a->b) {
            ck_err(c, a, "'point = value' arguments are only valid in '.with(...)'");
            continue;
        }
        if (a->name) {
            size_t i = 0;
            for (; i < np; i++)
                if (ck_streq(b->args[i].name, a->name) && !b->args[i].rest)
                    break;
            if (i >= np) {
                sugg sg = { 0 };
                for (size_t j = 0; j < np; j++)
                    if (!(omit_input && j == 0 && (b->flags & KDR_B_TENSOR_IN)))
                        ck_consider(&sg, a->name, b->args[j].name);
                ck_dym(&sg, buf, sizeof buf);
                if (!buf[0] || !sg.name) ck_dym_alias(a->name, 'a', buf, sizeof buf);
                ck_err(c, a, "'%s' has no argument '%s'%s", b->name, a->name, buf);
                ck_ex(c, a->a, ctx);
            } else if (bound[i]) {
                ck_err(c, a, "argument '%s' of '%s' is given twice", a->name, b->name);
                ck_ex(c, a->a, ctx);
            } else {
                bound[i] = a;
                ck_arg_value(c, b, &b->args[i], a->a, ctx);
            }
            continue;
        }
        while (pi < np && bound[pi] && !b->args[pi].rest) pi++;
        if (pi >= np) {
            size_t maxpos = np - ((omit_input && (b->flags & KDR_B_TENSOR_IN)) ? 1 : 0);
            if (np == 0)
                ck_err(c, a, "'%s' takes no arguments", b->name);
            else
                ck_err(c, a, "too many arguments to '%s' (it takes at most %zu)", b->name, maxpos);
            ck_ex(c, a->a, ctx);
            continue;
        }
        const kdr_argspec *sp = &b->args[pi];
        if (sp->rest) {
            rest_used = 1;
            bound[pi] = a;
            if (is_choice) {
                const kdr_node *e = a->a;
                if (e && e->kind == KDR_CALL)
                    ck_call(c, e, KDR_CTX_NET, 1);
                else if (e && e->kind == KDR_IDENT && kdr_builtin_find(e->name, KDR_CTX_NET)
                         && !ck_find_sym(c, e->name) && !ck_find_var(c, e->name)) {
                    const kdr_builtin *cb = kdr_builtin_find(e->name, KDR_CTX_NET);
                    if (!(cb->flags & KDR_B_BARE))
                        ck_err(c, e, "candidate '%s' needs its arguments: %s(...)", e->name, e->name);
                } else
                    ck_ex(c, e, KDR_CTX_NET | KDR_CTX_SHAPE | KDR_CTX_MATH);
            } else
                ck_arg_value(c, b, sp, a->a, ctx);
            continue;
        }
        bound[pi++] = a;
        ck_arg_value(c, b, sp, a->a, ctx);
    }
    for (size_t i = 0; i < np; i++) {
        const kdr_argspec *sp = &b->args[i];
        if (!sp->req || bound[i] || (sp->rest && rest_used))
            continue;
        ck_err(c, n, "missing argument '%s' of '%s'", sp->name, b->name);
    }
    ty r = ck_ty(V_CALL);
    r.ctx = b->ctx;
    if (b->ctx & (KDR_CTX_NET | KDR_CTX_LOSS | KDR_CTX_SEARCH))
        return ck_ty(V_TENSOR);
    if (b->ctx & (KDR_CTX_SHAPE | KDR_CTX_MATH))
        return ck_ty(V_NUM);
    return r;
}

static const char *ctx_list(unsigned ctx, char *buf, size_t n)
{
    /* the first listed context: what is expected here */
    static const unsigned order[] = { KDR_CTX_LOSS, KDR_CTX_NET, KDR_CTX_OPTIM, KDR_CTX_LR,
                                      KDR_CTX_LOADER, KDR_CTX_AUG, KDR_CTX_METRIC, KDR_CTX_POOL,
                                      KDR_CTX_NOISE, KDR_CTX_WEIGHT, KDR_CTX_SEARCH };
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (ctx & order[i]) {
            snprintf(buf, n, "%s", kdr_ctx_name(order[i]));
            return buf;
        }
    return "value";
}

/* ---- indexed models: model ts[s] = ... for s in 1..3 ----------------------- */

/* Is `name` the family of an indexed model (members "name[k]")?  The
 * first member's symbol, or NULL. */
static const sym *model_family(const chk *c, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < c->nsyms; i++) {
        const sym *s = &c->syms[i];
        if (s->k == S_MODEL && s->node && s->node->extra && strncmp(s->name, name, n) == 0
            && s->name[n] == '[')
            return s;
    }
    return NULL;
}

/* "ts[1], ts[2], ts[3]" (the first few) */
static const char *family_members(const chk *c, const char *name, char *buf, size_t cap)
{
    size_t n = strlen(name), o = 0;
    int k = 0;
    buf[0] = 0;
    for (size_t i = 0; i < c->nsyms && o + 1 < cap; i++) {
        const sym *s = &c->syms[i];
        if (!(s->k == S_MODEL && s->node && s->node->extra && strncmp(s->name, name, n) == 0
              && s->name[n] == '['))
            continue;
        if (k == 6) { snprintf(buf + o, cap - o, ", ..."); break; }
        int w = snprintf(buf + o, cap - o, "%s%s", k ? ", " : "", s->name);
        if (w > 0) o += (size_t)w;
        k++;
    }
    return buf;
}

/* `ts[i]` where ts is an indexed model: the member (when the index is a
 * constant) or the first member (the same template, for the checks of
 * its tensors); NULL when n is not such an expression.  Errors: more than
 * one index, '*', an index that is not a number, a constant index that
 * names no member. */
const sym *ck_model_member(chk *c, const kdr_node *n)
{
    if (!n || n->kind != KDR_INDEX || !n->a || n->a->kind != KDR_IDENT)
        return NULL;
    const char *name = n->a->name;
    if (ck_is_scoped(c, name) || ck_find_var(c, name) || ck_find_sym(c, name))
        return NULL;
    const sym *first = model_family(c, name);
    if (!first)
        return NULL;
    char b1[160], b2[400];
    int nk = 0;
    for (const kdr_node *k = n->kids; k; k = k->next)
        nk++;
    if (nk != 1 || n->kids->kind == KDR_STAR) {
        ck_err(c, n, "model '%s' has one index, such as %s[%s]: one model of %s", name, name,
            first->node->extra, family_members(c, name, b2, sizeof b2));
        for (const kdr_node *k = n->kids; k; k = k->next)
            if (k->kind != KDR_STAR)
                ck_ex(c, k, KDR_CTX_MATH);
        return first;
    }
    ty t = ck_ex(c, n->kids, KDR_CTX_MATH | KDR_CTX_VALUE);
    if (t.k != V_NUM && t.k != V_ANY) {
        ck_err(c, n->kids, "the index of model '%s' must be a number, got %s", name,
            ck_kind_desc(t, b1, sizeof b1));
        return first;
    }
    double v;
    if (!ck_cval(c, n->kids, &v)) {  /* a loop variable: known when compiled; uses them all */
        size_t len = strlen(name);
        for (size_t i = 0; i < c->nsyms; i++)
            if (c->syms[i].k == S_MODEL && c->syms[i].node && c->syms[i].node->extra
                && strncmp(c->syms[i].name, name, len) == 0 && c->syms[i].name[len] == '[')
                ck_record_use(c, &c->syms[i], n);
        return first;
    }
    char key[200];
    ck_fmt_num(b1, sizeof b1, v);
    snprintf(key, sizeof key, "%s[%s]", name, b1);
    const sym *m = ck_find_sym_kind(c, key, S_MODEL);
    if (!m) {
        ck_err(c, n->kids, "model '%s' has no index %s: it is %s", name, b1,
            family_members(c, name, b2, sizeof b2));
        return first;
    }
    ck_record_use(c, m, n);
    return m;
}

/* `ts[i](x)`: an indexed model applied to a tensor (as `m(x)`) */
static ty member_call(chk *c, const kdr_node *n, const sym *m, unsigned ctx)
{
    int np = 0;
    for (const kdr_node *a = n->kids; a; a = a->next) {
        if (a->name || a->b) {
            ck_err(c, a, "a model applied to a tensor takes one positional argument");
            continue;
        }
        np++;
        ck_ex(c, a->a, ctx);
    }
    if (np != 1)
        ck_err(c, n, "model '%s' applied to a tensor takes exactly one argument, got %d",
            n->a->a->name, np);
    (void)m;
    return ck_ty(V_TENSOR);
}

ty ck_call(chk *c, const kdr_node *n, unsigned ctx, int omit_input)
{
    char b1[128], b2[128];
    const kdr_node *f = n->a;
    if (f && f->kind == KDR_IDENT && !ck_is_scoped(c, f->name) && !ck_find_var(c, f->name)) {
        const sym *s = ck_find_sym(c, f->name);
        if (s && s->k == S_NET)
            return ck_tcall(c, n, s->node, ctx, omit_input);
        if (s && s->k == S_MODEL) {
            ck_record_use(c, s, f);
            int np = 0;
            for (const kdr_node *a = n->kids; a; a = a->next) {
                if (a->name || a->b) {
                    ck_err(c, a, "a model applied to a tensor takes one positional argument");
                    continue;
                }
                np++;
                ck_ex(c, a->a, ctx);
            }
            if (np != 1)
                ck_err(c, n, "model '%s' applied to a tensor takes exactly one argument, got %d", f->name, np);
            return ck_ty(V_TENSOR);
        }
        if (s) {
            ty t = ck_sym_type(c, s, f);
            if (s->k == S_LET || s->k == S_SWEEP || s->k == S_SVAR) {
                for (const kdr_node *a = n->kids; a; a = a->next)
                    ck_ex(c, a->a, ctx);
                return ck_ty(V_ANY);
            }
            /* A phase, data set, pool or search is never callable, so a call
             * with its name means the builtin of that name (phase kd {...}
             * may use kd(...) in its loss). */
            const kdr_builtin *hb = kdr_builtin_find(f->name, ctx & ~KDR_CTX_VALUE);
            if (!hb)
                hb = kdr_builtin_find(f->name, KDR_CTX_MATH);
            if (hb)
                return ck_bcall(c, n, hb, ctx, omit_input);
            ck_err(c, f, "%s cannot be called", ck_kind_desc(t, b1, sizeof b1));
            return ck_ty(V_ANY);
        }
        const kdr_builtin *b = kdr_builtin_find(f->name, ctx & ~KDR_CTX_VALUE);
        if (!b)
            b = kdr_builtin_find(f->name, KDR_CTX_MATH);
        if (b)
            return ck_bcall(c, n, b, ctx, omit_input);
        b = kdr_builtin_find(f->name, ~0u & ~KDR_CTX_FOLLOWS);
        if (b) {
            if (b->flags & KDR_B_VALUE)
                ck_err(c, f, "'%s' is a %s, not a function", f->name, kdr_ctx_name(b->ctx));
            else
                ck_err(c, f, "'%s' is %s %s; it is not valid in %s", f->name, ck_article(kdr_ctx_name(b->ctx)),
                    kdr_ctx_name(b->ctx), c->where);
            (void)ctx_list(ctx, b2, sizeof b2);
            for (const kdr_node *a = n->kids; a; a = a->next)
                ck_ex(c, a->a, ctx);
            ty r = ck_ty(V_CALL);
            r.ctx = b->ctx;
            return r;
        }
        const sym *fam = model_family(c, f->name);
        if (fam) {
            char b3[400];
            ck_err(c, f, "model '%s' is indexed (%s): apply one of them, such as %s[%s](x)", f->name,
                family_members(c, f->name, b3, sizeof b3), f->name, fam->node->extra);
            for (const kdr_node *a = n->kids; a; a = a->next)
                ck_ex(c, a->a, ctx);
            return ck_ty(V_TENSOR);
        }
        sugg sg = { 0 };
        ck_suggest_all(c, &sg, f->name, ctx);
        const char *dym = sg.name ? ck_dym(&sg, b1, sizeof b1) : ck_dym_alias(f->name, 'f', b1, sizeof b1);
        ck_err(c, f, "undefined function '%s'%s", f->name, dym);
        for (const kdr_node *a = n->kids; a; a = a->next)
            ck_ex(c, a->a, ctx);
        return ck_ty(V_ANY);
    }
    if (f && f->kind == KDR_MEMBER && ck_streq(f->name, "with")) {
        ty m = ck_ex(c, f->a, ctx);
        if (m.k != V_MODEL && m.k != V_ANY)
            ck_err(c, f->a, "'.with(...)' needs a model, got %s", ck_kind_desc(m, b1, sizeof b1));
        const kdr_node *net = m.k == V_MODEL && m.decl ? ck_model_template(c, m.decl) : NULL;
        for (const kdr_node *a = n->kids; a; a = a->next) {
            if (!a->b) {
                ck_err(c, a, "'.with(...)' takes substitutions: point = tensor");
                ck_ex(c, a->a, ctx);
                continue;
            }
            const kdr_node *pt = a->b->kind == KDR_INDEX ? a->b->a : a->b;
            if (!pt || pt->kind != KDR_IDENT)
                ck_err(c, a->b, "the point of a substitution must be a tensor name of the model");
            else if (net && !ck_net_has_name(c, net, pt->name, 0)) {
                sugg sg = { 0 };
                ck_suggest_net_names(c, net->kids, &sg, pt->name, 0);
                ck_err(c, pt, "model '%s' (net %s) has no tensor named '%s'%s", m.decl->name, net->name,
                    pt->name, ck_dym(&sg, b1, sizeof b1));
            }
            if (a->b->kind == KDR_INDEX)
                for (const kdr_node *k = a->b->kids; k; k = k->next)
                    if (k->kind != KDR_STAR)
                        ck_ex(c, k, ctx);
            ck_ex(c, a->a, ctx);
        }
        return m;
    }
    const sym *member = ck_model_member(c, f);
    if (member)
        return member_call(c, n, member, ctx);
    ty t = ck_ex(c, f, ctx);
    if (t.k == V_NUM || t.k == V_STR || t.k == V_BOOL || t.k == V_LIST || t.k == V_DATA
        || t.k == V_PHASE || t.k == V_ROUTE || t.k == V_POOL)
        ck_err(c, f, "%s cannot be called", ck_kind_desc(t, b1, sizeof b1));
    for (const kdr_node *a = n->kids; a; a = a->next) {
        if (a->b)
            ck_err(c, a, "'point = value' arguments are only valid in '.with(...)'");
        ck_ex(c, a->a, ctx);
    }
    return ck_ty(V_TENSOR);
}
