/* run_logs.c — what a run logs per epoch besides the total loss (run_logs.h).
 *
 * metrics.csv (reproducible, bit for bit, across --resume):
 *   "train loss: TERM"  the epoch's mean of each loss function of the phase's
 *                       losses, unweighted, named by its text in the recipe
 *                       (`ce(student.logits, label)`); the terms one
 *                       expression makes several times (`sum s in 1..3:
 *                       at(...)`) are added up under its text; a term
 *                       the recipe labels (`0.9 * kd(...) as soft`) is
 *                       named by its label, the functions in it added up
 *   "lr"                the learning rate the epoch started with
 * timing.csv (wall clock, so apart from metrics.csv: two runs never agree):
 *   phase,epoch,steps_timed,seconds,step_ms,images_per_s — the steps from
 *   the end of an epoch's first step to the end of its last (no data
 *   loading before the first batch, no evaluation after the last), in the
 *   process that ran them (a resumed epoch counts its own steps)
 *
 * The sums of an epoch in progress live in the run's store under "#terms"
 * (doubles, bit for bit, in a float tensor twice as long), so the state a
 * run saves mid-epoch carries them and a resumed run ends the epoch with
 * the same means as one never interrupted.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "run_logs.h"
#include "dp.h"
#include "world.h"

#define TERMS_KEY "#terms"
#define MAXG KD_PG_MAX_TERMS

/* the phase's terms grouped by their text: group of term k in g[k] */
static int term_groups(const pgraph *G, int *g, int32_t *first)
{
    int ng = 0;
    for (int k = 0; k < G->pg.nterms && k < MAXG; k++) {
        const kd_node *n = &G->pg.g->nodes[G->pg.terms[k]];
        g[k] = -1;
        for (int j = 0; j < ng; j++) {
            const kd_node *m = &G->pg.g->nodes[first[j]];
            if (m->beg == n->beg && m->end == n->end) { g[k] = j; break; }
        }
        if (g[k] < 0) { first[ng] = G->pg.terms[k]; g[k] = ng++; }
    }
    return ng;
}

/* header: phase index, epoch, steps; then the groups' sums */
typedef struct sums { double phase, epoch, n, s[MAXG]; } sums;

static void load(run *R, sums *S)
{
    stored *st = run_store_find(R, TERMS_KEY);
    memset(S, 0, sizeof *S);
    S->phase = -1;
    if (st && (size_t)st->n * sizeof(float) == sizeof *S) memcpy(S, st->v, sizeof *S);
}

static void save(run *R, const sums *S)
{
    float v[sizeof(sums) / sizeof(float)];
    memcpy(v, S, sizeof *S);
    run_store_put(R, TERMS_KEY, v, (int64_t)(sizeof v / sizeof v[0]));
}

/* wall clock of the steps of the epoch in progress, in this process */
static struct { int phase; int64_t epoch, steps; double first, last; } clock_ = { -1, -1, 0, 0, 0 };

void logs_step(run *R, pgraph *G, int64_t ep)
{
    double now = run_now();
    if (clock_.phase != R->phase_idx || clock_.epoch != ep) {
        clock_.phase = R->phase_idx;
        clock_.epoch = ep;
        clock_.steps = 0;       /* timed from the end of the first step on */
        clock_.first = now;
    } else {
        clock_.steps++;
    }
    clock_.last = now;
    int g[MAXG];
    int32_t first[MAXG];
    int ng = term_groups(G, g, first);
    if (!ng) return;
    sums S;
    load(R, &S);
    if (S.phase != (double)R->phase_idx || S.epoch != (double)ep) {
        memset(&S, 0, sizeof S);
        S.phase = (double)R->phase_idx;
        S.epoch = (double)ep;
    }
    /* data-parallel: each rank's terms are over its slice of the batch;
     * the step's value is their mean over the ranks (as the loss's) */
    double v[MAXG];
    int nt = G->pg.nterms < MAXG ? G->pg.nterms : MAXG;
    for (int k = 0; k < nt; k++) v[k] = kd_exec_value(G->e, G->pg.terms[k])[0];
    if (kd_dp_on(R) && nt > 0) {
        if (kd_world_sum_f64(v, (size_t)nt)) {
            fprintf(stderr, "kdrun: rank %d: out of memory summing the loss terms\n", kd_world_rank());
            kd_world_abort(1);
        }
        for (int k = 0; k < nt; k++) v[k] /= kd_dp_ranks(R);
    }
    for (int k = 0; k < nt; k++) S.s[g[k]] += v[k];
    S.n += 1;
    save(R, &S);
}

