/* scale.c — y = s * x, elementwise; any shape.  dx += s * dy.
 * (The compiler lowers `0.1 * ce(...)` to scale(ce(...), 0.1).) */
#include "kd_unary.h"

enum { A_S };
static const kd_attr_spec attrs[] = {
    {.name = "s", .type = KD_ATTR_FLOAT, .def = 1, .min = -1e30, .max = 1e30,
     .doc = "the factor"},
    {0}};

static void forward(kd_op_ctx *c)
{
    const float *x = c->in[0];
    float *y = c->out, s = (float)KD_A_FLT(c, A_S);
    KD_UNARY_LOOP(c, y[i] = s * x[i]);
}

static void backward(kd_op_ctx *c)
{
    const float *g = c->grad_out;
    float *d = c->grad_in[0], s = (float)KD_A_FLT(c, A_S);
    if (!d) return;
    KD_UNARY_LOOP(c, d[i] += s * g[i]);
}

const kd_op_def kd_op_scale = {
    .name = "scale", .min_inputs = 1, .max_inputs = 1, .npositional = 1,
    .attrs = attrs, .infer = unary_infer, .forward = forward, .backward = backward,
    .rows = kd_rows_always,
};
