/* safetensors.c — .safetensors reader and atomic writer for float32 tensors.
 *
 * The reader loads the whole file, parses the JSON header with a small
 * schema-directed parser (objects, strings with escapes, non-negative
 * integer arrays, the string-to-string "__metadata__" object; any other
 * JSON value is accepted only as an ignored field of a tensor entry), checks
 * every entry, and moves the data area to the start of its buffer so that
 * the floats are aligned.  Every failure is a "PATH: ..." message in the
 * kdr_diag and a NULL result; nothing here asserts or exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safetensors.h"
#include "textbuf.h"

#define META_KEY "__metadata__"
#define MAX_DEPTH 64

static int host_le(void)
{
    uint16_t x = 1;
    unsigned char c;
    memcpy(&c, &x, 1);
    return c == 1;
}

static void swap4(void *p, size_t n)
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

int64_t kd_st_numel(const kd_st_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; }
    else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0f; }
    else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; }
    else return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static int utf8_valid(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t l = utf8_len(u + i, n - i);
        if (!l)
            return 0;
        i += l;
    }
    return 1;
}

/* ======================================================================= */
/* reading                                                                  */
/* ======================================================================= */

typedef enum {
    DT_UNKNOWN, DT_F32, DT_OTHER
} dtype_class;

typedef struct entry {
    const char *name;
    const char *dtype;
    int has_dtype, has_shape, has_offsets;
    int ndim;
    int64_t shape[KD_ST_MAXDIM];
    uint64_t beg, end;
} entry;

struct kd_st_file {
    unsigned char *buf;          /* the file; then the data area at its start */
    char *strings;               /* decoded names, keys, values */
    kd_st_tensor *tensors;       /* in offset order */
    size_t ntensors;
    size_t *by_name;             /* indexes into tensors, sorted by name */
    kd_st_meta *meta;
    size_t nmeta;
};

typedef struct parser {
    const char *path;
    kdr_diag *d;
    const unsigned char *s;      /* the header */
    size_t n, pos;
    char *out;                   /* string storage */
    size_t outpos, outcap;
    int failed;
    entry *ents;
    size_t nents, capents;
    kd_st_meta *meta;
    size_t nmeta, capmeta;
    int seen_meta;
} parser;

