/* check.c — names, arities, literal types and phase order of a program.
 *
 * kdr_check() works in passes over every unit of the program:
 *
 *   1. collect the top-level names (let, data, net, model, pool, search,
 *      phase, sweep, the routes of `checkpoint ... as R`, and the names a
 *      search block assigns or bridges), reporting duplicates;
 *   2. apply the --set overrides (they replace AST values, allocated in the
 *      arena of the unit that holds the value);
 *   3. check each declaration: expressions resolve against net-local names,
 *      top-level names and the builtins (lang/builtins.c); calls of builtins
 *      and net templates are matched against their parameters; literal
 *      values are checked against the argument kinds and ranges; settings
 *      must be in the right kind of block;
 *   4. order the phases by their dependencies (routes, models trained
 *      elsewhere, searches run elsewhere, explicit `after`), keeping source
 *      order between independent phases, and report a cycle.
 *
 * Nothing here knows about tensors: a "tensor" is anything an op returns.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "kdr.h"
#include "builtins.h"
#include "settings.h"

/* ---- kinds of values, as far as they are known without tensors -------- */
enum {
    V_ANY, V_NUM, V_BOOL, V_STR, V_LIST, V_TENSOR, V_MODEL, V_DATA, V_POOL,
    V_ROUTE, V_NET, V_SEARCH, V_PHASE, V_CALL
};

typedef struct ty {
    int k;
    unsigned ctx;              /* V_CALL: context of the builtin called */
    const kdr_node *decl;      /* V_MODEL/V_DATA/...: the declaration */
} ty;

enum { S_LET, S_DATA, S_NET, S_MODEL, S_POOL, S_SEARCH, S_PHASE, S_SWEEP,
       S_ROUTE, S_SVAR };

static const char *const sym_kind_name[] = {
    "constant", "data set", "net template", "model", "pool", "search",
    "phase", "sweep", "checkpoint route", "search tensor"
};

typedef struct sym {
    const char *name;
    int k;
    const kdr_node *node;      /* the declaration (route: the checkpoint setting) */
    const kdr_node *at;        /* where the name is written */
    const kdr_unit *u;
    const kdr_node *owner;     /* route: its phase; svar: its search */
} sym;

/* a name local to a net or search body */
typedef struct local {
    const char *name;
    const kdr_node *at;        /* first assignment / parameter */
    int defined;               /* assigned at the current point of the walk */
    int param;
} local;

/* what a phase needs, for ordering */
typedef struct pinfo {
    const kdr_node *node;
    const kdr_unit *u;
    const char **trains; size_t ntrains, ctrains;
    const char **uses; size_t nuses, cuses;
    const kdr_node **usenode; /* parallel to uses: where */
    const char **routes; size_t nroutes, croutes;   /* routes it reads */
    const kdr_node **routenode;
    const char **searches; size_t nsearches, csearches; /* searches it runs */
    const kdr_node **searchnode;
    const char *derive; const kdr_node *derivenode;
} pinfo;

typedef struct chk {
    kdr_program *p;
    kdr_diag *d;
    const kdr_unit *u;         /* unit of the node being checked */
    sym *syms; size_t nsyms, csyms;
    local *vars; size_t nvars, cvars;           /* net/search body names */
    const char **scoped; size_t nscoped, cscoped; /* loop, sum, repeat variables */
    int in_net;
    const char *where;         /* "a loss", "a net body", ... for messages */
    pinfo *ph; size_t nph, cph;
    pinfo *cur;                /* phase being checked (collects uses) */
    int let_depth;
    /* values put in by --set, to say so in messages */
    struct { const kdr_node *n; const char *key, *value; } *setv;
    size_t nsetv, csetv;
    const char *set_key;
    int bad_value;
} chk;

/* ---- small helpers ------------------------------------------------------ */

static void *grow_arr(void *p, size_t *cap, size_t n, size_t sz)
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

#define PUSH(arr, n, cap, v) do { \
        void *q_ = grow_arr((arr), &(cap), (n), sizeof *(arr)); \
        if (q_) { (arr) = q_; (arr)[(n)++] = (v); } } while (0)

