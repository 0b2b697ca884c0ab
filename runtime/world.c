/* world.c — one process: rank 0 of 1 (see world.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "world.h"

static const kd_world_ops *W;

void kd_world_set(const kd_world_ops *ops) { W = ops; }
int kd_world_rank(void) { return W ? W->rank : 0; }
int kd_world_size(void) { return W ? W->size : 1; }
const char *kd_world_name(void) { return W ? W->name : "single"; }
void kd_world_barrier(void) { if (W) W->barrier(); }

int kd_world_gather_text(const char *mine, char **out)
{
    if (W) return W->gather_text(mine, out);
    *out = strdup(mine ? mine : "");
    return *out ? 0 : -1;
}

int kd_world_bcast_text(char **text)
{
    return W ? W->bcast_text(text) : 0;
}

int kd_world_sum_f32(float *x, size_t n)
{
    return W ? W->sum_f32(x, n) : 0;
}

int kd_world_sum_f64(double *x, size_t n)
{
    return W ? W->sum_f64(x, n) : 0;
}

void kd_world_abort(int status)
{
    if (W && W->size > 1) W->abort(status);
}
