/* check_expr.c — expressions, and the bodies of nets and searches.
 *
 * ex() gives the kind of value of an expression as far as it is known
 * without tensors (a number, a model, a call of an optimizer, ...) and
 * reports what cannot be: arithmetic on a model, an index on a string,
 * `in` outside a net, a member a model's net does not assign.  stmts() walks
 * the statements of a net or search body; check_net() a whole template.
 */
#include <math.h>
#include <string.h>
#include "check_int.h"

/* ---- expressions ------------------------------------------------------- */

ty ck_ty(int k) { ty t = { k, 0, NULL }; return t; }


const char *ck_kind_desc(ty t, char *buf, size_t n)
{
    const char *nm = t.decl && t.decl->name ? t.decl->name : NULL;
    switch (t.k) {
    case V_NUM: return "a number";
    case V_BOOL: return "true/false";
    case V_STR: return "a string";
    case V_LIST: return "a list";
    case V_TENSOR: return "a tensor";
    case V_MODEL: if (nm) { snprintf(buf, n, "model '%s'", nm); return buf; } return "a model";
    case V_DATA: if (nm) { snprintf(buf, n, "data set '%s'", nm); return buf; } return "a data set";
    case V_POOL: if (nm) { snprintf(buf, n, "pool '%s'", nm); return buf; } return "a pool";
    case V_ROUTE: return "a checkpoint route";
    case V_NET: if (nm) { snprintf(buf, n, "net template '%s'", nm); return buf; } return "a net template";
    case V_SEARCH: if (nm) { snprintf(buf, n, "search '%s'", nm); return buf; } return "a search";
    case V_PHASE: if (nm) { snprintf(buf, n, "phase '%s'", nm); return buf; } return "a phase";
    case V_CALL: snprintf(buf, n, "a %s", kdr_ctx_name(t.ctx)); return buf;
    default: return "a value";
    }
}

/* Every name assigned in a net template, and in the templates it calls. */

static int tree_has_name(chk *c, const kdr_node *n, const char *name, int depth)
{
    for (; n; n = n->next) {
        if (n->kind == KDR_ASSIGN && n->a) {
            const kdr_node *t = n->a->kind == KDR_INDEX ? n->a->a : n->a;
            if (t && ck_streq(t->name, name))
                return 1;
        }
        if (n->kind == KDR_CALL && n->a && n->a->kind == KDR_IDENT) {
            const sym *s = ck_find_sym_kind(c, n->a->name, S_NET);
            if (s && depth < 16 && ck_net_has_name(c, s->node, name, depth + 1))
                return 1;
        }
        if (tree_has_name(c, n->a, name, depth) || tree_has_name(c, n->b, name, depth)
            || tree_has_name(c, n->c, name, depth) || tree_has_name(c, n->kids, name, depth))
            return 1;
    }
    return 0;
}

int ck_net_has_name(chk *c, const kdr_node *net, const char *name, int depth)
{
    return tree_has_name(c, net->kids, name, depth);
}

/* names assigned directly in a net (for suggestions) */
void ck_suggest_net_names(chk *c, const kdr_node *n, sugg *s, const char *want, int depth)
{
    for (; n && depth < 64; n = n->next) {
        if (n->kind == KDR_ASSIGN && n->a) {
            const kdr_node *t = n->a->kind == KDR_INDEX ? n->a->a : n->a;
            if (t)
                ck_consider(s, want, t->name);
        }
        ck_suggest_net_names(c, n->kids, s, want, depth + 1);
        ck_suggest_net_names(c, n->b, s, want, depth + 1);
        if (n->kind != KDR_ASSIGN)
            ck_suggest_net_names(c, n->a, s, want, depth + 1);
        else if (n->b)
            ck_suggest_net_names(c, n->b->kind == KDR_REPEAT ? n->b : NULL, s, want, depth + 1);
    }
}

