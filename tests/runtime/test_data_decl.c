/* test_data_decl.c — a recipe's data declaration through the loader
 * registry (runtime/data_decl.c) and a phase's graph without an executor
 * (runtime/phase_graph.c).
 *
 * Recipes are written to a scratch directory next to small generated IDX
 * files; each is loaded and checked as kdrun does, then the declaration is
 * loaded (split names, holdout, limit, augment, normalize), or its sample
 * shape inferred, or a phase's graph built. */
#define _GNU_SOURCE 1
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../unit.h"
#include "../../runtime/data_decl.h"
#include "../../runtime/phase_graph.h"
#include "../../runtime/op_builtins.h"
#include "../../runtime/train.h"

static char dir[256];
static kdr_diag diag;
static kdr_program *prog;
static char msgs[8192];

/* IDX files of n images of h x w, labels i % 3, under dir/idx */
static void write_idx(int n, int h, int w)
{
    char p[512];
    snprintf(p, sizeof p, "%s/idx", dir);
    mkdir(p, 0755);
    size_t ni = 16 + (size_t)n * h * w, nl = 8 + (size_t)n;
    uint8_t *img = calloc(ni, 1), *lab = calloc(nl, 1);
    uint8_t hi[16] = { 0, 0, 8, 3, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8),
                       (uint8_t)n, 0, 0, 0, (uint8_t)h, 0, 0, 0, (uint8_t)w };
    uint8_t hl[8] = { 0, 0, 8, 1, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8),
                      (uint8_t)n };
    memcpy(img, hi, 16);
    memcpy(lab, hl, 8);
    for (size_t i = 16; i < ni; i++) img[i] = (uint8_t)(i * 7);
    for (int i = 0; i < n; i++) lab[8 + i] = (uint8_t)(i % 3);
    FILE *f;
    snprintf(p, sizeof p, "%s/idx/train-images-idx3-ubyte", dir);
    f = fopen(p, "wb");
    CU_ASSERT_EQUAL(fwrite(img, 1, ni, f), ni);
    fclose(f);
    snprintf(p, sizeof p, "%s/idx/train-labels-idx1-ubyte", dir);
    f = fopen(p, "wb");
    CU_ASSERT_EQUAL(fwrite(lab, 1, nl, f), nl);
    fclose(f);
    free(img);
    free(lab);
}

