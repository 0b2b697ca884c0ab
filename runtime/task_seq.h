/* task_seq.h — next-item recommendation on sequence data (task_seq.c):
 * the pieces of the task that the report and the tests use directly. */
#ifndef KD_TASK_SEQ_H
#define KD_TASK_SEQ_H

#include "task.h"



/* items [n, L] (int32 ids) into a model input x [B, L] as floats, rows n..B
 * zeroed. */
void kd_seq_items_to_input(float *x, const int32_t *items, int64_t n, int64_t B, int64_t L);

/* hr, ndcg or mrr @k (1 <= k <= KD_RANK_MAX) of finished sums; 0 when
 * nothing was ranked. */
double kd_seq_sums_metric(const kd_task_sums *s, const char *name, int64_t k);

/* The popularity baseline on a split of sequence data: every item scored by
 * the number of train samples whose target it is, each target of `split`
 * ranked like a model's scores (among its negatives, or all items).  0, or
 * -1 (not sequence data, no such split, out of memory). */
int kd_seq_popularity(const kd_dataset *ds, const char *split, kd_task_sums *out);

/* The report's line: hr/ndcg/mrr @10, and params, MACs and the forward
 * time per user (wall clock of the fastest batch / its rows: the least
 * disturbed on a shared machine) when params >= 0 (the popularity row has
 * none). */
void kd_seq_report_line(kd_strbuf *t, const char *model, const char *data, const char *split,
                        const kd_task_sums *s, int64_t params, int64_t macs);

#endif
