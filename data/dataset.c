/* dataset.c — the in-memory dataset: splits, holdout, limit, the
 * counter-based random numbers, directory listing.
 *
 * Shape letters: N samples of a split, L = max_len, K = negatives. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "data_int.h"

/* ---- errors and strings ---------------------------------------------------- */

kd_data_status kd_data_fail(char *err, size_t errlen, kd_data_status st,
                            const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return st;
}

char *kd_data_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

char *kd_path_join(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *p = malloc(na + nb + 2);
    if (!p)
        return NULL;
    memcpy(p, a, na);
    size_t o = na;
    if (na && a[na - 1] != '/')
        p[o++] = '/';
    memcpy(p + o, b, nb + 1);
    return p;
}

/* ---- random numbers: splitmix64 over a hashed key ---------------------------- */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

kd_rng kd_rng_key(uint64_t seed, uint64_t epoch, uint64_t index, uint64_t stream)
{
    uint64_t h = mix64(seed + 0x9e3779b97f4a7c15ULL);
    h = mix64(h ^ (epoch + 0x632be59bd9b4e019ULL));
    h = mix64(h ^ (index + 0x85157af5ULL));
    h = mix64(h ^ (stream * 0xd6e8feb86659fd93ULL));
    kd_rng r = { h };
    return r;
}

uint64_t kd_rng_u64(kd_rng *r)
{
    r->s += 0x9e3779b97f4a7c15ULL;
    return mix64(r->s);
}

double kd_rng_uniform(kd_rng *r)
{
    return (double)(kd_rng_u64(r) >> 11) * 0x1.0p-53;
}

uint64_t kd_rng_below(kd_rng *r, uint64_t n)
{
    /* rejection: the largest multiple of n below 2^64 */
    uint64_t lim = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
        x = kd_rng_u64(r);
    while (x >= lim);
    return x % n;
}

double kd_rng_normal(kd_rng *r)
{
    double u1 = kd_rng_uniform(r), u2 = kd_rng_uniform(r);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
}

kd_data_status kd_shuffle(uint64_t seed, int64_t epoch, int64_t n, int64_t *perm)
{
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    kd_rng r = kd_rng_key(seed, (uint64_t)epoch, 0, KD_STREAM_SHUFFLE);
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)kd_rng_below(&r, (uint64_t)i + 1);
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    return KD_DATA_OK;
}

/* ---- the dataset --------------------------------------------------------------- */

static void split_free(kd_split *sp)
{
    free(sp->name);
    free(sp->x);
    free(sp->label);
    free(sp->items);
    free(sp->next);
    free(sp->neg);
    free(sp->user);
    memset(sp, 0, sizeof *sp);
}

void kd_dataset_free(kd_dataset *ds)
{
    if (!ds)
        return;
    for (int i = 0; i < ds->nsplits; i++)
        split_free(&ds->splits[i]);
    free(ds->splits);
    if (ds->class_names) {
        for (int64_t i = 0; i < ds->classes; i++)
            free(ds->class_names[i]);
        free(ds->class_names);
    }
    free(ds->source);
    memset(ds, 0, sizeof *ds);
}

kd_split *kd_dataset_split(const kd_dataset *ds, const char *name)
{
    for (int i = 0; i < ds->nsplits; i++)
        if (strcmp(ds->splits[i].name, name) == 0)
            return &ds->splits[i];
    return NULL;
}

size_t kd_dataset_sample_bytes(const kd_dataset *ds)
{
    return (size_t)(ds->c * ds->h * ds->w) * (ds->dtype == KD_U8 ? 1 : sizeof(float));
}

