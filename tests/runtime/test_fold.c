/* test_fold.c — the frozen-model fold of the executor (runtime/exec_fold.h):
 * conv -> bn [-> relu] of a frozen teacher run as one conv with the bn
 * folded into its weights and the relu applied per image.
 *
 * A ResNet-8 student (trained) and a ResNet-14 teacher (frozen, its bn
 * running statistics and affine parameters set to random values so that
 * the fold has something to fold), loss = ce + kd, two executors on the
 * same graph: without KDRUN_TEACHER_FOLD and with it.  Checked:
 *   - the folds found: every conv of the teacher (15), 7 of them with the
 *     relu (the stem and the first conv of each of the 6 blocks), none in
 *     the trained student, none without the variable;
 *   - teacher logits, loss and every student gradient agree within 1e-5
 *     relative (max |a - b| / max |b|; the fold rounds W * a once); the
 *     arena is planned valid;
 *   - a step with the teacher forced into train mode (numbered as the last
 *     folded step: the step counter set back) runs unfolded and is
 *     bit-identical to the executor without the fold; the next eval-mode
 *     step folds again.
 */
#define _GNU_SOURCE 1   /* mkstemps, setenv */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../unit.h"
#include "../../runtime/exec.h"
#include "../../runtime/graph_ops.h"
#include "../../runtime/op_builtins.h"

enum { N = 6, S = 12 };

typedef struct net {
    kdr_diag diag;
    kdr_program *prog;
    kd_graph *g;
    int32_t in[2], out[2], labels, loss;
} net;

static const char *const RECIPE =
    "use \"nets/resnet.kdr\"\n"
    "model s = resnet(depth: 8, classes: 10, base: 4)\n"
    "model t = resnet(depth: 14, classes: 10, base: 8)\n";

static int build(net *t)
{
    memset(t, 0, sizeof *t);
    kdr_diag_init(&t->diag);
    char path[] = "/tmp/kdrun-fold-XXXXXX.kdr";
    int fd = mkstemps(path, 4);
    if (fd < 0) return -1;
    ssize_t len = (ssize_t)strlen(RECIPE);
    if (write(fd, RECIPE, (size_t)len) != len) { close(fd); return -1; }
    close(fd);
    t->prog = kdr_program_load(path, KD_SRC("recipes"), &t->diag);
    unlink(path);
    if (!t->prog || t->diag.errors || kdr_check(t->prog, NULL, 0, &t->diag) != 0) return -1;
    t->g = kd_graph_new();
    kd_data_shape ds;
    memset(&ds, 0, sizeof ds);
    ds.x = kd_shape_make(3, (const int64_t[]){ 3, S, S });
    ds.classes = 10;
    const char *models[2] = { "s", "t" };
    for (int m = 0; m < 2; m++) {
        const kdr_node *decl = NULL;
        for (const kdr_node *k = t->prog->units[0]->root->kids; k; k = k->next)
            if (k->kind == KDR_MODEL && strcmp(k->name, models[m]) == 0) decl = k;
        int32_t first = t->g->nnodes;
        if (!decl || kd_compile_model(t->g, t->prog, decl, &ds, N, &t->diag) != m) return -1;
        t->in[m] = first;
        char name[32];
        snprintf(name, sizeof name, "%s.out", models[m]);
        t->out[m] = kd_graph_find(t->g, name);
        if (t->out[m] < 0) return -1;
    }
    t->labels = kd_graph_add_input(t->g, "labels", kd_shape_make(1, (const int64_t[]){ N }));
    char err[256];
    int32_t ce_in[2] = { t->out[0], t->labels }, kd_in[2] = { t->out[0], t->out[1] };
    int32_t ce = kd_graph_add_op(t->g, kd_op_find("ce"), ce_in, 2, NULL, err, sizeof err);
    int32_t kd = kd_graph_add_op1(t->g, "kd", kd_in, 2, "T", 4, err, sizeof err);
    int32_t sum[2] = { ce, kd };
    t->loss = ce >= 0 && kd >= 0 ? kd_graph_add_op1(t->g, "add", sum, 2, NULL, 0, err, sizeof err) : -1;
    for (int32_t p = 0; p < t->g->nparams; p++)
        if (t->g->params[p].model == 1) t->g->params[p].trainable = 0;
    return t->loss >= 0 ? 0 : -1;
}

