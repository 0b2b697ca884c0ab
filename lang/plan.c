/* plan.c — `kdrun --check`'s readable plan of a checked program.
 *
 * Prints the files loaded, the data sets (loader and splits), the models
 * (template call and the templates they are built from, recursively), pools,
 * searches, sweeps (values and number of sub-runs), the phases in execution
 * order with their settings, and the reports.  Output depends only on the
 * program, never on addresses or time.
 */
#include <math.h>
#include <string.h>
#include "kdr.h"
#include "consteval.h"

/* ---- expressions as text ------------------------------------------------- */

static void pe(FILE *o, const kdr_node *n, int depth);

static void pargs(FILE *o, const kdr_node *a, int depth)
{
    for (; a; a = a->next) {
        if (a->kind == KDR_ARG) {
            if (a->name)
                fprintf(o, "%s: ", a->name);
            else if (a->b) {
                pe(o, a->b, depth + 1);
                fputs(" = ", o);
            }
            pe(o, a->a, depth + 1);
        } else
            pe(o, a, depth + 1);
        if (a->next)
            fputs(", ", o);
    }
}

static void pnum(FILE *o, double v)
{
    if (v == floor(v) && fabs(v) < 1e15)
        fprintf(o, "%.0f", v);
    else
        fprintf(o, "%.10g", v);
}

static const char *opname(int op)
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

/* binding strength, loosest 1 (see SYNTAX.md); 0 = not an operator */
static int prec(const kdr_node *n)
{
    if (!n)
        return 0;
    if (n->kind == KDR_SUM) return 1;
    if (n->kind == KDR_TERNARY) return 2;
    if (n->kind == KDR_UNARY) return n->op == KDR_OP_NOT ? 5 : 10;
    if (n->kind != KDR_BINARY) return 0;
    switch (n->op) {
    case KDR_OP_OR: return 3;
    case KDR_OP_AND: return 4;
    case KDR_OP_EQ: case KDR_OP_NE: case '<': case '>': case KDR_OP_LE: case KDR_OP_GE: return 6;
    case KDR_OP_RANGE: return 7;
    case '+': case '-': return 8;
    case '*': case '/': case '%': return 9;
    case '^': return 11;
    case '@': return 12;
    default: return 0;
    }
}

/* a child printed with parentheses when it binds looser than its parent
 * (or as tightly, on the side that associativity does not give it) */
static void psub(FILE *o, const kdr_node *n, int parent, int right, int depth)
{
    int p = prec(n);
    int paren = p && (p < parent || (p == parent && (right ? parent != 11 : parent == 11)));
    if (p && p <= 2 && parent > p)
        paren = 1;
    if (paren) fputc('(', o);
    pe(o, n, depth + 1);
    if (paren) fputc(')', o);
}

