/* test_ops.c — tests for every op in ops/ops.def.
 *
 * For each case of the table below:
 *   (a) forward against a plain double-precision reference written here
 *       (direct 7-loop convolution, etc.);
 *   (b) gradient check: L = sum(out * R) for a fixed random R, evaluated in
 *       double; central differences (L(x+h) - L(x-h)) / 2h with h = 1e-2 on
 *       every element (or 48 sampled elements of big inputs) of every
 *       differentiable input and parameter, against backward with
 *       grad_out = R;  |analytic - numeric| <= tol * (1 + |numeric|);
 *   (c) backward ADDS: with the gradient buffers pre-filled with G0 the
 *       result is G0 + the gradient from zero-filled buffers.
 * Cases include odd sizes, stride 2, padding, dilation, groups, depthwise,
 * batch 1 and 1x1 spatial.  Plus: registry, attribute and infer errors,
 * batchnorm running statistics, dropout determinism, thread-count
 * determinism.  All randomness comes from one seeded xorshift generator.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../unit.h"
#include "../../ops/kd_op.h"
#include "../../ops/kd_sgemm_small.h"

/* from OpenBLAS (cblas.h would bring complex.h, whose I clashes here) */
void openblas_set_num_threads(int n);

/* ---- seeded RNG --------------------------------------------------------- */
static uint64_t rng_s = 0x2545F4914F6CDD1Dull;
static void rng_seed(uint64_t s) { rng_s = s * 0x9E3779B97F4A7C15ull + 1; }
static double urand(void)
{
    rng_s ^= rng_s << 13;
    rng_s ^= rng_s >> 7;
    rng_s ^= rng_s << 17;
    return (double)(rng_s >> 11) * (1.0 / 9007199254740992.0);
}
static double nrand(void)
{
    double u = urand(), v = urand();
    return sqrt(-2 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

/* ---- test instance -------------------------------------------------------- */
enum { G_N, G_AWAY, G_SPACED, G_SMALL, G_LABEL, G_PROB, G_WIDE, G_SPACED6, G_TAU };

typedef struct tcase tcase;
typedef struct inst {
    const tcase *tc;
    const kd_op_def *d;
    kd_attr_val attr[KD_MAXATTR];
    kd_op_ctx c;
    kd_op_info info;
    float *buf[KD_MAXIN];
    int64_t n[KD_MAXIN];
    int ndata;
} inst;

typedef void (*ref_fn)(const inst *t, double *y);

struct tcase {
    const char *op;
    const char *attrs;       /* "c=4 k=3 stride=2 axes=2,3 mode=..." */
    int ndata;
    kd_shape in[6];
    int gen[6];
    int training;
    double tol;
    ref_fn ref;
    int nthreads;
};

static double A(const inst *t, const char *name)
{
    int i = kd_attr_index(t->d, name);
    CU_ASSERT_FATAL(i >= 0);
    return t->attr[i].num;
}

static int parse_attrs(const kd_op_def *d, kd_attr_val *v, const char *s)
{
    char buf[256], err[256];
    kd_attrs_default(d, v);
    if (!s) return 0;
    snprintf(buf, sizeof buf, "%s", s);
    for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " ")) {
        char *eq = strchr(tok, '=');
        if (!eq) return -1;
        *eq = 0;
        int idx = kd_attr_index(d, tok);
        if (idx < 0) return -1;
        if (d->attrs[idx].type == KD_ATTR_INTS) {
            int64_t x[KD_MAXINTS];
            int n = 0;
            for (char *p = eq + 1; *p && n < KD_MAXINTS;) {
                x[n++] = strtoll(p, &p, 10);
                if (*p == ',') p++;
            }
            if (kd_attr_set_ints(d, v, idx, x, n, err, sizeof err)) return -1;
        } else if (d->attrs[idx].type == KD_ATTR_ENUM) {
            if (kd_attr_set_enum(d, v, idx, eq + 1, err, sizeof err)) return -1;
        } else if (kd_attr_set_num(d, v, idx, atof(eq + 1), err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            return -1;
        }
    }
    return 0;
}

static void fill(float *p, int64_t n, int gen, int64_t K)
{
    switch (gen) {
    case G_N:
        for (int64_t i = 0; i < n; i++) p[i] = (float)nrand();
        break;
    case G_WIDE:
        for (int64_t i = 0; i < n; i++) p[i] = (float)(2.5 * nrand());
        break;
    case G_AWAY:
        for (int64_t i = 0; i < n; i++)
            p[i] = (float)((0.1 + 0.9 * urand()) * (urand() < 0.5 ? -1 : 1));
        break;
    case G_SMALL:
        for (int64_t i = 0; i < n; i++) p[i] = (float)(0.05 * (2 * urand() - 1));
        break;
    case G_PROB:
        for (int64_t i = 0; i < n; i++) p[i] = (float)urand();
        break;
    case G_SPACED6: /* -1.05 .. 7.7 in steps of 0.25, off the kinks at 0 and 6 */
        for (int64_t i = 0; i < n; i++) p[i] = (float)(-1.05 + 0.25 * (double)i);
        break;
    case G_TAU: /* a temperature in [0.5, 1.5) (ops2 branch: choice) */
        for (int64_t i = 0; i < n; i++) p[i] = (float)(0.5 + urand());
        break;
    case G_LABEL:
        for (int64_t i = 0; i < n; i++) p[i] = (float)(int64_t)(urand() * (double)K);
        break;
    case G_SPACED: /* a random permutation of -n/2..n/2 times 0.05 */
        for (int64_t i = 0; i < n; i++) p[i] = (float)(0.05 * (double)(i - n / 2));
        for (int64_t i = n - 1; i > 0; i--) {
            int64_t j = (int64_t)(urand() * (double)(i + 1));
            float tmp = p[i];
            p[i] = p[j];
            p[j] = tmp;
        }
        break;
    }
}

static void inst_free(inst *t)
{
    for (int i = 0; i < KD_MAXIN; i++) free(t->buf[i]);
    for (int i = 0; i < KD_MAXSTATE; i++) free(t->c.state[i]);
    free(t->c.saved);
    free(t->c.work);
    free(t->c.out);
    memset(t, 0, sizeof *t);
}

/* builds the instance: attributes, infer, buffers with random contents */
static int inst_make(inst *t, const tcase *tc)
{
    char err[256];
    memset(t, 0, sizeof *t);
    t->tc = tc;
    t->d = kd_op_find(tc->op);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t->d);
    CU_ASSERT_FATAL(parse_attrs(t->d, t->attr, tc->attrs) == 0);
    t->ndata = tc->ndata;
    t->c.attr = t->attr;
    t->c.nin = tc->ndata + t->d->nparams;
    for (int i = 0; i < tc->ndata; i++) t->c.in_shape[i] = tc->in[i];
    if (kd_op_infer(t->d, &t->c, &t->info, err, sizeof err) != 0) {
        fprintf(stderr, "\n%s: infer failed: %s\n", tc->op, err);
        CU_FAIL("infer failed");
        return -1;
    }
    for (int i = 0; i < t->c.nin; i++) {
        t->n[i] = kd_shape_numel(&t->c.in_shape[i]);
        if (t->n[i] == 0) continue;
        t->buf[i] = malloc(sizeof(float) * (size_t)t->n[i]);
        int gen = i < tc->ndata ? tc->gen[i] : G_N;
        int64_t K = tc->ndata > 0 && tc->in[0].ndim > 1 ? tc->in[0].dims[1] : 1;
        fill(t->buf[i], t->n[i], gen, K);
        if (i >= tc->ndata) /* parameters: moderate values */
            for (int64_t j = 0; j < t->n[i]; j++) t->buf[i][j] *= 0.5f;
        t->c.in[i] = t->buf[i];
    }
    for (int s = 0; s < t->info.nstate; s++) {
        int64_t n = kd_shape_numel(&t->info.state_shape[s]);
        t->c.state[s] = malloc(sizeof(float) * (size_t)n);
        for (int64_t j = 0; j < n; j++) t->c.state[s][j] = t->info.state_init[s];
    }
    if (t->info.saved_floats) t->c.saved = calloc(t->info.saved_floats, sizeof(float));
    t->c.training = tc->training;
    t->c.nthreads = tc->nthreads ? tc->nthreads : 1;
    t->c.seed = 1234;
    t->c.step = 7;
    t->c.out = malloc(sizeof(float) * (size_t)(kd_shape_numel(&t->c.out_shape) + 1));
    size_t ws = t->d->workspace ? t->d->workspace(&t->c) : 0;
    t->c.work = ws ? aligned_alloc(64, (ws + 63) / 64 * 64) : NULL;
    t->c.work_size = ws;
    return 0;
}

static int64_t out_n(const inst *t) { return kd_shape_numel(&t->c.out_shape); }

static double proj(inst *t, const double *R)
{
    t->d->forward(&t->c);
    double s = 0;
    for (int64_t i = 0; i < out_n(t); i++) s += (double)t->c.out[i] * R[i];
    return s;
}

static int wants_grad(const inst *t, int i)
{
    if (t->n[i] == 0) return 0;
    if (i < t->ndata && (t->d->nograd >> i) & 1u) return 0;
    return 1;
}

/* ---- the generic checks --------------------------------------------------- */
static int n_forward_checks, n_grad_checks, n_grad_elems;

/* (d) kd_op_def.rows: an op that says it keeps the rows apart gives, in
 * eval mode, row r of a batch whose rows are rotated by one the bits that
 * row r - 1 had (the teacher cache keeps a sample's outputs from one batch
 * for another) */
static int n_rows_checks;
static void check_rows(inst *t, const char *label)
{
    int64_t N = t->c.in_shape[0].ndim > 0 ? t->c.in_shape[0].dims[0] : 0;
    if (!t->d->rows || N < 2 || t->c.out_shape.ndim < 1 || t->c.out_shape.dims[0] != N) return;
    for (int i = 0; i < t->ndata; i++)
        if (t->c.in_shape[i].ndim < 1 || t->c.in_shape[i].dims[0] != N) return;
    if (!t->d->rows(&t->c)) return;
    int training = t->c.training;
    t->c.training = 0;
    int64_t no = out_n(t), ro = no / N;
    float *y0 = malloc(sizeof(float) * (size_t)no);
    t->d->forward(&t->c);
    memcpy(y0, t->c.out, sizeof(float) * (size_t)no);
    float *keep[KD_MAXIN] = {0};
    for (int i = 0; i < t->ndata; i++) {   /* row r -> r + 1 */
        int64_t ri = t->n[i] / N;
        keep[i] = t->buf[i];
        float *x = malloc(sizeof(float) * (size_t)t->n[i]);
        for (int64_t r = 0; r < N; r++)
            memcpy(x + ((r + 1) % N) * ri, keep[i] + r * ri, sizeof(float) * (size_t)ri);
        t->buf[i] = x;
        t->c.in[i] = x;
    }
    t->d->forward(&t->c);
    int64_t bad = -1;
    for (int64_t r = 0; r < N && bad < 0; r++)
        if (memcmp(t->c.out + ((r + 1) % N) * ro, y0 + r * ro, sizeof(float) * (size_t)ro)) bad = r;
    if (bad >= 0) fprintf(stderr, "\n%s: rows() says row-wise, but row %lld moved to %lld changes its bits\n",
                          label, (long long)bad, (long long)((bad + 1) % N));
    CU_ASSERT(bad < 0);
    for (int i = 0; i < t->ndata; i++) {
        free(t->buf[i]);
        t->buf[i] = keep[i];
        t->c.in[i] = keep[i];
    }
    free(y0);
    t->c.training = training;
    n_rows_checks++;
}

static void check_case(const tcase *tc)
{
    inst t;
    rng_seed((uint64_t)(uintptr_t)tc->op[0] * 131 + (uint64_t)tc->in[0].dims[0] * 7 +
             (uint64_t)tc->ndata);
    if (inst_make(&t, tc)) return;
    int64_t no = out_n(&t);
    char label[160];
    snprintf(label, sizeof label, "%s(%s)", tc->op, tc->attrs ? tc->attrs : "");

    /* (a) forward vs reference */
    t.d->forward(&t.c);
    if (tc->ref) {
        double *y = calloc((size_t)no, sizeof(double));
        /* reference sees the same state the kernel saw (bn running stats are
         * updated by forward; references read t.c.state only in eval mode) */
        tc->ref(&t, y);
        double worst = 0;
        for (int64_t i = 0; i < no; i++) {
            double e = fabs((double)t.c.out[i] - y[i]) / (1 + fabs(y[i]));
            if (!(e <= worst)) worst = e; /* NaN-safe */
        }
        if (!(worst <= 1e-4)) fprintf(stderr, "\n%s: forward error %g\n", label, worst);
        CU_ASSERT(worst <= 1e-4);
        free(y);
        n_forward_checks++;
    }
    check_rows(&t, label);
    if (!t.d->backward) {
        inst_free(&t);
        return;
    }

    /* (b) gradient check */
    double *R = malloc(sizeof(double) * (size_t)no);
    float *Rf = malloc(sizeof(float) * (size_t)no);
    for (int64_t i = 0; i < no; i++) Rf[i] = (float)(R[i] = nrand());
    float *g[KD_MAXIN] = {0}, *g0[KD_MAXIN] = {0};
    for (int i = 0; i < t.c.nin; i++)
        if (wants_grad(&t, i)) {
            g[i] = calloc((size_t)t.n[i], sizeof(float));
            g0[i] = malloc(sizeof(float) * (size_t)t.n[i]);
            for (int64_t j = 0; j < t.n[i]; j++) g0[i][j] = (float)nrand();
        }
    t.d->forward(&t.c);
    t.c.grad_out = Rf;
    for (int i = 0; i < t.c.nin; i++) t.c.grad_in[i] = g[i];
    t.d->backward(&t.c);

    const double h = 1e-2;
    for (int i = 0; i < t.c.nin; i++) {
        if (!g[i]) continue;
        double worst = 0;
        int64_t worst_j = -1;
        double wa = 0, wn = 0;
        int64_t count = t.n[i] <= 48 ? t.n[i] : 48;
        for (int64_t s = 0; s < count; s++) {
            int64_t j = t.n[i] <= 48 ? s : (int64_t)(urand() * (double)t.n[i]);
            float x0 = t.buf[i][j];
            t.buf[i][j] = (float)(x0 + h);
            double lp = proj(&t, R);
            t.buf[i][j] = (float)(x0 - h);
            double lm = proj(&t, R);
            t.buf[i][j] = x0;
            double hp = (double)(float)(x0 + h) - (double)(float)(x0 - h);
            double num = (lp - lm) / hp, an = g[i][j];
            double e = fabs(an - num) / (1 + fabs(num));
            if (!(e <= worst)) {
                worst = e;
                worst_j = j;
                wa = an;
                wn = num;
            }
            n_grad_elems++;
        }
        if (getenv("KD_TEST_VERBOSE"))
            fprintf(stderr, "%-50s input %d: max grad err %.2e (tol %.0e)\n", label, i, worst, tc->tol);
        if (!(worst <= tc->tol))
            fprintf(stderr, "\n%s: input %d element %lld: analytic %.6g numeric %.6g (err %.3g > %.3g)\n",
                    label, i, (long long)worst_j, wa, wn, worst, tc->tol);
        CU_ASSERT(worst <= tc->tol);
        n_grad_checks++;
    }

    /* (c) backward adds into existing gradients */
    t.d->forward(&t.c);
    float *acc[KD_MAXIN] = {0};
    for (int i = 0; i < t.c.nin; i++)
        if (g[i]) {
            acc[i] = malloc(sizeof(float) * (size_t)t.n[i]);
            memcpy(acc[i], g0[i], sizeof(float) * (size_t)t.n[i]);
        }
    for (int i = 0; i < t.c.nin; i++) t.c.grad_in[i] = acc[i];
    t.d->backward(&t.c);
    for (int i = 0; i < t.c.nin; i++) {
        if (!g[i]) continue;
        double worst = 0;
        for (int64_t j = 0; j < t.n[i]; j++) {
            double want = (double)g0[i][j] + g[i][j];
            double e = fabs(acc[i][j] - want) / (1 + fabs(want));
            if (!(e <= worst)) worst = e;
        }
        if (!(worst <= 1e-5)) fprintf(stderr, "\n%s: input %d: backward does not add (%g)\n", label, i, worst);
        CU_ASSERT(worst <= 1e-5);
        free(acc[i]);
        free(g[i]);
        free(g0[i]);
    }
    free(R);
    free(Rf);
    inst_free(&t);
}

