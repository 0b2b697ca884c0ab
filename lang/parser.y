/* parser.y — the .kdr grammar (see doc/SYNTAX.md and kdr(5)).
 *
 * A pure LALR(1) parser with byte-offset locations.  Statements end with
 * NL (a newline or ';' — the lexer layer in parse.c turns ';' into NL and
 * drops newlines that do not end a statement).  Error recovery is at
 * statement level: a bad statement is skipped to the end of its line.
 */
%require "3.5"
%define api.pure full
%define api.location.type {kdr_loc}
%define parse.error custom
%define parse.lac full
%locations
%expect 0
%param {yyscan_t scanner}

%code requires {
#include "parse_int.h"
typedef void *yyscan_t;
typedef struct kdr_str_val { const char *s; size_t n; } kdr_str_val;
}

%code provides {
int kdr_lex(YYSTYPE *v, YYLTYPE *l, yyscan_t scanner);
}

%code {
#include <string.h>
#include <stdio.h>
#include "parse_int.h"

#define yylex kdr_lex
#define YYMAXDEPTH 4000

#define YYLLOC_DEFAULT(Cur, Rhs, N)                          \
    do {                                                     \
        if (N) { (Cur).beg = YYRHSLOC(Rhs, 1).beg;           \
                 (Cur).end = YYRHSLOC(Rhs, N).end; }         \
        else   { (Cur).beg = (Cur).end = YYRHSLOC(Rhs, 0).end; } \
    } while (0)

void *kdr_yyget_extra_(yyscan_t s);
#define PARSER ((kdr_parser *)kdr_yyget_extra_(scanner))
#define MK(kind, loc) kdr_mk(PARSER, (kind), (loc))

static void yyerror(YYLTYPE *loc, yyscan_t scanner, const char *msg);

static kdr_list list1(kdr_node *n) { kdr_list l = { n, n }; return l; }
static kdr_list list_add(kdr_list l, kdr_node *n)
{
    if (!n) return l;
    if (!l.head) l.head = l.tail = n;
    else { l.tail->next = n; l.tail = n; }
    while (l.tail->next) l.tail = l.tail->next;   /* a statement that is several (model ts[s]) */
    return l;
}
static kdr_node *setting(yyscan_t scanner, kdr_setting which, kdr_loc loc)
{
    kdr_node *n = MK(KDR_SETTING, loc);
    const char *word = kdr_setting_info_of(which)->name;
    n->setting = which;
    n->word = kdr_intern(PARSER, word, strlen(word));
    return n;
}
static kdr_node *binary(yyscan_t scanner, int op, kdr_node *a, kdr_node *b, kdr_loc loc)
{
    kdr_node *n = MK(KDR_BINARY, loc);
    n->op = op; n->a = a; n->b = b;
    return kdr_depth(PARSER, n);
}
static kdr_node *ident(yyscan_t scanner, const char *name, kdr_loc loc)
{
    kdr_node *n = MK(KDR_IDENT, loc);
    n->name = name;
    return n;
}
/* `TERM as NAME` in a loss: the label goes on the term's node (the checker
 * says where a label may stand: lang/check_labels.c). */
static kdr_node *label_term(yyscan_t scanner, kdr_node *e, const char *name, kdr_loc loc)
{
    if (e->label) {
        kdr_diag_push(PARSER->diag, KDR_ERROR, PARSER->unit, loc.beg, loc.end,
                      "this term is labelled '%s' already; a term has one label", e->label->name);
        return e;
    }
    e->label = ident(scanner, name, loc);
    return e;
}
/* `GROUPS minimize EXPR [on DATA.SPLIT] lr VALUE`: the step's learning rate
 * (the word must be `lr`) */
static kdr_node *step_lr(yyscan_t scanner, const char *word, kdr_loc at, kdr_node *value)
{
    if (strcmp(word, "lr") != 0) {
        kdr_diag_push(PARSER->diag, KDR_ERROR, PARSER->unit, at.beg, at.end,
                      "unexpected '%s' after a step's objective; a step ends with "
                      "[on DATA.SPLIT] [lr VALUE]", word);
        return NULL;
    }
    return value;
}
/* A whole number written as such (`3`, `-1`) in *v. */
static int whole(const kdr_node *e, double *v)
{
    if (e && e->kind == KDR_UNARY && e->op == '-' && e->a && e->a->kind == KDR_NUM) *v = -e->a->num;
    else if (e && e->kind == KDR_NUM) *v = e->num;
    else return 0;
    return *v == (double)(long long)*v && *v > -1e9 && *v < 1e9;
}
#define MAX_MEMBERS 256
/* `model NAME[VAR] = CALL for VAR2 in RANGE`: one model per index k,
 * named "NAME[k]", each a KDR_MODEL whose `extra` is VAR and `num` k (the
 * call is shared and evaluated with VAR = k); returned as a chain.  The
 * indexes are written in the declaration (a..b or [a, b, ...], whole
 * numbers), so every name is known before anything is evaluated. */
static kdr_node *model_family(yyscan_t scanner, kdr_loc all, const char *name, kdr_loc nloc,
                              const char *var, const char *var2, kdr_loc v2loc, kdr_node *call,
                              kdr_node *range)
{
    kdr_parser *P = PARSER;
    if (strcmp(var, var2) != 0) {
        kdr_diag_push(P->diag, KDR_ERROR, P->unit, v2loc.beg, v2loc.end,
                      "the index of '%s[%s]' is '%s'; write 'for %s in ...'", name, var, var, var);
        return NULL;
    }
    double ks[MAX_MEMBERS];
    int n = 0, ok = 1;
    double lo, hi;
    if (range->kind == KDR_BINARY && range->op == KDR_OP_RANGE) {
        ok = whole(range->a, &lo) && whole(range->b, &hi) && lo <= hi && hi - lo < MAX_MEMBERS;
        for (double k = lo; ok && k <= hi; k++) ks[n++] = k;
    } else if (range->kind == KDR_LIST && range->kids) {
        for (const kdr_node *e = range->kids; e && ok; e = e->next) {
            ok = n < MAX_MEMBERS && whole(e, &ks[n]);
            for (int i = 0; ok && i < n; i++)
                if (ks[i] == ks[n]) {
                    kdr_diag_push(P->diag, KDR_ERROR, P->unit, e->beg, e->end,
                                  "index %g of model '%s' is listed twice", ks[n], name);
                    return NULL;
                }
            n++;
        }
    } else ok = 0;
    if (!ok) {
        kdr_diag_push(P->diag, KDR_ERROR, P->unit, range->beg, range->end,
                      "the indexes of model '%s' must be written as whole numbers, at most %d of "
                      "them: for %s in 1..3, or for %s in [1, 2, 4]", name, MAX_MEMBERS, var, var);
        return NULL;
    }
    kdr_node *head = NULL, *tail = NULL;
    for (int i = 0; i < n; i++) {
        char buf[160];
        int len = snprintf(buf, sizeof buf, "%s[%lld]", name, (long long)ks[i]);
        kdr_node *m = MK(KDR_MODEL, all);
        m->name = kdr_intern(P, buf, len > 0 && (size_t)len < sizeof buf ? (size_t)len : strlen(buf));
        m->a = call;
        m->c = ident(scanner, m->name, nloc);
        m->extra = var;
        m->num = ks[i];
        kdr_stmt_depth(P, m);
        if (tail) tail->next = m; else head = m;
        tail = m;
    }
    return head;
}
}

