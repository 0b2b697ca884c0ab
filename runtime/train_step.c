/* train_step.c — a phase's optimizer units and steps at run time (see
 * train_step.h for the semantics of one iteration).
 *
 * Units partition the trainable parameters: an architecture weight (the
 * alpha of an aggregate or a choice) belongs to "arch", a weight of a
 * model with its own unit to that unit, every other trainable weight to
 * "weights".  `derive` (in this phase or an earlier one) freezes the
 * alphas of a search (its aggregates keep their softmax weights) or of a
 * searched model (a choice becomes its argmax: alpha = 0 for the chosen
 * candidate, -1e4 for the others, so that softmax gives exactly 1 and 0).
 *
 * The state of several units goes into the store under "#optim/PHASE/UNIT/..."
 * (buffers; the step count and the steps' loss sums as raw bits), which the
 * resumable state saves with the models; a phase with only the "weights"
 * unit keeps the classic optim/ buffers of state.safetensors.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train_step.h"
#include "state.h"
#include "dp.h"

#define DERIVED_OFF (-1e4f)          /* a derived choice's other candidates */

int steps_losses(const plan_phase *P, const kdr_node **losses, const char **owner)
{
    if (P->nsteps == 0 || !P->steps[0].loss) {
        for (int k = 0; k < P->nloss; k++) losses[k] = P->losses[k], owner[k] = P->owner[k];
        return P->nloss;
    }
    for (int k = 0; k < P->nsteps; k++) losses[k] = P->steps[k].loss, owner[k] = P->steps[k].owner;
    return P->nsteps;
}

static int starts_with_dot(const char *s, const char *prefix)
{
    size_t l = strlen(prefix);
    return strncmp(s, prefix, l) == 0 && s[l] == '.';
}

static int model_index(const kd_graph *g, const char *name)
{
    for (int i = 0; i < g->nmodels; i++)
        if (g->model_names[i] && !strcmp(g->model_names[i], name)) return i;
    return -1;
}

/* Is parameter q an architecture weight that `derive NAME` froze? */
static int derived_param(const run *R, const kd_graph *g, const kd_param *q, const char *name)
{
    if (!q->arch) return 0;
    if (kd_program_decl(R->p, KDR_SEARCH, name, NULL)) return q->model < 0 && starts_with_dot(q->name, name);
    int m = model_index(g, name);
    return m >= 0 && q->model == m;
}

int steps_graph(run *R, const kd_plan *PL, int phase, steps_run *S, pgraph *G, const dataset *D)
{
    const plan_phase *P = &PL->phases[phase];
    const kdr_node *losses[PLAN_MAX_STEPS > MAX_MODELS ? PLAN_MAX_STEPS : MAX_MODELS];
    const char *owner[PLAN_MAX_STEPS > MAX_MODELS ? PLAN_MAX_STEPS : MAX_MODELS];
    int nloss = steps_losses(P, losses, owner);
    /* a search's bridges apply models (ts1(agg[1])): compiled there */
    const kdr_node *uses[64];
    int nuses = 0;
    for (size_t u = 0; u < R->p->nunits; u++)
        for (const kdr_node *t = R->p->units[u]->root ? R->p->units[u]->root->kids : NULL; t; t = t->next)
            if (t->kind == KDR_SEARCH && nuses < 64) uses[nuses++] = t;
    G->pg.uses = uses;
    G->pg.nuses = nuses;
    kd_data_shape ds;
    kd_data_set_shape(D, &ds);
    int st = kd_phase_graph_build(&G->pg, R->p, &ds, losses, owner, nloss, P->unit, P->name, R->d);
    G->pg.uses = NULL;
    G->pg.nuses = 0;
    if (st) { if (!R->status) R->status = st; return -1; }
    kd_graph *g = G->pg.g;
    S->ns = P->nsteps;
    for (int k = 0; k < P->nsteps; k++) {
        S->s[k].cfg = &P->steps[k];
        S->s[k].loss = P->steps[k].loss ? G->pg.loss_node[k] : G->pg.loss;
        S->s[k].stream = -1;
    }
    /* what `derive` froze, here or before */
    for (int i = 0; i <= phase; i++)
        for (int k = 0; k < PL->phases[i].nderive; k++)
            for (int32_t j = 0; j < g->nparams; j++)
                if (derived_param(R, g, &g->params[j], PL->phases[i].derive[k])) g->params[j].trainable = 0;
    int32_t roots[PLAN_MAX_STEPS + KD_PG_MAX_TERMS + KD_PG_MAX_MODELS];
    int nroots = 0;
    for (int k = 0; k < S->ns; k++) {
        int dup = 0;
        for (int j = 0; j < nroots; j++) dup |= roots[j] == S->s[k].loss;
        if (!dup) roots[nroots++] = S->s[k].loss;
    }
    for (int k = 0; k < G->pg.nterms; k++) roots[nroots++] = G->pg.terms[k];
    for (int i = 0; i < G->pg.nm; i++)
        if (G->pg.m[i].out >= 0) roots[nroots++] = G->pg.m[i].out;
    char err[512];
    G->e = kd_exec_new(g, roots, nroots, R->o->nthreads, err, sizeof err);
    if (!G->e) return run_fail(R, KD_RUN_FAILED, NULL, "%s", err);
    return 0;
}