/* ---- naive references (double) ------------------------------------------ */
#define IN(t, i) ((t)->c.in[i])
#define D(t, i, k) ((t)->c.in_shape[i].dims[k])

static void ref_conv2d(const inst *t, double *y)
{
    int64_t N = D(t, 0, 0), C = D(t, 0, 1), H = D(t, 0, 2), W = D(t, 0, 3);
    int64_t F = (int64_t)A(t, "c"), K = (int64_t)A(t, "k"), S = (int64_t)A(t, "stride");
    int64_t P = (int64_t)A(t, "pad"), Dl = (int64_t)A(t, "dilation"), G = (int64_t)A(t, "groups");
    if (P < 0) P = Dl * (K - 1) / 2;
    int64_t Ho = (H + 2 * P - Dl * (K - 1) - 1) / S + 1, Wo = (W + 2 * P - Dl * (K - 1) - 1) / S + 1;
    int64_t Cg = C / G, Fg = F / G;
    const float *x = IN(t, 0), *w = IN(t, 1), *b = t->n[2] ? IN(t, 2) : NULL;
    for (int64_t n = 0; n < N; n++)
        for (int64_t f = 0; f < F; f++)
            for (int64_t oh = 0; oh < Ho; oh++)
                for (int64_t ow = 0; ow < Wo; ow++) {
                    double s = b ? b[f] : 0;
                    int64_t gi = f / Fg;
                    for (int64_t ci = 0; ci < Cg; ci++)
                        for (int64_t ki = 0; ki < K; ki++)
                            for (int64_t kj = 0; kj < K; kj++) {
                                int64_t ih = oh * S - P + ki * Dl, iw = ow * S - P + kj * Dl;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                s += (double)w[((f * Cg + ci) * K + ki) * K + kj] *
                                     x[((n * C + gi * Cg + ci) * H + ih) * W + iw];
                            }
                    y[((n * F + f) * Ho + oh) * Wo + ow] = s;
                }
}

static void ref_linear(const inst *t, double *y)
{
    int64_t N = D(t, 0, 0), Dd = t->n[0] / N, F = (int64_t)A(t, "n");
    for (int64_t n = 0; n < N; n++)
        for (int64_t f = 0; f < F; f++) {
            double s = t->n[2] ? IN(t, 2)[f] : 0;
            for (int64_t k = 0; k < Dd; k++) s += (double)IN(t, 0)[n * Dd + k] * IN(t, 1)[f * Dd + k];
            y[n * F + f] = s;
        }
}

static void ref_bn(const inst *t, double *y)
{
    int64_t N = D(t, 0, 0), C = D(t, 0, 1), S = t->n[0] / (N * C);
    double eps = A(t, "eps");
    for (int64_t c = 0; c < C; c++) {
        double mu = 0, var = 0;
        if (t->c.training) {
            for (int64_t n = 0; n < N; n++)
                for (int64_t s = 0; s < S; s++) mu += IN(t, 0)[(n * C + c) * S + s];
            mu /= (double)(N * S);
            for (int64_t n = 0; n < N; n++)
                for (int64_t s = 0; s < S; s++) {
                    double d = IN(t, 0)[(n * C + c) * S + s] - mu;
                    var += d * d;
                }
            var /= (double)(N * S);
        } else {
            mu = t->c.state[0][c];
            var = t->c.state[1][c];
        }
        double g = t->n[1] ? IN(t, 1)[c] : 1, b = t->n[2] ? IN(t, 2)[c] : 0;
        for (int64_t n = 0; n < N; n++)
            for (int64_t s = 0; s < S; s++) {
                int64_t i = (n * C + c) * S + s;
                y[i] = g * (IN(t, 0)[i] - mu) / sqrt(var + eps) + b;
            }
    }
}

static void ref_relu(const inst *t, double *y)
{
    for (int64_t i = 0; i < t->n[0]; i++) y[i] = IN(t, 0)[i] > 0 ? IN(t, 0)[i] : 0;
}
static void ref_relu6(const inst *t, double *y)
{
    for (int64_t i = 0; i < t->n[0]; i++) y[i] = fmin(fmax(IN(t, 0)[i], 0.0), 6.0);
}
static void ref_leaky(const inst *t, double *y)
{
    double s = A(t, "slope");
    for (int64_t i = 0; i < t->n[0]; i++) y[i] = IN(t, 0)[i] > 0 ? IN(t, 0)[i] : s * IN(t, 0)[i];
}
static void ref_sigmoid(const inst *t, double *y)
{
    for (int64_t i = 0; i < t->n[0]; i++) y[i] = 1 / (1 + exp(-(double)IN(t, 0)[i]));
}
static void ref_tanh(const inst *t, double *y)
{
    for (int64_t i = 0; i < t->n[0]; i++) y[i] = tanh((double)IN(t, 0)[i]);
}
static void ref_scale(const inst *t, double *y)
{
    for (int64_t i = 0; i < t->n[0]; i++) y[i] = A(t, "s") * IN(t, 0)[i];
}
static void ref_copy(const inst *t, double *y)
{
    for (int64_t i = 0; i < t->n[0]; i++) y[i] = IN(t, 0)[i];
}
static void ref_add(const inst *t, double *y)
{
    for (int64_t i = 0; i < t->n[0]; i++) {
        y[i] = 0;
        for (int j = 0; j < t->ndata; j++) y[i] += IN(t, j)[i];
    }
}
static void ref_sub(const inst *t, double *y)
{
    for (int64_t i = 0; i < t->n[0]; i++) y[i] = (double)IN(t, 0)[i] - IN(t, 1)[i];
}
static void ref_mul(const inst *t, double *y)
{
    for (int64_t i = 0; i < t->n[0]; i++) y[i] = (double)IN(t, 0)[i] * IN(t, 1)[i];
}

/* mean: loops over output coordinates, then over the reduced ones */
static void ref_mean(const inst *t, double *y)
{
    const kd_shape *x = &t->c.in_shape[0];
    int ai = kd_attr_index(t->d, "axes");
    unsigned m = 0;
    for (int i = 0; i < t->attr[ai].nints; i++) m |= 1u << t->attr[ai].ints[i];
    if (t->attr[ai].nints == 0) {      /* over: hw, c, t, all */
        int ov = (int)A(t, "over");
        if (ov == 0) m = 3u << 2;
        else if (ov == 1) m = 1u << 1;
        else if (ov == 2) m = 1u << (x->ndim - 1);
        else m = ((1u << x->ndim) - 1) & ~1u;
    }
    int64_t no = kd_shape_numel(&t->c.out_shape), cnt = t->n[0] / no;
    for (int64_t o = 0; o < no; o++) y[o] = 0;
    for (int64_t i = 0; i < t->n[0]; i++) {
        int64_t rem = i, coord[KD_MAXDIM], o = 0;
        for (int d = x->ndim - 1; d >= 0; d--) {
            coord[d] = rem % x->dims[d];
            rem /= x->dims[d];
        }
        for (int d = 0; d < x->ndim; d++)
            if (!(m & (1u << d))) o = o * x->dims[d] + coord[d];
        y[o] += IN(t, 0)[i] / (double)cnt;
    }
}

static void ref_pool(const inst *t, double *y, int max)
{
    int64_t N = D(t, 0, 0), C = D(t, 0, 1), H = D(t, 0, 2), W = D(t, 0, 3);
    int64_t K = (int64_t)A(t, "k"), S = (int64_t)A(t, "stride"), P = (int64_t)A(t, "pad");
    if (!S) S = K;
    int64_t Ho = (H + 2 * P - K) / S + 1, Wo = (W + 2 * P - K) / S + 1;
    for (int64_t nc = 0; nc < N * C; nc++)
        for (int64_t oh = 0; oh < Ho; oh++)
            for (int64_t ow = 0; ow < Wo; ow++) {
                double acc = max ? -INFINITY : 0;
                for (int64_t ki = 0; ki < K; ki++)
                    for (int64_t kj = 0; kj < K; kj++) {
                        int64_t ih = oh * S - P + ki, iw = ow * S - P + kj;
                        if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                        double v = IN(t, 0)[(nc * H + ih) * W + iw];
                        acc = max ? fmax(acc, v) : acc + v;
                    }
                y[(nc * Ho + oh) * Wo + ow] = max ? acc : acc / (double)(K * K);
            }
}
/* [N, C, T]: PyTorch's max_pool1d / avg_pool1d (count_include_pad), written
 * out on its own rather than as a height-1 image */
static void ref_pool1d(const inst *t, double *y, int max)
{
    int64_t N = D(t, 0, 0), C = D(t, 0, 1), T = D(t, 0, 2);
    int64_t K = (int64_t)A(t, "k"), S = (int64_t)A(t, "stride"), P = (int64_t)A(t, "pad");
    if (!S) S = K;
    int64_t To = (T + 2 * P - K) / S + 1;
    for (int64_t nc = 0; nc < N * C; nc++)
        for (int64_t o = 0; o < To; o++) {
            double acc = max ? -INFINITY : 0;
            for (int64_t k = 0; k < K; k++) {
                int64_t i = o * S - P + k;
                if (i < 0 || i >= T) continue;     /* padding: -inf for max, 0 for avg */
                double v = IN(t, 0)[nc * T + i];
                acc = max ? fmax(acc, v) : acc + v;
            }
            y[nc * To + o] = max ? acc : acc / (double)K;
        }
}
static void ref_maxpool(const inst *t, double *y)
{
    if (t->c.in_shape[0].ndim == 3) ref_pool1d(t, y, 1);
    else ref_pool(t, y, 1);
}
static void ref_avgpool(const inst *t, double *y)
{
    if (t->c.in_shape[0].ndim == 3) ref_pool1d(t, y, 0);
    else ref_pool(t, y, 0);
}

static void ref_sm(const inst *t, double *y, int lg)
{
    const kd_shape *x = &t->c.in_shape[0];
    int a = (int)A(t, "axis");
    double T = A(t, "T");
    if (a < 0) a += x->ndim;
    int64_t O = 1, I = 1, K = x->dims[a];
    for (int d = 0; d < a; d++) O *= x->dims[d];
    for (int d = a + 1; d < x->ndim; d++) I *= x->dims[d];
    for (int64_t o = 0; o < O; o++)
        for (int64_t i = 0; i < I; i++) {
            double s = 0;
            for (int64_t k = 0; k < K; k++) s += exp((double)IN(t, 0)[(o * K + k) * I + i] / T);
            for (int64_t k = 0; k < K; k++) {
                double v = IN(t, 0)[(o * K + k) * I + i] / T;
                y[(o * K + k) * I + i] = lg ? v - log(s) : exp(v) / s;
            }
        }
}
static void ref_softmax(const inst *t, double *y) { ref_sm(t, y, 0); }
static void ref_log_softmax(const inst *t, double *y) { ref_sm(t, y, 1); }

static void ref_concat(const inst *t, double *y)
{
    int a = (int)A(t, "axis");
    int64_t O = 1, I = 1, KT = t->c.out_shape.dims[a];
    for (int d = 0; d < a; d++) O *= t->c.out_shape.dims[d];
    for (int d = a + 1; d < t->c.out_shape.ndim; d++) I *= t->c.out_shape.dims[d];
    int64_t base = 0;
    for (int j = 0; j < t->ndata; j++) {
        int64_t Kj = D(t, j, a);
        for (int64_t o = 0; o < O; o++)
            for (int64_t k = 0; k < Kj; k++)
                for (int64_t i = 0; i < I; i++)
                    y[(o * KT + base + k) * I + i] = IN(t, j)[(o * Kj + k) * I + i];
        base += Kj;
    }
}

static void ref_aggregate(const inst *t, double *y)
{
    int K = t->ndata;
    const float *al = IN(t, K);
    double s = 0;
    for (int k = 0; k < K; k++) s += exp(al[k]);
    for (int64_t i = 0; i < t->n[0]; i++) {
        y[i] = 0;
        for (int k = 0; k < K; k++) y[i] += exp(al[k]) / s * IN(t, k)[i];
    }
}