static uint64_t rng;
static double urand(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

/* the same parameters, bn statistics and batch in e */
static void setup(kd_exec *e, net *t)
{
    kd_exec_init_params(e, 7);
    float *w = kd_exec_params(e);
    rng = 99;
    for (int32_t p = 0; p < t->g->nparams; p++) {   /* teacher bn gamma, beta: not 1, 0 */
        const kd_param *q = &t->g->params[p];
        if (q->model != 1 || q->shape.ndim != 1) continue;
        int gamma = strstr(q->name, "weight") != NULL;
        for (int64_t i = 0; i < q->shape.dims[0]; i++)
            w[q->offset + (size_t)i] = gamma ? (float)(0.5 + urand()) : (float)(0.4 * urand() - 0.2);
    }
    for (int32_t i = 0; i < t->g->nnodes; i++) {       /* teacher running mean, var */
        const kd_node *nd = &t->g->nodes[i];
        if (nd->kind != KD_NODE_OP || nd->model != 1 || strcmp(nd->op->name, "batchnorm2d") != 0)
            continue;
        float *rm = kd_exec_state(e, i, 0), *rv = kd_exec_state(e, i, 1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(rm);
        CU_ASSERT_PTR_NOT_NULL_FATAL(rv);
        for (int64_t c = 0; c < nd->shape.dims[1]; c++)
            rm[c] = (float)(urand() - 0.5), rv[c] = (float)(0.5 + 1.5 * urand());
    }
    for (int m = 0; m < 2; m++) {
        float *x = kd_exec_input(e, t->in[m]);
        rng = 12345;
        for (int64_t i = 0; i < N * 3 * S * S; i++) x[i] = (float)(2 * urand() - 1);
    }
    float *y = kd_exec_input(e, t->labels);
    for (int i = 0; i < N; i++) y[i] = (float)(i % 10);
}

static double rel_err(const float *a, const float *b, int64_t n)
{
    double d = 0, m = 0;
    for (int64_t i = 0; i < n; i++) {
        double x = fabs((double)a[i] - b[i]);
        if (x > d || isnan(x)) d = isnan(x) ? INFINITY : x;
        if (fabs((double)b[i]) > m) m = fabs((double)b[i]);
    }
    return m > 0 ? d / m : d;
}

static void step(kd_exec *e, net *t)
{
    CU_ASSERT_EQUAL(kd_exec_forward(e, 1), 0);
    kd_exec_zero_grad(e);
    CU_ASSERT_EQUAL(kd_exec_backward(e, t->loss), 0);
}

static void test_fold_matches_unfolded(void)
{
    net t;
    CU_ASSERT_EQUAL_FATAL(build(&t), 0);
    int32_t roots[3] = { t.loss, t.out[0], t.out[1] };
    char err[256];
    unsetenv("KDRUN_TEACHER_FOLD");
    kd_exec *e0 = kd_exec_new(t.g, roots, 3, 2, err, sizeof err);
    setenv("KDRUN_TEACHER_FOLD", "1", 1);
    kd_exec *e1 = kd_exec_new(t.g, roots, 3, 2, err, sizeof err);
    unsetenv("KDRUN_TEACHER_FOLD");
    CU_ASSERT_PTR_NOT_NULL_FATAL(e0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e1);
    int r0 = -1, r1 = -1;
    CU_ASSERT_EQUAL(kd_exec_fold_count(e0, &r0), 0);
    CU_ASSERT_EQUAL(r0, 0);
    CU_ASSERT_EQUAL(kd_exec_fold_count(e1, &r1), 15);   /* every teacher conv */
    CU_ASSERT_EQUAL(r1, 7);                              /* stem + first conv of 6 blocks */
    int np = 0;
    const kd_mem_buf *plan = kd_exec_plan(e1, &np);
    kd_exec_stats st;
    kd_exec_get_stats(e1, &st);
    CU_ASSERT_EQUAL(kd_plan_check(plan, np, st.arena_bytes, 64, err, sizeof err), 0);

    setup(e0, &t), setup(e1, &t);
    for (int k = 0; k < 2; k++) {   /* two steps: the student moves, the teacher does not */
        step(e0, &t), step(e1, &t);
        int64_t nl = kd_shape_numel(&t.g->nodes[t.out[1]].shape);
        double et = rel_err(kd_exec_value(e1, t.out[1]), kd_exec_value(e0, t.out[1]), nl);
        double el = rel_err(kd_exec_value(e1, t.loss), kd_exec_value(e0, t.loss), 1);
        double eg = rel_err(kd_exec_grads(e1), kd_exec_grads(e0), (int64_t)t.g->param_count);
        printf("\n  step %d: teacher logits %.2e, loss %.2e, gradients %.2e (relative)", k + 1, et,
               el, eg);
        CU_ASSERT(et <= 1e-5);
        CU_ASSERT(el <= 1e-5);
        CU_ASSERT(eg <= 1e-5);
        CU_ASSERT(et > 0 || el > 0 || eg > 0 || k > 0);   /* the fold ran: rounding differs */
        float *w0 = kd_exec_params(e0), *w1 = kd_exec_params(e1), *g1 = kd_exec_grads(e1);
        for (size_t i = 0; i < t.g->param_count; i++)    /* the same SGD step on both */
            w1[i] -= 0.05f * g1[i], w0[i] -= 0.05f * kd_exec_grads(e0)[i];
        memcpy(w1, w0, t.g->param_count * sizeof *w1);   /* and the same parameters */
    }
    /* the teacher in train mode: no fold, the same bits as without it
     * (with the step counter set back, so that this step has the number of
     * the last folded one: the bn must run all the same) */
    kd_exec_set_model_mode(e0, 1, KD_MODE_TRAIN);
    kd_exec_set_model_mode(e1, 1, KD_MODE_TRAIN);
    kd_exec_set_step(e0, kd_exec_get_step(e0) - 1);
    kd_exec_set_step(e1, kd_exec_get_step(e1) - 1);
    step(e0, &t), step(e1, &t);
    int64_t nl = kd_shape_numel(&t.g->nodes[t.out[1]].shape);
    CU_ASSERT_EQUAL(memcmp(kd_exec_value(e1, t.out[1]), kd_exec_value(e0, t.out[1]),
                           (size_t)nl * sizeof(float)), 0);
    CU_ASSERT_EQUAL(memcmp(kd_exec_grads(e1), kd_exec_grads(e0), t.g->param_count * sizeof(float)), 0);
    /* back to eval mode: folded again, close again */
    kd_exec_set_model_mode(e0, 1, KD_MODE_FOLLOW);
    kd_exec_set_model_mode(e1, 1, KD_MODE_FOLLOW);
    step(e0, &t), step(e1, &t);
    CU_ASSERT(rel_err(kd_exec_value(e1, t.out[1]), kd_exec_value(e0, t.out[1]), nl) <= 1e-5);
    kd_exec_free(e0), kd_exec_free(e1);
    kd_graph_free(t.g);
    kdr_program_free(t.prog);
    kdr_diag_free(&t.diag);
}

int main(void)
{
    if (kd_op_builtins_register() != 0) return 1;
    static const kd_unit_test tests[] = {
        KD_TEST(test_fold_matches_unfolded),
        KD_TEST_END
    };
    return kd_unit_main("fold", tests);
}