static void pe(FILE *o, const kdr_node *n, int depth)
{
    if (!n)
        return;
    if (depth > 300) {
        fputs("...", o);
        return;
    }
    if (n->label) {   /* a labelled loss term: `TERM as NAME` */
        kdr_node t = *n;
        int par = (n->kind == KDR_BINARY && (n->op == '+' || n->op == '-')) || n->kind == KDR_SUM ||
                  n->kind == KDR_TERNARY;
        t.label = NULL;
        if (par) fputc('(', o);
        pe(o, &t, depth + 1);
        fprintf(o, "%s as %s", par ? ")" : "", n->label->name);
        return;
    }
    switch (n->kind) {
    case KDR_NUM: pnum(o, n->num); break;
    case KDR_STR:
        fputc('"', o);
        for (size_t i = 0; i < n->str_len; i++) {
            unsigned char ch = (unsigned char)n->str[i];
            if (ch == '"' || ch == '\\') fprintf(o, "\\%c", ch);
            else if (ch == '\n') fputs("\\n", o);
            else if (ch == '\t') fputs("\\t", o);
            else fputc(ch, o);
        }
        fputc('"', o);
        break;
    case KDR_BOOL: fputs(n->num != 0 ? "true" : "false", o); break;
    case KDR_IDENT: fputs(n->name ? n->name : "?", o); break;
    case KDR_INPUT: fputs("in", o); break;
    case KDR_STAR: fputc('*', o); break;
    case KDR_LIST:
        fputc('[', o);
        for (const kdr_node *k = n->kids; k; k = k->next) {
            pe(o, k, depth + 1);
            if (k->next) fputs(", ", o);
        }
        fputc(']', o);
        break;
    case KDR_UNARY:
        fputs(n->op == KDR_OP_NOT ? "not " : "-", o);
        psub(o, n->a, prec(n), 1, depth);
        break;
    case KDR_BINARY:
        psub(o, n->a, prec(n), 0, depth);
        if (n->op == '@' || n->op == KDR_OP_RANGE || n->op == '^')
            fputs(opname(n->op), o);
        else
            fprintf(o, " %s ", opname(n->op));
        psub(o, n->b, prec(n), 1, depth);
        break;
    case KDR_TERNARY:
        psub(o, n->a, 3, 0, depth);
        fputs(" ? ", o);
        psub(o, n->b, 2, 0, depth);
        fputs(" : ", o);
        psub(o, n->c, 2, 1, depth);
        break;
    case KDR_CALL:
        pe(o, n->a, depth + 1);
        fputc('(', o);
        pargs(o, n->kids, depth);
        fputc(')', o);
        break;
    case KDR_INDEX:
        pe(o, n->a, depth + 1);
        fputc('[', o);
        for (const kdr_node *k = n->kids; k; k = k->next) {
            pe(o, k, depth + 1);
            if (k->next) fputs(", ", o);
        }
        fputc(']', o);
        break;
    case KDR_MEMBER:
        pe(o, n->a, depth + 1);
        fprintf(o, ".%s", n->name ? n->name : "?");
        break;
    case KDR_REPEAT:
        fputs("repeat ", o);
        pe(o, n->a, depth + 1);
        fprintf(o, " as %s", n->name ? n->name : "?");
        if (n->b) {
            fputs(" from ", o);
            pe(o, n->b, depth + 1);
        }
        fputs(" { ... }", o);
        break;
    case KDR_SUM:
        fprintf(o, "sum %s in ", n->name ? n->name : "?");
        pe(o, n->a, depth + 1);
        fputs(": ", o);
        pe(o, n->b, depth + 1);
        break;
    case KDR_ARG:
        pargs(o, n, depth);
        break;
    default:
        fputs("?", o);
        break;
    }
}

/* ---- lookups -------------------------------------------------------------- */

static const kdr_node *find_decl(const kdr_program *p, kdr_kind k, const char *name)
{
    for (size_t i = 0; i < p->nunits; i++) {
        const kdr_unit *u = p->units[i];
        if (!u || !u->root)
            continue;
        for (const kdr_node *s = u->root->kids; s; s = s->next)
            if (s->kind == k && s->name && name && strcmp(s->name, name) == 0)
                return s;
    }
    return NULL;
}

typedef struct seen { const char *names[64]; size_t n; } seen;

static int seen_has(const seen *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->names[i], name) == 0)
            return 1;
    return 0;
}

/* templates called (transitively) from a subtree, in first-call order */
static void templates_in(const kdr_program *p, const kdr_node *n, seen *s, int depth)
{
    for (; n && depth < 200; n = n->next) {
        if (n->kind == KDR_CALL && n->a && n->a->kind == KDR_IDENT && n->a->name) {
            const kdr_node *net = find_decl(p, KDR_NET, n->a->name);
            if (net && !seen_has(s, net->name) && s->n < 64) {
                s->names[s->n++] = net->name;
                templates_in(p, net->kids, s, depth + 1);
            }
        }
        templates_in(p, n->a, s, depth + 1);
        templates_in(p, n->b, s, depth + 1);
        templates_in(p, n->c, s, depth + 1);
        templates_in(p, n->kids, s, depth + 1);
    }
}

/* the number of values of a sweep: a list, or a range whose ends are constants */
static int count_values(const kdr_program *p, const kdr_unit *u, const kdr_node *v, long *out)
{
    kdr_consteval ev;
    size_t n;
    kdr_consteval_init(&ev, p, NULL, 0);
    if (!v || kdr_const_len(&ev, u, v, &n) != KDR_CE_OK)
        return 0;
    *out = n > 1000000000UL ? 1000000000L : (long)n;
    return 1;
}

