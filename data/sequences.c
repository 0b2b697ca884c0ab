/* sequences.c — user sessions for next-item recommendation: MovieLens
 * ratings.dat, user,item,timestamp CSV, and generated sessions; leave-one-out
 * splits with sampled negatives.
 *
 * Shape letters: N users kept (one sample per user and split), L = max_len,
 * K = negatives. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "data_int.h"
#include "loaders.h"

typedef struct { int64_t user, item, ts, line; } rec;

static int cmp_rec(const void *a, const void *b)
{
    const rec *x = a, *y = b;
    if (x->user != y->user) return x->user < y->user ? -1 : 1;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Non-negative integer at *p (leading blanks skipped); advances *p. */
static int parse_id(const char **p, int64_t *v)
{
    const char *s = *p;
    while (*s == ' ' || *s == '\t')
        s++;
    if (!isdigit((unsigned char)*s))
        return 0;
    const char *end = s;
    int64_t x = 0;
    while (isdigit((unsigned char)*end)) {
        if (x > (INT64_MAX - 9) / 10)
            return 0;   /* out of range */
        x = 10 * x + (*end++ - '0');
    }
    while (*end == ' ' || *end == '\t')
        end++;
    *v = x;
    *p = end;
    return 1;
}

static int at_end(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    return *s == 0;
}

/* One line: 1 parsed, 0 malformed. */
static int parse_line(const char *s, kd_seq_format fmt, rec *r)
{
    if (fmt == KD_SEQ_MOVIELENS) {
        if (!parse_id(&s, &r->user) || strncmp(s, "::", 2)) return 0;
        s += 2;
        if (!parse_id(&s, &r->item) || strncmp(s, "::", 2)) return 0;
        s += 2;
        char *end;
        errno = 0;
        (void)strtod(s, &end);
        if (end == s || errno) return 0;
        s = end;
        if (strncmp(s, "::", 2)) return 0;
        s += 2;
        if (!parse_id(&s, &r->ts)) return 0;
        return at_end(s);
    }
    /* user,item,timestamp or userId,movieId,rating,timestamp */
    if (!parse_id(&s, &r->user) || *s != ',') return 0;
    s++;
    if (!parse_id(&s, &r->item) || *s != ',') return 0;
    s++;
    const char *third = s;
    if (parse_id(&s, &r->ts) && at_end(s))
        return 1;
    s = third;
    char *end;
    errno = 0;
    (void)strtod(s, &end);
    if (end == s || errno || *end != ',') return 0;
    s = end + 1;
    if (!parse_id(&s, &r->ts)) return 0;
    return at_end(s);
}

/* Builds the three leave-one-out splits from CSR sequences (dense items
 * 1..items): seq[off[u]..off[u+1]) is user u's history in time order;
 * uid[u] the user's id in the file (NULL: u itself), for messages. */
/* The first train target of a history of m items: every position from 1
 * (train_all) or only the last one, m - 3. */
static int64_t first_train(int64_t m, int train_all)
{
    return train_all && m - 3 > 1 ? 1 : m - 3;
}

