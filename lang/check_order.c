/* check_order.c — the execution order of the phases.
 *
 * A phase comes after another when it reads a route the other saves, uses a
 * model the other trains, trains a model again, derives a search the other
 * runs, or says `after` it.  Kahn's algorithm picks the earliest phase in
 * source order among the ready ones; a cycle is reported with the edge that
 * makes each step of it.
 */
#include <stdlib.h>
#include <string.h>
#include "check_int.h"

/* ---- phase order ---------------------------------------------------------- */

typedef struct edge { size_t from, to; const kdr_node *at; const kdr_unit *u; char why[200]; } edge;

static void add_edge(edge **e, size_t *n, size_t *cap, size_t from, size_t to, const kdr_node *at,
                     const kdr_unit *u, const char *why)
{
    if (from == to)
        return;
    for (size_t i = 0; i < *n; i++)
        if ((*e)[i].from == from && (*e)[i].to == to)
            return;
    void *q = ck_grow_arr(*e, cap, *n, sizeof **e);
    if (!q)
        return;
    *e = q;
    edge *x = &(*e)[(*n)++];
    x->from = from;
    x->to = to;
    x->at = at;
    x->u = u;
    snprintf(x->why, sizeof x->why, "%s", why);
}

static int in_list(const char *const *l, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (ck_streq(l[i], name))
            return 1;
    return 0;
}

void ck_order_phases(chk *c)
{
    size_t n = c->nph;
    edge *E = NULL;
    size_t ne = 0, ce = 0;
    char why[200];
    for (size_t p = 0; p < n; p++) {
        pinfo *P = &c->ph[p];
        /* explicit after */
        for (const kdr_node *s = P->node->kids; s; s = s->next)
            if (s->kind == KDR_SETTING && s->setting == KDR_S_AFTER)
                for (const kdr_node *k = s->kids; k; k = k->next)
                    for (size_t q = 0; q < n; q++)
                        if (k->kind == KDR_IDENT && ck_streq(c->ph[q].node->name, k->name)) {
                            snprintf(why, sizeof why, "'%s' comes after '%s' (explicit 'after')",
                                     P->node->name, k->name);
                            add_edge(&E, &ne, &ce, q, p, k, P->u, why);
                        }
        for (size_t q = 0; q < n; q++) {
            if (q == p)
                continue;
            pinfo *Q = &c->ph[q];
            /* routes made by Q, read by P */
            for (size_t r = 0; r < P->nroutes; r++)
                for (const kdr_node *s = Q->node->kids; s; s = s->next)
                    if (s->kind == KDR_SETTING && s->setting == KDR_S_CHECKPOINT
                        && ck_streq(s->name, P->routes[r])) {
                        snprintf(why, sizeof why, "'%s' reads route '%s', saved by '%s'",
                                 P->node->name, P->routes[r], Q->node->name);
                        add_edge(&E, &ne, &ce, q, p, P->routenode[r], P->u, why);
                    }
            /* models trained by Q, used (not trained) by P */
            for (size_t m = 0; m < P->nuses; m++)
                if (!in_list(P->trains, P->ntrains, P->uses[m]) && in_list(Q->trains, Q->ntrains, P->uses[m])) {
                    snprintf(why, sizeof why, "'%s' uses model '%s', trained by '%s'",
                             P->node->name, P->uses[m], Q->node->name);
                    add_edge(&E, &ne, &ce, q, p, P->usenode[m], P->u, why);
                }
            /* models trained by both: source order */
            if (q < p)
                for (size_t m = 0; m < P->ntrains; m++)
                    if (in_list(Q->trains, Q->ntrains, P->trains[m])) {
                        snprintf(why, sizeof why, "'%s' trains '%s' again after '%s'",
                                 P->node->name, P->trains[m], Q->node->name);
                        add_edge(&E, &ne, &ce, q, p, ck_name_at(P->node), P->u, why);
                    }
            /* a search run by Q, derived by P */
            if (P->derive && !ck_streq(Q->derive, P->derive) && in_list(Q->searches, Q->nsearches, P->derive)) {
                snprintf(why, sizeof why, "'%s' derives search '%s', run by '%s'",
                         P->node->name, P->derive, Q->node->name);
                add_edge(&E, &ne, &ce, q, p, P->derivenode, P->u, why);
            }
        }
    }
    /* Kahn, smallest source index first */
    size_t *indeg = calloc(n ? n : 1, sizeof *indeg);
    int *done = calloc(n ? n : 1, sizeof *done);
    free(c->p->phase_order);
    c->p->phase_order = calloc(n ? n : 1, sizeof *c->p->phase_order);
    c->p->nphases = 0;
    if (!indeg || !done || !c->p->phase_order) {
        free(indeg);
        free(done);
        free(E);
        return;
    }
    for (size_t i = 0; i < ne; i++)
        indeg[E[i].to]++;
    for (;;) {
        size_t pick = n;
        for (size_t i = 0; i < n; i++)
            if (!done[i] && indeg[i] == 0) {
                pick = i;
                break;
            }
        if (pick == n)
            break;
        done[pick] = 1;
        c->p->phase_order[c->p->nphases++] = (kdr_node *)c->ph[pick].node;
        for (size_t i = 0; i < ne; i++)
            if (E[i].from == pick)
                indeg[E[i].to]--;
    }
    if (c->p->nphases < n) {
        /* find a cycle: walk predecessors from the first remaining phase */
        size_t start = 0;
        while (start < n && done[start]) start++;
        size_t *path = calloc(n + 1, sizeof *path);
        const edge **pe = calloc(n + 1, sizeof *pe);
        int *pos = malloc(n * sizeof *pos);
        if (path && pe && pos) {
            for (size_t i = 0; i < n; i++) pos[i] = -1;
            size_t len = 0, cur = start;
            while (pos[cur] < 0) {
                pos[cur] = (int)len;
                path[len] = cur;
                const edge *nx = NULL;
                for (size_t i = 0; i < ne && !nx; i++)   /* an undone successor */
                    if (E[i].from == cur && !done[E[i].to])
                        nx = &E[i];
                if (!nx)
                    break;
                pe[len++] = nx;
                cur = nx->to;
            }
            if (pos[cur] >= 0 && len > 0) {
                size_t b = (size_t)pos[cur];
                /* rotate so the cycle starts at its earliest phase in source order */
                size_t m = b;
                for (size_t i = b; i < len; i++)
                    if (path[i] < path[m]) m = i;
                char chain[900];
                size_t o = 0;
                size_t clen = len - b;
                for (size_t k = 0; k <= clen && o < sizeof chain; k++) {
                    size_t idx = b + (m - b + k) % clen;
                    o += (size_t)snprintf(chain + o, sizeof chain - o, "%s%s", k ? " -> " : "",
                                          c->ph[path[idx]].node->name);
                }
                const pinfo *first = &c->ph[path[m]];
                c->u = first->u;
                ck_err(c, ck_name_at(first->node), "the phases depend on each other in a cycle: %s", chain);
                for (size_t k = 0; k < clen; k++) {
                    size_t idx = b + (m - b + k) % clen;
                    const edge *x = pe[idx];
                    ck_note(c, x->u, x->at, "%s", x->why);
                }
            }
        }
        free(path);
        free(pe);
        free(pos);
        /* still record every phase, in source order, for the plan */
        for (size_t i = 0; i < n; i++)
            if (!done[i])
                c->p->phase_order[c->p->nphases++] = (kdr_node *)c->ph[i].node;
    }
    free(indeg);
    free(done);
    free(E);
}
