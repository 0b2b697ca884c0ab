/* gan_d.c — discriminator-side GAN loss: real read as real, fake as fake.
 * r [N, ...] discriminator outputs (logits) on real samples, Mr elements;
 * f [N', ...] on fakes, Mf elements (shapes may differ); out scalar.  Each
 * side is a mean over its own elements (a batch mean for [N, 1] outputs):
 *   lsgan: L = (1/Mr) sum (r - 1)^2 + (1/Mf) sum f^2
 *          dr += 2 (r - 1) dL / Mr;   df += 2 f dL / Mf
 *   bce:   L = (1/Mr) sum softplus(-r) + (1/Mf) sum softplus(f)
 *          dr += (sigmoid(r) - 1) dL / Mr;   df += sigmoid(f) dL / Mf
 * Both inputs get gradients; to train the discriminator only, the fakes
 * come from a model that is not trained in that phase (kdr(5) detaches
 * them). */
#define KD_LOSS_NAME "gan_d"
#include "kd_gan.h"

enum { A_KIND };
static const kd_attr_spec attrs[] = {
    {.name = "kind", .type = KD_ATTR_ENUM, .def = KD_GAN_LSGAN, .enums = kd_gan_kinds,
     .doc = "lsgan: least squares, bce: binary cross-entropy"},
    {0}};

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    if (gan_check(&c->in_shape[0], "gan_d", "on real samples", err, n) ||
        gan_check(&c->in_shape[1], "gan_d", "on fakes", err, n))
        return -1;
    c->out_shape = kd_scalar();
    return 0;
}

static size_t workspace(const kd_op_ctx *c)
{
    size_t a = loss_blocks(kd_shape_numel(&c->in_shape[0]));
    size_t b = loss_blocks(kd_shape_numel(&c->in_shape[1]));
    return sizeof(double) * (a > b ? a : b);
}

static void forward(kd_op_ctx *c)
{
    int kind = (int)KD_A_INT(c, A_KIND);
    int64_t Mr = kd_shape_numel(&c->in_shape[0]), Mf = kd_shape_numel(&c->in_shape[1]);
    double lr = gan_mean(c, c->in[0], Mr, kind, 1.0);
    double lf = gan_mean(c, c->in[1], Mf, kind, 0.0);
    c->out[0] = (float)(lr + lf);
}

static void backward(kd_op_ctx *c)
{
    int kind = (int)KD_A_INT(c, A_KIND);
    int64_t Mr = kd_shape_numel(&c->in_shape[0]), Mf = kd_shape_numel(&c->in_shape[1]);
    gan_back(c, c->in[0], c->grad_in[0], Mr, kind, 1.0, c->grad_out[0] / (double)Mr);
    gan_back(c, c->in[1], c->grad_in[1], Mf, kind, 0.0, c->grad_out[0] / (double)Mf);
}

static const kd_input_spec inputs[] = {
    {.name = "real", .shape = "discriminator output"},
    {.name = "fake", .shape = "the shape of real"},
    {NULL}};

const kd_op_def kd_op_gan_d = {
    .name = "gan_d", .min_inputs = 2, .max_inputs = 2, .npositional = 1,
    .attrs = attrs, .infer = infer, .workspace = workspace,
    .forward = forward, .backward = backward,
    .use = KD_USE_LOSS,
    .doc = "discriminator loss: real read as real, fake as fake",
    .inputs = inputs,
};
