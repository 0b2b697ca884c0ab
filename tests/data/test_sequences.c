/* test_sequences.c — MovieLens ratings.dat and user,item,timestamp CSV on
 * generated files (exact leave-one-out splits, negatives, errors with line
 * numbers), and the generated sessions of synth_sequences. */
#include "../unit.h"
#include "data_test.h"

/* user 1: items 20(t50) 10(t100) 30(t200) 40(t300) -> dense 2 1 3 4
 * user 2: items 20 10 50 -> 2 1 5; user 3: 2 interactions, dropped. */
static const char *ML =
    "1::10::5::100\n"
    "1::20::3::50\n"
    "1::30::4::200\n"
    "3::30::5::5\n"
    "1::40::4.5::300\n"
    "2::20::5::10\n"
    "2::10::1::20\n"
    "\n"
    "3::40::5::6\n"
    "2::50::2::30\r\n";

static const char *CSV =
    "user,item,timestamp\n"
    "1,10,100\n"
    "1,20,50\n"
    "1,30,200\n"
    "3,30,5\n"
    "1,40,300\n"
    "2,20,10\n"
    "2,10,20\n"
    "3,40,6\n"
    "2,50,30\n";

static int eq(const int32_t *got, const int32_t *want, int n)
{
    for (int i = 0; i < n; i++)
        if (got[i] != want[i]) {
            fprintf(stderr, "\n  element %d: got %d, want %d\n", i, got[i], want[i]);
            return 0;
        }
    return 1;
}

static void check_small(const kd_dataset *ds)
{
    CU_ASSERT_EQUAL(ds->kind, KD_DATA_SEQUENCES);
    CU_ASSERT_EQUAL(ds->items, 5);
    CU_ASSERT_EQUAL(ds->users, 2);
    CU_ASSERT_EQUAL(ds->max_len, 2);
    CU_ASSERT_EQUAL(ds->negatives, 1);
    CU_ASSERT_EQUAL_FATAL(ds->nsplits, 3);
    kd_split *tr = kd_dataset_split(ds, "train"), *va = kd_dataset_split(ds, "val"),
             *te = kd_dataset_split(ds, "test");
    CU_ASSERT_FATAL(tr && va && te);
    CU_ASSERT_EQUAL_FATAL(tr->n, 2);
    CU_ASSERT_EQUAL_FATAL(va->n, 2);
    CU_ASSERT_EQUAL_FATAL(te->n, 2);
    /* user 2's train sample has an empty history: all padding */
    static const int32_t tr_items[] = { 0, 2, 0, 0 }, tr_next[] = { 0, 1, 0, 0 },
        tr_label[] = { 1, 2 };
    static const int32_t va_items[] = { 2, 1, 0, 2 }, va_next[] = { 1, 3, 0, 1 },
        va_label[] = { 3, 1 };
    static const int32_t te_items[] = { 1, 3, 2, 1 }, te_next[] = { 3, 4, 1, 5 },
        te_label[] = { 4, 5 };
    static const int32_t users[] = { 0, 1 }, neg_u1[] = { 5 };
    CU_ASSERT(eq(tr->items, tr_items, 4));
    CU_ASSERT(eq(tr->next, tr_next, 4));
    CU_ASSERT(eq(tr->label, tr_label, 2));
    CU_ASSERT(eq(va->items, va_items, 4));
    CU_ASSERT(eq(va->next, va_next, 4));
    CU_ASSERT(eq(va->label, va_label, 2));
    CU_ASSERT(eq(te->items, te_items, 4));
    CU_ASSERT(eq(te->next, te_next, 4));
    CU_ASSERT(eq(te->label, te_label, 2));
    CU_ASSERT(eq(te->user, users, 2));
    CU_ASSERT_PTR_NULL(tr->neg);
    /* user 1 saw 1..4: the only negative is 5; user 2 saw 1, 2, 5 */
    CU_ASSERT(eq(te->neg, neg_u1, 1));
    CU_ASSERT(eq(va->neg, neg_u1, 1));
    CU_ASSERT(te->neg[1] == 3 || te->neg[1] == 4);
    CU_ASSERT_EQUAL(va->neg[1], te->neg[1]);
}

static void test_movielens(void)
{
    const char *p = kd_tmp_path("ratings.dat");
    CU_ASSERT_EQUAL_FATAL(kd_write_text(p, ML), 0);
    kd_dataset ds;
    CU_ASSERT_EQUAL_FATAL(kd_load_sequences(p, KD_SEQ_MOVIELENS, 2, 1, 0, &ds, kd_err,
                                            sizeof kd_err), KD_DATA_OK);
    check_small(&ds);
    kd_dataset_free(&ds);
}

