/* check_weights.c — `model NAME = template(...) from "FILE"[: part, ...]`.
 *
 * A model's initial weights may come from a safetensors file: all of them
 * (`from "t.safetensors"`) or only the parameters under some paths of the
 * model (`from "t.safetensors": conv0, block[1, *], linear0`).  A part is
 * a path inside the model as its parameters are named (`kdrun --check`
 * lists them): names, indices (numbers or `*`) and `.member`s.  Here only
 * the form is checked; which tensors a part selects, and whether the file
 * has them, is known once the model is compiled (runtime/weights_in.c).
 */
#include <stdio.h>
#include <string.h>
#include <math.h>

#include "check_int.h"

static int put(char *buf, size_t n, size_t *o, const char *s)
{
    size_t l = strlen(s);
    if (*o + l + 1 > n) return -1;
    memcpy(buf + *o, s, l + 1);
    *o += l;
    return 0;
}

static int part_into(const kdr_node *e, char *buf, size_t n, size_t *o, const kdr_node **bad)
{
    if (!e) return -1;
    switch (e->kind) {
    case KDR_IDENT:
        return put(buf, n, o, e->name);
    case KDR_MEMBER:
        if (part_into(e->a, buf, n, o, bad)) return -1;
        return put(buf, n, o, ".") || put(buf, n, o, e->name) ? -1 : 0;
    case KDR_INDEX:
        if (part_into(e->a, buf, n, o, bad) || put(buf, n, o, "[")) return -1;
        for (const kdr_node *k = e->kids; k; k = k->next) {
            char num[32];
            if (k->kind == KDR_STAR) snprintf(num, sizeof num, "*");
            else if (k->kind == KDR_NUM && k->num >= 0 && k->num < 1e9 && floor(k->num) == k->num)
                snprintf(num, sizeof num, "%lld", (long long)k->num);
            else { *bad = k; return -1; }
            if (put(buf, n, o, num) || put(buf, n, o, k->next ? "," : "]")) return -1;
        }
        return 0;
    default:
        *bad = e;
        return -1;
    }
}

int kdr_weights_part(const kdr_node *e, char *buf, size_t n, const kdr_node **bad)
{
    size_t o = 0;
    const kdr_node *b = NULL;
    if (n) buf[0] = 0;
    int rc = part_into(e, buf, n, &o, &b);
    if (bad) *bad = rc ? (b ? b : e) : NULL;
    return rc;
}

/* 1 when x is an index element somewhere in part p */
static int is_index_of(const kdr_node *p, const kdr_node *x)
{
    for (; p && (p->kind == KDR_INDEX || p->kind == KDR_MEMBER); p = p->a)
        if (p->kind == KDR_INDEX)
            for (const kdr_node *k = p->kids; k; k = k->next)
                if (k == x) return 1;
    return 0;
}

void ck_weights(chk *c, const kdr_node *m)
{
    const kdr_node *w = m->b;
    if (!w) return;
    if (w->str_len == 0) ck_err(c, w, "the weights file of model '%s' is an empty path", m->name);
    for (const kdr_node *p = w->kids; p; p = p->next) {
        char buf[256];
        const kdr_node *bad = NULL;
        if (kdr_weights_part(p, buf, sizeof buf, &bad) == 0) continue;
        if (bad && bad != p && is_index_of(p, bad))
            ck_err(c, bad, "an index in a part of a model's weights is a whole number or '*'");
        else
            ck_err(c, p, "a part of a model's weights is a path of its parameters, "
                   "such as block[1, 2], conv0 or linear0");
    }
    for (const kdr_node *p = w->kids; p; p = p->next)
        for (const kdr_node *q = w->kids; q != p; q = q->next) {
            char a[256], b[256];
            if (kdr_weights_part(p, a, sizeof a, NULL) || kdr_weights_part(q, b, sizeof b, NULL)) continue;
            if (strcmp(a, b) == 0) { ck_err(c, p, "part '%s' is named twice", a); break; }
        }
}