%union {
    double num;
    const char *str;
    kdr_str_val sv;
    kdr_node *node;
    kdr_list list;
    int flags;
}

%token END 0 "end of file"
%token <num> NUM "number"
%token <sv> STR "string"
%token <str> IDENT "identifier"
%token NL "end of line"
%token EQ "'=='" NE "'!='" LE "'<='" GE "'>='" DOTDOT "'..'"
%token USE "'use'" LET "'let'" DATA "'data'" NET "'net'" MODEL "'model'"
%token POOL "'pool'" SEARCH "'search'" PHASE "'phase'" SWEEP "'sweep'"
%token REPORT "'report'" FOR "'for'" IN "'in'" IF "'if'" ELSE "'else'"
%token REPEAT "'repeat'" FROM "'from'" AS "'as'" ON "'on'" AT "'at'"
%token OUT "'out'" AND "'and'" OR "'or'" NOT "'not'" TRUE "'true'"
%token FALSE "'false'" SUM "'sum'" EVERY "'every'" KEEP "'keep'"
%token HOLDOUT "'holdout'" FROZEN "'frozen'" FOLLOWS "'follows'"
%token TOGETHER "'together'" MINIMIZE "'minimize'" ROWS "'rows'" COLS "'cols'"
/* statement words: keywords only at the start of a statement in a block */
%token W_TRAIN "'train'" W_TEST "'test'" W_VAL "'val'" W_AUGMENT "'augment'"
%token W_NORMALIZE "'normalize'" W_LIMIT "'limit'" W_TEACHER "'teacher'"
%token W_EPOCHS "'epochs'" W_BATCH "'batch'" W_SEED "'seed'"
%token W_OPTIMIZER "'optimizer'" W_LR "'lr'" W_LOSS "'loss'"
%token W_CHECKPOINT "'checkpoint'" W_AFTER "'after'" W_ALTERNATE "'alternate'"
%token W_DERIVE "'derive'" W_EVALUATE "'evaluate'" W_TABLE "'table'"
%token W_BRIDGE "'bridge'"
/* `as` inside a loss statement (the token layer turns AS into it): a term's label */
%token AS_LABEL "'as' (a label)"

