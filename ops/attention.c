/* attention.c — attention transfer (Zagoruyko & Komodakis 2017), as in
 * RepDistiller's AT loss.
 *
 * Shapes: s [N, Cs, H, W], t [N, Ct, H, W] (channels may differ, the
 * spatial size may not), out: scalar.  P = H*W.
 *   q[n, j]  = (1/C) sum_c |x[n, c, j]|^p           (channel-pooled map)
 *   a[n, :]  = q[n, :] / max(||q[n, :]||_2, 1e-12)   (F.normalize)
 *   L        = (1/(N*P)) sum_{n, j} (a_s[n, j] - a_t[n, j])^2
 * Gradient (for s; t likewise with the sign of the difference flipped):
 *   ga = 2 (a_s - a_t) dL / (N*P)
 *   gq = (ga - a_s (a_s . ga)) / ||q_s||   (ga / 1e-12 when clamped)
 *   ds[n, c, j] += gq[j] * (p/C) |s|^(p-1) sign(s)
 * Saved: a_s, a_t and the two norms per sample; workspace: per-sample
 * partials and map gradients (no allocation in a step).  Parallel over samples,
 * sums in double in a fixed order; the batch sum adds per-sample partials
 * serially.  For p < 1 the gradient at an exact 0 is infinite.
 */
#include "kd_ops_util.h"

enum { A_P };

static const kd_attr_spec attrs[] = {
    {.name = "p", .type = KD_ATTR_FLOAT, .def = 2, .min = 1e-3, .max = 16,
     .doc = "power of |x| in the channel-pooled maps"},
    {0}};

#define AT_EPS 1e-12

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    const kd_shape *s = &c->in_shape[0], *t = &c->in_shape[1];
    if (s->ndim != 4) return kd_err_rank(err, n, "attention", 4, "[N, C, H, W]", s);
    if (t->ndim != 4) return kd_err_rank(err, n, "attention", 4, "[N, C, H, W]", t);
    if (s->dims[0] != t->dims[0] || s->dims[2] != t->dims[2] || s->dims[3] != t->dims[3]) {
        char a[128], b[128];
        return kd_err(err, n, "attention expects the same batch and spatial size, got %s and %s "
                      "(channels may differ)", kd_shape_str(s, a, sizeof a), kd_shape_str(t, b, sizeof b));
    }
    info->saved_floats = (size_t)(2 * s->dims[0] * s->dims[2] * s->dims[3] + 2 * s->dims[0]);
    c->out_shape = kd_scalar();
    return 0;
}

/* per-sample loss partials [N] (forward), map gradients [N, P] (backward) */
static size_t workspace(const kd_op_ctx *c)
{
    const kd_shape *s = &c->in_shape[0];
    return sizeof(double) * (size_t)(s->dims[0] * (1 + s->dims[2] * s->dims[3]));
}

static double powabs(double v, double p) { return p == 2 ? v * v : pow(fabs(v), p); }

/* a[j] = normalised channel-pooled map of x_n; returns ||q|| */
static double att_map(const float *xn, int64_t C, int64_t P, double p, float *a)
{
    double ss = 0;
    for (int64_t j = 0; j < P; j++) {
        double q = 0;
        for (int64_t ch = 0; ch < C; ch++) q += powabs(xn[ch * P + j], p);
        q /= (double)C;
        a[j] = (float)q;
        ss += q * q;
    }
    double nrm = sqrt(ss), d = nrm > AT_EPS ? nrm : AT_EPS;
    for (int64_t j = 0; j < P; j++) a[j] = (float)(a[j] / d);
    return nrm;
}

