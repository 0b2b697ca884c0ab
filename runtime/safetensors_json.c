/* safetensors_json.c — the JSON header of a .safetensors file, read by a
 * small schema-directed parser: objects, strings with escapes (checked
 * UTF-8, surrogate pairs, no NUL), non-negative integer arrays, the
 * string-to-string "__metadata__" object; any other JSON value is accepted
 * only as an ignored field of a tensor entry.  The first problem becomes
 * "PATH: bad JSON header at byte K: ..." in the kdr_diag.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lang/utf8.h"
#include "safetensors_int.h"

#define MAX_DEPTH 64

void kd_st_fail(kd_st_parser *p, const char *fmt, ...)
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
static void syntax(kd_st_parser *p, const char *what)
{
    if (p->pos >= p->n)
        kd_st_fail(p, "bad JSON header: unexpected end of the header (%zu bytes): %s",
             p->n, what);
    else
        kd_st_fail(p, "bad JSON header at byte %zu: %s", p->pos, what);
}

static void ws(kd_st_parser *p)
{
    while (p->pos < p->n && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                             p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
}

static int peek(kd_st_parser *p)
{
    ws(p);
    return p->pos < p->n ? p->s[p->pos] : -1;
}

static int expect(kd_st_parser *p, int c, const char *what)
{
    if (peek(p) != c) {
        syntax(p, what);
        return -1;
    }
    p->pos++;
    return 0;
}

static int hex4(kd_st_parser *p, uint32_t *v)
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

static void put(kd_st_parser *p, unsigned char c)
{
    if (p->outpos < p->outcap)
        p->out[p->outpos++] = (char)c;
}

/* Parse a string at the current position; returns its decoded copy in the
 * string storage, or NULL on error. */
static const char *string(kd_st_parser *p)
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
        size_t l = (size_t)kdr_utf8_len(p->s + p->pos, p->n - p->pos, NULL);
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
static int integer(kd_st_parser *p, uint64_t *v, const char *what)
{
    int c = peek(p);
    if (c == '-') {
        kd_st_fail(p, "%s: negative number at header byte %zu", what, p->pos);
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
            kd_st_fail(p, "%s: number too large at header byte %zu", what, start);
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
        kd_st_fail(p, "%s: not an integer at header byte %zu", what, start);
        return -1;
    }
    *v = x;
    return 0;
}

/* [int, int, ...]; at most max values; returns the count or -1. */
static int int_array(kd_st_parser *p, uint64_t *v, int max, const char *what, int *too_many)
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
static int skip_value(kd_st_parser *p, int depth)
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

static int parse_metadata(kd_st_parser *p)
{
    if (p->seen_meta) {
        kd_st_fail(p, "duplicate \"__metadata__\" entry");
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
            kd_st_fail(p, "metadata '%s' is not a string", k);
            return -1;
        }
        const char *v = string(p);
        if (!v)
            return -1;
        for (size_t i = 0; i < p->nmeta; i++)
            if (strcmp(p->meta[i].key, k) == 0) {
                kd_st_fail(p, "duplicate metadata key '%s'", k);
                return -1;
            }
        if (p->nmeta == p->capmeta) {
            size_t nc = p->capmeta ? 2 * p->capmeta : 8;
            kd_st_meta *nm = realloc(p->meta, nc * sizeof *nm);
            if (!nm) {
                kd_st_fail(p, "out of memory");
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

static int parse_entry(kd_st_parser *p, const char *name)
{
    if (p->nents == p->capents) {
        size_t nc = p->capents ? 2 * p->capents : 16;
        kd_st_entry *ne = realloc(p->ents, nc * sizeof *ne);
        if (!ne) {
            kd_st_fail(p, "out of memory");
            return -1;
        }
        p->ents = ne;
        p->capents = nc;
    }
    kd_st_entry *e = &p->ents[p->nents++];
    memset(e, 0, sizeof *e);
    e->name = name;
    if (peek(p) != '{') {
        kd_st_fail(p, "tensor '%s' is not an object", name);
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
                    kd_st_fail(p, "tensor '%s' has two dtype fields", name);
                    return -1;
                }
                if (peek(p) != '"') {
                    kd_st_fail(p, "tensor '%s': dtype is not a string", name);
                    return -1;
                }
                e->dtype = string(p);
                if (!e->dtype)
                    return -1;
                e->has_dtype = 1;
            } else if (strcmp(k, "shape") == 0) {
                if (e->has_shape) {
                    kd_st_fail(p, "tensor '%s' has two shape fields", name);
                    return -1;
                }
                if (peek(p) != '[') {
                    kd_st_fail(p, "tensor '%s': shape is not an array of integers", name);
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
                    kd_st_fail(p, "tensor '%s' has %d dimensions, at most %d are supported",
                         name, n, KD_ST_MAXDIM);
                    return -1;
                }
                e->ndim = n;
                for (int i = 0; i < n; i++)
                    e->shape[i] = (int64_t)v[i];
                e->has_shape = 1;
            } else if (strcmp(k, "data_offsets") == 0) {
                if (e->has_offsets) {
                    kd_st_fail(p, "tensor '%s' has two data_offsets fields", name);
                    return -1;
                }
                if (peek(p) != '[') {
                    kd_st_fail(p, "tensor '%s': data_offsets is not an array of two integers", name);
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
                    kd_st_fail(p, "tensor '%s': data_offsets has %d values, not 2", name, n);
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
        kd_st_fail(p, "tensor '%s' has no %s", name,
             !e->has_dtype ? "dtype" : !e->has_shape ? "shape" : "data_offsets");
        return -1;
    }
    return 0;
}

int kd_st_parse_header(kd_st_parser *p)
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
            if (strcmp(k, KD_ST_META_KEY) == 0) {
                if (parse_metadata(p) != 0)
                    return -1;
            } else {
                if (!*k) {
                    kd_st_fail(p, "tensor with an empty name");
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
