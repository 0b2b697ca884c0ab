/* test_textbuf.c — the string buffer and the atomic file writer.
 *
 * kd_strbuf: bytes, strings, long printf output, clear, take (empty and
 * after running out of memory).  kd_write_atomic: a new file and a
 * replaced one get the content and the umask's mode with no temporary
 * file left; every failure (the writer's own, with and without errno, a
 * directory that does not exist, a path under a regular file — which fails
 * even for root, unlike permission bits) leaves the old file as it was, no
 * temporary file, and a message that says why.  Files go to a fresh
 * directory under $TMPDIR (or /tmp), removed at the end.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../unit.h"
#include "runtime/textbuf.h"

static char dir[256];

static int make_dir(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/kd_textbuf_XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[600];
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
    return 0;
}

static const char *path_of(const char *name)
{
    static char p[4][600];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

/* Entries of the test directory (not . and ..). */
static int count_entries(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    if (d)
        closedir(d);
    return n;
}

/* Entries whose name contains ".tmp". */
static int count_tmp(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp"))
            n++;
    if (d)
        closedir(d);
    return n;
}

/* ---- string buffer ---------------------------------------------------------- */

static void test_strbuf(void)
{
    kd_strbuf b = { 0 };
    kd_sb_put(&b, "ab\0cd", 5);
    CU_ASSERT_EQUAL(b.n, 5);
    CU_ASSERT_EQUAL(memcmp(b.s, "ab\0cd", 6), 0);
    kd_sb_clear(&b);
    CU_ASSERT_EQUAL(b.n, 0);
    KD_ASSERT_STR_EQ(b.s, "");
    kd_sb_puts(&b, "x=");
    kd_sb_printf(&b, "%d, %s", 42, "y");
    kd_sb_putc(&b, '!');
    kd_sb_put(&b, "", 0);
    KD_ASSERT_STR_EQ(b.s, "x=42, y!");
    CU_ASSERT_EQUAL(b.n, strlen("x=42, y!"));
    /* printf output longer than its 512-byte scratch buffer */
    char big[3001];
    memset(big, 'z', 3000);
    big[3000] = 0;
    kd_sb_printf(&b, "[%s]", big);
    CU_ASSERT_EQUAL(b.n, 8 + 3002);
    CU_ASSERT_EQUAL(b.s[8], '[');
    CU_ASSERT_EQUAL(b.s[8 + 3001], ']');
    CU_ASSERT_EQUAL(b.s[b.n], 0);
    CU_ASSERT(b.cap > b.n);
    char *s = kd_sb_take(&b);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(strncmp(s, "x=42, y![zzz", 12), 0);
    CU_ASSERT_EQUAL(strlen(s), 3010);
    free(s);
    /* take leaves the buffer empty; an empty buffer gives "" */
    CU_ASSERT_PTR_NULL(b.s);
    CU_ASSERT_EQUAL(b.n, 0);
    s = kd_sb_take(&b);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    KD_ASSERT_STR_EQ(s, "");
    free(s);
    /* out of memory is sticky: nothing more is added, take gives NULL */
    kd_sb_puts(&b, "kept?");
    b.oom = 1;
    kd_sb_puts(&b, " more");
    kd_sb_printf(&b, "%d", 7);
    KD_ASSERT_STR_EQ(b.s, "kept?");
    CU_ASSERT_PTR_NULL(kd_sb_take(&b));
    CU_ASSERT_EQUAL(b.oom, 0);
    CU_ASSERT_PTR_NULL(b.s);
    /* free */
    kd_sb_puts(&b, "gone");
    kd_sb_free(&b);
    CU_ASSERT_PTR_NULL(b.s);
    CU_ASSERT_EQUAL(b.n, 0);
    CU_ASSERT_EQUAL(b.cap, 0);
}

static void test_set_err(void)
{
    char err[8] = "old";
    kd_set_err(err, sizeof err, "%s %d", "abcdef", 12);
    KD_ASSERT_STR_EQ(err, "abcdef ");
    kd_set_err(NULL, 10, "x");             /* nothing to write to: no crash */
    kd_set_err(err, 0, "x");
    KD_ASSERT_STR_EQ(err, "abcdef ");
}

/* ---- atomic write ---------------------------------------------------------------- */

typedef struct wr {
    const char *text;
    int fail_errno;        /* >0: fail with it; -1: fail with errno 0 */
    int calls;
} wr;

static int write_text(FILE *f, void *arg)
{
    wr *w = arg;
    w->calls++;
    fputs(w->text, f);
    if (w->fail_errno) {
        errno = w->fail_errno > 0 ? w->fail_errno : 0;
        return -1;
    }
    return 0;
}

