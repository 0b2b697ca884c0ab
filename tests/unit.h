/* unit.h — shared helpers for the CUnit test programs (one per test file).
 *
 * A test file defines its test functions and ends with
 *
 *     int main(void)
 *     {
 *         static const kd_unit_test tests[] = {
 *             KD_TEST(test_numbers),
 *             KD_TEST(test_strings),
 *             KD_TEST_END
 *         };
 *         return kd_unit_main("lexer", tests);
 *     }
 *
 * or, with several suites:
 *
 *     if (kd_unit_init() != 0) return 2;
 *     kd_unit_suite("numbers", numbers_tests);
 *     kd_unit_suite("strings", strings_tests);
 *     return kd_unit_run();
 *
 * kd_unit_run() runs the registry with the basic interface in verbose mode
 * (CUnit prints its "Run Summary" table, which CI parses) and returns 0 only
 * if every suite initialized, every test passed and no assertion failed, so
 * that `make check` fails otherwise.
 *
 * Test data: KD_SRC("recipes/classic/fmnist_kd.kdr") is the absolute path of
 * a file in the source tree (KDRUN_SRCDIR is set by Makefile.am).
 */
#ifndef KD_TESTS_UNIT_H
#define KD_TESTS_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/CUnit.h>
#include <CUnit/Basic.h>

#ifndef KDRUN_SRCDIR
#define KDRUN_SRCDIR "."
#endif
#ifndef KDRUN_BUILDDIR
#define KDRUN_BUILDDIR "."
#endif

/* Absolute path of a file in the source / build tree (string literals). */
#define KD_SRC(rel) KDRUN_SRCDIR "/" rel
#define KD_BUILD(rel) KDRUN_BUILDDIR "/" rel

typedef struct kd_unit_test {
    const char *name;
    CU_TestFunc fn;
} kd_unit_test;

#define KD_TEST(fn) { #fn, fn }
#define KD_TEST_END { NULL, NULL }

/* Initialize the CUnit registry.  0 on success. */
static inline int kd_unit_init(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        fprintf(stderr, "CUnit: cannot initialize the registry: %s\n",
                CU_get_error_msg());
        return -1;
    }
    return 0;
}

/* Add a suite with the tests of a KD_TEST_END-terminated array.
 * 0 on success; on failure prints why and returns -1. */
static inline int kd_unit_suite_full(const char *name, CU_InitializeFunc init,
                                     CU_CleanupFunc cleanup,
                                     const kd_unit_test *tests)
{
    CU_pSuite s = CU_add_suite(name, init, cleanup);
    if (!s) {
        fprintf(stderr, "CUnit: cannot add suite %s: %s\n", name,
                CU_get_error_msg());
        return -1;
    }
    for (const kd_unit_test *t = tests; t->name; t++) {
        if (!CU_add_test(s, t->name, t->fn)) {
            fprintf(stderr, "CUnit: cannot add test %s.%s: %s\n", name,
                    t->name, CU_get_error_msg());
            return -1;
        }
    }
    return 0;
}

static inline int kd_unit_suite(const char *name, const kd_unit_test *tests)
{
    return kd_unit_suite_full(name, NULL, NULL, tests);
}

/* Run every registered suite (basic interface, verbose), clean up the
 * registry, and return the process exit status: 0 if all passed, 1 if any
 * assertion, test or suite failed, 2 if CUnit itself failed. */
static inline int kd_unit_run(void)
{
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_ErrorCode rc = CU_basic_run_tests();
    unsigned asserts_failed = CU_get_number_of_failures();
    unsigned tests_failed = CU_get_number_of_tests_failed();
    unsigned suites_failed = CU_get_number_of_suites_failed();
    unsigned tests_run = CU_get_number_of_tests_run();
    int status = 0;
    if (rc != CUE_SUCCESS) {
        fprintf(stderr, "\nCUnit error: %s\n", CU_get_error_msg());
        status = 2;
    } else if (asserts_failed || tests_failed || suites_failed) {
        fprintf(stderr, "\nFAILED: %u test(s), %u assertion(s), %u suite(s)\n",
                tests_failed, asserts_failed, suites_failed);
        status = 1;
    } else if (tests_run == 0) {
        fprintf(stderr, "\nFAILED: no test was run\n");
        status = 1;
    }
    CU_cleanup_registry();
    return status;
}

/* The whole main() for a file with a single suite. */
static inline int kd_unit_main(const char *suite, const kd_unit_test *tests)
{
    if (kd_unit_init() != 0)
        return 2;
    if (kd_unit_suite(suite, tests) != 0) {
        CU_cleanup_registry();
        return 2;
    }
    return kd_unit_run();
}

/* Read a whole file into a malloc'd NUL-terminated buffer (*len excludes the
 * NUL; len may be NULL).  NULL if it cannot be read. */
static inline char *kd_unit_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (buf && ferror(f)) { free(buf); buf = NULL; }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len)
            *len = n;
    }
    return buf;
}

/* String equality that prints both strings when they differ (CUnit's own
 * message shows only the expression), e.g. for golden diagnostics. */
static inline int kd_unit_streq(const char *got, const char *want,
                                const char *what, const char *file, int line)
{
    int ok = got && want && strcmp(got, want) == 0;
    if (!ok) {
        fprintf(stderr, "\n%s:%d: %s differs\n--- want:\n%s\n--- got:\n%s\n---\n",
                file, line, what, want ? want : "(null)", got ? got : "(null)");
    }
    return ok;
}

#define KD_ASSERT_STR_EQ(got, want)                                         \
    CU_assertImplementation(kd_unit_streq((got), (want), #got, __FILE__,    \
                                          __LINE__),                        \
                            __LINE__, "KD_ASSERT_STR_EQ(" #got ", " #want ")", \
                            __FILE__, "", CU_FALSE)

#endif