const kdr_node *ck_model_template(const chk *c, const kdr_node *model)
{
    if (!model || model->kind != KDR_MODEL || !model->a || model->a->kind != KDR_CALL
        || !model->a->a || model->a->a->kind != KDR_IDENT)
        return NULL;
    const sym *s = ck_find_sym_kind(c, model->a->a->name, S_NET);
    return s ? s->node : NULL;
}

static void check_member_of_model(chk *c, const kdr_node *n, const kdr_node *model)
{
    const kdr_node *net = ck_model_template(c, model);
    if (!net || !n->name || ck_streq(n->name, "out") || ck_streq(n->name, "in"))
        return;
    if (ck_net_has_name(c, net, n->name, 0))
        return;
    sugg sg = { 0 };
    char buf[128];
    ck_suggest_net_names(c, net->kids, &sg, n->name, 0);
    ck_err(c, n, "model '%s' (net %s) has no tensor named '%s'%s", model->name, net->name,
        n->name, ck_dym(&sg, buf, sizeof buf));
}

/* a split statement of a data block (train/test/val "path"), and its name */
int ck_is_split(const kdr_node *s)
{
    return s->kind == KDR_SETTING && (s->setting == KDR_S_SPLIT_TRAIN || s->setting == KDR_S_SPLIT_TEST
                                      || s->setting == KDR_S_SPLIT_VAL);
}

const char *ck_split_name(const kdr_node *s)
{
    const kdr_setting_info *i = kdr_setting_info_of(s->setting);
    return i ? i->name : "?";
}

static void check_member_of_data(chk *c, const kdr_node *n, const kdr_node *data)
{
    int any = 0;
    sugg sg = { 0 };
    for (const kdr_node *s = data->kids; s; s = s->next) {
        if (s->kind != KDR_SETTING)
            continue;
        if (ck_is_split(s)) {
            any = 1;
            if (ck_streq(ck_split_name(s), n->name) || (s->name && ck_streq(s->name, n->name)))
                return;
            ck_consider(&sg, n->name, ck_split_name(s));
            if (s->name)
                ck_consider(&sg, n->name, s->name);
        }
    }
    if (!any)
        return;                      /* the loader's own splits: unknown here */
    char buf[128];
    ck_err(c, n, "data set '%s' has no split '%s'%s", data->name, n->name, ck_dym(&sg, buf, sizeof buf));
}


static int is_arith(int op)
{
    return op == '+' || op == '-' || op == '*' || op == '/' || op == '%' || op == '^';
}

int ck_bad_operand(int k)
{
    return k == V_MODEL || k == V_DATA || k == V_POOL || k == V_ROUTE || k == V_NET
        || k == V_SEARCH || k == V_PHASE;
}

