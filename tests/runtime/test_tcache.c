/* test_tcache.c — the teacher cache of the executor (runtime/exec.h,
 * kd_tcache): a frozen teacher's outputs kept per sample key.
 *
 * A ResNet-8 student (trained) and a ResNet-14 teacher (frozen, random bn
 * statistics and affine parameters), loss = ce + kd, batches of N rows whose
 * images are a function of their key.  Two executors on the same graph, one
 * without the cache (the reference) and one with it; checked:
 *   - the plan: every live op node of the teacher but its last linear is
 *     cached (linear's bits depend on a row's place in the batch, see
 *     kd_op_def.rows), none of the student's or the losses'; the pooled
 *     features, which the linear reads, are the one node kept;
 *   - a sequence of batches (new keys, a permutation of kept keys, a mix)
 *     gives the reference's teacher logits, loss and gradients bit for bit;
 *     kd_exec_cache_next says which batches are served, and on a served
 *     batch the teacher's input is overwritten with garbage first (the
 *     teacher must not run: the numbers stay the reference's);
 *   - a change of a teacher weight drops the records (drops = 1, the next
 *     batch is run, the same bits as the reference with the new weight);
 *   - the teacher forced into train mode disarms it (-1);
 *   - kd_exec_cache_prefill keeps rows without moving the step counter,
 *     kd_exec_cache_complete says when every key is kept;
 *   - a cap too small, or no frozen model: no cache, with the reason;
 *   - an op of the teacher that mixes the batch (softmax over axis 0 of the
 *     pooled features) is not cached; over axis 1 it is (and kept: a root).
 */
#define _GNU_SOURCE 1   /* mkstemps, setenv (kd_pair.h) */
enum { N = 6, S = 12, KEYS = 20 };
#include "kd_pair.h"

/* row r of both models' inputs: the image of key keys[r]; labels likewise */
static void feed(kd_exec *e, net *t, const int64_t *keys)
{
    const int64_t row = 3 * S * S;
    for (int m = 0; m < 2; m++) {
        float *x = kd_exec_input(e, t->in[m]);
        for (int r = 0; r < N; r++) {
            rng = 1000 + (uint64_t)keys[r] * 7919;
            for (int64_t i = 0; i < row; i++) x[r * row + i] = (float)(2 * urand() - 1);
        }
    }
    float *y = kd_exec_input(e, t->labels);
    for (int r = 0; r < N; r++) y[r] = (float)(keys[r] % 10);
}

/* the same teacher logits, loss and gradients, bit for bit */
static int same(kd_exec *a, kd_exec *b, net *t)
{
    size_t nl = (size_t)kd_shape_numel(&t->g->nodes[t->out[1]].shape);
    return memcmp(kd_exec_value(a, t->out[1]), kd_exec_value(b, t->out[1]), nl * sizeof(float)) == 0 &&
           memcmp(kd_exec_value(a, t->loss), kd_exec_value(b, t->loss), sizeof(float)) == 0 &&
           memcmp(kd_exec_grads(a), kd_exec_grads(b), t->g->param_count * sizeof(float)) == 0;
}

/* one SGD step of the student on both, then the same parameters */
static void sgd(kd_exec *a, kd_exec *b, net *t)
{
    float *wa = kd_exec_params(a), *ga = kd_exec_grads(a);
    for (size_t i = 0; i < t->g->param_count; i++)
        if (ga[i] != 0) wa[i] -= 0.05f * ga[i];
    memcpy(kd_exec_params(b), wa, t->g->param_count * sizeof(float));
}

