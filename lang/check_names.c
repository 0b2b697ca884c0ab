/* check_names.c — names and scopes of the checker.
 *
 * The top-level symbols (pass 1: let, data, net, model, pool, search,
 * phase, sweep, checkpoint routes and search tensors, with duplicates
 * reported), the names in scope while an expression is checked (loop
 * variables, net locals), what a name resolves to and what kind of value it
 * has, the uses a phase records for ordering, and the constants a name
 * stands for (through lang/consteval.c).
 */
#include <stdlib.h>
#include <string.h>
#include "check_int.h"

const char *const ck_sym_kind_name[] = {
    "constant", "data set", "net template", "model", "pool", "search",
    "phase", "sweep", "checkpoint route", "search tensor"
};

const sym *ck_find_sym(const chk *c, const char *name)
{
    for (size_t i = 0; i < c->nsyms; i++)
        if (ck_streq(c->syms[i].name, name))
            return &c->syms[i];
    return NULL;
}

const sym *ck_find_sym_kind(const chk *c, const char *name, int k)
{
    for (size_t i = 0; i < c->nsyms; i++)
        if (c->syms[i].k == k && ck_streq(c->syms[i].name, name))
            return &c->syms[i];
    return NULL;
}

static const kdr_unit *unit_of_sym(const sym *s) { return s->u; }

local *ck_find_var(chk *c, const char *name)
{
    for (size_t i = 0; i < c->nvars; i++)
        if (ck_streq(c->vars[i].name, name))
            return &c->vars[i];
    return NULL;
}

int ck_is_scoped(const chk *c, const char *name)
{
    for (size_t i = c->nscoped; i-- > 0;)
        if (ck_streq(c->scoped[i], name))
            return 1;
    return 0;
}

/* suggestions from everything in scope */
void ck_suggest_all(const chk *c, sugg *s, const char *want, unsigned ctx)
{
    for (size_t i = c->nscoped; i-- > 0;)
        ck_consider(s, want, c->scoped[i]);
    for (size_t i = 0; i < c->nvars; i++)
        ck_consider(s, want, c->vars[i].name);
    for (size_t i = 0; i < c->nsyms; i++)
        ck_consider(s, want, c->syms[i].name);
    size_t nb;
    const kdr_builtin *b = kdr_builtins(&nb);
    for (size_t i = 0; i < nb; i++)
        if (b[i].ctx & (ctx | KDR_CTX_VALUE | KDR_CTX_MATH))
            ck_consider(s, want, b[i].name);
}

/* ---- constants ----------------------------------------------------------- */

/* names bound around the expression being checked: loop variables and
 * the locals and parameters of a net have no value before the run */
static int bound_here(void *ctx, const kdr_node *id, kdr_cval *out)
{
    chk *c = ctx;
    (void)out;
    return id->name && (ck_is_scoped(c, id->name) || ck_find_var(c, id->name)) ? -1 : 0;
}

/* 1 and *out when n is a constant number (lang/consteval.c) */
int ck_cval(chk *c, const kdr_node *n, double *out)
{
    kdr_consteval ev;
    kdr_consteval_init(&ev, c->p, NULL, 0);
    ev.bound = bound_here;
    ev.ctx = c;
    return kdr_const_num(&ev, c->u, n, out) == KDR_CE_OK;
}

void ck_fmt_num(char *buf, size_t n, double v)
{
    snprintf(buf, n, "%.10g", v);
}

void ck_add_name(const char ***arr, size_t *n, size_t *cap, const kdr_node ***nodes,
                 const char *name, const kdr_node *at)
{
    for (size_t i = 0; i < *n; i++)
        if (ck_streq((*arr)[i], name))
            return;
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        const char **a = realloc(*arr, nc * sizeof *a);
        if (!a)
            return;
        *arr = a;
        if (nodes) {
            const kdr_node **b = realloc(*nodes, nc * sizeof *b);
            if (!b)
                return;
            *nodes = b;
        }
        *cap = nc;
    }
    if (nodes)
        (*nodes)[*n] = at;
    (*arr)[(*n)++] = name;
}

