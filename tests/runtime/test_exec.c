/* test_exec.c — the executor and the activation memory plan.
 *
 * Small networks compiled from recipe text (with the zoo), a ce loss (and a
 * kd loss for the frozen-teacher case) added with kd_graph_add_op, then:
 *   - end-to-end gradient checks against double-precision central
 *     differences of the float32 loss (bn in train and in eval mode),
 *   - a frozen teacher: no gradient, no backward, eval-mode bn, a smaller
 *     arena than with a trainable teacher,
 *   - the plan: valid (checker), smaller than the naive sum; the checker
 *     catches overlapping live buffers; random plans are valid,
 *   - determinism (same seed: bit-identical loss and gradients),
 *     gradient accumulation, bn running statistics in training mode only,
 *   - no malloc/calloc/realloc inside forward/backward/zero_grad (the test
 *     binary is linked with -Wl,--wrap=malloc,... which wraps the calls
 *     made by the statically linked runtime and ops code; under ASan the
 *     wrappers forward to ASan's allocator, so the assertion still holds).
 */
#define _GNU_SOURCE 1   /* mkstemps */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "../unit.h"
#include "../../runtime/exec.h"
#include "../../runtime/graph_ops.h"
#include "../../runtime/op_builtins.h"

/* ---- allocation counter ------------------------------------------------------ */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t k);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
int __real_posix_memalign(void **p, size_t a, size_t n);
static volatile long nalloc;
void *__wrap_malloc(size_t n) { nalloc++; return __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t k) { nalloc++; return __real_calloc(n, k); }
void *__wrap_realloc(void *p, size_t n) { nalloc++; return __real_realloc(p, n); }
void *__wrap_aligned_alloc(size_t a, size_t n) { nalloc++; return __real_aligned_alloc(a, n); }
int __wrap_posix_memalign(void **p, size_t a, size_t n) { nalloc++; return __real_posix_memalign(p, a, n); }

/* ---- building graphs ------------------------------------------------------------ */

typedef struct net {
    kdr_diag diag;
    kdr_program *prog;
    kd_graph *g;
    int32_t in[4], out[4];     /* per model: input node, output node */
    int32_t labels, loss;
    int nmodels;
} net;

/* Compile models[0..n) of the recipe text on [N, C, S, S] input. */
static int build(net *t, const char *text, const char *const *models, int n,
                 int64_t N, int64_t C, int64_t S)
{
    memset(t, 0, sizeof *t);
    kdr_diag_init(&t->diag);
    char path[] = "/tmp/kdrun-exec-XXXXXX.kdr";
    int fd = mkstemps(path, 4);
    if (fd < 0) return -1;
    ssize_t len = (ssize_t)strlen(text);
    if (write(fd, text, (size_t)len) != len) { close(fd); return -1; }
    close(fd);
    t->prog = kdr_program_load(path, KD_SRC("recipes"), &t->diag);
    unlink(path);
    if (!t->prog || t->diag.errors || kdr_check(t->prog, NULL, 0, &t->diag) != 0) {
        kdr_diag_print(&t->diag, stderr, 0);
        return -1;
    }
    t->g = kd_graph_new();
    kd_data_shape ds;
    memset(&ds, 0, sizeof ds);
    ds.x = kd_shape_make(3, (const int64_t[]){ C, S, S });
    ds.classes = 10;
    for (int m = 0; m < n; m++) {
        const kdr_node *decl = NULL;
        for (const kdr_node *k = t->prog->units[0]->root->kids; k; k = k->next)
            if (k->kind == KDR_MODEL && strcmp(k->name, models[m]) == 0) decl = k;
        if (!decl || kd_compile_model(t->g, t->prog, decl, &ds, N, &t->diag) != m) {
            kdr_diag_print(&t->diag, stderr, 0);
            return -1;
        }
        char name[64];
        snprintf(name, sizeof name, "%s.in", models[m]);
        t->in[m] = -1;
        for (int32_t i = 0; i < t->g->nnodes; i++)
            if (t->g->nodes[i].kind == KD_NODE_INPUT && t->g->nodes[i].name &&
                strcmp(t->g->nodes[i].name, name) == 0) t->in[m] = i;
        snprintf(name, sizeof name, "%s.out", models[m]);
        t->out[m] = kd_graph_find(t->g, name);
        if (t->in[m] < 0 || t->out[m] < 0) return -1;
    }
    t->nmodels = n;
    t->labels = kd_graph_add_input(t->g, "labels", kd_shape_make(1, (const int64_t[]){ N }));
    return 0;
}

/* loss = ce(out[0], labels) */
static int32_t add_ce(net *t)
{
    char err[256];
    int32_t ins[2] = { t->out[0], t->labels };
    t->loss = kd_graph_add_op(t->g, kd_op_find("ce"), ins, 2, NULL, err, sizeof err);
    if (t->loss < 0) fprintf(stderr, "%s\n", err);
    return t->loss;
}

static void net_free(net *t)
{
    if (t->g) kd_graph_free(t->g);
    if (t->prog) kdr_program_free(t->prog);
    kdr_diag_free(&t->diag);
}

