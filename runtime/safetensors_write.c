/* safetensors_write.c — writing a .safetensors file of float32 tensors
 * (kd_st_write): names and metadata checked, the JSON header built with
 * "__metadata__" first and padded so that the data starts at a multiple of
 * 8, then header and little-endian data written atomically through
 * kd_write_atomic (textbuf.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lang/utf8.h"
#include "crc32.h"
#include "safetensors_int.h"
#include "textbuf.h"

/* s is valid UTF-8 from end to end. */
static int utf8_valid(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t l = (size_t)kdr_utf8_len(u + i, n - i, NULL);
        if (!l)
            return 0;
        i += l;
    }
    return 1;
}

/* A JSON string literal. */
static void sb_json(kd_strbuf *b, const char *s)
{
    kd_sb_put(b, "\"", 1);
    for (const unsigned char *u = (const unsigned char *)s; *u; u++) {
        if (*u == '"')
            kd_sb_put(b, "\\\"", 2);
        else if (*u == '\\')
            kd_sb_put(b, "\\\\", 2);
        else if (*u == '\n')
            kd_sb_put(b, "\\n", 2);
        else if (*u == '\t')
            kd_sb_put(b, "\\t", 2);
        else if (*u < 0x20)
            kd_sb_printf(b, "\\u%04x", *u);
        else
            kd_sb_put(b, (const char *)u, 1);
    }
    kd_sb_put(b, "\"", 1);
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Names and keys: non-empty, valid UTF-8, unique.  what: "tensor"/"metadata key". */
static int check_names(const char *path, const char **names, size_t n,
                       const char *what, int is_tensor, kdr_diag *d)
{
    for (size_t i = 0; i < n; i++) {
        if (!names[i] || !*names[i]) {
            kdr_diag_push(d, KDR_ERROR, NULL, 0, 0, "%s: %s %zu has an empty name",
                          path, what, i);
            return -1;
        }
        if (!utf8_valid(names[i])) {
            kdr_diag_push(d, KDR_ERROR, NULL, 0, 0, "%s: %s name is not valid UTF-8",
                          path, what);
            return -1;
        }
        if (is_tensor && strcmp(names[i], KD_ST_META_KEY) == 0) {
            kdr_diag_push(d, KDR_ERROR, NULL, 0, 0,
                          "%s: a tensor cannot be named \"__metadata__\"", path);
            return -1;
        }
    }
    qsort(names, n, sizeof *names, cmp_str_ptr);
    for (size_t i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) == 0) {
            kdr_diag_push(d, KDR_ERROR, NULL, 0, 0, "%s: duplicate %s%s '%s'",
                          path, what, is_tensor ? " name" : "", names[i]);
            return -1;
        }
    return 0;
}

/* What kd_st_write hands to kd_write_atomic: the header, then the data. */
typedef struct st_out {
    const kd_strbuf *h;
    const kd_st_tensor *t;
    size_t n;
} st_out;

static int write_st(FILE *f, void *arg)
{
    const st_out *o = arg;
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)((uint64_t)o->h->n >> (8 * i));
    if (fwrite(len8, 1, 8, f) != 8 || fwrite(o->h->s, 1, o->h->n, f) != o->h->n)
        return -1;
    for (size_t i = 0; i < o->n; i++) {
        size_t bytes = (size_t)kd_st_numel(&o->t[i]) * 4;
        if (kd_st_host_le()) {
            if (bytes && fwrite(o->t[i].data, 1, bytes, f) != bytes)
                return -1;
        } else {
            unsigned char chunk[4096];
            const unsigned char *src = (const unsigned char *)o->t[i].data;
            for (size_t k = 0; k < bytes; k += sizeof chunk) {
                size_t c = bytes - k < sizeof chunk ? bytes - k : sizeof chunk;
                memcpy(chunk, src + k, c);
                kd_st_swap4(chunk, c);
                if (fwrite(chunk, 1, c, f) != c)
                    return -1;
            }
        }
    }
    return 0;
}

/* The CRC-32 of the data area as written: the tensors' little-endian bytes
 * in order (KD_ST_CRC_KEY in the metadata; the reader checks it). */