static void err(chk *c, const kdr_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void err(chk *c, const kdr_node *n, const char *fmt, ...)
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

static void note(chk *c, const kdr_unit *u, const kdr_node *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void note(chk *c, const kdr_unit *u, const kdr_node *n, const char *fmt, ...)
{
    char buf[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    kdr_diag_push(c->d, KDR_NOTE, u, n ? n->beg : 0, n ? n->end : 0, "%s", buf);
}

static const char *article(const char *noun)
{
    return noun && strchr("aeiou", noun[0]) ? "an" : "a";
}

/* where a declaration's name is written */
static const kdr_node *name_at(const kdr_node *n)
{
    return n->c && n->c->kind == KDR_IDENT ? n->c : n;
}

static int streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* optimal string alignment distance, case-insensitive, capped */
static int edit_distance(const char *a, const char *b)
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

/* best suggestion so far */
typedef struct sugg { const char *name; int dist; } sugg;

static void consider(sugg *s, const char *want, const char *cand)
{
    if (!cand || strcmp(want, cand) == 0)
        return;
    int dd = edit_distance(want, cand);
    int len = (int)strlen(want);
    if (dd > 2 || dd >= len)
        return;
    if (!s->name || dd < s->dist) {
        s->name = cand;
        s->dist = dd;
    }
}

/* "; did you mean 'x'?" or "" */
static const char *dym(const sugg *s, char *buf, size_t n)
{
    if (!s->name)
        return "";
    snprintf(buf, n, "; did you mean '%.64s'?", s->name);
    return buf;
}

static const sym *find_sym(const chk *c, const char *name)
{
    for (size_t i = 0; i < c->nsyms; i++)
        if (streq(c->syms[i].name, name))
            return &c->syms[i];
    return NULL;
}

static const sym *find_sym_kind(const chk *c, const char *name, int k)
{
    for (size_t i = 0; i < c->nsyms; i++)
        if (c->syms[i].k == k && streq(c->syms[i].name, name))
            return &c->syms[i];
    return NULL;
}

static const kdr_unit *unit_of_sym(const sym *s) { return s->u; }

static local *find_var(chk *c, const char *name)
{
    for (size_t i = 0; i < c->nvars; i++)
        if (streq(c->vars[i].name, name))
            return &c->vars[i];
    return NULL;
}

static int is_scoped(const chk *c, const char *name)
{
    for (size_t i = c->nscoped; i-- > 0;)
        if (streq(c->scoped[i], name))
            return 1;
    return 0;
}

/* suggestions from everything in scope */
static void suggest_all(const chk *c, sugg *s, const char *want, unsigned ctx)
{
    for (size_t i = c->nscoped; i-- > 0;)
        consider(s, want, c->scoped[i]);
    for (size_t i = 0; i < c->nvars; i++)
        consider(s, want, c->vars[i].name);
    for (size_t i = 0; i < c->nsyms; i++)
        consider(s, want, c->syms[i].name);
    size_t nb;
    const kdr_builtin *b = kdr_builtins(&nb);
    for (size_t i = 0; i < nb; i++)
        if (b[i].ctx & (ctx | KDR_CTX_VALUE | KDR_CTX_MATH))
            consider(s, want, b[i].name);
}

/* ---- constants ----------------------------------------------------------- */

/* 1 and *out when n is a constant number (literals, lets, arithmetic). */
static int cval(const chk *c, const kdr_node *n, double *out, int depth)
{
    double x, y;
    if (!n || depth > 32)
        return 0;
    switch (n->kind) {
    case KDR_NUM:
    case KDR_BOOL:
        *out = n->num;
        return 1;
    case KDR_UNARY:
        if (n->op == '-' && cval(c, n->a, &x, depth + 1)) { *out = -x; return 1; }
        return 0;
    case KDR_BINARY:
        if (!cval(c, n->a, &x, depth + 1) || !cval(c, n->b, &y, depth + 1))
            return 0;
        switch (n->op) {
        case '+': *out = x + y; return 1;
        case '-': *out = x - y; return 1;
        case '*': *out = x * y; return 1;
        case '/': if (y == 0) return 0; *out = x / y; return 1;
        case '%': if (y == 0) return 0; *out = fmod(x, y); return 1;
        case '^': *out = pow(x, y); return isfinite(*out);
        default: return 0;
        }
    case KDR_IDENT: {
        if (is_scoped(c, n->name))
            return 0;
        const sym *s = find_sym(c, n->name);
        if (s && s->k == S_LET)
            return cval(c, s->node->a, out, depth + 1);
        return 0;
    }
    default:
        return 0;
    }
}

static void fmt_num(char *buf, size_t n, double v)
{
    snprintf(buf, n, "%.10g", v);
}

/* ---- expressions ------------------------------------------------------- */

static ty T(int k) { ty t = { k, 0, NULL }; return t; }

static ty ex(chk *c, const kdr_node *n, unsigned ctx);
static void stmts(chk *c, const kdr_node *first, unsigned ctx, int net_level);

static const char *kind_desc(ty t, char *buf, size_t n)
{
    const char *nm = t.decl && t.decl->name ? t.decl->name : NULL;
    switch (t.k) {
    case V_NUM: return "a number";
    case V_BOOL: return "true/false";
    case V_STR: return "a string";
    case V_LIST: return "a list";
    case V_TENSOR: return "a tensor";
    case V_MODEL: if (nm) { snprintf(buf, n, "model '%s'", nm); return buf; } return "a model";
    case V_DATA: if (nm) { snprintf(buf, n, "data set '%s'", nm); return buf; } return "a data set";
    case V_POOL: if (nm) { snprintf(buf, n, "pool '%s'", nm); return buf; } return "a pool";
    case V_ROUTE: return "a checkpoint route";
    case V_NET: if (nm) { snprintf(buf, n, "net template '%s'", nm); return buf; } return "a net template";
    case V_SEARCH: if (nm) { snprintf(buf, n, "search '%s'", nm); return buf; } return "a search";
    case V_PHASE: if (nm) { snprintf(buf, n, "phase '%s'", nm); return buf; } return "a phase";
    case V_CALL: snprintf(buf, n, "a %s", kdr_ctx_name(t.ctx)); return buf;
    default: return "a value";
    }
}

static void add_name(const char ***arr, size_t *n, size_t *cap, const kdr_node ***nodes,
                     const char *name, const kdr_node *at)
{
    for (size_t i = 0; i < *n; i++)
        if (streq((*arr)[i], name))
            return;
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        const char **a = realloc(*arr, nc * sizeof *a);
        if (!a)
            return;
        *arr = a;
        if (nodes) {
            const kdr_node **b = realloc(*nodes, nc * sizeof *b);
            if (!b)
                return;
            *nodes = b;
        }
        *cap = nc;
    }
    if (nodes)
        (*nodes)[*n] = at;
    (*arr)[(*n)++] = name;
}

static void record_use(chk *c, const sym *s, const kdr_node *at)
{
    if (!c->cur || !s)
        return;
    if (s->k == S_MODEL)
        add_name(&c->cur->uses, &c->cur->nuses, &c->cur->cuses, &c->cur->usenode, s->name, at);
    else if (s->k == S_SVAR && s->owner)
        add_name(&c->cur->searches, &c->cur->nsearches, &c->cur->csearches,
                 &c->cur->searchnode, s->owner->name, at);
    else if (s->k == S_POOL && s->node->a && s->node->a->kind == KDR_CALL) {
        /* a pool of checkpoints reads its route */
        const kdr_node *call = s->node->a;
        if (call->kids && !call->kids->name && call->kids->a && call->kids->a->kind == KDR_IDENT)
            add_name(&c->cur->routes, &c->cur->nroutes, &c->cur->croutes, &c->cur->routenode,
                     call->kids->a->name, at);
    } else if (s->k == S_POOL && s->node->a && s->node->a->kind == KDR_LIST) {
        for (const kdr_node *m = s->node->a->kids; m; m = m->next)
            if (m->kind == KDR_IDENT && find_sym_kind(c, m->name, S_MODEL))
                add_name(&c->cur->uses, &c->cur->nuses, &c->cur->cuses, &c->cur->usenode, m->name, at);
    }
}

static ty sym_type(chk *c, const sym *s, const kdr_node *at)
{
    ty t = T(V_ANY);
    t.decl = s->node;
    record_use(c, s, at);
    switch (s->k) {
    case S_LET: {
        const kdr_node *v = s->node->a;
        if (!v) return T(V_ANY);
        switch (v->kind) {
        case KDR_NUM: return T(V_NUM);
        case KDR_STR: return T(V_STR);
        case KDR_BOOL: return T(V_BOOL);
        case KDR_LIST: return T(V_LIST);
        case KDR_BINARY: return T(v->op == KDR_OP_RANGE ? V_LIST : V_ANY);
        case KDR_IDENT:
            if (c->let_depth < 16) {
                const sym *s2 = find_sym(c, v->name);
                if (s2 && s2 != s) {
                    c->let_depth++;
                    ty r = sym_type(c, s2, at);
                    c->let_depth--;
                    return r;
                }
            }
            return T(V_ANY);
        case KDR_CALL:
            if (v->a && v->a->kind == KDR_IDENT) {
                const kdr_builtin *b = kdr_builtin_find(v->a->name, ~0u);
                if (b && !find_sym(c, v->a->name)) {
                    ty r = T(V_CALL);
                    r.ctx = b->ctx;
                    return r;
                }
            }
            return T(V_ANY);
        default: return T(V_ANY);
        }
    }
    case S_SWEEP: {
        const kdr_node *v = s->node->a;
        if (v && v->kind == KDR_BINARY && v->op == KDR_OP_RANGE) return T(V_NUM);
        if (v && v->kind == KDR_LIST && v->kids) {
            switch (v->kids->kind) {
            case KDR_NUM: return T(V_NUM);
            case KDR_STR: return T(V_STR);
            default: return T(V_ANY);
            }
        }
        return T(V_ANY);
    }
    case S_DATA: t.k = V_DATA; return t;
    case S_NET: t.k = V_NET; return t;
    case S_MODEL: t.k = V_MODEL; return t;
    case S_POOL: t.k = V_POOL; return t;
    case S_SEARCH: t.k = V_SEARCH; return t;
    case S_PHASE: t.k = V_PHASE; return t;
    case S_ROUTE: t.k = V_ROUTE; return t;
    case S_SVAR: return T(V_ANY);
    }
    return t;
}

static ty resolve(chk *c, const kdr_node *n, unsigned ctx)
{
    const char *name = n->name;
    if (!name)
        return T(V_ANY);
    if (is_scoped(c, name))
        return T(V_NUM);
    local *v = find_var(c, name);
    if (v && v->defined)
        return T(V_ANY);
    const sym *s = find_sym(c, name);
    if (s)
        return sym_type(c, s, n);
    if (v) {
        err(c, n, "'%s' is used before it is assigned", name);
        note(c, c->u, v->at, "'%s' is assigned here", name);
        return T(V_ANY);
    }
    const kdr_builtin *b = kdr_builtin_find(name, KDR_CTX_VALUE);
    if (b)
        return T(V_TENSOR);
    b = kdr_builtin_find(name, ctx);
    if (b && (b->flags & KDR_B_BARE)) {
        ty r = T(V_CALL);
        r.ctx = b->ctx;
        return r;
    }
    b = kdr_builtin_find(name, ~0u & ~KDR_CTX_FOLLOWS);
    if (b) {
        if (b->flags & KDR_B_BARE)
            err(c, n, "'%s' is %s %s; it is not valid in %s", name, article(kdr_ctx_name(b->ctx)),
                kdr_ctx_name(b->ctx), c->where);
        else
            err(c, n, "'%s' is a builtin %s; call it with arguments: %s(...)", name,
                kdr_ctx_name(b->ctx), name);
        return T(V_ANY);
    }
    sugg sg = { 0 };
    char buf[128];
    suggest_all(c, &sg, name, ctx);
    err(c, n, "undefined name '%s'%s", name, dym(&sg, buf, sizeof buf));
    return T(V_ANY);
}

/* Every name assigned in a net template, and in the templates it calls. */
static int net_has_name(chk *c, const kdr_node *net, const char *name, int depth);

static int tree_has_name(chk *c, const kdr_node *n, const char *name, int depth)
{
    for (; n; n = n->next) {
        if (n->kind == KDR_ASSIGN && n->a) {
            const kdr_node *t = n->a->kind == KDR_INDEX ? n->a->a : n->a;
            if (t && streq(t->name, name))
                return 1;
        }
        if (n->kind == KDR_CALL && n->a && n->a->kind == KDR_IDENT) {
            const sym *s = find_sym_kind(c, n->a->name, S_NET);
            if (s && depth < 16 && net_has_name(c, s->node, name, depth + 1))
                return 1;
        }
        if (tree_has_name(c, n->a, name, depth) || tree_has_name(c, n->b, name, depth)
            || tree_has_name(c, n->c, name, depth) || tree_has_name(c, n->kids, name, depth))
            return 1;
    }
    return 0;
}

static int net_has_name(chk *c, const kdr_node *net, const char *name, int depth)
{
    return tree_has_name(c, net->kids, name, depth);
}

/* names assigned directly in a net (for suggestions) */
static void suggest_net_names(chk *c, const kdr_node *n, sugg *s, const char *want, int depth)
{
    for (; n && depth < 64; n = n->next) {
        if (n->kind == KDR_ASSIGN && n->a) {
            const kdr_node *t = n->a->kind == KDR_INDEX ? n->a->a : n->a;
            if (t)
                consider(s, want, t->name);
        }
        suggest_net_names(c, n->kids, s, want, depth + 1);
        suggest_net_names(c, n->b, s, want, depth + 1);
        if (n->kind != KDR_ASSIGN)
            suggest_net_names(c, n->a, s, want, depth + 1);
        else if (n->b)
            suggest_net_names(c, n->b->kind == KDR_REPEAT ? n->b : NULL, s, want, depth + 1);
    }
}

static const kdr_node *model_template(const chk *c, const kdr_node *model)
{
    if (!model || model->kind != KDR_MODEL || !model->a || model->a->kind != KDR_CALL
        || !model->a->a || model->a->a->kind != KDR_IDENT)
        return NULL;
    const sym *s = find_sym_kind(c, model->a->a->name, S_NET);
    return s ? s->node : NULL;
}

static void check_member_of_model(chk *c, const kdr_node *n, const kdr_node *model)
{
    const kdr_node *net = model_template(c, model);
    if (!net || !n->name || streq(n->name, "out") || streq(n->name, "in"))
        return;
    if (net_has_name(c, net, n->name, 0))
        return;
    sugg sg = { 0 };
    char buf[128];
    suggest_net_names(c, net->kids, &sg, n->name, 0);
    err(c, n, "model '%s' (net %s) has no tensor named '%s'%s", model->name, net->name,
        n->name, dym(&sg, buf, sizeof buf));
}

/* a split statement of a data block (train/test/val "path"), and its name */
static int is_split(const kdr_node *s)
{
    return s->kind == KDR_SETTING && (s->setting == KDR_S_SPLIT_TRAIN || s->setting == KDR_S_SPLIT_TEST
                                      || s->setting == KDR_S_SPLIT_VAL);
}

static const char *split_name(const kdr_node *s)
{
    const kdr_setting_info *i = kdr_setting_info_of(s->setting);
    return i ? i->name : "?";
}

static void check_member_of_data(chk *c, const kdr_node *n, const kdr_node *data)
{
    int any = 0;
    sugg sg = { 0 };
    for (const kdr_node *s = data->kids; s; s = s->next) {
        if (s->kind != KDR_SETTING)
            continue;
        if (is_split(s)) {
            any = 1;
            if (streq(split_name(s), n->name) || (s->name && streq(s->name, n->name)))
                return;
            consider(&sg, n->name, split_name(s));
            if (s->name)
                consider(&sg, n->name, s->name);
        }
    }
    if (!any)
        return;                      /* the loader's own splits: unknown here */
    char buf[128];
    err(c, n, "data set '%s' has no split '%s'%s", data->name, n->name, dym(&sg, buf, sizeof buf));
}

static void check_arg_value(chk *c, const kdr_builtin *b, const kdr_argspec *sp,
                            const kdr_node *e, unsigned ctx);
static ty call(chk *c, const kdr_node *n, unsigned ctx, int omit_input);

static int is_arith(int op)
{
    return op == '+' || op == '-' || op == '*' || op == '/' || op == '%' || op == '^';
}

static int bad_operand(int k)
{
    return k == V_MODEL || k == V_DATA || k == V_POOL || k == V_ROUTE || k == V_NET
        || k == V_SEARCH || k == V_PHASE;
}

static ty ex(chk *c, const kdr_node *n, unsigned ctx)
{
    char b1[128], b2[128];
    if (!n)
        return T(V_ANY);
    switch (n->kind) {
    case KDR_NUM: return T(V_NUM);
    case KDR_STR: return T(V_STR);
    case KDR_BOOL: return T(V_BOOL);
    case KDR_IDENT: return resolve(c, n, ctx);
    case KDR_INPUT:
        if (!c->in_net)
            err(c, n, "'in' is only valid inside a net, where it is the net's input");
        return T(V_TENSOR);
    case KDR_STAR:
        err(c, n, "'*' is only valid as an index");
        return T(V_ANY);
    case KDR_LIST:
        for (const kdr_node *k = n->kids; k; k = k->next)
            ex(c, k, ctx);
        return T(V_LIST);
    case KDR_UNARY: {
        ty a = ex(c, n->a, ctx);
        if (n->op == KDR_OP_NOT)
            return T(V_BOOL);
        if (a.k == V_STR || a.k == V_BOOL || a.k == V_LIST || bad_operand(a.k)) {
            err(c, n, "cannot negate %s", kind_desc(a, b1, sizeof b1));
            return T(V_ANY);
        }
        return a.k == V_CALL ? T(V_ANY) : a;
    }
    case KDR_BINARY: {
        if (n->op == '@') {
            const kdr_node *m = n->a;
            const kdr_builtin *b = m && m->kind == KDR_IDENT ? kdr_builtin_find(m->name, KDR_CTX_METRIC) : NULL;
            if (!(ctx & KDR_CTX_METRIC)) {
                err(c, n, "'@' (a metric at k, like hr@10) is only valid in the metrics of 'evaluate'");
                return T(V_ANY);
            }
            if (!b) {
                if (m && m->kind == KDR_IDENT) {
                    sugg sg = { 0 };
                    size_t nb;
                    const kdr_builtin *all = kdr_builtins(&nb);
                    for (size_t i = 0; i < nb; i++)
                        if (all[i].flags & KDR_B_AT_K)
                            consider(&sg, m->name, all[i].name);
                    err(c, m, "unknown metric '%s'%s", m->name, dym(&sg, b1, sizeof b1));
                } else
                    err(c, n, "expected a metric name before '@'");
                return T(V_CALL);
            }
            if (!(b->flags & KDR_B_AT_K)) {
                err(c, n, "metric '%s' takes no @k", b->name);
                return T(V_CALL);
            }
            double k;
            if (!cval(c, n->b, &k, 0))
                err(c, n->b, "the k of '%s@k' must be a constant", b->name);
            else if (k < 1 || k != floor(k)) {
                fmt_num(b2, sizeof b2, k);
                err(c, n->b, "the k of '%s@k' must be a positive integer, got %s", b->name, b2);
            }
            ty r = T(V_CALL);
            r.ctx = KDR_CTX_METRIC;
            return r;
        }
        ty a = ex(c, n->a, ctx), b = ex(c, n->b, ctx);
        if (n->op == KDR_OP_RANGE) {
            if (a.k != V_NUM && a.k != V_ANY)
                err(c, n->a, "a range needs numbers, got %s", kind_desc(a, b1, sizeof b1));
            else if (b.k != V_NUM && b.k != V_ANY)
                err(c, n->b, "a range needs numbers, got %s", kind_desc(b, b1, sizeof b1));
            return T(V_LIST);
        }
        if (n->op == KDR_OP_AND || n->op == KDR_OP_OR)
            return T(V_BOOL);
        if (n->op == KDR_OP_EQ || n->op == KDR_OP_NE)
            return T(V_BOOL);
        /* arithmetic and ordering */
        const kdr_node *badn = NULL;
        ty bad = a;
        if (a.k == V_STR || a.k == V_LIST || a.k == V_BOOL || bad_operand(a.k)) badn = n->a;
        else if (b.k == V_STR || b.k == V_LIST || b.k == V_BOOL || bad_operand(b.k)) { badn = n->b; bad = b; }
        if (badn) {
            const char *what = is_arith(n->op) ? "arithmetic" : "a comparison";
            if (bad.k == V_MODEL)
                err(c, badn, "cannot use %s in %s; use one of its tensors, such as %s.logits",
                    kind_desc(bad, b1, sizeof b1), what, bad.decl && bad.decl->name ? bad.decl->name : "model");
            else
                err(c, badn, "cannot use %s in %s", kind_desc(bad, b1, sizeof b1), what);
            return T(V_ANY);
        }
        if (!is_arith(n->op))
            return T(V_BOOL);
        if (a.k == V_TENSOR || b.k == V_TENSOR)
            return T(V_TENSOR);
        if (a.k == V_NUM && b.k == V_NUM)
            return T(V_NUM);
        (void)b2;
        return T(V_ANY);
    }
    case KDR_TERNARY: {
        ex(c, n->a, ctx);
        ty b = ex(c, n->b, ctx), d = ex(c, n->c, ctx);
        return b.k == d.k ? b : T(V_ANY);
    }
    case KDR_CALL:
        return call(c, n, ctx, 0);
    case KDR_INDEX: {
        ty a = ex(c, n->a, ctx);
        for (const kdr_node *k = n->kids; k; k = k->next) {
            if (k->kind == KDR_STAR)
                continue;
            ty i = ex(c, k, ctx);
            if (i.k == V_STR || i.k == V_BOOL || i.k == V_LIST || bad_operand(i.k) || i.k == V_TENSOR)
                err(c, k, "an index must be a number, got %s", kind_desc(i, b1, sizeof b1));
        }
        if (a.k == V_MODEL || a.k == V_NET || a.k == V_DATA || a.k == V_NUM || a.k == V_STR
            || a.k == V_BOOL) {
            err(c, n->a, "cannot index %s", kind_desc(a, b1, sizeof b1));
            return T(V_ANY);
        }
        return a.k == V_TENSOR ? a : T(V_ANY);
    }
    case KDR_MEMBER: {
        ty a = ex(c, n->a, ctx);
        if (a.k == V_MODEL) {
            if (a.decl)
                check_member_of_model(c, n, a.decl);
            return T(V_TENSOR);
        }
        if (a.k == V_DATA) {
            if (a.decl)
                check_member_of_data(c, n, a.decl);
            ty r = T(V_DATA);
            r.decl = a.decl;
            return r;
        }
        if (a.k == V_NUM || a.k == V_STR || a.k == V_BOOL || a.k == V_LIST || a.k == V_NET
            || a.k == V_PHASE || a.k == V_ROUTE || a.k == V_CALL) {
            err(c, n, "%s has no member '%s'", kind_desc(a, b1, sizeof b1), n->name ? n->name : "?");
            return T(V_ANY);
        }
        return a.k == V_TENSOR ? T(V_TENSOR) : T(V_ANY);
    }
    case KDR_REPEAT: {
        ty cnt = ex(c, n->a, ctx);
        if (cnt.k != V_NUM && cnt.k != V_ANY)
            err(c, n->a, "the count of 'repeat' must be a number, got %s", kind_desc(cnt, b1, sizeof b1));
        double v;
        if (cval(c, n->a, &v, 0) && (v < 0 || v != floor(v))) {
            fmt_num(b2, sizeof b2, v);
            err(c, n->a, "the count of 'repeat' must be a non-negative integer, got %s", b2);
        }
        if (n->b)
            ex(c, n->b, ctx);
        if (!c->in_net)
            err(c, n, "'repeat' is only valid inside a net");
        PUSH(c->scoped, c->nscoped, c->cscoped, n->name);
        size_t keep = c->nscoped;
        stmts(c, n->kids, ctx, 2);
        c->nscoped = keep - 1;
        return T(V_TENSOR);
    }
    case KDR_SUM: {
        ty r = ex(c, n->a, ctx);
        if (r.k != V_LIST && r.k != V_ANY)
            err(c, n->a, "'sum' iterates over a list or a range, got %s", kind_desc(r, b1, sizeof b1));
        PUSH(c->scoped, c->nscoped, c->cscoped, n->name);
        size_t keep = c->nscoped;
        ty b = ex(c, n->b, ctx);
        c->nscoped = keep - 1;
        return b.k == V_NUM ? b : T(b.k == V_TENSOR ? V_TENSOR : V_ANY);
    }
    case KDR_ARG:
        return ex(c, n->a, ctx);
    default:
        err(c, n, "unexpected construct in an expression");
        return T(V_ANY);
    }
}

/* ---- calls --------------------------------------------------------------- */

/* a call of a net template: params bind positionally (after the input inside
 * a net) and by name */
static ty tcall(chk *c, const kdr_node *n, const kdr_node *net, unsigned ctx, int omit_input)
{
    char buf[128];
    size_t np = 0;
    for (const kdr_node *p = net->params; p; p = p->next) np++;
    const kdr_node *bound[64] = { 0 };
    if (np > 64) np = 64;
    int want_input = c->in_net && !omit_input;
    int got_input = 0;
    size_t pi = 0;
    for (const kdr_node *a = n->kids; a; a = a->next) {
        if (a->b) {
            err(c, a, "'point = value' arguments are only valid in '.with(...)'");
            ex(c, a->b, ctx);
            ex(c, a->a, ctx);
            continue;
        }
        if (a->name) {
            size_t i = 0;
            const kdr_node *p = net->params;
            for (; p && i < np; p = p->next, i++)
                if (streq(p->name, a->name))
                    break;
            if (!p || i >= np) {
                sugg sg = { 0 };
                for (const kdr_node *q = net->params; q; q = q->next)
                    consider(&sg, a->name, q->name);
                err(c, a, "net '%s' has no parameter '%s'%s", net->name, a->name, dym(&sg, buf, sizeof buf));
            } else if (bound[i]) {
                err(c, a, "argument '%s' of net '%s' is given twice", a->name, net->name);
            } else
                bound[i] = a;
            ex(c, a->a, ctx);
            continue;
        }
        if (want_input && !got_input) {
            got_input = 1;
            ty t = ex(c, a->a, ctx);
            if (t.k == V_NUM || t.k == V_STR || t.k == V_BOOL || bad_operand(t.k))
                err(c, a, "the first argument of net '%s' inside a net is its input tensor, got %s",
                    net->name, kind_desc(t, buf, sizeof buf));
            continue;
        }
        while (pi < np && bound[pi]) pi++;
        if (pi >= np) {
            err(c, a, "too many arguments to net '%s' (it has %zu parameter%s%s)", net->name, np,
                np == 1 ? "" : "s", want_input ? " after its input" : "");
            ex(c, a->a, ctx);
            continue;
        }
        bound[pi++] = a;
        ex(c, a->a, ctx);
    }
    if (want_input && !got_input)
        err(c, n, "net '%s' is called inside a net: its input tensor must be the first argument", net->name);
    size_t i = 0;
    for (const kdr_node *p = net->params; p && i < np; p = p->next, i++)
        if (!p->a && !bound[i])
            err(c, n, "missing argument '%s' of net '%s'", p->name, net->name);
    ty r = T(c->in_net ? V_TENSOR : V_MODEL);
    return r;
}

/* check one argument against its spec */
static void check_arg_value(chk *c, const kdr_builtin *b, const kdr_argspec *sp,
                            const kdr_node *e, unsigned ctx)
{
    char b1[128], b2[160];
    if (!e)
        return;
    switch (sp->kind) {
    case KDR_A_SYM: {
        const char *word = NULL;
        if (e->kind == KDR_IDENT) {
            if (kdr_sym_in(sp->syms, e->name))
                return;
            if (is_scoped(c, e->name) || find_var(c, e->name) || find_sym_kind(c, e->name, S_LET)
                || find_sym_kind(c, e->name, S_SWEEP)) {
                ex(c, e, ctx);
                return;
            }
            word = e->name;
        } else if (e->kind == KDR_STR) {
            if (kdr_sym_in(sp->syms, e->str))
                return;
            word = e->str;
        } else {
            ty t = ex(c, e, ctx);
            if (t.k != V_ANY && t.k != V_STR)
                err(c, e, "'%s' of '%s' must be one of %s, got %s", sp->name, b->name, sp->syms,
                    kind_desc(t, b1, sizeof b1));
            return;
        }
        sugg sg = { 0 };
        const char *p = sp->syms;
        char w[64];
        while (p && *p) {
            const char *q = strchr(p, '|');
            size_t len = q ? (size_t)(q - p) : strlen(p);
            if (len < sizeof w) {
                memcpy(w, p, len);
                w[len] = 0;
                if (edit_distance(word, w) <= 2 && (int)edit_distance(word, w) < (int)strlen(word)
                    && (!sg.name || edit_distance(word, w) < sg.dist)) {
                    /* keep a pointer into the static spec string: copy into b2 */
                    snprintf(b2, sizeof b2, "%s", w);
                    sg.name = b2;
                    sg.dist = edit_distance(word, w);
                }
            }
            p = q ? q + 1 : NULL;
        }
        char syms[128];
        snprintf(syms, sizeof syms, "%s", sp->syms ? sp->syms : "");
        char list[200];
        size_t o = 0;
        for (char *q = syms; *q && o + 3 < sizeof list; q++) {
            if (*q == '|') { list[o++] = ','; list[o++] = ' '; }
            else list[o++] = *q;
        }
        list[o] = 0;
        err(c, e, "'%s' is not a valid value of '%s' in '%s' (one of: %s)%s", word, sp->name, b->name, list,
            dym(&sg, b1, sizeof b1));
        return;
    }
    case KDR_A_ROUTE: {
        if (e->kind == KDR_IDENT) {
            if (find_sym_kind(c, e->name, S_ROUTE))
                return;
            const sym *s = find_sym(c, e->name);
            if (s) {
                err(c, e, "'%s' is a %s, not a checkpoint route (declare one with 'checkpoint every N as ROUTE')",
                    e->name, sym_kind_name[s->k]);
                return;
            }
            sugg sg = { 0 };
            for (size_t i = 0; i < c->nsyms; i++)
                if (c->syms[i].k == S_ROUTE)
                    consider(&sg, e->name, c->syms[i].name);
            err(c, e, "undefined checkpoint route '%s'%s", e->name, dym(&sg, b1, sizeof b1));
            return;
        }
        ty t = ex(c, e, ctx);
        err(c, e, "'%s' of '%s' must be a checkpoint route, got %s", sp->name, b->name,
            kind_desc(t, b1, sizeof b1));
        return;
    }
    case KDR_A_CALL: {
        ty t;
        if (e->kind == KDR_CALL)
            t = call(c, e, sp->ctx, 0);
        else
            t = ex(c, e, sp->ctx);
        if (t.k == V_ANY || (t.k == V_CALL && (t.ctx & sp->ctx)))
            return;
        if (t.k == V_CALL || e->kind == KDR_CALL)
            return;   /* a wrong builtin was already reported by call() */
        err(c, e, "'%s' of '%s' must be a %s call, got %s", sp->name, b->name, kdr_ctx_name(sp->ctx),
            kind_desc(t, b1, sizeof b1));
        return;
    }
    default:
        break;
    }
    if (sp->kind == KDR_A_NUM || sp->kind == KDR_A_INT)
        ctx |= KDR_CTX_WEIGHT | KDR_CTX_MATH | KDR_CTX_SHAPE;
    ty t = ex(c, e, ctx);
    const char *want = NULL;
    int bad = 0;
    switch (sp->kind) {
    case KDR_A_NUM:
    case KDR_A_INT:
        want = sp->kind == KDR_A_INT ? "an integer" : "a number";
        bad = !(t.k == V_NUM || t.k == V_ANY || (t.k == V_CALL && (t.ctx & (KDR_CTX_SHAPE | KDR_CTX_MATH | KDR_CTX_WEIGHT))));
        break;
    case KDR_A_BOOL:
        want = "true or false";
        bad = !(t.k == V_BOOL || t.k == V_ANY);
        break;
    case KDR_A_STR:
        want = "a string";
        bad = !(t.k == V_STR || t.k == V_ANY);
        break;
    case KDR_A_TENSOR:
        want = "a tensor";
        bad = !(t.k == V_TENSOR || t.k == V_ANY || t.k == V_NUM
                || (t.k == V_CALL && !(t.ctx & (KDR_CTX_OPTIM | KDR_CTX_LR | KDR_CTX_LOADER | KDR_CTX_AUG
                                               | KDR_CTX_NOISE | KDR_CTX_POOL | KDR_CTX_METRIC))));
        break;
    case KDR_A_TENSORS:
        want = "tensors (a list, or x[i, *])";
        bad = !(t.k == V_TENSOR || t.k == V_ANY || t.k == V_LIST);
        break;
    case KDR_A_LIST:
        want = "a list";
        bad = !(t.k == V_LIST || t.k == V_ANY);
        break;
    case KDR_A_MODEL:
        want = "a model";
        bad = !(t.k == V_MODEL || t.k == V_ANY);
        break;
    case KDR_A_DATA:
        want = "a data set";
        bad = !(t.k == V_DATA || t.k == V_ANY);
        break;
    default:
        break;
    }
    if (bad) {
        if (t.k == V_MODEL && sp->kind == KDR_A_TENSOR)
            err(c, e, "'%s' of '%s' must be a tensor, got %s; use one of its tensors, such as %s.logits",
                sp->name, b->name, kind_desc(t, b1, sizeof b1), t.decl && t.decl->name ? t.decl->name : "model");
        else
            err(c, e, "'%s' of '%s' must be %s, got %s", sp->name, b->name, want, kind_desc(t, b1, sizeof b1));
        return;
    }
    if (sp->kind == KDR_A_NUM || sp->kind == KDR_A_INT) {
        double v;
        if (!cval(c, e, &v, 0))
            return;
        fmt_num(b2, sizeof b2, v);
        if (sp->kind == KDR_A_INT && v != floor(v)) {
            err(c, e, "'%s' of '%s' must be an integer, got %s", sp->name, b->name, b2);
            return;
        }
        int lo_bad = (sp->range & KDR_R_LO) && ((sp->range & KDR_R_LO_OPEN) ? !(v > sp->lo) : !(v >= sp->lo));
        int hi_bad = (sp->range & KDR_R_HI) && ((sp->range & KDR_R_HI_OPEN) ? !(v < sp->hi) : !(v <= sp->hi));
        if (lo_bad || hi_bad) {
            char lo[32], hi[32];
            fmt_num(lo, sizeof lo, sp->lo);
            fmt_num(hi, sizeof hi, sp->hi);
            if ((sp->range & KDR_R_HI) && (sp->range & KDR_R_LO))
                err(c, e, "'%s' of '%s' must be in %s%s, %s%s, got %s", sp->name, b->name, "[", lo, hi,
                    (sp->range & KDR_R_HI_OPEN) ? ")" : "]", b2);
            else
                err(c, e, "'%s' of '%s' must be %s %s, got %s", sp->name, b->name,
                    (sp->range & KDR_R_LO_OPEN) ? ">" : ">=", lo, b2);
        }
    }
}

/* where a builtin call may appear, described for "not valid in ..." */
static ty bcall(chk *c, const kdr_node *n, const kdr_builtin *b, unsigned ctx, int omit_input)
{
    char buf[128];
    size_t np = kdr_builtin_nargs(b);
    const kdr_node *bound[32] = { 0 };
    if (np > 32) np = 32;
    size_t pi = 0;
    int rest_used = 0;
    int is_choice = streq(b->name, "choice");
    if (omit_input && (b->flags & KDR_B_TENSOR_IN) && np > 0) {
        bound[0] = n;
        pi = 1;
    }
    for (const kdr_node *a = n->kids; a; a = a->next) {
        if (a->b) {
            err(c, a, "'point = value' arguments are only valid in '.with(...)'");
            continue;
        }
        if (a->name) {
            size_t i = 0;
            for (; i < np; i++)
                if (streq(b->args[i].name, a->name) && !b->args[i].rest)
                    break;
            if (i >= np) {
                sugg sg = { 0 };
                for (size_t j = 0; j < np; j++)
                    if (!(omit_input && j == 0 && (b->flags & KDR_B_TENSOR_IN)))
                        consider(&sg, a->name, b->args[j].name);
                err(c, a, "'%s' has no argument '%s'%s", b->name, a->name, dym(&sg, buf, sizeof buf));
                ex(c, a->a, ctx);
            } else if (bound[i]) {
                err(c, a, "argument '%s' of '%s' is given twice", a->name, b->name);
                ex(c, a->a, ctx);
            } else {
                bound[i] = a;
                check_arg_value(c, b, &b->args[i], a->a, ctx);
            }
            continue;
        }
        while (pi < np && bound[pi] && !b->args[pi].rest) pi++;
        if (pi >= np) {
            size_t maxpos = np - ((omit_input && (b->flags & KDR_B_TENSOR_IN)) ? 1 : 0);
            if (np == 0)
                err(c, a, "'%s' takes no arguments", b->name);
            else
                err(c, a, "too many arguments to '%s' (it takes at most %zu)", b->name, maxpos);
            ex(c, a->a, ctx);
            continue;
        }
        const kdr_argspec *sp = &b->args[pi];
        if (sp->rest) {
            rest_used = 1;
            bound[pi] = a;
            if (is_choice) {
                const kdr_node *e = a->a;
                if (e && e->kind == KDR_CALL)
                    call(c, e, KDR_CTX_NET, 1);
                else if (e && e->kind == KDR_IDENT && kdr_builtin_find(e->name, KDR_CTX_NET)
                         && !find_sym(c, e->name) && !find_var(c, e->name)) {
                    const kdr_builtin *cb = kdr_builtin_find(e->name, KDR_CTX_NET);
                    if (!(cb->flags & KDR_B_BARE))
                        err(c, e, "candidate '%s' needs its arguments: %s(...)", e->name, e->name);
                } else
                    ex(c, e, KDR_CTX_NET | KDR_CTX_SHAPE | KDR_CTX_MATH);
            } else
                check_arg_value(c, b, sp, a->a, ctx);
            continue;
        }
        bound[pi++] = a;
        check_arg_value(c, b, sp, a->a, ctx);
    }
    for (size_t i = 0; i < np; i++) {
        const kdr_argspec *sp = &b->args[i];
        if (!sp->req || bound[i] || (sp->rest && rest_used))
            continue;
        err(c, n, "missing argument '%s' of '%s'", sp->name, b->name);
    }
    ty r = T(V_CALL);
    r.ctx = b->ctx;
    if (b->ctx & (KDR_CTX_NET | KDR_CTX_LOSS | KDR_CTX_SEARCH))
        return T(V_TENSOR);
    if (b->ctx & (KDR_CTX_SHAPE | KDR_CTX_MATH))
        return T(V_NUM);
    return r;
}

static const char *ctx_list(unsigned ctx, char *buf, size_t n)
{
    /* the first listed context: what is expected here */
    static const unsigned order[] = { KDR_CTX_LOSS, KDR_CTX_NET, KDR_CTX_OPTIM, KDR_CTX_LR,
                                      KDR_CTX_LOADER, KDR_CTX_AUG, KDR_CTX_METRIC, KDR_CTX_POOL,
                                      KDR_CTX_NOISE, KDR_CTX_WEIGHT, KDR_CTX_SEARCH };
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (ctx & order[i]) {
            snprintf(buf, n, "%s", kdr_ctx_name(order[i]));
            return buf;
        }
    return "value";
}

static ty call(chk *c, const kdr_node *n, unsigned ctx, int omit_input)
{
    char b1[128], b2[128];
    const kdr_node *f = n->a;
    if (f && f->kind == KDR_IDENT && !is_scoped(c, f->name) && !find_var(c, f->name)) {
        const sym *s = find_sym(c, f->name);
        if (s && s->k == S_NET)
            return tcall(c, n, s->node, ctx, omit_input);
        if (s && s->k == S_MODEL) {
            record_use(c, s, f);
            int np = 0;
            for (const kdr_node *a = n->kids; a; a = a->next) {
                if (a->name || a->b) {
                    err(c, a, "a model applied to a tensor takes one positional argument");
                    continue;
                }
                np++;
                ex(c, a->a, ctx);
            }
            if (np != 1)
                err(c, n, "model '%s' applied to a tensor takes exactly one argument, got %d", f->name, np);
            return T(V_TENSOR);
        }
        if (s) {
            ty t = sym_type(c, s, f);
            if (s->k == S_LET || s->k == S_SWEEP || s->k == S_SVAR) {
                for (const kdr_node *a = n->kids; a; a = a->next)
                    ex(c, a->a, ctx);
                return T(V_ANY);
            }
            /* A phase, data set, pool or search is never callable, so a call
             * with its name means the builtin of that name (phase kd {...}
             * may use kd(...) in its loss). */
            const kdr_builtin *hb = kdr_builtin_find(f->name, ctx & ~KDR_CTX_VALUE);
            if (!hb)
                hb = kdr_builtin_find(f->name, KDR_CTX_MATH);
            if (hb)
                return bcall(c, n, hb, ctx, omit_input);
            err(c, f, "%s cannot be called", kind_desc(t, b1, sizeof b1));
            return T(V_ANY);
        }
        const kdr_builtin *b = kdr_builtin_find(f->name, ctx & ~KDR_CTX_VALUE);
        if (!b)
            b = kdr_builtin_find(f->name, KDR_CTX_MATH);
        if (b)
            return bcall(c, n, b, ctx, omit_input);
        b = kdr_builtin_find(f->name, ~0u & ~KDR_CTX_FOLLOWS);
        if (b) {
            if (b->flags & KDR_B_VALUE)
                err(c, f, "'%s' is a %s, not a function", f->name, kdr_ctx_name(b->ctx));
            else
                err(c, f, "'%s' is %s %s; it is not valid in %s", f->name, article(kdr_ctx_name(b->ctx)),
                    kdr_ctx_name(b->ctx), c->where);
            (void)ctx_list(ctx, b2, sizeof b2);
            for (const kdr_node *a = n->kids; a; a = a->next)
                ex(c, a->a, ctx);
            ty r = T(V_CALL);
            r.ctx = b->ctx;
            return r;
        }
        sugg sg = { 0 };
        suggest_all(c, &sg, f->name, ctx);
        err(c, f, "undefined function '%s'%s", f->name, dym(&sg, b1, sizeof b1));
        for (const kdr_node *a = n->kids; a; a = a->next)
            ex(c, a->a, ctx);
        return T(V_ANY);
    }
    if (f && f->kind == KDR_MEMBER && streq(f->name, "with")) {
        ty m = ex(c, f->a, ctx);
        if (m.k != V_MODEL && m.k != V_ANY)
            err(c, f->a, "'.with(...)' needs a model, got %s", kind_desc(m, b1, sizeof b1));
        const kdr_node *net = m.k == V_MODEL && m.decl ? model_template(c, m.decl) : NULL;
        for (const kdr_node *a = n->kids; a; a = a->next) {
            if (!a->b) {
                err(c, a, "'.with(...)' takes substitutions: point = tensor");
                ex(c, a->a, ctx);
                continue;
            }
            const kdr_node *pt = a->b->kind == KDR_INDEX ? a->b->a : a->b;
            if (!pt || pt->kind != KDR_IDENT)
                err(c, a->b, "the point of a substitution must be a tensor name of the model");
            else if (net && !net_has_name(c, net, pt->name, 0)) {
                sugg sg = { 0 };
                suggest_net_names(c, net->kids, &sg, pt->name, 0);
                err(c, pt, "model '%s' (net %s) has no tensor named '%s'%s", m.decl->name, net->name,
                    pt->name, dym(&sg, b1, sizeof b1));
            }
            if (a->b->kind == KDR_INDEX)
                for (const kdr_node *k = a->b->kids; k; k = k->next)
                    if (k->kind != KDR_STAR)
                        ex(c, k, ctx);
            ex(c, a->a, ctx);
        }
        return m;
    }
    ty t = ex(c, f, ctx);
    if (t.k == V_NUM || t.k == V_STR || t.k == V_BOOL || t.k == V_LIST || t.k == V_DATA
        || t.k == V_PHASE || t.k == V_ROUTE || t.k == V_POOL)
        err(c, f, "%s cannot be called", kind_desc(t, b1, sizeof b1));
    for (const kdr_node *a = n->kids; a; a = a->next) {
        if (a->b)
            err(c, a, "'point = value' arguments are only valid in '.with(...)'");
        ex(c, a->a, ctx);
    }
    return T(V_TENSOR);
}

/* ---- net and search bodies ---------------------------------------------- */

/* collect every name assigned anywhere in a body (flat net scope) */
static void collect_vars(chk *c, const kdr_node *n, int depth)
{
    for (; n && depth < 300; n = n->next) {
        if (n->kind == KDR_ASSIGN && n->a) {
            const kdr_node *t = n->a->kind == KDR_INDEX ? n->a->a : n->a;
            if (t && t->kind == KDR_IDENT && t->name && !find_var(c, t->name)) {
                local l = { t->name, t, 0, 0 };
                PUSH(c->vars, c->nvars, c->cvars, l);
            }
        }
        if (n->kind == KDR_SETTING)
            continue;
        collect_vars(c, n->a, depth + 1);
        collect_vars(c, n->b, depth + 1);
        collect_vars(c, n->c, depth + 1);
        collect_vars(c, n->kids, depth + 1);
    }
}

static void mark_defined(chk *c, const kdr_node *target)
{
    const kdr_node *t = target && target->kind == KDR_INDEX ? target->a : target;
    if (!t || t->kind != KDR_IDENT)
        return;
    local *v = find_var(c, t->name);
    if (v)
        v->defined = 1;
}

/* net_level: 1 = the net body itself, 2 = a repeat body, 0 = nested block */
static void stmts(chk *c, const kdr_node *first, unsigned ctx, int net_level)
{
    const kdr_node *out = NULL;
    for (const kdr_node *s = first; s; s = s->next) {
        switch (s->kind) {
        case KDR_ASSIGN: {
            const kdr_node *t = s->a;
            if (t && t->kind == KDR_INDEX) {
                for (const kdr_node *k = t->kids; k; k = k->next) {
                    if (k->kind == KDR_STAR)
                        err(c, k, "'*' cannot be used in an assignment");
                    else
                        ex(c, k, ctx);
                }
            }
            const kdr_node *id = t && t->kind == KDR_INDEX ? t->a : t;
            if (id && id->kind == KDR_IDENT && id->name) {
                if (streq(id->name, "label") || kdr_builtin_find(id->name, KDR_CTX_VALUE))
                    err(c, id, "cannot assign to the predefined name '%s'", id->name);
                else if (is_scoped(c, id->name))
                    err(c, id, "cannot assign to the loop variable '%s'", id->name);
            }
            ex(c, s->b, ctx);
            mark_defined(c, t);
            break;
        }
        case KDR_OUT:
            if (!c->in_net) {
                err(c, s, "'out' is only valid inside a net");
                ex(c, s->a, ctx);
                break;
            }
            if (net_level == 0) {
                err(c, s, "'out' must be a statement of the net body itself, not of an 'if' or 'for'");
                ex(c, s->a, ctx);
                break;
            }
            if (out) {
                err(c, s, "a second 'out'; a net has exactly one output");
                note(c, c->u, out, "the first 'out' is here");
            } else
                out = s;
            ex(c, s->a, ctx);
            if (s->next && out == s) {
                int later_out = 0;
                for (const kdr_node *t = s->next; t; t = t->next)
                    if (t->kind == KDR_OUT) later_out = 1;
                if (!later_out)
                    err(c, s, "'out' must be the last statement of its block");
            }
            break;
        case KDR_FOR: {
            ty r = ex(c, s->a, ctx);
            char b1[128];
            if (r.k != V_LIST && r.k != V_ANY)
                err(c, s->a, "'for' iterates over a list or a range, got %s", kind_desc(r, b1, sizeof b1));
            PUSH(c->scoped, c->nscoped, c->cscoped, s->name);
            size_t keep = c->nscoped;
            stmts(c, s->kids, ctx, 0);
            c->nscoped = keep - 1;
            break;
        }
        case KDR_IF: {
            const kdr_node *i = s;
            while (i) {
                if (i->kind == KDR_IF) {
                    ex(c, i->a, ctx);
                    stmts(c, i->kids, ctx, 0);
                    i = i->b;
                } else {
                    stmts(c, i->kids, ctx, 0);
                    i = NULL;
                }
            }
            break;
        }
        case KDR_BLOCK:
            stmts(c, s->kids, ctx, 0);
            break;
        case KDR_SETTING:
            if (s->setting == KDR_S_BRIDGE && !c->in_net) {
                ex(c, s->a, ctx);
                break;
            }
            err(c, s, "'%s' is not valid in %s", s->word ? s->word : "?", c->where);
            break;
        default:
            err(c, s, "unexpected statement in %s", c->where);
            break;
        }
    }
    (void)net_level;
}

#define NET_CTX (KDR_CTX_NET | KDR_CTX_SHAPE | KDR_CTX_SEARCH | KDR_CTX_MATH | KDR_CTX_VALUE)
#define LOSS_CTX (KDR_CTX_LOSS | KDR_CTX_NET | KDR_CTX_SHAPE | KDR_CTX_WEIGHT | KDR_CTX_MATH \
                  | KDR_CTX_VALUE | KDR_CTX_SEARCH)

static void check_net(chk *c, const kdr_node *net)
{
    c->nvars = 0;
    c->nscoped = 0;
    /* parameters */
    for (const kdr_node *p = net->params; p; p = p->next) {
        for (const kdr_node *q = net->params; q != p; q = q->next)
            if (streq(q->name, p->name)) {
                err(c, p, "parameter '%s' is declared twice", p->name);
                note(c, c->u, q, "the first declaration is here");
                break;
            }
    }
    c->in_net = 0;
    c->where = "a parameter default";
    for (const kdr_node *p = net->params; p; p = p->next) {
        if (p->a)
            ex(c, p->a, KDR_CTX_MATH);
        local l = { p->name, p, 1, 1 };
        PUSH(c->vars, c->nvars, c->cvars, l);
    }
    collect_vars(c, net->kids, 0);
    c->in_net = 1;
    c->where = "a net body";
    stmts(c, net->kids, NET_CTX, 1);
    const kdr_node *out = NULL;
    for (const kdr_node *s = net->kids; s; s = s->next)
        if (s->kind == KDR_OUT)
            out = s;
    if (!out)
        err(c, name_at(net), "net '%s' has no 'out' statement (its output)", net->name);
    c->in_net = 0;
    c->nvars = 0;
}

/* ---- declarations -------------------------------------------------------- */

/* 1 when s is a setting allowed in the blocks `blk` (KDR_BLK_*) */
static int allowed_in(const kdr_node *s, unsigned blk)
{
    const kdr_setting_info *i = s->kind == KDR_SETTING ? kdr_setting_info_of(s->setting) : NULL;
    return i && (i->blocks & blk);
}

static void wrong_block(chk *c, const kdr_node *s, const char *here)
{
    if (s->kind == KDR_SETTING)
        err(c, s, "'%s' is not valid in %s; it belongs in %s", s->word ? s->word : "?", here,
            kdr_setting_where(s->setting));
    else if (s->kind == KDR_ASSIGN || s->kind == KDR_FOR || s->kind == KDR_IF || s->kind == KDR_OUT)
        err(c, s, "%s is not valid in %s; only net and search blocks have %s",
            s->kind == KDR_ASSIGN ? "an assignment" : s->kind == KDR_FOR ? "'for'" :
            s->kind == KDR_IF ? "'if'" : "'out'", here,
            s->kind == KDR_OUT ? "outputs (and only nets)" : "statements like this");
    else
        err(c, s, "unexpected statement in %s", here);
}

/* the whole number e of the statement `word`, in [min, max] */
static void check_int_value(chk *c, const kdr_node *e, const char *word, double min, double max,
                            const char *what)
{
    ty t = ex(c, e, KDR_CTX_MATH);
    char b1[128], b2[64], b3[64];
    if (t.k != V_NUM && t.k != V_ANY) {
        err(c, e, "'%s' must be a number, got %s", word, kind_desc(t, b1, sizeof b1));
        return;
    }
    double v;
    if (!cval(c, e, &v, 0))
        return;
    fmt_num(b2, sizeof b2, v);
    fmt_num(b3, sizeof b3, min);
    if (v != floor(v))
        err(c, e, "'%s' must be an integer, got %s", word, b2);
    else if (v < min)
        err(c, e, "'%s' must be %s (>= %s), got %s", word, what, b3, b2);
    else if (v > max) {
        fmt_num(b3, sizeof b3, max);
        err(c, e, "'%s' must be at most %s, got %s", word, b3, b2);
    }
}

/* a KDR_SV_INT setting, against its range in the settings table */
static void check_int_setting(chk *c, const kdr_node *s)
{
    const kdr_setting_info *i = kdr_setting_info_of(s->setting);
    if (i && i->value == KDR_SV_INT)
        check_int_value(c, s->a, s->word, i->min, i->max, i->range_word);
}

static void check_data_ref(chk *c, const kdr_node *e, const char *what)
{
    char b1[128];
    ty t = ex(c, e, KDR_CTX_VALUE);
    if (t.k != V_DATA && t.k != V_ANY)
        err(c, e, "%s must be a data set or a split of one (like d.train), got %s", what,
            kind_desc(t, b1, sizeof b1));
}

static const sym *model_ref(chk *c, const kdr_node *id, const char *what)
{
    char b1[128];
    if (!id || id->kind != KDR_IDENT)
        return NULL;
    const sym *s = find_sym(c, id->name);
    if (s && s->k == S_MODEL) {
        record_use(c, s, id);
        return s;
    }
    if (s) {
        ty t = sym_type(c, s, id);
        err(c, id, "%s must be a model, got %s", what, kind_desc(t, b1, sizeof b1));
        return NULL;
    }
    sugg sg = { 0 };
    for (size_t i = 0; i < c->nsyms; i++)
        if (c->syms[i].k == S_MODEL)
            consider(&sg, id->name, c->syms[i].name);
    err(c, id, "undefined model '%s'%s", id->name, dym(&sg, b1, sizeof b1));
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
                    consider(&sg, m->name, all[i].name);
            err(c, m, "unknown metric '%s'%s", m->name, dym(&sg, b1, sizeof b1));
        } else if (m->kind == KDR_BINARY && m->op == '@') {
            ex(c, m, KDR_CTX_METRIC);
        } else
            err(c, m, "expected a metric (top1, psnr, hr@10, ...)");
    }
}

