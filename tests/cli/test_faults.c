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
#include <math.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit.h"
#include "runtime/crc32.h"

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
    /* emptied before the fork: a caller that polls err_path (interrupt_when)
     * must not read the previous run's output while the child starts */
    for (int k = 0; capture && k < 2; k++) {
        int fd = open(k ? err_path : out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) close(fd);
    }
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

    /* a loader's directory from a `let` (passed --check, then failed once) */
    dir = tmp_path("labels-ok");
    write_idx(dir, "train", 256, -1, 0);
    write_idx(dir, "t10k", 64, -1, 0);
    char buf[1024];
    snprintf(buf, sizeof buf, "let dir = \"%s\"\ndata d = idx(dir) { train \"train\"; test \"t10k\" }\n"
             "net n() { out linear(flatten(in), 10) }\nmodel m = n()\n"
             "phase p { train m on d.train; epochs 1; batch 32; loss ce(m.out, label) }\n", dir);
    r = run_kdrun("--quiet", "--color=never", write_tmp("letdir.kdr", buf), NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    rr_free(&r);
}


/* ---- 5. checkpoints: checksum, every tensor, finite values, the resume point ------ */

static const char *TEACHER_RUN =
    "model t = n()\nmodel s = n()\n"
    "phase pre { train t on d.train; epochs 2; batch 32; seed 1\n"
    "  optimizer sgd(lr: 0.01); loss ce(t.out, label)\n  checkpoint every 1 epoch }\n"
    "phase kd { train s on d.train; teacher t at epoch 1; epochs 2; batch 32; seed 1\n"
    "  optimizer sgd(lr: 0.01); loss ce(s.out, label) + kd(s.out, t.out, T: 4)\n  checkpoint every 1 epoch }\n"
    "report { evaluate t, s on d.test: top1 }\n";

typedef struct stfile { uint8_t *b; size_t n; char *hdr; size_t hlen; } stfile;

static int st_load(const char *path, stfile *f)
{
    f->b = (uint8_t *)kd_unit_slurp(path, &f->n);
    if (!f->b || f->n < 8) return -1;
    uint64_t h = 0;
    for (int i = 7; i >= 0; i--) h = h << 8 | f->b[i];
    if (h > f->n - 8) return -1;
    f->hlen = (size_t)h;
    f->hdr = malloc(f->hlen + 1);
    memcpy(f->hdr, f->b + 8, f->hlen);
    f->hdr[f->hlen] = 0;
    return 0;
}

/* write f back with header text hdr (re-padded) and f's data */
static void st_store(const char *path, const stfile *f, const char *hdr)
{
    size_t hl = strlen(hdr);
    while (hl > 0 && hdr[hl - 1] == ' ') hl--;
    size_t pad = (8 - (8 + hl) % 8) % 8;
    FILE *o = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    uint64_t n = hl + pad;
    for (int i = 0; i < 8; i++) fputc((int)(n >> (8 * i) & 0xff), o);
    fwrite(hdr, 1, hl, o);
    for (size_t i = 0; i < pad; i++) fputc(' ', o);
    fwrite(f->b + 8 + f->hlen, 1, f->n - 8 - f->hlen, o);
    fclose(o);
}

/* header text with `from` replaced by `to` (malloc'd) */
static char *replace(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    CU_ASSERT_PTR_NOT_NULL(at);
    if (!at) return strdup(s);
    size_t a = (size_t)(at - s), lf = strlen(from), lt = strlen(to);
    char *r = malloc(strlen(s) - lf + lt + 1);
    memcpy(r, s, a);
    memcpy(r + a, to, lt);
    strcpy(r + a + lt, at + lf);
    return r;
}

/* the header's checksum set to the data's (after editing the data) */
static char *fix_crc(const stfile *f, const char *hdr)
{
    const char *k = strstr(hdr, "\"kdrun.crc32\":\"");
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    char *r = strdup(hdr);
    char crc[16];
    snprintf(crc, sizeof crc, "%08x", (unsigned)kd_crc32(0, f->b + 8 + f->hlen, f->n - 8 - f->hlen));
    memcpy(r + (k - hdr) + 15, crc, 8);
    return r;
}

static void st_free(stfile *f)
{
    free(f->b);
    free(f->hdr);
}