static uint32_t data_crc(const kd_st_tensor *t, size_t n)
{
    uint32_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        size_t bytes = (size_t)kd_st_numel(&t[i]) * 4;
        if (kd_st_host_le()) {
            if (bytes) crc = kd_crc32(crc, t[i].data, bytes);
            continue;
        }
        unsigned char chunk[4096];
        const unsigned char *src = (const unsigned char *)t[i].data;
        for (size_t k = 0; k < bytes; k += sizeof chunk) {
            size_t c = bytes - k < sizeof chunk ? bytes - k : sizeof chunk;
            memcpy(chunk, src + k, c);
            kd_st_swap4(chunk, c);
            crc = kd_crc32(crc, chunk, c);
        }
    }
    return crc;
}

int kd_st_write(const char *path, const kd_st_tensor *t, size_t n,
                const kd_st_meta *m, size_t nmeta, kdr_diag *d)
{
#define WERR(...) kdr_diag_push(d, KDR_ERROR, NULL, 0, 0, __VA_ARGS__)
    int rc = -1;
    const char **names = NULL;
    kd_strbuf h = { 0 };
    size_t nn = n > nmeta ? n : nmeta;
    names = malloc(sizeof *names * (nn ? nn : 1));
    if (!names) {
        WERR("%s: out of memory", path);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        names[i] = t[i].name;
        if (t[i].ndim < 0 || t[i].ndim > KD_ST_MAXDIM) {
            WERR("%s: tensor '%s' has %d dimensions (0 to %d are supported)", path,
                 t[i].name ? t[i].name : "", t[i].ndim, KD_ST_MAXDIM);
            goto out;
        }
        for (int k = 0; k < t[i].ndim; k++)
            if (t[i].shape[k] < 0) {
                WERR("%s: tensor '%s' has a negative dimension", path,
                     t[i].name ? t[i].name : "");
                goto out;
            }
        if (!t[i].data && kd_st_numel(&t[i]) > 0) {
            WERR("%s: tensor '%s' has no data", path, t[i].name ? t[i].name : "");
            goto out;
        }
    }
    if (check_names(path, names, n, "tensor", 1, d) != 0)
        goto out;
    for (size_t i = 0; i < nmeta; i++) {
        names[i] = m[i].key;
        if (m[i].key && strcmp(m[i].key, KD_ST_CRC_KEY) == 0) {
            WERR("%s: metadata key '%s' is the writer's own", path, KD_ST_CRC_KEY);
            goto out;
        }
        if (!m[i].value || !utf8_valid(m[i].value)) {
            WERR("%s: metadata '%s' has no valid UTF-8 value", path,
                 m[i].key ? m[i].key : "");
            goto out;
        }
    }
    if (check_names(path, names, nmeta, "metadata key", 0, d) != 0)
        goto out;

    /* the header: the metadata, the checksum last */
    kd_sb_puts(&h, "{");
    kd_sb_puts(&h, "\"" KD_ST_META_KEY "\":{");
    for (size_t i = 0; i < nmeta; i++) {
        sb_json(&h, m[i].key);
        kd_sb_puts(&h, ":");
        sb_json(&h, m[i].value);
        kd_sb_puts(&h, ",");
    }
    kd_sb_printf(&h, "\"" KD_ST_CRC_KEY "\":\"%08x\"}", (unsigned)data_crc(t, n));
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t bytes = (uint64_t)kd_st_numel(&t[i]) * 4;
        kd_sb_puts(&h, ",");
        sb_json(&h, t[i].name);
        kd_sb_puts(&h, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int k = 0; k < t[i].ndim; k++)
            kd_sb_printf(&h, "%s%lld", k ? "," : "", (long long)t[i].shape[k]);
        kd_sb_printf(&h, "],\"data_offsets\":[%llu,", (unsigned long long)off);
        off += bytes;
        kd_sb_printf(&h, "%llu]}", (unsigned long long)off);
    }
    kd_sb_puts(&h, "}");
    while ((8 + h.n) % 8)
        kd_sb_puts(&h, " ");
    if (h.oom) {
        WERR("%s: out of memory", path);
        goto out;
    }

    char err[4200];
    st_out o = { &h, t, n };
    if (kd_write_atomic(path, write_st, &o, err, sizeof err) != 0) {
        WERR("%s", err);
        goto out;
    }
    rc = 0;
out:
    kd_sb_free(&h);
    free(names);
    return rc;
#undef WERR
}
