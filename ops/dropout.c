/* dropout.c — inverted dropout; any shape (N, ...), element index i.
 * train: keep_i = u(seed, step, i) >= p, y = keep_i ? x / (1 - p) : 0;
 * eval (or p == 0): y = x.  dx += dy * keep_i / (1 - p) (eval: dx += dy).
 * u is a counter-based RNG (splitmix64 finaliser of seed, step, i): the mask
 * needs no storage, is recomputed in backward, and is the same for any
 * thread count. */
#include "kd_unary.h"

enum { A_P };
static const kd_attr_spec attrs[] = {
    {.name = "p", .type = KD_ATTR_FLOAT, .def = 0.5, .min = 0, .max = 0.999,
     .doc = "probability of zeroing an element"},
    {0}};

static uint64_t mix(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* uniform in [0, 1) with 24 bits */
static float unif(uint64_t seed, uint64_t step, int64_t i)
{
    uint64_t h = mix(mix(mix(seed) ^ step) ^ (uint64_t)i);
    return (float)(h >> 40) * (1.0f / 16777216.0f);
}

static void forward(kd_op_ctx *c)
{
    const float *x = c->in[0];
    float *y = c->out, p = (float)KD_A_FLT(c, A_P), k = 1.0f / (1.0f - p);
    uint64_t seed = c->seed, step = c->step;
    if (!c->training || p == 0) {
        KD_UNARY_LOOP(c, y[i] = x[i]);
        return;
    }
    KD_UNARY_LOOP(c, y[i] = unif(seed, step, i) >= p ? x[i] * k : 0.0f);
}

static void backward(kd_op_ctx *c)
{
    const float *g = c->grad_out;
    float *d = c->grad_in[0], p = (float)KD_A_FLT(c, A_P), k = 1.0f / (1.0f - p);
    uint64_t seed = c->seed, step = c->step;
    if (!d) return;
    if (!c->training || p == 0) {
        KD_UNARY_LOOP(c, d[i] += g[i]);
        return;
    }
    KD_UNARY_LOOP(c, if (unif(seed, step, i) >= p) d[i] += g[i] * k);
}

static const kd_input_spec inputs[] = {
    {.name = "x", .shape = "any shape"},
    {NULL}};

const kd_op_def kd_op_dropout = {
    .name = "dropout", .min_inputs = 1, .max_inputs = 1, .npositional = 1,
    .attrs = attrs, .infer = unary_infer, .forward = forward, .backward = backward,
    .use = KD_USE_NET, .flags = KD_OP_TIN,
    .doc = "zero each element with probability p while training",
    .inputs = inputs,
    .rows = kd_rows_always,
};
