/* test_timing_rows.c — the throughput panel of curves.svg: the lines of a
 * run's timing.csv become rows "images/s" (runtime/timing_rows.c; a resumed
 * epoch's second line replaces its first, a cut or header line is skipped)
 * and kd_plot_svg draws them in a panel of their own, right of the
 * evaluation panel, or right of a search's weights panel when there is one. */
#define _GNU_SOURCE 1   /* mkdtemp, open_memstream */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../unit.h"
#include "../../runtime/run_logs.h"

static char dir[64];

static char *svg(const kd_metric_row *r, int n)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(kd_plot_svg(f, r, n, "t"), 0);
    fclose(f);
    return buf;
}

static void test_rows(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/timing.csv", dir);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("phase,epoch,steps_timed,seconds,step_ms,images_per_s\n"
          "pre,1,10,1.000,100.00,1280.0\n"
          "pre,2,10,1.000,100.00,1000.0\n"
          "pre,2,4,0.500,125.00,1024.5\n"     /* epoch 2 again, after --resume */
          "kd,1,10,2.000,200.00,640.0\n"
          "kd,2,10,2.0", f);                  /* cut by a kill */
    fclose(f);
    kd_metric_row base[2];
    memset(base, 0, sizeof base);
    snprintf(base[0].phase, sizeof base[0].phase, "pre");
    snprintf(base[0].what, sizeof base[0].what, "train loss");
    base[0].epoch = 1;
    base[0].value = 2.5;
    base[1] = base[0];
    base[1].epoch = 2;
    base[1].value = 1.5;
    int n = -1;
    kd_metric_row *r = kd_rows_with_timing(dir, base, 2, &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL_FATAL(n, 5);
    CU_ASSERT_STRING_EQUAL(r[0].what, "train loss");
    CU_ASSERT_STRING_EQUAL(r[2].what, "images/s");
    CU_ASSERT_STRING_EQUAL(r[2].phase, "pre");
    CU_ASSERT_EQUAL(r[2].epoch, 1);
    CU_ASSERT_DOUBLE_EQUAL(r[2].value, 1280.0, 0);
    CU_ASSERT_EQUAL(r[3].epoch, 2);
    CU_ASSERT_DOUBLE_EQUAL(r[3].value, 1024.5, 0);   /* the last line of epoch 2 */
    CU_ASSERT_STRING_EQUAL(r[4].phase, "kd");
    CU_ASSERT_DOUBLE_EQUAL(r[4].value, 640.0, 0);

    /* the throughput panel: the fourth slot is not needed without a search */
    char *s = svg(r, n);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "width=\"1500\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, ">images/s (wall clock)</text>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "<rect x=\"1080\" y=\"60\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "epoch 2: 1024.5</title>"));
    CU_ASSERT_PTR_NULL(strstr(s, "<rect x=\"1580\""));
    free(s);
    /* with a search's weights: they keep the third slot, throughput the fourth */
    kd_metric_row *r2 = realloc(r, (size_t)(n + 1) * sizeof *r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r2);
    r = r2;
    r[n] = base[0];
    snprintf(r[n].what, sizeof r[n].what, "s softmax(alpha)[1]");
    r[n].value = 0.5;
    s = svg(r, n + 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "width=\"2000\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "<rect x=\"1080\" y=\"60\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "<rect x=\"1580\" y=\"60\""));
    CU_ASSERT(strstr(s, ">softmax(alpha)</text>") < strstr(s, ">images/s (wall clock)</text>"));
    free(s);
    free(r);

    /* no timing.csv: the rows as they are */
    unlink(path);
    r = kd_rows_with_timing(dir, base, 2, &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(n, 2);
    free(r);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/kdrun-timing-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    static const kd_unit_test tests[] = {
        KD_TEST(test_rows),
        KD_TEST_END
    };
    int rc = kd_unit_main("timing_rows", tests);
    rmdir(dir);
    return rc;
}
