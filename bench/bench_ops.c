/* bench_ops.c — GFLOP/s of a 1024^3 sgemm (the machine reference) and of
 * conv2d forward and forward+backward on ResNet-20 layer shapes (batch 128),
 * with the fraction of the sgemm figure.  Not part of `make check`.
 *
 *   make bench/bench_ops && bench/bench_ops
 *   OPENBLAS_CORETYPE=Haswell bench/bench_ops     (set before the library loads)
 *   bench/bench_ops REPS WORKSPACE_KIB OMP_THREADS (cap the conv workspace;
 *                                                  threads of the op loops)
 * The build host of November 2026 is an AMD EPYC with AVX2/FMA and no
 * AVX-512: OpenBLAS 0.3.21 detects it as Zen, and OPENBLAS_CORETYPE=SkylakeX
 * dies with SIGILL there.  Other agents share the 2 cores: run it twice.
 *
 * Then the same layers with conv2d's products on OpenBLAS ("blas") and on
 * ops/kd_sgemm_small ("new": the path it picks here), alternating the two in
 * this one process, REPS rounds, best of each; ratio = blas time / new
 * time (> 1: the new path is faster).  The last two columns: the new path
 * without Winograd (kd_wino; kd_sgemm_small_set_conv(63): "old"), against
 * the new path: > 1 means Winograd is faster.  The conv's
 * OpenBLAS calls run single-threaded inside the op's threads, as in
 * kdrun (whose executor sets one BLAS thread): idle OpenBLAS threads
 * spinning after the 1024^3 reference would otherwise take the cores.
 *
 * Shapes: x [N, C, H, W], w [F, C, K, K], pad (K-1)/2 as in ResNet.  FLOPs counted as 2*N*F*Ho*Wo*C*K*K
 * for the forward and twice that for the backward (dW and dX): those of
 * the direct product, so the Winograd layers (kd_wino) pass 100 %.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cblas.h>
#include "../ops/kd_op.h"
#include "../ops/kd_sgemm_small.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *randbuf(size_t n)
{
    float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    uint64_t s = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        p[i] = (float)((double)(s >> 11) / 9007199254740992.0 - 0.5);
    }
    return p;
}

static double bench_sgemm(int n, int reps)
{
    float *a = randbuf((size_t)n * n), *b = randbuf((size_t)n * n), *c = randbuf((size_t)n * n);
    double best = 1e30;
    for (int r = 0; r < reps + 1; r++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double t = now() - t0;
        if (r && t < best) best = t; /* first run warms up */
    }
    free(a), free(b), free(c);
    return 2.0 * n * (double)n * n / best * 1e-9;
}

