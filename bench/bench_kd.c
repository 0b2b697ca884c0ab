/* bench_kd.c — training throughput of kdrun against PyTorch, `make bench`.
 *
 *   bench/bench_kd [--torch bench/bench_torch.py] [--recipes DIR]
 *                  [--steps N] [--batch B] [--threads T] [--only CONFIG]
 *                  [--rounds R]   (default 3: best of R alternating rounds)
 *                  [--haswell]    (kdrun with OpenBLAS's Haswell kernels too)
 *   bench/bench_kd --probe [--threads T]   (the CPU and FMA probe lines only)
 *
 * Configs (CIFAR-shaped random data, batch 128, 2 threads by default):
 *   unet    the Feature-Align U-Net of recipes/nets/unet_fa.kdr (base 16, 3
 *           levels) on 4x64x64 packed RAW crops, batch 16 always, l1 loss
 *   resnet20, resnet56, wrn16_2   one training step of that network
 *   kd      ResNet-56 teacher (frozen: eval mode, no backward) forward +
 *           ResNet-20 student forward/backward, loss = kd(T: 4) + ce
 *   nextitnet  nextitnet(num_items: 3001, dim: 256, blocks: 2) of
 *           recipes/nets/nextitnet.kdr on histories of 50 random item ids
 *           (1..3000), ce on the next item (the rates are sequences/s)
 * A training step = forward, zero_grad, backward, SGD momentum update (the
 * same work bench_torch.py does with torch.optim.SGD).
 *
 * First the machine: the CPU's name, the load average, and an FMA probe
 * (fma_probe.c: FMA chains on 512- and 256-bit registers, 1 and T threads)
 * that tells whether the cores run AVX-512 at full width (512-bit FMA about
 * twice the 256-bit rate) or at AVX2 width (the same rate), and gives the
 * arithmetic peak the "%FMA" columns refer to.
 *
 * Every measurement runs in its own child process (this program re-executed
 * with --one), so that each gets a fresh OpenBLAS with the core type under
 * test and its own peak RSS: kdrun with the core type kd_blas_tune picks
 * (OPENBLAS_CORETYPE=SkylakeX on avx512f CPUs; on others OpenBLAS's own
 * choice, "auto"; with --haswell also Haswell, the AVX2 kernels OpenBLAS
 * 0.3.21 picks by itself on AVX-512 cores), with the thread wait kdrun
 * sets for itself when its threads fit the cores (GOMP_SPINCOUNT=
 * KD_GOMP_SPINCOUNT, runtime/exec.h),
 * then PyTorch in the environment the bench was started with (the variables
 * kd_blas_tune set are removed), in its default NCHW layout and in
 * channels_last, config by config and round by round, so that machine noise
 * hits all of them alike.
 * The kd config is also measured with KDRUN_TEACHER_FOLD=0 (the frozen
 * teacher's conv-bn-add-relu chains run op by op instead of as one conv,
 * runtime/exec_fold.h): the "-fold" row, against the same PyTorch runs.
 * Achieved GFLOP/s count 2 FLOPs per MAC of conv and linear layers:
 * forward 2*MACs, backward 2*MACs for each of dW and dX where wanted.
 *
 * KDRUN_BENCH_AB=R with --one: after the timed steps, 2R more steps in the
 * same process alternating conv2d's products between OpenBLAS and
 * ops/kd_sgemm_small (the path it picks here); prints, on stderr, the best
 * step time of each and their ratio (old / new: > 1 means faster now).
 */
#define _GNU_SOURCE 1   /* mkstemps, setenv */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <cblas.h>

#include "../runtime/exec.h"
#include "../runtime/graph_ops.h"
#include "../ops/kd_sgemm_small.h"
#include "../runtime/op_builtins.h"
#include "fma_probe.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static long peak_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* ---- one measurement (child) ------------------------------------------------------ */

static double sgemm_gflops(void)
{
    int n = 1024;
    float *a = aligned_alloc(64, (size_t)n * n * 4), *b = aligned_alloc(64, (size_t)n * n * 4),
          *c = aligned_alloc(64, (size_t)n * n * 4);
    for (size_t i = 0; i < (size_t)n * n; i++) a[i] = (float)(i % 7) * 0.1f, b[i] = (float)(i % 5) * 0.1f;
    double best = 1e30;
    for (int r = 0; r < 6; r++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double t = now() - t0;
        if (r && t < best) best = t;
    }
    free(a), free(b), free(c);
    return 2.0 * n * (double)n * n / best * 1e-9;
}