/* ---- derive -------------------------------------------------------------------------- */

static int mixture_k(const kd_node *n) { return n->ndata - n->op->first_candidate; }

static int32_t mixture_alpha(const kd_node *n) { return n->in[n->ndata]; }

static void softmax(const float *a, int K, double *w)
{
    double mx = a[0], s = 0;
    for (int k = 1; k < K; k++) mx = a[k] > mx ? a[k] : mx;
    for (int k = 0; k < K; k++) s += (w[k] = exp((double)a[k] - mx));
    for (int k = 0; k < K; k++) w[k] /= s;
}

/* a mixture's name: its tensor's ("dfa.agg[1]"), else its alpha's path */
static void mixture_name(const kd_graph *g, const kd_node *n, char *buf, size_t len)
{
    if (n->name) { snprintf(buf, len, "%s", n->name); return; }
    const char *a = g->params[mixture_alpha(n)].name;
    size_t l = strlen(a);
    if (l > 6 && !strcmp(a + l - 6, ".alpha")) l -= 6;
    snprintf(buf, len, "%.*s", (int)(l < len ? l : len - 1), a);
}

static int is_mixture(const kd_node *n)
{
    return n->kind == KD_NODE_OP && n->op && n->op->mixture && !n->clone_of && n->op->nparams == 1;
}

/* `derive NAME` at the start of phase P: print the weights, a choice
 * becomes its argmax (in the graph and the store). */
static int derive_one(run *R, const plan_phase *P, pgraph *G, const char *name, const kdr_node *at)
{
    kd_graph *g = G->pg.g;
    float *par = kd_exec_params(G->e);
    int found = 0;
    for (int32_t i = 0; i < g->nnodes; i++) {
        const kd_node *n = &g->nodes[i];
        if (!is_mixture(n)) continue;
        const kd_param *q = &g->params[mixture_alpha(n)];
        if (!derived_param(R, g, q, name)) continue;
        found++;
        if (!run_store_find(R, q->name)) {
            R->unit = P->unit;
            return run_fail(R, KD_RUN_RECIPE, at, "derive %s: its architecture weights (%s) were not trained "
                            "before phase '%s'", name, q->name, P->name);
        }
        int K = mixture_k(n);
        float *a = par + q->offset;
        double w[16];
        char nm[200];
        softmax(a, K, w);
        mixture_name(g, n, nm, sizeof nm);
        if (!strcmp(n->op->name, "choice")) {
            int best = 0;
            for (int k = 1; k < K; k++) if (a[k] > a[best]) best = k;
            for (int k = 0; k < K; k++) a[k] = k == best ? 0.0f : DERIVED_OFF;
            if (run_store_put(R, q->name, a, K)) return run_fail(R, KD_RUN_FAILED, NULL, "out of memory");
            if (!R->o->quiet)
                fprintf(stderr, "derive %s: %s = candidate %d of %d (weight %.4f)\n", name, nm, best + 1, K, w[best]);
            continue;
        }
        if (!R->o->quiet) {
            fprintf(stderr, "derive %s: %s = softmax(alpha) [", name, nm);
            for (int k = 0; k < K; k++) fprintf(stderr, "%s%.4f", k ? ", " : "", w[k]);
            fprintf(stderr, "]\n");
        }
    }
    if (!found) {
        R->unit = P->unit;
        return run_fail(R, KD_RUN_RECIPE, at, "derive %s: phase '%s' uses none of its aggregates or choices",
                        name, P->name);
    }
    return 0;
}

