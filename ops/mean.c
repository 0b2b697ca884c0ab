/* mean.c — mean over a set of axes: `over: hw|c|t|all` (kdr(5)): hw ->
 * [2, 3] (global average pooling of x [N, C, H, W] to [N, C]), c -> [1],
 * t -> [last], all -> [1 .. last]; or the internal `axes` list when given
 * (C callers, tests).  keepdims keeps reduced axes as size 1.
 *
 * The input is viewed as [O, R, I] per contiguous run; in general each
 * output element o averages the M = prod(dims[axes]) inputs mapping to it.
 * y[o] = (1/M) sum x ;  dx[i] += dy[o(i)] / M.
 * Implementation: out index of every input element computed from its
 * coordinates; serial over outputs in a fixed order (tiny cost here).
 */
#include "kd_ops_util.h"

enum { A_OVER, A_AXES, A_KEEPDIMS };
enum { O_HW, O_C, O_T, O_ALL };
static const char *const overs[] = {"hw", "c", "t", "all", NULL};
static const kd_attr_spec attrs[] = {
    {.name = "over", .type = KD_ATTR_ENUM, .def = O_HW, .enums = overs,
     .doc = "hw: height and width, c: channels, t: time (the last axis), all: every non-batch axis"},
    {.name = "axes", .type = KD_ATTR_INTS, .min = 0, .max = KD_MAXDIM - 1,
     .doc = "the axes to average over, instead of over", .internal = 1},
    {.name = "keepdims", .type = KD_ATTR_BOOL, .def = 0, .min = 0, .max = 1,
     .doc = "keep reduced axes as size 1", .internal = 1},
    {0}};

/* the reduced axes into ax[]; their number */
static int axes_of(const kd_op_ctx *c, int64_t *ax)
{
    const kd_attr_val *a = &c->attr[A_AXES];
    int nd = c->in_shape[0].ndim, n = 0;
    if (a->nints > 0) {
        for (int i = 0; i < a->nints; i++) ax[n++] = a->ints[i];
        return n;
    }
    switch ((int)KD_A_INT(c, A_OVER)) {
    case O_HW: ax[n++] = 2; ax[n++] = 3; break;
    case O_C: ax[n++] = 1; break;
    case O_T: ax[n++] = nd - 1; break;
    default: for (int d = 1; d < nd; d++) ax[n++] = d; break;
    }
    return n;
}

static unsigned axis_mask(const kd_op_ctx *c)
{
    int64_t ax[KD_MAXDIM];
    unsigned m = 0;
    int n = axes_of(c, ax);
    for (int i = 0; i < n; i++) m |= 1u << ax[i];
    return m;
}

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    const kd_shape *x = &c->in_shape[0];
    char b[128];
    if (c->attr[A_AXES].nints == 0 && KD_A_INT(c, A_OVER) == O_HW && x->ndim != 4)
        return kd_err(err, n, "mean over hw expects a 4-D input [N, C, H, W], got %s",
                      kd_shape_str(x, b, sizeof b));
    int64_t ax[KD_MAXDIM];
    int na = axes_of(c, ax);
    for (int i = 0; i < na; i++)
        if (ax[i] >= x->ndim)
            return kd_err(err, n, "mean: axis %lld out of range for input %s",
                          (long long)ax[i], kd_shape_str(x, b, sizeof b));
    unsigned m = axis_mask(c);
    kd_shape o = {{0}, 0};
    for (int d = 0; d < x->ndim; d++) {
        if (m & (1u << d)) {
            if (KD_A_INT(c, A_KEEPDIMS)) o.dims[o.ndim++] = 1;
        } else {
            o.dims[o.ndim++] = x->dims[d];
        }
    }
    c->out_shape = o;
    return 0;
}

/* maps each flat input index to its output index */
static int64_t out_index(const kd_shape *x, unsigned m, int64_t i)
{
    int64_t o = 0, mult = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
        int64_t coord = i % x->dims[d];
        i /= x->dims[d];
        if (!(m & (1u << d))) {
            o += coord * mult;
            mult *= x->dims[d];
        }
    }
    return o;
}

/* fast path: reduced axes are exactly the trailing ones -> contiguous rows */
static int64_t trailing(const kd_shape *x, unsigned m)
{
    int64_t r = 1;
    int d = x->ndim - 1;
    for (; d >= 0 && (m & (1u << d)); d--) r *= x->dims[d];
    for (; d >= 0; d--)
        if (m & (1u << d)) return 0;
    return r;
}

static void forward(kd_op_ctx *c)
{
    const kd_shape *x = &c->in_shape[0];
    unsigned m = axis_mask(c);
    int64_t nx = kd_shape_numel(x), no = kd_shape_numel(&c->out_shape), M = nx / (no ? no : 1);
    int64_t R = trailing(x, m);
    if (R) {
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && nx > KD_OMP_MIN)
        for (int64_t o = 0; o < no; o++) {
            double s = 0;
            for (int64_t j = 0; j < R; j++) s += c->in[0][o * R + j];
            c->out[o] = (float)(s / (double)R);
        }
        return;
    }
    double *acc = c->work;
    memset(acc, 0, sizeof(double) * (size_t)no);
    for (int64_t i = 0; i < nx; i++) acc[out_index(x, m, i)] += c->in[0][i];
    for (int64_t o = 0; o < no; o++) c->out[o] = (float)(acc[o] / (double)M);
}

static size_t workspace(const kd_op_ctx *c)
{
    return sizeof(double) * (size_t)kd_shape_numel(&c->out_shape);
}

static void backward(kd_op_ctx *c)
{
    const kd_shape *x = &c->in_shape[0];
    float *d = c->grad_in[0];
    if (!d) return;
    unsigned m = axis_mask(c);
    int64_t nx = kd_shape_numel(x), no = kd_shape_numel(&c->out_shape);
    float inv = (float)(1.0 / (double)(nx / (no ? no : 1)));
    int64_t R = trailing(x, m);
    const float *g = c->grad_out;
    if (R) {
        /* row by row: no division per element (it cost more than the adds) */
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && nx > KD_OMP_MIN)
        for (int64_t o = 0; o < no; o++) {
            float v = g[o] * inv;
            float *dr = d + o * R;
            for (int64_t j = 0; j < R; j++) dr[j] += v;
        }
        return;
    }
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && nx > KD_OMP_MIN)
    for (int64_t i = 0; i < nx; i++) d[i] += g[out_index(x, m, i)] * inv;
}

static const kd_input_spec inputs[] = {
    {.name = "x", .shape = "[N, C, H, W] or [N, C, T]"},
    {NULL}};

/* kd_op_def.rows: the batch axis is not averaged over */
static int rows(const kd_op_ctx *c)
{
    int64_t ax[KD_MAXDIM];
    int n = axes_of(c, ax);
    for (int i = 0; i < n; i++)
        if (ax[i] == 0) return 0;
    return 1;
}

const kd_op_def kd_op_mean = {
    .name = "mean", .min_inputs = 1, .max_inputs = 1,
    .attrs = attrs, .infer = infer, .workspace = workspace,
    .forward = forward, .backward = backward,
    .use = KD_USE_NET, .flags = KD_OP_TIN,
    .doc = "average over spatial (hw), channel (c), time (t) or all non-batch axes",
    .inputs = inputs,
    .rows = rows,
};