static void ref_ce(const inst *t, double *y)
{
    int64_t N = D(t, 0, 0), K = D(t, 0, 1);
    double eps = A(t, "smoothing"), L = 0;
    for (int64_t n = 0; n < N; n++) {
        const float *z = IN(t, 0) + n * K;
        double s = 0;
        for (int64_t k = 0; k < K; k++) s += exp((double)z[k]);
        int64_t lab = (int64_t)IN(t, 1)[n];
        for (int64_t k = 0; k < K; k++) {
            double q = eps / (double)K + (k == lab ? 1 - eps : 0);
            L -= q * ((double)z[k] - log(s));
        }
    }
    y[0] = L / (double)N;
}

static void ref_kd(const inst *t, double *y)
{
    int64_t N = D(t, 0, 0), K = D(t, 0, 1);
    double T = A(t, "T"), L = 0;
    for (int64_t n = 0; n < N; n++) {
        const float *s = IN(t, 0) + n * K, *tt = IN(t, 1) + n * K;
        double zs = 0, zt = 0;
        for (int64_t k = 0; k < K; k++) {
            zs += exp(s[k] / T);
            zt += exp(tt[k] / T);
        }
        for (int64_t k = 0; k < K; k++) {
            double pt = exp(tt[k] / T) / zt, ps = exp(s[k] / T) / zs;
            L += pt * log(pt / ps);
        }
    }
    y[0] = T * T * L / (double)N;
}

/* dkd: full softmaxes in double, then the binary and the renormalised
 * non-target distributions exactly as the paper writes them */
static void ref_dkd(const inst *t, double *y)
{
    int64_t N = D(t, 0, 0), K = D(t, 0, 1);
    double al = A(t, "alpha"), be = A(t, "beta"), T = A(t, "T"), L = 0;
    for (int64_t n = 0; n < N; n++) {
        const float *s = IN(t, 0) + n * K, *tt = IN(t, 1) + n * K;
        int64_t lab = (int64_t)IN(t, 2)[n];
        double zs = 0, zt = 0, p[64] = {0}, q[64] = {0};
        for (int64_t k = 0; k < K; k++) {
            zs += exp(s[k] / T);
            zt += exp(tt[k] / T);
        }
        for (int64_t k = 0; k < K; k++) {
            p[k] = exp(s[k] / T) / zs;
            q[k] = exp(tt[k] / T) / zt;
        }
        double py = p[lab], qy = q[lab];
        double tckd = qy * log(qy / py) + (1 - qy) * log((1 - qy) / (1 - py)), nckd = 0;
        for (int64_t k = 0; k < K; k++) {
            if (k == lab) continue;
            double ph = p[k] / (1 - py), qh = q[k] / (1 - qy);
            nckd += qh * log(qh / ph);
        }
        L += al * tckd + be * nckd;
    }
    y[0] = T * T * L / (double)N;
}

static void ref_kl(const inst *t, double *y)
{
    int64_t N = D(t, 0, 0), K = D(t, 0, 1);
    double T = A(t, "T"), L = 0;
    for (int64_t n = 0; n < N; n++) {
        const float *p = IN(t, 0) + n * K, *q = IN(t, 1) + n * K;
        double zp = 0, zq = 0;
        for (int64_t k = 0; k < K; k++) {
            zp += exp(p[k] / T);
            zq += exp(q[k] / T);
        }
        for (int64_t k = 0; k < K; k++) {
            double pq = exp(q[k] / T) / zq, pp = exp(p[k] / T) / zp;
            L += pq * log(pq / pp);
        }
    }
    y[0] = L / (double)N;
}

static void ref_attention(const inst *t, double *y)
{
    /* RepDistiller's at(): F.normalize(x.pow(p).mean(1).view(N, -1)) */
    const kd_shape *sh = &t->c.in_shape[0];
    int64_t N = sh->dims[0], P = sh->dims[2] * sh->dims[3];
    double p = A(t, "p"), L = 0;
    for (int64_t n = 0; n < N; n++) {
        double *a[2];
        for (int k = 0; k < 2; k++) {
            int64_t C = t->c.in_shape[k].dims[1];
            a[k] = calloc((size_t)P, sizeof(double));
            double ss = 0;
            for (int64_t j = 0; j < P; j++) {
                for (int64_t ch = 0; ch < C; ch++) a[k][j] += pow(fabs((double)IN(t, k)[(n * C + ch) * P + j]), p);
                a[k][j] /= (double)C;
                ss += a[k][j] * a[k][j];
            }
            for (int64_t j = 0; j < P; j++) a[k][j] /= fmax(sqrt(ss), 1e-12);
        }
        for (int64_t j = 0; j < P; j++) L += (a[0][j] - a[1][j]) * (a[0][j] - a[1][j]);
        free(a[0]), free(a[1]);
    }
    y[0] = L / (double)(N * P);
}
static void ref_mse(const inst *t, double *y)
{
    double s = 0;
    for (int64_t i = 0; i < t->n[0]; i++) s += pow((double)IN(t, 0)[i] - IN(t, 1)[i], 2);
    y[0] = s / (double)t->n[0];
}
static void ref_l1(const inst *t, double *y)
{
    double s = 0;
    for (int64_t i = 0; i < t->n[0]; i++) s += fabs((double)IN(t, 0)[i] - IN(t, 1)[i]);
    y[0] = s / (double)t->n[0];
}
static void ref_smooth_l1(const inst *t, double *y)
{
    double s = 0, beta = A(t, "beta");
    for (int64_t i = 0; i < t->n[0]; i++) {
        double d = fabs((double)IN(t, 0)[i] - IN(t, 1)[i]);
        s += d < beta ? 0.5 * d * d / beta : d - 0.5 * beta;
    }
    y[0] = s / (double)t->n[0];
}
static void ref_bce(const inst *t, double *y)
{
    double s = 0;
    for (int64_t i = 0; i < t->n[0]; i++) {
        double x = IN(t, 0)[i], q = IN(t, 1)[i], p = 1 / (1 + exp(-x));
        s -= q * log(p) + (1 - q) * log(1 - p);
    }
    y[0] = s / (double)t->n[0];
}
static void ref_cosine(const inst *t, double *y)
{
    int64_t N = D(t, 0, 0), Dd = t->n[0] / N;
    double L = 0;
    for (int64_t n = 0; n < N; n++) {
        double ab = 0, aa = 0, bb = 0;
        for (int64_t j = 0; j < Dd; j++) {
            double a = IN(t, 0)[n * Dd + j], b = IN(t, 1)[n * Dd + j];
            ab += a * b;
            aa += a * a;
            bb += b * b;
        }
        L += 1 - ab / (sqrt(aa) * sqrt(bb));
    }
    y[0] = L / (double)N;
}

/* dropout (train): reference = the two allowed values, checked separately */

/* ---- references of the ops2 branch (GAN losses, feature_align, ...) ---- */
static double gan_t(int kind, double d, double t)
{
    if (kind == 0) return (d - t) * (d - t);
    return -(t * log(1 / (1 + exp(-d))) + (1 - t) * log(1 - 1 / (1 + exp(-d))));
}
static void ref_gan_g(const inst *t, double *y)
{
    int kind = (int)A(t, "kind");
    double s = 0;
    for (int64_t i = 0; i < t->n[0]; i++) s += gan_t(kind, IN(t, 0)[i], 1);
    y[0] = s / (double)t->n[0];
}
static void ref_gan_d(const inst *t, double *y)
{
    int kind = (int)A(t, "kind");
    double sr = 0, sf = 0;
    for (int64_t i = 0; i < t->n[0]; i++) sr += gan_t(kind, IN(t, 0)[i], 1);
    for (int64_t i = 0; i < t->n[1]; i++) sf += gan_t(kind, IN(t, 1)[i], 0);
    y[0] = sr / (double)t->n[0] + sf / (double)t->n[1];
}
static void ref_feature_align(const inst *t, double *y)
{
    int64_t N = D(t, 0, 0), C = D(t, 0, 1), H = D(t, 0, 2), W = D(t, 0, 3);
    int64_t K = D(t, 1, 1), Hz = D(t, 1, 2), Wz = D(t, 1, 3);
    int mode = (int)A(t, "mode");   /* auto, avg, nearest */
    int avg = mode == 1 || (mode == 0 && Hz % H == 0 && Wz % W == 0 && Hz >= H && Wz >= W);
    const float *z = IN(t, 1), *Ws = IN(t, 2), *bs = IN(t, 3), *Wt = IN(t, 4), *bt = IN(t, 5);
    for (int64_t n = 0; n < N; n++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t w = 0; w < W; w++) {
                double g[16];
                for (int64_t k = 0; k < K; k++) {
                    const float *zp = z + (n * K + k) * Hz * Wz;
                    if (avg) {
                        int64_t fh = Hz / H, fw = Wz / W;
                        double s = 0;
                        for (int64_t i = 0; i < fh; i++)
                            for (int64_t j = 0; j < fw; j++) s += zp[(h * fh + i) * Wz + w * fw + j];
                        g[k] = s / (double)(fh * fw);
                    } else {
                        g[k] = zp[(int64_t)floor((double)h * Hz / H) * Wz + (int64_t)floor((double)w * Wz / W)];
                    }
                }
                for (int64_t c = 0; c < C; c++) {
                    double sc = bs[c], sh = bt[c];
                    for (int64_t k = 0; k < K; k++) {
                        sc += Ws[c * K + k] * g[k];
                        sh += Wt[c * K + k] * g[k];
                    }
                    int64_t i = ((n * C + c) * H + h) * W + w;
                    y[i] = IN(t, 0)[i] * (1 + sc) + sh;
                }
            }
}
static void ref_cost(const inst *t, double *y)
{
    int64_t K = (int64_t)A(t, "k");
    const float *tab = IN(t, 0), *a = IN(t, 1);
    double z = 0, e = 0;
    for (int64_t k = 0; k < K; k++) z += exp((double)a[k]);
    for (int64_t k = 0; k < K; k++) e += exp((double)a[k]) / z * tab[1 + k];
    y[0] = A(t, "scale") * (tab[0] + e);
}
static uint64_t ref_mix(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static void ref_choice(const inst *t, double *y)
{
    int K = t->ndata - 1;
    const float *a = IN(t, K + 1);
    double tau = IN(t, 0)[0], z[16], s = 0;
    for (int k = 0; k < K; k++) {
        if (t->c.training) {
            uint64_t h = ref_mix(ref_mix(ref_mix(t->c.seed) ^ t->c.step) ^ (uint64_t)k);
            double u = ((double)(h >> 11) + 0.5) / 9007199254740992.0;
            z[k] = exp((a[k] - log(-log(u))) / tau);
        } else
            z[k] = exp((double)a[k]);
        s += z[k];
    }
    for (int64_t i = 0; i < t->n[1]; i++) {
        y[i] = 0;
        for (int k = 0; k < K; k++) y[i] += z[k] / s * IN(t, 1 + k)[i];
    }
}
static void ref_zero(const inst *t, double *y)
{
    for (int64_t i = 0; i < t->n[0]; i++) y[i] = 0;
}
/* emd: the plan from an independent method: with uniform layer weights,
 * teacher i split into N copies and student j into M copies of mass
 * 1/(MN) give an MN x MN assignment problem (solved exactly by a DP over
 * subsets) whose optimal value is the EMD */
static double ref_emd_dist(const inst *t, int kind, const float *s, const float *tt)
{
    int64_t E = t->n[0], B = D(t, 0, 0), R = E / B;
    double d = 0;
    if (kind == 2) {
        for (int64_t r = 0; r < B; r++) {
            double st = 0, ss = 0, q = 0;
            for (int64_t k = r * R; k < (r + 1) * R; k++) {
                st += (double)s[k] * tt[k];
                ss += (double)s[k] * s[k];
                q += (double)tt[k] * tt[k];
            }
            d += 1 - st / sqrt(ss * q);
        }
        return d / (double)B;
    }
    for (int64_t k = 0; k < E; k++)
        d += kind == 0 ? pow((double)s[k] - tt[k], 2) : fabs((double)s[k] - tt[k]);
    return d / (double)E;
}
static void ref_emd(const inst *t, double *y)
{
    int M = (int)A(t, "m"), N = t->ndata - M, kind = (int)A(t, "cost"), n = M * N;
    double Dm[64], dp[1 << 8];
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) Dm[i * N + j] = ref_emd_dist(t, kind, IN(t, M + j), IN(t, i));
    for (int mask = 0; mask < (1 << n); mask++) dp[mask] = INFINITY;
    dp[0] = 0;
    for (int mask = 0; mask < (1 << n); mask++) {
        int row = __builtin_popcount((unsigned)mask);   /* teacher copy `row` is row / N */
        if (row >= n || dp[mask] == INFINITY) continue;
        for (int col = 0; col < n; col++)           /* student copy col is col / M */
            if (!(mask & (1 << col)))
                dp[mask | (1 << col)] = fmin(dp[mask | (1 << col)], dp[mask] + Dm[(row / N) * N + col / M]);
    }
    y[0] = dp[(1 << n) - 1] / (double)n;
}
/* ---- end of the ops2 references ---- */
/* conv1d, deconv, upsample, matmul, embedding, layernorm and the layout ops */
#include "ref_net.h"
/* rkd, pkt, sp, cc, nst, fsp, ab, vid, ft */
#include "ref_zoo.h"
#include "ref_crd.h"   /* crd */
#include "ref_reviewkd.h"   /* abf, hcl */

/* ---- the case table --------------------------------------------------------- */
#define S1(a) {{a}, 1}
#define S2(a, b) {{a, b}, 2}
#define S3(a, b, c) {{a, b, c}, 3}
#define S4(a, b, c, d) {{a, b, c, d}, 4}

