/* yaml_io.c — writing and reading YAML over libyaml (see yaml_io.h): the
 * number spellings, an event emitter with a sticky error, and a document
 * reader whose accessors name the file, line and column of every problem.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "yaml_io.h"

/* ---- numbers ---------------------------------------------------------------- */

void kd_yaml_fmt_num(char *buf, size_t len, double v)
{
    if (isnan(v)) { snprintf(buf, len, ".nan"); return; }
    if (isinf(v)) { snprintf(buf, len, v < 0 ? "-.inf" : ".inf"); return; }
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

int kd_yaml_parse_num(const char *s, double *v)
{
    static const struct { const char *t; double v; } special[] = {
        { ".inf", INFINITY }, { ".Inf", INFINITY }, { ".INF", INFINITY },
        { "+.inf", INFINITY }, { "+.Inf", INFINITY }, { "+.INF", INFINITY },
        { "-.inf", -INFINITY }, { "-.Inf", -INFINITY }, { "-.INF", -INFINITY },
        { ".nan", NAN }, { ".NaN", NAN }, { ".NAN", NAN },
    };
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        if (strcmp(s, special[i].t) == 0) { *v = special[i].v; return 0; }
    if (!*s || *s == ' ' || *s == '\t' || *s == '\n') return -1;
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || *end) return -1;
    *v = d;
    return 0;
}

/* ---- emitting ---------------------------------------------------------------- */

static void ye_event(kd_yemit *y, yaml_event_t *ev, int made)
{
    if (!made) { y->ok = 0; return; }
    if (!y->ok) { yaml_event_delete(ev); return; }
    if (!yaml_emitter_emit(&y->em, ev)) y->ok = 0;
}

int kd_ye_open(kd_yemit *y, FILE *f, int width)
{
    y->ok = 1;
    if (!yaml_emitter_initialize(&y->em)) {
        y->ok = 0;
        errno = 0;
        return -1;
    }
    yaml_emitter_set_output_file(&y->em, f);
    yaml_emitter_set_unicode(&y->em, 1);
    if (width) yaml_emitter_set_width(&y->em, width);
    yaml_event_t ev;
    ye_event(y, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
    ye_event(y, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1));
    return 0;
}

int kd_ye_close(kd_yemit *y)
{
    yaml_event_t ev;
    ye_event(y, &ev, yaml_document_end_event_initialize(&ev, 0));
    ye_event(y, &ev, yaml_stream_end_event_initialize(&ev));
    if (y->ok && !yaml_emitter_flush(&y->em)) y->ok = 0;
    int werr = y->em.error == YAML_WRITER_ERROR;
    yaml_emitter_delete(&y->em);
    if (!y->ok && !werr) errno = 0;   /* not an I/O error: out of memory or a bug */
    return y->ok ? 0 : -1;
}

static void ye_scalar(kd_yemit *y, const char *s, int quoted)
{
    yaml_event_t ev;
    s = s ? s : "";
    if (!*s) quoted = 1;
    int made = yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s),
                                            !quoted, 1,
                                            quoted ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
                                                   : YAML_ANY_SCALAR_STYLE);
    ye_event(y, &ev, made);
}

void kd_ye_str(kd_yemit *y, const char *s) { ye_scalar(y, s, 0); }

void kd_ye_quoted(kd_yemit *y, const char *s) { ye_scalar(y, s, 1); }

void kd_ye_plain(kd_yemit *y, const char *s)
{
    yaml_event_t ev;
    int made = yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1,
                                            0, YAML_PLAIN_SCALAR_STYLE);
    ye_event(y, &ev, made);
}

void kd_ye_null(kd_yemit *y) { kd_ye_plain(y, "null"); }

void kd_ye_num(kd_yemit *y, double v)
{
    char buf[64];
    kd_yaml_fmt_num(buf, sizeof buf, v);
    kd_ye_plain(y, buf);
}

void kd_ye_num_prec(kd_yemit *y, double v, int prec)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.*g", prec, v);
    kd_ye_str(y, buf);
}

void kd_ye_int(kd_yemit *y, long long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", v);
    kd_ye_plain(y, buf);
}

void kd_ye_map(kd_yemit *y, int flow)
{
    yaml_event_t ev;
    ye_event(y, &ev, yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
                                                         flow ? YAML_FLOW_MAPPING_STYLE
                                                              : YAML_BLOCK_MAPPING_STYLE));
}

