/* diag.c — collecting and printing located diagnostics.
 *
 * Output (GNU style, like gcc/clang):
 *
 *   recipe.kdr:12:9: error: conv expects 4-D input, got [128, 64]
 *       h = conv(x, 64, k: 3)
 *           ^~~~~~~~~~~~~~~~~
 *
 * Columns are 1-based byte columns.  The source line is printed with control
 * bytes and invalid UTF-8 replaced by '?', and a very long line is shown as a
 * window around the location.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "kdr.h"
#include "utf8.h"

#define WINDOW_BEFORE 60
#define WINDOW_WIDTH 160

void kdr_diag_init(kdr_diag *d)
{
    memset(d, 0, sizeof *d);
    d->max_errors = 20;
}

void kdr_diag_free(kdr_diag *d)
{
    for (size_t i = 0; i < d->count; i++) free(d->msgs[i].text);
    free(d->msgs);
    memset(d, 0, sizeof *d);
}

void kdr_diag_push(kdr_diag *d, kdr_severity sev, const kdr_unit *u,
                   uint32_t beg, uint32_t end, const char *fmt, ...)
{
    if (sev == KDR_ERROR) {
        if (d->max_errors && d->errors >= d->max_errors) {
            d->truncated = 1;
            d->dropping = 1;
            return;
        }
        d->dropping = 0;
    } else if (d->dropping) {
        return;
    }
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    /* the same message at the same place twice says nothing new */
    for (size_t i = d->count; i-- > 0 && i + 4 >= d->count;) {
        const kdr_diag_msg *m = &d->msgs[i];
        if (m->unit == u && m->beg == beg && m->sev == sev && strcmp(m->text, buf) == 0)
            return;
    }
    if (d->count == d->cap) {
        size_t ncap = d->cap ? d->cap * 2 : 16;
        kdr_diag_msg *nm = realloc(d->msgs, ncap * sizeof *nm);
        if (!nm) return;
        d->msgs = nm;
        d->cap = ncap;
    }
    if (u && end < beg) end = beg;
    if (u && end > u->len) end = (uint32_t)u->len;
    if (u && beg > u->len) beg = (uint32_t)u->len;
    kdr_diag_msg *m = &d->msgs[d->count];
    m->sev = sev;
    m->unit = u;
    m->beg = beg;
    m->end = end;
    m->text = strdup(buf);
    if (!m->text) return;
    d->count++;
    if (sev == KDR_ERROR) d->errors++;
}

void kdr_unit_linecol(const kdr_unit *u, uint32_t off, int *line, int *col)
{
    int l = 1;
    uint32_t ls = 0;
    if (off > u->len) off = (uint32_t)u->len;
    for (uint32_t i = 0; i < off; i++)
        if (u->src[i] == '\n') { l++; ls = i + 1; }
    *line = l;
    *col = (int)(off - ls) + 1;
}

static void print_source(const kdr_diag_msg *m, FILE *out, int color)
{
    const kdr_unit *u = m->unit;
    const unsigned char *src = (const unsigned char *)u->src;
    uint32_t beg = m->beg, end = m->end;
    /* "end of file" after a final newline: point at the end of the last line */
    if (beg == u->len && beg > 0 && src[beg - 1] == '\n') { beg--; if (end > beg) end = beg; }
    uint32_t ls = beg, le = beg;
    while (ls > 0 && src[ls - 1] != '\n') ls--;
    while (le < u->len && src[le] != '\n') le++;
    if (end > le) end = le;          /* underline only on the first line */
    if (end < beg) end = beg;

    /* window on long lines */
    uint32_t ws = ls, we = le;
    int cut_left = 0, cut_right = 0;
    if (le - ls > WINDOW_WIDTH) {
        if (beg - ls > WINDOW_BEFORE) { ws = beg - WINDOW_BEFORE; cut_left = 1; }
        if (we - ws > WINDOW_WIDTH) { we = ws + WINDOW_WIDTH; cut_right = 1; }
        /* do not start or end inside a UTF-8 sequence */
        while (ws < beg && (src[ws] & 0xC0) == 0x80) ws++;
        while (we > ws && we < le && (src[we] & 0xC0) == 0x80) we--;
        if (end > we) end = we;
    }

    /* the line */
    fputs("    ", out);
    if (cut_left) fputs("...", out);
    for (uint32_t i = ws; i < we;) {
        unsigned c = src[i];
        if (c == '\t') { fputc('\t', out); i++; }
        else if (c < 0x20 || c == 0x7f) { fputc('?', out); i++; }
        else if (c < 0x80) { fputc((int)c, out); i++; }
        else {
            int n = kdr_utf8_len(src + i, we - i, NULL);
            if (n == 0) { fputc('?', out); i++; }
            else { fwrite(src + i, 1, (size_t)n, out); i += (uint32_t)n; }
        }
    }
    if (cut_right) fputs("...", out);
    fputc('\n', out);

    /* the caret line */
    fputs("    ", out);
    if (cut_left) fputs("   ", out);
    for (uint32_t i = ws; i < beg;) {
        unsigned c = src[i];
        if (c == '\t') { fputc('\t', out); i++; continue; }
        int n = c < 0x80 ? 1 : kdr_utf8_len(src + i, beg - i, NULL);
        if (n == 0) n = 1;
        fputc(' ', out);
        i += (uint32_t)n;
    }
    if (color) fputs("\033[1;32m", out);
    fputc('^', out);
    uint32_t i = beg;
    if (i < end) {
        int n = src[i] < 0x80 ? 1 : kdr_utf8_len(src + i, end - i, NULL);
        i += (uint32_t)(n ? n : 1);
    }
    while (i < end) {
        int n = src[i] < 0x80 ? 1 : kdr_utf8_len(src + i, end - i, NULL);
        fputc('~', out);
        i += (uint32_t)(n ? n : 1);
    }
    if (color) fputs("\033[0m", out);
    fputc('\n', out);
}

void kdr_diag_print(const kdr_diag *d, FILE *out, int color)
{
    static const char *names[] = { "error", "warning", "note" };
    static const char *colors[] = { "\033[1;31m", "\033[1;35m", "\033[1;36m" };
    for (size_t k = 0; k < d->count; k++) {
        const kdr_diag_msg *m = &d->msgs[k];
        if (m->unit) {
            int line, col;
            uint32_t at = m->beg;
            const kdr_unit *u = m->unit;
            if (at == u->len && at > 0 && u->src[at - 1] == '\n') at--;
            kdr_unit_linecol(u, at, &line, &col);
            if (color) fputs("\033[1m", out);
            fprintf(out, "%s:%d:%d: ", u->path, line, col);
        } else {
            if (color) fputs("\033[1m", out);
            fputs("kdrun: ", out);
        }
        if (color) fprintf(out, "\033[0m%s", colors[m->sev]);
        fprintf(out, "%s:", names[m->sev]);
        if (color) fputs("\033[0m", out);
        fprintf(out, " %s\n", m->text);
        if (m->unit && m->unit->src) print_source(m, out, color);
    }
    if (d->truncated)
        fprintf(out, "kdrun: too many errors (%zu), stopping\n", d->max_errors);
}
