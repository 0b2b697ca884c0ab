/* compile_expr.c — values and expressions of the graph compiler: numbers
 * and their arithmetic, tensor arithmetic (add, sub, mul, scale nodes),
 * names (template variables, lets, sweeps, `label`, bare symbols), indexed
 * names x[i, j] and x[s, *], model tensors at phase level (model.x, with
 * the models of a per-model loss detached), repeat and sum, and the
 * statements of a net body.  Calls are in compile_call.c.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile_int.h"
#include "index_input.h"

/* ---- indexed names ------------------------------------------------------------ */

const char *cc_index_key(cc *C, frame *F, const kdr_node *idx_expr, const char *base)
{
    char buf[512];
    size_t o = 0;
    cc_append(buf, sizeof buf, &o, "%s[", base);
    int first = 1;
    for (const kdr_node *k = idx_expr->kids; k; k = k->next) {
        if (k->kind == KDR_STAR) { cc_err(C, k, "'*' selects several tensors; it cannot be assigned"); return NULL; }
        kv v = cc_eval(C, F, k, NULL);
        int64_t i;
        if (STOP(C) || cc_want_int(C, k, v, &i)) return NULL;
        cc_append(buf, sizeof buf, &o, "%s%lld", first ? "" : ",", (long long)i);
        first = 0;
    }
    cc_append(buf, sizeof buf, &o, "]");
    return kdr_arena_intern(C->g->arena, buf, o);
}

/* x[s, *]: every tensor bound as x[s, i], ordered by i. */
static kv index_star(cc *C, frame *F, const kdr_node *e, const char *base)
{
    char prefix[512];
    size_t o = 0;
    cc_append(prefix, sizeof prefix, &o, "%s[", base);
    int nstar = 0;
    for (const kdr_node *k = e->kids; k; k = k->next) {
        if (k->kind == KDR_STAR) { nstar++; break; }
        kv v = cc_eval(C, F, k, NULL);
        int64_t i;
        if (STOP(C) || cc_want_int(C, k, v, &i)) return kv_none();
        cc_append(prefix, sizeof prefix, &o, "%lld,", (long long)i);
    }
    if (nstar != 1 || e->kids == NULL) { cc_err(C, e, "'*' must be the last index"); return kv_none(); }
    for (const kdr_node *k = e->kids; k; k = k->next)
        if (k->kind == KDR_STAR && k->next) { cc_err(C, k, "'*' must be the last index"); return kv_none(); }
    /* collect, in index order (bindings are newest first: reverse) */
    int n = 0;
    for (bind *b = F->vars; b; b = b->next)
        if (strncmp(b->name, prefix, o) == 0 && b->v.k == KV_TENSOR && !strchr(b->name + o, ',')) n++;
    if (n == 0) { cc_err(C, e, "no tensor named %s*]", prefix); return kv_none(); }
    kv *items = cc_alloc(C, (size_t)n * sizeof *items);
    int64_t *keys = cc_alloc(C, (size_t)n * sizeof *keys);
    int m = 0;
    for (bind *b = F->vars; b; b = b->next)
        if (strncmp(b->name, prefix, o) == 0 && b->v.k == KV_TENSOR && !strchr(b->name + o, ',')) {
            keys[m] = strtoll(b->name + o, NULL, 10);
            items[m++] = b->v;
        }
    for (int i = 1; i < m; i++)          /* insertion sort by index */
        for (int j = i; j > 0 && keys[j - 1] > keys[j]; j--) {
            int64_t tk = keys[j]; keys[j] = keys[j - 1]; keys[j - 1] = tk;
            kv tv = items[j]; items[j] = items[j - 1]; items[j - 1] = tv;
        }
    kv v = { .k = KV_LIST, .items = items, .n = m };
    return v;
}

