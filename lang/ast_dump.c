/* ast_dump.c — print a syntax tree as an S-expression (for tests and
 * debugging).  One line, deterministic. */
#include <stdio.h>
#include "kdr.h"

static void dump_list(const kdr_node *n, FILE *out)
{
    for (; n; n = n->next) {
        fputc(' ', out);
        kdr_ast_dump(n, out);
    }
}

static void dump_str(const char *s, size_t n, FILE *out)
{
    fputc('"', out);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') { fputc('\\', out); fputc(c, out); }
        else if (c == '\n') fputs("\\n", out);
        else if (c == '\t') fputs("\\t", out);
        else if (c < 0x20 || c == 0x7f) fprintf(out, "\\x%02x", c);
        else fputc(c, out);
    }
    fputc('"', out);
}

static const char *op_name(int op)
{
    static char one[2];
    switch (op) {
    case KDR_OP_EQ: return "==";
    case KDR_OP_NE: return "!=";
    case KDR_OP_LE: return "<=";
    case KDR_OP_GE: return ">=";
    case KDR_OP_AND: return "and";
    case KDR_OP_OR: return "or";
    case KDR_OP_NOT: return "not";
    case KDR_OP_RANGE: return "..";
    default: one[0] = (char)op; one[1] = 0; return one;
    }
}

static void opt(const kdr_node *n, FILE *out)
{
    if (n) { fputc(' ', out); kdr_ast_dump(n, out); }
}

