/* smooth_l1.c — Huber-style loss.  a, b any shape (N, ...), M elements,
 * d = a - b:  l(d) = 0.5 d^2 / beta if |d| < beta else |d| - 0.5 beta;
 * L = (1/M) sum l(d);  da += l'(d) dL / M with l'(d) = d/beta or sign(d); db -= it. */
#define KD_LOSS_NAME "smooth_l1"
#include "kd_loss.h"

enum { A_BETA };
static const kd_attr_spec attrs[] = {
    {.name = "beta", .type = KD_ATTR_FLOAT, .def = 1.0, .min = 1e-12, .max = 1e30,
     .doc = "threshold between the quadratic and the linear part"},
    {0}};

static double lval(double d, double beta)
{
    double ad = fabs(d);
    return ad < beta ? 0.5 * d * d / beta : ad - 0.5 * beta;
}

static void forward(kd_op_ctx *c)
{
    const float *a = c->in[0], *b = c->in[1];
    int64_t M = kd_shape_numel(&c->in_shape[0]);
    double s, beta = KD_A_FLT(c, A_BETA);
    KD_BLOCK_SUM(c, M, s, lval((double)a[i] - b[i], beta));
    c->out[0] = (float)(s / (double)M);
}

static void backward(kd_op_ctx *c)
{
    const float *a = c->in[0], *b = c->in[1];
    int64_t M = kd_shape_numel(&c->in_shape[0]);
    double k = c->grad_out[0] / (double)M, beta = KD_A_FLT(c, A_BETA);
    float *da = c->grad_in[0], *db = c->grad_in[1];
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && M > KD_OMP_MIN)
    for (int64_t i = 0; i < M; i++) {
        double d = (double)a[i] - b[i];
        double gd = fabs(d) < beta ? d / beta : (d > 0 ? 1.0 : -1.0);
        float v = (float)(k * gd);
        if (da) da[i] += v;
        if (db) db[i] -= v;
    }
}

static const kd_input_spec inputs[] = {
    {.name = "a", .shape = "any shape"},
    {.name = "b", .shape = "the shape of a"},
    {NULL}};

const kd_op_def kd_op_smooth_l1 = {
    .name = "smooth_l1", .min_inputs = 2, .max_inputs = 2, .attrs = attrs,
    .infer = pair_infer, .workspace = pair_workspace, .forward = forward, .backward = backward,
    .use = KD_USE_LOSS,
    .doc = "Huber loss with threshold beta",
    .inputs = inputs,
};
