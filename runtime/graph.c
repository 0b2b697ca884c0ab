/* graph.c — the op graph container: nodes, parameters, named tensors. */
#include <stdlib.h>
#include <string.h>

#include "graph.h"

kd_graph *kd_graph_new(void)
{
    kd_graph *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->arena = kdr_arena_new();
    if (!g->arena) { free(g); return NULL; }
    return g;
}

void kd_graph_free(kd_graph *g)
{
    if (!g) return;
    free(g->nodes);
    free(g->params);
    free(g->named);
    kdr_arena_free(g->arena);
    free(g);
}

int32_t kd_graph_push_node(kd_graph *g, int model)
{
    if (g->nnodes == g->cap_nodes) {
        int32_t cap = g->cap_nodes ? g->cap_nodes * 2 : 256;
        kd_node *nn = realloc(g->nodes, (size_t)cap * sizeof *nn);
        if (!nn) return -1;
        g->nodes = nn;
        g->cap_nodes = cap;
    }
    memset(&g->nodes[g->nnodes], 0, sizeof g->nodes[0]);
    g->nodes[g->nnodes].model = model;
    return g->nnodes++;
}

int32_t kd_graph_push_param(kd_graph *g, const char *name, kd_shape shape, kd_param_init init,
                            int model, int arch)
{
    if (g->nparams == g->cap_params) {
        int32_t cap = g->cap_params ? g->cap_params * 2 : 128;
        kd_param *np = realloc(g->params, (size_t)cap * sizeof *np);
        if (!np) return -1;
        g->params = np;
        g->cap_params = cap;
    }
    kd_param *q = &g->params[g->nparams];
    memset(q, 0, sizeof *q);
    q->name = name;
    q->shape = shape;
    q->offset = g->param_count;
    q->init = init;
    q->model = model;
    q->arch = arch;
    q->trainable = 1;
    g->param_count += (size_t)kd_shape_numel(&shape);
    return g->nparams++;
}

int32_t kd_graph_find(const kd_graph *g, const char *name)
{
    for (int32_t i = 0; i < g->nnamed; i++)
        if (strcmp(g->named[i].name, name) == 0) return g->named[i].node;
    return -1;
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return 99;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t best = prev + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            prev = cur;
        }
    }
    return row[lb];
}

const char *kd_graph_closest(const kd_graph *g, const char *name)
{
    const char *best = NULL;
    size_t bd = 3;
    for (int32_t i = 0; i < g->nnamed; i++) {
        size_t dd = edit_distance(name, g->named[i].name);
        if (dd < bd) { bd = dd; best = g->named[i].name; }
    }
    return best;
}

int64_t kd_graph_model_params(const kd_graph *g, int model)
{
    int64_t n = 0;
    for (int32_t i = 0; i < g->nparams; i++)
        if (model < 0 || g->params[i].model == model) {
            int64_t k = kd_shape_numel(&g->params[i].shape);
            if (k > INT64_MAX - n) return INT64_MAX;
            n += k;
        }
    return n;
}

int64_t kd_graph_model_macs(const kd_graph *g, int model)
{
    int64_t n = 0;
    for (int32_t i = 0; i < g->nnodes; i++)
        if ((model < 0 || g->nodes[i].model == model) && !g->nodes[i].clone_of) {
            if (g->nodes[i].macs > INT64_MAX - n) return INT64_MAX;   /* saturate */
            n += g->nodes[i].macs;
        }
    return n;
}

void kd_graph_name(kd_graph *g, const char *full, int32_t node)
{
    for (int32_t i = 0; i < g->nnamed; i++)
        if (strcmp(g->named[i].name, full) == 0) { g->named[i].node = node; goto label; }
    if (g->nnamed == g->cap_named) {
        int32_t cap = g->cap_named ? g->cap_named * 2 : 128;
        kd_named *nn = realloc(g->named, (size_t)cap * sizeof *nn);
        if (!nn) return;
        g->named = nn;
        g->cap_named = cap;
    }
    g->named[g->nnamed].name = full;
    g->named[g->nnamed].node = node;
    g->nnamed++;
label:
    if (!g->nodes[node].name) g->nodes[node].name = full;
}

int32_t kd_graph_add_input(kd_graph *g, const char *name, kd_shape shape)
{
    if (g->nnodes >= KD_GRAPH_MAX_NODES) return -1;
    int32_t id = kd_graph_push_node(g, -1);
    if (id < 0) return -1;
    kd_node *n = &g->nodes[id];
    n->kind = KD_NODE_INPUT;
    n->shape = shape;
    n->label = "input";
    n->name = kdr_arena_intern(g->arena, name, strlen(name));
    kd_graph_name(g, n->name, id);
    return id;
}

int32_t kd_graph_add_const(kd_graph *g, const char *name, const float *v, int64_t n, int scalar)
{
    if (g->nconsts == (int)(sizeof g->consts / sizeof g->consts[0]) || n < 1 || (scalar && n != 1))
        return -1;
    float *copy = kdr_arena_alloc(g->arena, (size_t)n * sizeof *copy);
    if (!copy) return -1;
    memcpy(copy, v, (size_t)n * sizeof *copy);
    int32_t id = kd_graph_add_input(g, name, scalar ? kd_shape_make(0, NULL) : kd_shape_make(1, &n));
    if (id < 0) return -1;
    g->nodes[id].label = "constant";
    g->consts[g->nconsts].node = id;
    g->consts[g->nconsts].v = copy;
    g->consts[g->nconsts].n = n;
    g->nconsts++;
    return id;
}
