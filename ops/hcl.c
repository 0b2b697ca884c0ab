/* hcl.c — ReviewKD's hierarchical context loss (Chen et al., Distilling
 * Knowledge via Knowledge Review, CVPR 2021): the squared error of two
 * feature maps at full size and at a pyramid of pooled sizes, the weight
 * halving at each level.
 *
 * Shapes: s [N, C, H, W] the student's (fused, transformed) features, t the
 * teacher's, the same shape (no gradient); out scalar.
 *   pool_l = adaptive average pooling to l x l (bin i spans
 *            floor(i H / l) .. ceil((i + 1) H / l), likewise W)
 *   levels: the full map (weight 1), then each l of `levels` (default
 *           4, 2, 1) smaller than both H and W, weights 1/2, 1/4, ...
 *   L = sum_k w_k mse(pool_k(s), pool_k(t)) / sum_k w_k
 * Gradient: ds = sum_k w_k 2 (pool_k(s) - pool_k(t)) / (N C l_k^2)
 *   spread evenly over each bin, / sum_k w_k.
 * (n, c) planes in parallel into per-plane partials summed in order; in
 * double. */
#include "kd_ops_util.h"

enum { A_LEVELS };
static const kd_attr_spec attrs[] = {
    {.name = "levels", .type = KD_ATTR_INTS, .min = 1, .max = 1024, .def_nints = 3, .def_ints = {4, 2, 1},
     .def_text = "[4, 2, 1]", .doc = "pooled sizes of the pyramid below the full map, in order"},
    {0}};

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    const kd_shape *s = &c->in_shape[0];
    if (s->ndim != 4) return kd_err_rank(err, n, "hcl", 4, "[N, C, H, W]", s);
    if (kd_check_same(c, 2, "hcl", err, n)) return -1;
    c->out_shape = kd_scalar();
    return 0;
}

static size_t workspace(const kd_op_ctx *c)
{
    const kd_shape *s = &c->in_shape[0];
    return sizeof(double) * (size_t)(s->dims[0] * s->dims[1]);
}

/* the levels used, their weights (before normalisation) and the total */
static int levels(const kd_op_ctx *c, int64_t *l, double *w, double *tot)
{
    const kd_shape *s = &c->in_shape[0];
    int k = 0;
    double wt = 1;
    *tot = 1;
    for (int i = 0; i < c->attr[A_LEVELS].nints && k < KD_MAXINTS; i++) {
        int64_t v = c->attr[A_LEVELS].ints[i];
        if (v >= s->dims[2] || v >= s->dims[3]) continue;
        wt /= 2;
        l[k] = v, w[k] = wt, *tot += wt, k++;
    }
    return k;
}

/* one plane: the weighted squared errors (divided by their element counts
 * per plane, the caller divides by N C); with g, their gradient added to ds */
static double plane(const kd_op_ctx *c, int64_t q, double g, float *ds)
{
    const kd_shape *s = &c->in_shape[0];
    int64_t H = s->dims[2], W = s->dims[3], P = H * W, lv[KD_MAXINTS];
    double w[KD_MAXINTS], tot;
    int K = levels(c, lv, w, &tot);
    const float *x = c->in[0] + q * P, *t = c->in[1] + q * P;
    float *d = ds ? ds + q * P : NULL;
    double L = 0, e = 0;
    for (int64_t i = 0; i < P; i++) {
        double dd = (double)x[i] - t[i];
        e += dd * dd;
        if (d) d[i] += (float)(g * 2 * dd / (double)P / tot);
    }
    L += e / (double)P;
    for (int k = 0; k < K; k++) {
        int64_t l = lv[k];
        double ek = 0;
        for (int64_t bi = 0; bi < l; bi++) {
            int64_t h0 = bi * H / l, h1 = ((bi + 1) * H + l - 1) / l;
            for (int64_t bj = 0; bj < l; bj++) {
                int64_t w0 = bj * W / l, w1 = ((bj + 1) * W + l - 1) / l;
                double area = (double)((h1 - h0) * (w1 - w0)), ps = 0, pt = 0;
                for (int64_t h = h0; h < h1; h++)
                    for (int64_t ww = w0; ww < w1; ww++) ps += x[h * W + ww], pt += t[h * W + ww];
                double dd = (ps - pt) / area;
                ek += dd * dd;
                if (d) {
                    double gk = g * w[k] * 2 * dd / (double)(l * l) / tot / area;
                    for (int64_t h = h0; h < h1; h++)
                        for (int64_t ww = w0; ww < w1; ww++) d[h * W + ww] += (float)gk;
                }
            }
        }
        L += w[k] * ek / (double)(l * l);
    }
    return L / tot;
}

static void forward(kd_op_ctx *c)
{
    const kd_shape *s = &c->in_shape[0];
    int64_t Q = s->dims[0] * s->dims[1];
    double *part = c->work;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && kd_shape_numel(s) > KD_OMP_MIN)
    for (int64_t q = 0; q < Q; q++) part[q] = plane(c, q, 0, NULL);
    double L = 0;
    for (int64_t q = 0; q < Q; q++) L += part[q];
    c->out[0] = (float)(L / (double)Q);
}

static void backward(kd_op_ctx *c)
{
    float *ds = c->grad_in[0];
    if (!ds) return;
    const kd_shape *s = &c->in_shape[0];
    int64_t Q = s->dims[0] * s->dims[1];
    double g = c->grad_out[0] / (double)Q;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && kd_shape_numel(s) > KD_OMP_MIN)
    for (int64_t q = 0; q < Q; q++) plane(c, q, g, ds);
}

static const kd_input_spec inputs[] = {
    {.name = "student", .shape = "[N, C, H, W] the student's fused features, transformed"},
    {.name = "teacher", .shape = "[N, C, H, W] the teacher's features, no gradient"},
    {NULL}};

const kd_op_def kd_op_hcl = {
    .name = "hcl", .min_inputs = 2, .max_inputs = 2, .nograd = 1u << 1,
    .attrs = attrs, .infer = infer, .workspace = workspace,
    .forward = forward, .backward = backward,
    .use = KD_USE_LOSS,
    .doc = "ReviewKD's hierarchical context loss: squared error over a pyramid of pooled sizes, weights halving",
    .inputs = inputs,
};