void ck_record_use(chk *c, const sym *s, const kdr_node *at)
{
    if (!c->cur || !s)
        return;
    if (s->k == S_MODEL)
        ck_add_name(&c->cur->uses, &c->cur->nuses, &c->cur->cuses, &c->cur->usenode, s->name, at);
    else if (s->k == S_SVAR && s->owner)
        ck_add_name(&c->cur->searches, &c->cur->nsearches, &c->cur->csearches,
                 &c->cur->searchnode, s->owner->name, at);
    else if (s->k == S_POOL && s->node->a && s->node->a->kind == KDR_CALL) {
        /* a pool of checkpoints reads its route */
        const kdr_node *call = s->node->a;
        if (call->kids && !call->kids->name && call->kids->a && call->kids->a->kind == KDR_IDENT)
            ck_add_name(&c->cur->routes, &c->cur->nroutes, &c->cur->croutes, &c->cur->routenode,
                     call->kids->a->name, at);
    } else if (s->k == S_POOL && s->node->a && s->node->a->kind == KDR_LIST) {
        for (const kdr_node *m = s->node->a->kids; m; m = m->next)
            if (m->kind == KDR_IDENT && ck_find_sym_kind(c, m->name, S_MODEL))
                ck_add_name(&c->cur->uses, &c->cur->nuses, &c->cur->cuses, &c->cur->usenode, m->name, at);
    }
}

ty ck_sym_type(chk *c, const sym *s, const kdr_node *at)
{
    ty t = ck_ty(V_ANY);
    t.decl = s->node;
    ck_record_use(c, s, at);
    switch (s->k) {
    case S_LET: {
        const kdr_node *v = s->node->a;
        if (!v) return ck_ty(V_ANY);
        switch (v->kind) {
        case KDR_NUM: return ck_ty(V_NUM);
        case KDR_STR: return ck_ty(V_STR);
        case KDR_BOOL: return ck_ty(V_BOOL);
        case KDR_LIST: return ck_ty(V_LIST);
        case KDR_BINARY: return ck_ty(v->op == KDR_OP_RANGE ? V_LIST : V_ANY);
        case KDR_IDENT:
            if (c->let_depth < 16) {
                const sym *s2 = ck_find_sym(c, v->name);
                if (s2 && s2 != s) {
                    c->let_depth++;
                    ty r = ck_sym_type(c, s2, at);
                    c->let_depth--;
                    return r;
                }
            }
            return ck_ty(V_ANY);
        case KDR_CALL:
            if (v->a && v->a->kind == KDR_IDENT) {
                const kdr_builtin *b = kdr_builtin_find(v->a->name, ~0u);
                if (b && !ck_find_sym(c, v->a->name)) {
                    ty r = ck_ty(V_CALL);
                    r.ctx = b->ctx;
                    return r;
                }
            }
            return ck_ty(V_ANY);
        default: return ck_ty(V_ANY);
        }
    }
    case S_SWEEP: {
        const kdr_node *v = s->node->a;
        if (v && v->kind == KDR_BINARY && v->op == KDR_OP_RANGE) return ck_ty(V_NUM);
        if (v && v->kind == KDR_LIST && v->kids) {
            switch (v->kids->kind) {
            case KDR_NUM: return ck_ty(V_NUM);
            case KDR_STR: return ck_ty(V_STR);
            default: return ck_ty(V_ANY);
            }
        }
        return ck_ty(V_ANY);
    }
    case S_DATA: t.k = V_DATA; return t;
    case S_NET: t.k = V_NET; return t;
    case S_MODEL: t.k = V_MODEL; return t;
    case S_POOL: t.k = V_POOL; return t;
    case S_SEARCH: t.k = V_SEARCH; return t;
    case S_PHASE: t.k = V_PHASE; return t;
    case S_ROUTE: t.k = V_ROUTE; return t;
    case S_SVAR: return ck_ty(V_ANY);
    }
    return t;
}

ty ck_resolve(chk *c, const kdr_node *n, unsigned ctx)
{
    const char *name = n->name;
    if (!name)
        return ck_ty(V_ANY);
    if (ck_is_scoped(c, name))
        return ck_ty(V_NUM);
    local *v = ck_find_var(c, name);
    if (v && v->defined)
        return ck_ty(V_ANY);
    const sym *s = ck_find_sym(c, name);
    if (s)
        return ck_sym_type(c, s, n);
    if (v) {
        ck_err(c, n, "'%s' is used before it is assigned", name);
        ck_note(c, c->u, v->at, "'%s' is assigned here", name);
        return ck_ty(V_ANY);
    }
    const kdr_builtin *b = kdr_builtin_find(name, KDR_CTX_VALUE);
    if (b)
        return ck_ty(V_TENSOR);
    b = kdr_builtin_find(name, ctx);
    if (b && (b->flags & KDR_B_BARE)) {
        ty r = ck_ty(V_CALL);
        r.ctx = b->ctx;
        return r;
    }
    b = kdr_builtin_find(name, ~0u & ~KDR_CTX_FOLLOWS);
    if (b) {
        if (b->flags & KDR_B_BARE)
            ck_err(c, n, "'%s' is %s %s; it is not valid in %s", name, ck_article(kdr_ctx_name(b->ctx)),
                kdr_ctx_name(b->ctx), c->where);
        else
            ck_err(c, n, "'%s' is a builtin %s; call it with arguments: %s(...)", name,
                kdr_ctx_name(b->ctx), name);
        return ck_ty(V_ANY);
    }
    sugg sg = { 0 };
    char buf[128];
    ck_suggest_all(c, &sg, name, ctx);
    ck_err(c, n, "undefined name '%s'%s", name, ck_dym(&sg, buf, sizeof buf));
    return ck_ty(V_ANY);
}