static void check_evaluate(chk *c, const kdr_node *s)
{
    for (const kdr_node *m = s->kids; m; m = m->next)
        model_ref(c, m, "what 'evaluate' evaluates");
    check_data_ref(c, s->a, "the data of 'evaluate'");
    check_metrics(c, s->b);
}

static void check_data(chk *c, const kdr_node *d)
{
    char b1[128];
    const kdr_node *call = d->a;
    c->where = "a data loader";
    if (!call || call->kind != KDR_CALL || !call->a || call->a->kind != KDR_IDENT) {
        if (call)
            err(c, call, "a data set is made by a loader call, such as cifar10(\"dir\")");
    } else {
        const kdr_builtin *b = kdr_builtin_find(call->a->name, KDR_CTX_LOADER);
        if (b)
            bcall(c, call, b, KDR_CTX_LOADER | KDR_CTX_NOISE | KDR_CTX_MATH, 0);
        else {
            const kdr_builtin *o = kdr_builtin_find(call->a->name, ~0u);
            if (o)
                err(c, call->a, "'%s' is a %s, not a data loader", o->name, kdr_ctx_name(o->ctx));
            else {
                sugg sg = { 0 };
                size_t nb;
                const kdr_builtin *all = kdr_builtins(&nb);
                for (size_t i = 0; i < nb; i++)
                    if (all[i].ctx == KDR_CTX_LOADER)
                        consider(&sg, call->a->name, all[i].name);
                err(c, call->a, "unknown data loader '%s'%s", call->a->name, dym(&sg, b1, sizeof b1));
            }
        }
    }
    const kdr_node *first_of[3] = { 0 };
    const kdr_node *limit = NULL, *norm = NULL;
    for (const kdr_node *s = d->kids; s; s = s->next) {
        if (!allowed_in(s, KDR_BLK_DATA)) {
            wrong_block(c, s, "a data block");
            continue;
        }
        int split = s->setting == KDR_S_SPLIT_TRAIN ? 0 : s->setting == KDR_S_SPLIT_TEST ? 1
                  : s->setting == KDR_S_SPLIT_VAL ? 2 : -1;
        if (split >= 0) {
            if (first_of[split]) {
                err(c, s, "split '%s' is declared twice", split_name(s));
                note(c, c->u, first_of[split], "the first declaration is here");
            } else
                first_of[split] = s;
            if (s->b) {
                c->where = "a holdout size";
                double v;
                ty t = ex(c, s->b, KDR_CTX_MATH);
                if (t.k != V_NUM && t.k != V_ANY)
                    err(c, s->b, "the holdout size must be a number, got %s", kind_desc(t, b1, sizeof b1));
                else if (cval(c, s->b, &v, 0) && (v < 1 || v != floor(v))) {
                    fmt_num(b1, sizeof b1, v);
                    err(c, s->b, "the holdout size must be a positive integer, got %s", b1);
                }
                kdr_setting named = kdr_setting_lookup(s->name, KDR_BLK_DATA);
                if (named == KDR_S_SPLIT_TRAIN || named == KDR_S_SPLIT_TEST
                    || (named == KDR_S_SPLIT_VAL && first_of[2] && first_of[2] != s))
                    err(c, s->c ? s->c : s, "holdout split name '%s' is already a split", s->name);
            }
        } else if (s->setting == KDR_S_AUGMENT) {
            int ok = 0;
            sugg sg = { 0 };
            for (const kdr_node *t = d->kids; t; t = t->next)
                if (is_split(t)) {
                    if (streq(split_name(t), s->name) || streq(t->name, s->name))
                        ok = 1;
                    consider(&sg, s->name, split_name(t));
                    if (t->name)
                        consider(&sg, s->name, t->name);
                }
            if (!ok)
                err(c, s->c ? s->c : s, "'augment' names split '%s', which data set '%s' does not declare%s",
                    s->name ? s->name : "?", d->name, dym(&sg, b1, sizeof b1));
            c->where = "an augmentation";
            for (const kdr_node *a = s->kids; a; a = a->next) {
                if (a->kind == KDR_CALL && a->a && a->a->kind == KDR_IDENT) {
                    const kdr_builtin *b = kdr_builtin_find(a->a->name, KDR_CTX_AUG);
                    if (b) {
                        bcall(c, a, b, KDR_CTX_AUG | KDR_CTX_MATH, 0);
                        continue;
                    }
                    const kdr_builtin *o = kdr_builtin_find(a->a->name, ~0u);
                    if (o)
                        err(c, a->a, "'%s' is a %s, not an augmentation", o->name, kdr_ctx_name(o->ctx));
                    else {
                        sugg s2 = { 0 };
                        size_t nb;
                        const kdr_builtin *all = kdr_builtins(&nb);
                        for (size_t i = 0; i < nb; i++)
                            if (all[i].ctx == KDR_CTX_AUG)
                                consider(&s2, a->a->name, all[i].name);
                        err(c, a->a, "unknown augmentation '%s'%s", a->a->name, dym(&s2, b1, sizeof b1));
                    }
                } else
                    err(c, a, "expected an augmentation call, such as crop(32, pad: 4)");
            }
        } else if (s->setting == KDR_S_NORMALIZE) {
            if (norm) {
                err(c, s, "'normalize' is given twice");
                note(c, c->u, norm, "the first one is here");
            }
            norm = s;
            kdr_node fake = *s;
            fake.kind = KDR_CALL;
            fake.a = NULL;
            c->where = "'normalize'";
            bcall(c, &fake, kdr_builtin_find("normalize", KDR_CTX_AUG), KDR_CTX_MATH, 0);
        } else if (s->setting == KDR_S_LIMIT) {
            if (limit) {
                err(c, s, "'limit' is given twice");
                note(c, c->u, limit, "the first one is here");
            }
            limit = s;
            c->where = "'limit'";
            check_int_setting(c, s);
        }
    }
}