static kd_data_status build_loo(kd_dataset *ds, int64_t nusers, const int64_t *off,
                                const int32_t *seq, const int64_t *uid, uint64_t seed,
                                const kd_seq_opts *o, char *err, size_t errlen)
{
    const int64_t L = ds->max_len, K = ds->negatives, I = ds->items, M = o->min_len;
    int64_t kept = 0, longest = 0, ntrain = 0;
    for (int64_t u = 0; u < nusers; u++) {
        int64_t m = off[u + 1] - off[u];
        if (m >= M) {
            kept++;
            ntrain += m - 3 - first_train(m, o->train_all) + 1;
        }
        if (m > longest)
            longest = m;
    }
    if (kept == 0)
        return kd_data_fail(err, errlen, KD_DATA_EFORMAT, "%s: no user has %lld or more "
                            "interactions (leave-one-out needs train, val and test items)",
                            ds->source, (long long)M);
    ds->users = kept;
    kd_split sp[3];
    memset(sp, 0, sizeof sp);
    int32_t *mine = malloc((size_t)(longest ? longest : 1) * sizeof *mine);
    int32_t *negs = malloc((size_t)kept * (size_t)(K ? K : 1) * sizeof *negs);
    uint8_t *taken = calloc((size_t)I + 1, 1);
    int fail = !mine || !negs || !taken;
    for (int t = 0; t < 3 && !fail; t++) {
        int64_t ns = t == 0 ? ntrain : kept;
        sp[t].n = ns;
        sp[t].label = malloc((size_t)ns * sizeof(int32_t));
        sp[t].user = malloc((size_t)ns * sizeof(int32_t));
        sp[t].items = malloc((size_t)ns * (size_t)L * sizeof(int32_t));
        sp[t].next = malloc((size_t)ns * (size_t)L * sizeof(int32_t));
        if (t > 0 && K > 0)
            sp[t].neg = malloc((size_t)kept * (size_t)K * sizeof(int32_t));
        fail = !sp[t].label || !sp[t].user || !sp[t].items || !sp[t].next ||
               (t > 0 && K > 0 && !sp[t].neg);
    }
    kd_data_status st = KD_DATA_OK;
    if (fail) {
        st = kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory", ds->source);
        goto out;
    }
    int64_t j = 0, jt = 0;
    for (int64_t u = 0; u < nusers; u++) {
        const int32_t *s = seq + off[u];
        int64_t m = off[u + 1] - off[u];
        if (m < M)
            continue;
        /* the user's distinct items, for the negatives */
        memcpy(mine, s, (size_t)m * sizeof *mine);
        qsort(mine, (size_t)m, sizeof *mine, cmp_i32);
        int64_t d = 0;
        for (int64_t i = 0; i < m; i++)
            if (i == 0 || mine[i] != mine[i - 1])
                mine[d++] = mine[i];
        if (I - d < K) {
            st = kd_data_fail(err, errlen, KD_DATA_EFORMAT, "%s: user %lld interacted with "
                              "%lld of the %lld items: fewer than %lld left to sample "
                              "negatives from", ds->source, (long long)(uid ? uid[u] : u), (long long)d,
                              (long long)I, (long long)K);
            goto out;
        }
        for (int64_t i = 0; i < d; i++)
            taken[mine[i]] = 1;
        kd_rng r = kd_rng_key(seed, 0, (uint64_t)u, KD_STREAM_NEGATIVES);
        int32_t *ng = negs + j * K;
        for (int64_t k = 0; k < K; k++) {
            int32_t c;
            do
                c = (int32_t)(1 + kd_rng_below(&r, (uint64_t)I));
            while (taken[c]);
            taken[c] = 1;
            ng[k] = c;
        }
        for (int64_t i = 0; i < d; i++)
            taken[mine[i]] = 0;
        for (int64_t k = 0; k < K; k++)
            taken[ng[k]] = 0;
        /* train: targets p0 .. m-3 (one per sample), val m-2, test m-1 */
        for (int64_t p = first_train(m, o->train_all); p < m; p++) {
            int t = p < m - 3 ? 0 : (int)(p - (m - 3));
            int64_t row = t == 0 ? jt++ : j;
            int64_t beg = p - L > 0 ? p - L : 0;
            int64_t pad = L - (p - beg);
            int32_t *it = sp[t].items + row * L, *nx = sp[t].next + row * L;
            memset(it, 0, (size_t)pad * sizeof *it);
            memset(nx, 0, (size_t)pad * sizeof *nx);
            memcpy(it + pad, s + beg, (size_t)(L - pad) * sizeof *it);
            memcpy(nx + pad, s + beg + 1, (size_t)(L - pad) * sizeof *nx);
            sp[t].label[row] = s[p];
            sp[t].user[row] = (int32_t)u;
            if (sp[t].neg)
                memcpy(sp[t].neg + row * K, ng, (size_t)K * sizeof *ng);
        }
        j++;
    }
    static const char *const names[3] = { "train", "val", "test" };
    for (int t = 0; t < 3; t++)
        if ((st = kd_dataset_add_split(ds, names[t], &sp[t], err, errlen)) != KD_DATA_OK)
            goto out;
out:
    for (int t = 0; t < 3; t++) {
        free(sp[t].label);
        free(sp[t].user);
        free(sp[t].items);
        free(sp[t].next);
        free(sp[t].neg);
    }
    free(mine);
    free(negs);
    free(taken);
    return st;
}

