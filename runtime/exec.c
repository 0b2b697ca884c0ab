/* exec.c — the executor: decisions at creation, then allocation-free steps.
 *
 * Schedule.  Steps 0..F-1 are the live op nodes in creation order (a
 * topological order); steps F..F+B-1 the backward of the nodes that need
 * it, in reverse.  Every buffer of the activation arena gets a lifetime in
 * these steps (see plan_lifetimes) and plan_mem.c assigns offsets.
 * Backward from one loss runs the subset of the planned backward steps
 * upstream of that loss, in the same order, so every buffer is used inside
 * its planned lifetime.
 *
 * Gradient buffers are zeroed just before the first backward step that
 * writes into them (kernels ADD into grad_in), the loss gradient is set
 * to 1.  Parameter gradients go straight into the flat gradient buffer at
 * kd_param.offset and accumulate until kd_exec_zero_grad.
 *
 * Per-node kd_op_ctx are built once; a step only sets training/step.
 */
#define _GNU_SOURCE 1   /* sched_getaffinity, CPU_COUNT */
#include <sched.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <cblas.h>

#include "exec.h"
#include "exec_fold.h"

#include "exec_int.h"
#include "exec_cache.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- small helpers -------------------------------------------------------- */

static void *alloc_aligned(size_t bytes)
{
    size_t n = (bytes + KD_ALIGN - 1) / KD_ALIGN * KD_ALIGN;
    if (n == 0) n = KD_ALIGN;
    void *p = aligned_alloc(KD_ALIGN, n);
    if (p) memset(p, 0, n);       /* pre-fault: no first-touch fault inside a step */
    return p;
}

static size_t numel(const kd_shape *s)
{
    int64_t k = kd_shape_numel(s);
    return k > 0 ? (size_t)k : 0;
}

static int grad_slot(const kd_node *nd, int i)
{
    return i < 32 ? !((nd->op->nograd >> i) & 1u) : 1;
}

