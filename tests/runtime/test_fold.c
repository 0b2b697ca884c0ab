/* test_fold.c — the frozen-model fold of the executor (runtime/exec_fold.h):
 * conv -> bn [-> add] [-> relu] of a frozen teacher run as one conv that
 * applies the bn, the residual and the relu per image.
 *
 * A ResNet-8 student (trained) and a ResNet-14 teacher (frozen, its bn
 * running statistics and affine parameters set to random values so that
 * the fold has something to do), loss = ce + kd, executors on the same
 * graph with KDRUN_TEACHER_FOLD=off and unset (or 1).  Checked:
 *   - the folds found: every conv of the teacher (15), 13 of them with a
 *     relu, none in the trained student, none with the variable off; the
 *     arena is planned valid;
 *   - the teacher's logits, the loss and every gradient are the same bits
 *     over four steps, one of them with the teacher in train mode
 *     (unfolded).
 */
#define _GNU_SOURCE 1   /* mkstemps, setenv (kd_pair.h) */

enum { N = 6, S = 12 };
#include "kd_pair.h"

/* the same parameters, bn statistics and batch in e */
static void setup(kd_exec *e, net *t)
{
    setup_params(e, t);
    for (int m = 0; m < 2; m++) {
        float *x = kd_exec_input(e, t->in[m]);
        rng = 12345;
        for (int64_t i = 0; i < N * 3 * S * S; i++) x[i] = (float)(2 * urand() - 1);
    }
    float *y = kd_exec_input(e, t->labels);
    for (int i = 0; i < N; i++) y[i] = (float)(i % 10);
}

/* an executor of t's graph built under KDRUN_TEACHER_FOLD=fold (NULL:
 * unset, the default), with its memory plan checked */
static kd_exec *exec_with(net *t, const char *fold)
{
    int32_t roots[3] = { t->loss, t->out[0], t->out[1] };
    char err[256];
    if (fold) setenv("KDRUN_TEACHER_FOLD", fold, 1);
    else unsetenv("KDRUN_TEACHER_FOLD");
    kd_exec *e = kd_exec_new(t->g, roots, 3, 2, err, sizeof err);
    unsetenv("KDRUN_TEACHER_FOLD");
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    int np = 0;
    const kd_mem_buf *plan = kd_exec_plan(e, &np);
    kd_exec_stats st;
    kd_exec_get_stats(e, &st);
    CU_ASSERT_EQUAL(kd_plan_check(plan, np, st.arena_bytes, 64, err, sizeof err), 0);
    return e;
}

/* The fold (the conv applies the bn's own a * y + o, the residual add and
 * the relu per image) gives the bits of the unfolded
 * chain: teacher logits, loss and every gradient, over two steps, a step
 * with the teacher in train mode (unfolded) and one back in eval mode. */
static void test_exact_fold_same_bits(void)
{
    net t;
    CU_ASSERT_EQUAL_FATAL(build(&t), 0);
    kd_exec *e0 = exec_with(&t, "off"), *e1 = exec_with(&t, NULL), *e2 = exec_with(&t, "1");
    int r0 = -1, r1 = -1, r2 = -1;
    CU_ASSERT_EQUAL(kd_exec_fold_count(e0, &r0, NULL), 0);
    CU_ASSERT_EQUAL(kd_exec_fold_count(e2, &r2, NULL), 15);   /* "1": the same fold */
    CU_ASSERT_EQUAL(r2, 13);
    kd_exec_free(e2);
    CU_ASSERT_EQUAL(kd_exec_fold_count(e1, &r1, NULL), 15);
    /* with a relu: the stem, the first conv of the 6 blocks, and the 6
     * block ends (bn -> add -> relu): at the second conv of the 4 identity
     * blocks, at the 1x1 projection of the other 2 (whose main path is
     * computed before it, so that the projection's conv adds it) */
    CU_ASSERT_EQUAL(r1, 13);
    setup(e0, &t), setup(e1, &t);
    int64_t nl = kd_shape_numel(&t.g->nodes[t.out[1]].shape);
    for (int k = 0; k < 4; k++) {
        int train = k == 2;   /* the third step with the teacher in train mode: unfolded */
        kd_exec_set_model_mode(e0, 1, train ? KD_MODE_TRAIN : KD_MODE_FOLLOW);
        kd_exec_set_model_mode(e1, 1, train ? KD_MODE_TRAIN : KD_MODE_FOLLOW);
        step(e0, &t), step(e1, &t);
        CU_ASSERT_EQUAL(memcmp(kd_exec_value(e1, t.out[1]), kd_exec_value(e0, t.out[1]),
                               (size_t)nl * sizeof(float)), 0);
        CU_ASSERT_EQUAL(memcmp(kd_exec_value(e1, t.loss), kd_exec_value(e0, t.loss), sizeof(float)), 0);
        CU_ASSERT_EQUAL(memcmp(kd_exec_grads(e1), kd_exec_grads(e0), t.g->param_count * sizeof(float)), 0);
        float *w0 = kd_exec_params(e0), *w1 = kd_exec_params(e1);
        for (size_t i = 0; i < t.g->param_count; i++) w0[i] -= 0.05f * kd_exec_grads(e0)[i];
        memcpy(w1, w0, t.g->param_count * sizeof *w1);
    }
    kd_exec_free(e0), kd_exec_free(e1);
    net_free(&t);
}

int main(void)
{
    if (kd_op_builtins_register() != 0) return 1;
    static const kd_unit_test tests[] = {
        KD_TEST(test_exact_fold_same_bits),
        KD_TEST_END
    };
    return kd_unit_main("fold", tests);
}
