/* test_safetensors.c — .safetensors writing and reading.
 *
 * Round trips through kd_st_write / kd_st_read; a file written by Python's
 * struct + json (tests/runtime/st_python.safetensors, from
 * tests/runtime/gen_st_golden.py); and malformed files built here byte by
 * byte, each with the exact message expected.  Files go to a fresh
 * directory under $TMPDIR (or /tmp), removed at the end.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../unit.h"
#include "runtime/safetensors.h"

static char dir[256];
static char msgs[4096];

static int make_dir(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/kd_st_XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    char p[600];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (rmdir(p) != 0)
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
    return 0;
}

static const char *path_of(const char *name)
{
    static char p[4][600];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

static void collect(kdr_diag *d)
{
    size_t o = 0;
    msgs[0] = 0;
    for (size_t i = 0; i < d->count && o + 600 < sizeof msgs; i++)
        o += (size_t)snprintf(msgs + o, sizeof msgs - o, "%s%s", i ? "|" : "",
                              d->msgs[i].text);
}

/* Number of entries of the test directory whose name starts with prefix. */
static int count_files(const char *prefix)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            n++;
    if (d)
        closedir(d);
    return n;
}

/* ---- round trips ----------------------------------------------------------- */

static void test_round_trip(void)
{
    float w[2 * 3 * 2 * 2], b[5], s[1] = { -7.5f };
    for (int i = 0; i < 24; i++)
        w[i] = (float)i * 0.37f - 3.0f;
    for (int i = 0; i < 5; i++)
        b[i] = 1.0f / (float)(i + 1);
    b[4] = -0.0f;
    kd_st_tensor t[] = {
        { "student.block[2,1].conv0.weight", 4, { 2, 3, 2, 2 }, w },
        { "student.fc.bias", 1, { 5 }, b },
        { "step", 0, { 0 }, s },
        { "empty", 2, { 0, 3 }, NULL },
        { "quote\"back\\slash\nnewline \xc3\xa9", 1, { 1 }, s },
    };
    kd_st_meta m[] = {
        { "kdrun", "0.1" },
        { "recipe", "a \"b\" \\ c\td\x01" },
    };
    const char *p = path_of("rt.safetensors");
    kdr_diag d;
    kdr_diag_init(&d);
    CU_ASSERT_EQUAL_FATAL(kd_st_write(p, t, 5, m, 2, &d), 0);
    CU_ASSERT_EQUAL(d.count, 0);
    CU_ASSERT_EQUAL(count_files("rt.safetensors.tmp"), 0);

    /* the header length makes the data start at a multiple of 8 */
    size_t len;
    char *raw = kd_unit_slurp(p, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--)
        hl = (hl << 8) | (unsigned char)raw[i];
    CU_ASSERT_EQUAL((8 + hl) % 8, 0);
    CU_ASSERT_EQUAL(len, 8 + hl + (24 + 5 + 1 + 0 + 1) * 4);
    CU_ASSERT_EQUAL(raw[8], '{');
    CU_ASSERT(strncmp(raw + 8, "{\"__metadata__\":{\"kdrun\":\"0.1\"", 30) == 0);
    free(raw);

    kd_st_file *f = kd_st_read(p, &d);
    collect(&d);
    KD_ASSERT_STR_EQ(msgs, "");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(kd_st_count(f), 5);
    for (size_t i = 0; i < 5; i++) {
        const kd_st_tensor *g = kd_st_find(f, t[i].name);
        CU_ASSERT_PTR_NOT_NULL_FATAL(g);
        CU_ASSERT_STRING_EQUAL(g->name, t[i].name);
        CU_ASSERT_EQUAL(g->ndim, t[i].ndim);
        for (int k = 0; k < t[i].ndim; k++)
            CU_ASSERT_EQUAL(g->shape[k], t[i].shape[k]);
        int64_t n = kd_st_numel(g);
        CU_ASSERT_EQUAL(n, kd_st_numel(&t[i]));
        if (n > 0)
            CU_ASSERT_EQUAL(memcmp(g->data, t[i].data, (size_t)n * 4), 0);
        CU_ASSERT_EQUAL(((uintptr_t)g->data) % sizeof(float), 0);
        /* tensors come in data order, which is the write order */
        CU_ASSERT_PTR_EQUAL(kd_st_at(f, i)->name, kd_st_find(f, t[i].name)->name);
    }
    CU_ASSERT_PTR_NULL(kd_st_find(f, "student.fc"));
    CU_ASSERT_PTR_NULL(kd_st_at(f, 5));
    /* -0.0 kept bit for bit */
    uint32_t bits;
    memcpy(&bits, &kd_st_find(f, "student.fc.bias")->data[4], 4);
    CU_ASSERT_EQUAL(bits, 0x80000000u);
    CU_ASSERT_EQUAL(kd_st_meta_count(f), 2);
    CU_ASSERT_STRING_EQUAL(kd_st_meta_get(f, "kdrun"), "0.1");
    CU_ASSERT_STRING_EQUAL(kd_st_meta_get(f, "recipe"), m[1].value);
    CU_ASSERT_STRING_EQUAL(kd_st_meta_at(f, 1)->key, "recipe");
    CU_ASSERT_PTR_NULL(kd_st_meta_get(f, "nope"));
    kd_st_free(f);

    /* overwrite: the new content replaces the old one */
    CU_ASSERT_EQUAL(kd_st_write(p, t + 1, 1, NULL, 0, &d), 0);
    f = kd_st_read(p, &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(kd_st_count(f), 1);
    CU_ASSERT_EQUAL(kd_st_meta_count(f), 0);
    CU_ASSERT_PTR_NOT_NULL(kd_st_find(f, "student.fc.bias"));
    kd_st_free(f);

    /* no tensors at all: only the checksum of the empty data, padded */
    const char *p0 = path_of("none.safetensors");
    CU_ASSERT_EQUAL(kd_st_write(p0, NULL, 0, NULL, 0, &d), 0);
    raw = kd_unit_slurp(p0, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
    CU_ASSERT_EQUAL(len, 56);
    CU_ASSERT(memcmp(raw, "\x30\0\0\0\0\0\0\0{\"__metadata__\":{\"kdrun.crc32\":\"00000000\"}}     ", 56) == 0);
    free(raw);
    f = kd_st_read(p0, &d);
    CU_ASSERT_PTR_NOT_NULL(f);
    CU_ASSERT_EQUAL(f ? kd_st_count(f) : 99, 0);
    kd_st_free(f);
    CU_ASSERT_EQUAL(d.count, 0);
    kdr_diag_free(&d);
    unlink(p);
    unlink(p0);
}

/* A larger file: many tensors, lookups by name. */
static void test_many_tensors(void)
{
    enum { N = 300 };
    static float data[N * 3];
    static char names[N][32];
    kd_st_tensor t[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "m.layer[%d].w", (i * 7919) % N);
        t[i].name = names[i];
        t[i].ndim = 1;
        t[i].shape[0] = 3;
        t[i].data = data + 3 * i;
        for (int k = 0; k < 3; k++)
            data[3 * i + k] = (float)(i * 3 + k);
    }
    const char *p = path_of("many.safetensors");
    kdr_diag d;
    kdr_diag_init(&d);
    CU_ASSERT_EQUAL_FATAL(kd_st_write(p, t, N, NULL, 0, &d), 0);
    kd_st_file *f = kd_st_read(p, &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    int ok = 0;
    for (int i = 0; i < N; i++) {
        const kd_st_tensor *g = kd_st_find(f, names[i]);
        ok += g && g->data[0] == (float)(i * 3) && g->data[2] == (float)(i * 3 + 2);
    }
    CU_ASSERT_EQUAL(ok, N);
    kd_st_free(f);
    kdr_diag_free(&d);
    unlink(p);
}

/* The file gen_st_golden.py wrote with struct + json. */
static void test_python_file(void)
{
    const char *p = KD_SRC("tests/runtime/st_python.safetensors");
    kdr_diag d;
    kdr_diag_init(&d);
    kd_st_file *f = kd_st_read(p, &d);
    collect(&d);
    KD_ASSERT_STR_EQ(msgs, "");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(kd_st_count(f), 5);
    /* in data order, not header order */
    CU_ASSERT_STRING_EQUAL(kd_st_at(f, 0)->name, "bias");
    CU_ASSERT_STRING_EQUAL(kd_st_at(f, 1)->name, "conv.weight");
    const kd_st_tensor *b = kd_st_find(f, "bias");
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(b->ndim, 1);
    CU_ASSERT_EQUAL(b->shape[0], 3);
    CU_ASSERT_EQUAL(b->data[0], 0.5f);
    CU_ASSERT_EQUAL(b->data[1], -1.25f);
    CU_ASSERT_EQUAL(b->data[2], 3.0f);
    const kd_st_tensor *w = kd_st_find(f, "conv.weight");
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    CU_ASSERT_EQUAL(w->ndim, 4);
    CU_ASSERT_EQUAL(w->shape[0], 2);
    CU_ASSERT_EQUAL(w->shape[3], 2);
    for (int i = 0; i < 8; i++)
        CU_ASSERT_EQUAL(w->data[i], (float)i / 8 - 0.5f);
    /* "scal\u00e4r \U0001F600" from \u escapes, one a surrogate pair */
    const kd_st_tensor *s = kd_st_find(f, "scal\xc3\xa4r \xf0\x9f\x98\x80");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->ndim, 0);
    CU_ASSERT_EQUAL(kd_st_numel(s), 1);
    CU_ASSERT_EQUAL(s->data[0], 6.25f);
    const kd_st_tensor *e = kd_st_find(f, "empty");
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(kd_st_numel(e), 0);
    const kd_st_tensor *t = kd_st_find(f, "tiny");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(t->data[0], 1e-38f);
    CU_ASSERT_STRING_EQUAL(kd_st_meta_get(f, "format"), "pt");
    CU_ASSERT_STRING_EQUAL(kd_st_meta_get(f, "note"), "caf\xc3\xa9 \"quoted\"\n\\");
    kd_st_free(f);
    kdr_diag_free(&d);
}

/* ---- malformed files ------------------------------------------------------- */

/* Write raw bytes to a file of the test directory; returns its path. */
static const char *put_raw(const char *name, const void *bytes, size_t n)
{
    const char *p = path_of(name);
    FILE *f = fopen(p, "wb");
    if (!f)
        return p;
    if (n)
        fwrite(bytes, 1, n, f);
    fclose(f);
    return p;
}

/* [8-byte length of header][header][ndata bytes of data] */
static const char *put_st(const char *name, const char *header, size_t ndata)
{
    size_t hl = strlen(header);
    unsigned char *b = calloc(1, 8 + hl + ndata);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, header, hl);
    for (size_t i = 0; i < ndata; i++)
        b[8 + hl + i] = (unsigned char)i;
    const char *p = put_raw(name, b, 8 + hl + ndata);
    free(b);
    return p;
}

