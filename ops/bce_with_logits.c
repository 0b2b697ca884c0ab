/* bce_with_logits.c — binary cross-entropy on logits.  x (logits) and
 * y (targets in [0, 1], no gradient) any shape (N, ...), M elements.
 * L = (1/M) sum max(x,0) - x y + log(1 + exp(-|x|));
 * dx += (sigmoid(x) - y) dL / M. */
#define KD_LOSS_NAME "bce_with_logits"
#include "kd_loss.h"

static double term(double x, double y)
{
    return (x > 0 ? x : 0) - x * y + log1p(exp(-fabs(x)));
}

static void forward(kd_op_ctx *c)
{
    const float *x = c->in[0], *y = c->in[1];
    int64_t M = kd_shape_numel(&c->in_shape[0]);
    double s;
    KD_BLOCK_SUM(c, M, s, term(x[i], y[i]));
    c->out[0] = (float)(s / (double)M);
}

static void backward(kd_op_ctx *c)
{
    const float *x = c->in[0], *y = c->in[1];
    float *dx = c->grad_in[0];
    if (!dx) return;
    int64_t M = kd_shape_numel(&c->in_shape[0]);
    double k = c->grad_out[0] / (double)M;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && M > KD_OMP_MIN)
    for (int64_t i = 0; i < M; i++) {
        double sg = x[i] >= 0 ? 1.0 / (1.0 + exp(-(double)x[i])) : exp((double)x[i]) / (1.0 + exp((double)x[i]));
        dx[i] += (float)(k * (sg - y[i]));
    }
}

static const kd_input_spec inputs[] = {
    {.name = "logits", .shape = "any shape"},
    {.name = "target", .shape = "the shape of logits, no gradient"},
    {NULL}};

const kd_op_def kd_op_bce_with_logits = {
    .name = "bce_with_logits", .min_inputs = 2, .max_inputs = 2, .nograd = 1u << 1,
    .infer = pair_infer, .workspace = pair_workspace, .forward = forward, .backward = backward,
    .use = KD_USE_LOSS,
    .doc = "binary cross-entropy of logits against 0/1 targets",
    .inputs = inputs,
};
