/* split.c — channel part `part` (1-based) of `parts` equal parts
 * (ShuffleNetV2's channel split).
 *
 * Shapes: x [N, C, ...], y [N, C/parts, ...], S = product of the dims
 * after the channels.  With Cp = C/parts and c0 = (part - 1) Cp:
 * forward:  y[n, k, s] = x[n, c0 + k, s]
 * backward: dx[n, c0 + k, s] += dy[n, k, s]
 * Parallel over (n, k) rows; a copy, no reductions.
 */
#include "kd_ops_util.h"

enum { A_PARTS, A_PART };

static const kd_attr_spec attrs[] = {
    {.name = "parts", .type = KD_ATTR_INT, .def = 2, .min = 1, .max = 1 << 20, .required = 1,
     .doc = "number of equal channel parts"},
    {.name = "part", .type = KD_ATTR_INT, .def = 1, .min = 1, .max = 1 << 20, .required = 1,
     .doc = "which part (1-based)"},
    {0}};

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    const kd_shape *x = &c->in_shape[0];
    int64_t P = KD_A_INT(c, A_PARTS), p = KD_A_INT(c, A_PART);
    if (x->ndim < 2) return kd_err_rank(err, n, "split", 2, "[N, C, ...]", x);
    if (p > P)
        return kd_err(err, n, "split: part %lld of %lld parts (parts are numbered from 1)",
                      (long long)p, (long long)P);
    if (x->dims[1] % P)
        return kd_err(err, n, "split: %lld parts do not divide %lld channels", (long long)P,
                      (long long)x->dims[1]);
    c->out_shape = *x;
    c->out_shape.dims[1] = x->dims[1] / P;
    return 0;
}

static void run(kd_op_ctx *c, int back)
{
    const kd_shape *x = &c->in_shape[0];
    int64_t N = x->dims[0], C = x->dims[1], Cp = c->out_shape.dims[1], S = 1;
    int64_t c0 = (KD_A_INT(c, A_PART) - 1) * Cp;
    for (int d = 2; d < x->ndim; d++) S *= x->dims[d];
    float *dx = c->grad_in[0];
    if (back && !dx) return;
    int64_t rows = N * Cp;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && rows * S > KD_OMP_MIN)
    for (int64_t r = 0; r < rows; r++) {
        int64_t src = ((r / Cp) * C + c0 + r % Cp) * S;
        if (!back) {
            memcpy(c->out + r * S, c->in[0] + src, sizeof(float) * (size_t)S);
        } else {
            const float *g = c->grad_out + r * S;
            for (int64_t i = 0; i < S; i++) dx[src + i] += g[i];
        }
    }
}

static void forward(kd_op_ctx *c) { run(c, 0); }
static void backward(kd_op_ctx *c) { run(c, 1); }

static const kd_input_spec inputs[] = {
    {.name = "x", .shape = "[N, C, ...]"},
    {NULL}};

const kd_op_def kd_op_split = {
    .name = "split", .min_inputs = 1, .max_inputs = 1, .npositional = 2,
    .attrs = attrs, .infer = infer, .forward = forward, .backward = backward,
    .use = KD_USE_NET, .flags = KD_OP_TIN,
    .doc = "channel part `part` (1-based) of `parts` equal parts (ShuffleNetV2)",
    .inputs = inputs,
    .rows = kd_rows_always,
};
