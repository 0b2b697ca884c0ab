/* compile_int.h — private to the graph compiler (runtime/compile*.c): the
 * values a recipe evaluates to, the frames of template calls, the
 * compiler's context, and the helpers its rooms share (prefixed cc_).
 * Nothing outside runtime/compile*.c includes it. */
#ifndef KD_COMPILE_INT_H
#define KD_COMPILE_INT_H

#include <stdint.h>
#include "graph.h"
#include "graph_ops.h"
#include "op_builtins.h"
#include "../lang/builtins.h"

#define MAX_CALL_DEPTH 64
#define MAX_LOOP 100000
#define MAX_NODES KD_GRAPH_MAX_NODES
#define MAX_STEPS 10000000          /* statements and expressions evaluated per model */
#define MAX_NUMEL ((int64_t)1 << 31) /* elements of one tensor (8 GiB of float32) */

/* ---- values ---------------------------------------------------------------- */

typedef enum { KV_NONE, KV_NUM, KV_BOOL, KV_STR, KV_SYM, KV_LIST, KV_TENSOR } kv_kind;

typedef struct kv {
    kv_kind k;
    double num;
    const char *s;          /* STR, SYM */
    int32_t t;              /* TENSOR: node id */
    struct kv *items;       /* LIST */
    int n;
} kv;

typedef struct bind {
    const char *name;
    kv v;
    struct bind *next;
} bind;

typedef struct opcount { const char *op; int n; struct opcount *next; } opcount;

typedef struct frame {
    bind *vars;
    const char *path;        /* prefix of named tensors and parameters */
    int has_input;
    kv input;
    int has_out;
    kv out;
    kv last;                 /* the last value assigned (value of a repeat body) */
    opcount *counts;         /* per-op counters for parameter names */
    int anon;                /* counter for unnamed template calls */
    int phase;               /* 1: a phase-level expression (losses): model.tensor, label */
    int32_t label;           /* phase level: the label input node, or -1 */
} frame;

typedef struct callsite { const kdr_unit *unit; const kdr_node *at; const char *net; } callsite;

typedef struct cc {
    kd_graph *g;
    const kdr_program *p;
    kdr_diag *d;
    const kdr_unit *unit;    /* unit of the code being evaluated */
    int model;
    int failed;              /* a located error was reported */
    int unsupported;         /* something this build cannot compile yet */
    char why[256];           /* ... what */
    callsite stack[MAX_CALL_DEPTH];
    int depth;
    int32_t input_node;
    int64_t steps;           /* evaluation budget (MAX_STEPS) */
    int64_t batch;
    const kd_data_shape *data;
    uint64_t detach;         /* losses: models whose tensors are constants here */
} cc;

static inline kv kv_num(double x) { kv v = { .k = KV_NUM, .num = x }; return v; }
static inline kv kv_tensor(int32_t t) { kv v = { .k = KV_TENSOR, .t = t }; return v; }
static inline kv kv_none(void) { kv v = { .k = KV_NONE }; return v; }

static inline void *cc_alloc(cc *C, size_t n) { return kdr_arena_alloc(C->g->arena, n); }

#define STOP(C) ((C)->failed || (C)->unsupported)

/* ---- compile.c ---------------------------------------------------------- */
/* an interned printf (lives as long as the graph) */
const char *cc_str(cc *C, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *cc_kind_name(kv_kind k);
/* the first located error (with notes for the template calls around it) */
void cc_err(cc *C, const kdr_node *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* something this build cannot compile yet: not a recipe error */
void cc_unsupported(cc *C, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int32_t cc_new_node(cc *C);
int32_t cc_add_op(cc *C, frame *F, const kdr_node *at, const kd_op_def *op,
                  const int32_t *ins, int ndata, const kd_attr_val *attr, const char *label);
int32_t cc_op_simple(cc *C, frame *F, const kdr_node *at, const char *opname,
                     const int32_t *ins, int n, const char *attr, double x);
void cc_set_var(cc *C, frame *F, const char *name, kv v);
bind *cc_get_var(frame *F, const char *name);
int cc_truthy(cc *C, const kdr_node *at, kv v);
int cc_want_num(cc *C, const kdr_node *at, kv v, double *out);
int cc_want_int(cc *C, const kdr_node *at, kv v, int64_t *out);
/* snprintf at *o into buf[cap], never past the end (*o stays < cap) */
void cc_append(char *buf, size_t cap, size_t *o, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- compile_expr.c ----------------------------------------------------- */
kv cc_eval(cc *C, frame *F, const kdr_node *e, const char *hint);
void cc_exec_stmts(cc *C, frame *F, const kdr_node *s);
/* "base[i,j]" of an index expression; NULL after an error */
const char *cc_index_key(cc *C, frame *F, const kdr_node *idx_expr, const char *base);

/* ---- compile_call.c ----------------------------------------------------- */
kv cc_call(cc *C, frame *F, const kdr_node *e, const char *hint);
kv cc_call_op(cc *C, frame *F, const kdr_node *call, const kdr_builtin *b, int implicit_input);
kv cc_call_net(cc *C, frame *F, const kdr_node *call, const kdr_node *net,
               const kdr_unit *net_unit, const char *hint, int top);
int cc_bind_builtin_args(cc *C, frame *F, const kdr_node *call, const kdr_builtin *b,
                         kv *vals, const kdr_node **where, int implicit_input);

/* ---- compile_search.c --------------------------------------------------- */
kv cc_call_cost(cc *C, frame *F, const kdr_node *e, const kdr_builtin *b);
kv cc_call_choice(cc *C, frame *F, const kdr_node *e);
/* a name of a search at phase level (agg[1], a bridge); KV_NONE when no
 * search has it (and no error), or after an error */
kv cc_search_name(cc *C, frame *F, const char *key, const kdr_node *at);

/* ---- compile_with.c ----------------------------------------------------- */
kv cc_with_tensor(cc *C, frame *F, const kdr_node *call, const char *key, const kdr_node *at);
int cc_is_with_call(const kdr_node *e);

#endif
