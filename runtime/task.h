/* task.h — what training and evaluation do with one kind of data.
 *
 * The loop (train.c), the phase's graph (phase_graph.c, run.c) and the
 * evaluation (evaluate.c) know nothing of classes, images or sequences:
 * for the kind of the data a phase trains on they ask the task
 *   - which target inputs the graph has besides the models' inputs
 *     (`label` [B] for classes; `clean`, `noisy` [B, C, H, W] for
 *     restoration) and which of them the loss compiler calls `label`;
 *   - how one batch is copied into the models' inputs and those targets;
 *   - how a model's output on a batch is accumulated into the sums of a
 *     split (top-1/5 and ranks; PSNR/SSIM), and finished;
 *   - what the report prints for a model.
 * A task may keep a few held-out samples for pictures (kd_task_pics).
 *
 * How to add a task (a kind of data that trains):
 *   1. runtime/task_<name>.c defining `const kd_task kd_task_<name>` (its
 *      .kind a kd_data_kind; unused hooks may be NULL where marked);
 *   2. one line in the table of runtime/task.c and in runtime/local.mk;
 *   3. its metrics in kd_task_sums (and evsum_metric in evaluate.c) if new.
 * Nothing else: loading refuses kinds without a task (kd_task_kinds()).
 */
#ifndef KD_TASK_H
#define KD_TASK_H

#include <stdint.h>

#include "graph.h"
#include "exec.h"
#include "metrics.h"
#include "textbuf.h"
#include "../data/data.h"

struct kd_phase_graph;

/* What evaluation accumulates for one model over a split.  Each task fills
 * the fields it can give; a metric whose count is 0 is "not given by this
 * data" (evsum_metric in evaluate.c). */
typedef struct kd_task_sums {
    double top1, top5;               /* % (after end) */
    int64_t hit1, hit5;              /* rows whose target is ranked first / in the top 5 */
    int64_t nrank;                   /* rows ranked */
    int64_t rank_hist[KD_RANK_MAX + 1]; /* rows by 0-based rank; last: >= KD_RANK_MAX */
    double psnr, ssim;               /* means over images (after end): linear RAW / the data's range */
    double psnr_srgb, ssim_srgb;     /* restoration of RAW: after processing back to sRGB */
    int64_t nimg;
} kd_task_sums;

/* A few samples of a split and each evaluated model's output on them, for
 * a picture (restoration: noisy | model 1 | ... | clean). */
#define KD_TASK_PICS 4
#define KD_TASK_PIC_MODELS 8
typedef struct kd_task_pics {
    int want;                        /* samples to keep (<= KD_TASK_PICS); 0: none */
    int n;                           /* kept */
    int64_t c, h, w;                 /* per sample */
    float *input, *target;           /* [n, c, h, w] */
    float *out[KD_TASK_PIC_MODELS];  /* per model, NULL until kept */
    const char *names[KD_TASK_PIC_MODELS];
    int nmodels;                     /* columns kept: 1 + the largest k */
    int base;                        /* eval_split: picture column of its first model */
} kd_task_pics;

typedef struct kd_task {
    const char *name;                /* "classify", "restore", ... */
    kd_data_kind kind;               /* the data it trains on */
    /* The target inputs of a phase's graph, added after the models (batch
     * rows B = batch): *label = the node a loss calls `label` (-1: none).
     * 0, or -1 when the graph is full. */
    int (*targets)(kd_graph *g, const kd_data_shape *ds, int64_t batch, int32_t *label);
    /* One batch into every model input of pg and into the targets; rows
     * past b->n are zero. */
    void (*feed)(kd_exec *e, const struct kd_phase_graph *pg, const kd_batch *b);
    /* A model's output (node shape os) on batch b into s. */
    void (*eval_batch)(kd_task_sums *s, const float *out, const kd_shape *os, const kd_batch *b,
                       const kd_dataset *ds);
    void (*eval_end)(kd_task_sums *s);   /* means and percentages */
    /* The report's line for one model (its sums on data.split). */
    void (*report_line)(kd_strbuf *t, const char *model, const char *data, const char *split,
                        const kd_task_sums *s, int64_t params, int64_t macs);
    /* May be NULL: keep the first samples of b and the output of the model
     * of column k on them in p (called for each batch, in order) ... */
    void (*pics_keep)(kd_task_pics *p, int k, const float *out, const kd_shape *os, const kd_batch *b);
    /* ... and write them as a PNG to path; 0, or -1 with err set. */
    int (*pics_write)(const kd_task_pics *p, const char *path, char *err, size_t errlen);
} kd_task;

/* The task of a kind of data, or NULL: it does not train in this build. */
const kd_task *kd_task_of(kd_data_kind kind);
/* The kinds that have a task (bits 1 << kind, as kd_data_set_opts.kinds). */
unsigned kd_task_kinds(void);

void kd_task_pics_free(kd_task_pics *p);

/* Shared by the tasks' feeds: the batch's x into every model input of pg
 * (rows past b->n zeroed). */
void kd_task_feed_inputs(kd_exec *e, const struct kd_phase_graph *pg, const kd_batch *b);

extern const kd_task kd_task_classify;
extern const kd_task kd_task_restore;

#endif