/* ---- the plan ----------------------------------------------------------------- */

static void psetting(FILE *o, const kdr_node *s)
{
    const char *w = s->word ? s->word : "?";
    switch (s->setting) {
    case KDR_S_TRAIN:
        fputs("train ", o);
        pargs(o, s->kids, 0);
        if (s->op & KDR_F_TOGETHER) fputs(" together", o);
        fputs(" on ", o);
        pe(o, s->a, 0);
        break;
    case KDR_S_TEACHER:
        fputs("teacher ", o);
        if (s->op & KDR_F_FOLLOWS) fputs("follows ", o);
        pe(o, s->a, 0);
        if (s->kids) {
            fputc('(', o);
            pargs(o, s->kids, 0);
            fputc(')', o);
        }
        if (s->b) {
            fprintf(o, " at %s ", s->extra ? s->extra : "epoch");
            pe(o, s->b, 0);
        } else if (!(s->op & KDR_F_FOLLOWS))
            fputs(" (frozen)", o);
        break;
    case KDR_S_CHECKPOINT:
        fputs("checkpoint every ", o);
        pe(o, s->a, 0);
        fprintf(o, " %s", s->extra ? s->extra : "epochs");
        if (s->op & KDR_F_KEEP_LAST) {
            fputs(", keep last ", o);
            pe(o, s->b, 0);
        } else
            fputs(", keep all", o);
        if (s->name) fprintf(o, ", as route %s", s->name);
        break;
    case KDR_S_AFTER:
        fputs("after ", o);
        pargs(o, s->kids, 0);
        break;
    case KDR_S_ALTERNATE:
        fputs("alternate:", o);
        for (const kdr_node *m = s->kids; m; m = m->next) {
            fputs("\n        ", o);
            pargs(o, m->kids, 0);
            fputs(" minimize ", o);
            pe(o, m->a, 0);
            if (m->b) {
                fputs(" on ", o);
                pe(o, m->b, 0);
            }
            if (m->c) {
                fputs(" lr ", o);
                pe(o, m->c, 0);
            }
        }
        break;
    case KDR_S_EVALUATE:
        fputs("evaluate ", o);
        pargs(o, s->kids, 0);
        fputs(" on ", o);
        pe(o, s->a, 0);
        if (s->b) {
            fputs(": ", o);
            pargs(o, s->b->kids, 0);
        }
        break;
    case KDR_S_TABLE:
        fprintf(o, "table");
        if (s->extra) fprintf(o, " rows %s", s->extra);
        if (s->name) fprintf(o, " cols %s", s->name);
        fprintf(o, ": ");
        pargs(o, s->kids, 0);
        break;
    default:
        fputs(w, o);
        if (s->name) fprintf(o, " %s:", s->name);
        fputc(' ', o);
        pe(o, s->a, 0);
        break;
    }
}

/* The defaults a training phase uses for the settings it leaves out (the
 * settings table, lang/settings.c): "epochs 1 (default)".  The seed's
 * default is the recipe's sweep or let named `seed` when there is one
 * (and --seed, which the plan does not see, replaces both). */
static void pdefaults(FILE *o, const kdr_program *p, const kdr_node *ph)
{
    static const kdr_setting used[] = { KDR_S_EPOCHS, KDR_S_BATCH, KDR_S_SEED, KDR_S_OPTIMIZER, KDR_S_LR };
    int trains = 0;
    for (const kdr_node *s = ph->kids; s; s = s->next)
        if (s->kind == KDR_SETTING && s->setting == KDR_S_TRAIN)
            trains = 1;
    if (!trains)
        return;
    for (size_t i = 0; i < sizeof used / sizeof used[0]; i++) {
        const kdr_setting_info *info = kdr_setting_info_of(used[i]);
        int given = 0, named = 0;
        for (const kdr_node *s = ph->kids; s; s = s->next)
            if (s->kind == KDR_SETTING && s->setting == used[i]) {
                if (s->name) named = 1;
                else given = 1;
            }
        if (given || !info->def)
            continue;
        if (used[i] == KDR_S_SEED && (find_decl(p, KDR_SWEEP, "seed") || find_decl(p, KDR_LET, "seed")))
            fprintf(o, "       %s seed (default: the recipe's 'seed')\n", info->name);
        else if (named)   /* `optimizer weights: ...`: the default is for the rest */
            fprintf(o, "       %s %s (default, where no named %s applies)\n", info->name, info->def, info->name);
        else
            fprintf(o, "       %s %s (default)\n", info->name, info->def);
    }
}