static void check_model(chk *c, const kdr_node *m)
{
    char b1[128];
    const kdr_node *call = m->a;
    c->where = "a model declaration";
    c->in_net = 0;
    if (!call)
        return;
    if (call->kind != KDR_CALL || !call->a || call->a->kind != KDR_IDENT) {
        err(c, call, "a model is made by calling a net template, such as resnet(depth: 20)");
        ex(c, call, NET_CTX);
        return;
    }
    const char *fn = call->a->name;
    const sym *s = find_sym(c, fn);
    if (s && s->k == S_NET) {
        tcall(c, call, s->node, NET_CTX, 0);
        return;
    }
    if (s) {
        ty t = sym_type(c, s, call->a);
        err(c, call->a, "a model is made from a net template; '%s' is %s", fn, kind_desc(t, b1, sizeof b1));
        return;
    }
    const kdr_builtin *b = kdr_builtin_find(fn, ~0u);
    if (b) {
        err(c, call->a, "'%s' is a builtin %s; a model is made from a net template (net NAME(...) { ... })",
            fn, kdr_ctx_name(b->ctx));
        return;
    }
    sugg sg = { 0 };
    for (size_t i = 0; i < c->nsyms; i++)
        if (c->syms[i].k == S_NET)
            consider(&sg, fn, c->syms[i].name);
    err(c, call->a, "undefined net template '%s'%s", fn, dym(&sg, b1, sizeof b1));
    for (const kdr_node *a = call->kids; a; a = a->next)
        ex(c, a->a, KDR_CTX_MATH);
}

