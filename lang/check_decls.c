/* check_decls.c — data sets, models, pools, searches and reports.
 *
 * Each declaration is checked with the settings its block allows (the
 * settings table, lang/settings.c): data blocks (splits, augment, normalize,
 * limit), the template call of a model, the members of a pool, the body of
 * a search, and the evaluate and table statements of a report.  The
 * helpers for integer settings, model and data references and metrics are
 * shared with check_phase.c.
 */
#include <math.h>
#include <string.h>
#include "check_int.h"

/* ---- declarations -------------------------------------------------------- */

/* 1 when s is a setting allowed in the blocks `blk` (KDR_BLK_*) */
int ck_allowed_in(const kdr_node *s, unsigned blk)
{
    const kdr_setting_info *i = s->kind == KDR_SETTING ? kdr_setting_info_of(s->setting) : NULL;
    return i && (i->blocks & blk);
}

void ck_wrong_block(chk *c, const kdr_node *s, const char *here)
{
    if (s->kind == KDR_SETTING)
        ck_err(c, s, "'%s' is not valid in %s; it belongs in %s", s->word ? s->word : "?", here,
            kdr_setting_where(s->setting));
    else if (s->kind == KDR_ASSIGN || s->kind == KDR_FOR || s->kind == KDR_IF || s->kind == KDR_OUT)
        ck_err(c, s, "%s is not valid in %s; only net and search blocks have %s",
            s->kind == KDR_ASSIGN ? "an assignment" : s->kind == KDR_FOR ? "'for'" :
            s->kind == KDR_IF ? "'if'" : "'out'", here,
            s->kind == KDR_OUT ? "outputs (and only nets)" : "statements like this");
    else
        ck_err(c, s, "unexpected statement in %s", here);
}

/* the whole number e of the statement `word`, in [min, max] */
void ck_int_value(chk *c, const kdr_node *e, const char *word, double min, double max,
                  const char *what)
{
    ty t = ck_ex(c, e, KDR_CTX_MATH);
    char b1[128], b2[64], b3[64];
    if (t.k != V_NUM && t.k != V_ANY) {
        ck_err(c, e, "'%s' must be a number, got %s", word, ck_kind_desc(t, b1, sizeof b1));
        return;
    }
    double v;
    if (!ck_cval(c, e, &v))
        return;
    ck_fmt_num(b2, sizeof b2, v);
    ck_fmt_num(b3, sizeof b3, min);
    if (v != floor(v))
        ck_err(c, e, "'%s' must be an integer, got %s", word, b2);
    else if (v < min)
        ck_err(c, e, "'%s' must be %s (>= %s), got %s", word, what, b3, b2);
    else if (v > max) {
        ck_fmt_num(b3, sizeof b3, max);
        ck_err(c, e, "'%s' must be at most %s, got %s", word, b3, b2);
    }
}

/* a KDR_SV_INT setting, against its range in the settings table */
void ck_int_setting(chk *c, const kdr_node *s)
{
    const kdr_setting_info *i = kdr_setting_info_of(s->setting);
    if (i && i->value == KDR_SV_INT)
        ck_int_value(c, s->a, s->word, i->min, i->max, i->range_word);
}

void ck_data_ref(chk *c, const kdr_node *e, const char *what)
{
    char b1[128];
    ty t = ck_ex(c, e, KDR_CTX_VALUE);
    if (t.k != V_DATA && t.k != V_ANY)
        ck_err(c, e, "%s must be a data set or a split of one (like d.train), got %s", what,
            ck_kind_desc(t, b1, sizeof b1));
}

const sym *ck_model_ref(chk *c, const kdr_node *id, const char *what)
{
    char b1[128];
    if (!id || id->kind != KDR_IDENT)
        return NULL;
    const sym *s = ck_find_sym(c, id->name);
    if (s && s->k == S_MODEL) {
        ck_record_use(c, s, id);
        return s;
    }
    if (s) {
        ty t = ck_sym_type(c, s, id);
        ck_err(c, id, "%s must be a model, got %s", what, ck_kind_desc(t, b1, sizeof b1));
        return NULL;
    }
    sugg sg = { 0 };
    for (size_t i = 0; i < c->nsyms; i++)
        if (c->syms[i].k == S_MODEL)
            ck_consider(&sg, id->name, c->syms[i].name);
    ck_err(c, id, "undefined model '%s'%s", id->name, ck_dym(&sg, b1, sizeof b1));
    return NULL;
}

