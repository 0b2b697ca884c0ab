/* layernorm.c — layer normalisation over one axis (default: the features:
 * the channels of a sequence [N, C, T], else the last axis),
 * learned gain and bias.
 *
 * Shapes: x viewed as [O, D, I] around the axis (I = 1 for the last axis),
 *   gain g [D], bias b [D], y like x; saved mean and invstd per (o, i) row.
 * forward:  mu = (1/D) sum_d x,  var = (1/D) sum_d (x - mu)^2 (biased),
 *           xhat = (x - mu)/sqrt(var + eps),  y = g[d] xhat + b[d]
 * backward: with gh = dy g[d]:
 *           dx += invstd (gh - (1/D) sum_d gh - xhat (1/D) sum_d gh xhat)
 *           dg[d] += sum over rows of dy xhat,  db[d] += sum over rows of dy
 * Row statistics run inside one iteration (parallel over rows), gain/bias
 * gradients inside one iteration per d (parallel over d); all sums in
 * double in a fixed order.
 */
#include "kd_ops_util.h"

enum { A_EPS, A_AXIS };

static const kd_attr_spec attrs[] = {
    {.name = "eps", .type = KD_ATTR_FLOAT, .def = 1e-5, .min = 0, .max = 1,
     .doc = "added to the variance"},
    {.name = "axis", .type = KD_ATTR_INT, .def = 0, .min = -KD_MAXDIM, .max = KD_MAXDIM - 1,
     .doc = "normalized axis; 0: channels of [N, C, T], else the last", .internal = 1},
    {0}};

typedef struct geo {
    int64_t O, D, I;
} geo;

static int axis_of(const kd_op_ctx *c)
{
    int a = (int)KD_A_INT(c, A_AXIS), nd = c->in_shape[0].ndim;
    /* 0 (the default): the features -- the channels of a sequence [N, C, T]
     * (as NextItNet normalises each step, never over time, which would leak
     * later steps), else the last axis */
    if (a == 0) return nd == 3 ? 1 : nd - 1;
    return a < 0 ? a + nd : a;
}

static geo get_geo(const kd_op_ctx *c)
{
    const kd_shape *x = &c->in_shape[0];
    int a = axis_of(c);
    geo g = {1, x->dims[a], 1};
    for (int d = 0; d < a; d++) g.O *= x->dims[d];
    for (int d = a + 1; d < x->ndim; d++) g.I *= x->dims[d];
    return g;
}

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    const kd_shape *x = &c->in_shape[0];
    char b[128];
    if (x->ndim < 2) return kd_err_rank(err, n, "layernorm", 2, "[N, ..., D]", x);
    int a = axis_of(c);
    if (a < 1 || a >= x->ndim)
        return kd_err(err, n, "layernorm: axis %lld out of range for input %s (the batch axis "
                      "cannot be normalised)", (long long)KD_A_INT(c, A_AXIS),
                      kd_shape_str(x, b, sizeof b));
    geo g = get_geo(c);
    c->in_shape[1] = kd_sh1(g.D);
    c->in_shape[2] = kd_sh1(g.D);
    info->init[1].kind = KD_INIT_ONE;
    info->init[2].kind = KD_INIT_ZERO;
    info->saved_floats = (size_t)(2 * g.O * g.I);
    c->out_shape = *x;
    return 0;
}

/* Rows (o, i) are normalised over d.  With I > 1 (the channels of a
 * sequence) the d-th values of a row are I apart: the loops then take one
 * o at a time and walk i innermost (contiguous), carrying the I running
 * sums of that o in double; every sum still runs over d in order, so the
 * bits are those of one row at a time. */
#define LN_MAX_I 1024

static void forward(kd_op_ctx *c)
{
    geo g = get_geo(c);
    const float *x = c->in[0], *gain = c->in[1], *bias = c->in[2];
    double eps = KD_A_FLT(c, A_EPS);
    int64_t rows = g.O * g.I;
    float *mean = c->saved, *inv = c->saved + rows;
    if (g.I > 1 && g.I <= LN_MAX_I) {
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && rows * g.D > KD_OMP_MIN)
        for (int64_t o = 0; o < g.O; o++) {
            double s[LN_MAX_I], v[LN_MAX_I];
            const float *xo = x + o * g.D * g.I;
            float *yo = c->out + o * g.D * g.I;
            for (int64_t i = 0; i < g.I; i++) s[i] = v[i] = 0;
            for (int64_t d = 0; d < g.D; d++)
                for (int64_t i = 0; i < g.I; i++) s[i] += xo[d * g.I + i];
            for (int64_t i = 0; i < g.I; i++) s[i] /= (double)g.D;
            for (int64_t d = 0; d < g.D; d++)
                for (int64_t i = 0; i < g.I; i++) {
                    double e = xo[d * g.I + i] - s[i];
                    v[i] += e * e;
                }
            for (int64_t i = 0; i < g.I; i++) {
                v[i] = 1.0 / sqrt(v[i] / (double)g.D + eps);
                mean[o * g.I + i] = (float)s[i];
                inv[o * g.I + i] = (float)v[i];
            }
            for (int64_t d = 0; d < g.D; d++)
                for (int64_t i = 0; i < g.I; i++)
                    yo[d * g.I + i] = (float)(gain[d] * ((xo[d * g.I + i] - s[i]) * v[i]) + bias[d]);
        }
        return;
    }
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && rows * g.D > KD_OMP_MIN)
    for (int64_t r = 0; r < rows; r++) {
        int64_t base = (r / g.I) * g.D * g.I + r % g.I;
        double s = 0, v = 0;
        for (int64_t d = 0; d < g.D; d++) s += x[base + d * g.I];
        double mu = s / (double)g.D;
        for (int64_t d = 0; d < g.D; d++) {
            double e = x[base + d * g.I] - mu;
            v += e * e;
        }
        double is = 1.0 / sqrt(v / (double)g.D + eps);
        mean[r] = (float)mu;
        inv[r] = (float)is;
        for (int64_t d = 0; d < g.D; d++)
            c->out[base + d * g.I] = (float)(gain[d] * ((x[base + d * g.I] - mu) * is) + bias[d]);
    }
}