/* a copy of run directory `from` named `to` */
static const char *copy_run(const char *from, const char *to)
{
    const char *dst = tmp_path(to);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", dst, from, dst);
    CU_ASSERT_EQUAL(system(cmd), 0);
    return dst;
}

/* the state of run copy `dir` turned into one paused at the start of
 * phase kd's epoch `epoch` (step `step`), header edits `more` applied
 * ("from\0to\0...\0\0"); data edits by `edit` */
static void pause_state(const char *dir, const char *epoch, const char *step, const char *more,
                        void (*edit)(stfile *), int crc)
{
    char p[700];
    snprintf(p, sizeof p, "%s/state.safetensors", dir);
    stfile f;
    CU_ASSERT_FATAL(st_load(p, &f) == 0);
    char *h = replace(f.hdr, "\"phase_index\":\"2\",\"phase\":\"\"", "\"phase_index\":\"1\",\"phase\":\"kd\""), *h2;
    char ep[64];
    snprintf(ep, sizeof ep, "\"epoch\":\"%s\",\"step\":\"%s\"", epoch, step);
    h2 = replace(h, "\"epoch\":\"0\",\"step\":\"0\"", ep); free(h); h = h2;
    h2 = replace(h, "\"done\":\"1\"", "\"done\":\"0\""); free(h); h = h2;
    for (const char *m = more; m && *m; m += strlen(m) + 1) {
        const char *to = m + strlen(m) + 1;
        h2 = replace(h, m, to); free(h); h = h2;
        m = to;
    }
    if (edit) edit(&f);
    if (crc) { h2 = fix_crc(&f, h); free(h); h = h2; }
    st_store(p, &f, h);
    free(h);
    st_free(&f);
}

static void nan_first(stfile *f)
{
    float nan = NAN;
    memcpy(f->b + 8 + f->hlen, &nan, 4);
}

static void flip_last(stfile *f)
{
    f->b[f->n - 3] ^= 0x01;
}

static void resume_expect(const char *dir, int status, const char *msg)
{
    run_result r = run_kdrun("--quiet", "--color=never", "--resume", dir, NULL);
    CU_ASSERT_EQUAL(r.status, status);
    CU_ASSERT(contains(r.err, msg));
    if (r.status != status || !contains(r.err, msg))
        fprintf(stderr, "\n  resume %s: exit %d, wanted %d and \"%s\":\n%s", dir, r.status, status, msg, r.err);
    rr_free(&r);
}