static void test_csv(void)
{
    const char *p = kd_tmp_path("seq.csv");
    CU_ASSERT_EQUAL_FATAL(kd_write_text(p, CSV), 0);
    kd_dataset ds;
    CU_ASSERT_EQUAL_FATAL(kd_load_sequences(p, KD_SEQ_CSV, 2, 1, 0, &ds, kd_err,
                                            sizeof kd_err), KD_DATA_OK);
    check_small(&ds);
    kd_dataset_free(&ds);
    /* without the header */
    CU_ASSERT_EQUAL_FATAL(kd_write_text(p, strchr(CSV, '\n') + 1), 0);
    CU_ASSERT_EQUAL_FATAL(kd_load_sequences(p, KD_SEQ_CSV, 2, 1, 0, &ds, kd_err,
                                            sizeof kd_err), KD_DATA_OK);
    check_small(&ds);
    kd_dataset_free(&ds);
    /* equal timestamps keep the file order; max_len keeps the latest items */
    CU_ASSERT_EQUAL_FATAL(kd_write_text(p, "7,3,1\n7,1,1\n7,2,1\n7,9,1\n7,5,0\n8,11,0\n"), 0);
    CU_ASSERT_EQUAL_FATAL(kd_load_sequences(p, KD_SEQ_CSV, 3, 1, 0, &ds, kd_err,
                                            sizeof kd_err), KD_DATA_OK);
    /* items 1 2 3 5 9 11 -> 1..6; order: 5(t0) 3 1 2 9 -> 4 3 1 2 5 */
    kd_split *te = kd_dataset_split(&ds, "test");
    static const int32_t items[] = { 3, 1, 2 }, next[] = { 1, 2, 5 };
    CU_ASSERT(eq(te->items, items, 3));
    CU_ASSERT(eq(te->next, next, 3));
    CU_ASSERT_EQUAL(te->label[0], 5);
    kd_dataset_free(&ds);
}

/* MovieLens ratings.csv (userId,movieId,rating,timestamp): the same splits */
static void test_csv_ratings(void)
{
    const char *p = kd_tmp_path("ratings.csv");
    CU_ASSERT_EQUAL_FATAL(kd_write_text(p, "userId,movieId,rating,timestamp\n"
                                           "1,10,5.0,100\n1,20,3.5,50\n1,30,4,200\n"
                                           "3,30,5,5\n1,40,4.5,300\n2,20,5,10\n"
                                           "2,10,1,20\n3,40,5,6\n2,50,2,30\n"), 0);
    kd_dataset ds;
    CU_ASSERT_EQUAL_FATAL(kd_load_sequences(p, KD_SEQ_CSV, 2, 1, 0, &ds, kd_err,
                                            sizeof kd_err), KD_DATA_OK);
    check_small(&ds);
    kd_dataset_free(&ds);
}

/* min_len drops short users; train_all gives one train sample per
 * position 1..m-3 with its own target and history */