%type <node> top_stmt stmt block_stmt expr postfix primary arg param lvalue
%type <node> if_stmt index_elem block_node word_ident ckpt_unit ckpt_keep ckpt_as weights_from
%type <list> top_list stmt_list block args args_opt params params_opt
%type <list> expr_list expr_list_opt index_list name_list
%type <str> key member_name
%type <flags> opt_together opt_frozen

%precedence SUM_PREC
%right '?' ':'
%left OR
%left AND
%precedence NOT
%nonassoc EQ NE '<' LE '>' GE
%nonassoc DOTDOT
%left '+' '-'
%precedence AS_LABEL
%left '*' '/' '%'
%precedence UMINUS
%right '^'
%left '@'

%%

file:
    top_list                       { kdr_node *u = MK(KDR_UNIT, @$); u->kids = $1.head;
                                     u->beg = 0; u->end = (uint32_t)PARSER->unit->len;
                                     PARSER->unit->root = u; }
  ;

top_list:
    %empty                         { $$.head = $$.tail = NULL; }
  | top_list NL                    { $$ = $1; }
  | top_list top_stmt NL           { $$ = list_add($1, kdr_stmt_depth(PARSER, $2)); }
  | top_list error NL              { $$ = $1; yyerrok; }
  ;

top_stmt:
    USE STR                        { $$ = MK(KDR_USE, @$); $$->str = $2.s; $$->str_len = $2.n;
                                     $$->a = MK(KDR_STR, @2); $$->a->str = $2.s; $$->a->str_len = $2.n; }
  | LET IDENT '=' expr             { $$ = MK(KDR_LET, @$); $$->name = $2; $$->a = $4; $$->c = ident(scanner, $2, @2); }
  | DATA IDENT '=' expr            { $$ = MK(KDR_DATA, @$); $$->name = $2; $$->a = $4; $$->c = ident(scanner, $2, @2); }
  | DATA IDENT '=' expr block      { $$ = MK(KDR_DATA, @$); $$->name = $2; $$->a = $4; $$->kids = $5.head; $$->c = ident(scanner, $2, @2); }
  | NET IDENT '(' params_opt ')' block
                                   { $$ = MK(KDR_NET, @$); $$->name = $2; $$->params = $4.head; $$->kids = $6.head; $$->c = ident(scanner, $2, @2); }
  | MODEL IDENT '=' expr           { $$ = MK(KDR_MODEL, @$); $$->name = $2; $$->a = $4; $$->c = ident(scanner, $2, @2); }
  | MODEL IDENT '=' expr weights_from
                                   { $$ = MK(KDR_MODEL, @$); $$->name = $2; $$->a = $4; $$->c = ident(scanner, $2, @2);
                                     $$->b = $5; }
  | MODEL IDENT '[' IDENT ']' '=' expr FOR IDENT IN expr
                                   { $$ = model_family(scanner, @$, $2, @2, $4, $9, @9, $7, $11); }
  | POOL IDENT '=' expr            { $$ = MK(KDR_POOL, @$); $$->name = $2; $$->a = $4; $$->c = ident(scanner, $2, @2); }
  | SEARCH IDENT block             { $$ = MK(KDR_SEARCH, @$); $$->name = $2; $$->kids = $3.head; $$->c = ident(scanner, $2, @2); }
  | PHASE IDENT block              { $$ = MK(KDR_PHASE, @$); $$->name = $2; $$->kids = $3.head; $$->c = ident(scanner, $2, @2); }
  | SWEEP IDENT IN expr            { $$ = MK(KDR_SWEEP, @$); $$->name = $2; $$->a = $4; $$->c = ident(scanner, $2, @2); }
  | REPORT block                   { $$ = MK(KDR_REPORT, @$); $$->kids = $2.head; }
  | REPORT IDENT block             { $$ = MK(KDR_REPORT, @$); $$->name = $2; $$->kids = $3.head; $$->c = ident(scanner, $2, @2); }
  ;

params_opt:
    %empty                         { $$.head = $$.tail = NULL; }
  | params                         { $$ = $1; }
  | params ','                     { $$ = $1; }
  ;
params:
    param                          { $$ = list1($1); }
  | params ',' param               { $$ = list_add($1, $3); }
  ;
