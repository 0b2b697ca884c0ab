/* exec_cache.c — the teacher cache: a frozen model's outputs kept per
 * sample (see exec.h).  The executor calls kd_tcache_fill / kd_tcache_keep
 * / kd_tcache_done from kd_exec_forward (exec_int.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec_int.h"
#include "exec_cache.h"

typedef struct frange {
    const float *p;
    size_t n;
} frange;

struct kd_tcache {
    kd_exec *e;
    uint8_t *cached;           /* per node */
    int32_t *slot;             /* per node: index into out[], -1 if not kept */
    int nout, ncached;
    int32_t *out;              /* the kept nodes */
    size_t *row, *at;          /* floats per row of each, offset in a record */
    int64_t B;                 /* rows of a batch */
    size_t rec;                /* floats per record */
    int64_t nkeys;
    float *data;               /* nkeys records */
    uint8_t *have;
    frange *ranges;            /* the frozen values the records depend on */
    int nranges;
    float *snap;               /* their copy when the records were made */
    size_t nsnap;
    int snapped;
    uint64_t models;           /* models with cached nodes (bit m) */
    int64_t macs;
    /* the forward armed by kd_exec_cache_next */
    const int64_t *keys;
    int64_t nrows;
    int hit;
    int64_t kept, hits, misses, drops, prefills;
};

static int why_set(char *why, size_t n, const char *s)
{
    if (why && n) snprintf(why, n, "%s", s);
    return 0;
}

static int batch_rows(const kd_shape *s, int64_t B) { return s->ndim >= 1 && s->dims[0] == B; }

/* node id: a live op node of a frozen model in eval mode, row-wise, on the
 * batch's rows, reading keyed inputs and cached nodes only */
static int cacheable(const kd_exec *e, const uint8_t *keyed, const uint8_t *cached, int32_t id, int64_t B)
{
    const kd_graph *g = e->g;
    const kd_node *nd = &g->nodes[id];
    int m = nd->model;
    if (!e->live[id] || nd->kind != KD_NODE_OP || !nd->op || m < 0 || m >= 64 || !e->model_frozen[m])
        return 0;
    if (e->model_mode[m] == KD_MODE_TRAIN || nd->op->mixture || !nd->op->rows || nd->ndata < 1)
        return 0;
    if (!batch_rows(&nd->shape, B) || !nd->op->rows(&e->ctx[id])) return 0;
    for (int k = 0; k < nd->ndata; k++) {
        int32_t j = nd->in[k];
        if (!(keyed[j] || cached[j]) || !batch_rows(&g->nodes[j].shape, B)) return 0;
    }
    for (int k = nd->ndata; k < nd->ndata + nd->op->nparams; k++)
        if (nd->in[k] >= 0 && g->params[nd->in[k]].trainable) return 0;
    return 1;
}

/* the parameters and op state the cached nodes read */
static int plan_ranges(kd_tcache *c)
{
    const kd_exec *e = c->e;
    const kd_graph *g = e->g;
    uint8_t *seen = calloc((size_t)(g->nparams > 0 ? g->nparams : 1), 1);
    int cap = 0;
    for (int32_t i = 0; i < g->nnodes; i++)
        if (c->cached[i]) cap += g->nodes[i].op->nparams + g->nodes[i].info.nstate;
    c->ranges = calloc((size_t)(cap > 0 ? cap : 1), sizeof *c->ranges);
    if (!seen || !c->ranges) { free(seen); return -1; }
    for (int32_t i = 0; i < g->nnodes; i++) {
        if (!c->cached[i]) continue;
        const kd_node *nd = &g->nodes[i];
        for (int k = nd->ndata; k < nd->ndata + nd->op->nparams; k++) {
            int32_t p = nd->in[k];
            if (p < 0 || seen[p]) continue;
            seen[p] = 1;
            int64_t n = kd_shape_numel(&g->params[p].shape);
            if (n > 0) c->ranges[c->nranges++] = (frange){ e->params + g->params[p].offset, (size_t)n };
        }
        for (int s = 0; s < nd->info.nstate; s++) {
            int64_t n = kd_shape_numel(&nd->info.state_shape[s]);
            if (n > 0 && e->ctx[i].state[s]) c->ranges[c->nranges++] = (frange){ e->ctx[i].state[s], (size_t)n };
        }
    }
    free(seen);
    for (int r = 0; r < c->nranges; r++) c->nsnap += c->ranges[r].n;
    c->snap = malloc((c->nsnap ? c->nsnap : 1) * sizeof *c->snap);
    return c->snap ? 0 : -1;
}