static void backward_dx_seq(kd_op_ctx *c, const geo *gp)
{
    geo g = *gp;
    const float *x = c->in[0], *gain = c->in[1], *gy = c->grad_out;
    float *dx = c->grad_in[0];
    int64_t rows = g.O * g.I;
    const float *mean = c->saved, *inv = c->saved + rows;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && rows * g.D > KD_OMP_MIN)
    for (int64_t o = 0; o < g.O; o++) {
        double s1[LN_MAX_I], s2[LN_MAX_I];
        const float *xo = x + o * g.D * g.I, *go = gy + o * g.D * g.I;
        const float *mu = mean + o * g.I, *is = inv + o * g.I;
        float *dxo = dx + o * g.D * g.I;
        for (int64_t i = 0; i < g.I; i++) s1[i] = s2[i] = 0;
        for (int64_t d = 0; d < g.D; d++)
            for (int64_t i = 0; i < g.I; i++) {
                double gh = (double)go[d * g.I + i] * gain[d];
                s1[i] += gh;
                s2[i] += gh * ((xo[d * g.I + i] - (double)mu[i]) * (double)is[i]);
            }
        for (int64_t i = 0; i < g.I; i++) {
            s1[i] /= (double)g.D;
            s2[i] /= (double)g.D;
        }
        for (int64_t d = 0; d < g.D; d++)
            for (int64_t i = 0; i < g.I; i++) {
                double gh = (double)go[d * g.I + i] * gain[d];
                double xh = (xo[d * g.I + i] - (double)mu[i]) * (double)is[i];
                dxo[d * g.I + i] += (float)((double)is[i] * (gh - s1[i] - xh * s2[i]));
            }
    }
}

static void backward(kd_op_ctx *c)
{
    geo g = get_geo(c);
    const float *x = c->in[0], *gain = c->in[1], *gy = c->grad_out;
    float *dx = c->grad_in[0], *dg = c->grad_in[1], *db = c->grad_in[2];
    int64_t rows = g.O * g.I;
    const float *mean = c->saved, *inv = c->saved + rows;
    if (dx && g.I > 1 && g.I <= LN_MAX_I) {
        backward_dx_seq(c, &g);
    } else if (dx) {
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && rows * g.D > KD_OMP_MIN)
        for (int64_t r = 0; r < rows; r++) {
            int64_t base = (r / g.I) * g.D * g.I + r % g.I;
            double mu = mean[r], is = inv[r], s1 = 0, s2 = 0;
            for (int64_t d = 0; d < g.D; d++) {
                double gh = (double)gy[base + d * g.I] * gain[d];
                s1 += gh;
                s2 += gh * ((x[base + d * g.I] - mu) * is);
            }
            s1 /= (double)g.D;
            s2 /= (double)g.D;
            for (int64_t d = 0; d < g.D; d++) {
                double gh = (double)gy[base + d * g.I] * gain[d];
                double xh = (x[base + d * g.I] - mu) * is;
                dx[base + d * g.I] += (float)(is * (gh - s1 - xh * s2));
            }
        }
    }
    if (dg || db) {
        /* rows in order r = o*I + i: the same sums as one row index */
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && rows * g.D > KD_OMP_MIN)
        for (int64_t d = 0; d < g.D; d++) {
            double sg = 0, sb = 0;
            for (int64_t o = 0; o < g.O; o++) {
                const float *xr = x + (o * g.D + d) * g.I, *gr = gy + (o * g.D + d) * g.I;
                const float *mu = mean + o * g.I, *is = inv + o * g.I;
                for (int64_t i = 0; i < g.I; i++) {
                    sg += (double)gr[i] * ((xr[i] - (double)mu[i]) * is[i]);
                    sb += gr[i];
                }
            }
            if (dg) dg[d] += (float)sg;
            if (db) db[d] += (float)sb;
        }
    }
}

static const kd_input_spec inputs[] = {
    {.name = "x", .shape = "[N, ..., D]"},
    {NULL}};

/* kd_op_def.rows: not over the batch axis */
static int rows(const kd_op_ctx *c) { return axis_of(c) != 0; }

const kd_op_def kd_op_layernorm = {
    .name = "layernorm", .min_inputs = 1, .max_inputs = 1, .nparams = 2,
    .attrs = attrs, .infer = infer, .forward = forward, .backward = backward,
    .use = KD_USE_NET, .flags = KD_OP_TIN,
    .doc = "layer normalization over the features: channels of an [N, C, T] sequence, else the last axis",
    .inputs = inputs,
    .rows = rows,
    .bwd_reads = KD_BWD_SET | 1u,   /* x (and the saved mean, 1/std), not y */
};
