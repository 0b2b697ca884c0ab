/* consteval.c — the one evaluator of constant expressions (see consteval.h).
 *
 * A recursive walk over the expression.  Names are looked up in this order:
 * the caller's bound names (loop variables, net parameters), then the
 * program's top-level declarations: a `let` is evaluated in its own unit, a
 * `sweep` gives its first value (KDR_CE_SWEEP_FIRST) or no value, any other
 * declaration is not a constant, and a name declared nowhere is a bare word
 * (KDR_CV_SYM).  Only `let` hops count against the depth limit; the parser
 * already bounds how deep one expression nests.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "consteval.h"

#define MAX_LET_HOPS 64
#define MAX_DEPTH 2000         /* nesting, across lets: keeps the C stack small */
#define MAX_STEPS 1000000UL    /* let a2 = a1 + a1, a3 = a2 + a2, ... doubles each time */

static kdr_ce_status fail(kdr_consteval *ev, kdr_ce_status st, const kdr_unit *u, const kdr_node *at,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static kdr_ce_status fail(kdr_consteval *ev, kdr_ce_status st, const kdr_unit *u, const kdr_node *at,
                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ev->err_msg, sizeof ev->err_msg, fmt, ap);
    va_end(ap);
    ev->err_unit = u;
    ev->err_at = at;
    if (ev->diag && (st == KDR_CE_ERROR || (ev->flags & KDR_CE_STRICT)))
        kdr_diag_push(ev->diag, KDR_ERROR, u, at ? at->beg : 0, at ? at->end : 0, "%s", ev->err_msg);
    return st;
}

void kdr_consteval_init(kdr_consteval *ev, const kdr_program *prog, kdr_diag *diag, unsigned flags)
{
    memset(ev, 0, sizeof *ev);
    ev->prog = prog;
    ev->diag = diag;
    ev->flags = flags;
}

static kdr_cval num(double x)
{
    kdr_cval v;
    memset(&v, 0, sizeof v);
    v.kind = KDR_CV_NUM;
    v.num = x;
    return v;
}

static kdr_cval boolean(int b)
{
    kdr_cval v = num(b != 0);
    v.kind = KDR_CV_BOOL;
    return v;
}

static int is_num(const kdr_cval *v)
{
    return v->kind == KDR_CV_NUM || v->kind == KDR_CV_BOOL;
}

static const char *kind_name(kdr_cv_kind k)
{
    switch (k) {
    case KDR_CV_NUM: return "a number";
    case KDR_CV_BOOL: return "true/false";
    case KDR_CV_STR: return "a string";
    case KDR_CV_SYM: return "a name";
    case KDR_CV_LIST: return "a list";
    }
    return "a value";
}

static const char *decl_name(kdr_kind k)
{
    switch (k) {
    case KDR_DATA: return "a data set";
    case KDR_NET: return "a net template";
    case KDR_MODEL: return "a model";
    case KDR_POOL: return "a pool";
    case KDR_SEARCH: return "a search";
    case KDR_PHASE: return "a phase";
    default: return "not a constant";
    }
}

/* the first top-level declaration named `name`, and its unit */
static const kdr_node *find_decl(const kdr_program *p, const char *name, const kdr_unit **unit)
{
    for (size_t i = 0; p && name && i < p->nunits; i++) {
        const kdr_unit *u = p->units[i];
        if (!u || !u->root)
            continue;
        for (const kdr_node *n = u->root->kids; n; n = n->next)
            if (n->kind != KDR_USE && n->kind != KDR_REPORT && n->name && strcmp(n->name, name) == 0) {
                *unit = u;
                return n;
            }
    }
    return NULL;
}

static kdr_ce_status ev_expr(kdr_consteval *ev, const kdr_unit *u, const kdr_node *e, kdr_cval *out,
                             int hops);

/* the i-th element (0-based) of a list value */
static kdr_ce_status item(kdr_consteval *ev, const kdr_cval *list, size_t i, kdr_cval *out, int hops)
{
    const kdr_node *l = list->node;
    if (l->kind == KDR_LIST) {
        const kdr_node *k = l->kids;
        while (k && i--) k = k->next;
        return ev_expr(ev, list->unit, k, out, hops);
    }
    kdr_cval lo;   /* a..b: ends already checked by count() */
    kdr_ce_status st = ev_expr(ev, list->unit, l->a, &lo, hops);
    if (st != KDR_CE_OK)
        return st;
    *out = num(lo.num + (double)i);
    return KDR_CE_OK;
}

