/* ast.h — the .kdr syntax tree.
 *
 * One arena per parsed file owns every node and every interned string; the
 * whole tree is freed at once with kdr_unit_free().  Every node carries the
 * byte offsets [beg, end) of the text it came from in its unit's source;
 * line:column are computed only when a diagnostic is printed.
 *
 * Lists (statements, arguments, parameters, list elements) are singly linked
 * through `next`, first element in `kids`.
 */
#ifndef KDR_AST_H
#define KDR_AST_H

#include <stddef.h>
#include <stdint.h>
#include "settings.h"

typedef struct kdr_arena kdr_arena;

typedef enum kdr_kind {
    /* expressions */
    KDR_NUM,      /* num */
    KDR_STR,      /* str */
    KDR_BOOL,     /* num = 0 or 1 */
    KDR_IDENT,    /* name */
    KDR_INPUT,    /* the keyword `in` used as a value */
    KDR_STAR,     /* `*` as an index element */
    KDR_LIST,     /* [kids...] */
    KDR_UNARY,    /* op ('-' or KDR_OP_NOT), a */
    KDR_BINARY,   /* op, a, b */
    KDR_TERNARY,  /* a ? b : c */
    KDR_CALL,     /* a(kids = args) ; a is the callee expression */
    KDR_INDEX,    /* a[kids] */
    KDR_MEMBER,   /* a.name */
    KDR_REPEAT,   /* repeat a as name from b { kids } ; b may be NULL */
    KDR_SUM,      /* sum name in a: b */
    /* arguments and parameters */
    KDR_ARG,      /* positional: a ; named: name + a ; substitution: b = a (b = point expr) */
    KDR_PARAM,    /* name [: a default] */
    /* statements inside blocks */
    KDR_ASSIGN,   /* a (IDENT or INDEX target) = b */
    KDR_OUT,      /* out a */
    KDR_FOR,      /* for name in a { kids } */
    KDR_IF,       /* if a { kids } else b (b: KDR_IF or KDR_BLOCK or NULL) */
    KDR_BLOCK,    /* { kids } (else branch) */
    KDR_SETTING,  /* a statement-word setting: word (interned), name (group/model label or NULL), kids = values; see below */
    /* top-level declarations */
    KDR_USE,      /* str */
    KDR_LET,      /* name = a */
    KDR_DATA,     /* name = a (loader call) { kids = settings } */
    KDR_NET,      /* name (params) { kids } */
    KDR_MODEL,    /* name = a [from b] ; b: KDR_STR weights file, b->kids = parts (or NULL: all);
                     a member of an indexed model (`model ts[s] = a for s in
                     1..3`) is one KDR_MODEL per index, named "ts[2]", with extra =
                     the index variable ("s") and num = its value (2) */
    KDR_POOL,     /* name = a */
    KDR_SEARCH,   /* name { kids } */
    KDR_PHASE,    /* name { kids } */
    KDR_SWEEP,    /* name in a */
    KDR_REPORT,   /* name (may be NULL) { kids } */
    KDR_UNIT,     /* the whole file: kids = top-level statements */
    KDR_KIND_COUNT
} kdr_kind;

/* Binary/unary operators stored in kdr_node.op (single chars use the char). */
enum {
    KDR_OP_EQ = 256, KDR_OP_NE, KDR_OP_LE, KDR_OP_GE,
    KDR_OP_AND, KDR_OP_OR, KDR_OP_NOT, KDR_OP_RANGE
};

/* KDR_SETTING.setting says which statement it is (a kdr_setting, see
 * lang/settings.h: the one table of statement words, the blocks each is
 * allowed in and its default); KDR_SETTING.word is the statement word,
 * interned, for messages only.  What each one carries:
 *
 *  train     kids = model IDENTs...; a = data expr; flags KDR_F_TOGETHER
 *  teacher   a = model/pool IDENT; flags KDR_F_FROZEN; or b = epoch expr
 *            (`at epoch E`, extra = the word after `at`), or flags
 *            KDR_F_FOLLOWS with kids = option args of the route
 *  epochs/batch/seed/limit/derive   a = value
 *  optimizer/lr/loss                name = group/model label (or NULL), a = value
 *  checkpoint  a = every expr; extra = unit word (or NULL); b = keep count
 *              (NULL = keep all unless KDR_F_KEEP_LAST), name = route (or NULL)
 *  after     kids = phase IDENTs
 *  alternate kids = minimize steps
 *  minimize  kids = group IDENTs, a = objective, b = data expr (or NULL),
 *            c = the step's learning rate (`lr VALUE`, or NULL)
 *  evaluate  kids = model IDENTs, a = data expr, b = KDR_LIST of metrics (or NULL)
 *  table     extra = rows var, name = cols var, kids = value exprs
 *  bridge    name = bridge name, a = expr
 *  train/test/val (in data)  a = STR; b = holdout expr; name = holdout split name
 *  augment   name = split IDENT, kids = aug calls
 *  normalize kids = named ARGs
 */
enum {
    KDR_F_TOGETHER = 1, KDR_F_FROZEN = 2, KDR_F_FOLLOWS = 4, KDR_F_KEEP_LAST = 8,
    KDR_F_KEEP_ALL = 16
};

typedef struct kdr_node kdr_node;
struct kdr_node {
    kdr_kind kind;
    int op;               /* operator for UNARY/BINARY; flags for SETTING */
    uint32_t beg, end;    /* byte offsets into the unit's source, [beg, end) */
    uint32_t depth;       /* height of an expression subtree (1 for a leaf) */
    const char *name;     /* interned identifier, or NULL */
    kdr_setting setting;  /* KDR_SETTING: which statement (KDR_S_NONE otherwise) */
    const char *word;     /* KDR_SETTING: the statement word, for messages */
    const char *extra;    /* a second identifier (see KDR_SETTING) */
    const char *str;      /* KDR_STR / KDR_USE: the decoded string (NUL-free) */
    size_t str_len;
    double num;
    kdr_node *a, *b, *c;  /* children; on a declaration (let, data, net, model, pool,
                             search, phase, sweep, report, for, sum, repeat, bridge)
                             c is its name as a KDR_IDENT node, for carets */
    kdr_node *params;     /* KDR_NET: first KDR_PARAM */
    kdr_node *kids;       /* first child of a list */
    kdr_node *next;       /* next sibling in the parent's list */
    kdr_node *label;      /* `TERM as NAME` in a loss: NAME as a KDR_IDENT node (its
                             place for carets), on the term's own node; else NULL */
};

/* One parsed file. */
typedef struct kdr_unit {
    const char *path;     /* as given (interned) */
    const char *src;      /* the whole file, NUL-terminated copy */
    size_t len;           /* bytes, not counting the added NUL */
    kdr_node *root;       /* KDR_UNIT, or NULL if the file could not be read */
    kdr_arena *arena;
} kdr_unit;

#endif