static kv arith(cc *C, frame *F, const kdr_node *e, kv a, kv b)
{
    int op = e->op;
    if ((a.k == KV_NUM || a.k == KV_BOOL) && (b.k == KV_NUM || b.k == KV_BOOL)) {
        double x = a.num, y = b.num, r = 0;
        switch (op) {
        case '+': r = x + y; break;
        case '-': r = x - y; break;
        case '*': r = x * y; break;
        case '/':
            if (y == 0) { cc_err(C, e, "division by zero"); return kv_none(); }
            r = x / y; break;
        case '%':
            if (y == 0) { cc_err(C, e, "modulo by zero"); return kv_none(); }
            r = fmod(x, y); break;
        case '^': r = pow(x, y); break;
        case '<': return (kv){ .k = KV_BOOL, .num = x < y };
        case '>': return (kv){ .k = KV_BOOL, .num = x > y };
        case KDR_OP_LE: return (kv){ .k = KV_BOOL, .num = x <= y };
        case KDR_OP_GE: return (kv){ .k = KV_BOOL, .num = x >= y };
        case KDR_OP_EQ: return (kv){ .k = KV_BOOL, .num = x == y };
        case KDR_OP_NE: return (kv){ .k = KV_BOOL, .num = x != y };
        case KDR_OP_AND: return (kv){ .k = KV_BOOL, .num = (x != 0) && (y != 0) };
        case KDR_OP_OR: return (kv){ .k = KV_BOOL, .num = (x != 0) || (y != 0) };
        case KDR_OP_RANGE: {
            int64_t lo, hi;
            if (cc_want_int(C, e->a, a, &lo) || cc_want_int(C, e->b, b, &hi)) return kv_none();
            if (hi - lo + 1 > MAX_LOOP) { cc_err(C, e, "range too long"); return kv_none(); }
            int n = hi >= lo ? (int)(hi - lo + 1) : 0;
            kv *items = cc_alloc(C, (size_t)(n ? n : 1) * sizeof *items);
            for (int i = 0; i < n; i++) items[i] = kv_num((double)(lo + i));
            return (kv){ .k = KV_LIST, .items = items, .n = n };
        }
        default: cc_err(C, e, "this operator does not apply to numbers"); return kv_none();
        }
        if (!isfinite(r)) { cc_err(C, e, "the result is not a finite number"); return kv_none(); }
        return kv_num(r);
    }
    if ((a.k == KV_STR || a.k == KV_SYM) && (b.k == KV_STR || b.k == KV_SYM) &&
        (op == KDR_OP_EQ || op == KDR_OP_NE)) {
        int eq = strcmp(a.s, b.s) == 0;
        return (kv){ .k = KV_BOOL, .num = op == KDR_OP_EQ ? eq : !eq };
    }
    if (a.k == KV_TENSOR && b.k == KV_TENSOR && (op == '+' || op == '-' || op == '*')) {
        int32_t ins[2] = { a.t, b.t };
        const kd_shape *sa = &C->g->nodes[a.t].shape, *sb = &C->g->nodes[b.t].shape;
        if (!kd_shape_eq(sa, sb)) {
            char b1[96], b2[96];
            cc_err(C, e, "'%c' needs tensors of the same shape, got %s and %s", op,
                kd_shape_str(sa, b1, sizeof b1), kd_shape_str(sb, b2, sizeof b2));
            return kv_none();
        }
        int32_t t = cc_op_simple(C, F, e, op == '+' ? "add" : op == '-' ? "sub" : "mul", ins, 2, NULL, 0);
        return t < 0 ? kv_none() : kv_tensor(t);
    }
    if ((a.k == KV_TENSOR && (b.k == KV_NUM)) || (a.k == KV_NUM && b.k == KV_TENSOR)) {
        kv t = a.k == KV_TENSOR ? a : b;
        double s = a.k == KV_NUM ? a.num : b.num;
        if (op == '*' || (op == '/' && a.k == KV_TENSOR)) {
            if (op == '/') {
                if (s == 0) { cc_err(C, e, "division by zero"); return kv_none(); }
                s = 1 / s;
            }
            int32_t r = cc_op_simple(C, F, e, "scale", &t.t, 1, "s", s);
            return r < 0 ? kv_none() : kv_tensor(r);
        }
    }
    cc_err(C, e, "cannot apply this operator to %s and %s", cc_kind_name(a.k), cc_kind_name(b.k));
    return kv_none();
}

/* ---- expressions ------------------------------------------------------------------ */

