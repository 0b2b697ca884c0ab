/* mul.c — y = a * b elementwise, same shape (N, ...).
 * da += dy * b, db += dy * a. */
#include "kd_unary.h"

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    if (kd_check_same(c, 2, "mul", err, n)) return -1;
    c->out_shape = c->in_shape[0];
    return 0;
}

static void forward(kd_op_ctx *c)
{
    const float *a = c->in[0], *b = c->in[1];
    float *y = c->out;
    KD_UNARY_LOOP(c, y[i] = a[i] * b[i]);
}

static void backward(kd_op_ctx *c)
{
    const float *g = c->grad_out, *a = c->in[0], *b = c->in[1];
    float *da = c->grad_in[0], *db = c->grad_in[1];
    if (da) KD_UNARY_LOOP(c, da[i] += g[i] * b[i]);
    if (db) KD_UNARY_LOOP(c, db[i] += g[i] * a[i]);
}

const kd_op_def kd_op_mul = {
    .name = "mul", .min_inputs = 2, .max_inputs = 2,
    .infer = infer, .forward = forward, .backward = backward,
    .rows = kd_rows_always,
};