void kd_ye_map_end(kd_yemit *y)
{
    yaml_event_t ev;
    ye_event(y, &ev, yaml_mapping_end_event_initialize(&ev));
}

void kd_ye_seq(kd_yemit *y, int flow)
{
    yaml_event_t ev;
    ye_event(y, &ev, yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
                                                          flow ? YAML_FLOW_SEQUENCE_STYLE
                                                               : YAML_BLOCK_SEQUENCE_STYLE));
}

void kd_ye_seq_end(kd_yemit *y)
{
    yaml_event_t ev;
    ye_event(y, &ev, yaml_sequence_end_event_initialize(&ev));
}

/* ---- reading ------------------------------------------------------------------- */

void kd_yerr(const kd_yfile *y, const yaml_node_t *at, const char *fmt, ...)
{
    if (!y->err) return;
    if (at)
        fprintf(y->err, "%s:%lu:%lu: ", y->path, (unsigned long)at->start_mark.line + 1,
                (unsigned long)at->start_mark.column + 1);
    else
        fprintf(y->err, "%s: ", y->path);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(y->err, fmt, ap);
    va_end(ap);
    fputc('\n', y->err);
}

yaml_node_t *kd_ynode(kd_yfile *y, int idx)
{
    return yaml_document_get_node(&y->doc, idx);
}

const char *kd_ykind(const yaml_node_t *n)
{
    if (!n) return "nothing";
    switch (n->type) {
    case YAML_SCALAR_NODE: return "a scalar";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "nothing";
    }
}

const char *kd_yscalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

int kd_yis_null(const yaml_node_t *n)
{
    const char *s = kd_yscalar(n);
    if (!s || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
    return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

const char *kd_yshow(const yaml_node_t *n, char *buf, size_t len)
{
    const char *s = kd_yscalar(n);
    if (!s) return kd_ykind(n);
    size_t o = 0;
    for (; *s && o + 8 < len; s++)
        buf[o++] = (unsigned char)*s < 0x20 ? '?' : *s;
    if (*s) { buf[o++] = '.'; buf[o++] = '.'; buf[o++] = '.'; }
    buf[o] = 0;
    return buf;
}

yaml_node_t *kd_yget(kd_yfile *y, yaml_node_t *map, const char *key, int *bad)
{
    if (!map || map->type != YAML_MAPPING_NODE) return NULL;
    yaml_node_t *found = NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = kd_ynode(y, p->key);
        const char *ks = kd_yscalar(k);
        if (!ks || strcmp(ks, key) != 0) continue;
        if (found) {
            kd_yerr(y, k, "'%s' is given twice", key);
            *bad = 1;
            return NULL;
        }
        found = kd_ynode(y, p->value);
    }
    return found;
}

int kd_ycheck_keys(kd_yfile *y, yaml_node_t *map, const char *what)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = kd_ynode(y, p->key);
        const char *ks = kd_yscalar(k);
        if (!ks) {
            kd_yerr(y, k, "a key of %s is %s, not a name", what, kd_ykind(k));
            return -1;
        }
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            const char *qs = kd_yscalar(kd_ynode(y, q->key));
            if (qs && strcmp(qs, ks) == 0) {
                kd_yerr(y, k, "'%s' is given twice in %s", ks, what);
                return -1;
            }
        }
    }
    return 0;
}

int kd_ytext(kd_yfile *y, yaml_node_t *map, const char *key, int flags, const char **out)
{
    int bad = 0;
    yaml_node_t *n = kd_yget(y, map, key, &bad);
    *out = NULL;
    if (bad) return -1;
    if (!n || ((flags & KD_Y_NULL_OK) && kd_yis_null(n))) {
        if (flags & KD_Y_REQUIRED && !n) {
            kd_yerr(y, map, "missing key '%s'", key);
            return -1;
        }
        return 0;
    }
    if (n->type != YAML_SCALAR_NODE) {
        kd_yerr(y, n, "'%s' is %s, not text", key, kd_ykind(n));
        return -1;
    }
    *out = kd_yscalar(n);
    return 0;
}

