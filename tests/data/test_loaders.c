/* test_loaders.c — the loader registry (data/loaders.def, data/registry.c):
 * the table itself, argument binding and checks, each loader's sample
 * shape, loading through the registry (a small file of each format), the
 * agreement of every entry with its recipe builtin (lang/builtins.c) and
 * with the synopsis of its man page (man/kdr-NAME.7).
 *
 * A new loader gets a case in test_shapes and in test_load (if it reads a
 * file format), and the table tests cover it by themselves. */
#include <math.h>
#include "data_test.h"
#include "loaders.h"
#include "builtins.h"
#include "runtime/loader_builtins.h"
#include "tests/unit.h"

static const char *const names[] = {
    "idx", "cifar10", "cifar100", "cinic10", "image_folder", "sequences",
    "synth_sequences", "raw_synth"
};
#define NNAMES ((int)(sizeof names / sizeof names[0]))

static kd_loader_args args_of(const char *name)
{
    kd_loader_args a;
    const kd_loader_def *def = kd_loader_find(name);
    CU_ASSERT_PTR_NOT_NULL_FATAL(def);
    kd_loader_args_init(def, &a);
    return a;
}

/* ---- the table ---------------------------------------------------------------- */

static void test_table(void)
{
    CU_ASSERT_EQUAL(kd_loader_count(), NNAMES);
    for (int i = 0; i < NNAMES; i++) {
        const kd_loader_def *d = kd_loader_find(names[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(d);
        CU_ASSERT_STRING_EQUAL(d->name, names[i]);
        CU_ASSERT_PTR_EQUAL(kd_loader_at(i), d);   /* loaders.def order */
        CU_ASSERT(d->doc && d->doc[0]);
        CU_ASSERT_PTR_NOT_NULL(d->shape);
        CU_ASSERT_PTR_NOT_NULL(d->load);
        CU_ASSERT_PTR_NOT_NULL(d->splits);
        CU_ASSERT(d->nargs >= 1 && d->nargs <= KD_LOADER_MAXARGS);
        for (int k = 0; k < d->nargs; k++) {
            const kd_loader_argdef *ad = &d->args[k];
            CU_ASSERT(ad->name && ad->doc && ad->doc[0]);
            CU_ASSERT(ad->req == (ad->def == NULL));   /* required, or a default */
            CU_ASSERT_EQUAL(kd_loader_arg_index(d, ad->name), k);
        }
    }
    CU_ASSERT_PTR_NULL(kd_loader_find("mnist"));
    CU_ASSERT_PTR_NULL(kd_loader_find(NULL));
    CU_ASSERT_PTR_NULL(kd_loader_at(-1));
    CU_ASSERT_PTR_NULL(kd_loader_at(NNAMES));
}

/* Every registry entry is a recipe builtin with the same arguments (names,
 * order, required, defaults), and every loader builtin has an entry. */
static void test_builtins_agree(void)
{
    for (int i = 0; i < kd_loader_count(); i++) {
        const kd_loader_def *d = kd_loader_at(i);
        const kdr_builtin *b = kdr_builtin_find(d->name, KDR_CTX_LOADER);
        CU_ASSERT_PTR_NOT_NULL_FATAL(b);
        CU_ASSERT_EQUAL((int)kdr_builtin_nargs(b), d->nargs);
        for (int k = 0; k < d->nargs && k < (int)kdr_builtin_nargs(b); k++) {
            CU_ASSERT_STRING_EQUAL(b->args[k].name, d->args[k].name);
            CU_ASSERT_EQUAL(b->args[k].req, d->args[k].req);
            if (b->args[k].def && d->args[k].def) {
                CU_ASSERT_STRING_EQUAL(b->args[k].def, d->args[k].def);
            } else {
                CU_ASSERT_PTR_EQUAL(b->args[k].def, d->args[k].def);
            }
        }
        CU_ASSERT_STRING_EQUAL(b->doc, d->doc);
    }
    size_t n;
    const kdr_builtin *all = kdr_builtins(&n);
    for (size_t i = 0; i < n; i++)
        if (all[i].ctx == KDR_CTX_LOADER)
            CU_ASSERT_PTR_NOT_NULL(kd_loader_find(all[i].name));
}

/* The builtins generated from the registry (runtime/loader_builtins.c),
 * which kdrun registers at start-up (runtime/op_builtins.c): equal field by
 * field to a hand-written entry lang/builtins.c may still have, and the
 * ones lang/ finds once registered. */
static void test_generated_builtins(void)
{
    kdr_builtin gen[16];
    size_t n = kd_loader_builtins(gen, 16);
    CU_ASSERT_EQUAL(n, (size_t)kd_loader_count());
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT_EQUAL(gen[i].ctx, KDR_CTX_LOADER);
        const kdr_builtin *b = kdr_builtin_find(gen[i].name, KDR_CTX_LOADER);
        if (!b) continue;   /* no hand-written entry (any more) */
        CU_ASSERT_EQUAL(gen[i].flags, b->flags);
        CU_ASSERT_STRING_EQUAL(gen[i].doc, b->doc);
        CU_ASSERT_EQUAL(kdr_builtin_nargs(&gen[i]), kdr_builtin_nargs(b));
        for (size_t k = 0; k < kdr_builtin_nargs(b) && k < kdr_builtin_nargs(&gen[i]); k++) {
            const kdr_argspec *x = &gen[i].args[k], *y = &b->args[k];
            CU_ASSERT_STRING_EQUAL(x->name, y->name);
            CU_ASSERT_EQUAL(x->kind, y->kind);
            CU_ASSERT_EQUAL(x->req, y->req);
            CU_ASSERT_EQUAL(x->rest, y->rest);
            CU_ASSERT_EQUAL(x->range, y->range);
            CU_ASSERT_EQUAL(x->lo, y->lo);
            CU_ASSERT_EQUAL(x->hi, y->hi);
            CU_ASSERT_EQUAL(x->ctx, y->ctx);
            CU_ASSERT((x->def == NULL) == (y->def == NULL));
            if (x->def && y->def) CU_ASSERT_STRING_EQUAL(x->def, y->def);
            CU_ASSERT((x->syms == NULL) == (y->syms == NULL));
            if (x->syms && y->syms) CU_ASSERT_STRING_EQUAL(x->syms, y->syms);
        }
    }
    CU_ASSERT_EQUAL(kd_loader_builtins(gen, 2), n);   /* only 2 written */
    n = kd_loader_builtins(gen, 16);
    CU_ASSERT_EQUAL_FATAL(kdr_builtins_register(gen, n), 0);
    for (size_t i = 0; i < n; i++) {
        const kdr_builtin *b = kdr_builtin_find(gen[i].name, KDR_CTX_LOADER);
        CU_ASSERT_PTR_NOT_NULL_FATAL(b);
        CU_ASSERT_PTR_EQUAL(b->args, gen[i].args);
    }
    /* what the loaders call stays lang's */
    CU_ASSERT_PTR_NOT_NULL(kdr_builtin_find("poisson_gauss", KDR_CTX_NOISE));
}

/* man/kdr-NAME.7 exists for every loader and its synopsis names every
 * argument in order. */
static void test_man_pages(void)
{
    for (int i = 0; i < kd_loader_count(); i++) {
        const kd_loader_def *d = kd_loader_at(i);
        char path[512];
        snprintf(path, sizeof path, KD_SRC("man/kdr-%s.7"), d->name);
        char *txt = kd_unit_slurp(path, NULL);
        CU_ASSERT_PTR_NOT_NULL(txt);
        if (!txt) {
            fprintf(stderr, "missing %s\n", path);
            continue;
        }
        char want[64];
        snprintf(want, sizeof want, ".Dl %s(", d->name);
        const char *syn = strstr(txt, want);
        CU_ASSERT_PTR_NOT_NULL(syn);
        if (syn) {
            const char *end = strchr(syn, '\n'), *at = syn + strlen(want);
            for (int k = 0; k < d->nargs; k++) {
                const char *hit = strstr(at, d->args[k].name);
                CU_ASSERT(hit && hit < end);
                if (!hit || hit > end) {
                    fprintf(stderr, "%s: synopsis lacks '%s' (in order)\n", path, d->args[k].name);
                    break;
                }
                at = hit + strlen(d->args[k].name);
            }
        }
        free(txt);
    }
}

/* ---- arguments ---------------------------------------------------------------- */

static void test_defaults(void)
{
    kd_loader_args a = args_of("image_folder");
    CU_ASSERT_EQUAL(kd_larg_num(&a, "size"), 32);
    CU_ASSERT_PTR_NULL(kd_larg_str(&a, "dir"));
    CU_ASSERT_EQUAL(kd_larg_get(&a, "dir")->given, 0);
    a = args_of("sequences");
    CU_ASSERT_STRING_EQUAL(kd_larg_str(&a, "format"), "csv");
    CU_ASSERT_EQUAL(kd_larg_num(&a, "max_len"), 50);
    CU_ASSERT_EQUAL(kd_larg_num(&a, "negatives"), 100);
    a = args_of("synth_sequences");
    CU_ASSERT_EQUAL(kd_larg_num(&a, "users"), 2000);
    CU_ASSERT_EQUAL(kd_larg_num(&a, "seed"), 1);
    CU_ASSERT_EQUAL(kd_loader_args_check(&a, kd_err, sizeof kd_err), KD_DATA_OK);  /* all optional */
    a = args_of("raw_synth");
    CU_ASSERT_EQUAL(kd_larg_num(&a, "unprocess"), 1);
    CU_ASSERT_EQUAL(kd_larg_num(&a, "patch"), 64);
    CU_ASSERT_PTR_NULL(kd_larg_get(&a, "nothing"));
}

static void test_binding(void)
{
    kd_loader_args a = args_of("image_folder");
    /* by position and by name */
    CU_ASSERT_EQUAL(kd_loader_args_set_str(&a, NULL, 0, "/d", kd_err, sizeof kd_err), KD_DATA_OK);
    CU_ASSERT_EQUAL(kd_loader_args_set_num(&a, "size", -1, 20, kd_err, sizeof kd_err), KD_DATA_OK);
    CU_ASSERT_STRING_EQUAL(kd_larg_str(&a, "dir"), "/d");
    CU_ASSERT_EQUAL(kd_larg_num(&a, "size"), 20);
    CU_ASSERT_EQUAL(kd_larg_get(&a, "size")->given, 1);
    CU_ASSERT_EQUAL(kd_loader_args_check(&a, kd_err, sizeof kd_err), KD_DATA_OK);

    /* an unknown name says what the loader takes */
    CU_ASSERT_EQUAL(kd_loader_args_set_num(&a, "side", -1, 3, kd_err, sizeof kd_err), KD_DATA_EARG);
    CU_ASSERT_STRING_EQUAL(kd_err, "image_folder: no argument 'side' (it takes: dir, size)");
    a = args_of("idx");
    CU_ASSERT_EQUAL(kd_loader_args_set_str(&a, "directory", -1, "/d", kd_err, sizeof kd_err),
                    KD_DATA_EARG);
    CU_ASSERT_STRING_EQUAL(kd_err, "idx: no argument 'directory' (it takes: dir)");
    /* too many positional arguments */
    CU_ASSERT_EQUAL(kd_loader_args_set_num(&a, NULL, 1, 28, kd_err, sizeof kd_err), KD_DATA_EARG);
    CU_ASSERT_STRING_EQUAL(kd_err, "idx: 2 positional arguments given; it takes at most 1");
    /* a value of the wrong kind */
    CU_ASSERT_EQUAL(kd_loader_args_set_num(&a, "dir", -1, 1, kd_err, sizeof kd_err), KD_DATA_EARG);
    CU_ASSERT_STRING_EQUAL(kd_err, "idx: argument 'dir' is not a number");
    a = args_of("image_folder");
    CU_ASSERT_EQUAL(kd_loader_args_set_str(&a, "size", -1, "big", kd_err, sizeof kd_err), KD_DATA_EARG);
    CU_ASSERT_STRING_EQUAL(kd_err, "image_folder: argument 'size' is not a string");
    a = args_of("raw_synth");
    CU_ASSERT_EQUAL(kd_loader_args_set_str(&a, "noise", -1, "x", kd_err, sizeof kd_err), KD_DATA_EARG);
    double many[KD_LARG_MAXLIST + 1] = { 0 };
    CU_ASSERT_EQUAL(kd_loader_args_set_call(&a, "noise", -1, "poisson_gauss", many,
                                            KD_LARG_MAXLIST + 1, kd_err, sizeof kd_err), KD_DATA_EARG);
    CU_ASSERT_EQUAL(kd_loader_args_set_call(&a, "noise", -1, "poisson_gauss",
                                            (const double[]){ -9.2, -4.4 }, 2, kd_err, sizeof kd_err),
                    KD_DATA_OK);
    CU_ASSERT_EQUAL(kd_larg_get(&a, "noise")->nlist, 2);
    CU_ASSERT_DOUBLE_EQUAL(kd_larg_get(&a, "noise")->list[1], -4.4, 1e-12);
}

static void expect_check(kd_loader_args *a, const char *want)
{
    CU_ASSERT_EQUAL(kd_loader_args_check(a, kd_err, sizeof kd_err), KD_DATA_EARG);
    CU_ASSERT_STRING_EQUAL(kd_err, want);
    kd_sample_shape s;
    CU_ASSERT_EQUAL(kd_loader_sample_shape(a, &s, kd_err, sizeof kd_err), KD_DATA_EARG);
    kd_dataset ds;
    CU_ASSERT_EQUAL(kd_loader_load_data(a, 0, &ds, kd_err, sizeof kd_err), KD_DATA_EARG);
}

static void test_checks(void)
{
    kd_loader_args a = args_of("idx");
    expect_check(&a, "idx: argument 'dir' is required");
    a = args_of("image_folder");
    kd_loader_args_set_str(&a, "dir", -1, "/d", kd_err, sizeof kd_err);
    kd_loader_args_set_num(&a, "size", -1, 0, kd_err, sizeof kd_err);
    expect_check(&a, "image_folder: size 0 (must be >= 1)");
    kd_loader_args_set_num(&a, "size", -1, 2.5, kd_err, sizeof kd_err);
    expect_check(&a, "image_folder: size 2.5 is not a whole number");
    a = args_of("sequences");
    kd_loader_args_set_str(&a, "file", -1, "/f", kd_err, sizeof kd_err);
    kd_loader_args_set_str(&a, "format", -1, "tsv", kd_err, sizeof kd_err);
    expect_check(&a, "sequences: format is tsv, not one of movielens|csv");
    a = args_of("raw_synth");
    kd_loader_args_set_str(&a, "images", -1, "/p/*.png", kd_err, sizeof kd_err);
    expect_check(&a, "raw_synth: argument 'noise' is required");
    kd_loader_args_set_call(&a, "noise", -1, "gauss", NULL, 0, kd_err, sizeof kd_err);
    expect_check(&a, "raw_synth: noise is gauss, not one of poisson_gauss");
}

/* ---- sample shapes ---------------------------------------------------------------- */

static kd_sample_shape shape_of(kd_loader_args *a)
{
    kd_sample_shape s;
    CU_ASSERT_EQUAL(kd_loader_sample_shape(a, &s, kd_err, sizeof kd_err), KD_DATA_OK);
    return s;
}

static void expect_shape(const kd_sample_shape *s, kd_data_kind kind, int ndim, int64_t d0,
                         int64_t d1, int64_t d2, int64_t classes)
{
    CU_ASSERT_EQUAL(s->kind, kind);
    CU_ASSERT_EQUAL(s->ndim, ndim);
    CU_ASSERT_EQUAL(s->dims[0], d0);
    if (ndim > 1) {
        CU_ASSERT_EQUAL(s->dims[1], d1);
        CU_ASSERT_EQUAL(s->dims[2], d2);
    }
    CU_ASSERT_EQUAL(s->classes, classes);
}

/* IDX header only: magic, count, rows, columns (gzip if gz) */
static void write_idx_header(const char *path, int rows, int cols, int gz)
{
    uint8_t h[16 + 64] = { 0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, (uint8_t)rows, 0, 0, 0, (uint8_t)cols };
    size_t n = 16 + (size_t)rows * cols;
    CU_ASSERT_FATAL(n <= sizeof h);
    CU_ASSERT_EQUAL(gz ? kd_write_gz(path, h, n) : kd_write_file(path, h, n), 0);
}

static void test_shapes(void)
{
    kd_loader_args a;
    kd_sample_shape s;
    /* idx: declared [1, 28, 28] when the files are absent ... */
    a = args_of("idx");
    kd_loader_args_set_str(&a, "dir", -1, kd_tmp_path("no-such-dir"), kd_err, sizeof kd_err);
    s = shape_of(&a);
    expect_shape(&s, KD_DATA_IMAGES, 3, 1, 28, 28, 10);
    CU_ASSERT_EQUAL(s.from_files, 0);
    /* ... read from the header when they are there (plain, gzip, t10k only) */
    kd_tmp_mkdir("shape/plain");
    write_idx_header(kd_tmp_path("shape/plain/train-images-idx3-ubyte"), 3, 4, 0);
    kd_loader_args_set_str(&a, "dir", -1, kd_tmp_path("shape/plain"), kd_err, sizeof kd_err);
    s = shape_of(&a);
    expect_shape(&s, KD_DATA_IMAGES, 3, 1, 3, 4, 10);
    CU_ASSERT_EQUAL(s.from_files, 1);
    kd_tmp_mkdir("shape/gz");
    write_idx_header(kd_tmp_path("shape/gz/t10k-images-idx3-ubyte.gz"), 5, 2, 1);
    kd_loader_args_set_str(&a, "dir", -1, kd_tmp_path("shape/gz"), kd_err, sizeof kd_err);
    s = shape_of(&a);
    expect_shape(&s, KD_DATA_IMAGES, 3, 1, 5, 2, 10);
    /* a header that is not an image file's: the declared shape */
    kd_tmp_mkdir("shape/bad");
    CU_ASSERT_EQUAL(kd_write_text(kd_tmp_path("shape/bad/train-images-idx3-ubyte"), "junk"), 0);
    kd_loader_args_set_str(&a, "dir", -1, kd_tmp_path("shape/bad"), kd_err, sizeof kd_err);
    s = shape_of(&a);
    expect_shape(&s, KD_DATA_IMAGES, 3, 1, 28, 28, 10);
    CU_ASSERT_EQUAL(s.from_files, 0);

    /* the CIFARs and CINIC-10: declared, the data need not be there */
    a = args_of("cifar10");
    kd_loader_args_set_str(&a, NULL, 0, "/nowhere", kd_err, sizeof kd_err);
    s = shape_of(&a);
    expect_shape(&s, KD_DATA_IMAGES, 3, 3, 32, 32, 10);
    a = args_of("cifar100");
    kd_loader_args_set_str(&a, NULL, 0, "/nowhere", kd_err, sizeof kd_err);
    s = shape_of(&a);
    expect_shape(&s, KD_DATA_IMAGES, 3, 3, 32, 32, 100);
    a = args_of("cinic10");
    kd_loader_args_set_str(&a, NULL, 0, "/nowhere", kd_err, sizeof kd_err);
    s = shape_of(&a);
    expect_shape(&s, KD_DATA_IMAGES, 3, 3, 32, 32, 10);

    /* image_folder: [3, size, size], classes known once loaded */
    a = args_of("image_folder");
    kd_loader_args_set_str(&a, NULL, 0, "/nowhere", kd_err, sizeof kd_err);
    s = shape_of(&a);
    expect_shape(&s, KD_DATA_IMAGES, 3, 3, 32, 32, 0);
    kd_loader_args_set_num(&a, NULL, 1, 20, kd_err, sizeof kd_err);
    s = shape_of(&a);
    expect_shape(&s, KD_DATA_IMAGES, 3, 3, 20, 20, 0);

    /* sequences: [max_len] */
    a = args_of("sequences");
    kd_loader_args_set_str(&a, "file", -1, "/nowhere.csv", kd_err, sizeof kd_err);
    s = shape_of(&a);
    expect_shape(&s, KD_DATA_SEQUENCES, 1, 50, 0, 0, 0);
    kd_loader_args_set_num(&a, "max_len", -1, 7, kd_err, sizeof kd_err);
    s = shape_of(&a);
    expect_shape(&s, KD_DATA_SEQUENCES, 1, 7, 0, 0, 0);
    a = args_of("synth_sequences");
    kd_loader_args_set_num(&a, "max_len", -1, 20, kd_err, sizeof kd_err);
    s = shape_of(&a);
    expect_shape(&s, KD_DATA_SEQUENCES, 1, 20, 0, 0, 0);

    /* raw_synth: the packed mosaic [4, patch/2, patch/2], noisy input */
    a = args_of("raw_synth");
    kd_loader_args_set_str(&a, "images", -1, "/nowhere/*.png", kd_err, sizeof kd_err);
    kd_loader_args_set_call(&a, "noise", -1, "poisson_gauss", (const double[]){ -9, -4 }, 2,
                            kd_err, sizeof kd_err);
    s = shape_of(&a);
    expect_shape(&s, KD_DATA_RAW, 3, 4, 32, 32, 0);
    CU_ASSERT_EQUAL(s.has_noisy, 1);
    kd_loader_args_set_num(&a, "patch", -1, 16, kd_err, sizeof kd_err);
    s = shape_of(&a);
    expect_shape(&s, KD_DATA_RAW, 3, 4, 8, 8, 0);
}

/* ---- loading through the registry: a small file per format --------------------------- */

/* the loaded data's sample shape is the one the registry announced */
static void expect_same(kd_loader_args *a, const kd_dataset *ds)
{
    kd_sample_shape s = shape_of(a);
    CU_ASSERT_EQUAL(s.kind, ds->kind);
    if (ds->kind == KD_DATA_SEQUENCES) {
        CU_ASSERT_EQUAL(s.dims[0], ds->max_len);
    } else if (ds->kind == KD_DATA_RAW) {
        CU_ASSERT_EQUAL(s.dims[0], 4);
        CU_ASSERT_EQUAL(s.dims[1], ds->h / 2);
        CU_ASSERT_EQUAL(s.dims[2], ds->w / 2);
    } else {
        CU_ASSERT_EQUAL(s.dims[0], ds->c);
        CU_ASSERT_EQUAL(s.dims[1], ds->h);
        CU_ASSERT_EQUAL(s.dims[2], ds->w);
        CU_ASSERT(!s.classes || ds->classes <= s.classes);
    }
}

static void test_load_idx(void)
{
    kd_tmp_mkdir("load/idx");
    enum { N = 4, H = 3, W = 5 };
    uint8_t img[16 + N * H * W] = { 0, 0, 8, 3, 0, 0, 0, N, 0, 0, 0, H, 0, 0, 0, W };
    uint8_t lab[8 + N] = { 0, 0, 8, 1, 0, 0, 0, N, 0, 1, 2, 1 };
    for (int i = 0; i < N * H * W; i++) img[16 + i] = (uint8_t)(i * 7);
    CU_ASSERT_EQUAL(kd_write_file(kd_tmp_path("load/idx/train-images-idx3-ubyte"), img, sizeof img), 0);
    CU_ASSERT_EQUAL(kd_write_gz(kd_tmp_path("load/idx/train-labels-idx1-ubyte.gz"), lab, sizeof lab), 0);
    kd_loader_args a = args_of("idx");
    kd_loader_args_set_str(&a, NULL, 0, kd_tmp_path("load/idx"), kd_err, sizeof kd_err);
    kd_dataset ds;
    CU_ASSERT_EQUAL_FATAL(kd_loader_load_data(&a, 0, &ds, kd_err, sizeof kd_err), KD_DATA_OK);
    CU_ASSERT_EQUAL(ds.nsplits, 1);
    CU_ASSERT_EQUAL(ds.splits[0].n, N);
    CU_ASSERT_EQUAL(ds.classes, 3);
    expect_same(&a, &ds);
    kd_dataset_free(&ds);
    /* a data error comes back as the format code's */
    kd_loader_args_set_str(&a, NULL, 0, kd_tmp_path("load/none"), kd_err, sizeof kd_err);
    CU_ASSERT_EQUAL(kd_loader_load_data(&a, 0, &ds, kd_err, sizeof kd_err), KD_DATA_ENOENT);
    CU_ASSERT_PTR_NOT_NULL(strstr(kd_err, "no such directory"));
}

static void test_load_cifar100(void)
{
    kd_tmp_mkdir("load/c100");
    enum { R = 3 };
    uint8_t *b = calloc(R, 2 + 3072);
    for (int r = 0; r < R; r++) {
        b[r * 3074] = (uint8_t)r;
        b[r * 3074 + 1] = (uint8_t)(r * 30);
    }
    CU_ASSERT_EQUAL(kd_write_file(kd_tmp_path("load/c100/train.bin"), b, R * 3074), 0);
    CU_ASSERT_EQUAL(kd_write_file(kd_tmp_path("load/c100/test.bin"), b, 3074), 0);
    free(b);
    kd_loader_args a = args_of("cifar100");
    kd_loader_args_set_str(&a, "dir", -1, kd_tmp_path("load/c100"), kd_err, sizeof kd_err);
    kd_dataset ds;
    CU_ASSERT_EQUAL_FATAL(kd_loader_load_data(&a, 0, &ds, kd_err, sizeof kd_err), KD_DATA_OK);
    CU_ASSERT_EQUAL(kd_dataset_split(&ds, "train")->n, R);
    CU_ASSERT_EQUAL(kd_dataset_split(&ds, "test")->n, 1);
    CU_ASSERT_EQUAL(kd_dataset_split(&ds, "train")->label[2], 60);   /* the fine label */
    expect_same(&a, &ds);
    kd_dataset_free(&ds);
}

static void test_load_image_folder(void)
{
    const char *rels[] = { "load/imgs/train/cat", "load/imgs/train/dog", "load/imgs/test/cat" };
    for (int i = 0; i < 3; i++) kd_tmp_mkdir(rels[i]);
    uint8_t pix[6 * 8 * 3];
    for (size_t i = 0; i < sizeof pix; i++) pix[i] = (uint8_t)(i * 5);
    CU_ASSERT_EQUAL(kd_png_write(kd_tmp_path("load/imgs/train/cat/a.png"), pix, 6, 8, 3, kd_err, sizeof kd_err), KD_DATA_OK);
    CU_ASSERT_EQUAL(kd_png_write(kd_tmp_path("load/imgs/train/dog/b.png"), pix, 6, 8, 3, kd_err, sizeof kd_err), KD_DATA_OK);
    CU_ASSERT_EQUAL(kd_png_write(kd_tmp_path("load/imgs/test/cat/c.png"), pix, 6, 8, 3, kd_err, sizeof kd_err), KD_DATA_OK);
    kd_loader_args a = args_of("image_folder");
    kd_loader_args_set_str(&a, NULL, 0, kd_tmp_path("load/imgs"), kd_err, sizeof kd_err);
    kd_loader_args_set_num(&a, NULL, 1, 4, kd_err, sizeof kd_err);
    kd_dataset ds;
    CU_ASSERT_EQUAL_FATAL(kd_loader_load_data(&a, 0, &ds, kd_err, sizeof kd_err), KD_DATA_OK);
    CU_ASSERT_EQUAL(ds.nsplits, 2);
    CU_ASSERT_EQUAL(ds.classes, 2);
    expect_same(&a, &ds);
    kd_dataset_free(&ds);
}

static void test_load_sequences(void)
{
    kd_tmp_mkdir("load/seq");
    const char *p = kd_tmp_path("load/seq/s.csv");
    CU_ASSERT_EQUAL(kd_write_text(p, "user,item,timestamp\n1,10,1\n1,11,2\n1,12,3\n1,13,4\n"
                                     "2,11,1\n2,12,2\n2,14,3\n"), 0);
    kd_loader_args a = args_of("sequences");
    kd_loader_args_set_str(&a, "file", -1, p, kd_err, sizeof kd_err);
    kd_loader_args_set_num(&a, "max_len", -1, 3, kd_err, sizeof kd_err);
    kd_loader_args_set_num(&a, "negatives", -1, 1, kd_err, sizeof kd_err);
    kd_dataset ds;
    CU_ASSERT_EQUAL_FATAL(kd_loader_load_data(&a, 5, &ds, kd_err, sizeof kd_err), KD_DATA_OK);
    CU_ASSERT_EQUAL(ds.users, 2);
    CU_ASSERT_EQUAL(ds.items, 5);
    CU_ASSERT_EQUAL(ds.max_len, 3);
    CU_ASSERT_PTR_NOT_NULL(kd_dataset_split(&ds, "val"));
    expect_same(&a, &ds);
    kd_dataset_free(&ds);
    /* movielens through the symbol */
    const char *q = kd_tmp_path("load/seq/ratings.dat");
    CU_ASSERT_EQUAL(kd_write_text(q, "1::10::5::1\n1::11::5::2\n1::12::5::3\n"), 0);
    kd_loader_args_set_str(&a, "file", -1, q, kd_err, sizeof kd_err);
    kd_loader_args_set_str(&a, "format", -1, "movielens", kd_err, sizeof kd_err);
    kd_loader_args_set_num(&a, "negatives", -1, 1, kd_err, sizeof kd_err);
    /* one user, three items: no item left for a negative */
    CU_ASSERT_NOT_EQUAL(kd_loader_load_data(&a, 5, &ds, kd_err, sizeof kd_err), KD_DATA_OK);
}

static void test_load_synth(void)
{
    kd_loader_args a = args_of("synth_sequences");
    kd_loader_args_set_num(&a, "users", -1, 20, kd_err, sizeof kd_err);
    kd_loader_args_set_num(&a, "items", -1, 30, kd_err, sizeof kd_err);
    kd_loader_args_set_num(&a, "length", -1, 6, kd_err, sizeof kd_err);
    kd_loader_args_set_num(&a, "max_len", -1, 4, kd_err, sizeof kd_err);
    kd_loader_args_set_num(&a, "negatives", -1, 5, kd_err, sizeof kd_err);
    kd_dataset d1, d2, d3;
    CU_ASSERT_EQUAL_FATAL(kd_loader_load_data(&a, 0, &d1, kd_err, sizeof kd_err), KD_DATA_OK);
    /* the recipe's seed: argument keys it, the run's seed does not */
    CU_ASSERT_EQUAL_FATAL(kd_loader_load_data(&a, 99, &d2, kd_err, sizeof kd_err), KD_DATA_OK);
    kd_loader_args_set_num(&a, "seed", -1, 2, kd_err, sizeof kd_err);
    CU_ASSERT_EQUAL_FATAL(kd_loader_load_data(&a, 0, &d3, kd_err, sizeof kd_err), KD_DATA_OK);
    CU_ASSERT_EQUAL(d1.users, 20);
    const kd_split *s1 = kd_dataset_split(&d1, "train"), *s2 = kd_dataset_split(&d2, "train"),
                   *s3 = kd_dataset_split(&d3, "train");
    CU_ASSERT_EQUAL(memcmp(s1->items, s2->items, (size_t)s1->n * 4 * sizeof(int32_t)), 0);
    CU_ASSERT_NOT_EQUAL(memcmp(s1->items, s3->items, (size_t)s1->n * 4 * sizeof(int32_t)), 0);
    expect_same(&a, &d1);
    kd_dataset_free(&d1);
    kd_dataset_free(&d2);
    kd_dataset_free(&d3);
}

static void test_load_raw(void)
{
    kd_tmp_mkdir("load/raw");
    uint8_t pix[16 * 16 * 3];
    for (size_t i = 0; i < sizeof pix; i++) pix[i] = (uint8_t)(i * 3);
    for (int i = 0; i < 5; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "load/raw/p%d.png", i);
        CU_ASSERT_EQUAL(kd_png_write(kd_tmp_path(rel), pix, 16, 16, 3, kd_err, sizeof kd_err), KD_DATA_OK);
    }
    kd_loader_args a = args_of("raw_synth");
    kd_loader_args_set_str(&a, "images", -1, kd_tmp_path("load/raw/*.png"), kd_err, sizeof kd_err);
    kd_loader_args_set_call(&a, "noise", -1, "poisson_gauss", (const double[]){ -9, -4 }, 2,
                            kd_err, sizeof kd_err);
    kd_loader_args_set_num(&a, "patch", -1, 8, kd_err, sizeof kd_err);
    kd_loader_args_set_num(&a, "unprocess", -1, 0, kd_err, sizeof kd_err);
    kd_dataset ds;
    CU_ASSERT_EQUAL_FATAL(kd_loader_load_data(&a, 1, &ds, kd_err, sizeof kd_err), KD_DATA_OK);
    CU_ASSERT_EQUAL(ds.kind, KD_DATA_RAW);
    CU_ASSERT_EQUAL(kd_dataset_split(&ds, "train")->n, 4 * 4);   /* 4 images, 2x2 patches each */
    CU_ASSERT_EQUAL(kd_dataset_split(&ds, "test")->n, 4);
    /* unprocess: false keeps pixel/255 */
    CU_ASSERT_DOUBLE_EQUAL(((const float *)kd_dataset_split(&ds, "test")->x)[0] * 255.0f,
                           floorf(((const float *)kd_dataset_split(&ds, "test")->x)[0] * 255.0f + 0.5f),
                           1e-3);
    expect_same(&a, &ds);
    kd_dataset_free(&ds);
}

int main(void)
{
    static const kd_unit_test tests[] = {
        KD_TEST(test_table),
        KD_TEST(test_generated_builtins),
        KD_TEST(test_builtins_agree),
        KD_TEST(test_man_pages),
        KD_TEST(test_defaults),
        KD_TEST(test_binding),
        KD_TEST(test_checks),
        KD_TEST(test_shapes),
        KD_TEST(test_load_idx),
        KD_TEST(test_load_cifar100),
        KD_TEST(test_load_image_folder),
        KD_TEST(test_load_sequences),
        KD_TEST(test_load_synth),
        KD_TEST(test_load_raw),
        KD_TEST_END
    };
    int rc = kd_unit_main("loaders", tests);
    kd_tmp_cleanup();
    return rc;
}
