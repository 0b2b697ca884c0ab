/* compile_with.c — `m.with(point = t, ...).x` at phase level: model m
 * evaluated with some named tensors replaced (see the comment below).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile_int.h"

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
    cc_append(buf, cap, &o, "[");
    for (int i = 0; i < s->ndim; i++) {
        if (i) cc_append(buf, cap, &o, ", ");
        if (i == 0 && s->dims[0] == batch) cc_append(buf, cap, &o, "N");
        else cc_append(buf, cap, &o, "%lld", (long long)s->dims[i]);
    }
    cc_append(buf, cap, &o, "]");
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
        cc_err(C, at, "more than %d different .with(...) substitutions in one phase",
            (int)(sizeof g->with / sizeof g->with[0]));
        return NULL;
    }
    int32_t n0 = g->nnodes;
    int32_t *map = cc_alloc(C, (size_t)n0 * sizeof *map);
    uint8_t *dirty = calloc((size_t)n0, 1);
    if (!map || !dirty) { free(dirty); cc_err(C, at, "out of memory"); return NULL; }
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
        int32_t id = cc_new_node(C);
        if (id < 0) { cc_err(C, at, "the program has more than %d operations", MAX_NODES); break; }
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
kv cc_with_tensor(cc *C, frame *F, const kdr_node *call, const char *key, const kdr_node *at)
{
    kd_graph *g = C->g;
    const kdr_node *mexpr = call->a->a;
    if (mexpr->kind != KDR_IDENT) {
        cc_err(C, mexpr, "'.with(...)' needs a model name");
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
        cc_err(C, mexpr, "with: model '%s' is not built on the data in this phase%s", mname,
            m >= 0 ? " (it is applied to a tensor in a loss)" : "");
        return kv_none();
    }
    if (m < 64 && (C->detach & ((uint64_t)1 << m))) {
        cc_unsupported(C, "'%s.with(...)' in a loss that treats '%s' as a constant is not in this build yet",
                    mname, mname);
        return kv_none();
    }
    int64_t batch = g->nodes[min].shape.ndim > 0 ? g->nodes[min].shape.dims[0] : -1;
    int n = 0;
    int32_t pt[MAX_WITH_POINTS], sub[MAX_WITH_POINTS];
    const char *pname[MAX_WITH_POINTS];
    const kdr_node *pat[MAX_WITH_POINTS];
    if (!call->kids) { cc_err(C, call, "'.with(...)' needs a substitution: point = tensor"); return kv_none(); }
    for (const kdr_node *a = call->kids; a; a = a->next) {
        if (!a->b) { cc_err(C, a, "'.with(...)' takes substitutions: point = tensor"); return kv_none(); }
        if (n == MAX_WITH_POINTS) { cc_err(C, a, "'.with(...)' takes at most %d substitutions", MAX_WITH_POINTS); return kv_none(); }
        const kdr_node *p = a->b;
        const char *pk;
        if (p->kind == KDR_IDENT) pk = p->name;
        else if (p->kind == KDR_INDEX && p->a->kind == KDR_IDENT) {
            for (const kdr_node *k = p->kids; k; k = k->next)
                if (k->kind == KDR_STAR) { cc_err(C, k, "with: a point is one tensor; '*' selects several"); return kv_none(); }
            pk = cc_index_key(C, F, p, p->a->name);
            if (!pk) return kv_none();
        } else {
            cc_err(C, p, "the point of a substitution must be a tensor name of the model");
            return kv_none();
        }
        const char *full = cc_str(C, "%s.%s", mname, pk);
        int32_t t = kd_graph_find(g, full);
        if (t < 0 || g->nodes[t].model != m || g->nodes[t].clone_of) {
            const char *near = kd_graph_closest(g, full);
            if (near && strncmp(near, mname, strlen(mname)) == 0 && near[strlen(mname)] == '.')
                cc_err(C, p, "with: model '%s' has no tensor named '%s'; did you mean '%s'?", mname, pk,
                    near + strlen(mname) + 1);
            else cc_err(C, p, "with: model '%s' has no tensor named '%s'", mname, pk);
            return kv_none();
        }
        for (int i = 0; i < n; i++)
            if (pt[i] == t) {
                cc_err(C, p, "with: %s is substituted twice%s", pk,
                    strcmp(pname[i], pk) ? " (under another name)" : "");
                return kv_none();
            }
        kv v = cc_eval(C, F, a->a, NULL);
        if (STOP(C)) return kv_none();
        if (v.k != KV_TENSOR) {
            cc_err(C, a->a, "with: %s must be replaced by a tensor, got %s", pk, cc_kind_name(v.k));
            return kv_none();
        }
        if (!kd_shape_eq(&g->nodes[t].shape, &g->nodes[v.t].shape)) {
            char b1[128], b2[128];
            cc_err(C, a->a, "with: %s of %s is %s, got %s", pk, mname,
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
    const char *full = cc_str(C, "%s.%s", mname, key);
    int32_t t = kd_graph_find(g, full);
    if (t < 0 || g->nodes[t].model != m) {
        const char *near = kd_graph_closest(g, full);
        if (near && strncmp(near, mname, strlen(mname)) == 0 && near[strlen(mname)] == '.')
            cc_err(C, at, "with: model '%s' has no tensor named '%s'; did you mean '%s'?", mname, key,
                near + strlen(mname) + 1);
        else cc_err(C, at, "with: model '%s' has no tensor named '%s'", mname, key);
        return kv_none();
    }
    const struct kd_with *W = with_instance(C, call, m, n, pt, sub);
    if (!W) return kv_none();
    int32_t r = t < W->nmap ? W->map[t] : t;
    /* a substitution the asked tensor does not depend on is an error: it
     * would silently change nothing */
    uint8_t *seen = calloc((size_t)(g->nnodes - W->nmap) + 1, 1);
    if (!seen) { cc_err(C, at, "out of memory"); return kv_none(); }
    for (int k = 0; k < n && !STOP(C); k++) {
        memset(seen, 0, (size_t)(g->nnodes - W->nmap) + 1);
        if (!with_uses(g, W, r, k, seen))
            cc_err(C, pat[k], "with: %s of %s does not depend on %s%s; the substitution changes nothing",
                key, mname, pname[k], n > 1 ? " (or only through another substituted point)" : "");
    }
    free(seen);
    if (STOP(C)) return kv_none();
    return kv_tensor(r);
}

/* A model applied to a second tensor is the substitution of its first
 * input: the recomputed nodes share the parameters (gradients add) and, as
 * for .with(...), the bn statistics of the first application (exec.c:
 * in training both applications update them, in the order they run, as a
 * module called twice does). */
int32_t cc_reapply(cc *C, const kdr_node *at, int m, int32_t first, int32_t in, int32_t out)
{
    const struct kd_with *W = with_instance(C, at, m, 1, &first, &in);
    if (!W) return -1;
    return out < W->nmap ? W->map[out] : out;
}

int cc_is_with_call(const kdr_node *e)
{
    return e && e->kind == KDR_CALL && e->a && e->a->kind == KDR_MEMBER && e->a->name &&
           strcmp(e->a->name, "with") == 0;
}

