/* fma_probe.c — see fma_probe.h */
#define _POSIX_C_SOURCE 200809L   /* clock_gettime, CLOCK_THREAD_CPUTIME_ID */
#include "fma_probe.h"

#include <stdio.h>
#include <string.h>
#include <time.h>   /* clock_gettime, CLOCK_THREAD_CPUTIME_ID */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define KD_PROBE_X86 1
#endif

static double probe_clock(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

enum { CHAINS = 12 };
static volatile float probe_sink;

#ifdef KD_PROBE_X86
/* 12 chains x 16 lanes x 2 FLOPs per iteration */
__attribute__((target("avx512f"))) static void loop512(long iters)
{
    __m512 a[CHAINS];
    const __m512 m = _mm512_set1_ps(0.9999999f), c = _mm512_set1_ps(1e-7f);
    for (int k = 0; k < CHAINS; k++) a[k] = _mm512_set1_ps((float)k);
    for (long i = 0; i < iters; i++) {
#pragma GCC unroll 12
        for (int k = 0; k < CHAINS; k++) a[k] = _mm512_fmadd_ps(a[k], m, c);
    }
    __m512 s = a[0];
    for (int k = 1; k < CHAINS; k++) s = _mm512_add_ps(s, a[k]);
    probe_sink = _mm512_reduce_add_ps(s);
}

/* 12 chains x 8 lanes x 2 FLOPs per iteration */
__attribute__((target("avx2,fma"))) static void loop256(long iters)
{
    __m256 a[CHAINS];
    const __m256 m = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f);
    for (int k = 0; k < CHAINS; k++) a[k] = _mm256_set1_ps((float)k);
    for (long i = 0; i < iters; i++) {
#pragma GCC unroll 12
        for (int k = 0; k < CHAINS; k++) a[k] = _mm256_fmadd_ps(a[k], m, c);
    }
    __m256 s = a[0];
    for (int k = 1; k < CHAINS; k++) s = _mm256_add_ps(s, a[k]);
    float v[8];
    _mm256_storeu_ps(v, s);
    probe_sink = v[0] + v[7];
}
#endif

/* seconds of one run of `width`-bit FMA chains on `threads` threads: on
 * one thread the CPU time of this thread (what the core gives while the
 * thread runs, whatever else the machine runs), on several the wall time */
static double once(int width, int threads, long iters)
{
    clockid_t id = threads == 1 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC;
    double t0 = probe_clock(id);
#ifdef KD_PROBE_X86
#pragma omp parallel num_threads(threads)
    {
        if (width == 512) loop512(iters);
        else loop256(iters);
    }
#else
    (void)width, (void)threads, (void)iters;
#endif
    return probe_clock(id) - t0;
}

/* GFLOP/s of 512-bit (g[0]) and 256-bit (g[1]) chains on `threads`
 * threads, the two alternating, best of reps each (a burst of load on a
 * shared machine hits one of them, not all) */
static void measure(int has512, int threads, int reps, double g[2])
{
    const long iters[2] = { 6000000L, 12000000L };   /* the same FLOPs */
    const double flops = (double)iters[0] * CHAINS * 16 * 2.0 * threads;
    double best[2] = { 1e30, 1e30 };
    for (int r = 0; r <= reps; r++)
        for (int w = has512 ? 0 : 1; w < 2; w++) {
            double t = once(w ? 256 : 512, threads, iters[w]);
            if (r && t < best[w]) best[w] = t;   /* round 0 warms up */
        }
    g[0] = has512 ? flops / best[0] * 1e-9 : 0;
    g[1] = flops / best[1] * 1e-9;
}

void kd_fma_probe_run(kd_fma_probe *p, int threads, int reps)
{
    memset(p, 0, sizeof *p);
    p->threads = threads;
    snprintf(p->cpu, sizeof p->cpu, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {      /* the first processor's model name, family and model */
        char line[256], name[96] = "unknown CPU", fam[16] = "?", mod[16] = "?";
        int seen = 0;
        while (fgets(line, sizeof line, f) && seen < 3) {
            char *v = strchr(line, ':');
            if (!v) continue;
            v++;
            while (*v == ' ' || *v == '\t') v++;
            v[strcspn(v, "\n")] = 0;
            if (strncmp(line, "model name", 10) == 0) snprintf(name, sizeof name, "%s", v), seen++;
            else if (strncmp(line, "cpu family", 10) == 0) snprintf(fam, sizeof fam, "%s", v), seen++;
            else if (strncmp(line, "model\t", 6) == 0) snprintf(mod, sizeof mod, "%s", v), seen++;
        }
        fclose(f);
        snprintf(p->cpu, sizeof p->cpu, "%s (family %s, model %s)", name, fam, mod);
    }
#ifdef KD_PROBE_X86
    __builtin_cpu_init();
    int has512 = __builtin_cpu_supports("avx512f");
    int has256 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (has256) {
        double g[2];
        measure(has512, 1, reps, g);
        p->g512_1 = g[0], p->g256_1 = g[1];
        if (threads > 1) measure(has512, threads, reps, g);
        p->g512_t = g[0], p->g256_t = g[1];
    }
    p->full512 = has512 && p->g512_1 > 1.5 * p->g256_1;
#endif
}

double kd_fma_peak(const kd_fma_probe *p)
{
    return p->threads * (p->g512_1 > p->g256_1 ? p->g512_1 : p->g256_1);
}

const char *kd_fma_width(const kd_fma_probe *p)
{
    if (p->g512_1 <= 0) return "no AVX-512";
    return p->full512 ? "full 512-bit" : "AVX2 width (512-bit ops run as two 256-bit halves)";
}