/* ---- units and streams --------------------------------------------------------------- */

static size_t param_numel(const kd_param *p)
{
    size_t count = 1;
    if (p->shape.ndim > 0)
        for (int k = 0; k < p->shape.ndim; k++) count *= (size_t)p->shape.dims[k];
    else if (p->shape.ndim < 0)
        count = 0;
    return count;
}

static int build_units(run *R, const plan_phase *P, steps_run *S, pgraph *G)
{
    kd_graph *g = G->pg.g;
    int midx[PLAN_MAX_UNITS];
    S->nu = P->nunits;
    for (int u = 0; u < P->nunits; u++) {
        S->u[u].cfg = &P->units[u];
        midx[u] = u >= 2 ? model_index(g, P->units[u].name) : -1;
    }
    kd_range *r = malloc(sizeof *r * (size_t)(g->nparams > 0 ? g->nparams : 1));
    int *of = malloc(sizeof *of * (size_t)(g->nparams > 0 ? g->nparams : 1));
    if (!r || !of) { free(r), free(of); return run_fail(R, KD_RUN_FAILED, NULL, "out of memory"); }
    for (int32_t i = 0; i < g->nparams; i++) {
        const kd_param *q = &g->params[i];
        of[i] = -1;
        if (!q->trainable) continue;
        of[i] = q->arch ? 1 : 0;
        for (int u = 2; !q->arch && u < P->nunits; u++)
            if (midx[u] >= 0 && q->model == midx[u]) of[i] = u;
    }
    int rc = 0;
    /* each step's backward covers its units' parameters only (the weights
     * step of a search computes no gradient of alpha, the arch step none of
     * the weights): NULL when the step has every trainable parameter */
    for (int k = 0; k < S->ns && !rc; k++) {
        const plan_step *c = S->s[k].cfg;
        int all = 1;
        uint8_t *in = calloc((size_t)(g->nparams > 0 ? g->nparams : 1), 1);
        if (!in) { rc = -1; break; }
        for (int32_t i = 0; i < g->nparams; i++) {
            for (int j = 0; of[i] >= 0 && j < c->nunits; j++) in[i] |= c->units[j] == of[i];
            if (of[i] >= 0 && !in[i]) all = 0;
        }
        if (all) free(in);
        else S->s[k].group = in;
    }
    for (int u = 0; u < S->nu && !rc; u++) {
        size_t n = 0;
        for (int32_t i = 0; i < g->nparams; i++)
            if (of[i] == u) r[n].offset = g->params[i].offset, r[n].count = param_numel(&g->params[i]), n++;
        if (kd_param_group_from_ranges(&S->u[u].grp, r, n, R->d)) rc = -1;
        else if (!(S->u[u].opt = kd_optim_new(&P->units[u].optim, &S->u[u].grp, R->d))) rc = -1;
    }
    free(r), free(of);
    if (rc) { if (!R->status) R->status = KD_RUN_FAILED; return -1; }
    R->unit = P->unit;
    for (int u = 0; u < S->nu; u++) {
        int covered = 0;
        for (int k = 0; k < S->ns; k++)
            for (int j = 0; j < S->s[k].cfg->nunits; j++) covered |= S->s[k].cfg->units[j] == u;
        if (!S->u[u].grp.total || covered) continue;
        char who[300] = "";       /* the models whose weights are left out */
        for (int i = 0; u == 0 && i < G->pg.nm; i++) {
            int own = 0;
            for (int v = 2; v < P->nunits; v++) own |= !strcmp(P->units[v].name, G->pg.m[i].name);
            size_t o = strlen(who);
            if (G->pg.m[i].trained && !own && o < sizeof who - 1)
                snprintf(who + o, sizeof who - o, "%s'%s'", o ? ", " : " of ", G->pg.m[i].name);
        }
        return run_fail(R, KD_RUN_RECIPE, P->node, "phase '%s': no step updates the %s%s%s (add it to a step "
                        "of 'alternate', or give it a loss)", P->name, u == 1 ? "architecture weights" :
                        u == 0 ? "weights" : "weights of model ", u >= 2 ? P->units[u].name : "", who);
    }
    for (int k = 0; k < S->ns; k++) {
        size_t total = 0;
        for (int j = 0; j < S->s[k].cfg->nunits; j++) total += S->u[S->s[k].cfg->units[j]].grp.total;
        if (!total)
            return run_fail(R, KD_RUN_RECIPE, S->s[k].cfg->at, "this step trains no parameter (%s)%s",
                            S->s[k].cfg->label, strstr(S->s[k].cfg->label, "arch") ?
                            ": no aggregate or choice of this phase has architecture weights to train" : "");
    }
    S->classic = 1;
    for (int u = 1; u < S->nu; u++) if (S->u[u].grp.total) S->classic = 0;
    return 0;
}