static void test_seq_options(void)
{
    const char *p = kd_tmp_path("opts.csv");
    /* user 1: 6 items 1..6 in time order; user 2: 4 items 7..10 */
    CU_ASSERT_EQUAL_FATAL(kd_write_text(p, "1,1,1\n1,2,2\n1,3,3\n1,4,4\n1,5,5\n1,6,6\n"
                                           "2,7,1\n2,8,2\n2,9,3\n2,10,4\n"), 0);
    kd_dataset ds;
    kd_seq_opts o = { .max_len = 3, .negatives = 2, .min_len = 5, .train_all = 0 };
    CU_ASSERT_EQUAL_FATAL(kd_load_sequences_opt(p, KD_SEQ_CSV, &o, 0, &ds, kd_err,
                                                sizeof kd_err), KD_DATA_OK);
    CU_ASSERT_EQUAL(ds.users, 1);
    kd_split *tr = kd_dataset_split(&ds, "train"), *te = kd_dataset_split(&ds, "test");
    CU_ASSERT_FATAL(tr && te);
    CU_ASSERT_EQUAL(tr->n, 1);
    CU_ASSERT_EQUAL(tr->label[0], 4);
    CU_ASSERT_EQUAL(te->label[0], 6);
    kd_dataset_free(&ds);
    o.min_len = 3;
    o.train_all = 1;
    CU_ASSERT_EQUAL_FATAL(kd_load_sequences_opt(p, KD_SEQ_CSV, &o, 0, &ds, kd_err,
                                                sizeof kd_err), KD_DATA_OK);
    CU_ASSERT_EQUAL(ds.users, 2);
    tr = kd_dataset_split(&ds, "train");
    te = kd_dataset_split(&ds, "test");
    kd_split *va = kd_dataset_split(&ds, "val");
    CU_ASSERT_FATAL(tr && te && va);
    /* user 1: targets at positions 1, 2, 3 (items 2, 3, 4); user 2: position 1 */
    CU_ASSERT_EQUAL_FATAL(tr->n, 4);
    CU_ASSERT_EQUAL(va->n, 2);
    CU_ASSERT_EQUAL(te->n, 2);
    static const int32_t label[] = { 2, 3, 4, 8 }, user[] = { 0, 0, 0, 1 };
    static const int32_t items[] = { 0, 0, 1, 0, 1, 2, 1, 2, 3, 0, 0, 7 };
    static const int32_t next[] = { 0, 0, 2, 0, 2, 3, 2, 3, 4, 0, 0, 8 };
    CU_ASSERT(eq(tr->label, label, 4));
    CU_ASSERT(eq(tr->user, user, 4));
    CU_ASSERT(eq(tr->items, items, 12));
    CU_ASSERT(eq(tr->next, next, 12));
    CU_ASSERT_EQUAL(va->label[0], 5);
    CU_ASSERT_EQUAL(te->label[1], 10);
    kd_dataset_free(&ds);
    /* negatives 0: no candidates sampled (full ranking) */
    o.negatives = 0;
    CU_ASSERT_EQUAL_FATAL(kd_load_sequences_opt(p, KD_SEQ_CSV, &o, 0, &ds, kd_err,
                                                sizeof kd_err), KD_DATA_OK);
    CU_ASSERT_PTR_NULL(kd_dataset_split(&ds, "test")->neg);
    CU_ASSERT_PTR_NULL(kd_dataset_split(&ds, "val")->neg);
    CU_ASSERT_EQUAL(kd_dataset_split(&ds, "test")->n, 2);
    kd_dataset_free(&ds);
    o.negatives = -1;
    CU_ASSERT_EQUAL(kd_load_sequences_opt(p, KD_SEQ_CSV, &o, 0, &ds, kd_err, sizeof kd_err),
                    KD_DATA_EARG);
    o.negatives = 2;
    /* ids too sparse for a table: the sort path gives the same numbering */
    CU_ASSERT_EQUAL_FATAL(kd_write_text(p, "900000000001,5000000000000,3\n"
                                           "900000000001,7,1\n900000000001,600000,2\n"
                                           "2,7,9\n2,5000000000000,8\n2,600000,7\n"
                                           "5,11,1\n5,12,2\n5,13,3\n"), 0);
    o.train_all = 0;
    CU_ASSERT_EQUAL_FATAL(kd_load_sequences_opt(p, KD_SEQ_CSV, &o, 0, &ds, kd_err,
                                                sizeof kd_err), KD_DATA_OK);
    CU_ASSERT_EQUAL(ds.items, 6);
    te = kd_dataset_split(&ds, "test");
    CU_ASSERT_FATAL(te != NULL);
    /* items 7 11 12 13 600000 5e12 -> 1..6; users in id order 2, 5, 9e11:
     * 5 6 1, 2 3 4, 1 5 6 */
    static const int32_t te_items[] = { 0, 5, 6, 0, 2, 3, 0, 1, 5 }, te_label[] = { 1, 4, 6 };
    CU_ASSERT(eq(te->items, te_items, 9));
    CU_ASSERT(eq(te->label, te_label, 3));
    kd_dataset_free(&ds);
    CU_ASSERT_EQUAL_FATAL(kd_write_text(p, "1,2,3\n1,99999999999999999999,3\n"), 0);
    o.negatives = 1;
    CU_ASSERT_EQUAL(kd_load_sequences_opt(p, KD_SEQ_CSV, &o, 0, &ds, kd_err, sizeof kd_err),
                    KD_DATA_EFORMAT);
    CU_ASSERT(strstr(kd_err, ":2: expected user,item[,rating],timestamp") != NULL);
    o.negatives = 2;
    CU_ASSERT_EQUAL_FATAL(kd_write_text(p, "1,1,1\n1,2,2\n1,3,3\n1,4,4\n1,5,5\n1,6,6\n"
                                           "2,7,1\n2,8,2\n2,9,3\n2,10,4\n"), 0);
    o.min_len = 7;
    CU_ASSERT_EQUAL(kd_load_sequences_opt(p, KD_SEQ_CSV, &o, 0, &ds, kd_err, sizeof kd_err),
                    KD_DATA_EFORMAT);
    char want[600];
    snprintf(want, sizeof want, "%s: no user has 7 or more interactions (leave-one-out "
             "needs train, val and test items)", p);
    KD_ASSERT_STR_EQ(kd_err, want);
    o.min_len = 2;
    CU_ASSERT_EQUAL(kd_load_sequences_opt(p, KD_SEQ_CSV, &o, 0, &ds, kd_err, sizeof kd_err),
                    KD_DATA_EARG);
    snprintf(want, sizeof want, "%s: min_len 2 (need at least 3: train, val and test items)", p);
    KD_ASSERT_STR_EQ(kd_err, want);
}