static kd_data_status check_args(const char *what, const kd_seq_opts *o,
                                  char *err, size_t errlen)
{
    const int64_t max_len = o->max_len, negatives = o->negatives;
    if (o->min_len < 3)
        return kd_data_fail(err, errlen, KD_DATA_EARG, "%s: min_len %lld (need at least 3: "
                            "train, val and test items)", what, (long long)o->min_len);
    if (max_len < 2)
        return kd_data_fail(err, errlen, KD_DATA_EARG, "%s: max_len %lld (need at least 2)",
                            what, (long long)max_len);
    if (negatives < 0)
        return kd_data_fail(err, errlen, KD_DATA_EARG, "%s: negatives %lld (need at least 0)",
                            what, (long long)negatives);
    return KD_DATA_OK;
}

/* Sorts the records by user, then time, then line.  maxu >= 0: user ids
 * are at most maxu, small enough for a counting sort by user (stable, so
 * each user's records stay in line order) and a sort by time within each
 * user; -1: one qsort.  *r may be replaced; -1 when out of memory. */
static int sort_records(rec **rp, int64_t n, int64_t maxu)
{
    rec *r = *rp;
    if (maxu < 0) {
        qsort(r, (size_t)n, sizeof *r, cmp_rec);
        return 0;
    }
    int64_t *cnt = calloc((size_t)maxu + 2, sizeof *cnt);
    rec *o = malloc((size_t)n * sizeof *o);
    if (!cnt || !o) {
        free(cnt);
        free(o);
        return -1;
    }
    for (int64_t i = 0; i < n; i++)
        cnt[r[i].user + 1]++;
    for (int64_t u = 1; u <= maxu + 1; u++)
        cnt[u] += cnt[u - 1];
    for (int64_t i = 0; i < n; i++)
        o[cnt[r[i].user]++] = r[i];
    /* cnt[u] is now the end of user u's records */
    for (int64_t u = 0, b = 0; u <= maxu; b = cnt[u], u++) {
        int sorted = 1;
        for (int64_t i = b + 1; i < cnt[u] && sorted; i++)
            sorted = cmp_rec(&o[i - 1], &o[i]) <= 0;
        if (!sorted)
            qsort(o + b, (size_t)(cnt[u] - b), sizeof *o, cmp_rec);
    }
    free(cnt);
    free(r);
    *rp = o;
    return 0;
}

kd_data_status kd_load_sequences(const char *path, kd_seq_format format,
                                 int64_t max_len, int64_t negatives,
                                 uint64_t seed, kd_dataset *out,
                                 char *err, size_t errlen)
{
    kd_seq_opts o = { .max_len = max_len, .negatives = negatives, .min_len = 3 };
    return kd_load_sequences_opt(path, format, &o, seed, out, err, errlen);
}

