/* parse_int.h — state shared by the lexer (lexer.l), the parser (parser.y)
 * and parse.c.  Not part of the public interface. */
#ifndef KDR_PARSE_INT_H
#define KDR_PARSE_INT_H

#include <stdint.h>
#include "kdr.h"

typedef struct kdr_loc { uint32_t beg, end; } kdr_loc;

typedef struct kdr_list { kdr_node *head, *tail; } kdr_list;

#define KDR_MAX_NEST 256
#define KDR_MAX_IDENT 255
#define KDR_MAX_EXPR_DEPTH 1000   /* keeps every recursive walk of the tree shallow */
#define KDR_MAX_STMT_DEPTH 4000   /* statements and blocks around expressions */

typedef struct kdr_parser {
    kdr_unit *unit;
    kdr_diag *diag;
    kdr_arena *arena;
    uint32_t pos;            /* byte offset of the next unread input byte */
    int last_tok;            /* last token handed to the parser (0 = none yet) */
    int before_last_tok;     /* the one before it */
    int stmt_tok;            /* the first token of the statement being read */
    int pending;             /* a token held back while a virtual NL is emitted */
    kdr_loc pending_loc;
    char nest[KDR_MAX_NEST]; /* open brackets: '(' '[' '{' */
    int depth;
    int fatal;               /* stop lexing: return end of input */
    int eof_nl_done;         /* the NL added before end of input was sent */
    int depth_reported;      /* the expression depth error was given */
    int nl_is_semicolon;     /* the last NL token was written ';' */
    uint32_t last_stray_end; /* end of the last stray byte (one error per run) */
} kdr_parser;

/* parse.c: node construction */
kdr_node *kdr_mk(kdr_parser *P, kdr_kind k, kdr_loc loc);
/* Compute n->depth from its children; a too-deep expression is reported and
 * replaced by a number so that later passes stay within the limit. */
kdr_node *kdr_depth(kdr_parser *P, kdr_node *n);
/* The same for a statement (limit KDR_MAX_STMT_DEPTH); returns NULL when the
 * statement is too deep, so that it is dropped from its list. */
kdr_node *kdr_stmt_depth(kdr_parser *P, kdr_node *n);
const char *kdr_intern(kdr_parser *P, const char *s, size_t n);

/* Tokenize a buffer with the full token layer (for tests); returns the
 * number of tokens including the final end-of-file (0). */
size_t kdr_tokenize(const char *buf, size_t len, int *toks, kdr_loc *locs, size_t max,
                    kdr_diag *d);

/* lexer.l */
const char *kdr_token_text(int tok);   /* a readable name for error messages */

#endif