param:
    IDENT                          { $$ = MK(KDR_PARAM, @$); $$->name = $1; }
  | IDENT ':' expr                 { $$ = MK(KDR_PARAM, @$); $$->name = $1; $$->a = $3; }
  ;

block:
    '{' stmt_list '}'              { $$ = $2; }
  ;
block_node:
    block                          { $$ = MK(KDR_BLOCK, @$); $$->kids = $1.head; kdr_stmt_depth(PARSER, $$); }
  ;

stmt_list:
    %empty                         { $$.head = $$.tail = NULL; }
  | stmt_list NL                   { $$ = $1; }
  | stmt_list stmt NL              { $$ = list_add($1, kdr_stmt_depth(PARSER, $2)); }
  | stmt_list error NL             { $$ = $1; yyerrok; }
  ;

stmt:
    lvalue '=' expr                { $$ = MK(KDR_ASSIGN, @$); $$->a = $1; $$->b = $3; }
  | OUT expr                       { $$ = MK(KDR_OUT, @$); $$->a = $2; }
  | FOR IDENT IN expr block        { $$ = MK(KDR_FOR, @$); $$->name = $2; $$->a = $4; $$->kids = $5.head; $$->c = ident(scanner, $2, @2); }
  | if_stmt                        { $$ = $1; }
  | block_stmt                     { $$ = $1; }
  ;

lvalue:
    IDENT                          { $$ = ident(scanner, $1, @1); }
  | IDENT '[' index_list ']'       { $$ = MK(KDR_INDEX, @$); $$->a = ident(scanner, $1, @1); $$->kids = $3.head; }
  ;

if_stmt:
    IF expr block                  { $$ = MK(KDR_IF, @$); $$->a = $2; $$->kids = $3.head; kdr_stmt_depth(PARSER, $$); }
  | IF expr block ELSE block_node  { $$ = MK(KDR_IF, @$); $$->a = $2; $$->kids = $3.head; $$->b = $5; kdr_stmt_depth(PARSER, $$); }
  | IF expr block ELSE if_stmt     { $$ = MK(KDR_IF, @$); $$->a = $2; $$->kids = $3.head; $$->b = $5; kdr_stmt_depth(PARSER, $$); }
  ;

opt_together:
    %empty                         { $$ = 0; }
  | TOGETHER                       { $$ = KDR_F_TOGETHER; }
  ;
opt_frozen:
    %empty                         { $$ = KDR_F_FROZEN; }
  | FROZEN                         { $$ = KDR_F_FROZEN; }
  ;

name_list:
    word_ident                     { $$ = list1($1); }
  | name_list ',' word_ident       { $$ = list_add($1, $3); }
  ;
word_ident:
    IDENT                          { $$ = ident(scanner, $1, @1); }
  ;

/* Statements led by a statement word (settings of data, phase, search and
 * report blocks); kdr_check() says which block each one belongs in. */
