/* task.c — the table of tasks (task.h) and what their feeds share. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "task.h"
#include "phase_graph.h"

static const kd_task *const tasks[] = {
    &kd_task_classify,
    &kd_task_restore,
};

const kd_task *kd_task_of(kd_data_kind kind)
{
    for (size_t i = 0; i < sizeof tasks / sizeof tasks[0]; i++)
        if (tasks[i]->kind == kind) return tasks[i];
    return NULL;
}

unsigned kd_task_kinds(void)
{
    unsigned k = 0;
    for (size_t i = 0; i < sizeof tasks / sizeof tasks[0]; i++) k |= 1u << tasks[i]->kind;
    return k;
}

void kd_task_pics_free(kd_task_pics *p)
{
    free(p->input);
    free(p->target);
    for (int k = 0; k < KD_TASK_PIC_MODELS; k++) free(p->out[k]);
    memset(p, 0, sizeof *p);
}

void kd_task_feed_inputs(kd_exec *e, const kd_phase_graph *pg, const kd_batch *b)
{
    size_t row = (size_t)(b->c * b->h * b->w);
    for (int i = 0; i < pg->nm; i++) {
        if (pg->m[i].input < 0) continue;
        float *x = kd_exec_input(e, pg->m[i].input);
        if (!x) continue;
        memcpy(x, b->x, (size_t)b->n * row * sizeof(float));
        if (b->n < pg->batch)
            memset(x + (size_t)b->n * row, 0, (size_t)(pg->batch - b->n) * row * sizeof(float));
    }
}
