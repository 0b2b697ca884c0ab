/* textbuf.c — the string buffer (kd_strbuf) and the atomic file writer
 * (kd_write_atomic) that every output of kdrun goes through; see textbuf.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "textbuf.h"

/* ---- string buffer -------------------------------------------------------- */

void kd_sb_put(kd_strbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1) {
            if (cap > SIZE_MAX / 2) { b->oom = 1; return; }
            cap *= 2;
        }
        char *ns = realloc(b->s, cap);
        if (!ns) { b->oom = 1; return; }
        b->s = ns;
        b->cap = cap;
    }
    if (n) memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

void kd_sb_puts(kd_strbuf *b, const char *s) { kd_sb_put(b, s, strlen(s)); }

void kd_sb_putc(kd_strbuf *b, char c) { kd_sb_put(b, &c, 1); }

void kd_sb_printf(kd_strbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0) { b->oom = 1; return; }
    if ((size_t)k < sizeof tmp) { kd_sb_put(b, tmp, (size_t)k); return; }
    char *big = malloc((size_t)k + 1);
    if (!big) { b->oom = 1; return; }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)k + 1, fmt, ap);
    va_end(ap);
    kd_sb_put(b, big, (size_t)k);
    free(big);
}

void kd_sb_clear(kd_strbuf *b)
{
    b->n = 0;
    if (b->s) b->s[0] = 0;
}

char *kd_sb_take(kd_strbuf *b)
{
    char *s = b->s;
    int oom = b->oom;
    memset(b, 0, sizeof *b);
    if (oom) { free(s); return NULL; }
    if (!s) {
        s = malloc(1);
        if (s) *s = 0;
    }
    return s;
}

void kd_sb_free(kd_strbuf *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

char *kd_xstrndup(const char *s, size_t max)
{
    if (!s) s = "";
    size_t n = 0;
    while (n < max && s[n]) n++;
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

char *kd_xstrdup(const char *s) { return kd_xstrndup(s, (size_t)-1); }

void kd_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- atomic write ------------------------------------------------------------ */

/* Create PATH.tmp.XXXXXX exclusively, mode 0666 less the umask (mkstemp
 * would make it 0600).  The fd, or -1 with errno. */
static int open_temp(const char *path, char **tmp_out)
{
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    static unsigned counter;
    size_t plen = strlen(path);
    char *tmp = malloc(plen + sizeof ".tmp.XXXXXX");
    if (!tmp) { errno = ENOMEM; return -1; }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.", 5);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 40);
    for (int attempt = 0; attempt < 100; attempt++) {
        x += 0x9E3779B97F4A7C15u * (1 + __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
        uint64_t h = x;                       /* splitmix64 finalizer */
        h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9u;
        h = (h ^ (h >> 27)) * 0x94D049BB133111EBu;
        h ^= h >> 31;
        for (int i = 0; i < 6; i++) {
            tmp[plen + 5 + i] = digits[h % 62];
            h /= 62;
        }
        tmp[plen + 11] = 0;
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) { *tmp_out = tmp; return fd; }
        if (errno != EEXIST) break;
    }
    int e = errno;
    free(tmp);
    errno = e;
    return -1;
}

/* The directory part of path ("." when none), or NULL (out of memory). */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t dl = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
    char *dir = malloc(dl + 1);
    if (!dir) return NULL;
    memcpy(dir, slash ? path : ".", dl);
    dir[dl] = 0;
    return dir;
}

/* fsync a directory so that a rename into it is durable.  0, or -1 with
 * errno; file systems that do not sync directories, and a directory this
 * process may not open, count as done. */
static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0 && (e == EINVAL || e == EBADF || e == EROFS || e == ENOTSUP
#if defined(EOPNOTSUPP) && EOPNOTSUPP != ENOTSUP
                    || e == EOPNOTSUPP
#endif
                    ))
        return 0;
    errno = e;
    return rc;
}

int kd_write_atomic(const char *path, kd_write_fn fn, void *arg, char *err, size_t errlen)
{
    if (!path || !*path) {
        kd_set_err(err, errlen, "cannot write a file without a name");
        return -1;
    }
    char *tmp = NULL;
    int fd = open_temp(path, &tmp);
    if (fd < 0) {
        kd_set_err(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        int e = errno;
        close(fd);
        unlink(tmp);
        free(tmp);
        kd_set_err(err, errlen, "cannot write %s: %s", path, strerror(e));
        return -1;
    }
    errno = 0;
    int rc = fn ? fn(f, arg) : 0;
    int e = errno;
    if (rc != 0 && e == 0 && ferror(f)) e = EIO;   /* a write failed: never "out of memory" */
    if (rc == 0 && ferror(f)) { rc = -1; e = errno ? errno : EIO; }
    if (rc == 0 && (fflush(f) != 0 || fsync(fileno(f)) != 0)) { rc = -1; e = errno; }
    if (fclose(f) != 0 && rc == 0) { rc = -1; e = errno; }
    if (rc == 0 && rename(tmp, path) != 0) { rc = -1; e = errno; }
    if (rc) {
        unlink(tmp);
        free(tmp);
        kd_set_err(err, errlen, "cannot write %s: %s", path, e ? strerror(e) : "out of memory");
        return -1;
    }
    free(tmp);
    char *dir = dir_of(path);
    if (dir && sync_dir(dir) != 0) {
        kd_set_err(err, errlen, "cannot write %s: written, but its directory %s cannot be synced: %s",
                   path, dir, strerror(errno));
        free(dir);
        return -1;
    }
    free(dir);              /* no memory to name the directory: skip the sync */
    return 0;
}