static void check_metrics(chk *c, const kdr_node *list)
{
    if (!list)
        return;
    c->where = "the metrics of 'evaluate'";
    for (const kdr_node *m = list->kids; m; m = m->next) {
        if (m->kind == KDR_IDENT) {
            const kdr_builtin *b = kdr_builtin_find(m->name, KDR_CTX_METRIC);
            if (b)
                continue;
            sugg sg = { 0 };
            char b1[128];
            size_t nb;
            const kdr_builtin *all = kdr_builtins(&nb);
            for (size_t i = 0; i < nb; i++)
                if (all[i].ctx == KDR_CTX_METRIC)
                    ck_consider(&sg, m->name, all[i].name);
            ck_err(c, m, "unknown metric '%s'%s", m->name, ck_dym(&sg, b1, sizeof b1));
        } else if (m->kind == KDR_BINARY && m->op == '@') {
            ck_ex(c, m, KDR_CTX_METRIC);
        } else
            ck_err(c, m, "expected a metric (top1, psnr, hr@10, ...)");
    }
}

void ck_evaluate(chk *c, const kdr_node *s)
{
    for (const kdr_node *m = s->kids; m; m = m->next)
        ck_model_ref(c, m, "what 'evaluate' evaluates");
    ck_data_ref(c, s->a, "the data of 'evaluate'");
    check_metrics(c, s->b);
}

void ck_data(chk *c, const kdr_node *d)
{
    char b1[128];
    const kdr_node *call = d->a;
    c->where = "a data loader";
    if (!call || call->kind != KDR_CALL || !call->a || call->a->kind != KDR_IDENT) {
        if (call)
            ck_err(c, call, "a data set is made by a loader call, such as cifar10(\"dir\")");
    } else {
        const kdr_builtin *b = kdr_builtin_find(call->a->name, KDR_CTX_LOADER);
        if (b)
            ck_bcall(c, call, b, KDR_CTX_LOADER | KDR_CTX_NOISE | KDR_CTX_MATH, 0);
        else {
            const kdr_builtin *o = kdr_builtin_find(call->a->name, ~0u);
            if (o)
                ck_err(c, call->a, "'%s' is a %s, not a data loader", o->name, kdr_ctx_name(o->ctx));
            else {
                sugg sg = { 0 };
                size_t nb;
                const kdr_builtin *all = kdr_builtins(&nb);
                for (size_t i = 0; i < nb; i++)
                    if (all[i].ctx == KDR_CTX_LOADER)
                        ck_consider(&sg, call->a->name, all[i].name);
                ck_err(c, call->a, "unknown data loader '%s'%s", call->a->name, ck_dym(&sg, b1, sizeof b1));
            }
        }
    }
    const kdr_node *first_of[3] = { 0 };
    const kdr_node *limit = NULL, *norm = NULL;
    for (const kdr_node *s = d->kids; s; s = s->next) {
        if (!ck_allowed_in(s, KDR_BLK_DATA)) {
            ck_wrong_block(c, s, "a data block");
            continue;
        }
        int split = s->setting == KDR_S_SPLIT_TRAIN ? 0 : s->setting == KDR_S_SPLIT_TEST ? 1
                  : s->setting == KDR_S_SPLIT_VAL ? 2 : -1;
        if (split >= 0) {
            if (first_of[split]) {
                ck_err(c, s, "split '%s' is declared twice", ck_split_name(s));
                ck_note(c, c->u, first_of[split], "the first declaration is here");
            } else
                first_of[split] = s;
            if (s->b) {
                c->where = "a holdout size";
                double v;
                ty t = ck_ex(c, s->b, KDR_CTX_MATH);
                if (t.k != V_NUM && t.k != V_ANY)
                    ck_err(c, s->b, "the holdout size must be a number, got %s", ck_kind_desc(t, b1, sizeof b1));
                else if (ck_cval(c, s->b, &v) && (v < 1 || v != floor(v))) {
                    ck_fmt_num(b1, sizeof b1, v);
                    ck_err(c, s->b, "the holdout size must be a positive integer, got %s", b1);
                }
                kdr_setting named = kdr_setting_lookup(s->name, KDR_BLK_DATA);
                if (named == KDR_S_SPLIT_TRAIN || named == KDR_S_SPLIT_TEST
                    || (named == KDR_S_SPLIT_VAL && first_of[2] && first_of[2] != s))
                    ck_err(c, s->c ? s->c : s, "holdout split name '%s' is already a split", s->name);
            }
        } else if (s->setting == KDR_S_AUGMENT) {
            int ok = 0;
            sugg sg = { 0 };
            for (const kdr_node *t = d->kids; t; t = t->next)
                if (ck_is_split(t)) {
                    if (ck_streq(ck_split_name(t), s->name) || ck_streq(t->name, s->name))
                        ok = 1;
                    ck_consider(&sg, s->name, ck_split_name(t));
                    if (t->name)
                        ck_consider(&sg, s->name, t->name);
                }
            if (!ok)
                ck_err(c, s->c ? s->c : s, "'augment' names split '%s', which data set '%s' does not declare%s",
                    s->name ? s->name : "?", d->name, ck_dym(&sg, b1, sizeof b1));
            c->where = "an augmentation";
            for (const kdr_node *a = s->kids; a; a = a->next) {
                if (a->kind == KDR_CALL && a->a && a->a->kind == KDR_IDENT) {
                    const kdr_builtin *b = kdr_builtin_find(a->a->name, KDR_CTX_AUG);
                    if (b) {
                        ck_bcall(c, a, b, KDR_CTX_AUG | KDR_CTX_MATH, 0);
                        continue;
                    }
                    const kdr_builtin *o = kdr_builtin_find(a->a->name, ~0u);
                    if (o)
                        ck_err(c, a->a, "'%s' is a %s, not an augmentation", o->name, kdr_ctx_name(o->ctx));
                    else {
                        sugg s2 = { 0 };
                        size_t nb;
                        const kdr_builtin *all = kdr_builtins(&nb);
                        for (size_t i = 0; i < nb; i++)
                            if (all[i].ctx == KDR_CTX_AUG)
                                ck_consider(&s2, a->a->name, all[i].name);
                        ck_err(c, a->a, "unknown augmentation '%s'%s", a->a->name, ck_dym(&s2, b1, sizeof b1));
                    }
                } else
                    ck_err(c, a, "expected an augmentation call, such as crop(32, pad: 4)");
            }
        } else if (s->setting == KDR_S_NORMALIZE) {
            if (norm) {
                ck_err(c, s, "'normalize' is given twice");
                ck_note(c, c->u, norm, "the first one is here");
            }
            norm = s;
            kdr_node fake = *s;
            fake.kind = KDR_CALL;
            fake.a = NULL;
            c->where = "'normalize'";
            ck_bcall(c, &fake, kdr_builtin_find("normalize", KDR_CTX_AUG), KDR_CTX_MATH, 0);
        } else if (s->setting == KDR_S_LIMIT) {
            if (limit) {
                ck_err(c, s, "'limit' is given twice");
                ck_note(c, c->u, limit, "the first one is here");
            }
            limit = s;
            c->where = "'limit'";
            ck_int_setting(c, s);
        }
    }
}

