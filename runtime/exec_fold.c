/* exec_fold.c — a frozen model's conv -> bn [-> add] [-> relu] chains run
 * as one convolution; see exec_fold.h. */
#include "exec_fold.h"
#include "../ops/kd_bn.h"

#include <stdlib.h>
#include <string.h>

typedef struct fold1 {
    int32_t conv, bn, relu, last;   /* relu -1: none; last = relu, add or bn */
    int32_t add, res;               /* the residual add after the bn and its
                                     * other operand, computed before the conv; -1: none */
    int res_first;                  /* the residual is the add's first operand */
    int cond;                       /* a backward runs through the chain in some step: it is
                                     * folded only in a step whose backward does not */
    const kd_op_def *op;            /* conv2d */
    float *b;                       /* the bn's a [F], then its o [F] */
    int64_t F;                      /* output channels */
    uint64_t done;                  /* the step at which it last ran folded */
} fold1;

struct kd_fold {
    int n;
    fold1 *f;
    int32_t nnodes;
    int32_t *head;    /* per node: the fold whose conv it is, else -1 */
    int32_t *covers;  /* per node: the fold whose bn / relu it is, else -1 */
};

int kd_fold_wanted(void)
{
    const char *v = getenv("KDRUN_TEACHER_FOLD");
    return v && (!strcmp(v, "0") || !strcmp(v, "off")) ? 0 : 1;
}

static int64_t numel(const kd_shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) n *= s->dims[i];
    return n;
}

static int is_op(const kd_graph *g, int32_t i, const char *name)
{
    return g->nodes[i].kind == KD_NODE_OP && g->nodes[i].op && strcmp(g->nodes[i].op->name, name) == 0;
}

/* parameter slots of node i all absent or not trainable */
static int frozen_params(const kd_graph *g, int32_t i)
{
    const kd_node *nd = &g->nodes[i];
    for (int k = nd->ndata; k < nd->ndata + nd->op->nparams; k++)
        if (nd->in[k] >= 0 && g->params[nd->in[k]].trainable) return 0;
    return 1;
}

kd_fold *kd_fold_plan(const kd_graph *g, const uint8_t *live, const uint8_t *run_bwd,
                      const uint8_t *is_root)
{
    int32_t n = g->nnodes;
    int32_t *uses = calloc((size_t)(n ? n : 1), sizeof *uses);   /* consumers per node */
    int32_t *user = malloc((size_t)(n ? n : 1) * sizeof *user);  /* the last one */
    kd_fold *f = calloc(1, sizeof *f);
    if (!uses || !user || !f) goto fail;
    for (int32_t i = 0; i < n; i++) {
        if (!live[i] || g->nodes[i].kind != KD_NODE_OP) continue;
        for (int k = 0; k < g->nodes[i].ndata; k++) {
            int32_t m = g->nodes[i].in[k];
            if (m >= 0 && m < n) uses[m]++, user[m] = i;
        }
    }
    f->nnodes = n;
    f->head = malloc((size_t)(n ? n : 1) * sizeof *f->head);
    f->covers = malloc((size_t)(n ? n : 1) * sizeof *f->covers);
    f->f = calloc((size_t)(n ? n : 1), sizeof *f->f);
    if (!f->head || !f->covers || !f->f) goto fail;
    for (int32_t i = 0; i < n; i++) f->head[i] = f->covers[i] = -1;
    for (int32_t i = 0; i < n; i++) {
        const kd_node *c = &g->nodes[i];
        if (!live[i] || !is_op(g, i, "conv2d") || is_root[i] || uses[i] != 1) continue;
        if (c->ndata != 1 || c->op->nparams != 2 || c->in[1] < 0 || !frozen_params(g, i)) continue;
        int32_t bn = user[i];
        const kd_node *b = &g->nodes[bn];
        if (!is_op(g, bn, "batchnorm2d") || b->in[0] != i || b->model != c->model ||
            !frozen_params(g, bn) || b->info.nstate != 2 || c->shape.ndim != 4)
            continue;
        int32_t relu = -1, add = -1, res = -1;
        int res_first = 0;
        if (!is_root[bn] && uses[bn] == 1 && is_op(g, user[bn], "relu") && g->nodes[user[bn]].model == c->model)
            relu = user[bn];
        if (relu < 0 && !is_root[bn] && uses[bn] == 1 && is_op(g, user[bn], "add")) {
            /* bn -> add(bn, r) [-> relu], r computed before the conv: a
             * ResNet block's end; the conv adds r per image */
            int32_t a = user[bn];
            const kd_node *an = &g->nodes[a];
            int k = an->ndata == 2 && an->in[0] == bn ? 1 : an->ndata == 2 && an->in[1] == bn ? 0 : -1;
            int32_t r = k >= 0 ? an->in[k] : -1;
            if (r >= 0 && r != bn && r < i && live[r] && g->nodes[r].kind == KD_NODE_OP &&
                an->model == c->model && numel(&g->nodes[r].shape) == numel(&b->shape)) {
                add = a, res = r, res_first = k == 0;
                if (!is_root[a] && uses[a] == 1 && is_op(g, user[a], "relu") && g->nodes[user[a]].model == c->model)
                    relu = user[a];
            }
        }
        if (relu < 0 && add < 0 && is_root[bn]) continue;   /* the bn's value is read: keep it simple */
        fold1 *o = &f->f[f->n];
        o->op = c->op;
        o->conv = i, o->bn = bn, o->relu = relu, o->last = relu >= 0 ? relu : add >= 0 ? add : bn;
        o->add = add, o->res = res, o->res_first = res_first;
        o->cond = run_bwd[i] || run_bwd[bn] || (add >= 0 && run_bwd[add]) || (relu >= 0 && run_bwd[relu]);
        o->F = c->shape.dims[1];
        o->b = malloc((size_t)o->F * 2 * sizeof(float));
        o->done = UINT64_MAX;
        if (!o->b) goto fail;
        f->head[i] = f->n;
        f->covers[bn] = f->n;
        if (relu >= 0) f->covers[relu] = f->n;
        if (add >= 0) f->covers[add] = f->n;
        f->n++;
    }
    free(uses), free(user);
    if (f->n == 0) { kd_fold_free(f); return NULL; }
    return f;
fail:
    free(uses), free(user);
    kd_fold_free(f);
    return NULL;
}