/* the number of elements of a list value */
static kdr_ce_status count(kdr_consteval *ev, const kdr_cval *list, size_t *n, int hops)
{
    const kdr_node *l = list->node;
    if (l->kind == KDR_LIST) {
        *n = 0;
        for (const kdr_node *k = l->kids; k; k = k->next) (*n)++;
        return KDR_CE_OK;
    }
    kdr_cval a, b;
    kdr_ce_status st = ev_expr(ev, list->unit, l->a, &a, hops);
    if (st == KDR_CE_OK)
        st = ev_expr(ev, list->unit, l->b, &b, hops);
    if (st != KDR_CE_OK)
        return st;
    if (!is_num(&a) || !is_num(&b) || a.num != floor(a.num) || b.num != floor(b.num))
        return fail(ev, KDR_CE_ERROR, list->unit, l, "a range needs whole-number ends");
    *n = b.num >= a.num ? (size_t)(b.num - a.num + 1) : 0;
    return KDR_CE_OK;
}

static kdr_ce_status ident(kdr_consteval *ev, const kdr_unit *u, const kdr_node *e, kdr_cval *out, int hops)
{
    if (ev->bound) {
        int b = ev->bound(ev->ctx, e, out);
        if (b > 0)
            return KDR_CE_OK;
        if (b < 0)
            return fail(ev, KDR_CE_UNKNOWN, u, e, "'%s' has no value before the run", e->name);
    }
    const kdr_unit *du = u;
    const kdr_node *d = find_decl(ev->prog, e->name, &du);
    if (!d) {
        memset(out, 0, sizeof *out);
        out->kind = KDR_CV_SYM;
        out->str = e->name;
        out->len = e->name ? strlen(e->name) : 0;
        return KDR_CE_OK;
    }
    if (d->kind != KDR_LET && d->kind != KDR_SWEEP)
        return fail(ev, KDR_CE_UNKNOWN, u, e, "'%s' is %s, not a constant", e->name, decl_name(d->kind));
    if (hops >= MAX_LET_HOPS)
        return fail(ev, KDR_CE_ERROR, u, e, "'%s' is defined in terms of itself (or through more than %d constants)",
                    e->name, MAX_LET_HOPS);
    if (d->kind == KDR_LET)
        return ev_expr(ev, du, d->a, out, hops + 1);
    if (!(ev->flags & KDR_CE_SWEEP_FIRST))
        return fail(ev, KDR_CE_UNKNOWN, u, e, "'%s' is a sweep: it has one value per sub-run", e->name);
    kdr_cval all;
    kdr_ce_status st = ev_expr(ev, du, d->a, &all, hops + 1);
    if (st != KDR_CE_OK || all.kind != KDR_CV_LIST) {
        if (st == KDR_CE_OK)
            *out = all;
        return st;
    }
    size_t n;
    st = count(ev, &all, &n, hops + 1);
    if (st != KDR_CE_OK)
        return st;
    if (n == 0)
        return fail(ev, KDR_CE_ERROR, du, d->a, "sweep '%s' has no values", e->name);
    return item(ev, &all, 0, out, hops + 1);
}

static const char *op_text(int op, char *buf)
{
    switch (op) {
    case KDR_OP_EQ: return "==";
    case KDR_OP_NE: return "!=";
    case KDR_OP_LE: return "<=";
    case KDR_OP_GE: return ">=";
    case KDR_OP_AND: return "and";
    case KDR_OP_OR: return "or";
    default: buf[0] = (char)op; buf[1] = 0; return buf;
    }
}