void ck_model(chk *c, const kdr_node *m)
{
    char b1[128];
    const kdr_node *call = m->a;
    c->where = "a model declaration";
    c->in_net = 0;
    ck_weights(c, m);
    if (!call)
        return;
    if (m->extra)                    /* model ts[s] = ...: s is the member's index */
        PUSH(c->scoped, c->nscoped, c->cscoped, m->extra);
    if (call->kind != KDR_CALL || !call->a || call->a->kind != KDR_IDENT) {
        ck_err(c, call, "a model is made by calling a net template, such as resnet(depth: 20)");
        ck_ex(c, call, NET_CTX);
        return;
    }
    const char *fn = call->a->name;
    const sym *s = ck_find_sym(c, fn);
    if (s && s->k == S_NET) {
        ck_tcall(c, call, s->node, NET_CTX, 0);
        return;
    }
    if (s) {
        ty t = ck_sym_type(c, s, call->a);
        ck_err(c, call->a, "a model is made from a net template; '%s' is %s", fn, ck_kind_desc(t, b1, sizeof b1));
        return;
    }
    const kdr_builtin *b = kdr_builtin_find(fn, ~0u);
    if (b) {
        ck_err(c, call->a, "'%s' is a builtin %s; a model is made from a net template (net NAME(...) { ... })",
            fn, kdr_ctx_name(b->ctx));
        return;
    }
    sugg sg = { 0 };
    for (size_t i = 0; i < c->nsyms; i++)
        if (c->syms[i].k == S_NET)
            ck_consider(&sg, fn, c->syms[i].name);
    ck_err(c, call->a, "undefined net template '%s'%s", fn, ck_dym(&sg, b1, sizeof b1));
    for (const kdr_node *a = call->kids; a; a = a->next)
        ck_ex(c, a->a, KDR_CTX_MATH);
}

