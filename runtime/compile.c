/* compile.c — expanding `net` templates into an op graph.
 *
 * A model declaration `model m = resnet(depth: 20, classes: 10)` is
 * evaluated like a small program: template parameters, `let` constants and
 * loop variables are numbers (or lists, strings, symbols); a tensor is a
 * graph node.  Calling a template runs its body in a new frame whose named
 * tensors are registered under a path ("m.block[2,1].h"); calling an op of
 * the builtins table binds the recipe's arguments (names and defaults as
 * documented in kdr(5)), translates them to the op's attributes, creates
 * the node and infers its shape.  Every error is located at the recipe text
 * that caused it, with notes for the template calls it happened inside.
 *
 * At phase level (losses) it also compiles `model.tensor`, models applied
 * to tensors (adapters) and `m.with(point = t).tensor` substitutions
 * (recomputing m's ops that the point feeds, with m's parameters).
 *
 * Not yet compiled (reported as "not in this build yet", never as a recipe
 * error): ops that ops/ does not provide yet, net templates as choice
 * candidates.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "graph_ops.h"
#include "op_builtins.h"
#include "../lang/builtins.h"

#define MAX_CALL_DEPTH 64
#define MAX_LOOP 100000
#define MAX_NODES KD_GRAPH_MAX_NODES
#define MAX_STEPS 10000000          /* statements and expressions evaluated per model */
#define MAX_NUMEL ((int64_t)1 << 31) /* elements of one tensor (8 GiB of float32) */

/* ---- values ---------------------------------------------------------------- */

typedef enum { KV_NONE, KV_NUM, KV_BOOL, KV_STR, KV_SYM, KV_LIST, KV_TENSOR } kv_kind;

typedef struct kv {
    kv_kind k;
    double num;
    const char *s;          /* STR, SYM */
    int32_t t;              /* TENSOR: node id */
    struct kv *items;       /* LIST */
    int n;
} kv;

typedef struct bind {
    const char *name;
    kv v;
    struct bind *next;
} bind;

typedef struct opcount { const char *op; int n; struct opcount *next; } opcount;

typedef struct frame {
    bind *vars;
    const char *path;        /* prefix of named tensors and parameters */
    int has_input;
    kv input;
    int has_out;
    kv out;
    kv last;                 /* the last value assigned (value of a repeat body) */
    opcount *counts;         /* per-op counters for parameter names */
    int anon;                /* counter for unnamed template calls */
    int phase;               /* 1: a phase-level expression (losses): model.tensor, label */
    int32_t label;           /* phase level: the label input node, or -1 */
} frame;

typedef struct callsite { const kdr_unit *unit; const kdr_node *at; const char *net; } callsite;

typedef struct cc {
    kd_graph *g;
    const kdr_program *p;
    kdr_diag *d;
    const kdr_unit *unit;    /* unit of the code being evaluated */
    int model;
    int failed;              /* a located error was reported */
    int unsupported;         /* something this build cannot compile yet */
    char why[256];           /* ... what */
    callsite stack[MAX_CALL_DEPTH];
    int depth;
    int32_t input_node;
    int64_t steps;           /* evaluation budget (MAX_STEPS) */
    int64_t batch;
    const kd_data_shape *data;
    uint64_t detach;         /* losses: models whose tensors are constants here */
} cc;

static kv kv_num(double x) { kv v = { .k = KV_NUM, .num = x }; return v; }
static kv kv_tensor(int32_t t) { kv v = { .k = KV_TENSOR, .t = t }; return v; }
static kv kv_none(void) { kv v = { .k = KV_NONE }; return v; }

static void *alloc(cc *C, size_t n) { return kdr_arena_alloc(C->g->arena, n); }

static const char *str(cc *C, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof buf) n = sizeof buf - 1;
    return kdr_arena_intern(C->g->arena, buf, (size_t)n);
}

static const char *kind_name(kv_kind k)
{
    switch (k) {
    case KV_NUM: return "a number";
    case KV_BOOL: return "a boolean";
    case KV_STR: return "a string";
    case KV_SYM: return "a name";
    case KV_LIST: return "a list";
    case KV_TENSOR: return "a tensor";
    default: return "nothing";
    }
}

/* ---- errors ------------------------------------------------------------------ */