static void fail(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(parser *p, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = 1;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    kdr_diag_push(p->d, KDR_ERROR, NULL, 0, 0, "%s: %s", p->path, msg);
}

/* "bad JSON header at byte K: ..." */
static void syntax(parser *p, const char *what)
{
    if (p->pos >= p->n)
        fail(p, "bad JSON header: unexpected end of the header (%zu bytes): %s",
             p->n, what);
    else
        fail(p, "bad JSON header at byte %zu: %s", p->pos, what);
}

static void ws(parser *p)
{
    while (p->pos < p->n && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                             p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
}

static int peek(parser *p)
{
    ws(p);
    return p->pos < p->n ? p->s[p->pos] : -1;
}

static int expect(parser *p, int c, const char *what)
{
    if (peek(p) != c) {
        syntax(p, what);
        return -1;
    }
    p->pos++;
    return 0;
}

static int hex4(parser *p, uint32_t *v)
{
    if (p->n - p->pos < 4)
        return -1;
    uint32_t x = 0;
    for (int i = 0; i < 4; i++) {
        int c = p->s[p->pos + (size_t)i];
        x <<= 4;
        if (c >= '0' && c <= '9') x |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') x |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') x |= (uint32_t)(c - 'A' + 10);
        else return -1;
    }
    p->pos += 4;
    *v = x;
    return 0;
}

static void put(parser *p, unsigned char c)
{
    if (p->outpos < p->outcap)
        p->out[p->outpos++] = (char)c;
}

/* Parse a string at the current position; returns its decoded copy in the
 * string storage, or NULL on error. */
static const char *string(parser *p)
{
    if (peek(p) != '"') {
        syntax(p, "expected a string");
        return NULL;
    }
    p->pos++;
    char *start = p->out + p->outpos;
    for (;;) {
        if (p->pos >= p->n) {
            syntax(p, "unterminated string");
            return NULL;
        }
        unsigned c = p->s[p->pos];
        if (c == '"') {
            p->pos++;
            put(p, 0);
            return start;
        }
        if (c < 0x20) {
            syntax(p, "control character in a string");
            return NULL;
        }
        if (c == '\\') {
            size_t esc = p->pos;     /* errors point at the backslash */
            p->pos++;
            if (p->pos >= p->n) {
                syntax(p, "unterminated string");
                return NULL;
            }
            c = p->s[p->pos++];
            switch (c) {
            case '"': put(p, '"'); break;
            case '\\': put(p, '\\'); break;
            case '/': put(p, '/'); break;
            case 'b': put(p, '\b'); break;
            case 'f': put(p, '\f'); break;
            case 'n': put(p, '\n'); break;
            case 'r': put(p, '\r'); break;
            case 't': put(p, '\t'); break;
            case 'u': {
                uint32_t cp, lo;
                if (hex4(p, &cp) != 0) {
                    p->pos = esc;
                    syntax(p, "bad \\u escape");
                    return NULL;
                }
                if (cp >= 0xdc00 && cp <= 0xdfff) {
                    p->pos = esc;
                    syntax(p, "lone low surrogate in a \\u escape");
                    return NULL;
                }
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    if (p->n - p->pos < 6 || p->s[p->pos] != '\\' ||
                        p->s[p->pos + 1] != 'u') {
                        p->pos = esc;
                        syntax(p, "high surrogate not followed by a low surrogate");
                        return NULL;
                    }
                    p->pos += 2;
                    if (hex4(p, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff) {
                        p->pos = esc;
                        syntax(p, "high surrogate not followed by a low surrogate");
                        return NULL;
                    }
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                }
                if (cp == 0) {
                    p->pos = esc;
                    syntax(p, "\\u0000 (a NUL character) in a string");
                    return NULL;
                }
                if (cp < 0x80) {
                    put(p, (unsigned char)cp);
                } else if (cp < 0x800) {
                    put(p, (unsigned char)(0xc0 | (cp >> 6)));
                    put(p, (unsigned char)(0x80 | (cp & 0x3f)));
                } else if (cp < 0x10000) {
                    put(p, (unsigned char)(0xe0 | (cp >> 12)));
                    put(p, (unsigned char)(0x80 | ((cp >> 6) & 0x3f)));
                    put(p, (unsigned char)(0x80 | (cp & 0x3f)));
                } else {
                    put(p, (unsigned char)(0xf0 | (cp >> 18)));
                    put(p, (unsigned char)(0x80 | ((cp >> 12) & 0x3f)));
                    put(p, (unsigned char)(0x80 | ((cp >> 6) & 0x3f)));
                    put(p, (unsigned char)(0x80 | (cp & 0x3f)));
                }
                break;
            }
            default:
                p->pos = esc;
                syntax(p, "bad escape in a string");
                return NULL;
            }
            continue;
        }
        size_t l = utf8_len(p->s + p->pos, p->n - p->pos);
        if (!l) {
            syntax(p, "invalid UTF-8 in a string");
            return NULL;
        }
        for (size_t i = 0; i < l; i++)
            put(p, p->s[p->pos + i]);
        p->pos += l;
    }
}

/* A non-negative integer; what names the value for messages. */
static int integer(parser *p, uint64_t *v, const char *what)
{
    int c = peek(p);
    if (c == '-') {
        fail(p, "%s: negative number at header byte %zu", what, p->pos);
        return -1;
    }
    if (c < '0' || c > '9') {
        syntax(p, "expected an integer");
        return -1;
    }
    size_t start = p->pos;
    uint64_t x = 0;
    while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
        unsigned dgt = p->s[p->pos] - '0';
        if (x > (UINT64_C(0x7fffffffffffffff) - dgt) / 10) {
            fail(p, "%s: number too large at header byte %zu", what, start);
            return -1;
        }
        x = x * 10 + dgt;
        p->pos++;
    }
    if (p->pos - start > 1 && p->s[start] == '0') {
        p->pos = start;
        syntax(p, "number with a leading zero");
        return -1;
    }
    if (p->pos < p->n && (p->s[p->pos] == '.' || p->s[p->pos] == 'e' ||
                          p->s[p->pos] == 'E')) {
        fail(p, "%s: not an integer at header byte %zu", what, start);
        return -1;
    }
    *v = x;
    return 0;
}

