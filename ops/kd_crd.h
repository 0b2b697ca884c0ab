/* kd_crd.h — the counter-based draws of crd (ops/crd.c): the initial
 * memory banks and the negatives.  A draw depends on (the node's seed,
 * a counter, an element) only, never on the thread count or on earlier
 * draws, so a run is the same for any number of threads and a resumed run
 * (the forward counter is restored) draws the same negatives.  The tests
 * (tests/ops/ref_zoo.h, tests/ops/gen_zoo_golden.py) draw the same. */
#ifndef KD_CRD_H
#define KD_CRD_H

#include <math.h>
#include <stdint.h>

static inline uint64_t kd_crd_mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* uniform in [0, 1) from (seed, a, b) */
static inline double kd_crd_unif(uint64_t seed, uint64_t a, uint64_t b)
{
    uint64_t h = kd_crd_mix(kd_crd_mix(kd_crd_mix(seed) ^ a) ^ b);
    return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

/* element e of bank b (0: the student's, 1: the teacher's) before any
 * update: uniform in [-s, s), s = 1 / sqrt(D / 3) (rows of norm about 1) */
static inline float kd_crd_bank0(uint64_t seed, int b, int64_t e, int64_t D)
{
    double s = 1 / sqrt((double)D / 3);
    return (float)((2 * kd_crd_unif(seed ^ 0xC0DEBA4Cull, (uint64_t)b, (uint64_t)e) - 1) * s);
}

/* negative j (0..K-1) of row i at forward step `step`: uniform over the
 * n rows of the bank, with replacement */
static inline int64_t kd_crd_neg(uint64_t seed, uint64_t step, int64_t i, int64_t j, int64_t K, int64_t n)
{
    int64_t r = (int64_t)(kd_crd_unif(seed, step, (uint64_t)(i * K + j)) * (double)n);
    return r < n ? r : n - 1;
}

#endif
