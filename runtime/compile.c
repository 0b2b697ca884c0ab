/* compile.c — expanding `net` templates into an op graph: the entry points,
 * errors, scopes and the graph-building wrappers the other rooms share.
 *
 * A model declaration `model m = resnet(depth: 20, classes: 10)` is
 * evaluated like a small program: template parameters, `let` constants and
 * loop variables are numbers (or lists, strings, symbols); a tensor is a
 * graph node.  Calling a template runs its body in a new frame whose named
 * tensors are registered under a path ("m.block[2,1].h"); calling an op
 * binds the recipe's arguments to its spelling in the op registry (the
 * same entry --check used: runtime/op_builtins.h), sets the op's
 * attributes from them, creates the node (graph_ops.h) and infers its
 * shape.  Every error is located at the recipe text
 * that caused it, with notes for the template calls it happened inside.
 *
 * At phase level (losses) it also compiles `model.tensor`, models applied
 * to tensors (adapters) and `m.with(point = t).tensor` substitutions
 * (recomputing m's ops that the point feeds, with m's parameters).
 *
 * Not yet compiled (reported as "not in this build yet", never as a recipe
 * error): ops that ops/ does not provide yet, net templates as choice
 * candidates.
 *
 * The rooms (shared types and helpers: compile_int.h):
 *   compile.c         entry points (kd_compile_model, kd_compile_expr),
 *                     errors, scopes, numbers, adding op nodes
 *   compile_expr.c    values and expressions, statements of a net body,
 *                     indexed names, model tensors at phase level
 *   compile_call.c    calls: op calls and argument binding, templates,
 *                     models applied to tensors
 *   compile_search.c  searched constructs: choice(...), cost(model)
 *   compile_with.c    m.with(point = t) substitutions
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile_int.h"

const char *cc_str(cc *C, const char *fmt, ...)
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

const char *cc_kind_name(kv_kind k)
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

void cc_err(cc *C, const kdr_node *at, const char *fmt, ...)
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

void cc_unsupported(cc *C, const char *fmt, ...)
{
    if (C->failed || C->unsupported) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(C->why, sizeof C->why, fmt, ap);
    va_end(ap);
    C->unsupported = 1;
}

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

int32_t cc_new_node(cc *C)
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
    opcount *c = cc_alloc(C, sizeof *c);
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
int32_t cc_add_op(cc *C, frame *F, const kdr_node *at, const kd_op_def *op,
                      const int32_t *ins, int ndata, const kd_attr_val *attr, const char *label)
{
    kd_op_site site = {
        .model = C->model, .unit = C->unit, .beg = at->beg, .end = at->end, .label = label,
        .max_nodes = MAX_NODES, .max_numel = MAX_NUMEL,
    };
    if (op->nparams > 0)   /* "m.block[2,1].conv1": the op's spelling, counted per frame */
        site.param_base = cc_str(C, "%s.%s%d", F->path, op->alias ? op->alias : op->name,
                              next_count(C, F, op->name));
    char msg[512];
    int32_t id = kd_graph_add_op_at(C->g, op, ins, ndata, attr, &site, msg, sizeof msg);
    if (id < 0) cc_err(C, at, "%s", msg);
    return id;
}

/* ---- scopes ----------------------------------------------------------------- */

void cc_set_var(cc *C, frame *F, const char *name, kv v)
{
    for (bind *b = F->vars; b; b = b->next)
        if (b->name == name || strcmp(b->name, name) == 0) { b->v = v; return; }
    bind *b = cc_alloc(C, sizeof *b);
    b->name = name;
    b->v = v;
    b->next = F->vars;
    F->vars = b;
}

bind *cc_get_var(frame *F, const char *name)
{
    for (bind *b = F->vars; b; b = b->next)
        if (strcmp(b->name, name) == 0) return b;
    return NULL;
}

/* ---- numbers ------------------------------------------------------------------ */

int cc_truthy(cc *C, const kdr_node *at, kv v)
{
    if (v.k == KV_BOOL || v.k == KV_NUM) return v.num != 0;
    cc_err(C, at, "a condition must be a number or a boolean, not %s", cc_kind_name(v.k));
    return 0;
}

int cc_want_num(cc *C, const kdr_node *at, kv v, double *out)
{
    if (v.k == KV_NUM || v.k == KV_BOOL) { *out = v.num; return 0; }
    if (v.k == KV_SYM)
        cc_err(C, at, "unknown name '%s'", v.s);
    else
        cc_err(C, at, "expected a number, got %s", cc_kind_name(v.k));
    return -1;
}