int32_t kd_fold_first(const kd_fold *f, int32_t id, int32_t first, const int32_t *fstep)
{
    if (!f || id < 0 || id >= f->nnodes || f->covers[id] < 0) return first;
    const fold1 *o = &f->f[f->covers[id]];
    return id == o->last && fstep[o->conv] < first ? fstep[o->conv] : first;
}

int32_t kd_fold_alias(const kd_fold *f, int32_t id)
{
    if (!f || id < 0 || id >= f->nnodes || f->covers[id] < 0) return -1;
    const fold1 *o = &f->f[f->covers[id]];
    if (o->cond) return -1;   /* its backward reads the conv's and the bn's values */
    if (id == o->last) return o->last != o->bn ? o->conv : -1;
    return id == o->add ? o->bn : -1;
}

int kd_fold_forward(kd_fold *f, kd_op_ctx *ctx, int32_t id, int training, uint64_t step,
                    const uint8_t *bwd_next)
{
    if (!f || id < 0 || id >= f->nnodes) return 0;
    if (f->covers[id] >= 0) return f->f[f->covers[id]].done == step;   /* done by the conv */
    /* the conv's mode is the bn's: the executor's mode is per model */
    if (f->head[id] < 0) return 0;
    fold1 *o = &f->f[f->head[id]];
    int busy = o->cond && (!bwd_next || bwd_next[o->conv] || bwd_next[o->bn] ||
                           (o->add >= 0 && bwd_next[o->add]) || (o->relu >= 0 && bwd_next[o->relu]));
    if (training || busy) {   /* unfolded: the bn and relu run (whatever step numbers come next) */
        o->done = UINT64_MAX;
        return 0;
    }
    const kd_op_ctx *cb = &ctx[o->bn];
    const kd_op_ctx *cc = &ctx[id];
    int affine = cb->in_shape[1].ndim > 0;
    const float *gam = affine ? cb->in[1] : NULL, *bet = affine ? cb->in[2] : NULL;
    const float *rm = cb->state[0], *rv = cb->state[1];
    double eps = cb->attr[KD_BN_ATTR_EPS].num;
    kd_op_ctx t = *cc;
    /* batchnorm2d's eval-mode a and o (its running statistics); the conv
     * applies y = a * y + o after its bias, as the bn would */
    for (int64_t ch = 0; ch < o->F; ch++)
        kd_bn_affine(rm[ch], rv[ch], eps, affine ? gam[ch] : 1.0f, affine ? bet[ch] : 0.0f, &o->b[ch],
                     &o->b[o->F + ch]);
    t.post_scale = o->b;
    t.post_shift = o->b + o->F;
    if (o->add >= 0) {
        t.post_add = ctx[o->res].out;
        t.post_add_first = o->res_first;
    }
    t.out = ctx[o->last].out;
    t.post_relu = o->relu >= 0;
    t.training = 0;
    t.step = step;
    o->op->forward(&t);
    o->done = step;
    return 1;
}

int kd_fold_count(const kd_fold *f, int *with_relu, int *cond)
{
    int r = 0, c = 0;
    for (int i = 0; f && i < f->n; i++) r += f->f[i].relu >= 0, c += f->f[i].cond;
    if (with_relu) *with_relu = r;
    if (cond) *cond = c;
    return f ? f->n : 0;
}

void kd_fold_free(kd_fold *f)
{
    if (!f) return;
    for (int i = 0; i < f->n && f->f; i++) free(f->f[i].b);
    free(f->f), free(f->head), free(f->covers);
    free(f);
}