static kv lookup(cc *C, frame *F, const kdr_node *e)
{
    const char *name = e->name;
    bind *b = cc_get_var(F, name);
    if (b) return b->v;
    if (F->phase && strcmp(name, "label") == 0) {
        if (F->label < 0) { cc_err(C, e, "this data set has no labels"); return kv_none(); }
        return kv_tensor(F->label);
    }
    const kdr_unit *u = NULL;
    const kdr_node *let = kd_program_decl(C->p, KDR_LET, name, &u);
    if (let) {
        frame G;
        memset(&G, 0, sizeof G);
        G.path = F->path;
        const kdr_unit *saved = C->unit;
        C->unit = u;
        kv v = cc_eval(C, &G, let->a, NULL);
        C->unit = saved;
        return v;
    }
    const kdr_node *sw = kd_program_decl(C->p, KDR_SWEEP, name, &u);
    if (sw) {
        /* compile against the first value of a sweep */
        frame G;
        memset(&G, 0, sizeof G);
        const kdr_unit *saved = C->unit;
        C->unit = u;
        kv v = cc_eval(C, &G, sw->a, NULL);
        C->unit = saved;
        if (v.k == KV_LIST && v.n > 0) return v.items[0];
        return v;
    }
    if (F->phase && strcmp(name, "index") == 0) {   /* crd's row indices (index_input.c) */
        int32_t t = kd_index_input(C->g);
        if (t < 0) { cc_err(C, e, "'index' needs a model fed by the phase's data"); return kv_none(); }
        return kv_tensor(t);
    }
    if (F->phase) {   /* a target input of the data's task (runtime/task.h): `clean`, `noisy` */
        int32_t t = kd_graph_find(C->g, name);
        const kd_node *n = t >= 0 ? &C->g->nodes[t] : NULL;
        if (n && n->kind == KD_NODE_INPUT && n->model < 0 && n->label && !strcmp(n->label, "input"))
            return kv_tensor(t);
        if (!strcmp(name, "clean") || !strcmp(name, "noisy")) {
            cc_err(C, e, "'%s' needs restoration data (raw_synth)", name);
            return kv_none();
        }
    }
    const kdr_builtin *bi = kdr_builtin_find(name, KDR_CTX_NET);
    if (bi && (bi->flags & KDR_B_BARE)) {
        if (!F->has_input) { cc_err(C, e, "'%s' needs an input", name); return kv_none(); }
        if (strcmp(name, "skip") == 0) return F->input;
        if (strcmp(name, "zero") == 0) {
            int32_t z = cc_op_simple(C, F, e, "zero", &F->input.t, 1, NULL, 0);
            return z < 0 ? kv_none() : kv_tensor(z);
        }
        cc_unsupported(C, "'%s' is not in this build yet", name);
        return kv_none();
    }
    kv sv = cc_search_name(C, F, name, e);   /* a search's name: agg, a bridge */
    if (sv.k != KV_NONE || STOP(C)) return sv;
    /* a bare word: a symbol argument such as `hw` or `horizontal` */
    return (kv){ .k = KV_SYM, .s = name };
}

/* A tensor of a model in C->detach, as a constant (no gradient flows back
 * through it): `loss a: kl(a.logits, b.logits)` trains a only. */
static kv detached(cc *C, const kdr_node *at, int32_t t)
{
    int m = C->g->nodes[t].model;
    if (m < 0 || m >= 64 || !(C->detach & ((uint64_t)1 << m))) return kv_tensor(t);
    const kd_op_def *op = kd_op_find("detach");
    if (!op) { cc_unsupported(C, "per-model losses (they need op 'detach') are not in this build yet"); return kv_none(); }
    kd_attr_val av[KD_MAXATTR];
    memset(av, 0, sizeof av);
    kd_attrs_default(op, av);
    frame F;
    memset(&F, 0, sizeof F);
    F.path = "detach";
    int32_t id = cc_add_op(C, &F, at, op, &t, 1, av, "detach");
    return id < 0 ? kv_none() : kv_tensor(id);
}

/* POOL.x of a pool of models (`pool experts = [t1, t2]`): the mean of the
 * members' x, sum over i of scale(t_i.x, s = 1/n), each scale node
 * labelled "pool POOL[i]" (routes.c sets s to 1 for the current anchor
 * and 0 for the others when a phase follows the pool).  -1: not a pool
 * of models; -2 after an error. */