ty ck_ex(chk *c, const kdr_node *n, unsigned ctx)
{
    char b1[128], b2[128];
    if (!n)
        return ck_ty(V_ANY);
    switch (n->kind) {
    case KDR_NUM: return ck_ty(V_NUM);
    case KDR_STR: return ck_ty(V_STR);
    case KDR_BOOL: return ck_ty(V_BOOL);
    case KDR_IDENT: return ck_resolve(c, n, ctx);
    case KDR_INPUT:
        if (!c->in_net)
            ck_err(c, n, "'in' is only valid inside a net, where it is the net's input");
        return ck_ty(V_TENSOR);
    case KDR_STAR:
        ck_err(c, n, "'*' is only valid as an index");
        return ck_ty(V_ANY);
    case KDR_LIST:
        for (const kdr_node *k = n->kids; k; k = k->next)
            ck_ex(c, k, ctx);
        return ck_ty(V_LIST);
    case KDR_UNARY: {
        ty a = ck_ex(c, n->a, ctx);
        if (n->op == KDR_OP_NOT)
            return ck_ty(V_BOOL);
        if (a.k == V_STR || a.k == V_BOOL || a.k == V_LIST || ck_bad_operand(a.k)) {
            ck_err(c, n, "cannot negate %s", ck_kind_desc(a, b1, sizeof b1));
            return ck_ty(V_ANY);
        }
        return a.k == V_CALL ? ck_ty(V_ANY) : a;
    }
    case KDR_BINARY: {
        if (n->op == '@') {
            const kdr_node *m = n->a;
            const kdr_builtin *b = m && m->kind == KDR_IDENT ? kdr_builtin_find(m->name, KDR_CTX_METRIC) : NULL;
            if (!(ctx & KDR_CTX_METRIC)) {
                ck_err(c, n, "'@' (a metric at k, like hr@10) is only valid in the metrics of 'evaluate'");
                return ck_ty(V_ANY);
            }
            if (!b) {
                if (m && m->kind == KDR_IDENT) {
                    sugg sg = { 0 };
                    size_t nb;
                    const kdr_builtin *all = kdr_builtins(&nb);
                    for (size_t i = 0; i < nb; i++)
                        if (all[i].flags & KDR_B_AT_K)
                            ck_consider(&sg, m->name, all[i].name);
                    ck_err(c, m, "unknown metric '%s'%s", m->name, ck_dym(&sg, b1, sizeof b1));
                } else
                    ck_err(c, n, "expected a metric name before '@'");
                return ck_ty(V_CALL);
            }
            if (!(b->flags & KDR_B_AT_K)) {
                ck_err(c, n, "metric '%s' takes no @k", b->name);
                return ck_ty(V_CALL);
            }
            double k;
            if (!ck_cval(c, n->b, &k))
                ck_err(c, n->b, "the k of '%s@k' must be a constant", b->name);
            else if (k < 1 || k != floor(k)) {
                ck_fmt_num(b2, sizeof b2, k);
                ck_err(c, n->b, "the k of '%s@k' must be a positive integer, got %s", b->name, b2);
            }
            ty r = ck_ty(V_CALL);
            r.ctx = KDR_CTX_METRIC;
            return r;
        }
        ty a = ck_ex(c, n->a, ctx);
        /* `and`/`or` do not compute their right side when the left decides */
        int skip = 0;
        if (n->op == KDR_OP_AND || n->op == KDR_OP_OR) {
            int cond = ck_cond(c, n->a);
            skip = cond == (n->op == KDR_OP_OR);
        }
        c->quiet_const += skip;
        ty b = ck_ex(c, n->b, ctx);
        c->quiet_const -= skip;
        if (n->op == KDR_OP_RANGE) {
            if (a.k != V_NUM && a.k != V_ANY)
                ck_err(c, n->a, "a range needs numbers, got %s", ck_kind_desc(a, b1, sizeof b1));
            else if (b.k != V_NUM && b.k != V_ANY)
                ck_err(c, n->b, "a range needs numbers, got %s", ck_kind_desc(b, b1, sizeof b1));
            return ck_ty(V_LIST);
        }
        if (n->op == KDR_OP_AND || n->op == KDR_OP_OR)
            return ck_ty(V_BOOL);
        if (n->op == KDR_OP_EQ || n->op == KDR_OP_NE)
            return ck_ty(V_BOOL);
        /* arithmetic and ordering */
        const kdr_node *badn = NULL;
        ty bad = a;
        if (a.k == V_STR || a.k == V_LIST || a.k == V_BOOL || ck_bad_operand(a.k)) badn = n->a;
        else if (b.k == V_STR || b.k == V_LIST || b.k == V_BOOL || ck_bad_operand(b.k)) { badn = n->b; bad = b; }
        if (badn) {
            const char *what = is_arith(n->op) ? "arithmetic" : "a comparison";
            if (bad.k == V_MODEL)
                ck_err(c, badn, "cannot use %s in %s; use one of its tensors, such as %s.logits",
                    ck_kind_desc(bad, b1, sizeof b1), what, bad.decl && bad.decl->name ? bad.decl->name : "model");
            else
                ck_err(c, badn, "cannot use %s in %s", ck_kind_desc(bad, b1, sizeof b1), what);
            return ck_ty(V_ANY);
        }
        if (!is_arith(n->op))
            return ck_ty(V_BOOL);
        if (a.k == V_TENSOR || b.k == V_TENSOR)
            return ck_ty(V_TENSOR);
        if (a.k == V_NUM && b.k == V_NUM) {
            double v;
            ck_cval(c, n, &v);       /* says what is wrong with 1/0, 10^400 */
            return ck_ty(V_NUM);
        }
        (void)b2;
        return ck_ty(V_ANY);
    }
    case KDR_TERNARY: {
        /* names are checked in both branches; wrong constants (1/0) only
         * in a branch that can be taken */
        ck_ex(c, n->a, ctx);
        int cond = ck_cond(c, n->a);
        c->quiet_const += cond == 0;
        ty b = ck_ex(c, n->b, ctx);
        c->quiet_const += (cond == 1) - (cond == 0);
        ty d = ck_ex(c, n->c, ctx);
        c->quiet_const -= cond == 1;
        return b.k == d.k ? b : ck_ty(V_ANY);
    }
    case KDR_CALL:
        return ck_call(c, n, ctx, 0);
    case KDR_INDEX: {
        const sym *member = ck_model_member(c, n);   /* ts[i] of an indexed model */
        if (member)
            return ck_sym_type(c, member, n);
        ty a = ck_ex(c, n->a, ctx);
        for (const kdr_node *k = n->kids; k; k = k->next) {
            if (k->kind == KDR_STAR)
                continue;
            ty i = ck_ex(c, k, ctx);
            if (i.k == V_STR || i.k == V_BOOL || i.k == V_LIST || ck_bad_operand(i.k) || i.k == V_TENSOR)
                ck_err(c, k, "an index must be a number, got %s", ck_kind_desc(i, b1, sizeof b1));
        }
        if (a.k == V_MODEL || a.k == V_NET || a.k == V_DATA || a.k == V_NUM || a.k == V_STR
            || a.k == V_BOOL) {
            ck_err(c, n->a, "cannot index %s", ck_kind_desc(a, b1, sizeof b1));
            return ck_ty(V_ANY);
        }
        return a.k == V_TENSOR ? a : ck_ty(V_ANY);
    }
    case KDR_MEMBER: {
        ty a = ck_ex(c, n->a, ctx);
        if (a.k == V_MODEL) {
            if (a.decl)
                check_member_of_model(c, n, a.decl);
            return ck_ty(V_TENSOR);
        }
        if (a.k == V_DATA) {
            if (a.decl)
                check_member_of_data(c, n, a.decl);
            ty r = ck_ty(V_DATA);
            r.decl = a.decl;
            return r;
        }
        if (a.k == V_NUM || a.k == V_STR || a.k == V_BOOL || a.k == V_LIST || a.k == V_NET
            || a.k == V_PHASE || a.k == V_ROUTE || a.k == V_CALL) {
            ck_err(c, n, "%s has no member '%s'", ck_kind_desc(a, b1, sizeof b1), n->name ? n->name : "?");
            return ck_ty(V_ANY);
        }
        return a.k == V_TENSOR ? ck_ty(V_TENSOR) : ck_ty(V_ANY);
    }
    case KDR_REPEAT: {
        ty cnt = ck_ex(c, n->a, ctx);
        if (cnt.k != V_NUM && cnt.k != V_ANY)
            ck_err(c, n->a, "the count of 'repeat' must be a number, got %s", ck_kind_desc(cnt, b1, sizeof b1));
        double v;
        if (ck_cval(c, n->a, &v) && (v < 0 || v != floor(v))) {
            ck_fmt_num(b2, sizeof b2, v);
            ck_err(c, n->a, "the count of 'repeat' must be a non-negative integer, got %s", b2);
        }
        if (n->b)
            ck_ex(c, n->b, ctx);
        if (!c->in_net)
            ck_err(c, n, "'repeat' is only valid inside a net");
        PUSH(c->scoped, c->nscoped, c->cscoped, n->name);
        size_t keep = c->nscoped;
        ck_stmts(c, n->kids, ctx, 2);
        c->nscoped = keep - 1;
        return ck_ty(V_TENSOR);
    }
    case KDR_SUM: {
        ty r = ck_ex(c, n->a, ctx);
        if (r.k != V_LIST && r.k != V_ANY)
            ck_err(c, n->a, "'sum' iterates over a list or a range, got %s", ck_kind_desc(r, b1, sizeof b1));
        PUSH(c->scoped, c->nscoped, c->cscoped, n->name);
        size_t keep = c->nscoped;
        ty b = ck_ex(c, n->b, ctx);
        c->nscoped = keep - 1;
        return b.k == V_NUM ? b : ck_ty(b.k == V_TENSOR ? V_TENSOR : V_ANY);
    }
    case KDR_ARG:
        return ck_ex(c, n->a, ctx);
    default:
        ck_err(c, n, "unexpected construct in an expression");
        return ck_ty(V_ANY);
    }
}

