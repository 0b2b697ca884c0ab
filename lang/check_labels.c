/* check_labels.c — labelled loss terms (`loss 0.1 * ce(s.logits, label) as hard
 * + 0.9 * kd(s.logits, t.logits, T: 4) as soft`).
 *
 * The token layer (parse.c) reads `as` inside a loss statement as a label
 * and the parser puts it on the node of the expression before it (the
 * expression binds tighter than + and -, looser than * and /).  A label
 * names one term of the loss: a part its top level adds or subtracts, or
 * such a part of the body of a top-level `sum`; the row the run writes for
 * that term (metrics.csv "train loss: LABEL", runtime/run_logs.c) carries
 * the label instead of the term's text.  Here:
 *  - a label anywhere else (inside a call, under a `*`, inside another
 *    labelled term) is an error at the label;
 *  - one label given to two terms of the same phase is an error (their rows
 *    would be one), except the same written term shared by the members of
 *    an indexed model (`loss ts: ...`, check_families.c), which is one term.
 */
#include <string.h>

#include "check_int.h"

#define MAX_LABELS 256

typedef struct labels {
    const kdr_node *term[MAX_LABELS];   /* the labelled terms of one phase */
    int n;
    const kdr_node *ok[MAX_LABELS * 4]; /* the nodes that stand where a term does */
    int nok;
} labels;

/* mark the nodes of expression e that stand in a term's place */
static void terms(labels *L, const kdr_node *e)
{
    if (!e) return;
    if (L->nok < MAX_LABELS * 4) L->ok[L->nok++] = e;
    if (e->label) return;   /* a labelled term is one term, whatever it adds inside */
    if (e->kind == KDR_BINARY && (e->op == '+' || e->op == '-')) { terms(L, e->a); terms(L, e->b); }
    else if (e->kind == KDR_UNARY && e->op == '-') terms(L, e->a);
    else if (e->kind == KDR_SUM) terms(L, e->b);
}

static int is_term(const labels *L, const kdr_node *e)
{
    for (int i = 0; i < L->nok; i++)
        if (L->ok[i] == e) return 1;
    return 0;
}

static void walk(chk *c, labels *L, const kdr_node *e, const kdr_node *inside);

static void walk_list(chk *c, labels *L, const kdr_node *k, const kdr_node *inside)
{
    for (; k; k = k->next) walk(c, L, k, inside);
}

/* every label in e: where it stands, and whether it is new in the phase */
static void walk(chk *c, labels *L, const kdr_node *e, const kdr_node *inside)
{
    if (!e) return;
    if (e->label) {
        if (inside)
            ck_err(c, e->label, "label '%s' is inside the term labelled '%s'; a term has one label",
                   e->label->name, inside->label->name);
        else if (!is_term(L, e))
            ck_err(c, e->label, "label '%s' names part of a term; a label names a whole term of the loss, "
                   "a part it adds or subtracts: 0.9 * kd(...) as %s", e->label->name, e->label->name);
        else {
            int seen = 0;
            for (int i = 0; i < L->n && !seen; i++) {
                if (L->term[i] == e) seen = 1;   /* one term shared by a family's members */
                else if (strcmp(L->term[i]->label->name, e->label->name) == 0) {
                    ck_err(c, e->label, "label '%s' is given to two terms of this phase; "
                           "each term's row needs its own label", e->label->name);
                    ck_note(c, c->u, L->term[i]->label, "the other term labelled '%s'", e->label->name);
                    seen = 1;
                }
            }
            if (!seen && L->n < MAX_LABELS) L->term[L->n++] = e;
        }
        if (!inside) inside = e;
    }
    walk(c, L, e->a, inside);
    walk(c, L, e->b, inside);
    if (e->kind != KDR_SETTING || e->setting != KDR_S_CHECKPOINT) walk_list(c, L, e->kids, inside);
}

static void phase(chk *c, const kdr_node *ph)
{
    labels L;
    memset(&L, 0, sizeof L);
    for (const kdr_node *s = ph->kids; s; s = s->next)
        if (s->kind == KDR_SETTING && s->setting == KDR_S_LOSS) terms(&L, s->a);
    for (const kdr_node *s = ph->kids; s; s = s->next)
        if (s->kind == KDR_SETTING && s->setting == KDR_S_LOSS) walk(c, &L, s->a, NULL);
}

void ck_labels(chk *c)
{
    for (size_t ui = 0; ui < c->p->nunits; ui++) {
        const kdr_unit *u = c->p->units[ui];
        if (!u || !u->root) continue;
        c->u = u;
        for (const kdr_node *s = u->root->kids; s; s = s->next)
            if (s->kind == KDR_PHASE) phase(c, s);
    }
}