typedef struct built {
    kdr_diag diag;
    kdr_program *prog;
    kd_graph *g;
    int32_t in[2], out[2], label, loss;
    int nmodels;
} built;

/* NextItNet's shapes (the sequences config): histories of SEQ_LEN item ids
 * out of SEQ_ITEMS items (+ padding id 0) */
enum { SEQ_LEN = 50, SEQ_ITEMS = 3000 };

static int build(built *b, const char *recipes, const char *text, const char *const *models,
                 int nmodels, int64_t batch, int raw, int seq)
{
    memset(b, 0, sizeof *b);
    kdr_diag_init(&b->diag);
    char path[] = "/tmp/kdrun-bench-XXXXXX.kdr";
    int fd = mkstemps(path, 4);
    if (fd < 0) return -1;
    ssize_t len = (ssize_t)strlen(text);
    if (write(fd, text, (size_t)len) != len) { close(fd); return -1; }
    close(fd);
    b->prog = kdr_program_load(path, recipes, &b->diag);
    unlink(path);
    if (!b->prog || b->diag.errors || kdr_check(b->prog, NULL, 0, &b->diag) != 0) goto fail;
    b->g = kd_graph_new();
    kd_data_shape ds;
    memset(&ds, 0, sizeof ds);
    ds.x = raw ? kd_shape_make(3, (const int64_t[]){ 4, 64, 64 })    /* packed RAW crops */
         : seq ? kd_shape_make(1, (const int64_t[]){ SEQ_LEN })
               : kd_shape_make(3, (const int64_t[]){ 3, 32, 32 });
    ds.classes = raw ? 0 : seq ? SEQ_ITEMS + 1 : 10;
    for (int m = 0; m < nmodels; m++) {
        const kdr_node *decl = NULL;
        for (const kdr_node *k = b->prog->units[0]->root->kids; k; k = k->next)
            if (k->kind == KDR_MODEL && strcmp(k->name, models[m]) == 0) decl = k;
        int32_t first = b->g->nnodes;
        if (!decl || kd_compile_model(b->g, b->prog, decl, &ds, batch, &b->diag) != m) goto fail;
        b->in[m] = first;     /* kd_compile_model creates the input node first */
        char name[64];
        snprintf(name, sizeof name, "%s.out", models[m]);
        b->out[m] = kd_graph_find(b->g, name);
        if (b->g->nodes[first].kind != KD_NODE_INPUT || b->out[m] < 0) goto fail;
    }
    b->nmodels = nmodels;
    b->label = raw ? kd_graph_add_input(b->g, "clean", kd_shape_make(4, (const int64_t[]){ batch, 4, 64, 64 }))
               : kd_graph_add_input(b->g, "label", kd_shape_make(1, (const int64_t[]){ batch }));
    return 0;
fail:
    kdr_diag_print(&b->diag, stderr, 0);
    return -1;
}