/* ---- net and search bodies ---------------------------------------------- */

/* collect every name assigned anywhere in a body (flat net scope) */
static void collect_vars(chk *c, const kdr_node *n, int depth)
{
    for (; n && depth < 300; n = n->next) {
        if (n->kind == KDR_ASSIGN && n->a) {
            const kdr_node *t = n->a->kind == KDR_INDEX ? n->a->a : n->a;
            if (t && t->kind == KDR_IDENT && t->name && !ck_find_var(c, t->name)) {
                local l = { t->name, t, 0, 0 };
                PUSH(c->vars, c->nvars, c->cvars, l);
            }
        }
        if (n->kind == KDR_SETTING)
            continue;
        collect_vars(c, n->a, depth + 1);
        collect_vars(c, n->b, depth + 1);
        collect_vars(c, n->c, depth + 1);
        collect_vars(c, n->kids, depth + 1);
    }
}

static void mark_defined(chk *c, const kdr_node *target)
{
    const kdr_node *t = target && target->kind == KDR_INDEX ? target->a : target;
    if (!t || t->kind != KDR_IDENT)
        return;
    local *v = ck_find_var(c, t->name);
    if (v)
        v->defined = 1;
}

/* net_level: 1 = the net body itself, 2 = a repeat body, 0 = nested block */
void ck_stmts(chk *c, const kdr_node *first, unsigned ctx, int net_level)
{
    const kdr_node *out = NULL;
    for (const kdr_node *s = first; s; s = s->next) {
        switch (s->kind) {
        case KDR_ASSIGN: {
            const kdr_node *t = s->a;
            if (t && t->kind == KDR_INDEX) {
                for (const kdr_node *k = t->kids; k; k = k->next) {
                    if (k->kind == KDR_STAR)
                        ck_err(c, k, "'*' cannot be used in an assignment");
                    else
                        ck_ex(c, k, ctx);
                }
            }
            const kdr_node *id = t && t->kind == KDR_INDEX ? t->a : t;
            if (id && id->kind == KDR_IDENT && id->name) {
                if (ck_streq(id->name, "label") || kdr_builtin_find(id->name, KDR_CTX_VALUE))
                    ck_err(c, id, "cannot assign to the predefined name '%s'", id->name);
                else if (ck_is_scoped(c, id->name))
                    ck_err(c, id, "cannot assign to the loop variable '%s'", id->name);
            }
            ck_ex(c, s->b, ctx);
            mark_defined(c, t);
            break;
        }
        case KDR_OUT:
            if (!c->in_net) {
                ck_err(c, s, "'out' is only valid inside a net");
                ck_ex(c, s->a, ctx);
                break;
            }
            if (net_level == 0) {
                ck_err(c, s, "'out' must be a statement of the net body itself, not of an 'if' or 'for'");
                ck_ex(c, s->a, ctx);
                break;
            }
            if (out) {
                ck_err(c, s, "a second 'out'; a net has exactly one output");
                ck_note(c, c->u, out, "the first 'out' is here");
            } else
                out = s;
            ck_ex(c, s->a, ctx);
            if (s->next && out == s) {
                int later_out = 0;
                for (const kdr_node *t = s->next; t; t = t->next)
                    if (t->kind == KDR_OUT) later_out = 1;
                if (!later_out)
                    ck_err(c, s, "'out' must be the last statement of its block");
            }
            break;
        case KDR_FOR: {
            ty r = ck_ex(c, s->a, ctx);
            char b1[128];
            if (r.k != V_LIST && r.k != V_ANY)
                ck_err(c, s->a, "'for' iterates over a list or a range, got %s", ck_kind_desc(r, b1, sizeof b1));
            PUSH(c->scoped, c->nscoped, c->cscoped, s->name);
            size_t keep = c->nscoped;
            ck_stmts(c, s->kids, ctx, 0);
            c->nscoped = keep - 1;
            break;
        }
        case KDR_IF: {
            /* as for c ? a : b: no constant errors in a branch never taken */
            const kdr_node *i = s;
            int taken = 0, quiet = c->quiet_const;
            while (i) {
                if (i->kind == KDR_IF) {
                    c->quiet_const = quiet + taken;
                    ck_ex(c, i->a, ctx);
                    int cond = ck_cond(c, i->a);
                    c->quiet_const = quiet + (taken || cond == 0);
                    ck_stmts(c, i->kids, ctx, 0);
                    taken |= cond == 1;
                    i = i->b;
                } else {
                    c->quiet_const = quiet + taken;
                    ck_stmts(c, i->kids, ctx, 0);
                    i = NULL;
                }
            }
            c->quiet_const = quiet;
            break;
        }
        case KDR_BLOCK:
            ck_stmts(c, s->kids, ctx, 0);
            break;
        case KDR_SETTING:
            if (s->setting == KDR_S_BRIDGE && !c->in_net) {
                ck_ex(c, s->a, ctx);
                break;
            }
            ck_err(c, s, "'%s' is not valid in %s", s->word ? s->word : "?", c->where);
            break;
        default:
            ck_err(c, s, "unexpected statement in %s", c->where);
            break;
        }
    }
    (void)net_level;
}