static void check_pool(chk *c, const kdr_node *p)
{
    char b1[128];
    const kdr_node *v = p->a;
    c->where = "a pool";
    if (!v)
        return;
    if (v->kind == KDR_LIST) {
        if (!v->kids)
            err(c, v, "pool '%s' is empty", p->name);
        for (const kdr_node *m = v->kids; m; m = m->next) {
            if (m->kind == KDR_IDENT)
                model_ref(c, m, "a pool member");
            else {
                ty t = ex(c, m, 0);
                err(c, m, "a pool member must be a model, got %s", kind_desc(t, b1, sizeof b1));
            }
        }
        return;
    }
    if (v->kind == KDR_CALL && v->a && v->a->kind == KDR_IDENT) {
        const kdr_builtin *b = kdr_builtin_find(v->a->name, KDR_CTX_POOL);
        if (b) {
            bcall(c, v, b, KDR_CTX_POOL | KDR_CTX_MATH, 0);
            return;
        }
    }
    err(c, v, "a pool is a list of models [a, b] or checkpoints(ROUTE, ...)");
}

static void check_search(chk *c, const kdr_node *s)
{
    c->nvars = 0;
    c->nscoped = 0;
    c->in_net = 0;
    c->where = "a search block";
    for (const kdr_node *k = s->kids; k; k = k->next) {
        if (k->kind == KDR_SETTING && k->setting != KDR_S_BRIDGE) {
            wrong_block(c, k, "a search block");
            continue;
        }
        if (k->kind == KDR_OUT) {
            wrong_block(c, k, "a search block");
            continue;
        }
        kdr_node one = *k;
        one.next = NULL;
        stmts(c, &one, LOSS_CTX, 0);
    }
}

