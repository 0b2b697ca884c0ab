/* term_label.c — the label a recipe gives a loss term (`0.9 * kd(...) as soft`,
 * lang/check_labels.c), found for a term of the compiled graph by where its
 * text is: the labelled part of the phase's losses that holds it. */
#include "config.h"

#include "run_logs.h"

static const char *find(const kdr_node *e, uint32_t beg, uint32_t end)
{
    if (!e || beg < e->beg || end > e->end) return NULL;
    if (e->label) return e->label->name;
    const char *l = find(e->a, beg, end);
    if (!l) l = find(e->b, beg, end);
    for (const kdr_node *k = e->kids; k && !l; k = k->next) l = find(k, beg, end);
    return l;
}

const char *kd_term_label(const plan_phase *P, uint32_t beg, uint32_t end)
{
    const char *l = NULL;
    for (int i = 0; i < P->nloss && !l; i++) l = find(P->losses[i], beg, end);
    return l;
}
