/* registry.c — the loader table (generated from data/loaders.def) and the
 * argument handling every loader shares: defaults, binding by name or
 * position, checks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "data_int.h"
#include "loaders.h"

#define KD_LOADER(n) extern const kd_loader_def kd_loader_##n;
#include "loaders.def"
#undef KD_LOADER

static const kd_loader_def *const table[] = {
#define KD_LOADER(n) &kd_loader_##n,
#include "loaders.def"
#undef KD_LOADER
};

#define NLOADERS ((int)(sizeof table / sizeof table[0]))

const kd_loader_def *kd_loader_find(const char *name)
{
    for (int i = 0; name && i < NLOADERS; i++)
        if (strcmp(table[i]->name, name) == 0)
            return table[i];
    return NULL;
}

int kd_loader_count(void) { return NLOADERS; }

const kd_loader_def *kd_loader_at(int i)
{
    return i >= 0 && i < NLOADERS ? table[i] : NULL;
}

int kd_loader_arg_index(const kd_loader_def *def, const char *name)
{
    for (int i = 0; name && i < def->nargs; i++)
        if (strcmp(def->args[i].name, name) == 0)
            return i;
    return -1;
}

/* "name a, b, c" for messages */
static void arg_list(const kd_loader_def *def, char *buf, size_t n)
{
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < def->nargs && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%s", i ? ", " : "", def->args[i].name);
}

/* the numbers of a list default "[a, b]" */
static int parse_list(const char *s, double *v, int max)
{
    int n = 0;
    while (s && *s && n < max) {
        while (*s == '[' || *s == ' ' || *s == ',')
            s++;
        if (!*s || *s == ']')
            break;
        char *e;
        double x = strtod(s, &e);
        if (e == s)
            break;
        v[n++] = x;
        s = e;
    }
    return n;
}

void kd_loader_args_init(const kd_loader_def *def, kd_loader_args *a)
{
    memset(a, 0, sizeof *a);
    a->def = def;
    for (int i = 0; i < def->nargs && i < KD_LOADER_MAXARGS; i++) {
        const kd_loader_argdef *ad = &def->args[i];
        kd_larg *v = &a->v[i];
        if (!ad->def)
            continue;
        switch (ad->kind) {
        case KD_LARG_INT: v->num = strtod(ad->def, NULL); break;
        case KD_LARG_BOOL: v->num = strcmp(ad->def, "true") == 0; break;
        case KD_LARG_STR: case KD_LARG_SYM: v->str = ad->def; break;
        case KD_LARG_CALL: {
            const char *paren = strchr(ad->def, '(');
            v->str = ad->def;   /* the callee's name is the text before '(' */
            v->nlist = parse_list(paren ? strchr(paren, '[') : NULL, v->list, KD_LARG_MAXLIST);
            break;
        }
        }
    }
}

static kd_data_status slot(kd_loader_args *a, const char *name, int pos, kd_larg_kind want,
                           const char *what, int *out, char *err, size_t errlen)
{
    const kd_loader_def *def = a->def;
    char names[256];
    int i = name ? kd_loader_arg_index(def, name) : pos;
    if (name && i < 0) {
        arg_list(def, names, sizeof names);
        return kd_data_fail(err, errlen, KD_DATA_EARG, "%s: no argument '%s' (it takes: %s)",
                            def->name, name, names);
    }
    if (i < 0 || i >= def->nargs)
        return kd_data_fail(err, errlen, KD_DATA_EARG, "%s: %d positional arguments given; "
                            "it takes at most %d", def->name, pos + 1, def->nargs);
    kd_larg_kind k = def->args[i].kind;
    int ok = k == want || (want == KD_LARG_STR && k == KD_LARG_SYM) ||
             (want == KD_LARG_INT && k == KD_LARG_BOOL);
    if (!ok)
        return kd_data_fail(err, errlen, KD_DATA_EARG, "%s: argument '%s' is not %s",
                            def->name, def->args[i].name, what);
    *out = i;
    return KD_DATA_OK;
}

kd_data_status kd_loader_args_set_num(kd_loader_args *a, const char *name, int pos,
                                      double v, char *err, size_t errlen)
{
    int i;
    kd_data_status st = slot(a, name, pos, KD_LARG_INT, "a number", &i, err, errlen);
    if (st == KD_DATA_OK) {
        a->v[i].num = v;
        a->v[i].given = 1;
    }
    return st;
}

