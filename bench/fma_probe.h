/* fma_probe.h — the FMA peak of this machine, measured (bench_kd.c).
 *
 * Twelve independent chains of fused multiply-adds on 512-bit (zmm) and on
 * 256-bit (ymm) registers, nothing loaded or stored in the loop: the
 * arithmetic peak per core.  Cores that execute AVX-512 at full width run
 * the 512-bit loop at about twice the FLOP/s of the 256-bit one; cores that
 * split each 512-bit op into two 256-bit halves run both at the same rate.
 * The peak the bench's "% of FMA peak" refers to is T times the faster of
 * the two on one thread, timed by the thread's CPU time (so that another
 * process sharing the core does not lower it); the T-thread figures (wall
 * time) are printed too, and on a shared machine they come out lower.
 */
#ifndef KD_BENCH_FMA_PROBE_H
#define KD_BENCH_FMA_PROBE_H

typedef struct kd_fma_probe {
    double g256_1, g512_1;   /* GFLOP/s, one thread (g512: 0 without AVX-512F) */
    double g256_t, g512_t;   /* on `threads` threads at once */
    int threads;
    char cpu[128];           /* /proc/cpuinfo "model name" */
    int full512;             /* 1: 512-bit FMA ~2x the 256-bit one per core */
} kd_fma_probe;

/* measure (a few tenths of a second); best of `reps` */
void kd_fma_probe_run(kd_fma_probe *p, int threads, int reps);
/* the FMA peak of p->threads cores: threads x the one-thread peak */
double kd_fma_peak(const kd_fma_probe *p);
/* "full 512-bit" / "AVX2 width (512-bit ops run as two 256-bit halves)" /
 * "no AVX-512" */
const char *kd_fma_width(const kd_fma_probe *p);

#endif
