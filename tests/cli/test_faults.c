/* test_faults.c — kdrun under faults: bad data, altered checkpoints,
 * signals during evaluation, hostile paths and files, concurrent resumes.
 *
 * Each case is a reproduction of a defect a fault-injection trial found:
 * it failed before the fix.  Runs ./kdrun (KDRUN_BUILDDIR/kdrun) as a
 * child process with its output captured, on tiny synthetic IDX data
 * written here (so it needs no installed data set).
 */
#include "config.h"

#include <errno.h>
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

#include "tests/unit.h"

#define KDRUN KD_BUILD("kdrun")

static char tmpdir[256];
static char out_path[300], err_path[300];

typedef struct run_result {
    int status;     /* exit status, or -1 if the child did not exit normally */
    char *out, *err;
} run_result;

static void rr_free(run_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

static pid_t spawn(const char *const *argv, int capture)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid != 0) return pid;
    int fo = open(capture ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int fe = open(capture ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0) _exit(127);
    execv(KDRUN, (char *const *)argv);
    _exit(127);
}

static run_result collect(pid_t pid)
{
    run_result r = { -1, NULL, NULL };
    int ws;
    if (pid > 0 && waitpid(pid, &ws, 0) == pid && WIFEXITED(ws)) r.status = WEXITSTATUS(ws);
    r.out = kd_unit_slurp(out_path, NULL);
    r.err = kd_unit_slurp(err_path, NULL);
    if (!r.out) r.out = strdup("");
    if (!r.err) r.err = strdup("");
    return r;
}

/* kdrun with the NULL-terminated arguments */
static run_result run_kdrun(const char *arg, ...)
{
    const char *argv[32];
    int argc = 0;
    argv[argc++] = "kdrun";
    va_list ap;
    va_start(ap, arg);
    for (const char *a = arg; a && argc < 31; a = va_arg(ap, const char *)) argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    return collect(spawn(argv, 1));
}

static int contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

static const char *tmp_path(const char *name)
{
    static char path[4][400];
    static int which;
    char *p = path[which = (which + 1) % 4];
    snprintf(p, sizeof path[0], "%s/%s", tmpdir, name);
    return p;
}

static const char *write_tmp(const char *name, const char *text)
{
    const char *p = tmp_path(name);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return p;
}

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* DIR/SPLIT-{images-idx3,labels-idx1}-ubyte: n 8x8 images, label i % 10,
 * except record bad_rec, labelled bad_label */
static void write_idx(const char *dir, const char *split, int n, int bad_rec, int bad_label)
{
    char p[600];
    mkdir(dir, 0700);
    snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte", dir, split);
    FILE *f = fopen(p, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    uint8_t h[16] = { 0, 0, 8, 3 };
    be32(h + 4, (uint32_t)n);
    be32(h + 8, 8);
    be32(h + 12, 8);
    fwrite(h, 1, 16, f);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 64; k++) fputc((i % 10) * 20 + (k % 8 == i % 8 ? 55 : 0), f);
    fclose(f);
    snprintf(p, sizeof p, "%s/%s-labels-idx1-ubyte", dir, split);
    f = fopen(p, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    uint8_t hl[8] = { 0, 0, 8, 1 };
    be32(hl + 4, (uint32_t)n);
    fwrite(hl, 1, 8, f);
    for (int i = 0; i < n; i++) fputc(i == bad_rec ? bad_label : i % 10, f);
    fclose(f);
}

/* a recipe over DIR, text after the model declaration appended */
static const char *recipe(const char *name, const char *dir, const char *rest)
{
    char buf[4096];
    snprintf(buf, sizeof buf,
             "data d = idx(\"%s\") { train \"train\" holdout 64 as val; test \"t10k\" }\n"
             "net n() { out linear(flatten(in), 10) }\nmodel m = n()\n%s", dir, rest);
    return write_tmp(name, buf);
}

static const char *PHASE =
    "phase p { train m on d.train; epochs 2; batch 32; seed 1\n"
    "  optimizer sgd(lr: 0.01); loss ce(m.out, label)\n  checkpoint every 1 epoch }\n"
    "report { evaluate m on d.test: top1 }\n";

static void runs_env(void)
{
    setenv("KDRUN_RUNS", tmp_path("runs"), 1);
}

/* ---- 3. labels against the number of classes ------------------------------------- */

static void test_labels_out_of_range(void)
{
    runs_env();
    const char *dir = tmp_path("labels-train");
    write_idx(dir, "train", 256, 37, 10);
    write_idx(dir, "t10k", 64, -1, 0);
    run_result r = run_kdrun("--quiet", "--color=never", recipe("lt.kdr", dir, PHASE), NULL);
    CU_ASSERT_EQUAL(r.status, 4);
    CU_ASSERT(contains(r.err, "labels-train/train-labels-idx1-ubyte: record 37: label 10 out of range (0..9)"));
    CU_ASSERT(!contains(r.err, "NaN"));
    rr_free(&r);

    dir = tmp_path("labels-test");
    write_idx(dir, "train", 256, -1, 0);
    write_idx(dir, "t10k", 64, 5, 200);
    r = run_kdrun("--quiet", "--color=never", recipe("ltest.kdr", dir, PHASE), NULL);
    CU_ASSERT_EQUAL(r.status, 4);
    CU_ASSERT(contains(r.err, "labels-test/t10k-labels-idx1-ubyte: record 5: label 200 out of range (0..9)"));
    rr_free(&r);
}

int main(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/kdrun-faults-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    snprintf(out_path, sizeof out_path, "%s/stdout", tmpdir);
    snprintf(err_path, sizeof err_path, "%s/stderr", tmpdir);
    setenv("KDRUN_PATH", KD_SRC("recipes"), 1);
    unsetenv("NO_COLOR");

    static const kd_unit_test tests[] = {
        KD_TEST(test_labels_out_of_range),
        KD_TEST_END
    };
    int status = kd_unit_main("faults", tests);
    char rm[400];
    snprintf(rm, sizeof rm, "rm -rf '%s'", tmpdir);
    if (system(rm) != 0) fprintf(stderr, "cannot remove %s\n", tmpdir);
    return status;
}