/* [int, int, ...]; at most max values; returns the count or -1. */
static int int_array(parser *p, uint64_t *v, int max, const char *what, int *too_many)
{
    *too_many = 0;
    if (expect(p, '[', "expected '['") != 0)
        return -1;
    int n = 0;
    if (peek(p) == ']') {
        p->pos++;
        return 0;
    }
    for (;;) {
        uint64_t x;
        if (integer(p, &x, what) != 0)
            return -1;
        if (n < max)
            v[n] = x;
        else
            *too_many = 1;
        n++;
        int c = peek(p);
        if (c == ',') {
            p->pos++;
            continue;
        }
        if (c == ']') {
            p->pos++;
            return n;
        }
        syntax(p, "expected ',' or ']' in an array");
        return -1;
    }
}

/* Skip any JSON value (an ignored field). */
static int skip_value(parser *p, int depth)
{
    if (depth > MAX_DEPTH) {
        syntax(p, "values nested too deeply");
        return -1;
    }
    int c = peek(p);
    if (c == '"')
        return string(p) ? 0 : -1;
    if (c == '{' || c == '[') {
        int close = c == '{' ? '}' : ']';
        p->pos++;
        if (peek(p) == close) {
            p->pos++;
            return 0;
        }
        for (;;) {
            if (close == '}') {
                if (!string(p) || expect(p, ':', "expected ':'") != 0)
                    return -1;
            }
            if (skip_value(p, depth + 1) != 0)
                return -1;
            int k = peek(p);
            if (k == ',') {
                p->pos++;
                continue;
            }
            if (k == close) {
                p->pos++;
                return 0;
            }
            syntax(p, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
            return -1;
        }
    }
    static const char *const words[] = { "true", "false", "null" };
    for (int i = 0; i < 3; i++) {
        size_t l = strlen(words[i]);
        if (p->n - p->pos >= l && memcmp(p->s + p->pos, words[i], l) == 0) {
            p->pos += l;
            return 0;
        }
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        if (c == '-')
            p->pos++;
        size_t digits = 0;
        while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
            p->pos++;
            digits++;
        }
        if (!digits) {
            syntax(p, "bad number");
            return -1;
        }
        if (p->pos < p->n && p->s[p->pos] == '.') {
            p->pos++;
            digits = 0;
            while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
                p->pos++;
                digits++;
            }
            if (!digits) {
                syntax(p, "bad number");
                return -1;
            }
        }
        if (p->pos < p->n && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
            p->pos++;
            if (p->pos < p->n && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
                p->pos++;
            digits = 0;
            while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
                p->pos++;
                digits++;
            }
            if (!digits) {
                syntax(p, "bad number");
                return -1;
            }
        }
        return 0;
    }
    syntax(p, "expected a JSON value");
    return -1;
}

static int parse_metadata(parser *p)
{
    if (p->seen_meta) {
        fail(p, "duplicate \"__metadata__\" entry");
        return -1;
    }
    p->seen_meta = 1;
    if (peek(p) != '{') {
        syntax(p, "\"__metadata__\" must be an object of strings");
        return -1;
    }
    p->pos++;
    if (peek(p) == '}') {
        p->pos++;
        return 0;
    }
    for (;;) {
        const char *k = string(p);
        if (!k || expect(p, ':', "expected ':'") != 0)
            return -1;
        if (peek(p) != '"') {
            fail(p, "metadata '%s' is not a string", k);
            return -1;
        }
        const char *v = string(p);
        if (!v)
            return -1;
        for (size_t i = 0; i < p->nmeta; i++)
            if (strcmp(p->meta[i].key, k) == 0) {
                fail(p, "duplicate metadata key '%s'", k);
                return -1;
            }
        if (p->nmeta == p->capmeta) {
            size_t nc = p->capmeta ? 2 * p->capmeta : 8;
            kd_st_meta *nm = realloc(p->meta, nc * sizeof *nm);
            if (!nm) {
                fail(p, "out of memory");
                return -1;
            }
            p->meta = nm;
            p->capmeta = nc;
        }
        p->meta[p->nmeta].key = k;
        p->meta[p->nmeta].value = v;
        p->nmeta++;
        int c = peek(p);
        if (c == ',') {
            p->pos++;
            continue;
        }
        if (c == '}') {
            p->pos++;
            return 0;
        }
        syntax(p, "expected ',' or '}'");
        return -1;
    }
}

