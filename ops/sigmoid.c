/* sigmoid.c — y = 1/(1+exp(-x)), elementwise; any shape.
 * dx += dy * y * (1 - y)  (uses the saved output). */
#include "kd_unary.h"

static void forward(kd_op_ctx *c)
{
    const float *x = c->in[0];
    float *y = c->out;
    KD_UNARY_LOOP(c, y[i] = x[i] >= 0 ? 1.0f / (1.0f + expf(-x[i]))
                                      : expf(x[i]) / (1.0f + expf(x[i])));
}

static void backward(kd_op_ctx *c)
{
    const float *y = c->out, *g = c->grad_out;
    float *d = c->grad_in[0];
    if (!d) return;
    KD_UNARY_LOOP(c, d[i] += g[i] * y[i] * (1.0f - y[i]));
}

static const kd_input_spec inputs[] = {
    {.name = "x", .shape = "any shape"},
    {NULL}};

const kd_op_def kd_op_sigmoid = {
    .name = "sigmoid", .min_inputs = 1, .max_inputs = 1,
    .infer = unary_infer, .forward = forward, .backward = backward,
    .rows = kd_rows_always,
    .use = KD_USE_NET, .flags = KD_OP_TIN,
    .doc = "1 / (1 + exp(-x))",
    .inputs = inputs,
};