/* a step on another split than the phase's: its stream, positioned after
 * `taken` batches */
static int start_streams(run *R, const plan_phase *P, steps_run *S, pgraph *G, const dataset *phase_data,
                         int64_t taken, int64_t phase_steps)
{
    char err[1024];
    for (int k = 0; k < S->ns; k++) {
        const plan_step *c = S->s[k].cfg;
        if (!c->data || (!strcmp(c->data, P->data) && !strcmp(c->split, P->split))) continue;
        int f = -1;
        for (int j = 0; j < S->nst; j++)
            if (!strcmp(S->st[j].data, c->data) && !strcmp(S->st[j].split, c->split)) f = j;
        if (f >= 0) { S->s[k].stream = f; continue; }
        stream_run *sr = &S->st[S->nst];
        memset(sr, 0, sizeof *sr);
        sr->data = c->data;
        sr->split = c->split;
        R->unit = P->unit;
        if (!(sr->D = run_data_split(R, c->data, c->split, c->data_at))) return -1;
        R->unit = P->unit;
        kd_data_shape a, b;
        kd_data_set_shape(sr->D, &a);
        kd_data_set_shape(phase_data, &b);
        if (!kd_shape_eq(&a.x, &b.x) || a.classes != b.classes) {
            char sa[96], sb[96];
            return run_fail(R, KD_RUN_RECIPE, c->data_at, "%s.%s has samples of shape %s (%lld classes), the "
                            "phase's data %s (%lld): a step's data must fit the phase's graph", c->data, c->split,
                            kd_shape_str(&a.x, sa, sizeof sa), (long long)a.classes,
                            kd_shape_str(&b.x, sb, sizeof sb), (long long)b.classes);
        }
        kd_loader_cfg lc;
        run_loader_cfg(sr->D, c->split, P->batch, (uint64_t)P->seed, 1, &lc);
        kd_loader *probe = NULL;
        if (kd_loader_new(&lc, &probe, err, sizeof err) == KD_DATA_OK) sr->steps = kd_loader_steps(probe);
        kd_loader_free(probe);
        if (sr->steps < 1)
            return run_fail(R, KD_RUN_DATA, c->data_at, "split '%s' has fewer samples than one batch (%lld)",
                            c->split, (long long)P->batch);
        int64_t e0 = taken / sr->steps, skip = taken % sr->steps;
        int64_t e1 = e0 + (P->epochs * phase_steps) / sr->steps + 2;
        if (kd_batcher_start(&lc, e0, e1, &sr->bt, err, sizeof err) != KD_DATA_OK)
            return run_fail(R, KD_RUN_DATA, c->data_at, "%s", err);
        if (tcache_start(R, P, G, &lc, c->data, &S->tc[1 + S->nst])) return -1;
        S->s[k].stream = S->nst++;
        for (int64_t i = 0; i < skip; i++) {
            const kd_batch *b;
            if (kd_batcher_next(sr->bt, &b, err, sizeof err) <= 0)
                return run_fail(R, KD_RUN_DATA, c->data_at, "%s", err[0] ? err : "the stream ended early");
        }
    }
    return 0;
}

