/* leaky_relu.c — y = x if x > 0 else slope*x, elementwise; any shape.
 * dx += dy * (y > 0 ? 1 : slope): with slope in [0, 1], y > 0 exactly
 * where x > 0 (NaN included), so the backward reads the output only and
 * the memory plan can free x after the forward. */
#include "kd_unary.h"

enum { A_SLOPE };
static const kd_attr_spec attrs[] = {
    {.name = "slope", .type = KD_ATTR_FLOAT, .def = 0.01, .min = 0, .max = 1,
     .doc = "slope for x < 0"},
    {0}};

static void forward(kd_op_ctx *c)
{
    const float *x = c->in[0];
    float *y = c->out, s = (float)KD_A_FLT(c, A_SLOPE);
    KD_UNARY_LOOP(c, y[i] = x[i] > 0 ? x[i] : s * x[i]);
}

static void backward(kd_op_ctx *c)
{
    const float *y = c->out, *g = c->grad_out;
    float *d = c->grad_in[0], s = (float)KD_A_FLT(c, A_SLOPE);
    if (!d) return;
    KD_UNARY_LOOP(c, d[i] += y[i] > 0 ? g[i] : s * g[i]);
}

static const kd_input_spec inputs[] = {
    {.name = "x", .shape = "any shape"},
    {NULL}};

const kd_op_def kd_op_leaky_relu = {
    .name = "leaky_relu", .min_inputs = 1, .max_inputs = 1, .npositional = 1,
    .attrs = attrs, .infer = unary_infer, .forward = forward, .backward = backward,
    .rows = kd_rows_always,
    .bwd_reads = KD_BWD_SET | KD_BWD_OUT,
    .use = KD_USE_NET, .flags = KD_OP_TIN,
    .doc = "x for x > 0, slope * x otherwise",
    .inputs = inputs,
};
