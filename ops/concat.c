/* concat.c — concatenation of k tensors (1 <= k <= 16) along `axis`
 * (default 1: channels of [N, C, H, W]).  All other dims must match.
 * Each input j viewed as [O, Kj, I]; y viewed [O, sum Kj, I].
 * dxj += the matching slice of dy.  Parallel over O. */
#include "kd_ops_util.h"

enum { A_AXIS };
static const kd_attr_spec attrs[] = {
    {.name = "axis", .type = KD_ATTR_INT, .def = 1, .min = 0, .max = KD_MAXDIM - 1,
     .doc = "axis to concatenate along (1: channels)"},
    {0}};

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    int a = (int)KD_A_INT(c, A_AXIS);
    kd_shape o = c->in_shape[0];
    char b1[128], b2[128];
    if (a >= o.ndim)
        return kd_err(err, n, "concat: axis %d out of range for input %s", a,
                      kd_shape_str(&o, b1, sizeof b1));
    for (int j = 1; j < c->nin; j++) {
        const kd_shape *s = &c->in_shape[j];
        int ok = s->ndim == o.ndim;
        for (int d = 0; ok && d < o.ndim; d++)
            if (d != a && s->dims[d] != o.dims[d]) ok = 0;
        if (!ok)
            return kd_err(err, n, "concat: shapes %s and %s differ outside axis %d",
                          kd_shape_str(&c->in_shape[0], b1, sizeof b1),
                          kd_shape_str(s, b2, sizeof b2), a);
        o.dims[a] += s->dims[a];
    }
    c->out_shape = o;
    return 0;
}

static void geo(const kd_op_ctx *c, int64_t *O, int64_t *I)
{
    int a = (int)KD_A_INT(c, A_AXIS);
    *O = *I = 1;
    for (int d = 0; d < a; d++) *O *= c->out_shape.dims[d];
    for (int d = a + 1; d < c->out_shape.ndim; d++) *I *= c->out_shape.dims[d];
}

static void run(kd_op_ctx *c, int back)
{
    int a = (int)KD_A_INT(c, A_AXIS);
    int64_t O, I, KT = c->out_shape.dims[a];
    geo(c, &O, &I);
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && O > 1 && kd_shape_numel(&c->out_shape) > KD_OMP_MIN)
    for (int64_t o = 0; o < O; o++) {
        int64_t off = 0;
        for (int j = 0; j < c->nin; j++) {
            int64_t len = c->in_shape[j].dims[a] * I;
            if (!back) {
                memcpy(c->out + (o * KT) * I + off, c->in[j] + o * len, sizeof(float) * (size_t)len);
            } else if (c->grad_in[j]) {
                float *d = c->grad_in[j] + o * len;
                const float *g = c->grad_out + (o * KT) * I + off;
                for (int64_t i = 0; i < len; i++) d[i] += g[i];
            }
            off += len;
        }
    }
}

static void forward(kd_op_ctx *c) { run(c, 0); }
static void backward(kd_op_ctx *c) { run(c, 1); }

static const kd_input_spec inputs[] = {
    {.name = "tensors", .shape = "same shape outside axis", .kind = KD_IN_REST},
    {NULL}};

/* kd_op_def.rows: not along the batch axis */
static int rows(const kd_op_ctx *c) { return KD_A_INT(c, A_AXIS) != 0; }

const kd_op_def kd_op_concat = {
    .name = "concat", .min_inputs = 1, .max_inputs = 16,
    .attrs = attrs, .infer = infer, .forward = forward, .backward = backward,
    .use = KD_USE_NET,
    .doc = "concatenate tensors along an axis (1 = channels): concat(a, b, ...) or concat([a, b])",
    .inputs = inputs,
    .rows = rows,
};
