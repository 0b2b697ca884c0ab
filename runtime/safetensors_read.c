/* safetensors_read.c — reading a .safetensors file of float32 tensors
 * (kd_st_read and the accessors of safetensors.h).
 *
 * The whole file is loaded, its header parsed (safetensors_json.c), every
 * entry checked against the data area (dtype, shape against offsets, no
 * duplicate names, offsets tiling the data exactly), and the data moved to
 * the start of the buffer so that the floats are aligned.  Every failure
 * is a "PATH: ..." message in the kdr_diag and a NULL result; nothing here
 * asserts or exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32.h"
#include "safetensors_int.h"

typedef enum {
    DT_UNKNOWN, DT_F32, DT_OTHER
} dtype_class;

struct kd_st_file {
    unsigned char *buf;          /* the file; then the data area at its start */
    char *strings;               /* decoded names, keys, values */
    kd_st_tensor *tensors;       /* in offset order */
    size_t ntensors;
    size_t *by_name;             /* indexes into tensors, sorted by name */
    kd_st_meta *meta;
    size_t nmeta;
    int checksummed;             /* KD_ST_CRC_KEY was there and matched */
};

int64_t kd_st_numel(const kd_st_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
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

static void shape_str(char *buf, size_t cap, const kd_st_entry *e)
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
    return strcmp((*(const kd_st_entry *const *)a)->name, (*(const kd_st_entry *const *)b)->name);
}