static void test_write_atomic(void)
{
    char err[1200] = "x";
    const char *p = path_of("out.txt");
    mode_t old = umask(022);
    wr w = { "first\n", 0, 0 };
    CU_ASSERT_EQUAL(kd_write_atomic(p, write_text, &w, err, sizeof err), 0);
    CU_ASSERT_EQUAL(w.calls, 1);
    char *got = kd_unit_slurp(p, NULL);
    KD_ASSERT_STR_EQ(got, "first\n");
    free(got);
    struct stat st;
    CU_ASSERT_EQUAL_FATAL(stat(p, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0644);
    CU_ASSERT_EQUAL(count_entries(), 1);
    /* replacing, under another umask: the new file's mode follows it */
    umask(077);
    w.text = "second\n";
    CU_ASSERT_EQUAL(kd_write_atomic(p, write_text, &w, err, sizeof err), 0);
    got = kd_unit_slurp(p, NULL);
    KD_ASSERT_STR_EQ(got, "second\n");
    free(got);
    CU_ASSERT_EQUAL_FATAL(stat(p, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    umask(old);
    CU_ASSERT_EQUAL(count_entries(), 1);
    CU_ASSERT_EQUAL(count_tmp(), 0);
    /* a relative path (the directory is ".") */
    char cwd[1024];
    CU_ASSERT_PTR_NOT_NULL_FATAL(getcwd(cwd, sizeof cwd));
    CU_ASSERT_EQUAL_FATAL(chdir(dir), 0);
    w.text = "here\n";
    CU_ASSERT_EQUAL(kd_write_atomic("rel.txt", write_text, &w, err, sizeof err), 0);
    CU_ASSERT_EQUAL(chdir(cwd), 0);
    got = kd_unit_slurp(path_of("rel.txt"), NULL);
    KD_ASSERT_STR_EQ(got, "here\n");
    free(got);
    CU_ASSERT_EQUAL(unlink(path_of("rel.txt")), 0);
}

/* Every failure: -1, the message, the old file as it was, no temporary. */
static void expect_fail(const char *path, wr *w, const char *want)
{
    char err[1200] = "";
    CU_ASSERT_EQUAL(kd_write_atomic(path, write_text, w, err, sizeof err), -1);
    KD_ASSERT_STR_EQ(err, want);
    char *got = kd_unit_slurp(path_of("out.txt"), NULL);
    KD_ASSERT_STR_EQ(got, "old\n");
    free(got);
    CU_ASSERT_EQUAL(count_tmp(), 0);
    CU_ASSERT_EQUAL(count_entries(), 2);     /* out.txt and the file "plain" */
}

static void test_write_atomic_errors(void)
{
    char err[1200] = "x", want[1400];
    char p[600];
    snprintf(p, sizeof p, "%s", path_of("out.txt"));
    wr w = { "old\n", 0, 0 };
    CU_ASSERT_EQUAL_FATAL(kd_write_atomic(p, write_text, &w, err, sizeof err), 0);
    FILE *f = fopen(path_of("plain"), "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fclose(f);

    /* the writer fails, with a cause and without one */
    wr full = { "half of the new text", ENOSPC, 0 };
    snprintf(want, sizeof want, "cannot write %s: No space left on device", p);
    expect_fail(p, &full, want);
    CU_ASSERT_EQUAL(full.calls, 1);
    wr oom = { "", -1, 0 };
    snprintf(want, sizeof want, "cannot write %s: out of memory", p);
    expect_fail(p, &oom, want);

    /* a directory that does not exist: fn is not called */
    wr any = { "x", 0, 0 };
    char nodir[600];
    snprintf(nodir, sizeof nodir, "%s", path_of("no/such/out.txt"));
    snprintf(want, sizeof want, "cannot write %s: No such file or directory", nodir);
    expect_fail(nodir, &any, want);
    CU_ASSERT_EQUAL(any.calls, 0);

    /* under a regular file (root writes into read-only directories, but
     * not below a file) */
    char under[600];
    snprintf(under, sizeof under, "%s", path_of("plain/out.txt"));
    snprintf(want, sizeof want, "cannot write %s: Not a directory", under);
    expect_fail(under, &any, want);
    CU_ASSERT_EQUAL(any.calls, 0);

    /* over a directory: the rename fails after the content was written */
    CU_ASSERT_EQUAL_FATAL(mkdir(path_of("sub"), 0777), 0);
    CU_ASSERT_EQUAL_FATAL(mkdir(path_of("sub/d"), 0777), 0);
    snprintf(want, sizeof want, "cannot write %s: Is a directory", path_of("sub/d"));
    CU_ASSERT_EQUAL(kd_write_atomic(path_of("sub/d"), write_text, &any, err, sizeof err), -1);
    KD_ASSERT_STR_EQ(err, want);
    CU_ASSERT_EQUAL(any.calls, 1);
    DIR *d = opendir(path_of("sub"));
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) n += e->d_name[0] != '.';
    if (d) closedir(d);
    CU_ASSERT_EQUAL(n, 1);                 /* only d: no temporary file */
    CU_ASSERT_EQUAL(rmdir(path_of("sub/d")), 0);
    CU_ASSERT_EQUAL(rmdir(path_of("sub")), 0);

    /* no name */
    CU_ASSERT_EQUAL(kd_write_atomic("", write_text, &any, err, sizeof err), -1);
    KD_ASSERT_STR_EQ(err, "cannot write a file without a name");
    /* a message longer than err is cut, not overrun */
    char small[16];
    CU_ASSERT_EQUAL(kd_write_atomic(nodir, write_text, &any, small, sizeof small), -1);
    CU_ASSERT_EQUAL(strlen(small), sizeof small - 1);
    CU_ASSERT_EQUAL(count_tmp(), 0);
}

int main(void)
{
    static const kd_unit_test tests[] = {
        KD_TEST(test_strbuf),
        KD_TEST(test_set_err),
        KD_TEST(test_write_atomic),
        KD_TEST(test_write_atomic_errors),
        KD_TEST_END
    };
    if (kd_unit_init() != 0)
        return 2;
    if (kd_unit_suite_full("textbuf", make_dir, remove_dir, tests) != 0) {
        CU_cleanup_registry();
        return 2;
    }
    return kd_unit_run();
}
