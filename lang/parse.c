/* parse.c — reading recipe files, the token layer between the raw flex
 * scanner and the bison parser, and node construction.
 *
 * The token layer (kdr_lex) applies the language's line rules:
 *  - ';' is a statement end, like a newline;
 *  - a newline ends a statement only outside ( ) and [ ], when the previous
 *    token cannot continue (an operator, ',', '=', ':' ...), and when the
 *    next line does not start with an infix operator, 'and', 'or' or 'else';
 *  - a statement word (train, epochs, loss, ...) is a keyword only as the
 *    first word of a statement inside a block, and not before '=' or '[';
 *  - a statement end is added before '}' and at the end of the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parse_int.h"
#include "parser.h"

/* flex's reentrant interface (lexer.c), declared here so that no generated
 * header is needed. */
int kdr_raw_lex(YYSTYPE *v, YYLTYPE *l, yyscan_t scanner);
int yylex_init_extra(kdr_parser *extra, yyscan_t *scanner);
int yylex_destroy(yyscan_t scanner);
void *yy_scan_bytes(const char *bytes, int len, yyscan_t scanner);
void *kdr_yyget_extra_(yyscan_t s);

#define KDR_MAX_FILE (64u << 20)   /* 64 MiB: a recipe is text */

kdr_node *kdr_mk(kdr_parser *P, kdr_kind k, kdr_loc loc)
{
    kdr_node *n = kdr_arena_alloc(P->arena, sizeof *n);
    n->kind = k;
    n->beg = loc.beg;
    n->end = loc.end;
    n->depth = 1;
    return n;
}

static uint32_t dep(const kdr_node *n) { return n ? n->depth : 0; }

kdr_node *kdr_depth(kdr_parser *P, kdr_node *n)
{
    uint32_t d = dep(n->a);
    if (dep(n->b) > d) d = dep(n->b);
    if (dep(n->c) > d) d = dep(n->c);
    for (const kdr_node *k = n->kids; k; k = k->next)
        if (k->depth > d) d = k->depth;
    n->depth = d + 1;
    if (n->depth > KDR_MAX_EXPR_DEPTH) {
        if (!P->depth_reported)
            kdr_diag_push(P->diag, KDR_ERROR, P->unit, n->beg, n->end,
                          "expression nested more than %d levels deep", KDR_MAX_EXPR_DEPTH);
        P->depth_reported = 1;
        P->fatal = 1;   /* stop reading: the rest of such input is noise */
        kdr_node *z = kdr_mk(P, KDR_NUM, (kdr_loc){ n->beg, n->end });
        return z;
    }
    return n;
}

kdr_node *kdr_stmt_depth(kdr_parser *P, kdr_node *n)
{
    if (!n) return NULL;
    uint32_t d = dep(n->a);
    if (dep(n->b) > d) d = dep(n->b);
    if (dep(n->c) > d) d = dep(n->c);
    for (const kdr_node *k = n->kids; k; k = k->next)
        if (k->depth > d) d = k->depth;
    n->depth = d + 1;
    if (n->depth > KDR_MAX_STMT_DEPTH) {
        if (!P->depth_reported)
            kdr_diag_push(P->diag, KDR_ERROR, P->unit, n->beg, n->end,
                          "statement nested more than %d levels deep", KDR_MAX_STMT_DEPTH);
        P->depth_reported = 1;
        P->fatal = 1;
        return NULL;
    }
    return n;
}

const char *kdr_intern(kdr_parser *P, const char *s, size_t n)
{
    return kdr_arena_intern(P->arena, s, n);
}

static const struct { const char *w; int tok; } stmt_words[] = {
    {"train", W_TRAIN}, {"test", W_TEST}, {"val", W_VAL}, {"augment", W_AUGMENT},
    {"normalize", W_NORMALIZE}, {"limit", W_LIMIT}, {"teacher", W_TEACHER},
    {"epochs", W_EPOCHS}, {"batch", W_BATCH}, {"seed", W_SEED},
    {"optimizer", W_OPTIMIZER}, {"lr", W_LR}, {"loss", W_LOSS},
    {"checkpoint", W_CHECKPOINT}, {"after", W_AFTER}, {"alternate", W_ALTERNATE},
    {"derive", W_DERIVE}, {"evaluate", W_EVALUATE}, {"table", W_TABLE},
    {"bridge", W_BRIDGE},
};

static int at_stmt_start(int last)
{
    return last == 0 || last == NL || last == '{';
}

/* tokens after which a newline never ends a statement */
static int continues(int last)
{
    switch (last) {
    case '+': case '-': case '*': case '/': case '%': case '^': case '<': case '>':
    case '=': case ',': case ':': case '?': case '.': case '@': case '(': case '[':
    case EQ: case NE: case LE: case GE: case DOTDOT: case AND: case OR: case NOT:
        return 1;
    default:
        return 0;
    }
}