static int32_t pool_tensor(cc *C, const kdr_node *at, const char *full)
{
    const char *dot = strchr(full, '.');
    if (!dot) return -1;
    char pname[256];
    snprintf(pname, sizeof pname, "%.*s", (int)(dot - full), full);
    const kdr_node *pd = kd_program_decl(C->p, KDR_POOL, pname, NULL);
    if (!pd || !pd->a || pd->a->kind != KDR_LIST || !pd->a->kids) return -1;
    int n = 0;
    for (const kdr_node *m = pd->a->kids; m; m = m->next) n++;
    int32_t acc = -1, first = -1;
    frame F;
    memset(&F, 0, sizeof F);
    F.path = pname;
    int i = 0;
    for (const kdr_node *m = pd->a->kids; m; m = m->next, i++) {
        if (m->kind != KDR_IDENT) { cc_err(C, at, "pool '%s': a member must be a model", pname); return -2; }
        const char *mf = cc_str(C, "%s%s", m->name, dot);
        int32_t t = kd_graph_find(C->g, mf);
        if (t < 0) {
            cc_err(C, at, "pool '%s': model '%s' has no tensor named '%s' here", pname, m->name, dot + 1);
            return -2;
        }
        if (first >= 0 && !kd_shape_eq(&C->g->nodes[first].shape, &C->g->nodes[t].shape)) {
            char b1[96], b2[96];
            cc_err(C, at, "pool '%s': %s is %s in '%s' but %s in '%s'; the pool averages tensors of "
                   "one shape", pname, dot + 1, kd_shape_str(&C->g->nodes[first].shape, b1, sizeof b1),
                   pd->a->kids->name, kd_shape_str(&C->g->nodes[t].shape, b2, sizeof b2), m->name);
            return -2;
        }
        if (first < 0) first = t;
        kv d = detached(C, at, t);
        if (STOP(C)) return -2;
        const kd_op_def *op = kd_op_find("scale");
        if (!op) { cc_unsupported(C, "op 'scale' is not in this build yet"); return -2; }
        kd_attr_val av[KD_MAXATTR];
        memset(av, 0, sizeof av);
        kd_attrs_default(op, av);
        av[kd_attr_index(op, "s")].num = 1.0 / n;
        int32_t w = cc_add_op(C, &F, at, op, &d.t, 1, av, cc_str(C, "pool %s[%d]", pname, i + 1));
        if (w < 0) return -2;
        if (acc < 0) acc = w;
        else {
            int32_t ins[2] = { acc, w };
            acc = cc_op_simple(C, &F, at, "add", ins, 2, NULL, 0);
            if (acc < 0) return -2;
        }
    }
    kd_graph_name(C->g, full, acc);   /* asked again: the same node */
    return acc;
}

/* model.tensor at phase level: a named tensor of a compiled model (or
 * the mean over a pool of models) */
static kv model_tensor(cc *C, const kdr_node *at, const char *full)
{
    int32_t t = kd_graph_find(C->g, full);
    if (t >= 0) return detached(C, at, t);
    t = pool_tensor(C, at, full);
    if (t >= 0) return kv_tensor(t);
    if (t == -2 || STOP(C)) return kv_none();
    const char *near = kd_graph_closest(C->g, full);
    if (near) cc_err(C, at, "no tensor named '%s'; did you mean '%s'?", full, near);
    else cc_err(C, at, "no tensor named '%s'", full);
    return kv_none();
}

