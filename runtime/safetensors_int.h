/* safetensors_int.h — what the reader's two rooms share: the JSON header
 * parser (safetensors_json.c) fills a kd_st_parser with the tensor entries
 * and the metadata; the reader (safetensors_read.c) checks the entries
 * against the data and builds the kd_st_file.  Not for other callers: they
 * use safetensors.h.
 */
#ifndef KD_SAFETENSORS_INT_H
#define KD_SAFETENSORS_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "safetensors.h"

#define KD_ST_META_KEY "__metadata__"

/* One tensor of the header, as written there (checked by the reader). */
typedef struct kd_st_entry {
    const char *name;
    const char *dtype;
    int has_dtype, has_shape, has_offsets;
    int ndim;
    int64_t shape[KD_ST_MAXDIM];
    uint64_t beg, end;
} kd_st_entry;

typedef struct kd_st_parser {
    const char *path;
    kdr_diag *d;
    const unsigned char *s;      /* the header */
    size_t n, pos;
    char *out;                   /* string storage */
    size_t outpos, outcap;
    int failed;
    kd_st_entry *ents;
    size_t nents, capents;
    kd_st_meta *meta;
    size_t nmeta, capmeta;
    int seen_meta;
} kd_st_parser;

/* The first failure only: "PATH: message" in p->d; sets p->failed. */
void kd_st_fail(kd_st_parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parse the header p->s[0..n): one JSON object of tensor entries and an
 * optional "__metadata__" object of strings.  Names, keys and values are
 * decoded into p->out (p->outcap >= n + 1 bytes).  0, or -1 after
 * kd_st_fail. */
int kd_st_parse_header(kd_st_parser *p);

static inline int kd_st_host_le(void)
{
    uint16_t x = 1;
    unsigned char c;
    memcpy(&c, &x, 1);
    return c == 1;
}

/* Reverse the bytes of each 4-byte word of p[0..n). */
static inline void kd_st_swap4(void *p, size_t n)
{
    unsigned char *b = p;
    for (size_t i = 0; i + 4 <= n; i += 4) {
        unsigned char t = b[i];
        b[i] = b[i + 3];
        b[i + 3] = t;
        t = b[i + 1];
        b[i + 1] = b[i + 2];
        b[i + 2] = t;
    }
}

#endif