static int is_word_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static uint32_t skip_blanks(const kdr_unit *u, uint32_t p)
{
    while (p < u->len && (u->src[p] == ' ' || u->src[p] == '\t' || u->src[p] == '\r' ||
                          u->src[p] == '\f' || u->src[p] == '\v'))
        p++;
    return p;
}

static int starts_word(const kdr_unit *u, uint32_t p, const char *w)
{
    size_t n = strlen(w);
    if (p + n > u->len || memcmp(u->src + p, w, n) != 0) return 0;
    return p + n == u->len || !is_word_char((unsigned char)u->src[p + n]);
}

/* Does the text at p (start of the next line) continue the statement? */
static int next_line_continues(const kdr_unit *u, uint32_t p)
{
    p = skip_blanks(u, p);
    if (p >= u->len) return 0;
    char c = u->src[p], c2 = p + 1 < u->len ? u->src[p + 1] : 0;
    switch (c) {
    case '+': case '-': case '*': case '/': case '%': case '^': case '?': case ':':
    case '.': case '@': case '<': case '>':
        return 1;
    case '=': case '!':
        return c2 == '=';
    default:
        return starts_word(u, p, "and") || starts_word(u, p, "or") || starts_word(u, p, "else");
    }
}

int kdr_lex(YYSTYPE *v, YYLTYPE *l, yyscan_t scanner)
{
    kdr_parser *P = kdr_yyget_extra_(scanner);
    int tok;

    if (P->pending) {
        tok = P->pending;
        *l = P->pending_loc;
        P->pending = 0;
        goto deliver;
    }
    for (;;) {
        if (P->fatal || P->diag->truncated) {
            tok = 0;
        } else {
            tok = kdr_raw_lex(v, l, scanner);
        }
        if (tok == 0) {
            /* end the last statement, then end the file */
            if (!P->eof_nl_done && !at_stmt_start(P->last_tok) &&
                (P->depth == 0 || P->nest[P->depth - 1] == '{')) {
                P->eof_nl_done = 1;
                l->beg = l->end = (uint32_t)P->unit->len;
                tok = NL;
                P->nl_is_semicolon = 0;
                goto deliver;
            }
            l->beg = l->end = (uint32_t)P->unit->len;
            goto deliver;
        }
        if (tok == ';') {
            tok = NL;
            P->nl_is_semicolon = 1;
            goto deliver;
        }
        if (tok == NL) {
            if (P->depth > 0 && P->nest[P->depth - 1] != '{') continue;
            if (at_stmt_start(P->last_tok)) continue;
            if (continues(P->last_tok)) continue;
            if (next_line_continues(P->unit, P->pos)) continue;
            l->end = l->beg + 1;
            P->nl_is_semicolon = 0;
            goto deliver;
        }
        if (tok == '}' && !at_stmt_start(P->last_tok)) {
            P->pending = '}';
            P->pending_loc = *l;
            l->end = l->beg;
            tok = NL;
            P->nl_is_semicolon = 0;
            goto deliver;
        }
        /* `at` is a word only in `teacher NAME at epoch E`; elsewhere it is a
         * name (the `at(...)` loss, a phase called at) */
        if (tok == AT && !(P->last_tok == IDENT && P->before_last_tok == W_TEACHER)) {
            tok = IDENT;
            v->str = kdr_intern(P, "at", 2);
        }
        if (tok == IDENT && at_stmt_start(P->last_tok) && P->depth > 0 &&
            P->nest[P->depth - 1] == '{') {
            uint32_t p = skip_blanks(P->unit, l->end);
            int assign = p < P->unit->len &&
                         ((P->unit->src[p] == '=' &&
                           (p + 1 >= P->unit->len || P->unit->src[p + 1] != '=')) ||
                          P->unit->src[p] == '[');
            if (!assign) {
                for (size_t i = 0; i < sizeof stmt_words / sizeof stmt_words[0]; i++)
                    if (strcmp(stmt_words[i].w, v->str) == 0) { tok = stmt_words[i].tok; break; }
            }
        }
        goto deliver;
    }
deliver:
    /* `as` in a loss statement labels a term (`0.9 * kd(...) as soft`) */
    if (at_stmt_start(P->last_tok)) P->stmt_tok = tok;
    else if (tok == AS && P->stmt_tok == W_LOSS) tok = AS_LABEL;
    P->before_last_tok = P->last_tok;
    P->last_tok = tok;
    return tok;
}

int yyparse(yyscan_t scanner);

