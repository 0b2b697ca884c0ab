/* check_models.c — shape inference for `kdrun --check`: compile every model
 * against the data it is trained on, and print parameters, MACs and the
 * output shape of each. */
#include <stdio.h>
#include <string.h>

#include "graph.h"
#include "data_decl.h"

/* The loader registry (data/loaders.h) gives the sample shape; idx reads
 * it from its header when the files are there. */
int kd_data_shape_of(const kdr_program *p, const kdr_node *decl, kd_data_shape *out,
                     kdr_diag *d)
{
    (void)d;
    return kd_data_decl_shape_of(p, decl, out);
}

/* The data set a model is trained or evaluated on: the first phase or report
 * statement naming it, else the first data declaration. */
static const kdr_node *data_for_model(const kdr_program *p, const char *model)
{
    const kdr_node *first = NULL;
    for (size_t u = 0; u < p->nunits; u++) {
        if (!p->units[u]->root) continue;
        for (const kdr_node *t = p->units[u]->root->kids; t; t = t->next) {
            if (t->kind == KDR_DATA && !first) first = t;
            if (t->kind != KDR_PHASE && t->kind != KDR_REPORT) continue;
            for (const kdr_node *s = t->kids; s; s = s->next) {
                if (s->kind != KDR_SETTING || !s->word) continue;
                if (strcmp(s->word, "train") != 0 && strcmp(s->word, "evaluate") != 0) continue;
                int names_it = 0;
                for (const kdr_node *m = s->kids; m; m = m->next)
                    if (m->kind == KDR_IDENT && strcmp(m->name, model) == 0) names_it = 1;
                if (!names_it || !s->a) continue;
                const kdr_node *dref = s->a;
                while (dref->kind == KDR_MEMBER || dref->kind == KDR_INDEX) dref = dref->a;
                if (dref->kind != KDR_IDENT) continue;
                for (size_t v = 0; v < p->nunits; v++) {
                    if (!p->units[v]->root) continue;
                    for (const kdr_node *x = p->units[v]->root->kids; x; x = x->next)
                        if (x->kind == KDR_DATA && strcmp(x->name, dref->name) == 0) return x;
                }
            }
        }
    }
    return first;
}

static int calls_name(const kdr_node *n, const char *name)
{
    for (; n; n = n->next) {
        if (n->kind == KDR_CALL && n->a && n->a->kind == KDR_IDENT && strcmp(n->a->name, name) == 0)
            return 1;
        if (calls_name(n->a, name) || calls_name(n->b, name) || calls_name(n->c, name) ||
            calls_name(n->kids, name) || calls_name(n->params, name))
            return 1;
    }
    return 0;
}

/* A model written as a function somewhere, m(x), takes its input from that
 * call (adapters, discriminators), not from the data. */
static int applied_model(const kdr_program *p, const char *model)
{
    for (size_t u = 0; u < p->nunits; u++)
        if (p->units[u]->root && calls_name(p->units[u]->root->kids, model)) return 1;
    return 0;
}

static void human(char *buf, size_t n, int64_t x)
{
    if (x >= 1000000000) snprintf(buf, n, "%.2fG", (double)x / 1e9);
    else if (x >= 1000000) snprintf(buf, n, "%.2fM", (double)x / 1e6);
    else if (x >= 1000) snprintf(buf, n, "%.1fK", (double)x / 1e3);
    else snprintf(buf, n, "%lld", (long long)x);
}

static void sample_shape(char *buf, size_t n, const kd_shape *s)
{
    size_t o = (size_t)snprintf(buf, n, "[");
    for (int i = 1; i < s->ndim && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%lld", i > 1 ? ", " : "", (long long)s->dims[i]);
    if (o < n) snprintf(buf + o, n - o, "]");
}

int kd_check_models(const kdr_program *p, FILE *out, kdr_diag *d)
{
    int rc = 0, header = 0;
    kd_graph *g = kd_graph_new();
    if (!g) return -1;
    for (size_t u = 0; u < p->nunits; u++) {
        if (!p->units[u]->root) continue;
        for (const kdr_node *t = p->units[u]->root->kids; t; t = t->next) {
            if (t->kind != KDR_MODEL) continue;
            if (applied_model(p, t->name)) continue;
            const kdr_node *data = data_for_model(p, t->name);
            kd_data_shape ds;
            if (!data || kd_data_shape_of(p, data, &ds, d) != 0) {
                kdr_diag_push(d, KDR_NOTE, p->units[u], t->beg, t->end,
                              "shapes of model '%s' not inferred: its data set's input shape "
                              "is known only when the data is loaded", t->name);
                continue;
            }
            int m = kd_compile_model(g, p, t, &ds, 2, d);
            if (m == -1) { rc = -1; continue; }
            if (m < 0) continue;
            if (!header) {
                fprintf(out, "shapes (per sample; the batch axis is left out):\n");
                header = 1;
            }
            char key[300], ins[96], outs[96], pa[32], ma[32];
            snprintf(key, sizeof key, "%s.out", t->name);
            int32_t o = kd_graph_find(g, key);
            int32_t in = -1;
            for (int32_t i = 0; i < g->nnodes; i++)
                if (g->nodes[i].model == m && g->nodes[i].kind == KD_NODE_INPUT) { in = i; break; }
            if (o < 0 || in < 0) continue;
            sample_shape(ins, sizeof ins, &g->nodes[in].shape);
            sample_shape(outs, sizeof outs, &g->nodes[o].shape);
            human(pa, sizeof pa, kd_graph_model_params(g, m));
            human(ma, sizeof ma, kd_graph_model_macs(g, m) / 2);   /* per sample */
            int named = 0;
            size_t len = strlen(t->name);
            for (int32_t i = 0; i < g->nnamed; i++)
                if (strncmp(g->named[i].name, t->name, len) == 0 && g->named[i].name[len] == '.')
                    named++;
            fprintf(out, "  %-12s %s -> %s   params %s   MACs %s   named tensors %d\n",
                    t->name, ins, outs, pa, ma, named);
        }
    }
    kd_graph_free(g);
    return rc;
}