/* ---- pass 1: names --------------------------------------------------------- */

static void add_sym(chk *c, const kdr_unit *u, const char *name, int k, const kdr_node *node,
                    const kdr_node *at, const kdr_node *owner)
{
    if (!name)
        return;
    for (size_t i = 0; i < c->nsyms; i++) {
        const sym *o = &c->syms[i];
        if (!ck_streq(o->name, name))
            continue;
        if (k == S_SVAR && o->k == S_SVAR && o->owner == owner)
            return;       /* agg[1], agg[2] ... in one search */
        c->u = u;
        if (o->k == k)
            ck_err(c, at, "%s '%s' is defined twice", ck_sym_kind_name[k], name);
        else
            ck_err(c, at, "'%s' is already defined as a %s", name, ck_sym_kind_name[o->k]);
        ck_note(c, unit_of_sym(o), o->at, "the first definition of '%s' is here", name);
        return;
    }
    const kdr_builtin *b = kdr_builtin_find(name, KDR_CTX_VALUE);
    if (b) {
        c->u = u;
        ck_err(c, at, "'%s' is a predefined name (%s) and cannot be redefined", name, b->doc);
        return;
    }
    sym s = { name, k, node, at, u, owner };
    PUSH(c->syms, c->nsyms, c->csyms, s);
}

static void collect_search_names(chk *c, const kdr_unit *u, const kdr_node *search,
                                 const kdr_node *n, int depth)
{
    for (; n && depth < 64; n = n->next) {
        if (n->kind == KDR_ASSIGN && n->a) {
            const kdr_node *t = n->a->kind == KDR_INDEX ? n->a->a : n->a;
            if (t && t->kind == KDR_IDENT)
                add_sym(c, u, t->name, S_SVAR, n, t, search);
        } else if (n->kind == KDR_SETTING && n->setting == KDR_S_BRIDGE && n->name) {
            add_sym(c, u, n->name, S_SVAR, n, n->c ? n->c : n, search);
        } else if (n->kind == KDR_FOR || n->kind == KDR_IF || n->kind == KDR_BLOCK) {
            collect_search_names(c, u, search, n->kids, depth + 1);
            if (n->kind == KDR_IF)
                collect_search_names(c, u, search, n->b, depth + 1);
        }
    }
}

void ck_collect(chk *c)
{
    for (size_t ui = 0; ui < c->p->nunits; ui++) {
        const kdr_unit *u = c->p->units[ui];
        if (!u || !u->root)
            continue;
        for (const kdr_node *s = u->root->kids; s; s = s->next) {
            int k = -1;
            switch (s->kind) {
            case KDR_LET: k = S_LET; break;
            case KDR_DATA: k = S_DATA; break;
            case KDR_NET: k = S_NET; break;
            case KDR_MODEL: k = S_MODEL; break;
            case KDR_POOL: k = S_POOL; break;
            case KDR_SEARCH: k = S_SEARCH; break;
            case KDR_PHASE: k = S_PHASE; break;
            case KDR_SWEEP: k = S_SWEEP; break;
            default: break;
            }
            if (k >= 0)
                add_sym(c, u, s->name, k, s, ck_name_at(s), NULL);
            if (s->kind == KDR_PHASE)
                for (const kdr_node *t = s->kids; t; t = t->next)
                    if (t->kind == KDR_SETTING && t->setting == KDR_S_CHECKPOINT && t->name)
                        add_sym(c, u, t->name, S_ROUTE, t,
                                t->kids && t->kids->kind == KDR_IDENT ? t->kids : t, s);
            if (s->kind == KDR_SEARCH)
                collect_search_names(c, u, s, s->kids, 0);
        }
    }
}
