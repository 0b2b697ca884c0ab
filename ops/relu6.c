/* relu6.c — y = min(max(x, 0), 6), elementwise; any shape (N, ...).
 * dx += dy where 0 < x < 6. */
#include "kd_unary.h"

static void forward(kd_op_ctx *c)
{
    const float *x = c->in[0];
    float *y = c->out;
    KD_UNARY_LOOP(c, y[i] = x[i] > 0 ? (x[i] < 6 ? x[i] : 6.0f) : 0.0f);
}

static void backward(kd_op_ctx *c)
{
    const float *x = c->in[0], *g = c->grad_out;
    float *d = c->grad_in[0];
    if (!d) return;
    KD_UNARY_LOOP(c, if (x[i] > 0 && x[i] < 6) d[i] += g[i]);
}

static const kd_input_spec inputs[] = {
    {.name = "x", .shape = "any shape"},
    {NULL}};

const kd_op_def kd_op_relu6 = {
    .name = "relu6", .min_inputs = 1, .max_inputs = 1,
    .infer = unary_infer, .forward = forward, .backward = backward,
    .rows = kd_rows_always,
    .use = KD_USE_NET, .flags = KD_OP_TIN,
    .doc = "min(max(x, 0), 6)",
    .inputs = inputs,
};