kd_data_status kd_loader_args_set_str(kd_loader_args *a, const char *name, int pos,
                                      const char *s, char *err, size_t errlen)
{
    int i;
    kd_data_status st = slot(a, name, pos, KD_LARG_STR, "a string", &i, err, errlen);
    if (st == KD_DATA_OK) {
        a->v[i].str = s;
        a->v[i].given = 1;
    }
    return st;
}

kd_data_status kd_loader_args_set_call(kd_loader_args *a, const char *name, int pos,
                                       const char *callee, const double *list, int nlist,
                                       char *err, size_t errlen)
{
    int i;
    kd_data_status st = slot(a, name, pos, KD_LARG_CALL, "a call", &i, err, errlen);
    if (st != KD_DATA_OK)
        return st;
    if (nlist < 0 || nlist > KD_LARG_MAXLIST)
        return kd_data_fail(err, errlen, KD_DATA_EARG, "%s: %s has %d values (at most %d)",
                            a->def->name, a->def->args[i].name, nlist, KD_LARG_MAXLIST);
    kd_larg *v = &a->v[i];
    v->str = callee;
    v->nlist = nlist;
    for (int k = 0; k < nlist; k++)
        v->list[k] = list[k];
    v->given = 1;
    return KD_DATA_OK;
}

/* 1 if `word` is one of the '|'-separated words of syms */
static int sym_in(const char *syms, const char *word, size_t wlen)
{
    for (const char *s = syms; s && *s;) {
        const char *e = strchr(s, '|');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == wlen && strncmp(s, word, n) == 0)
            return 1;
        s = e ? e + 1 : s + n;
    }
    return 0;
}

kd_data_status kd_loader_args_check(const kd_loader_args *a, char *err, size_t errlen)
{
    const kd_loader_def *def = a->def;
    for (int i = 0; i < def->nargs; i++) {
        const kd_loader_argdef *ad = &def->args[i];
        const kd_larg *v = &a->v[i];
        if (ad->req && !v->given)
            return kd_data_fail(err, errlen, KD_DATA_EARG, "%s: argument '%s' is required",
                                def->name, ad->name);
        if (ad->kind == KD_LARG_INT) {
            if (v->num != floor(v->num))
                return kd_data_fail(err, errlen, KD_DATA_EARG, "%s: %s %g is not a whole number",
                                    def->name, ad->name, v->num);
            if (ad->has_lo && v->num < ad->lo)
                return kd_data_fail(err, errlen, KD_DATA_EARG, "%s: %s %g (must be >= %g)",
                                    def->name, ad->name, v->num, ad->lo);
        }
        if (ad->kind == KD_LARG_SYM || ad->kind == KD_LARG_CALL) {
            const char *w = v->str ? v->str : "";
            size_t n = ad->kind == KD_LARG_CALL && strchr(w, '(') ? (size_t)(strchr(w, '(') - w)
                                                                   : strlen(w);
            if (!sym_in(ad->syms, w, n))
                return kd_data_fail(err, errlen, KD_DATA_EARG, "%s: %s is %.*s, not one of %s",
                                    def->name, ad->name, (int)n, w, ad->syms);
        }
    }
    return KD_DATA_OK;
}

const kd_larg *kd_larg_get(const kd_loader_args *a, const char *name)
{
    int i = kd_loader_arg_index(a->def, name);
    return i < 0 ? NULL : &a->v[i];
}

double kd_larg_num(const kd_loader_args *a, const char *name)
{
    const kd_larg *v = kd_larg_get(a, name);
    return v ? v->num : 0;
}

const char *kd_larg_str(const kd_loader_args *a, const char *name)
{
    const kd_larg *v = kd_larg_get(a, name);
    return v ? v->str : NULL;
}

kd_data_status kd_loader_sample_shape(const kd_loader_args *a, kd_sample_shape *out,
                                      char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    kd_data_status st = kd_loader_args_check(a, err, errlen);
    return st != KD_DATA_OK ? st : a->def->shape(a, out, err, errlen);
}

kd_data_status kd_loader_load_data(const kd_loader_args *a, uint64_t seed, kd_dataset *out,
                                   char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    kd_data_status st = kd_loader_args_check(a, err, errlen);
    return st != KD_DATA_OK ? st : a->def->load(a, seed, out, err, errlen);
}

void kd_sample_shape_set(kd_sample_shape *s, kd_data_kind kind, int ndim,
                         int64_t d0, int64_t d1, int64_t d2, int64_t classes)
{
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->ndim = ndim;
    s->dims[0] = d0;
    s->dims[1] = d1;
    s->dims[2] = d2;
    s->classes = classes;
}