block_stmt:
    W_BRIDGE IDENT '=' expr        { $$ = setting(scanner, KDR_S_BRIDGE, @$); $$->name = $2; $$->a = $4; $$->c = ident(scanner, $2, @2); }
  | W_TRAIN name_list opt_together ON expr
                                   { $$ = setting(scanner, KDR_S_TRAIN, @$); $$->kids = $2.head; $$->op = $3; $$->a = $5; }
  | W_TRAIN STR                    { $$ = setting(scanner, KDR_S_SPLIT_TRAIN, @$); $$->a = MK(KDR_STR, @2); $$->a->str = $2.s; $$->a->str_len = $2.n; }
  | W_TRAIN STR HOLDOUT expr AS IDENT
                                   { $$ = setting(scanner, KDR_S_SPLIT_TRAIN, @$); $$->a = MK(KDR_STR, @2); $$->a->str = $2.s; $$->a->str_len = $2.n;
                                     $$->b = $4; $$->name = $6; $$->c = ident(scanner, $6, @6); }
  | W_TEST STR                     { $$ = setting(scanner, KDR_S_SPLIT_TEST, @$); $$->a = MK(KDR_STR, @2); $$->a->str = $2.s; $$->a->str_len = $2.n; }
  | W_VAL STR                      { $$ = setting(scanner, KDR_S_SPLIT_VAL, @$); $$->a = MK(KDR_STR, @2); $$->a->str = $2.s; $$->a->str_len = $2.n; }
  | W_AUGMENT IDENT ':' expr_list  { $$ = setting(scanner, KDR_S_AUGMENT, @$); $$->name = $2; $$->kids = $4.head; $$->c = ident(scanner, $2, @2); }
  | W_NORMALIZE args               { $$ = setting(scanner, KDR_S_NORMALIZE, @$); $$->kids = $2.head; }
  | W_LIMIT expr                   { $$ = setting(scanner, KDR_S_LIMIT, @$); $$->a = $2; }
  | W_EPOCHS expr                  { $$ = setting(scanner, KDR_S_EPOCHS, @$); $$->a = $2; }
  | W_BATCH expr                   { $$ = setting(scanner, KDR_S_BATCH, @$); $$->a = $2; }
  | W_SEED expr                    { $$ = setting(scanner, KDR_S_SEED, @$); $$->a = $2; }
  | W_DERIVE expr                  { $$ = setting(scanner, KDR_S_DERIVE, @$); $$->a = $2; }
  | W_TEACHER IDENT opt_frozen     { $$ = setting(scanner, KDR_S_TEACHER, @$); $$->a = ident(scanner, $2, @2); $$->op = $3; }
  | W_TEACHER IDENT AT IDENT expr  { $$ = setting(scanner, KDR_S_TEACHER, @$); $$->a = ident(scanner, $2, @2); $$->op = KDR_F_FROZEN;
                                     $$->extra = $4; $$->b = $5; $$->c = ident(scanner, $4, @4); }
  | W_TEACHER FOLLOWS IDENT        { $$ = setting(scanner, KDR_S_TEACHER, @$); $$->a = ident(scanner, $3, @3); $$->op = KDR_F_FOLLOWS | KDR_F_FROZEN; }
  | W_TEACHER FOLLOWS IDENT '(' args_opt ')'
                                   { $$ = setting(scanner, KDR_S_TEACHER, @$); $$->a = ident(scanner, $3, @3); $$->op = KDR_F_FOLLOWS | KDR_F_FROZEN;
                                     $$->kids = $5.head; }
  | W_OPTIMIZER expr               { $$ = setting(scanner, KDR_S_OPTIMIZER, @$); $$->a = $2; }
  | W_OPTIMIZER IDENT ':' expr     { $$ = setting(scanner, KDR_S_OPTIMIZER, @$); $$->name = $2; $$->a = $4; $$->c = ident(scanner, $2, @2); }
  | W_LR expr                      { $$ = setting(scanner, KDR_S_LR, @$); $$->a = $2; }
  | W_LR IDENT ':' expr            { $$ = setting(scanner, KDR_S_LR, @$); $$->name = $2; $$->a = $4; $$->c = ident(scanner, $2, @2); }
  | W_LOSS expr                    { $$ = setting(scanner, KDR_S_LOSS, @$); $$->a = $2; }
  | W_LOSS IDENT ':' expr          { $$ = setting(scanner, KDR_S_LOSS, @$); $$->name = $2; $$->a = $4; $$->c = ident(scanner, $2, @2); }
  | W_CHECKPOINT EVERY expr ckpt_unit ckpt_keep ckpt_as
                                   { $$ = setting(scanner, KDR_S_CHECKPOINT, @$); $$->a = $3;
                                     if ($4) { $$->extra = $4->name; $$->c = $4; }
                                     if ($5) { $$->op |= $5->op; $$->b = $5->a; }
                                     else $$->op |= KDR_F_KEEP_ALL;
                                     if ($6) { $$->name = $6->name; $$->kids = $6; } }
  | W_AFTER name_list              { $$ = setting(scanner, KDR_S_AFTER, @$); $$->kids = $2.head; }
  | W_ALTERNATE block              { $$ = setting(scanner, KDR_S_ALTERNATE, @$); $$->kids = $2.head; }
  | name_list MINIMIZE expr        { $$ = setting(scanner, KDR_S_MINIMIZE, @$); $$->kids = $1.head; $$->a = $3; }
  | name_list MINIMIZE expr ON expr
                                   { $$ = setting(scanner, KDR_S_MINIMIZE, @$); $$->kids = $1.head; $$->a = $3; $$->b = $5; }
  | name_list MINIMIZE expr IDENT expr
                                   { $$ = setting(scanner, KDR_S_MINIMIZE, @$); $$->kids = $1.head; $$->a = $3;
                                     $$->c = step_lr(scanner, $4, @4, $5); }
  | name_list MINIMIZE expr ON expr IDENT expr
                                   { $$ = setting(scanner, KDR_S_MINIMIZE, @$); $$->kids = $1.head; $$->a = $3; $$->b = $5;
                                     $$->c = step_lr(scanner, $6, @6, $7); }
  | W_EVALUATE name_list ON expr   { $$ = setting(scanner, KDR_S_EVALUATE, @$); $$->kids = $2.head; $$->a = $4; }
  | W_EVALUATE name_list ON expr ':' expr_list
                                   { $$ = setting(scanner, KDR_S_EVALUATE, @$); $$->kids = $2.head; $$->a = $4;
                                     $$->b = MK(KDR_LIST, @6); $$->b->kids = $6.head; }
  | W_TABLE ROWS IDENT COLS IDENT ':' expr_list
                                   { $$ = setting(scanner, KDR_S_TABLE, @$); $$->extra = $3; $$->name = $5; $$->kids = $7.head;
                                     $$->a = ident(scanner, $3, @3); $$->b = ident(scanner, $5, @5); }
  | W_TABLE ROWS IDENT ':' expr_list
                                   { $$ = setting(scanner, KDR_S_TABLE, @$); $$->extra = $3; $$->kids = $5.head;
                                     $$->a = ident(scanner, $3, @3); }
  | W_TABLE ':' expr_list          { $$ = setting(scanner, KDR_S_TABLE, @$); $$->kids = $3.head; }
  ;