void ck_net(chk *c, const kdr_node *net)
{
    c->nvars = 0;
    c->nscoped = 0;
    /* parameters */
    for (const kdr_node *p = net->params; p; p = p->next) {
        for (const kdr_node *q = net->params; q != p; q = q->next)
            if (ck_streq(q->name, p->name)) {
                ck_err(c, p, "parameter '%s' is declared twice", p->name);
                ck_note(c, c->u, q, "the first declaration is here");
                break;
            }
    }
    c->in_net = 0;
    c->where = "a parameter default";
    for (const kdr_node *p = net->params; p; p = p->next) {
        if (p->a)
            ck_ex(c, p->a, KDR_CTX_MATH);
        local l = { p->name, p, 1, 1 };
        PUSH(c->vars, c->nvars, c->cvars, l);
    }
    collect_vars(c, net->kids, 0);
    c->in_net = 1;
    c->where = "a net body";
    ck_stmts(c, net->kids, NET_CTX, 1);
    const kdr_node *out = NULL;
    for (const kdr_node *s = net->kids; s; s = s->next)
        if (s->kind == KDR_OUT)
            out = s;
    if (!out)
        ck_err(c, ck_name_at(net), "net '%s' has no 'out' statement (its output)", net->name);
    c->in_net = 0;
    c->nvars = 0;
}
