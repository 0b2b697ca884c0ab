/* compile_search.c — the searched constructs of the graph compiler:
 * cost(model, target: params|macs) over a model's mixtures, and
 * choice(candidates..., tau: t).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile_int.h"

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

kv cc_call_cost(cc *C, frame *F, const kdr_node *e, const kdr_builtin *b)
{
    kv vals[32];
    const kdr_node *where[32];
    if (cc_bind_builtin_args(C, F, e, b, vals, where, 0)) return kv_none();
    kd_graph *g = C->g;
    if (vals[0].k != KV_SYM && vals[0].k != KV_STR) {
        cc_err(C, where[0], "cost needs a model, got %s", cc_kind_name(vals[0].k));
        return kv_none();
    }
    const char *mname = vals[0].s, *target = vals[1].k == KV_SYM ? vals[1].s : "params";
    int macs = strcmp(target, "macs") == 0;
    int m = -1;
    for (int i = 0; i < g->nmodels; i++)
        if (strcmp(g->model_names[i], mname) == 0) m = i;
    int32_t out = kd_graph_find(g, cc_str(C, "%s.out", mname));
    if (m < 0 || out < 0) {
        cc_err(C, where[0], "cost: no model named '%s' in this phase", mname);
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
        cc_err(C, e, "out of memory");
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
        cc_err(C, where[0], "cost: model '%s' has no architecture weights (choice or aggregate)", mname);
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
        int32_t t = kd_graph_add_const(g, cc_str(C, "%s.cost%d", F->path, g->nconsts), row, K + 1, 0);
        if (t < 0) { cc_err(C, e, "cost: too many constants in one graph"); goto done; }
        kd_attr_val av[KD_MAXATTR];
        memset(av, 0, sizeof av);
        kd_attrs_default(op, av);
        char msg[256] = "";
        if (kd_attr_set_num(op, av, kd_attr_index(op, "k"), K, msg, sizeof msg)) {
            cc_err(C, e, "%s", msg);
            goto done;
        }
        /* a cost node whose parameter is the mixture's alpha (shared, not new) */
        int32_t alpha = g->nodes[i].in[g->nodes[i].ndata];
        kd_op_site site = { .model = C->model, .unit = C->unit, .beg = e->beg, .end = e->end,
                            .label = "cost", .params = &alpha, .max_nodes = MAX_NODES };
        int32_t id = kd_graph_add_op_at(g, op, &t, 1, av, &site, msg, sizeof msg);
        if (id < 0) { cc_err(C, e, "%s", msg); goto done; }
        if (acc < 0) acc = id;
        else {
            int32_t two[2] = { acc, id };
            acc = cc_op_simple(C, F, e, "add", two, 2, NULL, 0);
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
kv cc_call_choice(cc *C, frame *F, const kdr_node *e)
{
    const kd_op_def *op = kd_op_find("choice");
    if (!F->has_input || F->input.k != KV_TENSOR) {
        cc_err(C, e, "choice needs the input of a net template");
        return kv_none();
    }
    int32_t ins[KD_MAXIN];
    int K = 0;
    const kdr_node *tau_e = NULL;
    for (const kdr_node *a = e->kids; a; a = a->next) {
        if (a->name) {
            if (strcmp(a->name, "tau") == 0) { tau_e = a->a; continue; }
            if (strcmp(a->name, "cost") == 0) {
                cc_unsupported(C, "choice(cost: ...) is not in this build yet");
                return kv_none();
            }
            cc_err(C, a, "choice has no argument '%s'", a->name);
            return kv_none();
        }
        if (K == op->max_inputs - 1) {
            cc_err(C, a, "choice takes at most %d candidates", op->max_inputs - 1);
            return kv_none();
        }
        const kdr_node *x = a->a;
        kv v = kv_none();
        const kdr_builtin *cb = x->kind == KDR_CALL && x->a->kind == KDR_IDENT
                                ? kdr_builtin_find(x->a->name, KDR_CTX_NET) : NULL;
        if (cb && (cb->flags & KDR_B_TENSOR_IN)) v = cc_call_op(C, F, x, cb, 1);
        else if (x->kind == KDR_CALL && x->a->kind == KDR_IDENT &&
                 kd_program_decl(C->p, KDR_NET, x->a->name, NULL)) {
            cc_unsupported(C, "a net template as a candidate of choice is not in this build yet");
            return kv_none();
        } else v = cc_eval(C, F, x, NULL);
        if (STOP(C)) return kv_none();
        if (v.k != KV_TENSOR) {
            cc_err(C, x, "a candidate of choice must be an op or a tensor, got %s", cc_kind_name(v.k));
            return kv_none();
        }
        ins[1 + K++] = v.t;
    }
    if (K == 0) { cc_err(C, e, "choice needs at least one candidate"); return kv_none(); }
    /* the temperature: a weight schedule is evaluated as in a loss */
    kv tau = kv_num(1);
    if (tau_e) {
        frame T = *F;
        T.phase = 1;
        tau = cc_eval(C, &T, tau_e, NULL);
        if (STOP(C)) return kv_none();
    }
    if (tau.k == KV_NUM) {
        if (!(tau.num > 0)) { cc_err(C, tau_e, "choice: tau must be > 0, got %g", tau.num); return kv_none(); }
        float v = (float)tau.num;
        ins[0] = kd_graph_add_const(C->g, cc_str(C, "%s.tau%d", F->path, C->g->nconsts), &v, 1, 1);
        if (ins[0] < 0) { cc_err(C, e, "choice: too many constants in one graph"); return kv_none(); }
    } else if (tau.k == KV_TENSOR && C->g->nodes[tau.t].shape.ndim == 0) {
        ins[0] = tau.t;
    } else {
        cc_err(C, tau_e, "choice: tau must be a number or a schedule, got %s", cc_kind_name(tau.k));
        return kv_none();
    }
    kd_attr_val av[KD_MAXATTR];
    memset(av, 0, sizeof av);
    kd_attrs_default(op, av);
    int32_t t = cc_add_op(C, F, e, op, ins, K + 1, av, "choice");
    return t < 0 ? kv_none() : kv_tensor(t);
}

/* ---- names of a search at phase level: agg[1], t2s ----------------------------------
 *
 * `search S { for s in 1..3 { agg[s] = aggregate(...) }  bridge b = expr }`:
 * a phase-level name that no frame binds is looked up in the searches.
 * The body of S (its statements other than bridges) is compiled once per
 * graph, in a phase frame whose path is S (its tensors are named
 * "S.agg[1]", the aggregates' alphas "S.aggregate0.alpha", ...: the same
 * names in every phase, so a later phase finds them in the store); a
 * bridge is compiled once, on first use, and named "S.b". */

/* does statement list s assign `base` or base[...]? */
static int assigns(const kdr_node *s, const char *base, int depth)
{
    for (; s && depth < 64; s = s->next) {
        if (s->kind == KDR_ASSIGN && s->a) {
            const kdr_node *t = s->a->kind == KDR_INDEX ? s->a->a : s->a;
            if (t && t->kind == KDR_IDENT && strcmp(t->name, base) == 0) return 1;
        }
        if ((s->kind == KDR_FOR || s->kind == KDR_IF) && assigns(s->kids, base, depth + 1)) return 1;
        if (s->kind == KDR_IF && s->b && assigns(s->b->kind == KDR_BLOCK ? s->b->kids : s->b, base, depth + 1))
            return 1;
    }
    return 0;
}

static int search_body(cc *C, frame *F, const kdr_node *S)
{
    const char *mark = cc_str(C, "%s.#body", S->name);
    if (kd_graph_find(C->g, mark) >= 0) return 0;
    frame B;
    memset(&B, 0, sizeof B);
    B.path = S->name;
    B.phase = 1;
    B.label = F->label;
    const kdr_unit *saved = C->unit;
    C->unit = kd_program_unit_of(C->p, S);
    for (const kdr_node *k = S->kids; k && !STOP(C); k = k->next) {
        if (k->kind == KDR_SETTING) continue;      /* bridges: on use */
        kdr_node one = *k;
        one.next = NULL;
        cc_exec_stmts(C, &B, &one);
    }
    C->unit = saved;
    if (STOP(C)) return -1;
    if (C->g->nnodes > 0) kd_graph_name(C->g, mark, 0);
    return 0;
}

kv cc_search_name(cc *C, frame *F, const char *key, const kdr_node *at)
{
    if (!F->phase) return kv_none();
    char base[256];
    snprintf(base, sizeof base, "%s", key);
    char *br = strchr(base, '[');
    if (br) *br = 0;
    for (size_t u = 0; u < C->p->nunits; u++) {
        const kdr_node *root = C->p->units[u]->root;
        for (const kdr_node *S = root ? root->kids : NULL; S; S = S->next) {
            if (S->kind != KDR_SEARCH || !S->name) continue;
            const char *full = cc_str(C, "%s.%s", S->name, key);
            int32_t t = kd_graph_find(C->g, full);
            if (t >= 0) return kv_tensor(t);
            for (const kdr_node *k = S->kids; k; k = k->next) {
                if (br || k->kind != KDR_SETTING || k->setting != KDR_S_BRIDGE || !k->name ||
                    strcmp(k->name, key) != 0)
                    continue;
                if (search_body(C, F, S)) return kv_none();
                frame B;
                memset(&B, 0, sizeof B);
                B.path = S->name;
                B.phase = 1;
                B.label = F->label;
                const kdr_unit *saved = C->unit;
                C->unit = kd_program_unit_of(C->p, S);
                kv v = cc_eval(C, &B, k->a, NULL);
                C->unit = saved;
                if (STOP(C)) return kv_none();
                if (v.k != KV_TENSOR || C->g->nodes[v.t].shape.ndim != 0) {
                    cc_err(C, k, "bridge '%s' must be a scalar loss", key);
                    return kv_none();
                }
                kd_graph_name(C->g, full, v.t);
                return v;
            }
            if (!assigns(S->kids, base, 0)) continue;
            if (search_body(C, F, S)) return kv_none();
            t = kd_graph_find(C->g, full);
            if (t >= 0) return kv_tensor(t);
            cc_err(C, at, "search '%s' has no tensor '%s'", S->name, key);
            return kv_none();
        }
    }
    return kv_none();
}