static void test_cache_steps(void)
{
    net t;
    CU_ASSERT_EQUAL_FATAL(build(&t), 0);
    int32_t roots[3] = { t.loss, t.out[0], t.out[1] };
    char err[256], why[256];
    kd_exec *e0 = kd_exec_new(t.g, roots, 3, 2, err, sizeof err);
    kd_exec *e1 = kd_exec_new(t.g, roots, 3, 2, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e1);
    setup_params(e0, &t), setup_params(e1, &t);
    int32_t keyed[2] = { t.in[0], t.in[1] };
    kd_tcache *c = kd_exec_cache_new(e1, keyed, 2, KEYS, (size_t)1 << 20, why, sizeof why);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);

    /* the plan */
    int teacher_ops = 0, wrong = 0, kept = 0;
    CU_ASSERT_STRING_EQUAL_FATAL(t.g->nodes[t.out[1]].op->name, "linear");
    int32_t pooled = t.g->nodes[t.out[1]].in[0];
    for (int32_t i = 0; i < t.g->nnodes; i++) {
        const kd_node *nd = &t.g->nodes[i];
        if (nd->kind != KD_NODE_OP || !kd_exec_is_live(e1, i)) continue;
        int want = nd->model == 1 && i != t.out[1];
        teacher_ops += want;
        if (kd_tcache_is_cached(c, i) != want) wrong++;
        kept += kd_tcache_is_kept(c, i);
    }
    CU_ASSERT(teacher_ops > 30);
    CU_ASSERT_EQUAL(wrong, 0);
    CU_ASSERT_EQUAL(kept, 1);
    CU_ASSERT(kd_tcache_is_kept(c, pooled));
    kd_tcache_stats st;
    kd_tcache_get_stats(c, &st);
    CU_ASSERT_EQUAL(st.ncached, teacher_ops);
    CU_ASSERT_EQUAL(st.nout, 1);
    CU_ASSERT_EQUAL(st.record_bytes, (size_t)t.g->nodes[pooled].shape.dims[1] * sizeof(float));
    CU_ASSERT(st.macs_saved > 0);

    /* batches: new keys, new keys, a permutation of kept keys (served), a
     * mix of kept and new keys, the first batch again (served) */
    static const int64_t batches[5][N] = {
        { 0, 1, 2, 3, 4, 5 }, { 6, 7, 8, 9, 10, 11 }, { 11, 3, 7, 0, 9, 5 },
        { 0, 12, 6, 13, 1, 14 }, { 5, 4, 3, 2, 1, 0 } };
    static const int served[5] = { 0, 0, 1, 0, 1 };
    for (int k = 0; k < 5; k++) {
        feed(e0, &t, batches[k]), feed(e1, &t, batches[k]);
        CU_ASSERT_EQUAL(kd_exec_cache_next(e1, c, batches[k], N), served[k]);
        if (served[k]) {   /* the teacher must not run: its input is garbage now */
            float *x = kd_exec_input(e1, t.in[1]);
            for (int i = 0; i < N * 3 * S * S; i++) x[i] = 1e6f;
        }
        step(e0, &t), step(e1, &t);
        CU_ASSERT(same(e0, e1, &t));
        sgd(e0, e1, &t);
    }
    kd_tcache_get_stats(c, &st);
    CU_ASSERT_EQUAL(st.hits, 2);
    CU_ASSERT_EQUAL(st.misses, 3);
    CU_ASSERT_EQUAL(st.kept, 15);
    CU_ASSERT_EQUAL(st.drops, 0);
    CU_ASSERT_EQUAL(kd_exec_get_step(e0), kd_exec_get_step(e1));

    /* a forward not armed (an evaluation) runs the teacher */
    feed(e0, &t, batches[4]), feed(e1, &t, batches[4]);
    CU_ASSERT_EQUAL(kd_exec_forward(e0, 0), 0);
    CU_ASSERT_EQUAL(kd_exec_forward(e1, 0), 0);
    CU_ASSERT_EQUAL(memcmp(kd_exec_value(e0, t.out[1]), kd_exec_value(e1, t.out[1]), N * 10 * sizeof(float)), 0);

    /* a teacher weight changes: the records are dropped */
    for (int32_t p = 0; p < t.g->nparams; p++)
        if (t.g->params[p].model == 1 && t.g->params[p].shape.ndim == 1) {
            kd_exec_params(e0)[t.g->params[p].offset] += 0.25f;
            kd_exec_params(e1)[t.g->params[p].offset] += 0.25f;
            break;
        }
    feed(e0, &t, batches[2]), feed(e1, &t, batches[2]);
    CU_ASSERT_EQUAL(kd_exec_cache_next(e1, c, batches[2], N), 0);
    step(e0, &t), step(e1, &t);
    CU_ASSERT(same(e0, e1, &t));
    kd_tcache_get_stats(c, &st);
    CU_ASSERT_EQUAL(st.drops, 1);
    CU_ASSERT_EQUAL(st.kept, N);

    /* a teacher in train mode is not served; bad keys are refused */
    kd_exec_set_model_mode(e1, 1, KD_MODE_TRAIN);
    CU_ASSERT_EQUAL(kd_exec_cache_next(e1, c, batches[2], N), -1);
    kd_exec_set_model_mode(e1, 1, KD_MODE_FOLLOW);
    static const int64_t bad[N] = { 0, 1, 2, 3, 4, KEYS };
    CU_ASSERT_EQUAL(kd_exec_cache_next(e1, c, bad, N), -1);
    CU_ASSERT_EQUAL(kd_exec_cache_next(e1, c, batches[2], N + 1), -1);

    /* prefill: every key kept without a step; then every batch is served */
    CU_ASSERT_EQUAL(kd_exec_cache_complete(e1, c), 0);
    uint64_t s0 = kd_exec_get_step(e1);
    for (int64_t k0 = 0; k0 < KEYS; k0 += N) {
        int64_t keys[N];
        int n = 0;
        for (int r = 0; r < N; r++) keys[r] = k0 + r < KEYS ? k0 + r : 0;
        n = k0 + N <= KEYS ? N : (int)(KEYS - k0);
        feed(e1, &t, keys);
        CU_ASSERT_EQUAL(kd_exec_cache_prefill(e1, c, keys, n), 0);
    }
    CU_ASSERT_EQUAL(kd_exec_get_step(e1), s0);
    CU_ASSERT_EQUAL(kd_exec_cache_complete(e1, c), 1);
    static const int64_t late[N] = { 19, 18, 15, 16, 2, 17 };
    feed(e0, &t, late), feed(e1, &t, late);
    CU_ASSERT_EQUAL(kd_exec_cache_next(e1, c, late, N), 1);
    step(e0, &t), step(e1, &t);
    CU_ASSERT(same(e0, e1, &t));
    kd_tcache_get_stats(c, &st);
    CU_ASSERT_EQUAL(st.kept, KEYS);
    CU_ASSERT(st.prefills >= 3);
    kd_tcache_free(c);

    /* no cache: a cap too small; keyed inputs that feed no frozen model */
    c = kd_exec_cache_new(e1, keyed, 2, KEYS, 100, why, sizeof why);
    CU_ASSERT_PTR_NULL(c);
    CU_ASSERT(strstr(why, "over the cap") != NULL);
    c = kd_exec_cache_new(e1, keyed, 1, KEYS, (size_t)1 << 20, why, sizeof why);
    CU_ASSERT_PTR_NULL(c);
    CU_ASSERT(strstr(why, "no frozen model") != NULL);
    kd_exec_free(e0), kd_exec_free(e1);
    net_free(&t);
}

