/* task_classify.c — the task of labelled images (task.h): the graph's
 * target is `label` [B] (class indices as floats); evaluation ranks each
 * row of scores [N, K] against its label (top-1, top-5 and the rank
 * histogram for hr/ndcg/mrr, among the sampled negatives when the batch
 * has them). */
#include "config.h"

#include <string.h>

#include "task.h"
#include "phase_graph.h"

static int cls_targets(kd_graph *g, const kd_data_shape *ds, int64_t batch, int32_t *label)
{
    (void)ds;
    *label = kd_graph_add_input(g, "label", kd_shape_make(1, (const int64_t[]){ batch }));
    return *label < 0 ? -1 : 0;
}

static void cls_feed(kd_exec *e, const kd_phase_graph *pg, const kd_batch *b)
{
    kd_task_feed_inputs(e, pg, b);
    float *lab = kd_exec_input(e, pg->label);
    if (lab && b->label)
        for (int64_t r = 0; r < pg->batch; r++) lab[r] = r < b->n ? (float)b->label[r] : 0.0f;
}

static void cls_eval_batch(kd_task_sums *e, const float *lg, const kd_shape *os, const kd_batch *b,
                           const kd_dataset *ds)
{
    if (!b->label || os->ndim != 2) return;
    int64_t C = os->dims[1], nneg = ds->negatives;
    for (int64_t r = 0; r < b->n; r++) {
        const float *row = lg + r * C;
        int64_t y = b->label[r];
        if (y < 0 || y >= C) continue;
        int64_t better = kd_rank(row, C, y, NULL, 0);
        e->hit1 += better == 0;
        e->hit5 += better < 5;
        int64_t rk = b->neg ? kd_rank(row, C, y, b->neg + r * nneg, nneg) : better;
        e->rank_hist[rk < KD_RANK_MAX ? rk : KD_RANK_MAX]++;
        e->nrank++;
    }
}

static void cls_eval_end(kd_task_sums *e)
{
    e->top1 = e->nrank ? 100.0 * (double)e->hit1 / (double)e->nrank : 0;
    e->top5 = e->nrank ? 100.0 * (double)e->hit5 / (double)e->nrank : 0;
}

static void cls_report_line(kd_strbuf *t, const char *model, const char *data, const char *split,
                            const kd_task_sums *s, int64_t params, int64_t macs)
{
    kd_sb_printf(t, "  %-12s %s.%-6s top1 %6.2f%%  top5 %6.2f%%  params %lld  MACs %lld\n",
                 model, data, split, s->top1, s->top5, (long long)params, (long long)macs);
}

const kd_task kd_task_classify = {
    .name = "classify",
    .kind = KD_DATA_IMAGES,
    .targets = cls_targets,
    .feed = cls_feed,
    .eval_batch = cls_eval_batch,
    .eval_end = cls_eval_end,
    .report_line = cls_report_line,
};
