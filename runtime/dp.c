/* dp.c — data-parallel training (see dp.h). */
#include "config.h"

#include <string.h>

#include "dp.h"
#include "world.h"

int kd_dp_on(const run *R) { return R->o->dp && kd_world_size() > 1; }
int kd_dp_ranks(const run *R) { return kd_dp_on(R) ? kd_world_size() : 1; }
int kd_dp_writer(const run *R) { return !kd_dp_on(R) || kd_world_rank() == 0; }

int kd_dp_check(run *R, const plan_phase *P, const dataset *D)
{
    if (!kd_dp_on(R)) return 0;
    int n = kd_world_size();
    if (P->batch % n != 0)
        return run_fail(R, KD_RUN_RECIPE, P->node, "phase '%s': batch %lld does not split evenly over %d ranks "
                        "(data-parallel training needs a multiple of %d)", P->name, (long long)P->batch, n, n);
    (void)D;
    return 0;
}

const kd_batch *kd_dp_slice(const run *R, const kd_batch *b, kd_batch *tmp)
{
    if (!kd_dp_on(R)) return b;
    int64_t n = kd_world_size(), rows = b->n, per = (rows + n - 1) / n;
    int64_t first = per * kd_world_rank();
    if (first > rows) first = rows;
    int64_t mine = rows - first < per ? rows - first : per;
    size_t row = (size_t)(b->c * b->h * b->w);
    *tmp = *b;
    tmp->n = mine;
    if (b->x) tmp->x = b->x + (size_t)first * row;
    if (b->y) tmp->y = b->y + (size_t)first * row;
    if (b->level) tmp->level = b->level + (size_t)first * 2;
    if (b->label) tmp->label = b->label + first;
    if (b->index) tmp->index = b->index + first;
    if (b->items) tmp->items = b->items + (size_t)first * (size_t)b->len;
    if (b->next) tmp->next = b->next + (size_t)first * (size_t)b->len;
    if (b->neg) tmp->neg = b->neg + (size_t)first * (size_t)b->nneg;
    return tmp;
}

int kd_dp_reduce(const run *R, float *grads, size_t n, double *loss)
{
    if (!kd_dp_on(R)) return 0;
    float inv = 1.0f / (float)kd_world_size();
    if (kd_world_sum_f32(grads, n)) return -1;
    for (size_t i = 0; i < n; i++) grads[i] *= inv;
    if (kd_world_sum_f64(loss, 1)) return -1;
    *loss /= kd_world_size();
    return 0;
}

int kd_dp_any(const run *R, int flag)
{
    if (!kd_dp_on(R)) return flag;
    double f = flag ? 1.0 : 0.0;
    if (kd_world_sum_f64(&f, 1)) return 1;
    return f > 0;
}

static int allsum(double *x, int64_t n) { return kd_world_sum_f64(x, (size_t)n); }

void kd_dp_attach(const run *R, kd_exec *e)
{
    if (kd_dp_on(R) && R->o->sync_bn) kd_exec_set_allsum(e, allsum);
}

int kd_dp_owns(const run *R, int64_t batch)
{
    return !kd_dp_on(R) || batch % kd_world_size() == kd_world_rank();
}

/* Every count and sum of kd_task_sums, as doubles (counts are exact up to
 * 2^53), summed over the ranks in rank order. */
int kd_dp_sum_sums(const run *R, kd_task_sums *s)
{
    if (!kd_dp_on(R)) return 0;
    enum { NH = KD_RANK_MAX + 1, NV = NH + 12 };
    double v[NV];
    int k = 0;
    v[k++] = s->top1, v[k++] = s->top5, v[k++] = (double)s->hit1, v[k++] = (double)s->hit5;
    v[k++] = (double)s->nrank, v[k++] = s->psnr, v[k++] = s->ssim, v[k++] = s->psnr_srgb;
    v[k++] = s->ssim_srgb, v[k++] = (double)s->nimg, v[k++] = (double)s->nsrgb;
    for (int i = 0; i < NH; i++) v[k++] = (double)s->rank_hist[i];
    if (kd_world_sum_f64(v, (size_t)k)) return -1;
    k = 0;
    s->top1 = v[k++], s->top5 = v[k++], s->hit1 = (int64_t)v[k++], s->hit5 = (int64_t)v[k++];
    s->nrank = (int64_t)v[k++], s->psnr = v[k++], s->ssim = v[k++], s->psnr_srgb = v[k++];
    s->ssim_srgb = v[k++], s->nimg = (int64_t)v[k++], s->nsrgb = (int64_t)v[k++];
    for (int i = 0; i < NH; i++) s->rank_hist[i] = (int64_t)v[k++];
    return 0;
}