static int run_one(const char *cfg, const char *recipes, int steps, int64_t batch, int threads)
{
    if (strcmp(cfg, "sgemm") == 0) {
        openblas_set_num_threads(threads);
        printf("RESULT sgemm %.3f %ld\n", sgemm_gflops(), peak_rss_kib());
        return 0;
    }
    const char *text, *models[2] = { "s", "t" };
    int nmodels = 1, raw = 0;
    if (strcmp(cfg, "unet") == 0) {
        /* the Feature-Align U-Net student of recipes/raw_denoise, l1 against clean */
        text = "use \"nets/unet_fa.kdr\"\nmodel s = unet_fa(base: 16, levels: 3, fa: true)\n";
        raw = 1;
    } else if (strcmp(cfg, "resnet20") == 0)
        text = "use \"nets/resnet.kdr\"\nmodel s = resnet(depth: 20, classes: 10)\n";
    else if (strcmp(cfg, "resnet56") == 0)
        text = "use \"nets/resnet.kdr\"\nmodel s = resnet(depth: 56, classes: 10)\n";
    else if (strcmp(cfg, "wrn16_2") == 0)
        text = "use \"nets/wrn.kdr\"\nmodel s = wrn(depth: 16, widen: 2, classes: 10)\n";
    else if (strcmp(cfg, "kd") == 0) {
        text = "use \"nets/resnet.kdr\"\nmodel s = resnet(depth: 20, classes: 10)\n"
               "model t = resnet(depth: 56, classes: 10)\n";
        nmodels = 2;
    } else if (strcmp(cfg, "nextitnet") == 0) {
        text = "use \"nets/nextitnet.kdr\"\nmodel s = nextitnet(num_items: 3001, dim: 256, blocks: 2)\n";
    } else {
        fprintf(stderr, "bench_kd: unknown config '%s'\n", cfg);
        return 2;
    }
    int seq = strcmp(cfg, "nextitnet") == 0;
    built b;
    if (build(&b, recipes, text, models, nmodels, batch, raw, seq) != 0) return 1;
    char err[256];
    int32_t ce_in[2] = { b.out[0], b.label };
    int32_t ce = kd_graph_add_op(b.g, kd_op_find(raw ? "l1" : "ce"), ce_in, 2, NULL, err, sizeof err);
    b.loss = ce;
    if (nmodels == 2) {
        int32_t kd_in[2] = { b.out[0], b.out[1] };
        int32_t kd = kd_graph_add_op1(b.g, "kd", kd_in, 2, "T", 4, err, sizeof err);
        int32_t sum[2] = { kd, ce };
        b.loss = kd_graph_add_op1(b.g, "add", sum, 2, NULL, 0, err, sizeof err);
        for (int32_t p = 0; p < b.g->nparams; p++)
            if (b.g->params[p].model == 1) b.g->params[p].trainable = 0;
    }
    if (b.loss < 0) {
        fprintf(stderr, "bench_kd: %s\n", err);
        return 1;
    }
    int32_t roots[2] = { b.loss, b.out[0] };
    kd_exec *e = kd_exec_new(b.g, roots, 2, threads, err, sizeof err);
    if (!e) {
        fprintf(stderr, "bench_kd: %s\n", err);
        return 1;
    }
    kd_exec_init_params(e, 1);
    uint64_t s = 88172645463325252ull;
    for (int m = 0; m < nmodels; m++) {
        float *x = kd_exec_input(e, b.in[m]);
        int64_t k = kd_shape_numel(&b.g->nodes[b.in[m]].shape);
        s = 88172645463325252ull;
        for (int64_t i = 0; i < k; i++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            x[i] = seq ? (float)(1 + (s >> 11) % SEQ_ITEMS)   /* item ids */
                       : (float)((double)(s >> 11) / 9007199254740992.0 * 2 - 1);
        }
    }
    float *y = kd_exec_input(e, b.label);
    int64_t ny = kd_shape_numel(&b.g->nodes[b.label].shape);
    for (int64_t i = 0; i < ny; i++)
        y[i] = raw ? 0.5f * kd_exec_input(e, b.in[0])[i] : seq ? (float)(1 + (i * 37) % SEQ_ITEMS) : (float)(i % 10);
    size_t P = b.g->param_count;
    float *w = kd_exec_params(e), *gr = kd_exec_grads(e);
    float *v = calloc(P ? P : 1, sizeof *v);
    double t0 = 0;
    for (int it = 0; it <= steps; it++) {
        if (it == 1) t0 = now();      /* step 0 warms up */
        kd_exec_forward(e, 1);
        kd_exec_zero_grad(e);
        kd_exec_backward(e, b.loss);
        for (int32_t p = 0; p < b.g->nparams; p++) {   /* SGD, momentum 0.9 */
            if (!b.g->params[p].trainable) continue;
            size_t o = b.g->params[p].offset, k = (size_t)kd_shape_numel(&b.g->params[p].shape);
            for (size_t i = o; i < o + k; i++) {
                v[i] = 0.9f * v[i] + gr[i];
                w[i] -= 0.01f * v[i];
            }
        }
    }
    double dt = now() - t0;
    if (getenv("KDRUN_BENCH_AB")) {      /* same process: OpenBLAS vs kd_sgemm_small steps */
        int rounds = atoi(getenv("KDRUN_BENCH_AB")), np = kd_sgemm_small_path();
        double best[2] = {1e30, 1e30};
        for (int r = 0; r < rounds; r++)
            for (int k = 0; k < 2; k++) {
                kd_sgemm_small_set_path(k ? np : KD_SG_BLAS);
                double s0 = now();
                kd_exec_forward(e, 1);
                kd_exec_zero_grad(e);
                kd_exec_backward(e, b.loss);
                double st = now() - s0;
                if (st < best[k]) best[k] = st;
            }
        kd_sgemm_small_set_path(np);
        fprintf(stderr, "AB %s: step (fwd+bwd, no update) best of %d: OpenBLAS %.2f ms, %s %.2f ms, "
                "ratio %.3fx\n", cfg, rounds, best[0] * 1e3, kd_sgemm_small_name(np),
                best[1] * 1e3, best[0] / best[1]);
    }
    if (getenv("KDRUN_BENCH_PROFILE")) {      /* one more step, per op kind */
        double *tm = calloc(2 * (size_t)b.g->nnodes, sizeof *tm);
        kd_exec_set_profile(e, tm);
        double p0 = now();
        kd_exec_forward(e, 1);
        kd_exec_zero_grad(e);
        kd_exec_backward(e, b.loss);
        double tot = now() - p0;
        kd_exec_set_profile(e, NULL);
        const char *seen[64];
        int ns = 0;
        for (int32_t i = 0; i < b.g->nnodes; i++) {
            const kd_node *nd = &b.g->nodes[i];
            if (nd->kind != KD_NODE_OP) continue;
            int k = 0;
            while (k < ns && strcmp(seen[k], nd->op->name) != 0) k++;
            if (k < ns || ns == 64) continue;
            seen[ns++] = nd->op->name;
            double f = 0, bw = 0;
            for (int32_t j = 0; j < b.g->nnodes; j++)
                if (b.g->nodes[j].kind == KD_NODE_OP && b.g->nodes[j].op == nd->op)
                    f += tm[j], bw += tm[b.g->nnodes + j];
            fprintf(stderr, "  %-14s fwd %8.2f ms  bwd %8.2f ms\n", nd->op->name, f * 1e3, bw * 1e3);
        }
        fprintf(stderr, "  step total %.2f ms\n", tot * 1e3);
        free(tm);
    }
    float loss = kd_exec_value(e, b.loss)[0];
    kd_exec_stats st;
    kd_exec_get_stats(e, &st);
    double flops = 2.0 * (double)(st.macs_forward + st.macs_backward) * steps;
    printf("RESULT %s %.3f %ld %.3f %zu %zu %zu %g\n", cfg, (double)batch * steps / dt,
           peak_rss_kib(), flops / dt * 1e-9, st.arena_bytes, st.naive_bytes, st.work_bytes,
           (double)loss);
    free(v);
    kd_exec_free(e);
    kd_graph_free(b.g);
    kdr_program_free(b.prog);
    kdr_diag_free(&b.diag);
    return isfinite(loss) ? 0 : 1;
}

