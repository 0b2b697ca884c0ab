/* test_search_cli.c — searches run end to end (tests/cli): a bi-level
 * search (alternate: weights on the training split, the aggregate's alpha
 * on a held-out split, each step with its own optimizer), interrupted with
 * SIGINT in the middle of the search and resumed with --resume, writes the
 * same metrics.csv, byte for byte, as the run that was not interrupted;
 * the alpha rows are there, derive prints the derived weights.
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


static const char *SEARCH =
    "data f = idx(\"/usr/share/datasets/fashion-mnist\") {\n"
    "  train \"train\" holdout 200 as val\n"
    "  test \"t10k\"\n"
    "  limit 1000\n"
    "  normalize mean: 0.2860, std: 0.3530\n"
    "}\n"
    "net blk(c) { out relu(bn(conv(in, c, k: 3, pad: 1))) }\n"
    "net tnet(c) {\n"
    "  stage[0] = relu(conv(in, c, k: 3, pad: 1))\n"
    "  for s in 1..2 {\n"
    "    stage[s] = repeat 3 as b from stage[s - 1] { block[s, b] = blk(in, c) }\n"
    "  }\n"
    "  logits = linear(mean(stage[2], over: hw), 10)\n"
    "  out logits\n"
    "}\n"
    "net snet(c) {\n"
    "  stage[1] = relu(conv(in, c, k: 3, pad: 1))\n"
    "  stage[2] = relu(conv(stage[1], c, k: 3, pad: 1))\n"
    "  logits = linear(mean(stage[2], over: hw), 10)\n"
    "  out logits\n"
    "}\n"
    "net conn(c) { out conv(in, c, k: 1) }\n"
    "model t = tnet(8)\n"
    "model p = snet(4)\n"
    "model a1 = conn(c: 4)\n"
    "model b1 = conn(c: 8)\n"
    "model c1 = conn(c: 8)\n"
    "search s {\n"
    "  for k in 1..2 { agg[k] = aggregate(t.block[k, *]) }\n"
    "  bridge t2s = ce(p.with(stage[1] = a1(agg[1])).logits, label)\n"
    "  bridge s2t = l2(t.with(stage[1] = b1(p.stage[1])).logits, t.with(stage[1] = agg[1]).logits)\n"
    "}\n"
    "phase pre {\n"
    "  train t on f.train\n"
    "  epochs 1; batch 50; seed 2\n"
    "  optimizer sgd(lr: 0.05, momentum: 0.9)\n"
    "  loss ce(t.logits, label)\n"
    "}\n"
    "phase find {\n"
    "  train p, a1, b1 on f.train\n"
    "  teacher t\n"
    "  epochs 3; batch 25; seed 2\n"
    "  optimizer weights: sgd(lr: 0.05, momentum: 0.9)\n"
    "  optimizer arch: adam(lr: 0.05, betas: [0.5, 0.999])\n"
    "  lr weights: cosine()\n"
    "  lr arch: constant()\n"
    "  alternate {\n"
    "    weights minimize ce(p.logits, label) + t2s + s2t on f.train\n"
    "    arch minimize t2s + s2t on f.val\n"
    "  }\n"
    "}\n"
    "phase distill {\n"
    "  after find\n"
    "  derive s\n"
    "  train p, c1 on f.train\n"
    "  teacher t\n"
    "  epochs 1; batch 50; seed 2\n"
    "  loss ce(p.logits, label) + l2(c1(p.stage[1]), agg[1])\n"
    "}\n"
    "report { evaluate p on f.val: top1 }\n";

static void test_search_resume(void)
{
    if (!have_fmnist()) return;
    char runs[400], a[800], b[800], pa[900], pb[900];
    snprintf(runs, sizeof runs, "%s/runs", tmpdir);
    setenv("KDRUN_RUNS", runs, 1);
    const char *recipe = write_tmp("search.kdr", SEARCH);
    run_result r = run_kdrun("--threads", "1", recipe, NULL);
    CU_ASSERT_EQUAL_FATAL(r.status, 0);
    CU_ASSERT(contains(r.err, "derive s: s.agg[1] = softmax(alpha) ["));
    CU_ASSERT(contains(r.err, "find epoch 3/3  loss "));
    CU_ASSERT(contains(r.err, "lr weights 0.0125  lr arch 0.05"));
    run_free(&r);
    CU_ASSERT_FATAL(newest_run(runs, "search", a, sizeof a) == 0);
    snprintf(pa, sizeof pa, "%s/metrics.csv", a);
    char *csv = kd_unit_slurp(pa, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
    CU_ASSERT(contains(csv, "find,3,\"train loss (weights)\","));
    CU_ASSERT(contains(csv, "find,3,\"train loss (arch)\","));
    CU_ASSERT(contains(csv, "find,1,\"s.agg[1] softmax(alpha)[3]\","));
    CU_ASSERT(!contains(csv, "distill,1,\"s.agg[1] softmax"));   /* derived: frozen */
    /* the search moved alpha away from equal weights */
    const char *row = strstr(csv, "find,3,\"s.agg[1] softmax(alpha)[1]\",");
    CU_ASSERT_PTR_NOT_NULL_FATAL(row);
    double w1 = strtod(strrchr(row, ',') + 1, NULL);
    CU_ASSERT(fabs(w1 - 1.0 / 3.0) > 1e-3);
    free(csv);
    sleep(1);   /* a new run directory (named by the second) */

    pid_t pid = spawn_kdrun("1", 0, recipe);
    CU_ASSERT_FATAL(pid >= 0);
    /* the second saved state is the end of the search's first epoch:
     * interrupt it in the second */
    CU_ASSERT_EQUAL_FATAL(wait_state_saves(runs, "search", a, b, sizeof b, 2, 12000, 5), 2);
    msleep(120);
    kill(pid, SIGINT);
    int ws;
    CU_ASSERT_EQUAL(waitpid(pid, &ws, 0), pid);
    CU_ASSERT(WIFEXITED(ws) && WEXITSTATUS(ws) == 130);
    r = run_kdrun("--resume", b, NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT(contains(r.err, "resuming "));
    if (r.status != 0) fprintf(stderr, "%s", r.err);
    run_free(&r);
    snprintf(pb, sizeof pb, "%s/metrics.csv", b);
    CU_ASSERT(same_file(pa, pb));
    if (!same_file(pa, pb)) fprintf(stderr, "\n  differs: %s %s\n", pa, pb);
}


