/* cost.c — expected size of one mixture (choice, aggregate) of a searched
 * model under its architecture weights: a term of the cost-sensitive loss
 * of AdaRec (Chen et al. 2021); the compiler sums one per mixture.
 * Inputs: table [1 + K] (constants, no gradient): a fixed cost (the rest of
 * the model, or 0), then the cost of each of the K candidates; parameter
 * alpha [K], the mixture's own architecture weights (shared with it).
 * out scalar.
 *   w = softmax(alpha);  L = scale (table[0] + sum_k w_k c_k);
 *   dalpha_k += scale dL w_k (c_k - sum_l w_l c_l).
 * One short serial loop in double. */
#include "kd_ops_util.h"

enum { A_K, A_SCALE };
static const kd_attr_spec attrs[] = {
    {.name = "k", .type = KD_ATTR_INT, .min = 1, .max = 1 << 20, .required = 1,
     .doc = "number of candidates of the mixture", .internal = 1},
    {.name = "scale", .type = KD_ATTR_FLOAT, .def = 1e-6, .min = 0, .max = 1e6,
     .doc = "factor on the size (parameters or MACs)", .internal = 1},
    {0}};

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    char b[128];
    int64_t K = KD_A_INT(c, A_K);
    const kd_shape *t = &c->in_shape[0];
    if (t->ndim != 1 || t->dims[0] != 1 + K)
        return kd_err(err, n, "cost expects a cost table [%lld] (1 + %lld candidates), got %s",
                      (long long)(1 + K), (long long)K, kd_shape_str(t, b, sizeof b));
    c->in_shape[1] = kd_sh1(K);
    info->init[1].kind = KD_INIT_ZERO;
    c->out_shape = kd_scalar();
    return 0;
}

static size_t workspace(const kd_op_ctx *c)
{
    return sizeof(double) * (size_t)KD_A_INT(c, A_K);
}

/* w = softmax(alpha); returns sum_k w_k c_k */
static double weights(const kd_op_ctx *c, double *w)
{
    int64_t K = KD_A_INT(c, A_K);
    const float *a = c->in[1], *tab = c->in[0] + 1;
    double mx = a[0], s = 0, e = 0;
    for (int64_t k = 1; k < K; k++) mx = a[k] > mx ? a[k] : mx;
    for (int64_t k = 0; k < K; k++) s += (w[k] = exp((double)a[k] - mx));
    for (int64_t k = 0; k < K; k++) e += (w[k] /= s) * tab[k];
    return e;
}

static void forward(kd_op_ctx *c)
{
    double e = weights(c, c->work);
    c->out[0] = (float)(KD_A_FLT(c, A_SCALE) * (c->in[0][0] + e));
}

static void backward(kd_op_ctx *c)
{
    float *da = c->grad_in[1];
    if (!da) return;
    double *w = c->work, e = weights(c, w), g = KD_A_FLT(c, A_SCALE) * c->grad_out[0];
    const float *tab = c->in[0] + 1;
    for (int64_t k = 0; k < KD_A_INT(c, A_K); k++) da[k] += (float)(g * w[k] * (tab[k] - e));
}

const kd_op_def kd_op_cost = {
    .name = "cost", .min_inputs = 1, .max_inputs = 1, .nparams = 1, .nograd = 1u << 0,
    .attrs = attrs, .infer = infer, .workspace = workspace,
    .forward = forward, .backward = backward,
};