/* the text of node n in unit u, white space collapsed */
static void text_of(const kdr_unit *u, const kd_node *n, char *buf, size_t len)
{
    size_t o = 0;
    int space = 0;
    buf[0] = 0;
    if (!u || !u->src || n->end <= n->beg || n->end > u->len) return;
    for (uint32_t i = n->beg; i < n->end && o + 4 < len; i++) {
        char c = u->src[i];
        if (c == '#') { while (i + 1 < n->end && u->src[i + 1] != '\n') i++; continue; }
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') { space = 1; continue; }
        if (space && o > 0) buf[o++] = ' ';
        space = 0;
        buf[o++] = c;
    }
    buf[o] = 0;
}

static void timing(run *R, const plan_phase *P, int64_t ep)
{
    if (clock_.phase != R->phase_idx || clock_.epoch != ep || clock_.steps < 1 || !kd_dp_writer(R)) return;
    char path[1200];
    snprintf(path, sizeof path, "%s/timing.csv", R->dir);
    struct stat sb;
    int fresh = stat(path, &sb) != 0;
    FILE *f = fopen(path, "a");
    if (!f) return;   /* wall-clock figures are informative: never fail the run for them */
    double s = clock_.last - clock_.first;
    if (fresh) fputs("phase,epoch,steps_timed,seconds,step_ms,images_per_s\n", f);
    fprintf(f, "%s,%lld,%lld,%.3f,%.2f,%.1f\n", P->name, (long long)ep + 1, (long long)clock_.steps, s,
            1000.0 * s / (double)clock_.steps, s > 0 ? (double)(clock_.steps * P->batch) / s : 0.0);
    fclose(f);
}

void logs_epoch_end(run *R, const plan_phase *P, pgraph *G, int64_t ep, int64_t steps)
{
    int g[MAXG];
    int32_t first[MAXG];
    int ng = term_groups(G, g, first);
    sums S;
    load(R, &S);
    if (ng && S.n > 0 && S.phase == (double)R->phase_idx && S.epoch == (double)ep)
        for (int j = 0; j < ng; j++) {
            char text[140], what[160];
            const kd_node *n = &G->pg.g->nodes[first[j]];
            const char *label = kd_term_label(P, n->beg, n->end);
            double sum = S.s[j];
            if (label) {   /* a labelled term: one row, its functions added up, at its first */
                int again = 0;
                for (int i = 0; i < ng; i++) {
                    const kd_node *m = &G->pg.g->nodes[first[i]];
                    const char *li = i == j ? NULL : kd_term_label(P, m->beg, m->end);
                    if (li && !strcmp(li, label)) { if (i < j) again = 1; else sum += S.s[i]; }
                }
                if (again) continue;
            }
            text_of(P->unit, n, text, sizeof text);
            snprintf(what, sizeof what, "train loss: %s", label ? label : text[0] ? text : n->op->name);
            run_add_row(R, P->name, ep + 1, what, sum / S.n);
        }
    run_add_row(R, P->name, ep + 1, "lr", kd_lr_at(&P->lr, P->optim.lr, ep, 0, steps));
    timing(R, P, ep);
}

const char *run_error_text(run *R, char *buf, size_t n)
{
    if (n) buf[0] = 0;
    for (size_t i = 0; R->d && i < R->d->count; i++) {
        const kdr_diag_msg *m = &R->d->msgs[i];
        if (m->sev != KDR_ERROR) continue;
        if (m->unit) {
            int line, col;
            kdr_unit_linecol(m->unit, m->beg, &line, &col);
            snprintf(buf, n, "%s:%d:%d: %s", m->unit->path, line, col, m->text);
        } else {
            snprintf(buf, n, "%s", m->text);
        }
        return buf;
    }
    return NULL;
}