int steps_start(run *R, const plan_phase *P, steps_run *S, pgraph *G, const dataset *D,
                const kd_loader_cfg *lc, int resuming, int64_t ep0, int64_t st0, int64_t steps)
{
    for (int k = 0; k < P->nderive; k++)
        if (derive_one(R, P, G, P->derive[k], P->derive_at[k])) return -1;
    if (build_units(R, P, S, G)) return -1;
    if (resuming && steps_state_get(R, P, S)) return -1;
    if (tcache_start(R, P, G, lc, P->data, &S->tc[0])) return -1;
    return start_streams(R, P, S, G, D, ep0 * steps + st0, steps);
}

/* ---- one iteration --------------------------------------------------------------------- */

static void weight_set(pgraph *G, const kd_weight_sched *ws, int64_t ep)
{
    for (int i = 0; i < G->pg.g->nwsched; i++) {
        float *x = kd_exec_input(G->e, G->pg.g->wsched[i].node);
        if (x) x[0] = (float)kd_weight_at(&ws[i], ep);
    }
}

/* The loss is NaN or infinite: name its first term that is, where it is written. */
static void loss_not_finite(run *R, const plan_phase *P, pgraph *G, const step_run *s, double l,
                            int64_t ep, int64_t st)
{
    R->unit = P->unit;
    kdr_node term;
    memset(&term, 0, sizeof term);
    const char *tname = NULL;
    for (int k = 0; k < G->pg.nterms && !tname; k++) {
        const float *v = kd_exec_value(G->e, G->pg.terms[k]);
        if (!v || isfinite(v[0])) continue;
        const kd_node *n = &G->pg.g->nodes[G->pg.terms[k]];
        tname = n->op->name;
        term.beg = n->beg;
        term.end = n->end;
    }
    const char *what = isnan(l) ? "NaN" : "infinite";
    if (tname)
        run_fail(R, KD_RUN_FAILED, &term, "the loss is %s in phase '%s', epoch %lld, step %lld: "
                 "the first term that is not finite is this %s", what, P->name, (long long)ep + 1,
                 (long long)st + 1, tname);
    else
        run_fail(R, KD_RUN_FAILED, s->cfg->at ? s->cfg->at : P->loss, "the loss is %s in phase '%s', "
                 "epoch %lld, step %lld", what, P->name, (long long)ep + 1, (long long)st + 1);
}

int steps_iterate(run *R, const plan_phase *P, steps_run *S, pgraph *G, const kd_batch *b,
                  const kd_weight_sched *ws, int64_t ep, int64_t st, int64_t steps, double *loss)
{
    float *params = kd_exec_params(G->e);
    const float *grads = kd_exec_grads(G->e);
    char err[1024];
    double total = 0;
    for (int k = 0; k < S->ns; k++) {
        step_run *s = &S->s[k];
        const kd_batch *bb = b;
        if (s->stream >= 0) {
            int got = kd_batcher_next(S->st[s->stream].bt, &bb, err, sizeof err);
            if (got <= 0) return run_fail(R, KD_RUN_DATA, NULL, "%s", got < 0 ? err : "a data stream ended early");
        }
        kd_batch slice;
        const kd_batch *in = kd_dp_slice(R, bb, &slice);
        pgraph_feed(G, in);
        tcache_arm(G, &S->tc[s->stream + 1], in);
        weight_set(G, ws, ep);
        kd_exec_zero_grad(G->e);
        if (s->group ? kd_exec_forward_for(G->e, 1, s->loss, s->group) : kd_exec_forward(G->e, 1))
            return run_fail(R, KD_RUN_FAILED, NULL, "forward pass failed");
        double l = kd_exec_value(G->e, s->loss)[0];
        if (!isfinite(l)) { loss_not_finite(R, P, G, s, l, ep, st); return -1; }
        if (s->group ? kd_exec_backward_group(G->e, s->loss, s->group) : kd_exec_backward(G->e, s->loss))
            return run_fail(R, KD_RUN_FAILED, NULL, "backward pass failed");
        if (kd_dp_reduce(R, kd_exec_grads(G->e), G->pg.g->param_count, &l))
            return run_fail(R, KD_RUN_FAILED, NULL, "summing the gradients over the ranks failed");
        for (int j = 0; j < s->cfg->nunits; j++) {
            unit_run *u = &S->u[s->cfg->units[j]];
            if (!u->grp.total) continue;
            double base = s->cfg->lr > 0 ? s->cfg->lr : u->cfg->optim.lr;   /* a step's `lr` */
            kd_optim_step(u->opt, params, grads, kd_lr_at(&u->cfg->lr, base, ep, st, steps));
        }
        s->sum += l;
        s->n++;
        total += l;
    }
    *loss = total;
    return 0;
}

