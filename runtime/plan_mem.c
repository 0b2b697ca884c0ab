/* plan_mem.c — offsets for buffers with lifetimes in one arena.
 *
 * Input: buffers with a size and a lifetime [first, last] in steps of the
 * forward + backward schedule (exec.c computes them: a forward value lives
 * from the step that writes it to its last reader in forward or backward,
 * an activation gradient from its first writer to the backward of its
 * producer).  Two buffers may share bytes only if their lifetimes are
 * disjoint; at a step, the buffers the op reads and the one it writes are
 * all live, so they never alias (no in-place).
 *
 * Two heuristics, the smaller arena wins:
 *   best-fit  walk the steps; at step t allocate the buffers born at t
 *             (largest first) in the smallest free block that fits, else
 *             at the end; then free the buffers that die at t, merging
 *             neighbouring free blocks (ggml-alloc's dynamic allocator).
 *   by-size   offline: largest buffer first, each placed in the smallest
 *             gap between the already placed buffers whose lifetimes
 *             overlap its own, else above them (TFLite's greedy by size).
 * Runs once per executor; O(n^2) in the number of buffers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"

static size_t round_up(size_t x, size_t a) { return (x + a - 1) / a * a; }

/* ---- best-fit over the schedule ------------------------------------------ */

typedef struct blk { size_t off, size; } blk;

typedef struct freelist {
    blk *b;          /* finite free blocks, sorted by offset */
    int n;
    size_t tail;     /* [tail, inf) is free */
    size_t high;     /* high-water mark = arena size */
} freelist;

static size_t fl_alloc(freelist *f, size_t size)
{
    int best = -1;
    for (int i = 0; i < f->n; i++)
        if (f->b[i].size >= size && (best < 0 || f->b[i].size < f->b[best].size)) best = i;
    if (best >= 0) {
        size_t off = f->b[best].off;
        f->b[best].off += size;
        f->b[best].size -= size;
        if (f->b[best].size == 0) {
            memmove(&f->b[best], &f->b[best + 1], (size_t)(f->n - best - 1) * sizeof(blk));
            f->n--;
        }
        return off;
    }
    size_t off = f->tail;
    f->tail += size;
    if (f->tail > f->high) f->high = f->tail;
    return off;
}

static void fl_free(freelist *f, size_t off, size_t size)
{
    int i = 0;
    while (i < f->n && f->b[i].off < off) i++;
    /* insert at i, then merge with neighbours */
    memmove(&f->b[i + 1], &f->b[i], (size_t)(f->n - i) * sizeof(blk));
    f->b[i].off = off;
    f->b[i].size = size;
    f->n++;
    if (i + 1 < f->n && f->b[i].off + f->b[i].size == f->b[i + 1].off) {
        f->b[i].size += f->b[i + 1].size;
        memmove(&f->b[i + 1], &f->b[i + 2], (size_t)(f->n - i - 2) * sizeof(blk));
        f->n--;
    }
    if (i > 0 && f->b[i - 1].off + f->b[i - 1].size == f->b[i].off) {
        f->b[i - 1].size += f->b[i].size;
        memmove(&f->b[i], &f->b[i + 1], (size_t)(f->n - i - 1) * sizeof(blk));
        f->n--;
        i--;
    }
    if (f->b[i].off + f->b[i].size == f->tail) {   /* give back to the tail */
        f->tail = f->b[i].off;
        f->n--;
    }
}

typedef struct ord { int32_t key; size_t size; int idx; } ord;

static int cmp_ord(const void *a, const void *b)
{
    const ord *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    if (x->size != y->size) return x->size > y->size ? -1 : 1;
    return x->idx - y->idx;
}

static size_t plan_bestfit(const kd_mem_buf *b, int n, size_t align, size_t *off)
{
    ord *born = malloc((size_t)(n > 0 ? n : 1) * sizeof *born);
    ord *dies = malloc((size_t)(n > 0 ? n : 1) * sizeof *dies);
    freelist f = { malloc((size_t)(n + 1) * sizeof(blk)), 0, 0, 0 };
    if (!born || !dies || !f.b) {
        free(born), free(dies), free(f.b);
        return (size_t)-1;
    }
    for (int i = 0; i < n; i++) {
        born[i] = (ord){ b[i].first, b[i].size, i };
        dies[i] = (ord){ b[i].last, b[i].size, i };
    }
    qsort(born, (size_t)n, sizeof *born, cmp_ord);
    qsort(dies, (size_t)n, sizeof *dies, cmp_ord);
    int ib = 0, id = 0;
    while (ib < n || id < n) {
        int32_t t = ib < n ? born[ib].key : dies[id].key;
        if (id < n && dies[id].key < t) t = dies[id].key;
        for (; ib < n && born[ib].key == t; ib++) {
            int k = born[ib].idx;
            off[k] = fl_alloc(&f, round_up(b[k].size, align));
        }
        for (; id < n && dies[id].key == t; id++) {
            int k = dies[id].idx;
            fl_free(&f, off[k], round_up(b[k].size, align));
        }
    }
    free(born), free(dies), free(f.b);
    return f.high;
}

