/* reshape.c — a new shape for the non-batch axes, batch axis kept.
 *
 * Shapes: x [N, ...] with M = numel(x)/N, y [N, s1, ..., sk] (k <= 5) with
 * s1 ... sk = `shape`; one entry may be -1 and is then M divided by the
 * product of the others.  The data are the same row-major floats:
 * forward y[i] = x[i], backward dx[i] += dy[i] (parallel over elements).
 */
#include "kd_unary.h"

enum { A_SHAPE };

static const kd_attr_spec attrs[] = {
    {.name = "shape", .type = KD_ATTR_INTS, .min = -1, .max = 1LL << 40, .required = 1,
     .doc = "the new shape without the batch axis; one entry may be -1"},
    {0}};

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    const kd_shape *x = &c->in_shape[0];
    const kd_attr_val *v = &c->attr[A_SHAPE];
    char b[128];
    if (x->ndim < 1) return kd_err_rank(err, n, "reshape", 2, "[N, ...]", x);
    if (v->nints < 1 || v->nints > KD_MAXDIM - 1)
        return kd_err(err, n, "reshape: shape takes 1 to %d entries (the batch axis is kept), "
                      "got %d", KD_MAXDIM - 1, v->nints);
    int64_t N = x->dims[0], M = 1, known = 1;
    for (int d = 1; d < x->ndim; d++) M *= x->dims[d];
    int free_at = -1;
    for (int i = 0; i < v->nints; i++) {
        if (v->ints[i] == -1) {
            if (free_at >= 0) return kd_err(err, n, "reshape: at most one entry of shape may be -1");
            free_at = i;
        } else if (v->ints[i] == 0) {
            return kd_err(err, n, "reshape: entry %d of shape is 0", i + 1);
        } else {
            known *= v->ints[i];
        }
    }
    kd_shape o;
    memset(&o, 0, sizeof o);
    o.ndim = v->nints + 1;
    o.dims[0] = N;
    for (int i = 0; i < v->nints; i++) o.dims[i + 1] = v->ints[i];
    if (free_at >= 0) {
        if (M % known)
            return kd_err(err, n, "reshape: cannot fill -1: %lld values per sample are not a "
                          "multiple of %lld (input %s)", (long long)M, (long long)known,
                          kd_shape_str(x, b, sizeof b));
        o.dims[free_at + 1] = M / known;
    } else if (known != M) {
        char b2[128];
        return kd_err(err, n, "reshape: cannot reshape %s to %s (%lld values per sample, not %lld)",
                      kd_shape_str(x, b, sizeof b), kd_shape_str(&o, b2, sizeof b2),
                      (long long)M, (long long)known);
    }
    c->out_shape = o;
    return 0;
}

static void forward(kd_op_ctx *c)
{
    const float *x = c->in[0];
    float *y = c->out;
    KD_UNARY_LOOP(c, y[i] = x[i]);
}

static void backward(kd_op_ctx *c)
{
    const float *g = c->grad_out;
    float *d = c->grad_in[0];
    if (d) KD_UNARY_LOOP(c, d[i] += g[i]);
}

static const kd_input_spec inputs[] = {
    {.name = "x", .shape = "[N, ...]"},
    {NULL}};

const kd_op_def kd_op_reshape = {
    .name = "reshape", .min_inputs = 1, .max_inputs = 1, .npositional = 1,
    .attrs = attrs, .infer = infer, .forward = forward, .backward = backward,
    .use = KD_USE_NET, .flags = KD_OP_TIN,
    .doc = "reshape keeping the batch axis; one entry of shape may be -1",
    .inputs = inputs,
    .rows = kd_rows_always,
};