static kdr_unit *unit_new(const char *path)
{
    kdr_unit *u = calloc(1, sizeof *u);
    if (!u) return NULL;
    u->arena = kdr_arena_new();
    if (!u->arena) { free(u); return NULL; }
    u->path = kdr_arena_intern(u->arena, path ? path : "<input>", strlen(path ? path : "<input>"));
    u->src = "";
    return u;
}

kdr_unit *kdr_parse_buffer(const char *path, const char *buf, size_t len, kdr_diag *d)
{
    kdr_unit *u = unit_new(path);
    if (!u) return NULL;
    if (len > KDR_MAX_FILE) {
        kdr_diag_push(d, KDR_ERROR, NULL, 0, 0, "%s: file is larger than %u MiB; is it a recipe?",
                      u->path, KDR_MAX_FILE >> 20);
        return u;
    }
    char *src = kdr_arena_alloc(u->arena, len + 1);
    if (len) memcpy(src, buf, len);
    src[len] = 0;
    u->src = src;
    u->len = len;

    kdr_parser P;
    memset(&P, 0, sizeof P);
    P.unit = u;
    P.diag = d;
    P.arena = u->arena;
    yyscan_t scanner;
    if (yylex_init_extra(&P, &scanner) != 0) {
        kdr_diag_push(d, KDR_ERROR, NULL, 0, 0, "%s: out of memory", u->path);
        return u;
    }
    yy_scan_bytes(src, (int)len, scanner);
    yyparse(scanner);
    yylex_destroy(scanner);
    if (!u->root) {   /* the parser gave up before reducing the file */
        kdr_loc all = { 0, (uint32_t)len };
        u->root = kdr_mk(&P, KDR_UNIT, all);
    }
    return u;
}

kdr_unit *kdr_parse_file(const char *path, kdr_diag *d)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK);   /* a FIFO must not block: refused below */
    if (fd < 0) {
        kdr_unit *u = unit_new(path);
        kdr_diag_push(d, KDR_ERROR, NULL, 0, 0, "%s: cannot open: %s", path, strerror(errno));
        return u;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
        close(fd);
        kdr_unit *u = unit_new(path);
        kdr_diag_push(d, KDR_ERROR, NULL, 0, 0, "%s: %s", path,
                      dir ? "is a directory, not a recipe file" : "not a regular file");
        return u;
    }
    if ((uint64_t)st.st_size > KDR_MAX_FILE) {
        close(fd);
        kdr_unit *u = unit_new(path);
        kdr_diag_push(d, KDR_ERROR, NULL, 0, 0, "%s: file is larger than %u MiB; is it a recipe?",
                      path, KDR_MAX_FILE >> 20);
        return u;
    }
    size_t cap = (size_t)st.st_size + 1, len = 0;
    char *buf = malloc(cap);
    if (!buf) { close(fd); return NULL; }
    for (;;) {
        if (len == cap) {
            if (cap > KDR_MAX_FILE) break;
            char *nb = realloc(buf, cap * 2);
            if (!nb) { free(buf); close(fd); return NULL; }
            buf = nb; cap *= 2;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            free(buf); close(fd);
            kdr_unit *u = unit_new(path);
            kdr_diag_push(d, KDR_ERROR, NULL, 0, 0, "%s: read error: %s", path, strerror(e));
            return u;
        }
        if (r == 0) break;
        len += (size_t)r;
    }
    close(fd);
    kdr_unit *u = kdr_parse_buffer(path, buf, len, d);
    free(buf);
    return u;
}

void kdr_unit_free(kdr_unit *u)
{
    if (!u) return;
    kdr_arena_free(u->arena);
    free(u);
}

size_t kdr_tokenize(const char *buf, size_t len, int *toks, kdr_loc *locs, size_t max,
                    kdr_diag *d)
{
    kdr_unit *u = unit_new("<tokens>");
    if (!u) return 0;
    char *src = kdr_arena_alloc(u->arena, len + 1);
    if (len) memcpy(src, buf, len);
    u->src = src;
    u->len = len;
    kdr_parser P;
    memset(&P, 0, sizeof P);
    P.unit = u;
    P.diag = d;
    P.arena = u->arena;
    yyscan_t scanner;
    size_t n = 0;
    if (yylex_init_extra(&P, &scanner) == 0) {
        yy_scan_bytes(src, (int)len, scanner);
        for (;;) {
            YYSTYPE v;
            YYLTYPE l;
            int t = kdr_lex(&v, &l, scanner);
            if (n < max) { toks[n] = t; if (locs) locs[n] = l; }
            n++;
            if (t == 0) break;
        }
        yylex_destroy(scanner);
    }
    /* messages refer to this temporary unit: keep only their text */
    for (size_t i = 0; i < d->count; i++)
        if (d->msgs[i].unit == u) d->msgs[i].unit = NULL;
    kdr_unit_free(u);
    return n;
}
