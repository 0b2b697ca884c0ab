/* kl.c — KL divergence between softmaxes of logits, mean over the batch:
 * L = (1/N) sum_n KL(softmax(q/T) || softmax(p/T)) for learner logits p
 * [N, K] and target logits q [N, K] (no gradient); no T^2 factor: recipes
 * write `T^2 * kl(...)` when they want it (or use kd).  The math is
 * ops/kd_kl.h, shared with kd. */
#include "kd_kl.h"

enum { A_T };
static const kd_attr_spec attrs[] = {
    {.name = "T", .type = KD_ATTR_FLOAT, .def = 1, .min = 1e-3, .max = 1e3,
     .doc = "temperature of both softmaxes"},
    {0}};

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    return kl_infer_as(c, "kl", err, n);
}

static void forward(kd_op_ctx *c) { kl_forward_scaled(c, KD_A_FLT(c, A_T), 1.0); }

static void backward(kd_op_ctx *c)
{
    double T = KD_A_FLT(c, A_T);
    kl_backward_scaled(c, T, c->grad_out[0] / (T * (double)c->in_shape[0].dims[0]));
}

static const kd_input_spec inputs[] = {
    {.name = "p", .shape = "[N, K] logits"},
    {.name = "q", .shape = "[N, K] logits, no gradient"},
    {NULL}};

const kd_op_def kd_op_kl = {
    .name = "kl", .min_inputs = 2, .max_inputs = 2, .nograd = 1u << 1,
    .attrs = attrs, .infer = infer, .workspace = kd_rows_workspace,
    .forward = forward, .backward = backward,
    .use = KD_USE_LOSS,
    .doc = "KL(softmax(q/T) || softmax(p/T)) of logits p (learner) and q (target)",
    .inputs = inputs,
};