static void forward(kd_op_ctx *c)
{
    const kd_shape *s = &c->in_shape[0];
    int64_t N = s->dims[0], Cs = s->dims[1], Ct = c->in_shape[1].dims[1], P = s->dims[2] * s->dims[3];
    double p = KD_A_FLT(c, A_P);
    float *as = c->saved, *at = c->saved + N * P, *norms = c->saved + 2 * N * P;
    double *part = c->work;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && N * P * (Cs + Ct) > KD_OMP_MIN)
    for (int64_t n = 0; n < N; n++) {
        norms[2 * n] = (float)att_map(c->in[0] + n * Cs * P, Cs, P, p, as + n * P);
        norms[2 * n + 1] = (float)att_map(c->in[1] + n * Ct * P, Ct, P, p, at + n * P);
        double d = 0;
        for (int64_t j = 0; j < P; j++) {
            double e = (double)as[n * P + j] - at[n * P + j];
            d += e * e;
        }
        part[n] = d;
    }
    double tot = 0;
    for (int64_t n = 0; n < N; n++) tot += part[n];
    c->out[0] = (float)(tot / (double)(N * P));
}

/* dx_n += d(loss)/d(x_n) for one side: a its map, sign +1 (s) or -1 (t) */
static void side_grad(const float *xn, float *dxn, int64_t C, int64_t P, double p, const float *a,
                      const float *other, double nrm, double k, double *ga)
{
    double dot = 0;
    for (int64_t j = 0; j < P; j++) {
        ga[j] = k * ((double)a[j] - other[j]);
        dot += (double)a[j] * ga[j];
    }
    double inv = 1.0 / (nrm > AT_EPS ? nrm : AT_EPS);
    for (int64_t j = 0; j < P; j++) ga[j] = nrm > AT_EPS ? (ga[j] - a[j] * dot) * inv : ga[j] * inv;
    double f = p / (double)C;
    for (int64_t ch = 0; ch < C; ch++)
        for (int64_t j = 0; j < P; j++) {
            double v = xn[ch * P + j];
            double dq = p == 2 ? 2.0 / (double)C * v
                               : (v == 0 ? 0 : f * pow(fabs(v), p - 1) * (v > 0 ? 1 : -1));
            dxn[ch * P + j] += (float)(ga[j] * dq);
        }
}

static void backward(kd_op_ctx *c)
{
    const kd_shape *s = &c->in_shape[0];
    int64_t N = s->dims[0], Cs = s->dims[1], Ct = c->in_shape[1].dims[1], P = s->dims[2] * s->dims[3];
    double p = KD_A_FLT(c, A_P);
    const float *as = c->saved, *at = c->saved + N * P, *norms = c->saved + 2 * N * P;
    float *ds = c->grad_in[0], *dt = c->grad_in[1];
    double k = 2.0 * c->grad_out[0] / (double)(N * P);
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && N * P * (Cs + Ct) > KD_OMP_MIN)
    for (int64_t n = 0; n < N; n++) {
        double *ga = (double *)c->work + N + n * P;
        if (ds) side_grad(c->in[0] + n * Cs * P, ds + n * Cs * P, Cs, P, p, as + n * P, at + n * P,
                          norms[2 * n], k, ga);
        if (dt) side_grad(c->in[1] + n * Ct * P, dt + n * Ct * P, Ct, P, p, at + n * P, as + n * P,
                          norms[2 * n + 1], k, ga);
    }
}

static const kd_input_spec inputs[] = {
    {.name = "student", .shape = "[N, Cs, H, W]"},
    {.name = "teacher", .shape = "[N, Ct, H, W]"},
    {NULL}};
/* `at` is a reserved word of the language: the spelling exists for
 * messages; recipes write attention(...) */
static const kd_sugar sugar[] = {
    {.name = "at", .doc = "attention transfer: distance of normalized channel-pooled |x|^p maps"},
    {NULL}};

const kd_op_def kd_op_attention = {
    .name = "attention",
    .min_inputs = 2,
    .max_inputs = 2,
    .attrs = attrs,
    .infer = infer,
    .workspace = workspace,
    .forward = forward,
    .backward = backward,
    .use = KD_USE_LOSS,
    .doc = "attention transfer: distance of normalized channel-pooled |x|^p maps",
    .inputs = inputs,
    .sugar = sugar,
};