void kdr_program_print_plan(const kdr_program *p, FILE *o)
{
    if (!p || !o)
        return;
    fprintf(o, "recipe: %s\n", p->nunits && p->units[0] ? p->units[0]->path : "?");
    fputs("files:\n", o);
    for (size_t i = 0; i < p->nunits; i++)
        fprintf(o, "  %s\n", p->units[i]->path);

    int any;
    /* data */
    any = 0;
    for (size_t i = 0; i < p->nunits; i++) {
        const kdr_unit *u = p->units[i];
        if (!u->root) continue;
        for (const kdr_node *s = u->root->kids; s; s = s->next) {
            if (s->kind != KDR_DATA) continue;
            if (!any++) fputs("data:\n", o);
            fprintf(o, "  %s = ", s->name);
            pe(o, s->a, 0);
            if (s->b) fprintf(o, " from \"%s\"%s", s->b->str, s->b->kids ? " (parts)" : "");
            fputc('\n', o);
            for (const kdr_node *t = s->kids; t; t = t->next) {
                if (t->kind != KDR_SETTING) continue;
                switch (t->setting) {
                case KDR_S_SPLIT_TRAIN:
                case KDR_S_SPLIT_TEST:
                case KDR_S_SPLIT_VAL:
                    fprintf(o, "    split %s: ", kdr_setting_info_of(t->setting)->name);
                    pe(o, t->a, 0);
                    if (t->b) {
                        fputs(", holding out ", o);
                        pe(o, t->b, 0);
                        fprintf(o, " as %s", t->name ? t->name : "?");
                    }
                    fputc('\n', o);
                    break;
                case KDR_S_AUGMENT:
                    fprintf(o, "    augment %s: ", t->name ? t->name : "?");
                    for (const kdr_node *a = t->kids; a; a = a->next) {
                        pe(o, a, 0);
                        if (a->next) fputs(", ", o);
                    }
                    fputc('\n', o);
                    break;
                case KDR_S_NORMALIZE:
                    fputs("    normalize ", o);
                    pargs(o, t->kids, 0);
                    fputc('\n', o);
                    break;
                case KDR_S_LIMIT:
                    fputs("    limit ", o);
                    pe(o, t->a, 0);
                    fputs(" training samples\n", o);
                    break;
                default:
                    break;
                }
            }
        }
    }

    /* models */
    any = 0;
    for (size_t i = 0; i < p->nunits; i++) {
        const kdr_unit *u = p->units[i];
        if (!u->root) continue;
        for (const kdr_node *s = u->root->kids; s; s = s->next) {
            if (s->kind != KDR_MODEL) continue;
            if (!any++) fputs("models:\n", o);
            fprintf(o, "  %s = ", s->name);
            pe(o, s->a, 0);
            if (s->b) fprintf(o, " from \"%s\"%s", s->b->str, s->b->kids ? " (parts)" : "");
            seen sn = { .n = 0 };
            templates_in(p, s->a, &sn, 0);
            if (sn.n) {
                fprintf(o, "   built from: %s", sn.names[0]);
                for (size_t k = 1; k < sn.n; k++)
                    fprintf(o, "%s%s", k == 1 ? " \xe2\x86\x92 " : ", ", sn.names[k]);
            }
            fputc('\n', o);
        }
    }

    /* pools */
    any = 0;
    for (size_t i = 0; i < p->nunits; i++) {
        const kdr_unit *u = p->units[i];
        if (!u->root) continue;
        for (const kdr_node *s = u->root->kids; s; s = s->next) {
            if (s->kind != KDR_POOL) continue;
            if (!any++) fputs("pools:\n", o);
            fprintf(o, "  %s = ", s->name);
            pe(o, s->a, 0);
            if (s->b) fprintf(o, " from \"%s\"%s", s->b->str, s->b->kids ? " (parts)" : "");
            fputc('\n', o);
        }
    }

    /* searches */
    any = 0;
    for (size_t i = 0; i < p->nunits; i++) {
        const kdr_unit *u = p->units[i];
        if (!u->root) continue;
        for (const kdr_node *s = u->root->kids; s; s = s->next) {
            if (s->kind != KDR_SEARCH) continue;
            if (!any++) fputs("searches:\n", o);
            fprintf(o, "  %s:", s->name);
            seen names = { .n = 0 };
            /* names it defines: assignments (also inside for) and bridges */
            const kdr_node *stack[64];
            size_t sp = 0;
            if (s->kids) stack[sp++] = s->kids;
            while (sp) {
                const kdr_node *k = stack[--sp];
                for (; k; k = k->next) {
                    const char *nm = NULL;
                    if (k->kind == KDR_ASSIGN && k->a)
                        nm = k->a->kind == KDR_INDEX && k->a->a ? k->a->a->name : k->a->name;
                    else if (k->kind == KDR_SETTING && k->setting == KDR_S_BRIDGE)
                        nm = k->name;
                    else if ((k->kind == KDR_FOR || k->kind == KDR_IF) && k->kids && sp < 64)
                        stack[sp++] = k->kids;
                    if (nm && !seen_has(&names, nm) && names.n < 64) {
                        names.names[names.n++] = nm;
                        fprintf(o, " %s%s", nm,
                                k->kind == KDR_SETTING ? " (bridge)" : "");
                    }
                }
            }
            fputc('\n', o);
        }
    }

    /* sweeps */
    any = 0;
    long runs = 1;
    int runs_known = 1;
    for (size_t i = 0; i < p->nunits; i++) {
        const kdr_unit *u = p->units[i];
        if (!u->root) continue;
        for (const kdr_node *s = u->root->kids; s; s = s->next) {
            if (s->kind != KDR_SWEEP) continue;
            if (!any++) fputs("sweeps:\n", o);
            fprintf(o, "  %s in ", s->name);
            pe(o, s->a, 0);
            long n;
            if (count_values(p, u, s->a, &n)) {
                fprintf(o, "   (%ld value%s)\n", n, n == 1 ? "" : "s");
                if (runs < 1000000000L) runs *= n;
            } else {
                fputs("   (values known at run time)\n", o);
                runs_known = 0;
            }
        }
    }
    if (any) {
        if (runs_known)
            fprintf(o, "  %ld sub-run%s\n", runs, runs == 1 ? "" : "s");
        else
            fputs("  sub-runs: known at run time\n", o);
    }

    /* phases in execution order */
    if (p->nphases) {
        fputs("phases (in execution order):\n", o);
        for (size_t i = 0; i < p->nphases; i++) {
            const kdr_node *ph = p->phase_order[i];
            fprintf(o, "  %zu. %s\n", i + 1, ph->name ? ph->name : "?");
            for (const kdr_node *s = ph->kids; s; s = s->next) {
                if (s->kind != KDR_SETTING) continue;
                fputs("       ", o);
                psetting(o, s);
                fputc('\n', o);
            }
            pdefaults(o, p, ph);
        }
    }

    /* reports */
    for (size_t i = 0; i < p->nunits; i++) {
        const kdr_unit *u = p->units[i];
        if (!u->root) continue;
        for (const kdr_node *s = u->root->kids; s; s = s->next) {
            if (s->kind != KDR_REPORT) continue;
            if (s->name)
                fprintf(o, "report %s:\n", s->name);
            else
                fputs("report:\n", o);
            for (const kdr_node *t = s->kids; t; t = t->next) {
                if (t->kind != KDR_SETTING) continue;
                fputs("  ", o);
                psetting(o, t);
                fputc('\n', o);
            }
        }
    }
}
