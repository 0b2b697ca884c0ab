/* test_golden.c — golden diagnostics: tests/lang/golden/bad_*.kdr.
 *
 * Every bad_NAME.kdr in the golden directory has a bad_NAME.err beside it
 * holding the exact text kdr_diag_print(color 0) writes for it.  The test
 * chdir()s into the golden directory and loads each recipe by its bare file
 * name, so the paths in the messages are "bad_NAME.kdr" (and the files it
 * `use`s, named inc_*.kdr, appear as written in the `use`).  No zoo
 * directory is given.
 *
 * Each recipe is loaded with kdr_program_load(); when loading reported no
 * error, kdr_check() runs.  Lines at the top of a recipe of the form
 *
 *     #!set KEY=VALUE
 *
 * are passed to kdr_check() as --set overrides (to test --set errors).
 *
 * A missing .err, a recipe that produces no error at all, or any difference
 * fails; the first differing line is shown.  KDR_GOLDEN_UPDATE=1 rewrites
 * the .err files from the current output instead (then read every changed
 * file before committing: a golden file is only as right as its review).
 */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kdr.h"
#include "../unit.h"
#include "runtime/op_builtins.h"

#define GOLDEN_DIR KD_SRC("tests/lang/golden")
#define MAX_FILES 512
#define MAX_SETS 8

static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* run one recipe; returns the malloc'd diagnostics text */
static char *run_one(const char *name, size_t *nerrors)
{
    kdr_diag d;
    kdr_diag_init(&d);
    kdr_override ov[MAX_SETS];
    char keys[MAX_SETS][256], vals[MAX_SETS][256];
    size_t nov = 0;
    char *src = kd_unit_slurp(name, NULL);
    if (src) {
        const char *p = src;
        while (strncmp(p, "#!set ", 6) == 0 && nov < MAX_SETS) {
            const char *e = strchr(p, '\n');
            size_t len = e ? (size_t)(e - p - 6) : strlen(p + 6);
            char line[256];
            snprintf(line, sizeof line, "%.*s", (int)len, p + 6);
            char *eq = strchr(line, '=');
            if (eq) {
                *eq = 0;
                snprintf(keys[nov], sizeof keys[nov], "%s", line);
                snprintf(vals[nov], sizeof vals[nov], "%s", eq + 1);
                ov[nov].key = keys[nov];
                ov[nov].value = vals[nov];
                ov[nov].used = 0;
                nov++;
            }
            if (!e)
                break;
            p = e + 1;
        }
        free(src);
    }
    kdr_program *prog = kdr_program_load(name, NULL, &d);
    if (prog && d.errors == 0)
        kdr_check(prog, ov, nov, &d);
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    if (f) {
        kdr_diag_print(&d, f, 0);
        fclose(f);
    }
    *nerrors = d.errors;
    kdr_program_free(prog);
    kdr_diag_free(&d);
    return out;
}

static void show_difference(const char *name, const char *want, const char *got)
{
    int line = 1;
    const char *w = want, *g = got;
    while (*w && *g && *w == *g) {
        if (*w == '\n')
            line++;
        w++;
        g++;
    }
    const char *ws = w, *gs = g;
    while (ws > want && ws[-1] != '\n') ws--;
    while (gs > got && gs[-1] != '\n') gs--;
    const char *we = strchr(ws, '\n'), *ge = strchr(gs, '\n');
    fprintf(stderr, "\n%s: output differs from %.*s.err at line %d\n"
            "  want: %.*s\n  got:  %.*s\n--- whole output:\n%s---\n",
            name, (int)(strlen(name) - 4), name, line,
            (int)(we ? we - ws : (long)strlen(ws)), ws,
            (int)(ge ? ge - gs : (long)strlen(gs)), gs, got);
}

static void test_golden_files(void)
{
    char cwd[4096];
    CU_ASSERT_FATAL(getcwd(cwd, sizeof cwd) != NULL);
    CU_ASSERT_FATAL(chdir(GOLDEN_DIR) == 0);
    DIR *dir = opendir(".");
    CU_ASSERT_FATAL(dir != NULL);
    char *names[MAX_FILES];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(dir)) && n < MAX_FILES) {
        size_t len = strlen(de->d_name);
        if (strncmp(de->d_name, "bad_", 4) == 0 && len > 8
            && strcmp(de->d_name + len - 4, ".kdr") == 0)
            names[n++] = strdup(de->d_name);
    }
    closedir(dir);
    qsort(names, n, sizeof names[0], cmpstr);
    int update = getenv("KDR_GOLDEN_UPDATE") && strcmp(getenv("KDR_GOLDEN_UPDATE"), "1") == 0;
    size_t passed = 0;
    for (size_t i = 0; i < n; i++) {
        size_t nerr = 0;
        char *got = run_one(names[i], &nerr);
        char errname[512];
        snprintf(errname, sizeof errname, "%.*s.err", (int)(strlen(names[i]) - 4), names[i]);
        if (update) {
            FILE *f = fopen(errname, "w");
            CU_ASSERT(f != NULL);
            if (f) {
                fputs(got ? got : "", f);
                fclose(f);
                fprintf(stderr, "updated %s\n", errname);
            }
            free(got);
            continue;
        }
        char *want = kd_unit_slurp(errname, NULL);
        int ok = 1;
        if (!want) {
            fprintf(stderr, "\n%s: missing %s\n", names[i], errname);
            ok = 0;
        } else if (nerr == 0) {
            fprintf(stderr, "\n%s: no error reported (a bad_ recipe must fail)\n", names[i]);
            ok = 0;
        } else if (!got || strcmp(want, got) != 0) {
            show_difference(names[i], want, got ? got : "");
            ok = 0;
        }
        CU_ASSERT(ok);
        passed += (size_t)ok;
        free(want);
        free(got);
    }
    fprintf(stderr, "\ngolden: %zu of %zu recipes match\n", passed, n);
    CU_ASSERT(n >= 45);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    CU_ASSERT(chdir(cwd) == 0);
}

/* Every .err has its .kdr (a renamed recipe must not leave a stale file). */
static void test_no_orphan_err(void)
{
    DIR *dir = opendir(GOLDEN_DIR);
    CU_ASSERT_FATAL(dir != NULL);
    struct dirent *de;
    int orphans = 0;
    while ((de = readdir(dir))) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 4, ".err") != 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%.*s.kdr", GOLDEN_DIR, (int)(len - 4), de->d_name);
        if (access(path, R_OK) != 0) {
            fprintf(stderr, "\norphan golden file %s\n", de->d_name);
            orphans++;
        }
    }
    closedir(dir);
    CU_ASSERT_EQUAL(orphans, 0);
}

int main(void)
{
    if (kd_op_builtins_register() != 0)   /* op builtins come from the registry */
        return 1;
    static const kd_unit_test tests[] = {
        KD_TEST(test_golden_files),
        KD_TEST(test_no_orphan_err),
        KD_TEST_END
    };
    return kd_unit_main("golden", tests);
}