static const tcase cases[] = {
    /* conv2d: general im2col path, odd sizes, stride, pad, dilation, groups */
    {"conv2d", "c=4 k=3 bias=1", 1, {S4(2, 3, 7, 6)}, {G_N}, 0, 2e-3, ref_conv2d, 1},
    /* "same" stride-1 convs (kd_sgemm_small's implicit im2col on AVX-512) */
    {"conv2d", "c=5 k=3 pad=1 bias=1", 1, {S4(3, 4, 7, 6)}, {G_N}, 0, 2e-3, ref_conv2d, 2},
    {"conv2d", "c=6 k=3 pad=1 groups=2", 1, {S4(2, 4, 9, 5)}, {G_N}, 0, 2e-3, ref_conv2d, 1},
    {"conv2d", "c=3 k=5 pad=-1", 1, {S4(2, 2, 6, 7)}, {G_N}, 0, 2e-3, ref_conv2d, 3},
    {"conv2d", "c=17 k=3 pad=1", 1, {S4(2, 3, 8, 8)}, {G_N}, 0, 2e-3, ref_conv2d, 2},
    /* Ho*Wo >= 256: dW on kd_sgemm_small_nt (AVX-512) */
    {"conv2d", "c=6 k=3 pad=1 bias=1", 1, {S4(2, 3, 16, 17)}, {G_N}, 0, 2e-3, ref_conv2d, 2},
    {"conv2d", "c=5 k=3 stride=1", 1, {S4(1, 2, 19, 18)}, {G_N}, 0, 2e-3, ref_conv2d, 1},
    {"conv2d", "c=5 k=3 stride=2 pad=1 bias=1", 1, {S4(3, 2, 9, 7)}, {G_N}, 0, 2e-3, ref_conv2d, 2},
    /* stride 2 on even sizes: the parity-plane forward (kd_sgemm_small_conv2) */
    {"conv2d", "c=5 k=3 stride=2 pad=1 bias=1", 1, {S4(3, 2, 8, 6)}, {G_N}, 0, 2e-3, ref_conv2d, 2},
    {"conv2d", "c=3 k=3 dilation=2 pad=2 bias=0", 1, {S4(2, 3, 8, 9)}, {G_N}, 0, 2e-3, ref_conv2d, 1},
    /* one group, at least 4 input channels: dW from the pixel-major copy
     * (ops/kd_dw_hwc.c) on AVX-512; 17 channels span two copy blocks and
     * 51 window values two chunks; the stride-2 one also takes the
     * parity-plane dX */
    {"conv2d", "c=7 k=3 stride=2 pad=1 bias=1", 1, {S4(3, 5, 8, 6)}, {G_N}, 0, 2e-3, ref_conv2d, 2},
    {"conv2d", "c=9 k=3 pad=1", 1, {S4(3, 17, 5, 4)}, {G_N}, 0, 2e-3, ref_conv2d, 2},
    {"conv2d", "c=4 k=1 pad=0 stride=2", 1, {S4(2, 6, 5, 5)}, {G_N}, 0, 2e-3, ref_conv2d, 2},
    {"conv2d", "c=6 k=3 groups=2 stride=2 pad=0", 1, {S4(2, 4, 7, 7)}, {G_N}, 0, 2e-3, ref_conv2d, 2},
    {"conv2d", "c=4 k=2 stride=1 pad=0", 1, {S4(1, 3, 5, 5)}, {G_N}, 0, 2e-3, ref_conv2d, 1},
    {"conv2d", "c=2 k=5 pad=2 bias=1", 1, {S4(1, 1, 1, 1)}, {G_N}, 0, 2e-3, ref_conv2d, 1},
    /* 1x1 stride-1 straight-to-gemm path, with groups */
    {"conv2d", "c=5 k=1 pad=0 bias=1", 1, {S4(2, 3, 4, 5)}, {G_N}, 0, 2e-3, ref_conv2d, 1},
    {"conv2d", "c=4 k=1 pad=0 groups=2 bias=0", 1, {S4(2, 4, 3, 3)}, {G_N}, 0, 2e-3, ref_conv2d, 2},
    {"conv2d", "c=3 k=1 pad=0 stride=2", 1, {S4(2, 2, 5, 5)}, {G_N}, 0, 2e-3, ref_conv2d, 1},
    /* depthwise direct path */
    {"conv2d", "c=3 k=3 groups=3 pad=-1 bias=1", 1, {S4(2, 3, 6, 5)}, {G_N}, 0, 2e-3, ref_conv2d, 2},
    {"conv2d", "c=4 k=3 groups=4 stride=2 dilation=2 pad=1 bias=0", 1, {S4(2, 4, 9, 8)}, {G_N}, 0, 2e-3, ref_conv2d, 1},
    /* more images than threads, wider maps: rows (d) through the implicit and the 1x1 paths */
    {"conv2d", "c=16 k=3 pad=1", 1, {S4(5, 8, 8, 8)}, {G_N}, 0, 2e-3, ref_conv2d, 2},
    /* Winograd (kd_wino: C and F multiples of 16): its forward rounds to
     * up to about 40 u sum |w x| (test_sgemm_small), which is the
     * difference quotient's noise at h = 1e-2 on these sums of 144-432
     * products of normal values: a wider tolerance */
    {"conv2d", "c=16 k=3 pad=1", 1, {S4(5, 16, 8, 8)}, {G_N}, 0, 1e-2, ref_conv2d, 2},
    {"conv2d", "c=32 k=3 pad=1 bias=1", 1, {S4(7, 16, 7, 6)}, {G_N}, 0, 1e-2, ref_conv2d, 2},
    {"conv2d", "c=16 k=3 pad=1", 1, {S4(3, 48, 5, 9)}, {G_N}, 0, 1e-2, ref_conv2d, 1},
    {"conv2d", "c=8 k=1 pad=0", 1, {S4(5, 8, 16, 16)}, {G_N}, 0, 2e-3, ref_conv2d, 2},
    /* linear */
    {"linear", "n=5", 1, {S2(3, 7)}, {G_N}, 0, 1e-3, ref_linear, 1},
    {"linear", "n=3 bias=0", 1, {S4(2, 2, 3, 3)}, {G_N}, 0, 1e-3, ref_linear, 2},
    {"linear", "n=1", 1, {S2(1, 4)}, {G_N}, 0, 1e-3, ref_linear, 1},
    /* the batch split across threads, rows off OpenBLAS's blocks (linear
     * is not row-wise: these cases show why, if rows() is ever set) */
    {"linear", "n=10", 1, {S2(6, 32)}, {G_N}, 0, 1e-3, ref_linear, 2},
    {"linear", "n=37", 1, {S2(37, 70)}, {G_N}, 0, 1e-3, ref_linear, 2},
    /* batchnorm2d */
    {"batchnorm2d", NULL, 1, {S4(3, 4, 5, 3)}, {G_N}, 1, 2e-3, ref_bn, 2},
    {"batchnorm2d", "affine=0", 1, {S4(2, 3, 3, 3)}, {G_N}, 1, 2e-3, ref_bn, 1},
    {"batchnorm2d", NULL, 1, {S2(6, 5)}, {G_N}, 1, 2e-3, ref_bn, 1},
    {"batchnorm2d", NULL, 1, {S4(2, 3, 4, 4)}, {G_N}, 0, 1e-3, ref_bn, 1},
    {"batchnorm2d", "affine=0", 1, {S4(2, 3, 4, 4)}, {G_N}, 0, 1e-3, ref_bn, 1},   /* eval, no dgamma: dx alone */
    {"batchnorm2d", NULL, 1, {S4(4, 2, 1, 1)}, {G_N}, 1, 2e-3, ref_bn, 1},
    /* elementwise */
    {"relu", NULL, 1, {S4(2, 3, 4, 5)}, {G_AWAY}, 0, 1e-3, ref_relu, 2},
    {"relu6", NULL, 1, {S2(4, 9)}, {G_SPACED6}, 0, 1e-3, ref_relu6, 1},
    /* attention transfer: channels differ, p = 2 and 3, 2 threads */
    {"attention", NULL, 2, {S4(2, 3, 3, 4), S4(2, 5, 3, 4)}, {G_AWAY, G_AWAY}, 0, 1e-3, ref_attention, 1},
    {"attention", "p=3", 2, {S4(3, 2, 2, 3), S4(3, 2, 2, 3)}, {G_AWAY, G_N}, 0, 1e-3, ref_attention, 2},
    {"attention", "p=1.5", 2, {S4(1, 4, 5, 1), S4(1, 1, 5, 1)}, {G_AWAY, G_AWAY}, 0, 2e-3, ref_attention, 1},
    {"leaky_relu", "slope=0.2", 1, {S2(5, 7)}, {G_AWAY}, 0, 1e-3, ref_leaky, 1},
    {"sigmoid", NULL, 1, {S3(2, 3, 5)}, {G_WIDE}, 0, 1e-3, ref_sigmoid, 1},
    {"tanh", NULL, 1, {S2(4, 9)}, {G_N}, 0, 1e-3, ref_tanh, 2},
    {"scale", "s=-0.3", 1, {S2(3, 3)}, {G_N}, 0, 1e-3, ref_scale, 1},
    {"add", NULL, 2, {S4(2, 3, 2, 2), S4(2, 3, 2, 2)}, {G_N, G_N}, 0, 1e-3, ref_add, 1},
    {"add", NULL, 3, {S2(3, 5), S2(3, 5), S2(3, 5)}, {G_N, G_N, G_N}, 0, 1e-3, ref_add, 2},
    {"sub", NULL, 2, {S2(3, 5), S2(3, 5)}, {G_N, G_N}, 0, 1e-3, ref_sub, 1},
    {"mul", NULL, 2, {S3(2, 3, 4), S3(2, 3, 4)}, {G_N, G_N}, 0, 1e-3, ref_mul, 1},
    {"flatten", NULL, 1, {S4(2, 3, 2, 2)}, {G_N}, 0, 1e-3, ref_copy, 1},
    {"detach", NULL, 1, {S4(2, 3, 2, 2)}, {G_N}, 0, 1e-3, ref_copy, 2},
    {"dropout", "p=0.3", 1, {S2(4, 6)}, {G_N}, 0, 1e-3, ref_copy, 1},
    {"dropout", "p=0.3", 1, {S2(4, 6)}, {G_N}, 1, 1e-3, NULL, 2},
    /* reductions and pooling */
    {"mean", NULL, 1, {S4(2, 3, 5, 4)}, {G_N}, 0, 1e-3, ref_mean, 2},
    {"mean", "axes=1 keepdims=1", 1, {S4(2, 3, 2, 2)}, {G_N}, 0, 1e-3, ref_mean, 1},
    {"mean", "axes=0,2", 1, {S3(3, 2, 5)}, {G_N}, 0, 1e-3, ref_mean, 1},
    {"mean", NULL, 1, {S4(1, 4, 1, 1)}, {G_N}, 0, 1e-3, ref_mean, 1},
    {"mean", "axes=1,2,3", 1, {S4(2, 3, 2, 3)}, {G_N}, 0, 1e-3, ref_mean, 2},
    {"mean", "over=c", 1, {S3(2, 3, 4)}, {G_N}, 0, 1e-3, ref_mean, 1},
    {"mean", "over=t", 1, {S3(2, 3, 4)}, {G_N}, 0, 1e-3, ref_mean, 1},
    {"mean", "over=all", 1, {S4(2, 3, 2, 2)}, {G_N}, 0, 1e-3, ref_mean, 1},
    {"conv2d", "c=4 k=3 pad=-1 dilation=2 bias=1", 1, {S4(2, 2, 6, 7)}, {G_N}, 0, 2e-3, ref_conv2d, 1},
    {"maxpool2d", NULL, 1, {S4(2, 3, 6, 6)}, {G_SPACED}, 0, 1e-3, ref_maxpool, 2},
    {"maxpool2d", "k=3 stride=2 pad=1", 1, {S4(2, 2, 7, 5)}, {G_SPACED}, 0, 1e-3, ref_maxpool, 1},
    {"maxpool2d", "k=1", 1, {S4(1, 2, 1, 1)}, {G_SPACED}, 0, 1e-3, ref_maxpool, 1},
    {"avgpool2d", NULL, 1, {S4(2, 3, 6, 5)}, {G_N}, 0, 1e-3, ref_avgpool, 1},
    {"avgpool2d", "k=3 stride=2 pad=1", 1, {S4(2, 2, 7, 7)}, {G_N}, 0, 1e-3, ref_avgpool, 2},
    /* sequences [N, C, T]: odd T, stride != k, pad > 0, a window that
     * overhangs the end, AdaRec's length-preserving k=3 stride=1 pad=1 */
    {"maxpool2d", NULL, 1, {S3(2, 3, 9)}, {G_SPACED}, 0, 1e-3, ref_maxpool, 1},
    {"maxpool2d", "k=3 stride=2 pad=1", 1, {S3(2, 2, 7)}, {G_SPACED}, 0, 1e-3, ref_maxpool, 2},
    {"maxpool2d", "k=3 stride=1 pad=1", 1, {S3(3, 4, 11)}, {G_SPACED}, 0, 1e-3, ref_maxpool, 1},
    {"maxpool2d", "k=4 stride=3 pad=2", 1, {S3(1, 3, 8)}, {G_SPACED}, 0, 1e-3, ref_maxpool, 1},
    {"maxpool2d", "k=1", 1, {S3(2, 1, 1)}, {G_SPACED}, 0, 1e-3, ref_maxpool, 1},
    {"avgpool2d", NULL, 1, {S3(2, 3, 9)}, {G_N}, 0, 1e-3, ref_avgpool, 2},
    {"avgpool2d", "k=3 stride=2 pad=1", 1, {S3(2, 2, 7)}, {G_N}, 0, 1e-3, ref_avgpool, 1},
    {"avgpool2d", "k=3 stride=1 pad=1", 1, {S3(3, 4, 11)}, {G_N}, 0, 1e-3, ref_avgpool, 1},
    {"avgpool2d", "k=5 stride=2 pad=2", 1, {S3(2, 2, 5)}, {G_N}, 0, 1e-3, ref_avgpool, 1},
    {"softmax", NULL, 1, {S2(4, 7)}, {G_WIDE}, 0, 1e-3, ref_softmax, 1},
    {"softmax", "axis=1", 1, {S4(2, 3, 2, 2)}, {G_N}, 0, 1e-3, ref_softmax, 2},
    {"softmax", "T=3", 1, {S2(3, 6)}, {G_WIDE}, 0, 1e-3, ref_softmax, 1},
    {"log_softmax", NULL, 1, {S2(3, 10)}, {G_WIDE}, 0, 1e-3, ref_log_softmax, 1},
    {"log_softmax", "axis=1 T=0.5", 1, {S3(2, 2, 5)}, {G_N}, 0, 1e-3, ref_log_softmax, 2},
    {"concat", NULL, 2, {S4(2, 3, 2, 2), S4(2, 1, 2, 2)}, {G_N, G_N}, 0, 1e-3, ref_concat, 1},
    {"concat", "axis=0", 3, {S2(1, 3), S2(2, 3), S2(1, 3)}, {G_N, G_N, G_N}, 0, 1e-3, ref_concat, 2},
    {"aggregate", NULL, 3, {S3(2, 3, 4), S3(2, 3, 4), S3(2, 3, 4)}, {G_N, G_N, G_N}, 0, 1e-3, ref_aggregate, 1},
    {"aggregate", NULL, 1, {S2(2, 3)}, {G_N}, 0, 1e-3, ref_aggregate, 2},
    /* losses */
    {"ce", NULL, 2, {S2(5, 7), S1(5)}, {G_WIDE, G_LABEL}, 0, 1e-3, ref_ce, 1},
    {"ce", "smoothing=0.1", 2, {S2(4, 3), S1(4)}, {G_WIDE, G_LABEL}, 0, 1e-3, ref_ce, 2},
    {"ce", "smoothing=0.2", 2, {S2(1, 10), S1(1)}, {G_N, G_LABEL}, 0, 1e-3, ref_ce, 1},
    {"kd", NULL, 2, {S2(5, 7), S2(5, 7)}, {G_WIDE, G_WIDE}, 0, 1e-3, ref_kd, 1},
    {"kd", "T=1", 2, {S2(3, 4), S2(3, 4)}, {G_N, G_WIDE}, 0, 1e-3, ref_kd, 2},
    {"kd", "T=8", 2, {S2(1, 10), S2(1, 10)}, {G_WIDE, G_WIDE}, 0, 1e-3, ref_kd, 1},
    {"kl", NULL, 2, {S2(4, 6), S2(4, 6)}, {G_WIDE, G_WIDE}, 0, 1e-3, ref_kl, 1},
    {"dkd", NULL, 3, {S2(5, 7), S2(5, 7), S1(5)}, {G_WIDE, G_WIDE, G_LABEL}, 0, 1e-3, ref_dkd, 1},
    {"dkd", "alpha=0.5 beta=2 T=1", 3, {S2(3, 4), S2(3, 4), S1(3)}, {G_N, G_WIDE, G_LABEL}, 0, 1e-3, ref_dkd, 2},
    {"dkd", "T=8", 3, {S2(4, 2), S2(4, 2), S1(4)}, {G_WIDE, G_N, G_LABEL}, 0, 1e-3, ref_dkd, 1},
    {"dkd", "alpha=0 beta=1 T=2", 3, {S2(2, 10), S2(2, 10), S1(2)}, {G_WIDE, G_WIDE, G_LABEL}, 0, 1e-3, ref_dkd, 1},
    {"kl", "T=4", 2, {S2(2, 5), S2(2, 5)}, {G_WIDE, G_N}, 0, 1e-3, ref_kl, 2},
    {"mse", NULL, 2, {S4(2, 3, 2, 2), S4(2, 3, 2, 2)}, {G_N, G_N}, 0, 1e-3, ref_mse, 1},
    {"l1", NULL, 2, {S2(4, 5), S2(4, 5)}, {G_AWAY, G_SMALL}, 0, 1e-3, ref_l1, 1},
    {"smooth_l1", NULL, 2, {S2(4, 6), S2(4, 6)}, {G_WIDE, G_N}, 0, 1e-3, ref_smooth_l1, 2},
    {"smooth_l1", "beta=0.5", 2, {S3(2, 2, 5), S3(2, 2, 5)}, {G_N, G_N}, 0, 1e-3, ref_smooth_l1, 1},
    {"bce_with_logits", NULL, 2, {S2(3, 5), S2(3, 5)}, {G_WIDE, G_PROB}, 0, 1e-3, ref_bce, 1},
    {"cosine", NULL, 2, {S2(3, 6), S2(3, 6)}, {G_N, G_N}, 0, 1e-3, ref_cosine, 1},
    {"cosine", NULL, 2, {S4(2, 2, 2, 2), S4(2, 2, 2, 2)}, {G_N, G_N}, 0, 1e-3, ref_cosine, 2},
    /* ops2 branch: GAN losses, feature_align, ... */
    {"gan_g", NULL, 1, {S2(5, 1)}, {G_WIDE}, 0, 1e-3, ref_gan_g, 1},
    {"gan_g", "kind=bce", 1, {S1(6)}, {G_WIDE}, 0, 1e-3, ref_gan_g, 2},
    {"gan_d", NULL, 2, {S2(4, 1), S2(4, 1)}, {G_WIDE, G_WIDE}, 0, 1e-3, ref_gan_d, 1},
    {"gan_d", "kind=bce", 2, {S2(3, 2), S1(5)}, {G_WIDE, G_WIDE}, 0, 1e-3, ref_gan_d, 2},
    {"feature_align", NULL, 2, {S4(2, 3, 2, 3), S4(2, 4, 4, 6)}, {G_N, G_N}, 0, 2e-3, ref_feature_align, 1},
    {"feature_align", NULL, 2, {S4(1, 2, 3, 3), S4(1, 2, 3, 3)}, {G_N, G_N}, 0, 2e-3, ref_feature_align, 2},
    {"feature_align", "mode=nearest", 2, {S4(2, 2, 3, 4), S4(2, 3, 5, 2)}, {G_N, G_N}, 0, 2e-3, ref_feature_align, 2},
    {"feature_align", "mode=avg", 2, {S4(1, 2, 2, 2), S4(1, 1, 6, 4)}, {G_N, G_N}, 0, 2e-3, ref_feature_align, 1},
    {"feature_align", NULL, 2, {S4(1, 2, 3, 4), S4(1, 2, 4, 4)}, {G_N, G_N}, 0, 2e-3, ref_feature_align, 1},
    {"cost", "k=4 scale=0.5", 1, {S1(5)}, {G_WIDE}, 0, 1e-3, ref_cost, 1},
    {"cost", "k=1 scale=1", 1, {S1(2)}, {G_N}, 0, 1e-3, ref_cost, 2},
    {"choice", NULL, 4, {{{0}, 0}, S3(2, 3, 4), S3(2, 3, 4), S3(2, 3, 4)}, {G_TAU, G_N, G_N, G_N}, 1, 1e-3, ref_choice, 1},
    {"choice", NULL, 3, {{{0}, 0}, S2(3, 5), S2(3, 5)}, {G_TAU, G_N, G_N}, 0, 1e-3, ref_choice, 2},
    {"choice", NULL, 2, {{{0}, 0}, S2(2, 3)}, {G_TAU, G_N}, 1, 1e-3, ref_choice, 2},
    {"zero", NULL, 1, {S3(2, 3, 2)}, {G_N}, 0, 1e-3, ref_zero, 1},
    {"emd", "m=2", 4, {S2(3, 4), S2(3, 4), S2(3, 4), S2(3, 4)}, {G_N, G_N, G_N, G_N}, 0, 2e-3, ref_emd, 1},
    {"emd", "m=2 cost=l1", 5, {S2(2, 3), S2(2, 3), S2(2, 3), S2(2, 3), S2(2, 3)}, {G_AWAY, G_N, G_N, G_N, G_N}, 0, 2e-3, ref_emd, 2},
    {"emd", "m=3 cost=cosine T=10", 5, {S3(2, 2, 3), S3(2, 2, 3), S3(2, 2, 3), S3(2, 2, 3), S3(2, 2, 3)}, {G_N, G_N, G_N, G_N, G_N}, 0, 2e-3, ref_emd, 1},
    {"emd", "m=1", 3, {S2(2, 5), S2(2, 5), S2(2, 5)}, {G_N, G_N, G_N}, 0, 2e-3, ref_emd, 1},
    /* end of the ops2 cases */
    NET_OP_CASES
    ZOO_OP_CASES
    CRD_OP_CASES
    REVIEWKD_OP_CASES
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

/* one CUnit test per op: runs all of that op's cases */
static void run_op(const char *op)
{
    int found = 0;
    for (int i = 0; i < NCASES; i++)
        if (strcmp(cases[i].op, op) == 0) {
            check_case(&cases[i]);
            found++;
        }
    CU_ASSERT(found > 0);
}

#define OPTEST(name) static void test_##name(void) { run_op(#name); }
OPTEST(conv2d) OPTEST(linear) OPTEST(batchnorm2d) OPTEST(relu) OPTEST(leaky_relu)
OPTEST(sigmoid) OPTEST(tanh) OPTEST(scale) OPTEST(add) OPTEST(sub) OPTEST(mul)
OPTEST(flatten) OPTEST(dropout) OPTEST(mean) OPTEST(maxpool2d) OPTEST(avgpool2d)
OPTEST(softmax) OPTEST(log_softmax) OPTEST(concat) OPTEST(aggregate) OPTEST(ce)
OPTEST(kd) OPTEST(mse) OPTEST(l1) OPTEST(smooth_l1) OPTEST(bce_with_logits)
OPTEST(cosine) OPTEST(kl) OPTEST(relu6) OPTEST(attention) OPTEST(detach) OPTEST(dkd)
/* ops2 branch */
OPTEST(gan_g) OPTEST(gan_d) OPTEST(feature_align) OPTEST(cost)
OPTEST(choice) OPTEST(zero) OPTEST(emd)
static void test_net_ops(void)
{
    static const char *const ops[] = {NET_OPS};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) run_op(ops[i]);
    net_op_checks();
}
static void test_zoo_ops(void)
{
    static const char *const ops[] = {ZOO_OPS};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) run_op(ops[i]);
    zoo_op_checks();
}

