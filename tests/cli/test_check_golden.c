/* test_check_golden.c — golden outputs of `kdrun --check`: what it infers
 * beyond the language checker (tests/lang/golden): the sample shapes from
 * the loader registry and the shapes of every phase's loss.
 *
 * Each tests/cli/golden/NAME.kdr is checked by the freshly built kdrun, run
 * in that directory on the bare file name with --color=never:
 *   bad_NAME.kdr   must exit 3 with stderr equal to bad_NAME.err;
 *   good_NAME.kdr  must exit 0 with nothing on stderr and the shapes part
 *                  of stdout (from "shapes (per sample" on; the plan
 *                  before it is the language's, tested in tests/lang)
 *                  equal to good_NAME.out.
 * A run without --check must refuse a bad recipe the same way, before it
 * makes a run directory.  KDR_GOLDEN_UPDATE=1 rewrites the .err/.out files
 * from the current output (read every change before committing it).
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit.h"

#define KDRUN KD_BUILD("kdrun")
#define GOLDEN KD_SRC("tests/cli/golden")
#define MAX_FILES 128

static char tmpdir[256];

typedef struct res { int status; char *out, *err; } res;

/* kdrun ARGS... in directory cwd; stdout and stderr captured */
static res run_in(const char *cwd, const char *a0, const char *a1, const char *a2, const char *a3)
{
    char po[300], pe[300];
    snprintf(po, sizeof po, "%s/out", tmpdir);
    snprintf(pe, sizeof pe, "%s/err", tmpdir);
    const char *argv[] = { "kdrun", a0, a1, a2, a3, NULL };
    res r = { -1, NULL, NULL };
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return r;
    if (pid == 0) {
        int fo = open(po, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(pe, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0 || chdir(cwd) != 0) _exit(127);
        execv(KDRUN, (char *const *)argv);
        _exit(127);
    }
    int ws;
    if (waitpid(pid, &ws, 0) == pid && WIFEXITED(ws)) r.status = WEXITSTATUS(ws);
    r.out = kd_unit_slurp(po, NULL);
    r.err = kd_unit_slurp(pe, NULL);
    if (!r.out) r.out = strdup("");
    if (!r.err) r.err = strdup("");
    return r;
}

static void res_free(res *r)
{
    free(r->out);
    free(r->err);
}

static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* the golden recipes, sorted; returns their count */
static int list(char **names)
{
    DIR *d = opendir(GOLDEN);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < MAX_FILES) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".kdr") == 0) names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmpstr);
    return n;
}

/* compare text with GOLDEN/base.ext (or write it under KDR_GOLDEN_UPDATE) */
static int same_as(const char *base, const char *ext, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%.*s%s", GOLDEN, (int)(strlen(base) - 4), base, ext);
    const char *up = getenv("KDR_GOLDEN_UPDATE");
    if (up && strcmp(up, "1") == 0) {
        FILE *f = fopen(path, "w");
        if (!f) return 0;
        fputs(text, f);
        return fclose(f) == 0;
    }
    char *want = kd_unit_slurp(path, NULL);
    int ok = want && strcmp(want, text) == 0;
    if (!ok) {
        fprintf(stderr, "\n%s differs; got:\n%s\n--- want:\n%s\n", path, text, want ? want : "(missing)");
    }
    free(want);
    return ok;
}

static void test_golden(void)
{
    char *names[MAX_FILES];
    int n = list(names), nbad = 0, ngood = 0;
    for (int i = 0; i < n; i++) {
        res r = run_in(GOLDEN, "--check", "--color=never", names[i], NULL);
        if (strncmp(names[i], "bad_", 4) == 0) {
            nbad++;
            CU_ASSERT_EQUAL(r.status, 3);
            CU_ASSERT(same_as(names[i], ".err", r.err));
        } else {
            ngood++;
            CU_ASSERT_EQUAL(r.status, 0);
            CU_ASSERT_STRING_EQUAL(r.err, "");
            const char *shapes = strstr(r.out, "shapes (per sample");
            CU_ASSERT_PTR_NOT_NULL(shapes);
            CU_ASSERT(same_as(names[i], ".out", shapes ? shapes : r.out));
        }
        if ((strncmp(names[i], "bad_", 4) == 0) != (r.status == 3))
            fprintf(stderr, "%s: exit %d\n%s", names[i], r.status, r.err);
        res_free(&r);
        free(names[i]);
    }
    CU_ASSERT(nbad >= 4);
    CU_ASSERT(ngood >= 2);
}

/* A run refuses the recipe as --check does, before making a run directory
 * (before, it trained the pretrain phase and failed in the next). */
static void test_run_refuses(void)
{
    char src[512], runs[300];
    snprintf(src, sizeof src, "%s/bad_loss_shape_channels.kdr", GOLDEN);
    snprintf(runs, sizeof runs, "%s/runs", tmpdir);
    res r = run_in(tmpdir, "--color=never", src, NULL, NULL);
    CU_ASSERT_EQUAL(r.status, 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "bad_loss_shape_channels.kdr:27:13: error: mse expects "
                                         "inputs of the same shape, got [128, 8, 14, 14] and "
                                         "[128, 16, 14, 14]"));
    struct stat st;
    CU_ASSERT_NOT_EQUAL(stat(runs, &st), 0);
    res_free(&r);
}

int main(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/kd_check_golden_XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    static const kd_unit_test tests[] = {
        KD_TEST(test_golden),
        KD_TEST(test_run_refuses),
        KD_TEST_END
    };
    int rc = kd_unit_main("check_golden", tests);
    char p[400];
    snprintf(p, sizeof p, "%s/out", tmpdir);
    unlink(p);
    snprintf(p, sizeof p, "%s/err", tmpdir);
    unlink(p);
    rmdir(tmpdir);
    return rc;
}
