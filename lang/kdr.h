/* kdr.h — the .kdr language front end: the public interface of lang/.
 *
 * lang/ knows text: it reads recipe files, parses them into an AST
 * (lang/ast.h), resolves `use`, checks names and types, and reports
 * problems as located diagnostics.  It knows nothing of tensors.
 *
 * Errors are values: functions return a status and push messages into a
 * kdr_diag; only main() prints and exits.
 */
#ifndef KDR_H
#define KDR_H

#include <stdio.h>
#include "ast.h"

/* ---- arena ------------------------------------------------------------ */
kdr_arena *kdr_arena_new(void);
void *kdr_arena_alloc(kdr_arena *a, size_t n);          /* zeroed, 16-aligned */
const char *kdr_arena_intern(kdr_arena *a, const char *s, size_t n);
void kdr_arena_free(kdr_arena *a);

/* ---- diagnostics ------------------------------------------------------ */
typedef enum { KDR_ERROR, KDR_WARNING, KDR_NOTE } kdr_severity;

typedef struct kdr_diag_msg {
    kdr_severity sev;
    const kdr_unit *unit;   /* may be NULL: message without a location */
    uint32_t beg, end;      /* byte offsets in unit->src */
    char *text;             /* owned, no trailing newline */
} kdr_diag_msg;

typedef struct kdr_diag {
    kdr_diag_msg *msgs;
    size_t count, cap;
    size_t errors;          /* number of KDR_ERROR messages */
    size_t max_errors;      /* cap (default 20); past it: "too many errors" */
    int truncated;          /* 1 once the cap was hit */
    int dropping;           /* notes after a dropped error are dropped too */
} kdr_diag;

void kdr_diag_init(kdr_diag *d);
void kdr_diag_free(kdr_diag *d);
/* Push a located message (unit may be NULL). printf-style. */
void kdr_diag_push(kdr_diag *d, kdr_severity sev, const kdr_unit *u,
                   uint32_t beg, uint32_t end, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Print every message GNU style: "path:LINE:COL: error: text", the source
 * line, and a caret/tilde line under [beg, end).  color: 0 or 1. */
void kdr_diag_print(const kdr_diag *d, FILE *out, int color);
/* 1-based line and byte column of offset `off` in `u`. */
void kdr_unit_linecol(const kdr_unit *u, uint32_t off, int *line, int *col);

/* ---- parsing ---------------------------------------------------------- */
/* Read and parse one file.  Always returns a unit (never NULL) unless out of
 * memory; on a read error unit->root is NULL and a message is in `d`. */
kdr_unit *kdr_parse_file(const char *path, kdr_diag *d);
/* Parse an in-memory buffer (need not be NUL-terminated; may contain NULs). */
kdr_unit *kdr_parse_buffer(const char *path, const char *buf, size_t len,
                           kdr_diag *d);
void kdr_unit_free(kdr_unit *u);

/* ---- programs: a root file and everything it `use`s -------------------- */
typedef struct kdr_program {
    kdr_unit **units;       /* units[0] is the root file */
    size_t nunits;
    /* filled by kdr_check(): */
    kdr_node **phase_order; /* KDR_PHASE nodes in execution order */
    size_t nphases;
    /* search path for `use` after the including file's directory */
    const char *zoo_dir;
} kdr_program;

/* --set key=value overrides, applied to `let`, `sweep`, phase settings
 * (`phase.NAME.epochs=1`, or `epochs=1` for every phase) and data settings
 * (`data.NAME.limit=2000`). */
typedef struct kdr_override {
    const char *key;
    const char *value;
    int used;               /* set by kdr_check when it matched something */
} kdr_override;

/* Load `path` and every file it uses (cycles and missing files are errors). */
kdr_program *kdr_program_load(const char *path, const char *zoo_dir, kdr_diag *d);
/* Resolve names, check types and arities, apply overrides, order phases.
 * Returns 0 when no error was found. */
int kdr_check(kdr_program *p, kdr_override *ov, size_t nov, kdr_diag *d);
/* Print the plan (phases in order, models and what they are built from). */
void kdr_program_print_plan(const kdr_program *p, FILE *out);
void kdr_program_free(kdr_program *p);

/* Debug: print the AST of a unit as an S-expression (used by parser tests). */
void kdr_ast_dump(const kdr_node *n, FILE *out);
/* A part of `model M = ... from "FILE": part, ...` as a parameter path
 * pattern ("block[1,*]", "linear0"); -1 (and *bad, may be NULL: the
 * offending node) when it is not a path or does not fit in n bytes. */
int kdr_weights_part(const kdr_node *e, char *buf, size_t n, const kdr_node **bad);

#endif
