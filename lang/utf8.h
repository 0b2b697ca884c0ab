/* utf8.h — the one UTF-8 decoder of kdrun (lang/ is the lowest room, so
 * runtime/ and data/ include it from here).
 *
 * kdr_utf8_len(s, n): the length (1 to 4) of the valid UTF-8 sequence at s,
 * of which at most n bytes may be read, or 0 when the bytes there are not
 * valid UTF-8 (overlong forms, surrogates, code points past U+10FFFF,
 * truncated sequences).  *cp, when cp is not NULL, receives the code point.
 */
#ifndef KDR_UTF8_H
#define KDR_UTF8_H

#include <stddef.h>
#include <stdint.h>

static inline int kdr_utf8_len(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (n == 0) return 0;
    unsigned c = s[0];
    int len;
    uint32_t v, min;
    if (c < 0x80) { if (cp) *cp = c; return 1; }
    if ((c & 0xE0) == 0xC0) { len = 2; v = c & 0x1F; min = 0x80; }
    else if ((c & 0xF0) == 0xE0) { len = 3; v = c & 0x0F; min = 0x800; }
    else if ((c & 0xF8) == 0xF0) { len = 4; v = c & 0x07; min = 0x10000; }
    else return 0;
    if ((size_t)len > n) return 0;
    for (int k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[k] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    if (cp) *cp = v;
    return len;
}

/* Display width of UTF-8 text: one column per code point. */
static inline size_t kdr_text_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) w++;
    return w;
}

#endif