static int bad(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* ---- decisions ------------------------------------------------------------ */

/* needs[i] = 1 for the live op nodes with a trainable parameter upstream
 * through gradient slots (with in_group, a parameter of the group); needs[]
 * zeroed by the caller */
static void mark_needs(const kd_exec *e, const uint8_t *in_group, uint8_t *needs)
{
    const kd_graph *g = e->g;
    for (int32_t i = 0; i < g->nnodes; i++) {
        const kd_node *nd = &g->nodes[i];
        if (!e->live[i] || nd->kind != KD_NODE_OP) continue;
        int need = 0;
        for (int k = 0; k < nd->ndata; k++)
            if (grad_slot(nd, k) && needs[nd->in[k]]) need = 1;
        for (int k = nd->ndata; k < nd->ndata + nd->op->nparams; k++) {
            int32_t p = nd->in[k];
            if (p >= 0 && g->params[p].trainable && (!in_group || in_group[p])) need = 1;
        }
        needs[i] = (uint8_t)need;
    }
}

/* The backward steps from loss L: L and every node that needs[] a
 * gradient and feeds one of them through a gradient slot, in reverse
 * creation order (sub[] marks them); a gradient buffer is zeroed before its
 * first writer runs (the loss gradient is set to 1 instead).  With
 * in_group (a parameter subset), each step also gets the grad_in slots it
 * keeps: the data inputs that need[] a gradient and the trainable
 * parameters in the group; the others are left NULL while it runs. */
static int build_broot(kd_exec *e, int32_t L, const uint8_t *needs, const uint8_t *in_group,
                       uint8_t *sub, uint8_t *zeroed, broot *b)
{
    kd_graph *g = e->g;
    int32_t n = g->nnodes;
    memset(sub, 0, (size_t)n);
    sub[L] = 1;
    int cnt = 0;
    for (int32_t i = L; i >= 0; i--) {
        if (!sub[i]) continue;
        cnt++;
        kd_node *nd = &g->nodes[i];
        for (int k = 0; k < nd->ndata; k++)
            if (grad_slot(nd, k) && needs[nd->in[k]]) sub[nd->in[k]] = 1;
    }
    memset(b, 0, sizeof *b);
    b->node = L;
    b->steps = malloc((size_t)cnt * sizeof *b->steps);
    b->zstart = malloc((size_t)(cnt + 1) * sizeof *b->zstart);
    b->zlist = malloc((size_t)(cnt * KD_MAXIN + 1) * sizeof *b->zlist);
    if (in_group) {
        b->slots = malloc((size_t)cnt * sizeof *b->slots);
        b->group = malloc((size_t)(g->nparams > 0 ? g->nparams : 1));
    }
    if (!b->steps || !b->zstart || !b->zlist || (in_group && (!b->slots || !b->group))) return -1;
    if (in_group) memcpy(b->group, in_group, (size_t)g->nparams);
    memset(zeroed, 0, (size_t)n);
    zeroed[L] = 1;
    int s = 0, z = 0;
    for (int32_t i = L; i >= 0; i--) {
        if (!sub[i]) continue;
        b->steps[s] = i;
        b->zstart[s] = z;
        kd_node *nd = &g->nodes[i];
        uint32_t keep = 0;
        for (int k = 0; k < nd->ndata; k++) {
            int32_t m = nd->in[k];
            if (!grad_slot(nd, k) || !needs[m]) continue;
            keep |= 1u << k;
            if (zeroed[m]) continue;
            b->zlist[z++] = m;
            zeroed[m] = 1;
        }
        for (int k = nd->ndata; in_group && k < nd->ndata + nd->op->nparams; k++) {
            int32_t p = nd->in[k];
            if (p >= 0 && g->params[p].trainable && in_group[p]) keep |= 1u << k;
        }
        if (in_group) b->slots[s] = keep;
        s++;
    }
    b->nsteps = s;
    b->zstart[s] = z;
    if (in_group) {
        b->inb = calloc((size_t)n, 1);
        if (!b->inb) return -1;
        for (int k = 0; k < s; k++) b->inb[b->steps[k]] = 1;
    }
    return 0;
}

static int decide(kd_exec *e, const int32_t *roots, int nroots, char *err, size_t errlen)
{
    kd_graph *g = e->g;
    int32_t n = g->nnodes;
    for (int r = 0; r < nroots; r++) {
        if (roots[r] < 0 || roots[r] >= n)
            return bad(err, errlen, "root %ld is not a node", (long)roots[r]);
        e->is_root[roots[r]] = 1;
        e->live[roots[r]] = 1;
    }
    for (int32_t i = n - 1; i >= 0; i--) {
        kd_node *nd = &g->nodes[i];
        if (!e->live[i] || nd->kind != KD_NODE_OP) continue;
        if (!nd->op) return bad(err, errlen, "node %ld has no op", (long)i);
        for (int k = 0; k < nd->ndata; k++) {
            if (nd->in[k] < 0 || nd->in[k] >= i)
                return bad(err, errlen, "node %ld reads a later node", (long)i);
            e->live[nd->in[k]] = 1;
        }
        for (int k = nd->ndata; k < nd->ndata + nd->op->nparams; k++)
            if (nd->in[k] >= g->nparams)
                return bad(err, errlen, "node %ld has a bad parameter id", (long)i);
    }
    /* needs grad: a trainable parameter upstream through gradient slots */
    mark_needs(e, NULL, e->needs_grad);
    for (int32_t i = 0; i < n; i++)
        if (e->needs_grad[i] && !g->nodes[i].op->backward)
            return bad(err, errlen, "op %s (node %ld) has no backward but needs a gradient",
                       g->nodes[i].op->name, (long)i);
    /* forward order */
    e->nfwd = 0;
    for (int32_t i = 0; i < n; i++) {
        e->fstep[i] = -1;
        e->bstep[i] = -1;
        if (e->live[i] && g->nodes[i].kind == KD_NODE_OP) e->fstep[i] = e->nfwd, e->fwd[e->nfwd++] = i;
    }
    /* backward subsets, one per scalar root that needs a gradient: the
     * loss and every node that needs a gradient and feeds one of the
     * subset through a gradient slot */
    uint8_t *sub = calloc((size_t)n, 1), *zeroed = calloc((size_t)n, 1);
    if (!sub || !zeroed) {
        free(sub), free(zeroed);
        return bad(err, errlen, "out of memory");
    }
    e->nbroots = 0;
    for (int r = 0; r < nroots; r++) {
        int32_t L = roots[r];
        if (!e->needs_grad[L] || numel(&g->nodes[L].shape) != 1) continue;
        int dup = 0;
        for (int q = 0; q < e->nbroots; q++) dup |= e->broots[q].node == L;
        if (dup) continue;
        if (build_broot(e, L, e->needs_grad, NULL, sub, zeroed, &e->broots[e->nbroots])) {
            free(sub), free(zeroed);
            return bad(err, errlen, "out of memory");
        }
        e->nbroots++;
        for (int32_t i = 0; i < n; i++) if (sub[i]) e->run_bwd[i] = 1;
    }
    free(sub), free(zeroed);
    /* planned backward order: union, reverse creation order */
    e->nbwd = 0;
    for (int32_t i = n - 1; i >= 0; i--)
        if (e->run_bwd[i]) e->bstep[i] = e->nfwd + e->nbwd, e->bwd[e->nbwd++] = i;
    return 0;
}

/* ---- memory plan ---------------------------------------------------------- */

/* 1 if node nd's backward reads its data input k (k = -1: its output) */
static int bwd_reads(const kd_node *nd, int k)
{
    uint32_t r = nd->kind == KD_NODE_OP && nd->op ? nd->op->bwd_reads : 0;
    if (!(r & KD_BWD_SET)) return 1;
    return k < 0 ? (r & KD_BWD_OUT) != 0 : k < 30 && ((r >> k) & 1u);
}

static int plan_lifetimes(kd_exec *e)
{
    kd_graph *g = e->g;
    int32_t T = e->nfwd + e->nbwd;
    int32_t end = T > 0 ? T - 1 : 0;
    int nb = 0;
    int32_t *vlast = malloc((size_t)e->n * sizeof *vlast);
    int32_t *gfirst = malloc((size_t)e->n * sizeof *gfirst);
    if (!vlast || !gfirst) { free(vlast), free(gfirst); return -1; }
    /* a value lives until its last reader: a forward that reads it, or a
     * backward that reads it (kd_op_def.bwd_reads: by default a backward
     * reads its inputs and its output) */
    for (int32_t i = 0; i < e->n; i++) {
        vlast[i] = e->fstep[i] >= 0 ? e->fstep[i] : 0;
        if (e->bstep[i] >= 0 && bwd_reads(&g->nodes[i], -1)) vlast[i] = e->bstep[i];
        gfirst[i] = e->bstep[i];
    }
    for (int32_t i = 0; i < e->n; i++) {
        if (e->fstep[i] < 0) continue;
        kd_node *nd = &g->nodes[i];
        for (int k = 0; k < nd->ndata; k++) {
            int32_t m = nd->in[k];
            int32_t use = e->bstep[i] >= 0 && bwd_reads(nd, k) ? e->bstep[i] : e->fstep[i];
            if (use > vlast[m]) vlast[m] = use;
            if (e->bstep[i] >= 0 && grad_slot(nd, k) && e->run_bwd[m] && e->bstep[i] < gfirst[m])
                gfirst[m] = e->bstep[i];
        }
    }
    int32_t *vbuf = malloc((size_t)e->n * sizeof *vbuf);   /* node -> its value's plan entry */
    if (!vbuf) { free(vlast), free(gfirst); return -1; }
    for (int32_t i = 0; i < e->n; i++) {
        vbuf[i] = -1;
        if (!e->live[i]) continue;
        kd_node *nd = &g->nodes[i];
        int input = nd->kind == KD_NODE_INPUT;
        int32_t al = kd_fold_alias(e->fold, i);
        if (al >= 0 && vbuf[al] >= 0) {
            /* a fold's relu or add: its value in the conv's buffer, which
             * lives until this value's last reader */
            kd_mem_buf *cb = &e->plan[vbuf[al]];
            int32_t l = e->is_root[i] ? end : vlast[i];
            if (l > cb->last) cb->last = l;
            vbuf[i] = vbuf[al];
            continue;
        }
        vbuf[i] = nb;
        kd_mem_buf *b = &e->plan[nb];
        b->size = numel(&nd->shape) * sizeof(float);
        b->first = input ? 0 : kd_fold_first(e->fold, i, e->fstep[i], e->fstep);
        b->last = (input || e->is_root[i]) ? end : vlast[i];
        b->node = i, b->kind = KD_BUF_VALUE, nb++;
        if (!input && nd->info.saved_floats) {
            b = &e->plan[nb];
            b->size = nd->info.saved_floats * sizeof(float);
            b->first = e->fstep[i];
            b->last = e->bstep[i] >= 0 ? e->bstep[i] : e->fstep[i];
            b->node = i, b->kind = KD_BUF_SAVED, nb++;
        }
        if (e->run_bwd[i]) {
            b = &e->plan[nb];
            b->size = numel(&nd->shape) * sizeof(float);
            b->first = gfirst[i];
            b->last = e->bstep[i];
            b->node = i, b->kind = KD_BUF_GRAD, nb++;
        }
    }
    free(vlast), free(gfirst), free(vbuf);
    return nb;
}

/* ---- creation ---------------------------------------------------------------- */

static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A recomputation of m.with(...) (kd_node.clone_of) uses the op state (bn
 * running statistics) of the node it recomputes, as a module called twice
 * does, when that node runs too; otherwise it keeps its own. */
static int shares_state(const kd_exec *e, int32_t id)
{
    const kd_node *nd = &e->g->nodes[id];
    int32_t o = nd->clone_of - 1;
    return o >= 0 && o < id && e->live[o] && e->g->nodes[o].kind == KD_NODE_OP &&
           e->g->nodes[o].op == nd->op && e->g->nodes[o].info.nstate == nd->info.nstate;
}

/* What kd_exec_new decides before allocating: live nodes, the schedule and
 * the activation arena's plan (e->arena_size); nothing big allocated. */
static kd_exec *exec_plan(kd_graph *g, const int32_t *roots, int nroots, int nthreads,
                          char *err, size_t errlen)
{
    if (err && errlen) err[0] = 0;
    if (!g || !roots || nroots <= 0) {
        if (err) snprintf(err, errlen, "no roots");
        return NULL;
    }
    kd_exec *e = calloc(1, sizeof *e);
    if (!e) goto oom;
    e->g = g;
    e->n = g->nnodes;
    e->nthreads = nthreads < 1 ? 1 : nthreads;
    size_t n = (size_t)(e->n ? e->n : 1);
    e->live = calloc(n, 1);
    e->needs_grad = calloc(n, 1);
    e->run_bwd = calloc(n, 1);
    e->is_root = calloc(n, 1);
    e->fwd = malloc(n * sizeof *e->fwd);
    e->bwd = malloc(n * sizeof *e->bwd);
    e->fstep = malloc(n * sizeof *e->fstep);
    e->bstep = malloc(n * sizeof *e->bstep);
    e->val = calloc(n, sizeof *e->val);
    e->grad = calloc(n, sizeof *e->grad);
    e->saved = calloc(n, sizeof *e->saved);
    e->ctx = calloc(n, sizeof *e->ctx);
    e->broots = calloc((size_t)nroots, sizeof *e->broots);
    e->cap_broots = nroots;
    e->plan = calloc(3 * n, sizeof *e->plan);
    if (!e->live || !e->needs_grad || !e->run_bwd || !e->is_root || !e->fwd || !e->bwd ||
        !e->fstep || !e->bstep || !e->val || !e->grad || !e->saved || !e->ctx ||
        !e->broots || !e->plan)
        goto oom;
    if (decide(e, roots, nroots, err, errlen) != 0) {
        kd_exec_free(e);
        return NULL;
    }
    e->fold = kd_fold_wanted() ? kd_fold_plan(g, e->live, e->run_bwd, e->is_root) : NULL;
    /* the activation arena */
    e->nplan = plan_lifetimes(e);
    if (e->nplan < 0) goto oom;
    e->naive_size = 0;
    for (int i = 0; i < e->nplan; i++)
        e->naive_size += (e->plan[i].size + KD_ALIGN - 1) / KD_ALIGN * KD_ALIGN;
    e->arena_size = kd_plan_mem(e->plan, e->nplan, KD_ALIGN);
    if (e->arena_size == (size_t)-1) goto oom;
    return e;
oom:
    if (err) snprintf(err, errlen, "out of memory");
    kd_exec_free(e);
    return NULL;
}

int kd_exec_plan_bytes(kd_graph *g, const int32_t *roots, int nroots, size_t *arena, size_t *params)
{
    kd_exec *e = exec_plan(g, roots, nroots, 1, NULL, 0);
    if (!e) return -1;
    *arena = e->arena_size;
    *params = g->param_count * sizeof(float);
    kd_exec_free(e);
    return 0;
}

kd_exec *kd_exec_new(kd_graph *g, const int32_t *roots, int nroots, int nthreads,
                     char *err, size_t errlen)
{
    kd_exec *e = exec_plan(g, roots, nroots, nthreads, err, errlen);
    if (!e) return NULL;
    e->arena = alloc_aligned(e->arena_size);
    if (!e->arena) goto oom;
    for (int i = 0; i < e->nplan; i++) {
        float *p = (float *)(void *)(e->arena + e->plan[i].offset);
        int32_t o = e->plan[i].node;
        if (e->plan[i].kind == KD_BUF_VALUE) e->val[o] = p;
        else if (e->plan[i].kind == KD_BUF_SAVED) e->saved[o] = p;
        else e->grad[o] = p;
    }
    for (int32_t i = 0; i < e->n; i++) {   /* a fold's relu or add: in its conv's buffer */
        int32_t al = e->live[i] ? kd_fold_alias(e->fold, i) : -1;
        if (al >= 0) e->val[i] = e->val[al];
    }
    /* parameters, gradients, op state, workspace */
    e->params = alloc_aligned(g->param_count * sizeof(float));
    e->grads = alloc_aligned(g->param_count * sizeof(float));
    e->state_floats = 0;
    for (int32_t f = 0; f < e->nfwd; f++) {
        kd_node *nd = &g->nodes[e->fwd[f]];
        if (shares_state(e, e->fwd[f])) continue;
        for (int s = 0; s < nd->info.nstate; s++) e->state_floats += numel(&nd->info.state_shape[s]);
    }
    e->state_buf = alloc_aligned(e->state_floats * sizeof(float));
    if (!e->params || !e->grads || !e->state_buf) goto oom;
    size_t so = 0;
    e->work_size = 0;
    e->macs_f = e->macs_b = 0;
    for (int32_t f = 0; f < e->nfwd; f++) {
        int32_t id = e->fwd[f];
        kd_node *nd = &g->nodes[id];
        kd_op_ctx *c = &e->ctx[id];
        c->attr = nd->attr;
        c->nin = nd->ndata + nd->op->nparams;
        for (int k = 0; k < c->nin; k++) c->in_shape[k] = nd->in_shape[k];
        for (int k = 0; k < nd->ndata; k++) {
            int32_t m = nd->in[k];
            c->in[k] = e->val[m];
            if (e->run_bwd[id] && grad_slot(nd, k) && e->run_bwd[m]) c->grad_in[k] = e->grad[m];
        }
        int wgrad = 0, xgrad = 0;
        for (int k = nd->ndata; k < c->nin; k++) {
            int32_t p = nd->in[k];
            if (p < 0) continue;
            c->in[k] = e->params + g->params[p].offset;
            if (e->run_bwd[id] && g->params[p].trainable) {
                c->grad_in[k] = e->grads + g->params[p].offset;
                if (k == nd->ndata) wgrad = 1;
            }
        }
        xgrad = nd->ndata > 0 && c->grad_in[0] != NULL;
        c->out = e->val[id];
        c->out_shape = nd->shape;
        for (int s = 0; s < nd->info.nstate && !shares_state(e, id); s++) {
            c->state[s] = e->state_buf + so;
            so += numel(&nd->info.state_shape[s]);
        }
        c->saved = e->saved[id];
        c->grad_out = e->grad[id];
        c->nthreads = e->nthreads;
        if (nd->op->workspace) {
            size_t w = nd->op->workspace(c);
            if (w > e->work_size) e->work_size = w;
        }
        e->macs_f += nd->macs;
        if (e->run_bwd[id]) e->macs_b += nd->macs * (wgrad + xgrad);
    }
    for (int32_t f = 0; f < e->nfwd; f++)
        if (shares_state(e, e->fwd[f]))
            for (int s = 0; s < g->nodes[e->fwd[f]].info.nstate; s++)
                e->ctx[e->fwd[f]].state[s] = e->ctx[g->nodes[e->fwd[f]].clone_of - 1].state[s];
    e->work = alloc_aligned(e->work_size);
    if (!e->work) goto oom;
    for (int32_t f = 0; f < e->nfwd; f++) {
        e->ctx[e->fwd[f]].work = e->work;
        e->ctx[e->fwd[f]].work_size = e->work_size;
    }
    /* models whose parameters are all frozen run in eval mode by default */
    for (int m = 0; m < 64; m++) e->model_mode[m] = KD_MODE_FOLLOW, e->model_frozen[m] = 0;
    uint8_t has[64] = { 0 }, train[64] = { 0 };
    for (int32_t p = 0; p < g->nparams; p++) {
        int m = g->params[p].model;
        if (m < 0 || m >= 64) continue;
        has[m] = 1;
        if (g->params[p].trainable) train[m] = 1;
    }
    for (int m = 0; m < 64; m++) e->model_frozen[m] = has[m] && !train[m];
    /* OpenBLAS single-threaded: the ops split their work across e->nthreads
     * OpenMP threads and call sgemm from inside them (ops/kd_op.h) */
    openblas_set_num_threads(1);
    kd_exec_init_params(e, 0);
    return e;
oom:
    if (err) snprintf(err, errlen, "out of memory");
    kd_exec_free(e);
    return NULL;
}

void kd_exec_free(kd_exec *e)
{
    if (!e) return;
    for (int i = 0; i < e->nbroots; i++) {
        free(e->broots[i].steps);
        free(e->broots[i].zstart);
        free(e->broots[i].zlist);
        free(e->broots[i].slots);
        free(e->broots[i].group);
        free(e->broots[i].inb);
    }
    free(e->broots);
    free(e->live), free(e->needs_grad), free(e->run_bwd), free(e->is_root);
    free(e->fwd), free(e->bwd), free(e->fstep), free(e->bstep);
    free(e->val), free(e->grad), free(e->saved), free(e->ctx), free(e->plan);
    kd_fold_free(e->fold);
    free(e->params), free(e->grads), free(e->state_buf), free(e->work), free(e->arena);
    free(e);
}

/* ---- initialisation ------------------------------------------------------------ */

static double u01(uint64_t h) { return ((double)(h >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

/* FNV-1a of a parameter's path inside its model ("stage[1].conv0.weight"
 * of "student.stage[1].conv0.weight"): a model's initial weights depend on
 * the seed and its own architecture only, not on the other models in the
 * graph nor on its name, so two students of one architecture and seed
 * start equal (a fair KD-vs-baseline comparison). */
static uint64_t path_hash(const char *name)
{
    const char *dot = name ? strchr(name, '.') : NULL;
    const char *p = dot ? dot + 1 : (name ? name : "");
    uint64_t h = 1469598103934665603ull;
    for (; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h;
}

void kd_exec_set_init_salt(kd_exec *e, int model, uint64_t salt)
{
    if (e && model >= 0 && model < 64) e->init_salt[model] = salt;
}

void kd_exec_init_params(kd_exec *e, uint64_t seed)
{
    kd_graph *g = e->g;
    e->seed = seed;
    e->step = 0;
    for (int32_t p = 0; p < g->nparams; p++) {
        const kd_param *q = &g->params[p];
        float *w = e->params + q->offset;
        size_t k = numel(&q->shape);
        double fan = q->init.fan_in > 0 ? (double)q->init.fan_in : 1.0;
        uint64_t key = mix64(mix64(seed) ^ path_hash(q->name));
        if (q->model >= 0 && q->model < 64 && e->init_salt[q->model])
            key = mix64(key ^ mix64(0x9e3779b97f4a7c15ull * e->init_salt[q->model]));
        switch (q->init.kind) {
        case KD_INIT_ZERO:
            for (size_t i = 0; i < k; i++) w[i] = 0.0f;
            break;
        case KD_INIT_ONE:
            for (size_t i = 0; i < k; i++) w[i] = 1.0f;
            break;
        case KD_INIT_KAIMING_NORMAL: {
            double sd = sqrt(2.0 / fan);
            for (size_t i = 0; i < k; i++) {
                uint64_t h = mix64(key ^ mix64((uint64_t)i));
                double u1 = u01(h), u2 = u01(mix64(h));
                w[i] = (float)(sd * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
            }
            break;
        }
        case KD_INIT_UNIFORM_FANIN: {
            double b = 1.0 / sqrt(fan);
            for (size_t i = 0; i < k; i++)
                w[i] = (float)(b * (2.0 * u01(mix64(key ^ mix64((uint64_t)i))) - 1.0));
            break;
        }
        }
    }
    for (int32_t f = 0; f < e->nfwd; f++) {
        kd_node *nd = &g->nodes[e->fwd[f]];
        kd_op_ctx *c = &e->ctx[e->fwd[f]];
        for (int s = 0; s < nd->info.nstate; s++) {
            size_t k = numel(&nd->info.state_shape[s]);
            for (size_t i = 0; i < k; i++) c->state[s][i] = nd->info.state_init[s];
        }
        c->seed = mix64(seed ^ mix64((uint64_t)e->fwd[f] + 0x5eedull));
    }
    memset(e->grads, 0, e->g->param_count * sizeof(float));
}

uint64_t kd_exec_get_step(const kd_exec *e) { return e ? e->step : 0; }
void kd_exec_set_step(kd_exec *e, uint64_t step) { if (e) e->step = step; }

int kd_exec_fold_count(const kd_exec *e, int *with_relu, int *cond)
{
    return kd_fold_count(e ? e->fold : NULL, with_relu, cond);
}

/* ---- steps ---------------------------------------------------------------------- */

float *kd_exec_input(kd_exec *e, int32_t node)
{
    if (!e || node < 0 || node >= e->n || !e->live[node] ||
        e->g->nodes[node].kind != KD_NODE_INPUT)
        return NULL;
    return e->val[node];
}

/* node id forward in the given mode: through its fold when it heads one
 * (or is covered by one), else its op */
static void forward_node(kd_exec *e, int32_t id, int mode)
{
    kd_op_ctx *c = &e->ctx[id];
    c->training = mode;
    c->step = e->step;
    if (!kd_fold_forward(e->fold, e->ctx, id, mode, e->step, e->bwd_next)) e->g->nodes[id].op->forward(c);
}

int kd_exec_forward(kd_exec *e, int training)
{
    if (!e) return -1;
    kd_graph *g = e->g;
    kd_tcache *tc = e->tc;    /* armed by kd_exec_cache_next for this forward only */
    e->tc = NULL;
    e->step++;
    for (int32_t f = 0; f < e->nfwd; f++) {
        int32_t id = e->fwd[f];
        const kd_node *nd = &g->nodes[id];
        int in = nd->model >= 0 && nd->model < 64;
        int mode = in ? e->model_mode[nd->model] : KD_MODE_FOLLOW;
        if (mode == KD_MODE_FOLLOW) mode = (in && e->model_frozen[nd->model]) ? 0 : (training != 0);
        int cached = kd_tcache_is_cached(tc, id);
        double t0 = e->prof ? now_s() : 0;
        if (!(cached && kd_tcache_fill(tc, id, e->val[id]))) forward_node(e, id, mode);
        if (cached) kd_tcache_keep(tc, id, e->val[id]);
        if (e->prof) e->prof[id] += now_s() - t0;
    }
    if (tc) kd_tcache_done(tc, 0);
    e->fwd_pending = 1;
    return 0;
}

int kd_exec_cache_prefill(kd_exec *e, kd_tcache *c, const int64_t *keys, int64_t n)
{
    int r = kd_exec_cache_next(e, c, keys, n);
    kd_tcache *tc = e ? e->tc : NULL;
    if (e) e->tc = NULL;
    if (r != 0) return r < 0 ? -1 : 0;   /* every row kept already */
    /* the cached nodes only, as kd_exec_forward runs them (eval mode, the
     * fold if any), at the current step number: the step counter (the
     * dropout masks' key) does not move */
    for (int32_t f = 0; f < e->nfwd; f++) {
        int32_t id = e->fwd[f];
        if (!kd_tcache_is_cached(tc, id)) continue;
        forward_node(e, id, 0);
        kd_tcache_keep(tc, id, e->val[id]);
    }
    kd_tcache_done(tc, 1);
    return 0;
}

/* memset of a gradient buffer, cut across the threads when it is large */
static void zero_floats(float *p, int64_t n, int nthreads)
{
    int nt = n >= ((int64_t)1 << 18) ? nthreads : 1;
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int t = 0; t < nt; t++) {
        int64_t a = n * t / nt, b = n * (t + 1) / nt;
        memset(p + a, 0, (size_t)(b - a) * sizeof(float));
    }
}

static int run_backward(kd_exec *e, const broot *b)
{
    kd_graph *g = e->g;
    e->grad[b->node][0] = 1.0f;
    for (int s = 0; s < b->nsteps; s++) {
        for (int z = b->zstart[s]; z < b->zstart[s + 1]; z++) {
            int32_t m = b->zlist[z];
            zero_floats(e->grad[m], numel(&g->nodes[m].shape), e->nthreads);
        }
        int32_t id = b->steps[s];
        kd_op_ctx *c = &e->ctx[id];
        float *keep[KD_MAXIN];
        if (b->slots) {
            /* a group's backward: the slots it does not need stay NULL, so
             * the op computes neither those inputs' nor those weights'
             * gradients */
            memcpy(keep, c->grad_in, sizeof keep);
            for (int k = 0; k < c->nin; k++)
                if (!((b->slots[s] >> k) & 1u)) c->grad_in[k] = NULL;
        }
        if (e->prof) {
            double t0 = now_s();
            g->nodes[id].op->backward(c);
            e->prof[e->n + id] += now_s() - t0;
        } else {
            g->nodes[id].op->backward(c);
        }
        if (b->slots) memcpy(c->grad_in, keep, sizeof keep);
    }
    e->fwd_pending = 0;
    return 0;
}

int kd_exec_backward(kd_exec *e, int32_t loss)
{
    if (!e || !e->fwd_pending) return -1;
    for (int i = 0; i < e->nbroots; i++)
        if (e->broots[i].node == loss && !e->broots[i].group) return run_backward(e, &e->broots[i]);
    return -1;
}

/* the broot of loss L's backward restricted to in_group, built at its
 * first use; its index, or -1 */
static int group_broot(kd_exec *e, int32_t loss, const uint8_t *in_group)
{
    kd_graph *g = e->g;
    int found = -1;
    for (int i = 0; i < e->nbroots && found < 0; i++) {
        const broot *b = &e->broots[i];
        if (b->node == loss && b->group && !memcmp(b->group, in_group, (size_t)g->nparams)) found = i;
    }
    if (found < 0) {
        /* first use: decide its steps (a subset of the planned backward of
         * this loss, in the same order, so every buffer stays inside its
         * planned lifetime) */
        int plain = 0;
        for (int i = 0; i < e->nbroots; i++) plain |= e->broots[i].node == loss && !e->broots[i].group;
        if (!plain) return -1;
        int32_t n = e->n;
        uint8_t *needs = calloc((size_t)n, 1), *sub = calloc((size_t)n, 1), *zeroed = calloc((size_t)n, 1);
        int rc = needs && sub && zeroed ? 0 : -1;
        if (!rc) mark_needs(e, in_group, needs);
        if (!rc && e->nbroots == e->cap_broots) {
            broot *nb = realloc(e->broots, (size_t)(e->cap_broots * 2 + 1) * sizeof *nb);
            if (nb) e->broots = nb, e->cap_broots = e->cap_broots * 2 + 1;
            else rc = -1;
        }
        if (!rc) {
            /* a loss that does not reach the group: no step at all */
            rc = build_broot(e, loss, needs, in_group, sub, zeroed, &e->broots[e->nbroots]);
            if (!rc && !needs[loss]) e->broots[e->nbroots].nsteps = 0, e->broots[e->nbroots].zstart[0] = 0;
            if (rc) {
                broot *b = &e->broots[e->nbroots];
                free(b->steps), free(b->zstart), free(b->zlist), free(b->slots), free(b->group), free(b->inb);
            } else {
                found = e->nbroots++;
            }
        }
        free(needs), free(sub), free(zeroed);
        if (rc) return -1;
    }
    return found;
}

int kd_exec_backward_group(kd_exec *e, int32_t loss, const uint8_t *in_group)
{
    if (!e || !in_group) return -1;
    int found = group_broot(e, loss, in_group);
    if (found < 0 || !e->fwd_pending) return -1;
    return run_backward(e, &e->broots[found]);
}

int kd_exec_forward_for(kd_exec *e, int training, int32_t loss, const uint8_t *in_group)
{
    if (!e || !in_group) return -1;
    int found = group_broot(e, loss, in_group);
    if (found < 0) return -1;
    e->bwd_next = e->broots[found].inb;
    int rc = kd_exec_forward(e, training);
    e->bwd_next = NULL;
    return rc;
}

void kd_exec_zero_grad(kd_exec *e)
{
    memset(e->grads, 0, e->g->param_count * sizeof(float));
}

/* ---- accessors ---------------------------------------------------------------------- */

const float *kd_exec_value(const kd_exec *e, int32_t node)
{
    if (!e || node < 0 || node >= e->n || !e->live[node]) return NULL;
    if (!e->is_root[node] && e->g->nodes[node].kind != KD_NODE_INPUT) return NULL;
    return e->val[node];
}

float *kd_exec_params(kd_exec *e) { return e->params; }
float *kd_exec_grads(kd_exec *e) { return e->grads; }

float *kd_exec_state(kd_exec *e, int32_t node, int i)
{
    if (!e || node < 0 || node >= e->n || e->fstep[node] < 0) return NULL;
    if (i < 0 || i >= e->g->nodes[node].info.nstate) return NULL;
    if (shares_state(e, node)) return NULL;   /* the original's, listed there */
    return e->ctx[node].state[i];
}

void kd_exec_set_profile(kd_exec *e, double *times)
{
    if (e) e->prof = times;
}

void kd_exec_set_model_mode(kd_exec *e, int model, int mode)
{
    if (e && model >= 0 && model < 64) e->model_mode[model] = mode;
}

int kd_exec_is_live(const kd_exec *e, int32_t node)
{
    return e && node >= 0 && node < e->n && e->live[node];
}
int kd_exec_needs_grad(const kd_exec *e, int32_t node)
{
    return e && node >= 0 && node < e->n && e->needs_grad[node];
}
int kd_exec_runs_backward(const kd_exec *e, int32_t node)
{
    return e && node >= 0 && node < e->n && e->run_bwd[node];
}

void kd_exec_get_stats(const kd_exec *e, kd_exec_stats *st)
{
    memset(st, 0, sizeof *st);
    st->arena_bytes = e->arena_size;
    st->naive_bytes = e->naive_size;
    st->param_bytes = e->g->param_count * sizeof(float);
    st->grad_bytes = st->param_bytes;
    st->state_bytes = e->state_floats * sizeof(float);
    st->work_bytes = e->work_size;
    st->nbuffers = e->nplan;
    st->nforward = e->nfwd;
    st->nbackward = e->nbwd;
    st->macs_forward = e->macs_f;
    st->macs_backward = e->macs_b;
}

const kd_mem_buf *kd_exec_plan(const kd_exec *e, int *n)
{
    *n = e->nplan;
    return e->plan;
}

/* ---- BLAS kernel selection --------------------------------------------------------- */

static int cpu_has_avx512f(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return 0;
    char line[8192];
    int has = 0;
    while (!has && fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5) != 0) continue;
        for (char *p = line; (p = strstr(p, "avx512f")) != NULL; p += 7)
            if ((p[-1] == ' ' || p[-1] == '\t') && (p[7] == ' ' || p[7] == '\n' || p[7] == 0))
                has = 1;
        break;
    }
    fclose(f);
    return has;
}

int kd_cpu_has_avx512f(void) { return cpu_has_avx512f(); }

const char *kd_blas_kernels(void) { return openblas_get_corename(); }

/* The threads a kdrun command line asks for (-t N, -tN, --threads N,
 * --threads=N; the last wins), 0 if none */
static long argv_threads(int argc, char **argv)
{
    long t = 0;
    for (int i = 1; i < argc && argv[i]; i++) {
        const char *a = argv[i], *v = NULL;
        if (strcmp(a, "--") == 0) break;
        if (strcmp(a, "-t") == 0 || strcmp(a, "--threads") == 0)
            v = i + 1 < argc ? argv[++i] : NULL;
        else if (strncmp(a, "--threads=", 10) == 0)
            v = a + 10;
        else if (strncmp(a, "-t", 2) == 0 && a[2] >= '0' && a[2] <= '9')
            v = a + 2;
        if (v) t = strtol(v, NULL, 10);
    }
    return t;
}

/* the CPUs this process may run on */
static long cpus_available(void)
{
#ifdef CPU_COUNT
    cpu_set_t cs;
    if (sched_getaffinity(0, sizeof cs, &cs) == 0 && CPU_COUNT(&cs) > 0) return CPU_COUNT(&cs);
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}

long kd_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n >= 1 && n <= 4096 ? n : 1;
}

int kd_threads_fit(int argc, char **argv)
{
    long cpus = cpus_available(), t = argv_threads(argc, argv), ranks = 1;
    if (t <= 0) t = kd_default_threads();
    /* ranks of an MPI job on this host (Open MPI, MPICH) */
    const char *lr = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    if (!lr) lr = getenv("MPI_LOCALNRANKS");
    long r = lr ? atol(lr) : 0;
    if (r > 0) ranks = r;
    return t * ranks <= cpus;
}

void kd_blas_tune(int argc, char **argv)
{
    if (getenv("KDRUN_NO_BLAS_TUNE") || !argv || !argv[0]) return;
    int changed = 0;
    char set[64] = "";
    /* Unset, or one of the AVX2 core types OpenBLAS 0.3.21 picks by itself
     * on AVX-512 cores it does not know (Zen 4/5) and that some machines
     * preset for other programs: take the AVX-512 kernels.  Any other value
     * is a deliberate choice and is kept. */
    const char *ct = getenv("OPENBLAS_CORETYPE");
    if ((!ct || !strcasecmp(ct, "Haswell") || !strcasecmp(ct, "Zen")) && cpu_has_avx512f()) {
        if (setenv("OPENBLAS_CORETYPE", "SkylakeX", 1) == 0) changed = 1, strcat(set, " OPENBLAS_CORETYPE");
    }
    /* How idle OpenMP threads wait between ops (an explicit setting of
     * either variable is kept): spin for a bounded time while this run's
     * threads fit the cores, else sleep at once. */
    if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT")) {
        if (kd_threads_fit(argc, argv)) {
            if (setenv("GOMP_SPINCOUNT", KD_GOMP_SPINCOUNT, 1) == 0)
                changed = 1, strcat(set, " GOMP_SPINCOUNT");
        } else if (setenv("OMP_WAIT_POLICY", "passive", 1) == 0) {
            changed = 1, strcat(set, " OMP_WAIT_POLICY");
        }
    }
    if (!changed) return;
    setenv("KDRUN_TUNED", set + 1, 1);   /* what was set, for child processes */
    fflush(NULL);
    /* exec the real path (so that the process keeps its name), else the link */
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = 0;
        execv(self, argv);
    }
    execv("/proc/self/exe", argv);
    /* exec failed: carry on with the kernels and policy already loaded */
}

void kd_exec_set_allsum(kd_exec *e, int (*allsum)(double *x, int64_t n))
{
    if (!e) return;
    for (int32_t f = 0; f < e->nfwd; f++) e->ctx[e->fwd[f]].allsum = allsum;
}