/* model.x[s, *] at phase level: the named tensors model.x[s, i], by i */
static kv graph_star(cc *C, frame *F, const kdr_node *e, const char *base)
{
    char prefix[512];
    size_t o = 0;
    cc_append(prefix, sizeof prefix, &o, "%s[", base);
    for (const kdr_node *k = e->kids; k; k = k->next) {
        if (k->kind == KDR_STAR) {
            if (k->next) { cc_err(C, k, "'*' must be the last index"); return kv_none(); }
            break;
        }
        kv v = cc_eval(C, F, k, NULL);
        int64_t i;
        if (STOP(C) || cc_want_int(C, k, v, &i)) return kv_none();
        cc_append(prefix, sizeof prefix, &o, "%lld,", (long long)i);
    }
    int n = 0;
    for (int32_t i = 0; i < C->g->nnamed; i++) {
        const char *nm = C->g->named[i].name;
        if (strncmp(nm, prefix, o) == 0 && !strchr(nm + o, ',') && !strchr(nm + o, '.')) n++;
    }
    if (n == 0) { cc_err(C, e, "no tensor named %s*]", prefix); return kv_none(); }
    kv *items = cc_alloc(C, (size_t)n * sizeof *items);
    int64_t *keys = cc_alloc(C, (size_t)n * sizeof *keys);
    int m = 0;
    for (int32_t i = 0; i < C->g->nnamed; i++) {
        const char *nm = C->g->named[i].name;
        if (strncmp(nm, prefix, o) == 0 && !strchr(nm + o, ',') && !strchr(nm + o, '.')) {
            keys[m] = strtoll(nm + o, NULL, 10);
            items[m] = detached(C, e, C->g->named[i].node);
            if (STOP(C)) return kv_none();
            m++;
        }
    }
    for (int i = 1; i < m; i++)
        for (int j = i; j > 0 && keys[j - 1] > keys[j]; j--) {
            int64_t tk = keys[j]; keys[j] = keys[j - 1]; keys[j - 1] = tk;
            kv tv = items[j]; items[j] = items[j - 1]; items[j - 1] = tv;
        }
    return (kv){ .k = KV_LIST, .items = items, .n = m };
}

/* ts[i] (an IDENT indexed), as the model of ts[i].x at phase level */
static int member_index(const kdr_node *e)
{
    return e && e->kind == KDR_INDEX && e->a && e->a->kind == KDR_IDENT;
}

/* "ts[2]": the member's name, NULL after an error (no such member) */
static const char *member_name(cc *C, frame *F, const kdr_node *idx)
{
    const kdr_node *md = cc_model_member(C, F, idx, NULL);
    return md ? md->name : NULL;
}

