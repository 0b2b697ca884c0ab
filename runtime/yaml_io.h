/* yaml_io.h — the one YAML emitter and the one YAML reader of kdrun (over
 * libyaml): report.yaml of a run and of a sweep are written and read back
 * through these.
 *
 * Emitting: events with a sticky error, so that a writer calls what it
 * wants to write and checks once, in kd_ye_close():
 *
 *     kd_yemit y;
 *     if (kd_ye_open(&y, f, -1)) return -1;
 *     kd_ye_map(&y, 0);
 *     kd_ye_str(&y, "recipe"); kd_ye_str(&y, path);
 *     kd_ye_str(&y, "loss");   kd_ye_num(&y, 0.25);
 *     kd_ye_map_end(&y);
 *     return kd_ye_close(&y);
 *
 * Reading: kd_yload() loads a file of one document whose root is a
 * mapping; the accessors report every problem on y->err as
 *     PATH:LINE:COL: 'wall_seconds' is not a number: 'soon'
 * and return -1 (or NULL with *bad set), so that a reader stops at the
 * first one.
 */
#ifndef KD_YAML_IO_H
#define KD_YAML_IO_H

#include <stddef.h>
#include <stdio.h>
#include <yaml.h>

/* ---- numbers ---------------------------------------------------------------- */

/* The shortest %g form that reads back as the same double; YAML spellings
 * of the non-finite values (.nan, .inf, -.inf).  len >= 32. */
void kd_yaml_fmt_num(char *buf, size_t len, double v);

/* Text as a number: the whole text, by strtod, or one of the YAML 1.1
 * spellings .inf/.Inf/.INF (with + or -) and .nan/.NaN/.NAN.  0 or -1. */
int kd_yaml_parse_num(const char *s, double *v);

/* ---- emitting ---------------------------------------------------------------- */

typedef struct kd_yemit {
    yaml_emitter_t em;
    int ok;             /* 0 once anything failed: the later calls do nothing */
} kd_yemit;

/* Start a UTF-8 stream and its document (no "---") on f.  width: the line
 * width past which libyaml folds long plain scalars, -1 for never, 0 for
 * libyaml's default (80).  0, or -1 (out of memory; nothing to close). */
int kd_ye_open(kd_yemit *y, FILE *f, int width);
/* End the document with an explicit "..." (so that a cut file is
 * detectable), end the stream, flush, free.  0, or -1 with errno set on an
 * I/O error and 0 otherwise (out of memory) — the contract of kd_write_fn. */
int kd_ye_close(kd_yemit *y);

/* Text: plain when YAML reads it back as the same text, else quoted; ""
 * is written "" (not an empty plain scalar, which reads as null). */
void kd_ye_str(kd_yemit *y, const char *s);
/* Text that must stay text (labels such as "14" or "true"): always
 * double-quoted. */
void kd_ye_quoted(kd_yemit *y, const char *s);
/* A plain scalar written as is (null, a number already formatted). */
void kd_ye_plain(kd_yemit *y, const char *s);
void kd_ye_null(kd_yemit *y);
/* A number, exactly (kd_yaml_fmt_num). */
void kd_ye_num(kd_yemit *y, double v);
/* A number as printf's "%.*g" with prec digits, written like kd_ye_str. */
void kd_ye_num_prec(kd_yemit *y, double v, int prec);
void kd_ye_int(kd_yemit *y, long long v);
/* Mappings and sequences; flow: [a, b] / {k: v} on one line. */
void kd_ye_map(kd_yemit *y, int flow);
void kd_ye_map_end(kd_yemit *y);
void kd_ye_seq(kd_yemit *y, int flow);
void kd_ye_seq_end(kd_yemit *y);

/* ---- reading ------------------------------------------------------------------- */

typedef struct kd_yfile {
    const char *path;       /* set by the caller; named in messages */
    FILE *err;              /* messages go here (NULL: none) */
    yaml_document_t doc;
    int loaded;
    yaml_node_t *root;      /* a mapping once kd_yload() returned 0 */
} kd_yfile;

enum { KD_Y_REQUIRED = 1, KD_Y_NULL_OK = 2 };

/* Load y->path: one YAML document whose root is a mapping with distinct
 * scalar keys.  what names the document in messages ("report": "empty
 * file, no report").  0, or -1 after a message; kd_yfree() either way. */
int kd_yload(kd_yfile *y, const char *what);
void kd_yfree(kd_yfile *y);

/* "PATH:LINE:COL: message" at a node (at NULL: "PATH: message"). */
void kd_yerr(const kd_yfile *y, const yaml_node_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

yaml_node_t *kd_ynode(kd_yfile *y, int idx);
/* "a scalar", "a list", "a mapping" or "nothing". */
const char *kd_ykind(const yaml_node_t *n);
/* The text of a scalar node, or NULL for anything else. */
const char *kd_yscalar(const yaml_node_t *n);
/* A plain "", "~", "null", "Null" or "NULL". */
int kd_yis_null(const yaml_node_t *n);
/* A printable excerpt of a scalar for messages (else its kind). */
const char *kd_yshow(const yaml_node_t *n, char *buf, size_t len);

/* The value of key in a mapping, NULL if absent; a key given twice is an
 * error (NULL, *bad set). */
yaml_node_t *kd_yget(kd_yfile *y, yaml_node_t *map, const char *key, int *bad);
/* Every key of a mapping is a scalar, and they are distinct. */
int kd_ycheck_keys(kd_yfile *y, yaml_node_t *map, const char *what);
/* A text value; *out = NULL when absent or (Y_NULL_OK) null. */
int kd_ytext(kd_yfile *y, yaml_node_t *map, const char *key, int flags, const char **out);
/* A number (null: *have = 0); integer: a whole number. */
int kd_ynum(kd_yfile *y, yaml_node_t *map, const char *key, int flags, int integer, double *v,
            int *have);
/* A mapping or list value (type), NULL when absent or (Y_NULL_OK) null;
 * anything else sets *bad after a message. */
yaml_node_t *kd_ytyped(kd_yfile *y, yaml_node_t *map, const char *key, yaml_node_type_t type,
                       int flags, int *bad);

/* for (each item n of the list seq, which may be NULL) */
#define KD_YSEQ_FOR(y, seq, it, n)                                                 \
    for (yaml_node_item_t *it = (seq) ? (seq)->data.sequence.items.start : NULL;   \
         it && it < (seq)->data.sequence.items.top && ((n) = kd_ynode((y), *it), 1); it++)

#endif