static kdr_ce_status binary(kdr_consteval *ev, const kdr_unit *u, const kdr_node *e, kdr_cval *out, int hops)
{
    kdr_cval a, b;
    kdr_ce_status st;
    char ob[2];
    if (e->op == KDR_OP_RANGE) {
        memset(out, 0, sizeof *out);
        out->kind = KDR_CV_LIST;
        out->node = e;
        out->unit = u;
        size_t n;
        return count(ev, out, &n, hops);
    }
    if ((st = ev_expr(ev, u, e->a, &a, hops)) != KDR_CE_OK)
        return st;
    if (e->op == KDR_OP_AND || e->op == KDR_OP_OR) {   /* short-circuit */
        if (!is_num(&a))
            return fail(ev, KDR_CE_UNKNOWN, u, e->a, "'%s' needs true/false, got %s", op_text(e->op, ob),
                        kind_name(a.kind));
        if ((e->op == KDR_OP_AND) == (a.num == 0)) {
            *out = boolean(e->op == KDR_OP_OR);
            return KDR_CE_OK;
        }
        if ((st = ev_expr(ev, u, e->b, &b, hops)) != KDR_CE_OK)
            return st;
        if (!is_num(&b))
            return fail(ev, KDR_CE_UNKNOWN, u, e->b, "'%s' needs true/false, got %s", op_text(e->op, ob),
                        kind_name(b.kind));
        *out = boolean(b.num != 0);
        return KDR_CE_OK;
    }
    if ((st = ev_expr(ev, u, e->b, &b, hops)) != KDR_CE_OK)
        return st;
    if ((e->op == KDR_OP_EQ || e->op == KDR_OP_NE) && (a.kind == KDR_CV_STR || a.kind == KDR_CV_SYM)
        && (b.kind == KDR_CV_STR || b.kind == KDR_CV_SYM)) {
        int eq = a.len == b.len && (a.len == 0 || memcmp(a.str, b.str, a.len) == 0);
        *out = boolean(e->op == KDR_OP_EQ ? eq : !eq);
        return KDR_CE_OK;
    }
    if (!is_num(&a) || !is_num(&b))
        return fail(ev, KDR_CE_UNKNOWN, u, e, "cannot apply '%s' to %s and %s", op_text(e->op, ob),
                    kind_name(a.kind), kind_name(b.kind));
    double x = a.num, y = b.num, r;
    switch (e->op) {
    case '+': r = x + y; break;
    case '-': r = x - y; break;
    case '*': r = x * y; break;
    case '/':
        if (y == 0) return fail(ev, KDR_CE_ERROR, u, e, "division by zero");
        r = x / y;
        break;
    case '%':
        if (y == 0) return fail(ev, KDR_CE_ERROR, u, e, "modulo by zero");
        r = fmod(x, y);
        break;
    case '^': r = pow(x, y); break;
    case '<': *out = boolean(x < y); return KDR_CE_OK;
    case '>': *out = boolean(x > y); return KDR_CE_OK;
    case KDR_OP_LE: *out = boolean(x <= y); return KDR_CE_OK;
    case KDR_OP_GE: *out = boolean(x >= y); return KDR_CE_OK;
    case KDR_OP_EQ: *out = boolean(x == y); return KDR_CE_OK;
    case KDR_OP_NE: *out = boolean(x != y); return KDR_CE_OK;
    default:
        return fail(ev, KDR_CE_UNKNOWN, u, e, "'%s' does not apply to numbers", op_text(e->op, ob));
    }
    if (!isfinite(r))
        return fail(ev, KDR_CE_ERROR, u, e, "the result is not a finite number");
    *out = num(r);
    return KDR_CE_OK;
}

