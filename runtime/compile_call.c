/* compile_call.c — calls in the graph compiler: binding a builtin's
 * arguments, op calls (the registry spelling says which argument is a data
 * input and which attribute each other one sets: runtime/op_builtins.h),
 * net template calls (a new frame), models applied to tensors in losses,
 * and the dispatch of a call by name (shape queries, number functions,
 * weight schedules, searched constructs: compile_search.c).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile_int.h"

/* ---- op calls -------------------------------------------------------------------- */

/* Bind call arguments to a builtin's parameters (positional then named).
 * An argument not given stays KV_NONE: the op's attribute keeps its
 * default, which is the one the builtin documents (both come from the
 * registry). */
int cc_bind_builtin_args(cc *C, frame *F, const kdr_node *call, const kdr_builtin *b,
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
        if (a->b) { cc_err(C, a, "'=' substitution is only for .with(...)"); return -1; }
        size_t i;
        if (a->name) {
            for (i = 0; i < na; i++)
                if (strcmp(b->args[i].name, a->name) == 0) break;
            if (i == na) { cc_err(C, a, "%s has no argument '%s'", b->name, a->name); return -1; }
        } else {
            i = pos;
            if (i >= na) { cc_err(C, a, "too many arguments for %s", b->name); return -1; }
            if (b->args[i].rest) {
                /* the rest: collect all remaining positionals into a list */
                int n = 0;
                for (const kdr_node *r = a; r && !r->name; r = r->next) n++;
                kv *items = cc_alloc(C, (size_t)n * sizeof *items);
                int k = 0;
                for (; a && !a->name; a = a->next) {
                    items[k++] = cc_eval(C, F, a->a, NULL);
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
        if (given[i]) { cc_err(C, a, "argument '%s' given twice", b->args[i].name); return -1; }
        vals[i] = cc_eval(C, F, a->a, NULL);
        if (STOP(C)) return -1;
        where[i] = a->a;
        given[i] = 1;
    }
    for (size_t i = 0; i < na; i++) {
        if (given[i]) continue;
        if (b->args[i].req) {
            cc_err(C, call, "%s needs argument '%s'", b->name, b->args[i].name);
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
            if (cc_want_int(C, at, v.items[k], &xs[k])) return -1;
        rc = kd_attr_set_ints(op, av, ai, xs, v.n, e2, sizeof e2);
    } else {
        cc_err(C, at, "%s: argument '%s' cannot be %s", bname, argname, cc_kind_name(v.k));
        return -1;
    }
    if (rc) { cc_err(C, at, "%s", e2); return -1; }   /* e2 names the op already */
    return 0;
}

/* An op call: the builtin's spelling in the registry says which argument
 * is a data input and which attribute each other argument sets. */
kv cc_call_op(cc *C, frame *F, const kdr_node *call, const kdr_builtin *b, int implicit_input)
{
    const kd_recipe_op *ro = kd_recipe_op_find(b->name, b->ctx);
    if (!ro) {
        cc_unsupported(C, "op '%s' is not in this build yet", b->name);
        return kv_none();
    }
    const kd_op_def *op = ro->op;
    kv vals[KD_RECIPE_MAXARGS];
    const kdr_node *where[KD_RECIPE_MAXARGS];
    if (cc_bind_builtin_args(C, F, call, b, vals, where, implicit_input)) return kv_none();
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
                    if (t.k == KV_SYM) cc_err(C, where[i], "unknown name '%s'", t.s);
                    else cc_err(C, where[i], "%s: argument '%s' must be a tensor, got %s", b->name,
                             s->name, cc_kind_name(t.k));
                    return kv_none();
                }
                if (ndata >= KD_MAXIN) { cc_err(C, where[i], "too many tensors"); return kv_none(); }
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
    int32_t t = cc_add_op(C, F, call, op, ins, ndata, av, b->name);
    return t < 0 ? kv_none() : kv_tensor(t);
}

/* ---- template calls ---------------------------------------------------------------- */

kv cc_call_net(cc *C, frame *F, const kdr_node *call, const kdr_node *net,
                   const kdr_unit *net_unit, const char *hint, int top)
{
    if (C->depth >= MAX_CALL_DEPTH) {
        cc_err(C, call, "templates call each other more than %d deep (recursion?)", MAX_CALL_DEPTH);
        return kv_none();
    }
    frame G;
    memset(&G, 0, sizeof G);
    if (top) G.path = F->path;
    else if (hint) G.path = cc_str(C, "%s.%s", F->path, hint);
    else G.path = cc_str(C, "%s.%s%d", F->path, net->name, F->anon++);
    /* arguments are evaluated in the caller's frame */
    const kdr_node *a = call->kids;
    if (!top) {
        if (!a || a->name) {
            cc_err(C, call, "'%s' needs its input tensor as the first argument", net->name);
            return kv_none();
        }
        kv in = cc_eval(C, F, a->a, NULL);
        if (STOP(C)) return kv_none();
        if (in.k != KV_TENSOR) {
            cc_err(C, a, "the first argument of '%s' must be its input tensor, got %s", net->name,
                cc_kind_name(in.k));
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
            if (i == np) { cc_err(C, a, "'%s' has no parameter '%s'", net->name, a->name); return kv_none(); }
        } else {
            i = pos++;
            if (i >= np) { cc_err(C, a, "too many arguments for '%s'", net->name); return kv_none(); }
        }
        kv v = cc_eval(C, F, a->a, NULL);
        if (STOP(C)) return kv_none();
        cc_set_var(C, &G, params[i]->name, v);
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
            cc_err(C, call, "'%s' needs parameter '%s'", net->name, params[i]->name);
            return kv_none();
        }
        cc_set_var(C, &G, params[i]->name, cc_eval(C, &G, params[i]->a, NULL));
    }
    if (!STOP(C)) cc_exec_stmts(C, &G, net->kids);
    C->unit = saved;
    C->depth--;
    if (STOP(C)) return kv_none();
    if (!G.has_out) {
        cc_err(C, call, "'%s' has no 'out' statement", net->name);
        return kv_none();
    }
    return G.out;
}

/* `m(x)` in a loss: model m (an adapter, a connector, a discriminator)
 * built on tensor x.  Its parameters are named "m.*" as if m were compiled
 * on data.  Applied again on the same tensor: the same output; on another
 * tensor of the same shape: m's ops recomputed on it with m's parameters
 * (compile_with.c), so one discriminator can read two nets' features and
 * its gradient is the sum over its applications. */
static kv apply_model(cc *C, frame *F, const kdr_node *e, const kdr_node *decl, const kdr_unit *mu)
{
    if (!e->kids || e->kids->next || e->kids->name) {
        cc_err(C, e, "a model applied in a loss takes one tensor: %s(x)", decl->name);
        return kv_none();
    }
    kv in = cc_eval(C, F, e->kids->a, NULL);
    if (STOP(C)) return kv_none();
    if (in.k != KV_TENSOR) {
        cc_err(C, e->kids, "model '%s' must be applied to a tensor, got %s", decl->name, cc_kind_name(in.k));
        return kv_none();
    }
    const char *outname = cc_str(C, "%s.out", decl->name), *inname = cc_str(C, "%s.in", decl->name);
    int32_t have = kd_graph_find(C->g, outname);
    if (have >= 0) {
        int32_t first = kd_graph_find(C->g, inname);
        if (first == in.t) return kv_tensor(have);
        /* applied again, to another tensor: the same parameters (shared
         * weights, gradients of both applications add up) */
        int m = -1;
        for (int i = 0; i < C->g->nmodels; i++)
            if (strcmp(C->g->model_names[i], decl->name) == 0) m = i;
        if (m < 0 || first < 0) {
            cc_unsupported(C, "applying model '%s', which is also built on the data, is not in "
                           "this build yet", decl->name);
            return kv_none();
        }
        if (!kd_shape_eq(&C->g->nodes[first].shape, &C->g->nodes[in.t].shape)) {
            char b1[96], b2[96];
            cc_err(C, e->kids, "model '%s' is applied first to a tensor of shape %s; applied again "
                   "(the same weights), it needs that shape, got %s", decl->name,
                   kd_shape_str(&C->g->nodes[first].shape, b1, sizeof b1),
                   kd_shape_str(&C->g->nodes[in.t].shape, b2, sizeof b2));
            return kv_none();
        }
        int32_t r = cc_reapply(C, e, m, first, in.t, have);
        return r < 0 ? kv_none() : kv_tensor(r);
    }
    const kdr_node *mc = decl->a;
    const kdr_unit *nu = NULL;
    const kdr_node *net = mc && mc->kind == KDR_CALL && mc->a->kind == KDR_IDENT
                          ? kd_program_decl(C->p, KDR_NET, mc->a->name, &nu) : NULL;
    if (!net) {
        cc_err(C, e, "model '%s' is not a call of a net template", decl->name);
        return kv_none();
    }
    if (C->g->nmodels >= 64) { cc_err(C, e, "too many models"); return kv_none(); }
    int saved_model = C->model;
    const kdr_unit *saved_unit = C->unit;
    C->model = C->g->nmodels;
    C->g->model_names[C->g->nmodels++] = decl->name;
    frame M;
    memset(&M, 0, sizeof M);
    M.path = decl->name;
    M.has_input = 1;
    M.input = in;
    if (decl->extra) cc_set_var(C, &M, decl->extra, kv_num(decl->num));   /* model ts[s]: s */
    C->unit = mu;
    kv out = cc_call_net(C, &M, mc, net, nu, NULL, 1);
    C->unit = saved_unit;
    C->model = saved_model;
    if (STOP(C)) return kv_none();
    if (out.k != KV_TENSOR) { cc_err(C, e, "model '%s' gives no tensor", decl->name); return kv_none(); }
    kd_graph_name(C->g, outname, out.t);
    kd_graph_name(C->g, inname, in.t);
    return out;
}

/* `ts[i]` at phase level: the declaration of member "ts[i]" of an indexed
 * model (its unit in *unit); NULL after a located error */
const kdr_node *cc_model_member(cc *C, frame *F, const kdr_node *idx, const kdr_unit **unit)
{
    const char *base = idx->a->name;
    if (!idx->kids || idx->kids->next || idx->kids->kind == KDR_STAR) {
        cc_err(C, idx, "model '%s' has one index", base);
        return NULL;
    }
    const char *key = cc_index_key(C, F, idx, base);
    if (!key) return NULL;
    const kdr_node *md = kd_program_decl(C->p, KDR_MODEL, key, unit);
    if (md) return md;
    /* the members there are, for the message */
    char buf[256];
    size_t o = 0, len = strlen(base);
    int n = 0;
    for (size_t u = 0; u < C->p->nunits; u++)
        for (const kdr_node *t = C->p->units[u]->root ? C->p->units[u]->root->kids : NULL; t; t = t->next)
            if (t->kind == KDR_MODEL && t->extra && strncmp(t->name, base, len) == 0 && t->name[len] == '[')
                cc_append(buf, sizeof buf, &o, "%s%s", n++ ? ", " : "", t->name);
    if (n) cc_err(C, idx->kids, "model '%s' has no index %.*s: it is %s", base,
                  (int)(strlen(key) - len - 2), key + len + 1, buf);
    else cc_err(C, idx->a, "no indexed model named '%s'", base);
    return NULL;
}

kv cc_call(cc *C, frame *F, const kdr_node *e, const char *hint)
{
    const kdr_node *callee = e->a;
    if (F->phase && cc_is_with_call(e)) {   /* a model, as for the checker */
        cc_err(C, e, "'.with(...)' gives a model; take one of its tensors: %s.with(...).logits",
            e->a->a->kind == KDR_IDENT ? e->a->a->name : "m");
        return kv_none();
    }
    if (F->phase && callee->kind == KDR_INDEX && callee->a->kind == KDR_IDENT) {
        /* ts[s](x): a member of an indexed model applied to a tensor */
        const kdr_unit *mu = NULL;
        const kdr_node *md = cc_model_member(C, F, callee, &mu);
        return md ? apply_model(C, F, e, md, mu) : kv_none();
    }
    if (callee->kind != KDR_IDENT) {
        cc_unsupported(C, "calling a model or an indexed name inside a net is not in this build yet");
        return kv_none();
    }
    const char *name = callee->name;
    /* shape queries */
    if (strcmp(name, "channels") == 0 || strcmp(name, "height") == 0 ||
        strcmp(name, "width") == 0 || strcmp(name, "length") == 0) {
        if (!e->kids || e->kids->next) { cc_err(C, e, "%s takes one tensor", name); return kv_none(); }
        kv t = cc_eval(C, F, e->kids->a, NULL);
        if (STOP(C)) return kv_none();
        if (t.k != KV_TENSOR) { cc_err(C, e->kids, "%s needs a tensor, got %s", name, cc_kind_name(t.k)); return kv_none(); }
        const kd_shape *s = &C->g->nodes[t.t].shape;
        int axis = name[0] == 'c' ? 1 : name[0] == 'h' ? 2 : name[0] == 'w' ? 3 : s->ndim - 1;
        if (axis >= s->ndim) {
            char sb[96];
            cc_err(C, e, "%s of a tensor of shape %s", name, kd_shape_str(s, sb, sizeof sb));
            return kv_none();
        }
        return kv_num((double)s->dims[axis]);
    }
    const kdr_unit *nu = NULL;
    const kdr_node *net = kd_program_decl(C->p, KDR_NET, name, &nu);
    if (net) return cc_call_net(C, F, e, net, nu, hint, 0);
    unsigned ctx = KDR_CTX_NET | KDR_CTX_SEARCH | KDR_CTX_MATH;
    if (F->phase) ctx = KDR_CTX_LOSS | KDR_CTX_MATH | KDR_CTX_NET | KDR_CTX_SEARCH;
    const kdr_builtin *b = kdr_builtin_find(name, ctx);
    if (b && (b->ctx & KDR_CTX_MATH)) {
        /* numeric helpers: min, max, round, floor, ceil, sqrt, abs */
        double xs[8];
        int n = 0;
        for (const kdr_node *a = e->kids; a && n < 8; a = a->next) {
            kv v = cc_eval(C, F, a->a, NULL);
            if (STOP(C) || cc_want_num(C, a, v, &xs[n++])) return kv_none();
        }
        double r;
        if (n == 0) { cc_err(C, e, "%s needs arguments", name); return kv_none(); }
        if (strcmp(name, "min") == 0) { r = xs[0]; for (int i = 1; i < n; i++) r = fmin(r, xs[i]); }
        else if (strcmp(name, "max") == 0) { r = xs[0]; for (int i = 1; i < n; i++) r = fmax(r, xs[i]); }
        else if (strcmp(name, "round") == 0) r = round(xs[0]);
        else if (strcmp(name, "floor") == 0) r = floor(xs[0]);
        else if (strcmp(name, "ceil") == 0) r = ceil(xs[0]);
        else if (strcmp(name, "sqrt") == 0) r = sqrt(xs[0]);
        else if (strcmp(name, "abs") == 0) r = fabs(xs[0]);
        else { cc_unsupported(C, "function '%s' is not in this build yet", name); return kv_none(); }
        return kv_num(r);
    }
    if (b && b->ctx == KDR_CTX_SEARCH && strcmp(name, "choice") == 0) return cc_call_choice(C, F, e);
    if (b && F->phase && !(b->ctx & (KDR_CTX_LOSS | KDR_CTX_NET | KDR_CTX_SEARCH | KDR_CTX_MATH))) {
        cc_unsupported(C, "'%s' in a loss is not in this build yet", name);
        return kv_none();
    }
    if (!b && F->phase && kdr_builtin_find(name, KDR_CTX_WEIGHT)) {
        /* a factor that changes per epoch: a scalar input the trainer sets */
        if (C->g->nwsched == (int)(sizeof C->g->wsched / sizeof C->g->wsched[0])) {
            cc_err(C, e, "more than %d weight schedules in one phase",
                (int)(sizeof C->g->wsched / sizeof C->g->wsched[0]));
            return kv_none();
        }
        int32_t id = kd_graph_add_input(C->g, cc_str(C, "%s.weight%d", F->path, C->g->nwsched),
                                        kd_shape_make(0, NULL));
        if (id < 0) { cc_err(C, e, "out of memory"); return kv_none(); }
        C->g->nodes[id].beg = e->beg;
        C->g->nodes[id].end = e->end;
        C->g->wsched[C->g->nwsched].node = id;
        C->g->wsched[C->g->nwsched].call = e;
        C->g->wsched[C->g->nwsched].unit = C->unit;
        C->g->nwsched++;
        return kv_tensor(id);
    }
    if (b && F->phase && strcmp(name, "cost") == 0) return cc_call_cost(C, F, e, b);
    if (b) return cc_call_op(C, F, e, b, 0);
    if (F->phase) {
        const kdr_unit *mu = NULL;
        const kdr_node *md = kd_program_decl(C->p, KDR_MODEL, name, &mu);
        if (md) return apply_model(C, F, e, md, mu);
    }
    cc_err(C, callee, "unknown function '%s'", name);
    return kv_none();
}