/* ---- the driver (parent) ------------------------------------------------------------- */

typedef struct res {
    int ok;
    double ips, gflops;
    long rss;
    size_t arena, naive, work;
} res;

static res child(const char *cmd)
{
    res r;
    memset(&r, 0, sizeof r);
    FILE *p = popen(cmd, "r");
    if (!p) return r;
    char line[512], name[64];
    while (fgets(line, sizeof line, p)) {
        if (strncmp(line, "RESULT ", 7) != 0) continue;
        double ips = 0, gf = 0;
        long rss = 0;
        size_t a = 0, nv = 0, w = 0;
        int k = sscanf(line + 7, "%63s %lf %ld %lf %zu %zu %zu", name, &ips, &rss, &gf, &a, &nv, &w);
        if (k >= 3) {
            r.ok = 1, r.ips = ips, r.rss = rss, r.gflops = gf;
            r.arena = a, r.naive = nv, r.work = w;
        }
    }
    pclose(p);
    return r;
}

static void print_load(const char *what)
{
    char buf[128] = "?";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(buf, sizeof buf, f)) snprintf(buf, sizeof buf, "?\n");
        fclose(f);
    }
    buf[strcspn(buf, "\n")] = 0;
    printf("%s (1, 5, 15 min): %s\n", what, buf);
}

