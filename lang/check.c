/* check.c — kdr_check(): names, arities, literal types and phase order of a program.
 *
 * kdr_check() works in passes over every unit of the program:
 *
 *   1. collect the top-level names (let, data, net, model, pool, search,
 *      phase, sweep, the routes of `checkpoint ... as R`, and the names a
 *      search block assigns or bridges), reporting duplicates (check_names.c);
 *   2. apply the --set overrides (check_set.c: they replace AST values,
 *      allocated in the arena of the unit that holds the value);
 *   3. check each declaration: expressions (check_expr.c) resolve against
 *      net-local names, top-level names and the builtins; calls of builtins
 *      and net templates are matched against their parameters and literal
 *      values against the argument kinds and ranges (check_calls.c); data,
 *      models, pools, searches and reports (check_decls.c) and phases
 *      (check_phase.c) hold the settings allowed in them (lang/settings.c);
 *   4. order the phases by their dependencies (check_order.c), keeping
 *      source order between independent phases, and report a cycle.
 *
 * This file holds the entry point and the small helpers every pass uses:
 * messages, and the suggestions of "did you mean".  Nothing here knows
 * about tensors: a "tensor" is anything an op returns.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "check_int.h"

/* ---- small helpers ------------------------------------------------------ */

void *ck_grow_arr(void *p, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return p;
    size_t nc = *cap ? *cap * 2 : 8;
    void *q = realloc(p, nc * sz);
    if (!q)
        return NULL;
    *cap = nc;
    return q;
}


void ck_err(chk *c, const kdr_node *n, const char *fmt, ...)
{
    char buf[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (size_t i = 0; n && i < c->nsetv; i++)
        if (c->setv[i].n == n) {
            kdr_diag_push(c->d, KDR_ERROR, c->u, n->beg, n->end, "%s (value from --set %s=%s)", buf,
                          c->setv[i].key, c->setv[i].value);
            return;
        }
    kdr_diag_push(c->d, KDR_ERROR, c->u, n ? n->beg : 0, n ? n->end : 0, "%s", buf);
}

void ck_note(chk *c, const kdr_unit *u, const kdr_node *n, const char *fmt, ...)
{
    char buf[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    kdr_diag_push(c->d, KDR_NOTE, u, n ? n->beg : 0, n ? n->end : 0, "%s", buf);
}

const char *ck_article(const char *noun)
{
    return noun && strchr("aeiou", noun[0]) ? "an" : "a";
}

/* where a declaration's name is written */
const kdr_node *ck_name_at(const kdr_node *n)
{
    return n->c && n->c->kind == KDR_IDENT ? n->c : n;
}

int ck_streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* optimal string alignment distance, case-insensitive, capped */
int ck_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 99;
    int d[66][66];
    for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 2])
                && tolower((unsigned char)a[i - 2]) == tolower((unsigned char)b[j - 1])
                && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[la][lb];
}


void ck_consider(sugg *s, const char *want, const char *cand)
{
    if (!cand || strcmp(want, cand) == 0)
        return;
    int dd = ck_edit_distance(want, cand);
    int len = (int)strlen(want);
    if (dd > 2 || dd >= len)
        return;
    if (!s->name || dd < s->dist) {
        s->name = cand;
        s->dist = dd;
    }
}

/* "; did you mean 'x'?" or "" */
const char *ck_dym(const sugg *s, char *buf, size_t n)
{
    if (!s->name)
        return "";
    snprintf(buf, n, "; did you mean '%.64s'?", s->name);
    return buf;
}

/* ---- entry point ------------------------------------------------------------ */

int kdr_check(kdr_program *p, kdr_override *ov, size_t nov, kdr_diag *d)
{
    if (!p || !d)
        return 1;
    size_t errors0 = d->errors;
    chk c;
    memset(&c, 0, sizeof c);
    c.p = p;
    c.d = d;
    c.where = "this context";
    ck_expand_families(p);
    ck_collect(&c);
    ck_apply_overrides(&c, ov, nov);

    /* phases, in source order */
    for (size_t ui = 0; ui < p->nunits; ui++) {
        const kdr_unit *u = p->units[ui];
        if (!u || !u->root)
            continue;
        for (const kdr_node *s = u->root->kids; s; s = s->next)
            if (s->kind == KDR_PHASE) {
                pinfo pi;
                memset(&pi, 0, sizeof pi);
                pi.node = s;
                pi.u = u;
                PUSH(c.ph, c.nph, c.cph, pi);
            }
    }

    for (size_t ui = 0; ui < p->nunits; ui++) {
        const kdr_unit *u = p->units[ui];
        if (!u || !u->root)
            continue;
        c.u = u;
        for (const kdr_node *s = u->root->kids; s; s = s->next) {
            c.in_net = 0;
            c.nvars = 0;
            c.nscoped = 0;
            c.cur = NULL;
            switch (s->kind) {
            case KDR_USE:
                break;
            case KDR_LET:
                c.where = "a 'let'";
                ck_ex(&c, s->a, ~0u & ~KDR_CTX_FOLLOWS);
                break;
            case KDR_SWEEP: {
                c.where = "a sweep";
                ty t = ck_ex(&c, s->a, KDR_CTX_MATH);
                char b1[128];
                if (t.k != V_LIST && t.k != V_ANY)
                    ck_err(&c, s->a, "a sweep needs a list or a range of values, got %s", ck_kind_desc(t, b1, sizeof b1));
                else if (s->a && s->a->kind == KDR_LIST && !s->a->kids)
                    ck_err(&c, s->a, "sweep '%s' has no values", s->name);
                else if (s->a && s->a->kind != KDR_LIST
                         && !(s->a->kind == KDR_BINARY && s->a->op == KDR_OP_RANGE))
                    /* the sweep driver reads the values where they are written */
                    ck_err(&c, s->a, "the values of sweep '%s' must be written in the sweep, as [a, b, ...] or a..b",
                           s->name);
                break;
            }
            case KDR_DATA: ck_data(&c, s); break;
            case KDR_NET: ck_net(&c, s); break;
            case KDR_MODEL: ck_model(&c, s); break;
            case KDR_POOL: ck_pool(&c, s); break;
            case KDR_SEARCH: ck_search(&c, s); break;
            case KDR_PHASE:
                for (size_t i = 0; i < c.nph; i++)
                    if (c.ph[i].node == s)
                        ck_phase(&c, &c.ph[i]);
                break;
            case KDR_REPORT: ck_report(&c, s); break;
            default:
                ck_err(&c, s, "unexpected top-level statement");
                break;
            }
        }
    }
    ck_order_phases(&c);
    ck_labels(&c);

    for (size_t i = 0; i < c.nph; i++) {
        free(c.ph[i].trains);
        free(c.ph[i].uses);
        free(c.ph[i].usenode);
        free(c.ph[i].routes);
        free(c.ph[i].routenode);
        free(c.ph[i].searches);
        free(c.ph[i].searchnode);
    }
    free(c.ph);
    free(c.syms);
    free(c.vars);
    free(c.scoped);
    free(c.setv);
    free(c.bad_const);
    return d->errors > errors0 || d->truncated ? 1 : 0;
}
