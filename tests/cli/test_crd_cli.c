/* test_crd_cli.c — crd (ops/crd.c) end to end (tests/cli): a phase
 * distilling with crd, interrupted with SIGINT after its first epoch and
 * resumed with --resume, writes the same metrics.csv, byte for byte, as the
 * run that was not interrupted (the memory banks and Z are in
 * state.safetensors, the negatives are keyed by the restored forward
 * counter); the banks are stored under the phase's name; a bank smaller
 * than the training split stops the run at the crd term.
 */
#include "config.h"

#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/cli/cli_util.h"


/* needle (a C string) somewhere in the n bytes of hay */
static int has_bytes(const char *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0) return 1;
    return 0;
}

static const char *CRD_HEAD =
    "data f = idx(\"/usr/share/datasets/fashion-mnist\") {\n"
    "  train \"train\" holdout 100 as val\n"
    "  limit 600\n"
    "  normalize mean: 0.2860, std: 0.3530\n"
    "}\n"
    "net small(c) {\n"
    "  stage[1] = relu(conv(in, c, k: 3, pad: 1, stride: 2))\n"
    "  pooled = mean(relu(conv(stage[1], c, k: 3, pad: 1)), over: hw)\n"
    "  logits = linear(pooled, 10)\n"
    "  out logits\n"
    "}\n"
    "net head(d) { out linear(in, d) }\n"
    "model t = small(8)\n"
    "model p = small(4)\n"
    "model es = head(16)\n"
    "model et = head(16)\n"
    "phase pre {\n"
    "  train t on f.train\n"
    "  epochs 1; batch 50; seed 2\n"
    "  optimizer sgd(lr: 0.05, momentum: 0.9)\n"
    "  loss ce(t.logits, label)\n"
    "}\n"
    "phase distill {\n"
    "  train p, es, et on f.train\n"
    "  teacher t frozen\n"
    "  epochs 4; batch 20; seed 3\n"
    "  optimizer sgd(lr: 0.05, momentum: 0.9)\n"
    "  loss ce(p.logits, label)\n";

static const char *crd_recipe(const char *name, const char *n)
{
    static char text[4096];
    snprintf(text, sizeof text, "%s"
             "     + 0.8 * crd(es(p.pooled), et(t.pooled), index, n: %s, k: 256)\n"
             "}\n"
             "report { evaluate p on f.val: top1 }\n", CRD_HEAD, n);
    return write_tmp(name, text);
}

static void test_crd_resume(void)
{
    if (!have_fmnist()) return;
    char runs[400], a[800], b[800], pa[900], pb[900];
    snprintf(runs, sizeof runs, "%s/runs", tmpdir);
    setenv("KDRUN_RUNS", runs, 1);
    const char *recipe = crd_recipe("crd.kdr", "600");
    run_result r = run_kdrun("--threads", "1", recipe, NULL);
    CU_ASSERT_EQUAL_FATAL(r.status, 0);
    CU_ASSERT(contains(r.err, "distill epoch 4/4  loss "));
    run_free(&r);
    CU_ASSERT_FATAL(newest_run(runs, "crd", a, sizeof a) == 0);
    snprintf(pa, sizeof pa, "%s/metrics.csv", a);
    char *csv = kd_unit_slurp(pa, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
    CU_ASSERT(contains(csv, "distill,4,\"train loss: crd(es(p.pooled), et(t.pooled), index, n: 600, k: 256)\","));
    free(csv);
    /* the banks and Z are in the state, under the phase's name */
    snprintf(pa, sizeof pa, "%s/state.safetensors", a);
    size_t n = 0;
    char *st = kd_unit_slurp(pa, &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    CU_ASSERT(has_bytes(st, n, "\"store/distill.crd[0].bank_s\":{\"dtype\":\"F32\",\"shape\":[9600]"));
    CU_ASSERT(has_bytes(st, n, "\"store/distill.crd[0].bank_t\""));
    CU_ASSERT(has_bytes(st, n, "\"store/distill.crd[0].z\":{\"dtype\":\"F32\",\"shape\":[3]"));
    free(st);
    snprintf(pa, sizeof pa, "%s/metrics.csv", a);
    sleep(1);   /* a new run directory (named by the second) */

    pid_t pid = spawn_kdrun("1", 0, recipe);
    CU_ASSERT_FATAL(pid >= 0);
    /* the second saved state is the end of distill's first epoch:
     * interrupt it in a later one */
    CU_ASSERT_EQUAL_FATAL(wait_state_saves(runs, "crd", a, b, sizeof b, 2, 24000, 5), 2);
    kill(pid, SIGINT);
    int ws;
    CU_ASSERT_EQUAL(waitpid(pid, &ws, 0), pid);
    CU_ASSERT(WIFEXITED(ws) && WEXITSTATUS(ws) == 130);
    r = run_kdrun("--resume", b, NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT(contains(r.err, "resuming "));
    CU_ASSERT(contains(r.err, "phase distill"));
    if (r.status != 0) fprintf(stderr, "%s", r.err);
    run_free(&r);
    snprintf(pb, sizeof pb, "%s/metrics.csv", b);
    CU_ASSERT(same_file(pa, pb));
    if (!same_file(pa, pb)) fprintf(stderr, "\n  differs: %s %s\n", pa, pb);
}

/* a bank with fewer rows than the training split: refused before the
 * phase trains, located at the crd call, exit 3 */
static void test_crd_bank_too_small(void)
{
    if (!have_fmnist()) return;
    run_result r = run_kdrun("--threads", "1", crd_recipe("small_bank.kdr", "500"), NULL);
    CU_ASSERT_EQUAL(r.status, 3);
    if (r.status != 3) fprintf(stderr, "\n  exit %d\n", r.status);
    CU_ASSERT(contains(r.err, "small_bank.kdr:29:14: error: crd keeps a bank of n: 500 rows, but f.train has 600 "
                              "(every row's index must fit: set n: 600 or more)"));
    CU_ASSERT(!contains(r.err, "distill epoch 1"));
    if (!contains(r.err, "crd keeps a bank")) fprintf(stderr, "\n%s\n", r.err);
    run_free(&r);
}

int main(void)
{
    if (cli_begin("crd")) return 2;

    static const kd_unit_test tests[] = {
        KD_TEST(test_crd_resume),
        KD_TEST(test_crd_bank_too_small),
        KD_TEST_END
    };
    int status = kd_unit_main("crd_cli", tests);

    return cli_end(status);
}