static void expect_seq_error(const char *text, kd_seq_format fmt, int64_t neg,
                             kd_data_status st, const char *tail)
{
    const char *p = kd_tmp_path("bad.txt");
    char want[1024];
    CU_ASSERT_EQUAL_FATAL(kd_write_text(p, text), 0);
    kd_dataset ds;
    kd_err[0] = 0;
    CU_ASSERT_EQUAL(kd_load_sequences(p, fmt, 4, neg, 0, &ds, kd_err, sizeof kd_err), st);
    snprintf(want, sizeof want, "%s%s", p, tail);
    KD_ASSERT_STR_EQ(kd_err, want);
    CU_ASSERT_EQUAL(ds.nsplits, 0);
}

static void test_sequence_errors(void)
{
    expect_seq_error("user,item,timestamp\n1,2,3\n1,3,4\n1,x,5\n", KD_SEQ_CSV, 1,
                     KD_DATA_EFORMAT, ":4: expected user,item[,rating],timestamp "
                     "(non-negative integer ids and timestamp), got \"1,x,5\"");
    expect_seq_error("1,2,3\n1,3\n", KD_SEQ_CSV, 1, KD_DATA_EFORMAT,
                     ":2: expected user,item[,rating],timestamp (non-negative integer ids and "
                     "timestamp), got \"1,3\"");
    expect_seq_error("1,2,3\n1,3,4,5,6\n", KD_SEQ_CSV, 1, KD_DATA_EFORMAT,
                     ":2: expected user,item[,rating],timestamp (non-negative integer ids "
                     "and timestamp), got \"1,3,4,5,6\"");
    expect_seq_error("1,2,3\n1,3,4.5,6.5\n", KD_SEQ_CSV, 1, KD_DATA_EFORMAT,
                     ":2: expected user,item[,rating],timestamp (non-negative integer ids "
                     "and timestamp), got \"1,3,4.5,6.5\"");
    expect_seq_error("1,2,3\n-1,3,4\n", KD_SEQ_CSV, 1, KD_DATA_EFORMAT,
                     ":2: expected user,item[,rating],timestamp (non-negative integer ids and "
                     "timestamp), got \"-1,3,4\"");
    expect_seq_error("1::10::5::100\n1::10::5\n", KD_SEQ_MOVIELENS, 1, KD_DATA_EFORMAT,
                     ":2: expected UserID::MovieID::Rating::Timestamp, got \"1::10::5\"");
    /* MovieLens has no header line */
    expect_seq_error("UserID::MovieID::Rating::Timestamp\n", KD_SEQ_MOVIELENS, 1,
                     KD_DATA_EFORMAT, ":1: expected UserID::MovieID::Rating::Timestamp, "
                     "got \"UserID::MovieID::Rating::Timestamp\"");
    expect_seq_error("user,item,timestamp\n\n", KD_SEQ_CSV, 1, KD_DATA_EFORMAT,
                     ": no interactions");
    expect_seq_error("1,1,1\n1,2,2\n2,1,1\n", KD_SEQ_CSV, 1, KD_DATA_EFORMAT,
                     ": no user has 3 or more interactions (leave-one-out needs train, "
                     "val and test items)");
    expect_seq_error(CSV, KD_SEQ_CSV, 2, KD_DATA_EFORMAT,
                     ": user 1 interacted with 4 of the 5 items: fewer than 2 left to "
                     "sample negatives from");
    kd_dataset ds;
    CU_ASSERT_EQUAL(kd_load_sequences("/nonexistent/ratings.dat", KD_SEQ_MOVIELENS, 4, 1, 0,
                                      &ds, kd_err, sizeof kd_err), KD_DATA_ENOENT);
    KD_ASSERT_STR_EQ(kd_err, "/nonexistent/ratings.dat: cannot open: No such file or "
                     "directory");
}