void kdr_ast_dump(const kdr_node *n, FILE *out)
{
    if (!n) { fputs("nil", out); return; }
    if (n->label) {   /* a labelled loss term: (as NAME term) */
        kdr_node t = *n;
        t.label = NULL;
        fprintf(out, "(as %s ", n->label->name);
        kdr_ast_dump(&t, out);
        fputc(')', out);
        return;
    }
    switch (n->kind) {
    case KDR_NUM: fprintf(out, "%.17g", n->num); break;
    case KDR_STR: dump_str(n->str, n->str_len, out); break;
    case KDR_BOOL: fputs(n->num != 0 ? "true" : "false", out); break;
    case KDR_IDENT: fputs(n->name, out); break;
    case KDR_INPUT: fputs("in", out); break;
    case KDR_STAR: fputs("*", out); break;
    case KDR_LIST: fputs("(list", out); dump_list(n->kids, out); fputc(')', out); break;
    case KDR_UNARY: fprintf(out, "(%s ", op_name(n->op)); kdr_ast_dump(n->a, out); fputc(')', out); break;
    case KDR_BINARY:
        fprintf(out, "(%s ", op_name(n->op)); kdr_ast_dump(n->a, out);
        fputc(' ', out); kdr_ast_dump(n->b, out); fputc(')', out); break;
    case KDR_TERNARY:
        fputs("(? ", out); kdr_ast_dump(n->a, out); opt(n->b, out); opt(n->c, out);
        fputc(')', out); break;
    case KDR_CALL: fputs("(call ", out); kdr_ast_dump(n->a, out); dump_list(n->kids, out); fputc(')', out); break;
    case KDR_INDEX: fputs("(index ", out); kdr_ast_dump(n->a, out); dump_list(n->kids, out); fputc(')', out); break;
    case KDR_MEMBER: fputs("(. ", out); kdr_ast_dump(n->a, out); fprintf(out, " %s)", n->name); break;
    case KDR_REPEAT:
        fputs("(repeat ", out); kdr_ast_dump(n->a, out); fprintf(out, " %s", n->name);
        if (n->b) { fputs(" from ", out); kdr_ast_dump(n->b, out); }
        dump_list(n->kids, out); fputc(')', out); break;
    case KDR_SUM:
        fprintf(out, "(sum %s ", n->name); kdr_ast_dump(n->a, out); opt(n->b, out); fputc(')', out); break;
    case KDR_ARG:
        if (n->name) { fprintf(out, "(%s: ", n->name); kdr_ast_dump(n->a, out); fputc(')', out); }
        else if (n->b) { fputs("(= ", out); kdr_ast_dump(n->b, out); opt(n->a, out); fputc(')', out); }
        else kdr_ast_dump(n->a, out);
        break;
    case KDR_PARAM:
        fprintf(out, "(param %s", n->name); opt(n->a, out); fputc(')', out); break;
    case KDR_ASSIGN: fputs("(= ", out); kdr_ast_dump(n->a, out); opt(n->b, out); fputc(')', out); break;
    case KDR_OUT: fputs("(out ", out); kdr_ast_dump(n->a, out); fputc(')', out); break;
    case KDR_FOR:
        fprintf(out, "(for %s ", n->name); kdr_ast_dump(n->a, out); dump_list(n->kids, out);
        fputc(')', out); break;
    case KDR_IF:
        fputs("(if ", out); kdr_ast_dump(n->a, out); fputs(" (then", out); dump_list(n->kids, out);
        fputc(')', out);
        if (n->b) { fputs(" (else ", out); kdr_ast_dump(n->b, out); fputc(')', out); }
        fputc(')', out); break;
    case KDR_BLOCK: fputs("(block", out); dump_list(n->kids, out); fputc(')', out); break;
    case KDR_SETTING:
        fprintf(out, "(%s", n->word);
        if (n->name) fprintf(out, " name=%s", n->name);
        if (n->extra) fprintf(out, " extra=%s", n->extra);
        if (n->op & KDR_F_TOGETHER) fputs(" together", out);
        if (n->op & KDR_F_FOLLOWS) fputs(" follows", out);
        else if (n->op & KDR_F_FROZEN) fputs(" frozen", out);
        if (n->op & KDR_F_KEEP_LAST) fputs(" keep-last", out);
        if (n->op & KDR_F_KEEP_ALL) fputs(" keep-all", out);
        opt(n->a, out); opt(n->b, out);
        if (n->setting == KDR_S_MINIMIZE && n->c) { fputs(" lr", out); opt(n->c, out); }
        /* checkpoint keeps its route name node in kids; do not repeat it */
        if (!(n->kids && n->name && n->kids->kind == KDR_IDENT && n->kids->name == n->name &&
              !n->kids->next && n->setting == KDR_S_CHECKPOINT))
            dump_list(n->kids, out);
        fputc(')', out); break;
    case KDR_USE: fputs("(use ", out); dump_str(n->str, n->str_len, out); fputc(')', out); break;
    case KDR_LET: fprintf(out, "(let %s ", n->name); kdr_ast_dump(n->a, out); fputc(')', out); break;
    case KDR_DATA: fprintf(out, "(data %s ", n->name); kdr_ast_dump(n->a, out); dump_list(n->kids, out); fputc(')', out); break;
    case KDR_NET:
        fprintf(out, "(net %s (params", n->name); dump_list(n->params, out); fputc(')', out);
        dump_list(n->kids, out); fputc(')', out); break;
    case KDR_MODEL:
        fprintf(out, "(model %s ", n->name);
        if (n->extra) fprintf(out, "(%s = %g) ", n->extra, n->num);
        kdr_ast_dump(n->a, out);
        if (n->b) { fputs(" (from ", out); dump_str(n->b->str, n->b->str_len, out); dump_list(n->b->kids, out); fputc(')', out); }
        fputc(')', out); break;
    case KDR_POOL: fprintf(out, "(pool %s ", n->name); kdr_ast_dump(n->a, out); fputc(')', out); break;
    case KDR_SEARCH: fprintf(out, "(search %s", n->name); dump_list(n->kids, out); fputc(')', out); break;
    case KDR_PHASE: fprintf(out, "(phase %s", n->name); dump_list(n->kids, out); fputc(')', out); break;
    case KDR_SWEEP: fprintf(out, "(sweep %s ", n->name); kdr_ast_dump(n->a, out); fputc(')', out); break;
    case KDR_REPORT:
        fputs("(report", out); if (n->name) fprintf(out, " %s", n->name);
        dump_list(n->kids, out); fputc(')', out); break;
    case KDR_UNIT: fputs("(unit", out); dump_list(n->kids, out); fputc(')', out); break;
    default: fputs("(?)", out); break;
    }
}