static void err(cc *C, const kdr_node *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void err(cc *C, const kdr_node *at, const char *fmt, ...)
{
    char buf[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (C->failed || C->unsupported) return;   /* report the first problem only */
    C->failed = 1;
    kdr_diag_push(C->d, KDR_ERROR, C->unit, at ? at->beg : 0, at ? at->end : 0, "%s", buf);
    for (int i = C->depth - 1, k = 0; i >= 0 && k < 4; i--, k++)
        kdr_diag_push(C->d, KDR_NOTE, C->stack[i].unit, C->stack[i].at->beg, C->stack[i].at->end,
                      "in '%s', called here", C->stack[i].net);
}

static void unsupported(cc *C, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void unsupported(cc *C, const char *fmt, ...)
{
    if (C->failed || C->unsupported) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(C->why, sizeof C->why, fmt, ap);
    va_end(ap);
    C->unsupported = 1;
}

#define STOP(C) ((C)->failed || (C)->unsupported)

/* ---- program lookups ------------------------------------------------------- */

const kdr_node *kd_program_decl(const kdr_program *p, kdr_kind kind, const char *name,
                                const kdr_unit **unit)
{
    for (size_t i = 0; i < p->nunits; i++) {
        const kdr_unit *u = p->units[i];
        if (!u->root) continue;
        for (const kdr_node *n = u->root->kids; n; n = n->next)
            if (n->kind == kind && n->name && strcmp(n->name, name) == 0) {
                if (unit) *unit = u;
                return n;
            }
    }
    return NULL;
}

const kdr_unit *kd_program_unit_of(const kdr_program *p, const kdr_node *decl)
{
    for (size_t i = 0; i < p->nunits; i++) {
        const kdr_unit *u = p->units[i];
        if (!u->root) continue;
        for (const kdr_node *n = u->root->kids; n; n = n->next)
            if (n == decl) return u;
    }
    return p->nunits ? p->units[0] : NULL;
}

/* ---- graph building ------------------------------------------------------- */

static int32_t new_node(cc *C)
{
    if (C->g->nnodes >= MAX_NODES) return -1;
    int32_t id = kd_graph_push_node(C->g, C->model);
    if (id >= 0) C->g->nodes[id].unit = C->unit;
    return id;
}

static int next_count(cc *C, frame *F, const char *op)
{
    for (opcount *c = F->counts; c; c = c->next)
        if (strcmp(c->op, op) == 0) return c->n++;
    opcount *c = alloc(C, sizeof *c);
    c->op = op;
    c->n = 1;
    c->next = F->counts;
    F->counts = c;
    return 0;
}

/* Create an op node on data inputs `ins` with attributes `attr` (the
 * graph primitive, kd_graph_add_op_at, placed in the model being built,
 * located at `at`, parameters named under the frame's path); -1 after a
 * located error. */
static int32_t add_op(cc *C, frame *F, const kdr_node *at, const kd_op_def *op,
                      const int32_t *ins, int ndata, const kd_attr_val *attr, const char *label)
{
    kd_op_site site = {
        .model = C->model, .unit = C->unit, .beg = at->beg, .end = at->end, .label = label,
        .max_nodes = MAX_NODES, .max_numel = MAX_NUMEL,
    };
    if (op->nparams > 0)   /* "m.block[2,1].conv1": the op's spelling, counted per frame */
        site.param_base = str(C, "%s.%s%d", F->path, op->alias ? op->alias : op->name,
                              next_count(C, F, op->name));
    char msg[512];
    int32_t id = kd_graph_add_op_at(C->g, op, ins, ndata, attr, &site, msg, sizeof msg);
    if (id < 0) err(C, at, "%s", msg);
    return id;
}

/* ---- scopes ----------------------------------------------------------------- */

static void set_var(cc *C, frame *F, const char *name, kv v)
{
    for (bind *b = F->vars; b; b = b->next)
        if (b->name == name || strcmp(b->name, name) == 0) { b->v = v; return; }
    bind *b = alloc(C, sizeof *b);
    b->name = name;
    b->v = v;
    b->next = F->vars;
    F->vars = b;
}

static bind *get_var(frame *F, const char *name)
{
    for (bind *b = F->vars; b; b = b->next)
        if (strcmp(b->name, name) == 0) return b;
    return NULL;
}

static kv eval(cc *C, frame *F, const kdr_node *e, const char *hint);
static void exec_stmts(cc *C, frame *F, const kdr_node *s);

/* ---- numbers ------------------------------------------------------------------ */

static int truthy(cc *C, const kdr_node *at, kv v)
{
    if (v.k == KV_BOOL || v.k == KV_NUM) return v.num != 0;
    err(C, at, "a condition must be a number or a boolean, not %s", kind_name(v.k));
    return 0;
}

static int want_num(cc *C, const kdr_node *at, kv v, double *out)
{
    if (v.k == KV_NUM || v.k == KV_BOOL) { *out = v.num; return 0; }
    if (v.k == KV_SYM)
        err(C, at, "unknown name '%s'", v.s);
    else
        err(C, at, "expected a number, got %s", kind_name(v.k));
    return -1;
}

static int want_int(cc *C, const kdr_node *at, kv v, int64_t *out)
{
    double x;
    if (want_num(C, at, v, &x)) return -1;
    if (x != floor(x) || fabs(x) > 1e15) {
        err(C, at, "expected an integer, got %g", x);
        return -1;
    }
    *out = (int64_t)x;
    return 0;
}

/* ---- indexed names ------------------------------------------------------------ */

/* snprintf at *o into buf[cap], never past the end (*o stays < cap). */
static void append(char *buf, size_t cap, size_t *o, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t cap, size_t *o, const char *fmt, ...)
{
    if (*o >= cap - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *o, cap - *o, fmt, ap);
    va_end(ap);
    if (n > 0) *o += (size_t)n;
    if (*o >= cap) *o = cap - 1;
}

static const char *index_key(cc *C, frame *F, const kdr_node *idx_expr, const char *base)
{
    char buf[512];
    size_t o = 0;
    append(buf, sizeof buf, &o, "%s[", base);
    int first = 1;
    for (const kdr_node *k = idx_expr->kids; k; k = k->next) {
        if (k->kind == KDR_STAR) { err(C, k, "'*' selects several tensors; it cannot be assigned"); return NULL; }
        kv v = eval(C, F, k, NULL);
        int64_t i;
        if (STOP(C) || want_int(C, k, v, &i)) return NULL;
        append(buf, sizeof buf, &o, "%s%lld", first ? "" : ",", (long long)i);
        first = 0;
    }
    append(buf, sizeof buf, &o, "]");
    return kdr_arena_intern(C->g->arena, buf, o);
}

/* x[s, *]: every tensor bound as x[s, i], ordered by i. */
static kv index_star(cc *C, frame *F, const kdr_node *e, const char *base)
{
    char prefix[512];
    size_t o = 0;
    append(prefix, sizeof prefix, &o, "%s[", base);
    int nstar = 0;
    for (const kdr_node *k = e->kids; k; k = k->next) {
        if (k->kind == KDR_STAR) { nstar++; break; }
        kv v = eval(C, F, k, NULL);
        int64_t i;
        if (STOP(C) || want_int(C, k, v, &i)) return kv_none();
        append(prefix, sizeof prefix, &o, "%lld,", (long long)i);
    }
    if (nstar != 1 || e->kids == NULL) { err(C, e, "'*' must be the last index"); return kv_none(); }
    for (const kdr_node *k = e->kids; k; k = k->next)
        if (k->kind == KDR_STAR && k->next) { err(C, k, "'*' must be the last index"); return kv_none(); }
    /* collect, in index order (bindings are newest first: reverse) */
    int n = 0;
    for (bind *b = F->vars; b; b = b->next)
        if (strncmp(b->name, prefix, o) == 0 && b->v.k == KV_TENSOR && !strchr(b->name + o, ',')) n++;
    if (n == 0) { err(C, e, "no tensor named %s*]", prefix); return kv_none(); }
    kv *items = alloc(C, (size_t)n * sizeof *items);
    int64_t *keys = alloc(C, (size_t)n * sizeof *keys);
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

/* ---- tensor arithmetic ------------------------------------------------------ */

/* An op kdrun inserts (add, sub, mul, scale, zero) with its defaults and
 * at most one attribute set as is (attr NULL: none). */
static int32_t op_simple(cc *C, frame *F, const kdr_node *at, const char *opname,
                         const int32_t *ins, int n, const char *attr, double x)
{
    const kd_op_def *op = kd_op_find(opname);
    if (!op) { unsupported(C, "op '%s' is not in this build yet", opname); return -1; }
    kd_attr_val av[KD_MAXATTR];
    memset(av, 0, sizeof av);
    kd_attrs_default(op, av);
    int ai = attr ? kd_attr_index(op, attr) : -1;
    if (ai >= 0) av[ai].num = x;
    return add_op(C, F, at, op, ins, n, av, opname);
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
            if (y == 0) { err(C, e, "division by zero"); return kv_none(); }
            r = x / y; break;
        case '%':
            if (y == 0) { err(C, e, "modulo by zero"); return kv_none(); }
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
            if (want_int(C, e->a, a, &lo) || want_int(C, e->b, b, &hi)) return kv_none();
            if (hi - lo + 1 > MAX_LOOP) { err(C, e, "range too long"); return kv_none(); }
            int n = hi >= lo ? (int)(hi - lo + 1) : 0;
            kv *items = alloc(C, (size_t)(n ? n : 1) * sizeof *items);
            for (int i = 0; i < n; i++) items[i] = kv_num((double)(lo + i));
            return (kv){ .k = KV_LIST, .items = items, .n = n };
        }
        default: err(C, e, "this operator does not apply to numbers"); return kv_none();
        }
        if (!isfinite(r)) { err(C, e, "the result is not a finite number"); return kv_none(); }
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
            err(C, e, "'%c' needs tensors of the same shape, got %s and %s", op,
                kd_shape_str(sa, b1, sizeof b1), kd_shape_str(sb, b2, sizeof b2));
            return kv_none();
        }
        int32_t t = op_simple(C, F, e, op == '+' ? "add" : op == '-' ? "sub" : "mul", ins, 2, NULL, 0);
        return t < 0 ? kv_none() : kv_tensor(t);
    }
    if ((a.k == KV_TENSOR && (b.k == KV_NUM)) || (a.k == KV_NUM && b.k == KV_TENSOR)) {
        kv t = a.k == KV_TENSOR ? a : b;
        double s = a.k == KV_NUM ? a.num : b.num;
        if (op == '*' || (op == '/' && a.k == KV_TENSOR)) {
            if (op == '/') {
                if (s == 0) { err(C, e, "division by zero"); return kv_none(); }
                s = 1 / s;
            }
            int32_t r = op_simple(C, F, e, "scale", &t.t, 1, "s", s);
            return r < 0 ? kv_none() : kv_tensor(r);
        }
    }
    err(C, e, "cannot apply this operator to %s and %s", kind_name(a.k), kind_name(b.k));
    return kv_none();
}

/* ---- op calls -------------------------------------------------------------------- */

/* Bind call arguments to a builtin's parameters (positional then named).
 * An argument not given stays KV_NONE: the op's attribute keeps its
 * default, which is the one the builtin documents (both come from the
 * registry). */
static int bind_builtin_args(cc *C, frame *F, const kdr_node *call, const kdr_builtin *b,
                             kv *vals, const kdr_node **where, int implicit_input)
{
    size_t na = kdr_builtin_nargs(b);
    int given[32] = { 0 };
    if (na > 32) na = 32;
    size_t pos = 0;
    if (implicit_input) {
        vals[0] = F->input;
        where[0] = call;
        given[0] = 1;
        pos = 1;
    }
    for (const kdr_node *a = call->kids; a; a = a->next) {
        if (a->b) { err(C, a, "'=' substitution is only for .with(...)"); return -1; }
        size_t i;
        if (a->name) {
            for (i = 0; i < na; i++)
                if (strcmp(b->args[i].name, a->name) == 0) break;
            if (i == na) { err(C, a, "%s has no argument '%s'", b->name, a->name); return -1; }
        } else {
            i = pos;
            if (i >= na) { err(C, a, "too many arguments for %s", b->name); return -1; }
            if (b->args[i].rest) {
                /* the rest: collect all remaining positionals into a list */
                int n = 0;
                for (const kdr_node *r = a; r && !r->name; r = r->next) n++;
                kv *items = alloc(C, (size_t)n * sizeof *items);
                int k = 0;
                for (; a && !a->name; a = a->next) {
                    items[k++] = eval(C, F, a->a, NULL);
                    if (STOP(C)) return -1;
                    if (!a->next || a->next->name) break;
                }
                vals[i] = (kv){ .k = KV_LIST, .items = items, .n = k };
                where[i] = call;
                given[i] = 1;
                pos = i + 1;
                continue;
            }
            pos++;
        }
        if (given[i]) { err(C, a, "argument '%s' given twice", b->args[i].name); return -1; }
        vals[i] = eval(C, F, a->a, NULL);
        if (STOP(C)) return -1;
        where[i] = a->a;
        given[i] = 1;
    }
    for (size_t i = 0; i < na; i++) {
        if (given[i]) continue;
        if (b->args[i].req) {
            err(C, call, "%s needs argument '%s'", b->name, b->args[i].name);
            return -1;
        }
        vals[i] = kv_none();
        where[i] = call;
    }
    return 0;
}