static void test_synth_sequences(void)
{
    enum { U = 50, I = 20, LEN = 10, L = 12, K = 5 };
    kd_dataset a, b, c;
    CU_ASSERT_EQUAL_FATAL(kd_synth_sequences(U, I, LEN, L, K, 7, &a, kd_err, sizeof kd_err),
                          KD_DATA_OK);
    CU_ASSERT_EQUAL_FATAL(kd_synth_sequences(U, I, LEN, L, K, 7, &b, kd_err, sizeof kd_err),
                          KD_DATA_OK);
    CU_ASSERT_EQUAL_FATAL(kd_synth_sequences(U, I, LEN, L, K, 8, &c, kd_err, sizeof kd_err),
                          KD_DATA_OK);
    CU_ASSERT_EQUAL(a.items, I);
    CU_ASSERT_EQUAL(a.users, U);
    kd_split *te = kd_dataset_split(&a, "test"), *tb = kd_dataset_split(&b, "test"),
             *tc = kd_dataset_split(&c, "test");
    CU_ASSERT_FATAL(te && tb && tc);
    CU_ASSERT_EQUAL(te->n, U);
    CU_ASSERT_EQUAL(memcmp(te->items, tb->items, sizeof(int32_t) * U * L), 0);
    CU_ASSERT_EQUAL(memcmp(te->neg, tb->neg, sizeof(int32_t) * U * K), 0);
    CU_ASSERT_NOT_EQUAL(memcmp(te->items, tc->items, sizeof(int32_t) * U * L), 0);
    int bad = 0, pairs[I + 1][I + 1];
    memset(pairs, 0, sizeof pairs);
    int distinct = 0;
    for (int u = 0; u < U; u++) {
        const int32_t *it = te->items + u * L, *nx = te->next + u * L;
        /* L > LEN: the full history, left-padded by L - (LEN - 1) zeros */
        for (int q = 0; q < L; q++) {
            int pad = q < L - (LEN - 1);
            bad += pad ? it[q] != 0 || nx[q] != 0 : it[q] < 1 || it[q] > I;
            if (!pad && q + 1 < L)
                bad += nx[q] != it[q + 1];
            if (!pad && !pairs[it[q]][nx[q]]++)
                distinct++;
        }
        bad += nx[L - 1] != te->label[u];
        /* negatives: distinct, in range, never seen by the user */
        for (int k = 0; k < K; k++) {
            int32_t g = te->neg[u * K + k];
            bad += g < 1 || g > I || g == te->label[u];
            for (int q = 0; q < L; q++)
                bad += it[q] == g;
            for (int k2 = 0; k2 < k; k2++)
                bad += te->neg[u * K + k2] == g;
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    /* 450 transitions over a chain of 3 successors per item (plus 10% noise):
     * far fewer distinct pairs than the ~330 of uniform random moves */
    CU_ASSERT(distinct < 150);
    CU_ASSERT(distinct > 20);
    kd_dataset_free(&a);
    kd_dataset_free(&b);
    kd_dataset_free(&c);
    CU_ASSERT_EQUAL(kd_synth_sequences(10, 5, 10, 4, 5, 1, &a, kd_err, sizeof kd_err),
                    KD_DATA_EFORMAT);
    CU_ASSERT(strstr(kd_err, "synth_sequences: user ") == kd_err);
    CU_ASSERT_EQUAL(kd_synth_sequences(10, 1, 10, 4, 5, 1, &a, kd_err, sizeof kd_err),
                    KD_DATA_EARG);
    KD_ASSERT_STR_EQ(kd_err, "synth_sequences: need users >= 1, items >= 2, length >= 3 "
                     "(got 10, 1, 10)");
}

int main(void)
{
    static const kd_unit_test tests[] = {
        KD_TEST(test_movielens),
        KD_TEST(test_csv),
        KD_TEST(test_csv_ratings),
        KD_TEST(test_seq_options),
        KD_TEST(test_sequence_errors),
        KD_TEST(test_synth_sequences),
        KD_TEST_END
    };
    int rc = kd_unit_main("sequences", tests);
    kd_tmp_cleanup();
    return rc;
}