/* initial weights of a model: `from "FILE"` (all of them) or
 * `from "FILE": part, part` (the parameters under those paths only) */
weights_from:
    FROM STR                       { $$ = MK(KDR_STR, @2); $$->str = $2.s; $$->str_len = $2.n; }
  | FROM STR ':' expr_list         { $$ = MK(KDR_STR, @2); $$->str = $2.s; $$->str_len = $2.n; $$->kids = $4.head; }
  ;

ckpt_unit:
    %empty                         { $$ = NULL; }
  | IDENT                          { $$ = ident(scanner, $1, @1); }
  ;
ckpt_keep:
    %empty                         { $$ = NULL; }
  | KEEP IDENT                     { $$ = MK(KDR_SETTING, @$); $$->name = $2; $$->op = KDR_F_KEEP_ALL;
                                     if (strcmp($2, "all") != 0)
                                         kdr_diag_push(PARSER->diag, KDR_ERROR, PARSER->unit, @2.beg, @2.end,
                                                       "expected 'all' or 'last N' after 'keep'"); }
  | KEEP IDENT expr                { $$ = MK(KDR_SETTING, @$); $$->name = $2; $$->op = KDR_F_KEEP_LAST; $$->a = $3;
                                     if (strcmp($2, "last") != 0)
                                         kdr_diag_push(PARSER->diag, KDR_ERROR, PARSER->unit, @2.beg, @2.end,
                                                       "expected 'all' or 'last N' after 'keep'"); }
  ;
ckpt_as:
    %empty                         { $$ = NULL; }
  | AS IDENT                       { $$ = ident(scanner, $2, @2); }
  ;

/* ---- expressions ---- */

expr:
    postfix                        { $$ = $1; }
  | SUM IDENT IN expr ':' expr %prec SUM_PREC
                                   { $$ = MK(KDR_SUM, @$); $$->name = $2; $$->a = $4; $$->b = $6; $$->c = ident(scanner, $2, @2); $$ = kdr_depth(PARSER, $$); }
  | expr '?' expr ':' expr         { $$ = MK(KDR_TERNARY, @$); $$->a = $1; $$->b = $3; $$->c = $5; $$ = kdr_depth(PARSER, $$); }
  | expr OR expr                   { $$ = binary(scanner, KDR_OP_OR, $1, $3, @$); }
  | expr AND expr                  { $$ = binary(scanner, KDR_OP_AND, $1, $3, @$); }
  | NOT expr                       { $$ = MK(KDR_UNARY, @$); $$->op = KDR_OP_NOT; $$->a = $2; $$ = kdr_depth(PARSER, $$); }
  | expr EQ expr                   { $$ = binary(scanner, KDR_OP_EQ, $1, $3, @$); }
  | expr NE expr                   { $$ = binary(scanner, KDR_OP_NE, $1, $3, @$); }
  | expr '<' expr                  { $$ = binary(scanner, '<', $1, $3, @$); }
  | expr LE expr                   { $$ = binary(scanner, KDR_OP_LE, $1, $3, @$); }
  | expr '>' expr                  { $$ = binary(scanner, '>', $1, $3, @$); }
  | expr GE expr                   { $$ = binary(scanner, KDR_OP_GE, $1, $3, @$); }
  | expr DOTDOT expr               { $$ = binary(scanner, KDR_OP_RANGE, $1, $3, @$); }
  | expr '+' expr                  { $$ = binary(scanner, '+', $1, $3, @$); }
  | expr '-' expr                  { $$ = binary(scanner, '-', $1, $3, @$); }
  | expr '*' expr                  { $$ = binary(scanner, '*', $1, $3, @$); }
  | expr '/' expr                  { $$ = binary(scanner, '/', $1, $3, @$); }
  | expr '%' expr                  { $$ = binary(scanner, '%', $1, $3, @$); }
  | '-' expr %prec UMINUS          { $$ = MK(KDR_UNARY, @$); $$->op = '-'; $$->a = $2; $$ = kdr_depth(PARSER, $$); }
  | expr '^' expr                  { $$ = binary(scanner, '^', $1, $3, @$); }
  | expr '@' expr                  { $$ = binary(scanner, '@', $1, $3, @$); }
  | expr AS_LABEL IDENT            { $$ = label_term(scanner, $1, $3, @3); }
  ;