/* Set attribute ai of op from a recipe value; -1 after a located error. */
static int set_attr(cc *C, const kdr_node *at, const kd_op_def *op, kd_attr_val *av, int ai,
                    const char *bname, const char *argname, kv v)
{
    char e2[256];
    int rc;
    if (v.k == KV_NUM || v.k == KV_BOOL) rc = kd_attr_set_num(op, av, ai, v.num, e2, sizeof e2);
    else if (v.k == KV_SYM || v.k == KV_STR) rc = kd_attr_set_enum(op, av, ai, v.s, e2, sizeof e2);
    else if (v.k == KV_LIST) {
        int64_t xs[KD_MAXINTS];
        int n = v.n < KD_MAXINTS ? v.n : KD_MAXINTS;
        for (int k = 0; k < n; k++)
            if (want_int(C, at, v.items[k], &xs[k])) return -1;
        rc = kd_attr_set_ints(op, av, ai, xs, v.n, e2, sizeof e2);
    } else {
        err(C, at, "%s: argument '%s' cannot be %s", bname, argname, kind_name(v.k));
        return -1;
    }
    if (rc) { err(C, at, "%s", e2); return -1; }   /* e2 names the op already */
    return 0;
}

/* An op call: the builtin's spelling in the registry says which argument
 * is a data input and which attribute each other argument sets. */
static kv call_op(cc *C, frame *F, const kdr_node *call, const kdr_builtin *b, int implicit_input)
{
    const kd_recipe_op *ro = kd_recipe_op_find(b->name, b->ctx);
    if (!ro) {
        unsupported(C, "op '%s' is not in this build yet", b->name);
        return kv_none();
    }
    const kd_op_def *op = ro->op;
    kv vals[KD_RECIPE_MAXARGS];
    const kdr_node *where[KD_RECIPE_MAXARGS];
    if (bind_builtin_args(C, F, call, b, vals, where, implicit_input)) return kv_none();
    int32_t ins[KD_MAXIN];
    int ndata = 0;
    kd_attr_val av[KD_MAXATTR];
    memset(av, 0, sizeof av);
    kd_attrs_default(op, av);
    for (int i = 0; i < ro->nargs; i++) {
        const kdr_argspec *s = &b->args[i];
        kv v = vals[i];
        if (ro->attr[i] < 0) {     /* data inputs */
            /* concat([a, b]): the rest list holds one list of tensors */
            if (s->rest && v.k == KV_LIST && v.n == 1 && v.items[0].k == KV_LIST) v = v.items[0];
            int n = v.k == KV_LIST ? v.n : 1;
            for (int k = 0; k < n; k++) {
                kv t = v.k == KV_LIST ? v.items[k] : v;
                if (t.k != KV_TENSOR) {
                    if (t.k == KV_SYM) err(C, where[i], "unknown name '%s'", t.s);
                    else err(C, where[i], "%s: argument '%s' must be a tensor, got %s", b->name,
                             s->name, kind_name(t.k));
                    return kv_none();
                }
                if (ndata >= KD_MAXIN) { err(C, where[i], "too many tensors"); return kv_none(); }
                ins[ndata++] = t.t;
            }
            const char *cnt = ro->inputs[ro->input[i]].count_attr;
            if (cnt && set_attr(C, where[i], op, av, kd_attr_index(op, cnt), b->name, s->name,
                                kv_num(n)))
                return kv_none();
            continue;
        }
        if (v.k == KV_NONE) {
            if (ro->has_def[i]) v = kv_num(ro->def[i]);
            else continue;         /* the op's default */
        }
        if (set_attr(C, where[i], op, av, ro->attr[i], b->name, s->name, v)) return kv_none();
    }
    /* attributes the spelling fixes: dwconv's groups = channels, dconv's causal */
    for (int k = 0; ro->sugar && ro->sugar->fixed && ro->sugar->fixed[k].attr; k++) {
        const kd_attr_fix *fx = &ro->sugar->fixed[k];
        double x = fx->value;
        if (fx->kind == KD_FIX_DEFAULT) continue;
        if (fx->kind == KD_FIX_CHANNELS) {
            const kd_shape *xs = ndata ? &C->g->nodes[ins[0]].shape : NULL;
            x = xs && xs->ndim >= 2 ? (double)xs->dims[1] : 1;
        }
        if (set_attr(C, call, op, av, kd_attr_index(op, fx->attr), b->name, fx->attr, kv_num(x)))
            return kv_none();
    }
    int32_t t = add_op(C, F, call, op, ins, ndata, av, b->name);
    return t < 0 ? kv_none() : kv_tensor(t);
}

/* ---- template calls ---------------------------------------------------------------- */

static kv call_net(cc *C, frame *F, const kdr_node *call, const kdr_node *net,
                   const kdr_unit *net_unit, const char *hint, int top)
{
    if (C->depth >= MAX_CALL_DEPTH) {
        err(C, call, "templates call each other more than %d deep (recursion?)", MAX_CALL_DEPTH);
        return kv_none();
    }
    frame G;
    memset(&G, 0, sizeof G);
    if (top) G.path = F->path;
    else if (hint) G.path = str(C, "%s.%s", F->path, hint);
    else G.path = str(C, "%s.%s%d", F->path, net->name, F->anon++);
    /* arguments are evaluated in the caller's frame */
    const kdr_node *a = call->kids;
    if (!top) {
        if (!a || a->name) {
            err(C, call, "'%s' needs its input tensor as the first argument", net->name);
            return kv_none();
        }
        kv in = eval(C, F, a->a, NULL);
        if (STOP(C)) return kv_none();
        if (in.k != KV_TENSOR) {
            err(C, a, "the first argument of '%s' must be its input tensor, got %s", net->name,
                kind_name(in.k));
            return kv_none();
        }
        G.has_input = 1;
        G.input = in;
        a = a->next;
    } else {
        G.has_input = 1;
        G.input = F->input;
    }
    int np = 0;
    const kdr_node *params[64];
    for (const kdr_node *p = net->params; p && np < 64; p = p->next) params[np++] = p;
    int given[64] = { 0 };
    int pos = 0;
    for (; a; a = a->next) {
        int i;
        if (a->name) {
            for (i = 0; i < np; i++) if (strcmp(params[i]->name, a->name) == 0) break;
            if (i == np) { err(C, a, "'%s' has no parameter '%s'", net->name, a->name); return kv_none(); }
        } else {
            i = pos++;
            if (i >= np) { err(C, a, "too many arguments for '%s'", net->name); return kv_none(); }
        }
        kv v = eval(C, F, a->a, NULL);
        if (STOP(C)) return kv_none();
        set_var(C, &G, params[i]->name, v);
        given[i] = 1;
    }
    C->stack[C->depth].unit = C->unit;
    C->stack[C->depth].at = call;
    C->stack[C->depth].net = net->name;
    C->depth++;
    const kdr_unit *saved = C->unit;
    C->unit = net_unit;
    for (int i = 0; i < np && !STOP(C); i++) {
        if (given[i]) continue;
        if (!params[i]->a) {
            C->unit = saved;
            C->depth--;
            err(C, call, "'%s' needs parameter '%s'", net->name, params[i]->name);
            return kv_none();
        }
        set_var(C, &G, params[i]->name, eval(C, &G, params[i]->a, NULL));
    }
    if (!STOP(C)) exec_stmts(C, &G, net->kids);
    C->unit = saved;
    C->depth--;
    if (STOP(C)) return kv_none();
    if (!G.has_out) {
        err(C, call, "'%s' has no 'out' statement", net->name);
        return kv_none();
    }
    return G.out;
}

/* `m(x)` in a loss: model m (an adapter, a connector) built on tensor x.
 * Its parameters are named "m.*" as if m were compiled on data; a model is
 * applied once per graph (again on the same tensor: the same output). */
static kv apply_model(cc *C, frame *F, const kdr_node *e, const kdr_node *decl, const kdr_unit *mu)
{
    if (!e->kids || e->kids->next || e->kids->name) {
        err(C, e, "a model applied in a loss takes one tensor: %s(x)", decl->name);
        return kv_none();
    }
    kv in = eval(C, F, e->kids->a, NULL);
    if (STOP(C)) return kv_none();
    if (in.k != KV_TENSOR) {
        err(C, e->kids, "model '%s' must be applied to a tensor, got %s", decl->name, kind_name(in.k));
        return kv_none();
    }
    const char *outname = str(C, "%s.out", decl->name), *inname = str(C, "%s.in", decl->name);
    int32_t have = kd_graph_find(C->g, outname);
    if (have >= 0) {
        if (kd_graph_find(C->g, inname) == in.t) return kv_tensor(have);
        unsupported(C, "applying model '%s' to two different tensors is not in this build yet", decl->name);
        return kv_none();
    }
    const kdr_node *mc = decl->a;
    const kdr_unit *nu = NULL;
    const kdr_node *net = mc && mc->kind == KDR_CALL && mc->a->kind == KDR_IDENT
                          ? kd_program_decl(C->p, KDR_NET, mc->a->name, &nu) : NULL;
    if (!net) {
        err(C, e, "model '%s' is not a call of a net template", decl->name);
        return kv_none();
    }
    if (C->g->nmodels >= 64) { err(C, e, "too many models"); return kv_none(); }
    int saved_model = C->model;
    const kdr_unit *saved_unit = C->unit;
    C->model = C->g->nmodels;
    C->g->model_names[C->g->nmodels++] = decl->name;
    frame M;
    memset(&M, 0, sizeof M);
    M.path = decl->name;
    M.has_input = 1;
    M.input = in;
    C->unit = mu;
    kv out = call_net(C, &M, mc, net, nu, NULL, 1);
    C->unit = saved_unit;
    C->model = saved_model;
    if (STOP(C)) return kv_none();
    if (out.k != KV_TENSOR) { err(C, e, "model '%s' gives no tensor", decl->name); return kv_none(); }
    kd_graph_name(C->g, outname, out.t);
    kd_graph_name(C->g, inname, in.t);
    return out;
}