/* the faster of two measurements of the same thing */
static void keep_best(res *acc, res r)
{
    if (r.ok && (!acc->ok || r.ips > acc->ips)) *acc = r;
}

int main(int argc, char **argv)
{
    if (kd_op_builtins_register() != 0)   /* op builtins come from the registry */
        return 1;
    kd_blas_tune(argc, argv);      /* SkylakeX kernels on AVX-512 cores (re-exec) */
    const char *torch = NULL, *recipes = KDRUN_SRCDIR "/recipes", *one = NULL, *only = NULL;
    int steps = 5, threads = 2, rounds = 3, haswell = 0, probe_only = 0;
    int64_t batch = 128, batch_all;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--haswell") == 0) { haswell = 1; continue; }
        if (strcmp(a, "--probe") == 0) { probe_only = 1; continue; }
        if (!v) { fprintf(stderr, "bench_kd: %s needs a value\n", a); return 2; }
        if (strcmp(a, "--torch") == 0) torch = v;
        else if (strcmp(a, "--recipes") == 0) recipes = v;
        else if (strcmp(a, "--steps") == 0) steps = atoi(v);
        else if (strcmp(a, "--batch") == 0) batch = atoll(v);
        else if (strcmp(a, "--threads") == 0) threads = atoi(v);
        else if (strcmp(a, "--one") == 0) one = v;
        else if (strcmp(a, "--only") == 0) only = v;
        else if (strcmp(a, "--rounds") == 0) rounds = atoi(v);
        else { fprintf(stderr, "bench_kd: unknown option %s\n", a); return 2; }
        i++;
    }
    if (steps < 1 || batch < 1 || threads < 1 || rounds < 1) return 2;
    if (one) return run_one(one, recipes, steps, batch, threads);
    if (probe_only) {         /* --probe: the machine lines only */
        kd_fma_probe fp;
        print_load("load average");
        kd_fma_probe_run(&fp, threads, 9);
        printf("CPU: %s; AVX-512: %s.\nFMA probe (GFLOP/s): 1 thread 512-bit %.1f, 256-bit %.1f; "
               "%d threads 512-bit %.1f, 256-bit %.1f; peak %d x %.1f = %.1f\n", fp.cpu,
               kd_fma_width(&fp), fp.g512_1, fp.g256_1, threads, fp.g512_t, fp.g256_t, threads,
               kd_fma_peak(&fp) / threads, kd_fma_peak(&fp));
        return 0;
    }
    batch_all = batch;

    /* which python has torch (Debian's python3-torch lives in /usr/bin) */
    char python[256] = "";
    if (torch) {
        const char *cands[3] = { getenv("KDRUN_PYTHON"), "/usr/bin/python3", "python3" };
        for (int i = 0; i < 3 && !python[0]; i++) {
            if (!cands[i] || !cands[i][0]) continue;
            char cmd[400];
            snprintf(cmd, sizeof cmd, "'%s' -c 'import torch' >/dev/null 2>&1", cands[i]);
            if (system(cmd) == 0) snprintf(python, sizeof python, "%s", cands[i]);
        }
        if (!python[0]) printf("(PyTorch not found: python3 -c 'import torch' fails; kdrun only)\n");
    }
    /* kdrun's core type: what kd_blas_tune picks (SkylakeX with avx512f,
     * else OpenBLAS's own choice); --haswell adds Haswell (AVX2), the
     * 0.3.21 default */
    int avx512 = kd_cpu_has_avx512f();
    const char *cores[2] = { avx512 ? "SkylakeX" : "", "Haswell" };
    const char *corename[2] = { avx512 ? "SkylakeX" : "auto", "Haswell" };
    int ncores = haswell ? 2 : 1;
    static const char *const cfgs[6] = { "resnet20", "resnet56", "wrn16_2", "kd", "unet", "nextitnet" };
    static const char *const label[6] = { "ResNet-20", "ResNet-56", "WRN-16-2",
                                          "KD R56->R20", "U-Net FA b16", "NextItNet" };
    char cmd[2048];
    /* PyTorch runs in the original environment */
    char envu[128] = "env";
    const char *tuned = getenv("KDRUN_TUNED");
    if (tuned && strstr(tuned, "OMP_WAIT_POLICY")) strcat(envu, " -u OMP_WAIT_POLICY");
    if (tuned && strstr(tuned, "GOMP_SPINCOUNT")) strcat(envu, " -u GOMP_SPINCOUNT");
    if (tuned && strstr(tuned, "OPENBLAS_CORETYPE")) strcat(envu, " -u OPENBLAS_CORETYPE");
    printf("kdrun bench: batch %lld, %d threads, %d timed steps after 1 warm-up, best of %d "
           "alternating rounds; images/s of training steps\n", (long long)batch, threads, steps, rounds);
    print_load("load average at start");
    /* the arithmetic peak: FMA chains on 512- and 256-bit registers */
    kd_fma_probe fp;
    kd_fma_probe_run(&fp, threads, 9);
    double fpeak = kd_fma_peak(&fp);
    printf("CPU: %s; AVX-512: %s.\n"
           "FMA probe (GFLOP/s): 1 thread 512-bit %.1f, 256-bit %.1f; %d threads 512-bit %.1f, "
           "256-bit %.1f; peak %d x %.1f = %.1f\n", fp.cpu, kd_fma_width(&fp), fp.g512_1, fp.g256_1, threads,
           fp.g512_t, fp.g256_t, threads, fpeak / threads, fpeak);
    res peak[2], tpeak;
    memset(&tpeak, 0, sizeof tpeak);
    memset(peak, 0, sizeof peak);
    for (int round = 0; round < rounds; round++) {
        for (int c = 0; c < ncores; c++) {
            snprintf(cmd, sizeof cmd, "%s%s GOMP_SPINCOUNT=" KD_GOMP_SPINCOUNT " KDRUN_NO_BLAS_TUNE=1 "
                     "'/proc/%d/exe' --one sgemm --threads %d", cores[c][0] ? "OPENBLAS_CORETYPE=" : "",
                     cores[c], (int)getpid(), threads);
            keep_best(&peak[c], child(cmd));
        }
        if (python[0]) {
            snprintf(cmd, sizeof cmd, "%s '%s' '%s' sgemm 1 %lld %d", envu, python, torch,
                     (long long)batch, threads);
            keep_best(&tpeak, child(cmd));
        }
    }
    printf("sgemm 1024^3 (GFLOP/s): OpenBLAS %s %.1f", corename[0], peak[0].ips);
    if (ncores > 1) printf(", Haswell %.1f", peak[1].ips);
    if (tpeak.ok) printf(", torch.mm %.1f", tpeak.ips);
    printf("\n\n%-12s %9s", "config", "kdrun");
    if (ncores > 1) printf(" %9s", "kd-Hasw");
    printf(" %9s %9s %7s %7s %8s %6s %6s %8s %8s %9s\n", "PyTorch", "PT-CL", "x PT", "x PT-CL",
           "GFLOP/s", "%FMA", "PT%FMA", "RSS MiB", "PT RSS", "arena MiB");
    int fail = 0;
    for (int k = 0; k < 6; k++) {
        if (only && strcmp(only, cfgs[k]) != 0) continue;
        /* the U-Net line: 4x64x64 packed RAW crops, batch 16 (whatever --batch says) */
        int64_t batch = strcmp(cfgs[k], "unet") == 0 ? 16 : batch_all;
        int has_cl = strcmp(cfgs[k], "nextitnet") != 0;   /* channels_last: 4-d only */
        res r[2], t[2], rf;
        memset(r, 0, sizeof r);
        memset(t, 0, sizeof t);
        memset(&rf, 0, sizeof rf);
        int fold = strcmp(cfgs[k], "kd") == 0;   /* - the frozen teacher's fold */
        /* rounds of the measurements in turn, the best of each kept: a
         * burst of load elsewhere on a shared machine hits one round */
        for (int round = 0; round < rounds; round++) {
            for (int c = 0; c < ncores; c++) {
                snprintf(cmd, sizeof cmd,
                         "%s%s GOMP_SPINCOUNT=" KD_GOMP_SPINCOUNT " KDRUN_NO_BLAS_TUNE=1 '/proc/%d/exe' --one %s "
                         "--recipes '%s' --steps %d --batch %lld --threads %d",
                         cores[c][0] ? "OPENBLAS_CORETYPE=" : "", cores[c], (int)getpid(), cfgs[k],
                         recipes, steps, (long long)batch, threads);
                res one = child(cmd);
                if (!one.ok) fail = 1;
                keep_best(&r[c], one);
                if (fold && c == 0) {   /* the same, KDRUN_TEACHER_FOLD=0 (runtime/exec_fold.h) */
                    char cf[2100];
                    snprintf(cf, sizeof cf, "KDRUN_TEACHER_FOLD=0 %s", cmd);
                    one = child(cf);
                    if (!one.ok) fail = 1;
                    keep_best(&rf, one);
                }
            }
            for (int l = 0; python[0] && l < 1 + has_cl; l++) {
                snprintf(cmd, sizeof cmd, "%s '%s' '%s' %s %d %lld %d %s", envu, python, torch,
                         cfgs[k], steps, (long long)batch, threads, l ? "channels_last" : "default");
                keep_best(&t[l], child(cmd));
            }
        }
        int best = ncores > 1 && r[1].ips > r[0].ips;
        double gf = r[best].gflops, tbest = t[0].ips > t[1].ips ? t[0].ips : t[1].ips;
        char tb[2][16] = { "-", "-" }, rb[2][16] = { "-", "-" }, tr[16] = "-", tpf[16] = "-";
        for (int l = 0; l < 2; l++)
            if (t[l].ok) {
                snprintf(tb[l], sizeof tb[l], "%.1f", t[l].ips);
                snprintf(rb[l], sizeof rb[l], "%.2fx", r[best].ips / t[l].ips);
            }
        if (t[0].ok) snprintf(tr, sizeof tr, "%.0f", t[0].rss / 1024.0);
        /* PyTorch does the same FLOPs per image */
        if (tbest > 0 && r[best].ips > 0 && fpeak > 0)
            snprintf(tpf, sizeof tpf, "%.0f%%", 100.0 * gf * tbest / r[best].ips / fpeak);
        printf("%-12s %9.1f", label[k], r[0].ips);
        if (ncores > 1) printf(" %9.1f", r[1].ips);
        printf(" %9s %9s %7s %7s %8.1f %5.0f%% %6s %8.0f %8s %9.1f\n", tb[0], tb[1], rb[0], rb[1],
               gf, fpeak > 0 ? 100.0 * gf / fpeak : 0.0, tpf, r[best].rss / 1024.0, tr,
               r[best].arena / 1048576.0);
        if (rf.ok) {   /* the fold row: kdrun with KDRUN_TEACHER_FOLD=0, the same PyTorch runs */
            char fb[2][16] = { "-", "-" };
            for (int l = 0; l < 2; l++)
                if (t[l].ok) snprintf(fb[l], sizeof fb[l], "%.2fx", rf.ips / t[l].ips);
            printf("%-12s %9.1f", "  -fold", rf.ips);
            if (ncores > 1) printf(" %9s", "-");
            printf(" %9s %9s %7s %7s %8.1f %5.0f%% %6s %8.0f %8s %9.1f\n", tb[0], tb[1], fb[0], fb[1],
                   rf.gflops, fpeak > 0 ? 100.0 * rf.gflops / fpeak : 0.0, tpf, rf.rss / 1024.0, tr,
                   rf.arena / 1048576.0);
        }
        fflush(stdout);
    }
    printf("\nkdrun: OpenBLAS core type %s%s.  PyTorch: its default environment, NCHW; PT-CL: "
           "channels_last (models and batch).\nx PT, x PT-CL = kdrun / that PyTorch (>1: kdrun "
           "faster).  GFLOP/s: kdrun's; %%FMA, PT%%FMA: share of the FMA peak of %d cores "
           "(%.1f GFLOP/s)\nfor kdrun and the faster PyTorch (the same FLOPs per image: those of direct "
           "convolutions; kdrun's Winograd\nconvolutions (KD_WINOGRAD) do fewer, so its share can "
           "pass what its kernels reach).  -fold: kdrun with "
           "KDRUN_TEACHER_FOLD=0 (the frozen teacher's chains op by op, not as one conv).  RSS = "
           "peak resident set of the whole process (ru_maxrss); PT RSS: PyTorch default.\n",
           corename[0], ncores > 1 ? " (kdrun: the faster of it and Haswell)" : "", threads, fpeak);
    print_load("load average at end");
    return fail;
}