static void add_setting_once(chk *c, const kdr_node **seen, const kdr_node *s, const char *what)
{
    if (*seen) {
        err(c, s, "%s is given twice", what);
        note(c, c->u, *seen, "the first one is here");
    } else
        *seen = s;
}

static void check_phase(chk *c, pinfo *pi)
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
        if (!allowed_in(s, KDR_BLK_PHASE)) {
            wrong_block(c, s, "a phase");
            continue;
        }
        const char *w = s->word;
        switch (s->setting) {
        case KDR_S_TRAIN:
            trains = 1;
            c->where = "'train'";
            for (const kdr_node *m = s->kids; m; m = m->next) {
                const sym *ms = model_ref(c, m, "what 'train' trains");
                if (ms)
                    add_name(&pi->trains, &pi->ntrains, &pi->ctrains, NULL, ms->name, m);
            }
            check_data_ref(c, s->a, "the data of 'train'");
            break;
        case KDR_S_TEACHER: {
            c->where = "'teacher'";
            const kdr_node *id = s->a;
            if (!id || id->kind != KDR_IDENT)
                continue;
            const sym *ts = find_sym(c, id->name);
            if (s->op & KDR_F_FOLLOWS) {
                if (!ts || ts->k != S_POOL) {
                    if (ts)
                        err(c, id, "'teacher follows' needs a pool, got %s",
                            kind_desc(sym_type(c, ts, id), b1, sizeof b1));
                    else {
                        sugg sg = { 0 };
                        for (size_t i = 0; i < c->nsyms; i++)
                            if (c->syms[i].k == S_POOL)
                                consider(&sg, id->name, c->syms[i].name);
                        err(c, id, "undefined pool '%s'%s", id->name, dym(&sg, b1, sizeof b1));
                    }
                } else
                    record_use(c, ts, id);
                if (s->kids) {
                    kdr_node fake = *s;
                    fake.kind = KDR_CALL;
                    fake.a = NULL;
                    bcall(c, &fake, kdr_builtin_find("follows", KDR_CTX_FOLLOWS), KDR_CTX_MATH, 0);
                }
                continue;
            }
            if (s->b) {   /* teacher X at epoch E */
                const sym *ms = model_ref(c, id, "an early-stopped teacher");
                if (s->extra && !streq(s->extra, "epoch"))
                    err(c, s->c ? s->c : s, "expected 'at epoch E', got 'at %s'", s->extra);
                check_int_value(c, s->b, "epoch", 1, kdr_setting_info_of(KDR_S_EPOCHS)->max, "positive");
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
                                if (m->kind == KDR_IDENT && streq(m->name, id->name))
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
                    err(c, s, "teacher '%s' at an epoch needs a phase that trains '%s' with a 'checkpoint' setting",
                        id->name, id->name);
                    continue;
                }
                add_name(&pi->uses, &pi->nuses, &pi->cuses, &pi->usenode, id->name, id);
                double e, every, epochs;
                const kdr_node *fe = NULL;
                for (const kdr_node *t = found->node->kids; t; t = t->next)
                    if (t->kind == KDR_SETTING && t->setting == KDR_S_EPOCHS)
                        fe = t;
                if (cval(c, s->b, &e, 0)) {
                    fmt_num(b1, sizeof b1, e);
                    if (fe && cval(c, fe->a, &epochs, 0) && e > epochs) {
                        fmt_num(b2, sizeof b2, epochs);
                        err(c, s->b, "epoch %s is past the end of phase '%s', which trains '%s' for %s epochs",
                            b1, found->node->name, id->name, b2);
                    } else if (ck && ck->a && cval(c, ck->a, &every, 0) && every > 0
                               && (!ck->extra || strncmp(ck->extra, "epoch", 5) == 0)
                               && fmod(e, every) != 0) {
                        fmt_num(b2, sizeof b2, every);
                        err(c, s->b, "no checkpoint of '%s' at epoch %s: phase '%s' saves one every %s epochs",
                            id->name, b1, found->node->name, b2);
                    }
                }
                continue;
            }
            if (!ts || (ts->k != S_MODEL && ts->k != S_POOL))
                model_ref(c, id, "a teacher");
            else
                record_use(c, ts, id);
            break;
        }
        case KDR_S_EPOCHS:
            add_setting_once(c, &ep, s, "'epochs'");
            c->where = "'epochs'";
            check_int_setting(c, s);
            break;
        case KDR_S_BATCH:
            add_setting_once(c, &ba, s, "'batch'");
            c->where = "'batch'";
            check_int_setting(c, s);
            break;
        case KDR_S_SEED:
            add_setting_once(c, &se, s, "'seed'");
            c->where = "'seed'";
            check_int_setting(c, s);
            break;
        case KDR_S_OPTIMIZER:
        case KDR_S_LR:
        case KDR_S_LOSS: {
            /* the same (word, label) twice */
            for (const kdr_node *t = ph->kids; t != s; t = t->next)
                if (t->kind == KDR_SETTING && t->setting == s->setting
                    && ((!t->name && !s->name) || streq(t->name, s->name))) {
                    if (s->name)
                        err(c, s, "'%s %s:' is given twice", w, s->name);
                    else
                        err(c, s, "'%s' is given twice", w);
                    note(c, c->u, t, "the first one is here");
                    break;
                }
            if (s->name && !streq(s->name, "weights") && !streq(s->name, "arch")
                && !find_sym_kind(c, s->name, S_MODEL)) {
                sugg sg = { 0 };
                for (size_t i = 0; i < c->nsyms; i++)
                    if (c->syms[i].k == S_MODEL)
                        consider(&sg, s->name, c->syms[i].name);
                consider(&sg, s->name, "weights");
                consider(&sg, s->name, "arch");
                err(c, s->c ? s->c : s, "'%s' is not a model or a parameter group (weights, arch)%s",
                    s->name, dym(&sg, b1, sizeof b1));
            }
            const kdr_node *v = s->a;
            if (!v)
                continue;
            if (s->setting == KDR_S_LOSS) {
                c->where = "a loss";
                ty t = ex(c, v, LOSS_CTX);
                if (t.k == V_STR || t.k == V_BOOL || t.k == V_LIST || bad_operand(t.k))
                    err(c, v, "a loss must be a scalar expression, got %s", kind_desc(t, b1, sizeof b1));
                continue;
            }
            unsigned cx = s->setting == KDR_S_LR ? KDR_CTX_LR : KDR_CTX_OPTIM;
            c->where = s->setting == KDR_S_LR ? "'lr'" : "'optimizer'";
            if (v->kind == KDR_CALL) {
                ty t = call(c, v, cx | KDR_CTX_MATH, 0);
                if (t.k != V_CALL && t.k != V_ANY)
                    err(c, v, "expected a %s", kdr_ctx_name(cx));
            } else {
                ty t = ex(c, v, cx);
                if (!(t.k == V_ANY || (t.k == V_CALL && (t.ctx & cx))))
                    err(c, v, "expected a %s call, such as %s, got %s", kdr_ctx_name(cx),
                        cx == KDR_CTX_LR ? "step(milestones: [30, 60])" : "sgd(lr: 0.1)",
                        kind_desc(t, b2, sizeof b2));
            }
            break;
        }
        case KDR_S_CHECKPOINT:
            c->where = "'checkpoint'";
            check_int_setting(c, s);
            if (s->extra && !streq(s->extra, "epoch") && !streq(s->extra, "epochs")
                && !streq(s->extra, "step") && !streq(s->extra, "steps"))
                err(c, s->c ? s->c : s, "unknown checkpoint unit '%s' (epoch, epochs, step or steps)", s->extra);
            if (s->b) {
                double v;
                if (cval(c, s->b, &v, 0) && (v < 1 || v != floor(v))) {
                    fmt_num(b1, sizeof b1, v);
                    err(c, s->b, "'keep last N' needs a positive integer, got %s", b1);
                }
            }
            break;
        case KDR_S_AFTER:
            for (const kdr_node *k = s->kids; k; k = k->next) {
                if (k->kind != KDR_IDENT)
                    continue;
                const sym *q = find_sym(c, k->name);
                if (q && q->k == S_PHASE) {
                    if (q->node == ph)
                        err(c, k, "phase '%s' cannot come after itself", k->name);
                    continue;
                }
                if (q) {
                    err(c, k, "'after' needs a phase, got %s", kind_desc(sym_type(c, q, k), b1, sizeof b1));
                    continue;
                }
                sugg sg = { 0 };
                for (size_t i = 0; i < c->nsyms; i++)
                    if (c->syms[i].k == S_PHASE)
                        consider(&sg, k->name, c->syms[i].name);
                err(c, k, "undefined phase '%s'%s", k->name, dym(&sg, b1, sizeof b1));
            }
            break;
        case KDR_S_ALTERNATE:
            trains = 1;
            if (!s->kids)
                err(c, s, "'alternate' needs at least one 'GROUP minimize EXPR' step");
            for (const kdr_node *m = s->kids; m; m = m->next) {
                if (!allowed_in(m, KDR_BLK_ALTERNATE)) {
                    err(c, m, "only 'GROUP minimize EXPR [on DATA]' steps are valid in 'alternate'");
                    continue;
                }
                for (const kdr_node *g = m->kids; g; g = g->next) {
                    if (g->kind != KDR_IDENT)
                        continue;
                    if (streq(g->name, "weights") || streq(g->name, "arch"))
                        continue;
                    const sym *ms = find_sym_kind(c, g->name, S_MODEL);
                    if (ms) {
                        add_name(&pi->trains, &pi->ntrains, &pi->ctrains, NULL, ms->name, g);
                        continue;
                    }
                    sugg sg = { 0 };
                    for (size_t i = 0; i < c->nsyms; i++)
                        if (c->syms[i].k == S_MODEL)
                            consider(&sg, g->name, c->syms[i].name);
                    consider(&sg, g->name, "weights");
                    consider(&sg, g->name, "arch");
                    err(c, g, "'%s' is not a model or a parameter group (weights, arch)%s", g->name,
                        dym(&sg, b1, sizeof b1));
                }
                c->where = "an objective";
                ex(c, m->a, LOSS_CTX);
                if (m->b)
                    check_data_ref(c, m->b, "the data of 'minimize'");
            }
            break;
        case KDR_S_DERIVE: {
            add_setting_once(c, &de, s, "'derive'");
            const kdr_node *id = s->a;
            if (id && id->kind == KDR_IDENT) {
                const sym *q = find_sym(c, id->name);
                if (q && q->k == S_SEARCH) {
                    pi->derive = q->name;
                    pi->derivenode = id;
                } else if (q && q->k == S_MODEL) {
                    /* a model with choice/aggregate ops: keep the strongest */
                    record_use(c, q, id);
                } else if (q)
                    err(c, id, "'derive' needs a search or a searched model, got %s",
                        kind_desc(sym_type(c, q, id), b1, sizeof b1));
                else {
                    sugg sg = { 0 };
                    for (size_t i = 0; i < c->nsyms; i++)
                        if (c->syms[i].k == S_SEARCH)
                            consider(&sg, id->name, c->syms[i].name);
                    err(c, id, "undefined search '%s'%s", id->name, dym(&sg, b1, sizeof b1));
                }
            } else if (id)
                err(c, id, "'derive' needs the name of a search");
            break;
        }
        case KDR_S_EVALUATE:
            check_evaluate(c, s);
            break;
        default:
            break;
        }
    }
    if (!trains)
        err(c, name_at(ph), "phase '%s' trains nothing: it needs 'train MODEL on DATA' or 'alternate { ... }'",
            ph->name);
    c->cur = NULL;
}