static void test_crd(void) { run_op("crd"); crd_op_checks(); }
static void test_reviewkd(void) { run_op("abf"); run_op("hcl"); reviewkd_op_checks(); }

/* every registered op has cases, so a new op cannot slip in untested */
static void test_every_op_has_cases(void)
{
    for (int k = 0; k < kd_op_count(); k++) {
        const kd_op_def *d = kd_op_at(k);
        int found = 0;
        for (int i = 0; i < NCASES; i++) found += strcmp(cases[i].op, d->name) == 0;
        if (!found) fprintf(stderr, "\nop %s has no test case\n", d->name);
        CU_ASSERT(found > 0);
    }
}

/* ---- registry, attributes, infer messages --------------------------------- */
static void test_registry(void)
{
    CU_ASSERT(kd_op_count() >= 29);
    CU_ASSERT_PTR_EQUAL(kd_op_find("conv"), kd_op_find("conv2d"));
    CU_ASSERT_PTR_EQUAL(kd_op_find("bn"), kd_op_find("batchnorm2d"));
    CU_ASSERT_PTR_NULL(kd_op_find("no_such_op"));
    CU_ASSERT_PTR_NULL(kd_op_at(kd_op_count()));
    for (int i = 0; i < kd_op_count(); i++) {
        const kd_op_def *d = kd_op_at(i);
        CU_ASSERT_PTR_NOT_NULL(d->forward);
        CU_ASSERT_PTR_NOT_NULL(d->infer);
        CU_ASSERT(d->min_inputs >= 1 && d->min_inputs <= d->max_inputs);
        CU_ASSERT(d->max_inputs + d->nparams <= KD_MAXIN);
        CU_ASSERT(kd_attr_count(d) <= KD_MAXATTR);
        CU_ASSERT(d->npositional <= kd_attr_count(d));
        for (int j = i + 1; j < kd_op_count(); j++)
            CU_ASSERT(strcmp(d->name, kd_op_at(j)->name) != 0);
    }
}

static void test_attrs(void)
{
    const kd_op_def *d = kd_op_find("conv2d");
    kd_attr_val v[KD_MAXATTR];
    char err[256];
    kd_attrs_default(d, v);
    int k = kd_attr_index(d, "k"), s = kd_attr_index(d, "stride");
    CU_ASSERT(k >= 0 && s >= 0);
    CU_ASSERT_EQUAL(v[k].num, 3);
    CU_ASSERT(kd_attr_set_num(d, v, k, 2.5, err, sizeof err) == -1);
    KD_ASSERT_STR_EQ(err, "conv2d: k must be an integer, got 2.5");
    CU_ASSERT(kd_attr_set_num(d, v, s, 0, err, sizeof err) == -1);
    KD_ASSERT_STR_EQ(err, "conv2d: stride must be in [1, 64], got 0");
    CU_ASSERT(kd_attr_set_num(d, v, s, 2, err, sizeof err) == 0);
    CU_ASSERT_EQUAL(v[s].num, 2);
    int b = kd_attr_index(d, "bias");
    CU_ASSERT(kd_attr_set_num(d, v, b, 2, err, sizeof err) == -1);
    CU_ASSERT(kd_attr_index(d, "nope") == -1);
    CU_ASSERT(d->attrs[kd_attr_index(d, "c")].required == 1);
    CU_ASSERT(d->attrs[kd_attr_index(d, "groups")].required == 0);
    const kd_op_def *m = kd_op_find("mean");
    kd_attrs_default(m, v);
    int ax = kd_attr_index(m, "axes");
    CU_ASSERT(v[ax].nints == 0);                       /* none: over: hw */
    CU_ASSERT_EQUAL(v[kd_attr_index(m, "over")].num, 0);
    int64_t bad[] = {1, 9};
    CU_ASSERT(kd_attr_set_ints(m, v, ax, bad, 2, err, sizeof err) == -1);
    KD_ASSERT_STR_EQ(err, "mean: axes must be in [0, 5], got 9");
    CU_ASSERT(kd_attr_set_num(m, v, ax, 1, err, sizeof err) == 0 && v[ax].nints == 1);
    /* enums: an unknown name lists the allowed ones */
    const kd_op_def *sm = kd_op_find("softmax");
    int ti = kd_attr_index(sm, "T");
    CU_ASSERT(kd_attr_set_enum(sm, v, ti, "hot", err, sizeof err) == -1);
    KD_ASSERT_STR_EQ(err, "softmax: T takes a number, not a name");
}