/* The frozen teacher's conv -> bn -> relu blocks on the s2t paths run a
 * backward in one alternate step and not in the other: folded only in the
 * other (the conditional folds of runtime/exec_fold.h), with the same
 * bits as with every fold off (KDRUN_TEACHER_FOLD=0). */
static void test_search_fold(void)
{
    if (!have_fmnist()) return;
    char runs[400], a[800], b[800], pa[900], pb[900];
    snprintf(runs, sizeof runs, "%s/runs", tmpdir);
    setenv("KDRUN_RUNS", runs, 1);
    const char *recipe = write_tmp("search_fold.kdr", SEARCH);
    setenv("KDRUN_PROFILE", "1", 1);
    run_result r = run_kdrun("--threads", "1", "--set", "phase.find.epochs=1", recipe, NULL);
    CU_ASSERT_EQUAL_FATAL(r.status, 0);
    /* find: the 6 blocks of the teacher's own forward (no backward) and
     * the 3 blocks of stage 2 on each of the two s2t paths (a backward in
     * one step) */
    CU_ASSERT(contains(r.err, "frozen conv chains run as one conv: 12, 6 of them only in the steps"));
    run_free(&r);
    CU_ASSERT_FATAL(newest_run(runs, "search_fold", a, sizeof a) == 0);
    sleep(1);   /* a new run directory (named by the second) */
    setenv("KDRUN_TEACHER_FOLD", "0", 1);
    r = run_kdrun("--threads", "1", "--set", "phase.find.epochs=1", recipe, NULL);
    unsetenv("KDRUN_TEACHER_FOLD");
    unsetenv("KDRUN_PROFILE");
    CU_ASSERT_EQUAL_FATAL(r.status, 0);
    CU_ASSERT(!contains(r.err, "frozen conv chains run as one conv"));
    run_free(&r);
    CU_ASSERT_FATAL(newest_run(runs, "search_fold", b, sizeof b) == 0);
    CU_ASSERT(strcmp(a, b) != 0);
    snprintf(pa, sizeof pa, "%s/metrics.csv", a);
    snprintf(pb, sizeof pb, "%s/metrics.csv", b);
    CU_ASSERT(same_file(pa, pb));
}

/* Errors of groups, steps and derive: located in the recipe, exit 3 */
static const char *BAD_HEAD =
    "data f = idx(\"/usr/share/datasets/fashion-mnist\") {\n"
    "  train \"train\" holdout 100 as val\n  limit 200\n}\n"
    "net tiny(c) { b[1] = relu(conv(in, c, k: 3, pad: 1))\n"
    "  b[2] = relu(conv(b[1], c, k: 3, pad: 1))\n  out linear(mean(b[2], over: hw), 10) }\n"
    "model t = tiny(4)\nmodel p = tiny(4)\nmodel q = tiny(4)\n"
    "search s { agg = aggregate(t.b[*]) }\n";

static void bad_case(const char *name, const char *phases, const char *want_at, const char *want)
{
    char text[4096];
    snprintf(text, sizeof text, "%s%s", BAD_HEAD, phases);
    run_result r = run_kdrun("--threads", "1", write_tmp(name, text), NULL);
    CU_ASSERT_EQUAL(r.status, 3);
    CU_ASSERT(contains(r.err, want));
    CU_ASSERT(contains(r.err, want_at));
    if (r.status != 3 || !contains(r.err, want) || !contains(r.err, want_at))
        fprintf(stderr, "\n  %s: exit %d\n%s\n", name, r.status, r.err);
    run_free(&r);
}

