/* gan_g.c — generator-side GAN loss: the discriminator output on fakes
 * should read "real".  d [N, ...] discriminator outputs (logits) on fakes,
 * M elements; out scalar.  Mean over all M elements (a batch mean for the
 * usual [N, 1] or [N] outputs).
 *   lsgan: L = (1/M) sum (d - 1)^2;           dd += 2 (d - 1) dL / M
 *   bce:   L = (1/M) sum softplus(-d)
 *            = bce_with_logits(d, 1);         dd += (sigmoid(d) - 1) dL / M */
#define KD_LOSS_NAME "gan_g"
#include "kd_gan.h"

enum { A_KIND };
static const kd_attr_spec attrs[] = {
    {.name = "kind", .type = KD_ATTR_ENUM, .def = KD_GAN_LSGAN, .enums = kd_gan_kinds,
     .doc = "lsgan: least squares, bce: binary cross-entropy"},
    {0}};

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    if (gan_check(&c->in_shape[0], "gan_g", "on fakes", err, n)) return -1;
    c->out_shape = kd_scalar();
    return 0;
}

static size_t workspace(const kd_op_ctx *c)
{
    return sizeof(double) * loss_blocks(kd_shape_numel(&c->in_shape[0]));
}

static void forward(kd_op_ctx *c)
{
    int64_t M = kd_shape_numel(&c->in_shape[0]);
    c->out[0] = (float)gan_mean(c, c->in[0], M, (int)KD_A_INT(c, A_KIND), 1.0);
}

static void backward(kd_op_ctx *c)
{
    int64_t M = kd_shape_numel(&c->in_shape[0]);
    gan_back(c, c->in[0], c->grad_in[0], M, (int)KD_A_INT(c, A_KIND), 1.0,
             c->grad_out[0] / (double)M);
}

static const kd_input_spec inputs[] = {
    {.name = "fake", .shape = "discriminator output"},
    {NULL}};

const kd_op_def kd_op_gan_g = {
    .name = "gan_g", .min_inputs = 1, .max_inputs = 1, .npositional = 1,
    .attrs = attrs, .infer = infer, .workspace = workspace,
    .forward = forward, .backward = backward,
    .use = KD_USE_LOSS,
    .doc = "generator loss: the discriminator output on fakes should read real",
    .inputs = inputs,
};
