/* ab.c — activation boundaries (Heo et al., AAAI 2019): transfer which
 * neurons of the teacher fire, with a hinge of margin mu on the student's
 * pre-activations.
 *
 * Shapes: s [N, ...] the student's pre-activations (through a connector to
 * the teacher's shape), t [N, ...] the teacher's activations, pre- or
 * post-ReLU (only their sign is read; no gradient), the same shape; out
 * scalar.  With rho = 1[t > 0]:
 *   l = rho max(0, mu - s)^2 + (1 - rho) max(0, mu + s)^2
 *   L = the mean of l over all elements
 * (the paper's squared norm of the alternative loss, divided by the
 * number of elements so that its weight does not grow with the layer).
 * Gradient: ds = (-2 rho max(0, mu - s) + 2 (1 - rho) max(0, mu + s)) / M.
 * Blocks of 4096 elements in parallel, their sums added in order. */
#include "kd_ops_util.h"

enum { A_MARGIN };
static const kd_attr_spec attrs[] = {
    {.name = "margin", .type = KD_ATTR_FLOAT, .def = 1, .min = 0, .max = 1e3,
     .doc = "the margin mu of the hinge around the activation boundary"},
    {0}};

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    if (c->in_shape[0].ndim < 1) return kd_err(err, n, "ab expects [N, ...] inputs, got a scalar");
    if (kd_check_same(c, 2, "ab", err, n)) return -1;
    c->out_shape = kd_scalar();
    return 0;
}

#define BLK 4096
static size_t workspace(const kd_op_ctx *c)
{
    return sizeof(double) * (size_t)((kd_shape_numel(&c->in_shape[0]) + BLK - 1) / BLK);
}

static void forward(kd_op_ctx *c)
{
    int64_t M = kd_shape_numel(&c->in_shape[0]), nb = (M + BLK - 1) / BLK;
    double mu = KD_A_FLT(c, A_MARGIN), *part = c->work;
    const float *s = c->in[0], *t = c->in[1];
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && M > KD_OMP_MIN)
    for (int64_t b = 0; b < nb; b++) {
        double acc = 0;
        int64_t e = (b + 1) * BLK < M ? (b + 1) * BLK : M;
        for (int64_t i = b * BLK; i < e; i++) {
            double h = t[i] > 0 ? mu - s[i] : mu + s[i];
            if (h > 0) acc += h * h;
        }
        part[b] = acc;
    }
    double L = 0;
    for (int64_t b = 0; b < nb; b++) L += part[b];
    c->out[0] = (float)(L / (double)M);
}

static void backward(kd_op_ctx *c)
{
    float *ds = c->grad_in[0];
    if (!ds) return;
    int64_t M = kd_shape_numel(&c->in_shape[0]);
    double mu = KD_A_FLT(c, A_MARGIN), g = 2 * c->grad_out[0] / (double)M;
    const float *s = c->in[0], *t = c->in[1];
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && M > KD_OMP_MIN)
    for (int64_t i = 0; i < M; i++) {
        if (t[i] > 0) {
            double h = mu - s[i];
            if (h > 0) ds[i] += (float)(-g * h);
        } else {
            double h = mu + s[i];
            if (h > 0) ds[i] += (float)(g * h);
        }
    }
}

static const kd_input_spec inputs[] = {
    {.name = "student", .shape = "[N, ...] pre-activations"},
    {.name = "teacher", .shape = "[N, ...] the same shape, only the sign is read, no gradient"},
    {NULL}};

const kd_op_def kd_op_ab = {
    .name = "ab", .min_inputs = 2, .max_inputs = 2, .nograd = 1u << 1,
    .attrs = attrs, .infer = infer, .workspace = workspace,
    .forward = forward, .backward = backward,
    .use = KD_USE_LOSS,
    .doc = "activation boundaries: squared hinge of margin mu on the teacher's firing pattern",
    .inputs = inputs,
};
