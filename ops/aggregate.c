/* aggregate.c — learned softmax-weighted sum of K same-shape tensors.
 * Shapes: x1..xK any shape (N, ...) (1 <= K <= 16), alpha [K] parameter
 * (initialised to 0: equal weights); y like x1.
 * w = softmax(alpha);  y = sum_k w_k x_k;
 * dx_k += w_k dy;  dalpha_k += w_k (g_k - sum_j w_j g_j), g_k = <dy, x_k>.
 * The K dot products are deterministic block sums (see kd_loss.h). */
#include "kd_mix.h"

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    int K = c->nin - 1;
    if (kd_check_same(c, K, "aggregate", err, n)) return -1;
    c->in_shape[K] = kd_sh1(K);
    info->init[K].kind = KD_INIT_ZERO;
    c->out_shape = c->in_shape[0];
    return 0;
}

static size_t workspace(const kd_op_ctx *c)
{
    return sizeof(double) * loss_blocks(kd_shape_numel(&c->in_shape[0]));
}

static void weights(const kd_op_ctx *c, int K, double *w)
{
    const float *a = c->in[K];
    double mx = a[0], s = 0;
    for (int k = 1; k < K; k++) mx = a[k] > mx ? a[k] : mx;
    for (int k = 0; k < K; k++) s += (w[k] = exp(a[k] - mx));
    for (int k = 0; k < K; k++) w[k] /= s;
}

static void forward(kd_op_ctx *c)
{
    int K = c->nin - 1;
    double w[16];
    weights(c, K, w);
    kd_mix_forward(c, 0, K, w);
}

static void backward(kd_op_ctx *c)
{
    int K = c->nin - 1;
    double w[16];
    weights(c, K, w);
    kd_mix_backward(c, 0, K, w, 1.0);
}

static const kd_input_spec inputs[] = {
    {.name = "list", .shape = "tensors of one shape", .kind = KD_IN_LIST},
    {NULL}};

static const char *const param_names[] = {"alpha", NULL};

const kd_op_def kd_op_aggregate = {
    .name = "aggregate", .min_inputs = 1, .max_inputs = 16, .nparams = 1,
    .infer = infer, .workspace = workspace, .forward = forward, .backward = backward,
    .use = KD_USE_SEARCH,
    .doc = "softmax(alpha)-weighted sum of tensors, alpha learned in a search phase",
    .inputs = inputs,
    .param_names = param_names, .mixture = 1, .first_candidate = 0,
};