postfix:
    primary                        { $$ = $1; }
  | postfix '(' args_opt ')'       { $$ = MK(KDR_CALL, @$); $$->a = $1; $$->kids = $3.head; $$ = kdr_depth(PARSER, $$); }
  | postfix '[' index_list ']'     { $$ = MK(KDR_INDEX, @$); $$->a = $1; $$->kids = $3.head; $$ = kdr_depth(PARSER, $$); }
  | postfix '.' member_name        { $$ = MK(KDR_MEMBER, @$); $$->a = $1; $$->name = $3; $$ = kdr_depth(PARSER, $$); }
  ;

primary:
    NUM                            { $$ = MK(KDR_NUM, @$); $$->num = $1; }
  | STR                            { $$ = MK(KDR_STR, @$); $$->str = $1.s; $$->str_len = $1.n; }
  | IDENT                          { $$ = ident(scanner, $1, @1); }
  | IN                             { $$ = MK(KDR_INPUT, @$); }
  | TRUE                           { $$ = MK(KDR_BOOL, @$); $$->num = 1; }
  | FALSE                          { $$ = MK(KDR_BOOL, @$); $$->num = 0; }
  | '[' expr_list_opt ']'          { $$ = MK(KDR_LIST, @$); $$->kids = $2.head; $$ = kdr_depth(PARSER, $$); }
  | '(' expr ')'                   { $$ = $2; }
  | REPEAT expr AS IDENT block     { $$ = MK(KDR_REPEAT, @$); $$->a = $2; $$->name = $4; $$->kids = $5.head; $$->c = ident(scanner, $4, @4); $$ = kdr_depth(PARSER, $$); }
  | REPEAT expr AS IDENT FROM expr block
                                   { $$ = MK(KDR_REPEAT, @$); $$->a = $2; $$->name = $4; $$->b = $6; $$->kids = $7.head; $$->c = ident(scanner, $4, @4); $$ = kdr_depth(PARSER, $$); }
  ;

expr_list_opt:
    %empty                         { $$.head = $$.tail = NULL; }
  | expr_list                      { $$ = $1; }
  | expr_list ','                  { $$ = $1; }
  ;
expr_list:
    expr                           { $$ = list1($1); }
  | expr_list ',' expr             { $$ = list_add($1, $3); }
  ;

index_list:
    index_elem                     { $$ = list1($1); }
  | index_list ',' index_elem      { $$ = list_add($1, $3); }
  ;
index_elem:
    expr                           { $$ = $1; }
  | '*'                            { $$ = MK(KDR_STAR, @$); }
  ;

args_opt:
    %empty                         { $$.head = $$.tail = NULL; }
  | args                           { $$ = $1; }
  | args ','                       { $$ = $1; }
  ;
args:
    arg                            { $$ = list1($1); }
  | args ',' arg                   { $$ = list_add($1, $3); }
  ;
arg:
    expr                           { $$ = MK(KDR_ARG, @$); $$->a = $1; $$ = kdr_depth(PARSER, $$); }
  | key ':' expr                   { $$ = MK(KDR_ARG, @$); $$->name = $1; $$->a = $3; $$ = kdr_depth(PARSER, $$); }
  | expr '=' expr                  { $$ = MK(KDR_ARG, @$); $$->b = $1; $$->a = $3; $$ = kdr_depth(PARSER, $$); }
  ;

/* a named argument's key may be any word but those that start an expression */
key:
    IDENT { $$ = $1; }
  | USE { $$ = "use"; } | LET { $$ = "let"; } | DATA { $$ = "data"; } | NET { $$ = "net"; }
  | MODEL { $$ = "model"; } | POOL { $$ = "pool"; } | SEARCH { $$ = "search"; }
  | PHASE { $$ = "phase"; } | SWEEP { $$ = "sweep"; } | REPORT { $$ = "report"; }
  | FOR { $$ = "for"; } | IF { $$ = "if"; } | ELSE { $$ = "else"; } | FROM { $$ = "from"; }
  | AS { $$ = "as"; } | ON { $$ = "on"; } | AT { $$ = "at"; } | OUT { $$ = "out"; }
  | AND { $$ = "and"; } | OR { $$ = "or"; } | EVERY { $$ = "every"; } | KEEP { $$ = "keep"; }
  | HOLDOUT { $$ = "holdout"; } | FROZEN { $$ = "frozen"; } | FOLLOWS { $$ = "follows"; }
  | TOGETHER { $$ = "together"; } | MINIMIZE { $$ = "minimize"; } | ROWS { $$ = "rows"; }
  | COLS { $$ = "cols"; }
  ;
