/* consteval.h — the one evaluator of constant expressions.
 *
 * A constant is what a recipe can compute without tensors: numbers,
 * true/false, strings, lists and ranges, `let` constants, sweep variables,
 * arithmetic (+ - * / % ^), comparisons, `and`/`or`/`not`, `c ? a : b`, and
 * the number functions min, max, round, floor, ceil, sqrt and abs.  The
 * checker (lang/check*.c), the runtime (settings, optimizer and schedule
 * arguments) and the sweep driver all ask this one evaluator, so that a
 * value means the same at `--check` and at run time.
 *
 * Every answer is a status:
 *   KDR_CE_OK       the value is in *out;
 *   KDR_CE_UNKNOWN  not a constant (a tensor, a loop variable, a model, a
 *                   sweep in KDR_CE_SWEEP_UNKNOWN mode ...): nothing is
 *                   wrong with the recipe at this point, but there is no value;
 *   KDR_CE_ERROR    the recipe is wrong here: 1/0, 2^5000, a `let` that
 *                   refers to itself ...
 * For UNKNOWN and ERROR, ev->err_* say where and why (the unit and node of
 * the innermost culprit, which may be inside a `let` of another file).
 * With ev->diag set, an ERROR is also pushed there, and with KDR_CE_STRICT
 * an UNKNOWN is an error too (the runtime wants a value or a message).
 *
 * Usage (runtime: a setting that must be a whole number):
 *     kdr_consteval ev;
 *     kdr_consteval_init(&ev, prog, diag, KDR_CE_STRICT | KDR_CE_SWEEP_FIRST);
 *     int64_t batch;
 *     if (kdr_const_int(&ev, unit, s->a, 1, 1e12, &batch) != KDR_CE_OK) return -1;
 */
#ifndef KDR_CONSTEVAL_H
#define KDR_CONSTEVAL_H

#include <stdint.h>
#include "kdr.h"

typedef enum kdr_cv_kind {
    KDR_CV_NUM,     /* num */
    KDR_CV_BOOL,    /* num = 0 or 1 */
    KDR_CV_STR,     /* str, len: a "string" */
    KDR_CV_SYM,     /* str: a bare word that names no constant (`hw`, `horizontal`) */
    KDR_CV_LIST     /* node: the KDR_LIST or a..b node, in unit (see kdr_const_list) */
} kdr_cv_kind;

typedef struct kdr_cval {
    kdr_cv_kind kind;
    double num;
    const char *str;
    size_t len;
    const kdr_node *node;
    const kdr_unit *unit;
} kdr_cval;

typedef enum kdr_ce_status { KDR_CE_ERROR = -1, KDR_CE_OK = 0, KDR_CE_UNKNOWN = 1 } kdr_ce_status;

enum {
    KDR_CE_STRICT = 1,       /* UNKNOWN is reported as an error too ("expected a number") */
    KDR_CE_SWEEP_FIRST = 2   /* a sweep variable is its first value (the sweep driver sets each
                                sweep to one value with an override); without it: UNKNOWN */
};

typedef struct kdr_consteval {
    const kdr_program *prog;
    kdr_diag *diag;          /* NULL: report nothing, only fill err_* */
    unsigned flags;          /* KDR_CE_* */
    /* Names bound around the expression, asked before `let` and `sweep`:
     * return 1 with *out set, -1 when the name is bound but not a constant
     * (a loop variable, a net parameter), 0 when it is not bound here. */
    int (*bound)(void *ctx, const kdr_node *ident, kdr_cval *out);
    void *ctx;
    /* the last UNKNOWN or ERROR */
    const kdr_unit *err_unit;
    const kdr_node *err_at;
    char err_msg[200];
} kdr_consteval;

void kdr_consteval_init(kdr_consteval *ev, const kdr_program *prog, kdr_diag *diag, unsigned flags);

/* The value of e, written in unit u. */
kdr_ce_status kdr_const_eval(kdr_consteval *ev, const kdr_unit *u, const kdr_node *e, kdr_cval *out);
/* A number (true/false count as 1/0). */
kdr_ce_status kdr_const_num(kdr_consteval *ev, const kdr_unit *u, const kdr_node *e, double *out);
/* A whole number in [lo, hi]; outside it is an ERROR ("expected a whole number >= lo, got x"). */
kdr_ce_status kdr_const_int(kdr_consteval *ev, const kdr_unit *u, const kdr_node *e, int64_t lo,
                            double hi, int64_t *out);
/* The elements of a list value ([a, b, ...] or a..b with whole-number
 * ends, also through a `let`), each evaluated: up to max into items, their
 * count in *n (more than max is an ERROR; a value that is not a list is
 * UNKNOWN). */
kdr_ce_status kdr_const_items(kdr_consteval *ev, const kdr_unit *u, const kdr_node *e, kdr_cval *items,
                              size_t max, size_t *n);
/* The same for a list of numbers. */
kdr_ce_status kdr_const_list(kdr_consteval *ev, const kdr_unit *u, const kdr_node *e, double *xs,
                             size_t max, size_t *n);

#endif