/* a finished run of TEACHER_RUN (made once): its directory */
static const char *base_run(void)
{
    static char base[600];
    if (base[0]) return base;
    runs_env();
    const char *data = tmp_path("ckdata");
    write_idx(data, "train", 256, -1, 0);
    write_idx(data, "t10k", 64, -1, 0);
    char buf[4096];
    snprintf(buf, sizeof buf, "data d = idx(\"%s\") { train \"train\" holdout 64 as val; test \"t10k\" }\n"
             "net n() { out linear(flatten(in), 10) }\n%s", data, TEACHER_RUN);
    run_result r = run_kdrun("--quiet", write_tmp("ck.kdr", buf), NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    rr_free(&r);
    char cmd[800];
    snprintf(cmd, sizeof cmd, "ls -d %s/ck/* | tail -n 1", tmp_path("runs"));
    FILE *ls = popen(cmd, "r");
    if (!ls || !fgets(base, sizeof base, ls)) base[0] = 0;
    if (ls) pclose(ls);
    base[strcspn(base, "\n")] = 0;
    return base;
}

static void test_checkpoint_faults(void)
{
    const char *base = base_run();
    CU_ASSERT_FATAL(base[0] != 0);
    char cmd[800];

    /* the edits themselves resume fine: a run paused before kd's epoch 2 */
    const char *d = copy_run(base, "ck-ok");
    pause_state(d, "1", "0", NULL, NULL, 0);
    resume_expect(d, 0, "");
    /* a flipped data bit: the checksum */
    d = copy_run(base, "ck-flip");
    pause_state(d, "1", "0", NULL, flip_last, 0);
    resume_expect(d, 1, "ck-flip/state.safetensors: the data does not match its checksum");
    /* a NaN written into a weight, with the checksum made to fit */
    d = copy_run(base, "ck-nan");
    pause_state(d, "1", "0", NULL, nan_first, 1);
    resume_expect(d, 1, "ck-nan/state.safetensors: tensor 'store/t.linear0.weight' holds NaN at index 0");
    /* a renamed tensor: it would stay at its initial value */
    d = copy_run(base, "ck-rename");
    pause_state(d, "1", "0", "store/s.linear0.bias\0store/s.linear0.bias_\0", NULL, 0);
    resume_expect(d, 1, "no tensor 'store/s.linear0.bias', though s's other tensors are there");
    /* epoch 9 of a 2-epoch phase; step 7 of 6 */
    d = copy_run(base, "ck-epoch");
    pause_state(d, "9", "0", NULL, NULL, 0);
    resume_expect(d, 1, "epoch 9, step 0 is not in phase 'kd' (2 epochs of 6 steps)");
    d = copy_run(base, "ck-step");
    pause_state(d, "1", "7", NULL, NULL, 0);
    resume_expect(d, 1, "epoch 1, step 7 is not in phase 'kd' (2 epochs of 6 steps)");
    /* the teacher's checkpoint (route pre, epoch 1), damaged */
    d = copy_run(base, "ck-teacher");
    pause_state(d, "1", "0", NULL, NULL, 0);
    snprintf(cmd, sizeof cmd, "%s/checkpoints/pre/epoch-001.safetensors", d);
    stfile f;
    CU_ASSERT_FATAL(st_load(cmd, &f) == 0);
    flip_last(&f);
    st_store(cmd, &f, f.hdr);
    st_free(&f);
    resume_expect(d, 1, "ck-teacher/checkpoints/pre/epoch-001.safetensors: the data does not match its checksum");
    /* an older kdrun's state (no checksum): read, with a warning */
    d = copy_run(base, "ck-old");
    pause_state(d, "1", "0", "\"kdrun.crc32\":\0\"older.key\":\0", NULL, 0);
    run_result o = run_kdrun("--color=never", "--resume", d, NULL);
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT(contains(o.err, "ck-old/state.safetensors has no checksum (written by an older kdrun)"));
    rr_free(&o);
}

/* ---- 6. SIGINT during an evaluation ------------------------------------------------ */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void msleep(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Run `recipe`; once its stderr shows `when`, wait `delay_ms` and send
 * SIGINT.  The exit status and the seconds from the signal to the exit. */
static int interrupt_when(const char *recipe, const char *when, long delay_ms, double *secs)
{
    const char *argv[] = { "kdrun", "--threads", "1", "--color=never", recipe, NULL };
    pid_t pid = spawn(argv, 1);
    CU_ASSERT_FATAL(pid > 0);
    int seen = 0;
    for (int i = 0; i < 6000 && !seen; i++) {   /* up to 60 s */
        msleep(10);
        char *e = kd_unit_slurp(err_path, NULL);
        seen = contains(e, when);
        free(e);
    }
    CU_ASSERT(seen);
    msleep(delay_ms);
    double t0 = now_s();
    kill(pid, SIGINT);
    int ws, status = -1;
    if (waitpid(pid, &ws, 0) == pid && WIFEXITED(ws)) status = WEXITSTATUS(ws);
    *secs = now_s() - t0;
    return status;
}

static void test_sigint_in_evaluation(void)
{
    runs_env();
    const char *dir = tmp_path("slow");
    /* an evaluation of many cheap batches: long in all, each batch short
     * (8x8 images, 2.4M MACs each: a report batch of 256 is ~0.6 GMAC) */
    write_idx(dir, "train", 8, -1, 0);
    write_idx(dir, "t10k", 100000, -1, 0);
    char head[1024], buf[2048];
    snprintf(head, sizeof head, "data d = idx(\"%s\") { train \"train\"; test \"t10k\" }\n"
             "net n() {\n  h = relu(conv(relu(conv(in, 64, k: 3, pad: 1)), 64, k: 3, pad: 1))\n"
             "  out linear(mean(h, over: hw), 10)\n}\nmodel m = n()\n", dir);
    /* the evaluation after each epoch */
    snprintf(buf, sizeof buf, "%sphase p { train m on d.train; epochs 1; batch 8; seed 1; loss ce(m.out, label)\n"
             "  evaluate m on d.test: top1 }\n", head);
    double secs = 0;
    int st = interrupt_when(write_tmp("slow_epoch.kdr", buf), "phase p:", 1000, &secs);
    CU_ASSERT_EQUAL(st, 130);
    CU_ASSERT(secs < 5.0);
    if (st != 130 || secs >= 5.0) fprintf(stderr, "\n  epoch evaluation: exit %d, %.1f s after SIGINT\n", st, secs);
    char *err = kd_unit_slurp(err_path, NULL);
    CU_ASSERT(contains(err, "interrupted during an evaluation on test; continue with: kdrun --resume "));
    free(err);
    /* the report's evaluation */
    snprintf(buf, sizeof buf, "%sphase p { train m on d.train; epochs 1; batch 8; seed 1; loss ce(m.out, label) }\n"
             "report { evaluate m on d.test: top1 }\n", head);
    st = interrupt_when(write_tmp("slow_report.kdr", buf), "p epoch 1/1", 1000, &secs);
    CU_ASSERT_EQUAL(st, 130);
    CU_ASSERT(secs < 5.0);
    if (st != 130 || secs >= 5.0) fprintf(stderr, "\n  report evaluation: exit %d, %.1f s after SIGINT\n", st, secs);
    char cmd[700], run[600], path[700];
    snprintf(cmd, sizeof cmd, "ls -d %s/slow_report/* | tail -n 1", tmp_path("runs"));
    FILE *ls = popen(cmd, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(ls);
    CU_ASSERT_FATAL(fgets(run, sizeof run, ls) != NULL);
    pclose(ls);
    run[strcspn(run, "\n")] = 0;
    snprintf(path, sizeof path, "%s/report.yaml", run);
    char *y = kd_unit_slurp(path, NULL);
    CU_ASSERT(contains(y, "status: interrupted"));
    free(y);
}

/* SIGINT during an epoch's last step: the epoch's rows and evaluations
 * are not lost.  One-step epochs (the whole split is one batch), the
 * signal lands in epoch 2's step; the run saves "epoch 2, step 1" (of 1)
 * and --resume does the epoch's end: metrics.csv equals the uninterrupted
 * run's byte for byte, epoch 2's evaluation row included. */
/* 1 if /proc/cpuinfo lists avx512f (kdrun's convolutions then run on
 * its AVX-512 kernels, Winograd included) */
static int cpu_has_avx512f(void)
{
    char *info = kd_unit_slurp("/proc/cpuinfo", NULL);
    int has = info && strstr(info, " avx512f") != NULL;
    free(info);
    return has;
}

static void test_sigint_in_last_step(void)
{
    runs_env();
    const char *dir = tmp_path("onestep");
    write_idx(dir, "train", 6000, -1, 0);
    write_idx(dir, "t10k", 200, -1, 0);
    char buf[2048];
    snprintf(buf, sizeof buf, "data d = idx(\"%s\") { train \"train\"; test \"t10k\" }\n"
             "net n() {\n  h = relu(conv(relu(conv(in, 64, k: 3, pad: 1)), 64, k: 3, pad: 1))\n"
             "  out linear(mean(h, over: hw), 10)\n}\nmodel m = n()\n"
             "phase p { train m on d.train; epochs 3; batch 6000; seed 1; loss ce(m.out, label)\n"
             "  evaluate m on d.test: top1 }\n", dir);
    const char *rec = write_tmp("onestep.kdr", buf);
    run_result r = run_kdrun("--threads", "1", rec, NULL);
    CU_ASSERT_EQUAL_FATAL(r.status, 0);
    rr_free(&r);
    char cmd[700], a[600], b[600], pa[700], pb[700];
    snprintf(cmd, sizeof cmd, "ls -d %s/onestep/* | sort | tail -n 1", tmp_path("runs"));
    FILE *ls = popen(cmd, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(ls);
    CU_ASSERT_FATAL(fgets(a, sizeof a, ls) != NULL);
    pclose(ls);
    a[strcspn(a, "\n")] = 0;
    sleep(1);   /* a new run directory (named by the second) */
    double secs = 0;
    /* 300 ms into epoch 2's step (0.7 s alone): under make check -j2 a
     * 100 ms delay once landed before the step began */
    int st = interrupt_when(rec, "p epoch 1/3", 300, &secs);
    CU_ASSERT_EQUAL(st, 130);
    char *err = kd_unit_slurp(err_path, NULL);
    CU_ASSERT(contains(err, "interrupted in phase 'p', epoch 2, step 1; continue with: kdrun --resume "));
    if (!contains(err, "epoch 2, step 1;")) fprintf(stderr, "\n%s\n", err);
    free(err);
    ls = popen(cmd, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(ls);
    CU_ASSERT_FATAL(fgets(b, sizeof b, ls) != NULL);
    pclose(ls);
    b[strcspn(b, "\n")] = 0;
    CU_ASSERT_FATAL(strcmp(a, b) != 0);
    /* a copy resumed with Winograd on (the run had it off): where the CPU
     * has AVX-512 the kernels differ and the resume says so, else not */
    char copy[700], cp[1500];
    snprintf(copy, sizeof copy, "%s-copy", b);
    snprintf(cp, sizeof cp, "cp -r '%s' '%s'", b, copy);
    CU_ASSERT_EQUAL_FATAL(system(cp), 0);
    setenv("KD_WINOGRAD", "1", 1);
    r = run_kdrun("--resume", copy, NULL);
    setenv("KD_WINOGRAD", "0", 1);
    CU_ASSERT_EQUAL(r.status, 0);
    int warned = contains(r.err, "the resumed steps round differently");
    CU_ASSERT(warned == (cpu_has_avx512f() && !getenv("KD_SGEMM")));
    if (warned) CU_ASSERT(contains(r.err, "ran on 'avx512', these run on 'avx512 winograd'"));
    rr_free(&r);
    r = run_kdrun("--resume", b, NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT(contains(r.err, "resuming ") && contains(r.err, "epoch 2, step 1"));
    CU_ASSERT(!contains(r.err, "round differently"));
    rr_free(&r);
    snprintf(pa, sizeof pa, "%s/metrics.csv", a);
    snprintf(pb, sizeof pb, "%s/metrics.csv", b);
    size_t la = 0, lb = 0;
    char *x = kd_unit_slurp(pa, &la), *y = kd_unit_slurp(pb, &lb);
    CU_ASSERT(x && y && la == lb && memcmp(x, y, la) == 0);
    CU_ASSERT(contains(y, "p,2,\"m top1 on d.test\","));
    if (!(x && y && la == lb && memcmp(x, y, la) == 0)) fprintf(stderr, "\n%s\n---\n%s\n", x, y);
    free(x);
    free(y);
}

/* ---- 9. paths, files, arguments, concurrent resumes ------------------------------- */

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static void test_small_faults(void)
{
    const char *dir = tmp_path("small");
    write_idx(dir, "train", 256, -1, 0);
    write_idx(dir, "t10k", 64, -1, 0);
    const char *rec = recipe("small.kdr", dir, PHASE);
    char rec_s[400];
    snprintf(rec_s, sizeof rec_s, "%s", rec);

    /* a --set value with a tab: a usage error, no run directory */
    const char *runs = tmp_path("runs-tab");
    setenv("KDRUN_RUNS", runs, 1);
    run_result r = run_kdrun("--set", "p.epochs=3\t4", rec_s, NULL);
    CU_ASSERT_EQUAL(r.status, 2);
    CU_ASSERT(contains(r.err, "--set: a tab or a newline in 'p.epochs=3\t4'"));
    CU_ASSERT(!exists(runs));
    rr_free(&r);

    /* a run directory path too long for the run's files: refused, nothing made */
    char longp[1000];
    int o = snprintf(longp, sizeof longp, "%s/", tmpdir);
    while (o < 700) longp[o++] = 'x';
    longp[o] = 0;
    setenv("KDRUN_RUNS", longp, 1);
    r = run_kdrun("--quiet", rec_s, NULL);
    CU_ASSERT_EQUAL(r.status, 1);
    CU_ASSERT(contains(r.err, "set KDRUN_RUNS to a shorter path"));
    CU_ASSERT(!exists(longp));
    rr_free(&r);
    runs_env();

    /* a FIFO as the recipe: refused at once, no blocking open */
    const char *fifo = tmp_path("fifo.kdr");
    CU_ASSERT_EQUAL_FATAL(mkfifo(fifo, 0600), 0);
    const char *argv[] = { "kdrun", "--check", fifo, NULL };
    pid_t pid = spawn(argv, 1);
    int ws = 0, done = 0;
    for (int i = 0; i < 500 && !done; i++) {   /* 5 s */
        done = waitpid(pid, &ws, WNOHANG) == pid;
        if (!done) msleep(10);
    }
    CU_ASSERT(done);
    if (!done) {
        kill(pid, SIGKILL);
        waitpid(pid, &ws, 0);
    }
    r = collect(-1);
    CU_ASSERT(done && WIFEXITED(ws) && WEXITSTATUS(ws) == 3);
    CU_ASSERT(contains(r.err, "fifo.kdr: not a regular file"));
    rr_free(&r);

    /* `use "DIR"`: a directory, not "cannot find" */
    mkdir(tmp_path("usedir"), 0700);
    r = run_kdrun("--check", "--color=never", write_tmp("use.kdr", "use \"usedir\"\n"), NULL);
    CU_ASSERT_EQUAL(r.status, 3);
    CU_ASSERT(contains(r.err, "usedir' is a directory, not a recipe file"));
    CU_ASSERT(!contains(r.err, "cannot find"));
    rr_free(&r);

    /* a save killed half-way left its temporary files: a resume removes them */
    const char *base = base_run();
    CU_ASSERT_FATAL(base[0] != 0);
    const char *d = copy_run(base, "stale");
    char p1[700], p2[700];
    snprintf(p1, sizeof p1, "%s/state.safetensors.tmp.Ab3xY9", d);
    snprintf(p2, sizeof p2, "%s/checkpoints/pre/epoch-002.safetensors.tmp.q0Zk1M", d);
    FILE *f = fopen(p1, "w");
    if (f) { fputs("half a state", f); fclose(f); }
    f = fopen(p2, "w");
    if (f) { fputs("half a checkpoint", f); fclose(f); }
    CU_ASSERT(exists(p1) && exists(p2));
    r = run_kdrun("--quiet", "--resume", d, NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT(!exists(p1));
    CU_ASSERT(!exists(p2));
    rr_free(&r);

    /* a file of the run that cannot be written fails the run, saying why
     * (here metrics.csv is a directory; a full disk says so the same way) */
    d = copy_run(base, "unwritable");
    pause_state(d, "1", "0", NULL, NULL, 0);
    snprintf(p1, sizeof p1, "%s/metrics.csv", d);
    unlink(p1);
    mkdir(p1, 0700);
    r = run_kdrun("--quiet", "--color=never", "--resume", d, NULL);
    CU_ASSERT_EQUAL(r.status, 1);
    CU_ASSERT(contains(r.err, "unwritable/metrics.csv: Is a directory"));
    rr_free(&r);
    snprintf(p1, sizeof p1, "%s/report.yaml", d);
    char *y = kd_unit_slurp(p1, NULL);
    CU_ASSERT(contains(y, "status: failed"));
    free(y);

    /* two kdruns on one run directory: the second is refused */
    d = copy_run(base, "locked");
    pause_state(d, "1", "0", NULL, NULL, 0);
    snprintf(p1, sizeof p1, "%s/.lock", d);
    int fd = open(p1, O_RDWR | O_CREAT, 0644);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(flock(fd, LOCK_EX | LOCK_NB), 0);   /* as a running kdrun holds it */
    r = run_kdrun("--quiet", "--resume", d, NULL);
    CU_ASSERT_EQUAL(r.status, 1);
    CU_ASSERT(contains(r.err, "another kdrun is running in "));
    rr_free(&r);
    close(fd);
    r = run_kdrun("--quiet", "--resume", d, NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    rr_free(&r);
}

int main(void)
{
    /* The interrupts below are timed against the lengths of steps and
     * evaluations with the direct products (a 0.7 s step, a several-second
     * evaluation); Winograd makes them two or three times shorter, and the
     * signal would land after them.  Every kdrun this test starts (the
     * resumes included) inherits this. */
    setenv("KD_WINOGRAD", "0", 1);
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
        KD_TEST(test_checkpoint_faults),
        KD_TEST(test_sigint_in_evaluation),
        KD_TEST(test_sigint_in_last_step),
        KD_TEST(test_small_faults),
        KD_TEST_END
    };
    int status = kd_unit_main("faults", tests);
    char rm[400];
    snprintf(rm, sizeof rm, "rm -rf '%s'", tmpdir);
    if (system(rm) != 0) fprintf(stderr, "cannot remove %s\n", tmpdir);
    return status;
}