kd_tcache *kd_exec_cache_new(kd_exec *e, const int32_t *inputs, int ninputs, int64_t nkeys, size_t cap,
                             char *why, size_t whylen)
{
    why_set(why, whylen, "");
    if (!e || !inputs || ninputs < 1 || nkeys < 1) {
        why_set(why, whylen, "no keyed input");
        return NULL;
    }
    const kd_graph *g = e->g;
    int32_t n = g->nnodes;
    int64_t B = -1;
    uint8_t *keyed = calloc((size_t)n, 1);
    kd_tcache *c = calloc(1, sizeof *c);
    if (!keyed || !c) goto oom;
    c->e = e;
    for (int i = 0; i < ninputs; i++) {
        int32_t j = inputs[i];
        if (j < 0 || j >= n || g->nodes[j].kind != KD_NODE_INPUT || !e->live[j] || g->nodes[j].shape.ndim < 1)
            continue;
        if (B < 0) B = g->nodes[j].shape.dims[0];
        if (g->nodes[j].shape.dims[0] == B) keyed[j] = 1;
    }
    c->B = B;
    c->cached = calloc((size_t)n, 1);
    c->slot = malloc((size_t)n * sizeof *c->slot);
    c->out = malloc((size_t)n * sizeof *c->out);
    c->row = malloc((size_t)n * sizeof *c->row);
    c->at = malloc((size_t)n * sizeof *c->at);
    if (!c->cached || !c->slot || !c->out || !c->row || !c->at) goto oom;
    for (int32_t f = 0; f < e->nfwd; f++) {
        int32_t id = e->fwd[f];
        if (B > 0 && cacheable(e, keyed, c->cached, id, B)) {
            c->cached[id] = 1;
            c->ncached++;
            c->models |= 1ull << g->nodes[id].model;
            c->macs += g->nodes[id].macs;
        }
    }
    /* kept: what a node outside the cached ones (or a root) reads */
    for (int32_t i = 0; i < n; i++) c->slot[i] = -1;
    for (int32_t f = 0; f < e->nfwd; f++) {
        int32_t id = e->fwd[f];
        const kd_node *nd = &g->nodes[id];
        if (c->cached[id]) continue;
        for (int k = 0; k < nd->ndata; k++)
            if (c->cached[nd->in[k]]) c->slot[nd->in[k]] = 0;
    }
    for (int32_t i = 0; i < n; i++) {
        if (!c->cached[i] || (c->slot[i] < 0 && !e->is_root[i])) continue;
        c->slot[i] = c->nout;
        c->out[c->nout] = i;
        c->row[c->nout] = (size_t)(kd_shape_numel(&g->nodes[i].shape) / B);
        c->at[c->nout] = c->rec;
        c->rec += c->row[c->nout];
        c->nout++;
    }
    free(keyed);
    keyed = NULL;
    if (c->nout == 0) {
        why_set(why, whylen, "no frozen model reads only the data");
        kd_tcache_free(c);
        return NULL;
    }
    c->nkeys = nkeys;
    size_t bytes = (size_t)nkeys * c->rec * sizeof(float);
    if (c->rec > ((size_t)-1 / sizeof(float)) / (size_t)nkeys || bytes > cap) {
        if (why && whylen)
            snprintf(why, whylen, "%lld samples of %.1f KiB need %.1f MiB, over the cap of %.1f MiB",
                     (long long)nkeys, (double)c->rec * sizeof(float) / 1024.0,
                     (double)nkeys * (double)c->rec * sizeof(float) / 1048576.0, (double)cap / 1048576.0);
        kd_tcache_free(c);
        return NULL;
    }
    /* malloc, not calloc: the pages are touched as records are kept */
    c->data = malloc(bytes ? bytes : 1);
    c->have = calloc((size_t)nkeys, 1);
    if (!c->data || !c->have || plan_ranges(c)) goto oom;
    return c;
oom:
    why_set(why, whylen, "out of memory");
    free(keyed);
    kd_tcache_free(c);
    return NULL;
}

