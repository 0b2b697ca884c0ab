/* flatten.c — x [N, d1, d2, ...] -> y [N, d1*d2*...] (a copy; the planner
 * may alias it later).  dx += dy. */
#include "kd_unary.h"

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    const kd_shape *x = &c->in_shape[0];
    if (x->ndim < 1) return kd_err_rank(err, n, "flatten", 2, "[N, ...]", x);
    c->out_shape = kd_sh2(x->dims[0], x->dims[0] ? kd_shape_numel(x) / x->dims[0] : 0);
    return 0;
}

static void forward(kd_op_ctx *c)
{
    const float *x = c->in[0];
    float *y = c->out;
    KD_UNARY_LOOP(c, y[i] = x[i]);
}

static void backward(kd_op_ctx *c)
{
    const float *g = c->grad_out;
    float *d = c->grad_in[0];
    if (d) KD_UNARY_LOOP(c, d[i] += g[i]);
}

static const kd_input_spec inputs[] = {
    {.name = "x", .shape = "[N, ...]"},
    {NULL}};

const kd_op_def kd_op_flatten = {
    .name = "flatten", .min_inputs = 1, .max_inputs = 1,
    .infer = infer, .forward = forward, .backward = backward,
    .use = KD_USE_NET, .flags = KD_OP_TIN,
    .doc = "flatten every axis but the batch axis",
    .inputs = inputs,
    .rows = kd_rows_always,
};
