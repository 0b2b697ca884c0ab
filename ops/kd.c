/* kd.c — Hinton knowledge-distillation loss: T^2 times kl of the tempered
 * softmaxes, mean over the batch.  s [N, K] student logits, t [N, K]
 * teacher logits (no gradient):
 *   L = T^2 (1/N) sum_n KL(softmax(t/T) || softmax(s/T)),
 *   ds += T (ps - pt) dL / N.
 * The math is ops/kd_kl.h, shared with kl. */
#include "kd_kl.h"

enum { A_T };
static const kd_attr_spec attrs[] = {
    {.name = "T", .type = KD_ATTR_FLOAT, .def = 4, .min = 1e-3, .max = 1e3,
     .doc = "temperature of both softmaxes"},
    {0}};

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    return kl_infer_as(c, "kd", err, n);
}

static void forward(kd_op_ctx *c)
{
    double T = KD_A_FLT(c, A_T);
    kl_forward_scaled(c, T, T * T);
}

static void backward(kd_op_ctx *c)
{
    double T = KD_A_FLT(c, A_T);
    kl_backward_scaled(c, T, T * c->grad_out[0] / (double)c->in_shape[0].dims[0]);
}

static const kd_input_spec inputs[] = {
    {.name = "student", .shape = "[N, K] logits"},
    {.name = "teacher", .shape = "[N, K] logits, no gradient"},
    {NULL}};

const kd_op_def kd_op_kd = {
    .name = "kd", .min_inputs = 2, .max_inputs = 2, .nograd = 1u << 1,
    .attrs = attrs, .infer = infer, .workspace = kd_rows_workspace,
    .forward = forward, .backward = backward,
    .use = KD_USE_LOSS,
    .doc = "Hinton KD: T^2 * KL(softmax(teacher/T) || softmax(student/T))",
    .inputs = inputs,
};