static int parse_entry(parser *p, const char *name)
{
    if (p->nents == p->capents) {
        size_t nc = p->capents ? 2 * p->capents : 16;
        entry *ne = realloc(p->ents, nc * sizeof *ne);
        if (!ne) {
            fail(p, "out of memory");
            return -1;
        }
        p->ents = ne;
        p->capents = nc;
    }
    entry *e = &p->ents[p->nents++];
    memset(e, 0, sizeof *e);
    e->name = name;
    if (peek(p) != '{') {
        fail(p, "tensor '%s' is not an object", name);
        return -1;
    }
    p->pos++;
    int c = peek(p);
    if (c == '}') {
        p->pos++;
    } else {
        for (;;) {
            const char *k = string(p);
            if (!k || expect(p, ':', "expected ':'") != 0)
                return -1;
            if (strcmp(k, "dtype") == 0) {
                if (e->has_dtype) {
                    fail(p, "tensor '%s' has two dtype fields", name);
                    return -1;
                }
                if (peek(p) != '"') {
                    fail(p, "tensor '%s': dtype is not a string", name);
                    return -1;
                }
                e->dtype = string(p);
                if (!e->dtype)
                    return -1;
                e->has_dtype = 1;
            } else if (strcmp(k, "shape") == 0) {
                if (e->has_shape) {
                    fail(p, "tensor '%s' has two shape fields", name);
                    return -1;
                }
                if (peek(p) != '[') {
                    fail(p, "tensor '%s': shape is not an array of integers", name);
                    return -1;
                }
                uint64_t v[KD_ST_MAXDIM];
                int many;
                char what[300];
                snprintf(what, sizeof what, "tensor '%s' shape", name);
                int n = int_array(p, v, KD_ST_MAXDIM, what, &many);
                if (n < 0)
                    return -1;
                if (many) {
                    fail(p, "tensor '%s' has %d dimensions, at most %d are supported",
                         name, n, KD_ST_MAXDIM);
                    return -1;
                }
                e->ndim = n;
                for (int i = 0; i < n; i++)
                    e->shape[i] = (int64_t)v[i];
                e->has_shape = 1;
            } else if (strcmp(k, "data_offsets") == 0) {
                if (e->has_offsets) {
                    fail(p, "tensor '%s' has two data_offsets fields", name);
                    return -1;
                }
                if (peek(p) != '[') {
                    fail(p, "tensor '%s': data_offsets is not an array of two integers", name);
                    return -1;
                }
                uint64_t v[2];
                int many;
                char what[300];
                snprintf(what, sizeof what, "tensor '%s' data_offsets", name);
                int n = int_array(p, v, 2, what, &many);
                if (n < 0)
                    return -1;
                if (n != 2) {
                    fail(p, "tensor '%s': data_offsets has %d values, not 2", name, n);
                    return -1;
                }
                e->beg = v[0];
                e->end = v[1];
                e->has_offsets = 1;
            } else if (skip_value(p, 1) != 0) {
                return -1;
            }
            c = peek(p);
            if (c == ',') {
                p->pos++;
                continue;
            }
            if (c == '}') {
                p->pos++;
                break;
            }
            syntax(p, "expected ',' or '}'");
            return -1;
        }
    }
    if (!e->has_dtype || !e->has_shape || !e->has_offsets) {
        fail(p, "tensor '%s' has no %s", name,
             !e->has_dtype ? "dtype" : !e->has_shape ? "shape" : "data_offsets");
        return -1;
    }
    return 0;
}

static int parse_header(parser *p)
{
    if (peek(p) != '{') {
        syntax(p, "the header is not a JSON object");
        return -1;
    }
    p->pos++;
    if (peek(p) == '}') {
        p->pos++;
    } else {
        for (;;) {
            const char *k = string(p);
            if (!k || expect(p, ':', "expected ':'") != 0)
                return -1;
            if (strcmp(k, META_KEY) == 0) {
                if (parse_metadata(p) != 0)
                    return -1;
            } else {
                if (!*k) {
                    fail(p, "tensor with an empty name");
                    return -1;
                }
                if (parse_entry(p, k) != 0)
                    return -1;
            }
            int c = peek(p);
            if (c == ',') {
                p->pos++;
                continue;
            }
            if (c == '}') {
                p->pos++;
                break;
            }
            syntax(p, "expected ',' or '}'");
            return -1;
        }
    }
    if (peek(p) != -1) {
        syntax(p, "characters after the JSON object");
        return -1;
    }
    return 0;
}

