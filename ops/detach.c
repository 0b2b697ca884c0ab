/* detach.c — y = x, no gradient flows back to x (PyTorch's .detach()).
 * The compiler inserts it where a per-model loss reads another trained
 * model's tensor (deep mutual learning: `loss a: ... kl(a.logits, b.logits)`
 * must not train b), so that tensor is a constant in that loss. */
#include "kd_unary.h"

static void forward(kd_op_ctx *c)
{
    const float *x = c->in[0];
    float *y = c->out;
    KD_UNARY_LOOP(c, y[i] = x[i]);
}

/* input 0 is nograd: the executor never asks for dx, and nothing above x
 * runs backward for this path */
static void backward(kd_op_ctx *c) { (void)c; }

const kd_op_def kd_op_detach = {
    .name = "detach", .min_inputs = 1, .max_inputs = 1, .nograd = 1u << 0,
    .infer = unary_infer, .forward = forward, .backward = backward,
    .rows = kd_rows_always,
};