static void check_report(chk *c, const kdr_node *r)
{
    char b1[128];
    c->in_net = 0;
    for (const kdr_node *s = r->kids; s; s = s->next) {
        if (!allowed_in(s, KDR_BLK_REPORT)) {
            wrong_block(c, s, "a report");
            continue;
        }
        if (s->setting == KDR_S_EVALUATE) {
            check_evaluate(c, s);
            continue;
        }
        /* table rows X cols Y: values */
        const kdr_node *ids[2] = { s->a, s->b };
        for (int i = 0; i < 2; i++) {
            const kdr_node *id = ids[i];
            if (!id || id->kind != KDR_IDENT)
                continue;
            if (find_sym_kind(c, id->name, S_SWEEP))
                continue;
            sugg sg = { 0 };
            for (size_t j = 0; j < c->nsyms; j++)
                if (c->syms[j].k == S_SWEEP)
                    consider(&sg, id->name, c->syms[j].name);
            err(c, id, "'%s' of 'table' must be a sweep, and '%s' is not one%s", i ? "cols" : "rows",
                id->name, dym(&sg, b1, sizeof b1));
        }
        c->where = "a table";
        for (const kdr_node *v = s->kids; v; v = v->next) {
            if (v->kind == KDR_MEMBER && v->a && v->a->kind == KDR_IDENT) {
                if (!model_ref(c, v->a, "a table value"))
                    continue;
                if (!kdr_builtin_find(v->name, KDR_CTX_METRIC)) {
                    sugg sg = { 0 };
                    size_t nb;
                    const kdr_builtin *all = kdr_builtins(&nb);
                    for (size_t i = 0; i < nb; i++)
                        if (all[i].ctx == KDR_CTX_METRIC)
                            consider(&sg, v->name, all[i].name);
                    err(c, v, "unknown metric '%s' in a table%s", v->name, dym(&sg, b1, sizeof b1));
                }
            } else if (v->kind == KDR_MEMBER && v->a && v->a->kind == KDR_BINARY) {
                /* student.hr@10 parses as (student.hr)@10 elsewhere; accept model.metric@k here */
                ex(c, v->a, KDR_CTX_METRIC);
            } else if (v->kind == KDR_BINARY && v->op == '@' && v->a && v->a->kind == KDR_MEMBER
                       && v->a->a && v->a->a->kind == KDR_IDENT) {
                model_ref(c, v->a->a, "a table value");
                const kdr_builtin *b = kdr_builtin_find(v->a->name, KDR_CTX_METRIC);
                if (!b || !(b->flags & KDR_B_AT_K))
                    err(c, v->a, "'%s' is not a metric that takes @k", v->a->name ? v->a->name : "?");
            } else
                err(c, v, "a table value is MODEL.METRIC, such as student.top1");
        }
    }
}