member_name:
    key { $$ = $1; }
  | IN { $$ = "in"; } | NOT { $$ = "not"; } | TRUE { $$ = "true"; } | FALSE { $$ = "false"; }
  | SUM { $$ = "sum"; } | REPEAT { $$ = "repeat"; }
  ;

%%

void *kdr_yyget_extra_(yyscan_t s);

static void yyerror(YYLTYPE *loc, yyscan_t scanner, const char *msg)
{
    kdr_parser *P = PARSER;
    if (strcmp(msg, "memory exhausted") == 0)
        msg = "recipe too deeply nested to parse (expression or statement nesting limit)";
    kdr_diag_push(P->diag, KDR_ERROR, P->unit, loc->beg, loc->end, "%s", msg);
}

/* "unexpected X; expected A, B or C" with the offending text quoted. */
static int yyreport_syntax_error(const yypcontext_t *ctx, yyscan_t scanner)
{
    kdr_parser *P = PARSER;
    enum { NEXP = 64 };
    if (P->fatal) return 0;   /* the lexer already said why it stopped */
    /* Recover at the end of the line: close the open ( and [ of the current
     * statement so that the lexer reports newlines again. */
    while (P->depth > 0 && P->nest[P->depth - 1] != '{') P->depth--;
    yysymbol_kind_t exp[NEXP];
    int n = yypcontext_expected_tokens(ctx, exp, NEXP);
    const YYLTYPE *loc = yypcontext_location(ctx);
    yysymbol_kind_t tok = yypcontext_token(ctx);
    char buf[512];
    size_t o = 0;
    const char *src = P->unit->src;
    uint32_t b = loc->beg, e = loc->end;

    if (tok == YYSYMBOL_IDENT || tok == YYSYMBOL_NUM || tok == YYSYMBOL_STR) {
        uint32_t len = e - b;
        if (len > 32) len = 32;
        int printable = 1;
        for (uint32_t i = 0; i < len; i++)
            if ((unsigned char)src[b + i] < 0x20 || (unsigned char)src[b + i] >= 0x7f) printable = 0;
        if (printable)
            o += (size_t)snprintf(buf + o, sizeof buf - o, "unexpected %s '%.*s%s'",
                                  yysymbol_name(tok), (int)len, src + b,
                                  (e - b) > 32 ? "..." : "");
        else
            o += (size_t)snprintf(buf + o, sizeof buf - o, "unexpected %s", yysymbol_name(tok));
    } else if (tok == YYSYMBOL_NL && P->nl_is_semicolon) {
        o += (size_t)snprintf(buf + o, sizeof buf - o, "unexpected ';'");
    } else {
        const char *name = yysymbol_name(tok);
        o += (size_t)snprintf(buf + o, sizeof buf - o, "unexpected %s", name);
    }
    if (n > 0 && n <= 5) {
        o += (size_t)snprintf(buf + o, sizeof buf - o, "; expected ");
        for (int i = 0; i < n && o < sizeof buf; i++)
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s",
                                  i == 0 ? "" : (i == n - 1 ? " or " : ", "),
                                  yysymbol_name(exp[i]));
    } else if (n > 5) {
        /* After a complete expression every operator may follow: say
         * "an operator" and name only the closers that would also fit. */
        int has_op = 0, k = 0;
        yysymbol_kind_t closers[6];
        for (int i = 0; i < n; i++) {
            const char *nm = yysymbol_name(exp[i]);
            if (strcmp(nm, "'+'") == 0) has_op = 1;
            if (k < 6 && (strcmp(nm, "')'") == 0 || strcmp(nm, "']'") == 0 ||
                          strcmp(nm, "','") == 0 || exp[i] == YYSYMBOL_NL))
                closers[k++] = exp[i];
        }
        if (has_op) {
            o += (size_t)snprintf(buf + o, sizeof buf - o, "; expected an operator");
            for (int i = 0; i < k && o < sizeof buf; i++)
                o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s",
                                      i == k - 1 ? " or " : ", ", yysymbol_name(closers[i]));
        }
    }
    kdr_diag_push(P->diag, KDR_ERROR, P->unit, b, e, "%s", buf);
    return 0;
}

const char *kdr_token_text(int tok)
{
    return yysymbol_name(YYTRANSLATE(tok));
}
