/* test_afd.c — runs of the online-distillation pieces through ./kdrun:
 * pools of models as teachers (their mean) and followed member by member,
 * and the bundled AFD recipes end to end on small data (CIFAR-100 in its
 * real binary format, generated here; Fashion-MNIST when installed).
 */
#include "config.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/cli/cli_util.h"

#define FMNIST "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"

static char *metrics_of(const char *name)
{
    char runs[400], dir[800], path[900];
    snprintf(runs, sizeof runs, "%s/runs", tmpdir);
    if (newest_run(runs, name, dir, sizeof dir)) return NULL;
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    return kd_unit_slurp(path, NULL);
}

/* two teachers of different nets trained, then a student distilled from
 * their mean (teacher POOL), and another following them one by one */
#define POOLS                                                                                   \
    "data f = idx(\"/usr/share/datasets/fashion-mnist\") { train \"train\"; test \"t10k\"; limit 300 }\n" \
    "net n() { out linear(flatten(in), 10) }\n"                                               \
    "net m() { out linear(relu(linear(flatten(in), 16)), 10) }\n"                             \
    "model t1 = n()\nmodel t2 = m()\nmodel s1 = n()\nmodel s2 = n()\n"                        \
    "pool experts = [t1, t2]\n"                                                               \
    "phase teach { train t1, t2 together on f.train; epochs 1; batch 50\n"                   \
    "  loss t1: ce(t1.out, label)\n  loss t2: ce(t2.out, label) }\n"                          \
    "phase ens { train s1 on f.train; teacher experts; epochs 2; batch 50\n"                 \
    "  loss kd(s1.out, experts.out, T: 4) }\n"                                                \
    "phase fol { train s2 on f.train; teacher follows experts(strategy: equal); epochs 4; batch 50\n" \
    "  loss kd(s2.out, experts.out, T: 4) }\n"                                                \
    "report { evaluate s1, s2 on f.test: top1 }\n"

static void test_pools_of_models(void)
{
    if (access(FMNIST, R_OK) != 0) {
        fprintf(stderr, "\n  skipped: dataset-fashion-mnist is not installed\n");
        return;
    }
    run_result r = run_kdrun("--threads", "2", write_tmp("pools.kdr", POOLS), NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    if (r.status != 0) fprintf(stderr, "%s", r.err);
    run_free(&r);
    char *csv = metrics_of("pools");
    CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
    /* equal: member 1 for epochs 1-2, member 2 for 3-4 */
    static const char *const want[] = { "fol,1,\"experts anchor epoch\",1\n", "fol,2,\"experts anchor epoch\",1\n",
                                        "fol,3,\"experts anchor epoch\",2\n", "fol,4,\"experts anchor epoch\",2\n" };
    for (int i = 0; i < 4; i++) CU_ASSERT(contains(csv, want[i]));
    CU_ASSERT(contains(csv, "ens,2,\"train loss\","));
    free(csv);

    /* a followed pool whose tensors the loss does not use is refused */
    r = run_kdrun("--color=never", write_tmp("pools_unused.kdr",
        "data f = idx(\"/usr/share/datasets/fashion-mnist\") { train \"train\"; limit 100 }\n"
        "net n() { out linear(flatten(in), 10) }\n"
        "model t1 = n()\nmodel t2 = n()\nmodel s = n()\npool experts = [t1, t2]\n"
        "phase p { train s on f.train; teacher follows experts(strategy: equal); epochs 1; batch 50\n"
        "  loss ce(s.out, label) }\n"), NULL);
    CU_ASSERT_EQUAL(r.status, 3);
    CU_ASSERT(contains(r.err, "phase follows pool 'experts' but its losses use none of its tensors"));
    run_free(&r);
}

/* CIFAR-100 in its binary format: per record a coarse and a fine label,
 * then 3 x 32 x 32 bytes; pixels and labels from a fixed formula */
static void write_cifar100(const char *dir, const char *name, int n, int salt)
{
    char path[600];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) return;
    FILE *f = fopen(path, "wb");
    if (!f) return;
    for (int r = 0; r < n; r++) {
        fputc((r * 7 + salt) % 20, f);
        fputc((r * 7 + salt + 1) % 100, f);
        for (int p = 0; p < 3072; p++)
            fputc((int)((((uint64_t)(r * 31 + p * 7 + salt) * 2654435761u) >> 13) % 256), f);
    }
    fclose(f);
}

