/* linear.c — fully connected layer.
 *
 * Shapes: x [N, D] (any x [N, ...] is read as [N, D] with D = product of the
 * rest), w [F, D], b [F], y [N, F].   y = x w^T + b.
 * The three products are sgemm calls split by rows across c->nthreads
 * (kd_gemm.h).
 */
#include "kd_gemm.h"
#include "kd_ops_util.h"

enum { A_N, A_BIAS };

static const kd_attr_spec attrs[] = {
    {.name = "n", .type = KD_ATTR_INT, .def = 1, .min = 1, .max = 1 << 24, .required = 1,
     .doc = "output features"},
    {.name = "bias", .type = KD_ATTR_BOOL, .def = 1, .min = 0, .max = 1},
    {0}};

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    const kd_shape *x = &c->in_shape[0];
    if (x->ndim < 2) return kd_err_rank(err, n, "linear", 2, "[N, D]", x);
    int64_t N = x->dims[0], D = kd_shape_numel(x) / (N ? N : 1), F = KD_A_INT(c, A_N);
    c->in_shape[1] = kd_sh2(F, D);
    info->init[1] = (kd_param_init){KD_INIT_KAIMING_NORMAL, D};
    if (KD_A_INT(c, A_BIAS)) {
        c->in_shape[2] = kd_sh1(F);
        info->init[2] = (kd_param_init){KD_INIT_UNIFORM_FANIN, D};
    }
    c->out_shape = kd_sh2(N, F);
    return 0;
}

static void forward(kd_op_ctx *c)
{
    int N = (int)c->out_shape.dims[0], F = (int)c->out_shape.dims[1];
    int D = (int)c->in_shape[1].dims[1];
    kd_sgemm_rows(c->nthreads, CblasNoTrans, CblasTrans, N, F, D, 1.0f, c->in[0], D,
                  c->in[1], D, 0.0f, c->out, F);
    if (c->in_shape[2].ndim > 0) {
        const float *b = c->in[2];
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && (int64_t)N * F > KD_OMP_MIN)
        for (int i = 0; i < N; i++)
            for (int f = 0; f < F; f++) c->out[(int64_t)i * F + f] += b[f];
    }
}

static void backward(kd_op_ctx *c)
{
    int N = (int)c->out_shape.dims[0], F = (int)c->out_shape.dims[1];
    int D = (int)c->in_shape[1].dims[1];
    const float *gy = c->grad_out;
    if (c->grad_in[0])
        kd_sgemm_rows(c->nthreads, CblasNoTrans, CblasNoTrans, N, D, F, 1.0f, gy, F,
                      c->in[1], D, 1.0f, c->grad_in[0], D);
    if (c->grad_in[1])
        kd_sgemm_rows(c->nthreads, CblasTrans, CblasNoTrans, F, D, N, 1.0f, gy, F,
                      c->in[0], D, 1.0f, c->grad_in[1], D);
    float *db = c->in_shape[2].ndim > 0 ? c->grad_in[2] : NULL;
    if (db) {
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && (int64_t)N * F > KD_OMP_MIN)
        for (int f = 0; f < F; f++) {
            double s = 0;
            for (int i = 0; i < N; i++) s += gy[(int64_t)i * F + f];
            db[f] += (float)s;
        }
    }
}

static const kd_input_spec inputs[] = {
    {.name = "x", .shape = "[N, ..., D]"},
    {NULL}};

static int64_t macs(const kd_op_ctx *c) { return kd_macs_rows(c, &c->out_shape); }

const kd_op_def kd_op_linear = {
    .name = "linear",
    .min_inputs = 1,
    .max_inputs = 1,
    .nparams = 2,
    .npositional = 1,
    .attrs = attrs,
    .infer = infer,
    .forward = forward,
    .backward = backward,
    .use = KD_USE_NET, .flags = KD_OP_TIN,
    .doc = "fully connected layer to n features (over the last axis)",
    .inputs = inputs,
    .macs = macs,
};
