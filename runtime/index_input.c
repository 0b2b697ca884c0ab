/* index_input.c — `index`: each batch row's index in the split, as a graph
 * input that losses read (index_input.h).  Only a graph whose loss names
 * `index` has the node, so every other graph is unchanged. */
#include "config.h"

#include <string.h>

#include "index_input.h"

int32_t kd_index_input(kd_graph *g)
{
    int32_t t = kd_graph_find(g, "index");
    if (t >= 0 && g->nodes[t].kind == KD_NODE_INPUT && g->nodes[t].model < 0) return t;
    for (int32_t i = 0; i < g->nnodes; i++)
        if (g->nodes[i].kind == KD_NODE_INPUT && g->nodes[i].model >= 0 && g->nodes[i].shape.ndim > 0)
            return kd_graph_add_input(g, "index", kd_shape_make(1, (const int64_t[]){ g->nodes[i].shape.dims[0] }));
    return -1;
}

void kd_index_feed(kd_exec *e, const kd_graph *g, const kd_batch *b, int64_t batch)
{
    int32_t t = kd_graph_find(g, "index");
    float *x = t >= 0 && g->nodes[t].kind == KD_NODE_INPUT ? kd_exec_input(e, t) : NULL;
    if (!x) return;
    for (int64_t r = 0; r < batch; r++)
        x[r] = r < b->n && b->index ? (float)b->index[r] : -1.0f;
}

int32_t kd_index_small_bank(const kd_graph *g, int64_t rows, int64_t *bank)
{
    int32_t t = kd_graph_find(g, "index");
    if (t < 0 || g->nodes[t].kind != KD_NODE_INPUT) return -1;
    for (int32_t i = 0; i < g->nnodes; i++) {
        const kd_node *nd = &g->nodes[i];
        if (nd->kind != KD_NODE_OP || !nd->op || !nd->op->attrs) continue;
        int reads = 0;
        for (int k = 0; k < nd->ndata; k++) reads |= nd->in[k] == t;
        if (!reads) continue;
        for (int a = 0; nd->op->attrs[a].name; a++)
            if (!strcmp(nd->op->attrs[a].name, "n") && (int64_t)nd->attr[a].num < rows) {
                *bank = (int64_t)nd->attr[a].num;
                return i;
            }
    }
    return -1;
}