void kd_tcache_free(kd_tcache *c)
{
    if (!c) return;
    if (c->e && c->e->tc == c) c->e->tc = NULL;
    free(c->cached), free(c->slot), free(c->out), free(c->row), free(c->at);
    free(c->data), free(c->have), free(c->ranges), free(c->snap);
    free(c);
}

/* the frozen values the records depend on are still those they were made with */
static int same_values(kd_tcache *c)
{
    size_t o = 0;
    for (int r = 0; r < c->nranges; r++) {
        if (memcmp(c->snap + o, c->ranges[r].p, c->ranges[r].n * sizeof(float))) return 0;
        o += c->ranges[r].n;
    }
    return 1;
}

static void take_snapshot(kd_tcache *c)
{
    size_t o = 0;
    for (int r = 0; r < c->nranges; r++) {
        memcpy(c->snap + o, c->ranges[r].p, c->ranges[r].n * sizeof(float));
        o += c->ranges[r].n;
    }
    c->snapped = 1;
}

/* the records still hold the current frozen values' outputs (else they are dropped) */
static void check_values(kd_tcache *c)
{
    if (c->snapped && same_values(c)) return;
    if (c->kept) c->drops++;
    memset(c->have, 0, (size_t)c->nkeys);
    c->kept = 0;
    take_snapshot(c);
}

int kd_exec_cache_complete(kd_exec *e, kd_tcache *c)
{
    if (!e || !c || c->e != e) return 0;
    check_values(c);
    return c->kept == c->nkeys;
}

int kd_exec_cache_next(kd_exec *e, kd_tcache *c, const int64_t *keys, int64_t n)
{
    if (!e) return -1;
    e->tc = NULL;
    if (!c || c->e != e || !keys || n < 1 || n > c->B) return -1;
    for (int m = 0; m < 64; m++)
        if (((c->models >> m) & 1u) && e->model_mode[m] == KD_MODE_TRAIN) return -1;
    for (int64_t r = 0; r < n; r++)
        if (keys[r] < 0 || keys[r] >= c->nkeys) return -1;
    check_values(c);
    int hit = n == c->B;
    for (int64_t r = 0; r < n && hit; r++) hit = c->have[keys[r]];
    c->keys = keys;
    c->nrows = n;
    c->hit = hit;
    e->tc = c;
    return hit;
}

int kd_tcache_fill(kd_tcache *c, int32_t node, float *val)
{
    if (!c->hit) return 0;
    int s = c->slot[node];
    if (s >= 0) {
        size_t row = c->row[s];
        for (int64_t r = 0; r < c->B; r++)
            memcpy(val + (size_t)r * row, c->data + (size_t)c->keys[r] * c->rec + c->at[s], row * sizeof(float));
    }
    return 1;
}

void kd_tcache_keep(kd_tcache *c, int32_t node, const float *val)
{
    int s = c->slot[node];
    if (c->hit || s < 0) return;
    size_t row = c->row[s];
    for (int64_t r = 0; r < c->nrows; r++)
        memcpy(c->data + (size_t)c->keys[r] * c->rec + c->at[s], val + (size_t)r * row, row * sizeof(float));
}

void kd_tcache_done(kd_tcache *c, int prefill)
{
    if (c->hit) {
        c->hits++;
    } else {
        if (prefill) c->prefills++;
        else c->misses++;
        for (int64_t r = 0; r < c->nrows; r++)
            if (!c->have[c->keys[r]]) c->have[c->keys[r]] = 1, c->kept++;
    }
    c->keys = NULL;
}

void kd_tcache_get_stats(const kd_tcache *c, kd_tcache_stats *st)
{
    memset(st, 0, sizeof *st);
    if (!c) return;
    st->nout = c->nout;
    st->ncached = c->ncached;
    st->keys = c->nkeys;
    st->record_bytes = c->rec * sizeof(float);
    st->bytes = (size_t)c->nkeys * st->record_bytes;
    st->kept = c->kept;
    st->hits = c->hits;
    st->misses = c->misses;
    st->drops = c->drops;
    st->prefills = c->prefills;
    st->macs_saved = c->macs;
}

int kd_tcache_is_cached(const kd_tcache *c, int32_t node)
{
    return c && node >= 0 && node < c->e->g->nnodes && c->cached[node];
}

int kd_tcache_is_kept(const kd_tcache *c, int32_t node)
{
    return c && node >= 0 && node < c->e->g->nnodes && c->slot[node] >= 0;
}