/* Read p, expect failure with exactly "p: want". */
static void expect_error(const char *p, const char *want, int line)
{
    kdr_diag d;
    kdr_diag_init(&d);
    kd_st_file *f = kd_st_read(p, &d);
    collect(&d);
    char full[1200];
    snprintf(full, sizeof full, "%s: %s", p, want);
    if (f || strcmp(msgs, full) != 0)
        fprintf(stderr, "\n  line %d\n  want: %s\n  got:  %s%s\n", line, full, msgs,
                f ? " (and the file was accepted)" : "");
    CU_ASSERT_PTR_NULL(f);
    CU_ASSERT_STRING_EQUAL(msgs, full);
    CU_ASSERT_EQUAL(d.count, 1);
    kd_st_free(f);
    kdr_diag_free(&d);
}

#define BAD_ST(header, ndata, want) \
    expect_error(put_st("bad.safetensors", header, ndata), want, __LINE__)

#define T1(name, dtype, shape, b, e) \
    "\"" name "\": {\"dtype\": \"" dtype "\", \"shape\": " shape ", \"data_offsets\": [" #b ", " #e "]}"

/* The writer's checksum: a flipped data byte is refused, naming the file;
 * files without one (Python's) are read unchecked and say so. */
static void test_checksum(void)
{
    float w[64];
    for (int i = 0; i < 64; i++) w[i] = (float)i * 0.25f - 4.0f;
    kd_st_tensor t[] = { { "m.w", 2, { 8, 8 }, w } };
    kd_st_meta m[] = { { "epoch", "3" } };
    const char *p = path_of("crc.safetensors");
    kdr_diag d;
    kdr_diag_init(&d);
    CU_ASSERT_EQUAL_FATAL(kd_st_write(p, t, 1, m, 1, &d), 0);
    kd_st_file *f = kd_st_read(p, &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(kd_st_checksummed(f), 1);
    CU_ASSERT_EQUAL(kd_st_meta_count(f), 1);            /* the checksum is not listed */
    CU_ASSERT_PTR_NULL(kd_st_meta_get(f, KD_ST_CRC_KEY));
    kd_st_free(f);
    size_t len = 0;
    char *raw = kd_unit_slurp(p, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
    CU_ASSERT(strstr(raw + 8, "\"kdrun.crc32\":\"") != NULL);
    raw[len - 5] ^= 0x10;                                /* one bit of the last float */
    FILE *o = fopen(p, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    fwrite(raw, 1, len, o);
    fclose(o);
    free(raw);
    f = kd_st_read(p, &d);
    CU_ASSERT_PTR_NULL(f);
    collect(&d);
    CU_ASSERT(strstr(msgs, "crc.safetensors: the data does not match its checksum (kdrun.crc32 ") != NULL);
    CU_ASSERT(strstr(msgs, "): the file is damaged") != NULL);
    kdr_diag_free(&d);
    kdr_diag_init(&d);
    /* the key is the writer's */
    kd_st_meta bad[] = { { KD_ST_CRC_KEY, "00000000" } };
    CU_ASSERT_EQUAL(kd_st_write(p, t, 1, bad, 1, &d), -1);
    collect(&d);
    CU_ASSERT(strstr(msgs, "metadata key 'kdrun.crc32' is the writer's own") != NULL);
    kdr_diag_free(&d);
    kdr_diag_init(&d);
    f = kd_st_read(KD_SRC("tests/runtime/st_python.safetensors"), &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(kd_st_checksummed(f), 0);
    kd_st_free(f);
    kdr_diag_free(&d);
    unlink(p);
}

static void test_bad_files(void)
{
    /* the file itself */
    expect_error(put_raw("empty.safetensors", "", 0),
                 "empty file (a safetensors file starts with an 8-byte header length)",
                 __LINE__);
    expect_error(put_raw("short.safetensors", "\x10\0\0", 3),
                 "truncated: 3 bytes, shorter than the 8-byte header length", __LINE__);
    expect_error(put_raw("long.safetensors", "\xe8\x03\0\0\0\0\0\0{\"a\": 1}  ", 18),
                 "header length 1000 overruns the file (10 bytes after the 8-byte length)",
                 __LINE__);
    expect_error(put_raw("huge.safetensors", "\xff\xff\xff\xff\xff\xff\xff\xff{}", 10),
                 "header length 18446744073709551615 overruns the file (2 bytes after the "
                 "8-byte length)", __LINE__);
    expect_error(put_raw("zero.safetensors", "\0\0\0\0\0\0\0\0{}", 10),
                 "header length is 0 (a safetensors header is at least \"{}\")", __LINE__);
    expect_error(path_of("no_such_file.safetensors"),
                 "cannot open: No such file or directory", __LINE__);
    const char *sub = path_of("adir.safetensors");
    CU_ASSERT_EQUAL(mkdir(sub, 0700), 0);
    expect_error(sub, "is a directory, not a safetensors file", __LINE__);

    /* the JSON */
    BAD_ST("{\"a\": {\"dtype\": \"F3", 0,
           "bad JSON header: unexpected end of the header (19 bytes): unterminated string");
    BAD_ST("{\"a\" {}}", 0, "bad JSON header at byte 5: expected ':'");
    BAD_ST("[1, 2]", 0, "bad JSON header at byte 0: the header is not a JSON object");
    BAD_ST("{} x", 0, "bad JSON header at byte 3: characters after the JSON object");
    BAD_ST("{\"a\": {\"dtype\": \"F32\",}}", 0, "bad JSON header at byte 22: expected a string");
    BAD_ST("{\"a\\x\": {}}", 0, "bad JSON header at byte 3: bad escape in a string");
    BAD_ST("{\"a\\ud800\": {}}", 0,
           "bad JSON header at byte 3: high surrogate not followed by a low surrogate");
    BAD_ST("{\"a\xff\": {}}", 0, "bad JSON header at byte 3: invalid UTF-8 in a string");
    BAD_ST("{\"a\": 5}", 0, "tensor 'a' is not an object");
    BAD_ST("{\"__metadata__\": {\"k\": 1}}", 0, "metadata 'k' is not a string");
    BAD_ST("{\"__metadata__\": {\"k\": \"1\", \"k\": \"2\"}}", 0, "duplicate metadata key 'k'");

    /* the entries */
    BAD_ST("{" T1("a", "Q9", "[2]", 0, 8) "}", 8, "tensor 'a' has unknown dtype 'Q9'");
    BAD_ST("{" T1("a", "F16", "[4]", 0, 8) "}", 8,
           "tensor 'a' has dtype F16; only F32 tensors can be read");
    BAD_ST("{" T1("a", "BF16", "[4]", 0, 8) "}", 8,
           "tensor 'a' has dtype BF16; only F32 tensors can be read");
    BAD_ST("{\"a\": {\"dtype\": \"F32\", \"data_offsets\": [0, 8]}}", 8,
           "tensor 'a' has no shape");
    BAD_ST("{\"a\": {\"dtype\": \"F32\", \"shape\": [2]}}", 8, "tensor 'a' has no data_offsets");
    BAD_ST("{\"a\": {\"dtype\": \"F32\", \"shape\": [2.5], \"data_offsets\": [0, 8]}}", 8,
           "tensor 'a' shape: not an integer at header byte 33");
    BAD_ST("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [-1, 8]}}", 8,
           "tensor 'a' data_offsets: negative number at header byte 54");
    BAD_ST("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 4, 8]}}", 8,
           "tensor 'a': data_offsets has 3 values, not 2");
    BAD_ST("{\"a\": {\"dtype\": \"F32\", \"shape\": [1,1,1,1,1,1,1,1,1], \"data_offsets\": [0, 4]}}",
           4, "tensor 'a' has 9 dimensions, at most 8 are supported");
    BAD_ST("{\"a\": {\"dtype\": \"F32\", \"shape\": [99999999999999999999], "
           "\"data_offsets\": [0, 4]}}", 4,
           "tensor 'a' shape: number too large at header byte 33");
    /* offsets and shapes */
    BAD_ST("{" T1("a.weight", "F32", "[25]", 0, 100) "}", 64,
           "tensor 'a.weight' data_offsets [0, 100] overrun the data (64 bytes)");
    BAD_ST("{" T1("a", "F32", "[1]", 8, 4) "}", 8,
           "tensor 'a' data_offsets [8, 4] end before they begin");
    BAD_ST("{" T1("a", "F32", "[2, 3]", 0, 20) "}", 20,
           "tensor 'a' has shape [2, 3] (24 bytes as F32) but data_offsets [0, 20] span 20 bytes");
    BAD_ST("{" T1("a", "F32", "[4]", 0, 16) ", " T1("b", "F32", "[4]", 8, 24) "}", 24,
           "tensors 'a' [0, 16] and 'b' [8, 24] overlap");
    BAD_ST("{" T1("a", "F32", "[2]", 0, 8) ", " T1("b", "F32", "[2]", 16, 24) "}", 24,
           "bytes [8, 16) of the data belong to no tensor");
    BAD_ST("{" T1("b", "F32", "[2]", 4, 12) "}", 12,
           "bytes [0, 4) of the data belong to no tensor");
    BAD_ST("{" T1("a", "F32", "[2]", 0, 8) "}", 12,
           "bytes [8, 12) of the data belong to no tensor");
    BAD_ST("{}", 4, "bytes [0, 4) of the data belong to no tensor");
    BAD_ST("{" T1("a", "F32", "[2]", 0, 8) ", " T1("a", "F32", "[2]", 8, 16) "}", 16,
           "duplicate tensor name 'a'");
    BAD_ST("{" T1("", "F32", "[2]", 0, 8) "}", 8, "tensor with an empty name");

    /* accepted: unknown fields of an entry are ignored, as the reference
     * reader does; whitespace anywhere */
    kdr_diag d;
    kdr_diag_init(&d);
    kd_st_file *f = kd_st_read(put_st("ok.safetensors",
        " {\n\t\"a\" : {\"x\": [1, {\"y\": null}, -2.5e3, true], \"dtype\":\"F32\","
        "\"shape\":[ 2 ],\"data_offsets\":[0,8]} } ", 8), &d);
    collect(&d);
    KD_ASSERT_STR_EQ(msgs, "");
    CU_ASSERT_PTR_NOT_NULL(f);
    kd_st_free(f);
    kdr_diag_free(&d);
}

static void test_write_errors(void)
{
    float x[2] = { 1, 2 };
    kdr_diag d;
    kdr_diag_init(&d);
    kd_st_tensor dup[] = { { "a", 1, { 2 }, x }, { "b", 1, { 1 }, x }, { "a", 1, { 1 }, x } };
    const char *p = path_of("w.safetensors");
    CU_ASSERT_EQUAL(kd_st_write(p, dup, 3, NULL, 0, &d), -1);
    kd_st_tensor meta_name[] = { { "__metadata__", 1, { 2 }, x } };
    CU_ASSERT_EQUAL(kd_st_write(p, meta_name, 1, NULL, 0, &d), -1);
    kd_st_tensor empty[] = { { "", 1, { 2 }, x } };
    CU_ASSERT_EQUAL(kd_st_write(p, empty, 1, NULL, 0, &d), -1);
    kd_st_tensor deep[] = { { "d", 9, { 1 }, x } };
    CU_ASSERT_EQUAL(kd_st_write(p, deep, 1, NULL, 0, &d), -1);
    kd_st_meta mm[] = { { "k", "1" }, { "k", "2" } };
    CU_ASSERT_EQUAL(kd_st_write(p, NULL, 0, mm, 2, &d), -1);
    const char *nodir = path_of("no/such/dir.safetensors");
    CU_ASSERT_EQUAL(kd_st_write(nodir, dup, 1, NULL, 0, &d), -1);
    collect(&d);
    char want[2048];
    snprintf(want, sizeof want,
             "%s: duplicate tensor name 'a'|"
             "%s: a tensor cannot be named \"__metadata__\"|"
             "%s: tensor 0 has an empty name|"
             "%s: tensor 'd' has 9 dimensions (0 to 8 are supported)|"
             "%s: duplicate metadata key 'k'|"
             "cannot write %s: No such file or directory",
             p, p, p, p, p, nodir);
    KD_ASSERT_STR_EQ(msgs, want);
    /* nothing was created */
    CU_ASSERT_EQUAL(count_files("w.safetensors"), 0);
    kdr_diag_free(&d);
}

int main(void)
{
    static const kd_unit_test tests[] = {
        KD_TEST(test_round_trip),
        KD_TEST(test_many_tensors),
        KD_TEST(test_python_file),
        KD_TEST(test_checksum),
        KD_TEST(test_bad_files),
        KD_TEST(test_write_errors),
        KD_TEST_END
    };
    if (kd_unit_init() != 0)
        return 2;
    if (kd_unit_suite_full("safetensors", make_dir, remove_dir, tests) != 0) {
        CU_cleanup_registry();
        return 2;
    }
    return kd_unit_run();
}
