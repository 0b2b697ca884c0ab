/* test_seq_cli.c — sequence recommendation end to end through ./kdrun:
 *   - recipes/adarec/ml2k.kdr (teacher, search with alternate, derive,
 *     fine-tune, report) for one epoch per phase on a small generated
 *     ratings.dat, with the sizes made small by --set (dim, blocks, cells,
 *     batch): every phase runs, the report has the popularity row and
 *     finite HR/NDCG/MRR, and the EMD layer weights are in the saved state;
 *   - a malformed line of the file stops the run with exit status 4 and
 *     FILE:LINE. */
#define _GNU_SOURCE 1   /* memmem */
#include "config.h"

#include <fcntl.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit.h"

#define KDRUN KD_BUILD("kdrun")

static char tmpdir[256];

typedef struct res { int status; char *out, *err; } res;

/* ./kdrun argv[0..] with KDRUN_RUNS in tmpdir; output captured */
static res run(const char *const *args)
{
    char po[300], pe[300], runs[300];
    snprintf(po, sizeof po, "%s/out", tmpdir);
    snprintf(pe, sizeof pe, "%s/err", tmpdir);
    snprintf(runs, sizeof runs, "%s/runs", tmpdir);
    const char *argv[32] = { "kdrun" };
    int n = 1;
    while (args[n - 1] && n < 31) { argv[n] = args[n - 1]; n++; }
    argv[n] = NULL;
    res r = { -1, NULL, NULL };
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return r;
    if (pid == 0) {
        int fo = open(po, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(pe, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0) _exit(127);
        setenv("KDRUN_RUNS", runs, 1);
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

/* 100 users with 8..25 ratings each of items 1..150, MovieLens style */
static int write_ratings(const char *path, const char *bad_line, int bad_at)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    uint64_t s = 88172645463325252ull;
    int line = 0;
    for (int u = 1; u <= 100; u++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        int n = 8 + (int)(s % 18);
        for (int k = 0; k < n; k++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            if (++line == bad_at) fprintf(f, "%s\n", bad_line);
            else fprintf(f, "%d::%d::%d::%d\n", u, 1 + (int)(s % 150), 1 + (int)((s >> 20) % 5),
                         978300000 + 100 * k + u);
        }
    }
    return fclose(f);
}

/* the value of row `what` of phase `phase` in metrics.csv, or NAN */
static double metric(const char *csv, const char *phase, const char *what)
{
    char key[300];
    snprintf(key, sizeof key, "\n%s,", phase);
    for (const char *p = strstr(csv, key); p; p = strstr(p + 1, key)) {
        const char *q = strchr(p + 1, '"');
        if (!q || strncmp(q + 1, what, strlen(what)) || q[1 + strlen(what)] != '"') continue;
        return atof(q + strlen(what) + 3);
    }
    return NAN;
}

static void test_ml2k_one_epoch(void)
{
    char data[400], set[500];
    snprintf(data, sizeof data, "%s/ratings.dat", tmpdir);
    CU_ASSERT_EQUAL_FATAL(write_ratings(data, NULL, 0), 0);
    snprintf(set, sizeof set, "ratings=%s", data);
    const char *args[] = { "--threads", "1", "--set", set, "--set", "epochs=1", "--set", "dim=16",
                           "--set", "blocks=2", "--set", "cells=1", "--set", "batch=32",
                           KD_SRC("recipes/adarec/ml2k.kdr"), NULL };
    res r = run(args);
    CU_ASSERT_EQUAL(r.status, 0);
    if (r.status != 0) fprintf(stderr, "\n%s\n", r.err);
    /* every phase ran; derive chose an op per edge of the one cell */
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "pretrain epoch 1/1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "search_student epoch 1/1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "derive student: student.cell[1].rec_edge4.choice0 = candidate "));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "finetune epoch 1/1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "popularity   ml.test"));
    /* the report's rows */
    const char *dirline = strstr(r.out, "results (");
    CU_ASSERT_PTR_NOT_NULL_FATAL(dirline);
    char dir[600], path[700];
    snprintf(dir, sizeof dir, "%.*s", (int)(strcspn(dirline + 9, ")")), dirline + 9);
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    char *csv = kd_unit_slurp(path, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
    static const char *const models[] = { "popularity", "teacher", "student" };
    for (int m = 0; m < 3; m++) {
        char what[200];
        snprintf(what, sizeof what, "%s hr@10 on ml.test", models[m]);
        double hr = metric(csv, "report", what);
        CU_ASSERT(hr >= 0 && hr <= 1);
        snprintf(what, sizeof what, "%s ndcg@10 on ml.test", models[m]);
        double nd = metric(csv, "report", what);
        CU_ASSERT(nd >= 0 && nd <= hr);
        snprintf(what, sizeof what, "%s mrr@20 on ml.test", models[m]);
        CU_ASSERT(metric(csv, "report", what) >= 0);
    }
    CU_ASSERT(isnan(metric(csv, "report", "popularity params on ml.test")));
    CU_ASSERT(metric(csv, "report", "student params on ml.test") > 0);
    free(csv);
    /* the EMD layer weights went into the saved state */
    snprintf(path, sizeof path, "%s/state.safetensors", dir);
    size_t len = 0;
    char *st = kd_unit_slurp(path, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    CU_ASSERT_PTR_NOT_NULL(memmem(st, len, "store/emd(teacher.hidden[1],teacher.hidden[2];student.cell[1])"
                                  ".teacher_weights", 77));
    free(st);
    res_free(&r);
}

static void test_bad_line(void)
{
    char data[400], set[500], want[600];
    snprintf(data, sizeof data, "%s/bad.dat", tmpdir);
    CU_ASSERT_EQUAL_FATAL(write_ratings(data, "12::7::x::978300000", 40), 0);
    snprintf(set, sizeof set, "ratings=%s", data);
    const char *args[] = { "--threads", "1", "--set", set, KD_SRC("recipes/adarec/ml2k.kdr"), NULL };
    res r = run(args);
    CU_ASSERT_EQUAL(r.status, 4);
    snprintf(want, sizeof want, "%s:40: expected UserID::MovieID::Rating::Timestamp, got "
             "\"12::7::x::978300000\"", data);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, want));
    if (!strstr(r.err, want)) fprintf(stderr, "\n%s\n", r.err);
    res_free(&r);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kdrun-seqcli-XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    static const kd_unit_test tests[] = {
        KD_TEST(test_bad_line),
        KD_TEST(test_ml2k_one_epoch),
        KD_TEST_END
    };
    int rc = kd_unit_main("seq_cli", tests);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) rc = 1;
    return rc;
}
