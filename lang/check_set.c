/* check_set.c — the --set KEY=VALUE overrides.
 *
 * A value is parsed as a number, "string", true/false, identifier, [list]
 * or a..b, and replaces the AST value of a `let`, a `sweep`, a phase
 * setting (every phase's, or one phase's), a data setting or a loader or
 * template argument.  New nodes are allocated in the arena of the unit that
 * holds the value, and remembered so that messages about them can say
 * "(value from --set KEY=VALUE)".
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "check_int.h"

/* ---- --set overrides --------------------------------------------------------- */

typedef struct vparse { const char *s; kdr_arena *ar; uint32_t beg, end; int bad; } vparse;

static kdr_node *vnode(vparse *v, kdr_kind k)
{
    kdr_node *n = kdr_arena_alloc(v->ar, sizeof *n);
    if (!n) {
        v->bad = 1;
        return NULL;
    }
    n->kind = k;
    n->beg = v->beg;
    n->end = v->end;
    return n;
}

static void vskip(vparse *v) { while (*v->s == ' ' || *v->s == '\t') v->s++; }

static kdr_node *vscalar(vparse *v)
{
    vskip(v);
    const char *s = v->s;
    if (*s == '"') {
        const char *e = strchr(s + 1, '"');
        if (!e) { v->bad = 1; return NULL; }
        kdr_node *n = vnode(v, KDR_STR);
        if (!n) return NULL;
        n->str = kdr_arena_intern(v->ar, s + 1, (size_t)(e - s - 1));
        n->str_len = (size_t)(e - s - 1);
        v->s = e + 1;
        return n;
    }
    if (isalpha((unsigned char)*s) || *s == '_') {
        const char *e = s;
        while (isalnum((unsigned char)*e) || *e == '_') e++;
        size_t len = (size_t)(e - s);
        v->s = e;
        if (len == 4 && strncmp(s, "true", 4) == 0) { kdr_node *n = vnode(v, KDR_BOOL); if (n) n->num = 1; return n; }
        if (len == 5 && strncmp(s, "false", 5) == 0) return vnode(v, KDR_BOOL);
        kdr_node *n = vnode(v, KDR_IDENT);
        if (n) n->name = kdr_arena_intern(v->ar, s, len);
        return n;
    }
    char *end;
    double x = strtod(s, &end);
    if (end == s || !isfinite(x)) { v->bad = 1; return NULL; }
    /* do not swallow the first '.' of "1..3" */
    if (end > s && end[-1] == '.' && *end == '.') end--;
    v->s = end;
    kdr_node *n = vnode(v, KDR_NUM);
    if (n) n->num = x;
    return n;
}

/* number | "string" | true | false | identifier | [v, ...] | a..b ; anything else: a string */
static kdr_node *parse_value(kdr_arena *ar, const char *text, uint32_t beg, uint32_t end)
{
    vparse v = { text, ar, beg, end, 0 };
    kdr_node *r = NULL;
    vskip(&v);
    if (*v.s == '[') {
        v.s++;
        r = vnode(&v, KDR_LIST);
        kdr_node **tail = r ? &r->kids : NULL;
        vskip(&v);
        if (*v.s == ']') v.s++;
        else
            for (;;) {
                kdr_node *e = vscalar(&v);
                if (v.bad || !tail) break;
                *tail = e;
                tail = &e->next;
                vskip(&v);
                if (*v.s == ',') { v.s++; continue; }
                if (*v.s == ']') { v.s++; break; }
                v.bad = 1;
                break;
            }
    } else {
        r = vscalar(&v);
        vskip(&v);
        if (!v.bad && r && v.s[0] == '.' && v.s[1] == '.') {
            v.s += 2;
            kdr_node *b = vscalar(&v);
            kdr_node *rg = vnode(&v, KDR_BINARY);
            if (rg && b) {
                rg->op = KDR_OP_RANGE;
                rg->a = r;
                rg->b = b;
                r = rg;
            } else
                v.bad = 1;
        }
    }
    vskip(&v);
    if (v.bad || !r || *v.s) {
        kdr_node *n = vnode(&v, KDR_STR);
        if (!n) return NULL;
        n->str = kdr_arena_intern(ar, text, strlen(text));
        n->str_len = strlen(text);
        return n;
    }
    return r;
}