int kd_ynum(kd_yfile *y, yaml_node_t *map, const char *key, int flags, int integer, double *v,
            int *have)
{
    int bad = 0;
    yaml_node_t *n = kd_yget(y, map, key, &bad);
    *have = 0;
    if (bad) return -1;
    if (!n) {
        if (flags & KD_Y_REQUIRED) {
            kd_yerr(y, map, "missing key '%s'", key);
            return -1;
        }
        return 0;
    }
    if (kd_yis_null(n)) return 0;
    char buf[64];
    const char *s = kd_yscalar(n);
    if (!s || kd_yaml_parse_num(s, v) != 0) {
        kd_yerr(y, n, "'%s' is not a number: %s%s%s", key, s ? "'" : "",
                kd_yshow(n, buf, sizeof buf), s ? "'" : "");
        return -1;
    }
    if (integer && !(isfinite(*v) && *v == floor(*v) && fabs(*v) < 9e15)) {
        kd_yerr(y, n, "'%s' is not a whole number: '%s'", key, kd_yshow(n, buf, sizeof buf));
        return -1;
    }
    *have = 1;
    return 0;
}

yaml_node_t *kd_ytyped(kd_yfile *y, yaml_node_t *map, const char *key, yaml_node_type_t type,
                       int flags, int *bad)
{
    yaml_node_t *n = kd_yget(y, map, key, bad);
    if (*bad) return NULL;
    if (!n) {
        if (flags & KD_Y_REQUIRED) {
            kd_yerr(y, map, "missing key '%s'", key);
            *bad = 1;
        }
        return NULL;
    }
    if ((flags & KD_Y_NULL_OK) && kd_yis_null(n)) return NULL;
    if (n->type != type) {
        kd_yerr(y, n, "'%s' is %s, not %s", key, kd_ykind(n),
                type == YAML_MAPPING_NODE ? "a mapping" : "a list");
        *bad = 1;
        return NULL;
    }
    return n;
}

/* The parser's message: PATH:LINE:COL: invalid YAML: problem (context). */
static void yparse_err(const kd_yfile *y, const yaml_parser_t *p)
{
    if (!y->err) return;
    const char *problem = p->problem ? p->problem : "unreadable";
    if (p->error == YAML_MEMORY_ERROR) {
        fprintf(y->err, "%s: out of memory\n", y->path);
    } else if (p->error == YAML_READER_ERROR) {
        fprintf(y->err, "%s: unreadable at byte %lu: %s\n", y->path,
                (unsigned long)p->problem_offset, problem);
    } else {
        fprintf(y->err, "%s:%lu:%lu: invalid YAML: %s", y->path,
                (unsigned long)p->problem_mark.line + 1, (unsigned long)p->problem_mark.column + 1,
                problem);
        if (p->context)
            fprintf(y->err, " (%s at line %lu)", p->context,
                    (unsigned long)p->context_mark.line + 1);
        fputc('\n', y->err);
    }
}

int kd_yload(kd_yfile *y, const char *what)
{
    struct stat st;
    if (stat(y->path, &st) != 0) {
        kd_yerr(y, NULL, "cannot open: %s", strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        kd_yerr(y, NULL, "is a directory, not a %s", what);
        return -1;
    }
    FILE *f = fopen(y->path, "rb");
    if (!f) {
        kd_yerr(y, NULL, "cannot open: %s", strerror(errno));
        return -1;
    }
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        fclose(f);
        kd_yerr(y, NULL, "out of memory");
        return -1;
    }
    yaml_parser_set_input_file(&p, f);
    int rc = -1;
    if (!yaml_parser_load(&p, &y->doc)) {
        yparse_err(y, &p);
        goto out;
    }
    y->loaded = 1;
    y->root = yaml_document_get_root_node(&y->doc);
    if (!y->root) {
        kd_yerr(y, NULL, "empty file, no %s", what);
        goto out;
    }
    if (y->root->type != YAML_MAPPING_NODE) {
        kd_yerr(y, y->root, "expected a mapping of %s keys, found %s", what, kd_ykind(y->root));
        goto out;
    }
    yaml_document_t extra;
    if (!yaml_parser_load(&p, &extra)) {
        yparse_err(y, &p);
        goto out;
    }
    yaml_node_t *more = yaml_document_get_root_node(&extra);
    if (more) {
        kd_yerr(y, more, "a second YAML document; a %s is one document", what);
        yaml_document_delete(&extra);
        goto out;
    }
    yaml_document_delete(&extra);
    char the[128];
    snprintf(the, sizeof the, "the %s", what);
    if (kd_ycheck_keys(y, y->root, the)) goto out;
    rc = 0;
out:
    yaml_parser_delete(&p);
    fclose(f);
    return rc;
}

void kd_yfree(kd_yfile *y)
{
    if (y->loaded) yaml_document_delete(&y->doc);
    y->loaded = 0;
}
