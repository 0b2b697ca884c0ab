/* choice.c — a mixed op (DARTS, with AdaRec's Gumbel-softmax): the
 * softmax-weighted sum of K candidate op outputs.
 * Shapes: tau scalar (the temperature, no gradient); x1..xK the candidate
 * outputs, all the same shape (1 <= K <= 16); parameter alpha [K]
 * (architecture weights, initialised to 0); y like x1.
 *   training: z_k = (alpha_k + G_k) / tau, G_k = -log(-log u_k) Gumbel
 *             noise, u_k from a counter-based RNG of (seed, step, k);
 *   eval:     z_k = alpha_k (no noise, no temperature);
 *   w = softmax(z);  y = sum_k w_k x_k;
 *   dx_k += w_k dy;  dalpha_k += w_k (g_k - sum_j w_j g_j) / tau (eval: no
 *   1/tau), g_k = <dy, x_k> (deterministic block sums, see kd_loss.h).
 * The noise is recomputed in backward from the same key. */
#include "kd_mix.h"

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    char b[128];
    int K = c->nin - 2;
    if (c->in_shape[0].ndim != 0)
        return kd_err(err, n, "choice expects a scalar temperature first, got %s",
                      kd_shape_str(&c->in_shape[0], b, sizeof b));
    for (int k = 2; k <= K; k++)
        if (!kd_shape_eq(&c->in_shape[1], &c->in_shape[k])) {
            char a[128];
            return kd_err(err, n, "choice expects candidates of the same shape, got %s (candidate 1) "
                          "and %s (candidate %d)", kd_shape_str(&c->in_shape[1], a, sizeof a),
                          kd_shape_str(&c->in_shape[k], b, sizeof b), k);
        }
    c->in_shape[K + 1] = kd_sh1(K);
    info->init[K + 1].kind = KD_INIT_ZERO;
    c->out_shape = c->in_shape[1];
    return 0;
}

static size_t workspace(const kd_op_ctx *c)
{
    return sizeof(double) * loss_blocks(kd_shape_numel(&c->in_shape[1]));
}

static uint64_t mix(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* w = softmax(z); returns the factor dz/dalpha (1/tau, or 1 in eval) */
static double weights(const kd_op_ctx *c, int K, double *w)
{
    const float *a = c->in[K + 1];
    double tau = c->in[0][0], z[16], mx = 0, s = 0;
    if (!(tau > 1e-6)) tau = 1e-6;
    for (int k = 0; k < K; k++) {
        if (c->training) {
            uint64_t h = mix(mix(mix(c->seed) ^ c->step) ^ (uint64_t)k);
            double u = ((double)(h >> 11) + 0.5) * (1.0 / 9007199254740992.0);
            z[k] = ((double)a[k] - log(-log(u))) / tau;
        } else
            z[k] = a[k];
        mx = k == 0 || z[k] > mx ? z[k] : mx;
    }
    for (int k = 0; k < K; k++) s += (w[k] = exp(z[k] - mx));
    for (int k = 0; k < K; k++) w[k] /= s;
    return c->training ? 1.0 / tau : 1.0;
}

static void forward(kd_op_ctx *c)
{
    int K = c->nin - 2;
    double w[16];
    weights(c, K, w);
    kd_mix_forward(c, 1, K, w);
}

static void backward(kd_op_ctx *c)
{
    int K = c->nin - 2;
    double w[16], dz = weights(c, K, w);
    kd_mix_backward(c, 1, K, w, dz);
}

static const char *const param_names[] = {"alpha", NULL};

const kd_op_def kd_op_choice = {
    .name = "choice", .min_inputs = 2, .max_inputs = 17, .nparams = 1, .nograd = 1u << 0,
    .infer = infer, .workspace = workspace, .forward = forward, .backward = backward,
    .param_names = param_names, .mixture = 1, .first_candidate = 1,   /* after tau */
};