kv cc_eval(cc *C, frame *F, const kdr_node *e, const char *hint)
{
    if (STOP(C) || !e) return kv_none();
    if (++C->steps > MAX_STEPS) {
        cc_err(C, e, "the model takes more than %d evaluation steps to build (a loop too long?)",
            MAX_STEPS);
        return kv_none();
    }
    switch (e->kind) {
    case KDR_NUM: return kv_num(e->num);
    case KDR_BOOL: return (kv){ .k = KV_BOOL, .num = e->num };
    case KDR_STR: return (kv){ .k = KV_STR, .s = e->str };
    case KDR_IDENT: return lookup(C, F, e);
    case KDR_INPUT:
        if (!F->has_input) { cc_err(C, e, "'in' is only meaningful inside a net"); return kv_none(); }
        return F->input;
    case KDR_LIST: {
        int n = 0;
        for (const kdr_node *k = e->kids; k; k = k->next) n++;
        kv *items = cc_alloc(C, (size_t)(n ? n : 1) * sizeof *items);
        int i = 0;
        for (const kdr_node *k = e->kids; k; k = k->next) {
            items[i++] = cc_eval(C, F, k, NULL);
            if (STOP(C)) return kv_none();
        }
        return (kv){ .k = KV_LIST, .items = items, .n = n };
    }
    case KDR_UNARY: {
        kv a = cc_eval(C, F, e->a, NULL);
        if (STOP(C)) return kv_none();
        if (e->op == KDR_OP_NOT) return (kv){ .k = KV_BOOL, .num = !cc_truthy(C, e->a, a) };
        if (a.k == KV_NUM) return kv_num(-a.num);
        if (a.k == KV_TENSOR) {
            int32_t t = cc_op_simple(C, F, e, "scale", &a.t, 1, "s", -1.0);
            return t < 0 ? kv_none() : kv_tensor(t);
        }
        cc_err(C, e, "cannot negate %s", cc_kind_name(a.k));
        return kv_none();
    }
    case KDR_BINARY: {
        if (e->op == KDR_OP_AND || e->op == KDR_OP_OR) {   /* short-circuit */
            kv a = cc_eval(C, F, e->a, NULL);
            if (STOP(C)) return kv_none();
            int ta = cc_truthy(C, e->a, a);
            if (e->op == KDR_OP_AND && !ta) return (kv){ .k = KV_BOOL, .num = 0 };
            if (e->op == KDR_OP_OR && ta) return (kv){ .k = KV_BOOL, .num = 1 };
            kv b = cc_eval(C, F, e->b, NULL);
            if (STOP(C)) return kv_none();
            return (kv){ .k = KV_BOOL, .num = cc_truthy(C, e->b, b) };
        }
        kv a = cc_eval(C, F, e->a, NULL);
        kv b = cc_eval(C, F, e->b, NULL);
        if (STOP(C)) return kv_none();
        return arith(C, F, e, a, b);
    }
    case KDR_TERNARY: {
        kv c = cc_eval(C, F, e->a, NULL);
        if (STOP(C)) return kv_none();
        return cc_truthy(C, e->a, c) ? cc_eval(C, F, e->b, hint) : cc_eval(C, F, e->c, hint);
    }
    case KDR_CALL: return cc_call(C, F, e, hint);
    case KDR_INDEX: {
        if (F->phase && e->a->kind == KDR_MEMBER && cc_is_with_call(e->a->a)) {
            for (const kdr_node *k = e->kids; k; k = k->next)
                if (k->kind == KDR_STAR) {
                    cc_unsupported(C, "'*' on a tensor of .with(...) is not in this build yet");
                    return kv_none();
                }
            const char *key = cc_index_key(C, F, e, e->a->name);
            return key ? cc_with_tensor(C, F, e->a->a, key, e) : kv_none();
        }
        if (F->phase && e->a->kind == KDR_MEMBER &&
            (e->a->a->kind == KDR_IDENT || member_index(e->a->a))) {
            const char *mn = e->a->a->kind == KDR_IDENT ? e->a->a->name : member_name(C, F, e->a->a);
            if (!mn) return kv_none();
            const char *base = cc_str(C, "%s.%s", mn, e->a->name);
            for (const kdr_node *k = e->kids; k; k = k->next)
                if (k->kind == KDR_STAR) return graph_star(C, F, e, base);
            const char *key = cc_index_key(C, F, e, base);
            return key ? model_tensor(C, e, key) : kv_none();
        }
        if (e->a->kind != KDR_IDENT) {
            cc_unsupported(C, "indexing a member is not in this build yet");
            return kv_none();
        }
        for (const kdr_node *k = e->kids; k; k = k->next)
            if (k->kind == KDR_STAR) return index_star(C, F, e, e->a->name);
        const char *key = cc_index_key(C, F, e, e->a->name);
        if (!key) return kv_none();
        bind *b = cc_get_var(F, key);
        if (b) return b->v;
        /* a list value indexed by number (1-based) */
        bind *lb = cc_get_var(F, e->a->name);
        if (lb && lb->v.k == KV_LIST && e->kids && !e->kids->next) {
            int64_t i;
            kv iv = cc_eval(C, F, e->kids, NULL);
            if (cc_want_int(C, e->kids, iv, &i)) return kv_none();
            if (i < 1 || i > lb->v.n) {
                cc_err(C, e->kids, "index %lld is outside 1..%d", (long long)i, lb->v.n);
                return kv_none();
            }
            return lb->v.items[i - 1];
        }
        kv sv = cc_search_name(C, F, key, e);   /* a search's agg[1] */
        if (sv.k != KV_NONE || STOP(C)) return sv;
        cc_err(C, e, "'%s' is not defined here", key);
        return kv_none();
    }
    case KDR_MEMBER:
        if (F->phase && cc_is_with_call(e->a)) return cc_with_tensor(C, F, e->a, e->name, e);
        if (F->phase && e->a->kind == KDR_IDENT) return model_tensor(C, e, cc_str(C, "%s.%s", e->a->name, e->name));
        if (F->phase && member_index(e->a)) {         /* ts[2].feat */
            const char *mn = member_name(C, F, e->a);
            return mn ? model_tensor(C, e, cc_str(C, "%s.%s", mn, e->name)) : kv_none();
        }
        cc_unsupported(C, "members (a.b) inside a net are not in this build yet");
        return kv_none();
    case KDR_REPEAT: {
        kv n = cc_eval(C, F, e->a, NULL);
        int64_t count;
        if (STOP(C) || cc_want_int(C, e->a, n, &count)) return kv_none();
        if (count < 0 || count > MAX_LOOP) { cc_err(C, e->a, "repeat count %lld is out of range", (long long)count); return kv_none(); }
        kv cur = e->b ? cc_eval(C, F, e->b, NULL) : (F->has_input ? F->input : kv_none());
        if (STOP(C)) return kv_none();
        if (cur.k != KV_TENSOR) { cc_err(C, e->b ? e->b : e, "repeat needs a tensor to start from"); return kv_none(); }
        int saved_has = F->has_input;
        kv saved_in = F->input;
        for (int64_t i = 1; i <= count && !STOP(C); i++) {
            cc_set_var(C, F, e->name, kv_num((double)i));
            F->has_input = 1;
            F->input = cur;
            F->last = kv_none();
            cc_exec_stmts(C, F, e->kids);
            if (F->last.k != KV_TENSOR) {
                cc_err(C, e, "the body of repeat must assign a tensor");
                break;
            }
            cur = F->last;
        }
        F->has_input = saved_has;
        F->input = saved_in;
        return cur;
    }
    case KDR_SUM: {
        kv r = cc_eval(C, F, e->a, NULL);
        if (STOP(C)) return kv_none();
        if (r.k != KV_LIST) { cc_err(C, e->a, "sum needs a list or a range"); return kv_none(); }
        kv acc = kv_none();
        for (int i = 0; i < r.n && !STOP(C); i++) {
            cc_set_var(C, F, e->name, r.items[i]);
            kv v = cc_eval(C, F, e->b, NULL);
            if (STOP(C)) return kv_none();
            if (acc.k == KV_NONE) acc = v;
            else {
                kdr_node plus = *e;
                plus.op = '+';
                acc = arith(C, F, &plus, acc, v);
            }
        }
        if (acc.k == KV_NONE) return kv_num(0);
        return acc;
    }
    default:
        cc_err(C, e, "this expression cannot be used in a net");
        return kv_none();
    }
}

