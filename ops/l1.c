/* l1.c — mean absolute error.  a, b any shape (N, ...), M elements.
 * L = (1/M) sum |a - b|;  da += sign(a - b) dL / M (0 where a == b); db -= it. */
#define KD_LOSS_NAME "l1"
#include "kd_loss.h"

static void forward(kd_op_ctx *c)
{
    const float *a = c->in[0], *b = c->in[1];
    int64_t M = kd_shape_numel(&c->in_shape[0]);
    double s;
    KD_BLOCK_SUM(c, M, s, fabs((double)a[i] - b[i]));
    c->out[0] = (float)(s / (double)M);
}

static void backward(kd_op_ctx *c)
{
    const float *a = c->in[0], *b = c->in[1];
    int64_t M = kd_shape_numel(&c->in_shape[0]);
    float k = (float)(c->grad_out[0] / (double)M);
    float *da = c->grad_in[0], *db = c->grad_in[1];
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && M > KD_OMP_MIN)
    for (int64_t i = 0; i < M; i++) {
        float v = a[i] > b[i] ? k : a[i] < b[i] ? -k : 0.0f;
        if (da) da[i] += v;
        if (db) db[i] -= v;
    }
}

static const kd_input_spec inputs[] = {
    {.name = "a", .shape = "any shape"},
    {.name = "b", .shape = "the shape of a"},
    {NULL}};

const kd_op_def kd_op_l1 = {
    .name = "l1", .min_inputs = 2, .max_inputs = 2,
    .infer = pair_infer, .workspace = pair_workspace, .forward = forward, .backward = backward,
    .use = KD_USE_LOSS,
    .doc = "mean absolute difference",
    .inputs = inputs,
};
