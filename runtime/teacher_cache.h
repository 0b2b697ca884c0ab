/* teacher_cache.h — the teacher cache of a phase's data streams (internal
 * to runtime/; the executor's side is kd_tcache in exec.h).
 *
 * A phase whose frozen models read a split that gives each sample the same
 * input every epoch (no augmentation, not raw data: kd_loader_cfg_fixed)
 * keeps their outputs per sample, keyed by the sample's index in the split,
 * one cache per data stream, under the cap of --teacher-cache (default
 * KD_TCACHE_DEFAULT_MIB, and then only streams that skip at least
 * KD_TCACHE_MIN_MACS_PER_BYTE per byte kept; 0 or off: none).  The numbers are the same bits
 * with and without it.  At the end of the phase a line on stderr and an
 * entry of report.yaml's teacher_cache say what it did, or why it was off.
 */
#ifndef KD_TEACHER_CACHE_H
#define KD_TEACHER_CACHE_H

#include "run_plan.h"

#define KD_TCACHE_DEFAULT_MIB 1024
/* With the default size, a stream whose records are large for the work
 * they save is not cached: fmnist_dfa, 2 threads, epochs with the cache
 * over epochs without: kd_only (121,000 multiply-adds skipped per byte
 * kept) 2.2-2.6x faster, fitnet (1,240) 2.0-2.8x, distill and the search
 * (120, 257 KiB a sample) 1.27x and 0.69x. */
#define KD_TCACHE_MIN_MACS_PER_BYTE 500

/* What one stream's cache did in a phase (report.yaml). */
typedef struct tcache_note {
    char phase[64], data[160];
    int on;
    char why[240];                 /* off: why */
    kd_tcache_stats st;
    int passes;                    /* passes over the split (tcache_epoch) */
} tcache_note;

typedef struct tcache_run {
    kd_tcache *c;
    tcache_note note;
    int planned;                   /* something of a frozen model could be kept */
    kd_loader_cfg lc;              /* the stream's loader */
} tcache_run;

/* Plan stream's cache: lc is the stream's loader, its split's size the
 * keys.  0, or -1 on a failure (R->status set); a cache that cannot be had
 * is no failure (t->c NULL, t->note.why says why). */
int tcache_start(run *R, const plan_phase *P, pgraph *G, const kd_loader_cfg *lc, const char *data,
                 tcache_run *t);
/* At an epoch's start (after a route's teacher is loaded): unless every
 * sample is kept for the current frozen weights, one pass of the frozen
 * models over the split, in order, keeps them all, so that every step of
 * the epoch is served.  An interrupt stops it (the records then fill as the
 * steps run).  0, or -1 on a data failure. */
int tcache_epoch(run *R, pgraph *G, tcache_run *t);
/* arm the next forward with the batch's keys (nothing without a cache) */
void tcache_arm(pgraph *G, tcache_run *t, const kd_batch *b);
/* the phase's line and note (only when a frozen model could be cached) */
void tcache_finish(run *R, tcache_run *t);
void tcache_free(tcache_run *t);

#endif