static kv call_cost(cc *C, frame *F, const kdr_node *e, const kdr_builtin *b);   /* ops2 block */
static kv call_choice(cc *C, frame *F, const kdr_node *e);                         /* ops2 block */

static kv with_tensor(cc *C, frame *F, const kdr_node *call, const char *key, const kdr_node *at);
static int is_with_call(const kdr_node *e);

static kv call(cc *C, frame *F, const kdr_node *e, const char *hint)
{
    const kdr_node *callee = e->a;
    if (F->phase && is_with_call(e)) {   /* a model, as for the checker */
        err(C, e, "'.with(...)' gives a model; take one of its tensors: %s.with(...).logits",
            e->a->a->kind == KDR_IDENT ? e->a->a->name : "m");
        return kv_none();
    }
    if (callee->kind != KDR_IDENT) {
        unsupported(C, "calling a model or an indexed name inside a net is not in this build yet");
        return kv_none();
    }
    const char *name = callee->name;
    /* shape queries */
    if (strcmp(name, "channels") == 0 || strcmp(name, "height") == 0 ||
        strcmp(name, "width") == 0 || strcmp(name, "length") == 0) {
        if (!e->kids || e->kids->next) { err(C, e, "%s takes one tensor", name); return kv_none(); }
        kv t = eval(C, F, e->kids->a, NULL);
        if (STOP(C)) return kv_none();
        if (t.k != KV_TENSOR) { err(C, e->kids, "%s needs a tensor, got %s", name, kind_name(t.k)); return kv_none(); }
        const kd_shape *s = &C->g->nodes[t.t].shape;
        int axis = name[0] == 'c' ? 1 : name[0] == 'h' ? 2 : name[0] == 'w' ? 3 : s->ndim - 1;
        if (axis >= s->ndim) {
            char sb[96];
            err(C, e, "%s of a tensor of shape %s", name, kd_shape_str(s, sb, sizeof sb));
            return kv_none();
        }
        return kv_num((double)s->dims[axis]);
    }
    const kdr_unit *nu = NULL;
    const kdr_node *net = kd_program_decl(C->p, KDR_NET, name, &nu);
    if (net) return call_net(C, F, e, net, nu, hint, 0);
    unsigned ctx = KDR_CTX_NET | KDR_CTX_SEARCH | KDR_CTX_MATH;
    if (F->phase) ctx = KDR_CTX_LOSS | KDR_CTX_MATH | KDR_CTX_NET | KDR_CTX_SEARCH;
    const kdr_builtin *b = kdr_builtin_find(name, ctx);
    if (b && (b->ctx & KDR_CTX_MATH)) {
        /* numeric helpers: min, max, round, floor, ceil, sqrt, abs */
        double xs[8];
        int n = 0;
        for (const kdr_node *a = e->kids; a && n < 8; a = a->next) {
            kv v = eval(C, F, a->a, NULL);
            if (STOP(C) || want_num(C, a, v, &xs[n++])) return kv_none();
        }
        double r;
        if (n == 0) { err(C, e, "%s needs arguments", name); return kv_none(); }
        if (strcmp(name, "min") == 0) { r = xs[0]; for (int i = 1; i < n; i++) r = fmin(r, xs[i]); }
        else if (strcmp(name, "max") == 0) { r = xs[0]; for (int i = 1; i < n; i++) r = fmax(r, xs[i]); }
        else if (strcmp(name, "round") == 0) r = round(xs[0]);
        else if (strcmp(name, "floor") == 0) r = floor(xs[0]);
        else if (strcmp(name, "ceil") == 0) r = ceil(xs[0]);
        else if (strcmp(name, "sqrt") == 0) r = sqrt(xs[0]);
        else if (strcmp(name, "abs") == 0) r = fabs(xs[0]);
        else { unsupported(C, "function '%s' is not in this build yet", name); return kv_none(); }
        return kv_num(r);
    }
    if (b && b->ctx == KDR_CTX_SEARCH && strcmp(name, "choice") == 0) return call_choice(C, F, e);
    if (b && F->phase && !(b->ctx & (KDR_CTX_LOSS | KDR_CTX_NET | KDR_CTX_SEARCH | KDR_CTX_MATH))) {
        unsupported(C, "'%s' in a loss is not in this build yet", name);
        return kv_none();
    }
    if (!b && F->phase && kdr_builtin_find(name, KDR_CTX_WEIGHT)) {
        /* a factor that changes per epoch: a scalar input the trainer sets */
        if (C->g->nwsched == (int)(sizeof C->g->wsched / sizeof C->g->wsched[0])) {
            err(C, e, "more than %d weight schedules in one phase",
                (int)(sizeof C->g->wsched / sizeof C->g->wsched[0]));
            return kv_none();
        }
        int32_t id = kd_graph_add_input(C->g, str(C, "%s.weight%d", F->path, C->g->nwsched),
                                        kd_shape_make(0, NULL));
        if (id < 0) { err(C, e, "out of memory"); return kv_none(); }
        C->g->nodes[id].beg = e->beg;
        C->g->nodes[id].end = e->end;
        C->g->wsched[C->g->nwsched].node = id;
        C->g->wsched[C->g->nwsched].call = e;
        C->g->wsched[C->g->nwsched].unit = C->unit;
        C->g->nwsched++;
        return kv_tensor(id);
    }
    if (b && F->phase && strcmp(name, "cost") == 0) return call_cost(C, F, e, b);
    if (b) return call_op(C, F, e, b, 0);
    if (F->phase) {
        const kdr_unit *mu = NULL;
        const kdr_node *md = kd_program_decl(C->p, KDR_MODEL, name, &mu);
        if (md) return apply_model(C, F, e, md, mu);
    }
    err(C, callee, "unknown function '%s'", name);
    return kv_none();
}

/* ---- expressions ------------------------------------------------------------------ */

static kv lookup(cc *C, frame *F, const kdr_node *e)
{
    const char *name = e->name;
    bind *b = get_var(F, name);
    if (b) return b->v;
    if (F->phase && strcmp(name, "label") == 0) {
        if (F->label < 0) { err(C, e, "this data set has no labels"); return kv_none(); }
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
        kv v = eval(C, &G, let->a, NULL);
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
        kv v = eval(C, &G, sw->a, NULL);
        C->unit = saved;
        if (v.k == KV_LIST && v.n > 0) return v.items[0];
        return v;
    }
    const kdr_builtin *bi = kdr_builtin_find(name, KDR_CTX_NET);
    if (bi && (bi->flags & KDR_B_BARE)) {
        if (!F->has_input) { err(C, e, "'%s' needs an input", name); return kv_none(); }
        if (strcmp(name, "skip") == 0) return F->input;
        if (strcmp(name, "zero") == 0) {
            int32_t z = op_simple(C, F, e, "zero", &F->input.t, 1, NULL, 0);
            return z < 0 ? kv_none() : kv_tensor(z);
        }
        unsupported(C, "'%s' is not in this build yet", name);
        return kv_none();
    }
    /* a bare word: a symbol argument such as `hw` or `horizontal` */
    return (kv){ .k = KV_SYM, .s = name };
}

/* model.tensor at phase level: a named tensor of a compiled model */
static int32_t add_op(cc *C, frame *F, const kdr_node *at, const kd_op_def *op,
                      const int32_t *ins, int ndata, const kd_attr_val *attr, const char *label);

/* A tensor of a model in C->detach, as a constant (no gradient flows back
 * through it): `loss a: kl(a.logits, b.logits)` trains a only. */
static kv detached(cc *C, const kdr_node *at, int32_t t)
{
    int m = C->g->nodes[t].model;
    if (m < 0 || m >= 64 || !(C->detach & ((uint64_t)1 << m))) return kv_tensor(t);
    const kd_op_def *op = kd_op_find("detach");
    if (!op) { unsupported(C, "per-model losses (they need op 'detach') are not in this build yet"); return kv_none(); }
    kd_attr_val av[KD_MAXATTR];
    memset(av, 0, sizeof av);
    kd_attrs_default(op, av);
    frame F;
    memset(&F, 0, sizeof F);
    F.path = "detach";
    int32_t id = add_op(C, &F, at, op, &t, 1, av, "detach");
    return id < 0 ? kv_none() : kv_tensor(id);
}