typedef struct layer { int C, F, H, K, S, G; const char *what; } layer;

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    int nthreads = 2;
    /* optional: cap the conv workspace (KiB) to see the effect of chunking */
    size_t cap = argc > 2 ? (size_t)atol(argv[2]) << 10 : 0;
    /* optional: OpenMP threads for the op's own loops (default 2) */
    if (argc > 3) nthreads = atoi(argv[3]);
    const char *ct = getenv("OPENBLAS_CORETYPE");
    const char *wp = getenv("OMP_WAIT_POLICY");
    printf("OpenBLAS: %s; core %s (OPENBLAS_CORETYPE=%s); %d BLAS threads; %d OpenMP threads "
           "(OMP_WAIT_POLICY=%s)\n", openblas_get_config(), openblas_get_corename(), ct ? ct : "unset",
           openblas_get_num_threads(), nthreads, wp ? wp : "unset");
    double peak = bench_sgemm(1024, reps);
    printf("sgemm 1024^3: %.1f GFLOP/s (reference)\n\n", peak);
    openblas_set_num_threads(1);

    static const layer L[] = {
        {16, 16, 32, 3, 1, 1, "stage 1 3x3"},
        {16, 32, 32, 3, 2, 1, "stage 2 in 3x3/2"},
        {32, 32, 16, 3, 1, 1, "stage 2 3x3"},
        {32, 64, 16, 3, 2, 1, "stage 3 in 3x3/2"},
        {64, 64, 8, 3, 1, 1, "stage 3 3x3"},
        {16, 32, 32, 1, 2, 1, "shortcut 1x1/2"},
        {32, 32, 16, 1, 1, 1, "1x1"},
        {32, 32, 16, 3, 1, 32, "depthwise 3x3"},
        {3, 16, 32, 3, 1, 1, "stem 3x3 (CIFAR)"},
        {1, 8, 28, 3, 1, 1, "stem 3x3 (FMNIST)"},
        {4, 4, 28, 3, 1, 1, "4-channel 3x3"},
        {8, 8, 28, 3, 1, 1, "8-channel 3x3"},
    };
    const kd_op_def *d = kd_op_find("conv2d");
    printf("%-18s %-22s %9s %6s %9s %6s %9s %6s\n", "layer (N=128)", "C->F HxW k/s g",
           "fwd GF/s", "frac", "bwd GF/s", "frac", "f+b GF/s", "frac");
    printf("(GFLOP/s of the new path)\n");
    double tot_flop = 0, tot_time = 0, sum_f[3] = {0, 0, 0}, sum_b[3] = {0, 0, 0};
    int new_path = kd_sgemm_small_path();
    if (new_path == KD_SG_BLAS) new_path = kd_sgemm_small_set_path(KD_SG_C);
    char cmp[sizeof L / sizeof L[0]][200];
    for (size_t l = 0; l < sizeof L / sizeof L[0]; l++) {
        const layer *y = &L[l];
        kd_attr_val av[KD_MAXATTR];
        kd_attrs_default(d, av);
        av[kd_attr_index(d, "c")].num = y->F;
        av[kd_attr_index(d, "k")].num = y->K;
        av[kd_attr_index(d, "stride")].num = y->S;
        av[kd_attr_index(d, "groups")].num = y->G;
        av[kd_attr_index(d, "pad")].num = (y->K - 1) / 2;   /* as ResNet: "same" 3x3, 1x1 unpadded */
        av[kd_attr_index(d, "bias")].num = 0;
        kd_op_ctx c;
        kd_op_info info;
        char err[256];
        memset(&c, 0, sizeof c);
        c.attr = av;
        c.nin = 1 + d->nparams;
        c.in_shape[0] = (kd_shape){{128, y->C, y->H, y->H}, 4};
        if (kd_op_infer(d, &c, &info, err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        size_t nx = (size_t)kd_shape_numel(&c.in_shape[0]), nw = (size_t)kd_shape_numel(&c.in_shape[1]);
        size_t ny = (size_t)kd_shape_numel(&c.out_shape);
        float *x = randbuf(nx), *w = randbuf(nw), *out = randbuf(ny), *gy = randbuf(ny);
        float *dx = randbuf(nx), *dw = randbuf(nw);
        c.in[0] = x, c.in[1] = w, c.out = out, c.grad_out = gy;
        c.grad_in[0] = dx, c.grad_in[1] = dw;
        c.nthreads = nthreads;   /* before the workspace: room for every thread's slice */
        c.work_size = d->workspace(&c);
        if (cap && c.work_size > cap) {
            /* never below one image: the workspace of the same layer at N = 1 */
            kd_op_ctx one = c;
            one.in_shape[0].dims[0] = 1;
            size_t min = d->workspace(&one);
            c.work_size = cap > min ? cap : min;
        }
        c.work = c.work_size ? aligned_alloc(64, (c.work_size + 63) / 64 * 64) : NULL;
        double flop = 2.0 * (double)ny * (y->C / y->G) * y->K * y->K;
        /* [0]: OpenBLAS, [1]: kd_sgemm_small, alternating round by round */
        /* [2]: kd_sgemm_small without kd_wino */
        double bf[3] = {1e30, 1e30, 1e30}, bb[3] = {1e30, 1e30, 1e30};
        for (int r = 0; r < reps + 1; r++)
            for (int v = 0; v < 3; v++) {
                kd_sgemm_small_set_path(v ? new_path : KD_SG_BLAS);
                kd_sgemm_small_set_conv(v != 2 ? 127 : 63);
                double t0 = now();
                d->forward(&c);
                double t1 = now();
                d->backward(&c);
                double t2 = now();
                if (r) {
                    if (t1 - t0 < bf[v]) bf[v] = t1 - t0;
                    if (t2 - t1 < bb[v]) bb[v] = t2 - t1;
                }
            }
        double tf = bf[1], tb = bb[1];
        double gf = flop / tf * 1e-9, gb = 2 * flop / tb * 1e-9, gfb = 3 * flop / (tf + tb) * 1e-9;
        char desc[64];
        snprintf(desc, sizeof desc, "%d->%d %dx%d %d/%d g%d", y->C, y->F, y->H, y->H, y->K, y->S, y->G);
        printf("%-18s %-22s %9.1f %5.0f%% %9.1f %5.0f%% %9.1f %5.0f%%\n", y->what, desc, gf,
               100 * gf / peak, gb, 100 * gb / peak, gfb, 100 * gfb / peak);
        kd_sgemm_small_set_conv(127);
        snprintf(cmp[l], sizeof cmp[l], "%-18s %-22s %8.2f %8.2f %6.2fx %8.2f %8.2f %6.2fx   %6.2fx %6.2fx", y->what,
                 desc, 1e3 * bf[0], 1e3 * bf[1], bf[0] / bf[1], 1e3 * bb[0], 1e3 * bb[1],
                 bb[0] / bb[1], bf[2] / bf[1], bb[2] / bb[1]);
        for (int v = 0; v < 3; v++) sum_f[v] += bf[v], sum_b[v] += bb[v];
        if (y->K == 3 && y->G == 1) {
            tot_flop += 3 * flop;
            tot_time += tf + tb;
        }
        free(x), free(w), free(out), free(gy), free(dx), free(dw), free(c.work);
    }
    printf("\n3x3 dense layers, forward+backward: %.1f GFLOP/s = %.0f%% of sgemm\n",
           tot_flop / tot_time * 1e-9, 100 * tot_flop / tot_time * 1e-9 / peak);
    printf("\nOpenBLAS vs kd_sgemm_small (%s), alternating, best of %d; ms; ratio = blas/new\n",
           kd_sgemm_small_name(new_path), reps);
    printf("%-18s %-22s %8s %8s %7s %8s %8s %7s   %s\n", "layer (N=128)", "C->F HxW k/s g", "fwd blas",
           "fwd new", "ratio", "bwd blas", "bwd new", "ratio", "(old / new: fwd, bwd)");
    for (size_t l = 0; l < sizeof L / sizeof L[0]; l++) printf("%s\n", cmp[l]);
    printf("%-41s %8.2f %8.2f %6.2fx %8.2f %8.2f %6.2fx   %6.2fx %6.2fx\n", "all layers (sum of bests)",
           1e3 * sum_f[0], 1e3 * sum_f[1], sum_f[0] / sum_f[1], 1e3 * sum_b[0], 1e3 * sum_b[1],
           sum_b[0] / sum_b[1], sum_f[2] / sum_f[1], sum_b[2] / sum_b[1]);
    kd_sgemm_small_set_path(new_path);
    return 0;
}