int cc_want_int(cc *C, const kdr_node *at, kv v, int64_t *out)
{
    double x;
    if (cc_want_num(C, at, v, &x)) return -1;
    if (x != floor(x) || fabs(x) > 1e15) {
        cc_err(C, at, "expected an integer, got %g", x);
        return -1;
    }
    *out = (int64_t)x;
    return 0;
}

/* ---- building names ------------------------------------------------------------ */

/* snprintf at *o into buf[cap], never past the end (*o stays < cap). */
void cc_append(char *buf, size_t cap, size_t *o, const char *fmt, ...)
{
    if (*o >= cap - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *o, cap - *o, fmt, ap);
    va_end(ap);
    if (n > 0) *o += (size_t)n;
    if (*o >= cap) *o = cap - 1;
}

/* ---- tensor arithmetic ------------------------------------------------------ */

/* An op kdrun inserts (add, sub, mul, scale, zero) with its defaults and
 * at most one attribute set as is (attr NULL: none). */
int32_t cc_op_simple(cc *C, frame *F, const kdr_node *at, const char *opname,
                         const int32_t *ins, int n, const char *attr, double x)
{
    const kd_op_def *op = kd_op_find(opname);
    if (!op) { cc_unsupported(C, "op '%s' is not in this build yet", opname); return -1; }
    kd_attr_val av[KD_MAXATTR];
    memset(av, 0, sizeof av);
    kd_attrs_default(op, av);
    int ai = attr ? kd_attr_index(op, attr) : -1;
    if (ai >= 0) av[ai].num = x;
    return cc_add_op(C, F, at, op, ins, n, av, opname);
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
    if (g->nmodels >= 64) { cc_err(&C, decl, "too many models"); return -1; }
    C.model = g->nmodels;
    g->model_names[g->nmodels++] = decl->name;

    int32_t in = cc_new_node(&C);
    if (in < 0) { cc_err(&C, decl, "the program has more than %d operations", MAX_NODES); return -1; }
    kd_node *n = &g->nodes[in];
    n->kind = KD_NODE_INPUT;
    n->shape.ndim = data->x.ndim + 1;
    n->shape.dims[0] = batch;
    for (int i = 0; i < data->x.ndim; i++) n->shape.dims[i + 1] = data->x.dims[i];
    n->label = "input";
    n->name = cc_str(&C, "%s.in", decl->name);
    n->beg = decl->beg;
    n->end = decl->end;
    C.input_node = in;

    frame F;
    memset(&F, 0, sizeof F);
    F.path = decl->name;
    F.has_input = 1;
    F.input = kv_tensor(in);
    if (decl->extra) cc_set_var(&C, &F, decl->extra, kv_num(decl->num));   /* model ts[s]: s */
    const kdr_node *e = decl->a;
    if (!e || e->kind != KDR_CALL || e->a->kind != KDR_IDENT) {
        cc_err(&C, e ? e : decl, "a model is a call of a net template: model m = resnet(depth: 20)");
        return -1;
    }
    const kdr_unit *nu = NULL;
    const kdr_node *net = kd_program_decl(p, KDR_NET, e->a->name, &nu);
    if (!net) {
        cc_err(&C, e->a, "no net template named '%s'", e->a->name);
        return -1;
    }
    kv out = cc_call_net(&C, &F, e, net, nu, NULL, 1);
    if (C.unsupported) {
        kdr_diag_push(d, KDR_NOTE, C.unit, decl->beg, decl->end,
                      "shapes of model '%s' not inferred: %s", decl->name, C.why);
        return -2;
    }
    if (C.failed || out.k != KV_TENSOR) return -1;
    kd_graph_name(g, cc_str(&C, "%s.out", decl->name), out.t);
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
    kv v = cc_eval(&C, &F, expr, NULL);
    if (C.unsupported) {
        kdr_diag_push(d, KDR_NOTE, unit, expr->beg, expr->end, "not compiled: %s", C.why);
        return -2;
    }
    if (C.failed) return -1;
    if (v.k != KV_TENSOR) {
        cc_err(&C, expr, "a loss must be a tensor expression, got %s", cc_kind_name(v.k));
        return -1;
    }
    return v.t;
}

