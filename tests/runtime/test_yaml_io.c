/* test_yaml_io.c — the YAML emitter and reader of yaml_io.h.
 *
 * The emitter's exact text for every kind of scalar (plain, quoted, empty,
 * null, exact and %g numbers, non-finite numbers), block and flow
 * collections and the line width; an I/O error reported through errno.
 * The number spellings read back as the numbers written.  The reader on a
 * small document: values, absent and null keys, and the message of each
 * kind of problem.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unit.h"
#include "runtime/yaml_io.h"

static char *emit_doc(int width, int (*fn)(kd_yemit *))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    kd_yemit y;
    int rc = kd_ye_open(&y, f, width);
    if (rc == 0) {
        fn(&y);
        rc = kd_ye_close(&y);
    }
    fclose(f);
    if (rc) { free(buf); return NULL; }
    return buf;
}

static int doc_scalars(kd_yemit *y)
{
    kd_ye_map(y, 0);
    kd_ye_str(y, "plain"); kd_ye_str(y, "student top1 on fmnist.val");
    kd_ye_str(y, "needs quotes"); kd_ye_str(y, "a: b");
    kd_ye_str(y, "empty"); kd_ye_str(y, "");
    kd_ye_str(y, "null"); kd_ye_str(y, NULL);
    kd_ye_str(y, "label"); kd_ye_quoted(y, "14");
    kd_ye_str(y, "none"); kd_ye_null(y);
    kd_ye_str(y, "exact"); kd_ye_num(y, 0.1);
    kd_ye_str(y, "third"); kd_ye_num(y, 1.0 / 3);
    kd_ye_str(y, "g10"); kd_ye_num_prec(y, 1.0 / 3, 10);
    kd_ye_str(y, "int"); kd_ye_int(y, -12345678901LL);
    kd_ye_str(y, "nonfinite");
    kd_ye_seq(y, 1);
    kd_ye_num(y, NAN); kd_ye_num(y, INFINITY); kd_ye_num(y, -INFINITY);
    kd_ye_seq_end(y);
    kd_ye_str(y, "flow");
    kd_ye_map(y, 1);
    kd_ye_str(y, "k"); kd_ye_quoted(y, "v");
    kd_ye_map_end(y);
    kd_ye_str(y, "list");
    kd_ye_seq(y, 0);
    kd_ye_str(y, "\xc3\xa9t\xc3\xa9");
    kd_ye_map(y, 0);
    kd_ye_str(y, "x"); kd_ye_int(y, 1);
    kd_ye_map_end(y);
    kd_ye_seq_end(y);
    kd_ye_map_end(y);
    return 0;
}

static const char *long_words =
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen";

static int doc_long(kd_yemit *y)
{
    kd_ye_map(y, 0);
    kd_ye_str(y, "text"); kd_ye_str(y, long_words);
    kd_ye_map_end(y);
    return 0;
}

static void test_emit(void)
{
    char *t = emit_doc(-1, doc_scalars);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    KD_ASSERT_STR_EQ(t,
        "plain: student top1 on fmnist.val\n"
        "needs quotes: 'a: b'\n"
        "empty: \"\"\n"
        "null: \"\"\n"
        "label: \"14\"\n"
        "none: null\n"
        "exact: 0.1\n"
        "third: 0.3333333333333333\n"
        "g10: 0.3333333333\n"
        "int: -12345678901\n"
        "nonfinite: [.nan, .inf, -.inf]\n"
        "flow: {k: \"v\"}\n"
        "list:\n"
        "- \xc3\xa9t\xc3\xa9\n"
        "- x: 1\n"
        "...\n");
    free(t);
    /* width: -1 never folds, 0 is libyaml's 80 columns */
    t = emit_doc(-1, doc_long);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    char want[256];
    snprintf(want, sizeof want, "text: %s\n...\n", long_words);
    KD_ASSERT_STR_EQ(t, want);
    free(t);
    t = emit_doc(0, doc_long);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    KD_ASSERT_STR_EQ(t, "text: one two three four five six seven eight nine ten eleven twelve "
                        "thirteen fourteen\n  fifteen sixteen\n...\n");
    free(t);
}

static void test_emit_io_error(void)
{
    FILE *f = fopen("/dev/full", "w");
    if (!f) return;                     /* no /dev/full here: nothing to check */
    setvbuf(f, NULL, _IONBF, 0);
    kd_yemit y;
    CU_ASSERT_EQUAL_FATAL(kd_ye_open(&y, f, -1), 0);
    doc_long(&y);
    errno = 0;
    CU_ASSERT_EQUAL(kd_ye_close(&y), -1);
    CU_ASSERT_EQUAL(errno, ENOSPC);
    fclose(f);
}

static void test_numbers(void)
{
    static const double vs[] = { 0, -0.0, 0.1, 1.0 / 3, 1e-300, 1.7976931348623157e308,
                                 72.5, -3, 123456789012345678.0 };
    char buf[64];
    for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++) {
        double back = NAN;
        kd_yaml_fmt_num(buf, sizeof buf, vs[i]);
        CU_ASSERT_EQUAL(kd_yaml_parse_num(buf, &back), 0);
        CU_ASSERT(back == vs[i]);
    }
    kd_yaml_fmt_num(buf, sizeof buf, 0.1);
    KD_ASSERT_STR_EQ(buf, "0.1");
    double v = 0;
    CU_ASSERT(kd_yaml_parse_num("-.Inf", &v) == 0 && isinf(v) && v < 0);
    CU_ASSERT(kd_yaml_parse_num(".NaN", &v) == 0 && isnan(v));
    CU_ASSERT_EQUAL(kd_yaml_parse_num("", &v), -1);
    CU_ASSERT_EQUAL(kd_yaml_parse_num(" 1", &v), -1);
    CU_ASSERT_EQUAL(kd_yaml_parse_num("1x", &v), -1);
    CU_ASSERT_EQUAL(kd_yaml_parse_num("soon", &v), -1);
}

