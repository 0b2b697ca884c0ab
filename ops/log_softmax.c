/* log_softmax.c — y = x/T - log sum_k exp(x_k/T) along `axis` (default -1).
 * Shapes: x viewed [O, K, I].  dx_k += (1/T) (dy_k - exp(y_k) sum_j dy_j).
 * Parallel over the O*I rows. */
#include "kd_softmax.h"

static void forward(kd_op_ctx *c)
{
    int64_t O, K, I;
    sm_geo(c, &O, &K, &I);
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && O * K * I > KD_OMP_MIN)
    for (int64_t r = 0; r < O * I; r++) {
        int64_t o = r / I, i = r % I;
        sm_row(c->in[0] + o * K * I + i, c->out + o * K * I + i, K, I, KD_A_FLT(c, A_T), 1);
    }
}

static void backward(kd_op_ctx *c)
{
    float *d = c->grad_in[0];
    if (!d) return;
    int64_t O, K, I;
    sm_geo(c, &O, &K, &I);
    double iT = 1.0 / KD_A_FLT(c, A_T);
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && O * K * I > KD_OMP_MIN)
    for (int64_t r = 0; r < O * I; r++) {
        int64_t base = (r / I) * K * I + r % I;
        const float *y = c->out + base, *g = c->grad_out + base;
        double s = 0;
        for (int64_t k = 0; k < K; k++) s += g[k * I];
        for (int64_t k = 0; k < K; k++) d[base + k * I] += (float)(iT * (g[k * I] - exp((double)y[k * I]) * s));
    }
}

static const kd_input_spec inputs[] = {
    {.name = "x", .shape = "[N, ..., K]"},
    {NULL}};

/* kd_op_def.rows: not over the batch axis */
static int rows(const kd_op_ctx *c) { return sm_axis(c) != 0; }

const kd_op_def kd_op_log_softmax = {
    .name = "log_softmax", .min_inputs = 1, .max_inputs = 1,
    .attrs = sm_attrs, .infer = sm_infer, .forward = forward, .backward = backward,
    .use = KD_USE_NET, .flags = KD_OP_TIN,
    .doc = "log of softmax over the class axis, with temperature T",
    .inputs = inputs,
    .rows = rows,
};