static const kdr_unit *unit_of_node(const chk *c, const kdr_node *decl)
{
    for (size_t i = 0; i < c->nsyms; i++)
        if (c->syms[i].node == decl)
            return c->syms[i].u;
    return c->p->nunits ? c->p->units[0] : NULL;
}

static kdr_node *set_value(chk *c, const kdr_unit *u, const kdr_node *old, const char *value,
                           const kdr_node *fallback)
{
    const kdr_node *loc = old ? old : fallback;
    kdr_node *n = parse_value(u->arena, value, loc ? loc->beg : 0, loc ? loc->end : 0);
    if (n && n->kind == KDR_STR && (value[0] == '[' || value[0] == '"')
        && !(value[0] == '"' && strlen(value) >= 2 && value[strlen(value) - 1] == '"'
             && !strchr(value + 1, '"')[1]))
        c->bad_value = 1;
    if (n) {
        void *q = ck_grow_arr(c->setv, &c->csetv, c->nsetv, sizeof *c->setv);
        if (q) {
            c->setv = q;
            c->setv[c->nsetv].n = n;
            c->setv[c->nsetv].key = c->set_key;
            c->setv[c->nsetv].value = value;
            c->nsetv++;
        }
    }
    return n;
}

/* a phase or data setting: replace its value, or append a new setting */
static int override_setting(chk *c, kdr_node *block, kdr_setting which, const char *value)
{
    const kdr_unit *u = unit_of_node(c, block);
    const char *word = kdr_setting_info_of(which)->name;
    if (!u || !u->arena)
        return 0;
    for (kdr_node *s = block->kids; s; s = s->next)
        if (s->kind == KDR_SETTING && s->setting == which && !s->name) {
            s->a = set_value(c, u, s->a, value, s);
            return 1;
        }
    kdr_node *s = kdr_arena_alloc(u->arena, sizeof *s);
    if (!s)
        return 0;
    const kdr_node *at = ck_name_at(block);
    s->kind = KDR_SETTING;
    s->setting = which;
    s->word = kdr_arena_intern(u->arena, word, strlen(word));
    s->beg = at->beg;
    s->end = at->end;
    s->a = set_value(c, u, NULL, value, at);
    kdr_node **tail = &block->kids;
    while (*tail) tail = &(*tail)->next;
    *tail = s;
    return 1;
}

/* replace or add the argument `name` of a call (loader or template) */
static int override_arg(chk *c, kdr_node *decl, kdr_node *callnode, const char *name,
                        const char *value, const kdr_node *params, const kdr_builtin *b)
{
    const kdr_unit *u = unit_of_node(c, decl);
    if (!u || !u->arena || !callnode || callnode->kind != KDR_CALL)
        return 0;
    /* the positional index of `name` */
    int idx = -1, i = 0;
    if (params) {
        for (const kdr_node *p = params; p; p = p->next, i++)
            if (ck_streq(p->name, name)) idx = i;
    } else if (b) {
        for (size_t j = 0; b->args[j].name; j++)
            if (ck_streq(b->args[j].name, name)) idx = (int)j;
    }
    if (idx < 0)
        return 0;
    int pos = 0;
    for (kdr_node *a = callnode->kids; a; a = a->next) {
        if (a->name ? ck_streq(a->name, name) : (!a->b && pos++ == idx)) {
            a->a = set_value(c, u, a->a, value, a);
            return 1;
        }
    }
    kdr_node *a = kdr_arena_alloc(u->arena, sizeof *a);
    if (!a)
        return 0;
    a->kind = KDR_ARG;
    a->name = kdr_arena_intern(u->arena, name, strlen(name));
    a->beg = callnode->beg;
    a->end = callnode->end;
    a->a = set_value(c, u, NULL, value, callnode);
    kdr_node **tail = &callnode->kids;
    while (*tail) tail = &(*tail)->next;
    *tail = a;
    return 1;
}