void ck_pool(chk *c, const kdr_node *p)
{
    char b1[128];
    const kdr_node *v = p->a;
    c->where = "a pool";
    if (!v)
        return;
    if (v->kind == KDR_LIST) {
        if (!v->kids)
            ck_err(c, v, "pool '%s' is empty", p->name);
        for (const kdr_node *m = v->kids; m; m = m->next) {
            if (m->kind == KDR_IDENT)
                ck_model_ref(c, m, "a pool member");
            else {
                ty t = ck_ex(c, m, 0);
                ck_err(c, m, "a pool member must be a model, got %s", ck_kind_desc(t, b1, sizeof b1));
            }
        }
        return;
    }
    if (v->kind == KDR_CALL && v->a && v->a->kind == KDR_IDENT) {
        const kdr_builtin *b = kdr_builtin_find(v->a->name, KDR_CTX_POOL);
        if (b) {
            ck_bcall(c, v, b, KDR_CTX_POOL | KDR_CTX_MATH, 0);
            return;
        }
    }
    ck_err(c, v, "a pool is a list of models [a, b] or checkpoints(ROUTE, ...)");
}

void ck_search(chk *c, const kdr_node *s)
{
    c->nvars = 0;
    c->nscoped = 0;
    c->in_net = 0;
    c->where = "a search block";
    for (const kdr_node *k = s->kids; k; k = k->next) {
        if (k->kind == KDR_SETTING && k->setting != KDR_S_BRIDGE) {
            ck_wrong_block(c, k, "a search block");
            continue;
        }
        if (k->kind == KDR_OUT) {
            ck_wrong_block(c, k, "a search block");
            continue;
        }
        kdr_node one = *k;
        one.next = NULL;
        ck_stmts(c, &one, LOSS_CTX, 0);
    }
}

void ck_report(chk *c, const kdr_node *r)
{
    char b1[128];
    c->in_net = 0;
    for (const kdr_node *s = r->kids; s; s = s->next) {
        if (!ck_allowed_in(s, KDR_BLK_REPORT)) {
            ck_wrong_block(c, s, "a report");
            continue;
        }
        if (s->setting == KDR_S_EVALUATE) {
            ck_evaluate(c, s);
            continue;
        }
        /* table rows X cols Y: values */
        const kdr_node *ids[2] = { s->a, s->b };
        for (int i = 0; i < 2; i++) {
            const kdr_node *id = ids[i];
            if (!id || id->kind != KDR_IDENT)
                continue;
            if (ck_find_sym_kind(c, id->name, S_SWEEP))
                continue;
            sugg sg = { 0 };
            for (size_t j = 0; j < c->nsyms; j++)
                if (c->syms[j].k == S_SWEEP)
                    ck_consider(&sg, id->name, c->syms[j].name);
            ck_err(c, id, "'%s' of 'table' must be a sweep, and '%s' is not one%s", i ? "cols" : "rows",
                id->name, ck_dym(&sg, b1, sizeof b1));
        }
        c->where = "a table";
        for (const kdr_node *v = s->kids; v; v = v->next) {
            if (v->kind == KDR_MEMBER && v->a && v->a->kind == KDR_IDENT) {
                if (!ck_model_ref(c, v->a, "a table value"))
                    continue;
                if (!kdr_builtin_find(v->name, KDR_CTX_METRIC)) {
                    sugg sg = { 0 };
                    size_t nb;
                    const kdr_builtin *all = kdr_builtins(&nb);
                    for (size_t i = 0; i < nb; i++)
                        if (all[i].ctx == KDR_CTX_METRIC)
                            ck_consider(&sg, v->name, all[i].name);
                    ck_err(c, v, "unknown metric '%s' in a table%s", v->name, ck_dym(&sg, b1, sizeof b1));
                }
            } else if (v->kind == KDR_MEMBER && v->a && v->a->kind == KDR_BINARY) {
                /* student.hr@10 parses as (student.hr)@10 elsewhere; accept model.metric@k here */
                ck_ex(c, v->a, KDR_CTX_METRIC);
            } else if (v->kind == KDR_BINARY && v->op == '@' && v->a && v->a->kind == KDR_MEMBER
                       && v->a->a && v->a->a->kind == KDR_IDENT) {
                ck_model_ref(c, v->a->a, "a table value");
                const kdr_builtin *b = kdr_builtin_find(v->a->name, KDR_CTX_METRIC);
                if (!b || !(b->flags & KDR_B_AT_K))
                    ck_err(c, v->a, "'%s' is not a metric that takes @k", v->a->name ? v->a->name : "?");
            } else
                ck_err(c, v, "a table value is MODEL.METRIC, such as student.top1");
        }
    }
}