static int try_infer(const char *op, const char *attrs, int ndata, const kd_shape *in,
                     char *err, size_t n, kd_op_ctx *c)
{
    const kd_op_def *d = kd_op_find(op);
    static kd_attr_val v[KD_MAXATTR];
    kd_op_info info;
    CU_ASSERT_FATAL(parse_attrs(d, v, attrs) == 0);
    memset(c, 0, sizeof *c);
    c->attr = v;
    c->nin = ndata + d->nparams;
    for (int i = 0; i < ndata; i++) c->in_shape[i] = in[i];
    err[0] = 0;
    return kd_op_infer(d, c, &info, err, n);
}

static void test_infer(void)
{
    char err[256], b[64];
    kd_op_ctx c;
    kd_shape x2 = S2(128, 64), x4 = S4(8, 16, 32, 32);
    CU_ASSERT(try_infer("conv2d", "c=32", 1, &x2, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "conv2d expects 4-D input [N, C, H, W], got [128, 64]");
    CU_ASSERT(try_infer("conv2d", "c=32 k=3 stride=2 pad=1 bias=1", 1, &x4, err, sizeof err, &c) == 0);
    KD_ASSERT_STR_EQ(kd_shape_str(&c.out_shape, b, sizeof b), "[8, 32, 16, 16]");
    KD_ASSERT_STR_EQ(kd_shape_str(&c.in_shape[1], b, sizeof b), "[32, 16, 3, 3]");
    KD_ASSERT_STR_EQ(kd_shape_str(&c.in_shape[2], b, sizeof b), "[32]");
    CU_ASSERT(try_infer("conv2d", "c=32 k=3", 1, &x4, err, sizeof err, &c) == 0);
    KD_ASSERT_STR_EQ(kd_shape_str(&c.out_shape, b, sizeof b), "[8, 32, 30, 30]");
    CU_ASSERT_EQUAL(c.in_shape[2].ndim, KD_ABSENT);
    CU_ASSERT(try_infer("conv2d", "c=32 k=5 pad=-1", 1, &x4, err, sizeof err, &c) == 0);
    KD_ASSERT_STR_EQ(kd_shape_str(&c.out_shape, b, sizeof b), "[8, 32, 32, 32]");
    CU_ASSERT(try_infer("conv2d", "c=30 groups=4", 1, &x4, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "conv2d: groups (4) must divide input channels (16) and output channels (30)");
    kd_shape tiny = S4(1, 1, 2, 2);
    CU_ASSERT(try_infer("conv2d", "c=1 k=5 pad=0", 1, &tiny, err, sizeof err, &c) == -1);
    kd_shape pair[2] = {S2(4, 10), S2(4, 9)};
    CU_ASSERT(try_infer("kd", NULL, 2, pair, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "kd expects inputs of the same shape, got [4, 10] and [4, 9]");
    kd_shape maps[2] = {S4(4, 16, 8, 8), S4(4, 32, 4, 4)};
    CU_ASSERT(try_infer("attention", NULL, 2, maps, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "attention expects the same batch and spatial size, got [4, 16, 8, 8] and "
                          "[4, 32, 4, 4] (channels may differ)");
    maps[1] = (kd_shape)S4(4, 32, 8, 8);
    CU_ASSERT(try_infer("attention", NULL, 2, maps, err, sizeof err, &c) == 0);
    kd_shape ce[2] = {S2(4, 10), S1(5)};
    CU_ASSERT(try_infer("ce", NULL, 2, ce, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "ce expects labels [N] for logits [4, 10], got [5]");
    CU_ASSERT(try_infer("ce", NULL, 1, ce, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "ce takes 2 inputs, got 1");
    CU_ASSERT(try_infer("linear", "n=10", 1, &x4, err, sizeof err, &c) == 0);
    KD_ASSERT_STR_EQ(kd_shape_str(&c.in_shape[1], b, sizeof b), "[10, 16384]");
    CU_ASSERT(try_infer("mean", NULL, 1, &x4, err, sizeof err, &c) == 0);
    KD_ASSERT_STR_EQ(kd_shape_str(&c.out_shape, b, sizeof b), "[8, 16]");
    CU_ASSERT(try_infer("mean", NULL, 1, &x2, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "mean over hw expects a 4-D input [N, C, H, W], got [128, 64]");
    CU_ASSERT(try_infer("mean", "axes=2", 1, &x2, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "mean: axis 2 out of range for input [128, 64]");
    CU_ASSERT(try_infer("mean", "axes=1,2,3", 1, &x4, err, sizeof err, &c) == 0);
    KD_ASSERT_STR_EQ(kd_shape_str(&c.out_shape, b, sizeof b), "[8]");
    CU_ASSERT(try_infer("maxpool2d", NULL, 1, &x4, err, sizeof err, &c) == 0);
    KD_ASSERT_STR_EQ(kd_shape_str(&c.out_shape, b, sizeof b), "[8, 16, 16, 16]");
    kd_shape seq = S3(8, 16, 21);
    CU_ASSERT(try_infer("maxpool2d", "k=3 stride=1 pad=1", 1, &seq, err, sizeof err, &c) == 0);
    KD_ASSERT_STR_EQ(kd_shape_str(&c.out_shape, b, sizeof b), "[8, 16, 21]");
    CU_ASSERT(try_infer("avgpool2d", "k=3 stride=2 pad=1", 1, &seq, err, sizeof err, &c) == 0);
    KD_ASSERT_STR_EQ(kd_shape_str(&c.out_shape, b, sizeof b), "[8, 16, 11]");
    CU_ASSERT(try_infer("avgpool2d", "k=4", 1, &seq, err, sizeof err, &c) == 0);
    KD_ASSERT_STR_EQ(kd_shape_str(&c.out_shape, b, sizeof b), "[8, 16, 5]");
    kd_shape shortseq = S3(2, 3, 2);
    CU_ASSERT(try_infer("maxpool2d", "k=3", 1, &shortseq, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "maxpool2d: window 3 does not fit sequence length 2");
    CU_ASSERT(try_infer("avgpool2d", NULL, 1, &x2, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "avgpool2d expects 3-D input [N, C, T] or 4-D input [N, C, H, W], got [128, 64]");
    kd_shape cat[2] = {S4(8, 16, 32, 32), S4(8, 4, 16, 32)};
    CU_ASSERT(try_infer("concat", NULL, 2, cat, err, sizeof err, &c) == -1);
}

/* ---- op-specific behaviour -------------------------------------------------- */
static void test_bn_running_stats(void)
{
    static const tcase tc = {"batchnorm2d", "momentum=0.25", 1, {S4(3, 2, 4, 3)}, {G_N}, 1, 0, NULL, 1};
    inst t;
    rng_seed(99);
    if (inst_make(&t, &tc)) return;
    int64_t N = 3, C = 2, S = 12, M = N * S;
    t.c.state[0][0] = 0.5f;
    t.c.state[1][0] = 2.0f;
    t.d->forward(&t.c);
    for (int64_t c = 0; c < C; c++) {
        double mu = 0, var = 0;
        for (int64_t n = 0; n < N; n++)
            for (int64_t s = 0; s < S; s++) mu += t.buf[0][(n * C + c) * S + s];
        mu /= (double)M;
        for (int64_t n = 0; n < N; n++)
            for (int64_t s = 0; s < S; s++) var += pow(t.buf[0][(n * C + c) * S + s] - mu, 2);
        double rm0 = c == 0 ? 0.5 : 0.0, rv0 = c == 0 ? 2.0 : 1.0;
        CU_ASSERT_DOUBLE_EQUAL(t.c.state[0][c], 0.75 * rm0 + 0.25 * mu, 1e-6);
        CU_ASSERT_DOUBLE_EQUAL(t.c.state[1][c], 0.75 * rv0 + 0.25 * var / (double)(M - 1), 1e-5);
    }
    /* eval mode leaves the running statistics alone and uses them */
    float rm = t.c.state[0][1], rv = t.c.state[1][1];
    t.c.training = 0;
    t.d->forward(&t.c);
    CU_ASSERT_EQUAL(t.c.state[0][1], rm);
    CU_ASSERT_EQUAL(t.c.state[1][1], rv);
    double want = t.buf[1][1] * (t.buf[0][S] - rm) / sqrt(rv + 1e-5) + t.buf[2][1];
    CU_ASSERT_DOUBLE_EQUAL(t.c.out[S], want, 1e-5);
    inst_free(&t);
}

/* Synchronized batch norm (kd_op_ctx.allsum), as data-parallel training on
 * two ranks uses it: two threads play the ranks, each with its own rows
 * (X and Y) and its own dy, and allsum exchanges their sums through a
 * barrier.  Forward, the running statistics and dx must equal one process's
 * over the batch [X; Y]; each rank's dgamma and dbeta are its share (they
 * add up to the whole batch's). */
static pthread_barrier_t sync_bar;
static double *sync_slot[2];
static __thread int sync_rank;

static int allsum_two_threads(double *x, int64_t n)
{
    sync_slot[sync_rank] = x;
    pthread_barrier_wait(&sync_bar);
    double *mine = malloc(sizeof(double) * (size_t)n);
    for (int64_t i = 0; i < n; i++) mine[i] = sync_slot[0][i] + sync_slot[1][i];
    pthread_barrier_wait(&sync_bar);      /* both have read both */
    memcpy(x, mine, sizeof(double) * (size_t)n);
    free(mine);
    return 0;
}

typedef struct sync_rank_arg { inst *t; int rank; } sync_rank_arg;

static void *sync_rank_run(void *p)
{
    sync_rank_arg *a = p;
    sync_rank = a->rank;
    a->t->d->forward(&a->t->c);
    a->t->d->backward(&a->t->c);
    return NULL;
}

static void test_bn_sync(void)
{
    static const tcase half = {"batchnorm2d", "momentum=0.25", 1, {S4(3, 2, 4, 3)}, {G_N}, 1, 0, NULL, 1};
    static const tcase whole = {"batchnorm2d", "momentum=0.25", 1, {S4(6, 2, 4, 3)}, {G_N}, 1, 0, NULL, 1};
    inst r[2], b;
    rng_seed(17);
    if (inst_make(&r[0], &half)) return;
    if (inst_make(&r[1], &half)) { inst_free(&r[0]); return; }
    if (inst_make(&b, &whole)) { inst_free(&r[0]); inst_free(&r[1]); return; }
    int64_t n = r[0].n[0], C = 2;
    for (int64_t i = 0; i < n; i++) r[1].buf[0][i] = 0.5f * r[1].buf[0][i] + 1.0f;  /* other statistics */
    for (int k = 0; k < 2; k++) memcpy(b.buf[0] + k * n, r[k].buf[0], sizeof(float) * (size_t)n);
    for (int i = 1; i <= 2; i++) {
        memcpy(r[1].buf[i], r[0].buf[i], sizeof(float) * (size_t)C);
        memcpy(b.buf[i], r[0].buf[i], sizeof(float) * (size_t)C);
    }
    float *gy = malloc(sizeof(float) * (size_t)(2 * n)), *dx = calloc((size_t)(4 * n), sizeof(float));
    float dg[3][2] = {{0}}, db[3][2] = {{0}};
    for (int64_t i = 0; i < 2 * n; i++) gy[i] = (float)nrand();
    for (int k = 0; k < 2; k++) {
        r[k].c.allsum = allsum_two_threads;
        r[k].c.grad_out = gy + k * n;
        r[k].c.grad_in[0] = dx + k * n, r[k].c.grad_in[1] = dg[k], r[k].c.grad_in[2] = db[k];
    }
    b.c.grad_out = gy;
    b.c.grad_in[0] = dx + 2 * n, b.c.grad_in[1] = dg[2], b.c.grad_in[2] = db[2];
    pthread_barrier_init(&sync_bar, NULL, 2);
    pthread_t th[2];
    sync_rank_arg args[2] = {{&r[0], 0}, {&r[1], 1}};
    for (int k = 0; k < 2; k++) pthread_create(&th[k], NULL, sync_rank_run, &args[k]);
    for (int k = 0; k < 2; k++) pthread_join(th[k], NULL);
    pthread_barrier_destroy(&sync_bar);
    b.d->forward(&b.c);
    b.d->backward(&b.c);
    double wo = 0, wd = 0;
    for (int k = 0; k < 2; k++)
        for (int64_t i = 0; i < n; i++) {
            wo = fmax(wo, fabs(r[k].c.out[i] - b.c.out[k * n + i]));
            wd = fmax(wd, fabs(dx[k * n + i] - dx[2 * n + k * n + i]));
        }
    CU_ASSERT(wo < 1e-5);
    CU_ASSERT(wd < 1e-5);
    for (int s = 0; s < 2; s++)
        for (int64_t c = 0; c < C; c++) {
            CU_ASSERT_DOUBLE_EQUAL(r[0].c.state[s][c], b.c.state[s][c], 1e-5);
            CU_ASSERT_DOUBLE_EQUAL(r[1].c.state[s][c], b.c.state[s][c], 1e-5);
        }
    for (int64_t c = 0; c < C; c++) {
        CU_ASSERT_DOUBLE_EQUAL(dg[0][c] + dg[1][c], dg[2][c], 1e-4);
        CU_ASSERT_DOUBLE_EQUAL(db[0][c] + db[1][c], db[2][c], 1e-4);
    }
    /* without the exchange, rank 1 normalizes with its own statistics: the
     * comparison above can tell the two apart */
    r[1].c.allsum = NULL;
    r[1].d->forward(&r[1].c);
    double far = 0;
    for (int64_t i = 0; i < n; i++) far = fmax(far, fabs(r[1].c.out[i] - b.c.out[n + i]));
    CU_ASSERT(far > 1e-2);
    for (int k = 0; k < 3; k++) {
        inst *t = k < 2 ? &r[k] : &b;
        t->c.grad_out = NULL;
        for (int i = 0; i < 3; i++) t->c.grad_in[i] = NULL;
    }
    free(gy);
    free(dx);
    inst_free(&r[0]);
    inst_free(&r[1]);
    inst_free(&b);
}

/* maxpool2d's 2x2 / stride 2 path picks as the general one: the first
 * maximal element in row-major order, a NaN over any number; the odd last
 * row and column are left out (floor) */
static void test_maxpool_ties(void)
{
    static const tcase tc = {"maxpool2d", "k=2", 1, {S4(1, 1, 5, 5)}, {G_N}, 0, 0, NULL, 1};
    inst t;
    if (inst_make(&t, &tc)) return;
    const float nan = NAN;
    const float x[25] = { 1, 1, 5, nan, 9,
                          1, 0, nan, 5, 9,
                          2, 3, -1, -1, 9,
                          3, 0, -1, -2, 9,
                          9, 9, 9, 9, 9 };
    memcpy(t.buf[0], x, sizeof x);
    t.d->forward(&t.c);
    CU_ASSERT(t.c.out[0] == 1.0f);
    CU_ASSERT(isnan(t.c.out[1]));
    CU_ASSERT(t.c.out[2] == 3.0f);
    CU_ASSERT(t.c.out[3] == -1.0f);
    const float gy[4] = { 1, 2, 3, 4 };
    float dx[25] = { 0 };
    t.c.grad_out = gy;
    t.c.grad_in[0] = dx;
    t.d->backward(&t.c);
    for (int i = 0; i < 25; i++) {
        float want = i == 0 ? 1 : i == 3 ? 2 : i == 11 ? 3 : i == 12 ? 4 : 0;
        CU_ASSERT(dx[i] == want);
    }
    t.c.grad_in[0] = NULL;
    inst_free(&t);
}

/* maxpool2d's AVX-512 2x2 path gives the scalar path's bits: the same
 * values and the same picks (ties, NaNs, -0 against 0) on widths of one
 * partial vector, exactly one, and more, odd heights and widths; the
 * backward adds into a gradient that is not zero.  KD_SG_C is the scalar
 * path (the AVX-512 one needs the CPU; without it both runs are scalar). */
static void test_maxpool_simd(void)
{
    static const tcase tcs[] = {
        {"maxpool2d", "k=2", 1, {S4(2, 3, 28, 28)}, {G_N}, 0, 0, NULL, 2},
        {"maxpool2d", "k=2", 1, {S4(1, 2, 7, 7)}, {G_N}, 0, 0, NULL, 1},
        {"maxpool2d", "k=2", 1, {S4(1, 2, 5, 32)}, {G_N}, 0, 0, NULL, 1},
        {"maxpool2d", "k=2", 1, {S4(1, 1, 4, 70)}, {G_N}, 0, 0, NULL, 1},
        {"maxpool2d", "k=2 stride=2", 1, {S4(3, 1, 3, 3)}, {G_N}, 0, 0, NULL, 2},
    };
    int old = kd_sgemm_small_path();
    for (size_t k = 0; k < sizeof tcs / sizeof tcs[0]; k++) {
        inst t;
        if (inst_make(&t, &tcs[k])) continue;
        int64_t n = t.n[0], no = kd_shape_numel(&t.c.out_shape);
        for (int64_t i = 0; i < n; i++) {   /* few distinct values: many ties */
            double u = urand();
            t.buf[0][i] = u < 0.02 ? NAN : u < 0.04 ? -0.0f : (float)(int)(4 * urand()) - 2;
        }
        float *y[2], *dx[2], *gy = malloc(sizeof(float) * (size_t)no);
        for (int64_t i = 0; i < no; i++) gy[i] = (float)nrand();
        for (int r = 0; r < 2; r++) {
            kd_sgemm_small_set_path(r ? KD_SG_AVX512 : KD_SG_C);
            y[r] = r ? malloc(sizeof(float) * (size_t)no) : t.c.out;
            dx[r] = malloc(sizeof(float) * (size_t)n);
            for (int64_t i = 0; i < n; i++) dx[r][i] = 0.25f * (float)(i % 7);
            t.c.out = y[r];
            t.d->forward(&t.c);
            t.c.grad_out = gy;
            t.c.grad_in[0] = dx[r];
            t.d->backward(&t.c);
        }
        CU_ASSERT(memcmp(y[0], y[1], sizeof(float) * (size_t)no) == 0);
        CU_ASSERT(memcmp(dx[0], dx[1], sizeof(float) * (size_t)n) == 0);
        /* and the scalar path against the rule itself, on the first plane */
        const kd_shape *x = &t.c.in_shape[0];
        int64_t W = x->dims[3], Wo = W / 2, Ho = x->dims[2] / 2;
        for (int64_t oh = 0; oh < Ho; oh++)
            for (int64_t ow = 0; ow < Wo; ow++) {
                int64_t best = 2 * oh * W + 2 * ow, at[3] = { best + 1, best + W, best + W + 1 };
                for (int q = 0; q < 3; q++) {
                    float v = t.buf[0][at[q]], b = t.buf[0][best];
                    if (v > b || (isnan(v) && !isnan(b))) best = at[q];
                }
                CU_ASSERT(memcmp(&y[1][oh * Wo + ow], &t.buf[0][best], sizeof(float)) == 0);
                CU_ASSERT(dx[1][best] == 0.25f * (float)(best % 7) + gy[oh * Wo + ow]);
            }
        t.c.out = y[0];   /* inst_make's buffer, which inst_free frees */
        free(y[1]);
        free(dx[0]);
        free(dx[1]);
        free(gy);
        t.c.grad_out = NULL;
        t.c.grad_in[0] = NULL;
        inst_free(&t);
    }
    kd_sgemm_small_set_path(old);
}

static void test_dropout_mask(void)
{
    static const tcase tc = {"dropout", "p=0.25", 1, {S2(64, 64)}, {G_AWAY}, 1, 0, NULL, 2};
    inst t;
    rng_seed(5);
    if (inst_make(&t, &tc)) return;
    int64_t n = t.n[0], kept = 0;
    t.d->forward(&t.c);
    float *first = malloc(sizeof(float) * (size_t)n);
    memcpy(first, t.c.out, sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) {
        if (t.c.out[i] != 0) {
            kept++;
            CU_ASSERT(t.c.out[i] == t.buf[0][i] * (1.0f / 0.75f));
        }
    }
    CU_ASSERT(fabs((double)kept / (double)n - 0.75) < 0.03);
    /* same key -> same mask, for any thread count */
    t.c.nthreads = 1;
    t.d->forward(&t.c);
    CU_ASSERT(memcmp(first, t.c.out, sizeof(float) * (size_t)n) == 0);
    /* another step -> another mask */
    t.c.step++;
    t.d->forward(&t.c);
    CU_ASSERT(memcmp(first, t.c.out, sizeof(float) * (size_t)n) != 0);
    /* eval: identity */
    t.c.training = 0;
    t.d->forward(&t.c);
    CU_ASSERT(memcmp(t.buf[0], t.c.out, sizeof(float) * (size_t)n) == 0);
    free(first);
    inst_free(&t);
}

static void test_ce_bad_label(void)
{
    static const tcase tc = {"ce", NULL, 2, {S2(2, 3), S1(2)}, {G_N, G_LABEL}, 0, 0, NULL, 1};
    inst t;
    rng_seed(3);
    if (inst_make(&t, &tc)) return;
    t.buf[1][1] = 3; /* out of range for K = 3 */
    t.d->forward(&t.c);
    CU_ASSERT(isnan(t.c.out[0]));
    inst_free(&t);
}

static void test_dkd_bad_label(void)
{
    static const tcase tc = {"dkd", NULL, 3, {S2(2, 3), S2(2, 3), S1(2)}, {G_N, G_N, G_LABEL},
                             0, 0, NULL, 1};
    inst t;
    rng_seed(5);
    if (inst_make(&t, &tc)) return;
    t.buf[2][0] = 1.5f; /* not an integer */
    t.d->forward(&t.c);
    CU_ASSERT(isnan(t.c.out[0]));
    inst_free(&t);
}

/* Hinton's KD is TCKD + (1 - q_y) NCKD (the paper's decomposition, with
 * q_y the teacher's probability of the label): one row, beta = 1 - q_y,
 * alpha = 1 gives kd's value */
/* a teacher whose target logit is thousands above the others: the
 * non-target distribution is still defined (its own log-sum-exp), so the
 * loss and the gradient stay finite and match the reference */
static void test_dkd_confident_teacher(void)
{
    static const tcase tc = {"dkd", "T=4", 3, {S2(2, 4), S2(2, 4), S1(2)}, {G_N, G_N, G_LABEL},
                             0, 0, ref_dkd, 1};
    inst t;
    rng_seed(9);
    if (inst_make(&t, &tc)) return;
    for (int n = 0; n < 2; n++) t.buf[1][n * 4 + (int)t.buf[2][n]] = 4000.0f;
    t.d->forward(&t.c);
    CU_ASSERT(isfinite(t.c.out[0]));
    float g[8] = {0}, one = 1;
    t.c.grad_out = &one;
    t.c.grad_in[0] = g;
    t.d->backward(&t.c);
    for (int i = 0; i < 8; i++) CU_ASSERT(isfinite(g[i]));
    inst_free(&t);
}

static void test_dkd_decomposes_kd(void)
{
    static const tcase td = {"dkd", "T=3", 3, {S2(1, 6), S2(1, 6), S1(1)},
                             {G_WIDE, G_WIDE, G_LABEL}, 0, 0, NULL, 1};
    static const tcase tk = {"kd", "T=3", 2, {S2(1, 6), S2(1, 6)}, {G_N, G_N}, 0, 0, NULL, 1};
    inst a, b;
    rng_seed(6);
    if (inst_make(&a, &td)) return;
    if (inst_make(&b, &tk)) { inst_free(&a); return; }
    memcpy(b.buf[0], a.buf[0], sizeof(float) * 6);
    memcpy(b.buf[1], a.buf[1], sizeof(float) * 6);
    int y = (int)a.buf[2][0];
    double z = 0;
    for (int k = 0; k < 6; k++) z += exp(a.buf[1][k] / 3.0);
    a.attr[kd_attr_index(a.d, "beta")].num = 1 - exp(a.buf[1][y] / 3.0) / z;
    a.d->forward(&a.c);
    b.d->forward(&b.c);
    CU_ASSERT(b.c.out[0] > 0);
    CU_ASSERT_DOUBLE_EQUAL(a.c.out[0], b.c.out[0], 1e-5 * (1 + fabs(b.c.out[0])));
    inst_free(&a);
    inst_free(&b);
}

static void test_kd_zero_when_equal(void)
{
    static const tcase tc = {"kd", "T=4", 2, {S2(3, 5), S2(3, 5)}, {G_N, G_N}, 0, 0, NULL, 1};
    inst t;
    rng_seed(4);
    if (inst_make(&t, &tc)) return;
    memcpy(t.buf[1], t.buf[0], sizeof(float) * 15);
    t.d->forward(&t.c);
    CU_ASSERT_DOUBLE_EQUAL(t.c.out[0], 0.0, 1e-6);
    inst_free(&t);
}

/* these ops give the same bits for 1 and 2 threads (conv2d's forward:
 * one sgemm call per image whatever the thread count) */
static void test_thread_determinism(void)
{
    static const tcase tcs[] = {
        {"batchnorm2d", NULL, 1, {S4(8, 8, 16, 16)}, {G_N}, 1, 0, NULL, 1},
        {"conv2d", "c=8 k=3 groups=8", 1, {S4(4, 8, 16, 16)}, {G_N}, 0, 0, NULL, 1},
        {"mse", NULL, 2, {S2(64, 1000), S2(64, 1000)}, {G_N, G_N}, 0, 0, NULL, 1},
        {"softmax", NULL, 1, {S2(256, 100)}, {G_N}, 0, 0, NULL, 1},
        {"conv2d", "c=16 k=3", 1, {S4(5, 8, 16, 16)}, {G_N}, 0, 0, NULL, 2},
    };
    for (size_t k = 0; k < sizeof tcs / sizeof tcs[0]; k++) {
        inst t;
        rng_seed(11 + k);
        if (inst_make(&t, &tcs[k])) return;
        int64_t n = out_n(&t);
        float *a = malloc(sizeof(float) * (size_t)n);
        t.d->forward(&t.c);
        memcpy(a, t.c.out, sizeof(float) * (size_t)n);
        t.c.nthreads = k == 4 ? 1 : 2; /* the last one starts with 2 */
        t.d->forward(&t.c);
        CU_ASSERT(memcmp(a, t.c.out, sizeof(float) * (size_t)n) == 0);
        free(a);
        inst_free(&t);
    }
}

/* conv2d cuts the batch across threads: the forward pass gives the same
 * bits for 1, 2 and 3 threads (each image is one sgemm call either way);
 * dX too; dW (summed over images in per-thread partials) agrees within
 * rounding.  A workspace too small for nthreads runs fewer threads and
 * gives the one-thread bits. */
static void conv_fwd_bwd(inst *t, const float *gy, float *dx, float *dw, int64_t nx, int64_t nw)
{
    memset(dx, 0, sizeof(float) * (size_t)nx);
    memset(dw, 0, sizeof(float) * (size_t)nw);
    t->d->forward(&t->c);
    t->c.grad_out = gy;
    t->c.grad_in[0] = dx;
    t->c.grad_in[1] = dw;
    t->d->backward(&t->c);
}

static void conv_threads_case(const tcase *tcp)
{
    const tcase tc = *tcp;
    inst t;
    rng_seed(21);
    if (inst_make(&t, &tc)) return;
    int64_t n = out_n(&t), nx = t.n[0], nw = t.n[1];
    double *y = malloc(sizeof(double) * (size_t)n);
    ref_conv2d(&t, y);
    float *gy = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) gy[i] = (float)nrand();
    float *out1 = malloc(sizeof(float) * (size_t)n), *dx1 = malloc(sizeof(float) * (size_t)nx),
          *dw1 = malloc(sizeof(float) * (size_t)nw), *dx = malloc(sizeof(float) * (size_t)nx),
          *dw = malloc(sizeof(float) * (size_t)nw);
    size_t full = t.c.work_size;
    t.c.nthreads = 1;
    t.c.work_size = t.d->workspace(&t.c);
    CU_ASSERT(t.c.work_size < full);
    conv_fwd_bwd(&t, gy, dx1, dw1, nx, nw);
    memcpy(out1, t.c.out, sizeof(float) * (size_t)n);
    double worst = 0;
    for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs(t.c.out[i] - y[i]));
    CU_ASSERT(worst < 1e-4);
    for (int nt = 2; nt <= 3; nt++) {
        t.c.nthreads = nt;
        t.c.work_size = t.d->workspace(&t.c);
        CU_ASSERT(t.c.work_size <= full);
        conv_fwd_bwd(&t, gy, dx, dw, nx, nw);
        CU_ASSERT(memcmp(out1, t.c.out, sizeof(float) * (size_t)n) == 0);
        CU_ASSERT(memcmp(dx1, dx, sizeof(float) * (size_t)nx) == 0);
        double e = 0;
        for (int64_t i = 0; i < nw; i++) e = fmax(e, fabs(dw[i] - dw1[i]) / (1 + fabs(dw1[i])));
        CU_ASSERT(e < 1e-5);
        /* the same thread count again: the same bits */
        float *dw2 = malloc(sizeof(float) * (size_t)nw);
        memcpy(dw2, dw, sizeof(float) * (size_t)nw);
        conv_fwd_bwd(&t, gy, dx, dw, nx, nw);
        CU_ASSERT(memcmp(dw2, dw, sizeof(float) * (size_t)nw) == 0);
        free(dw2);
    }
    /* room for one thread only: the one-thread bits */
    t.c.nthreads = 3;
    t.c.work_size = full / 3;
    conv_fwd_bwd(&t, gy, dx, dw, nx, nw);
    CU_ASSERT(memcmp(dw1, dw, sizeof(float) * (size_t)nw) == 0);
    CU_ASSERT(memcmp(dx1, dx, sizeof(float) * (size_t)nx) == 0);
    t.c.work_size = full;
    t.c.grad_out = NULL;
    t.c.grad_in[0] = t.c.grad_in[1] = NULL;
    free(y), free(gy), free(out1), free(dx1), free(dw1), free(dx), free(dw);
    inst_free(&t);
}

static void test_conv_threads(void)
{
    static const tcase tcs[] = {
        {"conv2d", "c=6 k=3 stride=2 pad=1", 1, {S4(5, 3, 9, 9)}, {G_N}, 0, 0, ref_conv2d, 3},
        /* "same" stride 1: implicit im2col (forward and dX) on AVX-512 */
        {"conv2d", "c=7 k=3 pad=1", 1, {S4(5, 3, 9, 9)}, {G_N}, 0, 0, ref_conv2d, 3},
        /* Ho*Wo = 256: dW partials from kd_sgemm_small_nt */
        {"conv2d", "c=5 k=3 pad=1", 1, {S4(4, 3, 16, 16)}, {G_N}, 0, 0, ref_conv2d, 3},
    };
    for (size_t k = 0; k < sizeof tcs / sizeof tcs[0]; k++) conv_threads_case(&tcs[k]);
}

/* ops2 branch: emd with unequal layer weights (against a 4 x 4 assignment
 * of mass-1/4 copies: teacher 1 x3, teacher 2 x1, each student x2), the
 * plan's marginals, and the cost-attention update in training mode only */
static void test_emd_weights(void)
{
    static const tcase tc = {"emd", "m=2 T=2", 4, {S2(2, 3), S2(2, 3), S2(2, 3), S2(2, 3)},
                             {G_N, G_N, G_N, G_N}, 0, 0, NULL, 1};
    inst t;
    rng_seed(77);
    if (inst_make(&t, &tc)) return;
    t.c.state[0][0] = 0.75f;
    t.c.state[0][1] = 0.25f;
    t.d->forward(&t.c);
    double Dm[4], best = INFINITY;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) Dm[i * 2 + j] = ref_emd_dist(&t, 0, t.buf[2 + j], t.buf[i]);
    const int trow[4] = {0, 0, 0, 1}, scol[4] = {0, 0, 1, 1};
    int p[4] = {0, 1, 2, 3};
    for (int a = 0; a < 4; a++)            /* all 24 permutations */
        for (int b = 0; b < 4; b++)
            for (int c = 0; c < 4; c++)
                for (int d = 0; d < 4; d++) {
                    if (a == b || a == c || a == d || b == c || b == d || c == d) continue;
                    p[0] = a; p[1] = b; p[2] = c; p[3] = d;
                    double v = 0;
                    for (int k = 0; k < 4; k++) v += Dm[trow[k] * 2 + scol[p[k]]] / 4;
                    best = fmin(best, v);
                }
    CU_ASSERT_DOUBLE_EQUAL(t.c.out[0], best, 1e-5);
    const float *F = t.c.saved;
    CU_ASSERT_DOUBLE_EQUAL(F[0] + F[1], 0.75, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(F[2] + F[3], 0.25, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(F[0] + F[2], 0.5, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(F[1] + F[3], 0.5, 1e-6);
    /* eval leaves the weights alone; training applies the cost attention */
    CU_ASSERT_EQUAL(t.c.state[0][0], 0.75f);
    t.c.training = 1;
    t.d->forward(&t.c);
    double ca[2] = {(F[0] * Dm[0] + F[1] * Dm[1]) / 0.75, (F[2] * Dm[2] + F[3] * Dm[3]) / 0.25};
    double za = exp((ca[0] + ca[1]) / ca[0] / 2), zb = exp((ca[0] + ca[1]) / ca[1] / 2);
    CU_ASSERT_DOUBLE_EQUAL(t.c.state[0][0], za / (za + zb), 1e-5);
    CU_ASSERT_DOUBLE_EQUAL(t.c.state[0][0] + t.c.state[0][1], 1.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(t.c.state[1][0] + t.c.state[1][1], 1.0, 1e-6);
    inst_free(&t);
}

/* ops2 branch: the new ops give the same bits for 1 and 2 threads, forward
 * and backward, on inputs large enough to take the parallel paths */
static void test_ops2_threads(void)
{
    static const tcase tcs[] = {
        {"gan_d", "kind=bce", 2, {S2(9000, 1), S2(5000, 1)}, {G_WIDE, G_WIDE}, 0, 0, NULL, 1},
        {"feature_align", NULL, 2, {S4(2, 8, 16, 16), S4(2, 4, 32, 32)}, {G_N, G_N}, 0, 0, NULL, 1},
        {"feature_align", "mode=nearest", 2, {S4(2, 8, 16, 16), S4(2, 4, 10, 24)}, {G_N, G_N}, 0, 0, NULL, 1},
        {"choice", NULL, 3, {{{0}, 0}, S2(64, 200), S2(64, 200)}, {G_TAU, G_N, G_N}, 1, 0, NULL, 1},
        {"emd", "m=2", 4, {S2(64, 100), S2(64, 100), S2(64, 100), S2(64, 100)}, {G_N, G_N, G_N, G_N}, 0, 0, NULL, 1},
        {"emd", "m=1 cost=cosine", 3, {S2(64, 100), S2(64, 100), S2(64, 100)}, {G_N, G_N, G_N}, 0, 0, NULL, 1},
        /* pooling on sequences (pool1d branch) */
        {"maxpool2d", "k=3 stride=1 pad=1", 1, {S3(16, 32, 41)}, {G_N}, 0, 0, NULL, 1},
        {"avgpool2d", "k=3 stride=2 pad=1", 1, {S3(16, 32, 41)}, {G_N}, 0, 0, NULL, 1},
    };
    for (size_t k = 0; k < sizeof tcs / sizeof tcs[0]; k++) {
        inst t;
        rng_seed(31 + k);
        if (inst_make(&t, &tcs[k])) return;
        int64_t n = out_n(&t);
        float *g = malloc(sizeof(float) * (size_t)n), *out[2], *grads[2][KD_MAXIN];
        for (int64_t i = 0; i < n; i++) g[i] = (float)nrand();
        for (int th = 0; th < 2; th++) {
            t.c.nthreads = th + 1;
            t.d->forward(&t.c);
            out[th] = malloc(sizeof(float) * (size_t)n);
            memcpy(out[th], t.c.out, sizeof(float) * (size_t)n);
            t.c.grad_out = g;
            for (int i = 0; i < t.c.nin; i++) {
                grads[th][i] = wants_grad(&t, i) ? calloc((size_t)t.n[i], sizeof(float)) : NULL;
                t.c.grad_in[i] = grads[th][i];
            }
            t.d->backward(&t.c);
        }
        CU_ASSERT(memcmp(out[0], out[1], sizeof(float) * (size_t)n) == 0);
        for (int i = 0; i < t.c.nin; i++) {
            if (grads[0][i])
                CU_ASSERT(memcmp(grads[0][i], grads[1][i], sizeof(float) * (size_t)t.n[i]) == 0);
            free(grads[0][i]);
            free(grads[1][i]);
            t.c.grad_in[i] = NULL;
        }
        free(out[0]);
        free(out[1]);
        free(g);
        inst_free(&t);
    }
}

/* ops2 branch: bad shapes give clear messages from infer */
static void test_ops2_infer(void)
{
    char err[256];
    kd_op_ctx c;
    kd_shape fa1[2] = {S2(4, 8), S4(4, 4, 8, 8)}, fa2[2] = {S4(4, 8, 4, 4), S4(2, 4, 8, 8)};
    kd_shape fa3[2] = {S4(1, 8, 3, 3), S4(1, 4, 8, 8)};
    CU_ASSERT(try_infer("feature_align", NULL, 2, fa1, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "feature_align expects 4-D input x [N, C, H, W], got [4, 8]");
    CU_ASSERT(try_infer("feature_align", NULL, 2, fa2, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "feature_align: x [4, 8, 4, 4] and the noisy input [2, 4, 8, 8] have different batch sizes");
    CU_ASSERT(try_infer("feature_align", "mode=avg", 2, fa3, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "feature_align: average pooling the noisy input [1, 4, 8, 8] to the size of x "
                          "[1, 8, 3, 3] needs whole factors (mode auto or nearest resizes any sizes)");
    CU_ASSERT(try_infer("feature_align", NULL, 2, fa3, err, sizeof err, &c) == 0);   /* auto: nearest */
    kd_shape sc = {{0}, 0};
    CU_ASSERT(try_infer("gan_g", NULL, 1, &sc, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "gan_g expects discriminator outputs on fakes [N, ...], got []");
    kd_shape tab = S1(4);
    CU_ASSERT(try_infer("cost", "k=4", 1, &tab, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "cost expects a cost table [5] (1 + 4 candidates), got [4]");
    kd_shape ch[3] = {{{0}, 0}, S2(2, 3), S2(2, 4)};
    CU_ASSERT(try_infer("choice", NULL, 3, ch, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "choice expects candidates of the same shape, got [2, 3] (candidate 1) and [2, 4] (candidate 2)");
    kd_shape em[3] = {S2(2, 3), S2(2, 3), S2(2, 5)};
    CU_ASSERT(try_infer("emd", "m=1", 3, em, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "emd expects layers of one shape (adapt them first), got [2, 3] (teacher 1) and [2, 5] (student 2)");
    CU_ASSERT(try_infer("emd", "m=3", 3, em, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "emd: m = 3 teacher layers leaves no student layer among 3 inputs");
}

int main(void)
{
    openblas_set_num_threads(1);   /* as the executor does: ops thread themselves */
    static const kd_unit_test op_tests[] = {
        KD_TEST(test_conv2d), KD_TEST(test_linear), KD_TEST(test_batchnorm2d),
        KD_TEST(test_relu), KD_TEST(test_leaky_relu), KD_TEST(test_sigmoid),
        KD_TEST(test_tanh), KD_TEST(test_scale), KD_TEST(test_add), KD_TEST(test_sub),
        KD_TEST(test_mul), KD_TEST(test_flatten), KD_TEST(test_dropout), KD_TEST(test_mean),
        KD_TEST(test_maxpool2d), KD_TEST(test_avgpool2d), KD_TEST(test_softmax),
        KD_TEST(test_log_softmax), KD_TEST(test_concat), KD_TEST(test_aggregate),
        KD_TEST(test_ce), KD_TEST(test_kd), KD_TEST(test_mse), KD_TEST(test_l1),
        KD_TEST(test_smooth_l1), KD_TEST(test_bce_with_logits), KD_TEST(test_cosine),
        KD_TEST(test_kl), KD_TEST(test_dkd), KD_TEST(test_relu6), KD_TEST(test_attention), KD_TEST(test_detach), KD_TEST(test_net_ops), KD_TEST(test_zoo_ops),
        KD_TEST(test_crd), KD_TEST(test_crd_training), KD_TEST(test_reviewkd),
        KD_TEST_END};
    static const kd_unit_test misc_tests[] = {
        KD_TEST(test_every_op_has_cases), KD_TEST(test_registry), KD_TEST(test_attrs),
        KD_TEST(test_infer), KD_TEST(test_bn_running_stats), KD_TEST(test_bn_sync), KD_TEST(test_dropout_mask), KD_TEST(test_maxpool_ties), KD_TEST(test_maxpool_simd),
        KD_TEST(test_ce_bad_label), KD_TEST(test_kd_zero_when_equal),
        KD_TEST(test_dkd_bad_label), KD_TEST(test_dkd_decomposes_kd), KD_TEST(test_dkd_confident_teacher),
        KD_TEST(test_thread_determinism), KD_TEST(test_conv_threads), KD_TEST_END};
    static const kd_unit_test ops2_tests[] = {   /* ops2 branch */
        KD_TEST(test_gan_g), KD_TEST(test_gan_d), KD_TEST(test_feature_align), KD_TEST(test_cost),
        KD_TEST(test_choice), KD_TEST(test_zero), KD_TEST(test_emd), KD_TEST(test_emd_weights),
        KD_TEST(test_ops2_threads), KD_TEST(test_ops2_infer),
        KD_TEST_END};
    if (kd_unit_init() != 0) return 2;
    if (kd_unit_suite("ops", op_tests) || kd_unit_suite("ops_misc", misc_tests) ||
        kd_unit_suite("ops2", ops2_tests)) {
        CU_cleanup_registry();
        return 2;
    }
    int rc = kd_unit_run();
    printf("ops: %d forward checks, %d gradient checks over %d elements, %d row checks\n",
           n_forward_checks, n_grad_checks, n_grad_elems, n_rows_checks);
    return rc;
}
