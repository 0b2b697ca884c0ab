/* arena.c — one bump allocator per parsed file, with string interning.
 * Everything allocated here lives until kdr_arena_free(). */
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <unistd.h>

#include "kdr.h"

typedef struct chunk { struct chunk *next; size_t used, cap; } chunk;

typedef struct istr { const char *s; size_t n; uint64_t h; } istr;

struct kdr_arena {
    chunk *head;
    istr *tab;          /* open-addressing intern table */
    size_t tcap, tcount;
};

#define CHUNK_MIN (64u << 10)

kdr_arena *kdr_arena_new(void)
{
    return calloc(1, sizeof(kdr_arena));
}

static void oom(void)
{
    /* Out of memory while building a syntax tree: nothing sensible can go
     * on.  Library code normally returns errors; an arena that cannot grow
     * is the one place where the caller could not recover anyway. */
    static const char msg[] = "kdrun: out of memory\n";
    if (write(2, msg, sizeof msg - 1) < 0) { /* nothing more to do */ }
    exit(1);
}

void *kdr_arena_alloc(kdr_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    chunk *c = a->head;
    size_t hdr = (sizeof(chunk) + 15) & ~(size_t)15;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > CHUNK_MIN ? n : CHUNK_MIN;
        c = malloc(hdr + cap);
        if (!c) oom();
        c->cap = cap;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = (char *)c + hdr + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

static uint64_t hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;         /* FNV-1a */
    for (size_t i = 0; i < n; i++) { h ^= (unsigned char)s[i]; h *= 1099511628211ull; }
    return h;
}

const char *kdr_arena_intern(kdr_arena *a, const char *s, size_t n)
{
    if (a->tcount * 2 >= a->tcap) {
        size_t ncap = a->tcap ? a->tcap * 2 : 256;
        istr *nt = calloc(ncap, sizeof *nt);
        if (!nt) oom();
        for (size_t i = 0; i < a->tcap; i++) {
            if (!a->tab[i].s) continue;
            size_t j = a->tab[i].h & (ncap - 1);
            while (nt[j].s) j = (j + 1) & (ncap - 1);
            nt[j] = a->tab[i];
        }
        free(a->tab);
        a->tab = nt;
        a->tcap = ncap;
    }
    uint64_t h = hash(s, n);
    size_t j = h & (a->tcap - 1);
    while (a->tab[j].s) {
        if (a->tab[j].h == h && a->tab[j].n == n && memcmp(a->tab[j].s, s, n) == 0)
            return a->tab[j].s;
        j = (j + 1) & (a->tcap - 1);
    }
    char *p = kdr_arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    a->tab[j].s = p;
    a->tab[j].n = n;
    a->tab[j].h = h;
    a->tcount++;
    return p;
}

void kdr_arena_free(kdr_arena *a)
{
    if (!a) return;
    chunk *c = a->head;
    while (c) { chunk *n = c->next; free(c); c = n; }
    free(a->tab);
    free(a);
}
