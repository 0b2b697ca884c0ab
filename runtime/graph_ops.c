/* graph_ops.c — adding op nodes to a graph from C (losses, tests, bench).
 *
 * kd_graph_add_op is compile.c's add_op without recipe locations (both append
 * through graph.c's kd_graph_push_node/param): it checks the input count,
 * infers shapes, appends the node (model -1,
 * label = the op name) and creates its parameters, named
 * "<op>@<node id>.weight" / ".bias" / ".param<i>", trainable.
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

int32_t kd_graph_add_op(kd_graph *g, const kd_op_def *op, const int32_t *ins, int ndata,
                        const kd_attr_val *attr, char *err, size_t errlen)
{
    if (!op) {
        snprintf(err, errlen, "no such op");
        return -1;
    }
    if (ndata < op->min_inputs || ndata > op->max_inputs) {
        snprintf(err, errlen, "%s takes %d to %d tensor inputs, got %d", op->name,
                 op->min_inputs, op->max_inputs, ndata);
        return -1;
    }
    if (ndata + op->nparams > KD_MAXIN) {
        snprintf(err, errlen, "%s: too many inputs", op->name);
        return -1;
    }
    for (int i = 0; i < ndata; i++)
        if (ins[i] < 0 || ins[i] >= g->nnodes) {
            snprintf(err, errlen, "%s: input %d is not a node", op->name, i);
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
        snprintf(err, errlen, "%s: %s", op->name, msg[0] ? msg : "invalid input shapes");
        return -1;
    }
    int32_t id = kd_graph_push_node(g, -1);
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
    n->label = op->name;
    for (int i = 0; i < ctx.nin; i++) n->in_shape[i] = ctx.in_shape[i];
    for (int i = 0; i < ndata; i++) n->in[i] = ins[i];
    for (int s = 0; s < op->nparams; s++) {
        int slot = ndata + s;
        if (ctx.in_shape[slot].ndim == KD_ABSENT) {
            g->nodes[id].in[slot] = -1;
            continue;
        }
        char name[128];
        snprintf(name, sizeof name, "%s@%d.%s%.0d", op->name, (int)id,
                 s == 0 ? "weight" : s == 1 ? "bias" : "param", s > 1 ? s : 0);
        int32_t pid = kd_graph_push_param(g, intern(g, name), ctx.in_shape[slot], info.init[slot], -1, 0);
        if (pid < 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        g->nodes[id].in[slot] = pid;
    }
    n = &g->nodes[id];
    if (strcmp(op->name, "conv2d") == 0 || strcmp(op->name, "linear") == 0) {
        const kd_shape *w = &n->in_shape[ndata];
        int64_t per_out = w->dims[0] ? kd_shape_numel(w) / w->dims[0] : 0;
        n->macs = kd_shape_numel(&n->shape) * per_out;
    }
    return id;
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