/* a node of the teacher that mixes the rows (softmax over the batch axis)
 * is not cached, and what it reads is kept; over the classes it is cached */
static void test_cache_rows(void)
{
    for (int axis = 0; axis < 2; axis++) {
        net t;
        CU_ASSERT_EQUAL_FATAL(build(&t), 0);
        char err[256], why[256];
        int32_t in1[1] = { t.g->nodes[t.out[1]].in[0] };   /* the pooled features */
        int32_t sm = kd_graph_add_op1(t.g, "softmax", in1, 1, "axis", axis, err, sizeof err);
        CU_ASSERT_FATAL(sm >= 0);
        t.g->nodes[sm].model = 1;
        int32_t roots[4] = { t.loss, t.out[0], t.out[1], sm };
        kd_exec *e = kd_exec_new(t.g, roots, 4, 1, err, sizeof err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(e);
        int32_t keyed[2] = { t.in[0], t.in[1] };
        kd_tcache *c = kd_exec_cache_new(e, keyed, 2, KEYS, (size_t)1 << 20, why, sizeof why);
        CU_ASSERT_PTR_NOT_NULL_FATAL(c);
        CU_ASSERT_EQUAL(kd_tcache_is_cached(c, sm), axis != 0);
        CU_ASSERT_EQUAL(kd_tcache_is_kept(c, sm), axis != 0);   /* a root */
        CU_ASSERT(kd_tcache_is_cached(c, in1[0]));
        CU_ASSERT(kd_tcache_is_kept(c, in1[0]));               /* the linear reads it */
        kd_tcache_free(c);
        kd_exec_free(e);
        net_free(&t);
    }
}

int main(void)
{
    if (kd_op_builtins_register() != 0) return 1;
    static const kd_unit_test tests[] = {
        KD_TEST(test_cache_steps),
        KD_TEST(test_cache_rows),
        KD_TEST_END
    };
    return kd_unit_main("tcache", tests);
}
