/* add.c — y = x1 + x2 + ... + xk (2 <= k <= 16), all the same shape (N, ...).
 * dxj += dy for every input j.  Summed left to right (fixed order). */
#include "kd_unary.h"

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    if (kd_check_same(c, c->nin, "add", err, n)) return -1;
    c->out_shape = c->in_shape[0];
    return 0;
}

static void forward(kd_op_ctx *c)
{
    float *y = c->out;
    const float *a = c->in[0];
    KD_UNARY_LOOP(c, {
        float s = a[i];
        for (int j = 1; j < c->nin; j++) s += c->in[j][i];
        y[i] = s;
    });
}

static void backward(kd_op_ctx *c)
{
    const float *g = c->grad_out;
    for (int j = 0; j < c->nin; j++) {
        float *d = c->grad_in[j];
        if (d) KD_UNARY_LOOP(c, d[i] += g[i]);
    }
}

const kd_op_def kd_op_add = {
    .name = "add", .min_inputs = 2, .max_inputs = 16,
    .infer = infer, .forward = forward, .backward = backward,
    .rows = kd_rows_always,
    .bwd_reads = KD_BWD_SET,   /* grad_out only */
};