static void test_search_errors(void)
{
    if (!have_fmnist()) return;
    char runs[400];
    snprintf(runs, sizeof runs, "%s/runs", tmpdir);
    setenv("KDRUN_RUNS", runs, 1);
    bad_case("untrained_group.kdr",
             "phase a {\n  train p on f.train\n  optimizer q: adam()\n  loss ce(p.out, label)\n}\n",
             "untrained_group.kdr:14:3: error: ", "'optimizer q:': model 'q' is not trained in phase 'a'");
    bad_case("two_weights.kdr",
             "phase a {\n  train p on f.train\n  optimizer adam()\n  optimizer weights: sgd(lr: 0.1)\n"
             "  loss ce(p.out, label)\n}\n",
             "two_weights.kdr:15:3: error: ", "'optimizer' and 'optimizer weights:' set the same group");
    bad_case("loss_and_alternate.kdr",
             "phase a {\n  train p on f.train\n  loss ce(p.out, label)\n"
             "  alternate { weights minimize ce(p.out, label) }\n}\n",
             "loss_and_alternate.kdr:14:8: error: ", "a phase with 'alternate' has its losses in the 'minimize' steps");
    bad_case("arch_nothing.kdr",
             "phase a {\n  train p on f.train\n  alternate {\n    weights minimize ce(p.out, label)\n"
             "    arch minimize ce(p.out, label) on f.val\n  }\n}\n",
             "arch_nothing.kdr:16:5: error: ", "this step trains no parameter (arch): no aggregate or choice");
    bad_case("not_stepped.kdr",
             "phase a {\n  train p, q on f.train\n  alternate { p minimize ce(p.out, label) }\n}\n",
             "not_stepped.kdr:12:1: error: ", "phase 'a': no step updates the weights of 'q' (add it to a step");
    bad_case("derive_first.kdr",
             "phase a {\n  derive s\n  train p on f.train\n  teacher t\n  loss ce(p.out, label) + mse(p.b[2], agg)\n}\n",
             "derive_first.kdr:13:10: error: ", "derive s: its architecture weights (s.aggregate0.alpha) were not "
             "trained before phase 'a'");
}


/* a model with a choice searched by alternate, then `derive p`: the choice
 * becomes its strongest candidate (printed), its weights are no longer
 * trained (no alpha rows in the later phase) */
static const char *CHOICE =
    "data f = idx(\"/usr/share/datasets/fashion-mnist\") {\n"
    "  train \"train\" holdout 100 as val\n"
    "  limit 300\n"
    "  normalize mean: 0.2860, std: 0.3530\n"
    "}\n"
    "net mixed(c) { out choice(conv(c, k: 3, pad: 1), conv(c, k: 1), skip, tau: 1) }\n"
    "net cnet(c) {\n"
    "  x = relu(conv(in, c, k: 3, pad: 1))\n"
    "  h = relu(mixed(x, c))\n"
    "  logits = linear(mean(h, over: hw), 10)\n"
    "  out logits\n"
    "}\n"
    "model p = cnet(4)\n"
    "phase find {\n"
    "  train p on f.train\n"
    "  epochs 2; batch 50; seed 1\n"
    "  optimizer arch: adam(lr: 0.1)\n"
    "  alternate {\n"
    "    weights minimize ce(p.logits, label)\n"
    "    arch minimize ce(p.logits, label) on f.val\n"
    "  }\n"
    "}\n"
    "phase tune {\n"
    "  after find\n"
    "  derive p\n"
    "  train p on f.train\n"
    "  epochs 1; batch 50; seed 1\n"
    "  loss ce(p.logits, label)\n"
    "}\n"
    "report { evaluate p on f.val: top1 }\n";

static void test_derive_choice(void)
{
    if (!have_fmnist()) return;
    char runs[400], a[800], pa[900];
    snprintf(runs, sizeof runs, "%s/runs", tmpdir);
    setenv("KDRUN_RUNS", runs, 1);
    run_result r = run_kdrun("--threads", "1", write_tmp("choice.kdr", CHOICE), NULL);
    CU_ASSERT_EQUAL_FATAL(r.status, 0);
    CU_ASSERT(contains(r.err, "derive p: p.mixed0.choice0 = candidate "));
    CU_ASSERT(contains(r.err, " of 3 (weight 0."));
    run_free(&r);
    CU_ASSERT_FATAL(newest_run(runs, "choice", a, sizeof a) == 0);
    snprintf(pa, sizeof pa, "%s/metrics.csv", a);
    char *csv = kd_unit_slurp(pa, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
    CU_ASSERT(contains(csv, "find,2,\"p.mixed0.choice0 softmax(alpha)[3]\","));
    CU_ASSERT(contains(csv, "tune,1,\"train loss\","));
    CU_ASSERT(!contains(csv, "tune,1,\"p.mixed0.choice0"));
    free(csv);
}

int main(void)
{
    if (cli_begin("cli")) return 2;

    static const kd_unit_test tests[] = {
        KD_TEST(test_search_resume),
        KD_TEST(test_search_fold),
        KD_TEST(test_search_errors),
        KD_TEST(test_derive_choice),
        KD_TEST_END
    };
    int status = kd_unit_main("search_cli", tests);

    return cli_end(status);
}
