/* matmul.c — matrix product, batched over leading axes.
 *
 * Shapes: a [B..., M, K], b [B..., K, P], y [B..., M, P]; the leading axes
 * B... of a and b are equal, or one of the two is a plain matrix [M, K] /
 * [K, P] shared by every batch item (y then takes the other's leading
 * axes).  With Bt batch items:
 * forward:  y[t,m,p] = sum_k a[t,m,k] b[t,k,p]
 * backward: da[t,m,k] += sum_p dy[t,m,p] b[t,k,p]
 *           db[t,k,p] += sum_m a[t,m,k] dy[t,m,p]
 *           (for a shared operand the sum runs over t as well).
 * Direct loops, parallel over rows of the output / of each gradient, every
 * sum in double in a fixed order (same bits for any thread count).
 */
#include "kd_ops_util.h"

static int64_t batch_of(const kd_shape *s)
{
    int64_t b = 1;
    for (int d = 0; d < s->ndim - 2; d++) b *= s->dims[d];
    return b;
}

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    const kd_shape *a = &c->in_shape[0], *b = &c->in_shape[1];
    char s1[128], s2[128];
    if (a->ndim < 2 || b->ndim < 2)
        return kd_err(err, n, "matmul expects inputs of at least 2-D [..., M, K] and [..., K, P], "
                      "got %s and %s", kd_shape_str(a, s1, sizeof s1), kd_shape_str(b, s2, sizeof s2));
    if (a->dims[a->ndim - 1] != b->dims[b->ndim - 2])
        return kd_err(err, n, "matmul: inner sizes differ: %s times %s",
                      kd_shape_str(a, s1, sizeof s1), kd_shape_str(b, s2, sizeof s2));
    int same = a->ndim == b->ndim;
    for (int d = 0; same && d < a->ndim - 2; d++) same = a->dims[d] == b->dims[d];
    if (!same && a->ndim > 2 && b->ndim > 2)
        return kd_err(err, n, "matmul: leading axes of %s and %s differ (they must be equal, or "
                      "one input must be 2-D)", kd_shape_str(a, s1, sizeof s1),
                      kd_shape_str(b, s2, sizeof s2));
    const kd_shape *big = a->ndim >= b->ndim ? a : b;
    kd_shape o = *big;
    o.dims[o.ndim - 2] = a->dims[a->ndim - 2];
    o.dims[o.ndim - 1] = b->dims[b->ndim - 1];
    c->out_shape = o;
    return 0;
}

typedef struct geo {
    int64_t T, M, K, P, sa, sb; /* sa/sb: 1 if batched, 0 if shared */
} geo;

static geo get_geo(const kd_op_ctx *c)
{
    const kd_shape *a = &c->in_shape[0], *b = &c->in_shape[1];
    geo g;
    g.M = a->dims[a->ndim - 2];
    g.K = a->dims[a->ndim - 1];
    g.P = b->dims[b->ndim - 1];
    g.T = batch_of(&c->out_shape);
    g.sa = a->ndim > 2 || batch_of(b) == 1;
    g.sb = b->ndim > 2 || batch_of(a) == 1;
    return g;
}

static void forward(kd_op_ctx *c)
{
    geo g = get_geo(c);
    const float *a = c->in[0], *b = c->in[1];
    int64_t rows = g.T * g.M;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && rows * g.K * g.P > KD_OMP_MIN)
    for (int64_t r = 0; r < rows; r++) {
        int64_t t = r / g.M, m = r % g.M;
        const float *ar = a + (t * g.sa * g.M + m) * g.K, *bt = b + t * g.sb * g.K * g.P;
        float *y = c->out + r * g.P;
        for (int64_t p = 0; p < g.P; p++) {
            double s = 0;
            for (int64_t k = 0; k < g.K; k++) s += (double)ar[k] * bt[k * g.P + p];
            y[p] = (float)s;
        }
    }
}

static void backward(kd_op_ctx *c)
{
    geo g = get_geo(c);
    const float *a = c->in[0], *b = c->in[1], *gy = c->grad_out;
    float *da = c->grad_in[0], *db = c->grad_in[1];
    int64_t work = g.T * g.M * g.K * g.P;
    if (da) {
        /* rows of da: (t, m) if a is batched, m if shared (then sum over t) */
        int64_t Ta = g.sa ? g.T : 1, rows = Ta * g.M;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && work > KD_OMP_MIN)
        for (int64_t r = 0; r < rows; r++) {
            int64_t ta = r / g.M, m = r % g.M;
            int64_t t0 = g.sa ? ta : 0, t1 = g.sa ? ta + 1 : g.T;
            for (int64_t k = 0; k < g.K; k++) {
                double s = 0;
                for (int64_t t = t0; t < t1; t++) {
                    const float *gr = gy + (t * g.M + m) * g.P, *br = b + (t * g.sb * g.K + k) * g.P;
                    for (int64_t p = 0; p < g.P; p++) s += (double)gr[p] * br[p];
                }
                da[r * g.K + k] += (float)s;
            }
        }
    }
    if (db) {
        int64_t Tb = g.sb ? g.T : 1, rows = Tb * g.K;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && work > KD_OMP_MIN)
        for (int64_t r = 0; r < rows; r++) {
            int64_t tb = r / g.K, k = r % g.K;
            int64_t t0 = g.sb ? tb : 0, t1 = g.sb ? tb + 1 : g.T;
            for (int64_t p = 0; p < g.P; p++) {
                double s = 0;
                for (int64_t t = t0; t < t1; t++)
                    for (int64_t m = 0; m < g.M; m++)
                        s += (double)a[(t * g.sa * g.M + m) * g.K + k] * gy[(t * g.M + m) * g.P + p];
                db[r * g.P + p] += (float)s;
            }
        }
    }
}

static const kd_input_spec inputs[] = {
    {.name = "a", .shape = "[..., M, K]"},
    {.name = "b", .shape = "[..., K, P]"},
    {NULL}};

const kd_op_def kd_op_matmul = {
    .name = "matmul", .min_inputs = 2, .max_inputs = 2,
    .infer = infer, .forward = forward, .backward = backward,
    .use = KD_USE_NET,
    .doc = "matrix product of two tensors (batched over leading axes)",
    .inputs = inputs,
};