static uint64_t rng = 88172645463325252ull;
static double urand(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static void fill_inputs(kd_exec *e, net *t, int classes)
{
    for (int m = 0; m < t->nmodels; m++) {
        float *x = kd_exec_input(e, t->in[m]);
        if (!x) continue;
        int64_t k = kd_shape_numel(&t->g->nodes[t->in[m]].shape);
        rng = 12345;          /* every model sees the same images */
        for (int64_t i = 0; i < k; i++) x[i] = (float)(2 * urand() - 1);
    }
    float *y = kd_exec_input(e, t->labels);
    if (y) {
        int64_t N = t->g->nodes[t->labels].shape.dims[0];
        for (int64_t i = 0; i < N; i++) y[i] = (float)(i % classes);
    }
}

static double loss_of(kd_exec *e, int32_t loss, int training)
{
    kd_exec_forward(e, training);
    return (double)kd_exec_value(e, loss)[0];
}

static const char *TINY =
    "net tiny(classes: 10) {\n"
    "  h = relu(bn(conv(in, 4, k: 3, pad: 1, bias: true)))\n"
    "  p = maxpool(h, 2)\n"
    "  out linear(mean(p, over: hw), classes)\n"
    "}\n"
    "model m = tiny(classes: 5)\n";

/* The same structure with tanh in place of relu: smooth, so that central
 * differences are not spoilt by kinks (with batch-statistics bn, many
 * pre-activations sit within +-h of a relu kink and first-layer parameters
 * move all of them; the relu version is exercised by the conformance test
 * against PyTorch). */
static const char *TWO_BLOCKS_SMOOTH =
    "net blk(c, stride: 1) {\n"
    "  h1 = tanh(bn(conv(in, c, k: 3, stride: stride, pad: 1)))\n"
    "  h2 = bn(conv(h1, c, k: 3, pad: 1))\n"
    "  skip = (stride == 1 and channels(in) == c) ? in : bn(conv(in, c, k: 1, stride: stride))\n"
    "  out tanh(h2 + skip)\n"
    "}\n"
    "net two(classes: 10) {\n"
    "  s = tanh(bn(conv(in, 4, k: 3, pad: 1)))\n"
    "  b1 = blk(s, 4)\n"
    "  b2 = blk(b1, 8, stride: 2)\n"
    "  out linear(mean(b2, over: hw), classes)\n"
    "}\n"
    "model m = two(classes: 5)\n";

static const char *TWO_BLOCKS =
    "use \"nets/resnet.kdr\"\n"
    "net two(classes: 10) {\n"
    "  s = relu(bn(conv(in, 4, k: 3, pad: 1)))\n"
    "  b1 = basic_block(s, 4)\n"
    "  b2 = basic_block(b1, 8, stride: 2)\n"
    "  out linear(mean(b2, over: hw), classes)\n"
    "}\n"
    "model m = two(classes: 5)\n"
    "model t = two(classes: 5)\n";

/* ---- gradient check ---------------------------------------------------------------
 * The loss is computed in float32 (accumulations in double inside the ops),
 * so L(w +- h) carries a rounding error of about 1e-7 * |L| each; the
 * central difference (L+ - L-) / 2h in double then has an error of about
 * 1e-7 |L| / h from rounding plus O(h^2 L''') truncation.  With h = 1e-3 and
 * |L| ~ 1.6 that is ~1e-4 absolute at worst (measured: errors stay below a
 * third of the bound below), so each checked entry must satisfy
 *   |fd - g| <= 2e-4 + 5e-3 |g|,
 * and along a random direction d (all parameters at once, h = 1e-3,
 * ||d|| = 1) the directional derivative must match g.d within the same.  ReLU/maxpool kinks inside +-h would show up as a single
 * failing entry; inputs are random so this is rare, and the seeds are fixed
 * (measured with the path-keyed init: seeds 1, 2, 3, 11 pass every check,
 * 5 and 7 put one conv0 weight of the relu+maxpool net within h of a kink;
 * the smooth tanh nets below pass with any seed).
 * Parameters checked: for every parameter tensor (conv weight/bias, bn
 * gamma/beta, linear weight/bias) its first, middle and last element. */
static int gradcheck(net *t, int training, double *worst)
{
    char err[256];
    int32_t roots[1] = { t->loss };
    kd_exec *e = kd_exec_new(t->g, roots, 1, 2, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    kd_exec_init_params(e, 3);
    fill_inputs(e, t, 5);
    float *w = kd_exec_params(e);
    /* eval mode: give the bn running stats non-trivial values first */
    if (!training)
        for (int i = 0; i < 3; i++) kd_exec_forward(e, 1);
    kd_exec_forward(e, training);
    kd_exec_zero_grad(e);
    CU_ASSERT_EQUAL(kd_exec_backward(e, t->loss), 0);
    size_t P = t->g->param_count;
    float *g = malloc(P * sizeof *g);
    memcpy(g, kd_exec_grads(e), P * sizeof *g);
    const double h = 1e-3;
    int bad = 0, checked = 0;
    *worst = 0;
    /* training-mode bn also updates its running stats each forward; they do
     * not enter the training-mode loss, so repeated forwards are fine. */
    for (int32_t p = 0; p < t->g->nparams; p++) {
        const kd_param *q = &t->g->params[p];
        size_t k = (size_t)kd_shape_numel(&q->shape);
        size_t picks[3] = { 0, k / 2, k - 1 };
        for (int j = 0; j < 3; j++) {
            size_t i = q->offset + picks[j];
            float save = w[i];
            w[i] = (float)(save + h);
            double lp = loss_of(e, t->loss, training);
            w[i] = (float)(save - h);
            double lm = loss_of(e, t->loss, training);
            w[i] = save;
            /* the perturbation actually applied, in float */
            double step = (double)(float)(save + h) - (double)(float)(save - h);
            double fd = (lp - lm) / step;
            double diff = fabs(fd - g[i]);
            double tol = 2e-4 + 5e-3 * fabs(g[i]);
            if (diff / tol > *worst) *worst = diff / tol;
            if (diff > tol) {
                bad++;
                fprintf(stderr, "\n  %s[%zu]: analytic %.6g, numeric %.6g", q->name, picks[j],
                        (double)g[i], fd);
            }
            checked++;
        }
    }
    /* a random direction through every parameter */
    double *d = malloc(P * sizeof *d), nrm = 0, gd = 0;
    float *w0 = malloc(P * sizeof *w0);
    memcpy(w0, w, P * sizeof *w0);
    for (size_t i = 0; i < P; i++) d[i] = urand() - 0.5, nrm += d[i] * d[i];
    nrm = sqrt(nrm);
    for (size_t i = 0; i < P; i++) d[i] /= nrm, gd += d[i] * g[i];
    for (size_t i = 0; i < P; i++) w[i] = (float)(w0[i] + h * d[i]);
    double lp = loss_of(e, t->loss, training);
    for (size_t i = 0; i < P; i++) w[i] = (float)(w0[i] - h * d[i]);
    double lm = loss_of(e, t->loss, training);
    memcpy(w, w0, P * sizeof *w0);
    double fd = (lp - lm) / (2 * h);
    if (fabs(fd - gd) > 2e-4 + 5e-3 * fabs(gd)) {
        bad++;
        fprintf(stderr, "\n  direction: analytic %.6g, numeric %.6g", gd, fd);
    }
    CU_ASSERT(checked >= 3 * 6);
    free(d), free(w0), free(g);
    kd_exec_free(e);
    return bad;
}

static void test_gradcheck_tiny_train(void)
{
    net t;
    const char *models[] = { "m" };
    CU_ASSERT_EQUAL_FATAL(build(&t, TINY, models, 1, 4, 3, 6), 0);
    CU_ASSERT_FATAL(add_ce(&t) >= 0);
    double worst;
    CU_ASSERT_EQUAL(gradcheck(&t, 1, &worst), 0);
    fprintf(stderr, " [worst error/tolerance %.3f]", worst);
    net_free(&t);
}

static void test_gradcheck_tiny_eval(void)
{
    net t;
    const char *models[] = { "m" };
    CU_ASSERT_EQUAL_FATAL(build(&t, TINY, models, 1, 4, 3, 6), 0);
    CU_ASSERT_FATAL(add_ce(&t) >= 0);
    double worst;
    CU_ASSERT_EQUAL(gradcheck(&t, 0, &worst), 0);
    fprintf(stderr, " [worst %.3f]", worst);
    net_free(&t);
}

static void test_gradcheck_resnet_blocks(void)
{
    net t;
    const char *models[] = { "m" };
    CU_ASSERT_EQUAL_FATAL(build(&t, TWO_BLOCKS_SMOOTH, models, 1, 4, 3, 8), 0);
    CU_ASSERT_FATAL(add_ce(&t) >= 0);
    /* conv, bn, projection conv + bn, linear: every kind is there */
    int has_proj = 0;
    for (int32_t p = 0; p < t.g->nparams; p++)
        if (strstr(t.g->params[p].name, "b2.conv2.weight")) has_proj = 1;
    CU_ASSERT(has_proj);
    double worst;
    CU_ASSERT_EQUAL(gradcheck(&t, 1, &worst), 0);
    fprintf(stderr, " [worst %.3f]", worst);
    net_free(&t);
}

/* ---- frozen teacher ------------------------------------------------------------------ */

static int32_t add_kd_loss(net *t, int32_t s, int32_t te)
{
    char err[256];
    int32_t a[2] = { s, te };
    int32_t kd = kd_graph_add_op1(t->g, "kd", a, 2, "T", 4, err, sizeof err);
    int32_t b[2] = { s, t->labels };
    int32_t ce = kd_graph_add_op1(t->g, "ce", b, 2, NULL, 0, err, sizeof err);
    int32_t kds = kd_graph_add_op1(t->g, "scale", &kd, 1, "s", 0.9, err, sizeof err);
    int32_t ces = kd_graph_add_op1(t->g, "scale", &ce, 1, "s", 0.1, err, sizeof err);
    int32_t c[2] = { kds, ces };
    t->loss = kd_graph_add_op1(t->g, "add", c, 2, NULL, 0, err, sizeof err);
    if (t->loss < 0) fprintf(stderr, "%s\n", err);
    return t->loss;
}

static size_t kd_arena(int freeze, net *t, kd_exec **keep)
{
    const char *models[] = { "m", "t" };
    CU_ASSERT_EQUAL_FATAL(build(t, TWO_BLOCKS, models, 2, 4, 3, 8), 0);
    CU_ASSERT_FATAL(add_kd_loss(t, t->out[0], t->out[1]) >= 0);
    if (freeze)
        for (int32_t p = 0; p < t->g->nparams; p++)
            if (t->g->params[p].model == 1) t->g->params[p].trainable = 0;
    char err[256];
    int32_t roots[2] = { t->loss, t->out[0] };
    kd_exec *e = kd_exec_new(t->g, roots, 2, 2, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    kd_exec_stats st;
    kd_exec_get_stats(e, &st);
    *keep = e;
    return st.arena_bytes;
}

static void test_frozen_teacher(void)
{
    net t, u;
    kd_exec *e, *eu;
    size_t frozen = kd_arena(1, &t, &e);
    size_t trained = kd_arena(0, &u, &eu);
    /* with a trainable "teacher" the kd op still passes it no gradient
     * (nograd), but ce does not reach it either: so the teacher needs no
     * backward in both cases; what differs is needs_grad. */
    int teacher_nodes = 0;
    for (int32_t i = 0; i < t.g->nnodes; i++) {
        if (t.g->nodes[i].model != 1 || t.g->nodes[i].kind != KD_NODE_OP) continue;
        teacher_nodes++;
        CU_ASSERT(kd_exec_is_live(e, i));
        CU_ASSERT(!kd_exec_needs_grad(e, i));
        CU_ASSERT(!kd_exec_runs_backward(e, i));
        CU_ASSERT(kd_exec_needs_grad(eu, i));
        CU_ASSERT(!kd_exec_runs_backward(eu, i));
    }
    CU_ASSERT(teacher_nodes > 10);
    CU_ASSERT(kd_exec_runs_backward(e, t.out[0]));
    CU_ASSERT(frozen <= trained);
    /* a step: teacher parameters get exactly zero gradient, student not */
    kd_exec_init_params(e, 3);
    fill_inputs(e, &t, 5);
    /* teacher bn: eval mode, running stats untouched by a training step */
    int32_t bn = -1;
    for (int32_t i = 0; i < t.g->nnodes && bn < 0; i++)
        if (t.g->nodes[i].model == 1 && t.g->nodes[i].kind == KD_NODE_OP &&
            strcmp(t.g->nodes[i].op->name, "batchnorm2d") == 0) bn = i;
    CU_ASSERT_FATAL(bn >= 0);
    float *rm = kd_exec_state(e, bn, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rm);
    CU_ASSERT_EQUAL(kd_exec_forward(e, 1), 0);
    CU_ASSERT_EQUAL(rm[0], 0.0f);
    /* FOLLOW restores the default: the frozen model stays in eval mode;
     * TRAIN forces batch statistics (and running-stat updates) */
    kd_exec_set_model_mode(e, 1, KD_MODE_EVAL);
    kd_exec_set_model_mode(e, 1, KD_MODE_FOLLOW);
    CU_ASSERT_EQUAL(kd_exec_forward(e, 1), 0);
    CU_ASSERT_EQUAL(rm[0], 0.0f);
    kd_exec_set_model_mode(e, 1, KD_MODE_TRAIN);
    CU_ASSERT_EQUAL(kd_exec_forward(e, 0), 0);
    CU_ASSERT(rm[0] != 0.0f);
    kd_exec_set_model_mode(e, 1, KD_MODE_FOLLOW);
    CU_ASSERT_EQUAL(kd_exec_forward(e, 1), 0);
    kd_exec_zero_grad(e);
    CU_ASSERT_EQUAL(kd_exec_backward(e, t.loss), 0);
    CU_ASSERT(isfinite(kd_exec_value(e, t.loss)[0]));
    const float *g = kd_exec_grads(e);
    double st = 0, ss = 0;
    for (int32_t p = 0; p < t.g->nparams; p++) {
        const kd_param *q = &t.g->params[p];
        for (int64_t k = 0; k < kd_shape_numel(&q->shape); k++) {
            if (q->model == 1) st += fabs(g[q->offset + (size_t)k]);
            else ss += fabs(g[q->offset + (size_t)k]);
        }
    }
    CU_ASSERT_EQUAL(st, 0.0);
    CU_ASSERT(ss > 0);
    /* the logits root is readable after backward */
    CU_ASSERT_PTR_NOT_NULL(kd_exec_value(e, t.out[0]));
    CU_ASSERT_PTR_NULL(kd_exec_value(e, t.out[1]));     /* not a root */
    kd_exec_free(e);
    kd_exec_free(eu);
    net_free(&t);
    net_free(&u);
}

/* The frozen teacher keeps nothing for backward: each of its buffers dies
 * within the forward pass, except its logits (kd's backward reads them)
 * and its input (inputs live for the whole step); it has no gradient
 * buffers.  The student keeps saved floats and values into backward. */
static size_t live_at(const kd_mem_buf *b, int n, int32_t step)
{
    size_t s = 0;
    for (int i = 0; i < n; i++)
        if (b[i].first <= step && step <= b[i].last) s += b[i].size;
    return s;
}

static void test_frozen_teacher_keeps_no_activations(void)
{
    net t;
    const char *models[] = { "m", "t" };
    CU_ASSERT_EQUAL_FATAL(build(&t, TWO_BLOCKS, models, 2, 4, 3, 8), 0);
    CU_ASSERT_FATAL(add_kd_loss(&t, t.out[0], t.out[1]) >= 0);
    for (int32_t p = 0; p < t.g->nparams; p++)
        if (t.g->params[p].model == 1) t.g->params[p].trainable = 0;
    char err[256];
    int32_t roots[1] = { t.loss };
    kd_exec *e = kd_exec_new(t.g, roots, 1, 1, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    kd_exec_stats st;
    kd_exec_get_stats(e, &st);
    int n;
    const kd_mem_buf *b = kd_exec_plan(e, &n);
    int teacher = 0, student_kept = 0, bad = 0;
    for (int i = 0; i < n; i++) {
        const kd_node *nd = &t.g->nodes[b[i].node];
        if (nd->model == 1) {
            teacher++;
            int ok = b[i].kind != KD_BUF_GRAD &&
                     (b[i].last < st.nforward || b[i].node == t.out[1] ||
                      nd->kind == KD_NODE_INPUT);
            if (!ok) bad++;
        } else if (nd->model == 0 && b[i].last >= st.nforward && b[i].kind != KD_BUF_GRAD) {
            student_kept++;
        }
    }
    CU_ASSERT(teacher > 20);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(student_kept > 10);
    kd_exec_free(e);
    net_free(&t);
}

/* ---- the plan ------------------------------------------------------------------------- */

/* two ResNet blocks trained with ce on a batch of 8: the executor, its
 * plan and stats */
static kd_exec *two_blocks_plan(net *t, const kd_mem_buf **b, int *n, kd_exec_stats *st)
{
    const char *models[] = { "m" };
    CU_ASSERT_EQUAL_FATAL(build(t, TWO_BLOCKS, models, 1, 8, 3, 16), 0);
    CU_ASSERT_FATAL(add_ce(t) >= 0);
    char err[512];
    int32_t roots[2] = { t->loss, t->out[0] };
    kd_exec *e = kd_exec_new(t->g, roots, 2, 2, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    *b = kd_exec_plan(e, n);
    kd_exec_get_stats(e, st);
    return e;
}

static void test_plan_valid_and_smaller(void)
{
    net t;
    char err[512];
    int n;
    const kd_mem_buf *b;
    kd_exec_stats st;
    kd_exec *e = two_blocks_plan(&t, &b, &n, &st);
    CU_ASSERT(n > 20);
    int rc = kd_plan_check(b, n, st.arena_bytes, 64, err, sizeof err);
    if (rc) fprintf(stderr, "\n  %s", err);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT(st.arena_bytes < st.naive_bytes);
    /* no plan can be smaller than the bytes live at the busiest step */
    size_t peak = 0;
    for (int32_t s = 0; s < st.nforward + st.nbackward; s++) {
        size_t l = live_at(b, n, s);
        if (l > peak) peak = l;
    }
    CU_ASSERT(st.arena_bytes >= peak);
    fprintf(stderr, " [arena %zu, naive %zu, peak live %zu]", st.arena_bytes, st.naive_bytes, peak);
    kd_exec_free(e);
    net_free(&t);
}

/* kd_op_def.bwd_reads: a bn's output (read by a relu's forward, or an
 * add's) is freed within the forward, since neither backward reads it
 * (relu's reads its output, add's nothing, bn's its input); a conv's
 * output, which its bn's backward reads, lives into the backward */
static void test_plan_frees_unread_values(void)
{
    net t;
    int n;
    const kd_mem_buf *b;
    kd_exec_stats st;
    kd_exec *e = two_blocks_plan(&t, &b, &n, &st);
    int bns = 0, convs = 0;
    for (int i = 0; i < n; i++) {
        if (b[i].kind != KD_BUF_VALUE) continue;
        const kd_node *nd = &t.g->nodes[b[i].node];
        if (nd->kind != KD_NODE_OP) continue;
        if (strcmp(nd->op->name, "batchnorm2d") == 0) {
            CU_ASSERT(b[i].last < st.nforward);
            bns++;
        } else if (strcmp(nd->op->name, "conv2d") == 0) {
            CU_ASSERT(b[i].last >= st.nforward);
            convs++;
        }
    }
    CU_ASSERT(bns >= 5 && convs >= 5);
    fprintf(stderr, " [%d bn outputs freed in the forward, %d conv outputs kept]", bns, convs);
    kd_exec_free(e);
    net_free(&t);
}

static void test_plan_checker_catches_overlap(void)
{
    kd_mem_buf b[3] = {
        { .size = 128, .first = 0, .last = 2, .offset = 0 },
        { .size = 128, .first = 2, .last = 4, .offset = 64 },   /* overlaps at step 2 */
        { .size = 64, .first = 3, .last = 3, .offset = 0 },
    };
    char err[256];
    CU_ASSERT_EQUAL(kd_plan_check(b, 3, 256, 64, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "overlap"));
    b[1].offset = 128;
    CU_ASSERT_EQUAL(kd_plan_check(b, 3, 256, 64, err, sizeof err), 0);
    CU_ASSERT_EQUAL(kd_plan_check(b, 3, 255, 64, err, sizeof err), -1);   /* outside */
    b[2].offset = 32;
    CU_ASSERT_EQUAL(kd_plan_check(b, 3, 256, 64, err, sizeof err), -1);   /* misaligned */
    /* disjoint lifetimes may share */
    kd_mem_buf c[2] = { { .size = 100, .first = 0, .last = 1 }, { .size = 100, .first = 2, .last = 3 } };
    CU_ASSERT_EQUAL(kd_plan_mem(c, 2, 64), 128);
    CU_ASSERT_EQUAL(kd_plan_check(c, 2, 128, 64, err, sizeof err), 0);
}

static void test_plan_random(void)
{
    enum { N = 300 };
    kd_mem_buf b[N];
    char err[256];
    rng = 99;
    for (int rep = 0; rep < 30; rep++) {
        int n = 1 + (int)(urand() * N);
        size_t naive = 0;
        for (int i = 0; i < n; i++) {
            b[i].first = (int32_t)(urand() * 100);
            b[i].last = b[i].first + (int32_t)(urand() * urand() * 40);
            b[i].size = 1 + (size_t)(urand() * urand() * 100000);
            naive += (b[i].size + 63) / 64 * 64;
        }
        size_t a = kd_plan_mem(b, n, 64);
        int rc = kd_plan_check(b, n, a, 64, err, sizeof err);
        if (rc) fprintf(stderr, "\n  %s", err);
        CU_ASSERT_EQUAL(rc, 0);
        CU_ASSERT(a <= naive);
    }
}

/* ---- determinism, accumulation, bn state, allocation ------------------------------------ */

static void step(kd_exec *e, int32_t loss)
{
    kd_exec_forward(e, 1);
    kd_exec_zero_grad(e);
    kd_exec_backward(e, loss);
}

static void test_deterministic(void)
{
    net t;
    const char *models[] = { "m" };
    CU_ASSERT_EQUAL_FATAL(build(&t, TWO_BLOCKS, models, 1, 8, 3, 16), 0);
    CU_ASSERT_FATAL(add_ce(&t) >= 0);
    char err[256];
    int32_t roots[1] = { t.loss };
    kd_exec *a = kd_exec_new(t.g, roots, 1, 2, err, sizeof err);
    kd_exec *b = kd_exec_new(t.g, roots, 1, 2, err, sizeof err);
    CU_ASSERT_FATAL(a && b);
    size_t P = t.g->param_count;
    kd_exec_init_params(a, 42);
    kd_exec_init_params(b, 42);
    CU_ASSERT(memcmp(kd_exec_params(a), kd_exec_params(b), P * 4) == 0);
    fill_inputs(a, &t, 5);
    fill_inputs(b, &t, 5);
    for (int s = 0; s < 2; s++) {
        step(a, t.loss);
        step(b, t.loss);
        CU_ASSERT(memcmp(kd_exec_value(a, t.loss), kd_exec_value(b, t.loss), 4) == 0);
        CU_ASSERT(memcmp(kd_exec_grads(a), kd_exec_grads(b), P * 4) == 0);
    }
    /* a different seed gives different parameters */
    kd_exec_init_params(b, 43);
    CU_ASSERT(memcmp(kd_exec_params(a), kd_exec_params(b), P * 4) != 0);
    /* initialisation does not depend on the thread count */
    kd_exec *c = kd_exec_new(t.g, roots, 1, 1, err, sizeof err);
    kd_exec_init_params(c, 42);
    CU_ASSERT(memcmp(kd_exec_params(a), kd_exec_params(c), P * 4) == 0);
    kd_exec_free(a), kd_exec_free(b), kd_exec_free(c);
    net_free(&t);
}

/* Initial weights depend on the seed and the model's own architecture:
 * not on the other models in the graph, nor on the model's name. */
static void test_init_by_path(void)
{
    net one, two;
    const char *m1[] = { "m" }, *m2[] = { "t", "m" };
    CU_ASSERT_EQUAL_FATAL(build(&one, TWO_BLOCKS, m1, 1, 2, 3, 8), 0);
    CU_ASSERT_EQUAL_FATAL(build(&two, TWO_BLOCKS, m2, 2, 2, 3, 8), 0);
    char err[256];
    int32_t r1[1] = { kd_graph_find(one.g, "m.out") }, r2[2] = { kd_graph_find(two.g, "t.out"),
                                                                  kd_graph_find(two.g, "m.out") };
    kd_exec *a = kd_exec_new(one.g, r1, 1, 1, err, sizeof err);
    kd_exec *b = kd_exec_new(two.g, r2, 2, 1, err, sizeof err);
    CU_ASSERT_FATAL(a && b);
    kd_exec_init_params(a, 9);
    kd_exec_init_params(b, 9);
    int compared = 0;
    for (int32_t i = 0; i < one.g->nparams; i++) {
        const kd_param *p = &one.g->params[i];
        for (int32_t k = 0; k < two.g->nparams; k++) {
            const kd_param *q = &two.g->params[k];
            size_t n = (size_t)kd_shape_numel(&p->shape);
            /* m.x in both graphs, and t.x (same path, another model) */
            if (strcmp(q->name, p->name) == 0 || strcmp(q->name + 1, p->name + 1) == 0) {
                CU_ASSERT(memcmp(kd_exec_params(a) + p->offset, kd_exec_params(b) + q->offset, n * 4) == 0);
                compared++;
            }
        }
    }
    CU_ASSERT_EQUAL(compared, 2 * one.g->nparams);
    /* different parameters of one model still differ */
    CU_ASSERT(one.g->nparams > 2);
    kd_exec_free(a);
    kd_exec_free(b);
    net_free(&one);
    net_free(&two);
}

static void test_kaiming_statistics(void)
{
    net t;
    const char *models[] = { "m" };
    CU_ASSERT_EQUAL_FATAL(build(&t, "net w() {\n  out conv(in, 256, k: 3, pad: 1)\n}\nmodel m = w()\n",
                                models, 1, 1, 64, 4), 0);
    char err[256];
    int32_t roots[1] = { t.out[0] };
    kd_exec *e = kd_exec_new(t.g, roots, 1, 1, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    kd_exec_init_params(e, 1);
    const kd_param *q = &t.g->params[0];
    size_t k = (size_t)kd_shape_numel(&q->shape);
    const float *w = kd_exec_params(e) + q->offset;
    double s = 0, s2 = 0;
    for (size_t i = 0; i < k; i++) s += w[i], s2 += (double)w[i] * w[i];
    double mean = s / (double)k, sd = sqrt(s2 / (double)k - mean * mean);
    double want = sqrt(2.0 / (64.0 * 9));
    CU_ASSERT(fabs(mean) < 4 * want / sqrt((double)k));
    CU_ASSERT(fabs(sd / want - 1) < 0.02);
    kd_exec_free(e);
    net_free(&t);
}

static void test_accumulate_and_errors(void)
{
    net t;
    const char *models[] = { "m" };
    CU_ASSERT_EQUAL_FATAL(build(&t, TINY, models, 1, 4, 3, 6), 0);
    CU_ASSERT_FATAL(add_ce(&t) >= 0);
    char err[256];
    int32_t roots[2] = { t.loss, t.out[0] };
    kd_exec *e = kd_exec_new(t.g, roots, 2, 2, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    fill_inputs(e, &t, 5);
    size_t P = t.g->param_count;
    step(e, t.loss);
    float *g1 = malloc(P * 4);
    memcpy(g1, kd_exec_grads(e), P * 4);
    /* eval-mode forward + backward twice without zeroing: exactly 2x */
    kd_exec_forward(e, 0);
    kd_exec_zero_grad(e);
    kd_exec_backward(e, t.loss);
    memcpy(g1, kd_exec_grads(e), P * 4);
    kd_exec_forward(e, 0);
    CU_ASSERT_EQUAL(kd_exec_backward(e, t.loss), 0);
    int ok = 1;
    for (size_t i = 0; i < P; i++) ok &= kd_exec_grads(e)[i] == 2 * g1[i];
    CU_ASSERT(ok);
    /* backward twice without a forward, from a non-scalar root, from a
     * non-root: refused */
    CU_ASSERT_EQUAL(kd_exec_backward(e, t.loss), -1);
    kd_exec_forward(e, 0);
    CU_ASSERT_EQUAL(kd_exec_backward(e, t.out[0]), -1);
    CU_ASSERT_EQUAL(kd_exec_backward(e, t.out[0] - 1), -1);
    CU_ASSERT_PTR_NULL(kd_exec_input(e, t.out[0]));
    int32_t bad_root = t.g->nnodes + 5;
    CU_ASSERT_PTR_NULL(kd_exec_new(t.g, &bad_root, 1, 1, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a node"));
    free(g1);
    kd_exec_free(e);
    net_free(&t);
}

static void test_bn_stats_train_only(void)
{
    net t;
    const char *models[] = { "m" };
    CU_ASSERT_EQUAL_FATAL(build(&t, TINY, models, 1, 4, 3, 6), 0);
    CU_ASSERT_FATAL(add_ce(&t) >= 0);
    char err[256];
    int32_t roots[1] = { t.loss };
    kd_exec *e = kd_exec_new(t.g, roots, 1, 2, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    fill_inputs(e, &t, 5);
    int32_t bn = -1;
    for (int32_t i = 0; i < t.g->nnodes; i++)
        if (t.g->nodes[i].kind == KD_NODE_OP && strcmp(t.g->nodes[i].op->name, "batchnorm2d") == 0) bn = i;
    CU_ASSERT_FATAL(bn >= 0);
    float *rm = kd_exec_state(e, bn, 0), *rv = kd_exec_state(e, bn, 1);
    CU_ASSERT_FATAL(rm && rv);
    CU_ASSERT_EQUAL(rm[0], 0.0f);
    CU_ASSERT_EQUAL(rv[0], 1.0f);
    kd_exec_forward(e, 0);
    CU_ASSERT_EQUAL(rm[0], 0.0f);
    CU_ASSERT_EQUAL(rv[0], 1.0f);
    kd_exec_forward(e, 1);
    CU_ASSERT(rm[0] != 0.0f);
    CU_ASSERT(rv[0] != 1.0f);
    float m1 = rm[0];
    kd_exec_forward(e, 0);
    CU_ASSERT_EQUAL(rm[0], m1);
    /* model mode override: eval even when training */
    kd_exec_set_model_mode(e, 0, KD_MODE_EVAL);
    kd_exec_forward(e, 1);
    CU_ASSERT_EQUAL(rm[0], m1);
    kd_exec_set_model_mode(e, 0, KD_MODE_FOLLOW);
    kd_exec_forward(e, 1);
    CU_ASSERT(rm[0] != m1);
    /* re-initialising resets the running statistics */
    kd_exec_init_params(e, 0);
    CU_ASSERT_EQUAL(rm[0], 0.0f);
    kd_exec_free(e);
    net_free(&t);
}

static long minflt(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

static void test_no_alloc_in_step(void)
{
    net t;
    const char *models[] = { "m", "t" };
    CU_ASSERT_EQUAL_FATAL(build(&t, TWO_BLOCKS, models, 2, 16, 3, 16), 0);
    CU_ASSERT_FATAL(add_kd_loss(&t, t.out[0], t.out[1]) >= 0);
    for (int32_t p = 0; p < t.g->nparams; p++)
        if (t.g->params[p].model == 1) t.g->params[p].trainable = 0;
    char err[256];
    int32_t roots[2] = { t.loss, t.out[0] };
    kd_exec *e = kd_exec_new(t.g, roots, 2, 2, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    fill_inputs(e, &t, 5);
    step(e, t.loss);                /* warm up OpenMP / OpenBLAS thread pools */
    long a0 = nalloc, f0 = minflt();
    for (int s = 0; s < 3; s++) step(e, t.loss);
    long da = nalloc - a0, df = minflt() - f0;
    CU_ASSERT_EQUAL(da, 0);
    fprintf(stderr, " [allocations %ld, minor faults %ld in 3 steps]", da, df);
    /* the counter works: creating an executor allocates */
    kd_exec *f = kd_exec_new(t.g, roots, 2, 2, err, sizeof err);
    CU_ASSERT(nalloc > a0);
    kd_exec_free(f);
    kd_exec_free(e);
    net_free(&t);
}

/* kd_blas_tune's wait policy: spin only while the command line's threads
 * (times the MPI ranks on this host) fit the CPUs this process may use */
static void test_threads_fit(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    char one[] = "1", many[] = "4096", prog[] = "kdrun", t[] = "--threads", ts[] = "-t",
         eq[] = "--threads=4096", glued[] = "-t4096", r[] = "r.kdr", dd[] = "--";
    char *a1[] = {prog, t, one, r, NULL}, *a2[] = {prog, t, many, r, NULL},
         *a3[] = {prog, eq, r, NULL}, *a4[] = {prog, glued, r, NULL},
         *a5[] = {prog, ts, many, t, one, r, NULL}, *a6[] = {prog, r, dd, t, many, NULL};
    unsetenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    unsetenv("MPI_LOCALNRANKS");
    CU_ASSERT_EQUAL(kd_threads_fit(4, a1), 1);
    CU_ASSERT_EQUAL(kd_threads_fit(4, a2), 0);
    CU_ASSERT_EQUAL(kd_threads_fit(3, a3), 0);
    CU_ASSERT_EQUAL(kd_threads_fit(3, a4), 0);
    CU_ASSERT_EQUAL(kd_threads_fit(6, a5), 1);   /* the last --threads wins */
    CU_ASSERT_EQUAL(kd_threads_fit(5, a6), 1);   /* after --: not an option */
    /* 4096 ranks of one thread on this host do not fit (this machine has
     * fewer CPUs), one rank does */
    setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "4096", 1);
    CU_ASSERT_EQUAL(kd_threads_fit(4, a1), cpus >= 4096);
    setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "1", 1);
    CU_ASSERT_EQUAL(kd_threads_fit(4, a1), 1);
    unsetenv("OMPI_COMM_WORLD_LOCAL_SIZE");
}

int main(void)
{
    if (kd_op_builtins_register() != 0)   /* op builtins come from the registry */
        return 1;
    static const kd_unit_test tests[] = {
        KD_TEST(test_gradcheck_tiny_train),
        KD_TEST(test_gradcheck_tiny_eval),
        KD_TEST(test_gradcheck_resnet_blocks),
        KD_TEST(test_frozen_teacher),
        KD_TEST(test_frozen_teacher_keeps_no_activations),
        KD_TEST(test_plan_valid_and_smaller),
        KD_TEST(test_plan_frees_unread_values),
        KD_TEST(test_plan_checker_catches_overlap),
        KD_TEST(test_plan_random),
        KD_TEST(test_deterministic),
        KD_TEST(test_init_by_path),
        KD_TEST(test_kaiming_statistics),
        KD_TEST(test_accumulate_and_errors),
        KD_TEST(test_bn_stats_train_only),
        KD_TEST(test_no_alloc_in_step),
        KD_TEST(test_threads_fit),
        KD_TEST_END
    };
    return kd_unit_main("exec", tests);
}