kd_data_status kd_load_sequences_opt(const char *path, kd_seq_format format,
                                     const kd_seq_opts *o, uint64_t seed, kd_dataset *out,
                                     char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const int64_t max_len = o->max_len, negatives = o->negatives;
    kd_data_status st = check_args(path, o, err, errlen);
    if (st != KD_DATA_OK)
        return st;
    FILE *f = fopen(path, "r");
    if (!f)
        return kd_data_fail(err, errlen, KD_DATA_ENOENT, "%s: cannot open: %s", path,
                            strerror(errno));
    out->kind = KD_DATA_SEQUENCES;
    out->max_len = max_len;
    out->negatives = negatives;
    if (!(out->source = kd_data_strdup(path))) {
        fclose(f);
        return kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory", path);
    }
    rec *r = NULL;
    int64_t n = 0, cap = 0, lineno = 0;
    char *line = NULL;
    size_t lcap = 0;
    int64_t *ids = NULL, *off = NULL, *uids = NULL;
    int32_t *seq = NULL;
    while (getline(&line, &lcap, f) >= 0) {
        lineno++;
        if (at_end(line))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 4096;
            rec *nr = realloc(r, (size_t)cap * sizeof *nr);
            if (!nr) {
                st = kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory", path);
                goto out;
            }
            r = nr;
        }
        if (!parse_line(line, format, &r[n])) {
            if (format == KD_SEQ_CSV && lineno == 1)
                continue;   /* a header */
            size_t ln = strcspn(line, "\r\n");
            st = kd_data_fail(err, errlen, KD_DATA_EFORMAT, "%s:%lld: expected %s, got "
                              "\"%.*s%s\"", path, (long long)lineno,
                              format == KD_SEQ_CSV ? "user,item[,rating],timestamp "
                              "(non-negative integer ids and timestamp)" : "UserID::MovieID::Rating::Timestamp",
                              (int)(ln > 60 ? 60 : ln), line, ln > 60 ? "..." : "");
            goto out;
        }
        r[n].line = lineno;
        n++;
    }
    if (ferror(f)) {
        st = kd_data_fail(err, errlen, KD_DATA_EFORMAT, "%s: read error: %s", path,
                          strerror(errno));
        goto out;
    }
    if (n == 0) {
        st = kd_data_fail(err, errlen, KD_DATA_EFORMAT, "%s: no interactions", path);
        goto out;
    }
    /* dense item ids 1..items in id order */
    ids = malloc((size_t)n * sizeof *ids);
    off = malloc((size_t)(n + 1) * sizeof *off);
    seq = malloc((size_t)n * sizeof *seq);
    if (!ids || !off || !seq) {
        st = kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    int64_t ni = 0, nu = 0, maxi = 0, maxu = 0;
    for (int64_t i = 0; i < n; i++) {
        if (r[i].item > maxi) maxi = r[i].item;
        if (r[i].user > maxu) maxu = r[i].user;
    }
    /* ids at most a few times the number of lines: a table, else a sort */
    const int64_t dense = 4 * n + 4096;
    int32_t *map = maxi < dense ? calloc((size_t)maxi + 1, sizeof *map) : NULL;
    if (map) {
        for (int64_t i = 0; i < n; i++)
            map[r[i].item] = 1;
        for (int64_t v = 0; v <= maxi; v++)
            if (map[v])
                map[v] = (int32_t)(++ni > INT32_MAX - 1 ? INT32_MAX - 1 : ni);
    } else {
        for (int64_t i = 0; i < n; i++)
            ids[i] = r[i].item;
        qsort(ids, (size_t)n, sizeof *ids, cmp_i64);
        for (int64_t i = 0; i < n; i++)
            if (i == 0 || ids[i] != ids[i - 1])
                ids[ni++] = ids[i];
    }
    if (ni > INT32_MAX - 2) {
        free(map);
        st = kd_data_fail(err, errlen, KD_DATA_EFORMAT, "%s: too many items", path);
        goto out;
    }
    out->items = ni;
    if (sort_records(&r, n, maxu < dense ? maxu : -1)) {
        free(map);
        st = kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    uids = malloc((size_t)n * sizeof *uids);
    if (!uids) {
        free(map);
        st = kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    for (int64_t i = 0; i < n; i++) {
        if (i == 0 || r[i].user != r[i - 1].user) {
            uids[nu] = r[i].user;
            off[nu++] = i;
        }
        if (map) {
            seq[i] = map[r[i].item];
        } else {
            int64_t *hit = bsearch(&r[i].item, ids, (size_t)ni, sizeof *ids, cmp_i64);
            seq[i] = (int32_t)(hit - ids) + 1;
        }
    }
    free(map);
    off[nu] = n;
    st = build_loo(out, nu, off, seq, uids, seed, o, err, errlen);
out:
    free(uids);
    free(line);
    free(r);
    free(ids);
    free(off);
    free(seq);
    fclose(f);
    if (st != KD_DATA_OK)
        kd_dataset_free(out);
    return st;
}

kd_data_status kd_synth_sequences(int64_t users, int64_t items, int64_t length,
                                  int64_t max_len, int64_t negatives,
                                  uint64_t seed, kd_dataset *out,
                                  char *err, size_t errlen)
{
    kd_seq_opts o = { .max_len = max_len, .negatives = negatives, .min_len = 3 };
    return kd_synth_sequences_opt(users, items, length, &o, seed, out, err, errlen);
}

/* an item drawn by popularity: 1 + the first i with cdf[i] > u */
static int32_t draw_popular(const double *cdf, int64_t items, kd_rng *r)
{
    double u = kd_rng_uniform(r) * cdf[items - 1];
    int64_t lo = 0, hi = items - 1;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return (int32_t)(lo + 1);
}

kd_data_status kd_synth_sequences_opt(int64_t users, int64_t items, int64_t length,
                                      const kd_seq_opts *o, uint64_t seed, kd_dataset *out,
                                      char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *what = "synth_sequences";
    kd_data_status st = check_args(what, o, err, errlen);
    if (st != KD_DATA_OK)
        return st;
    if (users < 1 || items < 2 || length < 3 || items > INT32_MAX - 1 ||
        users > ((int64_t)1 << 40) / length)
        return kd_data_fail(err, errlen, KD_DATA_EARG, "%s: need users >= 1, items >= 2, "
                            "length >= 3 (got %lld, %lld, %lld)", what, (long long)users,
                            (long long)items, (long long)length);
    out->kind = KD_DATA_SEQUENCES;
    out->max_len = o->max_len;
    out->negatives = o->negatives;
    out->items = items;
    if (!(out->source = kd_data_strdup(what)))
        return kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory", what);
    enum { SUCC = 3 };
    int32_t *succ = malloc((size_t)items * SUCC * sizeof *succ);
    int64_t *off = malloc((size_t)(users + 1) * sizeof *off);
    int32_t *seq = malloc((size_t)(users * length) * sizeof *seq);
    double *cdf = malloc((size_t)items * sizeof *cdf);
    if (!succ || !off || !seq || !cdf) {
        st = kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory", what);
        goto out;
    }
    /* popularity: item i (1-based) weighs 1 / sqrt(i) */
    for (int64_t i = 0; i < items; i++)
        cdf[i] = (i ? cdf[i - 1] : 0) + 1.0 / sqrt((double)(i + 1));
    for (int64_t i = 0; i < items; i++) {
        kd_rng r = kd_rng_key(seed, 0, (uint64_t)i, KD_STREAM_SYNTH);
        for (int k = 0; k < SUCC; k++)
            succ[i * SUCC + k] = draw_popular(cdf, items, &r);
    }
    for (int64_t u = 0; u < users; u++) {
        kd_rng r = kd_rng_key(seed, 1, (uint64_t)u, KD_STREAM_SYNTH);
        int32_t *s = seq + u * length;
        off[u] = u * length;
        s[0] = draw_popular(cdf, items, &r);
        for (int64_t t = 1; t < length; t++) {
            if (kd_rng_uniform(&r) < 0.9)
                s[t] = succ[(s[t - 1] - 1) * SUCC + (int64_t)kd_rng_below(&r, SUCC)];
            else
                s[t] = draw_popular(cdf, items, &r);
        }
    }
    off[users] = users * length;
    st = build_loo(out, users, off, seq, NULL, seed, o, err, errlen);
out:
    free(succ);
    free(off);
    free(seq);
    free(cdf);
    if (st != KD_DATA_OK)
        kd_dataset_free(out);
    return st;
}

/* ---- the registry entries ----------------------------------------------------- */


/* a sample is the item ids of a history, [max_len] (left-padded with 0) */
static kd_data_status seq_shape(const kd_loader_args *a, kd_sample_shape *out,
                                char *err, size_t errlen)
{
    (void)err; (void)errlen;
    kd_sample_shape_set(out, KD_DATA_SEQUENCES, 1, (int64_t)kd_larg_num(a, "max_len"), 0, 0, 0);
    return KD_DATA_OK;
}

static kd_seq_opts seq_opts(const kd_loader_args *a)
{
    kd_seq_opts o = {
        .max_len = (int64_t)kd_larg_num(a, "max_len"),
        .negatives = (int64_t)kd_larg_num(a, "negatives"),
        .min_len = (int64_t)kd_larg_num(a, "min_len"),
        .train_all = strcmp(kd_larg_str(a, "train_positions"), "all") == 0,
    };
    return o;
}

static kd_data_status sequences_load(const kd_loader_args *a, uint64_t seed, kd_dataset *out,
                                     char *err, size_t errlen)
{
    const char *fmt = kd_larg_str(a, "format");
    kd_seq_opts o = seq_opts(a);
    return kd_load_sequences_opt(kd_larg_str(a, "file"),
                                 strcmp(fmt, "movielens") == 0 ? KD_SEQ_MOVIELENS : KD_SEQ_CSV,
                                 &o, seed, out, err, errlen);
}

#define SEQ_COMMON_ARGS \
    { .name = "max_len", .kind = KD_LARG_INT, .def = "50", .has_lo = 1, .lo = 2, \
      .doc = "most recent items kept per history" }, \
    { .name = "negatives", .kind = KD_LARG_INT, .def = "100", .has_lo = 1, .lo = 0, \
      .doc = "items the user never touched, ranked against the target; 0: all items" }, \
    { .name = "min_len", .kind = KD_LARG_INT, .def = "3", .has_lo = 1, .lo = 3, \
      .doc = "users with fewer interactions are dropped" }, \
    { .name = "train_positions", .kind = KD_LARG_SYM, .def = "all", .syms = "all|last", \
      .doc = "train samples: every position before the val item, or only the last" }

static const kd_loader_argdef sequences_args[] = {
    { .name = "file", .kind = KD_LARG_STR, .req = 1,
      .doc = "MovieLens ratings.dat, or CSV user,item[,rating],timestamp" },
    { .name = "format", .kind = KD_LARG_SYM, .def = "csv", .syms = "movielens|csv",
      .doc = "the file's format" },
    SEQ_COMMON_ARGS,
};

const kd_loader_def kd_loader_sequences = {
    .name = "sequences",
    .doc = "user sessions (MovieLens ratings.dat or user,item,timestamp CSV), "
           "leave-one-out splits",
    .kind = KD_DATA_SEQUENCES, .splits = "train|val|test",
    .nargs = 6, .args = sequences_args,
    .shape = seq_shape, .load = sequences_load,
};

/* the recipe's seed: argument keys the sessions; the run's seed is unused */
static kd_data_status synth_load(const kd_loader_args *a, uint64_t seed, kd_dataset *out,
                                 char *err, size_t errlen)
{
    (void)seed;
    kd_seq_opts o = seq_opts(a);
    return kd_synth_sequences_opt((int64_t)kd_larg_num(a, "users"),
                                  (int64_t)kd_larg_num(a, "items"),
                                  (int64_t)kd_larg_num(a, "length"), &o,
                                  (uint64_t)kd_larg_num(a, "seed"), out, err, errlen);
}

static const kd_loader_argdef synth_args[] = {
    { .name = "users", .kind = KD_LARG_INT, .def = "2000", .has_lo = 1, .lo = 1,
      .doc = "users generated" },
    { .name = "items", .kind = KD_LARG_INT, .def = "500", .has_lo = 1, .lo = 2,
      .doc = "items (ids 1..items)" },
    { .name = "length", .kind = KD_LARG_INT, .def = "30", .has_lo = 1, .lo = 3,
      .doc = "interactions per user" },
    SEQ_COMMON_ARGS,
    { .name = "seed", .kind = KD_LARG_INT, .def = "1", .has_lo = 1, .lo = 0,
      .doc = "keys the transition chain and the sessions" },
};

const kd_loader_def kd_loader_synth_sequences = {
    .name = "synth_sequences",
    .doc = "generated sessions with known structure (a random sparse item-transition "
           "chain over items of skewed popularity), leave-one-out splits",
    .kind = KD_DATA_SEQUENCES, .splits = "train|val|test",
    .nargs = 8, .args = synth_args,
    .shape = seq_shape, .load = synth_load,
};
