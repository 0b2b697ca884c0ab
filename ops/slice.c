/* slice.c — elements start..stop-1 along one non-batch axis.
 *
 * Shapes: x viewed as [O, K, I] around `axis` (O = product of the dims
 * before it, I = product of those after), y [O, stop - start, I].
 * forward:  y[o, k, i] = x[o, start + k, i]
 * backward: dx[o, start + k, i] += dy[o, k, i]; the rest of dx is unchanged.
 * Parallel over (o, k) rows; a copy, no reductions.
 */
#include "kd_ops_util.h"

enum { A_AXIS, A_START, A_STOP };

static const kd_attr_spec attrs[] = {
    {.name = "axis", .type = KD_ATTR_INT, .def = 1, .min = 1, .max = KD_MAXDIM - 1, .required = 1,
     .doc = "axis to slice (1: channels)"},
    {.name = "start", .type = KD_ATTR_INT, .def = 0, .min = 0, .max = 1LL << 40, .required = 1,
     .doc = "first index kept"},
    {.name = "stop", .type = KD_ATTR_INT, .def = 1, .min = 0, .max = 1LL << 40, .required = 1,
     .doc = "one past the last index kept"},
    {0}};

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    const kd_shape *x = &c->in_shape[0];
    int a = (int)KD_A_INT(c, A_AXIS);
    int64_t s = KD_A_INT(c, A_START), e = KD_A_INT(c, A_STOP);
    char b[128];
    if (a >= x->ndim)
        return kd_err(err, n, "slice: axis %d out of range for input %s (axis 0, the batch, "
                      "cannot be sliced)", a, kd_shape_str(x, b, sizeof b));
    if (!(s < e && e <= x->dims[a]))
        return kd_err(err, n, "slice: start %lld, stop %lld must satisfy 0 <= start < stop <= %lld "
                      "(axis %d of %s)", (long long)s, (long long)e, (long long)x->dims[a], a,
                      kd_shape_str(x, b, sizeof b));
    c->out_shape = *x;
    c->out_shape.dims[a] = e - s;
    return 0;
}

static void run(kd_op_ctx *c, int back)
{
    const kd_shape *x = &c->in_shape[0];
    int a = (int)KD_A_INT(c, A_AXIS);
    int64_t s = KD_A_INT(c, A_START), O = 1, I = 1, K = x->dims[a];
    int64_t L = c->out_shape.dims[a];
    for (int d = 0; d < a; d++) O *= x->dims[d];
    for (int d = a + 1; d < x->ndim; d++) I *= x->dims[d];
    float *dx = c->grad_in[0];
    if (back && !dx) return;
    int64_t rows = O * L;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && rows * I > KD_OMP_MIN)
    for (int64_t r = 0; r < rows; r++) {
        int64_t o = r / L, k = r % L, src = (o * K + s + k) * I;
        if (!back) {
            memcpy(c->out + r * I, c->in[0] + src, sizeof(float) * (size_t)I);
        } else {
            const float *g = c->grad_out + r * I;
            for (int64_t i = 0; i < I; i++) dx[src + i] += g[i];
        }
    }
}

static void forward(kd_op_ctx *c) { run(c, 0); }
static void backward(kd_op_ctx *c) { run(c, 1); }

static const kd_input_spec inputs[] = {
    {.name = "x", .shape = "any shape"},
    {NULL}};

const kd_op_def kd_op_slice = {
    .name = "slice", .min_inputs = 1, .max_inputs = 1, .npositional = 3,
    .attrs = attrs, .infer = infer, .forward = forward, .backward = backward,
    .use = KD_USE_NET, .flags = KD_OP_TIN,
    .doc = "elements start..stop-1 along an axis",
    .inputs = inputs,
    .rows = kd_rows_always,
};
