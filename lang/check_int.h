/* check_int.h — what the rooms of the checker share (lang/check*.c).
 * Not part of the public interface: see kdr.h for kdr_check().
 */
#ifndef KDR_CHECK_INT_H
#define KDR_CHECK_INT_H

#include <stddef.h>
#include "kdr.h"
#include "builtins.h"
#include "settings.h"
#include "consteval.h"

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
    /* constants already reported wrong (1/0 ...), so that each is said once */
    const kdr_node **bad_const; size_t nbad_const, cbad_const;
    int quiet_const;           /* > 0 in a branch a constant condition never takes */
} chk;

#define NET_CTX (KDR_CTX_NET | KDR_CTX_SHAPE | KDR_CTX_SEARCH | KDR_CTX_MATH | KDR_CTX_VALUE)
#define LOSS_CTX (KDR_CTX_LOSS | KDR_CTX_NET | KDR_CTX_SHAPE | KDR_CTX_WEIGHT | KDR_CTX_MATH \
                  | KDR_CTX_VALUE | KDR_CTX_SEARCH)

/* best suggestion so far ("did you mean") */
typedef struct sugg { const char *name; int dist; } sugg;

/* append v to a growable array (arr, n, cap); on out of memory, nothing */
#define PUSH(arr, n, cap, v) do { \
        void *q_ = ck_grow_arr((arr), &(cap), (n), sizeof *(arr)); \
        if (q_) { (arr) = q_; (arr)[(n)++] = (v); } } while (0)

extern const char *const ck_sym_kind_name[];   /* by S_* */

/* ---- check.c: messages and suggestions */
void *ck_grow_arr(void *p, size_t *cap, size_t n, size_t sz);
void ck_err(chk *c, const kdr_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ck_note(chk *c, const kdr_unit *u, const kdr_node *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
const char *ck_article(const char *noun);
const kdr_node *ck_name_at(const kdr_node *n);
int ck_streq(const char *a, const char *b);
int ck_edit_distance(const char *a, const char *b);
void ck_consider(sugg *s, const char *want, const char *cand);
const char *ck_dym(const sugg *s, char *buf, size_t n);

/* ---- check_names.c: names, scopes, constants */
const sym *ck_find_sym(const chk *c, const char *name);
const sym *ck_find_sym_kind(const chk *c, const char *name, int k);
local *ck_find_var(chk *c, const char *name);
int ck_is_scoped(const chk *c, const char *name);
void ck_suggest_all(const chk *c, sugg *s, const char *want, unsigned ctx);
int ck_cval(chk *c, const kdr_node *n, double *out);
int ck_cval_in(chk *c, const kdr_unit *u, const kdr_node *n, double *out);
int ck_cond(chk *c, const kdr_node *e);
void ck_fmt_num(char *buf, size_t n, double v);
void ck_add_name(const char ***arr, size_t *n, size_t *cap, const kdr_node ***nodes,
                 const char *name, const kdr_node *at);
void ck_record_use(chk *c, const sym *s, const kdr_node *at);
ty ck_sym_type(chk *c, const sym *s, const kdr_node *at);
ty ck_resolve(chk *c, const kdr_node *n, unsigned ctx);
void ck_collect(chk *c);

/* ---- check_expr.c: expressions, net and search bodies */
ty ck_ty(int k);
const char *ck_kind_desc(ty t, char *buf, size_t n);
int ck_net_has_name(chk *c, const kdr_node *net, const char *name, int depth);
void ck_suggest_net_names(chk *c, const kdr_node *n, sugg *s, const char *want, int depth);
const kdr_node *ck_model_template(const chk *c, const kdr_node *model);
int ck_is_split(const kdr_node *s);
const char *ck_split_name(const kdr_node *s);
int ck_bad_operand(int k);
ty ck_ex(chk *c, const kdr_node *n, unsigned ctx);
void ck_stmts(chk *c, const kdr_node *first, unsigned ctx, int net_level);
void ck_net(chk *c, const kdr_node *net);

/* ---- check_calls.c: calls */
ty ck_tcall(chk *c, const kdr_node *n, const kdr_node *net, unsigned ctx, int omit_input);
void ck_arg_value(chk *c, const kdr_builtin *b, const kdr_argspec *sp,
                  const kdr_node *e, unsigned ctx);
ty ck_bcall(chk *c, const kdr_node *n, const kdr_builtin *b, unsigned ctx, int omit_input);
ty ck_call(chk *c, const kdr_node *n, unsigned ctx, int omit_input);
/* `ts[i]` of an indexed model: its member's symbol (see check_calls.c), or NULL */
const sym *ck_model_member(chk *c, const kdr_node *n);

/* ---- check_decls.c: data, models, pools, searches, reports */
int ck_allowed_in(const kdr_node *s, unsigned blk);
void ck_wrong_block(chk *c, const kdr_node *s, const char *here);
void ck_int_value(chk *c, const kdr_node *e, const char *word, double min, double max,
                  const char *what);
void ck_int_setting(chk *c, const kdr_node *s);
void ck_data_ref(chk *c, const kdr_node *e, const char *what);
const sym *ck_model_ref(chk *c, const kdr_node *id, const char *what);
void ck_evaluate(chk *c, const kdr_node *s);
void ck_data(chk *c, const kdr_node *d);
void ck_model(chk *c, const kdr_node *m);
void ck_weights(chk *c, const kdr_node *m);   /* check_weights.c */
/* ---- check_dym.c: "did you mean" for --set keys and PyTorch spellings */
const char *ck_dym_alias(const char *name, int ctx, char *buf, size_t n);
const char *ck_dym_set_key(chk *c, const char *key, char *buf, size_t n);
void ck_pool(chk *c, const kdr_node *p);
void ck_search(chk *c, const kdr_node *s);
void ck_report(chk *c, const kdr_node *r);

/* ---- check_families.c: `train ts` of an indexed model -> its members */
void ck_expand_families(kdr_program *p);
/* ---- check_labels.c: `TERM as NAME` in losses */
void ck_labels(chk *c);

/* ---- check_phase.c */
void ck_phase(chk *c, pinfo *pi);

/* ---- check_set.c */
void ck_apply_overrides(chk *c, kdr_override *ov, size_t nov);

/* ---- check_order.c */
void ck_order_phases(chk *c);

#endif
