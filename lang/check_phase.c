/* check_phase.c — the statements of a phase.
 *
 * train, teacher (frozen, at an epoch, following a pool), epochs, batch,
 * seed, optimizer, lr, loss, checkpoint, after, alternate, derive and
 * evaluate: each in its own case of one switch on the setting
 * (lang/settings.h).  Records what the phase trains and uses, for
 * check_order.c.
 */
#include <math.h>
#include <string.h>
#include "check_int.h"

static void add_setting_once(chk *c, const kdr_node **seen, const kdr_node *s, const char *what)
{
    if (*seen) {
        ck_err(c, s, "%s is given twice", what);
        ck_note(c, c->u, *seen, "the first one is here");
    } else
        *seen = s;
}

void ck_phase(chk *c, pinfo *pi)
{
    const kdr_node *ph = pi->node;
    char b1[128], b2[128];
    const kdr_node *ep = NULL, *ba = NULL, *se = NULL, *de = NULL;
    int trains = 0;
    c->cur = pi;
    c->in_net = 0;
    c->nvars = 0;
    c->nscoped = 0;
    for (const kdr_node *s = ph->kids; s; s = s->next) {
        if (!ck_allowed_in(s, KDR_BLK_PHASE)) {
            ck_wrong_block(c, s, "a phase");
            continue;
        }
        const char *w = s->word;
        switch (s->setting) {
        case KDR_S_TRAIN:
            trains = 1;
            c->where = "'train'";
            for (const kdr_node *m = s->kids; m; m = m->next) {
                const sym *ms = ck_model_ref(c, m, "what 'train' trains");
                if (ms)
                    ck_add_name(&pi->trains, &pi->ntrains, &pi->ctrains, NULL, ms->name, m);
            }
            ck_data_ref(c, s->a, "the data of 'train'");
            break;
        case KDR_S_TEACHER: {
            c->where = "'teacher'";
            const kdr_node *id = s->a;
            if (!id || id->kind != KDR_IDENT)
                continue;
            const sym *ts = ck_find_sym(c, id->name);
            if (s->op & KDR_F_FOLLOWS) {
                if (!ts || ts->k != S_POOL) {
                    if (ts)
                        ck_err(c, id, "'teacher follows' needs a pool, got %s",
                            ck_kind_desc(ck_sym_type(c, ts, id), b1, sizeof b1));
                    else {
                        sugg sg = { 0 };
                        for (size_t i = 0; i < c->nsyms; i++)
                            if (c->syms[i].k == S_POOL)
                                ck_consider(&sg, id->name, c->syms[i].name);
                        ck_err(c, id, "undefined pool '%s'%s", id->name, ck_dym(&sg, b1, sizeof b1));
                    }
                } else
                    ck_record_use(c, ts, id);
                if (s->kids) {
                    kdr_node fake = *s;
                    fake.kind = KDR_CALL;
                    fake.a = NULL;
                    ck_bcall(c, &fake, kdr_builtin_find("follows", KDR_CTX_FOLLOWS), KDR_CTX_MATH, 0);
                }
                continue;
            }
            if (s->b) {   /* teacher X at epoch E */
                const sym *ms = ck_model_ref(c, id, "an early-stopped teacher");
                if (s->extra && !ck_streq(s->extra, "epoch"))
                    ck_err(c, s->c ? s->c : s, "expected 'at epoch E', got 'at %s'", s->extra);
                ck_int_value(c, s->b, "epoch", 1, kdr_setting_info_of(KDR_S_EPOCHS)->max, "positive");
                if (!ms)
                    continue;
                /* a phase that trains X and checkpoints it */
                const pinfo *found = NULL;
                const kdr_node *ck = NULL;
                for (size_t i = 0; i < c->nph && !found; i++) {
                    const pinfo *q = &c->ph[i];
                    if (q == pi)
                        continue;
                    int tr = 0;
                    for (const kdr_node *t = q->node->kids; t; t = t->next)
                        if (t->kind == KDR_SETTING && t->setting == KDR_S_TRAIN)
                            for (const kdr_node *m = t->kids; m; m = m->next)
                                if (m->kind == KDR_IDENT && ck_streq(m->name, id->name))
                                    tr = 1;
                    if (!tr)
                        continue;
                    for (const kdr_node *t = q->node->kids; t; t = t->next)
                        if (t->kind == KDR_SETTING && t->setting == KDR_S_CHECKPOINT) {
                            found = q;
                            ck = t;
                        }
                }
                if (!found) {
                    ck_err(c, s, "teacher '%s' at an epoch needs a phase that trains '%s' with a 'checkpoint' setting",
                        id->name, id->name);
                    continue;
                }
                ck_add_name(&pi->uses, &pi->nuses, &pi->cuses, &pi->usenode, id->name, id);
                double e, every, epochs;
                const kdr_node *fe = NULL;
                for (const kdr_node *t = found->node->kids; t; t = t->next)
                    if (t->kind == KDR_SETTING && t->setting == KDR_S_EPOCHS)
                        fe = t;
                if (ck_cval(c, s->b, &e)) {
                    ck_fmt_num(b1, sizeof b1, e);
                    if (fe && ck_cval_in(c, found->u, fe->a, &epochs) && e > epochs) {
                        ck_fmt_num(b2, sizeof b2, epochs);
                        ck_err(c, s->b, "epoch %s is past the end of phase '%s', which trains '%s' for %s epochs",
                            b1, found->node->name, id->name, b2);
                    } else if (ck && ck->a && ck_cval_in(c, found->u, ck->a, &every) && every > 0
                               && (!ck->extra || strncmp(ck->extra, "epoch", 5) == 0)
                               && fmod(e, every) != 0) {
                        ck_fmt_num(b2, sizeof b2, every);
                        ck_err(c, s->b, "no checkpoint of '%s' at epoch %s: phase '%s' saves one every %s epochs",
                            id->name, b1, found->node->name, b2);
                    }
                }
                continue;
            }
            if (!ts || (ts->k != S_MODEL && ts->k != S_POOL))
                ck_model_ref(c, id, "a teacher");
            else
                ck_record_use(c, ts, id);
            break;
        }
        case KDR_S_EPOCHS:
            add_setting_once(c, &ep, s, "'epochs'");
            c->where = "'epochs'";
            ck_int_setting(c, s);
            break;
        case KDR_S_BATCH:
            add_setting_once(c, &ba, s, "'batch'");
            c->where = "'batch'";
            ck_int_setting(c, s);
            break;
        case KDR_S_SEED:
            add_setting_once(c, &se, s, "'seed'");
            c->where = "'seed'";
            ck_int_setting(c, s);
            break;
        case KDR_S_OPTIMIZER:
        case KDR_S_LR:
        case KDR_S_LOSS: {
            /* the same (word, label) twice */
            for (const kdr_node *t = ph->kids; t != s; t = t->next)
                if (t->kind == KDR_SETTING && t->setting == s->setting
                    && ((!t->name && !s->name) || ck_streq(t->name, s->name))) {
                    if (s->name)
                        ck_err(c, s, "'%s %s:' is given twice", w, s->name);
                    else
                        ck_err(c, s, "'%s' is given twice", w);
                    ck_note(c, c->u, t, "the first one is here");
                    break;
                }
            if (s->name && !ck_streq(s->name, "weights") && !ck_streq(s->name, "arch")
                && !ck_find_sym_kind(c, s->name, S_MODEL)) {
                sugg sg = { 0 };
                for (size_t i = 0; i < c->nsyms; i++)
                    if (c->syms[i].k == S_MODEL)
                        ck_consider(&sg, s->name, c->syms[i].name);
                ck_consider(&sg, s->name, "weights");
                ck_consider(&sg, s->name, "arch");
                ck_err(c, s->c ? s->c : s, "'%s' is not a model or a parameter group (weights, arch)%s",
                    s->name, ck_dym(&sg, b1, sizeof b1));
            }
            const kdr_node *v = s->a;
            if (!v)
                continue;
            if (s->setting == KDR_S_LOSS) {
                c->where = "a loss";
                ty t = ck_ex(c, v, LOSS_CTX);
                if (t.k == V_STR || t.k == V_BOOL || t.k == V_LIST || ck_bad_operand(t.k))
                    ck_err(c, v, "a loss must be a scalar expression, got %s", ck_kind_desc(t, b1, sizeof b1));
                continue;
            }
            unsigned cx = s->setting == KDR_S_LR ? KDR_CTX_LR : KDR_CTX_OPTIM;
            c->where = s->setting == KDR_S_LR ? "'lr'" : "'optimizer'";
            if (v->kind == KDR_CALL) {
                ty t = ck_call(c, v, cx | KDR_CTX_MATH, 0);
                if (t.k != V_CALL && t.k != V_ANY)
                    ck_err(c, v, "expected a %s", kdr_ctx_name(cx));
            } else {
                ty t = ck_ex(c, v, cx);
                if (!(t.k == V_ANY || (t.k == V_CALL && (t.ctx & cx))))
                    ck_err(c, v, "expected a %s call, such as %s, got %s", kdr_ctx_name(cx),
                        cx == KDR_CTX_LR ? "step(milestones: [30, 60])" : "sgd(lr: 0.1)",
                        ck_kind_desc(t, b2, sizeof b2));
            }
            break;
        }
        case KDR_S_CHECKPOINT:
            c->where = "'checkpoint'";
            ck_int_setting(c, s);
            if (s->extra && !ck_streq(s->extra, "epoch") && !ck_streq(s->extra, "epochs")
                && !ck_streq(s->extra, "step") && !ck_streq(s->extra, "steps"))
                ck_err(c, s->c ? s->c : s, "unknown checkpoint unit '%s' (epoch, epochs, step or steps)", s->extra);
            if (s->b) {
                double v;
                if (ck_cval(c, s->b, &v) && (v < 1 || v != floor(v))) {
                    ck_fmt_num(b1, sizeof b1, v);
                    ck_err(c, s->b, "'keep last N' needs a positive integer, got %s", b1);
                }
            }
            break;
        case KDR_S_AFTER:
            for (const kdr_node *k = s->kids; k; k = k->next) {
                if (k->kind != KDR_IDENT)
                    continue;
                const sym *q = ck_find_sym(c, k->name);
                if (q && q->k == S_PHASE) {
                    if (q->node == ph)
                        ck_err(c, k, "phase '%s' cannot come after itself", k->name);
                    continue;
                }
                if (q) {
                    ck_err(c, k, "'after' needs a phase, got %s", ck_kind_desc(ck_sym_type(c, q, k), b1, sizeof b1));
                    continue;
                }
                sugg sg = { 0 };
                for (size_t i = 0; i < c->nsyms; i++)
                    if (c->syms[i].k == S_PHASE)
                        ck_consider(&sg, k->name, c->syms[i].name);
                ck_err(c, k, "undefined phase '%s'%s", k->name, ck_dym(&sg, b1, sizeof b1));
            }
            break;
        case KDR_S_ALTERNATE:
            trains = 1;
            if (!s->kids)
                ck_err(c, s, "'alternate' needs at least one 'GROUP minimize EXPR' step");
            for (const kdr_node *m = s->kids; m; m = m->next) {
                if (!ck_allowed_in(m, KDR_BLK_ALTERNATE)) {
                    ck_err(c, m, "only 'GROUP minimize EXPR [on DATA]' steps are valid in 'alternate'");
                    continue;
                }
                for (const kdr_node *g = m->kids; g; g = g->next) {
                    if (g->kind != KDR_IDENT)
                        continue;
                    if (ck_streq(g->name, "weights") || ck_streq(g->name, "arch"))
                        continue;
                    const sym *ms = ck_find_sym_kind(c, g->name, S_MODEL);
                    if (ms) {
                        ck_add_name(&pi->trains, &pi->ntrains, &pi->ctrains, NULL, ms->name, g);
                        continue;
                    }
                    sugg sg = { 0 };
                    for (size_t i = 0; i < c->nsyms; i++)
                        if (c->syms[i].k == S_MODEL)
                            ck_consider(&sg, g->name, c->syms[i].name);
                    ck_consider(&sg, g->name, "weights");
                    ck_consider(&sg, g->name, "arch");
                    ck_err(c, g, "'%s' is not a model or a parameter group (weights, arch)%s", g->name,
                        ck_dym(&sg, b1, sizeof b1));
                }
                c->where = "an objective";
                ck_ex(c, m->a, LOSS_CTX);
                if (m->b)
                    ck_data_ref(c, m->b, "the data of 'minimize'");
                double lr;
                if (m->c && (!ck_cval(c, m->c, &lr) || !(lr > 0 && lr < 1e6)))
                    ck_err(c, m->c, "a step's 'lr' must be a constant number, more than 0 and less than 1e6");
            }
            break;
        case KDR_S_DERIVE: {
            add_setting_once(c, &de, s, "'derive'");
            const kdr_node *id = s->a;
            if (id && id->kind == KDR_IDENT) {
                const sym *q = ck_find_sym(c, id->name);
                if (q && q->k == S_SEARCH) {
                    pi->derive = q->name;
                    pi->derivenode = id;
                } else if (q && q->k == S_MODEL) {
                    /* a model with choice/aggregate ops: keep the strongest */
                    ck_record_use(c, q, id);
                } else if (q)
                    ck_err(c, id, "'derive' needs a search or a searched model, got %s",
                        ck_kind_desc(ck_sym_type(c, q, id), b1, sizeof b1));
                else {
                    sugg sg = { 0 };
                    for (size_t i = 0; i < c->nsyms; i++)
                        if (c->syms[i].k == S_SEARCH)
                            ck_consider(&sg, id->name, c->syms[i].name);
                    ck_err(c, id, "undefined search '%s'%s", id->name, ck_dym(&sg, b1, sizeof b1));
                }
            } else if (id)
                ck_err(c, id, "'derive' needs the name of a search");
            break;
        }
        case KDR_S_EVALUATE:
            ck_evaluate(c, s);
            break;
        default:
            break;
        }
    }
    if (!trains)
        ck_err(c, ck_name_at(ph), "phase '%s' trains nothing: it needs 'train MODEL on DATA' or 'alternate { ... }'",
            ph->name);
    c->cur = NULL;
}
