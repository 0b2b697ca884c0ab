/* test_task_seq.c — next-item evaluation (runtime/task_seq.c): ranks of the
 * target among the sampled negatives and among every item (padding id 0
 * never ranked), the popularity baseline on a hand-made split, and the
 * items of a batch as model input. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../unit.h"
#include "../../runtime/task_seq.h"
#include "../../data/data_int.h"

static int32_t *ints(const int32_t *v, int n)
{
    int32_t *p = malloc(sizeof *p * (size_t)n);
    memcpy(p, v, sizeof *p * (size_t)n);
    return p;
}

/* 5 items, negatives 2; train targets: item 3 x3, item 1 x2, item 5 x1 */
static void make_ds(kd_dataset *ds, int with_neg)
{
    char err[256];
    memset(ds, 0, sizeof *ds);
    ds->kind = KD_DATA_SEQUENCES;
    ds->items = 5;
    ds->max_len = 2;
    ds->negatives = with_neg ? 2 : 0;
    ds->source = strdup("hand");
    kd_split tr, te;
    memset(&tr, 0, sizeof tr);
    memset(&te, 0, sizeof te);
    tr.n = 6;
    tr.label = ints((const int32_t[]){ 3, 1, 3, 5, 3, 1 }, 6);
    tr.items = calloc(12, sizeof(int32_t));
    tr.next = calloc(12, sizeof(int32_t));
    tr.user = calloc(6, sizeof(int32_t));
    te.n = 3;
    /* targets 1, 2, 5 */
    te.label = ints((const int32_t[]){ 1, 2, 5 }, 3);
    te.items = calloc(6, sizeof(int32_t));
    te.next = calloc(6, sizeof(int32_t));
    te.user = ints((const int32_t[]){ 0, 1, 2 }, 3);
    if (with_neg) te.neg = ints((const int32_t[]){ 3, 4, 4, 5, 1, 2 }, 6);
    CU_ASSERT_EQUAL_FATAL(kd_dataset_add_split(ds, "train", &tr, err, sizeof err), KD_DATA_OK);
    CU_ASSERT_EQUAL_FATAL(kd_dataset_add_split(ds, "test", &te, err, sizeof err), KD_DATA_OK);
}

