/* graph_ops.c — adding op nodes to a graph: one primitive
 * (kd_graph_add_op_at) for the compiler, the trainer, tests and benchmarks.
 *
 * It knows graphs and the op registry only: where the node goes (model,
 * recipe location, parameter names, limits) comes in a kd_op_site, so the
 * compiler's context never reaches here.  What differs between ops (the
 * names of their parameter slots, whether they are architecture weights,
 * how MACs are counted) is read from the op's def.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "graph_ops.h"

static const char *intern(kd_graph *g, const char *s)
{
    return kdr_arena_intern(g->arena, s, strlen(s));
}

/* the name of parameter slot s of op (0-based among its parameters) */
static void slot_name(const kd_op_def *op, int s, char *buf, size_t n)
{
    for (int i = 0; op->param_names && op->param_names[i]; i++)
        if (i == s) {
            snprintf(buf, n, "%s", op->param_names[i]);
            return;
        }
    if (s < 2) snprintf(buf, n, "%s", s == 0 ? "weight" : "bias");
    else snprintf(buf, n, "param%d", s);
}

/* 0 if every element count of the shapes is at most max (0: no limit) */
static int too_large(const kd_shape *sh, int64_t max)
{
    if (max <= 0 || sh->ndim <= 0) return 0;
    int64_t numel = 1;
    for (int k = 0; k < sh->ndim; k++) {
        if (sh->dims[k] < 0 || (sh->dims[k] > 0 && numel > max / sh->dims[k])) return 1;
        numel *= sh->dims[k];
    }
    return numel > max;
}

int32_t kd_graph_add_op_at(kd_graph *g, const kd_op_def *op, const int32_t *ins, int ndata,
                           const kd_attr_val *attr, const kd_op_site *site,
                           char *err, size_t errlen)
{
    static const kd_op_site none = { .model = -1 };
    if (!site) site = &none;
    if (!op) {
        snprintf(err, errlen, "no such op");
        return -1;
    }
    const char *label = site->label ? site->label : op->name;
    if (ndata < op->min_inputs || ndata > op->max_inputs) {
        snprintf(err, errlen, "%s takes %d to %d tensor inputs, got %d", label, op->min_inputs,
                 op->max_inputs, ndata);
        return -1;
    }
    if (ndata + op->nparams > KD_MAXIN) {
        snprintf(err, errlen, "%s: too many inputs", label);
        return -1;
    }
    for (int i = 0; i < ndata; i++)
        if (ins[i] < 0 || ins[i] >= g->nnodes) {
            snprintf(err, errlen, "%s: input %d is not a node", label, i);
            return -1;
        }
    kd_op_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    kd_attr_val av[KD_MAXATTR];
    memset(av, 0, sizeof av);
    if (attr) memcpy(av, attr, sizeof av);
    else kd_attrs_default(op, av);
    ctx.attr = av;
    ctx.nin = ndata + op->nparams;
    for (int i = 0; i < ndata; i++) ctx.in_shape[i] = g->nodes[ins[i]].shape;
    kd_op_info info;
    char msg[256] = "";
    if (kd_op_infer(op, &ctx, &info, msg, sizeof msg) != 0) {
        snprintf(err, errlen, "%s", msg[0] ? msg : "invalid input shapes");
        return -1;
    }
    for (int i = 0; i <= ctx.nin; i++) {
        const kd_shape *sh = i < ctx.nin ? &ctx.in_shape[i] : &ctx.out_shape;
        if (too_large(sh, site->max_numel)) {
            char sb[128];
            snprintf(err, errlen, "%s: a tensor of shape %s is too large (at most 2^31 elements)",
                     label, kd_shape_str(sh, sb, sizeof sb));
            return -1;
        }
    }
    if (site->max_nodes > 0 && g->nnodes >= site->max_nodes) {
        snprintf(err, errlen, "the model has more than %d operations", (int)site->max_nodes);
        return -1;
    }
    int32_t id = kd_graph_push_node(g, site->model);
    if (id < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    kd_node *n = &g->nodes[id];
    n->kind = KD_NODE_OP;
    n->op = op;
    memcpy(n->attr, av, sizeof av);
    n->ndata = ndata;
    n->shape = ctx.out_shape;
    n->info = info;
    n->label = label;
    n->unit = site->unit;
    n->beg = site->beg;
    n->end = site->end;
    for (int i = 0; i < ctx.nin; i++) n->in_shape[i] = ctx.in_shape[i];
    for (int i = 0; i < ndata; i++) n->in[i] = ins[i];
    for (int s = 0; s < op->nparams; s++) {
        int slot = ndata + s;
        if (site->params) {
            g->nodes[id].in[slot] = site->params[s];
            continue;
        }
        if (ctx.in_shape[slot].ndim == KD_ABSENT) {
            g->nodes[id].in[slot] = -1;
            continue;
        }
        char sn[64], name[512];
        slot_name(op, s, sn, sizeof sn);
        if (site->param_base) snprintf(name, sizeof name, "%s.%s", site->param_base, sn);
        else snprintf(name, sizeof name, "%s@%d.%s", op->name, (int)id, sn);
        int32_t pid = kd_graph_push_param(g, intern(g, name), ctx.in_shape[slot], info.init[slot],
                                          site->model, op->mixture);
        if (pid < 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        g->nodes[id].in[slot] = pid;
    }
    if (op->macs && op->nparams > 0) g->nodes[id].macs = op->macs(&ctx);
    return id;
}

int32_t kd_graph_add_op(kd_graph *g, const kd_op_def *op, const int32_t *ins, int ndata,
                        const kd_attr_val *attr, char *err, size_t errlen)
{
    return kd_graph_add_op_at(g, op, ins, ndata, attr, NULL, err, errlen);
}

int32_t kd_graph_add_op1(kd_graph *g, const char *opname, const int32_t *ins, int ndata,
                         const char *attr_name, double attr_val, char *err, size_t errlen)
{
    const kd_op_def *op = kd_op_find(opname);
    if (!op) {
        snprintf(err, errlen, "no op named '%s'", opname);
        return -1;
    }
    kd_attr_val av[KD_MAXATTR];
    memset(av, 0, sizeof av);
    kd_attrs_default(op, av);
    if (attr_name) {
        int idx = kd_attr_index(op, attr_name);
        if (idx < 0) {
            snprintf(err, errlen, "%s has no attribute '%s'", opname, attr_name);
            return -1;
        }
        if (kd_attr_set_num(op, av, idx, attr_val, err, errlen) != 0) return -1;
    }
    return kd_graph_add_op(g, op, ins, ndata, av, err, errlen);
}
