/* test_cli.c — the kdrun command line: options, messages and exit codes.
 *
 * Runs the freshly built ./kdrun (KDRUN_BUILDDIR/kdrun) as a child process
 * with stdout and stderr captured to files, and checks the documented exit
 * codes: 0 ok, 1 runtime failure or not in this build, 2 usage error,
 * 3 recipe error, 4 data error; and runs a tiny real training.
 */
#include "config.h"

#include <fcntl.h>
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

#define FMNIST_KD KD_SRC("recipes/classic/fmnist_kd.kdr")

static void test_version(void)
{
    run_result r = run_kdrun("--version", NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    KD_ASSERT_STR_EQ(r.out, "kdrun " PACKAGE_VERSION "\n");
    KD_ASSERT_STR_EQ(r.err, "");
    run_free(&r);
    r = run_kdrun("-V", NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    KD_ASSERT_STR_EQ(r.out, "kdrun " PACKAGE_VERSION "\n");
    run_free(&r);
}

static void test_help(void)
{
    run_result r = run_kdrun("--help", NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT(contains(r.out, "usage: kdrun"));
    CU_ASSERT(contains(r.out, "--check"));
    CU_ASSERT(contains(r.out, "--set KEY=VALUE"));
    CU_ASSERT(contains(r.out, "KDRUN_PATH"));
    CU_ASSERT(contains(r.out, "Exit status"));
    CU_ASSERT(contains(r.out, "3  recipe error"));
    KD_ASSERT_STR_EQ(r.err, "");
    run_free(&r);
}

static void test_usage_errors(void)
{
    static const char *const cases[][3] = {
        { "--bogus", NULL, "unknown option '--bogus'" },
        { "-x", NULL, "unknown option '-x'" },
        { "--threads", "0", "--threads 0" },
        { "--threads", "two", "--threads two" },
        { "--threads", "3x", "--threads 3x" },
        { "--seed", "-1", "--seed -1" },
        { "--set", "epochs", "expected KEY=VALUE" },
        { "--set", "=3", "expected KEY=VALUE" },
        { "--color=purple", NULL, "--color=purple" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_result r = cases[i][1]
            ? run_kdrun(cases[i][0], cases[i][1], FMNIST_KD, NULL)
            : run_kdrun(cases[i][0], FMNIST_KD, NULL);
        CU_ASSERT_EQUAL(r.status, 2);
        CU_ASSERT(contains(r.err, cases[i][2]));
        CU_ASSERT(contains(r.err, "usage: kdrun"));
        KD_ASSERT_STR_EQ(r.out, "");
        run_free(&r);
    }
    run_result r = run_kdrun(NULL);
    CU_ASSERT_EQUAL(r.status, 2);
    CU_ASSERT(contains(r.err, "no recipe given"));
    run_free(&r);
    r = run_kdrun("--check", NULL);
    CU_ASSERT_EQUAL(r.status, 2);
    run_free(&r);
    r = run_kdrun("--set", NULL);
    CU_ASSERT_EQUAL(r.status, 2);
    CU_ASSERT(contains(r.err, "needs a value"));
    run_free(&r);
    r = run_kdrun("a.kdr", "b.kdr", NULL);
    CU_ASSERT_EQUAL(r.status, 2);
    CU_ASSERT(contains(r.err, "more than one recipe"));
    run_free(&r);
}

static void test_missing_recipe(void)
{
    char path[400];
    snprintf(path, sizeof path, "%s/no-such-recipe.kdr", tmpdir);
    run_result r = run_kdrun("--check", path, NULL);
    CU_ASSERT_EQUAL(r.status, 3);
    CU_ASSERT(contains(r.err, "no-such-recipe.kdr"));
    CU_ASSERT(contains(r.err, "error"));
    KD_ASSERT_STR_EQ(r.out, "");
    run_free(&r);

    r = run_kdrun("--check", tmpdir, NULL);     /* a directory */
    CU_ASSERT_EQUAL(r.status, 3);
    CU_ASSERT(contains(r.err, "error"));
    run_free(&r);
}

static void test_syntax_error(void)
{
    const char *bad = write_tmp("bad.kdr", "let x = (1 +\nphase p {\n");
    run_result r = run_kdrun("--check", "--color=never", bad, NULL);
    CU_ASSERT_EQUAL(r.status, 3);
    CU_ASSERT(contains(r.err, "bad.kdr:"));
    CU_ASSERT(contains(r.err, "error:"));
    CU_ASSERT(!contains(r.err, "\033["));
    KD_ASSERT_STR_EQ(r.out, "");
    run_free(&r);

    /* not a terminal: no color by default; --color=always forces it */
    r = run_kdrun("--check", bad, NULL);
    CU_ASSERT_EQUAL(r.status, 3);
    CU_ASSERT(!contains(r.err, "\033["));
    run_free(&r);
    r = run_kdrun("--check", "--color=always", bad, NULL);
    CU_ASSERT_EQUAL(r.status, 3);
    CU_ASSERT(contains(r.err, "\033["));
    run_free(&r);
    r = run_kdrun("--check", "--quiet", bad, NULL);
    CU_ASSERT_EQUAL(r.status, 3);
    CU_ASSERT(contains(r.err, "error:"));
    run_free(&r);
}

/* Write raw bytes to a file in the temporary directory; returns its path. */
static const char *write_bytes(const char *name, const char *data, size_t n)
{
    static char path[320];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
    return path;
}

/* a string literal's bytes, NULs included, without the final NUL */
#define WRITE_LIT(name, lit) write_bytes(name, lit, sizeof lit - 1)

/* Hostile files: each gives a located error and exit 3 (an empty file is a
 * valid, empty recipe), never a crash or a hang. */
static void test_hostile_inputs(void)
{
    size_t big = 10u << 20;
    char *buf = malloc(big + 64);
    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);

    /* binary garbage (a fixed pseudo-random sequence) */
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < 65536; i++) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; buf[i] = (char)(x >> 56); }
    run_result r = run_kdrun("--check", "--color=never", write_bytes("garbage.kdr", buf, 65536), NULL);
    CU_ASSERT_EQUAL(r.status, 3);
    CU_ASSERT(contains(r.err, "garbage.kdr:1:"));
    CU_ASSERT(contains(r.err, "too many errors"));
    run_free(&r);

    /* NUL bytes */
    r = run_kdrun("--check", "--color=never", WRITE_LIT("nul.kdr", "let a = 1\0\0\nlet b = 2\n"), NULL);
    CU_ASSERT_EQUAL(r.status, 3);
    CU_ASSERT(contains(r.err, "nul.kdr:1:10: error: NUL byte in recipe"));
    run_free(&r);

    /* a 10 MB line */
    size_t o = (size_t)sprintf(buf, "let x = ");
    while (o + 8 < big) { memcpy(buf + o, "1 + ", 4); o += 4; }
    memcpy(buf + o, "1\n", 2);
    r = run_kdrun("--check", "--color=never", write_bytes("long.kdr", buf, o + 2), NULL);
    CU_ASSERT_EQUAL(r.status, 3);
    CU_ASSERT(contains(r.err, "long.kdr:1:9: error: expression nested more than 1000 levels deep"));
    run_free(&r);

    /* 100 000 nested parentheses */
    o = (size_t)sprintf(buf, "let x = ");
    memset(buf + o, '(', 100000); o += 100000;
    buf[o++] = '1';
    memset(buf + o, ')', 100000); o += 100000;
    buf[o++] = '\n';
    r = run_kdrun("--check", "--color=never", write_bytes("nest.kdr", buf, o), NULL);
    CU_ASSERT_EQUAL(r.status, 3);
    CU_ASSERT(contains(r.err, "nest.kdr:1:265: error: brackets nested more than 256 deep"));
    run_free(&r);

    /* invalid UTF-8 */
    r = run_kdrun("--check", "--color=never", WRITE_LIT("utf8.kdr", "let \xc3\x28 = 1\n"), NULL);
    CU_ASSERT_EQUAL(r.status, 3);
    CU_ASSERT(contains(r.err, "utf8.kdr:1:5: error: invalid UTF-8 byte 0xC3"));
    run_free(&r);

    /* an empty file is an empty recipe */
    r = run_kdrun("--check", write_bytes("empty.kdr", "", 0), NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    run_free(&r);

    /* an unreadable file (root reads everything: only checked as a user) */
    if (geteuid() != 0) {
        const char *p = WRITE_LIT("secret.kdr", "let a = 1\n");
        chmod(p, 0);
        r = run_kdrun("--check", p, NULL);
        CU_ASSERT_EQUAL(r.status, 3);
        CU_ASSERT(contains(r.err, "Permission denied"));
        run_free(&r);
    }
    free(buf);
}

/* --check compiles every model: shapes are printed, shape errors located */
static void test_check_shapes(void)
{
    run_result r = run_kdrun("--check", FMNIST_KD, NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT(contains(r.out, "teacher      [1, 28, 28] -> [10]"));
    CU_ASSERT(contains(r.out, "student      [1, 28, 28] -> [10]"));
    run_free(&r);

    /* sequence data: item ids [max_len] per sample, known without loading;
     * AdaRec's student pools its [C, T] sequences */
    r = run_kdrun("--check", KD_SRC("recipes/adarec/synthetic.kdr"), NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT(contains(r.out, "teacher      [20] -> [301]"));
    CU_ASSERT(contains(r.out, "student      [20] -> [301]"));
    CU_ASSERT(!contains(r.err, "not inferred"));
    CU_ASSERT(!contains(r.err, "not in this build"));
    run_free(&r);

    const char *bad = write_tmp("shape.kdr",
        "net n() {\n  v = linear(flatten(in), 10)\n  out conv(v, 4, k: 3)\n}\n"
        "data d = cifar10(\"/nonexistent\") { train \"train\" }\n"
        "model m = n()\n"
        "phase p {\n  train m on d.train\n  epochs 1\n  loss ce(m.v, label)\n}\n");
    r = run_kdrun("--check", "--color=never", bad, NULL);
    CU_ASSERT_EQUAL(r.status, 3);
    CU_ASSERT(contains(r.err, "shape.kdr:3:7: error: conv2d expects 4-D input"));
    CU_ASSERT(contains(r.err, "shape.kdr:6:11: note: in 'n', called here"));
    KD_ASSERT_STR_EQ(r.out, "");
    run_free(&r);
}

static void test_check_bundled(void)
{
    run_result r = run_kdrun("--check", FMNIST_KD, NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT(strlen(r.out) > 0);       /* the plan */
    CU_ASSERT(!contains(r.err, "error"));
    char *plain = strdup(r.out);
    run_free(&r);
    r = run_kdrun("-c", "--set", "epochs=1", "--seed", "7", "--threads", "1",
                  FMNIST_KD, NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT(contains(r.out, "epochs 1\n"));        /* the override shows */
    CU_ASSERT(plain && strcmp(plain, r.out) != 0);
    free(plain);
    run_free(&r);

    /* options after the recipe work too (GNU getopt permutes) */
    r = run_kdrun(FMNIST_KD, "--check", NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    run_free(&r);
}

/* A --set key that matches nothing is a recipe error (3); a matching one
 * changes the plan. */
static void test_unmatched_set(void)
{
    run_result r = run_kdrun("--check", "--set", "no_such_setting_xyz=1",
                             FMNIST_KD, NULL);
    CU_ASSERT_EQUAL(r.status, 3);
    CU_ASSERT(contains(r.err, "no_such_setting_xyz"));
    CU_ASSERT(contains(r.err, "matches nothing"));
    KD_ASSERT_STR_EQ(r.out, "");
    run_free(&r);
}

/* A real, tiny training run: a teacher, then a student distilled from it,
 * evaluated in the report.  Two runs with the same seed give the same
 * numbers, byte for byte. */
static const char *TINY =
    "data f = idx(\"/usr/share/datasets/fashion-mnist\") {\n"
    "  train \"train\" holdout 500 as val\n  test \"t10k\"\n  limit 768\n"
    "  augment train: crop(28, pad: 2), flip(horizontal)\n"
    "  normalize mean: 0.2860, std: 0.3530\n}\n"
    "net tiny(c) {\n  h = maxpool(relu(bn(conv(in, c, k: 3, pad: 1))), 2)\n"
    "  logits = linear(flatten(h), 10)\n  out logits\n}\n"
    "model t = tiny(8)\nmodel s = tiny(4)\n"
    "phase pre {\n  train t on f.train\n  epochs 2; batch 64; seed 3\n"
    "  optimizer sgd(lr: 0.05, momentum: 0.9)\n  loss ce(t.logits, label)\n"
    "  checkpoint every 1 epoch keep last 1 as route\n  evaluate t on f.val: top1\n}\n"
    "phase kd {\n  train s on f.train\n  teacher t frozen\n  epochs 1; batch 64; seed 3\n"
    "  optimizer sgd(lr: 0.05, momentum: 0.9)\n"
    "  loss 0.5 * ce(s.logits, label) + 0.5 * kd(s.logits, t.logits, T: 4)\n}\n"
    "report {\n  evaluate t, s on f.val: top1, top5, params, hr@5, ndcg, mrr@3\n}\n";

static void test_run_trains(void)
{
    if (!have_fmnist()) return;
    char runs[400], dir1[800], dir2[800], path[900];
    snprintf(runs, sizeof runs, "%s/runs", tmpdir);
    setenv("KDRUN_RUNS", runs, 1);
    const char *recipe = write_tmp("tiny.kdr", TINY);
    run_result r = run_kdrun("--threads", "2", recipe, NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    if (r.status != 0) fprintf(stderr, "%s", r.err);
    CU_ASSERT(contains(r.err, "pre epoch 2/2"));
    CU_ASSERT(contains(r.err, "kd epoch 1/1"));
    CU_ASSERT(contains(r.out, "results ("));
    CU_ASSERT(contains(r.out, "  t "));
    run_free(&r);
    CU_ASSERT_FATAL(newest_run(runs, "tiny", dir1, sizeof dir1) == 0);
    snprintf(path, sizeof path, "%s/report.yaml", dir1);
    char *y1 = kd_unit_slurp(path, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(y1);
    CU_ASSERT(contains(y1, "metric: t top1 on f.val"));
    CU_ASSERT(contains(y1, "metric: s top1 on f.val"));
    CU_ASSERT(contains(y1, "metric: t hr@5 on f.val"));
    CU_ASSERT(contains(y1, "metric: s ndcg@10 on f.val"));
    CU_ASSERT(contains(y1, "metric: s mrr@3 on f.val"));
    snprintf(path, sizeof path, "%s/metrics.csv", dir1);
    char *c1 = kd_unit_slurp(path, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c1);
    CU_ASSERT(contains(c1, "phase,epoch,metric,value\n"));
    /* keep last 1: only the epoch-2 checkpoint of route `route` is left */
    snprintf(path, sizeof path, "%s/checkpoints/route/epoch-002.safetensors", dir1);
    CU_ASSERT_EQUAL(access(path, R_OK), 0);
    snprintf(path, sizeof path, "%s/checkpoints/route/epoch-001.safetensors", dir1);
    CU_ASSERT_NOT_EQUAL(access(path, R_OK), 0);

    /* the same recipe, seed and threads: the same numbers */
    sleep(1);   /* a new run directory (named by the second) */
    r = run_kdrun("--threads", "2", recipe, NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    run_free(&r);
    CU_ASSERT_FATAL(newest_run(runs, "tiny", dir2, sizeof dir2) == 0);
    CU_ASSERT(strcmp(dir1, dir2) != 0);
    snprintf(path, sizeof path, "%s/metrics.csv", dir2);
    char *c2 = kd_unit_slurp(path, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c2);
    KD_ASSERT_STR_EQ(c2, c1);
    free(y1);
    free(c1);
    free(c2);
}

static void test_run_errors(void)
{
    char runs[400];
    snprintf(runs, sizeof runs, "%s/runs", tmpdir);
    setenv("KDRUN_RUNS", runs, 1);
    /* a missing data directory is a data error: exit 4, naming it */
    const char *bad = write_tmp("nodata.kdr",
        "data f = idx(\"/nonexistent/fmnist\") { train \"train\" }\n"
        "net n() { out linear(flatten(in), 10) }\nmodel m = n()\n"
        "phase p { train m on f.train; loss ce(m.out, label) }\n");
    run_result r = run_kdrun(bad, NULL);
    CU_ASSERT_EQUAL(r.status, 4);
    CU_ASSERT(contains(r.err, "/nonexistent/fmnist"));
    run_free(&r);
    /* a loss that overflows stops the run: exit 1, naming the phase, epoch,
     * step and the term, at its place in the recipe */
    if (access("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", R_OK) == 0) {
        const char *nan = write_tmp("nan.kdr",
            "data f = idx(\"/usr/share/datasets/fashion-mnist\") { train \"train\"; limit 500 }\n"
            "net n() { out linear(flatten(in), 10) }\nmodel m = n()\n"
            "phase p {\n  train m on f.train; epochs 1; batch 50\n  optimizer sgd(lr: 1e30)\n"
            "  loss 0.5 * ce(m.out, label)\n     + 0.5 * mse(m.out, m.out * 0)\n}\n");
        r = run_kdrun("--color=never", nan, NULL);
        CU_ASSERT_EQUAL(r.status, 1);
        CU_ASSERT(contains(r.err, "nan.kdr:8:14: error: the loss is infinite in phase 'p', epoch 1, step 2: "
                          "the first term that is not finite is this mse"));
        run_free(&r);
    }
    /* the plan is resolved before any work: what a later phase cannot run
     * stops the run before the first phase loads its data (missing here:
     * reaching it would be exit 4) */
    const char *late = write_tmp("late.kdr",
        "data f = idx(\"/nonexistent/fmnist\") { train \"train\" }\n"
        "net n() { out linear(flatten(in), 10) }\nmodel m = n()\nmodel k = n()\n"
        "phase p { train m on f.train; loss ce(m.out, label) }\n"
        "phase q { train k on f.train; loss ce(k.out, label); checkpoint every 1 steps }\n");
    r = run_kdrun("--color=never", late, NULL);
    CU_ASSERT_EQUAL(r.status, 1);
    CU_ASSERT(contains(r.err, "late.kdr:6:54: error: checkpoints every N steps are not in this build yet"));
    CU_ASSERT(!contains(r.err, "/nonexistent/fmnist"));
    CU_ASSERT(!contains(r.err, "run directory:"));
    run_free(&r);
    /* an evaluation of more models than a phase's graph holds, refused
     * where it is written, before the data is loaded */
    char many[2048];
    int o = snprintf(many, sizeof many, "data f = idx(\"/nonexistent/fmnist\") { train \"train\" }\n"
                     "net n() { out linear(flatten(in), 10) }\n");
    for (int i = 0; i < 17; i++) o += snprintf(many + o, sizeof many - (size_t)o, "model m%d = n()\n", i);
    o += snprintf(many + o, sizeof many - (size_t)o, "phase p { train m0 on f.train; loss ce(m0.out, label)\n"
                  "  evaluate m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11, m12, m13, m14, m15, m16 on f.train }\n");
    r = run_kdrun("--color=never", write_tmp("many.kdr", many), NULL);
    CU_ASSERT_EQUAL(r.status, 1);
    CU_ASSERT(contains(r.err, "many.kdr:21:82: error: too many models in one evaluate"));
    CU_ASSERT(!contains(r.err, "/nonexistent/fmnist"));
    run_free(&r);
    /* --resume of something that is not a run directory: a usage error */
    r = run_kdrun("--resume", tmpdir, NULL);
    CU_ASSERT_EQUAL(r.status, 2);
    CU_ASSERT(contains(r.err, "/command: No such file or directory"));
    run_free(&r);
    r = run_kdrun("--resume", tmpdir, FMNIST_KD, NULL);
    CU_ASSERT_EQUAL(r.status, 2);
    CU_ASSERT(contains(r.err, "--resume takes the recipe from the run directory"));
    run_free(&r);
}

/* The defaults a phase gets come from the settings table (no optimizer:
 * sgd(lr: 0.1, momentum: 0.9)) and from the optimizer's builtin (adam
 * without lr: 1e-3); the epoch line shows the lr each phase ran with. */
static void test_plan_defaults(void)
{
    if (!have_fmnist()) return;
    char runs[400];
    snprintf(runs, sizeof runs, "%s/runs", tmpdir);
    setenv("KDRUN_RUNS", runs, 1);
    const char *rec = write_tmp("defaults.kdr",
        "data f = idx(\"/usr/share/datasets/fashion-mnist\") { train \"train\"; limit 200 }\n"
        "net n() { out linear(flatten(in), 10) }\nmodel a = n()\nmodel b = n()\n"
        "phase pa { train a on f.train; batch 50; loss ce(a.out, label) }\n"
        "phase pb { train b on f.train; batch 50; optimizer adam(); loss ce(b.out, label) }\n");
    run_result r = run_kdrun("--threads", "1", rec, NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT(contains(r.err, "pa epoch 1/1  loss "));
    CU_ASSERT(contains(r.err, "  lr 0.1  "));
    CU_ASSERT(contains(r.err, "pa: 1 epochs of 4 steps, batch 50, seed 1"));
    CU_ASSERT(contains(r.err, "  lr 0.001  "));
    run_free(&r);
    /* --check: a phase with only a named optimizer says where the default applies */
    rec = write_tmp("named.kdr",
        "data f = idx(\"/usr/share/datasets/fashion-mnist\") { train \"train\"; limit 200 }\n"
        "net n() { out linear(flatten(in), 10) }\nmodel a = n()\nmodel b = n()\n"
        "phase pa { train a, b together on f.train; batch 50; optimizer a: adam()\n"
        "  loss a: ce(a.out, label)\n  loss b: ce(b.out, label) }\n");
    r = run_kdrun("--check", rec, NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT(contains(r.out, "optimizer sgd(lr: 0.1, momentum: 0.9) (default, where no named optimizer applies)"));
    if (r.status != 0 || !contains(r.out, "no named optimizer")) fprintf(stderr, "\n%s%s\n", r.out, r.err);
    run_free(&r);
}

/* the text from `key` to the end of its line in s */
static const char *line_of(const char *s, const char *key, char *buf, size_t n)
{
    const char *p = s ? strstr(s, key) : NULL;
    if (!p) return "";
    size_t k = strcspn(p, "\n");
    if (k >= n) k = n - 1;
    memcpy(buf, p, k);
    buf[k] = 0;
    return buf;
}

/* List arguments of optimizers and schedules are constants like any other:
 * `let ms = [1]` as milestones and `let b = [...]` as betas give the run
 * the literal lists give (they were ignored, silently, before the run used
 * the one constant evaluator). */
#define LISTS(ms, b)                                                                         \
    "data f = idx(\"/usr/share/datasets/fashion-mnist\") { train \"train\"; limit 100 }\n"     \
    "net n() { out linear(flatten(in), 10) }\nmodel a = n()\n"                               \
    "let ms = [1]\nlet b = [0.8, 0.9]\n"                                                     \
    "phase pa { train a on f.train; epochs 2; batch 50; optimizer adam(lr: 0.1, betas: " b     \
    ")\n  lr step(milestones: " ms ", gamma: 0.5); loss ce(a.out, label) }\n"

static void test_plan_lists(void)
{
    if (!have_fmnist()) return;
    char runs[400], lit[200], let[200];
    snprintf(runs, sizeof runs, "%s/runs", tmpdir);
    setenv("KDRUN_RUNS", runs, 1);
    run_result r = run_kdrun("--threads", "1", write_tmp("lit.kdr", LISTS("[1]", "[0.8, 0.9]")), NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    line_of(r.err, "pa epoch 2/2", lit, sizeof lit);
    run_free(&r);
    r = run_kdrun("--threads", "1", write_tmp("let.kdr", LISTS("ms", "b")), NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    line_of(r.err, "pa epoch 2/2", let, sizeof let);
    run_free(&r);
    CU_ASSERT(contains(lit, "  lr 0.05  "));
    /* the same loss (betas) and lr (milestones); the time may differ */
    char *cut = strstr(lit, "  lr 0.05  ");
    CU_ASSERT_FATAL(cut != NULL);
    CU_ASSERT_EQUAL(strncmp(lit, let, (size_t)(cut - lit) + 11), 0);
}

/* A run killed with SIGKILL in the middle, then resumed with --resume,
 * ends with the same numbers and the same checkpoints, byte for byte, as
 * an uninterrupted run (dropout, Adam and a cosine schedule included). */
static const char *RESUMABLE =
    "data f = idx(\"/usr/share/datasets/fashion-mnist\") {\n"
    "  train \"train\" holdout 500 as val\n  test \"t10k\"\n  limit 3000\n"
    "  augment train: crop(28, pad: 2), flip(horizontal)\n"
    "  normalize mean: 0.2860, std: 0.3530\n}\n"
    "net tiny(c) {\n  h = maxpool(relu(bn(conv(in, c, k: 3, pad: 1))), 2)\n"
    "  h = dropout(h, p: 0.2)\n  logits = linear(flatten(h), 10)\n  out logits\n}\n"
    "model t = tiny(8)\nmodel s = tiny(4)\n"
    "phase pre {\n  train t on f.train\n  epochs 3; batch 32; seed 3\n"
    "  optimizer sgd(lr: 0.02, momentum: 0.9)\n  loss ce(t.logits, label)\n"
    "  checkpoint every 1 epoch keep last 1 as route\n  evaluate t on f.val: top1\n}\n"
    "phase kd {\n  train s on f.train\n  teacher t frozen\n  epochs 3; batch 32; seed 3\n"
    "  optimizer adam(lr: 0.01)\n  lr cosine()\n"
    "  loss 0.5 * ce(s.logits, label) + 0.5 * kd(s.logits, t.logits, T: 4)\n"
    "  checkpoint every 1 epoch\n  evaluate s on f.val: top1\n}\n"
    "report {\n  evaluate t, s on f.val: top1, top5, params\n}\n";

static void test_resume_after_sigkill(void)
{
    if (!have_fmnist()) return;
    char runs[400], a[800], b[800], pa[900], pb[900];
    snprintf(runs, sizeof runs, "%s/runs", tmpdir);
    setenv("KDRUN_RUNS", runs, 1);
    const char *recipe = write_tmp("resumable.kdr", RESUMABLE);
    run_result r = run_kdrun("--threads", "2", "--quiet", recipe, NULL);
    CU_ASSERT_EQUAL_FATAL(r.status, 0);
    run_free(&r);
    CU_ASSERT_FATAL(newest_run(runs, "resumable", a, sizeof a) == 0);
    sleep(1);   /* a new run directory (named by the second) */

    pid_t pid = spawn_kdrun("2", 1, recipe);
    CU_ASSERT_FATAL(pid >= 0);
    /* wait for its second saved state (epoch 2 of the first phase), then
     * kill it without warning during the next epoch */
    CU_ASSERT_EQUAL_FATAL(wait_state_saves(runs, "resumable", a, b, sizeof b, 2, 6000, 10), 2);
    msleep(150);
    kill(pid, SIGKILL);
    int ws;
    CU_ASSERT_EQUAL(waitpid(pid, &ws, 0), pid);
    CU_ASSERT(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
    snprintf(pb, sizeof pb, "%s/report.yaml", b);
    CU_ASSERT_NOT_EQUAL(access(pb, F_OK), 0);     /* it did not finish */

    r = run_kdrun("--resume", b, NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT(contains(r.err, "resuming "));
    if (r.status != 0) fprintf(stderr, "%s", r.err);
    run_free(&r);
    static const char *const files[] = {
        "metrics.csv", "checkpoints/route/epoch-003.safetensors", "checkpoints/kd/epoch-001.safetensors",
        "checkpoints/kd/epoch-002.safetensors", "checkpoints/kd/epoch-003.safetensors",
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(pa, sizeof pa, "%s/%s", a, files[i]);
        snprintf(pb, sizeof pb, "%s/%s", b, files[i]);
        CU_ASSERT(same_file(pa, pb));
        if (!same_file(pa, pb)) fprintf(stderr, "\n  differs: %s\n", files[i]);
    }
    /* resuming a finished run changes nothing */
    snprintf(pb, sizeof pb, "%s/metrics.csv", b);
    r = run_kdrun("--resume", b, NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT(contains(r.err, "the run had finished"));
    run_free(&r);
    snprintf(pa, sizeof pa, "%s/metrics.csv", a);
    CU_ASSERT(same_file(pa, pb));
}

/* Teachers from a checkpoint route: a pool of every second checkpoint,
 * followed with the equal strategy (anchors switch at the planned epochs)
 * and the greedy one (threshold 0: only the patience moves it on); an
 * early-stopped teacher and a KD term that ends at an epoch.  Each epoch's
 * anchor is a row of metrics.csv. */
static const char *ROUTES =
    "data f = idx(\"/usr/share/datasets/fashion-mnist\") {\n"
    "  train \"train\" holdout 500 as val\n  limit 1000\n"
    "  normalize mean: 0.2860, std: 0.3530\n}\n"
    "net tiny(c) {\n  h = maxpool(relu(bn(conv(in, c, k: 3, pad: 1))), 2)\n"
    "  logits = linear(flatten(h), 10)\n  out logits\n}\n"
    "model t = tiny(8)\nmodel s = tiny(4)\nmodel g = tiny(4)\nmodel e = tiny(4)\n"
    "phase pre {\n  train t on f.train\n  epochs 6; batch 50; seed 3\n"
    "  optimizer sgd(lr: 0.02, momentum: 0.9)\n  loss ce(t.logits, label)\n"
    "  checkpoint every 1 epoch keep all as route\n}\n"
    "pool anchors = checkpoints(route, every: 2)\n"
    "phase equal {\n  train s on f.train\n  teacher follows anchors(strategy: equal)\n"
    "  epochs 6; batch 50; seed 3\n  optimizer sgd(lr: 0.02, momentum: 0.9)\n"
    "  loss 0.5 * ce(s.logits, label) + 0.5 * kd(s.logits, anchors.logits, T: 4)\n}\n"
    "phase greedy {\n  train g on f.train\n"
    "  teacher follows anchors(strategy: greedy, threshold: 0, patience: 2)\n"
    "  epochs 7; batch 50; seed 3\n  optimizer sgd(lr: 0.02, momentum: 0.9)\n"
    "  loss 0.5 * ce(g.logits, label) + 0.5 * kd(g.logits, anchors.logits, T: 4)\n}\n"
    "phase early {\n  train e on f.train\n  teacher t at epoch 2\n  epochs 2; batch 50; seed 3\n"
    "  optimizer sgd(lr: 0.02, momentum: 0.9)\n"
    "  loss ce(e.logits, label) + until(epoch: 1) * kd(e.logits, t.logits, T: 4)\n}\n";

static void test_routes(void)
{
    if (!have_fmnist()) return;
    char runs[400], dir[800], path[900];
    snprintf(runs, sizeof runs, "%s/runs", tmpdir);
    setenv("KDRUN_RUNS", runs, 1);
    const char *recipe = write_tmp("routes.kdr", ROUTES);
    run_result r = run_kdrun("--threads", "2", recipe, NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    if (r.status != 0) fprintf(stderr, "%s", r.err);
    CU_ASSERT(contains(r.err, "phase early: teacher t at epoch 2 ("));
    run_free(&r);
    CU_ASSERT_FATAL(newest_run(runs, "routes", dir, sizeof dir) == 0);
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    char *csv = kd_unit_slurp(path, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
    /* equal: anchors 2, 4, 6 over 6 epochs, two epochs each */
    CU_ASSERT(contains(csv, "equal,1,\"anchors anchor epoch\",2\nequal,1,\"train loss: ce(s.logits, label)\","));
    /* each loss function of the phase's loss, then the epoch's lr */
    CU_ASSERT(contains(csv, "\nequal,1,\"train loss: kd(s.logits, anchors.logits, T: 4)\","));
    CU_ASSERT(contains(csv, "\nequal,1,\"lr\",0.02\nequal,2,"));
    static const char *const equal[] = { "2", "2", "4", "4", "6", "6" };
    static const char *const greedy[] = { "2", "2", "4", "4", "6", "6", "6" };
    char want[200];
    for (int i = 0; i < 6; i++) {
        snprintf(want, sizeof want, "equal,%d,\"anchors anchor epoch\",%s\n", i + 1, equal[i]);
        CU_ASSERT(contains(csv, want));
    }
    /* greedy with threshold 0: patience 2 moves on every second epoch, and
     * it stays on the last anchor */
    for (int i = 0; i < 7; i++) {
        snprintf(want, sizeof want, "greedy,%d,\"anchors anchor epoch\",%s\n", i + 1, greedy[i]);
        CU_ASSERT(contains(csv, want));
    }
    CU_ASSERT(contains(csv, "early,0,\"t teacher epoch\",2\n"));
    free(csv);

    /* a pool that asks for a checkpoint 'keep last' deletes fails before any work */
    const char *bad = write_tmp("routes_bad.kdr", "data f = idx(\"/usr/share/datasets/fashion-mnist\") "
        "{ train \"train\"; limit 500 }\nnet n() { out linear(flatten(in), 10) }\n"
        "model t = n()\nmodel s = n()\n"
        "phase pre { train t on f.train; epochs 4; loss ce(t.out, label)\n"
        "  checkpoint every 1 epoch keep last 1 as route }\n"
        "pool anchors = checkpoints(route, every: 2)\n"
        "phase follow { train s on f.train; teacher follows anchors(strategy: equal); epochs 2\n"
        "  loss kd(s.out, anchors.out, T: 4) }\n");
    r = run_kdrun("--color=never", bad, NULL);
    CU_ASSERT_EQUAL(r.status, 3);
    CU_ASSERT(contains(r.err, "routes_bad.kdr:7:16: error: route 'route' keeps its last 1 checkpoints only: "
                      "epoch 2 is deleted by then ('keep all' keeps it)"));
    CU_ASSERT(!contains(r.err, "pre epoch 1"));
    run_free(&r);
}

/* A sweep: every point a sub-run, then the report's tables over them; a
 * table cell is the point's own number; --resume of the finished sweep
 * gives the same tables. */
/* Deep mutual learning: a per-model loss trains its own model only.  b
 * (loss ce alone) trained beside a, whose loss reads b.out, must end the
 * same as c, the same net trained alone on the same data; when b's own
 * loss reads a.out, b must differ from c (the comparison can fail). */
#define DML(bloss)                                                                      \
    "data f = idx(\"/usr/share/datasets/fashion-mnist\") { train \"train\"; test \"t10k\"; limit 300 }\n" \
    "net n() { out linear(flatten(in), 10) }\n"                                        \
    "net m() { out linear(relu(linear(flatten(in), 32)), 10) }\n"                      \
    "model a = m()\nmodel b = n()\nmodel c = n()\n"                                    \
    "phase p {\n  train a, b together on f.train; epochs 1; batch 50\n"               \
    "  optimizer sgd(lr: 0.1)\n  loss a: ce(a.out, label) + 5 * kl(a.out, b.out)\n"    \
    "  loss b: " bloss "\n}\n"                                                         \
    "phase q {\n  train c on f.train; epochs 1; batch 50\n  optimizer sgd(lr: 0.1)\n" \
    "  loss ce(c.out, label)\n}\n"                                                     \
    "report { evaluate a, b, c on f.test: top1, top5 }\n"

/* the text after the model's name on its results line */
static const char *result_of(const char *out, const char *model, char *buf, size_t n)
{
    char key[32];
    snprintf(key, sizeof key, "\n  %s ", model);
    const char *p = out ? strstr(out, key) : NULL;
    if (!p) return "";
    p += strlen(key);
    size_t k = strcspn(p, "\n");
    if (k >= n) k = n - 1;
    memcpy(buf, p, k);
    buf[k] = 0;
    return buf;
}

static void test_mutual_losses(void)
{
    if (!have_fmnist()) return;
    char runs[400], b[200], c[200];
    snprintf(runs, sizeof runs, "%s/runs", tmpdir);
    setenv("KDRUN_RUNS", runs, 1);
    run_result r = run_kdrun("--threads", "2", write_tmp("dml.kdr", DML("ce(b.out, label)")), NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    if (r.status != 0) fprintf(stderr, "%s", r.err);
    result_of(r.out, "b", b, sizeof b);
    result_of(r.out, "c", c, sizeof c);
    CU_ASSERT(contains(b, "top1"));
    CU_ASSERT_STRING_EQUAL(b, c);
    run_free(&r);
    r = run_kdrun("--threads", "2", write_tmp("dml2.kdr", DML("ce(b.out, label) + kl(b.out, a.out)")), NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    result_of(r.out, "b", b, sizeof b);
    result_of(r.out, "c", c, sizeof c);
    CU_ASSERT(contains(b, "top1"));
    CU_ASSERT(strcmp(b, c) != 0);
    run_free(&r);
    /* two nets of one architecture trained together with symmetric losses:
     * equal initial weights would keep them equal; they must start apart */
    r = run_kdrun("--threads", "2", write_tmp("dml3.kdr",
        "data f = idx(\"/usr/share/datasets/fashion-mnist\") { train \"train\"; test \"t10k\"; limit 300 }\n"
        "net n() { out linear(flatten(in), 10) }\nmodel b = n()\nmodel c = n()\n"
        "phase p {\n  train b, c together on f.train; epochs 1; batch 50\n  optimizer sgd(lr: 0.1)\n"
        "  loss b: ce(b.out, label) + kl(b.out, c.out)\n  loss c: ce(c.out, label) + kl(c.out, b.out)\n}\n"
        "report { evaluate b, c on f.test: top1, top5 }\n"), NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    result_of(r.out, "b", b, sizeof b);
    result_of(r.out, "c", c, sizeof c);
    CU_ASSERT(contains(b, "top1"));
    CU_ASSERT(strcmp(b, c) != 0);
    if (!(strcmp(b, c) != 0)) fprintf(stderr, "\n  b: %s\n  c: %s\n", b, c);
    run_free(&r);
}

static const char *SWEEP =
    "sweep width in [4, 8]\nsweep seed in 1..2\n"
    "data f = idx(\"/usr/share/datasets/fashion-mnist\") {\n"
    "  train \"train\" holdout 500 as val\n  limit 500\n"
    "  normalize mean: 0.2860, std: 0.3530\n}\n"
    "net tiny(c) {\n  h = maxpool(relu(bn(conv(in, c, k: 3, pad: 1))), 2)\n"
    "  logits = linear(flatten(h), 10)\n  out logits\n}\n"
    "model t = tiny(width)\nmodel s = tiny(4)\n"
    "phase pre { train t on f.train; epochs 1; batch 50\n"
    "  optimizer sgd(lr: 0.02, momentum: 0.9); loss ce(t.logits, label) }\n"
    "phase kd { train s on f.train; teacher t; epochs 1; batch 50\n"
    "  optimizer sgd(lr: 0.02, momentum: 0.9)\n"
    "  loss 0.5 * ce(s.logits, label) + 0.5 * kd(s.logits, t.logits, T: 4) }\n"
    "report {\n  evaluate t, s on f.val: top1, params\n"
    "  table rows width: t.top1, s.top1\n  table rows width cols seed: s.top1\n}\n";

static void test_sweep(void)
{
    if (!have_fmnist()) return;
    char runs[400], dir[800], path[900];
    snprintf(runs, sizeof runs, "%s/runs", tmpdir);
    setenv("KDRUN_RUNS", runs, 1);
    const char *recipe = write_tmp("sweep.kdr", SWEEP);
    run_result r = run_kdrun("--threads", "2", "--quiet", recipe, NULL);
    CU_ASSERT_EQUAL_FATAL(r.status, 0);
    CU_ASSERT_FATAL(newest_run(runs, "sweep", dir, sizeof dir) == 0);
    static const char *const pts[] = { "width=4,seed=1", "width=4,seed=2", "width=8,seed=1", "width=8,seed=2" };
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s/report.yaml", dir, pts[i]);
        char *y = kd_unit_slurp(path, NULL);
        CU_ASSERT_PTR_NOT_NULL(y);
        if (y) {
            CU_ASSERT(contains(y, "status: ok"));
            CU_ASSERT(contains(y, "sweep:"));
        }
        free(y);
    }
    /* the s top-1 of point width=8,seed=2, as its results printed it */
    char key[900];
    snprintf(key, sizeof key, "%s/width=8,seed=2):\n", dir);
    const char *at = strstr(r.out, key);
    CU_ASSERT_PTR_NOT_NULL_FATAL(at);
    at = strstr(at, "\n  s ");
    CU_ASSERT_PTR_NOT_NULL_FATAL(at);
    at = strstr(at, "top1");
    CU_ASSERT_PTR_NOT_NULL_FATAL(at);
    double s82 = strtod(at + 4, NULL);
    CU_ASSERT(s82 > 0 && s82 <= 100);
    snprintf(path, sizeof path, "%s/tables.md", dir);
    char *md = kd_unit_slurp(path, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(md);
    CU_ASSERT(contains(md, "### t.top1, s.top1 by width (mean ± std over seed)"));
    CU_ASSERT(contains(md, "### s.top1 by width × seed"));
    char cell[64];
    snprintf(cell, sizeof cell, "| %.2f |\n", s82);     /* the last column of row 8 */
    CU_ASSERT(contains(md, cell));
    CU_ASSERT(contains(r.out, "s.top1 by width × seed"));
    run_free(&r);

    /* resuming the finished sweep reruns nothing and gives the same tables */
    r = run_kdrun("--resume", dir, NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT(contains(r.err, "the run had finished"));
    CU_ASSERT(!contains(r.err, "pre epoch 1/1"));
    run_free(&r);
    char *md2 = kd_unit_slurp(path, NULL);
    CU_ASSERT_PTR_NOT_NULL(md2);
    if (md2) KD_ASSERT_STR_EQ(md2, md);
    free(md);
    free(md2);

    /* kdrun report: a point and the sweep directory */
    snprintf(path, sizeof path, "%s/width=4,seed=1", dir);
    r = run_kdrun("report", path, dir, NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT(contains(r.out, "s.top1"));
    CU_ASSERT(contains(r.out, "by width"));
    run_free(&r);
    r = run_kdrun("report", "/nonexistent/run", NULL);
    CU_ASSERT_EQUAL(r.status, 1);
    CU_ASSERT(contains(r.err, "/nonexistent/run"));
    run_free(&r);
}

/* cifar100_zoo.kdr (both RepDistiller pairs, every method of the zoo) runs
 * one epoch end to end on small generated CIFAR-100 files: 16 training and
 * 16 test records in the binary format (coarse label, fine label, 3072
 * pixels), batch 16. */
static void write_c100(const char *path, int n, int salt)
{
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    for (int r = 0; r < n; r++) {
        fputc((r * 7 + salt) % 20, f);
        fputc((r * 13 + salt) % 100, f);
        for (int p = 0; p < 3072; p++)
            fputc((int)((((uint64_t)(r * 31 + p * 7 + salt) * 2654435761u) >> 13) % 256), f);
    }
    fclose(f);
}

static void test_cifar100_zoo_epoch(void)
{
    char dir[400], path[500], runs[400];
    snprintf(dir, sizeof dir, "%s/c100", tmpdir);
    CU_ASSERT_FATAL(mkdir(dir, 0700) == 0);
    snprintf(path, sizeof path, "%s/train.bin", dir);
    write_c100(path, 16, 1);
    snprintf(path, sizeof path, "%s/test.bin", dir);
    write_c100(path, 16, 2);
    char *text = kd_unit_slurp(KD_SRC("recipes/classic/cifar100_zoo.kdr"), NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    const char *from = "\"/usr/share/datasets/cifar-100-binary\"";
    char *at = strstr(text, from);
    CU_ASSERT_PTR_NOT_NULL_FATAL(at);
    size_t len = strlen(text) + strlen(dir) + 8;
    char *copy = malloc(len);
    snprintf(copy, len, "%.*s\"%s\"%s", (int)(at - text), text, dir, at + strlen(from));
    const char *recipe = write_tmp("cifar100_zoo.kdr", copy);
    free(copy);
    free(text);
    snprintf(runs, sizeof runs, "%s/runs", tmpdir);
    setenv("KDRUN_RUNS", runs, 1);
    run_result r = run_kdrun("--threads", "2", "--set", "epochs=1", "--set", "batch=16",
                             "--set", "dkd_warmup=1", "--set", "data.cifar.limit=16", recipe, NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    if (r.status != 0) fprintf(stderr, "%s", r.err);
    static const char *const methods[] = {"pretrain", "alone_p", "kd_p", "dkd_p", "rkd_p", "pkt_p",
                                          "sp_p", "cc_p", "nst_p", "vid_p", "crd_p", "reviewkd_p", "fsp_init", "fsp_p",
                                          "ab_init", "ab_p", "paraphrase", "ft_p"};
    for (int pair = 0; pair < 2; pair++)
        for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
            char want[64];
            snprintf(want, sizeof want, "%c_%s epoch 1/1", "rw"[pair], methods[i]);
            if (!contains(r.err, want)) fprintf(stderr, "\n  missing: %s\n", want);
            CU_ASSERT(contains(r.err, want));
        }
    CU_ASSERT(contains(r.out, "  r_ft "));
    CU_ASSERT(contains(r.out, "  w_ft "));
    CU_ASSERT(!contains(r.err, "loss nan"));
    run_free(&r);
}

static void test_zoo_path(void)
{
    /* KDRUN_PATH pointing nowhere is ignored with a warning. */
    setenv("KDRUN_PATH", "/nonexistent/kdrun-zoo", 1);
    run_result r = run_kdrun("--check", FMNIST_KD, NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT(contains(r.err, "KDRUN_PATH"));
    run_free(&r);
    setenv("KDRUN_PATH", KD_SRC("recipes"), 1);
}

int main(void)
{
    if (cli_begin("cli")) return 2;

    static const kd_unit_test tests[] = {
        KD_TEST(test_version),
        KD_TEST(test_help),
        KD_TEST(test_usage_errors),
        KD_TEST(test_missing_recipe),
        KD_TEST(test_syntax_error),
        KD_TEST(test_check_bundled),
        KD_TEST(test_hostile_inputs),
        KD_TEST(test_check_shapes),
        KD_TEST(test_unmatched_set),
        KD_TEST(test_run_trains),
        KD_TEST(test_run_errors),
        KD_TEST(test_plan_defaults),
        KD_TEST(test_plan_lists),
        KD_TEST(test_resume_after_sigkill),
        KD_TEST(test_routes),
        KD_TEST(test_mutual_losses),
        KD_TEST(test_sweep),
        KD_TEST(test_zoo_path),
        KD_TEST(test_cifar100_zoo_epoch),
        KD_TEST_END
    };
    int status = kd_unit_main("cli", tests);

    return cli_end(status);
}