/* ---- statements --------------------------------------------------------------------- */

void cc_exec_stmts(cc *C, frame *F, const kdr_node *s)
{
    for (; s && !STOP(C); s = s->next) {
        if (++C->steps > MAX_STEPS) {
            cc_err(C, s, "the model takes more than %d evaluation steps to build (a loop too long?)",
                MAX_STEPS);
            return;
        }
        switch (s->kind) {
        case KDR_ASSIGN: {
            const char *key;
            if (s->a->kind == KDR_IDENT) key = s->a->name;
            else key = cc_index_key(C, F, s->a, s->a->a->name);
            if (!key) return;
            kv v = cc_eval(C, F, s->b, key);
            if (STOP(C)) return;
            cc_set_var(C, F, key, v);
            F->last = v;
            if (v.k == KV_TENSOR) kd_graph_name(C->g, cc_str(C, "%s.%s", F->path, key), v.t);
            break;
        }
        case KDR_OUT: {
            kv v = cc_eval(C, F, s->a, "out");
            if (STOP(C)) return;
            if (v.k != KV_TENSOR) { cc_err(C, s->a, "'out' must be a tensor, got %s", cc_kind_name(v.k)); return; }
            F->out = v;
            F->has_out = 1;
            F->last = v;
            break;
        }
        case KDR_FOR: {
            kv r = cc_eval(C, F, s->a, NULL);
            if (STOP(C)) return;
            if (r.k != KV_LIST) { cc_err(C, s->a, "for needs a list or a range, got %s", cc_kind_name(r.k)); return; }
            for (int i = 0; i < r.n && !STOP(C); i++) {
                cc_set_var(C, F, s->name, r.items[i]);
                cc_exec_stmts(C, F, s->kids);
            }
            break;
        }
        case KDR_IF: {
            const kdr_node *n = s;
            while (n) {
                kv c = cc_eval(C, F, n->a, NULL);
                if (STOP(C)) return;
                if (cc_truthy(C, n->a, c)) { cc_exec_stmts(C, F, n->kids); break; }
                if (!n->b) break;
                if (n->b->kind == KDR_BLOCK) { cc_exec_stmts(C, F, n->b->kids); break; }
                n = n->b;
            }
            break;
        }
        default:
            cc_err(C, s, "this statement does not belong in a net");
            return;
        }
    }
}