/* ---- greedy by size --------------------------------------------------------- */

static int cmp_off(const void *a, const void *b)
{
    const blk *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

static size_t plan_bysize(const kd_mem_buf *b, int n, size_t align, size_t *off)
{
    ord *o = malloc((size_t)(n > 0 ? n : 1) * sizeof *o);
    blk *busy = malloc((size_t)(n > 0 ? n : 1) * sizeof *busy);
    char *placed = calloc((size_t)(n > 0 ? n : 1), 1);
    if (!o || !busy || !placed) {
        free(o), free(busy), free(placed);
        return (size_t)-1;
    }
    for (int i = 0; i < n; i++) o[i] = (ord){ 0, b[i].size, i };
    qsort(o, (size_t)n, sizeof *o, cmp_ord);     /* size descending */
    size_t total = 0;
    for (int r = 0; r < n; r++) {
        int k = o[r].idx;
        size_t need = round_up(b[k].size, align);
        int nb = 0;
        for (int j = 0; j < n; j++)
            if (placed[j] && b[j].first <= b[k].last && b[k].first <= b[j].last)
                busy[nb++] = (blk){ off[j], round_up(b[j].size, align) };
        qsort(busy, (size_t)nb, sizeof *busy, cmp_off);
        size_t cur = 0, best = (size_t)-1, best_gap = (size_t)-1;
        for (int j = 0; j < nb; j++) {
            if (busy[j].off > cur) {
                size_t gap = busy[j].off - cur;
                if (gap >= need && gap < best_gap) { best_gap = gap; best = cur; }
            }
            if (busy[j].off + busy[j].size > cur) cur = busy[j].off + busy[j].size;
        }
        if (best == (size_t)-1) best = cur;
        off[k] = best;
        placed[k] = 1;
        if (best + need > total) total = best + need;
    }
    free(o), free(busy), free(placed);
    return total;
}

size_t kd_plan_mem(kd_mem_buf *b, int n, size_t align)
{
    if (n < 0) return (size_t)-1;
    if (align == 0) align = 1;
    size_t *o1 = malloc((size_t)(n > 0 ? n : 1) * sizeof *o1);
    size_t *o2 = malloc((size_t)(n > 0 ? n : 1) * sizeof *o2);
    if (!o1 || !o2) {
        free(o1), free(o2);
        return (size_t)-1;
    }
    size_t s1 = plan_bestfit(b, n, align, o1);
    size_t s2 = plan_bysize(b, n, align, o2);
    size_t best = (size_t)-1;
    const size_t *use = NULL;
    if (s1 != (size_t)-1) { best = s1; use = o1; }
    if (s2 != (size_t)-1 && (use == NULL || s2 < s1)) { best = s2; use = o2; }
    if (use)
        for (int i = 0; i < n; i++) b[i].offset = use[i];
    free(o1), free(o2);
    return best;
}

/* ---- checker ----------------------------------------------------------------- */

static int cmp_first(const void *a, const void *b)
{
    const ord *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->idx - y->idx;
}

int kd_plan_check(const kd_mem_buf *b, int n, size_t arena, size_t align,
                  char *err, size_t errlen)
{
    if (align == 0) align = 1;
    if (n < 0) n = 0;
    for (int i = 0; i < n; i++) {
        if (b[i].first > b[i].last) {
            snprintf(err, errlen, "buffer %d: lifetime [%d, %d] is empty", i,
                     (int)b[i].first, (int)b[i].last);
            return -1;
        }
        if (b[i].offset % align) {
            snprintf(err, errlen, "buffer %d: offset %zu not %zu-aligned", i, b[i].offset, align);
            return -1;
        }
        if (b[i].offset > arena || b[i].size > arena - b[i].offset) {
            snprintf(err, errlen, "buffer %d: [%zu, +%zu) outside the arena of %zu bytes", i,
                     b[i].offset, b[i].size, arena);
            return -1;
        }
    }
    /* pairs with overlapping lifetimes: sweep by first step (the plain
     * O(n^2) test over all pairs, with an early exit on sorted starts) */
    ord *o = malloc((size_t)(n > 0 ? n : 1) * sizeof *o);
    if (!o) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++) o[i] = (ord){ b[i].first, 0, i };
    qsort(o, (size_t)n, sizeof *o, cmp_first);
    int rc = 0;
    for (int x = 0; x < n && rc == 0; x++) {
        const kd_mem_buf *p = &b[o[x].idx];
        for (int y = x + 1; y < n; y++) {
            const kd_mem_buf *q = &b[o[y].idx];
            if (q->first > p->last) break;       /* sorted: no later one overlaps p */
            if (p->size == 0 || q->size == 0) continue;
            if (p->offset < q->offset + q->size && q->offset < p->offset + p->size) {
                snprintf(err, errlen,
                         "buffers %d [%zu, +%zu) steps %d..%d and %d [%zu, +%zu) steps %d..%d overlap",
                         o[x].idx, p->offset, p->size, (int)p->first, (int)p->last, o[y].idx,
                         q->offset, q->size, (int)q->first, (int)q->last);
                rc = -1;
                break;
            }
        }
    }
    free(o);
    return rc;
}