static kv model_tensor(cc *C, const kdr_node *at, const char *full)
{
    int32_t t = kd_graph_find(C->g, full);
    if (t >= 0) return detached(C, at, t);
    const char *near = kd_graph_closest(C->g, full);
    if (near) err(C, at, "no tensor named '%s'; did you mean '%s'?", full, near);
    else err(C, at, "no tensor named '%s'", full);
    return kv_none();
}

/* model.x[s, *] at phase level: the named tensors model.x[s, i], by i */
static kv graph_star(cc *C, frame *F, const kdr_node *e, const char *base)
{
    char prefix[512];
    size_t o = 0;
    append(prefix, sizeof prefix, &o, "%s[", base);
    for (const kdr_node *k = e->kids; k; k = k->next) {
        if (k->kind == KDR_STAR) {
            if (k->next) { err(C, k, "'*' must be the last index"); return kv_none(); }
            break;
        }
        kv v = eval(C, F, k, NULL);
        int64_t i;
        if (STOP(C) || want_int(C, k, v, &i)) return kv_none();
        append(prefix, sizeof prefix, &o, "%lld,", (long long)i);
    }
    int n = 0;
    for (int32_t i = 0; i < C->g->nnamed; i++) {
        const char *nm = C->g->named[i].name;
        if (strncmp(nm, prefix, o) == 0 && !strchr(nm + o, ',') && !strchr(nm + o, '.')) n++;
    }
    if (n == 0) { err(C, e, "no tensor named %s*]", prefix); return kv_none(); }
    kv *items = alloc(C, (size_t)n * sizeof *items);
    int64_t *keys = alloc(C, (size_t)n * sizeof *keys);
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

/* ---- m.with(point = tensor, ...) at phase level ------------------------------------
 *
 * Model m evaluated with its named tensors `point` replaced: every op node
 * of m that a point feeds (through m's own nodes) is recomputed, in
 * creation order, on the substitutes; the nodes the points do not feed are
 * shared.  A recomputed node is a copy of the original (same op,
 * attributes and parameter ids: the parameters are m's, and gradients of
 * both paths add into them) marked clone_of, so that the executor gives it
 * the original's bn statistics.  Each distinct substitution (same model,
 * same points, same substitute nodes) is built once per graph
 * (kd_graph.with) and its map serves every tensor asked of it. */

#define MAX_WITH_POINTS 8

/* "[N, 16, 32, 32]": the batch dimension of a model tensor as N */
static const char *shape_n(const kd_shape *s, int64_t batch, char *buf, size_t cap)
{
    size_t o = 0;
    append(buf, cap, &o, "[");
    for (int i = 0; i < s->ndim; i++) {
        if (i) append(buf, cap, &o, ", ");
        if (i == 0 && s->dims[0] == batch) append(buf, cap, &o, "N");
        else append(buf, cap, &o, "%lld", (long long)s->dims[i]);
    }
    append(buf, cap, &o, "]");
    return buf;
}

/* the instance of model m with points pt[] replaced by sub[] (n of them),
 * built if new; NULL after an error */
static const struct kd_with *with_instance(cc *C, const kdr_node *at, int m, int n,
                                           const int32_t *pt, const int32_t *sub)
{
    kd_graph *g = C->g;
    for (int w = 0; w < g->nwith; w++) {
        const struct kd_with *W = &g->with[w];
        if (W->model != m || W->n != n) continue;
        int same = 1;
        for (int i = 0; i < n && same; i++) {
            int found = 0;
            for (int j = 0; j < n; j++)
                if (W->pt[j] == pt[i] && W->sub[j] == sub[i]) found = 1;
            same = found;
        }
        if (same) return W;
    }
    if (g->nwith == (int)(sizeof g->with / sizeof g->with[0])) {
        err(C, at, "more than %d different .with(...) substitutions in one phase",
            (int)(sizeof g->with / sizeof g->with[0]));
        return NULL;
    }
    int32_t n0 = g->nnodes;
    int32_t *map = alloc(C, (size_t)n0 * sizeof *map);
    uint8_t *dirty = calloc((size_t)n0, 1);
    if (!map || !dirty) { free(dirty); err(C, at, "out of memory"); return NULL; }
    int32_t lo = n0;
    for (int32_t i = 0; i < n0; i++) map[i] = i;
    for (int i = 0; i < n; i++) {
        map[pt[i]] = sub[i];
        dirty[pt[i]] = 1;
        if (pt[i] < lo) lo = pt[i];
    }
    for (int32_t i = lo + 1; i < n0 && !STOP(C); i++) {
        const kd_node *o = &g->nodes[i];
        if (o->model != m || o->kind != KD_NODE_OP || o->clone_of || dirty[i]) continue;
        int fed = 0;
        for (int k = 0; k < o->ndata; k++)
            if (o->in[k] >= 0 && o->in[k] < n0 && dirty[o->in[k]]) fed = 1;
        if (!fed) continue;
        int32_t id = new_node(C);
        if (id < 0) { err(C, at, "the program has more than %d operations", MAX_NODES); break; }
        kd_node *c = &g->nodes[id];
        *c = g->nodes[i];             /* new_node may have moved the array */
        c->name = NULL;
        c->clone_of = i + 1;
        for (int k = 0; k < c->ndata; k++) c->in[k] = map[c->in[k]];
        map[i] = id;
        dirty[i] = 1;
    }
    free(dirty);
    if (STOP(C)) return NULL;
    struct kd_with *W = &g->with[g->nwith++];
    W->model = m;
    W->n = n;
    for (int i = 0; i < n; i++) W->pt[i] = pt[i], W->sub[i] = sub[i];
    W->nmap = n0;
    W->map = map;
    return W;
}

/* does node t of instance W use substitute k? (t: the instance's node) */
static int with_uses(const kd_graph *g, const struct kd_with *W, int32_t t, int k, uint8_t *seen)
{
    /* the recomputed nodes are above W->nmap; walk back through them */
    if (t == W->sub[k] && W->map[W->pt[k]] == t) return 1;
    if (t < W->nmap || seen[t - W->nmap]) return 0;
    seen[t - W->nmap] = 1;
    const kd_node *c = &g->nodes[t];
    int32_t o = c->clone_of - 1;
    for (int d = 0; d < c->ndata; d++) {
        if (g->nodes[o].in[d] == W->pt[k]) return 1;
        if (with_uses(g, W, c->in[d], k, seen)) return 1;
    }
    return 0;
}

/* `m.with(p = t, ...).key`: call is the .with(...) call, key the tensor
 * asked for ("logits", "block[2,1]"); at locates it */
static kv with_tensor(cc *C, frame *F, const kdr_node *call, const char *key, const kdr_node *at)
{
    kd_graph *g = C->g;
    const kdr_node *mexpr = call->a->a;
    if (mexpr->kind != KDR_IDENT) {
        err(C, mexpr, "'.with(...)' needs a model name");
        return kv_none();
    }
    const char *mname = mexpr->name;
    int m = -1;
    for (int i = 0; i < g->nmodels; i++)
        if (strcmp(g->model_names[i], mname) == 0) m = i;
    int32_t min = -1;
    for (int32_t i = 0; m >= 0 && i < g->nnodes && min < 0; i++)
        if (g->nodes[i].kind == KD_NODE_INPUT && g->nodes[i].model == m) min = i;
    if (m < 0 || min < 0) {
        err(C, mexpr, "with: model '%s' is not built on the data in this phase%s", mname,
            m >= 0 ? " (it is applied to a tensor in a loss)" : "");
        return kv_none();
    }
    if (m < 64 && (C->detach & ((uint64_t)1 << m))) {
        unsupported(C, "'%s.with(...)' in a loss that treats '%s' as a constant is not in this build yet",
                    mname, mname);
        return kv_none();
    }
    int64_t batch = g->nodes[min].shape.ndim > 0 ? g->nodes[min].shape.dims[0] : -1;
    int n = 0;
    int32_t pt[MAX_WITH_POINTS], sub[MAX_WITH_POINTS];
    const char *pname[MAX_WITH_POINTS];
    const kdr_node *pat[MAX_WITH_POINTS];
    if (!call->kids) { err(C, call, "'.with(...)' needs a substitution: point = tensor"); return kv_none(); }
    for (const kdr_node *a = call->kids; a; a = a->next) {
        if (!a->b) { err(C, a, "'.with(...)' takes substitutions: point = tensor"); return kv_none(); }
        if (n == MAX_WITH_POINTS) { err(C, a, "'.with(...)' takes at most %d substitutions", MAX_WITH_POINTS); return kv_none(); }
        const kdr_node *p = a->b;
        const char *pk;
        if (p->kind == KDR_IDENT) pk = p->name;
        else if (p->kind == KDR_INDEX && p->a->kind == KDR_IDENT) {
            for (const kdr_node *k = p->kids; k; k = k->next)
                if (k->kind == KDR_STAR) { err(C, k, "with: a point is one tensor; '*' selects several"); return kv_none(); }
            pk = index_key(C, F, p, p->a->name);
            if (!pk) return kv_none();
        } else {
            err(C, p, "the point of a substitution must be a tensor name of the model");
            return kv_none();
        }
        const char *full = str(C, "%s.%s", mname, pk);
        int32_t t = kd_graph_find(g, full);
        if (t < 0 || g->nodes[t].model != m || g->nodes[t].clone_of) {
            const char *near = kd_graph_closest(g, full);
            if (near && strncmp(near, mname, strlen(mname)) == 0 && near[strlen(mname)] == '.')
                err(C, p, "with: model '%s' has no tensor named '%s'; did you mean '%s'?", mname, pk,
                    near + strlen(mname) + 1);
            else err(C, p, "with: model '%s' has no tensor named '%s'", mname, pk);
            return kv_none();
        }
        for (int i = 0; i < n; i++)
            if (pt[i] == t) {
                err(C, p, "with: %s is substituted twice%s", pk,
                    strcmp(pname[i], pk) ? " (under another name)" : "");
                return kv_none();
            }
        kv v = eval(C, F, a->a, NULL);
        if (STOP(C)) return kv_none();
        if (v.k != KV_TENSOR) {
            err(C, a->a, "with: %s must be replaced by a tensor, got %s", pk, kind_name(v.k));
            return kv_none();
        }
        if (!kd_shape_eq(&g->nodes[t].shape, &g->nodes[v.t].shape)) {
            char b1[128], b2[128];
            err(C, a->a, "with: %s of %s is %s, got %s", pk, mname,
                shape_n(&g->nodes[t].shape, batch, b1, sizeof b1),
                shape_n(&g->nodes[v.t].shape, batch, b2, sizeof b2));
            return kv_none();
        }
        pt[n] = t;
        sub[n] = v.t;
        pname[n] = pk;
        pat[n] = a;
        n++;
    }
    /* the tensor asked for, of the model itself */
    const char *full = str(C, "%s.%s", mname, key);
    int32_t t = kd_graph_find(g, full);
    if (t < 0 || g->nodes[t].model != m) {
        const char *near = kd_graph_closest(g, full);
        if (near && strncmp(near, mname, strlen(mname)) == 0 && near[strlen(mname)] == '.')
            err(C, at, "with: model '%s' has no tensor named '%s'; did you mean '%s'?", mname, key,
                near + strlen(mname) + 1);
        else err(C, at, "with: model '%s' has no tensor named '%s'", mname, key);
        return kv_none();
    }
    const struct kd_with *W = with_instance(C, call, m, n, pt, sub);
    if (!W) return kv_none();
    int32_t r = t < W->nmap ? W->map[t] : t;
    /* a substitution the asked tensor does not depend on is an error: it
     * would silently change nothing */
    uint8_t *seen = calloc((size_t)(g->nnodes - W->nmap) + 1, 1);
    if (!seen) { err(C, at, "out of memory"); return kv_none(); }
    for (int k = 0; k < n && !STOP(C); k++) {
        memset(seen, 0, (size_t)(g->nnodes - W->nmap) + 1);
        if (!with_uses(g, W, r, k, seen))
            err(C, pat[k], "with: %s of %s does not depend on %s%s; the substitution changes nothing",
                key, mname, pname[k], n > 1 ? " (or only through another substituted point)" : "");
    }
    free(seen);
    if (STOP(C)) return kv_none();
    return kv_tensor(r);
}

static int is_with_call(const kdr_node *e)
{
    return e && e->kind == KDR_CALL && e->a && e->a->kind == KDR_MEMBER && e->a->name &&
           strcmp(e->a->name, "with") == 0;
}

static kv eval(cc *C, frame *F, const kdr_node *e, const char *hint)
{
    if (STOP(C) || !e) return kv_none();
    if (++C->steps > MAX_STEPS) {
        err(C, e, "the model takes more than %d evaluation steps to build (a loop too long?)",
            MAX_STEPS);
        return kv_none();
    }
    switch (e->kind) {
    case KDR_NUM: return kv_num(e->num);
    case KDR_BOOL: return (kv){ .k = KV_BOOL, .num = e->num };
    case KDR_STR: return (kv){ .k = KV_STR, .s = e->str };
    case KDR_IDENT: return lookup(C, F, e);
    case KDR_INPUT:
        if (!F->has_input) { err(C, e, "'in' is only meaningful inside a net"); return kv_none(); }
        return F->input;
    case KDR_LIST: {
        int n = 0;
        for (const kdr_node *k = e->kids; k; k = k->next) n++;
        kv *items = alloc(C, (size_t)(n ? n : 1) * sizeof *items);
        int i = 0;
        for (const kdr_node *k = e->kids; k; k = k->next) {
            items[i++] = eval(C, F, k, NULL);
            if (STOP(C)) return kv_none();
        }
        return (kv){ .k = KV_LIST, .items = items, .n = n };
    }
    case KDR_UNARY: {
        kv a = eval(C, F, e->a, NULL);
        if (STOP(C)) return kv_none();
        if (e->op == KDR_OP_NOT) return (kv){ .k = KV_BOOL, .num = !truthy(C, e->a, a) };
        if (a.k == KV_NUM) return kv_num(-a.num);
        if (a.k == KV_TENSOR) {
            int32_t t = op_simple(C, F, e, "scale", &a.t, 1, "s", -1.0);
            return t < 0 ? kv_none() : kv_tensor(t);
        }
        err(C, e, "cannot negate %s", kind_name(a.k));
        return kv_none();
    }
    case KDR_BINARY: {
        if (e->op == KDR_OP_AND || e->op == KDR_OP_OR) {   /* short-circuit */
            kv a = eval(C, F, e->a, NULL);
            if (STOP(C)) return kv_none();
            int ta = truthy(C, e->a, a);
            if (e->op == KDR_OP_AND && !ta) return (kv){ .k = KV_BOOL, .num = 0 };
            if (e->op == KDR_OP_OR && ta) return (kv){ .k = KV_BOOL, .num = 1 };
            kv b = eval(C, F, e->b, NULL);
            if (STOP(C)) return kv_none();
            return (kv){ .k = KV_BOOL, .num = truthy(C, e->b, b) };
        }
        kv a = eval(C, F, e->a, NULL);
        kv b = eval(C, F, e->b, NULL);
        if (STOP(C)) return kv_none();
        return arith(C, F, e, a, b);
    }
    case KDR_TERNARY: {
        kv c = eval(C, F, e->a, NULL);
        if (STOP(C)) return kv_none();
        return truthy(C, e->a, c) ? eval(C, F, e->b, hint) : eval(C, F, e->c, hint);
    }
    case KDR_CALL: return call(C, F, e, hint);
    case KDR_INDEX: {
        if (F->phase && e->a->kind == KDR_MEMBER && is_with_call(e->a->a)) {
            for (const kdr_node *k = e->kids; k; k = k->next)
                if (k->kind == KDR_STAR) {
                    unsupported(C, "'*' on a tensor of .with(...) is not in this build yet");
                    return kv_none();
                }
            const char *key = index_key(C, F, e, e->a->name);
            return key ? with_tensor(C, F, e->a->a, key, e) : kv_none();
        }
        if (F->phase && e->a->kind == KDR_MEMBER && e->a->a->kind == KDR_IDENT) {
            const char *base = str(C, "%s.%s", e->a->a->name, e->a->name);
            for (const kdr_node *k = e->kids; k; k = k->next)
                if (k->kind == KDR_STAR) return graph_star(C, F, e, base);
            const char *key = index_key(C, F, e, base);
            return key ? model_tensor(C, e, key) : kv_none();
        }
        if (e->a->kind != KDR_IDENT) {
            unsupported(C, "indexing a member is not in this build yet");
            return kv_none();
        }
        for (const kdr_node *k = e->kids; k; k = k->next)
            if (k->kind == KDR_STAR) return index_star(C, F, e, e->a->name);
        const char *key = index_key(C, F, e, e->a->name);
        if (!key) return kv_none();
        bind *b = get_var(F, key);
        if (b) return b->v;
        /* a list value indexed by number (1-based) */
        bind *lb = get_var(F, e->a->name);
        if (lb && lb->v.k == KV_LIST && e->kids && !e->kids->next) {
            int64_t i;
            kv iv = eval(C, F, e->kids, NULL);
            if (want_int(C, e->kids, iv, &i)) return kv_none();
            if (i < 1 || i > lb->v.n) {
                err(C, e->kids, "index %lld is outside 1..%d", (long long)i, lb->v.n);
                return kv_none();
            }
            return lb->v.items[i - 1];
        }
        err(C, e, "'%s' is not defined here", key);
        return kv_none();
    }
    case KDR_MEMBER:
        if (F->phase && is_with_call(e->a)) return with_tensor(C, F, e->a, e->name, e);
        if (F->phase && e->a->kind == KDR_IDENT) return model_tensor(C, e, str(C, "%s.%s", e->a->name, e->name));
        unsupported(C, "members (a.b) inside a net are not in this build yet");
        return kv_none();
    case KDR_REPEAT: {
        kv n = eval(C, F, e->a, NULL);
        int64_t count;
        if (STOP(C) || want_int(C, e->a, n, &count)) return kv_none();
        if (count < 0 || count > MAX_LOOP) { err(C, e->a, "repeat count %lld is out of range", (long long)count); return kv_none(); }
        kv cur = e->b ? eval(C, F, e->b, NULL) : (F->has_input ? F->input : kv_none());
        if (STOP(C)) return kv_none();
        if (cur.k != KV_TENSOR) { err(C, e->b ? e->b : e, "repeat needs a tensor to start from"); return kv_none(); }
        int saved_has = F->has_input;
        kv saved_in = F->input;
        for (int64_t i = 1; i <= count && !STOP(C); i++) {
            set_var(C, F, e->name, kv_num((double)i));
            F->has_input = 1;
            F->input = cur;
            F->last = kv_none();
            exec_stmts(C, F, e->kids);
            if (F->last.k != KV_TENSOR) {
                err(C, e, "the body of repeat must assign a tensor");
                break;
            }
            cur = F->last;
        }
        F->has_input = saved_has;
        F->input = saved_in;
        return cur;
    }
    case KDR_SUM: {
        kv r = eval(C, F, e->a, NULL);
        if (STOP(C)) return kv_none();
        if (r.k != KV_LIST) { err(C, e->a, "sum needs a list or a range"); return kv_none(); }
        kv acc = kv_none();
        for (int i = 0; i < r.n && !STOP(C); i++) {
            set_var(C, F, e->name, r.items[i]);
            kv v = eval(C, F, e->b, NULL);
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
        err(C, e, "this expression cannot be used in a net");
        return kv_none();
    }
}

/* ---- statements --------------------------------------------------------------------- */

static void exec_stmts(cc *C, frame *F, const kdr_node *s)
{
    for (; s && !STOP(C); s = s->next) {
        if (++C->steps > MAX_STEPS) {
            err(C, s, "the model takes more than %d evaluation steps to build (a loop too long?)",
                MAX_STEPS);
            return;
        }
        switch (s->kind) {
        case KDR_ASSIGN: {
            const char *key;
            if (s->a->kind == KDR_IDENT) key = s->a->name;
            else key = index_key(C, F, s->a, s->a->a->name);
            if (!key) return;
            kv v = eval(C, F, s->b, key);
            if (STOP(C)) return;
            set_var(C, F, key, v);
            F->last = v;
            if (v.k == KV_TENSOR) kd_graph_name(C->g, str(C, "%s.%s", F->path, key), v.t);
            break;
        }
        case KDR_OUT: {
            kv v = eval(C, F, s->a, "out");
            if (STOP(C)) return;
            if (v.k != KV_TENSOR) { err(C, s->a, "'out' must be a tensor, got %s", kind_name(v.k)); return; }
            F->out = v;
            F->has_out = 1;
            F->last = v;
            break;
        }
        case KDR_FOR: {
            kv r = eval(C, F, s->a, NULL);
            if (STOP(C)) return;
            if (r.k != KV_LIST) { err(C, s->a, "for needs a list or a range, got %s", kind_name(r.k)); return; }
            for (int i = 0; i < r.n && !STOP(C); i++) {
                set_var(C, F, s->name, r.items[i]);
                exec_stmts(C, F, s->kids);
            }
            break;
        }
        case KDR_IF: {
            const kdr_node *n = s;
            while (n) {
                kv c = eval(C, F, n->a, NULL);
                if (STOP(C)) return;
                if (truthy(C, n->a, c)) { exec_stmts(C, F, n->kids); break; }
                if (!n->b) break;
                if (n->b->kind == KDR_BLOCK) { exec_stmts(C, F, n->b->kids); break; }
                n = n->b;
            }
            break;
        }
        default:
            err(C, s, "this statement does not belong in a net");
            return;
        }
    }
}

/* ---- public ------------------------------------------------------------------------ */

int kd_compile_model(kd_graph *g, const kdr_program *p, const kdr_node *decl,
                     const kd_data_shape *data, int64_t batch, kdr_diag *d)
{
    cc C;
    memset(&C, 0, sizeof C);
    C.g = g;
    C.p = p;
    C.d = d;
    C.unit = kd_program_unit_of(p, decl);
    C.batch = batch;
    C.data = data;
    if (g->nmodels >= 64) { err(&C, decl, "too many models"); return -1; }
    C.model = g->nmodels;
    g->model_names[g->nmodels++] = decl->name;

    int32_t in = new_node(&C);
    if (in < 0) { err(&C, decl, "the program has more than %d operations", MAX_NODES); return -1; }
    kd_node *n = &g->nodes[in];
    n->kind = KD_NODE_INPUT;
    n->shape.ndim = data->x.ndim + 1;
    n->shape.dims[0] = batch;
    for (int i = 0; i < data->x.ndim; i++) n->shape.dims[i + 1] = data->x.dims[i];
    n->label = "input";
    n->name = str(&C, "%s.in", decl->name);
    n->beg = decl->beg;
    n->end = decl->end;
    C.input_node = in;

    frame F;
    memset(&F, 0, sizeof F);
    F.path = decl->name;
    F.has_input = 1;
    F.input = kv_tensor(in);
    const kdr_node *e = decl->a;
    if (!e || e->kind != KDR_CALL || e->a->kind != KDR_IDENT) {
        err(&C, e ? e : decl, "a model is a call of a net template: model m = resnet(depth: 20)");
        return -1;
    }
    const kdr_unit *nu = NULL;
    const kdr_node *net = kd_program_decl(p, KDR_NET, e->a->name, &nu);
    if (!net) {
        err(&C, e->a, "no net template named '%s'", e->a->name);
        return -1;
    }
    kv out = call_net(&C, &F, e, net, nu, NULL, 1);
    if (C.unsupported) {
        kdr_diag_push(d, KDR_NOTE, C.unit, decl->beg, decl->end,
                      "shapes of model '%s' not inferred: %s", decl->name, C.why);
        return -2;
    }
    if (C.failed || out.k != KV_TENSOR) return -1;
    kd_graph_name(g, str(&C, "%s.out", decl->name), out.t);
    return C.model;
}

int32_t kd_compile_expr(kd_graph *g, const kdr_program *p, const kdr_unit *unit,
                        const kdr_node *expr, const char *path, int32_t label,
                        uint64_t detach, kdr_diag *d)
{
    cc C;
    memset(&C, 0, sizeof C);
    C.detach = detach;
    C.g = g;
    C.p = p;
    C.d = d;
    C.unit = unit;
    C.model = -1;
    frame F;
    memset(&F, 0, sizeof F);
    F.path = path;
    F.phase = 1;
    F.label = label;
    kv v = eval(&C, &F, expr, NULL);
    if (C.unsupported) {
        kdr_diag_push(d, KDR_NOTE, unit, expr->beg, expr->end, "not compiled: %s", C.why);
        return -2;
    }
    if (C.failed) return -1;
    if (v.k != KV_TENSOR) {
        err(&C, expr, "a loss must be a tensor expression, got %s", kind_name(v.k));
        return -1;
    }
    return v.t;
}

/* ---- ops2 block: cost(model, target: params|macs) ------------------------------
 *
 * The expected size of a searched model under its architecture weights.
 * Mixtures are the model's aggregate and choice nodes; every other op node
 * is charged to the innermost mixture candidate that all of its paths to
 * the model output go through (its "owner"), or to the fixed part when
 * there is none (shared, or not on the way to the output).  Owners are
 * found in one pass in reverse creation order (consumers come after their
 * inputs): a node's owner is the lowest common ancestor, in the tree of
 * candidates, of the owners of its uses.  One `cost` op per mixture shares
 * the mixture's alpha; the first also carries the fixed part; they are
 * summed.  Nested mixtures: an inner candidate is weighted by its own
 * mixture's weights only (the outer weight is not multiplied in). */

static int is_mixture(const kd_node *n) { return n->kind == KD_NODE_OP && n->op->mixture; }

/* the first data input that is a candidate (choice: after its temperature) */
static int mix_first(const kd_node *n) { return n->op->first_candidate; }

/* owner labels: -2 unset, -1 the fixed part, else a candidate index
 * (cand_mix[l] = its mixture's node, whose own owner is its parent) */
static int32_t owner_lca(const int32_t *owner, const int32_t *cand_mix, int32_t a, int32_t b)
{
    if (a == -2) return b;
    if (b == -2 || a == b) return a;
    for (int32_t x = a; x >= 0; x = owner[cand_mix[x]])
        for (int32_t y = b; y >= 0; y = owner[cand_mix[y]])
            if (x == y) return x;
    return -1;
}

static kv call_cost(cc *C, frame *F, const kdr_node *e, const kdr_builtin *b)
{
    kv vals[32];
    const kdr_node *where[32];
    if (bind_builtin_args(C, F, e, b, vals, where, 0)) return kv_none();
    kd_graph *g = C->g;
    if (vals[0].k != KV_SYM && vals[0].k != KV_STR) {
        err(C, where[0], "cost needs a model, got %s", kind_name(vals[0].k));
        return kv_none();
    }
    const char *mname = vals[0].s, *target = vals[1].k == KV_SYM ? vals[1].s : "params";
    int macs = strcmp(target, "macs") == 0;
    int m = -1;
    for (int i = 0; i < g->nmodels; i++)
        if (strcmp(g->model_names[i], mname) == 0) m = i;
    int32_t out = kd_graph_find(g, str(C, "%s.out", mname));
    if (m < 0 || out < 0) {
        err(C, where[0], "cost: no model named '%s' in this phase", mname);
        return kv_none();
    }
    int32_t nn = g->nnodes, *owner = malloc(sizeof(int32_t) * (size_t)nn * 2);
    int32_t *first = owner ? owner + nn : NULL;   /* a mixture node's first candidate */
    int32_t ncand = 0, nmix = 0, *cand_mix = NULL;
    for (int32_t i = 0; owner && i < nn; i++) {
        owner[i] = -2;
        first[i] = -1;
        if (g->nodes[i].model == m && is_mixture(&g->nodes[i])) {
            first[i] = ncand;
            ncand += g->nodes[i].ndata - mix_first(&g->nodes[i]);
            nmix++;
        }
    }
    if (owner) cand_mix = malloc(sizeof(int32_t) * (size_t)(ncand ? ncand : 1));
    double *tab = cand_mix ? calloc((size_t)ncand + 1, sizeof(double)) : NULL;
    if (!tab) {
        free(owner);
        free(cand_mix);
        err(C, e, "out of memory");
        return kv_none();
    }
    for (int32_t i = 0; i < nn; i++)
        for (int k = 0; first[i] >= 0 && k < g->nodes[i].ndata - mix_first(&g->nodes[i]); k++)
            cand_mix[first[i] + k] = i;
    owner[out] = -1;
    int64_t batch = g->nodes[out].shape.ndim > 0 && g->nodes[out].shape.dims[0] > 0
                    ? g->nodes[out].shape.dims[0] : 1;
    double fixed = 0;
    for (int32_t i = nn - 1; i >= 0; i--) {
        const kd_node *n = &g->nodes[i];
        if (n->model != m) continue;
        if (owner[i] == -2) owner[i] = -1;      /* not on the way to the output */
        if (n->kind != KD_NODE_OP) continue;
        for (int d = 0; d < n->ndata; d++) {
            int32_t src = n->in[d];
            if (src < 0 || src >= nn || g->nodes[src].model != m) continue;
            int32_t use = first[i] >= 0 && d >= mix_first(n) ? first[i] + d - mix_first(n) : owner[i];
            owner[src] = owner_lca(owner, cand_mix, owner[src], use);
        }
        double cost = 0;
        if (macs) cost = (double)n->macs / (double)batch;
        else
            for (int s = n->ndata; s < n->ndata + n->op->nparams; s++)
                if (n->in[s] >= 0 && !g->params[n->in[s]].arch)
                    cost += (double)kd_shape_numel(&g->params[n->in[s]].shape);
        if (owner[i] >= 0) tab[1 + owner[i]] += cost;
        else fixed += cost;
    }
    kv result = kv_none();
    if (nmix == 0) {
        err(C, where[0], "cost: model '%s' has no architecture weights (choice or aggregate)", mname);
        goto done;
    }
    const kd_op_def *op = kd_op_find("cost");
    int32_t acc = -1;
    int done_fixed = 0;
    for (int32_t i = 0; i < nn && !STOP(C); i++) {
        if (first[i] < 0) continue;
        const kd_node *mix = &g->nodes[i];
        int K = mix->ndata - mix_first(mix);
        float row[KD_MAXIN + 1];
        row[0] = done_fixed ? 0.0f : (float)fixed;
        done_fixed = 1;
        for (int k = 0; k < K; k++) row[1 + k] = (float)tab[1 + first[i] + k];
        int32_t t = kd_graph_add_const(g, str(C, "%s.cost%d", F->path, g->nconsts), row, K + 1, 0);
        if (t < 0) { err(C, e, "cost: too many constants in one graph"); goto done; }
        kd_attr_val av[KD_MAXATTR];
        memset(av, 0, sizeof av);
        kd_attrs_default(op, av);
        char msg[256] = "";
        if (kd_attr_set_num(op, av, kd_attr_index(op, "k"), K, msg, sizeof msg)) {
            err(C, e, "%s", msg);
            goto done;
        }
        /* a cost node whose parameter is the mixture's alpha (shared, not new) */
        int32_t alpha = g->nodes[i].in[g->nodes[i].ndata];
        kd_op_site site = { .model = C->model, .unit = C->unit, .beg = e->beg, .end = e->end,
                            .label = "cost", .params = &alpha, .max_nodes = MAX_NODES };
        int32_t id = kd_graph_add_op_at(g, op, &t, 1, av, &site, msg, sizeof msg);
        if (id < 0) { err(C, e, "%s", msg); goto done; }
        if (acc < 0) acc = id;
        else {
            int32_t two[2] = { acc, id };
            acc = op_simple(C, F, e, "add", two, 2, NULL, 0);
            if (acc < 0) goto done;
        }
    }
    if (!STOP(C) && acc >= 0) result = kv_tensor(acc);
done:
    free(owner);
    free(cand_mix);
    free(tab);
    return result;
}

/* ---- ops2 block: choice(candidates..., tau: t) ------------------------------------
 *
 * Candidates are op calls written without their input (`conv1d(c, k: 3)`,
 * `maxpool(3, stride: 1, pad: 1)`), applied to the input of the enclosing
 * template, or `skip` (the input) and `zero`.  tau is a number (a constant
 * input) or a weight schedule such as decay(...) (an input the trainer
 * sets each epoch).  The node: choice(tau, x1..xK) with its alpha. */
static kv call_choice(cc *C, frame *F, const kdr_node *e)
{
    const kd_op_def *op = kd_op_find("choice");
    if (!F->has_input || F->input.k != KV_TENSOR) {
        err(C, e, "choice needs the input of a net template");
        return kv_none();
    }
    int32_t ins[KD_MAXIN];
    int K = 0;
    const kdr_node *tau_e = NULL;
    for (const kdr_node *a = e->kids; a; a = a->next) {
        if (a->name) {
            if (strcmp(a->name, "tau") == 0) { tau_e = a->a; continue; }
            if (strcmp(a->name, "cost") == 0) {
                unsupported(C, "choice(cost: ...) is not in this build yet");
                return kv_none();
            }
            err(C, a, "choice has no argument '%s'", a->name);
            return kv_none();
        }
        if (K == op->max_inputs - 1) {
            err(C, a, "choice takes at most %d candidates", op->max_inputs - 1);
            return kv_none();
        }
        const kdr_node *x = a->a;
        kv v = kv_none();
        const kdr_builtin *cb = x->kind == KDR_CALL && x->a->kind == KDR_IDENT
                                ? kdr_builtin_find(x->a->name, KDR_CTX_NET) : NULL;
        if (cb && (cb->flags & KDR_B_TENSOR_IN)) v = call_op(C, F, x, cb, 1);
        else if (x->kind == KDR_CALL && x->a->kind == KDR_IDENT &&
                 kd_program_decl(C->p, KDR_NET, x->a->name, NULL)) {
            unsupported(C, "a net template as a candidate of choice is not in this build yet");
            return kv_none();
        } else v = eval(C, F, x, NULL);
        if (STOP(C)) return kv_none();
        if (v.k != KV_TENSOR) {
            err(C, x, "a candidate of choice must be an op or a tensor, got %s", kind_name(v.k));
            return kv_none();
        }
        ins[1 + K++] = v.t;
    }
    if (K == 0) { err(C, e, "choice needs at least one candidate"); return kv_none(); }
    /* the temperature: a weight schedule is evaluated as in a loss */
    kv tau = kv_num(1);
    if (tau_e) {
        frame T = *F;
        T.phase = 1;
        tau = eval(C, &T, tau_e, NULL);
        if (STOP(C)) return kv_none();
    }
    if (tau.k == KV_NUM) {
        if (!(tau.num > 0)) { err(C, tau_e, "choice: tau must be > 0, got %g", tau.num); return kv_none(); }
        float v = (float)tau.num;
        ins[0] = kd_graph_add_const(C->g, str(C, "%s.tau%d", F->path, C->g->nconsts), &v, 1, 1);
        if (ins[0] < 0) { err(C, e, "choice: too many constants in one graph"); return kv_none(); }
    } else if (tau.k == KV_TENSOR && C->g->nodes[tau.t].shape.ndim == 0) {
        ins[0] = tau.t;
    } else {
        err(C, tau_e, "choice: tau must be a number or a schedule, got %s", kind_name(tau.k));
        return kv_none();
    }
    kd_attr_val av[KD_MAXATTR];
    memset(av, 0, sizeof av);
    kd_attrs_default(op, av);
    int32_t t = add_op(C, F, e, op, ins, K + 1, av, "choice");
    return t < 0 ? kv_none() : kv_tensor(t);
}
