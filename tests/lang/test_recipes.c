/* test_recipes.c — every bundled recipe and zoo file must load and pass
 * kdr_check with no errors.
 *
 * Walks KDRUN_SRCDIR "/recipes" (a compile-time define the build passes),
 * loads each *.kdr with the zoo dir set to that same directory, checks it
 * with no overrides, and prints the diagnostics of any file that fails.
 * Also checks that man/kdr.5 documents every entry of the builtins table.
 */
#define _DEFAULT_SOURCE
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kdr.h"
#include "builtins.h"
#include "../unit.h"
#include "runtime/op_builtins.h"

#ifndef KDRUN_SRCDIR
#error "KDRUN_SRCDIR must be defined by the build (the source tree root)"
#endif

#define RECIPES_DIR KDRUN_SRCDIR "/recipes"
#define MIN_RECIPES 20

static char **files;
static size_t nfiles, capfiles;

static int has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static int add_file(const char *path)
{
    if (nfiles == capfiles) {
        size_t nc = capfiles ? capfiles * 2 : 64;
        char **nf = realloc(files, nc * sizeof *nf);
        if (!nf)
            return -1;
        files = nf;
        capfiles = nc;
    }
    files[nfiles] = strdup(path);
    if (!files[nfiles])
        return -1;
    nfiles++;
    return 0;
}

/* Recursive walk; returns -1 if a directory could not be read. */
static int walk(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "test_recipes: cannot open %s\n", dir);
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        size_t n = strlen(dir) + strlen(e->d_name) + 2;
        char *p = malloc(n);
        if (!p) {
            rc = -1;
            break;
        }
        snprintf(p, n, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) == 0) {
            if (S_ISDIR(st.st_mode)) {
                if (walk(p) != 0)
                    rc = -1;
            } else if (S_ISREG(st.st_mode) && has_suffix(e->d_name, ".kdr")) {
                if (add_file(p) != 0)
                    rc = -1;
            }
        }
        free(p);
    }
    closedir(d);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Load and check one file; returns the number of errors (>= 1 when the
 * program could not be loaded at all). */
static size_t check_one(const char *path)
{
    kdr_diag d;
    kdr_diag_init(&d);
    size_t errors;
    kdr_program *p = kdr_program_load(path, RECIPES_DIR, &d);
    if (!p) {
        errors = d.errors ? d.errors : 1;
    } else {
        int st = kdr_check(p, NULL, 0, &d);
        errors = d.errors;
        if (st != 0 && errors == 0)
            errors = 1;   /* failure status without a message is a failure too */
    }
    if (errors) {
        fprintf(stderr, "FAIL %s (%zu error%s):\n", path, errors,
                errors == 1 ? "" : "s");
        kdr_diag_print(&d, stderr, 0);
    }
    if (p)
        kdr_program_free(p);
    kdr_diag_free(&d);
    return errors;
}

static void test_enough_recipes(void)
{
    CU_ASSERT_FATAL(walk(RECIPES_DIR) == 0);
    qsort(files, nfiles, sizeof *files, cmp_str);
    if (nfiles < MIN_RECIPES)
        fprintf(stderr, "only %zu recipe files under %s (want >= %d)\n",
                nfiles, RECIPES_DIR, MIN_RECIPES);
    CU_ASSERT(nfiles >= MIN_RECIPES);
}

static void test_every_recipe_checks(void)
{
    CU_ASSERT_FATAL(nfiles > 0);
    size_t failed = 0;
    for (size_t i = 0; i < nfiles; i++) {
        size_t errs = check_one(files[i]);
        CU_ASSERT_EQUAL(errs, 0);
        if (errs)
            failed++;
    }
    if (failed)
        fprintf(stderr, "%zu of %zu recipe files failed kdr_check\n", failed,
                nfiles);
}

/* The harness itself must be able to fail: a recipe with an unknown name. */
static void test_bad_recipe_fails(void)
{
    char tmpl[] = "/tmp/kdr_bad_recipeXXXXXX";
    int fd = mkstemp(tmpl);
    CU_ASSERT_FATAL(fd >= 0);
    FILE *f = fdopen(fd, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs("model m = no_such_net_anywhere(depth: 20)\n", f);
    fclose(f);
    kdr_diag d;
    kdr_diag_init(&d);
    kdr_program *p = kdr_program_load(tmpl, RECIPES_DIR, &d);
    int st = p ? kdr_check(p, NULL, 0, &d) : 1;
    CU_ASSERT(st != 0);
    CU_ASSERT(d.errors > 0);
    if (p)
        kdr_program_free(p);
    kdr_diag_free(&d);
    remove(tmpl);
}

/* man/kdr.5 lists every builtin of lang/builtins.c as "\fBname\fR" (see its
 * BUILTINS section); a builtin added there without a line fails here. */
static void test_man_lists_every_builtin(void)
{
    size_t len = 0;
    char *man = kd_unit_slurp(KD_SRC("man/kdr.5"), &len);
    CU_ASSERT_FATAL(man != NULL);
    size_t n = 0;
    const kdr_builtin *t = kdr_builtins(&n);
    CU_ASSERT(n > 0);
    for (size_t i = 0; i < n; i++) {
        char want[128];
        /* an op of the registry has its own page, man/kdr-<op>.7, whose
         * SYNOPSIS tests/runtime/test_compile.c holds against the registry */
        if (kd_recipe_op_find(t[i].name, t[i].ctx))
            continue;
        snprintf(want, sizeof want, "\\fB%s\\fR", t[i].name);
        int found = strstr(man, want) != NULL;
        if (!found)
            fprintf(stderr, "man/kdr.5 does not list builtin '%s'\n", t[i].name);
        CU_ASSERT(found);
    }
    free(man);
}

int main(void)
{
    if (kd_op_builtins_register() != 0)   /* op builtins come from the registry */
        return 1;
    static const kd_unit_test tests[] = {
        KD_TEST(test_enough_recipes),
        KD_TEST(test_every_recipe_checks),
        KD_TEST(test_bad_recipe_fails),
        KD_TEST(test_man_lists_every_builtin),
        KD_TEST_END
    };
    int status = kd_unit_main("recipes", tests);
    for (size_t i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
    return status;
}