kd_data_status kd_dataset_add_split(kd_dataset *ds, const char *name,
                                    kd_split *sp, char *err, size_t errlen)
{
    kd_split *ns = realloc(ds->splits, (size_t)(ds->nsplits + 1) * sizeof *ns);
    char *nm = kd_data_strdup(name);
    if (!ns || !nm) {
        free(nm);
        if (ns)
            ds->splits = ns;
        split_free(sp);
        return kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory",
                            ds->source ? ds->source : name);
    }
    ds->splits = ns;
    sp->name = nm;
    ds->splits[ds->nsplits++] = *sp;
    memset(sp, 0, sizeof *sp);
    return KD_DATA_OK;
}

/* Copy the samples idx[0..m) of `from` into a new split (buffers only). */
static kd_data_status gather(const kd_dataset *ds, const kd_split *from,
                             const int64_t *idx, int64_t m, kd_split *to)
{
    memset(to, 0, sizeof *to);
    to->n = m;
    size_t sb = kd_dataset_sample_bytes(ds);
    size_t L = (size_t)ds->max_len, K = (size_t)ds->negatives;
    size_t cnt = m > 0 ? (size_t)m : 1;
    int fail = 0;
    if (from->x && !(to->x = malloc(cnt * sb))) fail = 1;
    if (from->label && !(to->label = malloc(cnt * sizeof(int32_t)))) fail = 1;
    if (from->items && !(to->items = malloc(cnt * L * sizeof(int32_t)))) fail = 1;
    if (from->next && !(to->next = malloc(cnt * L * sizeof(int32_t)))) fail = 1;
    if (from->neg && !(to->neg = malloc(cnt * K * sizeof(int32_t)))) fail = 1;
    if (from->user && !(to->user = malloc(cnt * sizeof(int32_t)))) fail = 1;
    if (fail) {
        split_free(to);
        return KD_DATA_ENOMEM;
    }
    for (int64_t j = 0; j < m; j++) {
        size_t i = (size_t)idx[j], o = (size_t)j;
        if (to->x)
            memcpy((char *)to->x + o * sb, (const char *)from->x + i * sb, sb);
        if (to->label) to->label[o] = from->label[i];
        if (to->user) to->user[o] = from->user[i];
        if (to->items) memcpy(to->items + o * L, from->items + i * L, L * sizeof(int32_t));
        if (to->next) memcpy(to->next + o * L, from->next + i * L, L * sizeof(int32_t));
        if (to->neg) memcpy(to->neg + o * K, from->neg + i * K, K * sizeof(int32_t));
    }
    return KD_DATA_OK;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Fisher-Yates permutation keyed (seed, 0, 0, stream). */
static void keyed_perm(uint64_t seed, uint64_t stream, int64_t n, int64_t *perm)
{
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    kd_rng r = kd_rng_key(seed, 0, 0, stream);
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)kd_rng_below(&r, (uint64_t)i + 1);
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

kd_data_status kd_dataset_holdout(kd_dataset *ds, const char *from, int64_t k,
                                  const char *name, uint64_t seed,
                                  char *err, size_t errlen)
{
    kd_split *sp = kd_dataset_split(ds, from);
    if (!sp)
        return kd_data_fail(err, errlen, KD_DATA_EARG,
                            "%s: no split \"%s\" to hold samples out of",
                            ds->source, from);
    if (kd_dataset_split(ds, name))
        return kd_data_fail(err, errlen, KD_DATA_EARG,
                            "%s: split \"%s\" already exists", ds->source, name);
    if (k <= 0 || k >= sp->n)
        return kd_data_fail(err, errlen, KD_DATA_EARG,
                            "%s: cannot hold out %lld of the %lld samples of \"%s\" "
                            "(need 0 < holdout < %lld)", ds->source, (long long)k,
                            (long long)sp->n, from, (long long)sp->n);
    int64_t n = sp->n;
    int64_t *perm = malloc((size_t)n * sizeof *perm);
    if (!perm)
        return kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory", ds->source);
    keyed_perm(seed, KD_STREAM_HOLDOUT, n, perm);
    qsort(perm, (size_t)(n - k), sizeof *perm, cmp_i64);
    qsort(perm + (n - k), (size_t)k, sizeof *perm, cmp_i64);
    kd_split keep, out;
    if (gather(ds, sp, perm, n - k, &keep) != KD_DATA_OK) {
        free(perm);
        return kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory", ds->source);
    }
    if (gather(ds, sp, perm + (n - k), k, &out) != KD_DATA_OK) {
        free(perm);
        split_free(&keep);
        return kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory", ds->source);
    }
    free(perm);
    keep.name = sp->name;
    sp->name = NULL;
    split_free(sp);
    *sp = keep;
    return kd_dataset_add_split(ds, name, &out, err, errlen);
}

kd_data_status kd_dataset_limit(kd_dataset *ds, const char *name, int64_t n,
                                uint64_t seed, char *err, size_t errlen)
{
    kd_split *sp = kd_dataset_split(ds, name);
    if (!sp)
        return kd_data_fail(err, errlen, KD_DATA_EARG, "%s: no split \"%s\" to limit",
                            ds->source, name);
    if (n < 1)
        return kd_data_fail(err, errlen, KD_DATA_EARG, "%s: limit %lld (need at least 1)",
                            ds->source, (long long)n);
    if (n >= sp->n)
        return KD_DATA_OK;
    int64_t *perm = malloc((size_t)sp->n * sizeof *perm);
    if (!perm)
        return kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory", ds->source);
    keyed_perm(seed, KD_STREAM_LIMIT, sp->n, perm);
    qsort(perm, (size_t)n, sizeof *perm, cmp_i64);
    kd_split keep;
    kd_data_status st = gather(ds, sp, perm, n, &keep);
    free(perm);
    if (st != KD_DATA_OK)
        return kd_data_fail(err, errlen, st, "%s: out of memory", ds->source);
    keep.name = sp->name;
    sp->name = NULL;
    split_free(sp);
    *sp = keep;
    return KD_DATA_OK;
}

kd_data_status kd_dataset_rename(kd_dataset *ds, const char *from,
                                 const char *to, char *err, size_t errlen)
{
    kd_split *sp = kd_dataset_split(ds, from);
    if (!sp)
        return kd_data_fail(err, errlen, KD_DATA_EARG, "%s: no split \"%s\"",
                            ds->source, from);
    if (strcmp(from, to) == 0)
        return KD_DATA_OK;
    if (kd_dataset_split(ds, to))
        return kd_data_fail(err, errlen, KD_DATA_EARG,
                            "%s: split \"%s\" already exists", ds->source, to);
    char *nm = kd_data_strdup(to);
    if (!nm)
        return kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory", ds->source);
    free(sp->name);
    sp->name = nm;
    return KD_DATA_OK;
}

/* ---- directories ------------------------------------------------------------------ */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void kd_free_names(char **names, size_t n)
{
    if (!names)
        return;
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

kd_data_status kd_list_dir(const char *dir, int want_dir, char ***names,
                           size_t *n, char *err, size_t errlen)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return kd_data_fail(err, errlen, KD_DATA_ENOENT, "%s: cannot open directory: %s",
                            dir, strerror(errno));
    char **v = NULL;
    size_t cnt = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *p = kd_path_join(dir, e->d_name);
        struct stat st;
        int ok = p && stat(p, &st) == 0 &&
                 (want_dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));
        free(p);
        if (!ok)
            continue;
        if (cnt == cap) {
            cap = cap ? 2 * cap : 64;
            char **nv = realloc(v, cap * sizeof *nv);
            if (!nv)
                goto oom;
            v = nv;
        }
        if (!(v[cnt] = kd_data_strdup(e->d_name)))
            goto oom;
        cnt++;
    }
    closedir(d);
    if (cnt)
        qsort(v, cnt, sizeof *v, cmp_str);
    *names = v;
    *n = cnt;
    return KD_DATA_OK;
oom:
    closedir(d);
    kd_free_names(v, cnt);
    return kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory", dir);
}