/* the phase settings `--set epochs=N` (every phase) and `--set phase.P.epochs=N` reach */
static kdr_setting phase_key(const char *key)
{
    kdr_setting s = kdr_setting_lookup(key, KDR_BLK_PHASE);
    return s == KDR_S_EPOCHS || s == KDR_S_BATCH || s == KDR_S_SEED ? s : KDR_S_NONE;
}

void ck_apply_overrides(chk *c, kdr_override *ov, size_t nov)
{
    for (size_t i = 0; i < nov; i++) {
        const char *key = ov[i].key ? ov[i].key : "";
        const char *val = ov[i].value ? ov[i].value : "";
        int hit = 0;
        c->set_key = key;
        c->bad_value = 0;
        if (!strchr(key, '.')) {
            for (size_t j = 0; j < c->nsyms; j++) {
                sym *s = &c->syms[j];
                if ((s->k == S_LET || s->k == S_SWEEP) && ck_streq(s->name, key)) {
                    kdr_node *d = (kdr_node *)s->node;
                    kdr_node *v = set_value(c, s->u, d->a, val, d);
                    if (v && s->k == S_SWEEP && v->kind != KDR_LIST
                        && !(v->kind == KDR_BINARY && v->op == KDR_OP_RANGE)) {
                        kdr_node *l = kdr_arena_alloc(s->u->arena, sizeof *l);
                        if (l) {
                            l->kind = KDR_LIST;
                            l->beg = v->beg;
                            l->end = v->end;
                            l->kids = v;
                            v = l;
                        }
                    }
                    if (v) {
                        d->a = v;
                        hit = 1;
                    }
                }
            }
            if (!hit && phase_key(key))
                for (size_t j = 0; j < c->nsyms; j++)
                    if (c->syms[j].k == S_PHASE)
                        hit |= override_setting(c, (kdr_node *)c->syms[j].node, phase_key(key), val);
        } else {
            char buf[256];
            snprintf(buf, sizeof buf, "%s", key);
            char *a = buf, *b = strchr(a, '.'), *d = NULL;
            *b++ = 0;
            d = strchr(b, '.');
            if (d) {
                *d++ = 0;
                if (strchr(d, '.')) d = NULL;
            }
            if (d && *b && *d) {
                if (ck_streq(a, "phase")) {
                    const sym *s = ck_find_sym_kind(c, b, S_PHASE);
                    if (s && phase_key(d))
                        hit = override_setting(c, (kdr_node *)s->node, phase_key(d), val);
                } else if (ck_streq(a, "data")) {
                    const sym *s = ck_find_sym_kind(c, b, S_DATA);
                    if (s && kdr_setting_lookup(d, KDR_BLK_DATA) == KDR_S_LIMIT)
                        hit = override_setting(c, (kdr_node *)s->node, KDR_S_LIMIT, val);
                    else if (s && s->node->a && s->node->a->kind == KDR_CALL && s->node->a->a
                             && s->node->a->a->kind == KDR_IDENT)
                        hit = override_arg(c, (kdr_node *)s->node, s->node->a, d, val, NULL,
                                           kdr_builtin_find(s->node->a->a->name, KDR_CTX_LOADER));
                } else if (ck_streq(a, "model")) {
                    const sym *s = ck_find_sym_kind(c, b, S_MODEL);
                    const kdr_node *net = s ? ck_model_template(c, s->node) : NULL;
                    if (net)
                        hit = override_arg(c, (kdr_node *)s->node, s->node->a, d, val, net->params, NULL);
                }
            }
        }
        if (hit && c->bad_value)
            kdr_diag_push(c->d, KDR_ERROR, NULL, 0, 0,
                          "--set %s=%s: malformed value (a number, \"string\", identifier, [list] or a..b)",
                          key, val);
        if (hit) {
            ov[i].used = 1;
        } else {
            char dym[300];
            kdr_diag_push(c->d, KDR_ERROR, NULL, 0, 0, "--set key '%s' matches nothing%s", key,
                          ck_dym_set_key(c, key, dym, sizeof dym));
        }
    }
}