/* min, max, round, floor, ceil, sqrt, abs */
static kdr_ce_status math_call(kdr_consteval *ev, const kdr_unit *u, const kdr_node *e, kdr_cval *out, int hops)
{
    static const char *const fns[] = { "min", "max", "round", "floor", "ceil", "sqrt", "abs" };
    const char *name = e->a && e->a->kind == KDR_IDENT ? e->a->name : NULL;
    size_t f = 0;
    while (name && f < sizeof fns / sizeof fns[0] && strcmp(fns[f], name) != 0) f++;
    const kdr_unit *du;
    if (!name || f == sizeof fns / sizeof fns[0] || find_decl(ev->prog, name, &du))
        return fail(ev, KDR_CE_UNKNOWN, u, e, "a call is a constant only for min, max, round, floor, ceil, sqrt and abs");
    double r = 0;
    int n = 0;
    for (const kdr_node *a = e->kids; a; a = a->next, n++) {
        kdr_cval v;
        kdr_ce_status st;
        if (a->kind == KDR_ARG && a->b)
            return fail(ev, KDR_CE_UNKNOWN, u, a, "'point = value' is not a constant");
        if ((st = ev_expr(ev, u, a->kind == KDR_ARG ? a->a : a, &v, hops)) != KDR_CE_OK)
            return st;
        if (!is_num(&v))
            return fail(ev, KDR_CE_UNKNOWN, u, a, "'%s' needs numbers, got %s", name, kind_name(v.kind));
        if (n == 0) r = v.num;
        else if (f == 0) r = fmin(r, v.num);
        else if (f == 1) r = fmax(r, v.num);
    }
    if (n == 0)
        return fail(ev, KDR_CE_ERROR, u, e, "%s needs arguments", name);
    switch (f) {
    case 2: r = round(r); break;
    case 3: r = floor(r); break;
    case 4: r = ceil(r); break;
    case 5:
        if (r < 0) return fail(ev, KDR_CE_ERROR, u, e, "sqrt of a negative number");
        r = sqrt(r);
        break;
    case 6: r = fabs(r); break;
    default: break;
    }
    *out = num(r);
    return KDR_CE_OK;
}

static kdr_ce_status ev_node(kdr_consteval *ev, const kdr_unit *u, const kdr_node *e, kdr_cval *out,
                             int hops);

static kdr_ce_status ev_expr(kdr_consteval *ev, const kdr_unit *u, const kdr_node *e, kdr_cval *out, int hops)
{
    if (!e)
        return fail(ev, KDR_CE_UNKNOWN, u, NULL, "expected a value");
    if (++ev->steps > MAX_STEPS || ev->depth >= MAX_DEPTH)
        return fail(ev, KDR_CE_ERROR, u, e, "this constant takes too long to compute (%s)",
                    ev->depth >= MAX_DEPTH ? "nested too deeply" : "too many steps");
    ev->depth++;
    kdr_ce_status st = ev_node(ev, u, e, out, hops);
    ev->depth--;
    return st;
}

static kdr_ce_status ev_node(kdr_consteval *ev, const kdr_unit *u, const kdr_node *e, kdr_cval *out, int hops)
{
    kdr_cval a;
    kdr_ce_status st;
    switch (e->kind) {
    case KDR_NUM:
        *out = num(e->num);
        return KDR_CE_OK;
    case KDR_BOOL:
        *out = boolean(e->num != 0);
        return KDR_CE_OK;
    case KDR_STR:
        memset(out, 0, sizeof *out);
        out->kind = KDR_CV_STR;
        out->str = e->str;
        out->len = e->str_len;
        return KDR_CE_OK;
    case KDR_LIST:
        memset(out, 0, sizeof *out);
        out->kind = KDR_CV_LIST;
        out->node = e;
        out->unit = u;
        return KDR_CE_OK;
    case KDR_IDENT:
        return ident(ev, u, e, out, hops);
    case KDR_ARG:
        return ev_expr(ev, u, e->a, out, hops);
    case KDR_UNARY:
        if ((st = ev_expr(ev, u, e->a, &a, hops)) != KDR_CE_OK)
            return st;
        if (!is_num(&a))
            return fail(ev, KDR_CE_UNKNOWN, u, e, "cannot %s %s", e->op == '-' ? "negate" : "apply 'not' to",
                        kind_name(a.kind));
        *out = e->op == '-' ? num(-a.num) : boolean(a.num == 0);
        return KDR_CE_OK;
    case KDR_BINARY:
        return binary(ev, u, e, out, hops);
    case KDR_TERNARY:
        if ((st = ev_expr(ev, u, e->a, &a, hops)) != KDR_CE_OK)
            return st;
        if (!is_num(&a))
            return fail(ev, KDR_CE_UNKNOWN, u, e->a, "a condition must be true/false, got %s", kind_name(a.kind));
        return ev_expr(ev, u, a.num != 0 ? e->b : e->c, out, hops);
    case KDR_CALL:
        return math_call(ev, u, e, out, hops);
    default:
        return fail(ev, KDR_CE_UNKNOWN, u, e, "expected a constant");
    }
}

kdr_ce_status kdr_const_eval(kdr_consteval *ev, const kdr_unit *u, const kdr_node *e, kdr_cval *out)
{
    ev->steps = 0;
    ev->depth = 0;
    return ev_expr(ev, u, e, out, 0);
}

