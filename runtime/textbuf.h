/* textbuf.h — the one growing string buffer and the one atomic file writer
 * of kdrun (reports, tables, metrics.csv, curves.svg, safetensors files,
 * the command file of a run).
 *
 * String buffer: a zeroed kd_strbuf is empty and ready.  Running out of
 * memory is sticky (b->oom): the calls after it do nothing, and
 * kd_sb_take() returns NULL, so a caller checks once, at the end.  b->s is
 * always NUL-terminated once something was added.
 *
 *     kd_strbuf b = { 0 };
 *     kd_sb_printf(&b, "%d point%s", n, n == 1 ? "" : "s");
 *     char *s = kd_sb_take(&b);          // NULL: out of memory
 *
 * Atomic write: kd_write_atomic(path, fn, arg, err, errlen) makes a new
 * temporary file "PATH.tmp.XXXXXX" in PATH's directory (mode 0666 less the
 * umask, as fopen would), lets fn write the content to it, then fflush,
 * fsync, rename over PATH and fsync of the directory.  A crash leaves
 * either the old PATH or the new one, never a part; on any failure the
 * temporary file is removed and PATH is untouched.
 */
#ifndef KD_TEXTBUF_H
#define KD_TEXTBUF_H

#include <stddef.h>
#include <stdio.h>

typedef struct kd_strbuf {
    char *s;            /* the text, NUL-terminated (NULL while empty) */
    size_t n, cap;      /* length without the NUL; allocated bytes */
    int oom;            /* memory ran out: sticky */
} kd_strbuf;

/* Append n bytes of s (which may hold NULs). */
void kd_sb_put(kd_strbuf *b, const char *s, size_t n);
/* Append a NUL-terminated string. */
void kd_sb_puts(kd_strbuf *b, const char *s);
void kd_sb_putc(kd_strbuf *b, char c);
/* Append printf-formatted text, of any length. */
void kd_sb_printf(kd_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Empty the text, keep the memory (and a sticky oom). */
void kd_sb_clear(kd_strbuf *b);
/* The text, owned by the caller ("" if nothing was added), or NULL if
 * memory ran out; b is empty again afterwards. */
char *kd_sb_take(kd_strbuf *b);
/* Free the text; b is empty again. */
void kd_sb_free(kd_strbuf *b);

/* printf into err (errlen bytes; nothing when err is NULL or errlen 0). */
void kd_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes the content of a file: 0, or -1 with errno set to the cause (an
 * I/O error), or left 0 when the content could not be made (out of
 * memory). */
typedef int (*kd_write_fn)(FILE *f, void *arg);

/* Write PATH atomically through fn (see above).  Returns 0, or -1 with a
 * one-line message in err that always says why:
 *     cannot write runs/x/report.yaml: No space left on device
 * (the reason "out of memory" when fn failed without an errno).  When the
 * file was renamed into place but its directory could not be synced (an
 * I/O error; file systems that do not sync directories are accepted), the
 * message says so and -1 is returned. */
int kd_write_atomic(const char *path, kd_write_fn fn, void *arg, char *err, size_t errlen);

#endif
