/* shuffle.c — channel shuffle across groups (ShuffleNet).
 *
 * Shapes: x [N, C, ...], y like x, G = groups divides C, Cg = C/G,
 * S = product of the dims after the channels.  As in PyTorch's
 * channel_shuffle (view [N, G, Cg, S], transpose to [N, Cg, G, S]):
 * forward:  y[n, j G + g, s] = x[n, g Cg + j, s]     (g < G, j < Cg)
 * backward: dx[n, g Cg + j, s] += dy[n, j G + g, s]
 * Parallel over (n, channel) rows; a permutation, no reductions.
 */
#include "kd_ops_util.h"

enum { A_GROUPS };

static const kd_attr_spec attrs[] = {
    {.name = "groups", .type = KD_ATTR_INT, .def = 2, .min = 1, .max = 1 << 20,
     .doc = "number of channel groups"},
    {0}};

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    const kd_shape *x = &c->in_shape[0];
    int64_t G = KD_A_INT(c, A_GROUPS);
    if (x->ndim < 2) return kd_err_rank(err, n, "shuffle", 2, "[N, C, ...]", x);
    if (x->dims[1] % G)
        return kd_err(err, n, "shuffle: groups (%lld) must divide the channels (%lld)",
                      (long long)G, (long long)x->dims[1]);
    c->out_shape = *x;
    return 0;
}

static void run(kd_op_ctx *c, int back)
{
    const kd_shape *x = &c->in_shape[0];
    int64_t N = x->dims[0], C = x->dims[1], G = KD_A_INT(c, A_GROUPS), Cg = C / G, S = 1;
    for (int d = 2; d < x->ndim; d++) S *= x->dims[d];
    float *dx = c->grad_in[0];
    if (back && !dx) return;
    int64_t rows = N * C;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && rows * S > KD_OMP_MIN)
    for (int64_t r = 0; r < rows; r++) {
        int64_t n = r / C, oc = r % C, j = oc / G, g = oc % G;
        int64_t src = (n * C + g * Cg + j) * S;
        if (!back) {
            memcpy(c->out + r * S, c->in[0] + src, sizeof(float) * (size_t)S);
        } else {
            const float *gy = c->grad_out + r * S;
            for (int64_t i = 0; i < S; i++) dx[src + i] += gy[i];
        }
    }
}

static void forward(kd_op_ctx *c) { run(c, 0); }
static void backward(kd_op_ctx *c) { run(c, 1); }

static const kd_input_spec inputs[] = {
    {.name = "x", .shape = "[N, C, ...]"},
    {NULL}};

const kd_op_def kd_op_shuffle = {
    .name = "shuffle", .min_inputs = 1, .max_inputs = 1, .npositional = 1,
    .attrs = attrs, .infer = infer, .forward = forward, .backward = backward,
    .use = KD_USE_NET, .flags = KD_OP_TIN,
    .doc = "channel shuffle across groups (ShuffleNetV2)",
    .inputs = inputs,
    .rows = kd_rows_always,
};