/* recipe `src` with the string `from` replaced by `to`, written to tmpdir/name */
static const char *recipe_copy(const char *src, const char *name, const char *from, const char *to)
{
    char *text = kd_unit_slurp(src, NULL);
    if (!text) return NULL;
    char *at = strstr(text, from);
    static char buf[16384];
    if (at) snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    else snprintf(buf, sizeof buf, "%s", text);
    free(text);
    return write_tmp(name, buf);
}

/* cifar100_afd.kdr, as shipped, one epoch on 64 generated images: the
 * logit, generator and discriminator steps alternate; one loss row each */
static void test_cifar100_afd_runs(void)
{
    char dir[400];
    snprintf(dir, sizeof dir, "%s/c100", tmpdir);
    CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0700), 0);
    write_cifar100(dir, "train.bin", 64, 1);
    write_cifar100(dir, "test.bin", 32, 2);
    const char *recipe = recipe_copy(KD_SRC("recipes/afd/cifar100_afd.kdr"), "cifar100_afd.kdr",
                                     "\"/usr/share/datasets/cifar-100-binary\"", "\"c100\"");
    CU_ASSERT_PTR_NOT_NULL_FATAL(recipe);
    run_result r = run_kdrun("--threads", "2", "--set", "epochs=1", "--set", "batch=32", recipe, NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    if (r.status != 0) fprintf(stderr, "%s", r.err);
    CU_ASSERT(contains(r.out, "  a            cifar.test   top1"));
    CU_ASSERT(contains(r.out, "  b            cifar.test   top1"));
    run_free(&r);
    char *csv = metrics_of("cifar100_afd");
    CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
    CU_ASSERT(contains(csv, "online,1,\"train loss (a, b)\","));
    CU_ASSERT(contains(csv, "online,1,\"train loss (a, b, pa)\","));
    CU_ASSERT(contains(csv, "online,1,\"train loss (d_a, d_b)\","));
    free(csv);
}

/* the cyclic Fashion-MNIST recipe end to end, small: the ring of indexed
 * models steps each member's loss (fmnist_afd.kdr is the same machinery
 * with two nets; its evaluation of eight models on the full test set is
 * too slow for this suite) */
static void test_fmnist_afd_runs(void)
{
    if (access(FMNIST, R_OK) != 0) {
        fprintf(stderr, "\n  skipped: dataset-fashion-mnist is not installed\n");
        return;
    }
    run_result r = run_kdrun("--threads", "2", "--set", "epochs=1", "--set", "batch=64", "--set",
                             "data.fmnist.limit=128", KD_SRC("recipes/afd/fmnist_afd_cyclic.kdr"), NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    if (r.status != 0) fprintf(stderr, "%s", r.err);
    CU_ASSERT(contains(r.out, "  ring[3]      fmnist.test   top1"));
    run_free(&r);
    char *csv = metrics_of("fmnist_afd_cyclic");
    CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
    static const char *const rows[] = { "ring[1]", "ring[2]", "ring[3]", "disc[1]", "disc[2]", "disc[3]" };
    char want[80];
    for (int i = 0; i < 6; i++) {
        snprintf(want, sizeof want, "ring,1,\"train loss (%s)\",", rows[i]);
        CU_ASSERT(contains(csv, want));
    }
    free(csv);
}

int main(void)
{
    if (cli_begin("afd")) return 2;
    cli_cwd = tmpdir;
    char runs[400];
    snprintf(runs, sizeof runs, "%s/runs", tmpdir);
    setenv("KDRUN_RUNS", runs, 1);
    static const kd_unit_test tests[] = {
        KD_TEST(test_pools_of_models),
        KD_TEST(test_cifar100_afd_runs),
        KD_TEST(test_fmnist_afd_runs),
        KD_TEST_END
    };
    int status = kd_unit_main("afd", tests);
    return cli_end(status);
}
