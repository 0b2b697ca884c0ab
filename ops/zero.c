/* zero.c — zeros shaped like the input (the `none` candidate of choice).
 * x any shape; y = 0 of the same shape; the gradient is 0 (backward adds
 * nothing). */
#include "kd_unary.h"

static void forward(kd_op_ctx *c)
{
    memset(c->out, 0, sizeof(float) * (size_t)kd_shape_numel(&c->out_shape));
}

static void backward(kd_op_ctx *c) { (void)c; }

static const kd_input_spec inputs[] = {
    {.name = "x", .shape = "any shape"},
    {NULL}};

const kd_op_def kd_op_zero = {
    .name = "zero", .min_inputs = 1, .max_inputs = 1,
    .infer = unary_infer, .forward = forward, .backward = backward,
    .use = KD_USE_NET, .flags = KD_OP_TIN | KD_OP_BARE,
    .doc = "zeros shaped like the input (the `none` candidate of choice)",
    .inputs = inputs,
};
