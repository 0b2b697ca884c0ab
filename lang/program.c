/* program.c — a recipe and every file it `use`s.
 *
 * kdr_program_load() parses the root file, then follows each `use "path"`
 * depth first: the path is tried relative to the directory of the file that
 * contains the `use`, then relative to the zoo directory.  Each file is
 * loaded once (files are identified by their real path); a file that `use`s
 * a file still being loaded closes a cycle, reported at that `use` with the
 * whole chain: "use cycle: a.kdr -> b.kdr -> a.kdr".
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "kdr.h"

#define MAX_USE_DEPTH 64

typedef struct loader {
    kdr_program *p;
    kdr_diag *d;
    char **canon;        /* real path of units[i] */
    int *active;         /* 1 while units[i] is being loaded */
    size_t cap;
    size_t *stack;       /* unit indexes of the `use` chain being loaded */
    size_t depth;
} loader;

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *r = malloc(n);
    if (r)
        memcpy(r, s, n);
    return r;
}

/* "dir/" prefix of path (empty when path has no '/'), joined with rel. */
static char *join_dir_of(const char *path, const char *rel)
{
    const char *slash = strrchr(path, '/');
    size_t dl = slash ? (size_t)(slash - path) + 1 : 0;
    size_t rl = strlen(rel);
    char *r = malloc(dl + rl + 1);
    if (!r)
        return NULL;
    memcpy(r, path, dl);
    memcpy(r + dl, rel, rl + 1);
    return r;
}

static char *join(const char *dir, const char *rel)
{
    size_t dl = strlen(dir), rl = strlen(rel);
    int sep = dl > 0 && dir[dl - 1] != '/';
    char *r = malloc(dl + (size_t)sep + rl + 1);
    if (!r)
        return NULL;
    memcpy(r, dir, dl);
    if (sep)
        r[dl] = '/';
    memcpy(r + dl + (size_t)sep, rel, rl + 1);
    return r;
}

static int grow(loader *L)
{
    if (L->p->nunits < L->cap)
        return 1;
    size_t nc = L->cap ? L->cap * 2 : 8;
    kdr_unit **u = realloc(L->p->units, nc * sizeof *u);
    if (!u)
        return 0;
    L->p->units = u;
    char **c = realloc(L->canon, nc * sizeof *c);
    if (!c)
        return 0;
    L->canon = c;
    int *a = realloc(L->active, nc * sizeof *a);
    if (!a)
        return 0;
    L->active = a;
    size_t *s = realloc(L->stack, nc * sizeof *s);
    if (!s)
        return 0;
    L->stack = s;
    L->cap = nc;
    return 1;
}

static void load(loader *L, const char *path, const kdr_unit *from,
                 const kdr_node *use);

static void follow_uses(loader *L, size_t ui)
{
    kdr_unit *u = L->p->units[ui];
    if (!u->root)
        return;
    for (const kdr_node *s = u->root->kids; s; s = s->next) {
        if (s->kind != KDR_USE)
            continue;
        const kdr_node *at = s->a ? s->a : s;
        const char *rel = s->str ? s->str : "";
        if (!*rel) {
            kdr_diag_push(L->d, KDR_ERROR, u, at->beg, at->end, "empty path in 'use'");
            continue;
        }
        char *cand = NULL;
        if (rel[0] == '/') {
            if (is_file(rel))
                cand = xstrdup(rel);
        } else {
            char *local = join_dir_of(u->path, rel);
            if (local && is_file(local))
                cand = local;
            else {
                free(local);
                if (L->p->zoo_dir && *L->p->zoo_dir) {
                    char *z = join(L->p->zoo_dir, rel);
                    if (z && is_file(z))
                        cand = z;
                    else
                        free(z);
                }
            }
        }
        struct stat dst;
        char *near = cand ? NULL : rel[0] == '/' ? xstrdup(rel) : join_dir_of(u->path, rel);
        if (near && stat(near, &dst) == 0 && !S_ISREG(dst.st_mode)) {
            kdr_diag_push(L->d, KDR_ERROR, u, at->beg, at->end, "'%s' %s, not a recipe file", near,
                          S_ISDIR(dst.st_mode) ? "is a directory" : "is not a regular file");
            free(near);
            continue;
        }
        free(near);
        if (!cand) {
            if (rel[0] == '/' || !L->p->zoo_dir || !*L->p->zoo_dir)
                kdr_diag_push(L->d, KDR_ERROR, u, at->beg, at->end,
                              "cannot find '%s'", rel);
            else
                kdr_diag_push(L->d, KDR_ERROR, u, at->beg, at->end,
                              "cannot find '%s' next to '%s' or in the zoo '%s'",
                              rel, u->path, L->p->zoo_dir);
            continue;
        }
        load(L, cand, u, at);
        free(cand);
        u = L->p->units[ui];   /* units may have been reallocated */
    }
}

static void load(loader *L, const char *path, const kdr_unit *from,
                 const kdr_node *use)
{
    char rp[PATH_MAX];
    const char *canon = realpath(path, rp) ? rp : path;

    for (size_t i = 0; i < L->p->nunits; i++) {
        if (strcmp(L->canon[i], canon) != 0)
            continue;
        if (!L->active[i] || !from)
            return;                    /* already loaded: nothing to do */
        /* a cycle: the chain from unit i to the top of the stack, then i */
        size_t k = 0;
        while (k < L->depth && L->stack[k] != i)
            k++;
        size_t len = 0;
        for (size_t j = k; j < L->depth; j++)
            len += strlen(L->p->units[L->stack[j]]->path) + 4;
        len += strlen(L->p->units[i]->path) + 1;
        char *chain = malloc(len);
        if (!chain)
            return;
        chain[0] = 0;
        for (size_t j = k; j < L->depth; j++) {
            strcat(chain, L->p->units[L->stack[j]]->path);
            strcat(chain, " -> ");
        }
        strcat(chain, L->p->units[i]->path);
        kdr_diag_push(L->d, KDR_ERROR, from, use->beg, use->end, "use cycle: %s", chain);
        free(chain);
        return;
    }
    if (L->depth >= MAX_USE_DEPTH) {
        kdr_diag_push(L->d, KDR_ERROR, from, use->beg, use->end,
                      "'use' nested more than %d files deep", MAX_USE_DEPTH);
        return;
    }
    if (!grow(L))
        return;
    kdr_unit *u = kdr_parse_file(path, L->d);
    if (!u)
        return;
    char *c = xstrdup(canon);
    if (!c) {
        kdr_unit_free(u);
        return;
    }
    size_t ui = L->p->nunits++;
    L->p->units[ui] = u;
    L->canon[ui] = c;
    L->active[ui] = 1;
    L->stack[L->depth++] = ui;
    follow_uses(L, ui);
    L->depth--;
    L->active[ui] = 0;
}

kdr_program *kdr_program_load(const char *path, const char *zoo_dir, kdr_diag *d)
{
    kdr_program *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->zoo_dir = zoo_dir;
    loader L = { .p = p, .d = d };
    load(&L, path, NULL, NULL);
    for (size_t i = 0; i < p->nunits; i++)
        free(L.canon[i]);
    free(L.canon);
    free(L.active);
    free(L.stack);
    if (p->nunits == 0) {          /* out of memory before the root was read */
        free(p->units);
        free(p);
        return NULL;
    }
    return p;
}

void kdr_program_free(kdr_program *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nunits; i++)
        kdr_unit_free(p->units[i]);
    free(p->units);
    free(p->phase_order);
    free(p);
}
