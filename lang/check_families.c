/* check_families.c — indexed models (`model ts[s] = connector(c: 8 * s)
 * for s in 1..3`) in the statements that list models.
 *
 * The parser makes one model per index ("ts[1]", "ts[2]", "ts[3]"; see
 * model_family in parser.y).  Where a statement lists models or names one
 * for its settings, the family's bare name stands for all its members, in
 * index order:
 *
 *   train a, ts together on d.train      ->  train a, ts[1], ts[2], ts[3] ...
 *   evaluate ts on d.test                ->  evaluate ts[1], ts[2], ts[3] ...
 *   ts minimize ...  (in alternate)      ->  ts[1], ts[2], ts[3] minimize ...
 *   optimizer ts: adam(...)              ->  one `optimizer ts[k]: adam(...)` each
 *   lr ts: cosine()                      ->  one `lr ts[k]: cosine()` each
 *
 * The rewrite happens once, before names are resolved (kdr_check), so
 * that the checker, the plan and the run see ordinary models.  In
 * expressions a member is written with its index: `ts[s](x)`,
 * `ts[2].feat` (check_calls.c: ck_model_member).
 */
#include <stdlib.h>
#include <string.h>

#include "check_int.h"

#define MAX_FAMILIES 64

typedef struct family {
    const char *base;                /* "ts" */
    size_t len;
    const kdr_node *member[256];     /* in declaration (index) order */
    int n;
} family;

typedef struct fams {
    family f[MAX_FAMILIES];
    int n;
} fams;

static const family *find(const fams *F, const char *name)
{
    for (int i = 0; i < F->n; i++)
        if (strlen(name) == F->f[i].len && strncmp(F->f[i].base, name, F->f[i].len) == 0)
            return &F->f[i];
    return NULL;
}

static void collect(const kdr_program *p, fams *F)
{
    for (size_t ui = 0; ui < p->nunits; ui++) {
        const kdr_unit *u = p->units[ui];
        if (!u || !u->root)
            continue;
        for (const kdr_node *s = u->root->kids; s; s = s->next) {
            if (s->kind != KDR_MODEL || !s->extra || !s->name)
                continue;
            const char *br = strchr(s->name, '[');
            if (!br)
                continue;
            size_t len = (size_t)(br - s->name);
            family *f = NULL;
            for (int i = 0; i < F->n && !f; i++)
                if (F->f[i].len == len && strncmp(F->f[i].base, s->name, len) == 0)
                    f = &F->f[i];
            if (!f) {
                if (F->n == MAX_FAMILIES)
                    continue;
                f = &F->f[F->n++];
                f->base = s->name;
                f->len = len;
                f->n = 0;
            }
            if (f->n < (int)(sizeof f->member / sizeof f->member[0]))
                f->member[f->n++] = s;
        }
    }
}

/* an IDENT node like `at` naming model m */
static kdr_node *member_ident(kdr_arena *a, const kdr_node *at, const kdr_node *m)
{
    kdr_node *n = kdr_arena_alloc(a, sizeof *n);
    if (!n)
        return NULL;
    *n = *at;
    n->next = NULL;
    n->name = m->name;
    return n;
}

/* a list of IDENTs (`kids`): family names become their members */
static void expand_list(kdr_arena *a, const fams *F, kdr_node **head)
{
    for (kdr_node **pp = head; *pp;) {
        kdr_node *id = *pp;
        const family *f = id->kind == KDR_IDENT && id->name ? find(F, id->name) : NULL;
        if (!f) {
            pp = &id->next;
            continue;
        }
        kdr_node *first = NULL, **tail = &first;
        for (int i = 0; i < f->n; i++) {
            kdr_node *n = member_ident(a, id, f->member[i]);
            if (!n)
                return;
            *tail = n;
            tail = &n->next;
        }
        *tail = id->next;
        *pp = first;
        pp = tail;
    }
}

/* `optimizer ts: ...` (s is the setting in a list at *pp): one per member */
static kdr_node **expand_named(kdr_arena *a, const family *f, kdr_node **pp)
{
    kdr_node *s = *pp, *after = s->next, **tail = pp;
    for (int i = 0; i < f->n; i++) {
        kdr_node *n = kdr_arena_alloc(a, sizeof *n);
        if (!n)
            return &s->next;
        *n = *s;
        n->name = f->member[i]->name;
        if (s->c)
            n->c = member_ident(a, s->c, f->member[i]);
        *tail = n;
        tail = &n->next;
    }
    *tail = after;
    return tail;
}

static void expand_block(kdr_arena *a, const fams *F, kdr_node **head, int depth)
{
    for (kdr_node **pp = head; *pp && depth < 8;) {
        kdr_node *s = *pp;
        if (s->kind != KDR_SETTING) {
            pp = &s->next;
            continue;
        }
        switch (s->setting) {
        case KDR_S_TRAIN:
        case KDR_S_EVALUATE:
        case KDR_S_MINIMIZE:
            expand_list(a, F, &s->kids);
            break;
        case KDR_S_ALTERNATE:
            expand_block(a, F, &s->kids, depth + 1);
            break;
        case KDR_S_OPTIMIZER:
        case KDR_S_LR: {
            const family *f = s->name ? find(F, s->name) : NULL;
            if (f) {
                pp = expand_named(a, f, pp);
                continue;
            }
            break;
        }
        default:
            break;
        }
        pp = &s->next;
    }
}

void ck_expand_families(kdr_program *p)
{
    fams *F = calloc(1, sizeof *F);
    if (!F)
        return;
    collect(p, F);
    for (size_t ui = 0; ui < p->nunits && F->n; ui++) {
        kdr_unit *u = p->units[ui];
        if (!u || !u->root)
            continue;
        for (kdr_node *s = u->root->kids; s; s = s->next)
            if (s->kind == KDR_PHASE || s->kind == KDR_REPORT || s->kind == KDR_SEARCH)
                expand_block(u->arena, F, &s->kids, 0);
    }
    free(F);
}
