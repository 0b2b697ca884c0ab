/* mse.c — mean squared error.  a, b any shape (N, ...), M elements.
 * L = (1/M) sum (a - b)^2;  da += 2 (a - b) dL / M;  db -= the same. */
#define KD_LOSS_NAME "mse"
#include "kd_loss.h"

static void forward(kd_op_ctx *c)
{
    const float *a = c->in[0], *b = c->in[1];
    int64_t M = kd_shape_numel(&c->in_shape[0]);
    double s;
    KD_BLOCK_SUM(c, M, s, ((double)a[i] - b[i]) * ((double)a[i] - b[i]));
    c->out[0] = (float)(s / (double)M);
}

static void backward(kd_op_ctx *c)
{
    const float *a = c->in[0], *b = c->in[1];
    int64_t M = kd_shape_numel(&c->in_shape[0]);
    float k = (float)(2.0 * c->grad_out[0] / (double)M);
    float *da = c->grad_in[0], *db = c->grad_in[1];
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && M > KD_OMP_MIN)
    for (int64_t i = 0; i < M; i++) {
        float v = k * (a[i] - b[i]);
        if (da) da[i] += v;
        if (db) db[i] -= v;
    }
}

static const kd_input_spec inputs[] = {
    {.name = "a", .shape = "any shape"},
    {.name = "b", .shape = "the shape of a"},
    {NULL}};
static const kd_sugar sugar[] = {
    {.name = "l2", .doc = "mean squared difference (same as mse)"},
    {.name = "hint", .doc = "FitNets hint: mean squared difference of features (adapt shapes first)",
     .inputs = (const kd_input_spec[]){{.name = "student", .shape = "[N, ...] features"},
                                       {.name = "teacher", .shape = "the shape of student"}, {NULL}}},
    {NULL}};

const kd_op_def kd_op_mse = {
    .name = "mse", .min_inputs = 2, .max_inputs = 2,
    .infer = pair_infer, .workspace = pair_workspace, .forward = forward, .backward = backward,
    .use = KD_USE_LOSS,
    .doc = "mean squared difference",
    .inputs = inputs,
    .sugar = sugar,
};
