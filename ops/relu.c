/* relu.c — y = max(x, 0), elementwise; any shape (N, ...).
 * dx += dy * [y > 0] (= [x > 0], NaN included: y = 0 there): the backward
 * reads the output only, so that the memory plan can free x (often a
 * batch norm's output nothing else reads) after the forward. */
#include "kd_unary.h"

static void forward(kd_op_ctx *c)
{
    const float *x = c->in[0];
    float *y = c->out;
    KD_UNARY_LOOP(c, float xi = x[i]; y[i] = xi > 0 ? xi : 0.0f);   /* NaN -> 0 */
}

static void backward(kd_op_ctx *c)
{
    const float *y = c->out, *g = c->grad_out;
    float *d = c->grad_in[0];
    if (!d) return;
    KD_UNARY_LOOP(c, float gi = g[i]; d[i] += y[i] > 0 ? gi : 0.0f);   /* both loads unconditional: vectorizes */
}

static const kd_input_spec inputs[] = {
    {.name = "x", .shape = "any shape"},
    {NULL}};

const kd_op_def kd_op_relu = {
    .name = "relu", .min_inputs = 1, .max_inputs = 1,
    .infer = unary_infer, .forward = forward, .backward = backward,
    .rows = kd_rows_always,
    .bwd_reads = KD_BWD_SET | KD_BWD_OUT,
    .use = KD_USE_NET, .flags = KD_OP_TIN,
    .doc = "max(x, 0)",
    .inputs = inputs,
};