static const char *const known_dtypes[] = {
    "BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16",
    "I32", "U32", "F32", "F64", "I64", "U64", "C64", "F4", "F6_E2M3",
    "F6_E3M2", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ",
};

static dtype_class classify(const char *dt)
{
    if (strcmp(dt, "F32") == 0)
        return DT_F32;
    for (size_t i = 0; i < sizeof known_dtypes / sizeof known_dtypes[0]; i++)
        if (strcmp(dt, known_dtypes[i]) == 0)
            return DT_OTHER;
    return DT_UNKNOWN;
}

static void shape_str(char *buf, size_t cap, const entry *e)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, cap - o, "[");
    for (int i = 0; i < e->ndim && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%lld", i ? ", " : "",
                              (long long)e->shape[i]);
    if (o < cap)
        snprintf(buf + o, cap - o, "]");
}

static int by_name_cmp(const void *a, const void *b)
{
    return strcmp((*(const entry *const *)a)->name, (*(const entry *const *)b)->name);
}

static int by_offset_cmp(const void *a, const void *b)
{
    const entry *x = *(const entry *const *)a, *y = *(const entry *const *)b;
    if (x->beg != y->beg)
        return x->beg < y->beg ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* Validate the parsed entries against the data area of `size` bytes; fill
 * the order of tensors by offset (ord) and by name (names).  0 or -1. */
static int check_entries(parser *p, uint64_t size, const entry **ord,
                         const entry **names)
{
    char sh[256];
    for (size_t i = 0; i < p->nents; i++) {
        const entry *e = &p->ents[i];
        dtype_class dc = classify(e->dtype);
        if (dc == DT_UNKNOWN) {
            fail(p, "tensor '%s' has unknown dtype '%s'", e->name, e->dtype);
            return -1;
        }
        if (dc == DT_OTHER) {
            fail(p, "tensor '%s' has dtype %s; only F32 tensors can be read",
                 e->name, e->dtype);
            return -1;
        }
        if (e->beg > e->end) {
            fail(p, "tensor '%s' data_offsets [%llu, %llu] end before they begin",
                 e->name, (unsigned long long)e->beg, (unsigned long long)e->end);
            return -1;
        }
        if (e->end > size) {
            fail(p, "tensor '%s' data_offsets [%llu, %llu] overrun the data (%llu bytes)",
                 e->name, (unsigned long long)e->beg, (unsigned long long)e->end,
                 (unsigned long long)size);
            return -1;
        }
        uint64_t bytes = 4;
        int over = 0;
        for (int k = 0; k < e->ndim; k++) {
            uint64_t dim = (uint64_t)e->shape[k];
            if (dim && bytes > UINT64_C(0x7fffffffffffffff) / dim)
                over = 1;
            else
                bytes *= dim;
        }
        shape_str(sh, sizeof sh, e);
        if (over || bytes != e->end - e->beg) {
            fail(p, "tensor '%s' has shape %s (%s%llu bytes as F32) but data_offsets "
                 "[%llu, %llu] span %llu bytes", e->name, sh, over ? "over " : "",
                 over ? (unsigned long long)UINT64_C(0x7fffffffffffffff)
                      : (unsigned long long)bytes,
                 (unsigned long long)e->beg, (unsigned long long)e->end,
                 (unsigned long long)(e->end - e->beg));
            return -1;
        }
    }
    for (size_t i = 0; i < p->nents; i++)
        names[i] = ord[i] = &p->ents[i];
    qsort(names, p->nents, sizeof *names, by_name_cmp);
    for (size_t i = 1; i < p->nents; i++)
        if (strcmp(names[i - 1]->name, names[i]->name) == 0) {
            fail(p, "duplicate tensor name '%s'", names[i]->name);
            return -1;
        }
    qsort(ord, p->nents, sizeof *ord, by_offset_cmp);
    uint64_t cursor = 0;
    const entry *prev = NULL;
    for (size_t i = 0; i < p->nents; i++) {
        const entry *e = ord[i];
        if (e->beg < cursor) {
            fail(p, "tensors '%s' [%llu, %llu] and '%s' [%llu, %llu] overlap",
                 prev->name, (unsigned long long)prev->beg, (unsigned long long)prev->end,
                 e->name, (unsigned long long)e->beg, (unsigned long long)e->end);
            return -1;
        }
        if (e->beg > cursor) {
            fail(p, "bytes [%llu, %llu) of the data belong to no tensor",
                 (unsigned long long)cursor, (unsigned long long)e->beg);
            return -1;
        }
        if (e->end > e->beg || !prev) {
            cursor = e->end;
            prev = e;
        }
    }
    if (cursor != size) {
        fail(p, "bytes [%llu, %llu) of the data belong to no tensor",
             (unsigned long long)cursor, (unsigned long long)size);
        return -1;
    }
    return 0;
}

/* Read the whole file: buffer and size, or NULL with a message. */
static unsigned char *slurp(const char *path, size_t *size, kdr_diag *d)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        kdr_diag_push(d, KDR_ERROR, NULL, 0, 0, "%s: cannot open: %s", path,
                      strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        kdr_diag_push(d, KDR_ERROR, NULL, 0, 0, "%s: cannot stat: %s", path,
                      strerror(errno));
        close(fd);
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        kdr_diag_push(d, KDR_ERROR, NULL, 0, 0, "%s: is a directory, not a safetensors file",
                      path);
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        kdr_diag_push(d, KDR_ERROR, NULL, 0, 0, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    if ((uint64_t)st.st_size > (uint64_t)SIZE_MAX - 1) {
        kdr_diag_push(d, KDR_ERROR, NULL, 0, 0, "%s: file too large", path);
        close(fd);
        return NULL;
    }
    size_t n = (size_t)st.st_size;
    unsigned char *buf = malloc(n ? n : 1);
    if (!buf) {
        kdr_diag_push(d, KDR_ERROR, NULL, 0, 0, "%s: out of memory (%zu bytes)", path, n);
        close(fd);
        return NULL;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            kdr_diag_push(d, KDR_ERROR, NULL, 0, 0, "%s: read error: %s", path,
                          strerror(errno));
            free(buf);
            close(fd);
            return NULL;
        }
        if (r == 0)
            break;               /* shrank while reading: check what we have */
        got += (size_t)r;
    }
    close(fd);
    *size = got;
    return buf;
}

kd_st_file *kd_st_read(const char *path, kdr_diag *d)
{
    size_t size = 0;
    unsigned char *buf = slurp(path, &size, d);
    if (!buf)
        return NULL;
    kd_st_file *f = NULL;
    parser p;
    memset(&p, 0, sizeof p);
    p.path = path;
    p.d = d;
    const entry **ord = NULL, **names = NULL;
    if (size == 0) {
        fail(&p, "empty file (a safetensors file starts with an 8-byte header length)");
        goto out;
    }
    if (size < 8) {
        fail(&p, "truncated: %zu bytes, shorter than the 8-byte header length", size);
        goto out;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | buf[i];
    if (hlen == 0) {
        fail(&p, "header length is 0 (a safetensors header is at least \"{}\")");
        goto out;
    }
    if (hlen > size - 8) {
        fail(&p, "header length %llu overruns the file (%zu bytes after the 8-byte length)",
             (unsigned long long)hlen, size - 8);
        goto out;
    }
    if (hlen > KD_ST_MAX_HEADER) {
        fail(&p, "header length %llu is over the limit of %llu bytes",
             (unsigned long long)hlen, (unsigned long long)KD_ST_MAX_HEADER);
        goto out;
    }
    p.s = buf + 8;
    p.n = (size_t)hlen;
    p.outcap = p.n + 1;
    p.out = malloc(p.outcap);
    if (!p.out) {
        fail(&p, "out of memory");
        goto out;
    }
    if (parse_header(&p) != 0)
        goto out;
    uint64_t dsize = size - 8 - hlen;
    ord = malloc(sizeof *ord * (p.nents ? p.nents : 1));
    names = malloc(sizeof *names * (p.nents ? p.nents : 1));
    f = calloc(1, sizeof *f);
    if (!ord || !names || !f) {
        fail(&p, "out of memory");
        goto out;
    }
    if (check_entries(&p, dsize, ord, names) != 0)
        goto out;
    f->tensors = calloc(p.nents ? p.nents : 1, sizeof *f->tensors);
    if (!f->tensors) {
        fail(&p, "out of memory");
        goto out;
    }
    /* Move the data area to the start of the (malloc-aligned) buffer. */
    memmove(buf, buf + 8 + hlen, (size_t)dsize);
    if (!host_le())
        swap4(buf, (size_t)dsize);
    f->buf = buf;
    buf = NULL;
    f->strings = p.out;
    p.out = NULL;
    f->ntensors = p.nents;
    for (size_t i = 0; i < p.nents; i++) {
        const entry *e = ord[i];
        kd_st_tensor *t = &f->tensors[i];
        t->name = e->name;
        t->ndim = e->ndim;
        memcpy(t->shape, e->shape, sizeof t->shape);
        t->data = (const float *)(void *)(f->buf + e->beg);
    }
    /* by name: tensor indexes (entry -> position in offset order) */
    f->by_name = malloc(sizeof *f->by_name * (p.nents ? p.nents : 1));
    size_t *inv = malloc(sizeof *inv * (p.nents ? p.nents : 1));
    if (!f->by_name || !inv) {
        free(inv);
        fail(&p, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < p.nents; i++)
        inv[ord[i] - p.ents] = i;
    for (size_t i = 0; i < p.nents; i++)
        f->by_name[i] = inv[names[i] - p.ents];
    free(inv);
    f->meta = p.meta;
    f->nmeta = p.nmeta;
    p.meta = NULL;
out:
    if (p.failed && f) {
        kd_st_free(f);
        f = NULL;
    }
    free(buf);
    free(p.out);
    free(p.ents);
    free(p.meta);
    free(ord);
    free(names);
    return f;
}

void kd_st_free(kd_st_file *f)
{
    if (!f)
        return;
    free(f->buf);
    free(f->strings);
    free(f->tensors);
    free(f->by_name);
    free(f->meta);
    free(f);
}

size_t kd_st_count(const kd_st_file *f) { return f->ntensors; }

const kd_st_tensor *kd_st_at(const kd_st_file *f, size_t i)
{
    return i < f->ntensors ? &f->tensors[i] : NULL;
}

const kd_st_tensor *kd_st_find(const kd_st_file *f, const char *name)
{
    size_t lo = 0, hi = f->ntensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const kd_st_tensor *t = &f->tensors[f->by_name[mid]];
        int c = strcmp(name, t->name);
        if (c == 0)
            return t;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

size_t kd_st_meta_count(const kd_st_file *f) { return f->nmeta; }

const kd_st_meta *kd_st_meta_at(const kd_st_file *f, size_t i)
{
    return i < f->nmeta ? &f->meta[i] : NULL;
}

const char *kd_st_meta_get(const kd_st_file *f, const char *key)
{
    for (size_t i = 0; i < f->nmeta; i++)
        if (strcmp(f->meta[i].key, key) == 0)
            return f->meta[i].value;
    return NULL;
}

/* ======================================================================= */
/* writing                                                                  */
/* ======================================================================= */

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
        if (is_tensor && strcmp(names[i], META_KEY) == 0) {
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
        if (host_le()) {
            if (bytes && fwrite(o->t[i].data, 1, bytes, f) != bytes)
                return -1;
        } else {
            unsigned char chunk[4096];
            const unsigned char *src = (const unsigned char *)o->t[i].data;
            for (size_t k = 0; k < bytes; k += sizeof chunk) {
                size_t c = bytes - k < sizeof chunk ? bytes - k : sizeof chunk;
                memcpy(chunk, src + k, c);
                swap4(chunk, c);
                if (fwrite(chunk, 1, c, f) != c)
                    return -1;
            }
        }
    }
    return 0;
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
        if (!m[i].value || !utf8_valid(m[i].value)) {
            WERR("%s: metadata '%s' has no valid UTF-8 value", path,
                 m[i].key ? m[i].key : "");
            goto out;
        }
    }
    if (check_names(path, names, nmeta, "metadata key", 0, d) != 0)
        goto out;

    /* the header */
    kd_sb_puts(&h, "{");
    if (nmeta) {
        kd_sb_puts(&h, "\"" META_KEY "\":{");
        for (size_t i = 0; i < nmeta; i++) {
            if (i)
                kd_sb_puts(&h, ",");
            sb_json(&h, m[i].key);
            kd_sb_puts(&h, ":");
            sb_json(&h, m[i].value);
        }
        kd_sb_puts(&h, "}");
    }
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t bytes = (uint64_t)kd_st_numel(&t[i]) * 4;
        if (nmeta || i)
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