/* ---- the state of several units ------------------------------------------------------------ */

/* raw bytes in the store as floats (bit patterns kept: the store and the
 * state file copy bytes) */
static int put_bits(run *R, const char *key, const void *v, size_t bytes)
{
    float buf[64];
    size_t n = (bytes + sizeof(float) - 1) / sizeof(float);
    if (n > 64) return -1;
    memset(buf, 0, sizeof buf);
    memcpy(buf, v, bytes);
    return run_store_put(R, key, buf, (int64_t)n);
}

static int get_bits(run *R, const char *key, void *v, size_t bytes)
{
    stored *s = run_store_find(R, key);
    if (!s || (size_t)s->n * sizeof(float) < bytes) return -1;
    memcpy(v, s->v, bytes);
    return 0;
}

kd_optim *steps_state_put(run *R, const plan_phase *P, steps_run *S)
{
    if (S->classic) return S->u[0].opt;
    char key[400];
    for (int u = 0; u < S->nu; u++) {
        kd_optim *o = S->u[u].opt;
        if (!o || !S->u[u].grp.total) continue;
        for (int i = 0; i < kd_optim_nstate(o); i++) {
            const char *bn = NULL;
            float *buf = kd_optim_state(o, i, &bn);
            snprintf(key, sizeof key, "#optim/%s/%s/%s", P->name, S->u[u].cfg->name, bn ? bn : "buf");
            if (run_store_put(R, key, buf, (int64_t)S->u[u].grp.total)) goto oom;
        }
        int64_t t = kd_optim_steps(o);
        snprintf(key, sizeof key, "#optim/%s/%s/steps", P->name, S->u[u].cfg->name);
        if (put_bits(R, key, &t, sizeof t)) goto oom;
    }
    for (int k = 0; k < S->ns; k++) {
        struct { double sum; int64_t n; } v = { S->s[k].sum, S->s[k].n };
        snprintf(key, sizeof key, "#steps/%s/%d", P->name, k);
        if (put_bits(R, key, &v, sizeof v)) goto oom;
    }
    return NULL;
oom:
    run_fail(R, KD_RUN_FAILED, NULL, "out of memory");
    return NULL;
}

int steps_state_get(run *R, const plan_phase *P, steps_run *S)
{
    if (S->classic) return state_resume_optimizer(R, S->u[0].opt);
    char key[400];
    int started = R->resume_epoch > 0 || R->resume_step > 0;
    for (int u = 0; u < S->nu; u++) {
        kd_optim *o = S->u[u].opt;
        if (!o || !S->u[u].grp.total) continue;
        int64_t t = 0;
        snprintf(key, sizeof key, "#optim/%s/%s/steps", P->name, S->u[u].cfg->name);
        if (get_bits(R, key, &t, sizeof t)) {
            if (!started) continue;
            return run_fail(R, KD_RUN_FAILED, NULL, "the saved state has no optimizer state of group '%s' "
                            "in phase '%s'", S->u[u].cfg->name, P->name);
        }
        for (int i = 0; i < kd_optim_nstate(o); i++) {
            const char *bn = NULL;
            float *buf = kd_optim_state(o, i, &bn);
            snprintf(key, sizeof key, "#optim/%s/%s/%s", P->name, S->u[u].cfg->name, bn ? bn : "buf");
            stored *s = run_store_find(R, key);
            if (!s || s->n != (int64_t)S->u[u].grp.total)
                return run_fail(R, KD_RUN_FAILED, NULL, "the saved optimizer buffer '%s' is missing or has "
                                "another size", key);
            memcpy(buf, s->v, (size_t)s->n * sizeof(float));
        }
        kd_optim_set_steps(o, t);
    }
    if (R->resume_step > 0)
        for (int k = 0; k < S->ns; k++) {
            struct { double sum; int64_t n; } v = { 0, 0 };
            snprintf(key, sizeof key, "#steps/%s/%d", P->name, k);
            if (get_bits(R, key, &v, sizeof v) == 0) S->s[k].sum = v.sum, S->s[k].n = v.n;
        }
    return 0;
}

