/* teacher_cache.c — the teacher cache of a phase's data streams; see
 * teacher_cache.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "teacher_cache.h"
#include "evaluate.h"

/* the cap in bytes from kd_run_opts.teacher_cache (0: off) */
static size_t tcache_cap(const run *R)
{
    int64_t v = R->o->teacher_cache;
    if (v < 0) return 0;
    return v == 0 ? (size_t)KD_TCACHE_DEFAULT_MIB << 20 : (size_t)v;
}

/* the phase's model inputs: the keyed inputs */
static int model_inputs(const pgraph *G, int32_t *in)
{
    int n = 0;
    for (int i = 0; i < G->pg.nm; i++) {
        int32_t j = G->pg.m[i].input, dup = 0;
        for (int k = 0; k < n; k++) dup |= in[k] == j;
        if (j >= 0 && !dup) in[n++] = j;
    }
    return n;
}

int tcache_epoch(run *R, pgraph *G, tcache_run *t)
{
    if (!t->c || kd_exec_cache_complete(G->e, t->c)) return 0;
    kd_loader_cfg c = t->lc;
    c.shuffle = 0;
    c.drop_last = 0;
    c.batch = G->pg.batch;
    kd_loader *ld = NULL;
    kd_batch b;
    memset(&b, 0, sizeof b);
    char err[1024];
    int rc = 0;
    if (kd_loader_new(&c, &ld, err, sizeof err) != KD_DATA_OK || kd_batch_alloc(ld, &b, err, sizeof err) != KD_DATA_OK) {
        rc = run_fail(R, KD_RUN_DATA, NULL, "%s", err);
        goto out;
    }
    int64_t steps = kd_loader_steps(ld);
    if (!R->o->quiet && t->note.passes == 0)
        fprintf(stderr, "phase %s: teacher cache: the frozen models run over %s to fill it (%lld batches)\n",
                t->note.phase, t->note.data, (long long)steps);
    t->note.passes++;
    for (int64_t st = 0; st < steps && !run_interrupted(); st++) {
        if (kd_loader_fill(ld, 0, st, &b, err, sizeof err) != KD_DATA_OK) {
            rc = run_fail(R, KD_RUN_DATA, NULL, "%s", err);
            goto out;
        }
        pgraph_feed(G, &b);
        if (kd_exec_cache_prefill(G->e, t->c, b.index, b.n)) break;
        if (R->o->progress && !R->o->quiet) {
            fprintf(stderr, "\r%s: teacher cache %lld/%lld   ", t->note.phase, (long long)st + 1, (long long)steps);
            if (st + 1 == steps) fputc('\n', stderr);
            fflush(stderr);
        }
    }
out:
    kd_batch_free(&b);
    kd_loader_free(ld);
    return rc;
}

int tcache_start(run *R, const plan_phase *P, pgraph *G, const kd_loader_cfg *lc, const char *data,
                 tcache_run *t)
{
    memset(t, 0, sizeof *t);
    tcache_note *nt = &t->note;
    snprintf(nt->phase, sizeof nt->phase, "%s", P->name);
    snprintf(nt->data, sizeof nt->data, "%s.%s", data, lc->split);
    int32_t in[KD_PG_MAX_MODELS];
    int nin = model_inputs(G, in);
    const kd_split *sp = kd_dataset_split(lc->ds, lc->split);
    int64_t keys = sp ? sp->n : 0;
    /* anything to keep at all?  (a probe of one key, no cap) */
    char why[240];
    kd_tcache *probe = kd_exec_cache_new(G->e, in, nin, 1, (size_t)-1, why, sizeof why);
    if (!probe) return 0;          /* no frozen model to cache: nothing to say */
    kd_tcache_get_stats(probe, &nt->st);
    kd_tcache_free(probe);
    t->planned = 1;
    size_t cap = tcache_cap(R);
    /* multiply-adds skipped per sample, and per byte a served step copies */
    double per_sample = (double)nt->st.macs_saved / (double)(G->pg.batch > 0 ? G->pg.batch : 1);
    double per_byte = per_sample / (double)(nt->st.record_bytes ? nt->st.record_bytes : 1);
    if (cap == 0) snprintf(nt->why, sizeof nt->why, "--teacher-cache off");
    else if (R->o->teacher_cache == 0 && per_byte < KD_TCACHE_MIN_MACS_PER_BYTE)
        snprintf(nt->why, sizeof nt->why, "%.1f KiB kept per sample for %.1f M multiply-adds skipped "
                 "(%.0f per byte, under %d): copying would cost about what it saves; an explicit "
                 "--teacher-cache SIZE keeps them anyway", (double)nt->st.record_bytes / 1024.0,
                 per_sample / 1e6, per_byte,
                 KD_TCACHE_MIN_MACS_PER_BYTE);
    else if (!kd_loader_cfg_fixed(lc))
        snprintf(nt->why, sizeof nt->why, "%s", lc->ds->kind == KD_DATA_RAW
                 ? "the noise is drawn anew every epoch" : "the data is augmented at random");
    else if (!(t->c = kd_exec_cache_new(G->e, in, nin, keys, cap, why, sizeof why)))
        snprintf(nt->why, sizeof nt->why, "%s", why);
    nt->on = t->c != NULL;
    t->lc = *lc;
    return 0;
}

void tcache_arm(pgraph *G, tcache_run *t, const kd_batch *b)
{
    if (t->c && b->index) kd_exec_cache_next(G->e, t->c, b->index, b->n);
}

void tcache_finish(run *R, tcache_run *t)
{
    if (!t->planned) return;
    tcache_note *nt = &t->note;
    if (t->c) kd_tcache_get_stats(t->c, &nt->st);
    tcache_note *nn = realloc(R->tnotes, (size_t)(R->ntnotes + 1) * sizeof *nn);
    if (nn) {
        R->tnotes = nn;
        R->tnotes[R->ntnotes++] = *nt;
    }
    if (R->o->quiet) return;
    const kd_tcache_stats *st = &nt->st;
    if (!nt->on)
        fprintf(stderr, "phase %s: teacher cache off for %s: %s\n", nt->phase, nt->data, nt->why);
    else
        fprintf(stderr, "phase %s: teacher cache on %s: %lld of %lld steps served, %lld samples kept "
                "(%.1f MiB, %zu B each) by %d pass%s of the frozen models, %.1f M MACs skipped per "
                "served step%s\n", nt->phase, nt->data, (long long)st->hits, (long long)(st->hits + st->misses),
                (long long)st->kept, (double)st->kept * (double)st->record_bytes / 1048576.0,
                st->record_bytes, nt->passes, nt->passes == 1 ? "" : "es", (double)st->macs_saved / 1e6,
                st->drops ? "; the frozen weights changed, records dropped" : "");
}

void tcache_free(tcache_run *t)
{
    kd_tcache_free(t->c);
    t->c = NULL;
}