static int by_offset_cmp(const void *a, const void *b)
{
    const kd_st_entry *x = *(const kd_st_entry *const *)a, *y = *(const kd_st_entry *const *)b;
    if (x->beg != y->beg)
        return x->beg < y->beg ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* Validate the parsed entries against the data area of `size` bytes; fill
 * the order of tensors by offset (ord) and by name (names).  0 or -1. */
static int check_entries(kd_st_parser *p, uint64_t size, const kd_st_entry **ord,
                         const kd_st_entry **names)
{
    char sh[256];
    for (size_t i = 0; i < p->nents; i++) {
        const kd_st_entry *e = &p->ents[i];
        dtype_class dc = classify(e->dtype);
        if (dc == DT_UNKNOWN) {
            kd_st_fail(p, "tensor '%s' has unknown dtype '%s'", e->name, e->dtype);
            return -1;
        }
        if (dc == DT_OTHER) {
            kd_st_fail(p, "tensor '%s' has dtype %s; only F32 tensors can be read",
                 e->name, e->dtype);
            return -1;
        }
        if (e->beg > e->end) {
            kd_st_fail(p, "tensor '%s' data_offsets [%llu, %llu] end before they begin",
                 e->name, (unsigned long long)e->beg, (unsigned long long)e->end);
            return -1;
        }
        if (e->end > size) {
            kd_st_fail(p, "tensor '%s' data_offsets [%llu, %llu] overrun the data (%llu bytes)",
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
            kd_st_fail(p, "tensor '%s' has shape %s (%s%llu bytes as F32) but data_offsets "
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
            kd_st_fail(p, "duplicate tensor name '%s'", names[i]->name);
            return -1;
        }
    qsort(ord, p->nents, sizeof *ord, by_offset_cmp);
    uint64_t cursor = 0;
    const kd_st_entry *prev = NULL;
    for (size_t i = 0; i < p->nents; i++) {
        const kd_st_entry *e = ord[i];
        if (e->beg < cursor) {
            kd_st_fail(p, "tensors '%s' [%llu, %llu] and '%s' [%llu, %llu] overlap",
                 prev->name, (unsigned long long)prev->beg, (unsigned long long)prev->end,
                 e->name, (unsigned long long)e->beg, (unsigned long long)e->end);
            return -1;
        }
        if (e->beg > cursor) {
            kd_st_fail(p, "bytes [%llu, %llu) of the data belong to no tensor",
                 (unsigned long long)cursor, (unsigned long long)e->beg);
            return -1;
        }
        if (e->end > e->beg || !prev) {
            cursor = e->end;
            prev = e;
        }
    }
    if (cursor != size) {
        kd_st_fail(p, "bytes [%llu, %llu) of the data belong to no tensor",
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

/* The data area against the writer's checksum, when the metadata has one. */
static int verify_crc(kd_st_parser *p, const unsigned char *data, uint64_t n, int *checked)
{
    const char *want = NULL;
    for (size_t i = 0; i < p->nmeta; i++)
        if (strcmp(p->meta[i].key, KD_ST_CRC_KEY) == 0) want = p->meta[i].value;
    *checked = 0;
    if (!want) return 0;
    char *end;
    unsigned long v = strtoul(want, &end, 16);
    if (strlen(want) != 8 || *end || want[0] == '-' || want[0] == '+' || want[0] == ' ') {
        kd_st_fail(p, "metadata \"%s\" is not 8 hex digits: \"%s\"", KD_ST_CRC_KEY, want);
        return -1;
    }
    uint32_t got = kd_crc32(0, data, (size_t)n);
    if (got != (uint32_t)v) {
        kd_st_fail(p, "the data does not match its checksum (%s %s, computed %08x): the file is damaged",
                   KD_ST_CRC_KEY, want, (unsigned)got);
        return -1;
    }
    *checked = 1;
    /* the container's own: not among the caller's metadata */
    size_t o = 0;
    for (size_t i = 0; i < p->nmeta; i++)
        if (strcmp(p->meta[i].key, KD_ST_CRC_KEY) != 0) p->meta[o++] = p->meta[i];
    p->nmeta = o;
    return 0;
}

kd_st_file *kd_st_read(const char *path, kdr_diag *d)
{
    size_t size = 0;
    unsigned char *buf = slurp(path, &size, d);
    if (!buf)
        return NULL;
    kd_st_file *f = NULL;
    kd_st_parser p;
    memset(&p, 0, sizeof p);
    p.path = path;
    p.d = d;
    const kd_st_entry **ord = NULL, **names = NULL;
    if (size == 0) {
        kd_st_fail(&p, "empty file (a safetensors file starts with an 8-byte header length)");
        goto out;
    }
    if (size < 8) {
        kd_st_fail(&p, "truncated: %zu bytes, shorter than the 8-byte header length", size);
        goto out;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | buf[i];
    if (hlen == 0) {
        kd_st_fail(&p, "header length is 0 (a safetensors header is at least \"{}\")");
        goto out;
    }
    if (hlen > size - 8) {
        kd_st_fail(&p, "header length %llu overruns the file (%zu bytes after the 8-byte length)",
             (unsigned long long)hlen, size - 8);
        goto out;
    }
    if (hlen > KD_ST_MAX_HEADER) {
        kd_st_fail(&p, "header length %llu is over the limit of %llu bytes",
             (unsigned long long)hlen, (unsigned long long)KD_ST_MAX_HEADER);
        goto out;
    }
    p.s = buf + 8;
    p.n = (size_t)hlen;
    p.outcap = p.n + 1;
    p.out = malloc(p.outcap);
    if (!p.out) {
        kd_st_fail(&p, "out of memory");
        goto out;
    }
    if (kd_st_parse_header(&p) != 0)
        goto out;
    uint64_t dsize = size - 8 - hlen;
    ord = malloc(sizeof *ord * (p.nents ? p.nents : 1));
    names = malloc(sizeof *names * (p.nents ? p.nents : 1));
    f = calloc(1, sizeof *f);
    if (!ord || !names || !f) {
        kd_st_fail(&p, "out of memory");
        goto out;
    }
    if (check_entries(&p, dsize, ord, names) != 0)
        goto out;
    f->tensors = calloc(p.nents ? p.nents : 1, sizeof *f->tensors);
    if (!f->tensors) {
        kd_st_fail(&p, "out of memory");
        goto out;
    }
    if (verify_crc(&p, buf + 8 + hlen, dsize, &f->checksummed) != 0)
        goto out;
    /* Move the data area to the start of the (malloc-aligned) buffer. */
    memmove(buf, buf + 8 + hlen, (size_t)dsize);
    if (!kd_st_host_le())
        kd_st_swap4(buf, (size_t)dsize);
    f->buf = buf;
    buf = NULL;
    f->strings = p.out;
    p.out = NULL;
    f->ntensors = p.nents;
    for (size_t i = 0; i < p.nents; i++) {
        const kd_st_entry *e = ord[i];
        kd_st_tensor *t = &f->tensors[i];
        t->name = e->name;
        t->ndim = e->ndim;
        memcpy(t->shape, e->shape, sizeof t->shape);
        t->data = (const float *)(void *)(f->buf + e->beg);
    }
    /* by name: tensor indexes (kd_st_entry -> position in offset order) */
    f->by_name = malloc(sizeof *f->by_name * (p.nents ? p.nents : 1));
    size_t *inv = malloc(sizeof *inv * (p.nents ? p.nents : 1));
    if (!f->by_name || !inv) {
        free(inv);
        kd_st_fail(&p, "out of memory");
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

int kd_st_checksummed(const kd_st_file *f) { return f->checksummed; }

const char *kd_st_meta_get(const kd_st_file *f, const char *key)
{
    for (size_t i = 0; i < f->nmeta; i++)
        if (strcmp(f->meta[i].key, key) == 0)
            return f->meta[i].value;
    return NULL;
}
