/* test_sweep.c — the sweep grid, the command file of a run, SHA-256.
 *
 * Sweep grids come from small recipes parsed and checked here (lists,
 * ranges, strings, `let` values, an override turning a sweep into one
 * point); command files round-trip and bad ones give exact messages;
 * SHA-256 is checked against the FIPS 180-4 example vectors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unit.h"
#include "runtime/sha256.h"
#include "runtime/sweep.h"
#include "runtime/op_builtins.h"

static char dir[256];

static void sha(const char *msg, size_t reps, char hex[65])
{
    kd_sha256 s;
    kd_sha256_init(&s);
    for (size_t i = 0; i < reps; i++) kd_sha256_update(&s, msg, strlen(msg));
    kd_sha256_hex(&s, hex);
}

static void test_sha256_vectors(void)
{
    char hex[65];
    sha("", 1, hex);
    KD_ASSERT_STR_EQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha("abc", 1, hex);
    KD_ASSERT_STR_EQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1, hex);
    KD_ASSERT_STR_EQ(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    sha("a", 1000000, hex);   /* fed one byte at a time: crosses every block boundary */
    KD_ASSERT_STR_EQ(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* parse and check a recipe; NULL on errors (printed) */
static kdr_program *load(const char *text, kdr_override *ov, size_t nov)
{
    char path[400];
    snprintf(path, sizeof path, "%s/r.kdr", dir);
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    fputs(text, f);
    fclose(f);
    kdr_diag d;
    kdr_diag_init(&d);
    kdr_program *p = kdr_program_load(path, NULL, &d);
    if (p && d.errors == 0) kdr_check(p, ov, nov, &d);
    if (d.errors) {
        kdr_diag_print(&d, stderr, 0);
        if (p) kdr_program_free(p);
        p = NULL;
    }
    kdr_diag_free(&d);
    return p;
}

static const char *GRID =
    "let big = 56\n"
    "sweep depth in [20, big, 110]\n"
    "sweep how in [\"a b\", \"c/d\"]\n"
    "sweep seed in 1..3\n"
    "data f = idx(\"/nonexistent\") { train \"train\" }\n"
    "net n(d) { out linear(flatten(in), 10) }\n"
    "model m = n(depth)\n"
    "phase p { train m on f.train; seed seed; loss ce(m.out, label) }\n";

static void test_grid(void)
{
    kdr_program *p = load(GRID, NULL, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    kd_sweep sw;
    kdr_diag d;
    kdr_diag_init(&d);
    CU_ASSERT_EQUAL_FATAL(kd_sweep_collect(p, &sw, &d), 0);
    CU_ASSERT_EQUAL(sw.nvars, 3);
    CU_ASSERT_EQUAL(sw.npoints, 18);
    KD_ASSERT_STR_EQ(sw.vars[0].name, "depth");
    KD_ASSERT_STR_EQ(sw.vars[0].values[1], "56");
    KD_ASSERT_STR_EQ(sw.vars[1].values[0], "\"a b\"");
    KD_ASSERT_STR_EQ(sw.vars[1].labels[1], "c/d");
    KD_ASSERT_STR_EQ(sw.vars[2].values[2], "3");
    char name[200];
    kd_sweep_point_name(&sw, 0, name, sizeof name);
    KD_ASSERT_STR_EQ(name, "depth=20,how=a_b,seed=1");
    /* the last variable varies fastest */
    kd_sweep_point_name(&sw, 4, name, sizeof name);
    KD_ASSERT_STR_EQ(name, "depth=20,how=c_d,seed=2");
    kd_sweep_point_name(&sw, 17, name, sizeof name);
    KD_ASSERT_STR_EQ(name, "depth=110,how=c_d,seed=3");
    int idx[KD_SWEEP_MAXVARS];
    kd_sweep_indices(&sw, 10, idx);
    CU_ASSERT(idx[0] == 1 && idx[1] == 1 && idx[2] == 1);
    kd_sweep_free(&sw);
    kdr_program_free(p);

    /* an override makes a sweep one point (what the sweep driver does) */
    kdr_override ov[] = { { .key = "depth", .value = "56" }, { .key = "seed", .value = "2" } };
    p = load(GRID, ov, 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT(ov[0].used && ov[1].used);
    CU_ASSERT_EQUAL_FATAL(kd_sweep_collect(p, &sw, &d), 0);
    CU_ASSERT_EQUAL(sw.npoints, 2);
    kd_sweep_point_name(&sw, 1, name, sizeof name);
    KD_ASSERT_STR_EQ(name, "depth=56,how=c_d,seed=2");
    kd_sweep_free(&sw);
    kdr_program_free(p);

    /* no sweeps: one point */
    p = load("data f = idx(\"/x\") { train \"train\" }\nnet n() { out linear(flatten(in), 10) }\n"
             "model m = n()\nphase p { train m on f.train; loss ce(m.out, label) }\n", NULL, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(kd_sweep_collect(p, &sw, &d), 0);
    CU_ASSERT_EQUAL(sw.nvars, 0);
    CU_ASSERT_EQUAL(sw.npoints, 1);
    kd_sweep_free(&sw);
    kdr_program_free(p);
    kdr_diag_free(&d);
}

static void write_file(const char *name, const char *text)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f) { fputs(text, f); fclose(f); }
}

static void test_command_file(void)
{
    char *keys[] = { "epochs", "data.f.limit" }, *vals[] = { "1", "2000" };
    kd_command c = { .recipe = "r.kdr", .recipe_abs = "/abs/r.kdr", .hash = "00ff", .nset = 2,
                     .keys = keys, .values = vals, .have_seed = 1, .seed = 7, .threads = 2 };
    char err[600];
    CU_ASSERT_EQUAL_FATAL(kd_command_write(dir, &c, err, sizeof err), 0);
    kd_command back;
    CU_ASSERT_EQUAL_FATAL(kd_command_read(dir, &back, err, sizeof err), 0);
    KD_ASSERT_STR_EQ(back.recipe, "r.kdr");
    KD_ASSERT_STR_EQ(back.recipe_abs, "/abs/r.kdr");
    KD_ASSERT_STR_EQ(back.hash, "00ff");
    CU_ASSERT_EQUAL(back.nset, 2);
    KD_ASSERT_STR_EQ(back.keys[1], "data.f.limit");
    KD_ASSERT_STR_EQ(back.values[1], "2000");
    CU_ASSERT(back.have_seed && back.seed == 7 && back.threads == 2);
    kd_command_free(&back);

    /* a value that cannot be written on one line is refused */
    char *bad[] = { "a\nb" };
    c.nset = 1;
    c.values = bad;
    CU_ASSERT_EQUAL(kd_command_write(dir, &c, err, sizeof err), -1);
    KD_ASSERT_STR_EQ(err, "--set epochs: a tab or a newline in a value; --resume could not replay it");

    char want[700];
    write_file("command", "recipe\tr.kdr\nthreads\ttwo\n");
    CU_ASSERT_EQUAL(kd_command_read(dir, &back, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s/command:2: bad threads 'two'", dir);
    KD_ASSERT_STR_EQ(err, want);
    write_file("command", "recipe\tr.kdr\ncolour\tred\n");
    CU_ASSERT_EQUAL(kd_command_read(dir, &back, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s/command:2: unknown key 'colour'", dir);
    KD_ASSERT_STR_EQ(err, want);
    write_file("command", "# nothing\nthreads\t2\n");
    CU_ASSERT_EQUAL(kd_command_read(dir, &back, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s/command: no recipe recorded", dir);
    KD_ASSERT_STR_EQ(err, want);
    write_file("command", "recipe r.kdr\n");
    CU_ASSERT_EQUAL(kd_command_read(dir, &back, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s/command:1: expected KEY<TAB>VALUE", dir);
    KD_ASSERT_STR_EQ(err, want);
    char path[400];
    snprintf(path, sizeof path, "%s/command", dir);
    unlink(path);
    CU_ASSERT_EQUAL(kd_command_read(dir, &back, err, sizeof err), -1);
    CU_ASSERT(strstr(err, "No such file or directory") != NULL);
}

int main(void)
{
    if (kd_op_builtins_register() != 0)   /* op builtins come from the registry */
        return 1;
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/kd_sweep_XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 2; }
    static const kd_unit_test tests[] = {
        KD_TEST(test_sha256_vectors),
        KD_TEST(test_grid),
        KD_TEST(test_command_file),
        KD_TEST_END
    };
    int status = kd_unit_main("sweep", tests);
    char rm[400];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    if (system(rm) != 0) fprintf(stderr, "cannot remove %s\n", dir);
    return status;
}