/* ---- rows ------------------------------------------------------------------------------------ */

void steps_epoch_rows(run *R, const plan_phase *P, steps_run *S, pgraph *G, int64_t epoch)
{
    char what[200];
    for (int k = 0; S->ns > 1 && k < S->ns; k++) {
        snprintf(what, sizeof what, "train loss (%s)", S->s[k].cfg->label);
        run_add_row(R, P->name, epoch, what, S->s[k].n ? S->s[k].sum / (double)S->s[k].n : 0);
    }
    /* a step with its own `lr`: the lr its first group started the epoch with */
    for (int k = 0; k < S->ns; k++) {
        const plan_step *c = S->s[k].cfg;
        if (!(c->lr > 0) || c->nunits < 1) continue;
        snprintf(what, sizeof what, "lr (%s)", c->label);
        run_add_row(R, P->name, epoch, what, kd_lr_at(&S->u[c->units[0]].cfg->lr, c->lr, epoch - 1, 0, 1));
    }
    for (int k = 0; k < S->ns; k++) S->s[k].sum = 0, S->s[k].n = 0;
    const kd_graph *g = G->pg.g;
    const float *par = kd_exec_params(G->e);
    for (int32_t i = 0; i < g->nnodes; i++) {
        const kd_node *n = &g->nodes[i];
        if (!is_mixture(n) || !kd_exec_is_live(G->e, i)) continue;
        const kd_param *q = &g->params[mixture_alpha(n)];
        if (!q->trainable) continue;
        int K = mixture_k(n);
        double w[16];
        char nm[150];
        softmax(par + q->offset, K, w);
        mixture_name(g, n, nm, sizeof nm);
        for (int k = 0; k < K; k++) {
            snprintf(what, sizeof what, "%s softmax(alpha)[%d]", nm, k + 1);
            run_add_row(R, P->name, epoch, what, w[k]);
        }
    }
}

void steps_lr_text(const steps_run *S, const plan_phase *P, int64_t ep, int64_t steps, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = 0;
    if (S->classic) {
        snprintf(buf, len, "lr %.4g", kd_lr_at(&P->lr, P->optim.lr, ep, 0, steps));
        return;
    }
    for (int u = 0; u < S->nu && o < len; u++) {
        if (!S->u[u].grp.total) continue;
        int n = snprintf(buf + o, len - o, "%slr %s %.4g", o ? "  " : "", S->u[u].cfg->name,
                         kd_lr_at(&S->u[u].cfg->lr, S->u[u].cfg->optim.lr, ep, 0, steps));
        if (n > 0) o += (size_t)n;
    }
}

int steps_cache_epoch(run *R, steps_run *S, pgraph *G)
{
    for (int k = 0; k <= S->nst; k++)
        if (tcache_epoch(R, G, &S->tc[k])) return -1;
    return 0;
}

void steps_cache_finish(run *R, steps_run *S)
{
    for (int k = 0; k <= S->nst; k++) tcache_finish(R, &S->tc[k]);
}

void steps_free(steps_run *S)
{
    for (int k = 0; k <= PLAN_MAX_STEPS; k++) tcache_free(&S->tc[k]);
    for (int j = 0; j < S->nst; j++) kd_batcher_stop(S->st[j].bt);
    for (int k = 0; k < S->ns; k++) free(S->s[k].group);
    for (int u = 0; u < S->nu; u++) {
        kd_optim_free(S->u[u].opt);
        kd_param_group_free(&S->u[u].grp);
    }
    memset(S, 0, sizeof *S);
}
