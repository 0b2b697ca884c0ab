/* test_tcache_cli.c — the teacher cache end to end (tests/cli;
 * runtime/teacher_cache.h): a frozen teacher on Fashion-MNIST without
 * augmentation, batches of 50 on 2 threads (25 rows a thread: rows at the
 * ends of the kernels' blocks).
 *   - metrics.csv is the same, byte for byte, with the cache on (the
 *     default) and with --teacher-cache off; on, every distillation step
 *     is served and report.yaml says so; off, report.yaml says why;
 *   - with augmentation, a cap too small, or (by default) records large for
 *     the work they save, it is off, and says why;
 *   - a bad --teacher-cache value is a usage error.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/cli/cli_util.h"

static const char *recipe(const char *name, const char *augment, const char *more)
{
    static char text[4096];
    snprintf(text, sizeof text,
             "data f = idx(\"/usr/share/datasets/fashion-mnist\") {\n"
             "  train \"train\" holdout 100 as val\n"
             "  limit 600\n"
             "%s"
             "  normalize mean: 0.2860, std: 0.3530\n"
             "}\n"
             "net small(c) {\n"
             "  stage[1] = relu(bn(conv(in, c, k: 3, pad: 1, stride: 2)))\n"
             "  pooled = mean(relu(bn(conv(stage[1], c, k: 3, pad: 1))), over: hw)\n"
             "  logits = linear(pooled, 10)\n"
             "  out logits\n"
             "}\n"
             "model t = small(8)\n"
             "model s = small(4)\n"
             "phase pre {\n"
             "  train t on f.train\n"
             "  epochs 1; batch 50; seed 2\n"
             "  optimizer sgd(lr: 0.05, momentum: 0.9)\n"
             "  loss ce(t.logits, label)\n"
             "}\n"
             "phase distill {\n"
             "  train s on f.train\n"
             "  teacher t frozen\n"
             "  epochs 3; batch 50; seed 3\n"
             "  optimizer sgd(lr: 0.05, momentum: 0.9)\n"
             "  loss 0.5 * ce(s.logits, label) + 0.5 * kd(s.logits, t.logits, T: 4)%s\n"
             "  evaluate s on f.val: top1\n"
             "}\n", augment, more);
    return write_tmp(name, text);
}

static char *file_of(const char *dir, const char *name)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return kd_unit_slurp(p, NULL);
}

static void test_tcache_same_numbers(void)
{
    if (!have_fmnist()) return;
    char runs[400], a[800], b[800], pa[900], pb[900];
    snprintf(runs, sizeof runs, "%s/runs", tmpdir);
    setenv("KDRUN_RUNS", runs, 1);
    const char *rec = recipe("plain.kdr", "", "");
    run_result r = run_kdrun("--threads", "2", "--teacher-cache", "off", rec, NULL);
    CU_ASSERT_EQUAL_FATAL(r.status, 0);
    CU_ASSERT(contains(r.err, "phase distill: teacher cache off for f.train: --teacher-cache off"));
    run_free(&r);
    CU_ASSERT_FATAL(newest_run(runs, "plain", a, sizeof a) == 0);
    sleep(1);   /* a new run directory (named by the second) */
    r = run_kdrun("--threads", "2", rec, NULL);
    CU_ASSERT_EQUAL_FATAL(r.status, 0);
    /* 600 training images, batch 50: 12 steps an epoch, all 36 served */
    CU_ASSERT(contains(r.err, "phase distill: teacher cache: the frozen models run over f.train to fill it (12 batches)"));
    CU_ASSERT(contains(r.err, "phase distill: teacher cache on f.train: 36 of 36 steps served, 600 samples kept"));
    CU_ASSERT(!contains(r.err, "phase pre: teacher cache"));   /* nothing frozen there */
    if (!contains(r.err, "36 of 36 steps served")) fprintf(stderr, "\n%s\n", r.err);
    run_free(&r);
    CU_ASSERT_FATAL(newest_run(runs, "plain", b, sizeof b) == 0);
    CU_ASSERT_FATAL(strcmp(a, b) != 0);
    snprintf(pa, sizeof pa, "%s/metrics.csv", a);
    snprintf(pb, sizeof pb, "%s/metrics.csv", b);
    CU_ASSERT(same_file(pa, pb));
    char *y = file_of(b, "report.yaml");
    CU_ASSERT_PTR_NOT_NULL_FATAL(y);
    CU_ASSERT(contains(y, "teacher_cache:\n- phase: distill\n  data: f.train\n  state: on\n"));
    CU_ASSERT(contains(y, "  samples_kept: 600\n"));
    CU_ASSERT(contains(y, "  steps_served: 36\n  steps_run: 0\n  fill_passes: 1\n  records_dropped: 0\n"));
    free(y);
    y = file_of(a, "report.yaml");
    CU_ASSERT_PTR_NOT_NULL_FATAL(y);
    CU_ASSERT(contains(y, "  state: off\n  reason: --teacher-cache off\n"));
    free(y);
}

static void test_tcache_off(void)
{
    if (!have_fmnist()) return;
    char runs[400], a[800];
    snprintf(runs, sizeof runs, "%s/runs", tmpdir);
    setenv("KDRUN_RUNS", runs, 1);
    run_result r = run_kdrun("--threads", "1", recipe("aug.kdr", "  augment train: flip(horizontal)\n", ""), NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT(contains(r.err, "phase distill: teacher cache off for f.train: the data is augmented at random"));
    run_free(&r);
    CU_ASSERT_FATAL(newest_run(runs, "aug", a, sizeof a) == 0);
    char *y = file_of(a, "report.yaml");
    CU_ASSERT(contains(y, "  state: off\n  reason: the data is augmented at random\n"));
    free(y);
    r = run_kdrun("--threads", "1", "--teacher-cache", "4K", recipe("cap.kdr", "", ""), NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT(contains(r.err, "phase distill: teacher cache off for f.train: 600 samples of "));
    CU_ASSERT(contains(r.err, "over the cap of 0.0 MiB"));
    run_free(&r);
    /* an attention term on 8 x 14 x 14 features: 6 KiB kept per sample for
     * 0.13 M multiply-adds; off by default, on with an explicit size */
    const char *at = recipe("at.kdr", "", " + 0.1 * at(s.stage[1], t.stage[1])");
    r = run_kdrun("--threads", "1", at, NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT(contains(r.err, "phase distill: teacher cache off for f.train: 6.2 KiB kept per sample for 0.1 M "
                              "multiply-adds skipped (20 per byte, under 500): copying would cost about what "
                              "it saves; an explicit --teacher-cache SIZE keeps them anyway"));
    if (!contains(r.err, "(20 per byte")) fprintf(stderr, "\n%s\n", r.err);
    run_free(&r);
    r = run_kdrun("--threads", "1", "--teacher-cache", "64", at, NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT(contains(r.err, "phase distill: teacher cache on f.train: 36 of 36 steps served, 600 samples kept (3.6 MiB, 6304 B each)"));
    run_free(&r);
    r = run_kdrun("--teacher-cache", "12X", recipe("bad.kdr", "", ""), NULL);
    CU_ASSERT_EQUAL(r.status, 2);
    CU_ASSERT(contains(r.err, "--teacher-cache 12X: expected a size in MiB"));
    run_free(&r);
}

int main(void)
{
    if (cli_begin("tcache")) return 2;
    static const kd_unit_test tests[] = {
        KD_TEST(test_tcache_same_numbers),
        KD_TEST(test_tcache_off),
        KD_TEST_END
    };
    int status = kd_unit_main("tcache_cli", tests);
    return cli_end(status);
}