/* Load and check recipe text ("@" stands for the scratch directory). */
static int load(const char *fmt, ...)
{
    if (prog) { kdr_program_free(prog); prog = NULL; }
    kdr_diag_free(&diag);
    kdr_diag_init(&diag);
    char text[4096], out[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    size_t o = 0;
    for (const char *s = text; *s && o + 256 < sizeof out; s++) {
        if (*s == '@') o += (size_t)snprintf(out + o, sizeof out - o, "%s", dir);
        else out[o++] = *s;
    }
    out[o] = 0;
    char path[512];
    snprintf(path, sizeof path, "%s/r.kdr", dir);
    FILE *f = fopen(path, "w");
    fputs(out, f);
    fclose(f);
    prog = kdr_program_load(path, KD_SRC("recipes"), &diag);
    return prog && diag.errors == 0 && kdr_check(prog, NULL, 0, &diag) == 0 ? 0 : -1;
}

static const kdr_node *decl_of(kdr_kind kind, const char *name)
{
    return kd_program_decl(prog, kind, name, NULL);
}

/* the diagnostics as text, paths cut to their file name */
static const char *diag_text(void)
{
    FILE *f = fmemopen(msgs, sizeof msgs - 1, "w");
    kdr_diag_print(&diag, f, 0);
    fclose(f);
    return msgs;
}

static const kd_data_set_opts quiet = { .kinds = 0, .quiet = 1 };

/* ---- loading ------------------------------------------------------------------ */

static void test_load_settings(void)
{
    write_idx(40, 6, 5);
    CU_ASSERT_EQUAL_FATAL(load(
        "let k = 10\n"
        "data d = idx(\"@/idx\") {\n"
        "  train \"train\" holdout k as val\n"
        "  limit 2 * 10\n"
        "  augment train: crop(4, pad: 1), flip(vertical)\n"
        "  normalize mean: 0.5, std: [0.25]\n"
        "}\n"), 0);
    kd_data_set D;
    CU_ASSERT_EQUAL_FATAL(kd_data_set_load(prog, decl_of(KDR_DATA, "d"), &quiet, &D, &diag), 0);
    CU_ASSERT_PTR_NOT_NULL(D.loader);
    CU_ASSERT_STRING_EQUAL(D.loader->name, "idx");
    CU_ASSERT_EQUAL(kd_dataset_split(&D.ds, "train")->n, 20);   /* 40 - 10, limited to 20 */
    CU_ASSERT_EQUAL(kd_dataset_split(&D.ds, "val")->n, 10);
    CU_ASSERT_EQUAL(D.naug_train, 2);
    CU_ASSERT_STRING_EQUAL(D.aug_split, "train");
    CU_ASSERT_EQUAL(D.aug[0].kind, KD_AUG_CROP);
    CU_ASSERT_EQUAL(D.aug[0].size, 4);
    CU_ASSERT_EQUAL(D.aug[0].pad, 1);
    CU_ASSERT_EQUAL(D.aug[1].kind, KD_AUG_FLIP_V);
    CU_ASSERT_EQUAL(D.nnorm, 1);
    CU_ASSERT_DOUBLE_EQUAL(D.mean[0], 0.5, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(D.std[0], 0.25, 1e-7);
    /* batches: the training split is shuffled and augmented, the others not */
    kd_loader_cfg c;
    kd_data_set_loader_cfg(&D, "train", 8, 3, 1, &c);
    CU_ASSERT(c.shuffle && c.drop_last && c.naug == 2 && c.batch == 8 && c.seed == 3);
    CU_ASSERT_PTR_EQUAL(c.ds, &D.ds);
    kd_data_set_loader_cfg(&D, "val", 8, 3, 0, &c);
    CU_ASSERT(!c.shuffle && !c.drop_last && c.naug == 0 && c.nnorm == 1);
    kd_data_shape ds;
    kd_data_set_shape(&D, &ds);
    CU_ASSERT_EQUAL(ds.x.ndim, 3);
    CU_ASSERT_EQUAL(ds.x.dims[1], 6);
    CU_ASSERT_EQUAL(ds.x.dims[2], 5);
    CU_ASSERT_EQUAL(ds.classes, 3);
    kd_data_set_free(&D);
    CU_ASSERT_PTR_NULL(D.ds.splits);
}

static void test_load_errors(void)
{
    write_idx(12, 4, 4);
    kd_data_set D;
    /* the recipe names a split the loader does not have: located there */
    CU_ASSERT_EQUAL_FATAL(load("data d = idx(\"@/idx\") {\n  test \"valid\"\n}\n"), 0);
    CU_ASSERT_EQUAL(kd_data_set_load(prog, decl_of(KDR_DATA, "d"), &quiet, &D, &diag), KD_RUN_DATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(diag_text(), "r.kdr:2:8: error: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(msgs, "the loader has no split \"valid\""));
    /* the data is not there: a data error, and where it is declared */
    CU_ASSERT_EQUAL_FATAL(load("data d = idx(\"@/nothing\")\n"), 0);
    CU_ASSERT_EQUAL(kd_data_set_load(prog, decl_of(KDR_DATA, "d"), &quiet, &D, &diag), KD_RUN_DATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(diag_text(), "nothing: no such directory"));
    CU_ASSERT_PTR_NOT_NULL(strstr(msgs, "note: data set 'd' is declared here"));
    CU_ASSERT_PTR_NULL(D.ds.splits);
    /* a kind of data the caller cannot use: refused before loading */
    CU_ASSERT_EQUAL_FATAL(load("data s = synth_sequences(users: 5)\n"), 0);
    kd_data_set_opts images = { .kinds = KD_DATA_KIND_BIT(KD_DATA_IMAGES), .quiet = 1 };
    CU_ASSERT_EQUAL(kd_data_set_load(prog, decl_of(KDR_DATA, "s"), &images, &D, &diag), KD_RUN_FAILED);
    CU_ASSERT_PTR_NOT_NULL(strstr(diag_text(), "training on synth_sequences data is not in this build yet"));
    /* ... and loaded when it can */
    kdr_diag_free(&diag);
    kdr_diag_init(&diag);
    CU_ASSERT_EQUAL(kd_data_set_load(prog, decl_of(KDR_DATA, "s"), &quiet, &D, &diag), 0);
    CU_ASSERT_EQUAL(D.ds.kind, KD_DATA_SEQUENCES);
    CU_ASSERT_EQUAL(D.ds.users, 5);
    kd_data_set_free(&D);
}

/* ---- sample shapes at --check --------------------------------------------------- */

static void test_decl_shape(void)
{
    write_idx(3, 9, 7);
    CU_ASSERT_EQUAL_FATAL(load(
        "let side = 12\n"
        "sweep p in [16, 32]\n"
        "data a = idx(\"@/idx\")\n"
        "data b = idx(\"@/absent\")\n"
        "data c = image_folder(\"@/none\", size: side + 4)\n"
        "data r = raw_synth(images: \"@/*.png\", noise: poisson_gauss(log_shot: [-9, -4]), patch: p)\n"
        "data s = sequences(\"@/s.csv\", format: movielens, max_len: side)\n"), 0);
    kd_sample_shape s;
    kd_data_shape ds;
    CU_ASSERT_EQUAL(kd_data_decl_shape(prog, decl_of(KDR_DATA, "a"), &s), 0);
    CU_ASSERT(s.from_files && s.dims[1] == 9 && s.dims[2] == 7);       /* the header */
    CU_ASSERT_EQUAL(kd_data_decl_shape(prog, decl_of(KDR_DATA, "b"), &s), 0);
    CU_ASSERT(!s.from_files && s.dims[1] == 28 && s.dims[2] == 28);    /* declared */
    CU_ASSERT_EQUAL(kd_data_decl_shape(prog, decl_of(KDR_DATA, "c"), &s), 0);
    CU_ASSERT(s.dims[0] == 3 && s.dims[1] == 16 && s.dims[2] == 16);   /* a let */
    CU_ASSERT_EQUAL(kd_data_decl_shape_of(prog, decl_of(KDR_DATA, "r"), &ds), 0);
    CU_ASSERT(ds.x.ndim == 3 && ds.x.dims[0] == 4 && ds.x.dims[1] == 8 && ds.has_noisy); /* sweep: first */
    CU_ASSERT_EQUAL(kd_data_decl_shape(prog, decl_of(KDR_DATA, "s"), &s), 0);
    CU_ASSERT(s.kind == KD_DATA_SEQUENCES && s.ndim == 1 && s.dims[0] == 12);
    const kd_loader_def *def;
    kd_loader_args la;
    CU_ASSERT_EQUAL(kd_data_decl_args(prog, decl_of(KDR_DATA, "s"), &def, &la, &diag), 0);
    CU_ASSERT_STRING_EQUAL(kd_larg_str(&la, "format"), "movielens");
    CU_ASSERT_EQUAL(kd_larg_get(&la, "negatives")->given, 0);
    CU_ASSERT_EQUAL(kd_larg_num(&la, "negatives"), 100);
}

/* ---- a phase's graph ---------------------------------------------------------------- */

#define NETS \
    "net cnn(base: 4) {\n" \
    "  stage[1] = relu(conv(in, base, k: 3, pad: 1))\n" \
    "  logits = linear(mean(stage[1], over: hw), 10)\n" \
    "  out logits\n" \
    "}\n" \
    "net adapt(c: 8) {\n  out conv(in, c, k: 1)\n}\n" \
    "model t = cnn(base: 8)\nmodel s = cnn(base: 4)\nmodel a = adapt(c: 8)\n" \
    "data d = idx(\"@/none\")\n"

static int build(kd_phase_graph *G, const char *loss, const char *owner2, const char *loss2)
{
    CU_ASSERT_EQUAL_FATAL(load(NETS "phase p {\n  train s, a on d.train\n  teacher t\n"
                               "  loss %s%s\n%s%s%s}\n", owner2 ? "s: " : "", loss,
                               owner2 ? "  loss a: " : "", owner2 ? loss2 : "", owner2 ? "\n" : ""), 0);
    memset(G, 0, sizeof *G);
    G->batch = 4;
    int st = 0;
    CU_ASSERT_EQUAL(kd_phase_graph_add(G, prog, "s", 1, NULL, NULL, &diag, &st), 0);
    CU_ASSERT_EQUAL(kd_phase_graph_add(G, prog, "a", 1, NULL, NULL, &diag, &st), 1);
    CU_ASSERT_EQUAL(kd_phase_graph_add(G, prog, "t", 0, NULL, NULL, &diag, &st), 2);
    CU_ASSERT_EQUAL(kd_phase_graph_add(G, prog, "s", 1, NULL, NULL, &diag, &st), 0);   /* once */
    kd_data_shape ds;
    CU_ASSERT_EQUAL(kd_data_decl_shape_of(prog, decl_of(KDR_DATA, "d"), &ds), 0);
    const kdr_node *losses[2] = { NULL, NULL };
    const char *owners[2] = { NULL, NULL };
    int n = 0;
    for (const kdr_node *x = decl_of(KDR_PHASE, "p")->kids; x; x = x->next)
        if (x->setting == KDR_S_LOSS) { losses[n] = x->a; owners[n++] = x->name; }
    return kd_phase_graph_build(G, prog, &ds, losses, owners, n, prog->units[0], "p", &diag);
}

static void test_phase_graph(void)
{
    kd_phase_graph G;
    /* the loss, its terms, the adapter applied in it, the trainable flags */
    CU_ASSERT_EQUAL(build(&G, "ce(s.logits, label) + mse(a(s.stage[1]), t.stage[1])", NULL, NULL), 0);
    CU_ASSERT(G.loss >= 0 && G.g->nodes[G.loss].shape.ndim == 0);
    CU_ASSERT_EQUAL(G.nterms, 2);
    CU_ASSERT_EQUAL(G.g->nmodels, 3);
    CU_ASSERT(G.m[0].input >= 0 && G.m[0].out >= 0 && G.m[2].out >= 0);
    CU_ASSERT(G.m[1].index >= 0);   /* compiled in the loss */
    CU_ASSERT_EQUAL(G.g->nodes[G.label].shape.dims[0], 4);
    for (int32_t i = 0; i < G.g->nparams; i++)
        CU_ASSERT_EQUAL(G.g->params[i].trainable, G.g->params[i].model != G.m[2].index);
    int32_t roots[64];
    CU_ASSERT_EQUAL(kd_phase_graph_roots(&G, roots), 1 + 2 + 3);
    CU_ASSERT_EQUAL(roots[0], G.loss);
    kd_phase_graph_free(&G);
    CU_ASSERT_PTR_NULL(G.g);

    /* one loss per model: both compiled and summed */
    CU_ASSERT_EQUAL(build(&G, "ce(s.logits, label)", "a", "mse(a(s.stage[1]), t.stage[1])"), 0);
    CU_ASSERT_EQUAL(G.nterms, 2);
    kd_phase_graph_free(&G);

    /* shapes that do not fit: a located error, a recipe status */
    CU_ASSERT_EQUAL(build(&G, "ce(s.logits, label) + mse(s.stage[1], t.stage[1])", NULL, NULL),
                    KD_RUN_RECIPE);
    CU_ASSERT_PTR_NOT_NULL(strstr(diag_text(), "r.kdr:16:30: error: mse expects inputs of the same "
                                               "shape, got [4, 4, 28, 28] and [4, 8, 28, 28]"));
    kd_phase_graph_free(&G);
    /* a loss that is not a number */
    CU_ASSERT_EQUAL(build(&G, "s.logits", NULL, NULL), KD_RUN_RECIPE);
    CU_ASSERT_PTR_NOT_NULL(strstr(diag_text(), "r.kdr:16:8: error: a loss must be a scalar"));
    kd_phase_graph_free(&G);
}

static void test_phase_models(void)
{
    CU_ASSERT_EQUAL_FATAL(load(NETS "pool q = checkpoints(r, every: 1)\n"
                               "phase p0 {\n  train t on d.train\n  loss ce(t.logits, label)\n"
                               "  checkpoint every 1 epoch as r\n}\n"
                               "phase p {\n  train s on d.train\n  teacher follows q(strategy: equal)\n"
                               "  loss ce(s.logits, label)\n}\n"), 0);
    kd_phase_graph G;
    memset(&G, 0, sizeof G);
    int st = 0;
    CU_ASSERT_EQUAL(kd_phase_graph_add(&G, prog, "nobody", 0, prog->units[0],
                                       decl_of(KDR_MODEL, "t"), &diag, &st), -1);
    CU_ASSERT_EQUAL(st, KD_RUN_RECIPE);
    CU_ASSERT_PTR_NOT_NULL(strstr(diag_text(), "no model named 'nobody'"));
    st = 0;
    CU_ASSERT_EQUAL(kd_phase_graph_add(&G, prog, "q", 0, NULL, NULL, &diag, &st), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(diag_text(), "pool 'q' is not a model: use 'teacher follows q'"));
    st = 0;
    for (int i = 0; i < KD_PG_MAX_MODELS; i++) {
        kdr_node *copy = calloc(1, sizeof *copy);
        *copy = *decl_of(KDR_MODEL, "s");
        char *nm = malloc(16);
        snprintf(nm, 16, "m%d", i);
        copy->name = nm;
        CU_ASSERT_EQUAL(kd_phase_graph_add_decl(&G, copy, 0, NULL, NULL, &diag, &st), i);
    }
    kdr_node extra = *decl_of(KDR_MODEL, "s");
    CU_ASSERT_EQUAL(kd_phase_graph_add_decl(&G, &extra, 1, NULL, NULL, &diag, &st), -1);
    CU_ASSERT_EQUAL(st, KD_RUN_FAILED);
    CU_ASSERT_PTR_NOT_NULL(strstr(diag_text(), "too many models in one phase"));
    for (int i = 0; i < G.nm; i++) {
        free((char *)G.m[i].name);
        free((kdr_node *)G.m[i].decl);
    }
}

static void cleanup(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
}

int main(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/kd_data_decl_XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(dir)) return 2;
    if (kd_op_builtins_register() != 0) return 2;
    kdr_diag_init(&diag);
    static const kd_unit_test tests[] = {
        KD_TEST(test_load_settings),
        KD_TEST(test_load_errors),
        KD_TEST(test_decl_shape),
        KD_TEST(test_phase_graph),
        KD_TEST(test_phase_models),
        KD_TEST_END
    };
    int rc = kd_unit_main("data_decl", tests);
    if (prog) kdr_program_free(prog);
    kdr_diag_free(&diag);
    cleanup();
    return rc;
}