/* ---- reading ------------------------------------------------------------------- */

static char errbuf[4096];
static char dir[256];

/* A fresh directory to work in: the file read is "t.yaml" there. */
static int make_dir(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/kd_yaml_io_XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(dir) && chdir(dir) == 0 ? 0 : -1;
}

static int remove_dir(void)
{
    remove("t.yaml");
    if (chdir("/") != 0) return -1;
    return rmdir(dir);
}

/* Load text as t.yaml; messages go to errbuf. */
static int load(kd_yfile *y, const char *text)
{
    FILE *f = fopen("t.yaml", "w");
    if (!f) return -2;
    fputs(text, f);
    fclose(f);
    memset(y, 0, sizeof *y);
    memset(errbuf, 0, sizeof errbuf);
    y->path = "t.yaml";
    y->err = fmemopen(errbuf, sizeof errbuf, "w");
    return kd_yload(y, "report");
}

static const char *messages(kd_yfile *y)
{
    fflush(y->err);
    return errbuf;
}

static void unload(kd_yfile *y)
{
    kd_yfree(y);
    fclose(y->err);
}

static void test_read(void)
{
    kd_yfile y;
    CU_ASSERT_EQUAL_FATAL(load(&y, "name: kd\nn: 3\nx: ~\nlist: [1, 2]\n"
                                   "m: {a: 1}\nbad: soon\nhalf: 2.5\n"), 0);
    const char *s;
    double v;
    int have, bad = 0;
    CU_ASSERT_EQUAL(kd_ytext(&y, y.root, "name", KD_Y_REQUIRED, &s), 0);
    KD_ASSERT_STR_EQ(s, "kd");
    CU_ASSERT_EQUAL(kd_ytext(&y, y.root, "x", KD_Y_NULL_OK, &s), 0);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_EQUAL(kd_ynum(&y, y.root, "n", KD_Y_REQUIRED, 1, &v, &have), 0);
    CU_ASSERT(have && v == 3);
    CU_ASSERT_EQUAL(kd_ynum(&y, y.root, "absent", 0, 0, &v, &have), 0);
    CU_ASSERT_EQUAL(have, 0);
    CU_ASSERT_EQUAL(kd_ynum(&y, y.root, "x", 0, 0, &v, &have), 0);
    CU_ASSERT_EQUAL(have, 0);
    yaml_node_t *l = kd_ytyped(&y, y.root, "list", YAML_SEQUENCE_NODE, 0, &bad), *n;
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    double sum = 0;
    KD_YSEQ_FOR(&y, l, it, n) sum += atof(kd_yscalar(n));
    CU_ASSERT_EQUAL(sum, 3);
    KD_ASSERT_STR_EQ(messages(&y), "");
    /* the problems, one message each */
    CU_ASSERT_EQUAL(kd_ynum(&y, y.root, "bad", 0, 0, &v, &have), -1);
    CU_ASSERT_EQUAL(kd_ynum(&y, y.root, "half", 0, 1, &v, &have), -1);
    CU_ASSERT_EQUAL(kd_ytext(&y, y.root, "gone", KD_Y_REQUIRED, &s), -1);
    CU_ASSERT_EQUAL(kd_ytext(&y, y.root, "m", 0, &s), -1);
    CU_ASSERT_PTR_NULL(kd_ytyped(&y, y.root, "name", YAML_MAPPING_NODE, 0, &bad));
    CU_ASSERT_EQUAL(bad, 1);
    KD_ASSERT_STR_EQ(messages(&y),
        "t.yaml:6:6: 'bad' is not a number: 'soon'\n"
        "t.yaml:7:7: 'half' is not a whole number: '2.5'\n"
        "t.yaml:1:1: missing key 'gone'\n"
        "t.yaml:5:4: 'm' is a mapping, not text\n"
        "t.yaml:1:7: 'name' is a scalar, not a mapping\n");
    unload(&y);

    CU_ASSERT_EQUAL(load(&y, "a: 1\na: 2\n"), -1);
    KD_ASSERT_STR_EQ(messages(&y), "t.yaml:2:1: 'a' is given twice in the report\n");
    unload(&y);
    CU_ASSERT_EQUAL(load(&y, "- 1\n"), -1);
    KD_ASSERT_STR_EQ(messages(&y), "t.yaml:1:1: expected a mapping of report keys, found a list\n");
    unload(&y);
    CU_ASSERT_EQUAL(load(&y, ""), -1);
    KD_ASSERT_STR_EQ(messages(&y), "t.yaml: empty file, no report\n");
    unload(&y);
}

int main(void)
{
    static const kd_unit_test tests[] = {
        KD_TEST(test_emit),
        KD_TEST(test_emit_io_error),
        KD_TEST(test_numbers),
        KD_TEST(test_read),
        KD_TEST_END
    };
    if (kd_unit_init() != 0)
        return 2;
    if (kd_unit_suite_full("yaml_io", make_dir, remove_dir, tests) != 0) {
        CU_cleanup_registry();
        return 2;
    }
    return kd_unit_run();
}