kdr_ce_status kdr_const_num(kdr_consteval *ev, const kdr_unit *u, const kdr_node *e, double *out)
{
    ev->steps = 0;
    ev->depth = 0;
    kdr_cval v;
    kdr_ce_status st = ev_expr(ev, u, e, &v, 0);
    if (st != KDR_CE_OK)
        return st;
    if (!is_num(&v)) {
        if (v.kind == KDR_CV_SYM)
            return fail(ev, KDR_CE_UNKNOWN, u, e, "'%s' is not a number", v.str);
        return fail(ev, KDR_CE_UNKNOWN, u, e, "expected a number, got %s", kind_name(v.kind));
    }
    *out = v.num;
    return KDR_CE_OK;
}

kdr_ce_status kdr_const_int(kdr_consteval *ev, const kdr_unit *u, const kdr_node *e, int64_t lo,
                            double hi, int64_t *out)
{
    double x;
    kdr_ce_status st = kdr_const_num(ev, u, e, &x);
    if (st != KDR_CE_OK)
        return st;
    if (x != floor(x) || x < (double)lo || x > hi)
        return fail(ev, KDR_CE_ERROR, u, e, "expected a whole number >= %lld, got %g", (long long)lo, x);
    *out = (int64_t)x;
    return KDR_CE_OK;
}

/* The prologue of the list entry points: evaluate e, require a list
 * ("expected WHAT, got ..."), count its values. */
static kdr_ce_status eval_list(kdr_consteval *ev, const kdr_unit *u, const kdr_node *e,
                               const char *what, kdr_cval *l, size_t *cnt)
{
    ev->steps = 0;
    ev->depth = 0;
    kdr_ce_status st = ev_expr(ev, u, e, l, 0);
    if (st != KDR_CE_OK)
        return st;
    if (l->kind != KDR_CV_LIST)
        return fail(ev, KDR_CE_UNKNOWN, u, e, "expected %s, got %s", what, kind_name(l->kind));
    return count(ev, l, cnt, 0);
}

kdr_ce_status kdr_const_len(kdr_consteval *ev, const kdr_unit *u, const kdr_node *e, size_t *n)
{
    kdr_cval l;
    *n = 0;
    return eval_list(ev, u, e, "a list", &l, n);
}

kdr_ce_status kdr_const_items(kdr_consteval *ev, const kdr_unit *u, const kdr_node *e, kdr_cval *items,
                              size_t max, size_t *n)
{
    kdr_cval l;
    size_t cnt = 0;
    *n = 0;
    kdr_ce_status st = eval_list(ev, u, e, "a list", &l, &cnt);
    if (st != KDR_CE_OK)
        return st;
    if (cnt > max)
        return fail(ev, KDR_CE_ERROR, u, e, "a list of more than %zu values", max);
    for (size_t i = 0; i < cnt; i++)
        if ((st = item(ev, &l, i, &items[i], 0)) != KDR_CE_OK)
            return st;
    *n = cnt;
    return KDR_CE_OK;
}

kdr_ce_status kdr_const_list(kdr_consteval *ev, const kdr_unit *u, const kdr_node *e, double *xs,
                             size_t max, size_t *n)
{
    kdr_cval l;
    size_t cnt = 0;
    *n = 0;
    kdr_ce_status st = eval_list(ev, u, e, "a list of numbers", &l, &cnt);
    if (st != KDR_CE_OK)
        return st;
    if (cnt > max)
        return fail(ev, KDR_CE_ERROR, u, e, "a list of more than %zu numbers", max);
    for (size_t i = 0; i < cnt; i++) {
        kdr_cval v;
        if ((st = item(ev, &l, i, &v, 0)) != KDR_CE_OK)
            return st;
        if (!is_num(&v)) {
            const kdr_node *at = l.node->kind == KDR_LIST ? l.node->kids : l.node;
            for (size_t k = 0; k < i && at; k++) at = at->next;
            return fail(ev, KDR_CE_UNKNOWN, l.unit, at, "expected a number, got %s", kind_name(v.kind));
        }
        xs[i] = v.num;
    }
    *n = cnt;
    return KDR_CE_OK;
}
