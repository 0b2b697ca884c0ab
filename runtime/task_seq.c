/* task_seq.c — the task of user sessions (task.h): next-item
 * recommendation on the leave-one-out splits of data/sequences.c.
 *
 * Input: each model's input [B, L] gets the history's item ids (as floats,
 * 0 = padding); the target `target` [B] (also `label` in a loss) is the
 * item that follows.  A model's
 * output is a score row [B, items + 1] (column 0 is padding and never
 * ranked).
 *
 * Evaluation as the recommendation papers do: the target ranked against
 * the split's sampled negatives (`negatives` per user, keyed by the data's
 * seed, so every model of a run sees the same candidates), or against every
 * item 1..items when the data has none (negatives: 0, full ranking); the
 * rank histogram gives hr@k, ndcg@k and mrr@k (metrics.c), top1/top5 are
 * hr@1/hr@5 in %.
 *
 * The popularity baseline (kd_seq_popularity) scores an item by how often it
 * is a target in the train split, and is ranked the same way: the report
 * prints it as a row under every evaluation on sequence data.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "task.h"
#include "task_seq.h"
#include "phase_graph.h"

static int seq_targets(kd_graph *g, const kd_data_shape *ds, int64_t batch, int32_t *label)
{
    (void)ds;
    /* the recipes call it `target` (the next item); `label` works too */
    *label = kd_graph_add_input(g, "target", kd_shape_make(1, (const int64_t[]){ batch }));
    return *label < 0 ? -1 : 0;
}

static void seq_feed(kd_exec *e, const kd_phase_graph *pg, const kd_batch *b)
{
    if (!b->items) return;
    int64_t B = pg->batch;
    for (int i = 0; i < pg->nm; i++) {
        if (pg->m[i].input < 0) continue;
        float *x = kd_exec_input(e, pg->m[i].input);
        if (!x) continue;
        const kd_graph *g = pg->g;
        int64_t L = kd_shape_numel(&g->nodes[pg->m[i].input].shape) / (B ? B : 1);
        kd_seq_items_to_input(x, b->items, b->n, B, L);
    }
    float *lab = kd_exec_input(e, pg->label);
    if (lab && b->label)
        for (int64_t r = 0; r < B; r++) lab[r] = r < b->n ? (float)b->label[r] : 0.0f;
}

void kd_seq_items_to_input(float *x, const int32_t *items, int64_t n, int64_t B, int64_t L)
{
    for (int64_t q = 0; q < n * L; q++) x[q] = (float)items[q];
    if (n < B) memset(x + n * L, 0, (size_t)((B - n) * L) * sizeof(float));
}

/* 0-based rank of target y in score row s[0..C) among the candidates:
 * neg[0..nneg) when nneg > 0, else every item 1..C-1 */
static int64_t seq_rank(const float *s, int64_t C, int64_t y, const int32_t *neg, int64_t nneg)
{
    if (nneg > 0 && neg) return kd_rank(s, C, y, neg, nneg);
    return kd_rank(s + 1, C - 1, y - 1, NULL, 0);
}

static void add_rank(kd_task_sums *e, int64_t rk)
{
    e->hit1 += rk == 0;
    e->hit5 += rk < 5;
    e->rank_hist[rk < KD_RANK_MAX ? rk : KD_RANK_MAX]++;
    e->nrank++;
}

static void seq_eval_batch(kd_task_sums *e, const float *out, const kd_shape *os, const kd_batch *b,
                           const kd_dataset *ds)
{
    if (!b->label || os->ndim != 2) return;
    int64_t C = os->dims[1], nneg = ds->negatives;
    for (int64_t r = 0; r < b->n; r++) {
        int64_t y = b->label[r];
        if (y < 1 || y >= C) continue;
        add_rank(e, seq_rank(out + r * C, C, y, b->neg ? b->neg + r * nneg : NULL, b->neg ? nneg : 0));
    }
}

static void seq_eval_end(kd_task_sums *e)
{
    e->top1 = e->nrank ? 100.0 * (double)e->hit1 / (double)e->nrank : 0;
    e->top5 = e->nrank ? 100.0 * (double)e->hit5 / (double)e->nrank : 0;
}

void kd_seq_report_line(kd_strbuf *t, const char *model, const char *data, const char *split,
                        const kd_task_sums *s, int64_t params, int64_t macs)
{
    kd_sb_printf(t, "  %-12s %s.%-6s hr@10 %.4f  ndcg@10 %.4f  mrr@10 %.4f", model, data, split,
                 kd_seq_sums_metric(s, "hr", 10), kd_seq_sums_metric(s, "ndcg", 10),
                 kd_seq_sums_metric(s, "mrr", 10));
    if (params >= 0)
        kd_sb_printf(t, "  params %lld  MACs %lld  %.1f us/user", (long long)params, (long long)macs,
                     1e6 * s->row_seconds);
    kd_sb_printf(t, "\n");
}

static void seq_report_line(kd_strbuf *t, const char *model, const char *data, const char *split,
                            const kd_task_sums *s, int64_t params, int64_t macs)
{
    kd_seq_report_line(t, model, data, split, s, params, macs);
}

double kd_seq_sums_metric(const kd_task_sums *s, const char *name, int64_t k)
{
    if (!s->nrank || k < 1 || k > KD_RANK_MAX) return 0;
    int hr = !strcmp(name, "hr"), nd = !strcmp(name, "ndcg");
    double v = 0;
    for (int64_t r = 0; r < k; r++)
        v += (double)s->rank_hist[r] * (hr ? kd_hr_at(r, k) : nd ? kd_ndcg_at(r, k) : kd_mrr_at(r, k));
    return v / (double)s->nrank;
}

int kd_seq_popularity(const kd_dataset *ds, const char *split, kd_task_sums *out)
{
    memset(out, 0, sizeof *out);
    const kd_split *tr = kd_dataset_split(ds, "train"), *sp = kd_dataset_split(ds, split);
    if (ds->kind != KD_DATA_SEQUENCES || !tr || !sp) return -1;
    int64_t C = ds->items + 1, K = ds->negatives;
    float *score = calloc((size_t)C, sizeof *score);
    if (!score) return -1;
    for (int64_t i = 0; i < tr->n; i++)
        if (tr->label[i] >= 1 && tr->label[i] < C) score[tr->label[i]] += 1.0f;
    for (int64_t r = 0; r < sp->n; r++) {
        int64_t y = sp->label[r];
        if (y < 1 || y >= C) continue;
        add_rank(out, seq_rank(score, C, y, sp->neg ? sp->neg + r * K : NULL, sp->neg ? K : 0));
    }
    free(score);
    seq_eval_end(out);
    return 0;
}

static const char *seq_baseline(const kd_dataset *ds, const char *split, kd_task_sums *s)
{
    return kd_seq_popularity(ds, split, s) == 0 ? "popularity" : NULL;
}

const kd_task kd_task_seq = {
    .name = "next-item",
    .kind = KD_DATA_SEQUENCES,
    .targets = seq_targets,
    .feed = seq_feed,
    .eval_batch = seq_eval_batch,
    .eval_end = seq_eval_end,
    .report_line = seq_report_line,
    .baseline = seq_baseline,
};