/* ---- pass 1: names --------------------------------------------------------- */

static void add_sym(chk *c, const kdr_unit *u, const char *name, int k, const kdr_node *node,
                    const kdr_node *at, const kdr_node *owner)
{
    if (!name)
        return;
    for (size_t i = 0; i < c->nsyms; i++) {
        const sym *o = &c->syms[i];
        if (!streq(o->name, name))
            continue;
        if (k == S_SVAR && o->k == S_SVAR && o->owner == owner)
            return;       /* agg[1], agg[2] ... in one search */
        c->u = u;
        if (o->k == k)
            err(c, at, "%s '%s' is defined twice", sym_kind_name[k], name);
        else
            err(c, at, "'%s' is already defined as a %s", name, sym_kind_name[o->k]);
        note(c, unit_of_sym(o), o->at, "the first definition of '%s' is here", name);
        return;
    }
    const kdr_builtin *b = kdr_builtin_find(name, KDR_CTX_VALUE);
    if (b) {
        c->u = u;
        err(c, at, "'%s' is a predefined name (%s) and cannot be redefined", name, b->doc);
        return;
    }
    sym s = { name, k, node, at, u, owner };
    PUSH(c->syms, c->nsyms, c->csyms, s);
}

static void collect_search_names(chk *c, const kdr_unit *u, const kdr_node *search,
                                 const kdr_node *n, int depth)
{
    for (; n && depth < 64; n = n->next) {
        if (n->kind == KDR_ASSIGN && n->a) {
            const kdr_node *t = n->a->kind == KDR_INDEX ? n->a->a : n->a;
            if (t && t->kind == KDR_IDENT)
                add_sym(c, u, t->name, S_SVAR, n, t, search);
        } else if (n->kind == KDR_SETTING && n->setting == KDR_S_BRIDGE && n->name) {
            add_sym(c, u, n->name, S_SVAR, n, n->c ? n->c : n, search);
        } else if (n->kind == KDR_FOR || n->kind == KDR_IF || n->kind == KDR_BLOCK) {
            collect_search_names(c, u, search, n->kids, depth + 1);
            if (n->kind == KDR_IF)
                collect_search_names(c, u, search, n->b, depth + 1);
        }
    }
}

static void collect(chk *c)
{
    for (size_t ui = 0; ui < c->p->nunits; ui++) {
        const kdr_unit *u = c->p->units[ui];
        if (!u || !u->root)
            continue;
        for (const kdr_node *s = u->root->kids; s; s = s->next) {
            int k = -1;
            switch (s->kind) {
            case KDR_LET: k = S_LET; break;
            case KDR_DATA: k = S_DATA; break;
            case KDR_NET: k = S_NET; break;
            case KDR_MODEL: k = S_MODEL; break;
            case KDR_POOL: k = S_POOL; break;
            case KDR_SEARCH: k = S_SEARCH; break;
            case KDR_PHASE: k = S_PHASE; break;
            case KDR_SWEEP: k = S_SWEEP; break;
            default: break;
            }
            if (k >= 0)
                add_sym(c, u, s->name, k, s, name_at(s), NULL);
            if (s->kind == KDR_PHASE)
                for (const kdr_node *t = s->kids; t; t = t->next)
                    if (t->kind == KDR_SETTING && t->setting == KDR_S_CHECKPOINT && t->name)
                        add_sym(c, u, t->name, S_ROUTE, t,
                                t->kids && t->kids->kind == KDR_IDENT ? t->kids : t, s);
            if (s->kind == KDR_SEARCH)
                collect_search_names(c, u, s, s->kids, 0);
        }
    }
}

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
        void *q = grow_arr(c->setv, &c->csetv, c->nsetv, sizeof *c->setv);
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
    const kdr_node *at = name_at(block);
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
            if (streq(p->name, name)) idx = i;
    } else if (b) {
        for (size_t j = 0; b->args[j].name; j++)
            if (streq(b->args[j].name, name)) idx = (int)j;
    }
    if (idx < 0)
        return 0;
    int pos = 0;
    for (kdr_node *a = callnode->kids; a; a = a->next) {
        if (a->name ? streq(a->name, name) : (!a->b && pos++ == idx)) {
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

static void apply_overrides(chk *c, kdr_override *ov, size_t nov)
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
                if ((s->k == S_LET || s->k == S_SWEEP) && streq(s->name, key)) {
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
                if (streq(a, "phase")) {
                    const sym *s = find_sym_kind(c, b, S_PHASE);
                    if (s && phase_key(d))
                        hit = override_setting(c, (kdr_node *)s->node, phase_key(d), val);
                } else if (streq(a, "data")) {
                    const sym *s = find_sym_kind(c, b, S_DATA);
                    if (s && kdr_setting_lookup(d, KDR_BLK_DATA) == KDR_S_LIMIT)
                        hit = override_setting(c, (kdr_node *)s->node, KDR_S_LIMIT, val);
                    else if (s && s->node->a && s->node->a->kind == KDR_CALL && s->node->a->a
                             && s->node->a->a->kind == KDR_IDENT)
                        hit = override_arg(c, (kdr_node *)s->node, s->node->a, d, val, NULL,
                                           kdr_builtin_find(s->node->a->a->name, KDR_CTX_LOADER));
                } else if (streq(a, "model")) {
                    const sym *s = find_sym_kind(c, b, S_MODEL);
                    const kdr_node *net = s ? model_template(c, s->node) : NULL;
                    if (net)
                        hit = override_arg(c, (kdr_node *)s->node, s->node->a, d, val, net->params, NULL);
                }
            }
        }
        if (hit && c->bad_value)
            kdr_diag_push(c->d, KDR_ERROR, NULL, 0, 0,
                          "--set %s=%s: malformed value (a number, \"string\", identifier, [list] or a..b)",
                          key, val);
        if (hit)
            ov[i].used = 1;
        else
            kdr_diag_push(c->d, KDR_ERROR, NULL, 0, 0, "--set key '%s' matches nothing", key);
    }
}

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
    void *q = grow_arr(*e, cap, *n, sizeof **e);
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
        if (streq(l[i], name))
            return 1;
    return 0;
}

static void order_phases(chk *c)
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
                        if (k->kind == KDR_IDENT && streq(c->ph[q].node->name, k->name)) {
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
                        && streq(s->name, P->routes[r])) {
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
                        add_edge(&E, &ne, &ce, q, p, name_at(P->node), P->u, why);
                    }
            /* a search run by Q, derived by P */
            if (P->derive && !streq(Q->derive, P->derive) && in_list(Q->searches, Q->nsearches, P->derive)) {
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
                err(c, name_at(first->node), "the phases depend on each other in a cycle: %s", chain);
                for (size_t k = 0; k < clen; k++) {
                    size_t idx = b + (m - b + k) % clen;
                    const edge *x = pe[idx];
                    note(c, x->u, x->at, "%s", x->why);
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
    collect(&c);
    apply_overrides(&c, ov, nov);

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
                ex(&c, s->a, ~0u & ~KDR_CTX_FOLLOWS);
                break;
            case KDR_SWEEP: {
                c.where = "a sweep";
                ty t = ex(&c, s->a, KDR_CTX_MATH);
                char b1[128];
                if (t.k != V_LIST && t.k != V_ANY)
                    err(&c, s->a, "a sweep needs a list or a range of values, got %s", kind_desc(t, b1, sizeof b1));
                else if (s->a && s->a->kind == KDR_LIST && !s->a->kids)
                    err(&c, s->a, "sweep '%s' has no values", s->name);
                break;
            }
            case KDR_DATA: check_data(&c, s); break;
            case KDR_NET: check_net(&c, s); break;
            case KDR_MODEL: check_model(&c, s); break;
            case KDR_POOL: check_pool(&c, s); break;
            case KDR_SEARCH: check_search(&c, s); break;
            case KDR_PHASE:
                for (size_t i = 0; i < c.nph; i++)
                    if (c.ph[i].node == s)
                        check_phase(&c, &c.ph[i]);
                break;
            case KDR_REPORT: check_report(&c, s); break;
            default:
                err(&c, s, "unexpected top-level statement");
                break;
            }
        }
    }
    order_phases(&c);

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
    return d->errors > errors0 || d->truncated ? 1 : 0;
}