static void test_popularity(void)
{
    kd_dataset ds;
    kd_task_sums s;
    /* sampled: target 1 (2) vs 3 (3), 4 (0): rank 1; target 2 (0) vs 4 (0,
     * a larger id: not better), 5 (1): rank 1; target 5 (1) vs 1 (2), 2 (0):
     * rank 1 */
    make_ds(&ds, 1);
    CU_ASSERT_EQUAL_FATAL(kd_seq_popularity(&ds, "test", &s), 0);
    CU_ASSERT_EQUAL(s.nrank, 3);
    CU_ASSERT_EQUAL(s.rank_hist[1], 3);
    CU_ASSERT_DOUBLE_EQUAL(kd_seq_sums_metric(&s, "hr", 1), 0.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(kd_seq_sums_metric(&s, "hr", 2), 1.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(kd_seq_sums_metric(&s, "mrr", 10), 0.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(kd_seq_sums_metric(&s, "ndcg", 10), 1.0 / log2(3.0), 1e-12);
    CU_ASSERT_EQUAL(kd_seq_popularity(&ds, "val", &s), -1);
    kd_dataset_free(&ds);
    /* full ranking over items 1..5, scores 2 0 3 0 1: target 1 is 2nd,
     * target 2 is 4th (item 4 ties it with a larger id), target 5 is 3rd */
    make_ds(&ds, 0);
    CU_ASSERT_EQUAL_FATAL(kd_seq_popularity(&ds, "test", &s), 0);
    CU_ASSERT_EQUAL(s.rank_hist[1], 1);
    CU_ASSERT_EQUAL(s.rank_hist[2], 1);
    CU_ASSERT_EQUAL(s.rank_hist[3], 1);
    CU_ASSERT_DOUBLE_EQUAL(kd_seq_sums_metric(&s, "hr", 3), 2.0 / 3.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(s.top5, 100.0, 1e-12);
    kd_dataset_free(&ds);
}

/* a model's scores through the task's eval hooks */
static void test_eval_batch(void)
{
    kd_dataset ds;
    make_ds(&ds, 1);
    /* scores over ids 0..5; column 0 (padding) is the highest everywhere */
    float out[3 * 6] = { 9, 5, 1, 6, 0, 0,     /* target 1: 3 (6) better, 4 not: rank 1 */
                         9, 0, 4, 0, 3, 1,     /* target 2: best of 2, 4, 5: rank 0 */
                         9, 7, 0, 0, 0, 2 };   /* target 5: 1 better: rank 1 */
    kd_shape os = { .dims = { 3, 6 }, .ndim = 2 };
    kd_batch b;
    memset(&b, 0, sizeof b);
    b.n = 3;
    b.label = kd_dataset_split(&ds, "test")->label;
    b.neg = kd_dataset_split(&ds, "test")->neg;
    kd_task_sums s;
    memset(&s, 0, sizeof s);
    kd_task_seq.eval_batch(&s, out, &os, &b, &ds);
    kd_task_seq.eval_end(&s);
    CU_ASSERT_EQUAL(s.nrank, 3);
    CU_ASSERT_EQUAL(s.rank_hist[0], 1);
    CU_ASSERT_EQUAL(s.rank_hist[1], 2);
    CU_ASSERT_DOUBLE_EQUAL(s.top1, 100.0 / 3.0, 1e-9);
    /* full ranking (no negatives): padding's 9 is never counted */
    memset(&s, 0, sizeof s);
    b.neg = NULL;
    kd_task_seq.eval_batch(&s, out, &os, &b, &ds);
    /* target 1: 3 better -> 1; target 2: the best -> 0; target 5: 1
     * better -> 1 (the same as among the negatives here) */
    CU_ASSERT_EQUAL(s.rank_hist[0], 1);
    CU_ASSERT_EQUAL(s.rank_hist[1], 2);
    /* a tie counts as better for a smaller id only: target 2 scores 0 like
     * items 1 and 3; better are item 1 and item 4 (5): rank 2 */
    float tie[6] = { 9, 0, 0, 0, 5, -1 };
    kd_batch b1 = b;
    b1.n = 1;
    b1.label = (int32_t[]){ 2 };
    kd_shape os1 = { .dims = { 1, 6 }, .ndim = 2 };
    kd_task_sums s1;
    memset(&s1, 0, sizeof s1);
    kd_task_seq.eval_batch(&s1, tie, &os1, &b1, &ds);
    CU_ASSERT_EQUAL(s1.rank_hist[2], 1);   /* items 1 (tie, smaller id) and 4 */
    kd_strbuf t = { 0 };
    kd_task_seq.eval_end(&s);
    kd_seq_report_line(&t, "m", "d", "test", &s, -1, 0);
    KD_ASSERT_STR_EQ(t.s, "  m            d.test   hr@10 1.0000  ndcg@10 0.7540  mrr@10 0.6667\n");
    kd_sb_free(&t);
    kd_dataset_free(&ds);
}

static void test_items_to_input(void)
{
    const int32_t items[6] = { 0, 4, 7, 1, 2, 3 };
    float x[9];
    memset(x, 0xff, sizeof x);
    kd_seq_items_to_input(x, items, 2, 3, 3);
    const float want[9] = { 0, 4, 7, 1, 2, 3, 0, 0, 0 };
    CU_ASSERT(memcmp(x, want, sizeof want) == 0);
}

int main(void)
{
    static const kd_unit_test tests[] = {
        KD_TEST(test_popularity),
        KD_TEST(test_eval_batch),
        KD_TEST(test_items_to_input),
        KD_TEST_END
    };
    return kd_unit_main("task_seq", tests);
}
